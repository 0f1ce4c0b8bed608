"""forummail: the mail side of the forum: notifications out, email replies in."""

__version__ = "0.1.0"

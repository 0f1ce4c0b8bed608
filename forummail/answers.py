"""The short answer a member gets when their email could not be posted.

Kept apart from :mod:`forummail.replies`, which decides; this only words
the decision for the person, in a text that never repeats what the
sender chose (see :func:`explanation`).
"""

from __future__ import annotations

from datetime import datetime


def explanation(reason: str, sent_at: datetime | None, inbound_id: int) -> str:
    """The short answer a member gets when their email was refused.

    Neutral: it names the email by its date and our inbound record's number
    (what ``manage.py inbound --show`` takes), never by its subject, text or
    Message-ID, all of which the sender chose: a forger holding a member's
    token must not make the forum mail that member words of the forger's
    (``<URGENT.your-password-expired.login-at.http://evil.example/...>``).
    """
    which = "Your email"
    if sent_at:
        which += " of %s" % sent_at.strftime("%Y-%m-%d %H:%M %z").strip()
    which += " (our reference: inbound email %d)" % inbound_id
    return (
        "%s could not be posted to the forum: %s.\n\n%s"
        "Nothing was posted. To answer, reply to the most recent notification email you received for "
        "that task, from the address it was sent to, or write your answer in the forum itself. If you "
        "think this is wrong, ask the forum's administrator.\n\n"
        "This is an automatic message; you will get it at most once a day for this reason.\n"
        % (which, reason, _HINTS.get(reason, "")))


# What a sender can do about a refusal whose cause is in their own email.
_HINTS = {
    "the reply is empty": (
        "We found nothing written by you in it: only the quoted message you answered (with at most the "
        "line your mail program adds, like \"On ... wrote:\" or \"Sent from my iPhone\"), or no text at "
        "all. The quoted message is already in the forum, so it is not posted again. Write your answer "
        "above the quoted text, or between its lines, and send it again.\n\n"),
}

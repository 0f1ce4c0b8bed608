"""A reply to a notification, written the way Gmail writes one.

New text on top, then the attribution line ("On <date> <sender> wrote:") and
the notification quoted: with "> " in the text/plain part, inside Gmail's
``gmail_quote`` blockquote in the text/html part.  Addressed to the
notification's Reply-To (which carries the reply token), threaded with
In-Reply-To and References as every client does.
"""

from __future__ import annotations

import html
import re
import secrets
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr, parsedate_to_datetime

_BODY_RE = re.compile(r"<body[^>]*>(.*)</body>", re.IGNORECASE | re.DOTALL)


def _attribution_date(original: EmailMessage) -> str:
    """Gmail's English form: "Sat, Nov 21, 2026 at 9:14 AM"."""
    try:
        when = parsedate_to_datetime(str(original["Date"]))
    except (TypeError, ValueError):
        when = datetime.now().astimezone()
    return "%s, %s %d, %d at %d:%02d %s" % (
        when.strftime("%a"), when.strftime("%b"), when.day, when.year,
        when.hour % 12 or 12, when.minute, "AM" if when.hour < 12 else "PM")


def _part(original: EmailMessage, subtype: str) -> str:
    part = original.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype or not isinstance(part, EmailMessage):
        return ""
    return str(part.get_content())


def gmail_reply(original: EmailMessage, sender: str, text: str) -> bytes:
    """Bob's answer to ``original`` (a notification he received), from ``sender``."""
    name, addr = parseaddr(str(original["From"]))
    attribution = "On %s %s <%s> wrote:" % (_attribution_date(original), name, addr)
    quoted = _part(original, "plain")
    plain = "%s\n\n%s\n\n%s\n" % (text, attribution, "\n".join(
        "> " + line if line else ">" for line in quoted.rstrip("\n").splitlines()))

    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = str(original["Reply-To"])
    msg["Subject"] = "Re: " + str(original["Subject"])
    msg["Date"] = format_datetime(datetime.now().astimezone())
    msg["Message-ID"] = "<CA%s@mail.gmail.com>" % secrets.token_hex(16).upper()
    msg["In-Reply-To"] = str(original["Message-ID"])
    msg["References"] = ("%s %s" % (original["References"] or "", original["Message-ID"])).strip()
    msg.set_content(plain)

    found = _BODY_RE.search(_part(original, "html"))
    quoted_html = found.group(1).strip() if found else html.escape(quoted).replace("\n", "<br>\n")
    paragraphs = "".join("<div>%s</div>" % (html.escape(line) if line else "<br>") for line in text.splitlines())
    msg.add_alternative(
        '<div dir="ltr">%s</div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
        'On %s %s &lt;<a href="mailto:%s">%s</a>&gt; wrote:<br></div>'
        '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid '
        'rgb(204,204,204);padding-left:1ex">%s</blockquote></div>\n'
        % (paragraphs, html.escape(_attribution_date(original)), html.escape(name), html.escape(addr),
           html.escape(addr), quoted_html), subtype="html")
    return msg.as_bytes()

"""HTML-only replies, with each client's own quote markers: Gmail's ``gmail_quote``,
Outlook's ``divRplyFwdMsg`` and ``#appendonsend``, Apple's and Thunderbird's
``blockquote type=cite``, Yahoo's ``yahoo_quoted``, Proton's ``protonmail_quote``."""

from __future__ import annotations

from html import escape

from tests.golden import NEW, ORIGINAL, Family

F = Family("html")


def paras(text: str) -> str:
    """``text`` as a client's editor writes it: one <div> per line, <div><br></div> for a blank."""
    return "".join("<div>%s</div>" % escape(line) if line else "<div><br></div>" for line in text.split("\n"))


def original(lang: str) -> str:
    return "<br>".join(escape(x) for x in ORIGINAL[lang].split("\n"))


def gmail(lang: str, attribution: str) -> str:
    return ('<div dir="ltr">%s</div><br><div class="gmail_quote gmail_quote_container"><div dir="ltr" '
            'class="gmail_attr">%s<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;'
            'border-left:1px solid rgb(204,204,204);padding-left:1ex">%s</blockquote></div>'
            % (paras(NEW[lang]), escape(attribution), original(lang)))


def outlook(lang: str, labels: tuple[str, str, str, str], appendonsend: bool = True) -> str:
    frm, sent, to, subject = labels
    return ('<div style="font-family:Aptos">%s</div>%s<hr style="display:inline-block;width:98%%" tabindex="-1">'
            '<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri" style="font-size:11pt"><b>%s:</b> Ann Author '
            '&lt;ann@example.com&gt;<br><b>%s:</b> 3 June 2024 10:00<br><b>%s:</b> Bob Builder '
            '&lt;bob@example.com&gt;<br><b>%s:</b> RE: [#7] Rack plan</font><div>&nbsp;</div></div><div>%s</div>'
            % (paras(NEW[lang]), '<div id="appendonsend"></div>' if appendonsend else "", frm, sent, to, subject,
               original(lang)))


def apple(lang: str, attribution: str) -> str:
    return ('<html><body style="overflow-wrap: break-word;">%s<div><br><blockquote type="cite"><div>%s</div>'
            '<br class="Apple-interchange-newline"><div>%s</div></blockquote></div></body></html>'
            % (paras(NEW[lang]), escape(attribution), original(lang)))


def thunderbird(lang: str, attribution: str) -> str:
    return ('<p>%s</p><div class="moz-cite-prefix">%s<br></div><blockquote type="cite" cite="mid:1@example.com">'
            '%s</blockquote>' % (escape(NEW[lang]).replace("\n", "<br>"), escape(attribution), original(lang)))


GMAIL = {
    "en": "On Mon, Jun 3, 2024 at 10:00 AM Ann Author <ann@example.com> wrote:",
    "de": "Am Mo., 3. Juni 2024 um 10:00 Uhr schrieb Ann Author <ann@example.com>:",
    "fr": "Le lun. 3 juin 2024 à 10:00, Ann Author <ann@example.com> a écrit :",
    "es": "El lun, 3 jun 2024 a las 10:00, Ann Author (<ann@example.com>) escribió:",
    "it": "Il giorno lun 3 giu 2024 alle ore 10:00 Ann Author <ann@example.com> ha scritto:",
    "pt": "Em seg., 3 de jun. de 2024 às 10:00, Ann Author <ann@example.com> escreveu:",
    "ru": "пн, 3 июн. 2024 г. в 10:00, Ann Author <ann@example.com>:",
    "zh": "Ann Author <ann@example.com> 于2024年6月3日周一 10:00写道：",
    "ja": "2024年6月3日(月) 10:00 Ann Author <ann@example.com>:",
    "ko": "2024년 6월 3일 (월) 오전 10:00, Ann Author <ann@example.com>님이 작성:",
}
for lang, attribution in GMAIL.items():
    F.add("gmail-html", lang, "html", gmail(lang, attribution), NEW[lang], html=True)

OUTLOOK = {
    "en": ("From", "Sent", "To", "Subject"), "de": ("Von", "Gesendet", "An", "Betreff"),
    "fr": ("De", "Envoyé", "À", "Objet"), "nl": ("Van", "Verzonden", "Aan", "Onderwerp"),
    "pl": ("Od", "Wysłano", "Do", "Temat"), "uk": ("Від", "Надіслано", "Кому", "Тема"),
    "tr": ("Kimden", "Gönderildi", "Kime", "Konu"),
}
for lang, labels in OUTLOOK.items():
    F.add("outlook-html", lang, "html", outlook(lang, labels), NEW[lang], html=True)
F.add("outlook-html", "en", "html", outlook("en", OUTLOOK["en"], appendonsend=False), NEW["en"], html=True)

APPLE = {
    "en": "On Jun 3, 2024, at 10:00, Ann Author <ann@example.com> wrote:",
    "de": "Am 03.06.2024 um 10:00 schrieb Ann Author <ann@example.com>:",
    "fr": "Le 3 juin 2024 à 10:00, Ann Author <ann@example.com> a écrit :",
    "nl": "Op 3 jun 2024, om 10:00 heeft Ann Author <ann@example.com> het volgende geschreven:",
    "ja": "2024/06/03 10:00、Ann Author <ann@example.com>のメール：",
}
for lang, attribution in APPLE.items():
    F.add("apple-html", lang, "html", apple(lang, attribution), NEW[lang], html=True)

F.add("thunderbird-html", "en", "html", thunderbird("en", "On 6/3/24 10:00 AM, Ann Author wrote:"), NEW["en"],
      html=True)
F.add("thunderbird-html", "it", "html", thunderbird("it", "Il 03/06/24 10:00, Ann Author ha scritto:"), NEW["it"],
      html=True)
F.add("yahoo-html", "en", "html",
      '<div class="ydp1"><div>%s</div></div><div id="yahoo_quoted_123" class="yahoo_quoted"><div>On Monday, '
      'June 3, 2024 at 10:00:00 AM GMT+2, Ann Author &lt;ann@example.com&gt; wrote:</div><div><br></div>'
      '<div>%s</div></div>' % (paras(NEW["en"]), original("en")), NEW["en"], html=True)
F.add("proton-html", "en", "html",
      '<div>%s</div><div class="protonmail_signature_block"><div>Sent with <a href="https://proton.me/">Proton '
      'Mail</a> secure email.</div></div><div class="protonmail_quote">On Monday, June 3rd, 2024 at 10:00 AM, '
      'Ann Author &lt;ann@example.com&gt; wrote:<br><blockquote class="protonmail_quote" type="cite">%s'
      '</blockquote></div>' % (paras(NEW["en"]), original("en")), NEW["en"], html=True)
# Inline answers in HTML (Thunderbird): the questions stay as quotes.
F.add("thunderbird-html", "en", "inline",
      '<div class="moz-cite-prefix">On 6/3/24 10:00 AM, Ann Author wrote:<br></div><blockquote type="cite">'
      'Can you rack the new servers on Thursday?</blockquote><p>Yes, in the morning.</p><blockquote type="cite">'
      'Thanks,<br>Ann</blockquote>',
      "> Can you rack the new servers on Thursday?\n\nYes, in the morning.", html=True)
# A Gmail signature block and the tracking mark after the text.
F.add("gmail-html", "en", "signature",
      '<div dir="ltr">%s<br clear="all"><div><br></div><span class="gmail_signature_prefix">-- </span><br>'
      '<div dir="ltr" class="gmail_signature">Bob Builder<br>Rack &amp; Co.</div></div><div hspace="streak-pt-mark" '
      'style="max-height:1px"><img src="https://mailfoogae.appspot.com/t?sender=x" width="1" height="1">'
      '<font color="#ffffff" size="1">ᐧ</font></div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
      '%s<br></div><blockquote class="gmail_quote">%s</blockquote></div>'
      % (paras(NEW["en"]), escape(GMAIL["en"]), original("en")), NEW["en"], html=True)
# Gmail's forward inside a reply: kept.
F.add("gmail-html", "en", "forward",
      '<div dir="ltr">See below.<br><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">---------- '
      'Forwarded message ---------<br>From: <strong class="gmail_sendername">Carl</strong> <span>&lt;carl@example.com'
      '&gt;</span><br>Date: Mon, Jun 3, 2024 at 9:00 AM<br>Subject: Rails<br>To: Bob &lt;bob@example.com&gt;<br>'
      '</div><br><br><div dir="ltr">The rails ship Wednesday.</div></div></div>',
      "See below.\n\n---------- Forwarded message ---------\nFrom: Carl <carl@example.com>\nDate: Mon, Jun 3, 2024 at "
      "9:00 AM\nSubject: Rails\nTo: Bob <bob@example.com>\n\n\nThe rails ship Wednesday.", html=True,
      subject="Fwd: [#7] Rack plan")
# HTML with nothing but the quote.
F.add("gmail-html", "en", "quote-only",
      '<div dir="ltr"><br></div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">%s<br></div>'
      '<blockquote class="gmail_quote">%s</blockquote></div>' % (escape(GMAIL["en"]), original("en")), "", html=True)

CASES = F.cases

"""Outlook desktop, Outlook on the web and the Outlook apps: a rule or "-----Original
Message-----", then a "From: / Sent: / To: / Subject:" block in the user's language, and
the original unquoted under it."""

from __future__ import annotations

from tests.golden import NEW, ORIGINAL, Family

F = Family("outlook")
RULE = "________________________________"

LABELS = {  # From, Sent, To, Subject as each localised Outlook writes them
    "en": ("From", "Sent", "To", "Subject", "Monday, June 3, 2024 10:00 AM"),
    "de": ("Von", "Gesendet", "An", "Betreff", "Montag, 3. Juni 2024 10:00"),
    "fr": ("De", "Envoyé", "À", "Objet", "lundi 3 juin 2024 10:00"),
    "es": ("De", "Enviado el", "Para", "Asunto", "lunes, 3 de junio de 2024 10:00"),
    "it": ("Da", "Inviato", "A", "Oggetto", "lunedì 3 giugno 2024 10:00"),
    "pt": ("De", "Enviada em", "Para", "Assunto", "segunda-feira, 3 de junho de 2024 10:00"),
    "nl": ("Van", "Verzonden", "Aan", "Onderwerp", "maandag 3 juni 2024 10:00"),
    "pl": ("Od", "Wysłano", "Do", "Temat", "poniedziałek, 3 czerwca 2024 10:00"),
    "ru": ("От", "Отправлено", "Кому", "Тема", "3 июня 2024 г. 10:00"),
    "uk": ("Від", "Надіслано", "Кому", "Тема", "3 червня 2024 р. 10:00"),
    "zh": ("发件人", "发送时间", "收件人", "主题", "2024年6月3日 10:00"),
    "ja": ("差出人", "送信日時", "宛先", "件名", "2024年6月3日 10:00"),
    "ko": ("보낸 사람", "보낸 날짜", "받는 사람", "제목", "2024년 6월 3일 월요일 오전 10:00"),
    "tr": ("Kimden", "Gönderildi", "Kime", "Konu", "3 Haziran 2024 Pazartesi 10:00"),
}


def block(lang: str, bold: bool = False) -> str:
    """The header block of the original, as Outlook in ``lang`` writes it ("*From:*" once HTML is text)."""
    frm, sent, to, subject, date = LABELS[lang]
    colon = " :" if lang == "fr" else ":"
    fmt = "*%s%s* %s" if bold else "%s%s %s"
    return "\n".join(fmt % (label, colon, value)
                     for label, value in ((frm, "Ann Author <ann@example.com>"), (sent, date),
                                          (to, "Bob Builder <bob@example.com>"), (subject, "RE: [#7] Rack plan")))


for lang in LABELS:  # Outlook desktop: a rule, the block, the original unquoted
    F.reply("outlook", lang, RULE + "\n" + block(lang), kind="header", prefix="")
for lang in ("en", "de", "fr", "es", "nl", "pl", "ru", "ja"):  # Outlook on the web, HTML made text: bold labels
    F.reply("outlook-web", lang, RULE + "\n" + block(lang, bold=True), kind="header", prefix="")
for lang, line in (("en", "-----Original Message-----"), ("de", "-----Ursprüngliche Nachricht-----"),
                   ("fr", "-----Message d'origine-----"), ("es", "-----Mensaje original-----"),
                   ("it", "-----Messaggio originale-----"), ("nl", "-----Oorspronkelijk bericht-----"),
                   ("pt", "-----Mensagem original-----"), ("ru", "-----Исходное сообщение-----")):
    F.reply("outlook-2010", lang, line + "\n" + block(lang), kind="header", prefix="")

# The Outlook apps: "Get Outlook for iOS" above the rule.
F.reply("outlook-ios", "en", RULE + "\n" + block("en"), kind="signature", prefix="",
        signature="Get Outlook for iOS<https://aka.ms/o0ukef>")
F.reply("outlook-android", "de", RULE + "\n" + block("de"), kind="signature", prefix="",
        signature="Outlook für Android<https://aka.ms/AAb9ysg> herunterladen")
F.reply("outlook-android", "fr", RULE + "\n" + block("fr"), kind="signature", prefix="",
        signature="Obtenir Outlook pour Android<https://aka.ms/AAb9ysg>")

# A corporate signature and a legal disclaimer between the answer and the header block.
F.reply("outlook", "en", RULE + "\n" + block("en"), kind="signature", prefix="",
        signature="Bob Builder | Rack & Co.\nT: +1 555 010 0100 | M: +1 555 010 0101\n\n"
        "CONFIDENTIALITY NOTICE: This e-mail message is intended only for the named recipient.")
F.reply("outlook", "de", RULE + "\n" + block("de"), kind="signature", prefix="",
        signature="Diese E-Mail enthält vertrauliche Informationen und ist nur für den Empfänger bestimmt. "
        "Wenn Sie nicht der richtige Adressat sind, informieren Sie bitte sofort den Absender.")

# Inline answers in Outlook: the person types under each quoted line (quotes with ">").
F.add("outlook", "en", "inline",
      "-----Original Message-----\n" + block("en") + "\n\n> Can you rack the new servers on Thursday?\n"
      "Yes, Thursday.\n> Thanks,\n> Ann",
      "> Can you rack the new servers on Thursday?\nYes, Thursday.")

# Forwarded from Outlook inside a reply: the forward header says "forward" only by its place.
F.add("outlook", "en", "forward",
      "FYI, Carl's answer.\n\n" + RULE + "\nFrom: Carl <carl@example.com>\nSent: Monday, June 3, 2024 9:00 AM\n"
      "To: Bob Builder <bob@example.com>\nSubject: Rails\n\nThe rails ship Wednesday.",
      "FYI, Carl's answer.\n\n" + RULE + "\nFrom: Carl <carl@example.com>\nSent: Monday, June 3, 2024 9:00 AM\n"
      "To: Bob Builder <bob@example.com>\nSubject: Rails\n\nThe rails ship Wednesday.", subject="FW: [#7] Rack plan")

# Quote only (the person pressed send without typing).
F.add("outlook", "en", "quote-only", "\n\n" + RULE + "\n" + block("en") + "\n\n" + ORIGINAL["en"], "")
F.add("outlook", "nl", "quote-only", "\u200b\n" + RULE + "\n" + block("nl") + "\n\n" + ORIGINAL["nl"], "")
assert NEW

CASES = F.cases

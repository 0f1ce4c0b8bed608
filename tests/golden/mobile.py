"""Android mail apps (Samsung Email, the Gmail app, Yahoo and Outlook apps, K-9/Thunderbird
for Android), and "Sent from my ..." stacks in many languages."""

from __future__ import annotations

from tests.golden import NEW, Family

F = Family("mobile")

SAMSUNG = {  # Samsung Email: signature, then its own "Original message" block
    "en": ("Sent from my Galaxy", "-------- Original message --------\nFrom: Ann Author <ann@example.com>\n"
           "Date: 03/06/2024 10:00 (GMT+01:00)\nTo: Bob Builder <bob@example.com>\nSubject: [#7] Rack plan"),
    "de": ("Von meinem/meiner Galaxy gesendet", "-------- Ursprüngliche Nachricht --------\n"
           "Von: Ann Author <ann@example.com>\nDatum: 03.06.24 10:00 (GMT+01:00)\nAn: Bob Builder <bob@example.com>\n"
           "Betreff: [#7] Rack plan"),
    "fr": ("Envoyé depuis mon smartphone Samsung Galaxy.", "-------- Message d'origine --------\n"
           "De : Ann Author <ann@example.com>\nDate : 03/06/2024 10:00 (GMT+01:00)\nÀ : Bob Builder <bob@example.com>\n"
           "Objet : [#7] Rack plan"),
    "es": ("Enviado desde mi smartphone Samsung Galaxy.", "-------- Mensaje original --------\n"
           "De: Ann Author <ann@example.com>\nFecha: 3/6/24 10:00 (GMT+01:00)\nPara: Bob Builder <bob@example.com>\n"
           "Asunto: [#7] Rack plan"),
    "it": ("Inviato dal mio smartphone Samsung Galaxy.", "-------- Messaggio originale --------\n"
           "Da: Ann Author <ann@example.com>\nData: 03/06/24 10:00 (GMT+01:00)\nA: Bob Builder <bob@example.com>\n"
           "Oggetto: [#7] Rack plan"),
    "pt": ("Enviado do meu smartphone Samsung Galaxy.", "-------- Mensagem original --------\n"
           "De: Ann Author <ann@example.com>\nData: 03/06/2024 10:00 (GMT-03:00)\nPara: Bob Builder <bob@example.com>\n"
           "Assunto: [#7] Rack plan"),
    "nl": ("Verzonden vanaf Samsung Galaxy smartphone.", "-------- Oorspronkelijk bericht --------\n"
           "Van: Ann Author <ann@example.com>\nDatum: 03-06-2024 10:00 (GMT+01:00)\n"
           "Aan: Bob Builder <bob@example.com>\n"
           "Onderwerp: [#7] Rack plan"),
    "pl": ("Wysłane z mojego smartfona Galaxy", "-------- Oryginalna wiadomość --------\n"
           "Od: Ann Author <ann@example.com>\nData: 03.06.2024 10:00 (GMT+01:00)\nDo: Bob Builder <bob@example.com>\n"
           "Temat: [#7] Rack plan"),
    "ru": ("Отправлено с устройства Galaxy", "-------- Исходное сообщение --------\n"
           "От: Ann Author <ann@example.com>\nДата: 03.06.2024 10:00 (GMT+03:00)\nКому: Bob Builder <bob@example.com>\n"
           "Тема: [#7] Rack plan"),
    "tr": ("Samsung Galaxy akıllı telefonumdan gönderildi", "-------- Orijinal mesaj --------\n"
           "Kimden: Ann Author <ann@example.com>\nTarih: 03.06.2024 10:00 (GMT+03:00)\n"
           "Kime: Bob Builder <bob@example.com>\n"
           "Konu: [#7] Rack plan"),
}
for lang, (signature, header) in SAMSUNG.items():
    F.reply("samsung-email", lang, header, kind="signature", signature=signature, prefix="")

GMAIL_EN = "On Mon, Jun 3, 2024, 10:00 Ann Author <ann@example.com> wrote:"
STACKS = [  # several apps each add a line; the person's own name stays
    ("en", "Sent from my iPhone\n\nSent from Yahoo Mail for iPhone"),
    ("en", "Sent from Yahoo Mail on Android"),
    ("en", "Sent from Proton Mail mobile"),
    ("en", "Sent from my Huawei phone"),
    ("en", "Sent via the Samsung Galaxy, an AT&T 5G smartphone"),
    ("en", "Sent from Outlook for Android\n\nSent from my iPhone"),
    ("en", "Get BlueMail for Android"),
    ("de", "Gesendet von Yahoo Mail auf Android"),
    ("de", "Gesendet mit der WEB.DE Mail App"),
    ("fr", "Envoyé de mon iPad\nEnvoyé depuis Yahoo Mail pour Android"),
    ("es", "Enviado desde mi Huawei"),
    ("it", "Inviato da Libero Mail per Android"),
    ("pt", "Enviado do Yahoo Mail no Android"),
    ("nl", "Verzonden met BlueMail"),
    ("pl", "Wysłane z aplikacji Poczta Onet"),
    ("ru", "Отправлено из мобильной Почты Mail.ru"),
    ("uk", "Надіслано з мого Galaxy"),
    ("zh", "从我的 iPhone 发送"),
    ("ja", "Android版Gmailから送信"),
    ("ko", "Galaxy에서 보냄"),
]
for lang, signature in STACKS:
    F.reply("android", lang, GMAIL_EN, kind="signature", signature=signature)

# K-9 Mail / Thunderbird for Android: bottom-posting-friendly, "-- " signature below the answer.
F.reply("k9", "en", "On June 3, 2024 10:00:00 AM GMT+02:00, Ann Author <ann@example.com> wrote:",
        kind="signature", signature="-- \nThis message was sent from my Android device with K-9 Mail.")
F.reply("k9", "de", "Am 3. Juni 2024 10:00:00 MESZ schrieb Ann Author <ann@example.com>:", kind="attribution")
# Mobile reply where the person wrote nothing but the app put its line.
F.add("android", "en", "quote-only", "Sent from my Galaxy\n\n" + GMAIL_EN + "\n> Hi Bob", "")
assert NEW

CASES = F.cases

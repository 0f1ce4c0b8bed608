"""Apple Mail (macOS) and Mail on iPhone/iPad: "On <date>, at <time>, <name> <address> wrote:";
iOS Mail puts the attribution inside the quote and "Sent from my iPhone" above it."""

from __future__ import annotations

from tests.golden import NEW, Family

F = Family("apple")
A = "Ann Author <ann@example.com>"

ATTRIBUTION = {
    "en": "On Jun 3, 2024, at 10:00, " + A + " wrote:",
    "de": "Am 03.06.2024 um 10:00 schrieb " + A + ":",
    "fr": "Le 3 juin 2024 à 10:00, " + A + " a écrit :",
    "es": "El 3 jun 2024, a las 10:00, " + A + " escribió:",
    "it": "Il giorno 3 giu 2024, alle ore 10:00, " + A + " ha scritto:",
    "pt": "No dia 3/06/2024, às 10:00, " + A + " escreveu:",
    "nl": "Op 3 jun 2024, om 10:00 heeft " + A + " het volgende geschreven:",
    "pl": "Wiadomość napisana przez " + A + " w dniu 03.06.2024, o godz. 10:00:",
    "ru": "3 июня 2024 г., в 10:00, " + A + " написал(а):",
    "uk": "3 черв. 2024 р. о 10:00 " + A + " пише:",
    "zh": "2024年6月3日 10:00，" + A + " 写道：",
    "ja": "2024/06/03 10:00、" + A + "のメール：",
    "ko": "2024. 6. 3. 오전 10:00, " + A + " 작성:",
    "tr": "3 Haz 2024 tarihinde 10:00 saatinde, " + A + " şunları yazdı:",
}

SENT_FROM = {
    "en": "Sent from my iPhone", "de": "Von meinem iPhone gesendet", "fr": "Envoyé de mon iPhone",
    "es": "Enviado desde mi iPhone", "it": "Inviato da iPhone", "pt": "Enviado do meu iPhone",
    "nl": "Verstuurd vanaf mijn iPhone", "pl": "Wysłane z iPhone'a", "ru": "Отправлено с iPhone",
    "uk": "Надіслано з iPhone", "zh": "发自我的iPhone", "ja": "iPhoneから送信", "ko": "iPhone에서 보냄",
    "tr": "iPhone'umdan gönderildi",
}

for lang, attribution in ATTRIBUTION.items():  # Apple Mail on a Mac
    F.reply("apple-mail", lang, attribution)
for lang, attribution in ATTRIBUTION.items():  # iOS Mail: signature, then the attribution inside the quote
    F.reply("ios-mail", lang, attribution, kind="signature", signature=SENT_FROM[lang], quote_attribution=True)
# iPad, and a person who kept "Sent from my iPhone" under their own name.
F.reply("ios-mail", "en", ATTRIBUTION["en"], kind="signature", signature="Sent from my iPad",
        quote_attribution=True)
F.reply("ios-mail", "de", ATTRIBUTION["de"], kind="signature", signature="Von meinem iPad gesendet",
        quote_attribution=True)

# Bottom posting in Apple Mail: one quote on top, the answer below it; the quote goes (the
# forum shows the thread, so a whole quoted original adds nothing).
F.add("apple-mail", "en", "inline",
      ATTRIBUTION["en"] + "\n\n> Can you rack the new servers on Thursday?\n\nYes, Thursday.\n\nBob",
      "Yes, Thursday.\n\nBob")
# Apple's forward: "Begin forwarded message:" and a bold header block.
FWD = ("Begin forwarded message:\n\nFrom: Carl <carl@example.com>\nSubject: Rails\nDate: June 3, 2024 at 9:00:00 "
       "GMT+2\nTo: Bob Builder <bob@example.com>\n\nThe rails ship Wednesday.")
F.add("apple-mail", "en", "forward", "Here is Carl's answer.\n\n" + FWD, "Here is Carl's answer.\n\n" + FWD)
F.add("apple-mail", "en", "forward", "Here is Carl's answer.\n\n" + FWD, "Here is Carl's answer.\n\n" + FWD,
      subject="Fwd: [#7] Rack plan")
FWD_FR = ("Début du message réexpédié :\n\nDe: Carl <carl@example.com>\nObjet: Rails\nDate: 3 juin 2024 à 09:00:00 "
          "UTC+2\nÀ: Bob Builder <bob@example.com>\n\nLes rails partent mercredi.")
F.add("apple-mail", "fr", "forward", "Voici la réponse de Carl.\n\n" + FWD_FR,
      "Voici la réponse de Carl.\n\n" + FWD_FR)
# iOS: nothing typed, only the signature and the quote.
F.add("ios-mail", "en", "quote-only", SENT_FROM["en"] + "\n\n> " + ATTRIBUTION["en"] + "\n>\n> Hi Bob\n", "")
assert NEW

CASES = F.cases

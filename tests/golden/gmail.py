"""Gmail (web and the Android/iOS Gmail apps): "On <date> <name> <address> wrote:" in the
sender's language, wrapped by the plain-text part at 78 characters; older Gmail and some
locales write the date first ("2016-03-03 17:21 GMT+01:00 Name <addr>:")."""

from __future__ import annotations

from tests.golden import NEW, Family

F = Family("gmail")
A = "Ann Author <ann@example.com>"

ATTRIBUTION = {
    "en": "On Mon, Jun 3, 2024 at 10:00 AM " + A + " wrote:",
    "de": "Am Mo., 3. Juni 2024 um 10:00 Uhr schrieb " + A + ":",
    "fr": "Le lun. 3 juin 2024 à 10:00, " + A + " a écrit :",
    "es": "El lun, 3 jun 2024 a las 10:00, Ann Author (<ann@example.com>) escribió:",
    "it": "Il giorno lun 3 giu 2024 alle ore 10:00 " + A + " ha scritto:",
    "pt": "Em seg., 3 de jun. de 2024 às 10:00, " + A + " escreveu:",
    "nl": "Op ma 3 jun 2024 om 10:00 schreef " + A + ":",
    "pl": "pon., 3 cze 2024 o 10:00 " + A + " napisał(a):",
    "ru": "пн, 3 июн. 2024 г. в 10:00, " + A + ":",
    "uk": "пн, 3 черв. 2024 р. о 10:00 " + A + " пише:",
    "zh": A + " 于2024年6月3日周一 10:00写道：",
    "ja": "2024年6月3日(月) 10:00 " + A + ":",
    "ko": "2024년 6월 3일 (월) 오전 10:00, " + A + "님이 작성:",
    "tr": A + ", 3 Haz 2024 Pzt, 10:00 tarihinde şunu yazdı:",
}

# The attribution as Gmail's plain-text part wraps it (name and address, then the verb).
WRAPPED = {
    "en": "On Mon, Jun 3, 2024 at 10:00 AM Ann Author <ann.author@example.com>\nwrote:",
    "de": "Am Mo., 3. Juni 2024 um 10:00 Uhr schrieb Ann Author <\nann.author@example.com>:",
    "fr": "Le lun. 3 juin 2024 à 10:00, Ann Author <ann.author@example.com> a\nécrit :",
    "es": "El lun, 3 jun 2024 a las 10:00, Ann Author (<ann.author@example.com>)\nescribió:",
    "it": "Il giorno lun 3 giu 2024 alle ore 10:00 Ann Author <\nann.author@example.com> ha scritto:",
    "pt": "Em seg., 3 de jun. de 2024 às 10:00, Ann Author <ann.author@example.com>\nescreveu:",
    "nl": "Op ma 3 jun 2024 om 10:00 schreef Ann Author <ann.author@example.com\n>:",
    "pl": "pon., 3 cze 2024 o 10:00 Ann Author <ann.author@example.com>\nnapisał(a):",
    "ru": "пн, 3 июн. 2024 г. в 10:00, Ann Author Longname <\nann.author@example.com>:",
    "tr": "Ann Author <ann.author@example.com>, 3 Haz 2024 Pzt, 10:00 tarihinde\nşunu yazdı:",
}

# Date-first forms (older Gmail, Gmail in several locales, some Android apps).
DATE_FIRST = [
    ("en", "2016-03-03 17:21 GMT+01:00 " + A + ":"),
    ("de", "2016-03-03 17:21 GMT+01:00 Ann Author <ann@example.com>:"),
    ("fr", "2016-03-03 17:21 GMT+01:00 Ann Author <ann@example.com>:"),
    ("it", "2016-03-03 17:21 GMT+01:00 Ann Author <ann@example.com>:"),
    ("es", "2016-03-03 17:21 GMT+01:00 Ann Author <\nann.author.longname@example.com>:"),
    ("nl", "2016-03-03 17:21 GMT+01:00 Ann Author <ann@example.com>:"),
    ("pl", "3 marca 2016 17:21 użytkownik Ann Author <ann@example.com> napisał:"),
    ("ru", "3 марта 2016 г., 17:21 пользователь Ann Author <ann@example.com> написал:"),
    ("pt", "2016-03-03 17:21 GMT-03:00 Ann Author <ann@example.com>:"),
    ("ja", "2016-03-03 17:21 GMT+09:00 Ann Author <ann@example.com>:"),
]

for lang, attribution in ATTRIBUTION.items():
    F.reply("gmail", lang, attribution)
for lang, attribution in WRAPPED.items():
    F.reply("gmail", lang, attribution)
for lang, attribution in DATE_FIRST:
    F.reply("gmail-old", lang, attribution)

# Gmail's tracking extensions leave a lone "ᐧ" or zero-width spaces after the text.
F.reply("gmail", "en", ATTRIBUTION["en"], kind="signature", new=NEW["en"] + "\nᐧ",
        expected=NEW["en"])
F.reply("gmail", "de", ATTRIBUTION["de"], kind="signature", new=NEW["de"] + "\n\u200b\n\u200b",
        expected=NEW["de"])
# A Gmail signature under "-- " and one under "--" (the space lost by a client).
F.reply("gmail", "en", ATTRIBUTION["en"], kind="signature", signature="-- \nBob Builder\nRack & Co.\n+1 555 0100")
F.reply("gmail", "fr", ATTRIBUTION["fr"], kind="signature", signature="--\nBob Builder\nRack & Cie")

# Inline answers: the quoted questions stay (as quotes), the unanswered tail goes.
F.add("gmail", "en", "inline",
      ATTRIBUTION["en"] + "\n\n> Can you rack the new servers on Thursday?\n\nYes, in the morning.\n\n"
      "> And bring the rails?\n\nI will.\n\n> Thanks,\n> Ann\n",
      "> Can you rack the new servers on Thursday?\n\nYes, in the morning.\n\n> And bring the rails?\n\nI will.")
F.add("gmail", "de", "inline",
      "Hallo Ann,\n\n" + ATTRIBUTION["de"] + "\n\n> kannst du die Server am Donnerstag einbauen?\n\nJa.\n\n"
      "> Und die Schienen?\n\nBringe ich mit.\n\n> Danke,\n> Ann\n",
      "Hallo Ann,\n\n> kannst du die Server am Donnerstag einbauen?\n\nJa.\n\n> Und die Schienen?\n\n"
      "Bringe ich mit.")

# Forward inside a reply: the person's words and the forwarded message are both posted.
FWD = ("---------- Forwarded message ---------\nFrom: Carl <carl@example.com>\nDate: Mon, Jun 3, 2024 at 9:00 AM\n"
       "Subject: Rails\nTo: Bob <bob@example.com>\n\nThe rails ship Wednesday.")
F.add("gmail", "en", "forward", "See Carl's note below.\n\n" + FWD, "See Carl's note below.\n\n" + FWD)
F.add("gmail", "en", "forward", "See Carl's note below.\n\n" + FWD, "See Carl's note below.\n\n" + FWD,
      subject="Fwd: [#7] Rack plan")
FWD_DE = ("---------- Weitergeleitete Nachricht ---------\nVon: Carl <carl@example.com>\n"
          "Date: Mo., 3. Juni 2024 um 09:00 Uhr\nSubject: Schienen\nTo: Bob <bob@example.com>\n\n"
          "Die Schienen kommen Mittwoch.")
F.add("gmail", "de", "forward", "Siehe unten.\n\n" + FWD_DE, "Siehe unten.\n\n" + FWD_DE)

# Nothing but the quote: nothing to post.
F.add("gmail", "en", "quote-only", ATTRIBUTION["en"] + "\n\n> " + "\n> ".join(NEW["en"].split("\n")), "")
F.add("gmail", "es", "quote-only", "\n\n" + ATTRIBUTION["es"] + "\n> Hola Bob\n", "")

CASES = F.cases

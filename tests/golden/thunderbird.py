"""Thunderbird (and Betterbird, SeaMonkey): "On <date> <time>, <name> wrote:" without the
address by default, the quote with "> "; people often answer inline or at the bottom."""

from __future__ import annotations

from tests.golden import Family

F = Family("thunderbird")

ATTRIBUTION = {
    "en": "On 6/3/24 10:00 AM, Ann Author wrote:",
    "de": "Am 03.06.24 um 10:00 schrieb Ann Author:",
    "fr": "Le 03/06/2024 à 10:00, Ann Author a écrit :",
    "es": "El 3/6/24 a las 10:00, Ann Author escribió:",
    "it": "Il 03/06/24 10:00, Ann Author ha scritto:",
    "pt": "Em 03/06/2024 10:00, Ann Author escreveu:",
    "nl": "Op 03-06-2024 om 10:00 schreef Ann Author:",
    "pl": "W dniu 3.06.2024 o 10:00, Ann Author pisze:",
    "ru": "03.06.2024 10:00, Ann Author пишет:",
    "uk": "03.06.24 10:00, Ann Author пише:",
    "zh": "在 2024/6/3 10:00, Ann Author 写道:",
    "ja": "2024/06/03 10:00, Ann Author wrote:",
    "ko": "24. 6. 3. 오전 10:00에 Ann Author 이(가) 쓴 글:",
    "tr": "3.06.2024 10:00 tarihinde Ann Author yazdı:",
}
for lang, attribution in ATTRIBUTION.items():
    F.reply("thunderbird", lang, attribution)
# The signature Thunderbird appends ("-- " then the person's signature file).
F.reply("thunderbird", "en", ATTRIBUTION["en"], kind="signature",
        signature="-- \nBob Builder\nhttps://rack.example.com")
F.reply("thunderbird", "de", ATTRIBUTION["de"], kind="signature",
        signature="__\nBob Builder, Rack GmbH\nTel. +49 30 1234567")
# Inline, with a greeting above the first quote and a signature at the end.
F.add("thunderbird", "en", "inline",
      "Hi Ann,\n\n" + ATTRIBUTION["en"] + "\n> Hi Bob,\n> Can you rack the new servers on Thursday?\n\n"
      "Yes.\n\n> Thanks,\n> Ann\n\n-- \nBob Builder",
      "Hi Ann,\n\n> Hi Bob,\n> Can you rack the new servers on Thursday?\n\nYes.")
F.add("thunderbird", "fr", "inline",
      ATTRIBUTION["fr"] + "\n> Peux-tu installer les serveurs jeudi ?\nOui, jeudi matin.\n> Et les rails ?\n"
      "Je les apporte.\n> Merci,\n> Ann\n",
      "> Peux-tu installer les serveurs jeudi ?\nOui, jeudi matin.\n> Et les rails ?\nJe les apporte.")
F.add("thunderbird", "ru", "inline",
      ATTRIBUTION["ru"] + "\n> Сможешь поставить серверы в четверг?\n\nДа.\n\n> Спасибо,\n> Анна\n",
      "> Сможешь поставить серверы в четверг?\n\nДа.")
F.add("thunderbird", "pl", "inline",
      ATTRIBUTION["pl"] + "\n> czy możesz zamontować serwery w czwartek?\n\nTak, rano.\n\n> Dzięki,\n> Ann\n",
      "> czy możesz zamontować serwery w czwartek?\n\nTak, rano.")
# Thunderbird's forward inline.
FWD = ("-------- Forwarded Message --------\nSubject: \tRails\nDate: \tMon, 3 Jun 2024 09:00:00 +0200\n"
       "From: \tCarl <carl@example.com>\nTo: \tBob Builder <bob@example.com>\n\nThe rails ship Wednesday.")
F.add("thunderbird", "en", "forward", "For the record:\n\n" + FWD, "For the record:\n\n" + FWD)
F.add("thunderbird", "de", "quote-only", ATTRIBUTION["de"] + "\n> Hallo Bob\n>\n> Danke\n", "")

CASES = F.cases

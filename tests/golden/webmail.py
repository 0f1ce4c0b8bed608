"""Webmail: Yahoo, Zoho, Proton Mail, Fastmail, and the Russian and German portals."""

from __future__ import annotations

from tests.golden import ORIGINAL, Family

F = Family("webmail")
A = "Ann Author <ann@example.com>"

# Yahoo: "On Monday, June 3, 2024 at 10:00:00 AM GMT+2, <name> <address> wrote:" and a plain
# part whose original is indented, not quoted.
YAHOO = {
    "en": "On Monday, June 3, 2024 at 10:00:00 AM GMT+2, " + A + " wrote:",
    "de": "Am Montag, 3. Juni 2024 um 10:00:00 MESZ hat " + A + " Folgendes geschrieben:",
    "fr": "Le lundi 3 juin 2024 à 10:00:00 UTC+2, " + A + " a écrit :",
    "es": "El lunes, 3 de junio de 2024, 10:00:00 CEST, " + A + " escribió:",
    "it": "Il lunedì 3 giugno 2024 alle ore 10:00:00 CEST, " + A + " ha scritto:",
    "pt": "Em segunda-feira, 3 de junho de 2024 10:00:00 BRT, " + A + " escreveu:",
    "tr": "3 Haziran 2024 Pazartesi 10:00:00 GMT+3 tarihinde " + A + " şunu yazdı:",
}
for lang, attribution in YAHOO.items():
    F.reply("yahoo", lang, attribution)
for lang in ("en", "de"):  # the plain part of Yahoo's HTML mail: the original indented, not quoted
    F.reply("yahoo", lang, "   " + YAHOO[lang], prefix="",
            quote="\n".join("   " + x for x in ORIGINAL[lang].split("\n")))
F.reply("yahoo-classic", "en", "--- On Mon, 6/3/24, " + A + " wrote:")

# Zoho: dashed attribution without a colon, in several languages.
ZOHO = {
    "en": "---- On Mon, 03 Jun 2024 10:00:00 +0200 " + A + " wrote ----",
    "de": "---- Am Mo, 03 Jun 2024 10:00:00 +0200 schrieb " + A + " ----",
    "fr": "---- Le lun., 03 juin 2024 10:00:00 +0200 " + A + " a écrit ----",
    "es": "---- El lun, 03 jun 2024 10:00:00 +0200 " + A + " escribió ----",
    "it": "---- Il lun, 03 giu 2024 10:00:00 +0200 " + A + " ha scritto ----",
    "pt": "---- Em seg, 03 jun 2024 10:00:00 -0300 " + A + " escreveu ----",
    "nl": "---- Op ma, 03 jun 2024 10:00:00 +0200 schreef " + A + " ----",
    "ja": "---- 2024/06/03 10:00:00 " + A + " wrote ----",
}
for lang, attribution in ZOHO.items():
    F.reply("zoho", lang, attribution, prefix="")
ZOHO_FWD = ("============ Forwarded message ============\nFrom: " + A + "\nTo: Bob <bob@example.com>\n"
            "Date: Mon, 03 Jun 2024 10:00:00 +0200\nSubject: Rails\n============ Forwarded message ============\n\n"
            "The rails ship Wednesday.")
F.add("zoho", "en", "forward", "See below.\n\n" + ZOHO_FWD, "See below.\n\n" + ZOHO_FWD)

# Proton Mail: its own attribution and "Sent with Proton Mail secure email."
PROTON = "On Monday, June 3rd, 2024 at 10:00 AM, " + A + " wrote:"
F.reply("proton", "en", PROTON)
F.reply("proton", "en", PROTON, kind="signature", signature="Sent with Proton Mail secure email.")
F.reply("proton", "de", "Am Montag, 3. Juni 2024 um 10:00 schrieb " + A + ":", kind="signature",
        signature="Gesendet mit der sicheren E-Mail von Proton Mail.")
F.reply("proton", "fr", "Le lundi 3 juin 2024 à 10:00, " + A + " a écrit :", kind="signature",
        signature="Envoyé avec la messagerie sécurisée Proton Mail.")
# Fastmail: no address, "On Mon, Jun 3, 2024, at 10:00, Ann Author wrote:".
F.reply("fastmail", "en", "On Mon, Jun 3, 2024, at 10:00, Ann Author wrote:")
F.reply("fastmail", "de", "Am Mo, 3. Jun 2024, um 10:00, schrieb Ann Author:")
F.add("fastmail", "en", "inline",
      "On Mon, Jun 3, 2024, at 10:00, Ann Author wrote:\n> Hi Bob,\n> Can you rack the new servers on Thursday?\n\n"
      "Yes.\n\n> Thanks,\n> Ann\n", "> Hi Bob,\n> Can you rack the new servers on Thursday?\n\nYes.")
# mail.ru and Yandex write "<date>, <name> <address>:" with no verb.
F.reply("mail.ru", "ru", "Понедельник, 3 июня 2024, 10:00 +03:00 от Ann Author <ann@example.com>:")
F.reply("yandex", "ru", "03.06.2024, 10:00, \"Ann Author\" <ann@example.com>:")
F.reply("ukr.net", "uk", "3 червня 2024, 10:00:00, від \"Ann Author\" <ann@example.com>:")
# A corporate footer with a "___" rule, and a confidentiality notice, under the answer.
F.reply("zoho", "en", ZOHO["en"], kind="signature", prefix="",
        signature="______________________\nBob Builder\nRack & Co. | Mobile: +1 555 010 0101")
F.reply("fastmail", "es", "El lun, 3 jun 2024, a las 10:00, Ann Author escribió:", kind="signature",
        signature="Este mensaje es confidencial y está dirigido únicamente a su destinatario.")

CASES = F.cases

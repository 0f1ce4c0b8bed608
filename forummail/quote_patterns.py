"""Multilingual pattern tables for trimming email replies.

Kept apart from ``trim.py`` so the algorithm stays readable: everything here is data
(regular expressions and word lists) describing what mail clients write around a
quoted original, in the languages we have seen.  All patterns are matched against a
single line or a few lines joined with a space, never against the whole message, so
their cost stays linear in the size of the message.
"""

from __future__ import annotations

import re

# Invisible characters some clients sprinkle into headers (Windows Mail puts LRMs
# around dates, Apple Mail a BOM before quoted text); they must not defeat a match.
INVISIBLE_RE = re.compile("[\u200b\u200c\u200d\u200e\u200f\u2060\ufeff]")
# Marks that mail-tracking extensions (Streak, Mixmax) leave on a line of their own
# ("ᐧ", U+1427): a line of nothing else shows nothing the person wrote.
TRACKING_MARKS = "\u1427"

# A quoted line: optional indentation, then ">" (also the fullwidth form); ">:" alone is
# the end of an address wrapped inside an attribution ("<ann@example.com\n>:"), not a quote.
QUOTED_RE = re.compile(r"^[ \t]{0,3}[>＞](?![ \t]*[:：][ \t]*$)")

# Verbs that end an attribution line ("On <date>, <name> wrote:") in many languages.
# The attribution may go on after the verb ("Op ... schreef X <x@y>:") up to the colon.
_ATTRIBUTION_VERBS = (
    r"wrote|writes|has written"
    r"|schrieb|geschrieben|schreef|heeft geschreven|skrev|skriver|kirjoitti"
    r"|a\s+écrit|escribió|escreveu|ha\s+scritto|scrisse"
    r"|napisał\(a\)|napisał|napisała|pisze|napsal\(a\)|napsal|napsala|írta|yazdı|έγραψε"
    r"|написал\(а\)|написала|написал|пишет|написав|написала|пише|napisao|napisala"
    r"|wiadomość napisana przez"
)
ATTRIBUTION_RE = re.compile(
    r"(?:[-–—]{2,}\s*)?\S.{0,300}?(?<!\w)(?:" + _ATTRIBUTION_VERBS + r")(?!\w).{0,200}?[:：]",
    re.IGNORECASE,
)
# Zoho and others close the attribution with dashes instead of a colon, and open it with
# them too ("---- On <date> X <x@y> wrote ----").
DASHED_ATTRIBUTION_RE = re.compile(
    r"[-–—]{3,}\s*\S.{0,300}?(?<!\w)(?:" + _ATTRIBUTION_VERBS + r")(?!\w).{0,200}?\s[-–—]{3,}",
    re.IGNORECASE,
)
# East-Asian attributions have no word boundaries.
CJK_ATTRIBUTION_RE = re.compile(
    r"\S.{0,300}?(?:写道|寫道|のメッセージ|のメール|書きました|が書きました|님이 작성|작성|쓴 글)\s*.{0,100}?[:：]"
)
# Attributions introduced by a leading word ("Quoting John <j@x.y>:").
QUOTING_RE = re.compile(r"(?:Quoting|Zitat von|Citando|Citation de|Cytuję|Цитата)\b.{1,200}[:：]", re.IGNORECASE)
# A "--- On Wed, 4/4/12, X wrote:" style line needs only the verb; the lead-in word list
# below makes a multi-line attribution credible even without a date.
ATTRIBUTION_LEADS_RE = re.compile(
    r"(?:[-–—]{2,}\s*)?(?:(?:On|Am|Le|El|Op|Den|På|W dniu|Dnia|Em|No dia|Il|In data|Dne)\b|\d)",
    re.IGNORECASE,
)
# The fallback for clients that write only "<date>, <name> <address>:" (Yandex, mail.ru,
# Japanese Gmail); trusted only when quoted lines follow.
EMAIL_RE = re.compile(r"[\w.+'=-]+@[\w-]+(?:\.[\w-]+)+")
DIGIT_RE = re.compile(r"\d")
# A time ("10:00") or a date ("03.06.2024", "2016-03-03", "2024年"): what the verb-less
# fallback needs, so that "Call 555-0100 or mail ann@example.com:" is not an attribution.
DATE_OR_TIME_RE = re.compile(r"\d{1,2}:\d{2}|\d{1,4}[./-]\d{1,2}[./-]\d{1,4}|(?<!\d)(?:19|20)\d{2}(?!\d)")

# Separator lines that Outlook and others put before the original message.
ORIGINAL_MESSAGE_RE = re.compile(
    r"\s*[-_=*]{2,}\s*(?:"
    r"original message|original mail|ursprüngliche nachricht|originalnachricht|original nachricht"
    r"|message d'origine|message original|mensaje original|mensagem original|messaggio originale"
    r"|oorspronkelijk bericht|origineel bericht|oprindelig meddelelse|opprinnelig melding"
    r"|ursprungligt meddelande|originalmeddelande|wiadomość oryginalna|oryginalna wiadomość"
    r"|исходное сообщение|оригинальное сообщение|alkuperäinen viesti|původní zpráva|eredeti üzenet"
    r"|orijinal ileti|orijinal mesaj|原始邮件|元のメッセージ|reply message|antwort nachricht"
    r")\s*[-_=*]*\s*:?",
    re.IGNORECASE,
)

# Lines that start a forwarded message: never cut, the forwarded content is the post.
FORWARD_RE = re.compile(
    r"(?:[-_=*\s]{2,}\s*(?:"
    r"forwarded message|forwarded e-?mail|weitergeleitete nachricht|message transféré|mensaje reenviado"
    r"|doorgestuurd bericht|videresendt meddelelse|videresendt melding|vidarebefordrat meddelande"
    r"|wiadomość przekazana dalej|przekazana wiadomość|пересылаемое сообщение|пересланное сообщение"
    r"|messaggio inoltrato|mensagem encaminhada|välitetty viesti|přeposlaná zpráva|転送されたメッセージ|转发的邮件"
    r")\s*[-_=*\s]{2,}"
    r"|(?:begin forwarded message|anfang der weitergeleiteten nachricht|début du message réexpédié"
    r"|inicio del mensaje reenviado|comienzo del mensaje reenviado|begin doorgestuurd bericht"
    r"|vidarebefordrat mejl|videresendt besked|начало переадресованного сообщения"
    r"|inizio messaggio inoltrato|início da mensagem reencaminhada|转发的邮件)\s*[:：])",
    re.IGNORECASE,
)

# Outlook-style header blocks ("From: ... Sent: ... To: ... Subject: ...").  Each label maps
# to a role; a block needs "from" plus enough other roles (see trim._header_block_end).
HEADER_LABELS: dict[str, str] = {}
for _role, _labels in {
    "from": "from|von|від|de|da|van|fra|från|od|от|от кого|差出人|发件人|寄件者|寄件人|lähettäjä|feladó|kimden|afzender"
    "|remitente|expéditeur|mittente|avsändare|odesílatel|보낸 사람",
    "sent": "sent|date|gesendet|datum|envoyé|envoyé le|enviado|enviada|fecha|data|inviato|verzonden|sendt|dato|skickat"
    "|wysłano|wysłane|отправлено|дата|送信日時|日付|发送时间|發送時間|日期|lähetetty|päivämäärä|elküldve|dátum"
    "|gönderildi|tarih|odesláno|sent at|보낸 날짜|надіслано|enviado el|enviada em|enviado em",
    "to": "to|an|à|a|para|aan|til|till|do|кому|宛先|收件人|收件者|vastaanottaja|címzett|kime|komu|destinatario"
    "|destinataire|받는 사람",
    "cc": "cc|bcc|kopie|copie|copia|kopia|копия|dw|kopio|másolat|bilgi",
    "subject": "subject|betreff|objet|sujet|asunto|assunto|oggetto|onderwerp|emne|ämne|temat|тема|件名|主题|主旨"
    "|aihe|tárgy|konu|předmět|věc|titel|제목",
    "reply": "reply-to|antwort an|répondre à|responder a",
}.items():
    for _label in _labels.split("|"):
        HEADER_LABELS[_label] = _role

HEADER_LINE_RE = re.compile(
    r"[ \t]*[*_]{0,2}(?P<label>"
    + "|".join(sorted((re.escape(k) for k in HEADER_LABELS), key=len, reverse=True))
    + r")[ \t\u00a0]*[*_]{0,2}[ \t\u00a0]*[:：][*_]{0,2}(?:[ \t\u00a0]+(?P<value>.*)|$)",
    re.IGNORECASE,
)

# A line made only of rule characters: an <hr> rendered as text, Outlook's underscores.
SEPARATOR_LINE_RE = re.compile(r"[ \t]*(?:[-_=*~—–]{3,}|[-_=*~—–][ \-_=*~—–]{4,})[ \t]*")

# Mobile and webmail signatures ("Sent from my iPhone", "Von meinem iPhone gesendet").
MOBILE_SIGNATURE_RE = re.compile(
    r"(?:"
    r"sent (?:from|with|using|via|by) \S.*|sent from my \S.*"
    r"|(?:get|download) (?:outlook|\S*mail) for \S.*|(?:obtenir|télécharger) outlook pour \S.*"
    r"|(?:obtener|descargar) outlook para \S.*|outlook für \S+ herunterladen|scarica outlook per \S.*"
    r"|von meine[mr]\W\S.*gesendet\.?|gesendet (?:von|mit) \S.*"
    r"|envoyé (?:de|depuis|avec) \S.*|enviado (?:desde|de|con|do) \S.*"
    r"|inviato da(?:l mio)? \S.*|verzonden (?:vanaf|met|van) \S.*|verstuurd vanaf \S.*"
    r"|skickat från \S.*|sendt fra \S.*|lähetetty \S.* ?(?:-laitteesta|laitteesta).*"
    r"|wysłane z \S.*|отправлено (?:с|из) \S.*|надіслано з \S.*|odesláno z \S.*"
    r"|\S.{0,60}(?:dan|den|tan|ten) gönderildi|\S.{0,40}에서 보냄"
    r"|\S+ ?から送信|发自我的\S*|來自我的\S*|从我的 ?\S+ ?发送"
    r")",
    re.IGNORECASE,
)

# Words that open a clause: an app's "Sent from my ..." line has none, a sentence like
# "Sent from my iPad because the laptop died" has one.
CLAUSE_WORD_RE = re.compile(
    r"\b(?:because|while|since|but|when|so that|weil|während|aber|obwohl|parce que|pendant que|mais|quand"
    r"|porque|mientras|pero|cuando|perché|mentre|però|quando|omdat|terwijl|maar|ponieważ|gdy|ale"
    r"|потому что|пока|но|когда|тому що|коли)\b",
    re.IGNORECASE,
)

# Text injected by the sender's mail server above the message, not written by the person.
# It speaks of the mail ("This email originated from outside ..."): "Attention: the new
# server sits outside our network now" is the person's first paragraph.
BANNER_RE = re.compile(
    r"\W{0,3}(?:caution|warning|attention|external(?: email| sender| message)?|\[external\]|notice)\b.{0,300}?"
    r"(?:originated (?:from )?outside|external (?:sender|e-?mail|message)"
    r"|(?:e-?mail|message|sender)\b.{0,80}?(?:outside (?:of )?(?:the|this|your|our) (?:organi[sz]ation|company|network)"
    r"|from an external))",
    re.IGNORECASE,
)

# Legal disclaimers.  A paragraph is one only when it carries three independent signals,
# each from this table (any language may match, since disclaimers are often bilingual):
# it says the mail is secret ("confidential"), it speaks to a wrong addressee ("intended
# recipient", "received in error", "notify the sender", "delete"), and it is about the
# message itself ("this e-mail", "the information contained in").  A person's own
# sentence ("This message is confidential per our NDA, so please don't forward it.") has
# one or two of them, a disclaimer all three.  A title line ("Disclaimer",
# "CONFIDENTIALITY NOTICE") stands for the third.  What follows a disclaimer must be more
# of the same (``DISCLAIMER_MORE``: "scanned for viruses", "no liability"), never prose:
# signatures.py holds that rule.
DISCLAIMER_WORDS: dict[str, tuple[str, str, str]] = {
    # language: (secret, wrong addressee, this message)
    "en": (
        r"confidential|privileged|proprietary",
        r"intended (?:solely |only |exclusively )?(?:for|recipient)|named recipient|addressee|in error"
        r"|notify (?:the sender|us)|(?:delete|destroy) (?:it|this|the|all)|not the (?:intended )?recipient",
        r"this (?:e-?mail|message|communication|transmission)|information (?:contained )?in"
        r"|contents? of this",
    ),
    "de": (r"vertraulich", r"empfänger|adressat|irrtümlich|fälschlich|absender|löschen|vernichten",
           r"diese[rs]? (?:e-?mail|nachricht|mitteilung)|informationen in"),
    "fr": (r"confidentiel", r"destinataire|par erreur|expéditeur|supprimer|détruire",
           r"(?:ce|cet) (?:message|courriel|e-?mail)|informations contenues"),
    "es": (r"confidencial|privilegiad", r"destinatario|por error|remitente|elimínelo|eliminar|destruir|bórrelo",
           r"(?:este|esta) (?:mensaje|correo|e-?mail|comunicación)|información contenida"),
    "it": (r"confidenzial|riservat", r"destinatario|per errore|mittente|cancellar|distrugger|eliminar",
           r"(?:questo|questa|il presente) (?:messaggio|e-?mail|comunicazione)|informazioni contenute"),
    "pt": (r"confidencia|privilegiad|sigilos", r"destinatário|por engano|por erro|remetente|apag|eliminar|destruir",
           r"(?:este|esta) (?:mensagem|e-?mail|correio|comunicação)|informação contida|informações contidas"),
    "nl": (r"vertrouwelijk", r"geadresseerde|bestemd voor|abusievelijk|per vergissing|afzender|verwijderen|vernietigen",
           r"(?:dit|deze) (?:e-?mail|bericht)|informatie in"),
    "pl": (r"poufn", r"adresat|odbiorc|omyłkowo|przez pomyłkę|błędnie|nadawc|usunąć|usunięcie|zniszcz",
           r"(?:ta|niniejsza|tej) (?:wiadomość|wiadomości|korespondencja)|ten e-?mail|informacje zawarte"),
    "ru": (r"конфиденциальн", r"адресат|получател|по ошибке|ошибочно|отправител|удалит|уничтож",
           r"(?:это|данное|настоящее) (?:сообщение|письмо|электронное)|информация,? содержащаяся"),
    "uk": (r"конфіденційн", r"адресат|одержувач|отримувач|помилково|відправник|видаліть|знищ",
           r"(?:це|цей|даний) (?:повідомлення|лист)|інформація,? що міститься"),
}


def _words(column: int) -> re.Pattern[str]:
    return re.compile("|".join(row[column] for row in DISCLAIMER_WORDS.values()), re.IGNORECASE)


DISCLAIMER_SECRET_RE = _words(0)
DISCLAIMER_ADDRESSEE_RE = _words(1)
DISCLAIMER_MESSAGE_RE = _words(2)
# A disclaimer's title on a line of its own, or ahead of its text ("CONFIDENTIALITY NOTICE: ...").
DISCLAIMER_TITLE_RE = re.compile(
    r"\W{0,3}(?:disclaimer|confidentiality notice|confidentiality|notice of confidentiality|legal notice"
    r"|important notice|privileged (?:and|&) confidential|haftungsausschluss|avis de confidentialité"
    r"|aviso legal|aviso de confidencialidad|avviso di riservatezza|aviso de confidencialidade)\W{0,3}(?:$|:)",
    re.IGNORECASE,
)
# Boilerplate that mail servers add after a disclaimer; a paragraph after one that is
# about the message and says one of these is more of the same.
DISCLAIMER_MORE_RE = re.compile(
    r"virus|malware|scanned|liabilit|archived|monitor|prohibited|unlawful|disclos"
    r"|viren|haftung|responsabilit|вирус",
    re.IGNORECASE,
)

# The start of a postscript, in the forms of the languages we have seen ("P.S.", "PS:",
# "P.P.S.", French "P.-S.", Spanish "P.D.", Russian "З.Ы."); upper case only, so that a
# command ("ps aux") is not one.
POSTSCRIPT_RE = re.compile(r"(?:P\.\s?)?P\.\s?S\.|P\.?P\.?S\b|PS\b[ :.]|P\.-S\.|P\.\s?D\.|З\.\s?Ы\.|П\.\s?С\.")

# Mailing-list footers (Mailman and friends).
LIST_FOOTER_RE = re.compile(r".{0,80}(?:mailing list|listinfo|unsubscribe from this (?:group|list))", re.IGNORECASE)

# A contact line in a corporate signature: a label and a phone number.
PHONE_LINE_RE = re.compile(
    r"(?:^|\W)(?:phone|tel|telephone|mobile|mob|cell|direct|fax|office|main|m|t|p|f)\b\.?\s*:?\s*[(+\d]",
    re.IGNORECASE,
)

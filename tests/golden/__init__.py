"""Our golden set of replies: each built as a mail client writes it, with its expected text.

One module per client family (``gmail``, ``outlook``, ``apple``, ``mobile``,
``thunderbird``, ``webmail``, ``html``); each holds a list ``CASES`` made with the small
builders below, so a case reads as the parts a client puts together: the person's new
text, a signature, the client's attribution or header block, and the quoted original.
``tests/trim_score.py`` scores trimming over them (and over the real-client corpus);
``tests/test_golden.py`` holds the line.  See README.md for the figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

SEP = "-- Write your reply above this line --"

# The original the person answers, as the forum's notification wrote it, per language.
ORIGINAL = {
    "en": "Hi Bob,\nCan you rack the new servers on Thursday?\nThanks,\nAnn",
    "de": "Hallo Bob,\nkannst du die neuen Server am Donnerstag einbauen?\nDanke,\nAnn",
    "fr": "Bonjour Bob,\nPeux-tu installer les serveurs jeudi ?\nMerci,\nAnn",
    "es": "Hola Bob,\n¿Puedes montar los servidores el jueves?\nGracias,\nAnn",
    "it": "Ciao Bob,\npuoi montare i server giovedì?\nGrazie,\nAnn",
    "pt": "Olá Bob,\nPodes montar os servidores na quinta?\nObrigada,\nAnn",
    "nl": "Hoi Bob,\nKun je de servers donderdag plaatsen?\nBedankt,\nAnn",
    "pl": "Cześć Bob,\nczy możesz zamontować serwery w czwartek?\nDzięki,\nAnn",
    "ru": "Привет, Боб!\nСможешь поставить серверы в четверг?\nСпасибо,\nАнна",
    "uk": "Привіт, Бобе!\nЧи зможеш встановити сервери в четвер?\nДякую,\nАнна",
    "zh": "鲍勃你好，\n周四能把新服务器装上机架吗？\n谢谢\n安",
    "ja": "ボブさん\n木曜日に新しいサーバーを設置できますか？\nよろしく\nアン",
    "ko": "밥 님,\n목요일에 새 서버를 설치할 수 있나요?\n감사합니다\n앤",
    "tr": "Merhaba Bob,\nYeni sunucuları perşembe günü kurabilir misin?\nTeşekkürler,\nAnn",
}

# What the person writes back, per language.
NEW = {
    "en": "Yes, Thursday morning works.\nI will bring the rails.\n\nBob",
    "de": "Ja, Donnerstag früh passt.\nIch bringe die Schienen mit.\n\nGruß\nBob",
    "fr": "Oui, jeudi matin me va.\nJ'apporte les rails.\n\nBob",
    "es": "Sí, el jueves por la mañana me va bien.\nLlevo los rieles.\n\nBob",
    "it": "Sì, giovedì mattina va bene.\nPorto io le guide.\n\nBob",
    "pt": "Sim, quinta de manhã dá.\nEu levo os trilhos.\n\nBob",
    "nl": "Ja, donderdagochtend past.\nIk neem de rails mee.\n\nBob",
    "pl": "Tak, czwartek rano pasuje.\nPrzywiozę szyny.\n\nBob",
    "ru": "Да, в четверг утром смогу.\nПривезу направляющие.\n\nБоб",
    "uk": "Так, у четвер зранку зможу.\nПривезу напрямні.\n\nБоб",
    "zh": "可以，周四上午没问题。\n我带导轨过去。\n\n鲍勃",
    "ja": "はい、木曜日の午前で大丈夫です。\nレールは私が持っていきます。\n\nボブ",
    "ko": "네, 목요일 오전 괜찮습니다.\n레일은 제가 가져갈게요.\n\n밥",
    "tr": "Evet, perşembe sabahı uygun.\nRayları ben getiririm.\n\nBob",
}
LANGS = tuple(NEW)


@dataclass(frozen=True)
class Case:
    id: str
    client: str
    lang: str
    kind: str  # attribution | header | signature | inline | forward | quote-only | html
    body: str  # the text/plain body, or the text/html body when ``html``
    expected: str  # what the forum should show
    html: bool = False
    subject: str = "Re: [#7] Rack plan"


def quoted(text: str, prefix: str = "> ") -> str:
    """``text`` quoted line by line as clients do ("> " before text, ">" alone on blanks)."""
    return "\n".join((prefix + line) if line else prefix.rstrip() for line in text.split("\n"))


def notification(lang: str) -> str:
    """The notification the person answers: our separator line, then the message."""
    return SEP + "\n\n" + ORIGINAL[lang]


class Family:
    """The cases of one client family, numbered as they are added."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.cases: list[Case] = []

    def add(self, client: str, lang: str, kind: str, body: str, expected: str, *, html: bool = False,
            subject: str = "Re: [#7] Rack plan") -> None:
        self.cases.append(Case("%s-%d-%s-%s-%s" % (self.name, len(self.cases) + 1, client, lang, kind), client,
                               lang, kind, body, expected, html, subject))

    def reply(self, client: str, lang: str, attribution: str, *, kind: str = "attribution", new: str | None = None,
              signature: str = "", quote: str | None = None, expected: str | None = None, prefix: str = "> ",
              quote_attribution: bool = False, gap: str = "\n\n") -> None:
        """A top-posted reply: new text, signature, attribution (or header block), the quote."""
        new = NEW[lang] if new is None else new
        quote = notification(lang) if quote is None else quote
        head = new + ("\n\n" + signature if signature else "")
        if quote_attribution:
            tail = quoted(attribution + "\n\n" + quote, prefix)
        else:
            tail = attribution + "\n" + (quoted(quote, prefix) if prefix else quote)
        self.add(client, lang, kind, head + gap + tail, new if expected is None else expected)


def to_email(case: Case) -> bytes:
    """``case`` as the email the client would send."""
    msg = EmailMessage()
    msg["From"] = "Bob Builder <bob@example.com>"
    msg["To"] = "Forum <replies+1.2.abcd.efghijklmnopqrst@example.com>"
    msg["Subject"] = case.subject
    msg.set_content(case.body, subtype="html" if case.html else "plain", charset="utf-8")
    return bytes(msg)


def all_cases() -> list[Case]:
    from tests.golden import apple, gmail, html, mobile, outlook, thunderbird, webmail

    return [c for module in (gmail, outlook, apple, mobile, thunderbird, webmail, html) for c in module.CASES]

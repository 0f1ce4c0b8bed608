"""Every password and secret the tests use, and the check that none reaches any output.

tests/conftest.py runs :func:`leaks` after every test of the suite over what
that test produced: pytest's captured stdout, stderr and log, the stdout and
stderr of every script it ran through ``run_script``, every file it wrote in
its temporary folder (``mail.log``, metrics, ...; not the settings files
``cron_conf.py`` and ``.env``, which hold the secrets on purpose), and the
mail its SMTP servers received.  Secrets are this list plus whatever the
test's ``.env`` files and script environments held.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

PASSWORDS = frozenset({
    # SMTP, POP3 and database passwords, right and wrong.
    "Pop-Secret-77", "Smtp-Pa55-word", "Wrong-Pa55-word", "Db-Secret-99", "Alert-Secret-42", "Wrong-Pop-88",
    "Not-The-Password-3", "Wrong-Smtp-Pass-1", "Wrong-Pop-Pass-2", "Smtp-Secret-42", "db-secret-123",
    "manual-secret-pw", "pop-pw-xyz", "db-from-dotenv", "Faults-Pop-Pa55",
    # Reply-token signing secrets.
    "test-reply-secret-xxxxxxxxxxxxxxxx", "old-secret-0123456789", "compose-secret-0123456789",
    "0123456789abcdef-secret",
})

#: Test ids the check ran for (the suite tests that it is active).
CHECKED: list[str] = []

_SECRET_KEY = re.compile(r"(PSSWD|PSWD|PASSWORD|SECRET)", re.IGNORECASE)
_MAX_FILE = 4 << 20
_MIN_LEN = 6  # shorter values would match ordinary words


def secret_values(pairs: Iterable[tuple[str, str]]) -> set[str]:
    """The values of secret-looking keys (MAIL_PSSWD, DB_PSWD, REPLY_TOKEN_SECRET...)."""
    return {v.strip() for k, v in pairs if _SECRET_KEY.search(k) and len(v.strip()) >= _MIN_LEN}


def secrets_in_dotenv(root: Path) -> set[str]:
    found: set[str] = set()
    for path in root.rglob(".env"):
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        found |= secret_values(tuple(line.split("=", 1)) for line in lines if "=" in line)  # type: ignore[misc]
    return found


def texts_under(root: Path) -> Iterator[tuple[str, str]]:
    """(path, text) of every file a test wrote, but its settings (which hold secrets by design)."""
    for path in root.rglob("*"):
        if not path.is_file() or path.name.startswith(".env") or path.suffix == ".py":
            continue
        try:
            if path.stat().st_size > _MAX_FILE:
                continue
            yield str(path), path.read_bytes().decode("utf-8", "replace")
        except OSError:
            continue


def mail_texts(label: str, data: bytes) -> Iterator[tuple[str, str]]:
    """A received mail as sent and with its quoted-printable undone (a password may be folded)."""
    yield label, data.decode("utf-8", "replace")
    if b"quoted-printable" in data.lower():
        yield label + " (decoded)", binascii.a2b_qp(data).decode("utf-8", "replace")


def leaks(texts: Iterable[tuple[str, str] | str], secrets: Iterable[str]) -> list[str]:
    """'SECRET in WHERE' for each secret found in the texts."""
    wanted = sorted({s for s in secrets if len(s) >= _MIN_LEN}, key=len, reverse=True)
    found = []
    for item in texts:
        label, text = item if isinstance(item, tuple) else ("output", item)
        for secret in wanted:
            if secret in text:
                found.append("%s in %s" % (secret, label))
    return found

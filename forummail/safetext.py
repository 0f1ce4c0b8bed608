"""Text from strangers made safe to store, log, show and answer with.

Inbound mail decides what our strings hold: an encoded word in ``utf-7``
(``=?utf-7?Q?+2AA-?=``) decodes to a lone surrogate, which UTF-8 cannot
encode, so PostgreSQL, the log file and an answer all fail on it; a NUL is
refused by PostgreSQL ``text``.  ``clean`` is the one rule for any such
text; ``key`` and ``cut_bytes`` keep what we index under PostgreSQL's size
limit; ``file_name`` the one rule for a name a file is stored and shown under.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

REPLACEMENT = "\ufffd"
# PostgreSQL's btree refuses an index entry over 2704 bytes ("index row size
# ... exceeds btree version 4 maximum"): every text we index stays well below.
MAX_KEY_BYTES = 500
# Lone surrogates (the only code points a Python str holds that UTF-8 cannot
# encode) and NUL (which PostgreSQL text refuses).
_UNSAFE_RE = re.compile("[\x00\ud800-\udfff]")
_PATH_SEPARATORS_RE = re.compile(r"[\\/]")
MAX_FILE_NAME = 200  # characters; well under the 255 bytes of common file systems
FALLBACK_FILE_NAME = "attachment"


def clean(text: str) -> str:
    """``text`` valid for PostgreSQL text and UTF-8 output: NUL and lone surrogates become U+FFFD."""
    return _UNSAFE_RE.sub(REPLACEMENT, text)


def cut_bytes(text: str, max_bytes: int) -> str:
    """``clean(text)`` cut to at most ``max_bytes`` bytes of UTF-8, never inside a character."""
    data = clean(text).encode("utf-8")
    return data[:max_bytes].decode("utf-8", "ignore") if len(data) > max_bytes else clean(text)


def key(text: str, prefix: str = "sha256-of:") -> str:
    """``clean(text)`` as an index key: as it is when short, else ``prefix`` and its sha256.

    The same text always gives the same key, so a long Message-ID still finds
    its duplicate; a cut would not (two ids differing after the cut would collide).
    """
    safe = clean(text)
    data = safe.encode("utf-8")
    return safe if len(data) <= MAX_KEY_BYTES else prefix + hashlib.sha256(data).hexdigest()


def file_name(name: str | None, fallback: str = FALLBACK_FILE_NAME) -> str:
    """A name that is a label, never a path, and reads as what it is.

    Only the last path component is kept; control and format characters
    (Unicode Cc, Cf: the bidirectional overrides U+202A-202E and isolates
    U+2066-2069 that make ``invoice\\u202efdp.exe`` show as ``invoiceexe.pdf``,
    the marks U+200E/F, zero-width characters) are removed; ``.`` and ``..``
    and names of dots only become ``fallback``; long names are cut, keeping
    the extension.
    """
    text = clean(name or "")
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf", "Cs"))
    text = _PATH_SEPARATORS_RE.split(text)[-1]
    # Leading dots hide a file (and ".." climbs); trailing dots and spaces are
    # dropped by Windows, so a name ending in them is not what it says.
    text = " ".join(text.split()).strip(" .")
    if not text:
        return fallback
    if len(text) > MAX_FILE_NAME:
        stem, dot, ext = text.rpartition(".")
        ext = ext[:20] if dot and stem else ""
        text = text[: MAX_FILE_NAME - len(ext) - 1].rstrip(" .") + ("." + ext if ext else "")
    return text

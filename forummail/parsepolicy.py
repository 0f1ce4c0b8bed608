"""The ``email`` policy received mail is parsed with: ``policy.default``, each header value parsed once.

``policy.default`` builds a header object (``email.headerregistry``, the
RFC 5322 grammar of ``email._header_value_parser``) every time a header is
read, and the package itself reads ``Content-Type`` again and again: the
feed parser for every part, ``get_content_type``, ``get_body``, ``walk``.
A reply was read through 44 such parses, about 60% of the time
``fetch_replies.py`` spent on it (bench/ANALYSIS.md, "Issue 14, fetch").

This policy gives the very objects ``policy.default`` gives, read by the
very same code (the same header classes, each built once): it only
remembers them.  A header object is a function of
its name and raw value alone, and immutable (a ``str`` with read-only
properties), so one parsed value serves every read, in every message.  The
cache is bounded in entries and in the length of what it keeps, so that
hostile mail cannot make it large; longer values are parsed on each read,
as before (``rawheader`` bounds those).
"""

from __future__ import annotations

import functools
from email.headerregistry import BaseHeader, HeaderRegistry
from email.policy import EmailPolicy
from typing import Any

# Values up to this many characters are remembered: a header line of RFC 5322
# section 2.1.1 (998) and a little folding.  Longer ones are rare and few.
_MAX_CACHED_CHARS = 1200
_CACHE_ENTRIES = 256  # a reply has about ten distinct values; common ones repeat across mail


class _Registry(HeaderRegistry):
    """``HeaderRegistry`` that builds each header class once.

    The stock one builds a new class (``type(...)``) for every header it
    parses: tens of microseconds each, a good part of parsing a short value.
    """

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[object, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        kind = self.registry.get(name.lower(), self.default_class)
        if kind not in self._classes:
            self._classes[kind] = super().__getitem__(name)
        return self._classes[kind]


@functools.lru_cache(maxsize=_CACHE_ENTRIES)
def _parsed(name: str, value: str) -> Any:
    return EmailPolicy.header_fetch_parse(READ_ONCE, name, value)


class ReadOncePolicy(EmailPolicy):
    """``policy.default`` whose header reads parse each (name, raw value) once."""

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if hasattr(value, "name") or len(value) > _MAX_CACHED_CHARS:
            return super().header_fetch_parse(name, value)
        return _parsed(name, value)


# Only the header reads differ; every other attribute is policy.default's.
READ_ONCE = ReadOncePolicy(header_factory=_Registry())

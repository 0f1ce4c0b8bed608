"""The ``email`` policy received mail is parsed with: ``policy.default``, each header value parsed once.

``policy.default`` builds a header object (``email.headerregistry``, the
RFC 5322 grammar of ``email._header_value_parser``) every time a header is
read, and the package itself reads ``Content-Type`` again and again: the
feed parser for every part, ``get_content_type``, ``get_body``, ``walk``.
A reply was read through 44 such parses, about 60% of the time
``fetch_replies.py`` spent on it (bench/ANALYSIS.md, "Issue 14, fetch").

A policy made by :func:`read_once` gives the very objects ``policy.default``
gives, read by the very same code (the same header classes, each built
once): it only remembers them, for one message.  A header object is a
function of its name and raw value alone, and immutable (a ``str`` with
read-only properties), so one parse serves every read.  What it remembers
lives as long as the message it was parsed for (``message.policy``) and no
longer: a parse tree costs about 1 KB of memory per character of an address
list, so nothing is kept from one email to the next, and only values of
a line or less are kept at all (longer ones are parsed on each read, as
before; ``rawheader`` bounds them).
"""

from __future__ import annotations

from email.headerregistry import BaseHeader, HeaderRegistry
from email.policy import EmailPolicy
from typing import Any

# Values up to this many characters are remembered: a header line of RFC 5322
# section 2.1.1.  Longer ones are rare, and headerfields reads most of them
# without the structured parser anyway.
_MAX_KEPT_CHARS = 998


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


_REGISTRY = _Registry()


class ReadOncePolicy(EmailPolicy):
    """``policy.default`` whose header reads parse each (name, raw value) once; see :func:`read_once`."""

    parsed: dict[tuple[str, str], Any] | None = None  # set per message by read_once()

    def __init__(self, **kw: Any) -> None:  # typeshed knows only policy.default's keywords
        super().__init__(**kw)

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if self.parsed is None or hasattr(value, "name") or len(value) > _MAX_KEPT_CHARS:
            return super().header_fetch_parse(name, value)
        key = (name, value)
        found = self.parsed.get(key)
        if found is None:
            found = self.parsed[key] = super().header_fetch_parse(name, value)
        return found


def read_once(same: object = None) -> ReadOncePolicy:
    """A policy for parsing one message: ``policy.default``'s reading, each header value parsed once.

    ``same``: the policy of an earlier parse of the same message (its header
    only), whose parsed values serve this parse too.
    """
    if isinstance(same, ReadOncePolicy) and same.parsed is not None:
        return same
    return ReadOncePolicy(header_factory=_REGISTRY, parsed={})

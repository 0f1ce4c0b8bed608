"""Where the real-client corpus is, and what a test does when it is not there.

The corpus lives outside the repository (``../shared/corpus`` beside the clone, or
``$FORUMMAIL_CORPUS``) and is read at test time only.  A user's clone has none: its
tests are then reported as skipped, all from one line (``need()``), so pytest's
summary shows one visible reason instead of letting them vanish.  CI sets
``FORUMMAIL_CORPUS_REQUIRED=1`` where the corpus is present: a test that would skip
for want of it fails instead, so coverage cannot disappear silently.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CORPUS = Path(os.environ.get("FORUMMAIL_CORPUS") or Path(__file__).resolve().parents[2] / "shared" / "corpus")
REQUIRED = os.environ.get("FORUMMAIL_CORPUS_REQUIRED", "") not in ("", "0")
SUFFIXES = (".eml", ".txt", ".html")
MISSING = ("the real-client corpus is not at %s (a clone without ../shared): set FORUMMAIL_CORPUS to its folder "
           "to run these tests" % CORPUS)


def present() -> bool:
    return CORPUS.is_dir()


def need(what: str = "") -> None:
    """Skip (or, where CI requires the corpus, fail) the calling test when ``what`` is missing."""
    if present() and (not what or (CORPUS / what).exists()):
        return
    reason = MISSING if not present() else "%s is not in the corpus at %s" % (what, CORPUS)
    if REQUIRED:
        pytest.fail("FORUMMAIL_CORPUS_REQUIRED is set but " + reason, pytrace=False)
    pytest.skip(reason)


def files(suffixes: tuple[str, ...] = SUFFIXES) -> list[str]:
    """The corpus files with these suffixes, relative to the corpus folder."""
    if not present():
        return []
    return sorted(str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.suffix in suffixes and p.is_file())

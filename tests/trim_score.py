"""Score trimming: exact match and "words kept" per reply, totals by kind.

Run it with ``.venv/bin/python -m tests.trim_score`` (``--failures`` lists the replies
that differ).  It lives in ``tests/`` rather than ``bench/`` because it measures
correctness, not speed, and reads what the tests read: our golden set
(``tests/golden``), the held-out set written blind (``tests/golden/heldout.py``,
reported as its own source "heldout", so that it measures rather than steers) and
the expectations written for the real-client corpus
(``tests/test_corpus.py``, the files whose whole new text is stated; the corpus is read
where it is, never copied).  "Words kept" means every word of the expected text is in
what we post: a reply that fails it lost a word its sender wrote.

Replies are cut with our separator line, as ``fetch_replies.py`` always does (the
setting ``replier_separator`` falls back to it): most cases quote the notification,
separator included, and trimming must do right by them on that path, not only on one
production never takes.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from forummail.extract import extract_reply
from tests.golden import SEP, all_cases, to_email

_WORD_RE = re.compile(r"\w+")


@dataclass(frozen=True)
class Score:
    source: str
    id: str
    kind: str
    expected: str
    got: str

    @property
    def exact(self) -> bool:
        return self.got == self.expected

    @property
    def words_kept(self) -> bool:
        return set(_WORD_RE.findall(self.expected)) <= set(_WORD_RE.findall(self.got))


def golden_scores() -> Iterator[Score]:
    for case in all_cases():
        yield Score("golden", case.id, case.kind, case.expected, extract_reply(to_email(case), SEP))


def heldout_scores() -> Iterator[Score]:
    from tests.golden import heldout

    for case in heldout.CASES:
        yield Score("heldout", case.id, case.kind, case.expected, extract_reply(to_email(case), SEP))


def corpus_scores() -> Iterator[Score]:
    from tests import corpus
    from tests.test_corpus import EXPECTED, _yield

    if not corpus.present():
        return
    for rel, expect in sorted(EXPECTED.items()):
        if expect.text is not None and (corpus.CORPUS / rel).exists():
            yield Score("corpus", rel, rel.split("/")[0], expect.text, _yield(rel))


def table(scores: list[Score]) -> str:
    groups: dict[tuple[str, str], list[Score]] = defaultdict(list)
    for s in scores:
        groups[(s.source, s.kind)].append(s)
        groups[(s.source, "all")].append(s)
    out = ["| source | kind | replies | exact | words kept |", "| --- | --- | --- | --- | --- |"]
    for (source, kind), group in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] == "all", kv[0][1])):
        n = len(group)
        exact = sum(s.exact for s in group)
        kept = sum(s.words_kept for s in group)
        out.append("| %s | %s | %d | %d (%.1f%%) | %d (%.1f%%) |"
                   % (source, "**all**" if kind == "all" else kind, n, exact, 100 * exact / n, kept, 100 * kept / n))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--failures", action="store_true", help="show each reply that is not exact")
    args = parser.parse_args(argv)
    scores = list(golden_scores()) + list(heldout_scores()) + list(corpus_scores())
    print(table(scores))
    if args.failures:
        for s in scores:
            if not s.exact:
                print("\n=== %s %s%s\n--- expected\n%s\n--- got\n%s"
                      % (s.source, s.id, "" if s.words_kept else "  (WORDS LOST)", s.expected, s.got))
    return 0


if __name__ == "__main__":
    sys.exit(main())

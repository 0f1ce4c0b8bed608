"""A progress bar on stderr, for a person draining a big backlog by hand.

Shown only when stderr is a terminal and the run is long: under cron it
never prints (cron would mail it).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

MIN_TOTAL = 500  # below this a run is over before a bar helps


class Progress:
    def __init__(self, total: int, stream: TextIO | None = None, label: str = "sending") -> None:
        self.stream = stream or sys.stderr
        self.total = total
        self.done = 0
        self.label = label
        self.started = time.monotonic()
        self.enabled = total >= MIN_TOTAL and self.stream.isatty()
        self._last = 0.0

    def __call__(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and (now - self._last > 0.2 or self.done >= self.total):
            self._last = now
            self.stream.write("\r" + self.render(now - self.started))
            self.stream.flush()

    def render(self, elapsed: float) -> str:
        total = max(self.total, self.done, 1)
        share = self.done / total
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (total - self.done) / rate if rate > 0 else 0.0
        bar = "#" * int(share * 30)
        return "%s [%-30s] %d/%d %3d%% %.0f/s ETA %ds " % (
            self.label, bar, self.done, total, share * 100, rate, eta)

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()

"""A one-line progress indicator for long runs: runs done, runs per minute and time left."""

from __future__ import annotations

import math
import sys
import time
from typing import TextIO

__all__ = ["Progress"]


class Progress:
    """Call with (done, total) after each run. On a terminal one line is redrawn in place; in a log
    (CI, ``nohup``) a full line is written at most every ``every_s`` seconds, and at the end."""

    def __init__(self, label: str, stream: TextIO | None = None, force: bool = False,
                 every_s: float = 15.0) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.t0 = time.perf_counter()
        self.first: int | None = None
        self.show = force or self.stream.isatty()
        self.every_s = every_s
        self._last_logged = -math.inf

    def line(self, done: int, total: int) -> str:
        """The text shown for ``done`` of ``total`` runs."""
        if self.first is None:
            self.first = done - 1 if done > 0 else 0  # pieces found already done are not timed
        elapsed = time.perf_counter() - self.t0
        fresh = done - self.first
        rate = fresh / elapsed * 60.0 if elapsed > 0 and fresh > 0 else 0.0
        left = (total - done) / rate * 60.0 if rate > 0 else float("nan")
        width = 24
        filled = int(width * done / total) if total else width
        bar = "#" * filled + "." * (width - filled)
        eta = f"{left:5.0f} s left" if left == left else "  ... s left"
        return f"{self.label} [{bar}] {done}/{total} runs, {rate:6.1f} runs/min, {eta}"

    def __call__(self, done: int, total: int) -> None:
        text = self.line(done, total)
        if not self.show:
            now = time.perf_counter()
            if done >= total or now - self._last_logged >= self.every_s:
                self._last_logged = now
                self.stream.write(text + "\n")
                self.stream.flush()
            return
        self.stream.write("\r" + text + " ")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()

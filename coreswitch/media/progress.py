"""A terminal progress bar for ``TtsCache.prerender`` (see :mod:`coreswitch.media.cache`).

``ProgressBar`` is a ``progress(done, total)`` callback. On a terminal it redraws one line with
``\\r`` (``prompts [##########----------] 12/24  50%``); on a pipe or file it writes only the final
line, so logs and CI output stay clean.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


class ProgressBar:
    """Draws ``label [####----] done/total pct%`` on ``stream`` (stderr by default)."""

    def __init__(self, label: str = "prompts", *, stream: TextIO | None = None, width: int = 30,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self._clock = clock
        self._started: float | None = None
        self._interactive = self.stream.isatty()

    def __call__(self, done: int, total: int) -> None:
        if self._started is None:
            self._started = self._clock()
        finished = done >= total
        if self._interactive:
            self.stream.write("\r" + self.line(done, total))
            if finished:
                self.stream.write(f"  {self._clock() - self._started:.1f}s\n")
        elif finished:
            self.stream.write(f"{self.line(done, total)}  {self._clock() - self._started:.1f}s\n")
        self.stream.flush()

    def line(self, done: int, total: int) -> str:
        """The bar text for (done, total), without ``\\r`` or newline."""
        fraction = done / total if total else 1.0
        filled = round(self.width * fraction)
        bar = "#" * filled + "-" * (self.width - filled)
        digits = len(str(total))
        return f"{self.label} [{bar}] {done:>{digits}}/{total} {fraction:4.0%}"

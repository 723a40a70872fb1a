"""The prerender progress bar."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from pathlib import Path

from coreswitch.media.cache import Prompt, TtsCache
from coreswitch.media.progress import ProgressBar

from .conftest import CountingEngine


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def ticking() -> Callable[[], float]:
    """A clock that moves half a second each time it is read."""
    ticks = itertools.count()
    return lambda: next(ticks) * 0.5


def test_line() -> None:
    bar = ProgressBar("prompts", stream=io.StringIO(), width=10)
    assert bar.line(0, 4) == "prompts [----------] 0/4   0%"
    assert bar.line(2, 4) == "prompts [#####-----] 2/4  50%"
    assert bar.line(12, 12) == "prompts [##########] 12/12 100%"
    assert bar.line(0, 0) == "prompts [##########] 0/0 100%"


def test_terminal_redraws_one_line() -> None:
    out = Terminal()
    bar = ProgressBar("flow 95598", stream=out, width=4, clock=ticking())
    for done in range(3):
        bar(done, 2)
    text = out.getvalue()
    assert text.count("\r") == 3
    assert text.count("\n") == 1
    assert text.endswith("2/2 100%  0.5s\n")
    assert "\rflow 95598 [##--] 1/2  50%" in text


def test_pipe_gets_only_the_final_line() -> None:
    out = io.StringIO()
    bar = ProgressBar(stream=out, width=4, clock=ticking())
    for done in range(4):
        bar(done, 3)
    assert out.getvalue() == "prompts [####] 3/3 100%  0.5s\n"


async def test_drives_prerender(tmp_path: Path, counting: CountingEngine) -> None:
    out = Terminal()
    cache = TtsCache(tmp_path, counting)
    try:
        await cache.prerender([Prompt(t, "zh", 160) for t in ("一", "二", "三")],
                              progress=ProgressBar(stream=out, width=3))
    finally:
        cache.close()
    assert out.getvalue().count("\r") == 4
    assert "3/3 100%" in out.getvalue()

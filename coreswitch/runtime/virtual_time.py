"""An asyncio event loop whose clock jumps instead of waiting.

:class:`VirtualTimeLoop` is an ordinary selector event loop except for its clock: whenever the loop
would block waiting for its next timer and nothing else can happen — no socket or pipe is ready
and no worker thread is still running — it moves its clock straight to that timer. A flow test
that waits 30 seconds of call time for a caller who never presses a key runs in microseconds, and
the same scenario gives the same result every time.

Rules that keep it honest:

* real I/O still works: every select first polls the real selector without blocking;
* work handed to threads (``run_in_executor``, ``asyncio.to_thread``) freezes the clock until it
  completes, so a slow thread never makes virtual timeouts fire early;
* when nothing is scheduled at all the loop blocks for real (a deadlock shows up as a hang that the
  test's own timeout reports, not as time racing ahead).

``loop.time()`` starts at 0. :func:`run` is ``asyncio.run`` on a fresh virtual-time loop.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable, Coroutine
from concurrent.futures import Executor
from typing import Any, TypeVar

T = TypeVar("T")


class _VirtualSelector(selectors.BaseSelector):
    """Wraps the real selector; turns blocking waits into clock jumps."""

    def __init__(self, loop: VirtualTimeLoop, real: selectors.BaseSelector) -> None:
        self._loop = loop
        self._real = real

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def get_key(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.get_key(fileobj)

    def get_map(self) -> Any:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._real.select(0)
        if ready or timeout == 0:
            return ready
        if self._loop.threads_busy:
            # A worker thread will post its result through the loop's self-pipe: wait for real.
            return self._real.select(timeout)
        if timeout is None:
            return self._real.select(None)
        self._loop.advance(timeout)
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop with a virtual clock (see the module docstring)."""

    def __init__(self) -> None:
        real = selectors.DefaultSelector()
        self._now = 0.0
        self.threads_busy = 0
        super().__init__(selector=_VirtualSelector(self, real))

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward (never backward)."""
        if seconds > 0:
            self._now += seconds

    def run_in_executor(  # type: ignore[override]  # same signature, narrower typing
        self, executor: Executor | None, func: Callable[..., T], *args: Any
    ) -> asyncio.Future[T]:
        self.threads_busy += 1
        future = super().run_in_executor(executor, func, *args)

        def _done(_: asyncio.Future[T]) -> None:
            self.threads_busy -= 1

        future.add_done_callback(_done)
        return future


def run(main: Coroutine[Any, Any, T], *, debug: bool = False) -> T:
    """Run a coroutine to completion on a new :class:`VirtualTimeLoop`."""
    with asyncio.Runner(debug=debug, loop_factory=VirtualTimeLoop) as runner:
        return runner.run(main)

"""The cyclic garbage collector of ``coreswitch serve``, on a schedule.

CPython starts a collection when the number of container objects *alive* has grown by a
threshold since the last one. A process holding thousands of calls breaks that rule twice:
while calls ramp up, every object of every new call survives, so each young collection walks
the calls that started since the previous one and every tenth walks ten times as many (in
``coreswitch bench calls`` at 250 calls/s: young pauses of 10–54 ms, middle ones of 140–155 ms);
and in a steady state, where calls end as fast as they start, the count hardly moves, so a young
collection comes rarely and then walks everything allocated meanwhile. Either way one pause
delays every call's reaction to a key at once — the DTMF→media p99 was 266–474 ms, nearly all of
it collector pauses in serve and in the simulated switch.

:class:`ScheduledCollector` turns the automatic collector off and collects from the event loop,
between callbacks:

* a **full collection every** ``full_every`` **seconds** (600; 0: never). It walks every live
  object (0.2 s with 2,000 calls up on the 2-core test machine), so it is rare; it is logged with
  its pause and the unreachable objects it found. The call path leaves no reference cycle behind
  (tested), so nothing else is needed for calls: a count that grows from one full collection to
  the next points at code that leaks cycles — typically a plugin keeping an exception or a frame.
* optionally the **youngest generation every** ``young_every`` **seconds** (0: never, the
  default), for such code: each pause walks what was allocated since the previous one and still
  lives (2–7 ms at 250 calls/s with 0.1 s), and cycles that die young are freed at once. It is
  off by default because it costs serve about 11 % more CPU per call and doubles the DTMF→media
  p99 (``bench calls --rate 200``: 3.6 → 4.0 ms per call, p99 8 → 15–24 ms) to free cycles the
  call path does not make.

Objects alive when the collector starts (modules, the database layer, compiled flows) are frozen
out of its sight (``gc.freeze``). :meth:`stop` gives the process CPython's own collector back.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time

log = logging.getLogger("coreswitch.gc")


class ScheduledCollector:
    """Full collections every ``full_every`` s and young ones every ``young_every`` s (0: none of
    that kind but :meth:`collect_full` by hand), run from the event loop it was started on."""

    def __init__(self, *, young_every: float = 0.0, full_every: float = 600.0) -> None:
        if young_every < 0:
            raise ValueError(f"young_every must be 0 (never) or positive, got {young_every}")
        if full_every < 0:
            raise ValueError(f"full_every must be 0 (never) or positive, got {full_every}")
        self.young_every = young_every
        self.full_every = full_every
        self.young_collections = 0
        self.full_collections = 0
        self.last_full_ms = 0.0
        self.last_full_found = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._young_timer: asyncio.TimerHandle | None = None
        self._full_timer: asyncio.TimerHandle | None = None

    @property
    def running(self) -> bool:
        return self._loop is not None

    def start(self) -> None:
        """Freeze what exists now, turn automatic collection off and schedule collections on
        the running loop. Call once the process is ready."""
        if self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()
        gc.collect()
        gc.freeze()
        gc.disable()
        if self.young_every:
            self._young_timer = self._loop.call_later(self.young_every, self._young)
        if self.full_every:
            self._full_timer = self._loop.call_later(self.full_every, self._full)

    def stop(self) -> None:
        """Cancel the schedule and turn CPython's automatic collection back on."""
        for timer in (self._young_timer, self._full_timer):
            if timer is not None:
                timer.cancel()
        self._young_timer = self._full_timer = None
        if self._loop is not None:
            self._loop = None
            gc.enable()

    def collect_full(self) -> int:
        """One full collection now; returns the unreachable objects found (and logs them)."""
        started = time.perf_counter()
        found = gc.collect()
        self.last_full_ms = (time.perf_counter() - started) * 1000
        self.last_full_found = found
        self.full_collections += 1
        log.info("full garbage collection: %d unreachable objects freed, %.0f ms pause",
                 found, self.last_full_ms)
        return found

    def _young(self) -> None:
        gc.collect(0)
        self.young_collections += 1
        assert self._loop is not None
        self._young_timer = self._loop.call_later(self.young_every, self._young)

    def _full(self) -> None:
        self.collect_full()
        assert self._loop is not None
        self._full_timer = self._loop.call_later(self.full_every, self._full)

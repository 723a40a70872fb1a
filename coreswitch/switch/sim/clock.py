"""Simulated time: the event loop's clock, scaled by a ``speed`` factor.

Every duration in the simulator (prompt length, ring time, digit timeouts, linger) is given in
*switch seconds*. At ``speed=100`` a 3-second prompt takes 30 ms of real time, and the
timestamps in events (``Event-Date-Timestamp``, ``Caller-Channel-Answered-Time`` …) advance by
3 seconds. Nothing reads the wall clock after start-up, so runs are reproducible.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime


class SimClock:
    """Switch time. ``source`` is the real clock it scales (seconds, any origin): by default the
    running event loop's ``time()`` (so a virtual-time loop drives it); a load generator on
    uvloop, whose loop time has millisecond steps, passes ``time.monotonic``."""

    def __init__(self, speed: float = 1.0, epoch: float | None = None, *,
                 source: Callable[[], float] | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self.epoch = time.time() if epoch is None else epoch
        self.source = source
        self._t0: float | None = None

    def _loop_time(self) -> float:
        now = self.source() if self.source is not None else asyncio.get_running_loop().time()
        if self._t0 is None:
            self._t0 = now
        return now

    def now(self) -> float:
        """Switch time: seconds since the Unix epoch, advancing ``speed`` times faster."""
        t = self._loop_time()
        assert self._t0 is not None
        return self.epoch + (t - self._t0) * self.speed

    def now_us(self) -> int:
        return int(self.now() * 1_000_000)

    def real(self, seconds: float) -> float:
        """Real (event-loop) seconds for ``seconds`` of switch time."""
        return max(0.0, seconds) / self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(self.real(seconds))

    @staticmethod
    def local(us: int) -> str:
        """``Event-Date-Local`` / ``*_stamp`` format (the simulated switch runs on UTC)."""
        return datetime.fromtimestamp(us / 1e6, UTC).strftime("%Y-%m-%d %H:%M:%S")

    @staticmethod
    def gmt(us: int) -> str:
        return datetime.fromtimestamp(us / 1e6, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")

"""Waiting for the first of several channel signals without a task per signal.

A channel's moments (hung up, media break, a digit arrived, a prompt started …) are
:class:`Signal` objects: :class:`asyncio.Event` subclasses, so anything that awaits
``signal.wait()`` works unchanged. :func:`first_of` waits for whichever of several signals is set
first, or a timeout, on a single future — ``asyncio.wait`` over ``event.wait()`` coroutines needs a
task per event and more loop turns, for every prompt a caller hears.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Literal

from coreswitch.eventloop import OnOneLoop


class Signal(OnOneLoop, asyncio.Event):
    """An :class:`asyncio.Event` that also resolves the futures :func:`first_of` hands it, with
    itself as the result (who fired first); :meth:`wait` looks its loop up once."""

    def __init__(self) -> None:
        super().__init__()
        self._watchers: list[asyncio.Future[Signal | None]] = []

    def set(self) -> None:
        super().set()
        watchers, self._watchers = self._watchers, []
        for fut in watchers:
            if not fut.done():
                fut.set_result(self)

    async def wait(self) -> Literal[True]:
        if self.is_set():
            return True
        fut: asyncio.Future[Signal | None] = self.running_loop.create_future()
        self._watchers.append(fut)
        try:
            await fut
        finally:
            self.unwatch(fut)
        return True

    def watch(self, fut: asyncio.Future[Signal | None]) -> None:
        """Resolve ``fut`` (with this signal) when it is next set."""
        self._watchers.append(fut)

    def unwatch(self, fut: asyncio.Future[Signal | None]) -> None:
        if fut in self._watchers:
            self._watchers.remove(fut)


def _expire(fut: asyncio.Future[Signal | None]) -> None:
    if not fut.done():
        fut.set_result(None)


async def first_of(signals: Sequence[Signal], timeout: float | None = None) -> set[Signal]:
    """Wait until one of ``signals`` is set, or ``timeout`` seconds (``None``: no limit).

    Returns the signals that fired: the one that woke the wait plus any others set by then
    (as ``asyncio.wait`` returns every waiter done by the time it resumes); empty on timeout. A
    signal already set returns at once, without yielding to the loop.
    """
    already = {s for s in signals if s.is_set()}
    if already:
        return already
    loop = signals[0].running_loop if signals else asyncio.get_running_loop()
    fut: asyncio.Future[Signal | None] = loop.create_future()
    for s in signals:
        s.watch(fut)
    timer = loop.call_later(timeout, _expire, fut) if timeout is not None else None
    try:
        woke = await fut
    finally:
        if timer is not None:
            timer.cancel()
        for s in signals:
            s.unwatch(fut)
    fired = {s for s in signals if s.is_set()}
    if woke is not None:
        fired.add(woke)
    return fired

"""The event loop the long-running processes (``coreswitch serve``, ``coreswitch sim``) run on.

uvloop (libuv, in C) when it is installed — a dependency on Linux and macOS — else asyncio's own
loop. Measured with ``coreswitch bench calls`` (60 calls/s, two interleaved pairs): serve needs
about 17 % less CPU per call on uvloop (4.6–5.2 against 6.0 ms) and a key's next prompt comes
sooner (p99 26–38 against 59–148 ms): sockets, timers and callbacks are the loop's own work on
every call. ``CORESWITCH_LOOP=asyncio`` picks asyncio's loop (to compare, or to debug with
asyncio's debug mode). Flow tests keep their virtual-time loop; nothing else depends on the
choice: the ESL layer only uses the transport interface both loops provide.

:mod:`coreswitch.collector` is the garbage-collector schedule of the same processes.
:class:`OnOneLoop` remembers the loop an object runs on.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory(*, allow_uvloop: bool = True) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's ``new_event_loop`` when it is installed and not turned off (``allow_uvloop``,
    ``CORESWITCH_LOOP=asyncio``), else None (asyncio's own loop)."""
    if not allow_uvloop or os.environ.get("CORESWITCH_LOOP", "").strip().lower() == "asyncio":
        return None
    try:
        import uvloop  # noqa: PLC0415  # optional: not on every platform
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run(main: Coroutine[Any, Any, T], *, allow_uvloop: bool = True) -> T:
    """``asyncio.run(main)`` on the loop :func:`loop_factory` picks."""
    with asyncio.Runner(loop_factory=loop_factory(allow_uvloop=allow_uvloop)) as runner:
        return runner.run(main)


class OnOneLoop:
    """For objects that live on one event loop: :attr:`running_loop` looks it up once.

    ``asyncio.get_running_loop()`` makes a ``getpid`` system call on every use in CPython 3.11
    (it checks for a fork): about 0.3 µs here, asked for on every command, prompt and wait."""

    _loop_seen: asyncio.AbstractEventLoop | None = None

    @property
    def running_loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop_seen
        if loop is None:
            loop = self._loop_seen = asyncio.get_running_loop()
        return loop

    def on_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Say which loop the object will run on (when its creator knows; saves the look-up)."""
        self._loop_seen = loop

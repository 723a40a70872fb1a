"""The switch vocabulary a flow needs from a call: what the interpreter calls on a session.

:class:`~coreswitch.runtime.session.CallSession` (ESL: FreeSWITCH or the simulated switch, over
TCP or in memory) is the implementation; the protocol keeps the interpreter independent of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol

from coreswitch.runtime.session import BridgeResult, DigitResult


class CallChannel(Protocol):
    uuid: str
    hangup_cause: str | None

    async def answer(self) -> None: ...

    async def play(self, media: str | Sequence[str], *, barge: bool = True) -> bool: ...

    async def read_digits(self, *, first_digit: float, inter_digit: float, max_digits: int,
                          terminators: str = "#") -> DigitResult: ...

    def clear_digits(self) -> None: ...

    async def record(self, path: str, *, max_seconds: int, silence_seconds: int = 3,
                     terminators: str = "#") -> Any: ...

    async def bridge(self, dial_string: str, *, timeout: float | None = None) -> BridgeResult: ...

    def bridged(self) -> asyncio.Future[str]: ...

    async def stop_media(self) -> None: ...

    async def set_variable(self, name: str, value: str) -> None: ...

    async def hangup(self, cause: str = "NORMAL_CLEARING") -> None: ...

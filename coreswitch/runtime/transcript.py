"""What happened on a call, in order: the transcript ``coreswitch call`` prints and tests assert.

Each entry is a flat JSON object with ``t`` (milliseconds since the flow started) and ``event``::

    {"t": 0, "event": "call", "flow": "utility_95598", "version": 3, "ani": "138…", "dnis": "95598"}
    {"t": 0, "event": "state", "state": "welcome"}
    {"t": 12, "event": "prompt", "text": "早上好！", "lang": "zh", "file": "…wav", "barged": false}
    {"t": 9120, "event": "input", "state": "main_menu", "digits": "2", "reason": "max"}
    {"t": 9120, "event": "route", "state": "main_menu", "choice": "key 2"}
    {"t": 30500, "event": "hangup", "cause": "NORMAL_CLEARING", "by": "flow"}

Event kinds: ``call``, ``state``, ``prompt``, ``input``, ``route``, ``noinput``, ``nomatch``,
``maxtries``, ``function``, ``subflow``, ``return``, ``language``, ``queue``, ``transfer``,
``record``, ``voicemail``, ``work_order``, ``sms``, ``notify``, ``survey``, ``guard``, ``error``,
``fallback``, ``hangup``, and the wait in a queue step by step: ``queue_position``,
``queue_announce``, ``queue_offer``, ``queue_no_answer``, ``queue_answered``,
``queue_overflow``, ``queue_callback_offer``, ``queue_left``. Values a flow marks
``sensitive`` never appear: they are written as ``"***"``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

MASK = "***"


#: JSON scalars, checked by exact type first (nearly every value): no isinstance chain.
_SCALAR_TYPES = frozenset({bool, int, float, str, type(None)})
_SCALARS = (bool, int, float, str)


def plain(value: object) -> Any:  # noqa: PLR0911  # one case per kind of value
    """A flow value as JSON data (decimals as text, times as ISO text, floats as numbers)."""
    if type(value) in _SCALAR_TYPES or isinstance(value, _SCALARS):
        return value  # floats are measurements (seconds): JSON numbers
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.timedelta):
        return f"{int(value.total_seconds() * 1000)}ms"
    if isinstance(value, dt.date | dt.time | dt.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return str(value)


class Transcript:
    """An append-only list of call events stamped by ``clock`` (seconds, any origin)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._origin = clock()
        self.entries: list[dict[str, Any]] = []

    def add(self, event: str, **data: object) -> dict[str, Any]:
        entry: dict[str, Any] = {"t": round((self._clock() - self._origin) * 1000),
                                 "event": event}
        for key, value in data.items():
            entry[key] = value if type(value) in _SCALAR_TYPES else plain(value)
        self.entries.append(entry)
        return entry

    def of(self, event: str) -> list[dict[str, Any]]:
        return [e for e in self.entries if e["event"] == event]

    def lines(self) -> Iterator[str]:
        for entry in self.entries:
            yield json.dumps(entry, ensure_ascii=False, separators=(", ", ": "))

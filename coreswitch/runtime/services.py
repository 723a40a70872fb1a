"""What a flow asks of the rest of the call centre: work orders, SMS, notifications, queues.

The interpreter talks to one :class:`CallServices` object per deployment. :class:`LocalServices`
is the embedded default: it numbers work orders, keeps what was sent, and hands ``queue`` to the
ACD (:class:`coreswitch.acd.engine.Acd`, through the :class:`QueueService` protocol); without an
ACD every ``queue`` ends *no agents* (route ``no_agents``, else ``overflow``). Each method may
raise :class:`ServiceFailed`; the interpreter then takes the verb's ``failure`` route.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from coreswitch.runtime.channel import CallChannel

log = logging.getLogger("coreswitch.services")


class ServiceFailed(Exception):
    """A service refused or could not do what the flow asked (short reason in ``str``)."""


@dataclass(frozen=True)
class CallInfo:
    """Who is calling, as services see it."""

    call_id: str
    ani: str
    dnis: str
    flow: str
    version: int | None
    state: str
    now: dt.datetime  # the call's clock (virtual in flow tests)


@dataclass(frozen=True)
class QueueRequest:
    queue: str
    priority: int = 0
    skills: tuple[str, ...] = ()
    max_wait: float = 300.0  # seconds
    hold_music: Sequence[str] = ()  # files
    announce: Sequence[str] = ()  # files
    announce_every: float = 60.0
    announce_position: bool = False
    callback_after: float | None = None
    callback_prompt: Sequence[str] = ()  # files; empty: the default offer
    callback_key: str = "1"
    exit_key: str | None = None


@dataclass(frozen=True)
class QueueOutcome:
    """How a wait in a queue ended. ``result`` is the name of the verb's route:

    ``answered`` (an agent answered and hung up first; the caller is still on the line),
    ``timeout`` (max wait reached, after any overflow queue), ``no_agents`` (none logged in),
    ``callback`` (the caller booked a callback and keeps its place), ``exit`` (exit key),
    ``abandoned`` (the caller hung up while waiting)."""

    result: str
    reason: str = ""
    agent: str | None = None
    waited: float = 0.0
    position: int | None = None


class QueueCall(Protocol):
    """What the ACD needs of a call while it waits: the channel, speech, the transcript."""

    @property
    def channel(self) -> CallChannel: ...

    async def say(self, text: str) -> str | None:
        """Render ``text`` in the call's language (TTS); the file, or None when it cannot."""

    def note(self, kind: str, **data: object) -> None:
        """Add an entry to the call's transcript (what flow tests assert on)."""


class QueueService(Protocol):
    async def wait(self, call: QueueCall, info: CallInfo, request: QueueRequest
                   ) -> QueueOutcome: ...


class CallServices(Protocol):
    async def work_order(self, call: CallInfo, *, type: str, department: str | None,
                         priority: str | None, fields: Mapping[str, object]) -> str: ...

    async def sms(self, call: CallInfo, *, to: str, text: str) -> None: ...

    async def notify(self, call: CallInfo, *, channel: str, to: str, text: str) -> None: ...

    async def queue(self, call: CallInfo, request: QueueRequest, media: QueueCall
                    ) -> QueueOutcome: ...

    async def survey(self, call: CallInfo, *, name: str, answers: Mapping[str, str]) -> None: ...


@dataclass
class LocalServices:
    """In-process services: numbered work orders, an outbox, survey answers (not persisted)."""

    work_orders: list[dict[str, object]] = field(default_factory=list)
    outbox: list[dict[str, object]] = field(default_factory=list)
    surveys: list[dict[str, object]] = field(default_factory=list)
    acd: QueueService | None = None
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def work_order(self, call: CallInfo, *, type: str, department: str | None,
                         priority: str | None, fields: Mapping[str, object]) -> str:
        number = f"{call.now:%Y%m%d}{next(self._seq):06d}"
        self.work_orders.append({"number": number, "type": type, "department": department,
                                 "priority": priority, "fields": dict(fields),
                                 "call_id": call.call_id})
        log.info("work order %s (%s) from call %s", number, type, call.call_id)
        return number

    async def sms(self, call: CallInfo, *, to: str, text: str) -> None:
        self.outbox.append({"channel": "sms", "to": to, "text": text, "call_id": call.call_id})

    async def notify(self, call: CallInfo, *, channel: str, to: str, text: str) -> None:
        self.outbox.append({"channel": channel, "to": to, "text": text,
                            "call_id": call.call_id})

    async def queue(self, call: CallInfo, request: QueueRequest, media: QueueCall
                    ) -> QueueOutcome:
        if self.acd is None:
            return QueueOutcome("no_agents", "no ACD configured")
        return await self.acd.wait(media, call, request)

    async def survey(self, call: CallInfo, *, name: str, answers: Mapping[str, str]) -> None:
        self.surveys.append({"name": name, "answers": dict(answers), "call_id": call.call_id})

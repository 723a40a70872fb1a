"""What a flow asks of the rest of the call centre: work orders, SMS, notifications, queues.

The interpreter talks to one :class:`CallServices` object per deployment. :class:`LocalServices`
is the in-process default of flow tests and ``coreswitch call``: it numbers work orders in
memory, keeps what was sent, and hands ``queue`` to the ACD (:class:`coreswitch.acd.engine.Acd`,
through the :class:`QueueService` protocol); without an ACD every ``queue`` ends *no agents*
(route ``no_agents``, else ``overflow``). ``coreswitch serve`` uses :class:`DatabaseServices`,
which stores work orders in the database and has it number them, so numbers stay unique across
restarts and across nodes (see :mod:`coreswitch.store.work_orders`). Each method may raise
:class:`ServiceFailed`; the interpreter then takes the verb's ``failure`` route.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from coreswitch.runtime.transcript import plain
from coreswitch.store import work_orders as work_order_store

if TYPE_CHECKING:
    from coreswitch.runtime.channel import CallChannel
    from coreswitch.store import Database

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
    """In-process services: numbered work orders, an outbox, survey answers (not persisted).

    Work-order numbers come from a counter in this object, so they repeat in a new process:
    right for a flow test or one simulated call, wrong for a server (:class:`DatabaseServices`).
    """

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


@dataclass
class DatabaseServices(LocalServices):
    """:class:`LocalServices` whose work orders are rows of the ``work_orders`` table, numbered by
    the database: one number sequence per day, unique across restarts and across every node
    that shares the database. The orders are not kept in :attr:`work_orders` (a server would
    keep them all in memory). A database that cannot take the order makes the ``work_order``
    verb take its ``failure`` route."""

    database: Database = field(kw_only=True)

    async def work_order(self, call: CallInfo, *, type: str, department: str | None,
                         priority: str | None, fields: Mapping[str, object]) -> str:
        now = call.now if call.now.tzinfo is not None else call.now.replace(tzinfo=dt.UTC)
        values = {name: plain(value) for name, value in fields.items()}

        def create(session: Session) -> str:
            return work_order_store.create(
                session, created_at=now, type=type, department=department, priority=priority,
                fields=values, call_id=call.call_id, ani=call.ani, dnis=call.dnis,
                flow_name=call.flow, flow_version=call.version, flow_state=call.state).number

        try:
            number = await self.database.run(create)
        except SQLAlchemyError as exc:
            log.error("work order (%s) from call %s not stored: %s", type, call.call_id, exc)
            raise ServiceFailed("work orders cannot be stored now") from exc
        log.info("work order %s (%s) from call %s", number, type, call.call_id)
        return number

"""The queue log: every queue and agent event, with its time — the input of every KPI.

The engine calls :meth:`QueueLog.record` (never blocks, never raises); :class:`DatabaseQueueLog`
writes the events in batches to the ``queue_log`` table (one transaction per batch, off the
event loop), :class:`MemoryQueueLog` keeps them in a list (flow tests, unit tests).

Events (``event``; ``queue``, ``call_id``, ``agent`` columns where they apply; the rest in
``data``):

==================== =============================================================
``enter``            a caller joined: priority, ani, position, skills
``offer``            agents were offered the caller: agents, rings, callback
``answer``           an agent answered: agent, waited (seconds since joining)
``complete``         the conversation ended: agent, talk, waited
``no_answer``        an agent let an offer ring out (also ``busy``, ``rejected``,
                     ``unreachable``; ``caller_gone`` when the caller hung up while the
                     agent rang, ``answered_elsewhere`` for the other agents of a
                     ring-all offer): agent
``abandon``          the caller hung up while waiting: waited, position
``timeout``          max wait reached: waited, position
``overflow``         moved to another queue at max wait: to, waited
``no_agents``        refused on joining (on=join) or left with no agent logged in (on=wait)
``exit_key``         the caller left with the exit key: key, waited, position
``callback_requested`` the caller booked a callback: number, position, waited
``callback_made``    the agent called the customer back: agent, number, answered, waited
``agent_state``      an agent changed state: state, reason, previous
``expired``          an offer of a node that died was taken back: agents
``lost``             a caller of a node that died was removed: node
==================== =============================================================

``at`` is the ACD clock (UTC; the virtual clock in flow tests). If the database is down the
events wait in memory (at most ``max_pending``; beyond that the oldest are dropped and the count
is logged) and are written when it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from coreswitch.store import Database
from coreswitch.store.queue_log import QueueLogRow

log = logging.getLogger("coreswitch.acd.log")


@dataclass(frozen=True)
class QueueEvent:
    event: str
    at: float  # epoch seconds
    queue: str = ""
    call_id: str = ""
    agent: str = ""
    node: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)


class QueueLog(Protocol):
    def record(self, event: str, *, at: float, queue: str = "", call_id: str = "",
               agent: str = "", node: str = "", data: Mapping[str, Any] | None = None) -> None:
        """Add an event (returns at once)."""

    async def flush(self) -> None: ...

    async def close(self) -> None: ...


class MemoryQueueLog:
    """Events in a list, for tests."""

    def __init__(self) -> None:
        self.entries: list[QueueEvent] = []

    def record(self, event: str, *, at: float, queue: str = "", call_id: str = "",
               agent: str = "", node: str = "", data: Mapping[str, Any] | None = None) -> None:
        self.entries.append(QueueEvent(event, at, queue, call_id, agent, node, dict(data or {})))

    def events(self, kind: str | None = None) -> list[QueueEvent]:
        return [e for e in self.entries if kind is None or e.event == kind]

    async def flush(self) -> None:
        """Nothing to write: the events are in :attr:`entries` already."""

    async def close(self) -> None:
        """Nothing to release."""


class DatabaseQueueLog:
    """Writes events in batches: at most one transaction per ``interval`` seconds."""

    def __init__(self, database: Database, *, interval: float = 0.25, batch: int = 1000,
                 max_pending: int = 200_000) -> None:
        self._db = database
        self._interval = interval
        self._batch = batch
        self._pending: deque[QueueEvent] = deque(maxlen=max_pending)
        self._dropped = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.written = 0

    def record(self, event: str, *, at: float, queue: str = "", call_id: str = "",
               agent: str = "", node: str = "", data: Mapping[str, Any] | None = None) -> None:
        if len(self._pending) == self._pending.maxlen:
            self._dropped += 1
        self._pending.append(QueueEvent(event, at, queue, call_id, agent, node,
                                        dict(data or {})))
        if self._task is None:
            with contextlib.suppress(RuntimeError):  # no running loop: flushed by close()
                self._task = asyncio.get_running_loop().create_task(self._loop(),
                                                                    name="queue-log-writer")
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.flush()
            await asyncio.sleep(self._interval)

    async def flush(self) -> None:
        if self._dropped:
            log.error("queue log: %d events dropped while the database was unavailable",
                      self._dropped)
            self._dropped = 0
        while self._pending:
            batch = [self._pending.popleft()
                     for _ in range(min(self._batch, len(self._pending)))]
            rows = [_row(e) for e in batch]

            def write(session: Session, rows: list[dict[str, Any]] = rows) -> None:
                session.execute(insert(QueueLogRow), rows)

            try:
                await self._db.run(write)
                self.written += len(batch)
            except Exception as exc:
                log.error("queue log: cannot write %d events (%s); keeping them for the next "
                          "try", len(batch), exc)
                self._pending.extendleft(reversed(batch))
                return

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()


def _row(e: QueueEvent) -> dict[str, Any]:
    return {"at": dt.datetime.fromtimestamp(e.at, dt.UTC), "event": e.event, "queue": e.queue,
            "call_id": e.call_id, "agent": e.agent, "node": e.node, "data": dict(e.data)}


async def events(db: Database, *, since: dt.datetime | None = None,
                 until: dt.datetime | None = None, queue: str | None = None,
                 agent: str | None = None) -> list[QueueEvent]:
    """Events in time order (for reports and tests)."""
    def read(session: Session) -> list[QueueEvent]:
        query = select(QueueLogRow).order_by(QueueLogRow.at, QueueLogRow.id)
        if since is not None:
            query = query.where(QueueLogRow.at >= since)
        if until is not None:
            query = query.where(QueueLogRow.at < until)
        if queue is not None:
            query = query.where(QueueLogRow.queue == queue)
        if agent is not None:
            query = query.where(QueueLogRow.agent == agent)
        return [QueueEvent(r.event, r.at.timestamp(), r.queue, r.call_id, r.agent, r.node,
                           dict(r.data)) for r in session.scalars(query)]

    return await db.run(read)

"""Calls in service: each outbound-socket session runs the flow its DNIS resolves to.

:class:`CallService` is the handler ``coreswitch serve`` gives the outbound-socket server. For
each call it resolves the DNIS in the flow registry **once** (hot reload: the call keeps that
version to the end, whatever is published meanwhile), runs a
:class:`~coreswitch.runtime.interpreter.FlowRun` on a
:class:`~coreswitch.runtime.session.CallSession`, and queues the call detail record — with the
exact flow version and the transcript — for :class:`CallRecorder`, which writes them in batches
(one transaction per batch, off the event loop).

The recorder keeps the database thread's share of a record small, because Python running on a
second thread takes the GIL from the event loop (every socket write then waits for it): the row
is built and its transcript encoded to JSON text (msgspec) on the loop when the call ends, and
the thread runs one Core ``INSERT`` per batch with the rows as plain dicts (executemany) — no ORM
objects, no unit of work, no ``json.dumps`` there.

A DNIS no flow serves, or a flow that faults, hands the call back to the dialplan (``exit``),
whose fallback action then takes it; the call is never dropped by coreswitch.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import msgspec
from sqlalchemy import JSON, Table, bindparam, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from coreswitch.esl.outbound import OutboundSession
from coreswitch.flows import FlowRegistry
from coreswitch.runtime.interpreter import Deps, FlowRun
from coreswitch.runtime.session import CallSession
from coreswitch.store import Database
from coreswitch.store.calls import CallRecord

log = logging.getLogger("coreswitch.calls")


@dataclass(frozen=True)
class EndedCall:
    uuid: str
    ani: str
    dnis: str
    flow: str | None
    version_id: int | None
    flow_hash: str | None
    started: dt.datetime
    ended: dt.datetime
    cause: str
    end_state: str | None
    transcript: list[dict[str, Any]]


class CallRecorder:
    """Writes call detail records in batches: at most one transaction per ``interval``.

    A batch that cannot be written (database down or restarting) stays queued, in order, for the
    next flush; nothing is dropped.
    """

    def __init__(self, database: Database, *, interval: float = 0.25, batch: int = 500) -> None:
        self._db = database
        self._interval = interval
        self._batch = batch
        self._queue: deque[dict[str, Any]] = deque()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.written = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="cdr-writer")

    def add(self, call: EndedCall) -> None:
        """Queue the record; its row is built here, on the loop (a few microseconds per call
        rather than a burst of a whole batch at flush time)."""
        self._queue.append(_row(call))
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.flush()
            await asyncio.sleep(self._interval)  # batch what arrives meanwhile

    async def flush(self) -> None:
        while self._queue:
            batch = [self._queue.popleft() for _ in range(min(self._batch, len(self._queue)))]

            def write(session: Session, rows: list[dict[str, Any]] = batch) -> None:
                session.execute(_INSERT, rows)

            try:
                await self._db.run(write)
                self.written += len(batch)
            except Exception:
                log.exception("could not write %d call records; keeping them for the next try",
                              len(batch))
                self._queue.extendleft(reversed(batch))
                return

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()


class _EncodedJSON(TypeDecorator[str]):
    """A JSON column's value already encoded as JSON text: bound as it is.

    The column's own type would encode the text again (as one JSON string); this one leaves it
    alone, while PostgreSQL still gets it cast to ``json``. SQLite stores the text.
    """

    impl = JSON
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> None:
        return None


#: One statement for every batch (compiled once, cached): executemany with a dict per call.
_INSERT = insert(cast(Table, CallRecord.__table__)).values(
    transcript=bindparam("transcript_json", type_=_EncodedJSON()))

_json = msgspec.json.Encoder()


def _transcript_json(entries: list[dict[str, Any]]) -> str:
    """The transcript as JSON text (compact UTF-8; readers parse it as before).

    Transcript values are plain JSON data already (:func:`~coreswitch.runtime.transcript.plain`);
    msgspec refuses only text that is not valid Unicode (a lone surrogate), for which the
    standard encoder's ``\\u`` escapes are used instead, so a record is never lost to its
    encoding."""
    try:
        return _json.encode(entries).decode()
    except Exception:  # any value msgspec cannot encode: the standard encoder can
        return json.dumps(entries, default=str)


def _row(c: EndedCall) -> dict[str, Any]:
    return {"call_uuid": c.uuid, "ani": c.ani, "dnis": c.dnis, "flow_name": c.flow,
            "flow_version_id": c.version_id, "flow_hash": c.flow_hash, "started_at": c.started,
            "ended_at": c.ended, "hangup_cause": c.cause,
            "end_state": c.end_state, "transcript_json": _transcript_json(c.transcript)}


class CallService:
    """The outbound-socket handler: one flow run per call."""

    def __init__(self, registry: FlowRegistry, deps: Deps, recorder: CallRecorder | None = None,
                 *, on_end: Callable[[EndedCall], None] | None = None) -> None:
        self.registry = registry
        self.deps = deps
        self.recorder = recorder
        self.on_end = on_end
        self.active: dict[str, FlowRun] = {}
        self.calls_started = 0
        self.calls_ended = 0

    async def __call__(self, session: OutboundSession) -> None:
        data = session.channel_data
        dnis = data.get("Caller-Destination-Number", "")
        ani = data.get("Caller-Caller-ID-Number", "")
        live = self.registry.resolve(dnis)  # once: the call keeps this version
        started = dt.datetime.now(dt.UTC)
        if live is None:
            log.warning("call %s to %s: no flow serves this number; back to the dialplan",
                        session.uuid, dnis)
            return
        channel = CallSession(session, session.uuid)
        run = FlowRun(live.ir, channel, self.deps, ani=ani, dnis=dnis,
                      caller_name=data.get("Caller-Caller-ID-Name", ""), call_id=session.uuid,
                      version=live.version)
        self.active[session.uuid] = run
        self.calls_started += 1
        try:
            result = await run.run()
        finally:
            self.active.pop(session.uuid, None)
            self.calls_ended += 1
        ended = EndedCall(session.uuid, ani, dnis, live.name, live.version_id,
                          live.content_hash, started, dt.datetime.now(dt.UTC),
                          result.cause or result.outcome.upper(),
                          result.states[-1] if result.states else None,
                          result.transcript.entries)
        if self.recorder is not None:
            self.recorder.add(ended)
        if self.on_end is not None:
            self.on_end(ended)

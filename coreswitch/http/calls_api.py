"""``/api/calls``: calls in progress and call detail records.

* ``GET /api/calls/live`` — calls running a flow now: uuid, caller, number, flow version,
  state, seconds so far;
* ``GET /api/calls?limit=N&dnis=D`` — the latest call records, newest first (no transcripts);
* ``GET /api/calls/{uuid}`` — one record with its transcript (404 until the call has ended
  and its record is written, normally within a second).

``serve`` puts the :class:`~coreswitch.runtime.service.CallService` in ``app.state.calls``
and the database in ``app.state.database``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from coreswitch.http.responses import error
from coreswitch.runtime.service import CallService
from coreswitch.store import Database
from coreswitch.store.calls import CallRecord, get_call

MAX_LIMIT = 500


def _summary(row: CallRecord, *, transcript: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "uuid": row.call_uuid, "ani": row.ani, "dnis": row.dnis, "flow": row.flow_name,
        "flow_version_id": row.flow_version_id, "flow_hash": row.flow_hash,
        "started": row.started_at.isoformat(),
        "ended": row.ended_at.isoformat() if row.ended_at else None,
        "hangup_cause": row.hangup_cause, "end_state": row.end_state}
    if transcript:
        out["transcript"] = row.transcript
    return out


async def live(request: Request) -> Response:
    calls: CallService = request.app.state.calls
    return JSONResponse({"calls": [
        {"uuid": uuid, "ani": run.ani, "dnis": run.dnis, "flow": run.ir.get("name"),
         "version": run.version, "state": run.frame.qualified(),
         "seconds": round(run.elapsed(), 1)}
        for uuid, run in list(calls.active.items())]})


async def recent(request: Request) -> Response:
    database: Database = request.app.state.database
    try:
        limit = min(int(request.query_params.get("limit", "50")), MAX_LIMIT)
    except ValueError:
        return error(400, "limit must be a number")
    dnis = request.query_params.get("dnis")

    def query(session: Session) -> list[dict[str, Any]]:
        stmt = select(CallRecord).order_by(CallRecord.id.desc()).limit(max(limit, 0))
        if dnis:
            stmt = stmt.where(CallRecord.dnis == dnis)
        return [_summary(r) for r in session.scalars(stmt)]

    return JSONResponse({"calls": await database.run(query)})


async def one(request: Request) -> Response:
    database: Database = request.app.state.database
    uuid = request.path_params["uuid"]

    def query(session: Session) -> dict[str, Any] | None:
        row = get_call(session, uuid)
        return None if row is None else _summary(row, transcript=True)

    found = await database.run(query)
    if found is None:
        return error(404, f"no record of call {uuid!r} (yet)")
    return JSONResponse(found)


routes = [
    Route("/calls/live", live, methods=["GET"]),
    Route("/calls", recent, methods=["GET"]),
    Route("/calls/{uuid}", one, methods=["GET"]),
]

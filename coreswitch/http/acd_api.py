"""``/api/agents`` and ``/api/queues``: agent operations and queue status (the ACD).

* ``GET /api/agents`` — every agent: state, reason, since, queues, calls answered, talk time;
* ``GET /api/agents/{id}`` — one agent;
* ``POST /api/agents/{id}/login|logout|away|available|wrap_up_done`` — change its state;
  ``logout`` takes ``{"force": true}`` (overrides the shift-handover rule), ``away``
  ``{"reason": "午餐"}``. The reply is the agent's new status;
* ``GET /api/queues`` — every queue: waiting, callbacks, agents logged in / available, oldest
  wait, average handle time; ``GET /api/queues/{name}`` — one queue and its waiting callers.

Errors: 404 unknown agent or queue, 409 refused (the reason says why, e.g. a logout during a
call), 503 when the state store (Redis) is unavailable or no ACD runs. ``serve`` puts the
:class:`~coreswitch.acd.engine.Acd` in ``app.state.acd``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from coreswitch.acd.engine import Acd
from coreswitch.acd.model import (
    AcdError,
    AgentStatus,
    QueueStatus,
    StoreUnavailable,
    UnknownAgent,
    UnknownQueue,
)
from coreswitch.http.responses import error


def _acd(request: Request) -> Acd | None:
    acd = getattr(request.app.state, "acd", None)
    return acd if isinstance(acd, Acd) else None


def _agent(s: AgentStatus) -> dict[str, Any]:
    out = asdict(s)
    out["state"] = s.state.value
    out["queues"] = dict(s.queues)
    return out


def _queue(s: QueueStatus) -> dict[str, Any]:
    return asdict(s)


async def _guard(request: Request, work: Callable[[Acd], Awaitable[Response]]) -> Response:
    acd = _acd(request)
    if acd is None:
        return error(503, "the ACD is not running on this server")
    try:
        return await work(acd)
    except (UnknownAgent, UnknownQueue) as exc:
        return error(404, str(exc))
    except StoreUnavailable as exc:
        return error(503, f"queue state unavailable: {exc}")
    except AcdError as exc:
        return error(409, str(exc))


async def list_agents(request: Request) -> Response:
    async def work(acd: Acd) -> Response:
        return JSONResponse({"agents": [_agent(s) for s in await acd.agents()]})
    return await _guard(request, work)


async def one_agent(request: Request) -> Response:
    agent = request.path_params["agent"]

    async def work(acd: Acd) -> Response:
        return JSONResponse(_agent((await acd.agents(agent))[0]))
    return await _guard(request, work)


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


async def agent_action(request: Request) -> Response:
    agent, action = request.path_params["agent"], request.path_params["action"]
    body = await _body(request)

    async def work(acd: Acd) -> Response:
        if action == "login":
            status = await acd.login(agent)
        elif action == "logout":
            status = await acd.logout(agent, force=body.get("force") is True)
        elif action == "away":
            status = await acd.away(agent, str(body.get("reason") or ""))
        elif action == "available":
            status = await acd.available(agent)
        elif action == "wrap_up_done":
            status = await acd.wrap_up_done(agent)
        else:
            return error(404, f"unknown agent action {action!r} (login, logout, away, "
                              "available, wrap_up_done)")
        return JSONResponse(_agent(status))
    return await _guard(request, work)


async def list_queues(request: Request) -> Response:
    async def work(acd: Acd) -> Response:
        return JSONResponse({"queues": [_queue(s) for s in await acd.queue_status()]})
    return await _guard(request, work)


async def one_queue(request: Request) -> Response:
    name = request.path_params["queue"]

    async def work(acd: Acd) -> Response:
        status = (await acd.queue_status(name))[0]
        if name not in acd.queues:
            raise UnknownQueue(f"unknown queue {name!r}")
        waiting = await acd.store.waiting(name)
        return JSONResponse({**_queue(status), "callers": [
            {"id": c.id, "ani": c.ani, "priority": c.priority, "entered": c.entered,
             "callback": c.callback is not None} for c in waiting]})
    return await _guard(request, work)


routes = [
    Route("/agents", list_agents, methods=["GET"]),
    Route("/agents/{agent}", one_agent, methods=["GET"]),
    Route("/agents/{agent}/{action}", agent_action, methods=["POST"]),
    Route("/queues", list_queues, methods=["GET"]),
    Route("/queues/{queue}", one_queue, methods=["GET"]),
]

"""``/api/agents`` and ``/api/queues``: agent operations and queue status (the ACD).

* ``GET /api/agents`` — every agent: state, reason, since, queues, calls answered, talk time;
* ``GET /api/agents/{id}`` — one agent;
* ``POST /api/agents/{id}/login|logout|away|available|wrap_up_done`` — change its state;
  ``logout`` takes ``{"force": true}`` (overrides the shift-handover rule and the refusal during
  a call), ``away`` ``{"reason": "午餐"}``. The reply is the agent's status after the change
  (an agent who goes away during a call stays ``on_call`` and is ``away`` when it ends);
* ``GET /api/queues`` — every queue: waiting, callbacks, agents logged in / available, oldest
  wait, average handle time; ``GET /api/queues/{name}`` — one queue and its waiting callers in
  the order they will be served.

Errors (``{"error": ...}``): 400 a body that is not a JSON object of the right types, 404
unknown agent, queue or action, 409 refused (the reason says why, e.g. a logout during a call),
503 when the state store (Redis) is unavailable or no ACD runs. ``serve`` puts the
:class:`~coreswitch.acd.engine.Acd` in ``app.state.acd``.
"""

from __future__ import annotations

import json
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
    Caller,
    StoreUnavailable,
    UnknownAgent,
    UnknownQueue,
)
from coreswitch.http.responses import error

ACTIONS = ("login", "logout", "away", "available", "wrap_up_done")


class _BadRequest(Exception):
    """A request body that does not say what the endpoint needs (answered 400)."""


def _acd(request: Request) -> Acd | None:
    acd = getattr(request.app.state, "acd", None)
    return acd if isinstance(acd, Acd) else None


def _agent(s: AgentStatus) -> dict[str, Any]:
    out = asdict(s)
    out["state"] = s.state.value
    out["queues"] = dict(s.queues)
    return out


def _caller(position: int, c: Caller, now: float) -> dict[str, Any]:
    return {"position": position, "id": c.id, "ani": c.ani, "priority": c.priority,
            "entered": c.entered, "waited": max(0.0, now - c.entered),
            "skills": list(c.skills), "callback": c.callback is not None}


async def _guard(request: Request, work: Callable[[Acd], Awaitable[Response]]) -> Response:
    acd = _acd(request)
    if acd is None:
        return error(503, "the ACD is not running on this server")
    try:
        return await work(acd)
    except _BadRequest as exc:
        return error(400, str(exc))
    except (UnknownAgent, UnknownQueue) as exc:
        return error(404, str(exc))
    except StoreUnavailable as exc:
        return error(503, f"queue state unavailable (retry later): {exc}")
    except AcdError as exc:
        return error(409, str(exc))


async def list_agents(request: Request) -> Response:
    async def work(acd: Acd) -> Response:
        return JSONResponse({"agents": [_agent(s) for s in await acd.agents()]})
    return await _guard(request, work)


async def one_agent(request: Request) -> Response:
    agent = request.path_params["agent"]

    async def work(acd: Acd) -> Response:
        found = await acd.agents(agent)
        if not found:  # configured here, not (yet) in the shared store
            raise UnknownAgent(f"agent {agent!r} is not in the queue state yet")
        return JSONResponse(_agent(found[0]))
    return await _guard(request, work)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise _BadRequest("the body is not JSON") from None
    if not isinstance(body, dict):
        raise _BadRequest("the body must be a JSON object")
    return body


def _field(body: dict[str, Any], name: str, kind: type, default: Any) -> Any:
    value = body.get(name, default)
    if not isinstance(value, kind):
        raise _BadRequest(f"{name!r} must be a {'boolean' if kind is bool else 'string'}")
    return value


async def agent_action(request: Request) -> Response:
    agent, action = request.path_params["agent"], request.path_params["action"]

    async def work(acd: Acd) -> Response:
        if action not in ACTIONS:
            return error(404, f"unknown agent action {action!r} ({', '.join(ACTIONS)})")
        body = await _body(request)
        if action == "login":
            status = await acd.login(agent)
        elif action == "logout":
            status = await acd.logout(agent, force=_field(body, "force", bool, False))
        elif action == "away":
            status = await acd.away(agent, _field(body, "reason", str, "").strip())
        elif action == "available":
            status = await acd.available(agent)
        else:
            status = await acd.wrap_up_done(agent)
        return JSONResponse(_agent(status))
    return await _guard(request, work)


async def list_queues(request: Request) -> Response:
    async def work(acd: Acd) -> Response:
        return JSONResponse({"queues": [asdict(s) for s in await acd.queue_status()]})
    return await _guard(request, work)


async def one_queue(request: Request) -> Response:
    name = request.path_params["queue"]

    async def work(acd: Acd) -> Response:
        status = (await acd.queue_status(name))[0]  # UnknownQueue for a name not configured
        now = acd.clock()
        waiting = await acd.store.waiting(name)
        return JSONResponse({**asdict(status), "callers": [
            _caller(i, c, now) for i, c in enumerate(waiting, 1)]})
    return await _guard(request, work)


routes = [
    Route("/agents", list_agents, methods=["GET"]),
    Route("/agents/{agent}", one_agent, methods=["GET"]),
    Route("/agents/{agent}/{action}", agent_action, methods=["POST"]),
    Route("/queues", list_queues, methods=["GET"]),
    Route("/queues/{queue}", one_queue, methods=["GET"]),
]

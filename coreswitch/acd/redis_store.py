"""The ACD state store in Redis: several coreswitch nodes share queues and agents.

Every operation is one Redis **function** (``redis_acd.lua``, loaded with ``FUNCTION LOAD
REPLACE`` when a node connects), so it runs atomically: two nodes can never offer one agent two
calls, lose a caller between two steps, or see a half-made offer. The layout (all keys under the
prefix, default ``coreswitch:acd:``):

* ``queues``/``agents`` — configuration (JSON per queue/agent), written by every node at start;
* ``ag:<id>`` — an agent's live state (state, reason, times, counters);
* ``free:<queue>\\t<skill>`` — the free agents of a queue in strategy order (a lexicographic
  sorted set whose members start with the encoded strategy figures), per skill for skills-based
  queues; ``agkeys:<id>`` remembers where an agent is listed; ``rclock`` — per free
  list, the clock of the ``random`` figure (see coreswitch/acd/store.py); ``delayed`` — agents
  in wrap-up or a no-answer delay, by the time they are free;
* ``wait:<queue>`` — waiting callers in queue order (member: priority, entry time, sequence,
  id); ``c:<id>`` — a caller (JSON, its member, its offer); ``cb:<queue>`` — booked callbacks;
  ``nodec:<node>`` — callers held by a node;
* ``offers``/``calls`` — offers ringing and conversations, by offer id; ``beats`` — node
  heartbeats; ``aht`` — average handle time per queue; ``loggedin`` — agents logged in per queue.

Wakes travel on the pub/sub channel ``<prefix>wake``.

**Redis restarts.** Run Redis with persistence (``appendonly yes``; ``appendfsync always`` loses
nothing, ``everysec`` at most a second): after a restart everything above — functions included —
is back as it was. While Redis is down every operation raises
:class:`~coreswitch.acd.model.StoreUnavailable`; the engine retries (callers keep hearing music)
and gives up on a caller's operation after ``retry_for`` seconds (the caller then takes the
``no_agents`` route). A Redis that comes back **empty** (no persistence) has lost the waiting
callers and agents' log-ins: nodes re-load the functions and configuration on the next
operation, agents must log in again, and callers waiting at that moment are not re-queued (not
built: they stay on hold until their max wait).
"""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from importlib import resources
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis import exceptions as rexc

from coreswitch.acd import strategies
from coreswitch.acd.model import (
    AcdError,
    AgentConfig,
    AgentState,
    AgentStatus,
    Caller,
    Expired,
    Offer,
    OfferFailure,
    QueueConfig,
    QueueStatus,
    StoreUnavailable,
    UnknownAgent,
    UnknownQueue,
)

T = TypeVar("T")
LIBRARY = resources.files("coreswitch.acd").joinpath("redis_acd.lua").read_text("utf-8")
_DOWN = (rexc.ConnectionError, rexc.TimeoutError, rexc.BusyLoadingError, ConnectionError,
         OSError)


class RedisStore:
    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self._r = client
        self._prefix = prefix
        self._random = random.Random()
        self._config: tuple[str, str] | None = None

    @classmethod
    async def connect(cls, url: str, *, prefix: str = "coreswitch:acd:") -> RedisStore:
        client = aioredis.from_url(url, decode_responses=True, socket_timeout=5,
                                   socket_connect_timeout=5, health_check_interval=10)
        store = cls(client, prefix)
        try:
            await store._load()
        except _DOWN as exc:
            raise StoreUnavailable(f"Redis at {url} is not reachable: {exc}") from exc
        return store

    async def _load(self) -> None:
        await self._r.function_load(LIBRARY, replace=True)

    async def ping(self) -> bool:
        try:
            return bool(await self._r.ping())
        except _DOWN:
            return False

    async def _call(self, fn: str, *args: object) -> Any:
        for attempt in (1, 2):
            try:
                return await self._r.fcall(fn, 1, self._prefix, *[str(a) for a in args])
            except _DOWN as exc:
                raise StoreUnavailable(f"Redis unavailable: {exc}") from exc
            except rexc.ResponseError as exc:
                text = str(exc)
                if "Function not found" in text and attempt == 1:  # an empty Redis came back
                    await self._reload()
                    continue
                raise _acd_error(text) from None
        raise AssertionError("unreachable")

    async def _reload(self) -> None:
        await self._load()
        if self._config is not None:
            await self._r.fcall("acd_configure", 1, self._prefix, *self._config, "0")

    # -- configuration ----------------------------------------------------------------------
    async def configure(self, queues: Sequence[QueueConfig],
                        agents: Sequence[AgentConfig]) -> None:
        members: dict[str, list[str]] = {}
        for a in agents:
            for q in a.queues:
                members.setdefault(q, []).append(a.id)
        positions = {q: {a: i for i, a in enumerate(sorted(m))} for q, m in members.items()}
        qs = [_queue_json(q) for q in queues]
        ags = [{"id": a.id, "endpoint": a.endpoint, "name": a.name, "queues": dict(a.queues),
                "skills": dict(a.skills), "max_concurrent": a.max_concurrent,
                "successor": a.successor, "handover_required": a.handover_required,
                "positions": {q: positions[q][a.id] for q in a.queues}} for a in agents]
        self._config = (json.dumps(qs), json.dumps(ags))
        await self._call("acd_configure", *self._config, 0)

    # -- callers ----------------------------------------------------------------------------
    async def enqueue(self, caller: Caller) -> Caller:
        got = await self._call("acd_enqueue", json.dumps(_caller_json(caller)))
        return _caller(json.loads(got))

    async def leave(self, caller_id: str) -> Caller | None:
        return _maybe_caller(await self._call("acd_leave", caller_id))

    async def move(self, caller_id: str, queue: str, priority: int | None = None
                   ) -> Caller | None:
        return _maybe_caller(await self._call("acd_move", caller_id, queue,
                                              "" if priority is None else priority))

    async def book_callback(self, caller_id: str, number: str) -> Caller | None:
        return _maybe_caller(await self._call("acd_book_callback", caller_id, number))

    async def position(self, caller_id: str) -> int | None:
        got = await self._call("acd_position", caller_id)
        return None if got is None else int(got)

    async def waiting(self, queue: str) -> list[Caller]:
        return [_caller(json.loads(j)) for j in await self._call("acd_waiting", queue)]

    # -- distribution -----------------------------------------------------------------------
    async def dispatch(self, queue: str, now: float, node: str) -> Offer | None:
        got = await self._call("acd_dispatch", queue, repr(now), node, self._random.random())
        return None if got is None else _offer(json.loads(got))

    async def offer_answered(self, offer: Offer, agent_id: str, now: float) -> None:
        await self._call("acd_offer_answered", offer.id, agent_id, repr(now),
                         json.dumps(_offer_json(offer)))

    async def offer_failed(self, offer: Offer, agent_id: str, failure: OfferFailure,
                           now: float) -> bool:
        return bool(await self._call("acd_offer_failed", offer.id, agent_id, failure.value,
                                     repr(now)))

    async def call_ended(self, offer: Offer, agent_id: str, talk: float, now: float) -> None:
        await self._call("acd_call_ended", offer.id, agent_id, repr(talk), repr(now),
                         offer.queue, self._random.random())

    async def expire(self, now: float, node_timeout: float = 30.0) -> Expired:
        got = json.loads(await self._call("acd_expire", repr(now), node_timeout))
        return Expired(tuple(_offer(o) for o in _list(got["offers"])),
                       tuple(_caller(c) for c in _list(got["callers"])),
                       tuple(str(a) for a in _list(got["agents"])))

    # -- agents -----------------------------------------------------------------------------
    async def _agent_op(self, fn: str, *args: object) -> AgentStatus:
        return _status(json.loads(await self._call(fn, *args)))

    async def login(self, agent_id: str, now: float) -> AgentStatus:
        return await self._agent_op("acd_login", agent_id, repr(now), self._random.random())

    async def logout(self, agent_id: str, now: float, *, force: bool = False) -> AgentStatus:
        return await self._agent_op("acd_logout", agent_id, repr(now), 1 if force else 0)

    async def set_away(self, agent_id: str, reason: str, now: float) -> AgentStatus:
        return await self._agent_op("acd_set_away", agent_id, reason, repr(now))

    async def set_available(self, agent_id: str, now: float) -> AgentStatus:
        return await self._agent_op("acd_set_available", agent_id, repr(now),
                                    self._random.random())

    async def wrap_up_done(self, agent_id: str, now: float) -> AgentStatus:
        return await self._agent_op("acd_wrap_up_done", agent_id, repr(now),
                                    self._random.random())

    async def agents(self, agent_id: str | None = None) -> list[AgentStatus]:
        return [_status(json.loads(j)) for j in await self._call("acd_agents", agent_id or "")]

    async def queues(self, queue: str | None = None, now: float = 0.0) -> list[QueueStatus]:
        out = []
        for j in await self._call("acd_queues", queue or "", repr(now), self._random.random()):
            d = json.loads(j)
            out.append(QueueStatus(d["name"], int(d["waiting"]), int(d["callbacks"]),
                                   int(d["agents_logged_in"]), int(d["agents_available"]),
                                   float(d["oldest_wait"]), float(d["average_handle"])))
        return out

    # -- nodes ------------------------------------------------------------------------------
    async def heartbeat(self, node: str, now: float) -> None:
        await self._call("acd_heartbeat", node, repr(now))

    async def wake(self, queue: str) -> None:
        try:
            await self._r.publish(self._prefix + "wake", queue)
        except _DOWN as exc:
            raise StoreUnavailable(f"Redis unavailable: {exc}") from exc

    async def wakes(self) -> AsyncIterator[str]:
        pubsub = self._r.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self._prefix + "wake")
            while True:
                message = await pubsub.get_message(timeout=5.0)
                if message is not None and message.get("type") == "message":
                    yield str(message["data"])
        except _DOWN as exc:
            raise StoreUnavailable(f"Redis unavailable: {exc}") from exc
        finally:
            await _quietly(pubsub.aclose)

    async def close(self) -> None:
        await _quietly(self._r.aclose)


async def _quietly(fn: Callable[[], Awaitable[object]]) -> None:
    with contextlib.suppress(Exception):  # closing a connection that is already gone
        await fn()


def _acd_error(text: str) -> AcdError:
    _, _, rest = text.partition("ACD ")
    kind, _, message = rest.partition(" ")
    if kind == "unknown_agent":
        return UnknownAgent(message)
    if kind == "unknown_queue":
        return UnknownQueue(message)
    if kind == "refused":
        return AcdError(message)
    return AcdError(f"ACD store error: {text}")


def _queue_json(q: QueueConfig) -> dict[str, Any]:
    strategy = strategies.get(q.strategy)
    return {"name": q.name, "ring_timeout": q.ring_timeout, "wrap_up": q.wrap_up,
            "tier_wait": q.tier_wait, "skill_steps": [list(s) for s in q.skill_steps],
            "no_answer_delay": q.no_answer_delay, "busy_delay": q.busy_delay,
            "reject_delay": q.reject_delay, "max_no_answer": q.max_no_answer,
            "progressive_delay": q.progressive_delay, "rings": strategy.rings,
            "max_ring": strategies.MAX_RING,
            "skills_based": any(f.removeprefix("-") == "proficiency" for f in strategy.order),
            "order": [[f.removeprefix("-"), f.startswith("-")] for f in strategy.order]}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []  # cjson writes an empty list as {}


def _caller_json(c: Caller) -> dict[str, Any]:
    return {"id": c.id, "queue": c.queue, "ani": c.ani, "entered": c.entered,
            "priority": c.priority, "skills": list(c.skills), "node": c.node, "seq": c.seq,
            "callback": c.callback}


def _caller(d: dict[str, Any]) -> Caller:
    return Caller(id=str(d["id"]), queue=str(d["queue"]), ani=str(d["ani"]),
                  entered=float(d["entered"]), priority=int(d["priority"]),
                  skills=tuple(str(s) for s in _list(d.get("skills"))), node=str(d["node"]),
                  seq=int(d["seq"]), callback=d.get("callback"))


def _maybe_caller(got: object) -> Caller | None:
    return None if got is None else _caller(json.loads(str(got)))


def _offer_json(o: Offer) -> dict[str, Any]:
    return {"id": o.id, "caller": _caller_json(o.caller), "agents": list(o.agents),
            "endpoints": list(o.endpoints), "queue": o.queue, "made": o.made,
            "deadline": o.deadline, "node": o.node, "rings": o.rings,
            "progressive_delay": o.progressive_delay}


def _offer(d: dict[str, Any]) -> Offer:
    return Offer(id=str(d["id"]), caller=_caller(d["caller"]),
                 agents=tuple(str(a) for a in _list(d["agents"])),
                 endpoints=tuple(str(e) for e in _list(d["endpoints"])), queue=str(d["queue"]),
                 made=float(d["made"]), deadline=float(d["deadline"]), node=str(d["node"]),
                 rings=str(d["rings"]), progressive_delay=float(d["progressive_delay"]))


def _status(d: dict[str, Any]) -> AgentStatus:
    queues = d.get("queues")
    return AgentStatus(str(d["id"]), str(d.get("name") or ""), AgentState(d["state"]),
                       str(d.get("reason") or ""), float(d["since"]),
                       {str(k): int(v) for k, v in (queues.items()
                                                    if isinstance(queues, dict) else [])},
                       int(d["calls_answered"]), float(d["talk_time"]), int(d["no_answers"]),
                       float(d["available_at"]), int(d["active"]))


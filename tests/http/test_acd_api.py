"""Agents and queues over HTTP (``/api/agents``, ``/api/queues``) on an ACD with an in-process
store and a fixed clock. Calls are put in the store directly (enqueue, dispatch, answer), as the
engine does when a flow's caller waits and an agent answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from conftest import TOKEN
from http_helpers import make_client

from coreswitch.acd.engine import Acd
from coreswitch.acd.memory import MemoryStore
from coreswitch.acd.model import (
    AgentConfig,
    AgentStatus,
    Caller,
    Offer,
    QueueConfig,
    QueueStatus,
    StoreUnavailable,
)
from coreswitch.acd.queue_log import MemoryQueueLog
from coreswitch.flows import FlowRegistry
from coreswitch.http import acd_api, create_app

NOW = 1_700_000_000.0
AGENTS = [AgentConfig("1001", "user/1001", "张三", queues={"service": 1}, successor="1002",
                      handover_required=True),
          AgentConfig("1002", "user/1002", "李四", queues={"service": 1})]
QUEUES = [QueueConfig("service", wrap_up=10.0), QueueConfig("billing")]


class FlakyStore(MemoryStore):
    """The in-process store, unavailable while ``down`` (as the Redis store is while Redis is)."""

    down = False

    def _check(self) -> None:
        if self.down:
            raise StoreUnavailable("redis://127.0.0.1:6379: connection refused")

    async def agents(self, agent_id: str | None = None) -> list[AgentStatus]:
        self._check()
        return await super().agents(agent_id)

    async def login(self, agent_id: str, now: float) -> AgentStatus:
        self._check()
        return await super().login(agent_id, now)

    async def queues(self, queue: str | None = None, now: float = 0.0) -> list[QueueStatus]:
        self._check()
        return await super().queues(queue, now)


@dataclass
class Api:
    client: httpx.AsyncClient
    acd: Acd
    store: FlakyStore
    log: MemoryQueueLog

    async def state(self, agent: str) -> tuple[str, str]:
        got = (await self.client.get(f"/api/agents/{agent}")).json()
        return got["state"], got["reason"]

    async def call_answered_by(self, agent: str, caller: str = "c1") -> Offer:
        """A caller joins ``service`` and ``agent`` (the only one available) answers."""
        await self.store.enqueue(Caller(caller, "service", "13800000000", entered=NOW - 30))
        offer = await self.store.dispatch("service", NOW, "local")
        assert offer is not None
        assert offer.agents == (agent,)
        await self.store.offer_answered(offer, agent, NOW)
        return offer


@pytest.fixture
async def api(registry: FlowRegistry) -> AsyncIterator[Api]:
    app = create_app(registry, token=TOKEN, extra_routes=acd_api.routes)
    store, log = FlakyStore(), MemoryQueueLog()
    acd = Acd(store, log, queues=QUEUES, agents=AGENTS, clock=lambda: NOW)
    await store.configure(QUEUES, AGENTS)  # what Acd.start does in serve
    app.state.acd = acd
    async with make_client(app, {"Authorization": f"Bearer {TOKEN}"}) as c:
        yield Api(c, acd, store, log)


async def test_login_away_and_available_change_the_agent_and_are_logged(api: Api) -> None:
    client = api.client
    login = (await client.post("/api/agents/1002/login")).json()
    assert (login["state"], login["since"], login["queues"]) == ("available", NOW, {"service": 1})
    away = (await client.post("/api/agents/1002/away", json={"reason": "午餐"})).json()
    assert (away["state"], away["reason"]) == ("away", "午餐")
    agents = (await client.get("/api/agents")).json()["agents"]
    assert [(a["id"], a["name"], a["state"]) for a in agents] == [
        ("1001", "张三", "logged_out"), ("1002", "李四", "away")]
    assert (await client.post("/api/agents/1002/available")).json()["state"] == "available"
    assert [(e.agent, e.data["state"], e.data["reason"]) for e in api.log.events("agent_state")
            ] == [("1002", "available", ""), ("1002", "away", "午餐"), ("1002", "available", "")]
    queue = (await client.get("/api/queues/service")).json()
    assert (queue["agents_logged_in"], queue["agents_available"], queue["waiting"]) == (1, 1, 0)


async def test_logout_before_the_successor_is_in_is_409_and_force_overrides(api: Api) -> None:
    client = api.client
    await client.post("/api/agents/1001/login")
    refused = await client.post("/api/agents/1001/logout")
    assert refused.status_code == 409
    assert "successor 1002 is not logged in" in refused.json()["error"]
    assert await api.state("1001") == ("available", "")
    forced = await client.post("/api/agents/1001/logout", json={"force": True})
    assert forced.json()["state"] == "logged_out"


async def test_logout_is_allowed_once_the_successor_has_logged_in(api: Api) -> None:
    await api.client.post("/api/agents/1001/login")
    await api.client.post("/api/agents/1002/login")
    assert (await api.client.post("/api/agents/1001/logout")).json()["state"] == "logged_out"


async def test_during_a_call_logout_is_refused_and_away_applies_when_it_ends(api: Api) -> None:
    client = api.client
    await client.post("/api/agents/1002/login")
    offer = await api.call_answered_by("1002")
    refused = await client.post("/api/agents/1002/logout")
    assert refused.status_code == 409
    assert "during a call" in refused.json()["error"]
    away = (await client.post("/api/agents/1002/away", json={"reason": "培训"})).json()
    assert (away["state"], away["reason"]) == ("on_call", "")
    await api.store.call_ended(offer, "1002", 60.0, NOW + 60)
    assert await api.state("1002") == ("away", "培训")


async def test_wrap_up_done_ends_the_wrap_up_early(api: Api) -> None:
    await api.client.post("/api/agents/1002/login")
    offer = await api.call_answered_by("1002")
    await api.store.call_ended(offer, "1002", 60.0, NOW)
    assert await api.state("1002") == ("wrap_up", "")
    done = (await api.client.post("/api/agents/1002/wrap_up_done")).json()
    assert (done["state"], done["calls_answered"], done["talk_time"]) == ("available", 1, 60.0)


async def test_forced_logout_during_a_call_leaves_the_agent_out_after_it(api: Api) -> None:
    await api.client.post("/api/agents/1002/login")
    offer = await api.call_answered_by("1002")
    forced = await api.client.post("/api/agents/1002/logout", json={"force": True})
    assert forced.json()["state"] == "logged_out"
    await api.store.call_ended(offer, "1002", 60.0, NOW)
    assert await api.state("1002") == ("logged_out", "")


async def test_away_or_available_before_login_is_refused(api: Api) -> None:
    for action in ("away", "available"):
        got = await api.client.post(f"/api/agents/1002/{action}")
        assert got.status_code == 409
        assert got.json()["error"] == "agent 1002 is not logged in"


async def test_queue_status_lists_the_waiting_callers_in_serving_order(api: Api) -> None:
    store = api.store
    await store.enqueue(Caller("a", "service", "13900000001", entered=NOW - 50))
    await store.enqueue(Caller("b", "service", "13900000002", entered=NOW - 40))
    await store.enqueue(Caller("vip", "service", "13900000003", entered=NOW - 5, priority=100))
    await store.book_callback("b", "13900000002")
    queue = (await api.client.get("/api/queues/service")).json()
    assert (queue["name"], queue["waiting"], queue["callbacks"]) == ("service", 3, 1)
    assert queue["oldest_wait"] == 50.0
    assert [(c["position"], c["id"], c["priority"], c["waited"], c["callback"])
            for c in queue["callers"]] == [(1, "vip", 100, 5.0, False), (2, "a", 0, 50.0, False),
                                           (3, "b", 0, 40.0, True)]
    queues = (await api.client.get("/api/queues")).json()["queues"]
    assert [(q["name"], q["waiting"]) for q in queues] == [("billing", 0), ("service", 3)]


async def test_unknown_agents_queues_and_actions_are_404(api: Api) -> None:
    client = api.client
    for got in [await client.get("/api/agents/9999"), await client.post("/api/agents/9999/login"),
                await client.get("/api/queues/nope"), await client.post("/api/agents/1001/dance")]:
        assert got.status_code == 404
    assert "unknown agent '9999'" in (await client.get("/api/agents/9999")).json()["error"]
    assert "known: billing, service" in (await client.get("/api/queues/nope")).json()["error"]


@pytest.mark.parametrize(("action", "body", "message"), [
    ("logout", b'{"force": "yes"}', "'force' must be a boolean"),
    ("away", b'{"reason": 5}', "'reason' must be a string"),
    ("login", b"[1]", "the body must be a JSON object"),
    ("login", b"{force", "the body is not JSON"),
])
async def test_a_malformed_body_is_400_and_changes_nothing(api: Api, action: str, body: bytes,
                                                          message: str) -> None:
    got = await api.client.post(f"/api/agents/1001/{action}", content=body)
    assert (got.status_code, got.json()["error"]) == (400, message)
    assert await api.state("1001") == ("logged_out", "")


async def test_the_api_needs_the_admin_token(api: Api) -> None:
    got = await api.client.get("/api/agents", headers={"Authorization": "Bearer wrong"})
    assert got.status_code == 401
    got = await api.client.post("/api/agents/1001/login", headers={"Authorization": ""})
    assert got.status_code == 401
    assert await api.state("1001") == ("logged_out", "")


async def test_an_unavailable_store_is_503_until_it_is_back(api: Api) -> None:
    api.store.down = True
    for got in [await api.client.get("/api/agents"), await api.client.get("/api/queues"),
                await api.client.post("/api/agents/1002/login")]:
        assert got.status_code == 503
        assert "queue state unavailable" in got.json()["error"]
        assert "connection refused" in got.json()["error"]
    api.store.down = False
    assert (await api.client.post("/api/agents/1002/login")).json()["state"] == "available"


async def test_without_an_acd_the_api_says_so(registry: FlowRegistry) -> None:
    app = create_app(registry, token=TOKEN, extra_routes=acd_api.routes)
    async with make_client(app, {"Authorization": f"Bearer {TOKEN}"}) as c:
        for got in [await c.get("/api/agents"), await c.get("/api/queues/service"),
                    await c.post("/api/agents/1001/login")]:
            assert got.status_code == 503
            assert got.json()["error"] == "the ACD is not running on this server"

"""Agents and queues over HTTP (``/api/agents``, ``/api/queues``) and from the CLI."""

from __future__ import annotations

import argparse
import asyncio
import socket
import threading
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from conftest import TOKEN
from http_helpers import make_client

from coreswitch.acd.engine import Acd
from coreswitch.acd.memory import MemoryStore
from coreswitch.acd.model import AgentConfig, QueueConfig
from coreswitch.acd.queue_log import MemoryQueueLog
from coreswitch.cli import agents as agents_cli
from coreswitch.flows import FlowRegistry
from coreswitch.http import acd_api, build_server, create_app

AGENTS = [AgentConfig("1001", "user/1001", "张三", queues={"service": 1}, successor="1002",
                      handover_required=True),
          AgentConfig("1002", "user/1002", "李四", queues={"service": 1})]


QUEUES = [QueueConfig("service")]


def make_acd() -> tuple[Acd, MemoryQueueLog]:
    log = MemoryQueueLog()
    return Acd(MemoryStore(), log, queues=QUEUES, agents=AGENTS), log


@pytest.fixture
async def api(registry: FlowRegistry) -> AsyncIterator[tuple[httpx.AsyncClient, MemoryQueueLog]]:
    app = create_app(registry, token=TOKEN, extra_routes=acd_api.routes)
    acd, log = make_acd()
    await acd.store.configure(QUEUES, AGENTS)  # what Acd.start does in serve
    app.state.acd = acd
    async with make_client(app, {"Authorization": f"Bearer {TOKEN}"}) as c:
        yield c, log


async def test_login_away_and_available_change_the_agent_and_are_logged(
        api: tuple[httpx.AsyncClient, MemoryQueueLog]) -> None:
    client, log = api
    assert (await client.post("/api/agents/1002/login")).json()["state"] == "available"
    away = (await client.post("/api/agents/1002/away", json={"reason": "午餐"})).json()
    assert (away["state"], away["reason"]) == ("away", "午餐")
    agents = (await client.get("/api/agents")).json()["agents"]
    assert [(a["id"], a["state"]) for a in agents] == [("1001", "logged_out"), ("1002", "away")]
    assert [e.data["state"] for e in log.events("agent_state")] == ["available", "away"]
    queue = (await client.get("/api/queues/service")).json()
    assert (queue["agents_logged_in"], queue["waiting"], queue["callers"]) == (1, 0, [])


async def test_a_refused_logout_is_409_with_the_reason_and_force_overrides(
        api: tuple[httpx.AsyncClient, MemoryQueueLog]) -> None:
    client, _ = api
    await client.post("/api/agents/1001/login")
    refused = await client.post("/api/agents/1001/logout")
    assert refused.status_code == 409
    assert "successor 1002 is not logged in" in refused.json()["error"]
    forced = await client.post("/api/agents/1001/logout", json={"force": True})
    assert forced.json()["state"] == "logged_out"


async def test_unknown_agents_queues_and_actions_are_404(
        api: tuple[httpx.AsyncClient, MemoryQueueLog]) -> None:
    client, _ = api
    assert (await client.get("/api/agents/9999")).status_code == 404
    assert (await client.post("/api/agents/9999/login")).status_code == 404
    assert (await client.get("/api/queues/nope")).status_code == 404
    assert (await client.post("/api/agents/1001/dance")).status_code == 404


async def test_without_an_acd_the_api_says_so(registry: FlowRegistry) -> None:
    app = create_app(registry, token=TOKEN, extra_routes=acd_api.routes)
    async with make_client(app, {"Authorization": f"Bearer {TOKEN}"}) as c:
        got = await c.get("/api/agents")
    assert got.status_code == 503
    assert "not running" in got.json()["error"]


@pytest.fixture
def server(registry: FlowRegistry) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    app = create_app(registry, token=TOKEN, extra_routes=acd_api.routes)
    acd = make_acd()[0]
    asyncio.run(acd.store.configure(QUEUES, AGENTS))
    app.state.acd = acd
    uvicorn_server = build_server(app, f"127.0.0.1:{port}")
    thread = threading.Thread(target=lambda: asyncio.run(uvicorn_server.serve(sockets=[sock])),
                              name="uvicorn-acd")
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=15)


def _cli(url: str, handler: str, **kw: object) -> int:
    values: dict[str, object] = {"agent": None, "queue": None, "force": False, "reason": ""}
    args = argparse.Namespace(server=url, token=TOKEN, **{**values, **kw})
    return int(getattr(agents_cli, handler)(args))


def test_the_cli_logs_agents_in_lists_them_and_reports_refusals(
        server: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(server, "run_agents", action="login", agent="1001") == 0
    assert "agent 1001: available" in capsys.readouterr().out
    assert _cli(server, "run_agents", action="logout", agent="1001") == 1
    assert "successor 1002" in capsys.readouterr().err
    assert _cli(server, "run_agents", action="list") == 0
    out = capsys.readouterr().out
    assert "张三" in out
    assert "available" in out
    assert _cli(server, "run_queues", action="list") == 0
    assert "service" in capsys.readouterr().out
    assert _cli("http://127.0.0.1:9", "run_agents", action="list") == 2

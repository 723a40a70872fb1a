"""``coreswitch agents`` and ``coreswitch queues`` against a real uvicorn server on 127.0.0.1.

The server runs the admin app with an ACD on the in-process store and a fixed clock. Its event
loop runs in a thread; the test puts callers and calls in the store on that loop
(:meth:`Server.run`), as the engine does when a flow's caller waits and an agent answers. The
listening socket is bound before the thread starts, so the CLI's first request waits in the
backlog: no polling, no sleeps.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from starlette.applications import Starlette

from coreswitch.acd.engine import Acd
from coreswitch.acd.memory import MemoryStore
from coreswitch.acd.model import AgentConfig, Caller, Offer, QueueConfig
from coreswitch.acd.queue_log import MemoryQueueLog
from coreswitch.cli import main
from coreswitch.flows import FlowRegistry, LocalNotifier
from coreswitch.http import acd_api, build_server, create_app
from coreswitch.store import Database
from dsl import Environment

T = TypeVar("T")
TOKEN = "acd-cli-token"
NOW = 1_700_000_000.0
AGENTS = [AgentConfig("1001", "user/1001", "张三", queues={"service": 1}, successor="1002",
                      handover_required=True),
          AgentConfig("1002", "user/1002", "李四", queues={"service": 1, "billing": 2})]
QUEUES = [QueueConfig("service", wrap_up=10.0), QueueConfig("billing")]


@dataclass
class Server:
    url: str
    app: Starlette
    store: MemoryStore
    loop: asyncio.AbstractEventLoop

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the server's event loop and return its result."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=10)

    def call_answered_by(self, agent: str) -> Offer:
        async def work() -> Offer:
            await self.store.enqueue(Caller("c1", "service", "13800000000", entered=NOW - 30))
            offer = await self.store.dispatch("service", NOW, "local")
            assert offer is not None
            await self.store.offer_answered(offer, agent, NOW)
            return offer
        return self.run(work())


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    database = Database(f"sqlite:///{tmp_path / 'cli.db'}")
    database.upgrade_blocking()
    app = create_app(FlowRegistry(database, Environment, LocalNotifier()), token=TOKEN,
                     extra_routes=acd_api.routes)
    store = MemoryStore()
    app.state.acd = Acd(store, MemoryQueueLog(), queues=QUEUES, agents=AGENTS, clock=lambda: NOW)
    uvicorn_server = build_server(app, f"127.0.0.1:{port}")
    loop = asyncio.new_event_loop()
    served = Server(f"http://127.0.0.1:{port}", app, store, loop)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            loop.run_until_complete(uvicorn_server.serve(sockets=[sock]))
        except BaseException as exc:  # reported by the fixture
            failure.append(exc)

    thread = threading.Thread(target=run, name="uvicorn-acd-cli")
    thread.start()
    try:
        served.run(store.configure(QUEUES, AGENTS))  # what Acd.start does in serve
        yield served
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=15)
        loop.close()
        sock.close()
        database.close_blocking()
    assert not thread.is_alive(), "uvicorn did not stop"
    assert failure == []


def _cli(server: Server, *argv: str, token: str = TOKEN) -> int:
    command, *rest = argv
    return main([command, "--server", server.url, "--token", token, *rest])


def _rows(out: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines()]


def _at(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch).strftime("%H:%M:%S")


def test_login_away_available_and_the_agents_table(server: Server,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(server, "agents", "login", "1002") == 0
    assert capsys.readouterr().out == "agent 1002: available\n"
    assert _cli(server, "agents", "away", "1002", "--reason", "午餐") == 0
    assert capsys.readouterr().out == "agent 1002: away (午餐)\n"
    assert _cli(server, "agents", "list") == 0
    assert _rows(capsys.readouterr().out) == [
        ["AGENT", "NAME", "STATE", "REASON", "SINCE", "QUEUES", "ANSWERED", "TALK"],
        ["1001", "张三", "logged_out", "-", "-", "service", "0", "0s"],
        ["1002", "李四", "away", "午餐", _at(NOW), "billing,service", "0", "0s"]]
    assert _cli(server, "agents", "available", "1002") == 0
    assert capsys.readouterr().out == "agent 1002: available\n"
    assert _cli(server, "agents", "status", "1002") == 0
    assert _rows(capsys.readouterr().out)[1][:3] == ["1002", "李四", "available"]


def test_the_agents_table_aligns_chinese_names(server: Server,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(server, "agents", "list") == 0
    header, first, _second = capsys.readouterr().out.splitlines()
    # 张三 is four columns wide, like "NAME": the STATE column starts at the same place
    assert header.index("STATE") == first.index("logged_out") + 2


def test_refusals_exit_1_with_the_reason_and_force_overrides(
        server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(server, "agents", "login", "1001") == 0
    capsys.readouterr()
    assert _cli(server, "agents", "logout", "1001") == 1
    assert capsys.readouterr().err == (
        "coreswitch agents logout: agent 1001 cannot log out: successor 1002 is not logged in "
        "(shift handover); use force to override\n")
    assert _cli(server, "agents", "logout", "1001", "--force") == 0
    assert capsys.readouterr().out == "agent 1001: logged_out\n"
    assert _cli(server, "agents", "away", "1001") == 1
    assert "agent 1001 is not logged in" in capsys.readouterr().err


def test_during_a_call_logout_is_refused_and_away_waits_for_the_end(
        server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(server, "agents", "login", "1002") == 0
    offer = server.call_answered_by("1002")
    capsys.readouterr()
    assert _cli(server, "agents", "logout", "1002") == 1
    assert "during a call or offer (state on_call); try again when it ends" in (
        capsys.readouterr().err)
    assert _cli(server, "agents", "away", "1002", "--reason", "培训") == 0
    assert capsys.readouterr().out == "agent 1002: on_call; away (培训) when the call ends\n"
    server.run(server.store.call_ended(offer, "1002", 60.0, NOW + 60))
    assert _cli(server, "agents", "status", "1002") == 0
    assert _rows(capsys.readouterr().out)[1] == [
        "1002", "李四", "away", "培训", _at(NOW + 60), "billing,service", "1", "60s"]


def test_wrap_up_done(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(server, "agents", "login", "1002") == 0
    offer = server.call_answered_by("1002")
    server.run(server.store.call_ended(offer, "1002", 45.0, NOW))
    capsys.readouterr()
    assert _cli(server, "agents", "status", "1002") == 0
    assert _rows(capsys.readouterr().out)[1][2] == "wrap_up"
    assert _cli(server, "agents", "wrap-up-done", "1002") == 0
    assert capsys.readouterr().out == "agent 1002: available\n"


def test_queues_list_and_status_with_the_callers_in_order(
        server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    async def callers() -> None:
        await server.store.enqueue(Caller("a", "service", "13900000001", entered=NOW - 50))
        await server.store.enqueue(Caller("b", "service", "13900000002", entered=NOW - 40))
        await server.store.enqueue(Caller("v", "service", "13900000003", entered=NOW - 5,
                                          priority=100))
        await server.store.book_callback("b", "13900000002")
    server.run(callers())
    assert _cli(server, "agents", "login", "1002") == 0
    capsys.readouterr()
    assert _cli(server, "queues", "list") == 0
    rows = _rows(capsys.readouterr().out)
    assert rows[0] == ["QUEUE", "WAITING", "CALLBACKS", "LOGGED", "IN", "AVAILABLE", "OLDEST",
                       "AHT"]
    assert [r[:6] for r in rows[1:]] == [["billing", "0", "0", "1", "1", "0s"],
                                         ["service", "3", "1", "1", "1", "50s"]]
    assert _cli(server, "queues", "status", "service") == 0
    rows = _rows(capsys.readouterr().out)
    assert rows[1][:3] == ["service", "3", "1"]
    assert rows[2:] == [[], ["#", "CALLER", "PRIORITY", "WAITED", "KIND"],
                        ["1", "13900000003", "100", "5s", "waiting"],
                        ["2", "13900000001", "0", "50s", "waiting"],
                        ["3", "13900000002", "0", "40s", "callback"]]
    assert _cli(server, "queues", "status", "billing") == 0
    assert capsys.readouterr().out.endswith("\nno callers waiting\n")


def test_unknown_agent_or_queue_exits_1(server: Server,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(server, "agents", "login", "9999") == 1
    assert capsys.readouterr().err == "coreswitch agents login: unknown agent '9999'\n"
    assert _cli(server, "queues", "status", "nope") == 1
    assert "unknown queue 'nope' (known: billing, service)" in capsys.readouterr().err


def test_a_wrong_token_exits_2(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(server, "agents", "login", "1002", token="wrong") == 2
    assert "refused the admin token (HTTP 401)" in capsys.readouterr().err
    assert _cli(server, "agents", "status", "1002") == 0
    assert _rows(capsys.readouterr().out)[1][2] == "logged_out"


@pytest.mark.parametrize(("argv", "message"), [
    (["agents", "login"], "coreswitch agents login: which agent? (coreswitch agents login ID)"),
    (["agents", "list", "1001"], "takes no agent (coreswitch agents status 1001)"),
    (["agents", "away", "1001", "--force"], "--force goes with logout"),
    (["agents", "logout", "1001", "--reason", "x"], "--reason goes with away"),
    (["queues", "status"], "which queue? (coreswitch queues status NAME)"),
    (["queues", "list", "service"], "takes no queue (coreswitch queues status service)"),
])
def test_usage_errors_exit_2_without_asking_the_server(
        argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*argv, "--server", "http://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "cannot reach" not in err


def test_an_unknown_action_is_an_argparse_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["agents", "dance", "1001"])
    assert exited.value.code == 2
    assert "invalid choice: 'dance'" in capsys.readouterr().err


def test_a_clear_message_when_the_server_is_down(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert main(["queues", "list", "--server", f"http://127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"coreswitch queues list: cannot reach the coreswitch server at "
                          f"http://127.0.0.1:{port} (connection refused)")
    assert "coreswitch serve" in err


def test_server_and_token_come_from_the_environment(
        server: Server, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CORESWITCH_SERVER", server.url)
    monkeypatch.setenv("CORESWITCH_TOKEN", TOKEN)
    assert main(["agents", "login", "1002"]) == 0
    assert capsys.readouterr().out == "agent 1002: available\n"


def test_without_an_acd_the_cli_says_so(server: Server,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    server.app.state.acd = None  # a server started without [acd]
    assert _cli(server, "agents", "list") == 2
    assert capsys.readouterr().err == (
        "coreswitch agents list: the ACD is not running on this server\n")

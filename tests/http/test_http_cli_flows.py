"""``coreswitch flows`` against a real uvicorn server started in the test on 127.0.0.1.

The listening socket is bound before the server thread starts, so requests made before uvicorn
is serving wait in the backlog: no polling, no sleeps. Every join is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from http_helpers import flow

from coreswitch.cli import check as check_cli
from coreswitch.cli import flows as flows_cli
from coreswitch.flows import FlowRegistry, LocalNotifier
from coreswitch.http import build_server, create_app
from coreswitch.store import Database
from dsl import Environment

TOKEN = "cli-token"


@dataclass
class Server:
    url: str
    registry: FlowRegistry


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    database = Database(f"sqlite:///{tmp_path / 'cli.db'}")
    database.upgrade_blocking()
    registry = FlowRegistry(database, Environment, LocalNotifier())
    uvicorn_server = build_server(create_app(registry, token=TOKEN), f"127.0.0.1:{port}")
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(uvicorn_server.serve(sockets=[sock]))
        except BaseException as exc:  # reported by the fixture
            failure.append(exc)

    thread = threading.Thread(target=run, name="uvicorn-test")
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{port}", registry)
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        database.close_blocking()
    assert not thread.is_alive(), "uvicorn did not stop"
    assert failure == []


def _cli(module: object, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="coreswitch")
    module.register(parser.add_subparsers(dest="command"))  # type: ignore[attr-defined]
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


def _flows(server: Server, *argv: str, token: str = TOKEN) -> int:
    return _cli(flows_cli, ["flows", "--server", server.url, "--token", token, *argv])


def test_publish_list_versions_rollback_diff(server: Server, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "demo.flow"
    path.write_text(flow(tag="v1", greeting="旧"), encoding="utf-8")
    assert _flows(server, "publish", str(path), "--note", "首版") == 0
    out = capsys.readouterr().out
    assert out.startswith("published demo version 1 (sha256:")
    path.write_text(flow(tag="v2", greeting="新"), encoding="utf-8")
    assert _flows(server, "publish", str(path)) == 0
    assert _flows(server, "publish", str(path)) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("unchanged: version 2 of demo")

    assert _flows(server, "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["FLOW", "VERSION", "HASH", "DNIS"]
    assert lines[1].split()[:2] == ["demo", "2"]
    assert lines[1].endswith("4000, 95598")

    assert _flows(server, "rollback", "demo", "1") == 0
    assert capsys.readouterr().out == "rolled back demo to version 1 (was 2)\n"
    live = server.registry.resolve("95598")
    assert live is not None
    assert live.version == 1

    assert _flows(server, "versions", "demo") == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[1].startswith("*1 ")
    assert rows[1].endswith("首版")
    assert rows[2].startswith(" 2 ")

    assert _flows(server, "diff", "demo", "1", "2") == 0
    diff = capsys.readouterr().out
    assert diff.startswith("--- demo@1\n+++ demo@2\n")
    assert '+  say "新"\n' in diff


def test_a_refused_publish_prints_what_check_prints_and_exits_1(
        server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "demo.flow"
    good.write_text(flow(), encoding="utf-8")
    assert _flows(server, "publish", str(good)) == 0
    capsys.readouterr()
    bad = tmp_path / "broken.flow"
    bad.write_text(flow(tag="v2", broken=True), encoding="utf-8")
    assert _flows(server, "publish", str(bad)) == 1
    published = capsys.readouterr()
    assert _cli(check_cli, ["check", str(bad)]) == 1
    checked = capsys.readouterr().out
    summary = checked.rstrip("\n").rsplit("\n", 1)[0] + "\n"
    assert published.out == summary  # identical diagnostics, without check's count line
    assert "error[E201]" in published.out
    assert published.err.startswith("coreswitch flows publish: refused: 1 error in ")
    assert "live version 1 stays" in published.err
    live = server.registry.resolve("95598")
    assert live is not None
    assert live.version == 1
    assert _flows(server, "validate", str(bad)) == 1
    assert _flows(server, "validate", str(good)) == 0


def test_wrong_token_unknown_flow_and_missing_file(server: Server, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert _flows(server, "list", token="wrong") == 2
    assert "refused the admin token (HTTP 401)" in capsys.readouterr().err
    assert _flows(server, "rollback", "ghost", "1") == 1
    assert "no flow named 'ghost'" in capsys.readouterr().err
    assert _flows(server, "publish", str(tmp_path / "missing.flow")) == 2
    assert "cannot read" in capsys.readouterr().err


def test_a_clear_message_when_the_server_is_down(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = _cli(flows_cli, ["flows", "list", "--server", f"http://127.0.0.1:{port}"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"cannot reach the coreswitch server at http://127.0.0.1:{port}" in err
    assert "connection refused" in err
    assert "coreswitch serve" in err


def test_server_and_token_come_from_the_environment(
        server: Server, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CORESWITCH_SERVER", server.url)
    monkeypatch.setenv("CORESWITCH_TOKEN", TOKEN)
    assert _cli(flows_cli, ["flows", "list"]) == 0
    assert capsys.readouterr().out.split() == ["FLOW", "VERSION", "HASH", "DNIS"]

"""``coreswitch agents`` and ``coreswitch queues``: agent operations and queue status.

    coreswitch agents list
    coreswitch agents status ID
    coreswitch agents login ID
    coreswitch agents logout ID [--force]
    coreswitch agents away ID [--reason TEXT]
    coreswitch agents available ID
    coreswitch agents wrap-up-done ID
    coreswitch queues list
    coreswitch queues status NAME

Talks to the admin HTTP API of ``coreswitch serve`` (``/api/agents``, ``/api/queues``) with
``--server``/``--token`` as ``coreswitch flows`` does. Exit codes: 0 done, 1 refused (e.g. a
logout during a call, or before the successor of a shift handover has logged in) or unknown
agent/queue, 2 usage, or the server cannot be reached, refuses the token, runs no ACD or cannot
reach its queue state (Redis).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from coreswitch.cli.flows import (
    DEFAULT_SERVER,
    TIMEOUT,
    _Failure,
    _json,
    _reason,
    _table,
    _who,
    server_options,
)

_AGENT_ACTIONS = ("list", "status", "login", "logout", "away", "available", "wrap-up-done")
_BUSY = ("offered", "on_call")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = server_options()
    agents = subparsers.add_parser(
        "agents", parents=[common], help="agents on a running server: list, login, away …",
        description="Agent operations on a running coreswitch server (admin HTTP API).")
    agents.add_argument("action", choices=_AGENT_ACTIONS)
    agents.add_argument("agent", nargs="?", metavar="ID", help="the agent (工号)")
    agents.add_argument("--force", action="store_true",
                        help="logout: even during a call or before the shift successor has "
                             "logged in")
    agents.add_argument("--reason", default=None, help="away: why (shown to supervisors)")
    agents.set_defaults(handler=run_agents)
    queues = subparsers.add_parser(
        "queues", parents=[common], help="queue status on a running server",
        description="Queue status on a running coreswitch server (admin HTTP API).")
    queues.add_argument("action", choices=("list", "status"))
    queues.add_argument("queue", nargs="?", metavar="NAME")
    queues.set_defaults(handler=run_queues)


def _client(args: argparse.Namespace) -> tuple[httpx.Client, str]:
    server = (getattr(args, "server", None) or os.environ.get("CORESWITCH_SERVER")
              or DEFAULT_SERVER).rstrip("/")
    token = getattr(args, "token", None) or os.environ.get("CORESWITCH_TOKEN", "")
    headers = {"X-Coreswitch-User": _who()}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.Client(base_url=server, headers=headers, timeout=TIMEOUT), server


def _run(args: argparse.Namespace, what: str, work: Callable[[httpx.Client], int]) -> int:
    client, server = _client(args)
    try:
        with client:
            return work(client)
    except _Failure as exc:
        print(f"coreswitch {what}: {exc}", file=sys.stderr)
        return exc.code
    except httpx.TransportError as exc:
        print(f"coreswitch {what}: cannot reach the coreswitch server at {server} "
              f"({_reason(exc)}); is `coreswitch serve` running? "
              "Set --server or $CORESWITCH_SERVER.", file=sys.stderr)
        return 2


def _usage(what: str, message: str) -> int:
    print(f"coreswitch {what}: {message}", file=sys.stderr)
    return 2


def _ok(response: httpx.Response) -> dict[str, Any]:
    if response.status_code == 409:
        raise _Failure(response.json().get("error", "refused"), 1)
    result: dict[str, Any] = _json(response)
    return result


def _since(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch).strftime("%H:%M:%S") if epoch else "-"


def _agent_rows(agents: list[dict[str, Any]]) -> None:
    _table(("AGENT", "NAME", "STATE", "REASON", "SINCE", "QUEUES", "ANSWERED", "TALK"),
           [(a["id"], a["name"] or "-", a["state"], a["reason"] or "-", _since(a["since"]),
             ",".join(sorted(a["queues"])) or "-", a["calls_answered"],
             f"{a['talk_time']:.0f}s") for a in agents])
    if not agents:
        print("(no agents configured: [acd.agents] in the server's configuration)")


def _changed(action: str, status: dict[str, Any], reason: str | None) -> str:
    line = f"agent {status['id']}: {status['state']}"
    if status["reason"]:
        line += f" ({status['reason']})"
    if action == "away" and status["state"] in _BUSY:
        line += f"; away{f' ({reason})' if reason else ''} when the call ends"
    return line


def run_agents(args: argparse.Namespace) -> int:
    action, agent = args.action, args.agent
    what = f"agents {action}"
    if action == "list" and agent:
        return _usage(what, f"takes no agent (coreswitch agents status {agent})")
    if action != "list" and not agent:
        return _usage(what, f"which agent? (coreswitch agents {action} ID)")
    if args.force and action != "logout":
        return _usage(what, "--force goes with logout")
    if args.reason is not None and action != "away":
        return _usage(what, "--reason goes with away")
    path = f"/api/agents/{quote(agent or '', safe='')}"

    def work(client: httpx.Client) -> int:
        if action == "list":
            _agent_rows(_ok(client.get("/api/agents"))["agents"])
            return 0
        if action == "status":
            _agent_rows([_ok(client.get(path))])
            return 0
        body: dict[str, Any] = {}
        if action == "logout":
            body = {"force": args.force}
        elif action == "away":
            body = {"reason": args.reason or ""}
        status = _ok(client.post(f"{path}/{action.replace('-', '_')}", json=body))
        print(_changed(action, status, args.reason))
        return 0

    return _run(args, what, work)


def _callers(callers: list[dict[str, Any]]) -> None:
    if not callers:
        print("\nno callers waiting")
        return
    print()
    _table(("#", "CALLER", "PRIORITY", "WAITED", "KIND"),
           [(c["position"], c["ani"] or "-", c["priority"], f"{c['waited']:.0f}s",
             "callback" if c["callback"] else "waiting") for c in callers])


def run_queues(args: argparse.Namespace) -> int:
    action, name = args.action, args.queue
    what = f"queues {action}"
    if action == "status" and not name:
        return _usage(what, "which queue? (coreswitch queues status NAME)")
    if action == "list" and name:
        return _usage(what, f"takes no queue (coreswitch queues status {name})")

    def work(client: httpx.Client) -> int:
        if action == "status":
            queues = [_ok(client.get(f"/api/queues/{quote(name, safe='')}"))]
        else:
            queues = _ok(client.get("/api/queues"))["queues"]
        _table(("QUEUE", "WAITING", "CALLBACKS", "LOGGED IN", "AVAILABLE", "OLDEST", "AHT"),
               [(q["name"], q["waiting"], q["callbacks"], q["agents_logged_in"],
                 q["agents_available"], f"{q['oldest_wait']:.0f}s", f"{q['average_handle']:.0f}s")
                for q in queues])
        if action == "status":
            _callers(queues[0]["callers"])
        elif not queues:
            print("(no queues configured: [acd.queues] in the server's configuration)")
        return 0

    return _run(args, what, work)

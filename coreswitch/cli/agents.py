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
logout during a call, or before the successor of a shift handover has logged in) or unknown,
2 the server cannot be reached or refuses the token.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from typing import Any

import httpx

from coreswitch.cli.flows import DEFAULT_SERVER, TIMEOUT, _Failure, _json, _reason, _table, _who

_AGENT_ACTIONS = ("list", "status", "login", "logout", "away", "available", "wrap-up-done")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--server", metavar="URL", default=argparse.SUPPRESS,
                        help=f"admin API of the server (default $CORESWITCH_SERVER or "
                             f"{DEFAULT_SERVER})")
    common.add_argument("--token", metavar="TOKEN", default=argparse.SUPPRESS,
                        help="admin token (default $CORESWITCH_TOKEN)")
    agents = subparsers.add_parser(
        "agents", parents=[common], help="agents on a running server: list, login, away …",
        description="Agent operations on a running coreswitch server (admin HTTP API).")
    agents.add_argument("action", choices=_AGENT_ACTIONS)
    agents.add_argument("agent", nargs="?", metavar="ID", help="the agent (工号)")
    agents.add_argument("--force", action="store_true",
                        help="logout: even before the shift successor has logged in")
    agents.add_argument("--reason", default="", help="away: why (shown to supervisors)")
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


def _run(args: argparse.Namespace, what: str, work: Any) -> int:
    client, server = _client(args)
    try:
        with client:
            return int(work(client))
    except _Failure as exc:
        print(f"coreswitch {what}: {exc}", file=sys.stderr)
        return exc.code
    except httpx.TransportError as exc:
        print(f"coreswitch {what}: cannot reach the coreswitch server at {server} "
              f"({_reason(exc)}); is `coreswitch serve` running? "
              "Set --server or $CORESWITCH_SERVER.", file=sys.stderr)
        return 2


def _ok(response: httpx.Response) -> dict[str, Any]:
    if response.status_code == 409:
        raise _Failure(response.json().get("error", "refused"), 1)
    result: dict[str, Any] = _json(response)
    return result


def _since(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch).strftime("%H:%M:%S") if epoch else "-"


def _agent_rows(agents: list[dict[str, Any]]) -> None:
    _table(("agent", "name", "state", "reason", "since", "queues", "answered", "talk"),
           [(a["id"], a["name"] or "-", a["state"], a["reason"] or "-", _since(a["since"]),
             ",".join(sorted(a["queues"])), a["calls_answered"], f"{a['talk_time']:.0f}s")
            for a in agents])


def run_agents(args: argparse.Namespace) -> int:
    action = args.action
    if action != "list" and not args.agent:
        print(f"coreswitch agents {action}: which agent? (coreswitch agents {action} ID)",
              file=sys.stderr)
        return 2

    def work(client: httpx.Client) -> int:
        if action == "list":
            _agent_rows(_ok(client.get("/api/agents"))["agents"])
            return 0
        if action == "status":
            _agent_rows([_ok(client.get(f"/api/agents/{args.agent}"))])
            return 0
        body: dict[str, Any] = {}
        if action == "logout":
            body = {"force": args.force}
        elif action == "away":
            body = {"reason": args.reason}
        path = action.replace("-", "_")
        status = _ok(client.post(f"/api/agents/{args.agent}/{path}", json=body))
        print(f"agent {status['id']}: {status['state']}"
              + (f" ({status['reason']})" if status["reason"] else ""))
        return 0

    return _run(args, f"agents {action}", work)


def run_queues(args: argparse.Namespace) -> int:
    def work(client: httpx.Client) -> int:
        if args.action == "status" and args.queue:
            q = _ok(client.get(f"/api/queues/{args.queue}"))
            queues = [q]
        else:
            queues = _ok(client.get("/api/queues"))["queues"]
        _table(("queue", "waiting", "callbacks", "logged in", "available", "oldest", "aht"),
               [(q["name"], q["waiting"], q["callbacks"], q["agents_logged_in"],
                 q["agents_available"], f"{q['oldest_wait']:.0f}s", f"{q['average_handle']:.0f}s")
                for q in queues])
        if args.action == "status" and args.queue:
            for i, c in enumerate(queues[0].get("callers", []), 1):
                kind = "callback" if c["callback"] else "waiting"
                print(f"  {i}. {c['ani']} priority {c['priority']} ({kind})")
        return 0

    return _run(args, f"queues {args.action}", work)

"""``coreswitch flows``: publish, roll back and inspect flows on a running server.

    coreswitch flows publish FILE [--name NAME] [--note TEXT]
    coreswitch flows validate FILE [--name NAME]
    coreswitch flows rollback NAME VERSION
    coreswitch flows list
    coreswitch flows versions NAME
    coreswitch flows diff NAME A B

Talks to the admin HTTP API of ``coreswitch serve``: ``--server`` (default
``$CORESWITCH_SERVER`` or http://127.0.0.1:8080) with ``--token`` (default
``$CORESWITCH_TOKEN``). A refused publish prints the diagnostics exactly as
``coreswitch check`` does. Exit codes: 0 done (or unchanged), 1 refused or not found,
2 the server cannot be reached, refuses the token, or the command line is wrong.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from coreswitch.flows.registry import header_name

DEFAULT_SERVER = "http://127.0.0.1:8080"
TIMEOUT = httpx.Timeout(60.0, connect=5.0)


class _Failure(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def server_options() -> argparse.ArgumentParser:
    """``--server`` and ``--token``, shared by every command that talks to a running server."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--server", metavar="URL", default=argparse.SUPPRESS,
                        help=f"admin API of the server (default $CORESWITCH_SERVER or "
                             f"{DEFAULT_SERVER})")
    common.add_argument("--token", metavar="TOKEN", default=argparse.SUPPRESS,
                        help="admin token (default $CORESWITCH_TOKEN)")
    return common


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = server_options()
    p = subparsers.add_parser(
        "flows", parents=[common], help="publish, roll back and list flows on a running server",
        description="Operations on the flows of a running coreswitch server (admin HTTP API).")
    actions = p.add_subparsers(dest="flows_action", metavar="ACTION", required=True)

    pub = actions.add_parser("publish", parents=[common], help="check and publish a flow file")
    pub.add_argument("file", metavar="FILE", help="the .flow file")
    pub.add_argument("--name", help="flow name (default: the name in the file's header)")
    pub.add_argument("--note", default="", help="a note kept with the version")

    val = actions.add_parser("validate", parents=[common],
                             help="check a flow file on the server without publishing it")
    val.add_argument("file", metavar="FILE")
    val.add_argument("--name", help="flow name (default: the name in the file's header)")

    rb = actions.add_parser("rollback", parents=[common],
                            help="make an earlier version of a flow live again")
    rb.add_argument("name", metavar="NAME")
    rb.add_argument("version", metavar="VERSION", type=int)

    actions.add_parser("list", parents=[common], help="live flows and the numbers they serve")

    vs = actions.add_parser("versions", parents=[common], help="every version of a flow")
    vs.add_argument("name", metavar="NAME")

    df = actions.add_parser("diff", parents=[common], help="diff two versions of a flow")
    df.add_argument("name", metavar="NAME")
    df.add_argument("a", metavar="A", type=int)
    df.add_argument("b", metavar="B", type=int)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    server = (getattr(args, "server", None) or os.environ.get("CORESWITCH_SERVER")
              or DEFAULT_SERVER).rstrip("/")
    token = getattr(args, "token", None) or os.environ.get("CORESWITCH_TOKEN", "")
    headers = {"X-Coreswitch-User": _who()}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    action = args.flows_action
    try:
        with httpx.Client(base_url=server, headers=headers, timeout=TIMEOUT) as client:
            return int(_ACTIONS[action](client, args))
    except _Failure as exc:
        print(f"coreswitch flows {action}: {exc}", file=sys.stderr)
        return exc.code
    except httpx.TransportError as exc:
        print(f"coreswitch flows {action}: cannot reach the coreswitch server at {server} "
              f"({_reason(exc)}); is `coreswitch serve` running? "
              "Set --server or $CORESWITCH_SERVER.", file=sys.stderr)
        return 2


def _who() -> str:
    try:
        who = os.environ.get("CORESWITCH_USER") or getpass.getuser()
    except (KeyError, OSError):
        who = "cli"
    return who.encode("ascii", "replace").decode("ascii")


def _reason(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "connection refused" if "refused" in str(exc).lower() else f"cannot connect: {exc}"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return str(exc) or type(exc).__name__


def _json(response: httpx.Response, *, ok: tuple[int, ...] = (200,)) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code == 401:
        raise _Failure("the server refused the admin token (HTTP 401); pass --token or set "
                       "$CORESWITCH_TOKEN", 2)
    if response.status_code in ok and isinstance(body, dict):
        return body
    message = body.get("error") if isinstance(body, dict) else None
    raise _Failure(message or f"HTTP {response.status_code}: {response.text[:200]}",
                   1 if response.status_code in (404, 400) else 2)


def _read(path: str) -> str:
    try:
        return Path(path).read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        raise _Failure(f"cannot read {path}: {exc.strerror or exc}", 2) from None


def _print_diagnostics(body: dict[str, Any]) -> None:
    for diag in body.get("diagnostics", []):  # as `coreswitch check` prints them
        print(diag["rendered"] + "\n")


def _send_file(client: httpx.Client, args: argparse.Namespace, what: str
               ) -> tuple[httpx.Response, str]:
    source = _read(args.file)
    name = args.name or header_name(source) or Path(args.file).name.removesuffix(".flow")
    params = {"filename": args.file}
    if getattr(args, "note", ""):
        params["note"] = args.note
    response = client.post(f"/api/flows/{name}/{what}", content=source.encode("utf-8"),
                           params=params,
                           headers={"Content-Type": "text/plain; charset=utf-8"})
    return response, name


def _publish(client: httpx.Client, args: argparse.Namespace) -> int:
    response, _name = _send_file(client, args, "publish")
    body = _json(response, ok=(200, 422))
    _print_diagnostics(body)
    if body["status"] == "refused":
        print(f"coreswitch flows publish: {body['message']}", file=sys.stderr)
        return 1
    print(f"{body['message']} ({body['content_hash']})")
    return 0


def _validate(client: httpx.Client, args: argparse.Namespace) -> int:
    response, _name = _send_file(client, args, "validate")
    body = _json(response)
    _print_diagnostics(body)
    errors = sum(1 for d in body["diagnostics"] if d["severity"] == "error")
    print(f"{args.file}: {'ok' if body['ok'] else f'{errors} error(s)'}")
    return 0 if body["ok"] else 1


def _rollback(client: httpx.Client, args: argparse.Namespace) -> int:
    response = client.post(f"/api/flows/{args.name}/rollback", json={"version": args.version})
    body = _json(response, ok=(200, 422))
    _print_diagnostics(body)
    if body["status"] == "refused":
        print(f"coreswitch flows rollback: {body['message']}", file=sys.stderr)
        return 1
    print(body["message"])
    return 0


def _list(client: httpx.Client, args: argparse.Namespace) -> int:
    body = _json(client.get("/api/flows"))
    rows = [(f["name"], str(f["version"]), f["content_hash"][:19], ", ".join(f["dnis"]) or "-")
            for f in body["flows"]]
    _table(("FLOW", "VERSION", "HASH", "DNIS"), rows)
    for number, name in sorted(body.get("dangling_routes", {}).items()):
        print(f"warning: [flows].routes sends {number} to '{name}', which is not published")
    return 0


def _versions(client: httpx.Client, args: argparse.Namespace) -> int:
    body = _json(client.get(f"/api/flows/{args.name}/versions"))
    rows = [(("*" if v["live"] else " ") + str(v["version"]), v["published_at"][:19] + "Z",
             v["published_by"], v["content_hash"][:19], v["note"]) for v in body["versions"]]
    _table(("VERSION", "PUBLISHED (UTC)", "BY", "HASH", "NOTE"), rows)
    return 0


def _diff(client: httpx.Client, args: argparse.Namespace) -> int:
    body = _json(client.get(f"/api/flows/{args.name}/diff", params={"a": args.a, "b": args.b}))
    sys.stdout.write(body["diff"])
    return 0


def _width(text: str) -> int:
    """Columns ``text`` takes in a terminal (CJK characters take two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _table(header: tuple[str, ...], rows: Sequence[tuple[Any, ...]]) -> None:
    widths = [max(_width(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(c) + " " * (w - _width(str(c)))
                        for c, w in zip(row, widths, strict=True)).rstrip())


_ACTIONS = {"publish": _publish, "validate": _validate, "rollback": _rollback, "list": _list,
            "versions": _versions, "diff": _diff}

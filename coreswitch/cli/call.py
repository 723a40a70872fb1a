"""``coreswitch call FLOW``: one simulated call through a flow, its transcript as JSON lines.

The call runs in the in-process simulated switch on the virtual clock (no phone, no speech
engine, no waiting): ``--dtmf "1,#,1234#"`` gives one key group per input — each group is
pressed when the flow next waits for keys; ``--script`` gives a timed caller script instead
(``"wait 3; press 2; press 03 after 1; hangup after 5"``). ``--mock NAME=JSON`` answers a plugin
function (``--mock crm.customer_tier='"VIP"'``, ``--mock billing.balance=fail``); functions not
mocked fail, so the flow's failure routes run. ``--at "2026-11-23 09:00"`` sets the clock.

Exit status: 0 when the flow handled the call to its end (whichever way it ended: a hangup,
the caller hanging up, a transfer); 1 when the flow faulted and the call went back to the
dialplan's fallback (the transcript then ends with ``error`` and ``fallback`` entries) or the
flow does not compile; 2 for a usage error (no such file, a bad ``--mock`` or ``--at``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import dsl
from coreswitch.cli.check import environment_for, read_source
from coreswitch.runtime.functions import FunctionRegistry, flow_value, mock
from coreswitch.runtime.harness import SimHarness
from coreswitch.runtime.interpreter import Deps, RunResult
from coreswitch.runtime.prompts import VirtualRenderer
from coreswitch.runtime.services import LocalServices
from coreswitch.runtime.virtual_time import run as run_virtual
from dsl.diagnostics import render


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("call", help="one simulated call through a flow; prints the transcript",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("flow", metavar="FLOW", type=Path, help="the .flow file")
    p.add_argument("--ani", default="13800138000", help="caller number (13800138000)")
    p.add_argument("--dnis", default="", help="number dialled (default: the flow's first)")
    p.add_argument("--dtmf", default="", help='key groups, one per input: "1,#,1234#"')
    p.add_argument("--script", default="", help="a timed caller script instead of --dtmf")
    p.add_argument("--hangup", action="store_true",
                   help="hang up when the flow waits for keys and no --dtmf group is left")
    p.add_argument("--mock", action="append", default=[], metavar="NAME=JSON",
                   help="a function's answer (JSON), or NAME=fail; repeatable")
    p.add_argument("--at", help='start time "YYYY-MM-DD HH:MM" in the flow\'s time zone '
                                "(default: now)")
    p.add_argument("--providers", metavar="FILE", help="providers.toml (default: beside FLOW)")
    p.set_defaults(handler=run)


def _mocks(specs: list[str]) -> FunctionRegistry:
    registry = FunctionRegistry()
    for spec in specs:
        name, sep, raw = spec.partition("=")
        if not sep or not name:
            raise ValueError(f"--mock {spec!r}: expected NAME=JSON or NAME=fail")
        if raw == "fail":
            registry.register(name, mock(fails="mocked failure"), provider="cli")
            continue
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--mock {name}: not JSON ({exc.msg}); text needs quotes: "
                             f"{name}='\"text\"'") from None
        registry.register(name, mock(flow_value(value)), provider="cli")
    return registry


def run(args: argparse.Namespace) -> int:
    if not args.flow.exists():
        print(f"coreswitch call: {args.flow}: no such file", file=sys.stderr)
        return 2
    source = read_source(args.flow)
    ir, diags = dsl.compile_source(source, environment_for(args.flow, args.providers))
    if ir is None:
        for d in diags:
            if d.is_error:
                print(render(d, str(args.flow), source) + "\n", file=sys.stderr)
        return 1
    try:
        functions = _mocks(args.mock)
        at = dt.datetime.strptime(args.at, "%Y-%m-%d %H:%M") if args.at else None
    except ValueError as exc:
        print(f"coreswitch call: {exc}", file=sys.stderr)
        return 2
    answers = args.dtmf.split(",") if args.dtmf else []

    async def one_call() -> RunResult:
        async with SimHarness() as harness:
            deps = Deps(functions, LocalServices(), VirtualRenderer())
            deps.renderer = harness.virtual_renderer()
            return await harness.call(ir, deps, ani=args.ani, dnis=args.dnis,
                                      caller=args.script, at=at,
                                      answers=None if args.script else answers,
                                      hangup_when_done=args.hangup)

    result = run_virtual(one_call())
    for line in result.transcript.lines():
        print(line)
    if result.outcome == "fallback":
        print(f"coreswitch call: {args.flow}: the flow faulted; the call went back to the "
              "dialplan (fallback)", file=sys.stderr)
        return 1
    return 0

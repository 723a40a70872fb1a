"""``coreswitch test PATH...``: run flow tests on the virtual clock.

Runs the ``test`` cases of ``*.test.flow`` files and of flows with ``test`` blocks, each as one
call through the in-process simulated switch (see docs/flow-language.md, "Flow tests").
Prints ``PASS``/``FAIL`` per case with what went wrong, and ends with ``N passed, M failed``.
``--coverage`` lists, per flow, the states no test entered and the branches no test took;
``-v`` prints the transcript of every failed case. Exit 1 when a case fails, a test file does
not check, or no test was found.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

from coreswitch.cli.check import environment_for, read_source
from coreswitch.runtime import flowtest
from coreswitch.runtime.functions import FunctionRegistry
from coreswitch.runtime.harness import SimHarness
from coreswitch.runtime.interpreter import Deps, RunResult
from coreswitch.runtime.prompts import VirtualRenderer
from coreswitch.runtime.services import LocalServices
from coreswitch.runtime.virtual_time import run as run_virtual


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("test", help="run flow tests on the virtual clock",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", metavar="PATH", help="flow/test files or directories")
    p.add_argument("--coverage", action="store_true",
                   help="list states and branches no test exercised")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="print the transcript of each failed case")
    p.add_argument("-k", metavar="TEXT", help="only cases whose name contains TEXT")
    p.add_argument("--providers", metavar="FILE", help="providers.toml (default: beside each)")
    p.set_defaults(handler=run)


def _suites(args: argparse.Namespace) -> list[flowtest.Suite] | None:
    suites = []
    for raw in args.paths:
        if not Path(raw).exists():
            print(f"coreswitch test: {raw}: no such file or directory", file=sys.stderr)
            return None
    for path in flowtest.discover(args.paths):
        suite = flowtest.load(path, environment_for(path, args.providers), read_source(path))
        if suite is not None:
            if args.k:
                suite.cases = [c for c in suite.cases if args.k in c["name"]]
            suites.append(suite)
    return suites


def run(args: argparse.Namespace) -> int:
    suites = _suites(args)
    if suites is None:
        return 2
    results = run_virtual(_run_all(suites))
    out = sys.stdout
    passed = failed = broken = 0
    by_flow: dict[Path, list[RunResult]] = defaultdict(list)
    for suite in suites:
        for problem in suite.problems:
            broken += 1
            print(problem + "\n", file=out)
    for r in results:
        where = f"{r.suite.test_path}:{r.line}"
        if r.result is not None:
            by_flow[r.suite.flow_path].append(r.result)
        if r.passed:
            passed += 1
            print(f"PASS {where} {r.name}", file=out)
            continue
        failed += 1
        print(f"FAIL {where} {r.name}", file=out)
        for msg in r.failures:
            print(f"     {msg}", file=out)
        if args.verbose and r.result is not None:
            for line in r.result.transcript.lines():
                print(f"       {line}", file=out)
    if args.coverage:
        _coverage(suites, by_flow)
    total = passed + failed
    if broken:
        print(f"{broken} test file problem{'s' * (broken != 1)}", file=out)
    if total == 0 and not broken:
        print("no flow tests found", file=out)
    print(f"{passed} passed, {failed} failed", file=out)
    return 1 if failed or broken or total == 0 else 0


async def _run_all(suites: list[flowtest.Suite]) -> list[flowtest.CaseResult]:
    results = []
    async with SimHarness() as harness:
        base = Deps(FunctionRegistry(), LocalServices(), VirtualRenderer())
        for suite in suites:
            if suite.ir is None:
                continue
            for case in suite.cases:
                results.append(await flowtest.run_case(harness, suite, case, base))
    return results


def _coverage(suites: list[flowtest.Suite], by_flow: dict[Path, list[RunResult]]) -> None:
    seen: set[Path] = set()
    for suite in suites:
        if suite.ir is None or suite.flow_path in seen:
            continue
        seen.add(suite.flow_path)
        states, branches = flowtest.uncovered(suite.ir, by_flow.get(suite.flow_path, []))
        total_states = len([n for n in suite.ir["states"] if not n.startswith("$")]) + sum(
            len(s["states"]) for s in suite.ir.get("subflows", {}).values())
        total_branches = len(list(flowtest.branches(suite.ir)))
        print(f"coverage {suite.flow_path}: states {total_states - len(states)}/{total_states},"
              f" branches {total_branches - len(branches)}/{total_branches}")
        for name in states:
            print(f"  state never entered: {name}")
        for b in branches:
            line = f"{suite.flow_path}:{b.line}: " if b.line else ""
            print(f"  branch never taken: {line}{b.where}: {b.label}")

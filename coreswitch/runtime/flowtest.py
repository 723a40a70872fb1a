"""``coreswitch test``: flow tests on the virtual clock, with coverage.

Each ``test`` case (in a flow, or in a ``NAME.test.flow`` file naming its flow with
``testing``) becomes one call through the in-process simulated switch
(:class:`~coreswitch.runtime.harness.SimHarness`): the caller steps are the caller's script,
``mock`` steps replace the flow's plugin functions for that call (a function a test does not
mock fails (``not provided``), so its failure route runs), and the clock starts at the ``at``
step (default :data:`DEFAULT_AT`, a Monday morning, in the flow's calendar time zone).

The caller's steps run in order from the moment coreswitch takes the call; ``press KEYS
after=D`` waits ``D`` of silence after the previous step and then presses the keys 0.1 s apart.
After the last step the caller stays on the line, silent, until the flow ends the call (at most
an hour of call time). Expectations are then checked against everything that happened on the
call. Coverage counts the states entered and the branches (menu keys, no-input/no-match
handlers, max-tries routes, ``if``/``switch`` arms, failure and other routes) taken by any test.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dsl
from coreswitch.acd.queue_log import QueueEvent
from coreswitch.runtime.acd_scene import AcdScene, served_before
from coreswitch.runtime.functions import FunctionRegistry, mock
from coreswitch.runtime.harness import SimHarness
from coreswitch.runtime.interpreter import Deps, RunResult
from coreswitch.runtime.services import LocalServices
from coreswitch.switch.sim import caller as caller_mod
from dsl.diagnostics import Diagnostic, render
from dsl.environment import Environment
from dsl.errors import EvalError
from dsl.expr import EvalEnv, evaluate
from dsl.testspec import test_to_ir

IR = dict[str, Any]
DEFAULT_AT = dt.datetime(2026, 11, 23, 10, 0)  # a Monday, 10:00 in the flow's time zone
DEFAULT_ANI = "13800138000"


@dataclass
class Suite:
    """The tests of one flow."""

    flow_path: Path
    test_path: Path
    ir: IR | None
    cases: list[dict[str, Any]]
    problems: list[str] = field(default_factory=list)  # diagnostics that stop the suite


@dataclass
class CaseResult:
    suite: Suite
    name: str
    line: int
    failures: list[str]
    result: RunResult | None

    @property
    def passed(self) -> bool:
        return not self.failures


# -- loading -------------------------------------------------------------------------------------

def discover(paths: Iterable[str | Path]) -> list[Path]:
    """``*.flow`` files under ``paths`` (test files and flows that may hold ``test`` blocks)."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        out.extend(sorted(p.rglob("*.flow")) if p.is_dir() else [p])
    return out


def load(path: Path, env: Environment, source: str, flow_source: str | None = None) -> Suite | None:
    """The suite a file holds, or None when it holds no tests."""
    if path.name.endswith(".test.flow"):
        parsed = dsl.parse(source, env, test_file=True)
        if parsed.flow is None or parsed.errors or parsed.flow.testing is None:
            return Suite(path, path, None, [], _rendered(parsed.diagnostics, path, source)
                         or [f"{path}: not a test file (no 'testing \"FLOW.flow\"')"])
        flow_path = path.parent / parsed.flow.testing
        if flow_source is None:
            if not flow_path.exists():
                return Suite(flow_path, path, None, [],
                             [f"{path}: the flow under test '{parsed.flow.testing}' "
                              "does not exist"])
            flow_source = read_source(flow_path)
        target = dsl.analyse(flow_source, env).flow
        checked = dsl.analyse(source, env, test_file=True, target=target)
        if checked.errors:
            return Suite(flow_path, path, None, [],
                         _rendered(checked.errors, path, source))
        tests = checked.flow.tests if checked.flow else ()
        return _compiled(flow_path, path, flow_source, env, tests)
    analysis = dsl.analyse(source, env)
    if analysis.flow is None or not analysis.flow.tests:
        return None
    return _compiled(path, path, source, env, analysis.flow.tests)


def _compiled(flow_path: Path, test_path: Path, flow_source: str, env: Environment,
              tests: Iterable[object]) -> Suite:
    ir, diags = dsl.compile_source(flow_source, env)
    problems = [] if ir is not None else _rendered([d for d in diags if d.is_error], flow_path,
                                                   flow_source)
    cases = [test_to_ir(t) for t in tests]  # type: ignore[arg-type]
    return Suite(flow_path, test_path, ir, cases, problems)


def _rendered(diags: Iterable[Diagnostic], path: Path, source: str) -> list[str]:
    return [render(d, str(path), source) for d in diags]


def read_source(path: Path) -> str:
    return path.read_bytes().decode("utf-8-sig", errors="replace")


# -- running -------------------------------------------------------------------------------------

def _literal(expr: Any) -> object:
    return evaluate(expr, EvalEnv({}))


def script(case: Mapping[str, Any]) -> list[caller_mod.Step]:
    steps: list[caller_mod.Step] = []
    for s in case["steps"]:
        if s["step"] == "press":
            steps.append(caller_mod.Press(s["keys"], after=s["after_ms"] / 1000))
        elif s["step"] == "silence":
            steps.append(caller_mod.Wait(s["ms"] / 1000))
        elif s["step"] == "hangup":
            steps.append(caller_mod.Hangup())
    return steps


def _at(case: Mapping[str, Any]) -> dt.datetime:
    for s in case["steps"]:
        if s["step"] == "at":
            return dt.datetime.strptime(s["when"], "%Y-%m-%d %H:%M")
    return DEFAULT_AT


def _caller(case: Mapping[str, Any], ir: IR) -> tuple[str, str]:
    for s in case["steps"]:
        if s["step"] == "caller":
            return s["ani"], s["dnis"]
    return DEFAULT_ANI, next(iter(ir.get("dnis") or ["95598"]))


def functions_for(case: Mapping[str, Any], base: FunctionRegistry | None = None
                  ) -> FunctionRegistry:
    registry = base.child() if base is not None else FunctionRegistry()
    for s in case["steps"]:
        if s["step"] == "mock":
            value = _literal(s["returns"]) if s["returns"] is not None else None
            registry.register(s["function"], mock(value, fails=s["fails"]), provider="test")
    return registry


async def run_case(harness: SimHarness, suite: Suite, case: Mapping[str, Any],
                   base: Deps) -> CaseResult:
    assert suite.ir is not None
    ani, dnis = _caller(case, suite.ir)
    services = LocalServices()
    deps = replace(base, functions=functions_for(case), services=services,
                   renderer=harness.virtual_renderer())
    at = _at(case)
    tz = ZoneInfo(next((c.get("timezone") for c in suite.ir.get("calendars", {}).values()
                        if c.get("timezone")), "Asia/Shanghai"))
    async with AcdScene(harness, case, suite.ir, at.replace(tzinfo=tz).timestamp(), ani) as acd:
        acd.deps(deps)
        acd.start_others(replace(deps, functions=FunctionRegistry()))
        if acd.main_delay:
            await asyncio.sleep(acd.main_delay)
        result = await harness.call(suite.ir, deps, ani=ani, dnis=dnis, caller=script(case),
                                    at=at, seed=case["name"])
        await acd.drain()
        events = acd.events()
    failures = [msg for s in case["steps"] if s["step"] == "expect"
                for msg in [expectation(s, result, events, ani)] if msg]
    return CaseResult(suite, case["name"], case["line"], failures, result)


# -- expectations --------------------------------------------------------------------------------

def _matcher(value: Any) -> tuple[str, re.Pattern[str] | None]:
    if isinstance(value, list) and value[:2] == ["lit", "regex"]:
        return f'r"{value[2]}"', re.compile(value[2])
    return f'"{_literal(value)}"', None


def _heard(result: RunResult, value: Any) -> bool:
    _, pattern = _matcher(value)
    for entry in result.transcript.of("prompt"):
        text = entry.get("text") or ""
        if (pattern.search(text) if pattern else str(_literal(value)) in text):
            return True
    return False


def _same(actual: object, expected: object) -> bool:
    return actual == expected or str(actual) == str(expected) or (
        isinstance(expected, bool) and str(actual).lower() == str(expected).lower())


def _options_match(entry: Mapping[str, Any], options: Mapping[str, Any],
                   fields: Mapping[str, Any] | None = None) -> bool:
    for name, expr in options.items():
        want = _literal(expr)
        source = entry if fields is None or name in entry else fields
        if source is None or not _same(source.get(name), want):
            return False
    return True


def _acd_expectation(kind: str, value: Any, opts: Mapping[str, Any], where: str,
                     events: Sequence[QueueEvent]) -> str | None:
    if kind == "callback":
        made = [e for e in events if e.event == "callback_made"]
        if not made:
            return f"{where}: no callback was made"
        rows = [{"agent": e.agent, **e.data} for e in made]
        return None if any(_options_match(r, opts) for r in rows) else (
            f"{where}: callbacks were {rows}")
    agent = str(_literal(value)) if value is not None else ""
    answered = sum(1 for e in events if e.event in ("answer", "callback_made")
                   and e.agent == agent)
    want = opts.get("answered")
    if want is None:
        return None if answered else f"{where} {agent}: answered no call"
    return None if answered == _literal(want) else (
        f"{where} {agent}: answered {answered} calls")


def expectation(step: Mapping[str, Any], result: RunResult,  # noqa: PLR0911, PLR0912
                events: Sequence[QueueEvent] = (), ani: str = "") -> str | None:
    """None when the expectation holds, else what went wrong (one line)."""
    kind, value, opts = step["kind"], step["value"], step.get("options") or {}
    where = f"line {step['line']}: expect {kind}"
    t = result.transcript
    try:
        if kind in ("callback", "agent"):
            return _acd_expectation(kind, value, opts, where, events)
        if kind == "heard":
            return None if _heard(result, value) else f"{where} {_matcher(value)[0]}: not heard"
        if kind == "not_heard":
            return f"{where} {_matcher(value)[0]}: it was heard" if _heard(result, value) else None
        if kind == "state":
            reached = ", ".join(dict.fromkeys(result.states))
            return None if value in result.states else (
                f"{where} {value}: never reached (reached: {reached})")
        if kind == "queue":
            joined = [e for e in t.of("queue") if e["queue"] == value]
            if not joined:
                return f"{where} {value}: the call did not join it"
            served = served_before(list(events), str(value), ani)
            joined = [{**e, "served_before": served} for e in joined]
            if any(_options_match(e, opts) for e in joined):
                return None
            shown = {k: joined[0].get(k) for k in ("priority", "result", "agent", "position",
                                                   "served_before") if k in joined[0]}
            return f"{where} {value}: the wait was {shown}"
        if kind == "work_order":
            wanted = str(_literal(value)) if value is not None else None
            orders = [e for e in t.of("work_order") if e.get("number")
                      and (wanted is None or e["type"] == wanted)]
            if not orders:
                return f"{where} {wanted or ''}: no such work order created"
            return None if any(_options_match(e, opts, e.get("fields", {})) for e in orders) \
                else f"{where} {wanted}: fields were {orders[0].get('fields')}"
        if kind == "hangup":
            ends = t.of("hangup")
            if not ends:
                return f"{where}: the call did not end"
            return None if _options_match(ends[-1], opts) else (
                f"{where}: ended with cause {ends[-1].get('cause')}")
        if kind in ("transfer", "sms", "voicemail"):
            entries = t.of(kind)
            key = {"transfer": "to", "sms": "to", "voicemail": "box"}[kind]
            if value is not None:
                entries = [e for e in entries if _same(e.get(key), _literal(value))]
            if not entries:
                return f"{where} {'' if value is None else _literal(value)}: did not happen"
            return None if any(_options_match(e, opts) for e in entries) else (
                f"{where}: options differ ({entries[0]})")
        if kind == "expr":
            ok = evaluate(value, EvalEnv(result.variables))
            return None if ok is True else f"line {step['line']}: expectation is false"
    except (EvalError, re.error) as exc:
        return f"{where}: {exc}"
    return f"{where}: unknown expectation"


# -- coverage ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Branch:
    scope: str
    state: str
    pc: int
    label: str
    line: int | None

    @property
    def where(self) -> str:
        return f"{self.scope}.{self.state}" if self.scope else self.state


def branches(ir: IR) -> Iterator[Branch]:
    """Every branch target of a flow, labelled for people."""
    smap: Mapping[str, list[int]] = ir.get("source_map", {})
    bodies: list[tuple[str, str, Mapping[str, Any]]] = [
        ("", name, st) for name, st in ir["states"].items() if not name.startswith("$")]
    for sub, body in ir.get("subflows", {}).items():
        bodies.extend((sub, name, st) for name, st in body["states"].items())
    for scope, name, st in bodies:
        lines = smap.get(f"{scope}.{name}" if scope else name, [])

        def line_of(pc: int, lines: list[int] = lines) -> int | None:
            return lines[pc] if 0 <= pc < len(lines) else None

        for pc, step in enumerate(st["code"]):
            for label, target in _targets(step):
                if target is not None:
                    yield Branch(scope, name, int(target), label, line_of(pc))


def _targets(step: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    kind = step["op"]
    if kind == "menu":
        for k in step["keys"]:
            yield f"key {k['key']}", k["pc"]
    if kind in ("menu", "collect"):
        for ev in ("noinput", "nomatch"):
            for h in step[ev]:
                yield f"{ev} {h['count']}", h["pc"]
        yield "maxtries", step.get("maxtries")
    elif kind == "branch":
        yield "if (else)", step["else"]
    elif kind == "switch":
        for i, (_values, target) in enumerate(step["cases"]):
            yield f"case {i + 1}", target
        yield "default", step["default"]
    elif kind == "split":
        for percent, target in step["branches"]:
            yield f"split {percent}%", target
    elif kind == "call":
        yield f"{step['function']} failure", step.get("failure")
    for route, target in (step.get("routes") or {}).items():
        yield f"{kind} {route}", target


def uncovered(ir: IR, results: Iterable[RunResult]) -> tuple[list[str], list[Branch]]:
    """States never entered and branches never taken by any of ``results``."""
    entered: set[str] = set()
    covered: set[tuple[str, str, int]] = set()
    for r in results:
        entered.update(r.states)
        covered |= r.covered
    states = [n for n in ir["states"] if not n.startswith("$") and n not in entered]
    for sub, body in ir.get("subflows", {}).items():
        states.extend(f"{sub}.{n}" for n in body["states"] if f"{sub}.{n}" not in entered)
    missed = [b for b in branches(ir) if (b.scope, b.state, b.pc) not in covered]
    return states, missed

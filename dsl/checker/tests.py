"""Checks of flow tests against the flow they test (E201, E204, E203, E601)."""

from __future__ import annotations

from dsl import ast
from dsl import types as T
from dsl.checker.declarations import declare
from dsl.checker.exprs import ExprChecker
from dsl.checker.scope import Scope
from dsl.diagnostics import Diagnostic, did_you_mean, error
from dsl.environment import Environment
from dsl.flowgraph import walk
from dsl.testspec import AcdStep, Expect, Mock, TestCase


def check_tests(tests_flow: ast.Flow, target: ast.Flow, env: Environment) -> list[Diagnostic]:
    """Diagnostics for the tests in ``tests_flow`` (which may be ``target`` itself)."""
    diags: list[Diagnostic] = []
    scratch: list[Diagnostic] = []
    info, scopes = declare(target, env, scratch)
    main = scopes[0]
    all_states = set(main.states)
    for sub in info.subflows.values():
        all_states.update(f"{sub.name}.{s.name}" for s in sub.states)
    queues, orders = _outcomes(scopes)
    names: set[str] = set()
    for t in tests_flow.tests:
        assert isinstance(t, TestCase)
        if t.name in names:
            diags.append(error("E206", f"duplicate test '{t.name}'", t.span))
        names.add(t.name)
        for step in t.steps:
            if isinstance(step, Mock):
                decl = info.functions.get(step.function)
                if decl is None:
                    diags.append(error("E204", f"the flow declares no function "
                                       f"'{step.function}'", step.function_span,
                                       did_you_mean(step.function, info.functions)))
                elif step.returns is not None:
                    got = ExprChecker(main, diags).infer(step.returns)
                    want = info.function_types[step.function][1]
                    if not T.assignable(got, want):
                        diags.append(error("E301", f"'{step.function}' returns {want}, "
                                           f"the mock gives {got}", step.returns.span))
            elif isinstance(step, Expect):
                _expect(step, main, all_states, queues, orders, diags)
            elif isinstance(step, AcdStep):
                allowed = ACD_OPTIONS[step.kind]
                for o in step.options:
                    if o.name not in allowed:
                        diags.append(error("E601", f"'{step.kind}' has no option '{o.name}'",
                                           o.span, did_you_mean(o.name, allowed)
                                           or "options: " + ", ".join(sorted(allowed))))
    return diags


ACD_OPTIONS = {
    "agent": {"queue", "queues", "answers_after", "no_answer", "busy", "talk", "skills", "tier",
              "logged_in", "away", "available_after", "name"},
    "waiting": {"callers", "priority", "after", "hangup_after", "ani_prefix", "skills"},
    "queue_config": {"strategy", "ring_timeout", "wrap_up", "max_wait", "max_wait_no_agent",
                     "join_empty", "leave_empty", "overflow_queue", "tier_wait",
                     "no_answer_delay", "busy_delay", "reject_delay", "max_no_answer",
                     "progressive_delay", "service_level"},
}


def _outcomes(scopes: list[Scope]) -> tuple[set[str], set[str] | None]:
    """Queue names the flow can join, and work-order types it can create (None when a type
    is computed at run time, so any type may appear)."""
    queues: set[str] = set()
    orders: set[str] | None = set()
    for scope in scopes:
        for state in scope.states.values():
            for s in walk(state.body):
                if not isinstance(s, ast.Verb):
                    continue
                first = next((o.value for o in s.options if o.name in ("queue", "type")), None)
                if s.name == "queue" and isinstance(first, ast.Name):
                    queues.add(first.name)
                elif s.name == "work_order" and orders is not None:
                    if isinstance(first, ast.Lit):
                        orders.add(str(first.value))
                    else:
                        orders = None
    return queues, orders


def _expect(step: Expect, main: Scope, states: set[str], queues: set[str],  # noqa: PLR0917
            orders: set[str] | None, diags: list[Diagnostic]) -> None:
    v = step.value
    if step.kind == "state":
        name = _dotted(v)
        if name is None:
            diags.append(error("E601", "expect state needs a state name", step.span))
        elif name not in states:
            assert v is not None
            diags.append(error("E201", f"unknown state '{name}'", v.span,
                               did_you_mean(name, states)))
    elif step.kind in ("heard", "not_heard"):
        if not (isinstance(v, ast.Lit) and v.kind in ("text", "regex")):
            diags.append(error("E601", f"expect {step.kind} needs a text or r\"pattern\"",
                               step.span))
    elif step.kind == "queue" and isinstance(v, ast.Name) and v.name not in queues:
        diags.append(error("E601", f"the flow never puts callers in queue '{v.name}'", v.span,
                           did_you_mean(v.name, queues)))
    elif step.kind == "work_order" and isinstance(v, ast.Lit) and orders is not None and \
            str(v.value) not in orders:
        diags.append(error("E601", f"the flow never creates a '{v.value}' work order", v.span,
                           did_you_mean(str(v.value), orders)))
    elif step.kind == "expr" and v is not None:
        ExprChecker(main, diags).expect(v, T.BOOL, "an expectation")


def _dotted(e: ast.Expr | None) -> str | None:
    if isinstance(e, ast.Name):
        return e.name
    if isinstance(e, ast.Attr):
        base = _dotted(e.obj)
        return None if base is None else f"{base}.{e.name}"
    return None

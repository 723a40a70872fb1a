"""The checker: every diagnostic for a flow at once, sorted by position.

Entry point: :func:`check`. Concerns are split by module: :mod:`.scope` (symbol tables),
:mod:`.exprs` (expression types), :mod:`.statements` (inside states), :mod:`.control`
(reachability, dead ends, loops), :mod:`.tests` (flow tests).
"""

from __future__ import annotations

from dsl import ast
from dsl import types as T
from dsl.checker.control import check_control, check_subflow_recursion
from dsl.checker.declarations import declare
from dsl.checker.scope import FlowInfo, Scope
from dsl.checker.statements import StatementChecker
from dsl.checker.tests import check_tests
from dsl.diagnostics import Diagnostic, sort_key, warning
from dsl.environment import Environment
from dsl.verbs import BUILTIN_VERBS

__all__ = ["check", "check_flow", "check_tests"]


def check(flow: ast.Flow, env: Environment | None = None) -> list[Diagnostic]:
    """All diagnostics for ``flow`` (built by :func:`dsl.builder.Builder.flow`)."""
    return check_flow(flow, env)[0]


def check_flow(flow: ast.Flow, env: Environment | None = None
               ) -> tuple[list[Diagnostic], list[Scope]]:
    """Diagnostics and the symbol tables (main flow first, then each subflow)."""
    env = env or Environment()
    diags: list[Diagnostic] = []
    verbs = {**BUILTIN_VERBS, **env.verbs}
    info, scopes = declare(flow, env, diags)
    for scope in scopes:
        sc = StatementChecker(scope, verbs, diags)
        for state in scope.states.values():
            if state.max_visits_action is not None:
                sc.action(state.max_visits_action, must_leave=True, what="max_visits")
            sc.block(state.body)
        check_control(scope, verbs, diags)
    check_subflow_recursion(scopes, diags)
    if flow.header is not None:
        main = scopes[0]
        sc = StatementChecker(main, verbs, diags)
        for act in (flow.header.max_duration_action, flow.header.max_visits_action):
            if act is not None:
                sc.action(act, must_leave=True, what="guard")
    _unused(info, scopes, diags)
    if flow.tests:
        diags.extend(check_tests(flow, flow, env))
    return sorted(diags, key=sort_key), scopes


def _unused(info: FlowInfo, scopes: list[Scope], diags: list[Diagnostic]) -> None:
    for name, p in info.prompts.items():
        if name not in info.prompt_uses:
            diags.append(warning("W502", f"prompt '{name}' is never played", p.name_span))
    for name, f in info.functions.items():
        if name not in info.function_uses:
            diags.append(warning("W505", f"function '{name}' is declared but never called",
                                 f.name_span))
    seen: set[int] = set()
    for scope in scopes:
        for v in [*scope.vars.values(), *info.globals.values()]:
            if id(v) in seen or v.scope not in ("var", "global") or v.reads:
                continue
            seen.add(id(v))
            if v.type != T.CALENDAR:
                diags.append(warning("W501", f"variable '{v.name}' is never read", v.span))

"""Control flow over states: dead ends (E401), unreachable states (E407), unbounded loops (E405)."""

from __future__ import annotations

from dsl import ast
from dsl.checker.scope import Scope
from dsl.diagnostics import Diagnostic, error
from dsl.flowgraph import sccs, state_edges, terminates, waits_for_caller, walk
from dsl.span import Span
from dsl.verbs import VerbSchema


def start_of(scope: Scope) -> str | None:
    if scope.subflow is not None:
        if scope.subflow.start:
            return scope.subflow.start
        return scope.subflow.states[0].name if scope.subflow.states else None
    h = scope.info.flow.header
    if h is not None and h.start:
        return h.start
    return next(iter(scope.states), None)


def check_subflow_recursion(scopes: list[Scope], diags: list[Diagnostic]) -> None:
    """Subflows that run each other (or themselves) in a cycle would recurse without end."""
    calls: dict[str, list[str]] = {}
    where: dict[tuple[str, str], Span] = {}
    for scope in scopes:
        if scope.subflow is None:
            continue
        name = scope.subflow.name
        targets: list[str] = []
        for st in scope.states.values():
            for s in walk(st.body):
                if isinstance(s, ast.RunSubflow) and s.call.func in scope.info.subflows:
                    targets.append(s.call.func)
                    where.setdefault((name, s.call.func), s.call.func_span)
        calls[name] = targets
    for comp in sccs(list(calls), calls):
        if len(comp) == 1 and comp[0] not in calls.get(comp[0], ()):
            continue
        first = comp[0]
        nxt = next(t for t in calls[first] if t in comp)
        cycle = " → ".join([*comp, comp[0]])
        diags.append(error("E405", f"subflows run each other without end: {cycle}",
                           where[(first, nxt)], "a subflow cannot run itself, even indirectly"))


def check_control(scope: Scope, verbs: dict[str, VerbSchema], diags: list[Diagnostic]) -> None:  # noqa: PLR0912
    states = scope.states
    start = start_of(scope)
    adj: dict[str, list[str]] = {}
    for name, st in states.items():
        adj[name] = [t for _, t in state_edges(st, start) if t in states]
        if not terminates(st.body, verbs):
            last = st.body[-1].span if st.body else st.name_span
            diags.append(error(
                "E401", f"state '{name}' ends without saying where the call goes",
                Span(last.line, last.col, last.line, last.end_col if last.end_line == last.line
                     else last.col + 1),
                "end it with goto, menu, queue, transfer, hangup"
                + (" or return" if scope.subflow else "")))
    # reachability
    roots = [start] if start else []
    h = scope.info.flow.header
    if h is not None:
        for act in (h.max_duration_action, h.max_visits_action):
            if act is not None and act.target:
                roots.append(act.target)
    seen: set[str] = set()
    todo = [r for r in roots if r in states]
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        todo.extend(t for t in adj.get(n, ()) if t not in seen)
    for name, st in states.items():
        if name not in seen:
            diags.append(error("E407", f"state '{name}' can never be reached", st.name_span,
                               f"route to it (goto {name}) or delete it"))
    # loops
    global_bound = h is not None and h.max_visits is not None
    if global_bound:
        return
    for comp in sccs(list(states), adj):
        if len(comp) == 1 and comp[0] not in adj.get(comp[0], ()):
            continue
        bounded = any(states[n].max_visits is not None or waits_for_caller(states[n].body, verbs)
                      for n in comp)
        if bounded:
            continue
        first = min(comp, key=lambda n: (states[n].span.line, states[n].span.col))
        cycle = " → ".join([*comp, comp[0]]) if len(comp) <= 5 else f"{len(comp)} states"
        diags.append(error(
            "E405", f"loop without a bound: {cycle}", states[first].name_span,
            f"add 'max_visits 3 -> STATE' as the first line of '{first}', or wait for the "
            "caller inside the loop"))


__all__ = ["check_control", "check_subflow_recursion", "start_of"]



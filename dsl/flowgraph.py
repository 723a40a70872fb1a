"""Control-flow facts about statements: which ones end a path, and the state-to-state edges.

Shared by the checker (dead ends, reachability, loops), the compiler and the graph writer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from dsl import ast
from dsl.verbs import BUILTIN_VERBS, VerbSchema

Edge = tuple[str, str]  # (label, target state)


def children(s: ast.Statement) -> Iterator[tuple[str, ast.Action | None, Sequence[ast.Statement]]]:
    """Nested blocks of a statement: (label, action or None, statements)."""
    if isinstance(s, ast.If):
        for i, b in enumerate(s.branches):
            label = "if" if i == 0 else ("else" if b.cond is None else "elif")
            yield label, None, b.body
    elif isinstance(s, ast.Switch):
        for c in s.cases:
            yield "case" if c.values else "default", c.action, c.action.body or ()
    elif isinstance(s, ast.Menu):
        for k in s.keys:
            yield f"key {k.key}", k.action, k.action.body or ()
        for h in s.handlers:
            yield _hlabel(h), h.action, h.action.body or ()
    elif isinstance(s, ast.Collect | ast.CallFunction | ast.Verb):
        for h in s.handlers:
            yield _hlabel(h), h.action, h.action.body or ()
    elif isinstance(s, ast.Split):
        for sb in s.branches:
            yield f"{sb.percent}%", sb.action, sb.action.body or ()


def _hlabel(h: ast.Handler) -> str:
    return h.event if h.count is None else f"{h.event} {h.count}"


def walk(stmts: Sequence[ast.Statement]) -> Iterator[ast.Statement]:
    """Every statement, nested ones included, in source order."""
    for s in stmts:
        yield s
        for _label, _action, body in children(s):
            yield from walk(body)


def edges(stmts: Sequence[ast.Statement], start: str | None = None) -> list[Edge]:
    out: list[Edge] = []
    for s in stmts:
        if isinstance(s, ast.Goto):
            out.append(("goto", s.target))
        for label, action, body in children(s):
            if action is not None and action.target is not None:
                out.append((label, action.target))
            elif action is not None and action.keyword == "top" and start:
                out.append((label, start))
            out.extend((f"{label}: {lab}" if lab != "goto" else label, t)
                       for lab, t in edges(body, start))
    return out


def state_edges(state: ast.State, start: str | None) -> list[Edge]:
    out = edges(state.body, start)
    if state.max_visits_action is not None:
        a = state.max_visits_action
        if a.target:
            out.append(("max_visits", a.target))
        else:
            out.extend(("max_visits", t) for _, t in edges(a.body or (), start))
    return out


def is_terminal(s: ast.Statement, verbs: Mapping[str, VerbSchema] = BUILTIN_VERBS) -> bool:
    if isinstance(s, ast.Goto | ast.Return | ast.Menu | ast.Split):
        return True
    if isinstance(s, ast.If):
        return s.branches[-1].cond is None and all(terminates(b.body, verbs) for b in s.branches)
    if isinstance(s, ast.Switch):
        return any(not c.values for c in s.cases) and all(
            action_terminal(c.action, verbs) for c in s.cases)
    if isinstance(s, ast.Verb):
        schema = verbs.get(s.name)
        return schema is not None and schema.terminal
    return False


def action_terminal(a: ast.Action, verbs: Mapping[str, VerbSchema] = BUILTIN_VERBS) -> bool:
    if a.target is not None or a.keyword is not None:
        return True
    return terminates(a.body or (), verbs)


def terminates(stmts: Sequence[ast.Statement],
               verbs: Mapping[str, VerbSchema] = BUILTIN_VERBS) -> bool:
    return any(is_terminal(s, verbs) for s in stmts)


def waits_for_caller(stmts: Sequence[ast.Statement],
                     verbs: Mapping[str, VerbSchema] = BUILTIN_VERBS) -> bool:
    for s in walk(stmts):
        if isinstance(s, ast.Menu | ast.Collect | ast.Survey):
            return True
        if isinstance(s, ast.Verb):
            schema = verbs.get(s.name)
            if schema is not None and schema.waits_for_caller:
                return True
    return False


def sccs(nodes: Sequence[str], adj: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Strongly connected components (iterative Tarjan), each in discovery order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack.add(v)
            succ = adj.get(v, ())
            recurse = False
            while i < len(succ):
                w = succ[i]
                i += 1
                if w not in index:
                    work.append((v, i))
                    work.append((w, 0))
                    recurse = True
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            if recurse:
                continue
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(comp[::-1])
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return out

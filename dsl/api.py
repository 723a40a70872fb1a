"""The front end's public entry points: source text in, diagnostics and IR out.

    analysis = analyse(source, env)          # parse + build + check
    ir, diags = compile_source(source, env)  # … + compile (ir is None when there are errors)

All functions are pure: no file or network access. They are safe to call from several
threads at once (``asyncio.to_thread`` in the server): the grammar tables are built once and
only read afterwards. During a call the cyclic garbage collector is paused (the front end only
allocates acyclic objects) and restored afterwards; a 1,000-state flow takes about 0.5 s.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from dsl import ast
from dsl.builder import Builder
from dsl.checker import check_flow, check_tests
from dsl.checker.declarations import declare
from dsl.checker.scope import Scope
from dsl.compiler import compile_flow
from dsl.diagnostics import Diagnostic, sort_key
from dsl.environment import Environment
from dsl.ir import IR
from dsl.parser import parse_items


@dataclass(frozen=True)
class Analysis:
    flow: ast.Flow | None
    diagnostics: tuple[Diagnostic, ...]
    scopes: tuple[Scope, ...] = field(default=(), repr=False, compare=False)

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.is_error)

    @property
    def ok(self) -> bool:
        return not self.errors


@contextmanager
def _no_gc_pauses() -> Iterator[None]:
    """The front end allocates many small acyclic objects; the cyclic collector would walk
    them again and again (quadratic on big flows). Pause it for the duration of one call."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse(source: str, env: Environment | None = None, *, test_file: bool = False
          ) -> Analysis:
    """Parse and build the flow AST, without the checker (syntax and structure only)."""
    with _no_gc_pauses():
        return _parse(source, env, test_file=test_file)


def _parse(source: str, env: Environment | None, *, test_file: bool) -> Analysis:
    items, diags = parse_items(source)
    if diags:
        return Analysis(None, tuple(diags))
    b = Builder((env or Environment()).verbs)
    flow = b.flow(items, test_file=test_file)
    return Analysis(flow, tuple(sorted(b.diags, key=sort_key)))


def analyse(source: str, env: Environment | None = None, *, test_file: bool = False,
            target: ast.Flow | None = None) -> Analysis:
    """Parse, build and check. For a ``*.test.flow`` file pass ``test_file=True`` and the
    analysed ``target`` flow it names (its tests are checked against that flow)."""
    env = env or Environment()
    with _no_gc_pauses():
        return _analyse(source, env, test_file, target)


def _analyse(source: str, env: Environment, test_file: bool, target: ast.Flow | None
             ) -> Analysis:
    parsed = _parse(source, env, test_file=test_file)
    if parsed.flow is None:
        return parsed
    diags = list(parsed.diagnostics)
    scopes: list[Scope] = []
    if test_file:
        if target is not None:
            diags.extend(check_tests(parsed.flow, target, env))
    elif not any(d.code in ("E109",) for d in diags):
        found, scopes = check_flow(parsed.flow, env)
        diags.extend(found)
    return Analysis(parsed.flow, tuple(sorted(_dedupe(diags), key=sort_key)), tuple(scopes))


def compile_source(source: str, env: Environment | None = None) -> tuple[IR | None,
                                                                          tuple[Diagnostic, ...]]:
    """Parse, check and compile. Returns ``(ir, diagnostics)``; ``ir`` is None on errors."""
    env = env or Environment()
    with _no_gc_pauses():
        a = _analyse(source, env, False, None)
        diags = a.diagnostics
        ir = None if a.flow is None or a.errors else _compile_checked(a.flow, env,
                                                                      list(a.scopes))
        # drop the AST while the collector is still paused: when it resumes it then only
        # has the (much smaller) IR left to look at
        del a
    return ir, diags


def compile_checked(flow: ast.Flow, env: Environment | None = None) -> IR:
    """Compile a flow that :func:`analyse` reported without errors."""
    with _no_gc_pauses():
        return _compile_checked(flow, env or Environment())


def _compile_checked(flow: ast.Flow, env: Environment, scopes: list[Scope] | None = None
                     ) -> IR:
    if not scopes:
        _info, scopes = declare(flow, env, [])
    var_types: dict[str, dict[str, str]] = {}
    sensitive: dict[str, set[str]] = {}
    for sc in scopes:
        key = sc.subflow.name if sc.subflow else ""
        var_types[key] = {n: str(v.type) for n, v in sc.vars.items() if v.scope == "bound"}
        sensitive[key] = {n: v for n, v in sc.vars.items() if v.sensitive}.keys() | set()
    return compile_flow(flow, var_types, sensitive, env.verbs)


def _dedupe(diags: list[Diagnostic]) -> list[Diagnostic]:
    seen: set[tuple[str, int, int, str]] = set()
    out = []
    for d in diags:
        k = (d.code, d.span.line, d.span.col, d.message)
        if k not in seen:
            seen.add(k)
            out.append(d)
    return out

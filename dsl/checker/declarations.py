"""Top-level declarations: duplicates, types, prompts and their languages, functions vs providers,
and the variable tables of the main flow and each subflow (implicit bindings included)."""

from __future__ import annotations

from dsl import ast
from dsl import types as T
from dsl.checker.exprs import ExprChecker
from dsl.checker.scope import BUILTIN_VALUES, FlowInfo, Scope, VarInfo
from dsl.diagnostics import Diagnostic, did_you_mean, error
from dsl.environment import Environment
from dsl.flowgraph import walk
from dsl.span import Span


def declare(flow: ast.Flow, env: Environment, diags: list[Diagnostic]  # noqa: PLR0912, PLR0915
            ) -> tuple[FlowInfo, list[Scope]]:
    h = flow.header
    langs = h.languages if h is not None and h.languages else ("zh",)
    info = FlowInfo(flow, env, langs)
    taken: dict[str, Span] = {}

    def unique(kind: str, name: str, span: Span, table: dict[str, Span]) -> bool:
        if name in table:
            diags.append(error("E206", f"duplicate {kind} '{name}'", span,
                               f"first defined on line {table[name].line}"))
            return False
        table[name] = span
        return True

    prompt_spans: dict[str, Span] = {}
    for p in flow.prompts:
        if unique("prompt", p.name, p.name_span, prompt_spans):
            info.prompts[p.name] = p
    for c in flow.calendars:
        if unique("calendar", c.name, c.name_span, taken):
            info.calendars[c.name] = c
    sub_spans: dict[str, Span] = {}
    for s in flow.subflows:
        if unique("subflow", s.name, s.name_span, sub_spans):
            info.subflows[s.name] = s
    func_spans: dict[str, Span] = {}
    for f in flow.functions:
        if unique("function", f.name, f.name_span, func_spans):
            info.functions[f.name] = f
            _function(f, info, env, diags)
    state_spans: dict[str, Span] = {}
    for st in flow.states:
        if unique("state", st.name, st.name_span, state_spans):
            info.flow_states[st.name] = st

    main = Scope(info, None, dict(info.flow_states))
    # globals and settings are visible everywhere; flow vars only in the main flow
    for v in flow.vars:
        if v.name in BUILTIN_VALUES:
            diags.append(error("E206", f"'{v.name}' is a built-in value", v.name_span,
                               "choose another name"))
            continue
        if not unique("variable", v.name, v.name_span, taken):
            continue
        vi = _var(v, main, diags)
        if v.scope == "var":
            main.vars[v.name] = vi
        else:
            info.globals[v.name] = vi
    scopes = [main]
    for sub in info.subflows.values():
        states: dict[str, Span] = {}
        table: dict[str, ast.State] = {}
        for st in sub.states:
            if unique("state", st.name, st.name_span, states):
                table[st.name] = st
        scope = Scope(info, sub, table)
        local: dict[str, Span] = {}
        for param in sub.inputs:
            if unique("input", param.name, param.span, local):
                scope.vars[param.name] = VarInfo(param.name, _typeref(param.type, diags),
                                                 "input", param.span, reads=1)
        for param in sub.outputs:
            _typeref(param.type, diags)
        for v in sub.vars:
            if unique("variable", v.name, v.name_span, local):
                scope.vars[v.name] = _var(v, scope, diags)
        scopes.append(scope)
    _prompts(info, diags, main)
    for scope in scopes:
        _bind_implicit(scope, diags)
    if h is not None and h.start is not None and h.start not in main.states:
        diags.append(error("E201", f"unknown state '{h.start}'", h.start_span or h.span,
                           did_you_mean(h.start, main.states)))
    for sub in info.subflows.values():
        if sub.start is not None and sub.start not in {s.name for s in sub.states}:
            diags.append(error("E201", f"unknown state '{sub.start}'", sub.span,
                               did_you_mean(sub.start, [s.name for s in sub.states])))
        if not sub.states:
            diags.append(error("E302", f"subflow '{sub.name}' has no states", sub.name_span))
    if not flow.states and h is not None:
        diags.append(error("E302", "the flow has no states", h.name_span,
                           "add 'state welcome:' with what the caller hears first"))
    return info, scopes


def _typeref(ref: ast.TypeRef, diags: list[Diagnostic]) -> T.Type:
    t = T.from_ref(ref)
    if t is None:
        diags.append(error("E301", f"unknown type '{ref}'", ref.span,
                           did_you_mean(ref.name, T.SCALARS) or
                           "types: text, int, decimal, bool, duration, time, date, list[T], "
                           "record"))
        return T.ANY
    return t


def _var(v: ast.VarDecl, scope: Scope, diags: list[Diagnostic]) -> VarInfo:
    declared = _typeref(v.type, diags) if v.type is not None else None
    t = declared
    if v.value is not None:
        vt = ExprChecker(scope, diags).infer(v.value)
        if declared is not None and not T.assignable(vt, declared):
            diags.append(error("E301", f"'{v.name}' is {declared}, but its value is {vt}",
                               v.value.span))
        t = declared or vt
    if t is None:
        diags.append(error("E302", f"'{v.name}' needs a type or a value", v.name_span,
                           f"e.g. var {v.name}: text   or   var {v.name} = \"\""))
        t = T.ANY
    return VarInfo(v.name, t, v.scope, v.name_span, readonly=v.scope == "setting")


def _function(f: ast.FunctionDecl, info: FlowInfo, env: Environment,
              diags: list[Diagnostic]) -> None:
    params = tuple((p.name, _typeref(p.type, diags)) for p in f.params)
    ret = _typeref(f.returns, diags) if f.returns is not None else T.ANY
    info.function_types[f.name] = (params, ret)
    if f.timeout_ms is not None and f.timeout_ms <= 0:
        diags.append(error("E305", "timeout must be longer than 0", f.span))
    if env.functions is None:
        return
    sig = env.functions.get(f.name)
    if sig is None:
        diags.append(error("E209", f"no installed plugin provides '{f.name}'", f.name_span,
                           did_you_mean(f.name, env.functions)
                           or "install the plugin that provides it, or check the name"))
        return
    if sig.params != params or not T.assignable(sig.returns, ret):
        diags.append(error("E306", f"'{f.name}' is declared differently by its provider",
                           f.span, f"{sig.provider or 'the plugin'} declares {sig.describe()}"))


def _prompts(info: FlowInfo, diags: list[Diagnostic], main: Scope) -> None:
    langs = info.languages
    ex = ExprChecker(main, diags)
    for p in info.prompts.values():
        covered: set[str] = set()
        neutral_file = False
        for v in p.variants:
            if v.lang is not None and v.lang not in langs:
                diags.append(error("E211", f"the flow does not declare language '{v.lang}'",
                                   Span(v.span.line, v.span.col, v.span.line,
                                        v.span.col + len(v.lang)),
                                   did_you_mean(v.lang, langs)
                                   or "add it to 'languages' in the flow header"))
                continue
            if v.text is not None:
                ex.expect(v.text, T.TEXT, "prompt text")
            if v.lang is None and v.text is None:
                neutral_file = True
            covered.add(v.lang or langs[0])
        if neutral_file:
            continue
        missing = [lang for lang in langs if lang not in covered]
        if missing:
            diags.append(error("E213", f"prompt '{p.name}' has no {', '.join(missing)} "
                               "version", p.name_span,
                               f"add a line: {missing[0]} \"…\"  (or file=\"….wav\")"))


def _bind_implicit(scope: Scope, diags: list[Diagnostic]) -> None:  # noqa: PLR0912
    """collect/call/run/record/work_order bind variables; new names are declared here."""
    info = scope.info
    for state in scope.states.values():
        for s in walk(state.body):
            name: str | None = None
            span: Span | None = None
            t: T.Type = T.TEXT
            sensitive = False
            if isinstance(s, ast.Collect):
                name, span = s.var, s.var_span
                sensitive = any(o.name == "sensitive" and isinstance(o.value, ast.Lit)
                                and o.value.value is True for o in s.options)
            elif isinstance(s, ast.CallFunction) and s.result is not None:
                name, span = s.result, s.result_span
                t = info.function_types.get(s.call.func, ((), T.ANY))[1]
            elif isinstance(s, ast.RunSubflow) and s.result is not None:
                name, span = s.result, s.result_span
                sub = info.subflows.get(s.call.func)
                t = T.record_of({p.name: info.param_type(p) for p in sub.outputs}) \
                    if sub else T.ANY
            elif isinstance(s, ast.Verb) and s.name in ("record", "work_order"):
                for o in s.options:
                    if o.name == "into" and isinstance(o.value, ast.Name):
                        name, span = o.value.name, o.value.span
            if name is None or span is None:
                continue
            existing = scope.lookup(name)
            if existing is None:
                scope.vars[name] = VarInfo(name, t, "bound", span, sensitive=sensitive)
            else:
                if sensitive:
                    existing.sensitive = True
                if existing.readonly:
                    diags.append(error("E212", f"'{name}' is read-only", span))
                elif not T.assignable(t, existing.type) and not isinstance(s, ast.Collect):
                    diags.append(error("E301", f"'{name}' is {existing.type}, but this gives "
                                       f"a {t}", span))

"""Checks inside states: names, verb arguments, menus and collects, calls, subflow runs."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

from dsl import ast
from dsl import types as T
from dsl.checker.exprs import ExprChecker
from dsl.checker.scope import Scope, VarInfo
from dsl.diagnostics import Diagnostic, did_you_mean, error, warning
from dsl.flowgraph import action_terminal, is_terminal
from dsl.span import Span
from dsl.verbs import (
    COLLECT_OPTIONS,
    EXPR,
    FIELDS,
    HANGUP_CAUSES,
    LANG,
    MEDIA,
    MENU_OPTIONS,
    NAME,
    PROMPT,
    VAR,
    ParamSpec,
    VerbSchema,
)


class StatementChecker:
    def __init__(self, scope: Scope, verbs: dict[str, VerbSchema], diags: list[Diagnostic]
                 ) -> None:
        self.scope = scope
        self.verbs = verbs
        self.diags = diags
        self.exprs = ExprChecker(scope, diags)

    def err(self, code: str, msg: str, span: Span, hint: str | None = None) -> None:
        self.diags.append(error(code, msg, span, hint))

    # ------------------------------------------------------------ blocks and actions
    def block(self, stmts: Sequence[ast.Statement]) -> None:
        done = False
        for s in stmts:
            if done:
                self.diags.append(warning("W503", "this line is never run", s.span,
                                          "the line before it always leaves the state"))
                done = False  # report only the first unreachable line of a block
            self.statement(s)
            if is_terminal(s, self.verbs):
                done = True

    def target(self, name: str, span: Span) -> None:
        if name in self.scope.states:
            return
        sub = self.scope.subflow
        if sub is not None and name in self.scope.info.flow_states:
            self.err("E408", f"subflow '{sub.name}' cannot jump to '{name}' of the main flow",
                     span, "finish the subflow with 'return' and route in the caller")
            return
        hint = did_you_mean(name, self.scope.states)
        if hint is None and sub is None and any(
                name in {s.name for s in sf.states} for sf in self.scope.info.subflows.values()):
            hint = "that state belongs to a subflow; enter it with 'run'"
        self.err("E201", f"unknown state '{name}'", span, hint)

    def action(self, a: ast.Action, *, must_leave: bool = False, what: str = "") -> None:
        if a.target is not None:
            self.target(a.target, a.target_span or a.span)
        elif a.body is not None:
            self.block(a.body)
            if must_leave and not action_terminal(a, self.verbs):
                self.err("E401", f"the {what} block must say where the call goes", a.span,
                         "end it with goto, hangup, transfer or queue")

    # ------------------------------------------------------------ statements
    def statement(self, s: ast.Statement) -> None:  # noqa: PLR0912
        if isinstance(s, ast.Goto):
            self.target(s.target, s.target_span)
        elif isinstance(s, ast.SetVars):
            for a in s.assignments:
                self.assign(a.name, a.value, a.span)
        elif isinstance(s, ast.If):
            for b in s.branches:
                if b.cond is not None:
                    self.exprs.expect(b.cond, T.BOOL, "a condition")
                self.block(b.body)
        elif isinstance(s, ast.Switch):
            st = self.exprs.infer(s.subject)
            for c in s.cases:
                for v in c.values:
                    vt = self.exprs.infer(v)
                    if T.join(st, vt) is None:
                        self.err("E301", f"case value is {vt} but the switch is on {st}",
                                 v.span)
                self.action(c.action)
        elif isinstance(s, ast.Menu):
            self.menu(s)
        elif isinstance(s, ast.Collect):
            self.collect(s)
        elif isinstance(s, ast.Split):
            total = sum((b.percent for b in s.branches), Decimal(0))
            if s.branches and total != 100:
                self.err("E305", f"split branches add up to {total}%, not 100%", s.span,
                         "make the percentages add up to 100")
            if not s.branches:
                self.err("E302", "split needs branches", s.span, "branch 50% -> a")
            for sb in s.branches:
                self.action(sb.action, must_leave=True, what="branch")
        elif isinstance(s, ast.CallFunction):
            self.call(s)
        elif isinstance(s, ast.RunSubflow):
            self.run(s)
        elif isinstance(s, ast.Return):
            self.ret(s)
        elif isinstance(s, ast.Survey):
            for q in s.questions:
                self.prompt_or_text(q.prompt)
                if not q.keys or any(ch not in "0123456789*#" for ch in q.keys):
                    self.err("E305", f"question keys '{q.keys}' are not phone keys", q.span)
        else:
            self.verb(s)

    def assign(self, name: str, value: ast.Expr, span: Span) -> None:
        v = self.scope.lookup(name)
        t = self.exprs.infer(value)
        if v is None:
            self.err("E203", f"unknown variable '{name}'", span,
                     did_you_mean(name, self.scope.visible_names())
                     or f"declare it first: var {name} = …")
            return
        if v.readonly:
            self.err("E212", f"'{name}' is read-only", span,
                     "settings come from the deployment; copy it into a var to change it"
                     if v.scope == "setting" else None)
            return
        if not T.assignable(t, v.type):
            self.err("E301", f"'{name}' is {v.type}, cannot store a {t}", value.span)

    def prompt_or_text(self, e: ast.Expr) -> None:
        if isinstance(e, ast.Name) and e.name in self.scope.info.prompts:
            self.scope.info.prompt_uses.add(e.name)
            return
        if isinstance(e, ast.Name) and self.scope.lookup(e.name) is None:
            self.err("E202", f"unknown prompt '{e.name}'", e.span,
                     did_you_mean(e.name, self.scope.info.prompts))
            return
        self.exprs.expect(e, T.TEXT, "a prompt")
        self.sensitive_use(e)

    def sensitive_use(self, e: ast.Expr) -> None:
        for n in _names(e):
            v = self.scope.lookup(n.name)
            if v is not None and v.sensitive:
                self.diags.append(warning(
                    "W504", f"'{n.name}' was collected as sensitive and is exposed here", n.span,
                    "speak or send mask(…) or last4(…) of it, or nothing"))

    # ------------------------------------------------------------ menus and collects
    def options(self, opts: Sequence[ast.Option], specs: dict[str, ParamSpec], where: str
                ) -> dict[str, ast.Option]:
        seen: dict[str, ast.Option] = {}
        for o in opts:
            spec = specs.get(o.name.split(".")[0])
            if spec is None:
                self.err("E210", f"{where} has no option '{o.name}'", o.span,
                         did_you_mean(o.name, specs))
                continue
            if o.name in seen and not spec.repeated:
                self.err("E307", f"'{o.name}' is given twice", o.span)
                continue
            seen[o.name] = o
            self.param_value(spec, o)
        return seen

    def param_value(self, spec: ParamSpec, o: ast.Option) -> None:  # noqa: PLR0912
        e = o.value
        if spec.kind == EXPR:
            self.exprs.expect(e, spec.type, f"'{spec.name}'")
            if spec.type == T.DURATION and isinstance(e, ast.Lit) and e.value == 0:
                self.err("E305", f"'{spec.name}' must be longer than 0", e.span)
        elif spec.kind == NAME:
            if not isinstance(e, ast.Name | ast.Lit) or (
                    isinstance(e, ast.Lit) and e.kind != "text"):
                self.err("E301", f"'{spec.name}' is a name", e.span)
        elif spec.kind == VAR:
            if not isinstance(e, ast.Name):
                self.err("E301", f"'{spec.name}' names a variable", e.span)
        elif spec.kind == MEDIA:
            if isinstance(e, ast.Name):
                if e.name in self.scope.info.prompts:
                    self.scope.info.prompt_uses.add(e.name)
                else:
                    self.err("E202", f"unknown prompt '{e.name}'", e.span,
                             did_you_mean(e.name, self.scope.info.prompts)
                             or "declare it: prompt NAME: …")
            elif not (isinstance(e, ast.Lit) and e.kind == "text"):
                self.err("E301", f"'{spec.name}' is a prompt name or an audio file path",
                         e.span)
        elif spec.kind == PROMPT:
            self.prompt_or_text(e)
        elif spec.kind == LANG:
            if not isinstance(e, ast.Name):
                self.err("E301", "a language is a name like zh or en", e.span)
            elif e.name not in self.scope.info.languages:
                self.err("E211", f"the flow does not declare language '{e.name}'", e.span,
                         did_you_mean(e.name, self.scope.info.languages)
                         or "add it to 'languages' in the flow header")
        elif spec.kind == FIELDS:
            self.exprs.infer(e)
            self.sensitive_use(e)

    def input_handlers(self, s: ast.Menu | ast.Collect, what: str, span: Span) -> None:
        events = {h.event for h in s.handlers}
        counts: set[tuple[str, int]] = set()
        for h in s.handlers:
            if h.event not in ("noinput", "nomatch", "maxtries"):
                continue
            key = (h.event, h.count or 1)  # `noinput:` is `noinput 1:`
            if key in counts:
                self.err("E307", f"two '{h.event}' handlers for the same try", h.span,
                         f"'{h.event}:' without a number is '{h.event} 1:'")
            counts.add(key)
            self.action(h.action, must_leave=h.event == "maxtries", what=h.event)
        if "noinput" not in events:
            self.err("E402", f"{what} has no 'noinput' handler", span,
                     "say what happens when the caller presses nothing, e.g. "
                     "noinput: say \"对不起，没有听到您的按键。\"")
        if "nomatch" not in events:
            self.err("E403", f"{what} has no 'nomatch' handler", span,
                     "say what happens on a wrong key, e.g. nomatch: say \"输入有误。\"")
        if "maxtries" not in events:
            self.err("E404", f"{what} has no 'maxtries' route", span,
                     "e.g. maxtries -> agent   (where callers go after the last try)")

    def menu(self, s: ast.Menu) -> None:
        head = Span(s.span.line, s.span.col, s.span.line, s.span.col + 4)
        opts = self.options(s.options, MENU_OPTIONS, "menu")
        if "prompt" not in opts:
            self.err("E302", "menu has no prompt", head, "add a line: prompt main_menu")
        tries = opts.get("tries")
        if tries is not None and isinstance(tries.value, ast.Lit) and \
                isinstance(tries.value.value, int) and tries.value.value < 1:
            self.err("E305", "tries must be at least 1", tries.span)
        seen: dict[str, ast.MenuKey] = {}
        for k in s.keys:
            if k.key in seen:
                self.err("E410", f"key '{k.key}' is used twice in this menu", k.span,
                         f"the first use is on line {seen[k.key].span.line}")
            seen[k.key] = k
            if k.regex:
                try:
                    re.compile(k.key)
                except re.error as exc:
                    self.err("E106", f"invalid key pattern: {exc.msg}", k.span)
            self.action(k.action, must_leave=True, what=f"key {k.key}")
        if not s.keys:
            self.err("E302", "menu has no keys", head, "add lines like: key 1 -> outage")
        if len(s.keys) >= 3 and not any(k.action.keyword == "repeat" or k.key == "*"
                                        for k in s.keys):
            self.diags.append(warning("W506", "menu has no repeat key", head,
                                      'e.g. key "*" repeat   (重听请按星号键)'))
        self.input_handlers(s, "menu", head)

    def collect(self, s: ast.Collect) -> None:
        head = Span(s.span.line, s.span.col, s.span.line, s.span.col + 7)
        opts = self.options(s.options, COLLECT_OPTIONS, "collect")
        if "prompt" not in opts:
            self.err("E302", "collect has no prompt", head, "add a line: prompt enter_account")
        v = self.scope.lookup(s.var)
        if v is not None and v.readonly:
            self.err("E212", f"'{s.var}' is read-only", s.var_span)
        elif v is not None and not T.assignable(T.TEXT, v.type):
            self.err("E301", f"collect stores digits as text, but '{s.var}' is {v.type}",
                     s.var_span, f"declare it as: var {s.var}: text")

        def lit_int(name: str) -> int | None:
            o = opts.get(name)
            if o is not None and isinstance(o.value, ast.Lit) and o.value.kind == "int":
                return int(o.value.value)  # type: ignore[arg-type]  # int literal
            return None

        length, lo, hi = lit_int("length"), lit_int("min"), lit_int("max")
        if length is not None and (lo is not None or hi is not None):
            self.err("E305", "give either length or min/max", opts["length"].span)
        if lo is not None and hi is not None and lo > hi:
            self.err("E305", f"min {lo} is more than max {hi}", opts["min"].span)
        for n in ("length", "min", "max"):
            x = lit_int(n)
            if x is not None and not 1 <= x <= 64:
                self.err("E305", f"{n} must be between 1 and 64", opts[n].span)
        pat = opts.get("pattern")
        if pat is not None and isinstance(pat.value, ast.Lit) and pat.value.kind in (
                "text", "regex"):
            try:
                re.compile(str(pat.value.value))
            except re.error as exc:
                self.err("E106", f"invalid pattern: {exc.msg}", pat.value.span)
        term = opts.get("terminator")
        if term is not None and isinstance(term.value, ast.Lit) and (
                str(term.value.value) not in ("#", "*", "")):
            self.err("E305", "terminator is '#' or '*' (or \"\" for none)", term.value.span)
        self.input_handlers(s, "collect", head)

    # ------------------------------------------------------------ calls
    def call(self, s: ast.CallFunction) -> None:
        c = s.call
        info = self.scope.info
        decl = info.functions.get(c.func)
        info.function_uses.add(c.func)
        for o in s.options:
            if o.name != "timeout":
                self.err("E210", f"call has no option '{o.name}'", o.span,
                         did_you_mean(o.name, ["timeout"]) or "options: timeout=DURATION")
            else:
                self.param_value(ParamSpec("timeout", T.DURATION), o)
        for h in s.handlers:
            if h.event != "failure":
                self.err("E210", f"call has no route '{h.event}'", h.span,
                         did_you_mean(h.event, ["failure"]))
            self.action(h.action)
        if not any(h.event == "failure" for h in s.handlers):
            self.err("E406", f"call to '{c.func}' has no failure route", c.func_span,
                     "add 'failure -> STATE' for when the plugin fails or times out")
        if decl is None:
            self.err("E204", f"unknown function '{c.func}'", c.func_span,
                     did_you_mean(c.func, info.functions)
                     or f"declare it: function {c.func}(…) -> record")
            for a in c.args:
                self.exprs.infer(a)
            return
        params, _ret = info.function_types[c.func]
        self.arguments(c, params, f"'{c.func}'", "E303", c.func)

    def arguments(self, c: ast.Call, params: Sequence[tuple[str, T.Type]], what: str,
                  code: str, name: str) -> None:
        names = [n for n, _ in params]
        sig = f"{name}({', '.join(f'{n}: {t}' for n, t in params)})"
        given: dict[str, ast.Expr] = {}
        if len(c.args) > len(params):
            self.err(code, f"{what} takes {len(params)} argument(s), got {len(c.args)}",
                     c.args[len(params)].span, sig)
        for (n, _), a in zip(params, c.args, strict=False):
            given[n] = a
        for k, v in c.kwargs:
            if k not in names:
                self.err(code, f"{what} has no input '{k}'", v.span, did_you_mean(k, names))
            elif k in given:
                self.err(code, f"input '{k}' is given twice", v.span)
            given[k] = v
        for n, t in params:
            if n not in given:
                self.err(code, f"{what} needs input '{n}'", c.span, sig)
            else:
                self.exprs.expect(given[n], t, f"input '{n}' of {what}")
        for a in c.args[len(params):]:
            self.exprs.infer(a)

    def run(self, s: ast.RunSubflow) -> None:
        sub = self.scope.info.subflows.get(s.call.func)
        if sub is None:
            self.err("E207", f"unknown subflow '{s.call.func}'", s.call.func_span,
                     did_you_mean(s.call.func, self.scope.info.subflows))
            return
        params = [(p.name, self.scope.info.param_type(p)) for p in sub.inputs]
        self.arguments(s.call, params, f"subflow '{sub.name}'", "E304", sub.name)

    def ret(self, s: ast.Return) -> None:
        sub = self.scope.subflow
        if sub is None:
            self.err("E408", "'return' outside a subflow", s.span,
                     "the main flow ends with hangup, transfer or queue")
            return
        outs = {p.name: self.scope.info.param_type(p) for p in sub.outputs}
        given = set()
        for a in s.values:
            t = self.exprs.infer(a.value)
            if a.name not in outs:
                self.err("E304", f"subflow '{sub.name}' has no output '{a.name}'", a.span,
                         did_you_mean(a.name, outs))
                continue
            given.add(a.name)
            if not T.assignable(t, outs[a.name]):
                self.err("E301", f"output '{a.name}' is {outs[a.name]}, not {t}", a.value.span)
        missing = [n for n in outs if n not in given]
        if missing:
            self.err("E304", f"return does not give output(s) {', '.join(missing)}", s.span,
                     f"return {' '.join(f'{n}=…' for n in outs)}")

    # ------------------------------------------------------------ schema verbs
    def verb(self, s: ast.Verb) -> None:
        schema = self.verbs[s.name]
        specs = {p.name: p for p in schema.params}
        seen = self.options(s.options, specs, f"'{s.name}'")
        for p in schema.params:
            if p.required and p.name not in seen and not p.repeated:
                hint = f"{s.name} {p.name.upper()}" if p.positional else f"{p.name}=…"
                self.err("E302", f"'{s.name}' needs {p.name}", s.head_span, f"e.g. {hint}")
        routes = {h.event: h for h in s.handlers}
        for h in s.handlers:
            r = schema.route(h.event)
            if r is None:
                self.err("E210", f"'{s.name}' has no route '{h.event}'", h.span,
                         did_you_mean(h.event, [x.name for x in schema.routes]))
                continue
            self.action(h.action, must_leave=r.terminal, what=h.event)
        if (s.name == "queue" and "overflow" not in routes
                and not ("timeout" in routes and "no_agents" in routes)):
            self.err("E409", f"'{s.name}' has no overflow route", s.head_span,
                     "add 'overflow -> STATE' (or both 'timeout' and 'no_agents') for callers "
                     "who wait too long or find no agent")
        for r in schema.routes:
            if r.required and r.name not in routes:
                if r.name == "failure":
                    self.err("E406", f"'{s.name}' has no failure route", s.head_span,
                             f"add 'failure -> STATE' for when the {s.name} fails")
                elif r.name == "overflow":
                    self.err("E409", f"'{s.name}' has no overflow route", s.head_span,
                             "add 'overflow -> STATE' for callers who wait too long")
                else:
                    self.err("E302", f"'{s.name}' needs route '{r.name}'", s.head_span)
        self.verb_specifics(s, seen, routes)

    def verb_specifics(self, s: ast.Verb, seen: dict[str, ast.Option],
                       routes: dict[str, ast.Handler]) -> None:
        info = self.scope.info
        if s.name == "hangup" and "cause" in seen:
            e = seen["cause"].value
            if isinstance(e, ast.Lit) and e.kind == "text" and e.value not in HANGUP_CAUSES:
                self.err("E305", f"unknown hangup cause '{e.value}'", e.span,
                         did_you_mean(str(e.value), HANGUP_CAUSES)
                         or "e.g. NORMAL_CLEARING, USER_BUSY, CALL_REJECTED")
        if s.name == "queue":
            q = seen.get("queue")
            if q is not None:
                info.queues.add(_name_of(q.value))
            if "callback_after" in seen and "callback" not in routes:
                self.err("E302", "queue offers a callback but has no 'callback' route",
                         seen["callback_after"].span, "add 'callback -> STATE'")
        if s.name == "work_order":
            t = seen.get("type")
            if t is not None and isinstance(t.value, ast.Lit):
                info.order_types.add(str(t.value.value))
        if s.name in ("say", "sms", "notify"):
            for key in ("text",):
                if key in seen:
                    self.sensitive_use(seen[key].value)


_SAFE_FUNCTIONS = frozenset({"mask", "last4", "len"})


def _name_of(e: ast.Expr) -> str:
    if isinstance(e, ast.Name):
        return e.name
    if isinstance(e, ast.Lit):
        return str(e.value)
    return "?"


def _names(e: ast.Expr) -> list[ast.Name]:
    if isinstance(e, ast.Name):
        return [e]
    out: list[ast.Name] = []
    if isinstance(e, ast.Template):
        for p in e.parts:
            if isinstance(p, ast.Placeholder):
                out.extend(_names(p.expr))
    elif isinstance(e, ast.Attr):
        out.extend(_names(e.obj))
    elif isinstance(e, ast.Binary):
        out.extend(_names(e.left) + _names(e.right))
    elif isinstance(e, ast.Call) and e.func not in _SAFE_FUNCTIONS:
        for a in e.args:
            out.extend(_names(a))
    return out


__all__ = ["StatementChecker", "VarInfo"]

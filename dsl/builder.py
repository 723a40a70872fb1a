"""Statement layer → flow layer: gives each line its meaning by position and verb schema.

Structural problems found here (a ``key`` outside a menu, a missing header …) are E1xx
diagnostics; verbs nobody knows are E205. Everything else is left to the checker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from dsl import ast
from dsl.diagnostics import Diagnostic, did_you_mean, error
from dsl.span import Span
from dsl.testspec import build_test
from dsl.verbs import BUILTIN_VERBS, COLLECT_OPTIONS, FIELDS, MENU_OPTIONS, VerbSchema

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_GROUPS = {"daily": tuple(range(7)), "weekdays": tuple(range(5)), "weekends": (5, 6)}
_SPECIAL_STATEMENTS = ("goto", "set", "if", "elif", "else", "switch", "menu", "collect",
                       "split", "call", "run", "return", "survey", "max_visits")
_KEYWORD_ACTIONS = ("repeat", "back", "top")


class Builder:
    def __init__(self, verbs: Mapping[str, VerbSchema] | None = None) -> None:
        self.verbs: dict[str, VerbSchema] = dict(BUILTIN_VERBS)
        if verbs:
            self.verbs.update(verbs)
        self.diags: list[Diagnostic] = []

    # ------------------------------------------------------------ top level
    def flow(self, items: Sequence[ast.Item], *, test_file: bool = False  # noqa: PLR0912
             ) -> ast.Flow:
        header: ast.Header | None = None
        prompts: list[ast.Prompt] = []
        vars_: list[ast.VarDecl] = []
        funcs: list[ast.FunctionDecl] = []
        cals: list[ast.Calendar] = []
        states: list[ast.State] = []
        subs: list[ast.Subflow] = []
        tests: list[object] = []
        testing: str | None = None
        for it in items:
            if isinstance(it, ast.Decl):
                vars_.append(self.decl(it))
            elif isinstance(it, ast.FuncDecl):
                funcs.append(self.funcdecl(it))
            elif isinstance(it, ast.SubflowDef):
                subs.append(self.subflow(it))
            elif it.head == "flow":
                if header is not None:
                    self.err("E109", "second flow header in one file", it.head_span,
                             "one .flow file holds one flow; use subflows for parts")
                else:
                    header = self.header(it)
            elif it.head == "prompt":
                prompts.append(self.prompt(it))
            elif it.head == "hours":
                cals.append(self.calendar(it))
            elif it.head == "state":
                states.append(self.state(it))
            elif it.head == "test":
                tests.append(build_test(it, self.diags))
            elif it.head == "testing" and test_file:
                testing = self._string_arg(it)
            else:
                self._misplaced(it, "at the top level of a flow",
                                "top-level lines are flow, prompt, hours, state, subflow, "
                                "function, var/global/setting and test")
        if header is None and not test_file:
            self.err("E109", "missing flow header", Span.point(1, 1),
                     "start the file with 'flow NAME:' and its title, languages and dnis")
        if test_file and testing is None:
            self.err("E602", "test file does not say which flow it tests", Span.point(1, 1),
                     "add a line 'testing \"NAME.flow\"' at the top")
        return ast.Flow(header, tuple(prompts), tuple(vars_), tuple(funcs), tuple(cals),
                        tuple(states), tuple(subs), tuple(tests), testing)

    # ------------------------------------------------------------ helpers
    def err(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        self.diags.append(error(code, message, span, hint))

    def _misplaced(self, st: ast.Stmt | ast.Item, where: str, hint: str | None = None) -> None:
        if isinstance(st, ast.Stmt):
            known = st.head in self.verbs or st.head in _SPECIAL_STATEMENTS or st.head in (
                "state", "prompt", "hours", "flow", "key", "noinput", "nomatch", "maxtries",
                "case", "default", "branch", "test", "field", "question", "failure")
            if not known:
                cands = [*self.verbs, *_SPECIAL_STATEMENTS, "state", "prompt", "hours", "flow"]
                self.err("E205", f"unknown statement '{st.head}'", st.head_span,
                         did_you_mean(st.head, cands) or hint)
                return
            self.err("E108", f"'{st.head}' is not allowed {where}", st.head_span, hint)
        else:
            kind = {ast.Decl: "declaration", ast.FuncDecl: "function declaration",
                    ast.SubflowDef: "subflow"}[type(st)]
            self.err("E108", f"{kind} is not allowed {where}", st.span,
                     "declare it at the top level of the file")

    def _name_arg(self, st: ast.Stmt, what: str) -> tuple[str, Span]:
        if st.args and isinstance(st.args[0], ast.Pos) and isinstance(st.args[0].expr, ast.Name):
            return st.args[0].expr.name, st.args[0].span
        self.err("E103", f"expected a {what} name after '{st.head}'", st.head_span,
                 f"write '{st.head} NAME:'")
        return "?", st.head_span

    def _string_arg(self, st: ast.Stmt) -> str | None:
        if st.args and isinstance(st.args[0], ast.Pos) and isinstance(st.args[0].expr, ast.Lit) \
                and st.args[0].expr.kind == "text":
            return str(st.args[0].expr.value)
        self.err("E301", f"'{st.head}' expects a string", st.head_span, None)
        return None

    def _block(self, st: ast.Stmt) -> tuple[ast.Item, ...]:
        if st.body is None:
            self.err("E104", f"'{st.head}' needs a block", st.span.to(st.span),
                     f"end the line with ':' and indent the lines of the {st.head} under it")
            return ()
        return st.body

    # ------------------------------------------------------------ declarations
    def decl(self, d: ast.Decl) -> ast.VarDecl:
        return ast.VarDecl(d.scope, d.name, d.type, d.value, d.span, d.name_span)

    def funcdecl(self, f: ast.FuncDecl) -> ast.FunctionDecl:
        timeout: int | None = None
        for a in f.args:
            if isinstance(a, ast.Kw) and a.name == "timeout" and isinstance(a.expr, ast.Lit) \
                    and a.expr.kind == "duration":
                timeout = int(a.expr.value)  # type: ignore[arg-type]  # duration literal is int
            else:
                self.err("E210", "function declarations take only 'timeout=DURATION'", a.span,
                         "e.g. function crm.lookup(ani: text) -> record timeout=3s")
        return ast.FunctionDecl(f.name, f.params, f.returns, timeout, f.span, f.name_span)

    def header(self, st: ast.Stmt) -> ast.Header:  # noqa: PLR0912
        name, name_span = self._name_arg(st, "flow")
        title = version = ""
        langs: list[str] = []
        dnis: list[str] = []
        start: str | None = None
        start_span: Span | None = None
        max_dur: int | None = None
        max_dur_action: ast.Action | None = None
        max_vis: int | None = None
        max_vis_action: ast.Action | None = None
        for it in self._block(st):
            if not isinstance(it, ast.Stmt):
                self._misplaced(it, "in the flow header")
                continue
            h = it.head
            pos = [a for a in it.args if isinstance(a, ast.Pos)]
            if h in ("title", "version", "description"):
                s = self._string_arg(it)
                if h == "title":
                    title = s or ""
                elif h == "version":
                    version = s or ""
            elif h == "languages":
                for p in pos:
                    if isinstance(p.expr, ast.Name):
                        langs.append(p.expr.name)
                    else:
                        self.err("E301", "languages are names like zh, en, yue", p.span)
            elif h == "dnis":
                for p in pos:
                    if isinstance(p.expr, ast.Lit) and p.expr.kind in ("text", "int"):
                        dnis.append(str(p.expr.value))
                    else:
                        self.err("E301", "dnis values are numbers or strings", p.span)
            elif h == "start":
                if pos and isinstance(pos[0].expr, ast.Name):
                    start, start_span = pos[0].expr.name, pos[0].span
                else:
                    self.err("E103", "expected a state name after 'start'", it.head_span)
            elif h == "max_duration":
                max_dur, max_dur_action = self._guard(it, "duration")
            elif h == "max_visits":
                max_vis, max_vis_action = self._guard(it, "int")
            else:
                self._misplaced(it, "in the flow header",
                                "header lines: title, languages, dnis, version, start, "
                                "max_duration, max_visits")
        return ast.Header(name, title, tuple(langs), tuple(dnis), version, start, start_span,
                          max_dur, max_dur_action, max_vis, max_vis_action, st.span, name_span)

    def _guard(self, it: ast.Stmt, kind: str) -> tuple[int | None, ast.Action | None]:
        value: int | None = None
        action: ast.Action | None = None
        for a in it.args:
            if isinstance(a, ast.Pos) and isinstance(a.expr, ast.Lit) and a.expr.kind == kind:
                value = int(a.expr.value)  # type: ignore[arg-type]  # int or duration literal
            elif isinstance(a, ast.RouteArg) and a.name is None:
                action = ast.Action(a.target, None, None, a.span, a.target_span)
            else:
                self.err("E301", f"'{it.head}' expects a {kind} and '-> state'", a.span)
        if it.body is not None:
            action = ast.Action(None, None, self.statements(it.body), it.span)
        if value is None:
            self.err("E302", f"'{it.head}' needs a {kind} value", it.head_span)
        if action is None:
            self.err("E302", f"'{it.head}' needs '-> STATE'", it.head_span,
                     f"say where the call goes when the limit is reached, e.g. {it.head} "
                     f"{'3' if kind == 'int' else '30m'} -> goodbye")
        return value, action

    def prompt(self, st: ast.Stmt) -> ast.Prompt:
        name, name_span = self._name_arg(st, "prompt")
        variants: list[ast.PromptVariant] = []
        inline = list(st.args[1:])
        if inline:
            variants.append(self._variant(None, inline, st.span))
        for it in st.body or ():
            if not isinstance(it, ast.Stmt):
                self._misplaced(it, "in a prompt")
                continue
            if it.head == "file":
                variants.append(self._variant(None, list(it.args), it.span, file_first=True))
            else:
                variants.append(self._variant(it.head, list(it.args), it.span))
        if not variants:
            self.err("E302", f"prompt '{name}' has no text or file", st.head_span,
                     'add a line like: zh "您好"')
        return ast.Prompt(name, tuple(variants), st.span, name_span)

    def _variant(self, lang: str | None, args: list[ast.Arg], span: Span,
                 file_first: bool = False) -> ast.PromptVariant:
        text: ast.Expr | None = None
        file: str | None = None
        for i, a in enumerate(args):
            if isinstance(a, ast.Pos) and i == 0 and not file_first:
                text = a.expr
            elif (isinstance(a, ast.Pos) and i == 0 and file_first) or \
                    (isinstance(a, ast.Kw) and a.name == "file"):
                e = a.expr
                if isinstance(e, ast.Lit) and e.kind == "text":
                    file = str(e.value)
                else:
                    self.err("E301", "an audio file is given as a string", a.span)
            else:
                self.err("E210", "a prompt line is: LANG \"text\" [file=\"path.wav\"]", a.span)
        return ast.PromptVariant(lang, text, file, span)

    def calendar(self, st: ast.Stmt) -> ast.Calendar:
        name, name_span = self._name_arg(st, "calendar")
        tz = "Asia/Shanghai"
        weekly: list[ast.WeeklyRule] = []
        dates: list[ast.DateRule] = []
        for it in self._block(st):
            if not isinstance(it, ast.Stmt):
                self._misplaced(it, "in hours")
                continue
            h = it.head
            if h == "timezone":
                tz = self._string_arg(it) or tz
                continue
            days = _days(h)
            if days is not None:
                weekly.append(ast.WeeklyRule(days, self._ranges(it.args, it), it.span))
                continue
            if h in ("holiday", "special"):
                start = end = ""
                label = ""
                rest: list[ast.Arg] = []
                for a in it.args:
                    e = a.expr if isinstance(a, ast.Pos) else None
                    if isinstance(e, ast.Lit) and e.kind == "date" and not start:
                        start = end = str(e.value)
                    elif isinstance(e, ast.Lit) and e.kind == "daterange" and not start:
                        start, end = (str(x) for x in e.value)  # type: ignore[union-attr]
                    elif isinstance(e, ast.Lit) and e.kind == "text":
                        label = str(e.value)
                    else:
                        rest.append(a)
                if not start:
                    self.err("E302", f"'{h}' needs a date or a date range", it.head_span,
                             "e.g. holiday 2026-10-01..2026-10-07 \"国庆节\"")
                ranges = self._ranges(rest, it) if h == "special" else ()
                if h == "holiday" and rest:
                    self.err("E301", "a holiday is closed all day; use 'special' for opening "
                             "hours on a particular date", rest[0].span)
                dates.append(ast.DateRule(h, start, end, ranges, label, it.span))
                continue
            self.err("E108", f"'{h}' is not allowed in hours", it.head_span,
                     did_you_mean(h, [*_DAYS, *_DAY_GROUPS, "holiday", "special", "timezone"])
                     or "lines are: mon-fri 08:30-17:30, holiday DATE, special DATE HH:MM-HH:MM")
        return ast.Calendar(name, tz, tuple(weekly), tuple(dates), st.span, name_span)

    def _ranges(self, args: Sequence[ast.Arg], it: ast.Stmt) -> tuple[tuple[str, str], ...]:
        out: list[tuple[str, str]] = []
        for a in args:
            e = a.expr if isinstance(a, ast.Pos) else None
            if isinstance(e, ast.Lit) and e.kind == "timerange":
                lo, hi = (str(x) for x in e.value)  # type: ignore[union-attr]
                if lo >= hi:
                    self.err("E305", f"time range {lo}-{hi} ends before it starts", a.span)
                out.append((lo, hi))
            elif isinstance(e, ast.Name) and e.name == "closed":
                continue
            else:
                self.err("E301", "expected opening hours like 08:30-17:30", a.span)
        return tuple(out)

    def subflow(self, sd: ast.SubflowDef) -> ast.Subflow:
        vars_: list[ast.VarDecl] = []
        states: list[ast.State] = []
        start: str | None = None
        for it in sd.body:
            if isinstance(it, ast.Decl):
                if it.scope != "var":
                    self.err("E108", f"'{it.scope}' variables are declared at the top level",
                             it.span, "a subflow's own variables use 'var'")
                vars_.append(self.decl(it))
            elif isinstance(it, ast.Stmt) and it.head == "state":
                states.append(self.state(it))
            elif isinstance(it, ast.Stmt) and it.head == "start":
                start, _ = self._name_arg(it, "state")
            else:
                self._misplaced(it, "in a subflow", "a subflow holds var, start and state lines")
        return ast.Subflow(sd.name, sd.inputs, sd.outputs, tuple(vars_), tuple(states), start,
                           sd.span, sd.name_span)

    def state(self, st: ast.Stmt) -> ast.State:
        name, name_span = self._name_arg(st, "state")
        body = list(self._block(st))
        max_visits: int | None = None
        action: ast.Action | None = None
        first = body[0] if body else None
        if isinstance(first, ast.Stmt) and first.head == "max_visits":
            body.pop(0)
            max_visits, action = self._guard(first, "int")
        return ast.State(name, self.statements(body), max_visits, action, st.span, name_span)

    # ------------------------------------------------------------ statements
    def statements(self, items: Sequence[ast.Item]) -> tuple[ast.Statement, ...]:
        out: list[ast.Statement] = []
        pending_if: list[ast.IfBranch] | None = None
        if_span: Span | None = None

        def flush() -> None:
            nonlocal pending_if, if_span
            if pending_if is not None and if_span is not None:
                out.append(ast.If(tuple(pending_if), if_span))
            pending_if, if_span = None, None

        for it in items:
            if not isinstance(it, ast.Stmt):
                flush()
                self._misplaced(it, "inside a state")
                continue
            if it.head == "if":
                flush()
                pending_if = [ast.IfBranch(self._cond(it), self.statements(self._block(it)),
                                           it.span)]
                if_span = it.span
                continue
            if it.head in ("elif", "else"):
                if pending_if is None or pending_if[-1].cond is None:
                    self.err("E108", f"'{it.head}' without a matching 'if'", it.head_span,
                             "put it right after the if (or elif) block, at the same indent")
                    continue
                cond = self._cond(it) if it.head == "elif" else None
                if it.head == "else" and it.args:
                    self.err("E103", "'else' takes no condition", it.args[0].span,
                             "use 'elif CONDITION:'")
                pending_if.append(ast.IfBranch(cond, self.statements(self._block(it)), it.span))
                continue
            flush()
            s = self.statement(it)
            if s is not None:
                out.append(s)
        flush()
        return tuple(out)

    def _cond(self, it: ast.Stmt) -> ast.Expr:
        pos = [a for a in it.args if isinstance(a, ast.Pos)]
        if len(pos) != 1 or len(it.args) != 1:
            self.err("E103", f"'{it.head}' takes one condition", it.head_span,
                     "combine conditions with 'and' / 'or'")
            return ast.Lit("bool", True, it.head_span)
        return pos[0].expr

    def statement(self, it: ast.Stmt) -> ast.Statement | None:  # noqa: PLR0911, PLR0912
        h = it.head
        if h == "goto":
            if len(it.args) == 1 and isinstance(it.args[0], ast.Pos) and \
                    isinstance(it.args[0].expr, ast.Name):
                return ast.Goto(it.args[0].expr.name, it.span, it.args[0].span)
            self.err("E103", "expected a state name after 'goto'", it.head_span,
                     "write 'goto STATE'")
            return None
        if h == "set":
            assigns = []
            for a in it.args:
                if isinstance(a, ast.Kw):
                    assigns.append(ast.Assign(a.name, a.expr, a.span))
                else:
                    self.err("E103", "expected NAME = VALUE after 'set'", a.span,
                             "e.g. set tries = tries + 1")
            return ast.SetVars(tuple(assigns), it.span)
        if h == "return":
            vals = []
            for a in it.args:
                if isinstance(a, ast.Kw):
                    vals.append(ast.Assign(a.name, a.expr, a.span))
                else:
                    self.err("E103", "return gives outputs as NAME = VALUE", a.span)
            return ast.Return(tuple(vals), it.span)
        if h == "switch":
            return self.switch(it)
        if h == "menu":
            return self.menu(it)
        if h == "collect":
            return self.collect(it)
        if h == "split":
            return self.split(it)
        if h in ("call", "run"):
            return self.call(it)
        if h == "survey":
            return self.survey(it)
        schema = self.verbs.get(h)
        if schema is None:
            self._misplaced(it, "inside a state")
            return None
        return self.verb(it, schema)

    def action(self, it: ast.Stmt, route: ast.RouteArg | None) -> ast.Action:
        if route is not None:
            if it.body is not None:
                self.err("E103", "give either '-> state' or a block, not both", route.span)
            return ast.Action(route.target, None, None, route.span, route.target_span)
        if it.body is not None:
            return ast.Action(None, None, self.statements(it.body), it.span)
        self.err("E302", f"'{it.head}' needs '-> state' or a block", it.head_span,
                 f"e.g. {it.head} -> main_menu")
        return ast.Action(None, None, (), it.span)

    def handlers(self, it: ast.Stmt, allowed: Sequence[str]) -> ast.Handler:
        count: int | None = None
        route: ast.RouteArg | None = None
        for a in it.args:
            if isinstance(a, ast.Pos) and isinstance(a.expr, ast.Lit) and a.expr.kind == "int" \
                    and count is None and it.head in ("noinput", "nomatch"):
                count = int(a.expr.value)  # type: ignore[arg-type]  # int literal
                if count < 1:
                    self.err("E305", "handler counts start at 1", a.span)
            elif isinstance(a, ast.RouteArg) and a.name is None:
                route = a
            else:
                self.err("E103", f"unexpected argument to '{it.head}'", a.span,
                         f"'{it.head}' takes an optional count and '-> state' or a block")
        return ast.Handler(it.head, count, self.action(it, route), it.span)

    def switch(self, it: ast.Stmt) -> ast.Switch:
        subject = self._cond(it)
        cases: list[ast.Case] = []
        for c in self._block(it):
            if not isinstance(c, ast.Stmt) or c.head not in ("case", "default"):
                self._misplaced(c, "in a switch", "a switch holds case and default lines")
                continue
            values = tuple(a.expr for a in c.args if isinstance(a, ast.Pos))
            route = next((a for a in c.args if isinstance(a, ast.RouteArg)), None)
            if c.head == "case" and not values:
                self.err("E302", "'case' needs a value", c.head_span, 'e.g. case "A", "B" -> x')
            if c.head == "default" and values:
                self.err("E103", "'default' takes no value", c.args[0].span)
            cases.append(ast.Case(values if c.head == "case" else (), self.action(c, route),
                                  c.span))
        return ast.Switch(subject, tuple(cases), it.span)

    def _inline_options(self, it: ast.Stmt, skip: int = 0) -> list[ast.Option]:
        """``name=value`` options on a menu/collect line (after ``skip`` leading values)."""
        opts: list[ast.Option] = []
        for a in it.args[skip:]:
            if isinstance(a, ast.Kw):
                opts.append(ast.Option(a.name, a.expr, a.span))
            elif isinstance(a, ast.RouteArg):
                self.err("E210", f"'{it.head}' routes go in its block", a.span,
                         f"write them on their own lines under '{it.head}:', e.g. "
                         "maxtries -> agent")
            else:
                self.err("E303", f"unexpected value on the '{it.head}' line", a.span,
                         "options are written NAME=VALUE or on their own lines")
        return opts

    def _option_line(self, c: ast.Stmt) -> ast.Option | None:
        if not c.args:
            return ast.Option(c.head, ast.Lit("bool", True, c.head_span), c.span)
        if len(c.args) == 1 and isinstance(c.args[0], ast.Pos):
            return ast.Option(c.head, c.args[0].expr, c.span)
        if len(c.args) > 1 and all(isinstance(a, ast.Pos) for a in c.args):
            items = tuple(a.expr for a in c.args if isinstance(a, ast.Pos))
            return ast.Option(c.head, ast.ListLit(items, c.args[0].span.to(c.args[-1].span)),
                              c.span)
        self.err("E103", f"'{c.head}' takes one value", c.args[0].span)
        return None

    def menu(self, it: ast.Stmt) -> ast.Menu:
        opts = self._inline_options(it)
        keys: list[ast.MenuKey] = []
        handlers: list[ast.Handler] = []
        for c in self._block(it):
            if not isinstance(c, ast.Stmt):
                self._misplaced(c, "in a menu")
                continue
            if c.head == "key":
                keys.append(self._key(c))
            elif c.head in ("noinput", "nomatch", "maxtries"):
                handlers.append(self.handlers(c, ()))
            elif c.head in MENU_OPTIONS:
                o = self._option_line(c)
                if o:
                    opts.append(o)
            else:
                self._unknown_line(c, "menu", [*MENU_OPTIONS, "key", "noinput", "nomatch",
                                               "maxtries"])
        return ast.Menu(tuple(opts), tuple(keys), tuple(handlers), it.span)

    def _unknown_line(self, c: ast.Stmt, where: str, known: Sequence[str]) -> None:
        if c.head in self.verbs or c.head in _SPECIAL_STATEMENTS:
            self.err("E108", f"'{c.head}' is not allowed directly in a {where}", c.head_span,
                     "put it in a handler block (noinput:, key 1: …) or in the state")
        else:
            self.err("E210", f"unknown {where} option '{c.head}'", c.head_span,
                     did_you_mean(c.head, known))

    def _key(self, c: ast.Stmt) -> ast.MenuKey:
        key = "?"
        regex = False
        route: ast.RouteArg | None = None
        keyword: str | None = None
        for i, a in enumerate(c.args):
            e = a.expr if isinstance(a, ast.Pos) else None
            if i == 0 and isinstance(e, ast.Lit) and e.kind in ("int", "text", "regex"):
                key = str(e.value)
                regex = e.kind == "regex"
                if not regex and (not key or any(ch not in "0123456789*#" for ch in key)):
                    self.err("E305", f"'{key}' is not a phone key", a.span,
                             "keys are digits, * and #, e.g. key \"*\" repeat")
            elif i == 0 and isinstance(e, ast.Name) and e.name in ("star", "hash"):
                key = "*" if e.name == "star" else "#"
            elif isinstance(e, ast.Name) and e.name in _KEYWORD_ACTIONS and i > 0:
                keyword = e.name
            elif isinstance(a, ast.RouteArg) and a.name is None:
                route = a
            else:
                self.err("E103", "a key line is: key 1 -> STATE (or repeat, back, top, or a "
                         "block)", a.span, 'quote * and #: key "*" repeat')
        if not c.args:
            self.err("E302", "'key' needs the key", c.head_span, "e.g. key 1 -> outage")
        if keyword is not None:
            act = ast.Action(None, keyword, None, c.span)
        else:
            act = self.action(c, route)
        return ast.MenuKey(key, regex, act, c.span)

    def collect(self, it: ast.Stmt) -> ast.Collect:
        var, var_span = "?", it.head_span
        if it.args and isinstance(it.args[0], ast.Pos) and isinstance(it.args[0].expr, ast.Name):
            var, var_span = it.args[0].expr.name, it.args[0].span
        else:
            self.err("E302", "collect needs the variable that receives the digits",
                     it.head_span, "e.g. collect account:")
        opts = self._inline_options(it, skip=1)
        handlers: list[ast.Handler] = []
        for c in self._block(it):
            if not isinstance(c, ast.Stmt):
                self._misplaced(c, "in a collect")
                continue
            if c.head in ("noinput", "nomatch", "maxtries"):
                handlers.append(self.handlers(c, ()))
            elif c.head in COLLECT_OPTIONS:
                o = self._option_line(c)
                if o:
                    opts.append(o)
            else:
                self._unknown_line(c, "collect", [*COLLECT_OPTIONS, "noinput", "nomatch",
                                                  "maxtries"])
        return ast.Collect(var, var_span, tuple(opts), tuple(handlers), it.span)

    def split(self, it: ast.Stmt) -> ast.Split:
        branches: list[ast.SplitBranch] = []
        for c in self._block(it):
            if not isinstance(c, ast.Stmt) or c.head != "branch":
                self._misplaced(c, "in a split", "a split holds lines like: branch 30% -> x")
                continue
            pct = Decimal(0)
            route = None
            for a in c.args:
                if isinstance(a, ast.Pos) and isinstance(a.expr, ast.Lit) and \
                        a.expr.kind == "percent":
                    pct = Decimal(a.expr.value)  # type: ignore[arg-type]  # percent literal
                elif isinstance(a, ast.RouteArg) and a.name is None:
                    route = a
                else:
                    self.err("E103", "a split line is: branch 30% -> STATE", a.span)
            branches.append(ast.SplitBranch(pct, self.action(c, route), c.span))
        return ast.Split(tuple(branches), it.span)

    def call(self, it: ast.Stmt) -> ast.CallFunction | ast.RunSubflow | None:  # noqa: PLR0912
        first = it.args[0] if it.args else None
        result: str | None = None
        result_span: Span | None = None
        call: ast.Call | None = None
        if isinstance(first, ast.Kw) and isinstance(first.expr, ast.Call):
            result, result_span, call = first.name, first.name_span, first.expr
        elif isinstance(first, ast.Pos) and isinstance(first.expr, ast.Call):
            call = first.expr
        if call is None:
            what = "function" if it.head == "call" else "subflow"
            self.err("E103", f"expected {it.head} [RESULT =] {what}(ARGS)", it.head_span,
                     f"e.g. {it.head} r = name(x)")
            return None
        if it.head == "run":
            for a in it.args[1:]:
                self.err("E210", "'run' takes no options", a.span,
                         "subflows handle their own failures")
            for c in it.body or ():
                self._misplaced(c, "under run")
            return ast.RunSubflow(result, result_span, call, it.span)
        opts: list[ast.Option] = []
        handlers: list[ast.Handler] = []
        for a in it.args[1:]:
            if isinstance(a, ast.Kw):
                opts.append(ast.Option(a.name, a.expr, a.span))
            elif isinstance(a, ast.RouteArg) and a.name is not None:
                handlers.append(ast.Handler(a.name, None, ast.Action(
                    a.target, None, None, a.span, a.target_span), a.span))
            else:
                self.err("E103", "unexpected argument to 'call'", a.span,
                         "options are timeout=DURATION and failure -> STATE")
        for c in it.body or ():
            if isinstance(c, ast.Stmt) and c.head == "failure":
                handlers.append(self.handlers(c, ()))
            elif isinstance(c, ast.Stmt) and c.head == "timeout":
                o = self._option_line(c)
                if o:
                    opts.append(o)
            elif isinstance(c, ast.Stmt):
                self._unknown_line(c, "call", ["timeout", "failure"])
            else:
                self._misplaced(c, "under call")
        return ast.CallFunction(result, result_span, call, tuple(opts), tuple(handlers), it.span)

    def survey(self, it: ast.Stmt) -> ast.Survey:
        name, _ = self._name_arg(it, "survey")
        qs: list[ast.Question] = []
        for c in self._block(it):
            if not isinstance(c, ast.Stmt) or c.head != "question":
                self._misplaced(c, "in a survey",
                                'a survey holds lines like: question q1 "…请按1…" keys="123"')
                continue
            qname = "?"
            prompt: ast.Expr | None = None
            keys = "12345"
            for a in c.args:
                e = a.expr if isinstance(a, ast.Pos) else None
                if isinstance(e, ast.Name) and qname == "?":
                    qname = e.name
                elif isinstance(a, ast.Pos) and prompt is None:
                    prompt = a.expr
                elif isinstance(a, ast.Kw) and a.name == "keys" and \
                        isinstance(a.expr, ast.Lit) and a.expr.kind in ("text", "int"):
                    keys = str(a.expr.value)
                else:
                    self.err("E103", 'a question line is: question NAME "prompt" keys="123"',
                             a.span)
            if prompt is None:
                self.err("E302", "question needs a name and a prompt", c.head_span)
                prompt = ast.Lit("text", "", c.head_span)
            qs.append(ast.Question(qname, prompt, keys, c.span))
        return ast.Survey(name, tuple(qs), it.span)

    def verb(self, it: ast.Stmt, schema: VerbSchema) -> ast.Verb:  # noqa: PLR0912
        opts: list[ast.Option] = []
        handlers: list[ast.Handler] = []
        positional = list(schema.positional)
        for a in it.args:
            if isinstance(a, ast.Pos):
                if positional:
                    opts.append(ast.Option(positional.pop(0).name, a.expr, a.span))
                else:
                    self.err("E303", f"too many values for '{it.head}'", a.span,
                             "name the option: NAME=VALUE")
            elif isinstance(a, ast.Kw):
                opts.append(ast.Option(a.name, a.expr, a.span))
            elif a.name is not None:
                handlers.append(ast.Handler(a.name, None, ast.Action(
                    a.target, None, None, a.span, a.target_span), a.span))
            else:
                self.err("E103", f"'{it.head}' takes named routes like 'failure -> STATE'",
                         a.span)
        for c in it.body or ():
            if not isinstance(c, ast.Stmt):
                self._misplaced(c, f"under {it.head}")
                continue
            p = schema.param(c.head)
            if schema.route(c.head) is not None:
                handlers.append(self.handlers(c, ()))
            elif p is not None and p.kind == FIELDS:
                for a in c.args:
                    if isinstance(a, ast.Kw):
                        opts.append(ast.Option(f"field.{a.name}", a.expr, a.span))
                    else:
                        self.err("E103", "a field line is: field NAME = VALUE", a.span)
            elif p is not None:
                o = self._option_line(c)
                if o:
                    opts.append(o)
            else:
                known = [x.name for x in schema.params] + [r.name for r in schema.routes]
                self._unknown_line(c, it.head, known)
        return ast.Verb(it.head, tuple(opts), tuple(handlers), it.span, it.head_span)


def _days(head: str) -> tuple[int, ...] | None:
    if head in _DAY_GROUPS:
        return _DAY_GROUPS[head]
    if head in _DAYS:
        return (_DAYS.index(head),)
    if "-" in head:
        a, b = head.split("-", 1)
        if a in _DAYS and b in _DAYS:
            i, j = _DAYS.index(a), _DAYS.index(b)
            return tuple(range(i, j + 1)) if i <= j else (*range(i, 7), *range(j + 1))
    return None

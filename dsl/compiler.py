"""Flow AST (checked, error-free) → IR (:mod:`dsl.ir`).

Each state becomes a flat list of ops. Out-of-line blocks (key actions, handlers, routes,
branches) are appended after the state's main line; every jump is an index into that list,
so the runtime only needs a program counter per state to suspend and resume a call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dsl import ast
from dsl import types as T
from dsl.expr import to_ir
from dsl.flowgraph import action_terminal, state_edges, terminates, walk
from dsl.ir import IR, IR_VERSION, content_hash
from dsl.verbs import BUILTIN_VERBS, LANG, MEDIA, NAME, PROMPT, VAR, VerbSchema

Op = dict[str, Any]


class _StateCode:
    def __init__(self, verbs: Mapping[str, VerbSchema],
                 timeouts: Mapping[str, int | None] | None = None) -> None:
        self.timeouts = timeouts or {}
        self.code: list[Op] = []
        self.lines: list[int] = []
        self.pending: list[tuple[int, str, ast.Action, str, int | None]] = []
        self.verbs = verbs

    def emit(self, op: Op, line: int) -> int:
        self.code.append(op)
        self.lines.append(line)
        return len(self.code) - 1

    # ------------------------------------------------------------ blocks
    def block(self, stmts: Sequence[ast.Statement]) -> None:
        for s in stmts:
            self.stmt(s)
            if _ends(s, self.verbs):
                return

    def out_of_line(self, action: ast.Action, *, then: str, back_pc: int | None,
                    line: int) -> int:
        """Compile an action as a separate block; returns its pc.

        ``then`` says what a block that does not jump does at its end: "retry" (re-prompt
        the menu/collect at ``back_pc``) or "continue" (go to ``back_pc``)."""
        start = len(self.code)
        if action.target is not None:
            self.emit({"op": "goto", "state": action.target}, line)
        elif action.keyword is not None:
            self.emit({"op": action.keyword} if action.keyword != "repeat"
                      else {"op": "repeat", "pc": back_pc}, line)
        else:
            self.block(action.body or ())
            if not action_terminal(action, self.verbs):
                if then == "retry":
                    self.emit({"op": "retry", "pc": back_pc}, line)
                else:
                    self.emit({"op": "jump", "pc": back_pc}, line)
        return start

    def flush(self) -> None:
        """Place deferred blocks (recorded by statements that jump out of line)."""
        while self.pending:
            op_pc, key, action, then, back = self.pending.pop(0)
            pc = self.out_of_line(action, then=then, back_pc=back,
                                  line=action.span.line)
            _set(self.code[op_pc], key, pc)

    def defer(self, op_pc: int, key: str, action: ast.Action, then: str,
              back: int | None) -> None:
        self.pending.append((op_pc, key, action, then, back))

    # ------------------------------------------------------------ statements
    def stmt(self, s: ast.Statement) -> None:  # noqa: PLR0912, PLR0915
        line = s.span.line
        if isinstance(s, ast.Goto):
            self.emit({"op": "goto", "state": s.target}, line)
        elif isinstance(s, ast.SetVars):
            self.emit({"op": "set", "assign": [[a.name, to_ir(a.value)]
                                               for a in s.assignments]}, line)
        elif isinstance(s, ast.If):
            jumps: list[int] = []
            for b in s.branches:
                if b.cond is None:
                    self.block(b.body)
                    break
                br = self.emit({"op": "branch", "cond": to_ir(b.cond), "else": None}, b.span.line)
                self.block(b.body)
                if not terminates(b.body, self.verbs):
                    jumps.append(self.emit({"op": "jump", "pc": None}, b.span.line))
                self.code[br]["else"] = len(self.code)
            end = len(self.code)
            for j in jumps:
                self.code[j]["pc"] = end
        elif isinstance(s, ast.Switch):
            pc = self.emit({"op": "switch", "subject": to_ir(s.subject), "cases": [],
                            "default": None}, line)
            after = pc + 1
            for i, c in enumerate(s.cases):
                key = f"cases.{i}.1" if c.values else "default"
                if c.values:
                    self.code[pc]["cases"].append([[to_ir(v) for v in c.values], None])
                self.defer(pc, key, c.action, "continue", after)
            if not any(not c.values for c in s.cases):
                self.code[pc]["default"] = after
        elif isinstance(s, ast.Menu):
            opts = {o.name: o for o in s.options}
            op: Op = {"op": "menu",
                      "prompt": _prompt_ref(opts.get("prompt")),
                      "short": _prompt_ref(opts.get("short")),
                      "timeout_ms": _lit(opts.get("timeout"), 5000),
                      "inter_digit_ms": _lit(opts.get("inter_digit"), 2000),
                      "digits": _lit(opts.get("digits"),
                                     max((len(k.key) for k in s.keys if not k.regex),
                                         default=1)),
                      "tries": _lit(opts.get("tries"), 3),
                      "barge": _lit(opts.get("barge"), True),
                      "keys": [], "noinput": [], "nomatch": [], "maxtries": None}
            pc = self.emit(op, line)
            for i, k in enumerate(s.keys):
                op["keys"].append({"key": k.key, "regex": k.regex, "pc": None})
                self.defer(pc, f"keys.{i}.pc", k.action, "retry", pc)
            self._input_handlers(pc, op, s.handlers)
        elif isinstance(s, ast.Collect):
            opts = {o.name: o for o in s.options}
            op = {"op": "collect", "var": s.var,
                  "prompt": _prompt_ref(opts.get("prompt")),
                  "short": _prompt_ref(opts.get("short")),
                  "first_digit_ms": _lit(opts.get("first_digit"), 5000),
                  "inter_digit_ms": _lit(opts.get("inter_digit"), 3000),
                  "terminator": _lit(opts.get("terminator"), "#"),
                  "min": _lit(opts.get("length"), _lit(opts.get("min"), 1)),
                  "max": _lit(opts.get("length"), _lit(opts.get("max"), 20)),
                  "pattern": _lit(opts.get("pattern"), None),
                  "valid": to_ir(opts["valid"].value) if "valid" in opts else None,
                  "tries": _lit(opts.get("tries"), 3),
                  "sensitive": _lit(opts.get("sensitive"), False),
                  "barge": _lit(opts.get("barge"), True),
                  "noinput": [], "nomatch": [], "maxtries": None}
            pc = self.emit(op, line)
            self._input_handlers(pc, op, s.handlers)
        elif isinstance(s, ast.Split):
            op = {"op": "split", "branches": []}
            pc = self.emit(op, line)
            for i, sb in enumerate(s.branches):
                op["branches"].append([str(sb.percent), None])
                self.defer(pc, f"branches.{i}.1", sb.action, "continue", None)
        elif isinstance(s, ast.CallFunction):
            opts = {o.name: o for o in s.options}
            op = {"op": "call", "function": s.call.func,
                  "args": [to_ir(a) for a in s.call.args],
                  "kwargs": {k: to_ir(v) for k, v in s.call.kwargs},
                  "result": s.result,
                  "timeout_ms": _lit(opts.get("timeout"), self.timeouts.get(s.call.func)),
                  "failure": None}
            pc = self.emit(op, line)
            for h in s.handlers:
                self.defer(pc, "failure", h.action, "continue", pc + 1)
        elif isinstance(s, ast.RunSubflow):
            self.emit({"op": "run", "subflow": s.call.func,
                       "args": [to_ir(a) for a in s.call.args],
                       "kwargs": {k: to_ir(v) for k, v in s.call.kwargs},
                       "result": s.result}, line)
        elif isinstance(s, ast.Return):
            self.emit({"op": "return", "values": {a.name: to_ir(a.value) for a in s.values}},
                      line)
        elif isinstance(s, ast.Survey):
            self.emit({"op": "survey", "name": s.name, "questions": [
                {"name": q.name, "prompt": _prompt_expr(q.prompt), "keys": q.keys}
                for q in s.questions]}, line)
        else:
            self.verb(s)

    def _input_handlers(self, pc: int, op: Op, handlers: Sequence[ast.Handler]) -> None:
        for h in handlers:
            if h.event == "maxtries":
                self.defer(pc, "maxtries", h.action, "continue", None)
            else:
                op[h.event].append({"count": h.count or 1, "pc": None})
                self.defer(pc, f"{h.event}.{len(op[h.event]) - 1}.pc", h.action, "retry", pc)
        for ev in ("noinput", "nomatch"):
            op[ev].sort(key=lambda x: x["count"])

    def verb(self, s: ast.Verb) -> None:
        schema = self.verbs[s.name]
        args: dict[str, Any] = {}
        fields: dict[str, Any] = {}
        for o in s.options:
            if o.name.startswith("field."):
                fields[o.name[6:]] = to_ir(o.value)
                continue
            spec = schema.param(o.name)
            kind = spec.kind if spec else "expr"
            e = o.value
            if kind in (NAME, VAR, LANG):
                args[o.name] = e.name if isinstance(e, ast.Name) else (
                    str(e.value) if isinstance(e, ast.Lit) else None)
            elif kind == MEDIA:
                args[o.name] = {"prompt": e.name} if isinstance(e, ast.Name) else {
                    "file": str(e.value) if isinstance(e, ast.Lit) else None}
            elif kind == PROMPT:
                args[o.name] = _prompt_expr(e)
            else:
                args[o.name] = to_ir(e)
        if s.name == "hangup" and "cause" not in args:
            args["cause"] = ["lit", "text", "NORMAL_CLEARING"]
        op: Op = {"op": s.name, "args": args, "routes": {}}
        if fields:
            op["fields"] = fields
        if schema.provider != "core":
            op["plugin"] = schema.provider
        pc = self.emit(op, s.span.line)
        for h in s.handlers:
            op["routes"][h.event] = None
            self.defer(pc, f"routes.{h.event}", h.action, "continue", pc + 1)


def _set(op: Op, path: str, value: int) -> None:
    parts = path.split(".")
    cur: Any = op
    for p in parts[:-1]:
        cur = cur[int(p)] if isinstance(cur, list) else cur[p]
    last = parts[-1]
    if isinstance(cur, list):
        cur[int(last)] = value
    else:
        cur[last] = value


def _ends(s: ast.Statement, verbs: Mapping[str, VerbSchema]) -> bool:
    return terminates([s], verbs)


def _lit(o: ast.Option | None, default: Any) -> Any:
    if o is None:
        return default
    e = o.value
    if isinstance(e, ast.Lit):
        v = e.value
        return str(v) if not isinstance(v, str | int | bool) else v
    return default


def _prompt_ref(o: ast.Option | None) -> dict[str, Any] | None:
    return None if o is None else _prompt_expr(o.value)


def _prompt_expr(e: ast.Expr) -> dict[str, Any]:
    if isinstance(e, ast.Name):
        return {"prompt": e.name}
    return {"text": to_ir(e)}


def _states(states: Sequence[ast.State], verbs: Mapping[str, VerbSchema],
            timeouts: Mapping[str, int | None]
            ) -> tuple[dict[str, Any], dict[str, list[int]]]:
    out: dict[str, Any] = {}
    source_map: dict[str, list[int]] = {}
    for st in states:
        sc = _StateCode(verbs, timeouts)
        sc.block(st.body)
        sc.flush()
        guard_pc = None
        if st.max_visits_action is not None:
            guard_pc = sc.out_of_line(st.max_visits_action, then="continue", back_pc=None,
                                      line=st.max_visits_action.span.line)
            sc.flush()
        out[st.name] = {"max_visits": st.max_visits, "max_visits_pc": guard_pc,
                        "code": sc.code}
        source_map[st.name] = sc.lines
    return out, source_map


def _variables(decls: Sequence[ast.VarDecl], bound: Mapping[str, str],
               sensitive: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for v in decls:
        vt = T.from_ref(v.type) if v.type is not None else None
        out[v.name] = {"scope": v.scope, "type": str(vt) if vt else None,
                       "default": to_ir(v.value) if v.value is not None else None,
                       "sensitive": v.name in sensitive}
    for name, t in bound.items():
        out.setdefault(name, {"scope": "bound", "type": t, "default": None,
                              "sensitive": name in sensitive})
    return out


def compile_flow(  # noqa: PLR0912
        flow: ast.Flow, var_types: Mapping[str, Mapping[str, str]],
                 sensitive: Mapping[str, set[str]],
                 verbs: Mapping[str, VerbSchema] | None = None) -> IR:
    """Compile a flow the checker accepted (no errors). ``var_types`` maps scope ("" for the
    main flow, else the subflow name) → variable → type name, for implicit bindings."""
    vs: dict[str, VerbSchema] = {**BUILTIN_VERBS, **(verbs or {})}
    h = flow.header
    assert h is not None, "compile only flows that passed the checker"
    languages = list(h.languages or ("zh",))
    timeouts = {f.name: f.timeout_ms for f in flow.functions}
    states, smap = _states(flow.states, vs, timeouts)
    guards: dict[str, Any] = {"max_duration_ms": h.max_duration_ms, "max_visits": h.max_visits,
                              "max_duration_pc": None, "max_visits_pc": None}
    if h.max_duration_action is not None or h.max_visits_action is not None:
        sc = _StateCode(vs)
        for key, act in (("max_duration_pc", h.max_duration_action),
                         ("max_visits_pc", h.max_visits_action)):
            if act is not None:
                guards[key] = sc.out_of_line(act, then="continue", back_pc=None,
                                             line=act.span.line)
                sc.flush()
        states["$guards"] = {"max_visits": None, "max_visits_pc": None, "code": sc.code}
        guards["guard_state"] = "$guards"
        smap["$guards"] = sc.lines
    prompts: dict[str, Any] = {}
    for p in flow.prompts:
        variants: dict[str, Any] = {}
        for v in p.variants:
            lang = v.lang or ("*" if v.text is None else languages[0])
            variants[lang] = {"text": to_ir(v.text) if v.text is not None else None,
                              "file": v.file}
        prompts[p.name] = variants
    subflows: dict[str, Any] = {}
    for sub in flow.subflows:
        sstates, ssmap = _states(sub.states, vs, timeouts)
        for k, lines in ssmap.items():
            smap[f"{sub.name}.{k}"] = lines
        subflows[sub.name] = {
            "inputs": [[p.name, str(T.from_ref(p.type) or T.ANY)] for p in sub.inputs],
            "outputs": [[p.name, str(T.from_ref(p.type) or T.ANY)] for p in sub.outputs],
            "start": sub.start or (sub.states[0].name if sub.states else None),
            "variables": _variables(sub.vars, var_types.get(sub.name, {}),
                                    sensitive.get(sub.name, set())),
            "states": sstates,
        }
    edges: list[list[str]] = []
    start = h.start or (flow.states[0].name if flow.states else None)
    for st in flow.states:
        edges.extend([st.name, t, label] for label, t in state_edges(st, start))
    for sub in flow.subflows:
        sstart = sub.start or (sub.states[0].name if sub.states else None)
        for st in sub.states:
            edges.extend([f"{sub.name}.{st.name}", f"{sub.name}.{t}", label]
                         for label, t in state_edges(st, sstart))
            for s in st.body:
                del s  # edges into subflows come from run statements below
        for st in flow.states:
            if _runs(st, sub.name) and sstart:
                edges.append([st.name, f"{sub.name}.{sstart}", "run"])
    nodes = [st.name for st in flow.states] + [
        f"{sub.name}.{st.name}" for sub in flow.subflows for st in sub.states]
    ir: IR = {
        "ir_version": IR_VERSION,
        "name": h.name, "title": h.title, "languages": languages, "dnis": list(h.dnis),
        "version": h.version, "start": start, "guards": guards,
        "prompts": prompts,
        "variables": _variables(flow.vars, var_types.get("", {}), sensitive.get("", set())),
        "functions": {f.name: {"params": [[p.name, str(T.from_ref(p.type) or T.ANY)]
                                          for p in f.params],
                               "returns": str(T.from_ref(f.returns) or T.ANY)
                               if f.returns else "any",
                               "timeout_ms": f.timeout_ms} for f in flow.functions},
        "calendars": {c.name: {"timezone": c.timezone,
                               "weekly": [{"days": list(w.days),
                                           "ranges": [list(r) for r in w.ranges]}
                                          for w in c.weekly],
                               "dates": [{"kind": d.kind, "start": d.start, "end": d.end,
                                          "ranges": [list(r) for r in d.ranges],
                                          "label": d.label} for d in c.dates]}
                      for c in flow.calendars},
        "states": states,
        "subflows": subflows,
        "graph": {"start": start, "nodes": nodes, "edges": edges},
        "source_map": smap,
    }
    ir["content_hash"] = content_hash(ir)
    return ir


def _runs(st: ast.State, sub: str) -> bool:
    return any(isinstance(s, ast.RunSubflow) and s.call.func == sub for s in walk(st.body))

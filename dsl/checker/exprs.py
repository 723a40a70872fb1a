"""Static types of expressions (E203, E204, E208, E301, E303)."""

from __future__ import annotations

from dsl import ast
from dsl import types as T
from dsl.builtins import BUILTINS
from dsl.checker.scope import DATETIME_FIELDS, Scope
from dsl.diagnostics import Diagnostic, did_you_mean, error

SAY_AS = {"text": None, "number": (T.INT, T.DECIMAL), "digits": (T.TEXT, T.INT),
          "money": (T.INT, T.DECIMAL), "date": (T.DATE, T.DATETIME),
          "time": (T.TIME, T.DATETIME), "phone": (T.TEXT,)}

_LIT_TYPES = {"text": T.TEXT, "int": T.INT, "decimal": T.DECIMAL, "bool": T.BOOL,
              "duration": T.DURATION, "time": T.TIME, "date": T.DATE, "regex": T.TEXT,
              "percent": T.DECIMAL}


class ExprChecker:
    def __init__(self, scope: Scope, diags: list[Diagnostic]) -> None:
        self.scope = scope
        self.diags = diags

    def err(self, code: str, msg: str, e: ast.Expr, hint: str | None = None) -> T.Type:
        self.diags.append(error(code, msg, e.span, hint))
        return T.ANY

    def expect(self, e: ast.Expr, want: T.Type, what: str) -> T.Type:
        got = self.infer(e)
        if not T.assignable(got, want):
            self.err("E301", f"{what} must be {want}, not {got}", e, _convert_hint(got, want))
        return got

    def infer(self, e: ast.Expr) -> T.Type:  # noqa: PLR0911, PLR0912, PLR0915
        if isinstance(e, ast.Lit):
            t = _LIT_TYPES.get(e.kind)
            if t is None:
                return self.err("E301", f"a {e.kind} is only allowed in hours", e)
            return t
        if isinstance(e, ast.Template):
            for p in e.parts:
                if isinstance(p, ast.Placeholder):
                    t = self.infer(p.expr)
                    if p.say_as is not None:
                        if p.say_as not in SAY_AS:
                            self.diags.append(error(
                                "E305", f"unknown say-as '{p.say_as}'", p.span,
                                did_you_mean(p.say_as, SAY_AS) or
                                "say-as is one of " + ", ".join(SAY_AS)))
                        else:
                            ok = SAY_AS[p.say_as]
                            if ok is not None and t != T.ANY and t not in ok:
                                self.diags.append(error(
                                    "E301", f"'{p.say_as}' cannot say a {t}", p.span, None))
            return T.TEXT
        if isinstance(e, ast.Name):
            v = self.scope.lookup(e.name)
            if v is None:
                return self.err("E203", f"unknown variable '{e.name}'", e,
                                did_you_mean(e.name, self.scope.visible_names())
                                or f"declare it: var {e.name} = …")
            v.reads += 1
            return v.type
        if isinstance(e, ast.Attr):
            if isinstance(e.obj, ast.Name) and self.scope.lookup(e.obj.name) is None and \
                    e.name in ("open", "holiday", "special"):
                return self.err("E208", f"unknown calendar '{e.obj.name}'", e.obj,
                                did_you_mean(e.obj.name, self.scope.info.calendars)
                                or f"declare it: hours {e.obj.name}: …")
            base = self.infer(e.obj)
            if base == T.DATETIME:
                ft = DATETIME_FIELDS.get(e.name)
            elif base.name in ("record", "any", "calendar"):
                ft = base.field(e.name)
            else:
                return self.err("E301", f"a {base} has no fields", e)
            if ft is None:
                fields = [k for k, _ in base.fields or ()] or list(DATETIME_FIELDS)
                return self.err("E203", f"{base} has no field '{e.name}'", e,
                                did_you_mean(e.name, fields))
            return ft
        if isinstance(e, ast.Index):
            base = self.infer(e.obj)
            it = self.infer(e.index)
            if base.name == "list":
                if not T.assignable(it, T.INT):
                    self.err("E301", f"list index must be int, not {it}", e.index)
                return base.arg or T.ANY
            if base.name in ("record", "any"):
                return T.ANY
            return self.err("E301", f"cannot index a {base}", e)
        if isinstance(e, ast.Call):
            return self.call(e)
        if isinstance(e, ast.Unary):
            t = self.infer(e.operand)
            if e.op == "not":
                if not T.assignable(t, T.BOOL):
                    self.err("E301", f"'not' needs a bool, not {t}", e.operand)
                return T.BOOL
            if not (T.is_numeric(t) or t == T.DURATION):
                self.err("E301", f"cannot negate a {t}", e.operand)
            return t
        if isinstance(e, ast.Binary):
            return self.binary(e)
        if isinstance(e, ast.ListLit):
            elem: T.Type | None = None
            for x in e.items:
                t = self.infer(x)
                if elem is None:
                    elem = t
                else:
                    j = T.join(elem, t)
                    if j is None:
                        self.err("E301", f"list mixes {elem} and {t}", x)
                    else:
                        elem = j
            return T.list_of(elem or T.ANY)
        return T.record_of({k: self.infer(v) for k, v in e.fields})

    def call(self, e: ast.Call) -> T.Type:
        b = BUILTINS.get(e.func) or self.scope.info.env.expr_functions.get(e.func)
        if b is None:
            if e.func in self.scope.info.functions:
                self.diags.append(error(
                    "E301", f"'{e.func}' is a plugin function and cannot be used in an "
                    "expression", e.func_span,
                    f"call it on its own line: call result = {e.func}(…) failure -> STATE"))
                return T.ANY
            self.diags.append(error("E204", f"unknown function '{e.func}'", e.func_span,
                                    did_you_mean(e.func, [*BUILTINS,
                                                          *self.scope.info.env.expr_functions])))
            for a in e.args:
                self.infer(a)
            return T.ANY
        if e.kwargs or len(e.args) != len(b.params):
            self.diags.append(error(
                "E303", f"'{e.func}' takes {len(b.params)} argument(s), got "
                f"{len(e.args) + len(e.kwargs)}", e.span, f"{e.func}: {b.doc}"))
            return b.returns
        types = []
        for a, want in zip(e.args, b.params, strict=True):
            got = self.infer(a)
            types.append(got)
            if not T.assignable(got, want):
                self.err("E301", f"argument of '{e.func}' must be {want}, not {got}", a,
                         _convert_hint(got, want))
        if b.name == "choose":
            j = T.join(types[1], types[2])
            if j is None:
                return self.err("E301", f"choose() gives {types[1]} or {types[2]}", e,
                                "both choices must have the same type")
            return j
        return b.returns

    def binary(self, e: ast.Binary) -> T.Type:  # noqa: PLR0911, PLR0912
        op = e.op
        lt = self.infer(e.left)
        rt = self.infer(e.right)
        if op in ("and", "or"):
            for side, t in ((e.left, lt), (e.right, rt)):
                if not T.assignable(t, T.BOOL):
                    self.err("E301", f"'{op}' needs bool values, not {t}", side)
            return T.BOOL
        if op in ("in", "not in"):
            if rt == T.TEXT:
                if not T.assignable(lt, T.TEXT):
                    self.err("E301", f"'{op}' a text needs a text on the left, not {lt}", e.left)
            elif rt.name == "list":
                if rt.arg is not None and T.join(lt, rt.arg) is None:
                    self.err("E301", f"a {lt} is never in a {rt}", e.left)
            elif rt != T.ANY:
                self.err("E301", f"'{op}' needs a list or text on the right, not {rt}", e.right)
            return T.BOOL
        if op in ("==", "!="):
            if T.join(lt, rt) is None:
                self.err("E301", f"comparing {lt} with {rt} is always "
                         f"{'false' if op == '==' else 'true'}", e, _convert_hint(rt, lt))
            return T.BOOL
        if op in ("<", "<=", ">", ">="):
            ordered = (T.INT, T.DECIMAL, T.TEXT, T.TIME, T.DATE, T.DATETIME, T.DURATION, T.ANY)
            if T.join(lt, rt) is None or lt not in ordered or rt not in ordered:
                self.err("E301", f"cannot order {lt} and {rt}", e, _convert_hint(lt, rt))
            return T.BOOL
        if op == "+" and lt == T.TEXT and rt == T.TEXT:
            return T.TEXT
        if lt == T.DURATION and rt == T.DURATION and op in ("+", "-"):
            return T.DURATION
        if lt == T.DURATION and T.assignable(rt, T.INT) and op in ("*", "/"):
            return T.DURATION
        if T.is_numeric(lt) and T.is_numeric(rt):
            if op == "/" or T.DECIMAL in (lt, rt):
                return T.DECIMAL
            return T.INT if T.ANY not in (lt, rt) else T.ANY
        hint = "join texts with +, e.g. \"单号\" + to_text(n)" if T.TEXT in (lt, rt) else None
        return self.err("E301", f"cannot use '{op}' on {lt} and {rt}", e, hint)


def _convert_hint(got: T.Type, want: T.Type) -> str | None:
    if want == T.TEXT and got in (T.INT, T.DECIMAL, T.BOOL):
        return "convert with to_text(…)"
    if want in (T.INT,) and got == T.TEXT:
        return "convert with to_int(…)"
    if want == T.DECIMAL and got == T.TEXT:
        return "convert with to_decimal(…)"
    if want == T.DURATION and got in (T.INT, T.DECIMAL):
        return "durations carry a unit: 5s, 2m, 1h"
    return None

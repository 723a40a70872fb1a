"""The expression language at run time: AST → IR form, and the evaluator over IR.

Expressions are never Python: they are trees of a few node kinds evaluated by
:func:`evaluate` against an explicit :class:`EvalEnv`. Caller input only ever arrives as
*values* (text), never as code.

IR form (JSON-serialisable lists)::

    ["lit", KIND, VALUE]           text, int, decimal ("12.50"), bool, duration (ms),
                                   time ("08:30"), date ("2026-10-01")
    ["var", NAME]                  a variable, setting, built-in (caller, call, now) or calendar
    ["attr", E, NAME]              field of a record / calendar / date-time
    ["index", E, I]
    ["call", NAME, [ARGS], {KW}]   a built-in (or runtime-registered) pure function
    ["un", "-"|"not", E]
    ["bin", OP, L, R]              + - * / == != < <= > >= and or in "not in"
    ["list", [E…]]   ["rec", {K: E}]
    ["tmpl", [TEXT | ["ph", E, SAY_AS|null] …]]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, DivisionByZero, InvalidOperation
from typing import Any, Protocol

from dsl import ast
from dsl.builtins import BUILTINS
from dsl.errors import EvalError

__all__ = ["EvalEnv", "EvalError", "Segment", "evaluate", "render", "to_ir"]

IRExpr = list[Any]


def to_ir(e: ast.Expr) -> IRExpr:  # noqa: PLR0911
    if isinstance(e, ast.Lit):
        v = e.value
        if isinstance(v, Decimal):
            return ["lit", "decimal", str(v)]
        if isinstance(v, tuple):
            return ["lit", e.kind, list(v)]
        return ["lit", e.kind, v]
    if isinstance(e, ast.Name):
        return ["var", e.name]
    if isinstance(e, ast.Attr):
        return ["attr", to_ir(e.obj), e.name]
    if isinstance(e, ast.Index):
        return ["index", to_ir(e.obj), to_ir(e.index)]
    if isinstance(e, ast.Call):
        return ["call", e.func, [to_ir(a) for a in e.args], {k: to_ir(v) for k, v in e.kwargs}]
    if isinstance(e, ast.Unary):
        return ["un", e.op, to_ir(e.operand)]
    if isinstance(e, ast.Binary):
        return ["bin", e.op, to_ir(e.left), to_ir(e.right)]
    if isinstance(e, ast.ListLit):
        return ["list", [to_ir(x) for x in e.items]]
    if isinstance(e, ast.RecordLit):
        return ["rec", {k: to_ir(v) for k, v in e.fields}]
    parts: list[Any] = []
    for p in e.parts:
        parts.append(p if isinstance(p, str) else ["ph", to_ir(p.expr), p.say_as])
    return ["tmpl", parts]


class FieldSource(Protocol):
    """A value with computed fields (a calendar view, for example)."""

    def field(self, name: str) -> object: ...


@dataclass
class EvalEnv:
    """What an expression can see: variables by name and pure functions by name."""

    variables: Mapping[str, object]
    functions: Mapping[str, Callable[..., object]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of a spoken template: text, and how to say it (None = plain text)."""

    value: object
    say_as: str | None


_DT_FIELDS: dict[str, Callable[[dt.datetime], object]] = {
    "hour": lambda d: d.hour, "minute": lambda d: d.minute, "weekday": lambda d: d.weekday(),
    "time": lambda d: d.time().replace(second=0, microsecond=0), "date": lambda d: d.date(),
    "year": lambda d: d.year, "month": lambda d: d.month, "day": lambda d: d.day,
}


def _lit(kind: str, v: Any) -> object:
    if kind == "decimal":
        return Decimal(v)
    if kind == "duration":
        return dt.timedelta(milliseconds=v)
    if kind == "time":
        h, m = v.split(":")
        return dt.time(23, 59, 59) if int(h) == 24 else dt.time(int(h), int(m))
    if kind == "date":
        return dt.date.fromisoformat(v)
    return v


def evaluate(e: IRExpr, env: EvalEnv) -> object:  # noqa: PLR0911, PLR0912  # one case per node
    """Evaluate an IR expression. Raises :class:`EvalError` on run-time failures."""
    tag = e[0]
    if tag == "lit":
        return _lit(e[1], e[2])
    if tag == "var":
        try:
            return env.variables[e[1]]
        except KeyError:
            raise EvalError(f"no value for '{e[1]}'") from None
    if tag == "attr":
        obj = evaluate(e[1], env)
        name = e[2]
        if isinstance(obj, Mapping):
            if name not in obj:
                raise EvalError(f"no field '{name}'")
            return obj[name]
        if isinstance(obj, dt.datetime) and name in _DT_FIELDS:
            return _DT_FIELDS[name](obj)
        fld = getattr(obj, "field", None)
        if callable(fld):
            return fld(name)
        raise EvalError(f"no field '{name}'")
    if tag == "index":
        obj = evaluate(e[1], env)
        idx = evaluate(e[2], env)
        try:
            return obj[idx]  # type: ignore[index]  # lists by int, records by text
        except (IndexError, KeyError, TypeError):
            raise EvalError(f"no element {idx!r}") from None
    if tag == "call":
        fn = env.functions.get(e[1])
        if fn is None:
            b = BUILTINS.get(e[1])
            if b is None:
                raise EvalError(f"no function '{e[1]}'")
            fn = b.impl
        args = [evaluate(a, env) for a in e[2]]
        kwargs = {k: evaluate(v, env) for k, v in e[3].items()}
        try:
            return fn(*args, **kwargs)
        except EvalError:
            raise
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise EvalError(f"{e[1]}: {exc}") from None
    if tag == "un":
        v = evaluate(e[2], env)
        if e[1] == "not":
            return not v
        return -v  # type: ignore[operator]  # numeric or duration, checked statically
    if tag == "bin":
        return _binary(e[1], e[2], e[3], env)
    if tag == "list":
        return [evaluate(x, env) for x in e[1]]
    if tag == "rec":
        return {k: evaluate(v, env) for k, v in e[1].items()}
    if tag == "tmpl":
        return "".join(_say_text(s) for s in render(e, env))
    raise EvalError(f"bad expression node {tag!r}")


def _binary(op: str, le: IRExpr, re_: IRExpr, env: EvalEnv) -> object:  # noqa: PLR0911, PLR0912
    if op == "and":
        return bool(evaluate(le, env)) and bool(evaluate(re_, env))
    if op == "or":
        return bool(evaluate(le, env)) or bool(evaluate(re_, env))
    a: Any = evaluate(le, env)
    b: Any = evaluate(re_, env)
    try:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            if isinstance(a, int) and isinstance(b, int):
                return Decimal(a) / Decimal(b)
            return a / b
        if op == "==":
            return bool(a == b)
        if op == "!=":
            return bool(a != b)
        if op == "<":
            return bool(a < b)
        if op == "<=":
            return bool(a <= b)
        if op == ">":
            return bool(a > b)
        if op == ">=":
            return bool(a >= b)
        if op == "in":
            return a in b
        if op == "not in":
            return a not in b
    except (ZeroDivisionError, DivisionByZero, InvalidOperation):
        raise EvalError("division by zero") from None
    except TypeError as exc:
        raise EvalError(str(exc)) from None
    raise EvalError(f"unknown operator {op!r}")


def render(e: IRExpr, env: EvalEnv) -> list[Segment]:
    """A spoken text as segments, so TTS can apply say-as rules to placeholders."""
    if e[0] != "tmpl":
        return [Segment(evaluate(e, env), None)]
    out: list[Segment] = []
    for p in e[1]:
        if isinstance(p, str):
            out.append(Segment(p, None))
        else:
            out.append(Segment(evaluate(p[1], env), p[2]))
    return out


def _say_text(s: Segment) -> str:
    v = s.value
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dt.time):
        return v.strftime("%H:%M")
    return str(v)

"""Built-in pure functions of the expression language: signature + implementation, one table.

These are the only functions an expression may call (plugin functions are called with the
``call`` verb, which has a timeout and a failure route). The runtime may add more pure
functions through ``Environment.expr_functions`` with the same :class:`Builtin` shape.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from dsl import types as T
from dsl.errors import EvalError


@dataclass(frozen=True, slots=True)
class Builtin:
    name: str
    params: tuple[T.Type, ...]
    returns: T.Type  # ANY here means "the join of the argument types" for choose/min/max
    impl: Callable[..., object]
    doc: str


def _to_int(s: object) -> int:
    try:
        return int(str(s).strip())
    except ValueError:
        raise EvalError(f"not a whole number: {s!r}") from None


def _to_decimal(s: object) -> Decimal:
    try:
        return Decimal(str(s).strip())
    except InvalidOperation:
        raise EvalError(f"not a number: {s!r}") from None


def _substr(s: str, start: int, length: int) -> str:
    return s[max(start, 0): max(start, 0) + max(length, 0)]


def _mask(s: str) -> str:
    return "*" * max(len(s) - 4, 0) + s[-4:]


def _matches(s: str, pattern: str) -> bool:
    try:
        return re.fullmatch(pattern, s) is not None
    except re.error:
        raise EvalError(f"invalid pattern {pattern!r}") from None


def _daypart(now: dt.datetime) -> str:
    h = now.hour
    if 5 <= h < 11:
        return "morning"
    if 11 <= h < 13:
        return "noon"
    if 13 <= h < 18:
        return "afternoon"
    if 18 <= h < 23:
        return "evening"
    return "night"


def _round(d: Decimal, places: int) -> Decimal:
    return Decimal(d).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _len(x: Sequence[object] | str) -> int:
    return len(x)


def _to_text(x: object) -> str:
    if isinstance(x, bool):
        return "true" if x else "false"
    return str(x)


_MOBILE = re.compile(r"1[3-9]\d{9}")

BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in (
        Builtin("len", (T.ANY,), T.INT, _len, "length of a text or list"),
        Builtin("upper", (T.TEXT,), T.TEXT, str.upper, "upper-case text"),
        Builtin("lower", (T.TEXT,), T.TEXT, str.lower, "lower-case text"),
        Builtin("trim", (T.TEXT,), T.TEXT, str.strip, "text without surrounding spaces"),
        Builtin("contains", (T.TEXT, T.TEXT), T.BOOL, lambda a, b: b in a,
                "does the first text contain the second"),
        Builtin("starts_with", (T.TEXT, T.TEXT), T.BOOL, str.startswith, "prefix test"),
        Builtin("ends_with", (T.TEXT, T.TEXT), T.BOOL, str.endswith, "suffix test"),
        Builtin("substr", (T.TEXT, T.INT, T.INT), T.TEXT, _substr,
                "substr(text, start, length), start at 0"),
        Builtin("digits", (T.TEXT,), T.TEXT, lambda s: "".join(c for c in s if c.isdigit()),
                "only the digits of a text"),
        Builtin("mask", (T.TEXT,), T.TEXT, _mask, "all but the last 4 characters as *"),
        Builtin("last4", (T.TEXT,), T.TEXT, lambda s: s[-4:],
                "the last 4 characters (safe to speak for card and account numbers)"),
        Builtin("matches", (T.TEXT, T.TEXT), T.BOOL, _matches,
                "does the whole text match the pattern"),
        Builtin("is_mobile", (T.TEXT,), T.BOOL, lambda s: _MOBILE.fullmatch(s) is not None,
                "is it a mainland mobile number (1[3-9] + 9 digits)"),
        Builtin("to_int", (T.ANY,), T.INT, _to_int, "text to whole number (fails on non-digits)"),
        Builtin("to_decimal", (T.ANY,), T.DECIMAL, _to_decimal, "text or int to decimal"),
        Builtin("to_text", (T.ANY,), T.TEXT, _to_text, "any value as text"),
        Builtin("round", (T.DECIMAL, T.INT), T.DECIMAL, _round, "round half up to N places"),
        Builtin("choose", (T.BOOL, T.ANY, T.ANY), T.ANY, lambda c, a, b: a if c else b,
                "choose(condition, if_true, if_false)"),
        Builtin("daypart", (T.DATETIME,), T.TEXT, _daypart,
                "morning (05-11), noon (11-13), afternoon (13-18), evening (18-23), night"),
    )
}

"""The expression evaluator: typed values in, values out, never Python eval."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from dsl.expr import EvalEnv, EvalError, Segment, evaluate, render, to_ir
from dsl.parser import parse_expression


def ev(src: str, **variables: object) -> object:
    return evaluate(to_ir(parse_expression(src)), EvalEnv(variables))


def test_arithmetic_keeps_money_exact() -> None:
    assert ev("0.10 + 0.20") == Decimal("0.30")
    assert ev("price * 3", price=Decimal("19.99")) == Decimal("59.97")
    assert ev("7 / 2") == Decimal("3.5")
    assert ev("1 + 2 * 3") == 7


def test_comparison_membership_and_logic() -> None:
    assert ev('tier in ["VIP", "黑名单"]', tier="VIP") is True
    assert ev('"95" in ani and not vip', ani="95598", vip=False) is True
    assert ev("x not in [1, 2] or x > 5", x=3) is True


def test_fields_of_records_datetimes_and_calendar_views() -> None:
    now = dt.datetime(2026, 11, 23, 9, 5)
    assert ev("now.hour", now=now) == 9
    assert ev("now.time < 12:00", now=now) is True
    assert ev("caller.ani", caller={"ani": "13800000000"}) == "13800000000"


def test_builtins() -> None:
    assert ev('mask("6222020200112233")') == "************2233"
    assert ev('last4("3100012345")') == "2345"
    assert ev('daypart(now)', now=dt.datetime(2026, 1, 1, 19, 0)) == "evening"
    assert ev('choose(vip, 100, 0)', vip=True) == 100
    assert ev('to_int("42") + 1') == 43
    assert ev('is_mobile("13800138000")') is True


@pytest.mark.parametrize("src", ["1 / 0", 'to_int("abc")', "missing + 1", "[1][5]",
                                 'no_such_function(1)', "rec.nofield"])
def test_runtime_failures_are_eval_errors(src: str) -> None:
    with pytest.raises(EvalError):
        ev(src, rec={"a": 1})


def test_caller_text_is_data_never_code() -> None:
    # digits a caller typed, or any text, stay text: nothing is ever evaluated as code
    payload = "__import__('os').system('id')"
    assert ev("x + \"\"", x=payload) == payload
    with pytest.raises(EvalError):
        ev("__import__(x)", x="os")


def test_templates_render_segments_with_say_as() -> None:
    ir = to_ir(parse_expression('"余额{bal as money}元"'))
    segs = render(ir, EvalEnv({"bal": Decimal("12.50")}))
    assert segs == [Segment("余额", None), Segment(Decimal("12.50"), "money"),
                    Segment("元", None)]
    assert evaluate(ir, EvalEnv({"bal": Decimal("12.50")})) == "余额12.50元"

"""``collect``: digits, terminator, length limits, pattern, ``valid``, sensitive values.

The prompt "请输入号码" lasts 1.0 s on the virtual renderer; first_digit 3 s, inter_digit 2 s.
"""

from __future__ import annotations

import logging

import pytest

from tests.runtime.runtime_helpers import IR, compile_flow, hangup, place_call, press

PROMPT = "请输入号码"  # 1.0 s


def collect_flow(options: str, *, sensitive: bool = False, var: str = "num") -> IR:
    return compile_flow(f"""
        flow t:
          start ask
        var last: text = ""
        state ask:
          collect {var}:
            prompt "{PROMPT}"
            first_digit 3s
            inter_digit 2s
            tries 2
            {options}
            {"sensitive" if sensitive else ""}
            noinput: say "没有听到"
            nomatch: say "输入有误"
            maxtries -> bad
          set last = {var}
          say "已收到"
          hangup
        state bad:
          hangup "CALL_REJECTED"
        """)


def _options(*lines: str) -> str:
    return "\n            ".join(lines)


def test_the_terminator_ends_the_input_and_is_not_part_of_the_value() -> None:
    ir = collect_flow(_options("max 10"))
    call = place_call(ir, caller=[press("1234#", after=1.5, gap=0.2)])
    assert call.inputs() == [(2300, "1234", "terminator")]
    assert call.var("num") == "1234"
    assert call.var("last") == "1234"
    assert "已收到" in call.heard()


def test_input_ends_at_max_digits_without_waiting() -> None:
    ir = collect_flow(_options("max 4"))
    call = place_call(ir, caller=[press("12345", after=1.5, gap=0.2)])
    assert call.inputs()[0] == (2100, "1234", "max")
    assert call.var("num") == "1234"


def test_input_ends_when_the_inter_digit_time_passes() -> None:
    ir = collect_flow(_options("max 10"))
    call = place_call(ir, caller=[press("12", after=1.5, gap=0.2)])
    assert call.inputs()[0] == (1700 + 2000, "12", "inter_digit")
    assert call.var("num") == "12"


def test_nothing_within_first_digit_is_noinput() -> None:
    ir = collect_flow(_options("max 10"))
    call = place_call(ir)
    assert next(e["t"] for e in call.of("noinput")) == 4000  # prompt 1 s + first_digit 3 s
    assert call.of("hangup")[-1]["cause"] == "CALL_REJECTED"


def test_a_terminator_with_no_digits_is_noinput() -> None:
    ir = collect_flow(_options("max 10"))
    call = place_call(ir, caller=[press("#", after=1.5), hangup(after=0.5)])
    assert call.inputs()[0] == (1500, "", "terminator")
    assert call.of("noinput")[0]["count"] == 1
    assert not call.of("nomatch")


@pytest.mark.parametrize(("keys", "ok"), [("12#", False), ("123#", True), ("12345", True)])
def test_min_and_max(keys: str, ok: bool) -> None:
    ir = collect_flow(_options("min 3", "max 5"))
    call = place_call(ir, caller=[press(keys, after=1.5), hangup(after=4.0)])
    assert bool(call.of("nomatch")) is not ok
    assert (call.var("last") == keys.rstrip("#")) is ok


@pytest.mark.parametrize(("keys", "ok"), [("1234", True), ("123#", False)])
def test_length(keys: str, ok: bool) -> None:
    ir = collect_flow(_options("length 4"))
    call = place_call(ir, caller=[press(keys, after=1.5), hangup(after=4.0)])
    assert bool(call.of("nomatch")) is not ok
    if ok:
        assert call.inputs()[0][1:] == ("1234", "max")


@pytest.mark.parametrize(("keys", "ok"), [("1357#", True), ("2357#", False)])
def test_pattern(keys: str, ok: bool) -> None:
    ir = collect_flow(_options("max 8", 'pattern r"^1\\d+$"'))
    call = place_call(ir, caller=[press(keys, after=1.5), hangup(after=4.0)])
    assert bool(call.of("nomatch")) is not ok
    assert (call.var("last") == keys.rstrip("#")) is ok


def test_valid_is_evaluated_with_the_value_and_a_refused_value_is_not_kept() -> None:
    ir = collect_flow(_options("max 8", 'valid num != "0000"'))
    call = place_call(ir, caller=[press("0000#", after=1.5), press("4321#", after=3.0)])
    assert [e["count"] for e in call.of("nomatch")] == [1]
    assert call.var("num") == "4321"
    assert call.heard()[:3] == [PROMPT, "输入有误", PROMPT]


def test_a_refused_value_leaves_the_variable_as_it_was() -> None:
    ir = collect_flow(_options("max 8", 'valid num != "0000"'))
    call = place_call(ir, caller=[press("0000#", after=1.5), hangup(after=1.5)])
    assert call.outcome == "caller_hangup"
    assert call.var("num") in ("", None)


def test_tries_failures_then_maxtries() -> None:
    ir = collect_flow(_options("max 8", 'pattern r"^9+$"'))
    call = place_call(ir, caller=[press("1#", after=1.5), press("2#", after=3.0)])
    kinds = [e["event"] for e in call.entries if e["event"] in ("nomatch", "maxtries")]
    assert kinds == ["nomatch", "nomatch", "maxtries"]
    assert call.heard().count("输入有误") == 2
    assert call.states() == ["ask", "bad"]


def test_a_sensitive_value_is_masked_in_the_transcript_and_never_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    ir = collect_flow(_options("length 6"), sensitive=True, var="pin")
    caplog.set_level(logging.DEBUG)
    call = place_call(ir, caller=[press("917253", after=1.5)])
    assert call.var("pin") == "917253"  # the flow has it
    assert call.of("input")[0]["digits"] == "***"
    assert "917253" not in call.dump()
    assert "917253" not in caplog.text
    assert "已收到" in call.heard()


def test_a_sensitive_value_returned_by_a_subflow_is_masked() -> None:
    ir = compile_flow("""
        flow t:
          start main
        subflow ask_pin() -> (pin: text):
          state ask:
            collect code:
              prompt "请输入密码"
              length 4
              sensitive
              noinput: say "没有"
              nomatch: say "不对"
              maxtries -> give_up
            return pin=code
          state give_up:
            return pin=""
        state main:
          run got = ask_pin()
          hangup
        """)
    call = place_call(ir, caller=[press("8642", after=1.5)])
    assert "8642" not in call.dump()
    assert call.of("input")[0]["digits"] == "***"


def test_a_sensitive_value_in_a_work_order_field_is_masked_under_any_field_name() -> None:
    ir = compile_flow("""
        flow t:
          start ask
        state ask:
          collect pin:
            prompt "请输入密码"
            length 6
            sensitive
            noinput: say "没有"
            nomatch: say "不对"
            maxtries -> done
          work_order "核验":
            field code = pin
            field last = last4(pin)
            field secret = "密码" + pin
            field who = caller.ani
            failure -> done
          goto done
        state done:
          hangup
        """)
    call = place_call(ir, caller=[press("915739", after=1.5)])
    order = call.of("work_order")[0]
    assert order["fields"] == {"code": "***", "last": "5739", "secret": "***", "who": "13800138000"}
    assert "915739" not in call.dump()
    assert call.services.work_orders[0]["fields"]["code"] == "915739"  # type: ignore[union-attr]

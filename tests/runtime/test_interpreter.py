"""The interpreter: branches, subflows, goto/top/back, guards, plugin calls, faults."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.runtime.runtime_helpers import compile_flow, place_call, press, wait

# -- if / elif / switch / split ------------------------------------------------------------------

BRANCHES = compile_flow("""
    flow t:
      start pick
    var n: int = 0
    var path: text = ""
    state pick:
      call n = f.n() failure -> pick_failed
      if n > 10:
        set path = "big"
      elif n > 5:
        set path = "medium"
      else:
        set path = "small"
      switch n:
        case 1, 2, 3:
          say "小号"
        case 7 -> seven
        default:
          say "其他"
      hangup
    state seven:
      say "七号"
      hangup
    state pick_failed:
      hangup
    function f.n() -> int timeout=1s
    """)


@pytest.mark.parametrize(("n", "path", "heard"), [
    (20, "big", "其他"), (6, "medium", "其他"), (2, "small", "小号"), (3, "small", "小号"),
    (7, "medium", "七号"),
])
def test_if_elif_else_and_switch_with_several_values_per_case(n: int, path: str,
                                                                heard: str) -> None:
    call = place_call(BRANCHES, functions={"f.n": lambda: n})
    assert call.var("path") == path
    assert heard in call.heard()


SPLIT = compile_flow("""
    flow t:
      start ab
    state ab:
      split:
        branch 30% -> a
        branch 70% -> b
    state a:
      hangup
    state b:
      hangup
    """)


def test_split_is_deterministic_for_a_seed_and_follows_the_percentages() -> None:
    first = [place_call(SPLIT, seed=s).states()[-1] for s in range(5)]
    again = [place_call(SPLIT, seed=s).states()[-1] for s in range(5)]
    assert first == again
    many = Counter(place_call(SPLIT, seed=s).states()[-1] for s in range(60))
    assert 8 <= many["a"] <= 30  # 30 % of 60 is 18
    assert many["a"] + many["b"] == 60


# -- subflows --------------------------------------------------------------------------------

SUBFLOWS = compile_flow("""
    flow t:
      start main
    global seen: int = 0
    var total: int = 0
    subflow add(a: int, b: int) -> (sum: int, twice: int):
      state go:
        set seen = seen + 1
        run d = double(x=a + b)
        return sum=a + b, twice=d.y
    subflow double(x: int) -> (y: int):
      state go:
        set seen = seen + 1
        return y=x * 2
    state main:
      run r = add(2, b=3)
      set total = r.sum + r.twice
      say "合计{total}"
      hangup
    """)


def test_subflows_take_inputs_return_outputs_and_nest() -> None:
    call = place_call(SUBFLOWS)
    assert call.var("total") == 15
    assert call.var("seen") == 2  # globals are shared with the subflows
    assert "合计15" in call.heard()
    assert call.states() == ["main", "add.go", "double.go"]
    assert [e["values"] for e in call.of("return")] == [{"y": 10}, {"sum": 5, "twice": 10}]


# -- goto / top / back -------------------------------------------------------------------------

NAV = compile_flow("""
    flow t:
      start welcome
    state welcome:
      say "欢迎"
      goto main
    state main:
      menu:
        prompt "主菜单"
        key 1 -> sub
        key 2 -> bye
        noinput: say "没有"
        nomatch: say "不对"
        maxtries -> bye
    state sub:
      menu:
        prompt "子菜单"
        key 8 back
        key 9 top
        key 1 -> bye
        noinput: say "没有"
        nomatch: say "不对"
        maxtries -> bye
    state bye:
      hangup
    """)


def test_back_returns_to_the_previous_menu_and_top_to_the_start_state() -> None:
    call = place_call(NAV, answers=["1", "8", "1", "9", "2"])
    assert call.states() == ["welcome", "main", "sub", "main", "sub", "welcome", "main", "bye"]
    assert call.heard().count("欢迎") == 2


# -- faults -----------------------------------------------------------------------------------

def test_a_fault_hands_the_call_back_with_the_state_and_line() -> None:
    ir = compile_flow("""
        flow t:
          start look
        var info: record = {}
        state look:
          call info = crm.info() failure -> bye
          say "您的余额是{info.balance}"
          hangup
        state bye:
          hangup
        function crm.info() -> record timeout=2s
        """)
    call = place_call(ir, functions={"crm.info": lambda: {"name": "张三"}})
    assert call.outcome == "fallback"
    error = call.of("error")[0]
    assert error["state"] == "look"
    assert error["line"] == 6
    assert "balance" in error["message"]
    assert call.entries[-1]["event"] == "fallback"
    assert not call.of("hangup")  # the flow did not hang up: the dialplan takes the call


def test_a_hostile_caller_name_does_not_break_the_call() -> None:
    ir = compile_flow("""
        flow t:
          start hi
        state hi:
          say "您好{caller.name}"
          hangup
        """)
    for name in ["张三\nevent-name: HANGUP", "x%0Acall-command: hangup", "{origination=evil}a",
                 "${system(rm -rf /)}"]:
        call = place_call(ir, caller_name=name)
        assert call.outcome == "hangup", name
        assert call.of("hangup")[0]["by"] == "flow"
        assert len(call.heard()) == 1
        hangups = [c for c in call.commands if c.header("call-command") == "hangup"]
        assert [c.header("hangup-cause") for c in hangups] == ["NORMAL_CLEARING"]
        assert all(name.split("\n")[-1] not in c.to_bytes().decode() for c in call.commands)


def test_a_silent_caller_in_a_flow_that_never_ends_is_hung_up_at_the_call_limit() -> None:
    ir = compile_flow("""
        flow t:
          start m
        state m:
          menu:
            prompt "请按键"
            key 1 -> m
            key "*" repeat
            noinput: say "没有"
            nomatch: say "不对"
            maxtries -> m
        """)
    call = place_call(ir, caller=[press("*", after=1.0)] * 5 + [wait(1.0)], call_limit=120)
    assert call.outcome == "caller_hangup"
    assert call.entries[-1]["t"] <= 120_000

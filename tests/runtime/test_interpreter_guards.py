"""Guards: max_duration interrupts what plays or waits; max_visits per state and flow-wide;
a guard action that runs into a guard again ends the call."""

from __future__ import annotations

import pytest

from tests.runtime.runtime_helpers import compile_flow, place_call

LONG = "长" * 100  # 20 s of prompt


def test_max_duration_interrupts_a_long_prompt_and_runs_its_action_once() -> None:
    ir = compile_flow(f"""
        flow t:
          start talk
          max_duration 10s -> too_long
        state talk:
          say "{LONG}"
          goto talk2
        state talk2:
          say "{LONG}"
          hangup
        state too_long:
          say "通话时间过长"
          say "{LONG}"
          hangup
        """)
    call = place_call(ir)
    guards = call.of("guard")
    assert [(g["t"], g["guard"], g["state"]) for g in guards] == [(10000, "max_duration", "talk")]
    assert call.heard() == [LONG, "通话时间过长", LONG]  # the action is not interrupted again
    assert call.of("hangup")[-1]["t"] == 10000 + 1200 + 20000
    assert call.outcome == "hangup"


def test_max_duration_interrupts_a_wait_for_keys() -> None:
    ir = compile_flow("""
        flow t:
          start m
          max_duration 4s -> too_long
        state m:
          menu:
            prompt "请按键"
            timeout 30s
            key 1 -> too_long
            noinput: say "没有"
            nomatch: say "不对"
            maxtries -> too_long
        state too_long:
          hangup "NORMAL_CLEARING"
        """)
    call = place_call(ir)
    assert call.of("guard")[0]["t"] == 4000
    assert not call.of("noinput")
    assert call.of("hangup")[-1]["t"] == 4000


def test_max_visits_of_a_state_sends_the_next_visit_to_its_guard_action() -> None:
    ir = compile_flow("""
        flow t:
          start loop
        var n: int = 0
        state loop:
          max_visits 3 -> out
          set n = n + 1
          say "第{n}次"
          goto loop
        state out:
          say "次数已到"
          hangup
        """)
    call = place_call(ir)
    assert call.var("n") == 3
    assert call.heard() == ["第1次", "第2次", "第3次", "次数已到"]
    assert [g["guard"] for g in call.of("guard")] == ["max_visits"]


def test_the_flow_wide_max_visits_bounds_every_state() -> None:
    ir = compile_flow("""
        flow t:
          start a
          max_visits 2 -> out
        state a:
          say "甲"
          goto b
        state b:
          say "乙"
          goto a
        state out:
          hangup "USER_BUSY"
        """)
    call = place_call(ir)
    assert call.heard() == ["甲", "乙", "甲", "乙"]
    assert call.of("guard")[0]["state"] == "a"
    assert call.of("hangup")[-1]["cause"] == "USER_BUSY"


def test_a_guard_action_that_runs_into_a_guard_again_ends_the_call() -> None:
    ir = compile_flow("""
        flow t:
          start a
          max_visits 1 -> out
        state a:
          say "甲"
          goto a
        state out:
          goto a
        """)
    call = place_call(ir, call_limit=60)
    assert call.outcome == "hangup"
    assert [g["guard"] for g in call.of("guard")] == ["max_visits", "max_visits"]
    assert "a guard action ran into a guard again" in call.of("error")[0]["message"]
    assert call.heard() == ["甲"]
    end = call.entries[-1]
    assert (end["event"], end["by"], end["t"]) == ("hangup", "flow", 500)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("action", ["", 'say "乙"'])
def test_a_state_guard_whose_action_leads_back_to_it_cannot_spin(action: str) -> None:
    # the checker accepts the loop (a has a bound); its guard action leads straight back
    ir = compile_flow(f"""
        flow t:
          start a
        state a:
          max_visits 1 -> out
          say "甲"
          goto a
        state out:
          {action}
          goto a
        """)
    call = place_call(ir, call_limit=600)
    assert call.outcome == "hangup"
    assert len(call.of("guard")) == 2
    assert call.entries[-1]["t"] < 5000  # not spinning until the caller gives up


def test_a_guard_can_fire_again_after_the_caller_had_a_turn() -> None:
    ir = compile_flow("""
        flow t:
          start m
        state m:
          max_visits 1 -> again
          menu:
            prompt "请按键"
            key 1 -> m
            noinput: say "没有"
            nomatch: say "不对"
            maxtries -> bye
        state again:
          menu:
            prompt "再按一次"
            key 1 -> m
            noinput: say "没有"
            nomatch: say "不对"
            maxtries -> bye
        state bye:
          hangup
        """)
    call = place_call(ir, answers=["1", "1", "1"], hangup_when_done=True)
    assert [g["guard"] for g in call.of("guard")] == ["max_visits"] * 3
    assert not call.of("error")
    assert call.outcome == "caller_hangup"



def test_max_duration_stops_a_recording_and_its_action_is_heard_at_once() -> None:
    ir = compile_flow("""
        flow t:
          start rec
          max_duration 10s -> too_long
        state rec:
          record msg max=60s beep=false
          hangup
        state too_long:
          say "通话时间过长"
          hangup
        """)
    call = place_call(ir)
    assert call.of("guard")[0]["t"] == 10000
    assert call.of("prompt")[0]["t"] == 10000
    assert call.of("hangup")[-1]["t"] == 11200

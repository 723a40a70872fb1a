"""``menu``: the timing model of docs/flow-language.md, on the virtual clock.

The menu prompt "请按一二三四五六七八" lasts 2.0 s (the virtual renderer speaks 5 characters a
second), the first-key timeout is 3 s, so the menu gives up at exactly t = 5.0 s; keys of the
caller script are timed from the start of the call.
"""

from __future__ import annotations

import pytest

from tests.runtime.runtime_helpers import compile_flow, hangup, place_call, press, wait

PROMPT = "请按一二三四五六七八"  # 2.0 s
SHORT = "请重新按键"  # 1.0 s
NOINPUT_1, NOINPUT_2, NOMATCH = "没有听到", "请在提示后按键", "输入有误"

MENU = compile_flow(f"""
    flow t:
      start m
    state m:
      menu:
        prompt "{PROMPT}"
        short "{SHORT}"
        timeout 3s
        inter_digit 2s
        key 1 -> one
        key 12 -> twelve
        key 3 -> three
        key r"[5-7]" -> pat
        key 8 -> away
        key "*" repeat
        noinput 1: say "{NOINPUT_1}"
        noinput 2: say "{NOINPUT_2}"
        nomatch: say "{NOMATCH}"
        maxtries -> done
    state one:
      hangup
    state twelve:
      hangup
    state three:
      hangup
    state pat:
      hangup
    state away:
      say "稍后回来"
      goto m
    state done:
      say "转人工"
      hangup
    """)


def test_a_key_just_before_the_first_key_timeout_is_accepted() -> None:
    call = place_call(MENU, caller=[press("3", after=4.9)])
    assert call.inputs() == [(4900, "3", "match")]
    assert call.states() == ["m", "three"]


def test_a_key_just_after_the_first_key_timeout_is_too_late() -> None:
    call = place_call(MENU, caller=[press("3", after=5.1), hangup(after=0.1)])
    first = call.of("input")[0]
    assert (first["t"], first["digits"], first["reason"]) == (5000, "", "timeout")
    assert call.of("noinput")[0]["t"] == 5000
    assert call.heard()[:2] == [PROMPT, NOINPUT_1]


def test_a_unique_key_decides_at_once() -> None:
    call = place_call(MENU, caller=[press("3", after=2.5)])
    assert call.inputs() == [(2500, "3", "match")]
    assert call.of("route")[0]["choice"] == "key 3"


def test_a_key_that_begins_a_longer_key_waits_for_the_inter_digit_time() -> None:
    call = place_call(MENU, caller=[press("1", after=2.5)])
    assert call.inputs() == [(4500, "1", "inter_digit")]  # 2.5 s + inter_digit 2 s
    assert call.states() == ["m", "one"]


def test_a_second_key_within_the_inter_digit_time_makes_a_multi_key_choice() -> None:
    call = place_call(MENU, caller=[press("1", after=2.5), press("2", after=1.9)])
    assert call.inputs() == [(4400, "12", "match")]
    assert call.states() == ["m", "twelve"]


def test_a_second_key_after_the_inter_digit_time_is_not_part_of_the_choice() -> None:
    call = place_call(MENU, caller=[press("1", after=2.5), press("2", after=2.1)])
    assert call.inputs()[0] == (4500, "1", "inter_digit")
    assert call.states() == ["m", "one"]


def test_hash_ends_the_input_when_it_continues_no_key() -> None:
    call = place_call(MENU, caller=[press("1#", after=2.5, gap=0.3)])
    assert call.inputs() == [(2800, "1", "terminator")]
    assert call.states() == ["m", "one"]


def test_a_pattern_key_matches_the_whole_input() -> None:
    call = place_call(MENU, caller=[press("6", after=2.5)])
    assert call.states() == ["m", "pat"]
    assert call.of("route")[0]["choice"] == "key 6"


def test_a_digit_sequence_longer_than_every_key_stops_at_digits() -> None:
    call = place_call(MENU, caller=[press("56", after=2.5, gap=0.5), hangup(after=0.2)])
    # "5" could begin no exact key, but digits (2) is not reached: the menu waits for more;
    # "56" is the longest input the menu takes and matches nothing
    assert call.inputs()[0] == (3000, "56", "max")
    assert call.of("nomatch")[0]["count"] == 1


def test_digits_limits_the_keys_a_menu_reads() -> None:
    ir = compile_flow("""
        flow t:
          start m
        state m:
          menu:
            prompt "请按键"
            digits 3
            key r"\\d+" -> got
            noinput: say "没有"
            nomatch: say "不对"
            maxtries -> got
        state got:
          hangup
        """)
    call = place_call(ir, caller=[press("45678", after=1.0, gap=0.1)])
    assert call.inputs() == [(1200, "456", "max")]
    assert call.of("route")[0]["choice"] == "key 456"


def test_a_key_during_the_prompt_interrupts_it() -> None:
    call = place_call(MENU, caller=[press("3", after=0.5)])
    prompt = call.of("prompt")[0]
    assert prompt["text"] == PROMPT
    assert prompt["barged"] is True
    assert call.inputs() == [(500, "3", "match")]


def test_with_barge_false_the_prompt_plays_to_the_end_and_the_key_counts_after_it() -> None:
    ir = compile_flow(f"""
        flow t:
          start m
        state m:
          menu:
            prompt "{PROMPT}"
            barge false
            key 3 -> three
            noinput: say "没有"
            nomatch: say "不对"
            maxtries -> three
        state three:
          hangup
        """)
    call = place_call(ir, caller=[press("3", after=0.5)])
    assert call.of("prompt")[0]["barged"] is False
    assert call.inputs() == [(2000, "3", "match")]  # type-ahead: typed at once after the prompt


def test_noinput_handlers_taper_and_maxtries_follows_the_last_handler() -> None:
    call = place_call(MENU)
    # prompt 2 s + 3 s; retry: short 1 s + 3 s each time
    assert [(e["t"], e["count"]) for e in call.of("noinput")] == [
        (5000, 1), (5000 + 800 + 4000, 2), (5000 + 800 + 4000 + 1400 + 4000, 3)]
    assert call.heard() == [PROMPT, NOINPUT_1, SHORT, NOINPUT_2, SHORT, NOINPUT_2, "转人工"]
    events = call.events()
    # the handler of the third failure runs, then the maxtries route
    assert events.index("maxtries") > max(i for i, e in enumerate(events) if e == "noinput")
    assert call.states() == ["m", "done"]


def test_nomatch_runs_its_handler_and_retries_with_the_short_prompt() -> None:
    call = place_call(MENU, caller=[press("9", after=2.5, gap=0), press("3", after=3.0)])
    assert call.of("nomatch")[0]["count"] == 1
    assert call.heard()[:3] == [PROMPT, NOMATCH, SHORT]
    assert call.states() == ["m", "three"]


def test_noinput_and_nomatch_count_together_towards_tries() -> None:
    call = place_call(MENU, caller=[press("9", after=2.5), press("4", after=8.0)])
    kinds = [e["event"] for e in call.entries if e["event"] in ("noinput", "nomatch", "maxtries")]
    assert kinds == ["nomatch", "noinput", "nomatch", "maxtries"]
    assert [e["count"] for e in call.of("nomatch")] == [1, 2]
    assert call.states() == ["m", "done"]


def test_repeat_replays_the_long_prompt_and_is_not_a_failure() -> None:
    call = place_call(MENU, caller=[press("*", after=0.5), press("*", after=0.5)])
    assert call.heard()[:3] == [PROMPT, PROMPT, PROMPT]
    assert len(call.of("noinput")) == 3  # still three tries after two repeats
    assert call.states() == ["m", "done"]


def test_counts_start_from_zero_when_the_state_is_entered_again() -> None:
    # one silence (noinput 1), then 8 → away → back to m: the next silence is noinput 1 again
    call = place_call(MENU, caller=[wait(5.5), press("8", after=0.0), wait(8.0),
                                    hangup(after=0.0)])
    assert call.states()[:3] == ["m", "away", "m"]
    assert [e["count"] for e in call.of("noinput")][:2] == [1, 1]
    heard = call.heard()
    assert heard[:2] == [PROMPT, NOINPUT_1]
    # entering afresh plays the long prompt, not the short one
    assert heard[heard.index("稍后回来") + 1] == PROMPT


def test_keys_buffered_at_a_failure_are_discarded() -> None:
    ir = compile_flow(f"""
        flow t:
          start m
        state m:
          menu:
            prompt "{PROMPT}"
            key 1 -> one
            key 2 -> two
            noinput: say "{NOINPUT_1}"
            nomatch: say "{NOMATCH}"
            maxtries -> one
        state one:
          hangup
        state two:
          hangup
        """)
    # 9 and 2 in the same instant: 9 is a no-match, the 2 typed with it must not choose
    call = place_call(ir, caller=[press("92", after=0.5, gap=0), hangup(after=6.0)])
    assert call.inputs()[0][1:] == ("9", "max")
    assert "two" not in call.states()
    handler = call.of("prompt")[1]
    assert handler["text"] == NOMATCH
    assert handler["barged"] is False


@pytest.mark.parametrize("tries", [1, 2])
def test_maxtries_comes_after_tries_failures(tries: int) -> None:
    ir = compile_flow(f"""
        flow t:
          start m
        state m:
          menu:
            prompt "请按键"
            timeout 1s
            tries {tries}
            key 1 -> done
            noinput: say "没有"
            nomatch: say "不对"
            maxtries -> done
        state done:
          hangup
        """)
    call = place_call(ir)
    assert len(call.of("noinput")) == tries
    assert call.heard().count("没有") == tries
    assert call.states() == ["m", "done"]

"""CallSession end to end against the in-process simulated switch, on virtual time.

``call_flow(flow, caller=...)`` places one call into the simulator whose ``socket`` is an
in-memory :class:`OutboundServer`; the handler builds ``CallSession(session, session.uuid)`` and
awaits ``flow(call_session, ctx)``. Everything runs on the virtual-time loop: the loop clock
starts at 0 when the call is placed, so ``ctx.now()`` inside the flow is call time in seconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from coreswitch.esl import Event, OutboundServer, OutboundSession
from coreswitch.esl.errors import UnsafeArgumentError
from coreswitch.runtime.session import (
    BREAK_AFTER,
    BridgeResult,
    CallerHungUp,
    CallSession,
    DigitResult,
)
from coreswitch.runtime.virtual_time import run
from coreswitch.switch.sim import Call, Hangup, MediaTiming, Press, SimSwitch
from coreswitch.switch.sim import caller as caller_mod

#: Every prompt lasts 3 s unless a test says otherwise.
PROMPT = 3.0


@dataclass
class Ctx:
    """What a flow can see besides its session: the switch, the call, a clock and notes."""

    sw: SimSwitch
    call: Call | None = None
    marks: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def now() -> float:
        return asyncio.get_running_loop().time()

    def mark(self, name: str, value: Any = None) -> None:
        """Note a value, or (no value) the call time, under ``name``."""
        self.marks[name] = self.now() if value is None else value


@dataclass
class Outcome:
    value: Any
    error: BaseException | None
    ended_at: float
    call: Call
    sw: SimSwitch
    marks: dict[str, Any]

    def events(self, name: str) -> list[Any]:
        return [e for e in self.call.events if e.name == name]

    def lines(self) -> list[str]:
        return self.sw.command_lines()


Flow = Callable[[CallSession, Ctx], Awaitable[Any]]


def call_flow(flow: Flow, *, caller: Sequence[caller_mod.Step] | str | None = None,
              media: MediaTiming | None = None,
              setup: Callable[[SimSwitch], None] | None = None) -> Outcome:
    return run(_scenario(flow, caller, media, setup))


async def _scenario(flow: Flow, caller: Sequence[caller_mod.Step] | str | None,
                    media: MediaTiming | None,
                    setup: Callable[[SimSwitch], None] | None) -> Outcome:
    sw = SimSwitch(port=0, speed=1.0, media=media or MediaTiming(default_file=PROMPT))
    if setup is not None:
        setup(sw)
    ctx = Ctx(sw)
    box: dict[str, Any] = {}

    async def handler(session: OutboundSession) -> None:
        s = CallSession(session, session.uuid)
        try:
            box["value"] = await flow(s, ctx)
        except Exception as exc:  # the test inspects it
            box["error"] = exc
        box["ended_at"] = ctx.now()

    server = OutboundServer(handler, port=0, linger=5)
    address = sw.attach_socket("flows", server._accept)
    call = await sw.place_call("13800000000", "95598", socket=address, caller=caller)
    ctx.call = call
    await asyncio.wait_for(call.ended(), 3600)
    await server.close()
    await sw.stop()
    return Outcome(box.get("value"), box.get("error"), box.get("ended_at", -1.0), call, sw,
                   ctx.marks)


def up_to(result: Outcome) -> Any:
    """The flow's value; fails the test with the flow's own error if it raised."""
    if result.error is not None:
        raise result.error
    return result.value


def n_sendmsg(sw: SimSwitch) -> int:
    return sum(1 for c in sw.commands if c.verb == "sendmsg")


# -- answer and play ---------------------------------------------------------------------------

def test_answer_answers_the_channel() -> None:
    async def flow(s: CallSession, ctx: Ctx) -> bool:
        await s.answer()
        await s.answer()  # twice: once on the wire
        return s.answered

    out = call_flow(flow)
    assert up_to(out) is True
    assert out.events("CHANNEL_ANSWER")
    assert [c.header("execute-app-name") for c in out.sw.commands
            if c.verb == "sendmsg"] == ["answer"]


def test_a_prompt_plays_to_the_end_and_reports_no_barge() -> None:
    async def flow(s: CallSession, ctx: Ctx) -> bool:
        await s.answer()
        barged = await s.play("ivr/welcome.wav")
        ctx.mark("done")
        return barged

    out = call_flow(flow)
    assert up_to(out) is False
    assert out.marks["done"] == pytest.approx(PROMPT)
    assert out.call.prompts == ["ivr/welcome.wav"]
    assert [e.get("Playback-Status") for e in out.events("PLAYBACK_STOP")] == ["done"]
    assert not any(line.startswith("api uuid_break") for line in out.lines())


def test_several_files_play_in_order() -> None:
    async def flow(s: CallSession, ctx: Ctx) -> bool:
        return await s.play(["a.wav", "b.wav"])

    out = call_flow(flow)
    assert up_to(out) is False
    assert out.call.prompts == ["a.wav", "b.wav"]
    assert out.ended_at == pytest.approx(2 * PROMPT)


def test_a_key_during_a_prompt_stops_it_at_once_and_is_the_first_digit() -> None:
    async def flow(s: CallSession, ctx: Ctx) -> tuple[bool, DigitResult]:
        barged = await s.play(["ivr/menu.wav", "ivr/more.wav"])
        ctx.mark("barged")
        result = await s.read_digits(first_digit=5, inter_digit=3, max_digits=2)
        return barged, result

    out = call_flow(flow, caller="press 5 on prompt 1 after 1.2; press 6 after 0.5")
    barged, result = up_to(out)
    assert barged is True
    assert out.marks["barged"] == pytest.approx(1.2)  # at once, not at the end of the prompt
    assert result == DigitResult("56", "max")
    assert out.call.prompts == ["ivr/menu.wav"]  # the second file never started
    assert [e.get("Playback-Status") for e in out.events("PLAYBACK_STOP")] == ["break"]
    # FreeSWITCH stopped the prompt at the key itself (playback_terminators=any): no round trip
    assert not any(line.startswith("api uuid_break") for line in out.lines())
    completion = out.events("CHANNEL_EXECUTE_COMPLETE")[-1]
    assert completion.get("variable_playback_terminator_used") == "5"


def test_a_prompt_the_switch_did_not_stop_at_the_key_is_broken_soon_after() -> None:
    """The key's DTMF event came but the prompt plays on (FreeSWITCH's park loop read the key
    just before the prompt started): the session stops it with uuid_break."""
    async def flow(s: CallSession, ctx: Ctx) -> bool:
        await s.play("a.wav", barge=True)  # the session has set playback_terminators=any
        await s.peer.execute(s.uuid, "set", "playback_terminators=none")  # behind its back
        barged = await s.play("ivr/menu.wav")
        ctx.mark("barged")
        return barged

    out = call_flow(flow, caller="press 5 on prompt 2 after 1.2")
    assert up_to(out) is True
    assert out.marks["barged"] == pytest.approx(PROMPT + 1.2 + BREAK_AFTER)
    assert sum(line.startswith("api uuid_break") for line in out.lines()) == 1


def test_a_key_buffered_before_the_prompt_skips_it() -> None:
    async def flow(s: CallSession, ctx: Ctx) -> tuple[bool, bool]:
        first = await s.play("a.wav", barge=False)
        second = await s.play("b.wav")
        return first, second

    out = call_flow(flow, caller="press 3 on prompt 1 after 1")
    assert up_to(out) == (False, True)
    assert out.call.prompts == ["a.wav"]
    assert out.ended_at == pytest.approx(PROMPT)


@pytest.mark.parametrize("key", ["1", "*", "#"])
def test_barge_false_plays_on_and_keeps_the_key(key: str) -> None:
    # "*" is FreeSWITCH's default playback terminator: the session must switch it off.
    async def flow(s: CallSession, ctx: Ctx) -> tuple[bool, DigitResult]:
        barged = await s.play("ivr/notice.wav", barge=False)
        ctx.mark("played")
        return barged, await s.read_digits(first_digit=5, inter_digit=3, max_digits=1,
                                           terminators="")

    out = call_flow(flow, caller=f"press {key} on prompt 1 after 1")
    barged, result = up_to(out)
    assert barged is False
    assert out.marks["played"] == pytest.approx(PROMPT)
    assert result == DigitResult(key, "max")
    assert [e.get("Playback-Status") for e in out.events("PLAYBACK_STOP")] == ["done"]
    assert not any(line.startswith("api uuid_break") for line in out.lines())


# -- read_digits: the timing model ----------------------------------------------------------------

@pytest.mark.parametrize(("after", "expected"), [
    (4.9, DigitResult("1", "max")),
    (5.1, DigitResult("", "first_digit")),
])
def test_first_digit_timeout_is_exact(after: float, expected: DigitResult) -> None:
    async def flow(s: CallSession, ctx: Ctx) -> DigitResult:
        await s.play("ivr/prompt.wav")
        ctx.mark("start")
        result = await s.read_digits(first_digit=5, inter_digit=3, max_digits=1)
        ctx.mark("end")
        return result

    out = call_flow(flow, caller=f"press 1 on prompt 1 after {PROMPT + after}")
    result = up_to(out)
    assert result == expected
    assert result.no_input == (expected.reason == "first_digit")
    assert out.marks["start"] == pytest.approx(PROMPT)
    waited = out.marks["end"] - out.marks["start"]
    assert waited == pytest.approx(min(after, 5.0))


def test_inter_digit_timeout_ends_the_entry_and_later_keys_wait_for_the_next() -> None:
    async def flow(s: CallSession, ctx: Ctx) -> tuple[DigitResult, DigitResult]:
        first = await s.read_digits(first_digit=5, inter_digit=3, max_digits=10)
        ctx.mark("first")
        second = await s.read_digits(first_digit=5, inter_digit=3, max_digits=1)
        return first, second

    steps = [Press("1", after=1.0), Press("2", after=2.9), Press("3", after=3.1)]
    out = call_flow(flow, caller=steps)
    first, second = up_to(out)
    assert first == DigitResult("12", "inter_digit")
    assert out.marks["first"] == pytest.approx(1.0 + 2.9 + 3.0)
    assert second == DigitResult("3", "max")  # pressed 0.1 s after the first entry ended


def test_a_terminator_ends_the_entry_and_is_not_part_of_it() -> None:
    async def flow(s: CallSession, ctx: Ctx) -> DigitResult:
        result = await s.read_digits(first_digit=5, inter_digit=3, max_digits=10,
                                     terminators="#*")
        ctx.mark("end")
        return result

    out = call_flow(flow, caller="press 123* after 1")
    assert up_to(out) == DigitResult("123", "terminator", "*")
    assert out.marks["end"] == pytest.approx(1.3)


def test_a_terminator_alone_is_no_input() -> None:
    async def flow(s: CallSession, ctx: Ctx) -> DigitResult:
        return await s.read_digits(first_digit=5, inter_digit=3, max_digits=10)

    result = up_to(call_flow(flow, caller="press # after 1"))
    assert result == DigitResult("", "terminator", "#")
    assert result.no_input


def test_max_digits_ends_the_entry_at_once() -> None:
    async def flow(s: CallSession, ctx: Ctx) -> tuple[DigitResult, DigitResult]:
        first = await s.read_digits(first_digit=5, inter_digit=3, max_digits=4)
        ctx.mark("end")
        rest = await s.read_digits(first_digit=1, inter_digit=1, max_digits=10)
        return first, rest

    out = call_flow(flow, caller="press 123456 after 1")
    first, rest = up_to(out)
    assert first == DigitResult("1234", "max")
    assert out.marks["end"] == pytest.approx(1.3)  # the 4th key, not an inter-digit wait later
    assert rest == DigitResult("56", "inter_digit")


def test_keys_typed_ahead_count() -> None:
    async def flow(s: CallSession, ctx: Ctx) -> DigitResult:
        await s.play("ivr/long.wav", barge=False)
        ctx.mark("start")
        result = await s.read_digits(first_digit=5, inter_digit=3, max_digits=3)
        ctx.mark("end")
        return result

    out = call_flow(flow, caller="press 987 on prompt 1 after 0.5")
    assert up_to(out) == DigitResult("987", "max")
    assert out.marks["end"] == out.marks["start"] == pytest.approx(PROMPT)


def test_clear_digits_forgets_type_ahead() -> None:
    async def flow(s: CallSession, ctx: Ctx) -> DigitResult:
        await s.play("ivr/long.wav", barge=False)
        s.clear_digits()
        return await s.read_digits(first_digit=2, inter_digit=3, max_digits=3)

    out = call_flow(flow, caller="press 987 on prompt 1 after 0.5")
    assert up_to(out) == DigitResult("", "first_digit")


def test_hostile_and_unknown_dtmf_events_are_ignored() -> None:
    async def flow(s: CallSession, ctx: Ctx) -> DigitResult:
        assert ctx.call is not None
        ch = ctx.call.channel
        for digit in ("", "12", "x", "a", "1\n", "Z", " 1", "#1", "\u0661"):
            ctx.sw.core.fire("DTMF", ch, {"DTMF-Digit": digit, "DTMF-Duration": "2000"})
        ctx.sw.core.fire("DTMF", ch, {"DTMF-Duration": "2000"})  # no digit at all
        ctx.sw.core.fire("CUSTOM", ch, {"Event-Subclass": "x::y", "DTMF-Digit": "1"})
        result = await s.read_digits(first_digit=2, inter_digit=1, max_digits=5)
        ctx.mark("noise", result)
        return await s.read_digits(first_digit=5, inter_digit=1, max_digits=5)

    out = call_flow(flow, caller="wait 3; press 7")
    assert out.marks["noise"] == DigitResult("", "first_digit")
    assert up_to(out) == DigitResult("7", "inter_digit")


# -- the caller hangs up ---------------------------------------------------------------------------

async def _every_call_now_raises(s: CallSession, ctx: Ctx) -> list[str]:
    """Each vocabulary call, after the hangup: what it raised, at once and with no command."""
    sent = n_sendmsg(ctx.sw)
    start = ctx.now()
    raised = []
    calls: list[Callable[[], Awaitable[Any]]] = [
        s.answer, lambda: s.play("x.wav"), lambda: s.play("x.wav", barge=False),
        lambda: s.read_digits(first_digit=5, inter_digit=3, max_digits=4),
        lambda: s.record("/tmp/vm.wav", max_seconds=30), lambda: s.bridge("user/1001"),
        lambda: s.transfer("1000"), lambda: s.set_variable("a", "b"),
        lambda: s.execute("playback", "x.wav")]
    for make in calls:
        try:
            await make()
        except CallerHungUp as exc:
            raised.append(exc.cause)
    await s.hangup()  # a no-op: cleanup code may always call it
    assert n_sendmsg(ctx.sw) == sent
    assert ctx.now() == start
    return raised


def test_hangup_during_a_prompt_raises_with_the_cause_and_then_every_call_raises() -> None:
    async def flow(s: CallSession, ctx: Ctx) -> list[str]:
        try:
            await s.play("ivr/welcome.wav")
        except CallerHungUp as exc:
            ctx.mark("at")
            ctx.mark("cause", exc.cause)
        return await _every_call_now_raises(s, ctx)

    out = call_flow(flow, caller=[Hangup(on_prompt=1, after=1.5, cause="NORMAL_UNSPECIFIED")])
    assert up_to(out) == ["NORMAL_UNSPECIFIED"] * 9
    assert out.marks["at"] == pytest.approx(1.5)
    assert out.marks["cause"] == "NORMAL_UNSPECIFIED"


def test_hangup_during_an_unbargeable_prompt_raises() -> None:
    async def flow(s: CallSession, ctx: Ctx) -> str:
        try:
            await s.play("ivr/notice.wav", barge=False)
        except CallerHungUp as exc:
            ctx.mark("at")
            return exc.cause
        return "played"

    out = call_flow(flow, caller="hangup on prompt 1 after 1")
    assert up_to(out) == "NORMAL_CLEARING"
    assert out.marks["at"] == pytest.approx(1.0)


def test_hangup_during_read_digits_raises_at_once() -> None:
    async def flow(s: CallSession, ctx: Ctx) -> list[str]:
        try:
            await s.read_digits(first_digit=10, inter_digit=3, max_digits=4)
        except CallerHungUp as exc:
            ctx.mark("at")
            ctx.mark("cause", exc.cause)
        return await _every_call_now_raises(s, ctx)

    out = call_flow(flow, caller="press 12 after 1; hangup after 1")
    assert up_to(out) == ["NORMAL_CLEARING"] * 9
    assert out.marks["at"] == pytest.approx(2.1)


def test_buffered_keys_do_not_outlive_the_caller() -> None:
    async def flow(s: CallSession, ctx: Ctx) -> str:
        await asyncio.sleep(5)
        try:
            await s.read_digits(first_digit=5, inter_digit=3, max_digits=2)
        except CallerHungUp as exc:
            return exc.cause
        return "read"

    assert up_to(call_flow(flow, caller="press 12 after 1; hangup after 1")) == "NORMAL_CLEARING"


def test_hangup_during_record_raises_and_keeps_the_recording() -> None:
    async def flow(s: CallSession, ctx: Ctx) -> tuple[str, str | None]:
        await s.answer()
        try:
            await s.record("/var/vm/13800000000.wav", max_seconds=60)
        except CallerHungUp as exc:
            ctx.mark("at")
            recorded = exc.result.variable("record_ms") if exc.result is not None else "lost"
            return exc.cause, recorded
        return "recorded", None

    out = call_flow(flow, caller="wait 7.5; hangup")
    assert up_to(out) == ("NORMAL_CLEARING", "7500")
    assert out.marks["at"] == pytest.approx(7.5)
    stop = out.events("RECORD_STOP")
    assert [e.get("Record-Completion-Cause") for e in stop] == ["hangup"]


def test_hangup_during_a_bridge_raises() -> None:
    async def flow(s: CallSession, ctx: Ctx) -> list[str]:
        try:
            await s.bridge("user/1001")
        except CallerHungUp as exc:
            ctx.mark("at")
            ctx.mark("cause", exc.cause)
        return await _every_call_now_raises(s, ctx)

    out = call_flow(flow, caller="wait 20; hangup",
                    setup=lambda sw: sw.add_agent("1001", answer_after=2))
    assert up_to(out) == ["NORMAL_CLEARING"] * 9
    assert out.marks["at"] == pytest.approx(20)
    assert out.events("CHANNEL_BRIDGE")


# -- set_variable ----------------------------------------------------------------------------------

HOSTILE = [
    "line one\nline two",
    "\r\n\r\nsendmsg\ncall-command: hangup\nhangup-cause: CALL_REJECTED\n\n",
    "}",
    "{a=b}",
    "${uuid_kill(ORIGINATOR)}",
    "$${hold_music}",
    "\\${caller_id_number}",
    "cost $5, not \\$6",
    "a\\b",
    "two  spaces inside",
    "  leading spaces",
    "x=y=z",
    "张三 ${",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_set_variable_sets_exactly_the_value_with_one_command(value: str) -> None:
    async def flow(s: CallSession, ctx: Ctx) -> None:
        assert ctx.call is not None
        before = len(ctx.sw.commands)
        await s.set_variable("crm_note", value.replace("ORIGINATOR", ctx.call.uuid))
        ctx.mark("commands", [c.line for c in ctx.sw.commands[before:]])
        ctx.mark("stored", ctx.call.variables.get("crm_note"))
        ctx.mark("up", ctx.call.channel.up())

    out = call_flow(flow)
    up_to(out)
    assert out.marks["commands"] == ["sendmsg"]
    assert out.marks["up"] is True
    assert out.call.hangup_cause == "NORMAL_CLEARING"  # the flow ended; nothing killed it
    assert out.marks["stored"] == value.replace("ORIGINATOR", out.call.uuid)


def test_set_variable_refuses_a_hostile_name() -> None:
    async def flow(s: CallSession, ctx: Ctx) -> list[str]:
        refused = []
        for name in ("a\nb", "a=b", "a b", "", "${x}"):
            try:
                await s.set_variable(name, "v")
            except UnsafeArgumentError:
                refused.append(name)
        return refused

    out = call_flow(flow)
    assert len(up_to(out)) == 5
    assert n_sendmsg(out.sw) == 0


# -- record ----------------------------------------------------------------------------------------

def test_record_until_the_limit() -> None:
    async def flow(s: CallSession, ctx: Ctx) -> Event:
        await s.answer()
        return await s.record("/var/vm/1.wav", max_seconds=20)

    out = call_flow(flow)
    done = up_to(out)
    assert done.variable("record_ms") == "20000"
    assert out.ended_at == pytest.approx(20)
    assert [e.get("Record-File-Path") for e in out.events("RECORD_START")] == ["/var/vm/1.wav"]
    assert [e.get("Record-Completion-Cause") for e in out.events("RECORD_STOP")] == [
        "success-maxtime"]


def test_record_ends_on_its_terminator_and_later_prompts_ignore_it() -> None:
    async def flow(s: CallSession, ctx: Ctx) -> tuple[Event, bool]:
        await s.answer()
        done = await s.record("/var/vm/2.wav", max_seconds=60, terminators="#")
        ctx.mark("recorded")
        s.clear_digits()
        played = await s.play("ivr/thanks.wav", barge=False)
        ctx.mark("played")
        return done, played

    out = call_flow(flow, caller="press # after 4.5; press # on prompt 1 after 1")
    done, played = up_to(out)
    assert done.variable("record_ms") == "4500"
    assert out.marks["recorded"] == pytest.approx(4.5)
    assert [e.get("Record-Completion-Cause") for e in out.events("RECORD_STOP")] == [
        "success-terminated"]
    assert played is False
    assert out.marks["played"] - out.marks["recorded"] == pytest.approx(PROMPT)


def test_record_path_with_a_dollar_is_not_expanded() -> None:
    async def flow(s: CallSession, ctx: Ctx) -> Event:
        return await s.record("/var/vm/${uuid}.wav", max_seconds=1)

    out = call_flow(flow)
    up_to(out)
    assert [e.get("Record-File-Path") for e in out.events("RECORD_START")] == [
        "/var/vm/${uuid}.wav"]


# -- bridge ----------------------------------------------------------------------------------------

def test_bridge_to_an_agent_who_answers() -> None:
    async def flow(s: CallSession, ctx: Ctx) -> BridgeResult:
        result = await s.bridge("user/1001", timeout=20)
        ctx.mark("back")
        return result

    out = call_flow(flow, setup=lambda sw: sw.add_agent("1001", answer_after=4, talk_time=30))
    assert up_to(out) == BridgeResult(True, "SUCCESS")
    assert out.marks["back"] == pytest.approx(34)  # ring, talk, and back to the flow
    assert out.events("CHANNEL_BRIDGE")
    assert out.events("CHANNEL_UNBRIDGE")


def test_bridge_to_an_agent_who_never_answers_rings_for_the_timeout() -> None:
    async def flow(s: CallSession, ctx: Ctx) -> BridgeResult:
        result = await s.bridge("user/1001", timeout=15)
        ctx.mark("back")
        return result

    out = call_flow(flow, setup=lambda sw: sw.add_agent("1001", answer_after=None))
    assert up_to(out) == BridgeResult(False, "NO_ANSWER")
    assert out.marks["back"] == pytest.approx(15)
    assert not out.events("CHANNEL_BRIDGE")


def test_bridge_to_a_busy_agent() -> None:
    async def flow(s: CallSession, ctx: Ctx) -> BridgeResult:
        return await s.bridge("user/1001")

    out = call_flow(flow, setup=lambda sw: sw.add_agent("1001", busy=True))
    assert up_to(out) == BridgeResult(False, "USER_BUSY")


def test_a_failed_bridge_after_an_answered_one_is_not_answered() -> None:
    async def flow(s: CallSession, ctx: Ctx) -> tuple[BridgeResult, BridgeResult]:
        first = await s.bridge("user/1001")
        return first, await s.bridge("user/1002", timeout=5)

    def agents(sw: SimSwitch) -> None:
        sw.add_agent("1001", answer_after=1, talk_time=5)
        sw.add_agent("1002", answer_after=None)

    first, second = up_to(call_flow(flow, setup=agents))
    assert first == BridgeResult(True, "SUCCESS")
    assert second == BridgeResult(False, "NO_ANSWER")


# -- transfer and hangup ---------------------------------------------------------------------------

def test_transfer_sends_the_call_to_another_extension() -> None:
    async def flow(s: CallSession, ctx: Ctx) -> None:
        await s.answer()
        await s.transfer("1000")

    def route(sw: SimSwitch) -> None:
        sw.route("1000", ("playback", "ivr/transferred.wav"), ("hangup", "NORMAL_CLEARING"))

    out = call_flow(flow, setup=route)
    up_to(out)
    assert any(line.startswith("api uuid_transfer") and line.endswith(" 1000 XML default")
               for line in out.lines())
    assert out.call.channel.profile.destination_number == "1000"
    assert out.call.prompts == ["ivr/transferred.wav"]


def test_hangup_with_a_cause_reaches_the_switch() -> None:
    async def flow(s: CallSession, ctx: Ctx) -> str | None:
        await s.answer()
        await s.hangup("USER_BUSY")
        await s.hangup("NORMAL_CLEARING")  # once hung up, a no-op
        try:
            await s.play("x.wav")
        except CallerHungUp as exc:
            return exc.cause
        return None

    out = call_flow(flow)
    assert up_to(out) == "USER_BUSY"
    assert out.call.hangup_cause == "USER_BUSY"
    hangups = [c for c in out.sw.commands if c.header("call-command") == "hangup"]
    assert [c.header("hangup-cause") for c in hangups] == ["USER_BUSY"]


def test_hangup_refuses_a_hostile_cause() -> None:
    async def flow(s: CallSession, ctx: Ctx) -> None:
        await s.hangup("NORMAL_CLEARING\nsendmsg")

    out = call_flow(flow)
    assert isinstance(out.error, UnsafeArgumentError)
    assert not any(c.header("call-command") == "hangup" for c in out.sw.commands)


# -- a terminator right after a full-length entry is swallowed ------------------------------------

def _two_collects(first_max: int = 10, terminators: str = "#") -> Flow:
    async def flow(s: CallSession, ctx: Ctx) -> tuple[DigitResult, DigitResult]:
        first = await s.read_digits(first_digit=5, inter_digit=3, max_digits=first_max,
                                    terminators=terminators)
        ctx.mark("first")
        second = await s.read_digits(first_digit=5, inter_digit=3, max_digits=4,
                                     terminators=terminators)
        return first, second

    return flow


def test_a_terminator_right_after_a_full_entry_does_not_become_the_next_no_input() -> None:
    out = call_flow(_two_collects(), caller="press 1234567890# after 1; press 5 after 2")
    first, second = up_to(out)
    assert first == DigitResult("1234567890", "max")
    assert out.marks["first"] == pytest.approx(1.9)
    assert second == DigitResult("5", "inter_digit")


def test_a_terminator_already_buffered_after_a_full_entry_is_swallowed() -> None:
    async def flow(s: CallSession, ctx: Ctx) -> tuple[DigitResult, DigitResult]:
        await s.play("ivr/enter-number.wav", barge=False)  # the caller types it all meanwhile
        first = await s.read_digits(first_digit=5, inter_digit=3, max_digits=10)
        second = await s.read_digits(first_digit=5, inter_digit=3, max_digits=4)
        return first, second

    out = call_flow(flow, caller="press 1234567890# on prompt 1 after 0.5")
    assert up_to(out) == (DigitResult("1234567890", "max"), DigitResult("", "first_digit"))
    assert out.ended_at == pytest.approx(PROMPT + 5)


@pytest.mark.parametrize(("gap", "swallowed"), [(2.9, True), (3.0, True), (3.1, False)])
def test_the_swallow_lasts_inter_digit_seconds(gap: float, swallowed: bool) -> None:
    steps = [Press("1234567890", after=1, gap=0), Press("#", after=gap), Press("7", after=1)]
    first, second = up_to(call_flow(_two_collects(), caller=steps))
    assert first == DigitResult("1234567890", "max")
    if swallowed:
        assert second == DigitResult("7", "inter_digit")
    else:
        assert second == DigitResult("", "terminator", "#")
        assert second.no_input


def test_another_key_cancels_the_swallow() -> None:
    steps = [Press("1234567890", after=1, gap=0), Press("5#", after=1)]
    first, second = up_to(call_flow(_two_collects(), caller=steps))
    assert first == DigitResult("1234567890", "max")
    assert second == DigitResult("5", "terminator", "#")


def test_only_the_first_terminator_is_swallowed() -> None:
    steps = [Press("1234567890", after=1, gap=0), Press("##", after=0.5)]
    _, second = up_to(call_flow(_two_collects(), caller=steps))
    assert second == DigitResult("", "terminator", "#")


def test_no_swallow_without_terminators() -> None:
    steps = [Press("1234567890", after=1, gap=0), Press("#", after=0.5)]
    first, second = up_to(call_flow(_two_collects(terminators=""), caller=steps))
    assert first == DigitResult("1234567890", "max")
    assert second == DigitResult("#", "inter_digit")


def test_no_swallow_after_an_entry_that_ended_otherwise() -> None:
    steps = [Press("123#", after=1), Press("#", after=0.5)]
    first, second = up_to(call_flow(_two_collects(), caller=steps))
    assert first == DigitResult("123", "terminator", "#")
    assert second == DigitResult("", "terminator", "#")


def test_a_swallowed_terminator_does_not_barge_into_the_next_prompt() -> None:
    async def flow(s: CallSession, ctx: Ctx) -> tuple[DigitResult, bool]:
        number = await s.read_digits(first_digit=5, inter_digit=3, max_digits=10)
        return number, await s.play("ivr/you-entered.wav")

    steps = [Press("1234567890", after=1, gap=0), Press("#", after=0.5)]
    out = call_flow(flow, caller=steps)
    assert up_to(out) == (DigitResult("1234567890", "max"), False)
    assert out.ended_at == pytest.approx(1 + PROMPT)
    assert not any(line.startswith("api uuid_break") for line in out.lines())


# -- races at the edges ------------------------------------------------------------------------

def test_a_key_at_the_very_end_of_a_prompt_does_not_cut_the_next_one() -> None:
    async def flow(s: CallSession, ctx: Ctx) -> tuple[bool, bool]:
        first = await s.play("ivr/a.wav")
        s.clear_digits()
        ctx.mark("second")
        second = await s.play("ivr/b.wav")
        return first, second

    out = call_flow(flow, caller=f"press 1 on prompt 1 after {PROMPT}")
    up_to(out)
    assert out.call.prompts == ["ivr/a.wav", "ivr/b.wav"]
    assert out.ended_at - out.marks["second"] == pytest.approx(PROMPT)

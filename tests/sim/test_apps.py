"""Dialplan applications and their events (beyond playback and play_and_get_digits)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from coreswitch.esl import InboundClient
from coreswitch.switch.sim import Press, SimSwitch

from .conftest import Recorder


def _us(a: Mapping[str, str], b: Mapping[str, str]) -> int:
    """Switch microseconds from event ``a`` to event ``b``."""
    return int(b["Event-Date-Timestamp"]) - int(a["Event-Date-Timestamp"])


async def test_record_until_the_caller_presses_hash(switch: SimSwitch, client: InboundClient,
                                                    rec: Recorder) -> None:
    call = await switch.place_call(caller=[Press("1", on_prompt=1), Press("#", on_prompt=2,
                                                                           after=20)])
    await client.execute(call.uuid, "answer")
    await client.execute(call.uuid, "playback", "beep.wav")
    await client.execute(call.uuid, "playback", "leave-a-message.wav")
    done = await client.execute(call.uuid, "record", "/tmp/vm/msg.wav 120 200 3")
    assert done["Application"] == "record"
    await client.dispatcher.drain()
    start = rec.of("RECORD_START", call.uuid)[0]
    stop = rec.of("RECORD_STOP", call.uuid)[0]
    assert start["Record-File-Path"] == stop["Record-File-Path"] == "/tmp/vm/msg.wav"
    assert stop["Record-Completion-Cause"] == "success-terminated"
    # '#' came 20 s into the second prompt (2 s long): about 18 s of recording
    recorded = int(done.variable("record_ms") or 0)
    assert recorded >= 10_000
    assert abs(_us(start, stop) - recorded * 1000) < 500_000


async def test_record_time_limit(switch: SimSwitch, client: InboundClient) -> None:
    call = await switch.place_call()
    done = await client.execute(call.uuid, "record", "/tmp/vm/short.wav 3")
    assert done.variable("record_seconds") == "3"
    assert done.variable("record_ms") == "3000"


async def test_read_sets_the_variable_and_result(switch: SimSwitch,
                                                 client: InboundClient) -> None:
    call = await switch.place_call(caller="press 4321# on prompt 1 after 0.5")
    done = await client.execute(call.uuid, "read", "4 4 ivr/enter-pin.wav pin 5000 #")
    assert done.variable("pin") == "4321"
    assert done.variable("read_result") == "success"
    silent = await switch.place_call()
    done = await client.execute(silent.uuid, "read", "1 4 ivr/enter-pin.wav pin 1000 #")
    assert done.variable("pin") is None
    assert done.variable("read_result") == "timeout"


async def test_sleep_lasts_its_time_and_hangup_sets_the_cause(switch: SimSwitch,
                                                              client: InboundClient) -> None:
    call = await switch.place_call()
    started = switch.wait_for("CHANNEL_EXECUTE", call.uuid)
    done = await client.execute(call.uuid, "sleep", "1500")
    assert _us((await started).event, done) >= 1_500_000
    await client.execute(call.uuid, "hangup", "USER_BUSY")
    assert await call.hungup() == "USER_BUSY"
    await call.ended()
    assert call.variables.get("hangup_cause_q850") == "17"
    assert call.variables.get("last_app") == "hangup"


async def test_export_and_transfer_apps(switch: SimSwitch, client: InboundClient) -> None:
    switch.route("9000", ("answer", ""), ("playback", "queue-music.wav"), ("hangup", ""))
    call = await switch.place_call()
    await client.execute(call.uuid, "export", "cs_vip=1")
    assert call.variables.get("export_vars") == "cs_vip"
    ended = asyncio.ensure_future(call.hungup())
    await client.execute(call.uuid, "transfer", "9000 XML default")
    assert await ended == "NORMAL_CLEARING"
    assert call.channel.profile.destination_number == "9000"
    assert "PLAYBACK_START" in call.event_names


async def test_speak_counts_as_a_prompt_for_the_caller(switch: SimSwitch,
                                                       client: InboundClient) -> None:
    call = await switch.place_call(caller="press 5 on prompt 1 after 0.5; "
                                          "press * on prompt 1 after 1")
    text = "请按五" * 20
    started = switch.core.clock.now()
    await client.execute(call.uuid, "speak", f"unimrcp|xiaoyan|{text}")
    assert call.channel.prompts_started == 1
    # speak reads keys as playback does: 5 is dropped, * (the default terminator) stops it
    assert call.channel.variables.get("playback_terminator_used") == "*"
    assert switch.core.clock.now() - started < switch.core.media.speech_seconds(text) / 2
    done = await client.execute(call.uuid, "play_and_get_digits",
                                r"1 1 1 3000 # silence silence k \d")
    assert done.variable("k") is None  # nothing typed ahead is left


async def test_uuid_broadcast_and_uuid_record(switch: SimSwitch, client: InboundClient,
                                              rec: Recorder) -> None:
    call = await switch.place_call()
    played = switch.wait_for("CHANNEL_EXECUTE_COMPLETE", call.uuid)
    assert await client.api("uuid_broadcast", f"{call.uuid} ivr/position-3.wav aleg") == (
        "+OK Message sent\n")
    done = await played
    assert done.get("Application") == "playback"
    assert done.get("Application-Data") == "ivr/position-3.wav"
    assert await client.api("uuid_record", f"{call.uuid} start /rec/{call.uuid}.wav") == (
        "+OK Success\n")
    await client.execute(call.uuid, "playback", "ivr/please-hold.wav")
    stopped = switch.wait_for("RECORD_STOP", call.uuid)
    await client.api("uuid_record", f"{call.uuid} stop /rec/{call.uuid}.wav")
    stop = await stopped
    assert stop.get("Record-Completion-Cause") == "success-terminated"
    assert int(call.variables.get("record_ms") or 0) >= 2000  # the 2 s prompt was recorded


async def test_record_session_stops_at_hangup(switch: SimSwitch, client: InboundClient) -> None:
    call = await switch.place_call(caller="hangup on prompt 1 after 1")
    await client.execute(call.uuid, "record_session", "/rec/call.wav")
    stopped = switch.wait_for("RECORD_STOP", call.uuid)
    await client.execute(call.uuid, "playback", "ivr/menu.wav")
    assert (await stopped).get("Record-File-Path") == "/rec/call.wav"
    names = call.event_names
    assert names.index("RECORD_START") < names.index("CHANNEL_HANGUP") < names.index(
        "RECORD_STOP")


async def test_uuid_hold_changes_the_call_state(switch: SimSwitch, client: InboundClient,
                                                rec: Recorder) -> None:
    call = await switch.place_call()
    await client.execute(call.uuid, "answer")
    assert await client.api("uuid_hold", call.uuid) == "+OK Success\n"
    assert await client.api("uuid_hold", f"off {call.uuid}") == "+OK Success\n"
    await client.dispatcher.drain()
    states = [e["Channel-Call-State"] for e in rec.of("CHANNEL_CALLSTATE", call.uuid)]
    assert states == ["RINGING", "ACTIVE", "HELD", "ACTIVE"]


async def test_pre_answer_and_ring_ready_events(switch: SimSwitch, client: InboundClient,
                                                rec: Recorder) -> None:
    call = await switch.place_call()
    await client.execute(call.uuid, "ring_ready")
    await client.execute(call.uuid, "pre_answer")
    await client.dispatcher.drain()
    media = rec.of("CHANNEL_PROGRESS_MEDIA", call.uuid)[0]
    assert media["Answer-State"] == "early"
    assert media["Caller-Channel-Progress-Media-Time"] != "0"
    assert rec.of("CHANNEL_PROGRESS", call.uuid)[0]["Unique-ID"] == call.uuid


async def test_a_call_knows_what_the_caller_heard(switch: SimSwitch,
                                                  client: InboundClient) -> None:
    call = await switch.place_call()
    waiting = asyncio.ensure_future(call.prompt(2))
    await client.execute(call.uuid, "playback", "ivr/welcome.wav")
    await client.execute(call.uuid, "speak", "unimrcp|xiaoyan|您好，请按1")
    assert await waiting == "say:您好，请按1"
    assert call.prompts == ["ivr/welcome.wav", "say:您好，请按1"]
    call.hangup()
    assert await call.prompt() == ""  # the call ended before another prompt


async def test_keys_pressed_between_prompts_never_stop_the_next_one(
        switch: SimSwitch, client: InboundClient, rec: Recorder) -> None:
    """FreeSWITCH's park loop reads (and drops) keys pressed while no application runs, and
    playback reads every key pressed during it: a key never stops a later prompt."""
    call = await switch.place_call(caller="press 7 on prompt 1 after 0.5")
    await client.execute(call.uuid, "set", "playback_terminators=none")
    await client.execute(call.uuid, "playback", "no-barge.wav")  # 7 read and ignored
    switch.core.dtmf(call.channel, "8")  # while parked
    await client.execute(call.uuid, "set", "playback_terminators=any")
    done = await client.execute(call.uuid, "playback", "menu.wav")
    assert done.variable("playback_terminator_used") is None
    await client.dispatcher.drain()
    stops = rec.of("PLAYBACK_STOP", call.uuid)
    assert [s["Playback-Status"] for s in stops] == ["done", "done"]
    assert [d["DTMF-Digit"] for d in rec.of("DTMF", call.uuid)] == ["7", "8"]


async def test_a_terminator_stops_playback_after_its_dtmf_event(
        switch: SimSwitch, client: InboundClient, rec: Recorder) -> None:
    call = await switch.place_call(caller="press 3 on prompt 1 after 0.5")
    await client.execute(call.uuid, "set", "playback_terminators=any")
    done = await client.execute(call.uuid, "playback", "menu.wav")
    assert done.variable("playback_terminator_used") == "3"
    await client.dispatcher.drain()
    tail = [n for n in rec.names(call.uuid)
            if n in ("DTMF", "PLAYBACK_STOP", "CHANNEL_EXECUTE_COMPLETE")]
    assert tail[-3:] == ["DTMF", "PLAYBACK_STOP", "CHANNEL_EXECUTE_COMPLETE"]
    assert rec.of("PLAYBACK_STOP", call.uuid)[0]["Playback-Status"] == "break"

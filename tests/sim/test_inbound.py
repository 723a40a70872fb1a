"""The ESL client against the simulated switch over real TCP: inbound mode."""

from __future__ import annotations

import asyncio
import json

import pytest

from coreswitch.esl import (
    AccessDenied,
    AuthenticationError,
    ChannelGone,
    CommandError,
    InboundClient,
)
from coreswitch.switch.sim import Hangup, Press, SimSwitch, Wait

from .captures import frames
from .conftest import Recorder, raw_connect

PAGD = r"1 5 2 3000 # silence_stream://300 silence_stream://200 cs_digits \d+ 1500"


async def test_auth_request_then_status(switch: SimSwitch, client: InboundClient) -> None:
    status = await client.api("status")
    lines = status.splitlines()
    assert lines[0].startswith("UP 0 years, 0 days, 0 hours, 0 minutes, ")
    assert lines[1] == "FreeSWITCH (Version 1.10.12-release  64bit) is ready"
    assert lines[-1] == "Current Stack Size/Max 240K/240K"
    assert switch.command_lines()[:2] == ["auth ****", "event plain ALL"]


async def test_wrong_password_gets_the_captured_bytes(switch: SimSwitch) -> None:
    reader, writer = await raw_connect(switch)
    writer.write(b"auth wrong\n\n")
    got = await asyncio.wait_for(reader.read(), 5)  # until the switch closes
    writer.close()
    assert got == b"".join(f.to_bytes() for f in frames("inbound-badauth.recv"))


async def test_wrong_password_is_an_authentication_error(switch: SimSwitch) -> None:
    bad = InboundClient(port=switch.port, password="wrong", connect_timeout=5.0)
    with pytest.raises(AuthenticationError):
        await bad.start()
    await bad.close()


async def test_acl_rejection_is_access_denied(switch: SimSwitch) -> None:
    switch.server.reject = True
    denied = InboundClient(port=switch.port, connect_timeout=5.0, reconnect=False)
    with pytest.raises(AccessDenied, match="Access Denied"):
        await denied.start()
    await denied.close()


async def test_unknown_api_command_is_the_captured_error(client: InboundClient) -> None:
    with pytest.raises(CommandError) as info:
        await client.api("nosuchcommand")
    captured = frames("inbound-plain.recv")[5]
    assert info.value.reply.encode() == captured.body


async def test_bgapi_originate_to_an_agent(switch: SimSwitch, client: InboundClient,
                                           rec: Recorder) -> None:
    switch.add_agent("1001", answer_after=2)
    result = await client.bgapi(
        "originate", "{origination_caller_id_number=13900000000}user/1001 &park")
    assert result.startswith("+OK ")
    assert result.endswith("\n")
    uuid = result[4:].strip()
    assert switch.channels[uuid].application == "park"
    await client.dispatcher.drain()
    jobs = rec.of("BACKGROUND_JOB")
    assert [j["Job-Command"] for j in jobs] == ["originate"]
    assert jobs[0].body == result
    names = rec.names(uuid)
    assert names[:6] == ["CODEC", "CODEC", "CHANNEL_OUTGOING", "CHANNEL_STATE",
                         "CHANNEL_CREATE", "CHANNEL_ORIGINATE"]
    assert names.index("CHANNEL_PROGRESS") < names.index("CHANNEL_ANSWER") < names.index(
        "CHANNEL_PARK")
    answered = rec.of("CHANNEL_ANSWER", uuid)[0]
    created = rec.of("CHANNEL_CREATE", uuid)[0]
    rang_us = int(answered["Caller-Channel-Answered-Time"]) - int(
        created["Caller-Channel-Created-Time"])
    assert 2_000_000 <= rang_us < 10_000_000  # rang for answer_after=2 switch seconds


async def test_originate_to_an_unknown_user_fails(client: InboundClient) -> None:
    with pytest.raises(CommandError) as info:
        await client.bgapi("originate", "user/4040 &park")
    assert info.value.reply == "-ERR USER_NOT_REGISTERED\n"


async def test_playback_events_and_result(switch: SimSwitch, client: InboundClient,
                                          rec: Recorder) -> None:
    call = await switch.place_call("13800000000", "95598")
    done = await client.execute(call.uuid, "playback", "ivr/welcome.wav", event_lock=True)
    assert done["Application-Response"] == "FILE PLAYED"
    assert done.variable("playback_ms") == "2000"
    await client.dispatcher.drain()
    names = rec.names(call.uuid)
    execute = names.index("CHANNEL_EXECUTE", names.index("CHANNEL_PARK"))
    assert names[execute:execute + 5] == [
        "CHANNEL_EXECUTE", "PLAYBACK_START", "PLAYBACK_STOP", "CHANNEL_EXECUTE_COMPLETE",
        "PRIVATE_COMMAND"]
    stop = rec.of("PLAYBACK_STOP", call.uuid)[0]
    assert stop["Playback-File-Path"] == "ivr/welcome.wav"
    assert stop["Playback-Status"] == "done"


async def test_play_and_get_digits_with_a_scripted_caller(switch: SimSwitch,
                                                          client: InboundClient,
                                                          rec: Recorder) -> None:
    pagd = r"1 5 2 3000 # ivr/menu.wav silence_stream://200 cs_digits \d+ 1500"
    call = await switch.place_call(caller=[Press("12#", on_prompt=1, after=0.5)])
    await client.execute(call.uuid, "answer")
    done = await client.execute(call.uuid, "play_and_get_digits", pagd)
    assert done.variable("cs_digits") == "12"
    assert done["Application"] == "play_and_get_digits"
    assert done["Application-Data"] == pagd
    assert done["Application-Response"] == "_none_"
    await client.dispatcher.drain()
    assert [e["DTMF-Digit"] for e in rec.of("DTMF", call.uuid)] == ["1", "2", "#"]
    # the first digit interrupted the prompt
    assert rec.of("PLAYBACK_STOP", call.uuid)[0]["Playback-Status"] == "break"


async def test_invalid_input_then_retry(switch: SimSwitch, client: InboundClient,
                                        rec: Recorder) -> None:
    pagd = r"1 1 3 3000 # menu.wav invalid.wav choice [1-3] 1000"
    call = await switch.place_call(caller=[Press("9", on_prompt=1), Press("2", on_prompt=3)])
    done = await client.execute(call.uuid, "play_and_get_digits", pagd)
    assert done.variable("choice") == "2"
    assert done.variable("choice_invalid") == "9"
    await client.dispatcher.drain()
    played = [e["Playback-File-Path"] for e in rec.of("PLAYBACK_START", call.uuid)]
    assert played == ["menu.wav", "invalid.wav", "menu.wav"]


async def test_silent_caller_times_out_every_try(switch: SimSwitch, client: InboundClient,
                                                 rec: Recorder) -> None:
    call = await switch.place_call(caller=[Wait(60)])
    done = await client.execute(call.uuid, "play_and_get_digits",
                                r"1 4 2 2000 # menu.wav silence choice \d+")
    assert done.variable("choice") is None
    await client.dispatcher.drain()
    starts = rec.of("PLAYBACK_START", call.uuid)
    assert len(starts) == 2
    complete_us = int(done["Event-Date-Timestamp"])
    # two tries of (2 s prompt + 2 s first-digit timeout)
    assert complete_us - int(starts[0]["Event-Date-Timestamp"]) >= 8_000_000


async def test_caller_hangs_up_mid_prompt(switch: SimSwitch, client: InboundClient) -> None:
    call = await switch.place_call(caller=[Hangup(on_prompt=1, after=0.5)])
    menu = r"1 5 2 3000 # ivr/menu.wav silence_stream://200 cs_digits \d+ 1500"
    running = asyncio.ensure_future(client.execute(call.uuid, "play_and_get_digits", menu))
    queued = asyncio.ensure_future(client.execute(call.uuid, "playback", "after.wav"))
    # FreeSWITCH still completes the interrupted application (after CHANNEL_HANGUP) ...
    interrupted = await running
    assert interrupted["Answer-State"] == "hangup"
    assert interrupted.variable("cs_digits") is None
    stop = next(e for e in call.events if e.name == "PLAYBACK_STOP")
    assert stop.get("Playback-Status") == "break"
    assert call.event_names.index("CHANNEL_HANGUP") < call.event_names.index("PLAYBACK_STOP")
    # ... but the one queued behind it never runs: the channel is gone.
    with pytest.raises(ChannelGone) as info:
        await queued
    assert info.value.cause == "NORMAL_CLEARING"
    assert await call.hungup() == "NORMAL_CLEARING"
    await call.ended()
    # once destroyed, the switch no longer knows the UUID (as FreeSWITCH answers)
    with pytest.raises(CommandError) as refused:
        await client.execute(call.uuid, "playback", "too-late.wav")
    assert refused.value.reply == f"-ERR invalid session id [{call.uuid}]"


async def test_multi_line_set_travels_as_a_body(switch: SimSwitch,
                                                client: InboundClient) -> None:
    call = await switch.place_call()
    done = await client.execute(call.uuid, "set", "cs_note=a\nb: c")
    assert done.variable("cs_note") == "a\nb: c"
    sent = [c for c in switch.commands if c.verb == "sendmsg"][-1]
    assert sent.body == b"cs_note=a\nb: c"
    assert sent.header("content-length") == "14"
    assert sent.header("execute-app-arg") == ""
    assert await client.api("uuid_getvar", f"{call.uuid} cs_note") == "a\nb: c"


async def test_show_channels_as_json_follows_live_calls(switch: SimSwitch,
                                                        client: InboundClient) -> None:
    first = await switch.place_call("13800000001", "95598", caller_id_name="张三")
    second = await switch.place_call("13800000002", "12345")
    table = json.loads(await client.api("show", "channels as json"))
    assert table["row_count"] == 2
    assert [r["uuid"] for r in table["rows"]] == [first.uuid, second.uuid]
    assert table["rows"][0]["cid_name"] == "张三"
    assert table["rows"][1]["dest"] == "12345"
    captured = json.loads(frames("inbound-plain.recv")[37].body)
    assert list(table["rows"][0]) == list(captured["rows"][0])
    first.hangup()
    second.hangup()
    await first.ended()
    await second.ended()
    assert await client.api("show", "channels as json") == '{"row_count": 0}\n'


async def test_uuid_commands(switch: SimSwitch, client: InboundClient, rec: Recorder) -> None:
    call = await switch.place_call()
    assert await client.api("uuid_exists", call.uuid) == "true"
    assert await client.api("uuid_getvar", f"{call.uuid} nothing_here") == "_undef_"
    assert await client.api("uuid_setvar", f"{call.uuid} queue vip") == "+OK\n"
    assert await client.api("uuid_getvar", f"{call.uuid} queue") == "vip"
    long_play = asyncio.ensure_future(client.execute(call.uuid, "playback", "silence_stream://-1"))
    started = switch.wait_for("PLAYBACK_START", call.uuid)
    await started
    assert await client.api("uuid_break", call.uuid) == "+OK\n"
    await long_play
    await client.dispatcher.drain()
    assert rec.of("PLAYBACK_STOP", call.uuid)[-1]["Playback-Status"] == "break"
    assert await client.api("uuid_recv_dtmf", f"{call.uuid} 5") == (
        f"+OK {call.uuid} received DTMF 5.\n")
    assert await client.api("uuid_kill", f"{call.uuid} USER_BUSY") == "+OK\n"
    assert await call.hungup() == "USER_BUSY"
    await call.ended()
    assert await client.api("uuid_exists", call.uuid) == "false"
    with pytest.raises(CommandError):
        await client.api("uuid_kill", call.uuid)


async def test_transfer_runs_the_new_extension(switch: SimSwitch,
                                               client: InboundClient) -> None:
    switch.route("8000", ("playback", "transfer.wav"), ("hangup", "CALL_REJECTED"))
    call = await switch.place_call()
    await client.api("uuid_transfer", f"{call.uuid} 8000 XML default")
    assert await call.hungup() == "CALL_REJECTED"
    names = call.event_names
    assert names.index("CHANNEL_UNPARK") < names.index("PLAYBACK_START")
    assert call.variables.get("last_app") == "hangup"


async def test_exit_says_goodbye_like_freeswitch(switch: SimSwitch) -> None:
    reader, writer = await raw_connect(switch)
    assert await reader.readuntil(b"\n\n") == b"Content-Type: auth/request\n\n"
    writer.write(b"auth ClueCon\n\nexit\n\n")
    got = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    captured = frames("inbound-plain.recv")
    expected = captured[1].to_bytes() + captured[134].to_bytes() + captured[135].to_bytes()
    assert got == expected


async def test_hupall(switch: SimSwitch, client: InboundClient) -> None:
    calls = [await switch.place_call(str(13800000000 + i)) for i in range(3)]
    assert await client.api("hupall", "MANAGER_REQUEST") == (
        "+OK hangup all channels with cause MANAGER_REQUEST\n")
    assert [await c.hungup() for c in calls] == ["MANAGER_REQUEST"] * 3


async def test_sendmsg_needs_a_parked_channel(switch: SimSwitch, client: InboundClient) -> None:
    """FreeSWITCH only takes ``sendmsg`` for a channel under control (park or socket)."""
    playing = switch.wait_for("PLAYBACK_START")
    placing = asyncio.ensure_future(switch.place_call(
        route=[("answer", ""), ("playback", "ivr/welcome.wav"), ("park", "")]))
    uuid = (await playing).get("Unique-ID")  # still in the dialplan's playback
    with pytest.raises(CommandError) as info:
        await client.execute(uuid, "playback", "too-early.wav")
    assert info.value.reply == f"-ERR invalid session id [{uuid}]"
    call = await placing  # returns once parked
    assert "CHANNEL_PARK" in call.event_names
    done = await client.execute(call.uuid, "playback", "now.wav")
    assert done["Application-Response"] == "FILE PLAYED"

"""Event subscriptions: formats, filters, sequences and timestamps."""

from __future__ import annotations

import asyncio

from coreswitch.esl import InboundClient
from coreswitch.switch.sim import SimSwitch

from .conftest import Recorder, raw_connect


async def _client(switch: SimSwitch, fmt: str, rec: Recorder) -> InboundClient:
    c = InboundClient(port=switch.port, event_format=fmt, connect_timeout=5.0)
    c.subscribe(rec)
    await c.start()
    return c


async def test_plain_and_json_listeners_decode_the_same_events(switch: SimSwitch) -> None:
    plain, js = Recorder(), Recorder()
    a = await _client(switch, "plain", plain)
    b = await _client(switch, "json", js)
    try:
        switch.add_agent("1001", answer_after=1)
        call = await switch.place_call("13800000000", "95598",
                                       caller_id_name="王五 (VIP): 50%; 测试 & more",
                                       caller="press 3 on prompt 1 after 0.2")
        await a.execute(call.uuid, "set", "note=多行\n第二行")
        await a.execute(call.uuid, "play_and_get_digits", r"1 1 1 3000 # menu.wav silence k \d")
        await a.bgapi("originate", "user/1001 &park")
        await a.api("hupall")
        await call.ended()
        await a.dispatcher.drain()
        await b.dispatcher.drain()
    finally:
        await a.close()
        await b.close()
    # both saw the same events (from when both were connected), decoded alike
    by_seq = {e["Event-Sequence"]: e for e in js.events}
    common = [e for e in plain.events if e["Event-Sequence"] in by_seq]
    assert len(common) > 40
    assert common == [by_seq[e["Event-Sequence"]] for e in common]
    assert [e for e in plain.events if e.uuid == call.uuid] == [
        e for e in js.events if e.uuid == call.uuid]
    create = plain.of("CHANNEL_CREATE", call.uuid)[0]
    assert create["Caller-Caller-ID-Name"] == "王五 (VIP): 50%; 测试 & more"
    jobs = plain.of("BACKGROUND_JOB")
    assert jobs[0].body is not None
    assert jobs[0].body.startswith("+OK ")


async def test_sequence_numbers_and_timestamps_increase(switch: SimSwitch, client: InboundClient,
                                                        rec: Recorder) -> None:
    call = await switch.place_call(caller="hangup on prompt 1 after 1")
    await client.execute(call.uuid, "playback", "welcome.wav")
    await call.ended()
    await client.dispatcher.drain()
    sequences = [int(e["Event-Sequence"]) for e in rec.events]
    stamps = [int(e["Event-Date-Timestamp"]) for e in rec.events]
    assert sequences == sorted(sequences)
    assert len(set(sequences)) == len(sequences)
    assert stamps == sorted(stamps)
    core = {e["Core-UUID"] for e in rec.events}
    assert core == {switch.core.core_uuid}
    hangup = rec.of("CHANNEL_HANGUP", call.uuid)[0]
    assert hangup["Event-Date-GMT"].endswith(" GMT")


async def test_filters_keep_background_jobs(switch: SimSwitch, client: InboundClient,
                                            rec: Recorder) -> None:
    switch.add_agent("1001", answer_after=0.5)
    mine = await switch.place_call("13800000001", "95598")
    await client.filter("Unique-ID", mine.uuid)
    other = await switch.place_call("13800000002", "95598")
    result = await client.bgapi("originate", "user/1001 &park")  # completes: BACKGROUND_JOB
    agent_leg = result.split()[1]
    await client.execute(mine.uuid, "playback", "filtered.wav")
    await client.dispatcher.drain()
    assert rec.names(other.uuid) == []
    assert rec.names(agent_leg) == []
    assert "PLAYBACK_START" in rec.names(mine.uuid)
    assert [e["Job-Command"] for e in rec.of("BACKGROUND_JOB")] == ["originate"]
    await client.filter_delete("Unique-ID", mine.uuid)
    assert f"filter delete Unique-ID {mine.uuid}" in switch.command_lines()
    # only the BACKGROUND_JOB filter remains: no channel event passes any more
    third = await switch.place_call("13800000003", "95598")
    assert await client.bgapi("uuid_exists", third.uuid) == "true"
    await client.dispatcher.drain()
    assert rec.names(third.uuid) == []
    assert len(rec.of("BACKGROUND_JOB")) == 2


async def test_event_subscription_by_name_and_nixevent(switch: SimSwitch) -> None:
    reader, writer = await raw_connect(switch)
    writer.write(b"auth ClueCon\n\nevent plain CHANNEL_ANSWER\n\nnixevent CHANNEL_ANSWER\n\n"
                 b"event json CHANNEL_HANGUP\n\n")
    expected = (b"Content-Type: auth/request\n\n"
                b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n"
                b"Content-Type: command/reply\nReply-Text: +OK event listener enabled plain\n\n"
                b"Content-Type: command/reply\nReply-Text: +OK events nixed\n\n"
                b"Content-Type: command/reply\nReply-Text: +OK event listener enabled json\n\n")
    assert await reader.readexactly(len(expected)) == expected
    call = await switch.place_call(route=[("answer", ""), ("hangup", "USER_BUSY")])
    head = await reader.readuntil(b"\n\n")
    assert head.startswith(b"Content-Length: ")
    assert head.endswith(b"Content-Type: text/event-json\n\n")
    body = await reader.readexactly(int(head.split(b"\n")[0].split(b": ")[1]))
    assert body.startswith(b'{"Event-Name":"CHANNEL_HANGUP"')
    assert call.uuid.encode() in body
    await call.ended()
    writer.write(b"exit\n\n")
    rest = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert b"CHANNEL_ANSWER" not in rest
    assert rest.endswith(b"See you at ClueCon! http://www.cluecon.com/\n")


async def test_myevents_on_an_inbound_connection(switch: SimSwitch) -> None:
    first = await switch.place_call("13800000001")
    second = await switch.place_call("13800000002")
    reader, writer = await raw_connect(switch)
    writer.write(f"auth ClueCon\n\nmyevents {first.uuid} json\n\n".encode())
    await reader.readuntil(b"+OK Events Enabled\n\n")
    second.hangup()
    await second.ended()
    first.hangup()
    await first.ended()
    writer.write(b"exit\n\n")
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert first.uuid.encode() in data
    assert second.uuid.encode() not in data
    assert b'"Event-Name":"CHANNEL_HANGUP_COMPLETE"' in data
    assert b'"Event-Name":"CHANNEL_CALLSTATE"' not in data  # not in the myevents set


async def test_heartbeat_has_the_captured_shape() -> None:
    from .captures import events

    sw = SimSwitch(port=0, speed=1000, heartbeat=20)
    await sw.start()
    try:
        beat = await sw.wait_for("HEARTBEAT")
    finally:
        await sw.stop()
    captured = next(e for _, e in events("inbound-json.recv") if e.name == "HEARTBEAT")
    assert list(beat.event.headers) == list(captured.headers)
    assert beat.get("Event-Info") == "System Ready"
    assert int(beat.get("Uptime-msec")) >= 20_000


async def test_nixevent_takes_one_event_out_of_all(switch: SimSwitch) -> None:
    reader, writer = await raw_connect(switch)
    writer.write(b"auth ClueCon\n\nevent plain ALL\n\nnixevent CHANNEL_STATE API\n\n"
                 b"event plain API\n\nnoevents\n\nnoevents\n\nevent plain\n\n")
    await reader.readuntil(b"Reply-Text: +OK events nixed\n\n")
    await reader.readuntil(b"Reply-Text: +OK event listener enabled plain\n\n")
    await reader.readuntil(b"Reply-Text: +OK no longer listening for events\n\n")
    await reader.readuntil(b"Reply-Text: -ERR not listening for events\n\n")
    await reader.readuntil(b"Reply-Text: -ERR no keywords supplied\n\n")
    writer.write(b"event plain ALL\n\nnixevent CHANNEL_STATE\n\n")
    await reader.readuntil(b"Reply-Text: +OK events nixed\n\n")
    call = await switch.place_call()
    call.hangup()
    await call.ended()
    writer.write(b"exit\n\n")
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert b"Event-Name: CHANNEL_CREATE" in data
    assert b"Event-Name: CHANNEL_HANGUP_COMPLETE" in data
    assert b"Event-Name: CHANNEL_STATE" not in data

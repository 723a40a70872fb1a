"""The real InboundClient and OutboundSession against FreeSWITCH's recorded bytes, over TCP.

The harness (:mod:`.replay`) plays each capture transcript and checks every command the client
writes against what the recording client wrote, so these tests prove both directions: coreswitch
sends byte-compatible commands, and it understands the real replies and events (bgapi results,
execute completions, DTMF, hangup, disconnect notices).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import defaultdict

import pytest

from coreswitch.esl import (
    AuthenticationError,
    Backoff,
    CommandError,
    Event,
    FrameParser,
    InboundClient,
    OutboundServer,
    OutboundSession,
)
from coreswitch.esl import command as cmd
from coreswitch.esl.connection import Connection

from .captures import read_capture, read_transcript
from .fakeswitch import NO_CHANNELS, api_frame
from .replay import Replay

ORIGINATE = (
    "{origination_caller_id_name='张三 测试 100% %41',origination_caller_id_number=13800000000,"
    "sip_h_X-Test=a;b}loopback/9201/default &park"
)
PAGD_ARGS = "1 5 2 3000 # silence_stream://300 silence_stream://200 cs_digits \\d+ 1500"
RECONCILE = {"api show channels as json": api_frame(NO_CHANNELS)}


def capture_events(name: str) -> list[Event]:
    """Every event of a capture, decoded (the golden tests check this decoding itself)."""
    events = []
    for frame in FrameParser().feed(read_capture(name)):
        if frame.content_type == "text/event-plain":
            events.append(Event.from_plain(frame.body))
        elif frame.content_type == "text/event-json":
            events.append(Event.from_json(frame.body))
    return events


def by_channel(events: list[Event]) -> dict[str, list[str]]:
    lanes: dict[str, list[str]] = defaultdict(list)
    for ev in events:
        lanes[ev.uuid or ""].append(ev["Event-Sequence"])
    return dict(lanes)


@pytest.mark.parametrize("split_seed", [None, 1, 2], ids=["as-recorded", "split-1", "split-2"])
@pytest.mark.parametrize("fmt", ["plain", "json"])
async def test_inbound_client_replays_the_recorded_session(fmt: str,
                                                           split_seed: int | None) -> None:
    replay = Replay(read_transcript(f"inbound-{fmt}"), extra_replies=RECONCILE,
                    split_seed=split_seed)
    port = await replay.listen()
    expected = capture_events(f"inbound-{fmt}.recv")
    seen: list[Event] = []
    all_seen = asyncio.Event()
    pagd_running = asyncio.Event()

    def on_event(event: Event) -> None:
        seen.append(event)
        if event.name == "CHANNEL_EXECUTE" and event.get("Application") == "play_and_get_digits":
            pagd_running.set()
        if len(seen) == len(expected):
            all_seen.set()

    client = InboundClient(port=port, event_format=fmt, reconnect=False, command_timeout=10)
    client.subscribe(on_event)
    try:
        async with asyncio.timeout(30):
            await client.start()
            status = await client.api("status")
            assert "FreeSWITCH (Version 1.10.12-release  64bit) is ready" in status

            with pytest.raises(CommandError) as failed:
                await client.api("nosuchcommand")
            assert failed.value.reply == "-ERR nosuchcommand Command not found!\n"

            result = await client.bgapi("originate", ORIGINATE)
            assert re.fullmatch(r"\+OK [0-9a-f-]{36}\n", result)
            a_leg = result[4:].strip()

            show = json.loads(await client.api("show", "channels as json"))
            assert show["row_count"] == 2
            assert a_leg in {row["uuid"] for row in show["rows"]}

            b_leg = await client.api("uuid_getvar", f"{a_leg} other_loopback_leg_uuid")
            played = await client.execute(
                b_leg, "playback", "tone_stream://%(200,100,440);loops=2", event_lock=True)
            assert played.name == "CHANNEL_EXECUTE_COMPLETE"
            assert played["Application"] == "playback"
            assert played["Application-Response"] == "FILE PLAYED"
            assert played.uuid == b_leg

            # play_and_get_digits runs until DTMF arrives: inject it once the app has started.
            digits = asyncio.create_task(client.execute(b_leg, "play_and_get_digits", PAGD_ARGS))
            await pagd_running.wait()
            dtmf = await client.api("uuid_recv_dtmf", f"{b_leg} 12#")
            assert dtmf.startswith("+OK")
            collected = await digits
            assert collected["Application"] == "play_and_get_digits"
            assert collected.variable("cs_digits") == "12"

            # The recording client sent `set` with its multi-line value as a body and no
            # Event-UUID; send those exact bytes (test_command checks execute() builds them).
            await client.command(cmd.with_headers(
                f"sendmsg {b_leg}", [("call-command", "execute"), ("execute-app-name", "set")],
                body=b"cs_note=a\nb: c"))
            assert await client.api("uuid_getvar", f"{b_leg} cs_digits") == "12"
            assert (await client.command(cmd.simple("log 7"))).startswith("+OK log level 7")
            await client.hangup(b_leg)
            assert await client.command(cmd.simple("nolog")) == "+OK no longer logging"
            show = json.loads(await client.api("show", "channels as json"))
            assert show["row_count"] == 0
            await all_seen.wait()
            await client.dispatcher.drain()
            # Both legs were destroyed: their lanes and hangup state are gone.
            assert client.dispatcher.channels == set()
            assert client.hangup_cause(b_leg) is None
    finally:
        await client.close()
        await replay.close()
    await replay.finished()

    # Only the reconciliation was not in the recording.
    assert [c.line for c in replay.extras] == ["api show channels as json"]
    # The client generated its own Job-UUID and Event-UUIDs (mapped, never the recorded ones).
    assert len(replay.uuid_map) == 3
    assert all(k != v for k, v in replay.uuid_map.items())
    # Every event was delivered exactly once, in the switch's order within each channel.
    assert sorted(int(e["Event-Sequence"]) for e in seen) == sorted(
        int(e["Event-Sequence"]) for e in expected)
    assert by_channel(seen) == by_channel(expected)
    set_done = [e for e in seen if e.name == "CHANNEL_EXECUTE_COMPLETE"
                and e.get("Application") == "set"]
    assert [e["Application-Data"] for e in set_done] == ["cs_note=a\nb: c"]
    job = next(e for e in seen if e.name == "BACKGROUND_JOB")
    assert job.body == result
    assert job.job_uuid.encode() in replay.uuid_map.values()


async def test_wrong_password_is_a_permanent_error_without_retry() -> None:
    replay = Replay(read_transcript("inbound-badauth"))
    port = await replay.listen()
    client = InboundClient(port=port, password="wrong", backoff=Backoff(base=0.001, cap=0.001))
    try:
        with pytest.raises(AuthenticationError, match="-ERR invalid"):
            await asyncio.wait_for(client.start(), 10)
        await replay.finished()
    finally:
        await client.close()
        await replay.close()
    assert client.connections == 0
    assert not client.connected.is_set()
    assert [c.line for c in replay.matched] == ["auth wrong"]


async def _outbound_script(session: OutboundSession) -> dict[str, object]:
    """What the recording's outbound application did, through coreswitch's session API."""
    out: dict[str, object] = {}
    await session.command(cmd.event_subscription("json", ["CHANNEL_EXECUTE_COMPLETE", "DTMF"]))
    answered = await session.run("answer")
    out["answer"] = answered["Application"]
    digits = await session.run(
        "play_and_get_digits",
        "1 4 1 3000 # silence_stream://300 silence_stream://200 cs_digits \\d+ 1500")
    out["digits"] = digits.variable("cs_digits")
    await session.hangup_call()
    await session.hung_up.wait()
    return out


def _check_outbound(session: OutboundSession) -> None:
    assert session.uuid == "68c76bc0-1566-43cd-a5ce-c32d348bdc75"
    assert session.socket_mode == "async"
    data = session.channel_data
    assert data["Channel-Name"] == "loopback/9202-b"
    assert data.variable("current_application_data") == "127.0.0.1:8084 async full"
    assert data["FreeSWITCH-IPv6"] == "fd00::2"
    assert "Content-Type" not in data
    assert "Reply-Text" not in data


async def test_outbound_session_replays_the_recorded_call() -> None:
    """OutboundSession's protocol against the real bytes (connection set up by the test)."""
    session = OutboundSession(event_format="json", linger=5)
    ready = asyncio.Event()

    def factory() -> Connection:
        conn = session._make_connection()
        made = conn.connection_made

        def connection_made(transport: asyncio.BaseTransport) -> None:
            made(transport)
            ready.set()

        conn.connection_made = connection_made  # type: ignore[method-assign]
        session._conn = conn
        return conn

    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, "127.0.0.1", 0)
    replay = Replay(read_transcript("outbound-session"))
    try:
        async with asyncio.timeout(20):
            await replay.dial("127.0.0.1", server.sockets[0].getsockname()[1])
            await ready.wait()
            session.dispatcher.start()
            await session.handshake()
            _check_outbound(session)
            out = await _outbound_script(session)
            assert out == {"answer": "answer", "digits": "7"}
            await session.exit()
            await session.disconnected.wait()
            await replay.finished()
    finally:
        await session.dispatcher.stop()
        await replay.close()
        server.close()
        await server.wait_closed()
    assert [c.line for c in replay.matched] == [
        "connect", "myevents json", "linger 5", "event json CHANNEL_EXECUTE_COMPLETE DTMF",
        "sendmsg", "sendmsg", "sendmsg", "exit"]
    assert len(replay.uuid_map) == 2  # the Event-UUIDs of answer and play_and_get_digits


async def test_outbound_server_serves_the_recorded_call() -> None:
    results: list[dict[str, object]] = []
    sessions: list[OutboundSession] = []

    async def handler(session: OutboundSession) -> None:
        sessions.append(session)
        results.append(await _outbound_script(session))

    server = OutboundServer(handler, port=0, event_format="json", linger=5)
    conns: list[Connection] = []
    accept = server._accept

    def tracked_accept() -> asyncio.Protocol:
        conn = accept()
        assert isinstance(conn, Connection)
        conns.append(conn)
        return conn

    server._accept = tracked_accept  # type: ignore[method-assign]
    await server.start()
    replay = Replay(read_transcript("outbound-session"), step_timeout=3)
    try:
        await replay.dial("127.0.0.1", server.port)
        await replay.finished(timeout=10)
    finally:
        await replay.close()
        await server.close()
        for conn in conns:  # the harness hung up: wait until coreswitch's side saw it
            await asyncio.wait_for(asyncio.shield(conn.closed), 5)
    assert results == [{"answer": "answer", "digits": "7"}]
    _check_outbound(sessions[0])

"""Outbound mode: the simulated switch places calls into an outbound-socket server."""

from __future__ import annotations

import asyncio
import json

from coreswitch.esl import (
    ConnectionLost,
    Frame,
    FrameParser,
    InboundClient,
    OutboundServer,
    OutboundSession,
)
from coreswitch.esl.event import Event
from coreswitch.switch.sim import Press, SimSwitch

from .captures import ESL_DIR, frames

PAGD = r"1 4 1 3000 # silence_stream://300 silence_stream://200 cs_digits \d+ 1500"


def shape(frame: Frame) -> tuple[str, str]:
    """What a frame is: its content type and reply text, event name or disposition."""
    ctype = frame.content_type
    if ctype == "text/event-json":
        return ctype, Event.from_json(frame.body).name
    if ctype == "text/disconnect-notice":
        return ctype, frame.headers.get("Content-Disposition", "")
    if ctype == "command/reply" and "Socket-Mode" in frame.headers:
        return ctype, "connect"
    return ctype, frame.headers.get("Reply-Text", "")


class RawSession:
    """Plays the client side of outbound-session.transcript byte for byte."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []
        self.done = asyncio.Event()
        parser = FrameParser()
        self._parser = parser
        self._arrived = asyncio.Event()

    async def _read(self, reader: asyncio.StreamReader) -> None:
        while data := await reader.read(65536):
            self.frames.extend(self._parser.feed(data))
            self._arrived.set()
        self._arrived.set()

    async def until(self, test: object) -> None:
        assert callable(test)
        while not any(test(f) for f in self.frames):
            self._arrived.clear()
            await self._arrived.wait()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        reading = asyncio.ensure_future(self._read(reader))
        sends = [json.loads(line)["data"].encode("latin-1") for line in
                 (ESL_DIR / "outbound-session.transcript.jsonl").read_text().splitlines()
                 if json.loads(line)["dir"] == "send"]
        for data in sends:
            replies = sum(1 for f in self.frames if f.content_type == "command/reply")
            writer.write(data)
            await self.until(lambda f, n=replies: sum(
                1 for g in self.frames if g.content_type == "command/reply") > n)
            if b"Event-UUID: " in data:
                app_uuid = data.split(b"Event-UUID: ")[1].split(b"\n")[0].decode()
                await self.until(lambda f, u=app_uuid: f.content_type == "text/event-json"
                                 and Event.from_json(f.body).application_uuid == u
                                 and Event.from_json(f.body).name == "CHANNEL_EXECUTE_COMPLETE")
            if b"call-command: hangup" in data:
                await self.until(lambda f: b"CHANNEL_HANGUP_COMPLETE" in f.body[:40])
        await reading
        writer.close()
        self.done.set()


async def test_outbound_session_mirrors_the_capture(switch: SimSwitch) -> None:
    raw = RawSession()
    server = await asyncio.start_server(raw.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        call = await switch.place_call("13900000000", "9202", socket=("127.0.0.1", port),
                                       caller=[Press("7#", on_prompt=1)])
        await raw.done.wait()
        await call.ended()
    finally:
        server.close()
        await server.wait_closed()
    captured = frames("outbound-session.recv")
    assert [shape(f) for f in raw.frames] == [shape(f) for f in captured]
    # connect: channel data as URL-encoded top-level headers, then the reply headers
    connect, real = raw.frames[0], captured[0]
    assert list(connect.headers)[-4:] == list(real.headers)[-4:] == [
        "Content-Type", "Reply-Text", "Socket-Mode", "Control"]
    assert [connect.headers[k] for k in ("Reply-Text", "Socket-Mode", "Control")] == [
        "%2BOK%0A", "async", "full"]
    assert connect.headers["Channel-Unique-ID"] == call.uuid
    assert connect.headers["variable_current_application"] == "socket"
    assert connect.headers["variable_socket_host"] == "127.0.0.1"
    assert connect.headers["variable_current_application_data"] == (
        "127.0.0.1%3A" + str(port) + "%20async%20full")
    # the linger and disconnect notices carry this call
    linger = next(f for f in raw.frames if f.headers.get("Content-Disposition") == "linger")
    assert list(linger.headers) == list(captured[14].headers)
    assert linger.headers["Controlled-Session-UUID"] == call.uuid
    assert linger.headers["Linger-Time"] == "5"
    goodbye = raw.frames[-1]
    assert list(goodbye.headers) == list(captured[-1].headers)
    assert goodbye.body == captured[-1].body
    done = next(Event.from_json(f.body) for f in raw.frames
                if b'"Application":"play_and_get_digits"' in f.body
                and b"CHANNEL_EXECUTE_COMPLETE" in f.body[:50])
    assert done.variable("cs_digits") == "7"
    # the socket held the channel: destroyed only after the client's exit
    assert call.event_names[-2:] == ["CHANNEL_DESTROY", "CHANNEL_STATE"]


async def test_coreswitch_outbound_server_drives_a_call(switch: SimSwitch) -> None:
    results: dict[str, object] = {}

    async def handler(session: OutboundSession) -> None:
        results["ani"] = session.channel_data.get("Caller-Caller-ID-Number")
        await session.run("answer")
        done = await session.run("play_and_get_digits",
                                 r"1 4 1 3000 # ivr/menu.wav silence digits \d+ 1500")
        results["digits"] = done.variable("digits")
        await session.run("speak", "unimrcp|xiaoyan|您的编号是\n1234，谢谢")
        await session.hangup_call()
        await session.hung_up.wait()

    server = OutboundServer(handler, port=0, linger=5)
    await server.start()
    try:
        call = await switch.place_call("13700000000", "95598",
                                       socket=("127.0.0.1", server.port),
                                       caller="press 42# on prompt 1 after 0.5")
        await call.ended()
    finally:
        await server.close()
    assert results == {"ani": "13700000000", "digits": "42"}
    assert call.hangup_cause == "NORMAL_CLEARING"
    lines = [c.line for c in switch.commands]
    assert lines[:3] == ["connect", "myevents json", "linger 5"]
    assert lines[-1] == "exit"
    speak = next(c for c in switch.commands if c.header("execute-app-name") == "speak")
    assert speak.body == "unimrcp|xiaoyan|您的编号是\n1234，谢谢".encode()


async def test_linger_expires_then_the_switch_disconnects(switch: SimSwitch) -> None:
    seen: list[str] = []

    async def handler(session: OutboundSession) -> None:
        await session.run("answer")
        await session.run("playback", "ivr/hold.wav")
        await session.hung_up.wait()
        seen.append("linger notice")
        await session.disconnected.wait()  # no exit: the switch closes after the linger
        seen.append("disconnected")

    server = OutboundServer(handler, port=0, linger=3)
    await server.start()
    try:
        call = await switch.place_call(socket=("127.0.0.1", server.port),
                                       caller="hangup on prompt 1 after 0.5")
        await call.ended()
    finally:
        await server.close()
    assert seen == ["linger notice", "disconnected"]
    assert "exit" not in [c.line for c in switch.commands]
    destroyed = next(e for e in call.events if e.name == "CHANNEL_DESTROY")
    hung = next(e for e in call.events if e.name == "CHANNEL_HANGUP")
    lingered_us = int(destroyed.get("Event-Date-Timestamp")) - int(
        hung.get("Event-Date-Timestamp"))
    assert lingered_us >= 3_000_000


async def test_without_linger_the_socket_closes_at_hangup(switch: SimSwitch) -> None:
    reader_frames: list[Frame] = []
    closed = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parser = FrameParser()
        writer.write(b"connect\n\nmyevents\n\n")
        while data := await reader.read(65536):
            reader_frames.extend(parser.feed(data))
        writer.close()
        closed.set()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        call = await switch.place_call(
            socket=("127.0.0.1", server.sockets[0].getsockname()[1]), caller="hangup after 1")
        await closed.wait()
        await call.ended()
    finally:
        server.close()
        await server.wait_closed()
    last = reader_frames[-1]
    assert last.content_type == "text/disconnect-notice"
    assert last.headers["Content-Disposition"] == "disconnect"
    assert last.headers["Controlled-Session-UUID"] == call.uuid


async def test_killing_outbound_sockets_ends_their_calls(switch: SimSwitch) -> None:
    lost: list[str] = []

    async def handler(session: OutboundSession) -> None:
        await session.run("answer")
        try:
            await session.run("playback", "ivr/hold.wav")
        except ConnectionLost as exc:
            lost.append(type(exc).__name__)

    server = OutboundServer(handler, port=0, linger=5)
    await server.start()
    try:
        call = await switch.place_call(socket=("127.0.0.1", server.port))
        started = switch.wait_for("PLAYBACK_START", call.uuid)
        await started
        await switch.kill(outbound=True)
        # the prompt plays out, socket ends, no dialplan left: the call hangs up
        assert await call.hungup() == "NORMAL_CLEARING"
        await call.ended()
        stop = next(e for e in call.events if e.name == "PLAYBACK_STOP")
        assert stop.get("Playback-Status") == "done"
    finally:
        await server.close()
    assert lost == ["ConnectionLost"]
    assert switch.outbound_sockets == set()


async def test_the_dialplan_goes_on_after_the_socket_closes(switch: SimSwitch) -> None:
    async def handler(session: OutboundSession) -> None:
        await session.run("answer")  # then the server says exit

    server = OutboundServer(handler, port=0, linger=5)
    await server.start()
    addr = f"127.0.0.1:{server.port} async full"
    try:
        call = await switch.place_call(route=[
            ("socket", addr), ("playback", "after-socket.wav"), ("hangup", "CALL_REJECTED")])
        assert await call.hungup() == "CALL_REJECTED"
        last = await switch.place_call(route=[("socket", addr)])
        assert await last.hungup() == "NORMAL_CLEARING"  # no action left after socket
        await call.ended()
        await last.ended()
    finally:
        await server.close()
    socket_done = next(i for i, e in enumerate(call.events)
                       if e.name == "CHANNEL_EXECUTE_COMPLETE" and e.get("Application") == "socket")
    assert call.event_names.index("PLAYBACK_START") > socket_done


async def test_outbound_events_have_the_captured_names_and_values(switch: SimSwitch) -> None:
    """The captured call, rebuilt: a control connection originates ``loopback/9202`` whose
    dialplan runs ``socket``; the raw session replays the captured client; every JSON event
    then has the captured header names (in order) and values (run-specific ones aside)."""
    raw = RawSession()
    server = await asyncio.start_server(raw.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    switch.route("9202", ("socket", f"127.0.0.1:{port} async full"))
    control = InboundClient(port=switch.port, event_format="json", connect_timeout=5.0)
    await control.start()
    try:
        prompted = switch.wait_for("PLAYBACK_STOP")  # the prompt of play_and_get_digits
        await control.bgapi("originate",
                            "{origination_caller_id_number=13900000000}loopback/9202/default &park")
        b_leg = (await prompted).get("Unique-ID")
        await control.api("uuid_recv_dtmf", f"{b_leg} 7#")
        await raw.done.wait()
    finally:
        await control.close()
        server.close()
        await server.wait_closed()
    captured = frames("outbound-session.recv")
    real_uuid = captured[0].headers["Channel-Unique-ID"]
    ours = [Event.from_json(f.body) for f in raw.frames if f.content_type == "text/event-json"]
    theirs = [Event.from_json(f.body) for f in captured if f.content_type == "text/event-json"]
    assert [e.name for e in ours] == [e.name for e in theirs]
    skip = ("Core-UUID", "FreeSWITCH-", "Event-Date-", "Event-Sequence", "Application-UUID",
            "variable_other_loopback_leg_uuid", "variable_current_application_data",
            "Application-Data", "variable_session_id")
    for sim, real in zip(ours, theirs, strict=True):
        assert list(sim.headers) == list(real.headers), sim.name
        for name, value in real.headers.items():
            if name.startswith(skip) or any(t in name for t in (
                    "epoch", "stamp", "-Time", "sec", "duration", "-Hold")):
                continue
            assert sim[name].replace(sim.uuid or "", real_uuid) == value, (sim.name, name)

"""OutboundServer / OutboundSession against a scripted FreeSWITCH that dials in, per call."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref
from collections.abc import AsyncIterator

import pytest

from coreswitch.esl import OutboundServer, OutboundSession
from coreswitch.esl.names import MYEVENTS

from .captures import read_transcript
from .fakeswitch import ClientCommand, disconnect_frame, parse_commands, reply_frame

CALL = "68c76bc0-1566-43cd-a5ce-c32d348bdc75"
CONNECT_REPLY = read_transcript("outbound-session")[1][1]  # the real `connect` reply


class Dialer:
    """FreeSWITCH's side of one outbound-socket connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.buf = bytearray()
        self.pending: list[ClientCommand] = []
        self.commands: list[ClientCommand] = []

    @classmethod
    async def dial(cls, port: int) -> Dialer:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def expect(self, line: str) -> ClientCommand:
        while not self.pending:
            data = await asyncio.wait_for(self.reader.read(65536), 5)
            assert data, f"connection closed; expected {line!r}"
            self.buf += data
            self.pending += parse_commands(self.buf)
        command = self.pending.pop(0)
        self.commands.append(command)
        assert command.line == line
        return command

    async def expect_handshake(self, linger: int) -> None:
        """The handshake's commands, which coreswitch sends in one write before any reply."""
        for line in ("connect", "myevents json", f"linger {linger}"):
            await self.expect(line)

    async def handshake(self, linger: int) -> None:
        await self.expect_handshake(linger)
        self.writer.write(CONNECT_REPLY + reply_frame("+OK Events Enabled")
                          + reply_frame(f"+OK will linger {linger} seconds"))

    async def goodbye(self) -> None:
        """coreswitch ends the session with ``exit``: answer it and see the socket close."""
        await self.expect("exit")
        self.writer.write(reply_frame("+OK bye"))
        assert await self.closed_by_peer()

    async def closed_by_peer(self) -> bool:
        return await asyncio.wait_for(self.reader.read(), 5) == b""

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


class Script:
    """The application handler: reports each session, then does what the test tells it."""

    def __init__(self) -> None:
        self.sessions: asyncio.Queue[OutboundSession] = asyncio.Queue()
        self.actions: asyncio.Queue[BaseException | None] = asyncio.Queue()

    async def __call__(self, session: OutboundSession) -> None:
        await self.sessions.put(session)
        action = await self.actions.get()
        if action is not None:
            raise action

    async def session(self) -> OutboundSession:
        return await asyncio.wait_for(self.sessions.get(), 5)


@pytest.fixture
async def sessions() -> AsyncIterator[tuple[OutboundServer, Script]]:
    script = Script()
    server = OutboundServer(script, port=0, linger=7)
    await server.start()
    yield server, script
    await server.close()


async def test_a_session_gets_the_channel_data_and_exits_when_the_handler_returns(
        sessions: tuple[OutboundServer, Script]) -> None:
    server, script = sessions
    fs = await Dialer.dial(server.port)
    try:
        await fs.handshake(linger=7)
        session = await script.session()
        assert session.uuid == CALL
        assert session.channel_data["Channel-Name"] == "loopback/9202-b"
        assert session in server.sessions
        await script.actions.put(None)
        await fs.expect("exit")
        fs.writer.write(reply_frame("+OK bye") + disconnect_frame())
        assert await fs.closed_by_peer()
        assert session not in server.sessions
    finally:
        await fs.close()


async def test_a_failing_handler_exits_without_hanging_up(
        sessions: tuple[OutboundServer, Script]) -> None:
    server, script = sessions
    fs = await Dialer.dial(server.port)
    try:
        await fs.handshake(linger=7)
        await script.session()
        await script.actions.put(RuntimeError("flow bug"))
        await fs.goodbye()  # not `sendmsg` hangup: the dialplan's fallback runs
        assert [c.line for c in fs.commands] == ["connect", "myevents json", "linger 7", "exit"]
    finally:
        await fs.close()


async def test_linger_and_disconnect_notices(
        sessions: tuple[OutboundServer, Script]) -> None:
    server, script = sessions
    fs = await Dialer.dial(server.port)
    try:
        await fs.handshake(linger=7)
        session = await script.session()
        assert not session.hung_up.is_set()
        fs.writer.write(
            b"Content-Type: text/disconnect-notice\nControlled-Session-UUID: " + CALL.encode()
            + b"\nContent-Disposition: linger\nChannel-Name: loopback/9202-b\nLinger-Time: 7\n"
            b"Content-Length: 0\n\n")
        await asyncio.wait_for(session.hung_up.wait(), 5)
        assert not session.disconnected.is_set()
        fs.writer.write(disconnect_frame("disconnect"))
        await asyncio.wait_for(session.disconnected.wait(), 5)
        await script.actions.put(None)
    finally:
        await fs.close()


async def test_closing_the_server_cancels_running_sessions() -> None:
    script = Script()
    server = OutboundServer(script, port=0, linger=7)
    await server.start()
    fs = await Dialer.dial(server.port)
    try:
        await fs.handshake(linger=7)
        await script.session()
        closing = asyncio.create_task(server.close(drain=0.01))  # the handler never returns
        await fs.expect("exit")  # the cancelled session still says goodbye
        fs.writer.write(reply_frame("+OK bye"))
        await asyncio.wait_for(closing, 5)
        assert not server.sessions
        assert await fs.closed_by_peer()
    finally:
        await fs.close()


@pytest.mark.parametrize("answer", ["+OK events nixed", "-ERR command not found"])
async def test_events_the_handler_does_not_use_are_nixed_in_the_same_round_trip(
        answer: str) -> None:
    # A switch in the non-"full" socket mode refuses nixevent: the call still runs, with every
    # myevents event.
    script = Script()
    used = frozenset({"CHANNEL_EXECUTE_COMPLETE", "DTMF", "CHANNEL_HANGUP"})
    server = OutboundServer(script, port=0, linger=7, events=used)
    await server.start()
    fs = await Dialer.dial(server.port)
    try:
        await fs.expect_handshake(7)  # sent in one write, before any reply
        nix = await fs.expect(f"nixevent {' '.join(sorted(MYEVENTS - used))}")
        assert {"CHANNEL_EXECUTE", "CHANNEL_STATE"} <= set(nix.line.split()[1:])
        fs.writer.write(CONNECT_REPLY + reply_frame("+OK Events Enabled")
                        + reply_frame("+OK will linger 7 seconds") + reply_frame(answer))
        session = await script.session()
        assert session.uuid == CALL
        await script.actions.put(None)
        await fs.goodbye()
    finally:
        await fs.close()
        await server.close()


@pytest.mark.parametrize("replies", [
    # no channel data at all in the connect reply
    reply_frame("+OK") + reply_frame("+OK Events Enabled")
    + reply_frame("+OK will linger 7 seconds"),
    CONNECT_REPLY + reply_frame("-ERR aready enabled.") + reply_frame("+OK will linger 7 seconds"),
], ids=["connect-without-channel", "myevents-refused"])
async def test_a_failed_handshake_ends_the_session_cleanly(
        sessions: tuple[OutboundServer, Script], replies: bytes) -> None:
    server, script = sessions
    fs = await Dialer.dial(server.port)
    try:
        await fs.expect_handshake(7)  # sent in one write, before any reply
        fs.writer.write(replies)
        await fs.goodbye()  # back to the dialplan
        assert script.sessions.empty()  # the handler never ran
        assert not server.sessions
    finally:
        await fs.close()


async def test_a_finished_session_is_freed_without_the_garbage_collector(
        sessions: tuple[OutboundServer, Script]) -> None:
    # A session's graph (connection, dispatcher, handlers bound to it) is released when the
    # call ends: freed by reference counting, not left for a full collection (long pauses
    # with hundreds of calls up).
    server, script = sessions
    gc.collect()
    gc.disable()
    try:
        fs = await Dialer.dial(server.port)
        await fs.handshake(linger=7)
        session = weakref.ref(await script.session())
        await script.actions.put(None)
        await fs.expect("exit")
        fs.writer.write(reply_frame("+OK bye") + disconnect_frame())
        assert await fs.closed_by_peer()
        await fs.close()
        await asyncio.gather(*list(server._tasks))
        assert session() is None
    finally:
        gc.enable()


class _Recorder(asyncio.Transport):
    """A transport that keeps what is written to it."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("127.0.0.1", 40000) if name == "peername" else default


async def test_the_handshake_goes_out_as_the_connection_is_made() -> None:
    # Not from a task woken turns later: at 250 calls/s each turn of a busy loop is long, and
    # a task waiting for connection_made took 130 ms at p99 from the switch's SYN to `connect`.
    script = Script()
    server = OutboundServer(script, port=0, linger=7)
    protocol = server._accept()
    transport = _Recorder()
    protocol.connection_made(transport)
    assert bytes(transport.written).startswith(b"connect\n\nmyevents json\n\nlinger 7\n\n")
    protocol.connection_lost(None)  # the switch hangs up before answering
    await asyncio.gather(*list(server._tasks))
    assert script.sessions.empty()  # the handler never ran
    assert not server.sessions


async def test_a_connection_lost_before_it_is_made_starts_nothing() -> None:
    script = Script()
    server = OutboundServer(script, port=0)
    protocol = server._accept()
    protocol.connection_lost(ConnectionResetError())
    assert not server._tasks
    assert not server.sessions

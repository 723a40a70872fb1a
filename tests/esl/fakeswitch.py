"""A scripted FreeSWITCH stand-in for protocol tests (test helper, not product code).

It parses what the client writes the way ``mod_event_socket`` reads it (``read_packet`` in
mod_event_socket.c) — a command line, optional ``Name: value`` header lines, a blank line, then
exactly ``content-length`` bytes of body — and records every command it parsed, so a test can
assert *exactly* which commands reached the switch; a smuggled ``\\r\\n\\r\\n`` shows up
as an extra command here, as it would on a real switch.

:class:`FakeSwitch` listens on ``127.0.0.1:0`` (inbound mode). Each accepted connection is a
:class:`SwitchConn`; it greets with ``auth/request`` and answers the housekeeping commands itself
(``auth``, ``event``, ``filter``, ``api show channels as json``, ``exit`` …); every other command is
queued for the test (``await conn.next_command()``) unless ``on_command`` handled it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import quote

GOODBYE = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
# What FreeSWITCH 1.10 answered to `api show channels as json` with no channels (inbound-plain).
NO_CHANNELS = b'{"row_count": 0}\n'
_LINE_BREAK = re.compile(rb"[\r\n]+")
_ATOI = re.compile(r"[+-]?[0-9]+")


@dataclass
class ClientCommand:
    """One command as the switch parsed it."""

    raw: bytes
    line: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


def parse_commands(buf: bytearray) -> list[ClientCommand]:
    """Remove and return every complete command at the start of ``buf``.

    This follows ``read_packet`` of mod_event_socket.c: CR/LF bytes before a command are
    skipped; the header block ends at the second LF with nothing but CRs since the previous LF;
    it is split into lines at every run of CR/LF (so a CR alone also ends a line there); a header
    value loses its leading spaces; ``content-length`` (atoi) bytes of body follow.
    """
    out: list[ClientCommand] = []
    while True:
        start = 0
        while start < len(buf) and buf[start] in b"\r\n":
            start += 1
        crcount, end = 0, -1
        for i in range(start, len(buf)):
            c = buf[i]
            if c == 10:
                crcount += 1
                if crcount == 2:
                    end = i + 1
                    break
            elif c != 13:
                crcount = 0
        if end < 0:
            if start:
                del buf[:start]
            return out
        lines = [line for line in _LINE_BREAK.split(bytes(buf[start:end])) if line]
        headers: list[tuple[str, str]] = []
        for raw in lines[1:]:
            text = raw.decode("utf-8", "replace")
            name, _, value = text.partition(":")
            headers.append((name, value.lstrip(" ")))
        length = next((v for k, v in headers if k.lower() == "content-length"), None)
        body = b""
        if length is not None:
            digits = _ATOI.match(length)
            n = int(digits.group()) if digits else 0
            if n > 0:
                if len(buf) < end + n:
                    return out
                body = bytes(buf[end:end + n])
                end += n
        out.append(ClientCommand(bytes(buf[start:end]), lines[0].decode("utf-8", "replace"),
                                 headers, body))
        del buf[:end]


def reply_frame(text: str) -> bytes:
    return f"Content-Type: command/reply\nReply-Text: {text}\n\n".encode()


def api_frame(body: bytes | str) -> bytes:
    data = body.encode() if isinstance(body, str) else body
    return b"Content-Type: api/response\nContent-Length: %d\n\n" % len(data) + data


def plain_event_frame(headers: dict[str, str], body: bytes | None = None) -> bytes:
    """A ``text/event-plain`` frame encoded as FreeSWITCH does (values %-encoded)."""
    head = dict(headers)
    if body is not None:
        head["Content-Length"] = str(len(body))
    text = "".join(f"{k}: {quote(v, safe='')}\n" for k, v in head.items())
    inner = text.encode() + b"\n" + (body or b"")
    return b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(inner) + inner


def disconnect_frame(disposition: str = "disconnect") -> bytes:
    return (b"Content-Type: text/disconnect-notice\nContent-Disposition: " + disposition.encode()
            + b"\nContent-Length: %d\n\n" % len(GOODBYE) + GOODBYE)


OnCommand = Callable[["SwitchConn", ClientCommand], Awaitable[bool] | bool]


class SwitchConn:
    """The switch's side of one client connection."""

    def __init__(self, switch: FakeSwitch, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.switch = switch
        self.reader = reader
        self.writer = writer
        self.commands: list[ClientCommand] = []  # everything parsed, in order
        self.queue: asyncio.Queue[ClientCommand] = asyncio.Queue()
        self.closed = asyncio.Event()
        self.authenticated = False

    def write(self, data: bytes) -> None:
        self.writer.write(data)

    def reply(self, text: str) -> None:
        self.write(reply_frame(text))

    def api(self, body: bytes | str) -> None:
        self.write(api_frame(body))

    def event(self, headers: dict[str, str], body: bytes | None = None) -> None:
        self.write(plain_event_frame(headers, body))

    async def next_command(self, timeout: float = 5.0) -> ClientCommand:
        return await asyncio.wait_for(self.queue.get(), timeout)

    def close(self) -> None:
        self.writer.close()

    def abort(self) -> None:
        transport = self.writer.transport
        transport.abort()

    async def _housekeeping(self, cmd: ClientCommand) -> bool:
        line = cmd.line
        if line.startswith("auth "):
            if line[5:] == self.switch.password and self.switch.accept_auth:
                self.authenticated = True
                self.reply("+OK accepted")
            else:
                self.reply("-ERR invalid")
                self.write(disconnect_frame())
                await self.writer.drain()
                self.close()
            return True
        if line.startswith(("event ", "myevents", "linger", "log ", "nolog")):
            self.reply("+OK")
            return True
        if line.startswith(("filter ", "filter delete ")):
            self.reply("+OK filter added")
            return True
        if line == "api show channels as json":
            self.api(self.switch.show_channels)
            return True
        if line == "exit":
            self.reply("+OK bye")
            self.write(disconnect_frame())
            await self.writer.drain()
            self.close()
            return True
        return False

    async def serve(self) -> None:
        buf = bytearray()
        try:
            if self.switch.greeting:
                self.write(self.switch.greeting)
            while True:
                data = await self.reader.read(65536)
                if not data:
                    break
                buf += data
                for cmd in parse_commands(buf):
                    self.commands.append(cmd)
                    self.switch.commands.append(cmd)
                    handled = False
                    if self.switch.on_command is not None:
                        result = self.switch.on_command(self, cmd)
                        handled = bool(await result if not isinstance(result, bool) else result)
                    if not handled and not await self._housekeeping(cmd):
                        self.queue.put_nowait(cmd)
        except (ConnectionError, OSError):
            pass
        finally:
            self.closed.set()
            with contextlib.suppress(Exception):
                self.writer.close()


class FakeSwitch:
    """Listens on 127.0.0.1:0; ``await switch.connection()`` gives each accepted connection."""

    def __init__(self, *, password: str = "ClueCon", on_command: OnCommand | None = None,
                 greeting: bytes = b"Content-Type: auth/request\n\n") -> None:
        self.password = password
        self.accept_auth = True
        self.on_command = on_command
        self.greeting = greeting
        self.show_channels: bytes = NO_CHANNELS
        self.commands: list[ClientCommand] = []
        self.connections: list[SwitchConn] = []
        self._accepted: asyncio.Queue[SwitchConn] = asyncio.Queue()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self) -> FakeSwitch:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = SwitchConn(self, reader, writer)
        self.connections.append(conn)
        self._accepted.put_nowait(conn)
        await conn.serve()

    async def connection(self, timeout: float = 5.0) -> SwitchConn:
        return await asyncio.wait_for(self._accepted.get(), timeout)

    async def close(self) -> None:
        for conn in self.connections:
            conn.abort()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def __aenter__(self) -> FakeSwitch:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

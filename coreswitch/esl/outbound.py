"""Outbound mode: FreeSWITCH connects to coreswitch once per call.

The dialplan runs ``<action application="socket" data="127.0.0.1:8084 async full"/>``; for each
call FreeSWITCH opens a TCP connection to :class:`OutboundServer`, which makes one
:class:`OutboundSession` for it and:

1. sends ``connect`` — the reply carries the channel's data as URL-encoded top-level headers;
2. sends ``myevents <format>`` (this channel's events only), ``linger <seconds>`` (a finite
   linger, so events after the hangup still arrive and the socket then closes by itself) and,
   when the handler says which events it uses (``events=``), ``nixevent`` for the rest of what
   ``myevents`` subscribes to. The four commands go out in one write and share one round trip
   (none depends on another's reply; FreeSWITCH runs them in order). ``nixevent`` needs the
   ``full`` socket mode; a switch that refuses it just sends every ``myevents`` event;
3. runs the application's handler with the session;
4. sends ``exit`` and closes once the handler returns (FreeSWITCH then continues the dialplan after
   the ``socket`` action if the call is still up: put a fallback there).

A handler that raises is logged; the call is not hung up by coreswitch, so the dialplan's fallback
runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import unquote

from coreswitch.esl import command as cmd
from coreswitch.esl.acceptor import Acceptor
from coreswitch.esl.connection import settle
from coreswitch.esl.errors import CommandError, ESLError, ProtocolError
from coreswitch.esl.event import Event
from coreswitch.esl.frame import Frame
from coreswitch.esl.names import MYEVENTS
from coreswitch.esl.peer import EslPeer, checked_reply

log = logging.getLogger("coreswitch.esl")

SessionHandler = Callable[["OutboundSession"], Awaitable[None]]

_REPLY_ONLY = frozenset({"Content-Type", "Reply-Text", "Socket-Mode", "Control"})


class OutboundSession(EslPeer):
    """One call's outbound-socket connection. ``uuid`` and ``channel_data`` are set by connect."""

    def __init__(self, *, event_format: str = "json", linger: int = 10,
                 command_timeout: float = 30.0,
                 events: frozenset[str] | None = None) -> None:
        # No bound on an execute by default: on the socket's own channel every completion
        # arrives (nixevent never takes CHANNEL_EXECUTE_COMPLETE out), the hangup fails what is
        # still running and the socket's close fails the rest — a timer per prompt would only
        # cost time.
        super().__init__(command_timeout=command_timeout, execute_timeout=None)
        self.event_format = event_format
        self.linger = linger
        #: The ``myevents`` events to take out again (``nixevent``): those ``events`` leaves out.
        self.nixed = sorted(MYEVENTS - events) if events is not None else []
        self.uuid = ""
        self.channel_data = Event({})
        self.socket_mode = ""
        self.hung_up = asyncio.Event()  # set by the linger notice or CHANNEL_HANGUP
        self.disconnected = asyncio.Event()
        self._handshake: tuple[list[bytes], list[asyncio.Future[Frame]]] | None = None

    def send_handshake(self) -> None:
        """Write the handshake's commands now (the server does it as the connection is made);
        :meth:`handshake` then waits for their replies."""
        commands = [b"connect\n\n", cmd.simple(f"myevents {self.event_format}")]
        if self.linger:
            commands.append(cmd.simple(f"linger {int(self.linger)}"))
        if self.nixed:
            commands.append(cmd.simple(f"nixevent {' '.join(self.nixed)}"))
        self._handshake = commands, self._connection().pipeline(commands, self.command_timeout)

    async def handshake(self) -> None:
        """The handshake (module docstring, step 2): sent unless :meth:`send_handshake` did,
        then every reply checked; ``uuid`` and ``channel_data`` come from ``connect``'s."""
        if self._handshake is None:
            self.send_handshake()
        assert self._handshake is not None
        commands, replies = self._handshake
        self._handshake = None
        try:
            reply = await replies[0]
            self.channel_data = channel_data_from_connect(reply)
            uuid = self.channel_data.get("Unique-ID") or self.channel_data.get("Channel-Unique-ID")
            if not uuid:
                raise ProtocolError("connect reply carries no Unique-ID")
            self.uuid = cmd.uuid(uuid)
            self.socket_mode = reply.headers.get("Socket-Mode", "")
            for sent, answer in zip(commands[1:], replies[1:], strict=True):
                self._check_setup_reply(sent, (await answer).reply_text)
        finally:
            settle(replies)

    def _check_setup_reply(self, sent: bytes, text: str) -> None:
        try:
            checked_reply(sent, text)
        except CommandError:
            if not sent.startswith(b"nixevent"):
                raise
            log.debug("call %s: the switch refused nixevent (%s); it sends every myevents "
                      "event", self.uuid, text.strip())

    # Convenience wrappers on the session's own channel.
    async def run(self, app: str, arg: str = "", *, timeout: float | None = None,
                  event_lock: bool = False) -> Event:
        """``execute`` an application on this call and return its completion event."""
        return await self.execute(self.uuid, app, arg, timeout=timeout, event_lock=event_lock,
                                  outbound=True)

    async def hangup_call(self, cause: str = "NORMAL_CLEARING") -> None:
        await self.hangup(self.uuid, cause, outbound=True)

    async def exit(self) -> None:
        conn = self._conn
        if conn is None or not conn.is_open:
            return
        with contextlib.suppress(ESLError, TimeoutError):
            await conn.request(b"exit\n\n", timeout=5.0)
        conn.close()

    def release(self) -> None:
        """The call is over and its socket closed: break the reference cycles between the
        session, its connection and its dispatcher (handlers and hooks are bound methods), so
        the call's objects are freed now rather than by a full garbage collection."""
        self.dispatcher.release()
        if self._conn is not None:
            self._conn.release()

    def _on_notice(self, frame: Frame) -> None:
        disposition = frame.headers.get("Content-Disposition")
        if disposition == "linger":
            self.hung_up.set()
        elif disposition == "disconnect":
            self.disconnected.set()

    def _on_lost(self, error: BaseException | None) -> None:
        super()._on_lost(error)
        self.disconnected.set()

    def _complete(self, event: Event) -> None:
        super()._complete(event)
        if event.name == "CHANNEL_HANGUP" and event.uuid == self.uuid:
            self.hung_up.set()


def channel_data_from_connect(reply: Frame) -> Event:
    """The channel data of a ``connect`` reply: its top-level headers, URL-decoded."""
    headers = {k: unquote(v) if "%" in v else v
               for k, v in reply.headers.items() if k not in _REPLY_ONLY}
    return Event(headers)


class OutboundServer:
    """Accepts FreeSWITCH's per-call connections and runs ``handler(session)`` for each."""

    def __init__(self, handler: SessionHandler, host: str = "127.0.0.1", port: int = 8084, *,
                 event_format: str = "json", linger: int = 10,
                 events: frozenset[str] | None = None, backlog: int = 1024) -> None:
        self.handler = handler
        self.host, self.port = host, port
        self.event_format = event_format
        self.linger = linger
        #: The events the handler uses (None: every ``myevents`` event); see OutboundSession.
        self.events = events
        #: The listen queue: calls the switch has connected that the loop has not yet accepted.
        #: Past it the kernel drops connections (asyncio's default of 100 lost calls at bursts).
        self.backlog = backlog
        self.sessions: set[OutboundSession] = set()
        self._acceptor: Acceptor | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen: every connection waiting is taken at each loop turn (a burst of calls is
        not accepted one per turn, as ``loop.create_server`` on uvloop would)."""
        acceptor = Acceptor(self._accept, backlog=self.backlog)
        await acceptor.start(self.host, self.port)
        self._acceptor = acceptor
        self.port = acceptor.port

    def _accept(self) -> asyncio.Protocol:
        """Protocol factory: one session per connection (also used for in-memory connections).
        The session starts when the connection is made (:meth:`_start`)."""
        session = OutboundSession(event_format=self.event_format, linger=self.linger,
                                  events=self.events)
        conn = session._make_connection()
        session._conn = conn
        conn.on_made = lambda: self._start(session)
        return conn

    def _start(self, session: OutboundSession) -> None:
        """The connection is made: the handshake goes out in this same loop turn — under load a
        task waiting for ``connection_made`` would be woken several turns later, each as long
        as the loop is busy (p99 130 ms from the switch's SYN to ``connect`` at 250 calls/s) —
        and a task waits for the replies and runs the handler."""
        session.dispatcher.start()
        with contextlib.suppress(ESLError):  # the link is gone already: _serve says so
            session.send_handshake()
        task = asyncio.get_running_loop().create_task(self._serve(session), name="esl-outbound")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, session: OutboundSession) -> None:
        self.sessions.add(session)
        try:
            await session.handshake()
            await self.handler(session)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("outbound session %s failed", session.uuid or "(before connect)")
        finally:
            self.sessions.discard(session)
            with contextlib.suppress(Exception):
                await session.exit()
            await session.dispatcher.stop()
            session.release()

    async def close(self, drain: float = 0.0) -> None:
        """Stop accepting; give running sessions ``drain`` seconds, then cancel them."""
        if self._acceptor is not None:
            await self._acceptor.close()
        if self._tasks and drain > 0:
            await asyncio.wait(self._tasks, timeout=drain)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

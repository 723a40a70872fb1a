"""One Event Socket TCP connection: frame parsing, the reply FIFO and the hand-off of events.

The reader (:meth:`Connection.data_received`) does three cheap things and nothing else: it splits
frames, resolves the oldest waiting command with each ``command/reply`` / ``api/response``, and
hands event frames to a sink (the :class:`~coreswitch.esl.dispatch.Dispatcher`), which routes an
event at once when nothing is queued before it and queues it otherwise. When the sink reports it
is full, reading pauses until it drains (back-pressure instead of an unbounded queue).

FreeSWITCH answers the commands of one connection strictly in order, so replies are matched to
commands by a FIFO of futures. A command that times out or is cancelled keeps its slot: its reply
still arrives and is discarded, and every later reply still reaches the right caller. Reply
timeouts share one timer per connection (armed for the earliest deadline of the commands
waiting), not one per command.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Callable
from typing import cast

from coreswitch.esl.errors import AccessDenied, ConnectionLost, ProtocolError
from coreswitch.esl.frame import Frame, FrameParser
from coreswitch.esl.names import EVENT_CONTENT_TYPES, ContentType
from coreswitch.eventloop import OnOneLoop

log = logging.getLogger("coreswitch.esl")

_REPLY_TYPES = frozenset({ContentType.COMMAND_REPLY, ContentType.API_RESPONSE})

#: ``sink(frame)`` returns False when it wants the reader paused until ``resume_reading()``.
FrameSink = Callable[[Frame], bool]

#: A command waiting for its reply: (the command's bytes, the future of its reply, its deadline
#: on the loop's clock (inf: none), its timeout for the message).
_Waiting = tuple[bytes, "asyncio.Future[Frame]", float, float]


def _summary(data: bytes) -> str:
    """A command's first line, for messages."""
    return data.split(b"\n", 1)[0].decode("utf-8", "replace")[:80]


class Connection(OnOneLoop, asyncio.Protocol):
    """The transport-level half of an ESL peer (inbound client or outbound session)."""

    def __init__(
        self,
        event_sink: FrameSink,
        *,
        on_notice: Callable[[Frame], None] | None = None,
        on_log: Callable[[Frame], None] | None = None,
        on_lost: Callable[[BaseException | None], None] | None = None,
    ) -> None:
        self._event_sink = event_sink
        self._on_notice = on_notice
        self._on_log = on_log
        self._on_lost = on_lost
        self._parser = FrameParser()
        self._replies: deque[_Waiting] = deque()
        self._timer: asyncio.TimerHandle | None = None  # the earliest reply deadline
        self._transport: asyncio.Transport | None = None
        self._paused = False
        loop = self.running_loop
        self.auth_request: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.peer: tuple[str, int] | None = None
        self.error: BaseException | None = None
        #: Called at the end of ``connection_made``: the owner may write at once, in the same
        #: loop turn (an outbound session's handshake), rather than in a task woken later.
        self.on_made: Callable[[], None] | None = None

    # -- asyncio.Protocol ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)
        self.peer = transport.get_extra_info("peername")
        if self.on_made is not None:
            on_made, self.on_made = self.on_made, None
            on_made()

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._parser.feed(data)
        except ProtocolError as exc:
            log.error("ESL protocol error from %s: %s; closing the connection", self.peer, exc)
            self.abort(exc)
            return
        for frame in frames:
            ctype = frame.content_type
            if ctype in EVENT_CONTENT_TYPES:
                if not self._event_sink(frame) and not self._paused and self._transport:
                    self._paused = True
                    self._transport.pause_reading()
            elif ctype in _REPLY_TYPES:
                self._resolve_reply(frame)
            elif not self._control_frame(ctype, frame):
                return

    def _control_frame(self, ctype: str, frame: Frame) -> bool:
        """Handle a frame that is neither an event nor a reply; False when the link is closed."""
        if ctype == ContentType.AUTH_REQUEST:
            if not self.auth_request.done():
                self.auth_request.set_result(None)
        elif ctype == ContentType.DISCONNECT_NOTICE:
            if self._on_notice:
                self._on_notice(frame)
        elif ctype == ContentType.LOG_DATA:
            if self._on_log:
                self._on_log(frame)
        elif ctype == ContentType.RUDE_REJECTION:
            text = frame.body.decode("utf-8", "replace").strip()
            self.abort(AccessDenied(f"the switch rejected this connection: {text}"))
            return False
        else:
            log.warning("ignoring ESL frame of unknown type %r", ctype)
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        err: BaseException = self.error or ConnectionLost(
            f"ESL connection to {self.peer} closed" + (f": {exc}" if exc else "")
        )
        self.error = err
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._replies:
            data, fut, _, _ = self._replies.popleft()
            if not fut.done():
                fut.set_exception(ConnectionLost(
                    f"connection closed before {_summary(data)!r} got a reply"))
        if not self.auth_request.done():
            self.auth_request.set_exception(err)
            self.auth_request.exception()  # mark retrieved: nobody may be waiting
        if not self.closed.done():
            self.closed.set_result(None)
        if self._on_lost:
            self._on_lost(err)

    def release(self) -> None:
        """Forget the owner's callbacks (they close a reference cycle through the owner); for
        a connection that is closed and done with. Frames arriving later are dropped."""
        self._event_sink = _drop
        self._on_notice = self._on_log = self._on_lost = None

    # -- commands ------------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self._transport is not None and not self.closed.done()

    async def request(self, data: bytes, timeout: float | None = None) -> Frame:
        """Send one command and wait for its reply frame."""
        fut = self._enqueue(data, timeout)
        self._write(data)
        # A timeout (TimeoutError set by _expire) or a cancellation of the caller ends ``fut``;
        # it stays in the FIFO as a placeholder and its reply, when it comes, is discarded.
        return await fut

    def _enqueue(self, data: bytes, timeout: float | None) -> asyncio.Future[Frame]:
        """A FIFO slot for the reply to ``data`` (which the caller writes next)."""
        if not self.is_open or self._transport is None:
            raise self.error if isinstance(self.error, ConnectionLost) else ConnectionLost(
                "ESL connection is not open")
        loop = self.running_loop
        fut: asyncio.Future[Frame] = loop.create_future()
        if timeout is None:
            self._replies.append((data, fut, math.inf, math.inf))
            return fut
        deadline = loop.time() + timeout
        self._replies.append((data, fut, deadline, timeout))
        timer = self._timer
        if timer is None or timer.when() > deadline:
            if timer is not None:
                timer.cancel()
            self._timer = loop.call_at(deadline, self._expire)
        return fut

    def _write(self, data: bytes) -> None:
        assert self._transport is not None  # checked by _enqueue just before
        self._transport.write(data)

    def _expire(self) -> None:
        """Fail the commands whose reply is overdue; re-arm for the next deadline."""
        self._timer = None
        loop = self.running_loop
        now = loop.time()
        following = math.inf
        for data, fut, deadline, timeout in self._replies:
            if fut.done():
                continue
            if deadline <= now:
                fut.set_exception(
                    TimeoutError(f"no reply to {_summary(data)!r} within {timeout:g} s"))
            elif deadline < following:
                following = deadline
        if following < math.inf:
            self._timer = loop.call_at(following, self._expire)

    def pipeline(self, commands: list[bytes],
                 timeout: float | None = None) -> list[asyncio.Future[Frame]]:
        """Send several commands in one write; return the futures of their replies, in order.

        FreeSWITCH runs a connection's commands one after another and answers in order, so
        commands that do not depend on each other's replies can share one round trip (the
        outbound handshake: ``connect``, ``myevents``, ``linger``, ``nixevent``). The caller
        awaits the futures (see :func:`settle`); one it cancels stays a placeholder in the FIFO.
        """
        futures = [self._enqueue(data, timeout) for data in commands]
        self._write(b"".join(commands))
        return futures

    def write(self, data: bytes) -> None:
        """Write a command whose reply nobody awaits (its FIFO slot is still kept)."""
        if self._transport is None or not self.is_open:
            raise ConnectionLost("ESL connection is not open")
        fut: asyncio.Future[Frame] = self.running_loop.create_future()
        fut.cancel()
        self._replies.append((data, fut, math.inf, math.inf))
        self._transport.write(data)

    def _resolve_reply(self, frame: Frame) -> None:
        if not self._replies:
            log.warning("ESL reply with no command waiting: %r", frame.reply_text[:80])
            return
        fut = self._replies.popleft()[1]
        if not fut.done():
            fut.set_result(frame)

    def resume_reading(self) -> None:
        if self._paused and self._transport is not None:
            self._paused = False
            self._transport.resume_reading()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def abort(self, error: BaseException) -> None:
        self.error = error
        if self._transport is not None:
            self._transport.abort()


def settle(futures: list[asyncio.Future[Frame]]) -> None:
    """After awaiting some of :meth:`Connection.pipeline`'s futures: cancel those still
    pending (their slots stay placeholders) and mark failures nobody awaited as retrieved."""
    for fut in futures:
        if fut.done() and not fut.cancelled():
            fut.exception()
        else:
            fut.cancel()


def _drop(frame: Frame) -> bool:
    """The event sink of a released connection."""
    return True

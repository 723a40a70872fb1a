"""Commands and their completions over one ESL connection: the base of both connection modes.

:class:`EslPeer` owns a :class:`~coreswitch.esl.dispatch.Dispatcher` and, through its completion
hook, finishes the awaitables that events complete:

* ``bgapi`` — the client generates the ``Job-UUID``; the result is the body of the
  ``BACKGROUND_JOB`` event carrying it;
* ``execute`` — ``sendmsg`` with an ``Event-UUID``; FreeSWITCH echoes it as ``Application-UUID`` in
  ``CHANNEL_EXECUTE_COMPLETE``, which completes the call. It fails with
  :class:`~coreswitch.esl.errors.ChannelGone` once the channel's hangup is complete (an application
  interrupted by the hangup still reports ``CHANNEL_EXECUTE_COMPLETE`` first, so its result is not
  lost) or when it is sent to a channel already destroyed, with :class:`TimeoutError` after
  ``timeout`` (by default ``execute_timeout``, so an execute whose completion never arrives —
  event filters that leave the channel out — cannot wait forever), and with
  :class:`~coreswitch.esl.errors.ConnectionLost` when the connection drops.

``api`` and ``bgapi`` output that starts with ``-ERR`` or ``-USAGE`` (FreeSWITCH's answer to bad
arguments, e.g. ``-USAGE: [hupall|pause|resume|shutdown]``) raises
:class:`~coreswitch.esl.errors.CommandError` unless ``check=False``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import os
import uuid as uuidlib
from collections.abc import Iterable

from coreswitch.esl import command as cmd
from coreswitch.esl.connection import Connection, settle
from coreswitch.esl.dispatch import Dispatcher, Handler
from coreswitch.esl.errors import ChannelGone, ChannelGoneRefused, CommandError, ConnectionLost
from coreswitch.esl.event import Event
from coreswitch.esl.frame import Frame
from coreswitch.esl.names import EventName
from coreswitch.eventloop import OnOneLoop

log = logging.getLogger("coreswitch.esl")

#: Events the peer itself needs to complete jobs and executes and to track channel ends.
REQUIRED_EVENTS = (
    EventName.BACKGROUND_JOB,
    EventName.CHANNEL_EXECUTE_COMPLETE,
    EventName.CHANNEL_HANGUP,
    EventName.CHANNEL_HANGUP_COMPLETE,
    EventName.CHANNEL_DESTROY,
)


#: How long ``execute`` waits for ``CHANNEL_EXECUTE_COMPLETE`` unless told otherwise: longer than
#: any call an application (``bridge``, ``park``) could reasonably keep running.
DEFAULT_EXECUTE_TIMEOUT = 4 * 3600.0
#: Destroyed channels remembered, so that an execute on one fails as ChannelGone.
_GONE_MEMORY = 4096
#: How API output that reports a failure starts.
_API_ERRORS = ("-ERR", "-USAGE")


def checked_reply(sent: bytes, reply: str) -> str:
    """A ``command/reply`` text; ``-ERR`` raises :class:`CommandError` naming the command."""
    if reply.startswith("-ERR"):
        raise CommandError(sent.split(b"\n", 1)[0].decode("utf-8", "replace"), reply)
    return reply


class _UuidSource:
    """Job and Event UUIDs: a random UUID4 prefix drawn once per process (and again after a
    fork) with a counter in the last 48 bits — as unique as a fresh ``uuid4()`` each time for
    matching replies and completions, in the same shape, without a system call per command."""

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self.prefix = str(uuidlib.uuid4())[:24]
        self.counter = itertools.count(int.from_bytes(os.urandom(4)))

    def __call__(self) -> str:
        return f"{self.prefix}{next(self.counter) & 0xFFFFFFFFFFFF:012x}"


new_uuid = _UuidSource()


class EslPeer(OnOneLoop):
    """What both connection modes share: commands, jobs, executes and event delivery."""

    def __init__(self, *, command_timeout: float = 30.0, inbox_limit: int = 4096,
                 lane_limit: int = 512,
                 execute_timeout: float | None = DEFAULT_EXECUTE_TIMEOUT) -> None:
        self.command_timeout = command_timeout
        #: Default bound of an ``execute`` (``None``: as long as the channel lives).
        self.execute_timeout = execute_timeout
        self.dispatcher = Dispatcher(
            on_resume=self._resume, inbox_limit=inbox_limit, lane_limit=lane_limit)
        self.dispatcher.add_hook(self._complete)
        self._conn: Connection | None = None
        self._jobs: dict[str, asyncio.Future[Event]] = {}
        self._executes: dict[str, dict[str, asyncio.Future[Event]]] = {}  # channel → Event-UUID
        self._hungup: dict[str, str] = {}  # channel → hangup cause, until CHANNEL_DESTROY
        self._gone: dict[str, str] = {}  # recently destroyed channel → cause, oldest first

    # -- events ---------------------------------------------------------------------------------
    def subscribe(self, handler: Handler, names: Iterable[str] | None = None) -> None:
        """Run ``handler(event)`` for every event (or those named), ordered per channel."""
        self.dispatcher.subscribe(handler, set(names) if names is not None else None)

    def bind(self, channel: str, handler: Handler) -> None:
        """Run ``handler(event)`` for each event of one channel, in order."""
        self.dispatcher.bind(cmd.uuid(channel), handler)

    def hangup_cause(self, channel: str) -> str | None:
        """The hangup cause if the channel has hung up (and is not yet destroyed)."""
        return self._hungup.get(channel)

    # -- connection plumbing ---------------------------------------------------------------------
    def _make_connection(self) -> Connection:
        return Connection(self.dispatcher.put, on_notice=self._on_notice, on_lost=self._on_lost)

    def _resume(self) -> None:
        if self._conn is not None:
            self._conn.resume_reading()

    def _on_notice(self, frame: Frame) -> None:
        log.debug("disconnect notice: %s", frame.headers.get("Content-Disposition"))

    def _on_lost(self, error: BaseException | None) -> None:
        self._fail_in_flight(error)

    def _fail_in_flight(self, error: BaseException | None) -> None:
        detail = f": {error}" if error else ""
        for job, fut in self._jobs.items():
            if not fut.done():
                fut.set_exception(
                    ConnectionLost(f"connection lost before job {job} finished{detail}"))
        self._jobs.clear()
        for channel, pending in self._executes.items():
            for fut in pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionLost(
                        f"connection lost while an application ran on {channel}{detail}"))
        self._executes.clear()

    def _connection(self) -> Connection:
        conn = self._conn
        if conn is None or not conn.is_open:
            raise ConnectionLost("not connected to the switch")
        return conn

    # -- commands -------------------------------------------------------------------------------
    async def send(self, data: bytes, *, timeout: float | None = None) -> Frame:
        """Send pre-built command bytes (see :mod:`coreswitch.esl.command`) and await the reply."""
        return await self._connection().request(
            data, self.command_timeout if timeout is None else timeout)

    async def command(self, data: bytes, *, timeout: float | None = None) -> str:
        """Send a command answered by ``command/reply``; ``-ERR`` raises :class:`CommandError`."""
        return checked_reply(data, (await self.send(data, timeout=timeout)).reply_text)

    async def api(self, command: str, args: str = "", *, timeout: float | None = None,
                  check: bool = True) -> str:
        """Run an API command and return its output.

        Output starting with ``-ERR`` or ``-USAGE`` raises :class:`CommandError` unless
        ``check=False``.
        """
        frame = await self.send(cmd.api(command, args), timeout=timeout)
        text = frame.body.decode("utf-8", "replace")
        if check and text.startswith(_API_ERRORS):
            raise CommandError(f"api {command} {args}".strip(), text)
        return text

    async def bgapi(self, command: str, args: str = "", *, timeout: float | None = None,
                    check: bool = True) -> str:
        """Run an API command in the background; return the body of its ``BACKGROUND_JOB``."""
        job = new_uuid()
        fut: asyncio.Future[Event] = self.running_loop.create_future()
        self._jobs[job] = fut
        try:
            await self.command(cmd.bgapi(command, args, job), timeout=timeout)
            event = await asyncio.wait_for(
                fut, self.command_timeout if timeout is None else timeout)
        except TimeoutError:
            raise TimeoutError(f"bgapi {command}: no BACKGROUND_JOB within the timeout") from None
        finally:
            self._jobs.pop(job, None)
        text = event.body or ""
        if check and text.startswith(_API_ERRORS):
            raise CommandError(f"bgapi {command} {args}".strip(), text)
        return text

    async def execute(self, channel: str, app: str, arg: str = "", *,
                      timeout: float | None = None, event_lock: bool = False,
                      outbound: bool = False) -> Event:
        """Run a dialplan application on a channel; return its ``CHANNEL_EXECUTE_COMPLETE``.

        ``timeout`` bounds the whole run of the application (``None``: ``execute_timeout``).
        ``outbound`` omits the UUID from ``sendmsg`` (outbound mode's own channel). Raises
        :class:`ChannelGone` when the channel has hung up or been destroyed.
        """
        fut = await self.start_execute(channel, app, arg, event_lock=event_lock,
                                       outbound=outbound)
        return await self.completion(fut, channel, app, timeout)

    async def start_execute(self, channel: str, app: str, arg: str = "", *,
                            event_lock: bool = False,
                            outbound: bool = False) -> asyncio.Future[Event]:
        """Send an ``execute`` and, once the switch has accepted it, return the future of its
        ``CHANNEL_EXECUTE_COMPLETE`` (failed with :class:`ChannelGone` by the hangup, with
        :class:`ConnectionLost` when the link drops). Await it with :meth:`completion`, or
        cancel it; either way it is forgotten when done. What :meth:`execute` is made of; a
        caller that waits for something else meanwhile (a key during a prompt) needs no task.
        """
        started = await self.start_executes(channel, [(app, arg)], event_lock=event_lock,
                                            outbound=outbound)
        return started[0]

    async def start_executes(self, channel: str, apps: list[tuple[str, str]], *,
                             event_lock: bool = False,
                             outbound: bool = False) -> list[asyncio.Future[Event]]:
        """:meth:`start_execute` for several applications, sent in one write: the switch
        queues them on the channel and runs them in order. If the switch refuses one, every
        completion is cancelled and the refusal raised."""
        cmd.uuid(channel)
        first = apps[0][0]
        cause = self._hungup.get(channel)
        if cause is not None:  # hung up, not yet destroyed: the switch might still queue it
            raise ChannelGone(channel, cause, f"cannot execute {first}")
        event_uuids = [new_uuid() for _ in apps]
        # Every command is built (and its arguments checked) before anything is registered.
        data = [cmd.execute(None if outbound else channel, app, arg,
                            event_uuid=event_uuid, event_lock=event_lock)
                for (app, arg), event_uuid in zip(apps, event_uuids, strict=True)]
        loop = self.running_loop
        pending = self._executes.get(channel)
        if pending is None:
            pending = self._executes[channel] = {}
        started: list[tuple[str, asyncio.Future[Event]]] = []
        for event_uuid in event_uuids:
            fut: asyncio.Future[Event] = loop.create_future()
            pending[event_uuid] = fut
            started.append((event_uuid, fut))
        try:
            await self._replies_ok(data)
        except BaseException as exc:
            for event_uuid, fut in started:
                self._forget_execute(channel, event_uuid, fut)
            if isinstance(exc, TimeoutError):
                raise TimeoutError(f"no reply to sendmsg {first} on {channel}") from None
            if not isinstance(exc, CommandError):
                raise
            cause = await self._gone_cause(channel)
            if cause is None:
                raise
            raise ChannelGoneRefused(channel, cause, exc.command, exc.reply,
                                     f"cannot execute {first}") from None
        for event_uuid, fut in started:
            fut.add_done_callback(functools.partial(self._forget_execute, channel, event_uuid))
        return [fut for _, fut in started]

    async def _replies_ok(self, data: list[bytes]) -> None:
        """Send commands answered by ``command/reply`` in one write; the first ``-ERR`` raises
        :class:`CommandError`."""
        replies = self._connection().pipeline(data, self.command_timeout)
        try:
            for sent, reply in zip(data, replies, strict=True):
                checked_reply(sent, (await reply).reply_text)
        finally:
            settle(replies)

    async def completion(self, fut: asyncio.Future[Event], channel: str, app: str,
                         timeout: float | None = None) -> Event:
        """Wait for a started execute's completion (``timeout`` None: ``execute_timeout``);
        cancelled when the wait ends otherwise (timeout, cancellation)."""
        if timeout is None:
            timeout = self.execute_timeout
        try:
            if timeout is None:
                return await fut
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            raise TimeoutError(
                f"{app} on {channel}: no CHANNEL_EXECUTE_COMPLETE within {timeout:g} s (if "
                f"event filters are set, they must let this channel's events through)"
            ) from None
        finally:
            if not fut.done():
                fut.cancel()

    def _forget_execute(self, channel: str, event_uuid: str, fut: asyncio.Future[Event]) -> None:
        pending = self._executes.get(channel)
        if pending is not None and pending.get(event_uuid) is fut:
            del pending[event_uuid]
            if not pending:
                del self._executes[channel]
        if fut.done() and not fut.cancelled():
            fut.exception()  # failed by the hangup while refused: the caller has the news
        else:
            fut.cancel()

    async def _gone_cause(self, channel: str) -> str | None:
        """After a refused command: the channel's hangup cause if it has ended, else None.

        The switch's reply overtakes the events read before it (they still wait for the
        router), so a CHANNEL_DESTROY sent just before the refusal is routed first.
        """
        cause = self._hungup.get(channel) or self._gone.get(channel)
        if cause is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.dispatcher.routed(), self.command_timeout)
            cause = self._hungup.get(channel) or self._gone.get(channel)
        return cause

    async def hangup(self, channel: str, cause: str = "NORMAL_CLEARING", *,
                     outbound: bool = False) -> None:
        await self.command(cmd.hangup(None if outbound else channel, cause))

    # -- completions (router hook: quick, never blocks) ------------------------------------------
    def _complete(self, event: Event) -> None:
        name = event.headers.get("Event-Name")
        if name == EventName.BACKGROUND_JOB:
            fut = self._jobs.pop(event.headers.get("Job-UUID", ""), None)
            if fut is not None and not fut.done():
                fut.set_result(event)
        elif name == EventName.CHANNEL_EXECUTE_COMPLETE:
            channel = event.headers.get("Unique-ID", "")
            pending = self._executes.get(channel)
            if pending:
                efut = pending.pop(event.headers.get("Application-UUID", ""), None)
                if efut is not None and not efut.done():
                    efut.set_result(event)
        elif name == EventName.CHANNEL_HANGUP:
            channel = event.headers.get("Unique-ID", "")
            self._hungup[channel] = event.headers.get("Hangup-Cause", "UNKNOWN")
        elif name in (EventName.CHANNEL_HANGUP_COMPLETE, EventName.CHANNEL_DESTROY):
            channel = event.headers.get("Unique-ID", "")
            cause = event.headers.get("Hangup-Cause") or self._hungup.get(channel)
            self.channel_gone(channel, cause)
            if name == EventName.CHANNEL_DESTROY:
                self._hungup.pop(channel, None)
                self.remember_gone(channel, cause)
            else:
                self._hungup[channel] = cause or "UNKNOWN"

    def remember_gone(self, channel: str, cause: str | None) -> None:
        """Note a destroyed channel, so that a later ``execute`` on it raises ChannelGone."""
        gone = self._gone
        gone[channel] = cause or "UNKNOWN"
        if len(gone) > _GONE_MEMORY:
            del gone[next(iter(gone))]

    def channel_gone(self, channel: str, cause: str | None, detail: str = "") -> None:
        """Fail every execute still pending on ``channel``."""
        for fut in self._executes.pop(channel, {}).values():
            if not fut.done():
                fut.set_exception(ChannelGone(channel, cause, detail))

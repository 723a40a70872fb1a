"""One Event Socket connection as mod_event_socket serves it (inbound or outbound mode).

A :class:`Listener` parses commands with :class:`~.wire.CommandParser` and runs them one after
another (an ``api originate`` holds up the next command, as on a real switch, while events keep
flowing): a command that needs no waiting runs as soon as it is read, unless one that waits
(``api``) is still ahead of it; those go through a worker task, started when first needed. It
keeps the connection's subscription — format, event names, ``myevents`` channel, filters — and
writes each fired event that passes them. Every parsed command is appended to the switch's
command log, so tests can assert exactly what the switch understood.

Replies (texts from the captures and mod_event_socket.c)::

    auth          +OK accepted | -ERR invalid, disconnect notice, close
    event         +OK event listener enabled <fmt>
    myevents      +OK Events Enabled
    nixevent      +OK events nixed           noevents  +OK no longer listening for events
    filter        +OK filter added. [h]=[v]  filter delete  +OK filter deleted. [h]=[v]
    linger N      +OK will linger N seconds  nolinger  +OK will not linger
    log N         +OK log level N [N]        nolog     +OK no longer logging
    api           api/response               bgapi     +OK Job-UUID: <uuid> (+ Job-UUID header)
    sendmsg       +OK | -ERR invalid session id [<uuid>]
    exit          +OK bye, disconnect notice, close
    other         -ERR command not found
"""

from __future__ import annotations

import asyncio
import logging
import re
import uuid as uuidlib
from collections import deque
from collections.abc import Callable
from typing import cast

from coreswitch.esl.names import MYEVENTS, EventName
from coreswitch.switch.sim import api, wire
from coreswitch.switch.sim.channel import Channel, Message
from coreswitch.switch.sim.core import SwitchCore
from coreswitch.switch.sim.signals import Signal
from coreswitch.switch.sim.wire import Command, SimEvent

log = logging.getLogger("coreswitch.switch.sim")



class Listener(asyncio.Protocol):
    def __init__(self, core: SwitchCore, *, password: str, command_log: list[Command],
                 channel: Channel | None = None, reject: bool = False,
                 on_close: Callable[[Listener], None] | None = None) -> None:
        self.core = core
        self.password = password
        self.command_log = command_log
        self.commands: list[Command] = []
        self.channel = channel  # outbound mode: the channel this socket controls
        self.reject = reject
        self.on_close = on_close
        self.authed = channel is not None
        self.format = "plain"
        self.events: set[str] = set()
        self.all_events = False
        self.nixed: set[str] = set()  # events taken out of ALL by nixevent
        self.session_uuid: str | None = None
        self.filters: list[tuple[str, str]] = []
        self.linger = 0
        self.resume = False
        self.hangup_seen = False
        self._loop = asyncio.get_running_loop()
        self.closed = self._loop.create_future()
        self._out: list[bytes] = []  # written, not yet flushed to the transport
        self._parser = wire.CommandParser()
        self._queue: deque[Command] = deque()
        self._wake = Signal()
        self._transport: asyncio.Transport | None = None
        self._worker: asyncio.Task[None] | None = None
        self._lingering: asyncio.TimerHandle | None = None  # the linger's end, once hung up
        self._jobs: set[asyncio.Task[None]] = set()

    # -- transport ----------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses: the methods are what count
        self._transport = stream = cast(asyncio.Transport, transport)
        if self.reject:
            stream.write(wire.rude_rejection())
            stream.close()
            return
        if self.channel is None:
            stream.write(wire.auth_request())
        self.core.bus.listeners.add(self.deliver)

    def data_received(self, data: bytes) -> None:
        try:
            commands = self._parser.feed(data)
        except ValueError:
            self.abort()
            return
        queue = self._queue
        for command in commands:
            self.command_log.append(command)
            self.commands.append(command)
            if queue or (self.authed and command.verb == "api"):
                queue.append(command)  # waits, or must wait for one that does
            else:
                self._run(command)
        if queue:
            if self._worker is None:
                self._worker = self._loop.create_task(self._work(), name="sim-esl")
            self._wake.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self._out = []
        self.core.bus.listeners.discard(self.deliver)
        if self._lingering is not None:
            self._lingering.cancel()
            self._lingering = None
        if self._worker is not None:
            # Dropped: the cancelled task's traceback holds _work's frame, which holds this
            # listener — kept, the pair would wait for a full garbage collection.
            self._worker.cancel()
            self._worker = None
        if not self.closed.done():
            self.closed.set_result(None)
        if self.on_close is not None:
            self.on_close(self)

    @property
    def is_open(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    def write(self, data: bytes) -> None:
        """Queue ``data`` for the socket: what one turn of the event loop writes to a
        connection (replies, and the events of every channel that moved) goes out in one
        ``send`` at the start of the next turn (:meth:`flush`), in order."""
        transport = self._transport
        if transport is not None and not transport.is_closing():
            if not self._out:
                self._loop.call_soon(self.flush)
            self._out.append(data)

    def flush(self) -> None:
        """Write out everything queued by :meth:`write` now."""
        out = self._out
        if not out:
            return
        self._out = []
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(out[0] if len(out) == 1 else b"".join(out))

    def close(self) -> None:
        self.flush()
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        """Drop the connection without a goodbye (a crashed or killed switch); what was
        written before goes out first, as it would have left a real switch already."""
        self.flush()
        if self._transport is not None:
            self._transport.abort()

    def goodbye(self) -> None:
        self.write(wire.disconnect_notice(self.channel.uuid if self.channel else None))
        self.close()

    # -- events -------------------------------------------------------------------------------
    def deliver(self, event: SimEvent) -> None:
        if not self.authed or not self.is_open:
            return
        ch = self.channel
        if (ch is not None and not self.hangup_seen and event.name == EventName.CHANNEL_HANGUP
                and event.get("Unique-ID") == ch.uuid):
            self.hangup_seen = True
            if not self.linger:
                self.goodbye()
                return
            self.write(wire.linger_notice(ch.uuid, ch.name, self.linger))
            self._lingering = self._loop.call_later(self.core.clock.real(self.linger),
                                                    self._linger_over)
        if self.wants(event):
            self.write(event.frame(self.format))

    def may_want(self, name: str, uuid: str | None) -> bool:
        """Whether an event ``name`` of channel ``uuid`` could be written here (or end the
        session: the controlled channel's hangup) — :meth:`wants` without the filters, which
        need the event's headers."""
        if not self.authed or not self.is_open:
            return False
        ch = self.channel
        if ch is not None and not self.hangup_seen and name == EventName.CHANNEL_HANGUP \
                and uuid == ch.uuid:
            return True
        return self._subscribed(name, uuid)

    def wants(self, event: SimEvent) -> bool:
        if not self._subscribed(event.name, event.get("Unique-ID")):
            return False
        return not self.filters or _passes(self.filters, event)

    def _subscribed(self, name: str, uuid: str | None) -> bool:
        """The subscription (event names, ``myevents`` channel) takes event ``name`` of ``uuid``."""
        if not (name in self.events or (self.all_events and name not in self.nixed)):
            return False
        return self.session_uuid is None or uuid == self.session_uuid

    def _linger_over(self) -> None:
        self._lingering = None
        if self.is_open:
            self.goodbye()

    # -- commands -----------------------------------------------------------------------------
    async def _work(self) -> None:
        """Runs queued commands in order; an ``api`` holds up the ones behind it."""
        queue = self._queue
        while True:
            if not queue:
                self._wake.clear()
                await self._wake.wait()
                continue
            command = queue[0]
            try:
                if self.authed and command.verb == "api":
                    await self._cmd_api(command, command.rest)
                else:
                    self._run(command)
            except Exception:
                log.exception("simulated switch failed on %r", command.line)
                self.write(wire.command_reply("-ERR internal error"))
            finally:
                if queue and queue[0] is command:
                    queue.popleft()

    def _run(self, command: Command) -> None:
        try:
            self.handle(command)
        except Exception:
            log.exception("simulated switch failed on %r", command.line)
            self.write(wire.command_reply("-ERR internal error"))

    def reply(self, text: str, extra: dict[str, str] | None = None) -> None:
        self.write(wire.command_reply(text, extra))

    def handle(self, command: Command) -> None:
        """Run a command that needs no waiting (any but ``api``, see :meth:`_work`)."""
        verb, rest = command.verb, command.rest
        if not self.authed:
            if verb == "auth":
                if rest == self.password:
                    self.authed = True
                    self.reply("+OK accepted")
                else:
                    self.reply("-ERR invalid")
                    self.goodbye()
            else:
                self.reply("-ERR command not found")
            return
        handler = getattr(self, f"_cmd_{verb}", None)
        if handler is None:
            self.reply("-ERR command not found")
            return
        handler(command, rest)

    def _cmd_auth(self, command: Command, rest: str) -> None:
        self.reply("+OK accepted")

    def _cmd_connect(self, command: Command, rest: str) -> None:
        ch = self.channel
        if ch is None:
            self.reply("-ERR command not found")
            return
        core = self.core
        head = core.factory.make("CHANNEL_DATA").pairs
        pairs = head + list(ch.profile_headers("Channel").items())
        pairs += list(ch.channel_headers().items()) + list(ch.variable_headers().items())
        self.write(wire.connect_reply(dict(pairs)))

    def _cmd_event(self, command: Command, rest: str) -> None:
        words = rest.split()
        fmt = "plain"
        if words and words[0].lower() in ("plain", "json", "xml"):
            fmt = words.pop(0).lower()
        if fmt == "xml":
            self.reply("-ERR xml events are not supported by the simulated switch")
            return
        if not words:
            self.reply("-ERR no keywords supplied")
            return
        self.format = fmt
        custom = False
        for word in words:
            upper = word.upper()
            if upper == "CUSTOM":
                custom = True
            elif upper in ("ALL", "SWITCH_EVENT_ALL"):
                self.all_events = True
                self.nixed.clear()
            elif custom and not word.isupper():
                self.events.add(word)
            else:
                self.events.add(upper)
                self.nixed.discard(upper)
        self.reply(f"+OK event listener enabled {fmt}")

    def _cmd_myevents(self, command: Command, rest: str) -> None:
        words = rest.split()
        uuid = self.channel.uuid if self.channel else None
        if words and words[0].lower() not in ("plain", "json", "xml"):
            uuid = words.pop(0)
        if uuid is None:
            self.reply("-ERR missing uuid")
            return
        if words and words[0].lower() in ("plain", "json"):
            self.format = words[0].lower()
        self.session_uuid = uuid
        self.events |= MYEVENTS
        self.reply("+OK Events Enabled")

    def _cmd_nixevent(self, command: Command, rest: str) -> None:
        if not rest.split():
            self.reply("-ERR no keywords supplied")
            return
        for word in rest.split():
            upper = word.upper()
            if upper == "ALL":
                self.all_events = False
                self.events.clear()
                self.nixed.clear()
                continue
            self.events.discard(upper)
            self.events.discard(word)
            if self.all_events:
                self.nixed.add(upper)
        self.reply("+OK events nixed")

    def _cmd_noevents(self, command: Command, rest: str) -> None:
        if not (self.all_events or self.events):
            self.reply("-ERR not listening for events")
            return
        self.all_events = False
        self.events.clear()
        self.reply("+OK no longer listening for events")

    def _cmd_filter(self, command: Command, rest: str) -> None:
        name, _, value = rest.partition(" ")
        if name.lower() == "delete" and value:
            header, _, val = value.partition(" ")
            if header.lower() == "all":
                self.filters.clear()
            else:
                self.filters = [(h, v) for h, v in self.filters
                                if not (h.lower() == header.lower() and (not val or v == val))]
            self.reply(f"+OK filter deleted. [{header}]=[{val or '(null)'}]")
        elif value:
            self.filters.append((name, value))
            self.reply(f"+OK filter added. [{name}]=[{value}]")
        else:
            self.reply("-ERR invalid syntax")

    def _cmd_linger(self, command: Command, rest: str) -> None:
        seconds = int(rest) if rest.strip().isdigit() else 600
        self.linger = seconds
        self.reply(f"+OK will linger {seconds} seconds")

    def _cmd_nolinger(self, command: Command, rest: str) -> None:
        self.linger = 0
        self.reply("+OK will not linger")

    def _cmd_log(self, command: Command, rest: str) -> None:
        level = rest.strip() or "7"
        self.reply(f"+OK log level {level} [{level}]")

    def _cmd_nolog(self, command: Command, rest: str) -> None:
        self.reply("+OK no longer logging")

    def _cmd_resume(self, command: Command, rest: str) -> None:
        self.resume = True
        self.reply("+OK")

    def _cmd_divert_events(self, command: Command, rest: str) -> None:
        self.reply("+OK events diverted" if rest.strip() == "on" else "+OK events not diverted")

    def _cmd_exit(self, command: Command, rest: str) -> None:
        self.reply("+OK bye")
        self.goodbye()

    async def _cmd_api(self, command: Command, rest: str) -> None:
        cmd, _, args = rest.partition(" ")
        output = await api.run(self.core, cmd, args)
        self.write(wire.api_response(output))
        self._fire_api(cmd, args)

    def _fire_api(self, cmd: str, args: str) -> None:
        fields = {"API-Command": cmd}
        if args:
            fields["API-Command-Argument"] = args
        self.core.fire(EventName.API, None, fields)

    def _cmd_bgapi(self, command: Command, rest: str) -> None:
        cmd, _, args = rest.partition(" ")
        job = command.header("Job-UUID") or str(uuidlib.uuid4())
        self.reply(f"+OK Job-UUID: {job}", {"Job-UUID": job})
        self.core.spawn(self._job(job, cmd, args), f"sim-job-{job}")

    async def _job(self, job: str, cmd: str, args: str) -> None:
        output = await api.run(self.core, cmd, args)
        self._fire_api(cmd, args)
        fields = {"Job-UUID": job, "Job-Command": cmd}
        if args:
            fields["Job-Command-Arg"] = args
        self.core.fire(EventName.BACKGROUND_JOB, None, fields, body=output)

    def _cmd_sendmsg(self, command: Command, rest: str) -> None:
        uuid = rest.strip() or (self.channel.uuid if self.channel else "")
        ch = self.core.channels.get(uuid)
        if ch is None or not ch.controlled.is_set():  # FreeSWITCH also wants CF_CONTROLLED
            self.reply(f"-ERR invalid session id [{uuid}]")
            return
        lead = {"Command": command.line, **command.headers}
        body = command.body.decode("utf-8", "replace") if command.body else None
        action = command.header("call-command").lower()
        if action == "execute":
            arg = body if body is not None else command.header("execute-app-arg")
            loops = command.header("loops")
            # Queued first: a waiting control loop is woken before the reply's flush is
            # scheduled, so what the application fires at once (an answer's events) goes out
            # in the same write, after the reply.
            self.core.send(ch, Message(
                app=command.header("execute-app-name"), arg=arg,
                app_uuid=command.header("Event-UUID") or str(uuidlib.uuid4()),
                loops=int(loops) if loops.isdigit() else 1, lead=lead, body=body))
            self.reply("+OK")
            return
        self.reply("+OK")
        if action == "hangup" and self.core.hangup(
                ch, command.header("hangup-cause") or "NORMAL_CLEARING"):
            self.core.fire(EventName.PRIVATE_COMMAND, ch, lead=lead, body=body)


def _passes(filters: list[tuple[str, str]], event: SimEvent) -> bool:
    """FreeSWITCH's filter rule: send if any positive filter matches, unless a ``-`` one does."""
    send = False
    headers = event.event.headers
    lowered = {k.lower(): v for k, v in headers.items()}
    for name, raw in filters:
        value = lowered.get(name.lower())
        if value is None:
            continue
        positive = True
        comp = raw
        while comp and comp[0] in "+- ":
            if comp[0] == "+":
                positive = True
            elif comp[0] == "-":
                positive = False
            comp = comp[1:]
        if send and positive:
            continue
        if comp.startswith("/"):
            pattern = comp[1:-1] if comp.endswith("/") and len(comp) > 1 else comp[1:]
            matched = re.search(pattern, value) is not None
        else:
            matched = value.lower() == comp.lower()
        if matched:
            if not positive:
                return False
            send = True
    return send

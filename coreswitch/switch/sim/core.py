"""The switch core: live channels, their lifecycles and the events each step fires.

Every channel has one task (:meth:`SwitchCore.run_channel`) that runs its dialplan route and,
once it hangs up, the hangup → reporting → destroy sequence, so a channel's events come out in the
order FreeSWITCH fires them (captured sequences in ``shared/esl``)::

    CHANNEL_STATE CS_INIT, CHANNEL_CREATE, CHANNEL_CALLSTATE RINGING, CHANNEL_STATE CS_ROUTING,
    CHANNEL_STATE CS_EXECUTE, (CHANNEL_EXECUTE, app events, CHANNEL_EXECUTE_COMPLETE)*,
    CHANNEL_HANGUP, (the running app's EXECUTE_COMPLETE), CHANNEL_STATE CS_HANGUP,
    CHANNEL_CALLSTATE HANGUP, CHANNEL_STATE CS_REPORTING, CHANNEL_HANGUP_COMPLETE,
    CHANNEL_DESTROY, CHANNEL_STATE CS_DESTROY

Applications (:mod:`.apps`) run inside that task; ``sendmsg`` executes queue on the channel and
run one at a time from the control loop of ``park`` or ``socket``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import uuid as uuidlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from coreswitch.esl.names import EventName
from coreswitch.eventloop import OnOneLoop
from coreswitch.switch.sim.apps import run_app
from coreswitch.switch.sim.bridge import bridge_legs
from coreswitch.switch.sim.channel import (
    Q850,
    CallerProfile,
    CallState,
    Channel,
    ChannelState,
    Message,
)
from coreswitch.switch.sim.clock import SimClock
from coreswitch.switch.sim.dialstring import Endpoint
from coreswitch.switch.sim.events import EventBus, EventFactory, sets_routing
from coreswitch.switch.sim.expand import expand, needs_expansion
from coreswitch.switch.sim.signals import first_of
from coreswitch.switch.sim.wire import SimEvent

log = logging.getLogger("coreswitch.switch.sim")

#: A dialplan route: the applications an extension runs, in order.
Route = list[tuple[str, str]]


class Dial(Protocol):
    async def dial(self, endpoint: Endpoint, variables: dict[str, str], caller: Channel | None,
                   timeout: float, abort: asyncio.Event | None = None) -> Channel | str: ...


@dataclass
class MediaTiming:
    """How long media lasts, in switch seconds (scaled by the clock's ``speed``)."""

    default_file: float = 2.0
    files: dict[str, float] = field(default_factory=dict)
    tone: float = 0.6
    #: TTS speaking rate (characters per second) and the shortest utterance.
    tts_chars_per_second: float = 5.0
    tts_min: float = 0.5

    def file_seconds(self, path: str) -> float:
        if path in self.files:
            return self.files[path]
        if path.startswith("silence_stream://"):
            ms = path[len("silence_stream://"):].split(",", 1)[0]
            return int(ms) / 1000 if ms.lstrip("-").isdigit() and int(ms) >= 0 else 3600.0
        if path.startswith("tone_stream://"):
            return self.tone
        return self.default_file

    def speech_seconds(self, text: str) -> float:
        return max(self.tts_min, len(text) / self.tts_chars_per_second)


class SwitchCore(OnOneLoop):
    """Channels, their lifecycle, and firing their events."""

    def __init__(self, clock: SimClock, *, hostname: str = "sim",
                 media: MediaTiming | None = None) -> None:
        self.clock = clock
        self.core_uuid = str(uuidlib.uuid4())
        self.factory = EventFactory(clock, self.core_uuid, hostname=hostname)
        self.bus = EventBus()
        self.media = media or MediaTiming()
        self.channels: dict[str, Channel] = {}
        self.session_count = 0
        self.peak = 0
        self.tasks: set[asyncio.Task[Any]] = set()
        self.hostname = hostname
        self.dialplan: dict[str, Route] = {}
        self.default_route: Route = [("park", "")]
        #: Set by the facade: runs ``socket`` (connects to an outbound-socket server).
        self.socket_runner: Callable[[Channel, str], Awaitable[str]] | None = None
        #: Set by the facade: places outgoing legs (agents, loopback).
        self.dialer: Dial | None = None
        self.started_us = 0

    # -- events ---------------------------------------------------------------------------------
    def fire(self, name: str, channel: Channel | None = None,
             fields: Mapping[str, str] | None = None, **kw: object) -> SimEvent | None:
        """Build event ``name`` and hand it to the bus; None, with the event not built (only its
        sequence number taken), when no listener or observer could receive it."""
        lead = kw.get("lead")
        if not sets_routing(fields, lead):
            # routing needs no headers: skip an event nobody could receive
            carries = channel is not None and self.factory.carries_channel(name)
            if not self._heard(str(name), channel.uuid if channel and carries else None):
                return None
        body = kw.get("body")
        variables = kw.get("variables")
        event = self.factory.make(
            name, channel, fields,
            lead=lead if isinstance(lead, dict) else None,
            body=body if isinstance(body, str) else None,
            variables=variables if isinstance(variables, bool) else None)
        self.bus.fire(event)
        return event

    def _heard(self, name: str, uuid: str | None) -> bool:
        """Whether event ``name`` of channel ``uuid`` could reach anyone; if not, it counts as
        fired and takes its sequence number, but is not built."""
        if self.bus.interested(name, uuid):
            return True
        self.factory.skip()
        self.bus.fired += 1
        return False

    # -- channels -------------------------------------------------------------------------------
    def new_channel(
        self, *, direction: str, name: str, caller_id_name: str, caller_id_number: str,
        destination: str, variables: Mapping[str, str] | None = None,
        uuid: str | None = None, source: str = "mod_sofia", context: str = "default",
        callee_id_name: str = "", callee_id_number: str = "",
    ) -> Channel:
        self.session_count += 1
        ch = Channel(
            uuid=uuid or str(uuidlib.uuid4()), name=name, session_id=self.session_count,
            profile=CallerProfile(direction, caller_id_name, caller_id_number, destination,
                                  callee_id_name=callee_id_name,
                                  callee_id_number=callee_id_number,
                                  source=source, context=context),
            created_us=self.clock.now_us(), running_state=ChannelState.CS_NONE)
        ch.on_loop(self.running_loop)
        if name.startswith("loopback/"):
            ch.codec, ch.codec_bit_rate = "L16", "128000"
        ch.hit_dialplan = direction == "inbound"
        v = ch.variables
        codec = (("read_codec", ch.codec), ("read_rate", "8000"),
                 ("write_codec", ch.codec), ("write_rate", "8000"))
        base: tuple[tuple[str, str], ...]
        if direction == "outbound":  # as switch_ivr_originate sets up a leg
            base = (("direction", direction), ("is_outbound", "true"), ("uuid", ch.uuid),
                    ("call_uuid", ch.uuid), ("session_id", str(ch.session_id)), *codec,
                    ("channel_name", name))
        else:
            base = (("direction", direction), ("uuid", ch.uuid), ("call_uuid", ch.uuid),
                    ("session_id", str(ch.session_id)), ("channel_name", name), *codec)
        for key, value in base:
            v.set(key, value)
        for key, value in (variables or {}).items():
            v.set(key, value)
        self.channels[ch.uuid] = ch
        self.peak = max(self.peak, len(self.channels))
        return ch

    def spawn(self, coro: Awaitable[object], name: str) -> asyncio.Task[Any]:
        """Run ``coro`` as a task the switch keeps (and logs, if it fails)."""
        if not inspect.iscoroutine(coro):
            awaitable = coro

            async def wrap() -> object:
                return await awaitable
            coro = wrap()
        task = self.running_loop.create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("simulated switch task %s failed", task.get_name(),
                      exc_info=task.exception())

    def set_state(self, ch: Channel, state: ChannelState, *, run: bool = True) -> None:
        """Request ``state`` and (``run``) let the state machine run it: one CHANNEL_STATE."""
        ch.state = state
        if state == ChannelState.CS_EXECUTE:
            ch.hit_dialplan = True
            ch.variables.set("call_uuid", ch.uuid)
        if run:
            ch.running_state = state
            self.fire(EventName.CHANNEL_STATE, ch)

    def set_call_state(self, ch: Channel, state: CallState) -> None:
        original = ch.call_state
        ch.call_state = state
        self.fire(EventName.CHANNEL_CALLSTATE, ch, {"Original-Channel-Call-State": original.name,
                                            "Channel-Call-State-Number": str(int(state))})

    def announce_codecs(self, ch: Channel, name: str | None = None) -> None:
        """The two CODEC events of a new channel (read codec, then write codec), in their
        captured shapes — including FreeSWITCH's odd header names, and ``name`` (the dial
        string's channel name, before the loopback endpoint renames it)."""
        real_name, ch.name = ch.name, name or ch.name
        try:
            block = ch.channel_headers(include_profile=False)
        finally:
            ch.name = real_name
        codec, rate = ch.codec, ch.codec_bit_rate
        read_block = [(k, v) for k, v in block.items() if not k.startswith("Channel-Write-")]
        shapes = (
            ("switch_core_session_set_read_codec", "279", read_block,
             [("channel-read-codec-name", codec), ("channel-read-codec-rate", "8000"),
              ("channel-read-codec-bit-rate", rate)]),
            ("switch_core_session_set_write_codec", "450", list(block.items()),
             [("Channel-Write-Codec-Name", codec), ("Channel-Write-Codec-Rate", "8000"),
              ("Channel-Write-codec-bit-rate", rate)]),
        )
        for function, line, channel_pairs, extra in shapes:
            if not self._heard("CODEC", ch.uuid):
                continue
            head = [(k, function if k == "Event-Calling-Function" else
                     line if k == "Event-Calling-Line-Number" else v)
                    for k, v in self.factory.make("CODEC").pairs]
            self.bus.fire(SimEvent(head + channel_pairs + extra))

    def announce_inbound(self, ch: Channel) -> None:
        """An inbound call arrives and is routed (the captured B-leg sequence)."""
        self.announce_codecs(ch)
        self.set_state(ch, ChannelState.CS_INIT)
        ch.state = ChannelState.CS_ROUTING
        self.fire(EventName.CHANNEL_CREATE, ch)
        ch.running_state = ChannelState.CS_ROUTING
        self.set_call_state(ch, CallState.RINGING)
        self.fire(EventName.CHANNEL_STATE, ch)
        self.set_state(ch, ChannelState.CS_EXECUTE)

    def announce_outgoing(self, ch: Channel, dial_name: str | None = None) -> None:
        """An originated leg is created (the captured A-leg sequence, before it rings)."""
        self.announce_codecs(ch, dial_name)
        ch.state = ChannelState.CS_INIT
        self.fire(EventName.CHANNEL_OUTGOING, ch)
        ch.running_state = ChannelState.CS_INIT
        self.fire(EventName.CHANNEL_STATE, ch)
        ch.state = ChannelState.CS_ROUTING
        self.fire(EventName.CHANNEL_CREATE, ch)
        self.fire(EventName.CHANNEL_ORIGINATE, ch)
        ch.running_state = ChannelState.CS_ROUTING
        self.fire(EventName.CHANNEL_STATE, ch)
        self.set_state(ch, ChannelState.CS_CONSUME_MEDIA)

    def flip_cid(self, ch: Channel) -> None:
        """An originated leg that answered swaps caller and callee (``CALL_UPDATE``)."""
        p, v = ch.profile, ch.variables
        v.set("endpoint_disposition", "ANSWER")
        v.set("pre_transfer_caller_id_name", p.caller_id_name)
        v.set("pre_transfer_caller_id_number", p.caller_id_number)
        v.set("channel_cid_flipped", "yes")
        ch.orig_caller_id_name = ch.orig_caller_id_name or p.caller_id_name
        ch.orig_caller_id_number = ch.orig_caller_id_number or p.caller_id_number
        p.caller_id_name, p.callee_id_name = p.callee_id_name, p.caller_id_name
        p.caller_id_number, p.callee_id_number = p.callee_id_number, p.caller_id_number
        ch.hit_dialplan = True
        self.fire(EventName.CALL_UPDATE, ch, {"Direction": "RECV"})

    def ring(self, ch: Channel) -> None:
        ch.progress_us = self.clock.now_us()
        self.fire(EventName.CHANNEL_PROGRESS, ch)
        self.set_call_state(ch, CallState.RINGING)

    def answer(self, ch: Channel) -> bool:
        if not ch.up():
            return False
        if ch.answer_state == "answered":
            return True
        other = ch.other_leg
        if other is not None and ch.variables.get("loopback_leg") == "B":
            self.answer(other)  # mod_loopback answers the A leg first
        ch.answered_us = self.clock.now_us()
        ch.answer_state = "answered"
        ch.answered.set()
        self.fire(EventName.CHANNEL_ANSWER, ch)
        self.set_call_state(ch, CallState.ACTIVE)
        return True

    def hangup(self, ch: Channel, cause: str = "NORMAL_CLEARING") -> bool:
        """Hang up now: fires CHANNEL_HANGUP; the channel's task does the rest."""
        if not ch.up():
            return False
        ch.hangup_cause = cause
        ch.state = ChannelState.CS_HANGUP
        ch.answer_state = "hangup"
        self.fire(EventName.CHANNEL_HANGUP, ch)
        ch.hungup.set()
        ch.poke()
        ch.break_media.set()
        return True

    def dtmf(self, ch: Channel, digits: str, source: str = "APP", duration: int = 2000) -> None:
        for digit in digits:
            if digit in "wW":
                continue
            ch.add_dtmf(digit)
            self.fire(EventName.DTMF, ch, {"DTMF-Digit": digit, "DTMF-Duration": str(duration),
                                   "DTMF-Source": source})

    def send(self, ch: Channel, message: Message) -> None:
        ch.inbox.append(message)
        ch.poke()

    # -- a channel's life -----------------------------------------------------------------------
    async def run_leg(self, ch: Channel) -> None:
        """An originated leg: wait to be given a route (or to be bridged), then live it."""
        while ch.up() and ch.pending_route is None:
            ch.wakeup.clear()
            await ch.wakeup.wait()
        if ch.up() and ch.pending_route is not None:
            route, ch.pending_route = ch.pending_route, None
            self.set_state(ch, ChannelState.CS_EXECUTE)
            await self.run_channel(ch, route)
        else:
            await self.finish(ch)

    async def run_channel(self, ch: Channel, route: Route) -> None:
        try:
            while ch.up():
                await self.run_route(ch, route)
                other = ch.bridge_request
                if other is not None and ch.up():
                    ch.bridge_request = None
                    if ch.bridge_driver:
                        ch.bridge_driver = False
                        await bridge_legs(self, ch, other)
                        if ch.up():
                            self.hangup(ch, "NORMAL_CLEARING")
                    else:
                        await ch.hungup.wait()
                    break
                target = ch.transfer_to
                if target is None or not ch.up():
                    break
                ch.transfer_to = None
                route = self.route_for(target[0])
                ch.profile.destination_number = target[0]
                ch.transfer_us = self.clock.now_us()
                self.set_state(ch, ChannelState.CS_ROUTING)
                self.set_state(ch, ChannelState.CS_EXECUTE)
            if ch.up():
                self.hangup(ch, "NORMAL_CLEARING")
            await ch.hungup.wait()
        finally:
            await self.finish(ch)

    def route_for(self, extension: str) -> Route:
        return list(self.dialplan.get(extension, self.default_route))

    async def run_route(self, ch: Channel, route: Route) -> None:
        for app, arg in route:
            if not ch.up() or ch.transfer_to is not None:
                return
            await self.execute(ch, Message(app, arg, str(uuidlib.uuid4())), from_dialplan=True)

    async def control_loop(self, ch: Channel, *, socket: bool = False) -> str:
        """Run queued ``sendmsg`` executes until hangup, transfer or bridge (park, socket).

        Between applications the channel is parked, and FreeSWITCH's park loop reads (and
        drops) every key pressed meanwhile: a key pressed between two prompts never stops the
        second one."""
        ch.controlled.set()
        try:
            while (ch.up() and ch.transfer_to is None and ch.bridge_request is None
                   and not (socket and ch.socket_done)):
                if ch.inbox:
                    await self.execute(ch, ch.inbox.popleft())
                    continue
                ch.drop_dtmf()
                ch.wakeup.clear()
                await ch.wakeup.wait()
                ch.drop_dtmf()  # pressed while parked
        finally:
            ch.controlled.clear()
        return "_none_"

    async def settled(self, ch: Channel, route: Route) -> None:
        """Wait until a channel whose route parks (or runs ``socket``) is under control, or gone:
        what a controller may rely on before its first ``sendmsg``."""
        if not any(app in ("park", "socket") for app, _ in route):
            return
        await first_of((ch.controlled, ch.hungup))

    async def expand(self, ch: Channel, text: str) -> str:
        """``text`` with ``${...}`` expanded as FreeSWITCH does (:mod:`.expand`)."""
        if not needs_expansion(text):
            return text
        from coreswitch.switch.sim import api  # noqa: PLC0415 - api imports this module

        async def run_api(command: str, args: str) -> str:
            return await api.run(self, command, args)

        return await expand(text, ch.variables.get, run_api)

    async def execute(self, ch: Channel, msg: Message, *, from_dialplan: bool = False) -> None:
        """Run one application; its argument is expanded first, as FreeSWITCH's
        ``switch_core_session_execute_application`` does."""
        if needs_expansion(msg.arg):
            msg = replace(msg, arg=await self.expand(ch, msg.arg))
        v = ch.variables
        v.set("current_application_response", None)
        if not from_dialplan:
            v.set("current_loop", "1")
            v.set("total_loops", str(msg.loops))
        v.set("current_application", msg.app)
        v.set("current_application_data", msg.arg)
        ch.application, ch.application_data = msg.app, msg.arg
        fields = {"Application": msg.app}
        if msg.arg:
            fields["Application-Data"] = msg.arg
        fields["Application-UUID"] = msg.app_uuid
        self.fire(EventName.CHANNEL_EXECUTE, ch, fields)
        v.set("current_application", msg.app)
        try:
            response = await run_app(self, ch, msg.app, msg.arg)
        except Exception:
            log.exception("simulated application %s failed", msg.app)
            response = "-ERR"
        fields = {"Application": msg.app}
        if msg.arg:
            fields["Application-Data"] = msg.arg
        fields["Application-Response"] = response or "_none_"
        fields["Application-UUID"] = msg.app_uuid
        self.fire(EventName.CHANNEL_EXECUTE_COMPLETE, ch, fields)
        if not from_dialplan:
            v.set("current_loop", None)
            v.set("total_loops", None)
        if msg.lead:
            self.fire(EventName.PRIVATE_COMMAND, ch, lead=msg.lead, body=msg.body)

    async def finish(self, ch: Channel) -> None:
        """CS_HANGUP → CS_REPORTING → CS_DESTROY, holding for an outbound socket's linger."""
        if ch.up():
            self.hangup(ch, "NORMAL_CLEARING")
        self.set_state(ch, ChannelState.CS_HANGUP)
        ch.hangup_us = self.clock.now_us()
        self.set_call_state(ch, CallState.HANGUP)
        self._hangup_variables(ch)
        self.set_state(ch, ChannelState.CS_REPORTING)
        self.fire(EventName.CHANNEL_HANGUP_COMPLETE, ch, {"Hangup-Cause": ch.hangup_cause or ""})
        if ch.holds:
            await ch.released.wait()
        ch.state = ChannelState.CS_DESTROY
        self.fire(EventName.CHANNEL_DESTROY, ch)
        ch.running_state = ChannelState.CS_DESTROY
        self.fire(EventName.CHANNEL_STATE, ch)
        self.channels.pop(ch.uuid, None)
        ch.destroyed.set()

    def hold(self, ch: Channel) -> None:
        ch.holds += 1

    def release(self, ch: Channel) -> None:
        ch.holds = max(0, ch.holds - 1)
        if not ch.holds:
            ch.released.set()

    def _hangup_variables(self, ch: Channel) -> None:
        v = ch.variables
        cause = ch.hangup_cause or "NORMAL_CLEARING"
        start, answer, end = ch.created_us, ch.answered_us, ch.hangup_us
        bill = end - answer if answer else 0
        dur = end - start
        v.set("hangup_cause", cause)
        v.set("hangup_cause_q850", str(Q850.get(cause, 16)))
        v.set("digits_dialed", ch.digits_dialed or "none")
        v.set("start_stamp", SimClock.local(start))
        v.set("profile_start_stamp", SimClock.local(start))
        if answer:
            v.set("answer_stamp", SimClock.local(answer))
        v.set("end_stamp", SimClock.local(end))
        for key, us in (("start", start), ("profile_start", start), ("answer", answer),
                        ("bridge", ch.bridged_us), ("last_hold", 0)):
            v.set(f"{key}_epoch", str(us // 1_000_000))
            v.set(f"{key}_uepoch", str(us))
        v.set("hold_accum_seconds", "0")
        v.set("hold_accum_usec", "0")
        v.set("hold_accum_ms", "0")
        for key, us in (("resurrect", 0), ("progress", ch.progress_us),
                        ("progress_media", ch.progress_media_us), ("end", end)):
            v.set(f"{key}_epoch", str(us // 1_000_000))
            v.set(f"{key}_uepoch", str(us))
        v.set("last_app", ch.application)
        v.set("last_arg", ch.application_data)
        p = ch.profile
        v.set("caller_id", f'"{p.caller_id_name}" <{p.caller_id_number}>'
              if p.caller_id_name else p.caller_id_number)
        progress = ch.progress_us - start if ch.progress_us else 0
        wait = answer - start if answer else 0
        for unit, div in (("sec", 1_000_000), ("msec", 1000), ("usec", 1)):
            prefix = {"sec": "", "msec": "m", "usec": "u"}[unit]
            v.set("duration" if unit == "sec" else f"{prefix}duration", str(dur // div))
            v.set(f"bill{unit}", str(bill // div))
            v.set(f"progress{unit}", str(progress // div))
            v.set(f"answer{unit}", str(wait // div))
            v.set(f"wait{unit}", str(wait // div))
            v.set(f"progress_media{unit}", str(0))
            v.set(f"flow_bill{unit}", str(bill // div))
        if ch.name.startswith("loopback/"):
            v.set("is_loopback", "1")

    # -- shutdown -------------------------------------------------------------------------------
    async def hupall(self, cause: str = "MANAGER_REQUEST") -> int:
        count = 0
        for ch in list(self.channels.values()):
            if self.hangup(ch, cause):
                count += 1
        return count

    async def close(self) -> None:
        await self.hupall("SYSTEM_SHUTDOWN")
        for ch in list(self.channels.values()):
            ch.released.set()
        tasks = list(self.tasks)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=2.0)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

"""``SimSwitch``: the simulated FreeSWITCH, in-process or as its own process.

::

    sw = SimSwitch(port=0, speed=50)            # port 0: an ephemeral port, see sw.port
    await sw.start()
    sw.add_agent("1001", answer_after=2)        # user/1001 answers after 2 switch seconds
    call = await sw.place_call("13800000000", "95598", socket=("127.0.0.1", 8084),
                               caller=[Press("1", on_prompt=1)])
    await call.hungup()                         # no sleeps: await what the switch does
    await sw.kill()                             # abrupt: every ESL socket dropped
    await sw.start()                            # listening again on the same port
    await sw.stop()
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence

from coreswitch.esl.names import EventName
from coreswitch.switch.sim import caller as caller_mod
from coreswitch.switch.sim.agents import Agent, Dialer
from coreswitch.switch.sim.channel import Channel, Variables
from coreswitch.switch.sim.clock import SimClock
from coreswitch.switch.sim.core import MediaTiming, Route, SwitchCore
from coreswitch.switch.sim.listener import Listener
from coreswitch.switch.sim.outbound import MEMORY, ProtocolFactory, run_socket
from coreswitch.switch.sim.server import EslServer
from coreswitch.switch.sim.signals import first_of
from coreswitch.switch.sim.wire import Command, SimEvent


def fire_heartbeat(core: SwitchCore) -> None:
    up_us = core.clock.now_us() - core.started_us
    secs = up_us // 1_000_000
    days, rem = divmod(secs, 86400)
    hours, rem = divmod(rem, 3600)
    mins, secs = divmod(rem, 60)
    live = str(len(core.channels))
    core.fire(EventName.HEARTBEAT, None, {
        "Event-Info": "System Ready",
        "Up-Time": f"0 years, {days} days, {hours} hours, {mins} minutes, {secs} seconds, "
                   f"{up_us // 1000 % 1000} milliseconds, {up_us % 1000} microseconds",
        "FreeSWITCH-Version": "1.10.12-release~64bit", "Uptime-msec": str(up_us // 1000),
        "Session-Count": live, "Max-Sessions": "1000", "Session-Per-Sec": "30",
        "Session-Per-Sec-Last": "0", "Session-Per-Sec-Max": "0",
        "Session-Per-Sec-FiveMin": "0", "Session-Since-Startup": str(core.session_count),
        "Session-Peak-Max": str(core.peak), "Session-Peak-FiveMin": str(core.peak),
        "Idle-CPU": "100.000000"})


class Call:
    """A call placed into the switch: its channel, its events, and the caller's side."""

    def __init__(self, switch: SimSwitch, channel: Channel) -> None:
        self.switch = switch
        self.channel = channel
        self.events: list[SimEvent] = []
        self._stop = switch.core.bus.observe(self._record)

    def _record(self, event: SimEvent) -> None:
        if event.get("Unique-ID") == self.channel.uuid:
            self.events.append(event)
            if event.name == EventName.CHANNEL_STATE and event.get("Channel-State") == "CS_DESTROY":
                self._stop()

    @property
    def uuid(self) -> str:
        return self.channel.uuid

    @property
    def variables(self) -> Variables:
        return self.channel.variables

    @property
    def event_names(self) -> list[str]:
        return [e.name for e in self.events]

    @property
    def hangup_cause(self) -> str | None:
        return self.channel.hangup_cause

    async def hungup(self) -> str:
        """Wait for the hangup; returns its cause."""
        await self.channel.hungup.wait()
        return self.channel.hangup_cause or ""

    async def ended(self) -> None:
        """Wait until the channel is destroyed (after any outbound-socket linger)."""
        await self.channel.destroyed.wait()

    async def answered(self) -> None:
        await self.channel.answered.wait()

    @property
    def prompts(self) -> list[str]:
        """What the caller heard so far: file paths, and ``say:<text>`` for speech."""
        return list(self.channel.prompts)

    async def prompt(self, number: int | None = None) -> str:
        """Wait until prompt ``number`` (1-based; default: the next one) has started; return
        it, or ``""`` if the call ends first."""
        ch = self.channel
        target = ch.prompts_started + 1 if number is None else number
        while ch.prompts_started < target and ch.up():
            await first_of((ch.prompt_signal, ch.hungup))
        return ch.prompts[target - 1] if ch.prompts_started >= target else ""

    def press(self, digits: str) -> None:
        self.switch.core.dtmf(self.channel, digits, source="RTP")

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        self.switch.core.hangup(self.channel, cause)


class SimSwitch:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8021,
        password: str = "ClueCon",
        *,
        speed: float = 1.0,
        media: MediaTiming | None = None,
        hostname: str = "sim",
        dialplan: Mapping[str, Route] | None = None,
        default_route: Route | None = None,
        heartbeat: float | None = None,
        epoch: float | None = None,
        clock_source: Callable[[], float] | None = None,
    ) -> None:
        self.clock = SimClock(speed, epoch, source=clock_source)
        self.core = SwitchCore(self.clock, hostname=hostname, media=media)
        #: Every command the switch parsed, on any connection, in order.
        self.commands: list[Command] = []
        self.server = EslServer(self.core, host, port, password=password,
                                command_log=self.commands)
        self.dialer = Dialer(self.core)
        self.core.dialer = self.dialer
        self.core.socket_runner = self._socket
        if dialplan:
            self.core.dialplan.update({k: list(v) for k, v in dialplan.items()})
        if default_route is not None:
            self.core.default_route = list(default_route)
        self.calls: list[Call] = []
        #: Open outbound-socket connections (one per call in ``socket`` mode).
        self.outbound_sockets: set[Listener] = set()
        #: In-memory outbound-socket targets by name (``socket memory:<name>``).
        self.memory_sockets: dict[str, ProtocolFactory] = {}
        self.heartbeat = heartbeat
        self._heartbeat: asyncio.Task[None] | None = None

    async def _socket(self, ch: Channel, arg: str) -> str:
        return await run_socket(self.core, ch, arg, self.commands,
                                sockets=self.outbound_sockets, memory=self.memory_sockets)

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def password(self) -> str:
        return self.server.password

    async def start(self) -> None:
        """Listen for inbound ESL connections (again, on the same port, after ``kill``)."""
        if not self.core.started_us:
            self.core.started_us = self.clock.now_us()
        await self.server.start()
        if self.heartbeat and self._heartbeat is None:
            self._heartbeat = self.core.spawn(self._beat(self.heartbeat), "sim-heartbeat")

    async def _beat(self, every: float) -> None:
        """``HEARTBEAT`` every ``every`` switch seconds, as FreeSWITCH sends every 20 s."""
        while True:
            await self.clock.sleep(every)
            fire_heartbeat(self.core)

    async def stop(self) -> None:
        """Hang up every call, say goodbye to every connection, stop listening."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None
        for listener in list(self.outbound_sockets):
            listener.goodbye()
        await self.core.close()
        await self.server.stop()

    async def kill(self, *, outbound: bool = False) -> None:
        """Drop every inbound ESL connection abruptly and stop listening; calls stay up.

        ``outbound=True`` drops the outbound-socket connections too (their calls then go on
        with the dialplan after ``socket``, which in the simulator ends the call).
        """
        await self.server.kill()
        if outbound:
            for listener in list(self.outbound_sockets):
                listener.abort()

    async def restart(self) -> None:
        """``kill`` then listen again on the same port."""
        await self.kill()
        await self.start()

    async def __aenter__(self) -> SimSwitch:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- configuration --------------------------------------------------------------------------
    def add_agent(self, extension: str, *, answer_after: float | None = 1.0, busy: bool = False,
                  talk_time: float | None = None, reject_cause: str | None = None) -> Agent:
        """A virtual phone reachable as ``user/<extension>`` or ``sofia/<profile>/<ext>@…``."""
        return self.dialer.add(Agent(extension, answer_after, busy, talk_time, reject_cause))

    def attach_socket(self, name: str, factory: ProtocolFactory) -> str:
        """Serve ``socket`` to an in-process protocol factory over an in-memory transport
        (:mod:`coreswitch.esl.memory`), e.g. an ``OutboundServer``'s accept factory; returns the
        address to use (``memory:<name>``) in ``place_call(socket=...)`` or a route. With no
        sockets at all, the switch runs on a virtual-time loop deterministically."""
        self.memory_sockets[name] = factory
        return f"{MEMORY}{name}"

    def route(self, extension: str, *actions: tuple[str, str]) -> None:
        """Set the dialplan of an extension: ``route("95598", ("answer", ""), ("park", ""))``."""
        self.core.dialplan[extension] = list(actions)

    # -- calls ----------------------------------------------------------------------------------
    async def place_call(
        self,
        ani: str = "13800000000",
        dnis: str = "95598",
        *,
        socket: str | tuple[str, int] | None = None,
        route: Route | None = None,
        caller: Sequence[caller_mod.Step] | str | None = None,
        caller_id_name: str = "",
        variables: Mapping[str, str] | None = None,
    ) -> Call:
        """A call arrives from ``ani`` for ``dnis``.

        ``socket`` (``"host:port"`` or a tuple) routes it as ``socket <addr> async full``;
        ``route`` gives the dialplan actions; otherwise the dialplan of ``dnis`` (default:
        ``park``, for an inbound-mode controller). ``caller`` is the caller's script.
        A route that parks or runs ``socket`` returns once the channel is under control (so a
        ``sendmsg`` right after is accepted, as it would be after ``CHANNEL_PARK``).
        """
        if socket is not None:
            addr = socket if isinstance(socket, str) else f"{socket[0]}:{socket[1]}"
            actions: Route = [("socket", f"{addr} async full")]
        elif route is not None:
            actions = list(route)
        else:
            actions = self.core.route_for(dnis)
        core = self.core
        ch = core.new_channel(
            direction="inbound", name=f"sofia/internal/{ani}@{core.hostname}",
            caller_id_name=caller_id_name, caller_id_number=ani, destination=dnis,
            variables=variables)
        call = Call(self, ch)
        self.calls.append(call)
        core.announce_inbound(ch)
        core.spawn(core.run_channel(ch, actions), f"sim-call-{ch.uuid}")
        steps = caller_mod.parse(caller) if isinstance(caller, str) else list(caller or [])
        if steps:
            core.spawn(caller_mod.run(core, ch, steps), f"sim-caller-{ch.uuid}")
        await core.settled(ch, actions)
        return call

    # -- observing ------------------------------------------------------------------------------
    @property
    def channels(self) -> dict[str, Channel]:
        return self.core.channels

    def observe(self, observer: Callable[[SimEvent], None]) -> Callable[[], None]:
        return self.core.bus.observe(observer)

    def wait_for(self, name: str, uuid: str | None = None,
                 where: Callable[[SimEvent], bool] | None = None) -> asyncio.Future[SimEvent]:
        """A future for the next matching event: create it before causing the event."""
        return self.core.bus.wait_for(name, uuid, where)

    def command_lines(self) -> list[str]:
        """The first line of every command parsed so far (``auth`` passwords masked)."""
        return ["auth ****" if c.verb == "auth" else c.line for c in self.commands]

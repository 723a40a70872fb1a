"""The load side of ``coreswitch bench calls`` / ``bench reload``: a simulated FreeSWITCH in its
own process that places scripted calls at a fixed rate and times what the controller does.

Run by the orchestrator (``bench_calls.py``, ``bench_reload.py``), not by hand. It listens for
the controller's inbound ESL connection like ``coreswitch sim``, prints ``{"event": "ready"}`` once
that client has subscribed, then reads phases as JSON lines on stdin and answers each with one JSON
line on stdout:

* ``{"cmd": "place", "calls": N, "rate": R, "script": "...", "hold_prompt": K}`` — place N calls,
  call *i* due at ``t0 + i/R`` (never waiting for the previous one), each routed by
  ``socket <addr> async full`` to the controller's outbound socket and played by the caller
  script. Without ``hold_prompt`` it answers once every call has ended; with it, the K-th media
  file of every call is made to last ``hold_seconds`` and it answers once every call is in it
  (``held``) or has ended — the calls stay up.
* ``{"cmd": "hangup"}`` — every live call's caller hangs up; answers when all are destroyed.
* ``{"cmd": "exit"}``.

What is measured, all on this process's ``time.perf_counter()``:

* **DTMF → next media command**: when the switch has written a DTMF event to the call's socket
  (timestamped in ``TimedListener.flush``; the completion of the prompt the key stopped goes in
  the same write) until the next ``sendmsg`` that executes a media application (``playback``,
  ``speak``, ``play_and_get_digits``, ``read``, ``record``) is read from that socket
  (timestamped in ``data_received``, before the switch runs it). The controller's whole reaction
  is inside: decoding the events, the flow's turn, a ``uuid_break`` round trip if it needed one,
  the next command.
* **setup**: channel created (the ``socket`` application starts connecting) → the first media
  command of the call.

Two things keep the simulator itself from being the bottleneck at thousands of calls (FreeSWITCH
does both in C): events go only to listeners bound to their channel plus the unbound ones (the
stock ``EventBus`` offers each event to every connection: O(calls) per event), and calls are
placed without :class:`~coreswitch.switch.sim.Call` objects (each observes every event) or the
global command log. With no observer, an event no connection subscribes to is not built at all
(:meth:`IndexedBus.interested`). The cyclic garbage collector does not run during a phase (its
pauses would be inside the figures — the simulator's, not serve's): start-up objects are frozen
and the collector runs once after each phase.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from coreswitch import eventloop
from coreswitch.switch.sim import caller as caller_mod
from coreswitch.switch.sim import outbound as outbound_mod
from coreswitch.switch.sim.channel import Channel
from coreswitch.switch.sim.core import MediaTiming
from coreswitch.switch.sim.events import EventBus
from coreswitch.switch.sim.listener import Listener
from coreswitch.switch.sim.switch import SimSwitch
from coreswitch.switch.sim.wire import Command, SimEvent

MEDIA_APPS = frozenset({"playback", "speak", "play_and_get_digits", "read", "record"})
now = time.perf_counter


@dataclass
class Track:
    """One placed call, as the switch saw it."""

    uuid: str
    placed: float
    media: int = 0
    first_media: float = 0.0
    dtmf_at: float = 0.0  # the last DTMF not yet followed by a media command
    dtmf_pending: bool = False  # a key pressed, its DTMF event not yet written
    held: float = 0.0
    in_flow: bool = False  # counted in State.in_flow
    caller_hung_up: bool = False  # the caller's script ended the call itself
    script_ok: bool = True  # every step found the call up
    ended: float = 0.0
    cause: str = ""
    prompts: list[str] = field(default_factory=list)


class State:
    def __init__(self) -> None:
        self.tracks: dict[str, Track] = {}
        self.latencies: list[float] = []
        self.hold_prompt: int | None = None
        self.held = 0
        self.in_flow = 0  # calls up whose first media command has arrived
        self.peak_in_flow = 0
        self.subscribed = asyncio.Event()
        self.changed = asyncio.Event()  # a call ended or reached its hold prompt

    async def until(self, condition: Callable[[], bool], deadline: float) -> None:
        while not condition() and now() < deadline:
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(1.0, deadline - now()))


STATE: State


#: A listener's ``may_want(name, uuid)``.
Probe = Callable[[str, "str | None"], bool]


class _Index(set[Callable[[SimEvent], None]]):
    """``EventBus.listeners`` indexed by the channel an outbound listener controls, each with
    its ``may_want`` probe (looked up once, not per event)."""

    def __init__(self) -> None:
        super().__init__()
        self.bound: dict[str, tuple[Callable[[SimEvent], None], Probe | None]] = {}
        self.unbound: dict[Callable[[SimEvent], None], Probe | None] = {}

    def add(self, deliver: Callable[[SimEvent], None]) -> None:
        super().add(deliver)
        owner = getattr(deliver, "__self__", None)
        channel = getattr(owner, "channel", None)
        probe = getattr(owner, "may_want", None)
        if channel is not None:
            self.bound[channel.uuid] = (deliver, probe)
        else:
            self.unbound[deliver] = probe

    def discard(self, deliver: Callable[[SimEvent], None]) -> None:
        super().discard(deliver)
        channel = getattr(getattr(deliver, "__self__", None), "channel", None)
        if channel is not None:
            entry = self.bound.get(channel.uuid)
            if entry is not None and entry[0] == deliver:
                del self.bound[channel.uuid]
        self.unbound.pop(deliver, None)


class IndexedBus(EventBus):
    def __init__(self) -> None:
        super().__init__()
        self.listeners = self.index = _Index()

    def fire(self, event: SimEvent) -> None:
        self.fired += 1
        index = self.index
        if index.unbound:
            for deliver in list(index.unbound):
                deliver(event)
        entry = index.bound.get(event.get("Unique-ID"))
        if entry is not None:
            entry[0](event)
        if self._observers:
            for observer in list(self._observers):
                observer(event)

    def interested(self, name: str, uuid: str | None) -> bool:
        if self._observers:
            return True
        index = self.index
        for probe in index.unbound.values():
            if probe is None or probe(name, uuid):
                return True
        entry = index.bound.get(uuid) if uuid else None
        return entry is not None and (entry[1] is None or entry[1](name, uuid))


class TimedListener(Listener):
    """An outbound-socket connection that timestamps the media commands it reads."""

    def data_received(self, data: bytes) -> None:
        t = now()
        before = len(self.commands)
        super().data_received(data)
        ch = self.channel
        track = STATE.tracks.get(ch.uuid) if ch is not None else None
        if track is None:
            return
        for command in self.commands[before:]:
            if command.verb != "sendmsg" or command.header("call-command").lower() != "execute":
                continue
            if command.header("execute-app-name") not in MEDIA_APPS:
                continue
            track.media += 1
            if track.media == 1:
                track.first_media = t
                if ch is not None and ch.up():
                    track.in_flow = True
                    STATE.in_flow += 1
                    STATE.peak_in_flow = max(STATE.peak_in_flow, STATE.in_flow)
            if track.dtmf_at:
                STATE.latencies.append(t - track.dtmf_at)
                track.dtmf_at = 0.0
            if STATE.hold_prompt is not None and track.media == STATE.hold_prompt:
                path = command.body.decode("utf-8", "replace") if command.body else \
                    command.header("execute-app-arg")
                HOLD_PATHS.add(path)
        self.commands.clear()  # nothing keeps them: thousands of calls

    def flush(self) -> None:
        """Write out what is queued; a pressed key's DTMF event is in the controller's socket
        from now. The prompt the key stopped ran before this flush in the same loop turn (the
        key woke it before its event was queued), so its completion goes in the same write — as
        FreeSWITCH sends both within microseconds."""
        wrote = bool(self._out)
        super().flush()
        ch = self.channel
        track = STATE.tracks.get(ch.uuid) if wrote and ch is not None else None
        if track is not None and track.dtmf_pending:
            track.dtmf_pending = False
            track.dtmf_at = now()


HOLD_PATHS: set[str] = set()


class HoldTiming(MediaTiming):
    """Media lengths, except the hold prompt's file, which lasts ``hold_seconds``."""

    hold_seconds: float = 3600.0

    def file_seconds(self, path: str) -> float:
        if path in HOLD_PATHS:
            return self.hold_seconds
        return super().file_seconds(path)


class CommandSink(list[Command]):
    """The switch-wide command log, kept empty; notes the controller's ``event`` subscription."""

    def append(self, command: Command) -> None:
        if command.verb == "event":
            STATE.subscribed.set()


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, -(-int(q * 100) * len(ordered) // 10000) - 1)
    return ordered[rank]


async def play_script(sw: SimSwitch, ch: Channel, track: Track,
                      steps: list[caller_mod.Step]) -> None:
    """The caller's part (the simulator's own script runner); ``script_ok`` is False if the
    call ended under it. Each key's DTMF event is written out before its time is taken."""
    core = sw.core

    def key_sent() -> None:
        track.dtmf_pending = True  # timed when the listener writes it (TimedListener.flush)

    outcome = await caller_mod.run(core, ch, steps, after_key=key_sent)
    track.script_ok = outcome != "call_ended"
    track.caller_hung_up = outcome == "hung_up"


async def watch_end(ch: Channel, track: Track) -> None:
    await ch.hungup.wait()
    if track.in_flow:
        track.in_flow = False
        STATE.in_flow -= 1
    await ch.destroyed.wait()
    track.ended = now()
    track.cause = ch.hangup_cause or ""
    track.prompts = list(ch.prompts)
    STATE.changed.set()


async def watch_hold(ch: Channel, track: Track, hold_prompt: int) -> None:
    await caller_mod.until_prompt(ch, hold_prompt)
    if ch.up() and ch.prompts_started >= hold_prompt:
        track.held = now()
        STATE.held += 1
        STATE.changed.set()


def place(sw: SimSwitch, n: int, *, ani: str, dnis: str, socket: str,
          steps: list[caller_mod.Step], hold_prompt: int | None) -> Track:
    core = sw.core
    ch = core.new_channel(direction="inbound", name=f"sofia/internal/{ani}@{core.hostname}",
                          caller_id_name="", caller_id_number=ani, destination=dnis)
    track = Track(ch.uuid, now())
    STATE.tracks[ch.uuid] = track
    core.announce_inbound(ch)
    core.spawn(core.run_channel(ch, [("socket", f"{socket} async full")]), f"call-{n}")
    core.spawn(watch_end(ch, track), f"end-{n}")
    if steps:
        core.spawn(play_script(sw, ch, track, steps), f"caller-{n}")
    if hold_prompt is not None:
        core.spawn(watch_hold(ch, track, hold_prompt), f"hold-{n}")
    return track


class Sampler:
    """Event-loop lag every 50 ms; live channels every 250 ms (a walk over every channel)."""

    def __init__(self, sw: SimSwitch) -> None:
        self.sw = sw
        self.peak = 0
        self.lags: list[float] = []

    async def run(self) -> None:
        period = 0.05
        due = now() + period
        for tick in itertools.count():
            await asyncio.sleep(max(0.0, due - now()))
            self.lags.append(max(0.0, now() - due))
            due = max(due + period, now())
            if tick % 5 == 0:
                up = sum(1 for ch in self.sw.core.channels.values() if ch.up())
                self.peak = max(self.peak, up)


async def phase_place(sw: SimSwitch, sampler: Sampler, spec: dict[str, Any],
                      socket: str, timeout: float) -> dict[str, Any]:
    calls, rate = int(spec["calls"]), float(spec["rate"])
    steps = caller_mod.parse(str(spec.get("script", "")))
    hold = spec.get("hold_prompt")
    STATE.hold_prompt = int(hold) if hold else None
    STATE.held = 0
    STATE.latencies = []
    sampler.peak, sampler.lags = 0, []
    STATE.peak_in_flow = STATE.in_flow
    dnis = str(spec.get("dnis", "95598"))
    base = int(spec.get("ani", 13900000000))
    tracks: list[Track] = []
    events0 = sw.core.bus.fired
    t0 = now()
    lateness: list[float] = []
    for i in range(calls):
        due = t0 + i / rate
        wait = due - now()
        if wait > 0:
            await asyncio.sleep(wait)
        lateness.append(now() - due)
        tracks.append(place(sw, i, ani=str(base + i), dnis=dnis, socket=socket,
                            steps=steps, hold_prompt=STATE.hold_prompt))
    placed_end = now()
    deadline = placed_end + timeout

    holding = STATE.hold_prompt is not None
    first_open = 0  # tracks before it are settled (settling is for good): one pass in all

    def done() -> bool:
        nonlocal first_open
        while first_open < len(tracks):
            t = tracks[first_open]
            if not (t.ended or (holding and t.held)):
                return False
            first_open += 1
        return True

    await STATE.until(done, deadline)
    finished = now()
    setups = [t.first_media - t.placed for t in tracks if t.first_media]
    last_setup = max((t.first_media for t in tracks if t.first_media), default=t0)
    causes: dict[str, int] = {}
    for t in tracks:
        key = t.cause if t.ended else ("HELD" if t.held else "UNFINISHED")
        causes[key] = causes.get(key, 0) + 1
    ok = [t.uuid for t in tracks if t.caller_hung_up and t.script_ok and t.first_media]
    return {
        "event": "placed", "calls": calls, "rate": rate,
        "placing_s": placed_end - t0, "placing_late_p99_ms": percentile(lateness, 99) * 1e3,
        "setup_span_s": last_setup - t0, "set_up": len(setups),
        "setup_p50_ms": percentile(setups, 50) * 1e3,
        "setup_p99_ms": percentile(setups, 99) * 1e3,
        "dtmf_samples": len(STATE.latencies),
        "dtmf_p50_ms": percentile(STATE.latencies, 50) * 1e3,
        "dtmf_p99_ms": percentile(STATE.latencies, 99) * 1e3,
        "dtmf_max_ms": max(STATE.latencies, default=float("nan")) * 1e3,
        "held": sum(1 for t in tracks if t.held and not t.ended),
        "live": len(sw.core.channels), "peak_channels": sampler.peak,
        "peak_in_flow": STATE.peak_in_flow,
        "ok": len(ok), "causes": causes, "timed_out": not done(), "wait_s": finished - placed_end,
        "sim_lag_p99_ms": percentile(sampler.lags, 99) * 1e3,
        "sim_cpu_s": time.process_time(), "events": sw.core.bus.fired - events0,
        "uuids": [t.uuid for t in tracks] if spec.get("uuids") else [],
        "ok_uuids": ok if spec.get("uuids") else [],
        "prompts": ({t.uuid: t.prompts for t in tracks} if spec.get("prompts") else {}),
    }


async def phase_hangup(sw: SimSwitch, timeout: float) -> dict[str, Any]:
    live = [ch for ch in sw.core.channels.values() if ch.up()]
    for ch in live:
        track = STATE.tracks.get(ch.uuid)
        if sw.core.hangup(ch, "NORMAL_CLEARING") and track is not None:
            track.caller_hung_up = True
    deadline = now() + timeout
    await STATE.until(lambda: not sw.core.channels, deadline)
    return {"event": "hungup", "hung_up": len(live), "left": len(sw.core.channels),
            "sim_cpu_s": time.process_time()}


async def main_async(args: argparse.Namespace) -> int:
    global STATE  # noqa: PLW0603 - one switch per process
    STATE = State()
    outbound_mod.Listener = TimedListener  # type: ignore[misc]  # the socket app's connections
    timing = HoldTiming(default_file=args.file_seconds)
    timing.hold_seconds = args.hold_seconds
    sw = SimSwitch(args.host, args.port, args.password, speed=args.speed, media=timing,
                   clock_source=time.monotonic)  # µs timestamps whatever the loop
    sw.core.bus = IndexedBus()
    sink = CommandSink()
    sw.commands = sink
    sw.server.command_log = sink  # type: ignore[attr-defined]
    await sw.start()
    emit({"event": "listening", "port": sw.port, "pid": os.getpid()})
    sampler = Sampler(sw)
    sampling = asyncio.ensure_future(sampler.run())
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        await asyncio.wait_for(STATE.subscribed.wait(), args.ready_timeout)
        emit({"event": "ready"})
        gc.collect()
        gc.freeze()
        gc.disable()  # collected between phases only
        while True:
            line = await reader.readline()
            if not line:
                break
            spec = json.loads(line)
            if spec["cmd"] == "place":
                emit(await phase_place(sw, sampler, spec, args.socket, args.phase_timeout))
            elif spec["cmd"] == "hangup":
                emit(await phase_hangup(sw, args.phase_timeout))
            elif spec["cmd"] == "exit":
                break
            gc.collect()
    finally:
        sampling.cancel()
        gc.enable()
        await sw.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--password", default="ClueCon")
    p.add_argument("--socket", required=True, help="the controller's outbound socket host:port")
    p.add_argument("--speed", type=float, default=1.0)
    p.add_argument("--file-seconds", type=float, default=2.0,
                   help="length of every media file (switch seconds)")
    p.add_argument("--hold-seconds", type=float, default=3600.0)
    p.add_argument("--ready-timeout", type=float, default=90.0)
    p.add_argument("--phase-timeout", type=float, default=120.0)
    p.add_argument("--asyncio", action="store_true",
                   help="run on asyncio's own event loop even when uvloop is installed")
    args = p.parse_args(argv)
    return eventloop.run(main_async(args), allow_uvloop=not args.asyncio)


if __name__ == "__main__":
    sys.exit(main())

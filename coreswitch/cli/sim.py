"""``coreswitch sim``: run the simulated FreeSWITCH as its own process.

::

    coreswitch sim --port 8021 --password ClueCon --agent 1001 --agent 1002:answer=3
    coreswitch sim --calls 100 --rate 5 --socket 127.0.0.1:8084 --dnis 95598 \\
        --caller "press 1 on prompt 1 after 0.5; hangup after 30"
    coreswitch sim --agents 1001-1050:answer=0.5,talk=2 --calls 1000 --rate 20 --exit \\
        --socket 127.0.0.1:8084 --socket 127.0.0.1:8085 --caller "" --caller "hangup after 8"

Listens for inbound ESL connections (``InboundClient``, or ``fs_cli``-style tools), answers like
FreeSWITCH 1.10, and optionally places ``--calls`` calls at ``--rate`` calls per second, routed
to outbound-socket servers (``--socket``, repeatable: the calls alternate between them, one per
coreswitch node) or parked for an inbound controller. Each call's caller number is the previous
one plus one; with several ``--caller`` scripts the calls take them in turn. With ``--calls`` and
``--exit`` it stops once every placed call has ended; otherwise it runs until interrupted.

Placing calls ends with a summary: a JSON line ``{"placed", "ended", "causes", "agents"}``
(``agents``: legs offered to virtual agents, answered, ``busy`` — a leg refused ``USER_BUSY`` —
and ``overlaps`` — a leg created for an agent who still had a leg up, i.e. a double offer),
then the readable line ``N calls ended: CAUSE=count, …``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from collections import Counter
from collections.abc import Sequence

from coreswitch import eventloop
from coreswitch.switch.sim import Call, SimSwitch
from coreswitch.switch.sim import caller as caller_mod
from coreswitch.switch.sim.wire import SimEvent


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "sim", help="run the simulated FreeSWITCH (an ESL server) as its own process",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="ESL listen address (127.0.0.1)")
    p.add_argument("--port", type=int, default=8021, help="ESL listen port (8021; 0: any)")
    p.add_argument("--password", default="ClueCon", help="ESL password (ClueCon)")
    p.add_argument("--speed", type=float, default=1.0,
                   help="switch seconds per real second (1: real time)")
    p.add_argument("--agent", action="append", default=[], metavar="EXT[:OPTS]",
                   help="a virtual phone, e.g. 1001, 1002:answer=3, 1003:never, 1004:busy, "
                        "1005:answer=1,talk=60 (repeatable)")
    p.add_argument("--agents", action="append", default=[], metavar="FIRST-LAST[:OPTS]",
                   help="a range of virtual phones with the same options, e.g. "
                        "1001-1050:answer=0.5,talk=2 (repeatable)")
    p.add_argument("--calls", type=int, default=0, help="place this many calls")
    p.add_argument("--rate", type=float, default=1.0, help="calls per second (switch time)")
    p.add_argument("--socket", action="append", default=[], metavar="HOST:PORT",
                   help="route placed calls to this outbound-socket server (else: park); "
                        "repeatable: calls alternate between the servers")
    p.add_argument("--dnis", default="95598", help="called number of placed calls")
    p.add_argument("--route", default="", metavar="ACTIONS",
                   help='dialplan of --dnis when not --socket, e.g. '
                        '"answer; playback prompt.wav; hangup" (default: park)')
    p.add_argument("--ani", default="13800000000",
                   help="caller number of placed calls (each next call adds one)")
    p.add_argument("--caller", action="append", default=[], metavar="SCRIPT",
                   help='caller script, e.g. "press 1 on prompt 1; hangup after 20"; '
                        'repeatable: calls take the scripts in turn ("" does nothing)')
    p.add_argument("--scenarios", metavar="FILE",
                   help="place one call per line of FILE (JSON: ani, dnis, caller), one after "
                        "another; prints a JSON line per ended call (uuid, cause, prompts)")
    p.add_argument("--after-client", nargs="?", type=int, const=1, default=0, metavar="N",
                   help="place calls only once N (default 1) inbound ESL clients have "
                        "subscribed to events (the controllers, e.g. one per coreswitch node, "
                        "are up); waits up to 60 s")
    p.add_argument("--exit", action="store_true",
                   help="with --calls or --scenarios: exit once every placed call has ended")
    p.set_defaults(handler=run)


def parse_route(text: str) -> list[tuple[str, str]]:
    """``"answer; playback prompt.wav; hangup"`` → ``[("answer", ""), ("playback", …), …]``."""
    actions = []
    for part in text.split(";"):
        app, _, arg = part.strip().partition(" ")
        if app:
            actions.append((app, arg.strip()))
    return actions


def parse_agent(text: str) -> dict[str, object]:
    ext, _, opts = text.partition(":")
    if not ext:
        raise ValueError(f"agent needs an extension: {text!r}")
    spec: dict[str, object] = {"extension": ext}
    for opt in filter(None, opts.split(",")):
        key, _, value = opt.partition("=")
        if key == "answer":
            spec["answer_after"] = float(value)
        elif key == "never":
            spec["answer_after"] = None
        elif key == "busy":
            spec["busy"] = True
        elif key == "talk":
            spec["talk_time"] = float(value)
        elif key == "reject":
            spec["reject_cause"] = value or "CALL_REJECTED"
        else:
            raise ValueError(f"unknown agent option {key!r} in {text!r}")
    return spec


def parse_agents(text: str) -> list[dict[str, object]]:
    """``"1001-1003:answer=1"`` → one :func:`parse_agent` spec per extension of the range
    (inclusive; leading zeros kept: ``0801-0803``)."""
    span, sep, opts = text.partition(":")
    first, dash, last = span.partition("-")
    if not (dash and first.isdigit() and last.isdigit()):
        raise ValueError(f"agents need a range FIRST-LAST of extensions: {text!r}")
    if int(last) < int(first):
        raise ValueError(f"agent range ends before it starts: {text!r}")
    width = len(first)
    return [parse_agent(f"{n:0{width}d}{sep}{opts}") for n in range(int(first), int(last) + 1)]


class AgentLegs:
    """Watches the switch's events for legs to virtual agents: how many were offered, answered,
    refused busy, and created while the same agent still had another leg up (a double offer)."""

    def __init__(self, extensions: Sequence[str]) -> None:
        self.extensions = set(extensions)
        self.legs = 0
        self.answered = 0
        self.busy = 0
        self.overlaps = 0
        self._up: dict[str, str] = {}  # leg uuid → extension
        self._per_agent: Counter[str] = Counter()  # legs up per extension

    def observe(self, event: SimEvent) -> None:
        name = event.name
        if name == "CHANNEL_CREATE":
            if event.get("Call-Direction") != "outbound":
                return
            ext = _extension(event.get("Channel-Name"))
            if ext not in self.extensions:
                return
            self.legs += 1
            if self._per_agent[ext]:
                self.overlaps += 1
            self._up[event.get("Unique-ID")] = ext
            self._per_agent[ext] += 1
        elif name == "CHANNEL_ANSWER":
            if event.get("Unique-ID") in self._up:
                self.answered += 1
        elif name == "CHANNEL_HANGUP":
            ext = self._up.pop(event.get("Unique-ID"), "")
            if ext:
                self._per_agent[ext] -= 1
                if event.get("Hangup-Cause") == "USER_BUSY":
                    self.busy += 1

    def summary(self) -> dict[str, int]:
        return {"legs": self.legs, "answered": self.answered, "busy": self.busy,
                "overlaps": self.overlaps}


def _extension(channel_name: str) -> str:
    """``sofia/internal/1001@sim`` → ``1001`` (how the simulator names an agent's leg)."""
    return channel_name.rpartition("/")[2].partition("@")[0]


def summary(calls: Sequence[Call], agents: AgentLegs) -> dict[str, object]:
    """The end summary: placed and ended calls, hangup causes of the ended ones, agent legs."""
    ended = [c for c in calls if c.channel.destroyed.is_set()]
    causes = Counter(str(c.hangup_cause) for c in ended)
    return {"placed": len(calls), "ended": len(ended), "causes": dict(sorted(causes.items())),
            "agents": agents.summary()}


async def serve(args: argparse.Namespace) -> int:
    sw = SimSwitch(args.host, args.port, args.password, speed=args.speed)
    specs = [parse_agent(text) for text in args.agent]
    for text in args.agents:
        specs += parse_agents(text)
    for spec in specs:
        ext = str(spec.pop("extension"))
        sw.add_agent(ext, **spec)  # type: ignore[arg-type]  # keys checked by parse_agent
    agent_legs = AgentLegs(list(sw.dialer.agents))
    sw.observe(agent_legs.observe)
    scripts = [caller_mod.parse(text) for text in args.caller] or [[]]
    if args.route:
        sw.route(args.dnis, *parse_route(args.route))
    await sw.start()
    print(f"coreswitch sim: ESL on {sw.host}:{sw.port} (password {args.password!r}, "
          f"speed {args.speed:g})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        if args.after_client:
            await wait_for_controllers(sw, args.after_client)
        if args.scenarios:
            await _scenarios(sw, args)
            return 0
        calls = await _place(sw, args, scripts, stop)
        if args.calls and args.exit:
            ended = asyncio.ensure_future(_all_ended(calls))
            waiter = asyncio.ensure_future(stop.wait())
            await asyncio.wait([ended, waiter], return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            ended.cancel()
        else:
            await stop.wait()
        if args.calls:
            print(json.dumps(summary(calls, agent_legs)), flush=True)
            ended_calls = [c for c in calls if c.channel.destroyed.is_set()]
            causes = [str(c.hangup_cause) for c in ended_calls]
            print(f"{len(ended_calls)} calls ended: " + ", ".join(
                f"{cause}={causes.count(cause)}" for cause in sorted(set(causes))), flush=True)
    finally:
        await sw.stop()
    return 0


async def _place(sw: SimSwitch, args: argparse.Namespace,
                 scripts: Sequence[Sequence[caller_mod.Step]], stop: asyncio.Event) -> list[Call]:
    """Place ``--calls`` calls at ``--rate``, the sockets and caller scripts taken in turn.

    Call ``i`` is due ``i / rate`` switch seconds after the first: a call whose set-up (the
    outbound socket taking it) is slow delays the next ones, which then catch up, so the rate
    holds whatever the controller's latency."""
    calls: list[Call] = []
    ani = int(args.ani) if args.ani.isdigit() else None
    width = len(args.ani)
    sockets: list[str | None] = list(args.socket) or [None]
    start = sw.clock.now()
    for i in range(args.calls):
        if i and args.rate > 0:
            await sw.clock.sleep(start + i / args.rate - sw.clock.now())
        if stop.is_set():
            break
        number = f"{ani + i:0{width}d}" if ani is not None else args.ani
        call = await sw.place_call(number, args.dnis, socket=sockets[i % len(sockets)],
                                   caller=scripts[i % len(scripts)])
        calls.append(call)
        print(f"call {i + 1}: {call.uuid} from {number} to {args.dnis}", flush=True)
    return calls


async def wait_for_controllers(sw: SimSwitch, count: int, limit: float = 60.0) -> None:
    """Wait (polling, bounded) until ``count`` connected inbound clients have sent
    ``event …``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit

    def subscribed() -> int:
        return sum(any(c.verb == "event" for c in listener.commands)
                   for listener in sw.server.listeners)

    while subscribed() < count:
        if loop.time() > deadline:
            raise ValueError(f"{subscribed()} of {count} ESL clients subscribed within "
                             f"{limit:.0f} s")
        await asyncio.sleep(0.05)


async def _scenarios(sw: SimSwitch, args: argparse.Namespace) -> None:
    """Each line of ``--scenarios``: one call, placed once the previous one has ended (the
    ``--socket`` servers taken in turn)."""
    sockets: list[str | None] = list(args.socket) or [None]
    for i, spec in enumerate(args.scenario_lines, 1):
        call = await sw.place_call(str(spec.get("ani", args.ani)),
                                   str(spec.get("dnis", args.dnis)),
                                   socket=sockets[(i - 1) % len(sockets)],
                                   caller=str(spec.get("caller", "")))
        await call.ended()
        print(json.dumps({"call": i, "uuid": call.uuid, "cause": call.hangup_cause,
                          "prompts": call.prompts}, ensure_ascii=False), flush=True)


async def _all_ended(calls: list[Call]) -> None:
    for call in calls:
        await call.ended()


def run(args: argparse.Namespace) -> int:
    try:
        args.scenario_lines = []
        if args.scenarios:
            with open(args.scenarios, encoding="utf-8") as fh:
                args.scenario_lines = [json.loads(line) for line in fh if line.strip()]
        return eventloop.run(serve(args))
    except (ValueError, OSError) as exc:  # json.JSONDecodeError is a ValueError
        print(f"coreswitch sim: {exc}", file=sys.stderr)
        return 2


def main(argv: list[str] | None = None) -> int:
    """``python -m coreswitch.cli.sim ...``: the same command without the other sub-commands."""
    parser = argparse.ArgumentParser(prog="coreswitch")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["sim", *(sys.argv[1:] if argv is None else argv)])
    return run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The ACD around a flow-test call: virtual agents, other callers, queue settings.

:class:`AcdScene` gives one test case its own ACD (in-process store, queue log in memory) on the
harness's simulated switch and virtual clock: ``agent`` steps add virtual phones and log the
agents in, ``waiting`` steps place other simulated callers into a queue (through a tiny flow that
only queues), ``queue_config`` steps set queue options. A booked callback rings the agent and
then the caller's own number, which the scene registers as a virtual phone that answers after
2 s. After the test's call the scene waits until the other callers and callbacks are done (at
most an hour of virtual time), so expectations see the whole story.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import textwrap
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

import dsl
from coreswitch.acd.engine import CALLBACK_VARIABLE, Acd, AcdSettings
from coreswitch.acd.memory import MemoryStore
from coreswitch.acd.model import AgentConfig, QueueConfig
from coreswitch.acd.queue_log import MemoryQueueLog, QueueEvent
from coreswitch.esl.outbound import OutboundSession
from coreswitch.runtime.harness import SimHarness
from coreswitch.runtime.interpreter import Deps, RunResult
from coreswitch.runtime.services import LocalServices
from coreswitch.runtime.session import CallSession
from coreswitch.switch.sim import api as sim_api
from coreswitch.switch.sim.agents import Agent as SimAgent
from dsl.expr import EvalEnv, evaluate

IR = dict[str, Any]
DRAIN_LIMIT = 3600.0  # virtual seconds
_QUEUE_FIELDS = {f.name: f.type for f in fields(QueueConfig)}


def _value(expr: Any) -> object:
    if isinstance(expr, list | tuple) and len(expr) == 2 and expr[0] == "var":
        return expr[1]  # a bare name: queue=service
    value = evaluate(expr, EvalEnv({}))
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return value


def _options(step: Mapping[str, Any]) -> dict[str, object]:
    return {name: _value(expr) for name, expr in (step.get("options") or {}).items()}


def queues_of(ir: IR) -> set[str]:
    """Queue names a compiled flow can join."""
    found: set[str] = set()

    def scan(states: Mapping[str, Any]) -> None:
        for st in states.values():
            for step in st.get("code", []):
                if step.get("op") == "queue":
                    found.add(str(step["args"]["queue"]))

    scan(ir.get("states", {}))
    for sub in ir.get("subflows", {}).values():
        scan(sub.get("states", {}))
    return found


class AcdScene:
    def __init__(self, harness: SimHarness, case: Mapping[str, Any], ir: IR,
                 epoch: float, caller_ani: str) -> None:
        self.harness = harness
        self.caller_ani = caller_ani
        steps = case["steps"]
        names = queues_of(ir)
        queue_opts: dict[str, dict[str, object]] = {}
        for s in steps:
            if s["step"] == "queue_config":
                queue_opts.setdefault(s["name"], {}).update(_options(s))
            elif s["step"] == "waiting":
                names.add(s["name"])
        agents: list[AgentConfig] = []
        self.phones: list[SimAgent] = []
        self.agent_steps: list[tuple[str, dict[str, object]]] = []
        for s in steps:
            if s["step"] != "agent":
                continue
            opts = _options(s)
            serves = [q.strip() for q in str(opts.get("queues") or opts.get("queue") or "")
                      .split(",") if q.strip()] or sorted(names)[:1]
            names.update(serves)
            skills = {}
            for item in str(opts.get("skills") or "").split(","):
                skill, _, level = item.partition(":")
                if skill.strip():
                    skills[skill.strip()] = int(level or 3)
            tier = int(str(opts.get("tier", 1)))
            agents.append(AgentConfig(s["name"], f"user/{s['name']}", str(opts.get("name", "")),
                                      queues=dict.fromkeys(serves, tier), skills=skills))
            never = opts.get("no_answer") is True
            self.phones.append(SimAgent(
                s["name"], answer_after=None if never else float(str(opts.get("answers_after",
                                                                                  1.0))),
                busy=opts.get("busy") is True, talk_time=float(str(opts.get("talk", 60.0)))))
            self.agent_steps.append((s["name"], opts))
        for name in names:
            queue_opts.setdefault(name, {})
        self.queues = [QueueConfig(name, **{k: v for k, v in opts.items()  # type: ignore[arg-type]
                                            if k in _QUEUE_FIELDS})
                       for name, opts in sorted(queue_opts.items())]
        self.waiting = [(s["name"], _options(s)) for s in steps if s["step"] == "waiting"]
        self.log = MemoryQueueLog()
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        core = harness.switch.core

        async def api(command: str, args: str) -> str:
            return await sim_api.run(core, command, args)

        self.acd = Acd(MemoryStore(seed=1), self.log, queues=self.queues, agents=agents,
                       settings=AcdSettings(node="test", callback_dial="user/{number}",
                                            callback_socket="memory:flows async full"),
                       api=api, clock=lambda: epoch + loop.time() - t0)
        self._others: list[asyncio.Task[RunResult | None]] = []
        self._handler = harness._server.handler

    async def __aenter__(self) -> AcdScene:
        dialer = self.harness.switch.dialer
        for phone in self.phones:
            dialer.add(phone)
        if self.caller_ani not in dialer.agents:  # the caller's phone, for callbacks
            dialer.add(SimAgent(self.caller_ani, answer_after=2.0, talk_time=30.0))
        self.harness._server.handler = self._handle
        await self.acd.start()
        for agent_id, opts in self.agent_steps:
            if opts.get("logged_in") is not False:
                await self.acd.login(agent_id)
                if opts.get("away") or opts.get("available_after") is not None:
                    await self.acd.away(agent_id, str(opts.get("away") or "not yet"))
                if opts.get("available_after") is not None:
                    self._others.append(asyncio.ensure_future(self._available_after(
                        agent_id, float(str(opts["available_after"])))))
        return self

    async def _available_after(self, agent_id: str, seconds: float) -> RunResult | None:
        await asyncio.sleep(seconds)
        await self.acd.available(agent_id)
        return None

    async def __aexit__(self, *exc: object) -> None:
        for task in self._others:
            task.cancel()
        await asyncio.gather(*self._others, return_exceptions=True)
        await self.acd.stop()
        self.harness._server.handler = self._handler
        for phone in self.phones:
            self.harness.switch.dialer.agents.pop(phone.extension, None)
        self.harness.switch.dialer.agents.pop(self.caller_ani, None)

    async def _handle(self, session: OutboundSession) -> None:
        offer = session.channel_data.get(f"variable_{CALLBACK_VARIABLE}")
        if offer:
            await self.acd.callback_leg(CallSession(session, session.uuid), offer)
        else:
            await self._handler(session)

    def deps(self, base: Deps) -> Deps:
        services = base.services
        if isinstance(services, LocalServices):
            services.acd = self.acd
        return base

    def start_others(self, base: Deps) -> None:
        """Place the ``waiting`` callers: before the test's call (0.1 s apart from time 0) or
        ``after`` a delay (1 s apart)."""
        n = 0
        for queue, opts in self.waiting:
            ir = _queue_only(queue, int(str(opts.get("priority", 0))))
            count = int(str(opts.get("callers", 1)))
            after = opts.get("after")
            hangup = opts.get("hangup_after")
            prefix = str(opts.get("ani_prefix", "1390000"))
            for i in range(count):
                n += 1
                delay = (float(str(after)) + i) if after is not None else 0.1 * n
                script = f"hangup after {float(str(hangup))}" if hangup is not None else ""
                self._others.append(asyncio.ensure_future(self._other(
                    ir, base, f"{prefix}{n:04d}", delay, script)))

    async def _other(self, ir: IR, base: Deps, ani: str, delay: float, script: str
                     ) -> RunResult | None:
        await asyncio.sleep(delay)
        return await self.harness.call(ir, base, ani=ani, caller=script)

    @property
    def main_delay(self) -> float:
        """How long the test's call waits so that earlier callers are in the queue first."""
        before = sum(int(str(o.get("callers", 1))) for _q, o in self.waiting
                     if o.get("after") is None)
        return 0.1 * before + 0.5 if before else 0.0

    async def drain(self) -> None:
        """Wait (virtual time) until the other callers and any booked callback are done."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DRAIN_LIMIT
        if self._others:
            await asyncio.wait(self._others, timeout=DRAIN_LIMIT)
        while loop.time() < deadline:
            status = await self.acd.queue_status()
            if not any(q.callbacks for q in status) and not self.acd._calls:
                return
            await asyncio.sleep(1.0)

    # -- what expectations read -----------------------------------------------------------------
    def events(self) -> list[QueueEvent]:
        return list(self.log.entries)


def served_before(events: list[QueueEvent], queue: str, ani: str) -> int | None:
    """Other callers of ``queue`` answered after the caller with ``ani`` joined and before it was
    answered or left; None when it never joined."""
    mine = next((e for e in events if e.event == "enter" and e.queue == queue
                 and e.data.get("ani") == ani), None)
    if mine is None:
        return None
    ends = ("answer", "abandon", "timeout", "exit_key", "no_agents", "callback_made")
    end = next((e.at for e in events if e.call_id == mine.call_id and e.event in ends
                and e.at >= mine.at), float("inf"))
    return sum(1 for e in events if e.event in ("answer", "callback_made")
               and e.queue == queue and e.call_id != mine.call_id and mine.at <= e.at < end)


def _queue_only(queue: str, priority: int) -> IR:
    source = textwrap.dedent(f"""\
        flow other_caller:
          start q
        state q:
          queue {queue}:
            priority {priority}
            max_wait 1h
            overflow -> done
        state done:
          hangup
        """)
    ir, diags = dsl.compile_source(source)
    if ir is None:
        raise ValueError("; ".join(d.message for d in diags))
    return ir

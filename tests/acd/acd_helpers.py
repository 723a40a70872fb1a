"""A flow, a simulated switch and an ACD on the virtual clock: calls through queues, in tests."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from coreswitch.acd.engine import CALLBACK_VARIABLE, Acd, AcdSettings
from coreswitch.acd.memory import MemoryStore
from coreswitch.acd.model import AgentConfig, QueueConfig
from coreswitch.acd.queue_log import MemoryQueueLog
from coreswitch.esl.outbound import OutboundSession
from coreswitch.runtime.functions import FunctionRegistry
from coreswitch.runtime.harness import SimHarness
from coreswitch.runtime.interpreter import Deps, RunResult
from coreswitch.runtime.prompts import VirtualRenderer
from coreswitch.runtime.services import LocalServices
from coreswitch.runtime.session import CallSession
from coreswitch.runtime.virtual_time import run as run_virtual
from coreswitch.switch.sim import api as sim_api
from coreswitch.switch.sim.agents import Agent as SimAgent

T = TypeVar("T")
EPOCH = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC).timestamp()


class AcdWorld:
    """``async with AcdWorld(queues, agents) as w: await w.call(ir, ...)``."""

    def __init__(self, queues: Sequence[QueueConfig], agents: Sequence[AgentConfig],
                 phones: Sequence[SimAgent] = ()) -> None:
        self.harness = SimHarness()
        self.store = MemoryStore(seed=1)
        self.log = MemoryQueueLog()
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        core = self.harness.switch.core

        async def api(command: str, args: str) -> str:
            return await sim_api.run(core, command, args)

        self.acd = Acd(self.store, self.log, queues=queues, agents=agents,
                       settings=AcdSettings(node="test", callback_dial="user/{number}",
                                            callback_socket="memory:flows async full"),
                       api=api, clock=lambda: EPOCH + loop.time() - t0)
        for phone in phones:
            self.harness.switch.dialer.add(phone)
        handler = self.harness._handle

        async def handle(session: OutboundSession) -> None:
            offer = session.channel_data.get(f"variable_{CALLBACK_VARIABLE}")
            if offer:
                await self.acd.callback_leg(CallSession(session, session.uuid), offer)
            else:
                await handler(session)

        self.harness._server.handler = handle

    async def __aenter__(self) -> AcdWorld:
        await self.acd.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.acd.stop()
        await self.harness.__aexit__(*exc)

    def deps(self) -> Deps:
        return Deps(FunctionRegistry(), LocalServices(acd=self.acd),
                    self.harness.virtual_renderer())

    async def call(self, ir: dict[str, Any], *, ani: str = "13800000000",
                   caller: str = "") -> RunResult:
        return await self.harness.call(ir, self.deps(), ani=ani, caller=caller)


def in_virtual_time(main: Callable[[], Awaitable[T]]) -> T:
    async def runner() -> T:
        return await main()
    return run_virtual(runner())


__all__ = ["AcdWorld", "VirtualRenderer", "in_virtual_time", "replace"]

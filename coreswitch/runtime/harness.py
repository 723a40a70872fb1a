"""Calls through a flow without a phone: the simulated switch in this process, on any loop.

:class:`SimHarness` starts a :class:`~coreswitch.switch.sim.SimSwitch` and an outbound-socket
server joined by an in-memory pipe, so a call runs through exactly the code a FreeSWITCH call
runs through — the ESL outbound session, :class:`~coreswitch.runtime.session.CallSession`, the
interpreter — without a socket. On the virtual-time loop
(:func:`coreswitch.runtime.virtual_time.run`) minutes of call time take milliseconds, and the
same script gives the same transcript every time. ``coreswitch call`` and ``coreswitch test``
use it.

The caller's script starts when coreswitch takes the call (the flow's time 0); keys pressed
before a menu is reached wait in the call's key buffer (type-ahead).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from coreswitch.esl.outbound import OutboundServer, OutboundSession
from coreswitch.runtime.interpreter import Deps, FlowRun, RunResult
from coreswitch.runtime.prompts import VirtualRenderer
from coreswitch.runtime.session import CallSession
from coreswitch.switch.sim import SimSwitch
from coreswitch.switch.sim import caller as caller_mod

IR = dict[str, Any]

#: Longest call a harness lets run before hanging up as the caller (switch seconds).
CALL_LIMIT = 3600.0


@dataclass
class _Pending:
    ir: IR
    deps: Deps
    steps: Sequence[caller_mod.Step]
    at: dt.datetime | None
    seed: int | str | None
    result: asyncio.Future[RunResult]
    answers: list[str] | None = None  # key groups, one per input the flow waits for
    hangup_when_done: bool = False


class SimHarness:
    """``async with SimHarness() as h: result = await h.call(ir, deps, ani=…, dnis=…)``."""

    def __init__(self, *, call_limit: float = CALL_LIMIT) -> None:
        self.switch = SimSwitch(port=0, speed=1.0)
        self.call_limit = call_limit
        self._server = OutboundServer(self._handle, port=0, linger=1)
        self._address = self.switch.attach_socket("flows", self._server._accept)
        self._pending: dict[str, _Pending] = {}
        self._ids = itertools.count(1)

    async def __aenter__(self) -> SimHarness:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._server.close()
        await self.switch.stop()

    def virtual_renderer(self) -> VirtualRenderer:
        """A renderer that tells this switch how long each rendered prompt lasts."""
        files = self.switch.core.media.files
        return VirtualRenderer(files.__setitem__)

    async def call(self, ir: IR, deps: Deps, *, ani: str = "13800000000", dnis: str = "",
                   caller: Sequence[caller_mod.Step] | str = (), at: dt.datetime | None = None,
                   seed: int | str | None = None, caller_name: str = "",
                   answers: Sequence[str] | None = None, hangup_when_done: bool = False
                   ) -> RunResult:
        """One call through ``ir``; returns when the call has ended.

        ``caller`` is a caller script (timed steps); ``answers`` instead gives one key group per
        input: each is pressed when the flow starts waiting for keys. With
        ``hangup_when_done`` the caller hangs up when the flow waits and no group is left.
        """
        key = str(next(self._ids))
        steps = caller_mod.parse(caller) if isinstance(caller, str) else list(caller)
        loop = asyncio.get_running_loop()
        pending = _Pending(ir, deps, steps, at, seed, loop.create_future(),
                           list(answers) if answers is not None else None, hangup_when_done)
        self._pending[key] = pending
        dnis = dnis or next(iter(ir.get("dnis") or ["95598"]))
        try:
            call = await self.switch.place_call(ani, dnis, socket=self._address,
                                                caller_id_name=caller_name,
                                                variables={"coreswitch_call": key})
            done = asyncio.ensure_future(asyncio.shield(pending.result))
            ended = asyncio.ensure_future(call.ended())
            waiting: list[asyncio.Future[Any]] = [done, ended]
            try:
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if not done.done():
                    # the switch ended the call before coreswitch took it (or after a crash)
                    await asyncio.wait({done}, timeout=1.0)
            finally:
                ended.cancel()
            if not done.done():
                done.cancel()
                raise RuntimeError("the simulated call ended without reaching the flow")
            result = done.result()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(60):
                    await call.ended()
            return result
        finally:
            self._pending.pop(key, None)

    async def _handle(self, session: OutboundSession) -> None:
        key = session.channel_data.get("variable_coreswitch_call") or ""
        pending = self._pending.get(key)
        if pending is None:
            return
        try:
            result = await self._run(session, pending)
        except BaseException as exc:
            if not pending.result.done():
                pending.result.set_exception(exc)
            raise
        if not pending.result.done():
            pending.result.set_result(result)

    async def _run(self, session: OutboundSession, pending: _Pending) -> RunResult:
        channel = CallSession(session, session.uuid)
        sim_channel = self.switch.channels.get(session.uuid)
        core = self.switch.core
        limit: asyncio.TimerHandle | None = None
        if sim_channel is not None:
            if pending.steps:
                core.spawn(caller_mod.run(core, sim_channel, pending.steps),
                           f"sim-caller-{session.uuid}")
            ch = sim_channel
            limit = asyncio.get_running_loop().call_later(
                self.call_limit, lambda: core.hangup(ch, "NORMAL_CLEARING"))
        data = session.channel_data
        run = FlowRun(pending.ir, channel, pending.deps,
                      ani=data.get("Caller-Caller-ID-Number", ""),
                      dnis=data.get("Caller-Destination-Number", ""),
                      caller_name=data.get("Caller-Caller-ID-Name", ""),
                      started_at=pending.at, seed=pending.seed)
        if sim_channel is not None and (pending.answers is not None or pending.hangup_when_done):
            answers, live = pending.answers or [], sim_channel

            def answer(_run: FlowRun) -> None:
                if answers:
                    core.dtmf(live, answers.pop(0), source="RTP")
                elif pending.hangup_when_done:
                    core.hangup(live, "NORMAL_CLEARING")

            run.on_input = answer
        try:
            result = await run.run()
        finally:
            if limit is not None:
                limit.cancel()
        if result.outcome == "fallback" and sim_channel is not None:
            core.hangup(sim_channel, "NORMAL_TEMPORARY_FAILURE")
        return result


def deps_for_harness(harness: SimHarness, deps: Deps) -> Deps:
    """``deps`` with the harness's virtual renderer (no speech engine needed)."""
    return replace(deps, renderer=harness.virtual_renderer())

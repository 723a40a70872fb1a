"""Virtual endpoints: agents' phones that ring, answer after a delay, never answer or are busy.

:class:`Dialer` places the outgoing legs of ``originate`` and ``bridge``:

* ``user/1001``, ``sofia/<profile>/1001@host``, ``agent/1001`` — the :class:`Agent` registered as
  ``1001``: the leg is created (``CHANNEL_OUTGOING``, ``CHANNEL_CREATE``, ``CHANNEL_ORIGINATE``),
  rings (``CHANNEL_PROGRESS``, ``CHANNEL_CALLSTATE RINGING``) and answers after ``answer_after``
  switch seconds; one that never answers ends with ``NO_ANSWER`` when the originate timeout
  expires; a busy one (or one already on a call) with ``USER_BUSY``; an unknown user with
  ``USER_NOT_REGISTERED``;
* ``loopback/<ext>`` — two legs as mod_loopback makes them: ``-a`` (outbound, returned) and
  ``-b`` (inbound, runs the dialplan of ``<ext>``); ``-a`` answers when ``-b`` does;
* ``error/<CAUSE>`` — fails at once with that cause.
"""

from __future__ import annotations

import asyncio
import uuid as uuidlib
from dataclasses import dataclass

from coreswitch.switch.sim.channel import Channel
from coreswitch.switch.sim.core import SwitchCore
from coreswitch.switch.sim.dialstring import Endpoint


@dataclass
class Agent:
    """A virtual phone. Times are switch seconds."""

    extension: str
    #: Seconds of ringing before answering; ``None`` never answers.
    answer_after: float | None = 1.0
    #: Always busy (``USER_BUSY``).
    busy: bool = False
    #: Once answered, hang up after this long; ``None`` stays until the other side hangs up.
    talk_time: float | None = None
    #: Reject with this cause instead of ringing (``CALL_REJECTED`` …).
    reject_cause: str | None = None
    offered: int = 0
    answered: int = 0
    active: Channel | None = None

    @property
    def on_call(self) -> bool:
        return self.active is not None and self.active.up()


class Dialer:
    def __init__(self, core: SwitchCore) -> None:
        self.core = core
        self.agents: dict[str, Agent] = {}

    def add(self, agent: Agent) -> Agent:
        self.agents[agent.extension] = agent
        return agent

    async def dial(self, endpoint: Endpoint, variables: dict[str, str], caller: Channel | None,
                   timeout: float, abort: asyncio.Event | None = None) -> Channel | str:
        """Place one leg; the answered :class:`Channel`, or the hangup cause."""
        variables = {**variables, **endpoint.variables}
        if endpoint.kind == "error":
            return endpoint.target.upper() or "DESTINATION_OUT_OF_ORDER"
        if endpoint.kind == "loopback":
            return await self._loopback(endpoint, variables, timeout)
        agent = self.agents.get(endpoint.target)
        if agent is None:
            return "USER_NOT_REGISTERED" if endpoint.kind == "user" else "NO_ROUTE_DESTINATION"
        return await self._dial_agent(agent, variables, caller, timeout, abort)

    async def _dial_agent(self, agent: Agent, variables: dict[str, str],
                          caller: Channel | None, timeout: float,
                          abort: asyncio.Event | None) -> Channel | str:
        core = self.core
        cid_name = variables.get("origination_caller_id_name") or (
            caller.profile.caller_id_name if caller else "")
        cid_num = variables.get("origination_caller_id_number") or (
            caller.profile.caller_id_number if caller else "0000000000")
        leg = core.new_channel(
            direction="outbound", name=f"sofia/internal/{agent.extension}@{core.hostname}",
            caller_id_name=cid_name, caller_id_number=cid_num, destination=agent.extension,
            variables={**variables, "originate_early_media": "false",
                       "originate_endpoint": "sofia"},
            uuid=variables.get("origination_uuid"),
            callee_id_name="Outbound Call", callee_id_number=agent.extension)
        core.announce_outgoing(leg)
        core.spawn(core.run_leg(leg), f"sim-leg-{leg.uuid}")
        agent.offered += 1
        if agent.busy or agent.on_call:
            core.hangup(leg, "USER_BUSY")
            return "USER_BUSY"
        if agent.reject_cause:
            core.hangup(leg, agent.reject_cause)
            return agent.reject_cause
        core.ring(leg)
        ring = timeout if agent.answer_after is None else min(agent.answer_after, timeout)
        await self._ring(leg, caller, ring, abort)
        failure = self._failure(leg, caller, abort, agent, timeout)
        if failure is not None:
            if leg.up():
                core.hangup(leg, failure)
            return failure
        core.answer(leg)
        agent.answered += 1
        agent.active = leg
        if agent.talk_time is not None:
            core.spawn(self._hang_up_after(leg, agent.talk_time), f"sim-talk-{leg.uuid}")
        return leg

    @staticmethod
    def _failure(leg: Channel, caller: Channel | None, abort: asyncio.Event | None,
                 agent: Agent, timeout: float) -> str | None:
        """Why a leg that has rung is not answered, or None when it is."""
        if caller is not None and not caller.up():
            return "ORIGINATOR_CANCEL"
        if abort is not None and abort.is_set():
            return "LOSE_RACE"
        if not leg.up():
            return leg.hangup_cause or "NORMAL_CLEARING"
        if agent.answer_after is None or agent.answer_after > timeout:
            return "NO_ANSWER"
        return None

    async def _ring(self, leg: Channel, caller: Channel | None, seconds: float,
                    abort: asyncio.Event | None) -> None:
        events = [leg.hungup] + ([caller.hungup] if caller else []) + ([abort] if abort else [])
        waiters = [asyncio.ensure_future(e.wait()) for e in events]
        try:
            await asyncio.wait(waiters, timeout=self.core.clock.real(seconds),
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()

    async def _hang_up_after(self, leg: Channel, seconds: float) -> None:
        waiter = asyncio.ensure_future(leg.hungup.wait())
        try:
            await asyncio.wait([waiter], timeout=self.core.clock.real(seconds))
        finally:
            waiter.cancel()
        self.core.hangup(leg, "NORMAL_CLEARING")

    async def _loopback(self, endpoint: Endpoint, variables: dict[str, str],
                        timeout: float) -> Channel | str:
        core = self.core
        ext = endpoint.target
        context = endpoint.raw.split("/")[2] if endpoint.raw.count("/") >= 2 else "default"
        cid_name = variables.get("origination_caller_id_name", "")
        cid_num = variables.get("origination_caller_id_number", "0000000000")
        b_uuid = str(uuidlib.uuid4())
        a = core.new_channel(direction="outbound", name=f"loopback/{ext}-a",
                             caller_id_name=cid_name, caller_id_number=cid_num,
                             destination=ext, uuid=variables.get("origination_uuid"),
                             variables={**variables, "originate_early_media": "true",
                                        "originate_endpoint": "loopback",
                                        "other_loopback_leg_uuid": b_uuid,
                                        "loopback_leg": "A"},
                             source="mod_loopback", callee_id_name="Outbound Call",
                             callee_id_number=context)
        core.announce_outgoing(a, f"{endpoint.raw}-a")
        core.spawn(core.run_leg(a), f"sim-leg-{a.uuid}")
        b_vars = {k: v for k, v in variables.items() if k != "origination_uuid"}
        b_vars.update({"other_loopback_leg_uuid": a.uuid, "loopback_leg": "B"})
        b = core.new_channel(direction="inbound", name=f"loopback/{ext}-b", uuid=b_uuid,
                             caller_id_name=cid_name, caller_id_number=cid_num, destination=ext,
                             variables=b_vars, source="mod_loopback",
                             callee_id_name="Outbound Call", callee_id_number=context)
        a.other_leg, b.other_leg = b, a
        core.announce_inbound(b)
        core.spawn(core.run_channel(b, core.route_for(ext)), f"sim-call-{b.uuid}")
        core.spawn(self._tie(a, b), f"sim-loop-{a.uuid}")
        core.spawn(self._tie(b, a), f"sim-loop-{b.uuid}")
        waiters = [asyncio.ensure_future(e.wait()) for e in (a.answered, b.hungup, a.hungup)]
        try:
            await asyncio.wait(waiters, timeout=core.clock.real(timeout),
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
        if not a.answered.is_set() or not a.up():
            cause = b.hangup_cause or a.hangup_cause or "NO_ANSWER"
            core.hangup(a, cause)
            return cause
        return a

    async def _tie(self, one: Channel, other: Channel) -> None:
        """A loopback pair hangs up together."""
        await one.hungup.wait()
        self.core.hangup(other, one.hangup_cause or "NORMAL_CLEARING")

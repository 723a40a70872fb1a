"""Bridging: the ``bridge`` application and two legs talking until one of them leaves.

``bridge <dialstring>`` dials the endpoints (``|`` groups one after another, ``,`` endpoints of a
group at once, first answer wins, the others end with ``LOSE_RACE``), answers the caller, fires
``CHANNEL_BRIDGE`` on the caller's leg and waits for a hangup or a transfer; then fires
``CHANNEL_UNBRIDGE``, hangs up the other leg, and — when ``hangup_after_bridge`` is true — the
caller. A failed bridge sets ``originate_disposition`` and ``DIALSTATUS`` as FreeSWITCH does and
returns, so the caller's flow goes on.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from coreswitch.esl.names import EventName
from coreswitch.switch.sim import dialstring
from coreswitch.switch.sim.channel import Channel

if TYPE_CHECKING:
    from coreswitch.switch.sim.core import SwitchCore

_DIALSTATUS = {"NO_ANSWER": "NOANSWER", "USER_BUSY": "BUSY", "NO_USER_RESPONSE": "NOANSWER",
               "ORIGINATOR_CANCEL": "CANCEL", "CALL_REJECTED": "BUSY"}


async def dial_group(core: SwitchCore, group: list[dialstring.Endpoint], variables: dict[str, str],
                     caller: Channel | None, timeout: float) -> Channel | str:
    dialer = core.dialer
    if dialer is None:
        return "DESTINATION_OUT_OF_ORDER"
    if len(group) == 1 and not _leg_timing(group[0]):
        return await dialer.dial(group[0], variables, caller, timeout)
    abort = asyncio.Event()
    tasks = [asyncio.ensure_future(_dial_leg(core, e, variables, caller, timeout=timeout,
                                             abort=abort))
             for e in group]
    winner: Channel | None = None
    causes: list[str] = []
    for next_done in asyncio.as_completed(tasks):
        result = await next_done
        if isinstance(result, Channel):
            if winner is None:
                winner = result
                abort.set()
            else:
                core.hangup(result, "LOSE_RACE")
        else:
            causes.append(result)
    if winner is not None:
        return winner
    return next((c for c in causes if c not in ("LOSE_RACE",)), causes[0] if causes else "")


def _leg_timing(e: dialstring.Endpoint) -> bool:
    return "leg_delay_start" in e.variables or "leg_timeout" in e.variables


async def _dial_leg(core: SwitchCore, e: dialstring.Endpoint, variables: dict[str, str],
                    caller: Channel | None, *, timeout: float, abort: asyncio.Event
                    ) -> Channel | str:
    """One leg of a group, honouring the per-leg ``[leg_delay_start=S]`` (start dialling S
    seconds late, as ring-progressively needs) and ``[leg_timeout=S]`` (ring at most S)."""
    assert core.dialer is not None
    delay = _seconds(e.variables.get("leg_delay_start"), 0.0)
    ring = min(_seconds(e.variables.get("leg_timeout"), timeout), timeout - delay)
    if delay > 0:
        events = [abort] + ([caller.hungup] if caller else [])
        waiters = [asyncio.ensure_future(ev.wait()) for ev in events]
        try:
            await asyncio.wait(waiters, timeout=core.clock.real(delay),
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
        if abort.is_set():
            return "LOSE_RACE"
        if caller is not None and not caller.up():
            return "ORIGINATOR_CANCEL"
    if ring <= 0:
        return "NO_ANSWER"
    return await core.dialer.dial(e, variables, caller, ring, abort)


def _seconds(text: str | None, default: float) -> float:
    try:
        return float(text) if text else default
    except ValueError:
        return default


async def bridge_app(core: SwitchCore, ch: Channel, arg: str) -> str:
    variables, groups = dialstring.parse(arg)
    v = ch.variables
    timeout = float(variables.get("call_timeout") or variables.get("originate_timeout")
                    or v.get("call_timeout") or 60)
    cause = "DESTINATION_OUT_OF_ORDER"
    leg: Channel | None = None
    for group in groups:
        if not ch.up():
            break
        result = await dial_group(core, group, variables, ch, timeout)
        if isinstance(result, Channel):
            leg = result
            break
        cause = result
    if leg is None:
        v.set("originate_disposition", cause)
        v.set("DIALSTATUS", _DIALSTATUS.get(cause, "CHANUNAVAIL"))
        v.set("originate_failed_cause", cause)
        return "_none_"
    core.answer(ch)
    v.set("originate_disposition", "SUCCESS")
    v.set("DIALSTATUS", "SUCCESS")
    await bridge_legs(core, ch, leg)
    if ch.up() and (v.get("hangup_after_bridge") or "").lower() in ("true", "1", "yes"):
        core.hangup(ch, "NORMAL_CLEARING")
    return "_none_"


async def bridge_legs(core: SwitchCore, a: Channel, b: Channel) -> None:
    now = core.clock.now_us()
    a.bridged_us = b.bridged_us = now
    a.bridged_to, b.bridged_to = b, a
    for one, other in ((a, b), (b, a)):
        one.variables.set("bridge_channel", other.name)
        one.variables.set("bridge_uuid", other.uuid)
        one.variables.set("last_bridge_to", other.uuid)
        one.variables.set("signal_bond", other.uuid)
    fields = {"Bridge-A-Unique-ID": a.uuid, "Bridge-B-Unique-ID": b.uuid}
    core.fire(EventName.CHANNEL_BRIDGE, a, fields)
    while a.up() and b.up() and a.transfer_to is None:
        a.wakeup.clear()
        waiters = [asyncio.ensure_future(e.wait()) for e in (a.hungup, b.hungup, a.wakeup)]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
    core.fire(EventName.CHANNEL_UNBRIDGE, a, fields)
    a.bridged_to = b.bridged_to = None
    if b.up():
        core.hangup(b, "NORMAL_CLEARING")
    a.variables.set("last_bridge_hangup_cause", b.hangup_cause or "NORMAL_CLEARING")

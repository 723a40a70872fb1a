"""Virtual agent endpoints reached by ``bridge`` and ``originate``."""

from __future__ import annotations

import asyncio

import pytest

from coreswitch.esl import CommandError, InboundClient
from coreswitch.switch.sim import SimSwitch

from .conftest import Recorder


async def test_bridge_to_an_agent_who_answers_after_a_delay(
        switch: SimSwitch, client: InboundClient, rec: Recorder) -> None:
    agent = switch.add_agent("1001", answer_after=3, talk_time=5)
    call = await switch.place_call("13800000000", "95598")
    await client.execute(call.uuid, "set", "hangup_after_bridge=true")
    done = await client.execute(call.uuid, "bridge", "{call_timeout=20}user/1001")
    assert done["Application-Response"] == "_none_"
    assert done.variable("originate_disposition") == "SUCCESS"
    assert await call.hungup() == "NORMAL_CLEARING"  # hangup_after_bridge
    await call.ended()
    await client.dispatcher.drain()
    assert (agent.offered, agent.answered) == (1, 1)
    bridged = rec.of("CHANNEL_BRIDGE", call.uuid)[0]
    leg = bridged["Bridge-B-Unique-ID"]
    assert bridged["Bridge-A-Unique-ID"] == call.uuid
    leg_events = rec.names(leg)
    assert leg_events[:6] == ["CODEC", "CODEC", "CHANNEL_OUTGOING", "CHANNEL_STATE",
                              "CHANNEL_CREATE", "CHANNEL_ORIGINATE"]
    assert leg_events[-3:] == ["CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY", "CHANNEL_STATE"]
    answer = rec.of("CHANNEL_ANSWER", leg)[0]
    ring = rec.of("CHANNEL_PROGRESS", leg)[0]
    rang = int(answer["Event-Date-Timestamp"]) - int(ring["Event-Date-Timestamp"])
    assert rang >= 3_000_000
    unbridge = rec.of("CHANNEL_UNBRIDGE", call.uuid)[0]
    talked = int(unbridge["Event-Date-Timestamp"]) - int(bridged["Event-Date-Timestamp"])
    assert talked >= 5_000_000  # the agent hung up after talk_time
    assert rec.of("CHANNEL_HANGUP", leg)[0]["Hangup-Cause"] == "NORMAL_CLEARING"


async def test_agent_who_never_answers(switch: SimSwitch, client: InboundClient,
                                       rec: Recorder) -> None:
    switch.add_agent("1002", answer_after=None)
    call = await switch.place_call()
    done = await client.execute(call.uuid, "bridge", "{call_timeout=10}user/1002")
    assert done.variable("originate_disposition") == "NO_ANSWER"
    assert done.variable("DIALSTATUS") == "NOANSWER"
    assert call.channel.up()  # a failed bridge leaves the caller in the flow
    await client.dispatcher.drain()
    legs = [e for e in rec.of("CHANNEL_HANGUP") if e.uuid != call.uuid]
    assert [e["Hangup-Cause"] for e in legs] == ["NO_ANSWER"]
    ring = rec.of("CHANNEL_PROGRESS", legs[0].uuid)[0]
    assert int(legs[0]["Event-Date-Timestamp"]) - int(ring["Event-Date-Timestamp"]) >= 10_000_000


async def test_busy_agent_and_agent_already_on_a_call(switch: SimSwitch,
                                                      client: InboundClient) -> None:
    switch.add_agent("1003", busy=True)
    switch.add_agent("1004", answer_after=0.5)
    first = await switch.place_call("13800000001")
    second = await switch.place_call("13800000002")
    done = await client.execute(first.uuid, "bridge", "user/1003")
    assert done.variable("originate_disposition") == "USER_BUSY"
    assert done.variable("DIALSTATUS") == "BUSY"
    # first caller reaches 1004; while they talk, 1004 is busy for the second caller
    started = switch.wait_for("CHANNEL_BRIDGE", first.uuid)
    bridging = client.execute(first.uuid, "bridge", "user/1004")
    talking = asyncio.ensure_future(bridging)
    await started
    done2 = await client.execute(second.uuid, "bridge", "user/1004")
    assert done2.variable("originate_disposition") == "USER_BUSY"
    first.hangup()
    await talking
    assert await first.hungup() == "NORMAL_CLEARING"


async def test_ring_group_first_answer_wins(switch: SimSwitch, client: InboundClient,
                                            rec: Recorder) -> None:
    switch.add_agent("2001", answer_after=15)
    winner = switch.add_agent("2002", answer_after=1)
    call = await switch.place_call()
    started = switch.wait_for("CHANNEL_BRIDGE", call.uuid)
    await client.execute(call.uuid, "set", "hangup_after_bridge=true")
    bridging = asyncio.ensure_future(client.execute(call.uuid, "bridge", "user/2001,user/2002"))
    bridged = await started
    assert switch.channels[bridged.get("Bridge-B-Unique-ID")].profile.destination_number == (
        winner.extension)
    call.hangup()
    await bridging
    await call.ended()
    await client.dispatcher.drain()
    causes = sorted(e["Hangup-Cause"] for e in rec.of("CHANNEL_HANGUP") if e.uuid != call.uuid)
    assert causes == ["LOSE_RACE", "NORMAL_CLEARING"]


async def test_sequential_failover(switch: SimSwitch, client: InboundClient) -> None:
    switch.add_agent("3001", busy=True)
    switch.add_agent("3002", answer_after=1)
    call = await switch.place_call()
    started = switch.wait_for("CHANNEL_BRIDGE", call.uuid)
    bridging = asyncio.ensure_future(client.execute(call.uuid, "bridge", "user/3001|user/3002"))
    bridged = await started
    assert switch.channels[bridged.get("Bridge-B-Unique-ID")].profile.destination_number == (
        "3002")
    call.hangup()
    await bridging


async def test_originate_no_answer_and_uuid_bridge(switch: SimSwitch,
                                                   client: InboundClient) -> None:
    switch.add_agent("1005", answer_after=None)
    switch.add_agent("1006", answer_after=1)
    with pytest.raises(CommandError) as info:
        await client.bgapi("originate", "{originate_timeout=5}user/1005 &park")
    assert info.value.reply == "-ERR NO_ANSWER\n"
    call = await switch.place_call()
    result = await client.bgapi("originate", "user/1006 &park")
    agent_leg = result.split()[1]
    leg = switch.channels[agent_leg]
    bridged = switch.wait_for("CHANNEL_BRIDGE", call.uuid)
    assert await client.api("uuid_bridge", f"{call.uuid} {agent_leg}") == f"+OK {agent_leg}\n"
    await bridged
    call.hangup()
    await call.ended()
    await leg.destroyed.wait()
    assert leg.hangup_cause == "NORMAL_CLEARING"
    assert agent_leg not in switch.channels

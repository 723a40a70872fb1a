"""Reconnect: the switch's sockets die mid-call; the client fails what was in flight, reconnects
with backoff, subscribes and filters again, reconciles, and the call goes on."""

from __future__ import annotations

import asyncio
import logging
import random

import pytest

from coreswitch.esl import Backoff, ConnectionLost, InboundClient, Reconciliation
from coreswitch.switch.sim import SimSwitch

from .conftest import Recorder


async def test_kill_mid_call_then_reconnect_and_continue(switch: SimSwitch) -> None:
    switch.add_agent("7001", answer_after=None)  # an originate that never finishes
    reconciled: list[Reconciliation] = []
    reconnected = asyncio.Event()

    def on_reconcile(result: Reconciliation) -> None:
        reconciled.append(result)
        if result.reconnect:
            reconnected.set()

    rec = Recorder()
    client = InboundClient(port=switch.port, backoff=Backoff(base=0.01, cap=0.05),
                           connect_timeout=5.0, on_reconcile=on_reconcile,
                           rng=random.Random(7))
    client.subscribe(rec)
    await client.start()
    try:
        staying = await switch.place_call("13800000001", "95598")
        leaving = await switch.place_call("13800000002", "95598")
        await client.filter("Caller-Destination-Number", "95598")
        started = switch.wait_for("PLAYBACK_START", staying.uuid)
        playing = asyncio.ensure_future(
            client.execute(staying.uuid, "playback", "silence_stream://-1"))
        pending_api = asyncio.ensure_future(client.api("originate", "user/7001 &park"))
        await started
        await client.dispatcher.drain()
        assert leaving.uuid in client.dispatcher.channels

        await switch.kill()
        with pytest.raises(ConnectionLost):
            await pending_api
        with pytest.raises(ConnectionLost):
            await playing
        leaving.hangup()  # the second caller gives up while the link is down
        await leaving.ended()
        await switch.start()
        await reconnected.wait()

        assert [r.reconnect for r in reconciled] == [False, True]
        after = reconciled[-1]
        assert staying.uuid in after.live
        assert leaving.uuid in after.gone
        assert leaving.uuid not in client.dispatcher.channels
        assert after.live[staying.uuid]["application"] == "playback"
        assert client.connections == 2
        second_connection = switch.command_lines()[switch.command_lines().index("auth ****", 1):]
        assert second_connection[:5] == [
            "auth ****", "event plain ALL", "filter Event-Name BACKGROUND_JOB",
            "filter Caller-Destination-Number 95598", "api show channels as json"]

        # the call goes on: stop the endless prompt, play another, hear the caller's keys
        await client.api("uuid_break", staying.uuid)
        done = await client.execute(staying.uuid, "playback", "ivr/still-here.wav")
        assert done["Application-Response"] == "FILE PLAYED"
        # re-applied filter: a call to another number is not delivered
        other = await switch.place_call("13800000003", "12345")
        result = await client.bgapi("uuid_exists", other.uuid)  # BACKGROUND_JOB kept
        assert result == "true"
        await client.dispatcher.drain()
        assert rec.names(other.uuid) == []
        assert rec.of("PLAYBACK_START", staying.uuid)[-1]["Playback-File-Path"] == (
            "ivr/still-here.wav")
    finally:
        await client.close()


class _Failures(logging.Handler):
    """Counts the client's failed reconnect attempts as it logs them."""

    def __init__(self, wanted: int) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.wanted = wanted
        self.reached = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("ESL reconnect failed"):
            self.count += 1
            if self.count >= self.wanted:
                self.reached.set()


async def test_reconnect_keeps_trying_while_the_switch_is_down(switch: SimSwitch) -> None:
    client = InboundClient(port=switch.port, backoff=Backoff(base=0.01, cap=0.02),
                           connect_timeout=5.0, rng=random.Random(1))
    failures = _Failures(wanted=3)
    logger = logging.getLogger("coreswitch.esl")
    logger.addHandler(failures)
    await client.start()
    try:
        await switch.kill()
        await failures.reached.wait()  # three attempts against the closed port
        assert not client.connected.is_set()
        await switch.start()
        await client.connected.wait()
        assert switch.server.connections == 2
        assert (await client.api("status")).startswith("UP ")
    finally:
        logger.removeHandler(failures)
        await client.close()

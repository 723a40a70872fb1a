"""Fixtures: a simulated switch on an ephemeral loopback port, and an inbound client to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from coreswitch.esl import Event, InboundClient
from coreswitch.switch.sim import MediaTiming, SimSwitch

from .encoding import EncodingCheck

#: 1 switch second = 20 ms of real time: fast, with margins for a loaded machine.
SPEED = 50.0


class Recorder:
    """Collects the events a client's handlers receive."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def names(self, uuid: str | None = None) -> list[str]:
        return [e.name for e in self.events if uuid is None or e.uuid == uuid]

    def of(self, name: str, uuid: str | None = None) -> list[Event]:
        return [e for e in self.events if e.name == name and (uuid is None or e.uuid == uuid)]


@pytest.fixture
async def switch() -> AsyncIterator[SimSwitch]:
    sw = SimSwitch(port=0, speed=SPEED, media=MediaTiming(default_file=2.0))
    check = EncodingCheck(sw.core.factory)  # every event: cached encodings == built afresh
    await sw.start()
    try:
        yield sw
    finally:
        await sw.stop()
    assert check.problems == []


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
async def client(switch: SimSwitch, rec: Recorder) -> AsyncIterator[InboundClient]:
    c = InboundClient(port=switch.port, connect_timeout=5.0, command_timeout=10.0)
    c.subscribe(rec)
    await c.start()
    try:
        yield c
    finally:
        await c.close()


async def raw_connect(switch: SimSwitch) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(switch.host, switch.port)

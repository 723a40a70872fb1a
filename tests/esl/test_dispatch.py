"""Per-channel ordered dispatch (coreswitch.esl.dispatch) and back-pressure down to the socket."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator

import pytest

from coreswitch.esl import Event, Frame, InboundClient
from coreswitch.esl.dispatch import Dispatcher

from .fakeswitch import FakeSwitch, plain_event_frame

A = "aaaaaaaa-0000-4000-8000-000000000001"
B = "bbbbbbbb-0000-4000-8000-000000000002"


def frame(name: str, channel: str | None = None, **headers: str) -> Frame:
    head = {"Event-Name": name, **headers}
    if channel:
        head["Unique-ID"] = channel
    return Frame({"Content-Type": "text/event-plain"}, Event(head).to_plain())


@pytest.fixture
async def dispatcher() -> AsyncIterator[Dispatcher]:
    d = Dispatcher()
    d.start()
    yield d
    await d.stop()


async def test_a_slow_channel_does_not_hold_up_another(dispatcher: Dispatcher) -> None:
    release = asyncio.Event()
    b_done = asyncio.Event()
    seen: dict[str, list[str]] = defaultdict(list)

    async def handler(event: Event) -> None:
        assert asyncio.current_task() is not None  # never on the socket reader
        seen[event.uuid or ""].append(event["Seq"])
        if event.uuid == A and event["Seq"] == "1":
            await release.wait()
        if event.uuid == B and event["Seq"] == "3":
            b_done.set()

    dispatcher.subscribe(handler)
    for uuid, seq in ((A, "1"), (B, "1"), (A, "2"), (B, "2"), (A, "3"), (B, "3")):
        dispatcher.put(frame("CUSTOM", uuid, Seq=seq))
    await asyncio.wait_for(b_done.wait(), 5)
    assert seen[B] == ["1", "2", "3"]
    assert seen[A] == ["1"]  # A's later events wait for A's slow handler, in order
    release.set()
    await asyncio.wait_for(dispatcher.drain(), 5)
    assert seen[A] == ["1", "2", "3"]


async def test_each_channel_is_handled_strictly_in_order(dispatcher: Dispatcher) -> None:
    seen: dict[str, list[int]] = defaultdict(list)
    active: dict[str, int] = defaultdict(int)
    overlap = []

    async def handler(event: Event) -> None:
        channel = event.uuid or ""
        active[channel] += 1
        overlap.append(active[channel])
        await asyncio.sleep(0)  # yield inside the handler: the lane must still not interleave
        seen[channel].append(int(event["Seq"]))
        active[channel] -= 1

    dispatcher.subscribe(handler)
    channels = [f"chan-{i}" for i in range(10)]
    for seq in range(50):
        for channel in channels:
            dispatcher.put(frame("CUSTOM", channel, Seq=str(seq)))
    await asyncio.wait_for(dispatcher.drain(), 10)
    assert all(seen[c] == list(range(50)) for c in channels)
    assert max(overlap) == 1


async def test_a_failing_handler_does_not_stop_later_events(dispatcher: Dispatcher) -> None:
    seen: list[str] = []

    def handler(event: Event) -> None:
        seen.append(event["Seq"])
        if event["Seq"] == "2":
            raise RuntimeError("handler bug")

    dispatcher.subscribe(handler)
    for seq in "1234":
        dispatcher.put(frame("CUSTOM", A, Seq=seq))
    await asyncio.wait_for(dispatcher.drain(), 5)
    assert seen == ["1", "2", "3", "4"]
    assert dispatcher.handler_errors == 1


async def test_lanes_and_bindings_are_dropped_after_channel_destroy(
        dispatcher: Dispatcher) -> None:
    bound: list[str] = []
    everything: list[tuple[str, str]] = []
    dispatcher.bind(A, lambda e: bound.append(e.name))
    dispatcher.subscribe(lambda e: everything.append((e.name, e.uuid or "")))
    dispatcher.put(frame("CHANNEL_CREATE", A))
    dispatcher.put(frame("CHANNEL_CREATE", B))
    await asyncio.wait_for(dispatcher.drain(), 5)
    assert dispatcher.channels == {A, B}
    dispatcher.put(frame("CHANNEL_HANGUP_COMPLETE", A))
    dispatcher.put(frame("CHANNEL_DESTROY", A))
    await asyncio.wait_for(dispatcher.drain(), 5)
    assert dispatcher.channels == {B}
    # A straggler after the destroy is still delivered, but creates no lane and reaches no
    # binding of the dead channel.
    dispatcher.put(frame("CHANNEL_STATE", A))
    await asyncio.wait_for(dispatcher.drain(), 5)
    assert dispatcher.channels == {B}
    assert bound == ["CHANNEL_CREATE", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY"]
    assert everything[-1] == ("CHANNEL_STATE", A)


async def test_subscriptions_by_name_hooks_and_undecodable_frames(
        dispatcher: Dispatcher) -> None:
    hooked: list[str] = []
    named: list[str] = []
    dispatcher.add_hook(lambda e: hooked.append(e.name))
    dispatcher.subscribe(lambda e: named.append(e.name), {"DTMF"})
    dispatcher.put(frame("CHANNEL_CREATE", A))
    dispatcher.put(Frame({"Content-Type": "text/event-plain"}, b"no event name here\n\n"))
    dispatcher.put(Frame({"Content-Type": "text/event-xml"}, b"<event/>"))
    dispatcher.put(frame("DTMF", A, **{"DTMF-Digit": "5"}))
    await asyncio.wait_for(dispatcher.drain(), 5)
    assert hooked == ["CHANNEL_CREATE", "DTMF"]
    assert named == ["DTMF"]
    assert dispatcher.decode_errors == 2


async def test_full_queues_pause_the_reader_instead_of_growing() -> None:
    """A slow handler: the lane fills, the router waits, the inbox fills, the socket pauses."""
    inbox_limit, lane_limit, total = 16, 8, 3000
    release = asyncio.Event()
    handled = 0
    all_handled = asyncio.Event()
    paused = asyncio.Event()
    high_water = {"inbox": 0, "lane": 0}

    async with FakeSwitch() as sw:
        client = InboundClient(port=sw.port, reconnect=False)
        d = client.dispatcher
        d.inbox_limit, d.lane_limit = inbox_limit, lane_limit
        put = d.put

        def watching_put(f: Frame) -> bool:
            ok = put(f)
            lane = d._lanes.get(A)
            high_water["inbox"] = max(high_water["inbox"], len(d._inbox))
            high_water["lane"] = max(high_water["lane"], len(lane.events) if lane else 0)
            if not ok:
                paused.set()
            return ok

        d.put = watching_put  # type: ignore[method-assign]

        async def slow(event: Event) -> None:
            nonlocal handled
            await release.wait()
            handled += 1
            if handled == total:
                all_handled.set()

        client.subscribe(slow, ["CUSTOM"])
        await asyncio.wait_for(client.start(), 5)
        conn = await sw.connection()
        try:
            one = plain_event_frame({"Event-Name": "CUSTOM", "Unique-ID": A, "Seq": "0"})
            conn.write(one * total)
            await asyncio.wait_for(paused.wait(), 5)
            transport = client._conn._transport if client._conn else None
            assert transport is not None
            assert not transport.is_reading()  # back-pressure reached the socket
            # Bounded: at most one socket read (256 KiB) of frames beyond the inbox limit.
            per_read = 256 * 1024 // len(one) + 1
            assert high_water["inbox"] <= inbox_limit + per_read
            assert high_water["inbox"] < total
            assert high_water["lane"] <= lane_limit
            release.set()
            await asyncio.wait_for(all_handled.wait(), 10)
            assert transport.is_reading()  # resumed once drained
            assert handled == total  # nothing dropped
        finally:
            await client.close()

"""Per-channel ordered dispatch (coreswitch.esl.dispatch) and back-pressure down to the socket."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable

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
        assert asyncio.current_task() is not None  # a coroutine handler runs in a task
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


async def test_plain_function_handlers_run_at_once_when_the_router_is_idle(
        dispatcher: Dispatcher) -> None:
    # No queue hop, no task, no loop turn: the frame is routed in the reader's own turn.
    seen: list[str] = []
    dispatcher.subscribe(lambda event: seen.append(event["Seq"]))
    await dispatcher.routed()  # the router is up and waiting
    for seq in "123":
        dispatcher.put(frame("CUSTOM", A, Seq=seq))
        assert seen[-1] == seq  # handled before put returned
    assert dispatcher._lanes[A].task is None  # no task for this channel either
    assert dispatcher.delivered == 3


async def test_frames_behind_a_queued_one_wait_for_the_router_in_order() -> None:
    # The router has not yet run: frames queue, and a later frame is never routed past them.
    dispatcher = Dispatcher()
    tasks: list[str] = []
    seen: list[str] = []

    def handler(event: Event) -> None:
        task = asyncio.current_task()
        tasks.append(task.get_name() if task else "")
        seen.append(event["Seq"])

    dispatcher.subscribe(handler)
    dispatcher.start()
    try:
        for seq in "123":
            dispatcher.put(frame("CUSTOM", A, Seq=seq))
        assert seen == []
        await asyncio.wait_for(dispatcher.drain(), 5)
        assert seen == ["1", "2", "3"]
        assert tasks == ["esl-router"] * 3
        dispatcher.put(frame("CUSTOM", A, Seq="4"))  # the router is idle again: at once
        assert seen[-1] == "4"
    finally:
        await dispatcher.stop()


async def test_a_lane_switches_to_its_own_task_at_the_first_awaitable_and_keeps_order(
        dispatcher: Dispatcher) -> None:
    seen: list[tuple[str, str]] = []
    release, waiting, b_seen = asyncio.Event(), asyncio.Event(), asyncio.Event()

    def sync_first(event: Event) -> None:
        seen.append(("sync", event["Seq"]))
        if event.uuid == B:
            b_seen.set()

    async def slow_second(event: Event) -> None:
        if event["Seq"] == "2":
            waiting.set()
            await release.wait()
        seen.append(("async", event["Seq"]))

    def maybe_async(event: Event) -> Awaitable[None] | None:
        return slow_second(event) if event["Seq"] in ("2", "4") else None

    dispatcher.subscribe(sync_first)
    dispatcher.subscribe(maybe_async)
    for seq in "12345":
        dispatcher.put(frame("CUSTOM", A, Seq=seq))
    dispatcher.put(frame("CUSTOM", B, Seq="1"))
    await asyncio.wait_for(asyncio.gather(waiting.wait(), b_seen.wait()), 5)
    # A waits inside event 2; B (still on the router) is not held up.
    assert seen == [("sync", "1"), ("sync", "2"), ("sync", "1")]
    lane = dispatcher._lanes[A]
    assert lane.task is not None
    assert [e["Seq"] for e in lane.events] == ["3", "4", "5"]
    release.set()
    await asyncio.wait_for(dispatcher.drain(), 5)
    assert [s for s in seen if s[1] != "1"] == [
        ("sync", "2"), ("async", "2"), ("sync", "3"), ("sync", "4"), ("async", "4"),
        ("sync", "5")]


@pytest.mark.parametrize("async_subscriber", [False, True])
async def test_a_binding_made_by_a_subscriber_sees_the_same_event(
        dispatcher: Dispatcher, async_subscriber: bool) -> None:
    bound: list[str] = []

    def session(event: Event) -> None:
        bound.append(event.name)

    def bind_on_create(event: Event) -> None:
        if event.name == "CHANNEL_CREATE":
            dispatcher.bind(A, session)

    async def bind_on_create_async(event: Event) -> None:
        await asyncio.sleep(0)
        bind_on_create(event)

    dispatcher.subscribe(bind_on_create_async if async_subscriber else bind_on_create)
    dispatcher.put(frame("CHANNEL_CREATE", A))
    dispatcher.put(frame("CHANNEL_ANSWER", A))
    dispatcher.put(frame("CHANNEL_DESTROY", A))
    await asyncio.wait_for(dispatcher.drain(), 5)
    assert bound == ["CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_DESTROY"]
    assert dispatcher.channels == set()
    assert A not in dispatcher._bound


async def test_a_failing_coroutine_handler_is_counted_and_the_lane_goes_on(
        dispatcher: Dispatcher) -> None:
    seen: list[str] = []

    async def handler(event: Event) -> None:
        seen.append(event["Seq"])
        if event["Seq"] == "1":
            raise RuntimeError("handler bug")

    dispatcher.subscribe(handler)
    dispatcher.subscribe(lambda e: seen.append("after-" + e["Seq"]))
    for seq in "12":
        dispatcher.put(frame("CUSTOM", A, Seq=seq))
    await asyncio.wait_for(dispatcher.drain(), 5)
    assert seen == ["1", "after-1", "2", "after-2"]
    assert dispatcher.handler_errors == 1

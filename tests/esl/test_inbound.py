"""InboundClient's subscription line and backoff, checked the way FreeSWITCH reads them."""

from __future__ import annotations

import asyncio
import random

from coreswitch.esl import Backoff, InboundClient

from .fakeswitch import FakeSwitch

REQUIRED = {"BACKGROUND_JOB", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP",
            "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY"}


def freeswitch_subscription(line: str) -> tuple[str, set[str], set[str]]:
    """(format, event types, CUSTOM subclasses) as mod_event_socket's `event` command reads it:
    once CUSTOM has been named, every later word is taken as a subclass name."""
    _, fmt, *words = line.split(" ")
    types: set[str] = set()
    subclasses: set[str] = set()
    custom = False
    for word in words:
        if custom:
            subclasses.add(word)
        else:
            types.add(word)
            custom = word == "CUSTOM"
    return fmt, types, subclasses


async def subscription_line(**kwargs: object) -> str:
    async with FakeSwitch() as sw:
        client = InboundClient(port=sw.port, reconnect=False, **kwargs)  # type: ignore[arg-type]
        try:
            await asyncio.wait_for(client.start(), 5)
        finally:
            await client.close()
        return next(c.line for c in sw.commands if c.line.startswith("event "))


async def test_all_events_in_json() -> None:
    assert await subscription_line(event_format="json") == "event json ALL"


async def test_a_narrow_subscription_still_gets_what_the_client_needs() -> None:
    fmt, types, subclasses = freeswitch_subscription(
        await subscription_line(events=["CHANNEL_ANSWER", "DTMF"]))
    assert fmt == "plain"
    assert types == {"CHANNEL_ANSWER", "DTMF"} | REQUIRED
    assert subclasses == set()


async def test_custom_subclasses_do_not_swallow_the_required_events() -> None:
    _, types, subclasses = freeswitch_subscription(
        await subscription_line(events=["CHANNEL_ANSWER", "CUSTOM", "sofia::register"]))
    assert types >= REQUIRED
    assert subclasses == {"sofia::register"}


def test_backoff_grows_up_to_the_cap_and_resets() -> None:
    rng = random.Random(7)
    backoff = Backoff(base=0.1, cap=2.0)
    delays = [backoff.next_delay(rng) for _ in range(12)]
    assert all(0 <= d <= 2.0 for d in delays)
    assert all(d <= 0.1 * 2 ** n for n, d in enumerate(delays))
    assert max(delays[6:]) > 0.4  # it does grow
    backoff.reset()
    assert backoff.next_delay(rng) <= 0.1


async def test_a_control_link_takes_only_background_jobs() -> None:
    # coreswitch serve's inbound link: api/bgapi only, each call's events come on its own socket
    fmt, types, _ = freeswitch_subscription(
        await subscription_line(events=(), channels=False, event_format="json"))
    assert (fmt, types) == ("json", {"BACKGROUND_JOB"})

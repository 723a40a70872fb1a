"""Events nobody can receive are not built, but keep their place in the numbering."""

from __future__ import annotations

from coreswitch.switch.sim.clock import SimClock
from coreswitch.switch.sim.core import SwitchCore
from coreswitch.switch.sim.wire import SimEvent


class OnlyAnswers:
    """A listener-like receiver subscribed to CHANNEL_ANSWER only."""

    def __init__(self) -> None:
        self.events: list[SimEvent] = []

    def may_want(self, name: str, uuid: str | None) -> bool:
        return name == "CHANNEL_ANSWER"

    def deliver(self, event: SimEvent) -> None:
        if event.name == "CHANNEL_ANSWER":
            self.events.append(event)


async def test_unheard_events_are_skipped_but_numbered() -> None:
    core = SwitchCore(SimClock())
    receiver = OnlyAnswers()
    core.bus.listeners.add(receiver.deliver)
    made: list[str] = []
    make = core.factory.make

    def counting_make(name: str, *args: object, **kw: object) -> SimEvent:
        made.append(str(name))
        return make(name, *args, **kw)  # type: ignore[arg-type]
    core.factory.make = counting_make  # type: ignore[method-assign]
    ch = core.new_channel(direction="inbound", name="sofia/internal/1000@sim",
                          caller_id_name="", caller_id_number="1000", destination="95598")
    core.announce_inbound(ch)  # CODEC x2, CHANNEL_STATE, CHANNEL_CREATE, CALLSTATE, STATE x2
    core.answer(ch)  # CHANNEL_ANSWER, then CHANNEL_CALLSTATE
    assert made == ["CHANNEL_ANSWER"]
    assert core.bus.fired == 9
    [answer] = receiver.events
    assert answer.get("Event-Sequence") == "8"
    assert answer.get("Unique-ID") == ch.uuid


async def test_an_observer_hears_everything() -> None:
    core = SwitchCore(SimClock())
    seen: list[str] = []
    core.bus.observe(lambda event: seen.append(event.name))
    ch = core.new_channel(direction="inbound", name="sofia/internal/1000@sim",
                          caller_id_name="", caller_id_number="1000", destination="95598")
    core.announce_inbound(ch)
    assert seen == ["CODEC", "CODEC", "CHANNEL_STATE", "CHANNEL_CREATE", "CHANNEL_CALLSTATE",
                    "CHANNEL_STATE", "CHANNEL_STATE"]

"""A check that events built from cached header runs are the events FreeSWITCH's shapes say.

:class:`EncodingCheck` wraps a switch's :meth:`EventFactory.make`: for every event it also builds
the header pairs the straightforward way (:func:`reference_pairs`: the template, the channel's
headers and variables as they are at that moment) and compares the pairs, both encoded frames
(against :func:`~coreswitch.switch.sim.wire.json_body`/``plain_body`` of those pairs), the name
and the ``Unique-ID`` the event reports. The ``switch`` fixture runs it under every test that uses
that fixture.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from coreswitch.esl import Event
from coreswitch.switch.sim.channel import Channel
from coreswitch.switch.sim.clock import SimClock
from coreswitch.switch.sim.events import EventFactory
from coreswitch.switch.sim.templates import template
from coreswitch.switch.sim.wire import SimEvent, event_frame, json_body, plain_body


def reference_pairs(factory: EventFactory, event: SimEvent, name: str, channel: Channel | None,
                    fields: Mapping[str, str] | None, *, lead: Mapping[str, str] | None,
                    variables: bool | None) -> list[tuple[str, str]]:
    """The pairs of ``event`` as they are made without any caching (times and the sequence
    number taken from the event itself)."""
    headers = event.event.headers
    tpl = template(name)
    us = int(headers["Event-Date-Timestamp"])
    pairs: list[tuple[str, str]] = list((lead or {}).items())
    pairs += [
        ("Event-Name", name), ("Core-UUID", factory.core_uuid),
        ("FreeSWITCH-Hostname", factory.hostname), ("FreeSWITCH-Switchname", factory.hostname),
        ("FreeSWITCH-IPv4", factory.ipv4), ("FreeSWITCH-IPv6", factory.ipv6),
        ("Event-Date-Local", SimClock.local(us)), ("Event-Date-GMT", SimClock.gmt(us)),
        ("Event-Date-Timestamp", str(us)),
        ("Event-Calling-File", tpl.calling[0]), ("Event-Calling-Function", tpl.calling[1]),
        ("Event-Calling-Line-Number", tpl.calling[2]),
        ("Event-Sequence", str(factory.sequence)),
    ]
    rest = dict(fields or {})
    pairs += [(n, rest.pop(n)) for n in tpl.pre if n in rest]
    if channel is not None and tpl.channel:
        pairs += channel.channel_headers().items()
        if tpl.variables if variables is None else variables:
            pairs += channel.variable_headers().items()
    pairs += [(n, rest.pop(n)) for n in tpl.post if n in rest]
    pairs += rest.items()
    return pairs


class EncodingCheck:
    """Compares every event a factory makes with :func:`reference_pairs`; ``problems`` lists
    the differences (empty when all is well)."""

    def __init__(self, factory: EventFactory) -> None:
        self.factory = factory
        self.problems: list[str] = []
        self.checked = 0
        self._make: Callable[..., SimEvent] = factory.make
        factory.make = self._checked_make  # type: ignore[method-assign]

    def _checked_make(self, name: str, channel: Channel | None = None,
                      fields: Mapping[str, str] | None = None, **kw: Any) -> SimEvent:
        event = self._make(name, channel, fields, **kw)
        self.check(event, str(name), channel, fields, lead=kw.get("lead"),
                   variables=kw.get("variables"))
        return event

    def check(self, event: SimEvent, name: str, channel: Channel | None,
              fields: Mapping[str, str] | None, *, lead: Mapping[str, str] | None,
              variables: bool | None) -> None:
        self.checked += 1
        # the frames first: as a listener asks for them, before anything reads the pairs
        framed = {fmt: event.frame(fmt) for fmt in ("json", "plain")}
        expected = reference_pairs(self.factory, event, name, channel, fields, lead=lead,
                                   variables=variables)
        decoded = Event(dict(expected), event.body)
        what = f"{name} #{self.factory.sequence}"
        if list(event.pairs) != expected:
            self.problems.append(f"{what}: pairs differ")
        if framed["json"] != event_frame(json_body(expected, event.body), "json"):
            self.problems.append(f"{what}: JSON frame differs")
        if framed["plain"] != event_frame(plain_body(expected, event.body), "plain"):
            self.problems.append(f"{what}: plain frame differs")
        if event.name != decoded.name:
            self.problems.append(f"{what}: name {event.name!r} != {decoded.name!r}")
        if event.get("Unique-ID", "-") != decoded.get("Unique-ID", "-"):
            self.problems.append(f"{what}: Unique-ID differs")

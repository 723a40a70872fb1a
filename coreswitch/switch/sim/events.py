"""Building events in FreeSWITCH's shapes and firing them to every listener.

:class:`EventFactory` lays each event out as the captures do: the core block (``Event-Name``,
``Core-UUID``, host fields, ``Event-Date-*``, ``Event-Calling-*``, an increasing
``Event-Sequence``), the template's leading and ``pre`` headers, the channel block and its
variables when the template carries them, then the ``post`` headers. :class:`EventBus` hands
every fired event to the ESL listeners (each applies its own subscription and filters) and to
in-process observers (tests awaiting "the CHANNEL_HANGUP of this call").
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from coreswitch.switch.sim.channel import Channel
from coreswitch.switch.sim.clock import SimClock
from coreswitch.switch.sim.templates import template
from coreswitch.switch.sim.wire import SimEvent

Observer = Callable[[SimEvent], None]


class EventFactory:
    def __init__(self, clock: SimClock, core_uuid: str, *, hostname: str = "sim",
                 ipv4: str = "127.0.0.1", ipv6: str = "::1") -> None:
        self.clock = clock
        self.core_uuid = core_uuid
        self.hostname = hostname
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.sequence = 0

    def make(
        self,
        name: str,
        channel: Channel | None = None,
        fields: Mapping[str, str] | None = None,
        *,
        lead: Mapping[str, str] | None = None,
        body: str | None = None,
        variables: bool | None = None,
    ) -> SimEvent:
        name = str(name)  # an EventName member or a plain name
        tpl = template(name)
        us = self.clock.now_us()
        self.sequence += 1
        pairs: list[tuple[str, str]] = list((lead or {}).items())
        pairs += [
            ("Event-Name", name), ("Core-UUID", self.core_uuid),
            ("FreeSWITCH-Hostname", self.hostname), ("FreeSWITCH-Switchname", self.hostname),
            ("FreeSWITCH-IPv4", self.ipv4), ("FreeSWITCH-IPv6", self.ipv6),
            ("Event-Date-Local", SimClock.local(us)), ("Event-Date-GMT", SimClock.gmt(us)),
            ("Event-Date-Timestamp", str(us)),
            ("Event-Calling-File", tpl.calling[0]), ("Event-Calling-Function", tpl.calling[1]),
            ("Event-Calling-Line-Number", tpl.calling[2]),
            ("Event-Sequence", str(self.sequence)),
        ]
        rest = dict(fields or {})
        pairs += [(n, rest.pop(n)) for n in tpl.pre if n in rest]
        if channel is not None and tpl.channel:
            pairs += channel.channel_headers().items()
            if tpl.variables if variables is None else variables:
                pairs += channel.variable_headers().items()
        pairs += [(n, rest.pop(n)) for n in tpl.post if n in rest]
        pairs += rest.items()
        return SimEvent(pairs, body)


class EventBus:
    """Fires events to the ESL listeners and to in-process observers, in firing order."""

    def __init__(self) -> None:
        self.listeners: set[Callable[[SimEvent], None]] = set()
        self._observers: list[Observer] = []
        self.fired = 0

    def fire(self, event: SimEvent) -> None:
        self.fired += 1
        for deliver in list(self.listeners):
            deliver(event)
        for observer in list(self._observers):
            observer(event)

    def observe(self, observer: Observer) -> Callable[[], None]:
        """Call ``observer(event)`` for every event; returns a function that stops it."""
        self._observers.append(observer)

        def stop() -> None:
            if observer in self._observers:
                self._observers.remove(observer)
        return stop

    def wait_for(
        self, name: str, uuid: str | None = None,
        where: Callable[[SimEvent], bool] | None = None,
    ) -> asyncio.Future[SimEvent]:
        """A future for the next event named ``name`` (of channel ``uuid``, matching ``where``).

        Create it *before* doing what fires the event.
        """
        fut: asyncio.Future[SimEvent] = asyncio.get_running_loop().create_future()

        def check(event: SimEvent) -> None:
            if fut.done():
                stop()
                return
            if event.name != name or (uuid is not None and event.get("Unique-ID") != uuid):
                return
            if where is not None and not where(event):
                return
            fut.set_result(event)
            stop()
        stop = self.observe(check)
        return fut

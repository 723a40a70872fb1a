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
from dataclasses import dataclass

from coreswitch.switch.sim.channel import Channel
from coreswitch.switch.sim.clock import SimClock
from coreswitch.switch.sim.templates import Template, template
from coreswitch.switch.sim.wire import Headers, Pairs, SimEvent

Observer = Callable[[SimEvent], None]


class _Stamp(Headers):
    """``Event-Date-Timestamp``, the template's ``Event-Calling-*`` and ``Event-Sequence``: the
    per-event part of the core block, formatted straight to each encoding."""

    __slots__ = ("_calling", "_sequence", "_us")

    def __init__(self, us: int, calling: Headers, sequence: int) -> None:
        # (Headers.__init__ not called: every slot is set here, this runs once per event)
        self._pairs = ()
        self._json = self._plain = None
        self._us, self._calling, self._sequence = us, calling, sequence

    @property
    def pairs(self) -> Pairs:
        return [("Event-Date-Timestamp", str(self._us)), *self._calling.pairs,
                ("Event-Sequence", str(self._sequence))]

    def json(self) -> bytes:
        if self._json is None:
            self._json = b'"Event-Date-Timestamp":"%d",%b,"Event-Sequence":"%d"' % (
                self._us, self._calling.json(), self._sequence)
        return self._json

    def plain(self) -> bytes:
        if self._plain is None:
            self._plain = b"Event-Date-Timestamp: %d\n%bEvent-Sequence: %d\n" % (
                self._us, self._calling.plain(), self._sequence)
        return self._plain


@dataclass(frozen=True)
class _Shape:
    """What every event of one name shares: its template and its constant header runs."""

    template: Template
    head: Headers  # Event-Name … FreeSWITCH-IPv6
    calling: Headers  # Event-Calling-File, -Function, -Line-Number


class EventFactory:
    def __init__(self, clock: SimClock, core_uuid: str, *, hostname: str = "sim",
                 ipv4: str = "127.0.0.1", ipv6: str = "::1") -> None:
        self.clock = clock
        self.core_uuid = core_uuid
        self.hostname = hostname
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.sequence = 0
        self._shapes: dict[str, _Shape] = {}
        self._dates: tuple[int, Headers] = (-1, Headers(()))

    def _shape(self, name: str) -> _Shape:
        shape = self._shapes.get(name)
        if shape is None:
            tpl = template(name)
            shape = self._shapes[name] = _Shape(tpl, Headers((
                ("Event-Name", name), ("Core-UUID", self.core_uuid),
                ("FreeSWITCH-Hostname", self.hostname), ("FreeSWITCH-Switchname", self.hostname),
                ("FreeSWITCH-IPv4", self.ipv4), ("FreeSWITCH-IPv6", self.ipv6),
            )), Headers((("Event-Calling-File", tpl.calling[0]),
                         ("Event-Calling-Function", tpl.calling[1]),
                         ("Event-Calling-Line-Number", tpl.calling[2]))))
        return shape

    def _date_headers(self, us: int) -> Headers:
        """``Event-Date-Local`` and ``Event-Date-GMT``: whole seconds, so made once a second."""
        second, headers = self._dates
        if us // 1_000_000 != second:
            headers = Headers((("Event-Date-Local", SimClock.local(us)),
                               ("Event-Date-GMT", SimClock.gmt(us))))
            self._dates = (us // 1_000_000, headers)
        return headers

    def carries_channel(self, name: str) -> bool:
        """Whether events ``name`` carry the channel block (and so its ``Unique-ID``)."""
        return self._shape(name).template.channel

    def skip(self) -> None:
        """An event fired that nobody would receive: it is not built, but it takes its
        ``Event-Sequence`` number, as on FreeSWITCH, so the numbers others see do not change."""
        self.sequence += 1

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
        """One event in its template's shape: the ``lead`` headers, the core block, the
        template's ``pre`` fields, the channel block (and its variables), then the ``post`` and
        any other fields. A new ``Event-Sequence`` number each time."""
        name = str(name)  # an EventName member or a plain name
        shape = self._shape(name)
        tpl = shape.template
        us = self.clock.now_us()
        self.sequence += 1
        dates = self._dates[1] if us // 1_000_000 == self._dates[0] else self._date_headers(us)
        runs: list[Headers] = [shape.head, dates, _Stamp(us, shape.calling, self.sequence)]
        if lead:
            runs.insert(0, Headers(list(lead.items())))
        rest = dict(fields) if fields else None
        if rest and tpl.pre:
            pre = [(n, rest.pop(n)) for n in tpl.pre if n in rest]
            if pre:
                runs.append(Headers(pre))
        uuid: str | None = None
        if channel is not None and tpl.channel:
            uuid = channel.uuid
            runs += channel.event_headers()
            if tpl.variables if variables is None else variables:
                runs.append(channel.variables.headers())
        if rest:
            post = [(n, rest.pop(n)) for n in tpl.post if n in rest] if tpl.post else []
            post += rest.items()
            runs.append(Headers(post))
        if sets_routing(fields, lead):  # headers of their own: read them
            return SimEvent.of(runs, body)
        return SimEvent.of(runs, body, name=name, uuid=uuid, uuid_known=True)


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

    def interested(self, name: str, uuid: str | None) -> bool:
        """Whether an event ``name`` of channel ``uuid`` (None: no channel) could reach anyone:
        an observer, or a listener whose subscription may take it. When not, the core need not
        build the event at all (:meth:`SwitchCore.fire`)."""
        return bool(self._observers) or any(
            may_want(deliver, name, uuid) for deliver in self.listeners)


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


def sets_routing(fields: Mapping[str, str] | None, lead: object) -> bool:
    """Whether an event's own fields set what listeners route on (``Event-Name``,
    ``Unique-ID``): then those are read from the built event, not from its name and channel."""
    return bool(fields and ("Event-Name" in fields or "Unique-ID" in fields)) or (
        isinstance(lead, Mapping) and "Unique-ID" in lead)


def may_want(deliver: Callable[[SimEvent], None], name: str, uuid: str | None) -> bool:
    """Ask the listener behind ``deliver`` (its ``may_want``); any other callable wants all."""
    probe = getattr(getattr(deliver, "__self__", None), "may_want", None)
    return probe is None or bool(probe(name, uuid))

"""Per-channel ordered delivery of events, with bounded queues and no task per event.

::

    reader ──frames──▶ inbox (bounded) ──▶ router task ──▶ lane of channel A ──▶ handlers, in order
                                          (decode,      └─▶ lane of channel B ──▶ handlers, in order
                                           completions) └─▶ global lane (no Unique-ID)

* The **router** is one task. It decodes each frame into an :class:`Event`, lets the completion
  hooks (bgapi jobs, ``execute`` results) see it first, then appends it to the lane of its channel.
* A **lane** is a bounded queue plus one task that runs the handlers for its events one after
  another, so a channel's events are handled in the order the switch sent them while different
  channels proceed concurrently. A lane ends after it has handled ``CHANNEL_DESTROY``; its state is
  dropped then.
* When a lane is full the router waits for it; when the inbox is full the reader pauses the socket.
  Nothing is dropped and no queue grows without bound.
* A handler that raises is logged and counted; the lane goes on with the next event.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from coreswitch.esl.errors import ProtocolError
from coreswitch.esl.event import Event
from coreswitch.esl.frame import Frame
from coreswitch.esl.names import ContentType, EventName

log = logging.getLogger("coreswitch.esl")

Handler = Callable[[Event], Awaitable[None] | None]
#: Sees every event on the router, before any handler: must be quick and must not block.
Hook = Callable[[Event], None]

_GLOBAL = ""


class _Lane:
    __slots__ = ("closing", "events", "space", "task", "waiter")

    def __init__(self) -> None:
        self.closing = False  # CHANNEL_DESTROY queued: finish the queue, then end
        self.events: deque[Event] = deque()
        self.waiter: asyncio.Future[None] | None = None  # lane task waiting for events
        self.space: asyncio.Future[None] | None = None  # router waiting for room
        self.task: asyncio.Task[None] | None = None


class Dispatcher:
    """Decode event frames and deliver them to handlers, ordered per channel."""

    def __init__(
        self,
        *,
        inbox_limit: int = 4096,
        lane_limit: int = 512,
        on_resume: Callable[[], None] | None = None,
    ) -> None:
        self.inbox_limit = inbox_limit
        self.lane_limit = lane_limit
        self.on_resume = on_resume
        self._inbox: deque[Frame] = deque()
        self._inbox_waiter: asyncio.Future[None] | None = None
        self._lanes: dict[str, _Lane] = {}
        self._handlers: list[tuple[frozenset[str] | None, Handler]] = []
        self._bound: dict[str, list[Handler]] = {}
        self._hooks: list[Hook] = []
        self._router: asyncio.Task[None] | None = None
        self._destroyed: dict[str, None] = {}  # recently destroyed channels, oldest first
        self._outstanding = 0  # frames put but not yet handled
        self._idle: list[asyncio.Future[None]] = []
        self.handler_errors = 0
        self.decode_errors = 0
        self.delivered = 0

    # -- registration ---------------------------------------------------------------------------
    def subscribe(self, handler: Handler, names: frozenset[str] | set[str] | None = None) -> None:
        """Call ``handler`` for every event (or those named), in its channel's lane."""
        self._handlers.append((frozenset(names) if names is not None else None, handler))

    def unsubscribe(self, handler: Handler) -> None:
        self._handlers = [(n, h) for n, h in self._handlers if h is not handler]

    def bind(self, uuid: str, handler: Handler) -> None:
        """Call ``handler`` for every event of one channel (e.g. its call session)."""
        self._bound.setdefault(uuid, []).append(handler)

    def unbind(self, uuid: str, handler: Handler | None = None) -> None:
        if handler is None:
            self._bound.pop(uuid, None)
            return
        handlers = self._bound.get(uuid)
        if handlers and handler in handlers:
            handlers.remove(handler)

    def add_hook(self, hook: Hook) -> None:
        self._hooks.append(hook)

    @property
    def channels(self) -> set[str]:
        """Channels with a live lane (events seen, ``CHANNEL_DESTROY`` not yet handled)."""
        return {uuid for uuid in self._lanes if uuid != _GLOBAL}

    # -- the reader's side ----------------------------------------------------------------------
    def put(self, frame: Frame) -> bool:
        """Queue a frame from the reader. Returns False when the reader should pause."""
        self._inbox.append(frame)
        self._outstanding += 1
        waiter = self._inbox_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        return len(self._inbox) < self.inbox_limit

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        if self._router is None or self._router.done():
            self._router = asyncio.get_running_loop().create_task(self._route(), name="esl-router")

    async def drain(self) -> None:
        """Wait until every event queued so far has been handled (tests, clean shutdown)."""
        if self._outstanding:
            fut = asyncio.get_running_loop().create_future()
            self._idle.append(fut)
            await fut

    def _done_one(self) -> None:
        self._outstanding -= 1
        if not self._outstanding and self._idle:
            for fut in self._idle:
                if not fut.done():
                    fut.set_result(None)
            self._idle.clear()

    async def stop(self) -> None:
        tasks = [lane.task for lane in self._lanes.values() if lane.task is not None]
        if self._router is not None:
            tasks.append(self._router)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._lanes.clear()
        self._inbox.clear()
        self._router = None
        self._outstanding = 0
        self._release_idle()

    def _release_idle(self) -> None:
        for fut in self._idle:
            if not fut.done():
                fut.set_result(None)
        self._idle.clear()

    def forget(self, uuid: str) -> None:
        """Drop a channel's lane and bindings (it vanished while we were disconnected)."""
        lane = self._lanes.pop(uuid, None)
        if lane is not None:
            lane.closing = True
            waiter = lane.waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        self._bound.pop(uuid, None)

    # -- router ---------------------------------------------------------------------------------
    async def _route(self) -> None:
        loop = asyncio.get_running_loop()
        inbox = self._inbox
        while True:
            if not inbox:
                self._inbox_waiter = loop.create_future()
                await self._inbox_waiter
                self._inbox_waiter = None
                continue
            frame = inbox.popleft()
            if self.on_resume is not None and len(inbox) <= self.inbox_limit // 2:
                self.on_resume()  # a no-op unless the reader is paused
            event = self._decode(frame)
            if event is None:
                self._done_one()
                continue
            for hook in self._hooks:
                try:
                    hook(event)
                except Exception:
                    log.exception("ESL completion hook failed on %s", event.name)
            uuid = event.headers.get("Unique-ID") or _GLOBAL
            if uuid in self._destroyed:
                uuid = _GLOBAL  # a straggler after CHANNEL_DESTROY: no new lane for it
            lane = self._lanes.get(uuid)
            if lane is None:
                lane = self._lanes[uuid] = _Lane()
                lane.task = loop.create_task(self._run_lane(uuid, lane), name=f"esl-lane-{uuid}")
            while len(lane.events) >= self.lane_limit:
                lane.space = loop.create_future()
                await lane.space
            lane.events.append(event)
            if uuid and event.headers.get("Event-Name") == EventName.CHANNEL_DESTROY:
                lane.closing = True
                del self._lanes[uuid]
                self._destroyed[uuid] = None
                if len(self._destroyed) > 4096:
                    del self._destroyed[next(iter(self._destroyed))]
            waiter = lane.waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    def _decode(self, frame: Frame) -> Event | None:
        ctype = frame.content_type
        try:
            if ctype == ContentType.EVENT_PLAIN:
                return Event.from_plain(frame.body)
            if ctype == ContentType.EVENT_JSON:
                return Event.from_json(frame.body)
            raise ProtocolError(f"{ctype} events are not supported; subscribe with plain or json")
        except ProtocolError as exc:
            self.decode_errors += 1
            log.error("dropping undecodable ESL event: %s", exc)
            return None

    async def _run_lane(self, uuid: str, lane: _Lane) -> None:
        loop = asyncio.get_running_loop()
        events = lane.events
        try:
            while True:
                if not events:
                    if lane.closing:
                        break
                    lane.waiter = loop.create_future()
                    await lane.waiter
                    lane.waiter = None
                    continue
                event = events.popleft()
                space = lane.space
                if space is not None and not space.done():
                    space.set_result(None)
                try:
                    await self._deliver(uuid, event)
                finally:
                    self._done_one()
        finally:
            if self._lanes.get(uuid) is lane:
                del self._lanes[uuid]
            if uuid and lane.closing:
                self._bound.pop(uuid, None)

    async def _deliver(self, uuid: str, event: Event) -> None:
        self.delivered += 1
        name = event.headers.get("Event-Name", "")
        for names, handler in self._handlers:
            if names is None or name in names:
                await self._call(handler, event)
        for handler in self._bound.get(uuid, ()):
            await self._call(handler, event)

    async def _call(self, handler: Handler, event: Event) -> None:
        try:
            result = handler(event)
            if result is not None:
                await result
        except Exception:
            self.handler_errors += 1
            log.exception("ESL event handler %r failed on %s", handler, event.name)

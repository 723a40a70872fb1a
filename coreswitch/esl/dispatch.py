"""Per-channel ordered delivery of events, with bounded queues and no task per event.

::

    reader ──frames──▶ inbox (bounded) ──▶ router task ──▶ lane of channel A ──▶ handlers, in order
                                          (decode,      └─▶ lane of channel B ──▶ handlers, in order
                                           completions) └─▶ global lane (no Unique-ID)

* The **router** decodes each frame into an :class:`Event`, lets the completion hooks (bgapi
  jobs, ``execute`` results) see it first, then hands it to the lane of its channel. It is one
  task, but while that task is idle (no frame queued) a frame is routed right in the reader's
  turn (:meth:`Dispatcher.put`): waking the task would only do the same one loop turn later,
  and under load each turn is long. Frames queue behind any frame still queued, so order holds.
* A **lane** delivers its channel's events one after another, so a channel's events are handled in
  the order the switch sent them while different channels proceed concurrently. While a lane is
  idle the router calls the handlers itself; as long as they are plain functions that return
  ``None``, nothing else is needed: no queue hop, no task, no wake-up. (A plain function blocks
  the event loop while it runs wherever it is called, so running it on the router costs the
  other channels nothing more.) The first time a handler returns an awaitable (a coroutine
  function's coroutine), the lane gets a bounded queue and one task of its own,
  which awaits it, finishes that event's handlers and then runs the lane's later events, so a slow
  coroutine never holds up other channels. A lane ends after it has handled ``CHANNEL_DESTROY``;
  its state (and its task) is dropped then.
* When a lane's queue is full the router waits for it; when the inbox is full the reader pauses
  the socket. Nothing is dropped and no queue grows without bound.
* A handler that raises is logged and counted; delivery goes on with the next handler and event.
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


_Subscriptions = list[tuple[frozenset[str] | None, Handler]]
#: Where an event's delivery stopped at a handler's awaitable: (awaitable, handler, subscriptions
#: being walked or None once in the bindings, next index, bindings being walked, next index).
_Pending = tuple[Awaitable[None], Handler, _Subscriptions | None, int, list[Handler] | None, int]


class _Lane:
    __slots__ = ("closing", "events", "space", "task", "waiter")

    def __init__(self) -> None:
        self.closing = False  # CHANNEL_DESTROY queued: finish the queue, then end
        self.events: deque[Event] = deque()
        self.waiter: asyncio.Future[None] | None = None  # lane task waiting for events
        self.space: asyncio.Future[None] | None = None  # router waiting for room
        # None while the router delivers this lane's events itself (no handler has returned an
        # awaitable yet); then the task that runs the lane until CHANNEL_DESTROY.
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
        self._handlers: _Subscriptions = []
        self._bound: dict[str, list[Handler]] = {}
        self._hooks: list[Hook] = []
        self._router: asyncio.Task[None] | None = None
        self._stalled: tuple[Event, _Lane] | None = None  # routed, its lane full: router's
        self._destroyed: dict[str, None] = {}  # recently destroyed channels, oldest first
        self._outstanding = 0  # frames put but not yet handled
        self._reader_paused = False  # put() asked the reader to pause
        self._received = 0  # frames put so far
        self._routed = 0  # frames the router has decoded and shown to the hooks
        self._routed_waiters: list[tuple[int, asyncio.Future[None]]] = []
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
        """Take a frame from the reader. Returns False when the reader should pause.

        When the router is idle (waiting for frames, none queued) the frame is routed right
        here, in the reader's turn: the router would only be woken to do the same one loop turn
        later — and under load each turn is long (a key's reaction waited two of them). Order
        is kept: a frame is routed here only when no earlier one is still queued."""
        self._outstanding += 1
        self._received += 1
        waiter = self._inbox_waiter
        if waiter is not None and not waiter.done():  # idle: nothing queued, nothing stalled
            if not self._route_frame(frame):
                waiter.set_result(None)  # its lane is full: the router waits for room
            return True
        self._inbox.append(frame)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if len(self._inbox) < self.inbox_limit:
            return True
        self._reader_paused = True
        return False

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

    async def routed(self) -> None:
        """Wait until the router has seen (and the hooks have seen) every frame put so far."""
        if self._routed >= self._received or self._router is None or self._router.done():
            return
        fut = asyncio.get_running_loop().create_future()
        self._routed_waiters.append((self._received, fut))
        await fut

    def _route_done(self) -> None:
        self._routed += 1
        if self._routed_waiters:
            still = []
            for target, fut in self._routed_waiters:
                if self._routed >= target:
                    if not fut.done():
                        fut.set_result(None)
                else:
                    still.append((target, fut))
            self._routed_waiters = still

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
        self._stalled = None
        self._inbox_waiter = None
        self._router = None
        self._outstanding = 0
        self._reader_paused = False
        self._release_idle()

    def _release_idle(self) -> None:
        for fut in self._idle:
            if not fut.done():
                fut.set_result(None)
        self._idle.clear()
        for _, fut in self._routed_waiters:
            if not fut.done():
                fut.set_result(None)
        self._routed_waiters.clear()
        self._routed = self._received

    def release(self) -> None:
        """After :meth:`stop`, for good: drop every handler, binding and hook. They point back
        at their owners (a call session, the peer), so an outbound session's whole object graph
        is a reference cycle until this runs; released, it is freed at once by reference
        counting instead of piling up for the garbage collector's full passes."""
        self._handlers = []
        self._bound.clear()
        self._hooks.clear()
        self.on_resume = None

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
            stalled = self._stalled
            if stalled is not None:  # an event whose lane was full: wait for room
                event, lane = stalled
                full: _Lane | None = lane
                while full is not None:
                    full.space = loop.create_future()
                    await full.space
                    full = self._offer(event)
                self._stalled = None
                self._maybe_resume()
                continue
            if not inbox:
                self._inbox_waiter = loop.create_future()
                await self._inbox_waiter
                self._inbox_waiter = None
                continue
            frame = inbox.popleft()
            self._maybe_resume()
            self._route_frame(frame)

    def _maybe_resume(self) -> None:
        if self._reader_paused and len(self._inbox) <= self.inbox_limit // 2:
            self._reader_paused = False
            if self.on_resume is not None:
                self.on_resume()

    def _route_frame(self, frame: Frame) -> bool:
        """Decode a frame, show it to the hooks and offer it to its lane. False when the lane
        is full: the event is left in ``_stalled`` for the router."""
        event = self._decode(frame)
        if event is None:
            self._route_done()
            self._done_one()
            return True
        for hook in self._hooks:
            try:
                hook(event)
            except Exception:
                log.exception("ESL completion hook failed on %s", event.name)
        self._route_done()
        full = self._offer(event)
        if full is None:
            return True
        self._stalled = (event, full)
        return False

    def _offer(self, event: Event) -> _Lane | None:
        """Deliver ``event`` in its lane, or queue it there; the lane if its queue is full."""
        headers = event.headers
        uuid = headers.get("Unique-ID") or _GLOBAL
        if uuid in self._destroyed:
            uuid = _GLOBAL  # a straggler after CHANNEL_DESTROY: no new lane for it
        destroy = bool(uuid) and headers.get("Event-Name") == EventName.CHANNEL_DESTROY
        lanes = self._lanes
        lane = lanes.get(uuid)
        if lane is None:
            lane = lanes[uuid] = _Lane()
        if lane.task is None:
            # An idle lane: deliver right here, in the router, without a queue hop.
            self.delivered += 1
            pending = self._call_subscribers(uuid, event, self._handlers, 0)
            if pending is None:
                self._done_one()
                if destroy:
                    del lanes[uuid]
                    self._bound.pop(uuid, None)
                    self._mark_destroyed(uuid)
                return None
            # A handler returned an awaitable: from now on the lane runs in its own task.
            lane.task = asyncio.get_running_loop().create_task(
                self._run_lane(uuid, lane, event, pending), name=f"esl-lane-{uuid}")
        elif len(lane.events) >= self.lane_limit:
            return lane
        else:
            lane.events.append(event)
            waiter = lane.waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        if destroy:
            lane.closing = True
            del lanes[uuid]
            self._mark_destroyed(uuid)
        return None

    def _mark_destroyed(self, uuid: str) -> None:
        destroyed = self._destroyed
        destroyed[uuid] = None
        if len(destroyed) > 4096:
            del destroyed[next(iter(destroyed))]

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

    async def _run_lane(self, uuid: str, lane: _Lane, event: Event, pending: _Pending) -> None:
        """Finish ``event`` (stopped at ``pending``), then handle the lane's queue until it ends."""
        loop = asyncio.get_running_loop()
        events = lane.events
        try:
            try:
                await self._finish(uuid, event, pending)
            finally:
                self._done_one()
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
                    self.delivered += 1
                    first = self._call_subscribers(uuid, event, self._handlers, 0)
                    if first is not None:
                        await self._finish(uuid, event, first)
                finally:
                    self._done_one()
        finally:
            if self._lanes.get(uuid) is lane:
                del self._lanes[uuid]
            if uuid and lane.closing:
                self._bound.pop(uuid, None)

    def _call_subscribers(self, uuid: str, event: Event, subs: _Subscriptions,
                          i: int) -> _Pending | None:
        """Call the subscribers for ``event`` from ``subs[i]`` on, then the channel's bindings.

        Stops at the first handler that returns an awaitable and says where (``None`` when every
        handler has run). The bindings are looked up after the subscribers ran: a subscriber may
        bind a call session that should see this very event.
        """
        name = event.headers.get("Event-Name", "")
        while i < len(subs):
            names, handler = subs[i]
            i += 1
            if names is None or name in names:
                try:
                    result = handler(event)
                except Exception:
                    self._failed(handler, event)
                    continue
                if result is not None:
                    return result, handler, subs, i, None, 0
        bound = self._bound.get(uuid)
        return self._call_bound(event, bound, 0) if bound else None

    def _call_bound(self, event: Event, bound: list[Handler], j: int) -> _Pending | None:
        while j < len(bound):
            handler = bound[j]
            j += 1
            try:
                result = handler(event)
            except Exception:
                self._failed(handler, event)
                continue
            if result is not None:
                return result, handler, None, 0, bound, j
        return None

    async def _finish(self, uuid: str, event: Event, pending: _Pending | None) -> None:
        while pending is not None:
            awaitable, handler, subs, i, bound, j = pending
            try:
                await awaitable
            except Exception:
                self._failed(handler, event)
            if subs is not None:
                pending = self._call_subscribers(uuid, event, subs, i)
            elif bound is not None:
                pending = self._call_bound(event, bound, j)
            else:
                pending = None

    def _failed(self, handler: Handler, event: Event) -> None:
        self.handler_errors += 1
        log.exception("ESL event handler %r failed on %s", handler, event.name)

"""A caller's wait in a queue, on the call: music, announcements, keys, and the bridge to an agent.

:func:`wait` runs for one call of this node from joining to leaving:

1. join: refused with ``no_agents`` when nobody is logged in and the queue does not let callers
   ``join_empty``; else the caller is enqueued at its place (priority, then entry time) and told
   its position when the flow asks for announcements;
2. hold: music on hold loops (``playback``, stopped with ``uuid_break`` when something happens);
   every ``announce_every`` seconds the flow's announcement plays, then — with
   ``announce_position`` — the position and the estimated wait (position × average handle time ÷
   agents logged in); after ``callback_after`` the callback offer plays once and the callback key
   books a callback that **keeps the caller's place** (the agent is offered it when the caller's
   turn comes); the exit key leaves at once (``exit``);
3. an offer for the caller interrupts the hold: the caller is bridged to the agent's phone (ring-all
   and ring-progressively ring several legs; the music goes on while they ring); the first to
   answer takes the call; a failed offer puts the caller back at the same place;
4. leaving: max wait moves the caller to the queue's ``overflow_queue`` once (keeping the entry
   time), then ends ``timeout``; with no agent logged in, ``leave_empty`` and
   ``max_wait_no_agent`` end ``no_agents``; a hangup ends ``abandoned``. Each is in the queue log.

The caller's own hangup while waiting is the one outcome the flow can only act on without media.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import uuid as uuidlib
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from coreswitch.acd.model import Caller, Offer, OfferFailure, QueueConfig, StoreUnavailable
from coreswitch.esl import command as cmd
from coreswitch.runtime.services import CallInfo, QueueCall, QueueOutcome, QueueRequest
from coreswitch.runtime.session import CallerHungUp

if TYPE_CHECKING:
    from coreswitch.acd.engine import Acd

@dataclass
class Waiter:
    """A caller of this node waiting in a queue: offers for it are delivered here."""

    caller_id: str
    queue: str
    offers: deque[Offer] = field(default_factory=deque)
    signal: asyncio.Event = field(default_factory=asyncio.Event)  # set while offers wait
    closing: bool = False  # left the queue: offers that still arrive are refused

    def put(self, offer: Offer) -> None:
        self.offers.append(offer)
        self.signal.set()

    def take(self) -> Offer | None:
        offer = self.offers.popleft() if self.offers else None
        if not self.offers:
            self.signal.clear()
        return offer


def failure_for(cause: str) -> OfferFailure:
    """FreeSWITCH's bridge/originate cause → why the offer failed."""
    if cause in ("USER_BUSY", "NORMAL_CIRCUIT_CONGESTION"):
        return OfferFailure.BUSY
    if cause in ("CALL_REJECTED",):
        return OfferFailure.REJECTED
    if cause in ("NO_ANSWER", "NO_USER_RESPONSE", "ALLOTTED_TIMEOUT", "ORIGINATOR_CANCEL",
                 "PROGRESS_TIMEOUT", "RECOVERY_ON_TIMER_EXPIRE"):
        return OfferFailure.NO_ANSWER
    return OfferFailure.UNREACHABLE


#: Seconds between checks of the no-agent rules while waiting.
NO_AGENT_CHECK = 5.0
DEFAULT_CALLBACK_OFFER = "如需预约回电，请按{key}键；我们将在轮到您时回电。"


class _Left(Exception):
    def __init__(self, outcome: QueueOutcome) -> None:
        self.outcome = outcome


class CallerWait:
    def __init__(self, acd: Acd, call: QueueCall, info: CallInfo, request: QueueRequest,
                 queue: QueueConfig) -> None:
        self.acd = acd
        self.call = call
        self.channel = call.channel
        self.info = info
        self.request = request
        self.queue = queue
        self.loop = asyncio.get_running_loop()
        self.t0 = self.loop.time()
        self.entered = acd.clock()
        self.waiter = Waiter(info.call_id, queue.name)
        self.hold = list(request.hold_music) or [acd.settings.hold_music]
        self.overflowed = False
        self.callback_offered = False
        self.no_agent_since: float | None = None

    def waited(self) -> float:
        return self.acd.clock() - self.entered

    def outcome(self, result: str, reason: str = "", **kw: object) -> QueueOutcome:
        return QueueOutcome(result, reason, waited=round(self.waited(), 3), **kw)  # type: ignore[arg-type]

    # -- joining and leaving ---------------------------------------------------------------------
    async def run(self) -> QueueOutcome:
        acd, q = self.acd, self.queue
        status = (await acd.retry(lambda: acd.store.queues(q.name, acd.clock())))[0]
        if status.agents_logged_in == 0 and not q.join_empty:
            acd.record("no_agents", queue=q.name, call_id=self.info.call_id, on="join")
            self.call.note("queue_left", result="no_agents", reason="no agent logged in")
            return self.outcome("no_agents", "no agent logged in")
        caller = await acd.retry(lambda: acd.store.enqueue(Caller(
            id=self.info.call_id, queue=q.name, ani=self.info.ani, entered=self.entered,
            priority=self.request.priority, skills=tuple(self.request.skills), node=acd.node)))
        self.entered = caller.entered
        acd.waiters[caller.id] = self.waiter
        position = await self._position()
        acd.record("enter", queue=q.name, call_id=caller.id, priority=caller.priority,
                   ani=caller.ani, position=position, skills=list(caller.skills))
        self.call.note("queue_position", position=position)
        try:
            await acd.wake(q.name)
            return await self._hold()
        except _Left as left:
            return left.outcome
        except CallerHungUp:
            position = await self._leave()
            acd.record("abandon", queue=self.waiter.queue, call_id=caller.id,
                       waited=round(self.waited(), 3), position=position)
            return self.outcome("abandoned", "caller hung up", position=position)
        finally:
            self.waiter.closing = True
            acd.waiters.pop(caller.id, None)
            self._refuse_pending()

    async def _position(self) -> int | None:
        """The caller's place, or None while the store cannot say (Redis restarting): a
        position is information, never a reason to drop the call."""
        try:
            return await self.acd.store.position(self.info.call_id)
        except StoreUnavailable:
            return None

    async def _leave(self) -> int | None:
        """Take the caller out of the queue; an offer made meanwhile is refused."""
        acd = self.acd
        self.waiter.closing = True
        position: int | None = None
        with contextlib.suppress(StoreUnavailable):
            position = await acd.store.position(self.info.call_id)
            await acd.retry(lambda: acd.store.leave(self.info.call_id), for_=5.0)
        self._refuse_pending()
        return position

    def _refuse_pending(self) -> None:
        while (offer := self.waiter.take()) is not None:
            self.acd.spawn(self.acd.fail_offer(offer, OfferFailure.CALLER_GONE),
                           f"acd-gone-{offer.id}")

    async def _finish(self, result: str, event: str, reason: str, **data: Any) -> None:
        position = await self._leave()
        self.acd.record(event, queue=self.waiter.queue, call_id=self.info.call_id,
                        waited=round(self.waited(), 3), position=position, **data)
        self.call.note("queue_left", result=result, reason=reason)
        raise _Left(self.outcome(result, reason, position=position))

    # -- the hold loop ----------------------------------------------------------------------------
    async def _hold(self) -> QueueOutcome:
        req, loop = self.request, self.loop
        max_wait = min(req.max_wait, self.queue.max_wait)
        deadline = self.t0 + max_wait
        announcing = bool(req.announce) or req.announce_position
        next_announce = self.t0 + req.announce_every if announcing else math.inf
        callback_at = (self.t0 + req.callback_after if req.callback_after is not None
                       and _dialable(self.info.ani) else math.inf)
        checks = self.queue.leave_empty or self.queue.max_wait_no_agent > 0
        next_check = self.t0 + NO_AGENT_CHECK if checks else math.inf
        while True:
            now = loop.time()
            if now >= deadline:
                deadline = await self._max_wait_reached()
                continue
            if now >= next_check:
                await self._check_agents()
                next_check = now + NO_AGENT_CHECK
            if now >= callback_at and not self.callback_offered:
                self.callback_offered = True
                if await self._interruptible(await self._callback_offer(), loop=False):
                    continue
            if now >= next_announce:
                next_announce = now + req.announce_every
                if await self._interruptible(await self._announcement(), loop=False):
                    continue
            until = min(deadline, next_announce, next_check,
                        math.inf if self.callback_offered else callback_at)
            await self._interruptible(self.hold, loop=True, until=until)
            offer = self._next_offer()
            if offer is not None:
                outcome = await self._connect(offer)
                if outcome is not None:
                    return outcome

    def _next_offer(self) -> Offer | None:
        return self.waiter.take()

    async def _interruptible(self, files: list[str], *, loop: bool,
                             until: float = math.inf) -> bool:
        """Play ``files`` (looping with ``loop``) until ``until`` (loop time), a key, or an offer.
        Keys are handled here; returns True when an offer is waiting."""
        ch = self.channel
        while files:
            if self.waiter.offers:
                return True
            remaining = until - self.loop.time()
            if remaining <= 0:
                return False
            playing = asyncio.ensure_future(ch.play(files, barge=True))
            offered = asyncio.ensure_future(self.waiter.signal.wait())
            try:
                done, _ = await asyncio.wait(
                    {playing, offered}, return_when=asyncio.FIRST_COMPLETED,
                    timeout=None if math.isinf(remaining) else remaining)
            finally:
                offered.cancel()
            if playing not in done:
                await ch.stop_media()
            keyed = await playing  # CallerHungUp when the caller has gone
            if keyed:
                await self._key()
                continue
            if playing in done and loop:
                continue
            return bool(self.waiter.offers)
        return bool(self.waiter.offers)

    async def _key(self) -> None:
        got = await self.channel.read_digits(first_digit=0, inter_digit=0, max_digits=1,
                                             terminators="")
        key, req = got.digits, self.request
        if not key:
            return
        if req.exit_key is not None and key == req.exit_key:
            await self._finish("exit", "exit_key", "exit key pressed", key=key)
        if self.callback_offered and key == req.callback_key:
            await self._book_callback()

    # -- callbacks, announcements, rules ---------------------------------------------------------
    async def _callback_offer(self) -> list[str]:
        req = self.request
        if req.callback_prompt:
            files = list(req.callback_prompt)
        else:
            spoken = await self.call.say(DEFAULT_CALLBACK_OFFER.format(key=req.callback_key))
            files = [spoken] if spoken else []
        self.call.note("queue_callback_offer", key=req.callback_key)
        return files

    async def _book_callback(self) -> None:
        acd = self.acd
        number = _dial_number(self.info.ani)
        position = await self._position()
        booked = await acd.retry(lambda: acd.store.book_callback(self.info.call_id, number))
        if booked is None:  # an offer was made in the same instant: take it instead
            return
        self.waiter.closing = True
        acd.record("callback_requested", queue=self.waiter.queue, call_id=self.info.call_id,
                   number=number, position=position, waited=round(self.waited(), 3))
        self.call.note("queue_left", result="callback", reason="callback booked",
                       position=position)
        raise _Left(self.outcome("callback", "callback booked", position=position))

    async def _announcement(self) -> list[str]:
        files = list(self.request.announce)
        if not self.request.announce_position:
            return files
        acd = self.acd
        try:
            position = await acd.store.position(self.info.call_id)
            status = (await acd.store.queues(self.waiter.queue, acd.clock()))[0]
        except StoreUnavailable:  # Redis restarting: no position this time, music goes on
            return files
        if position is None:
            return files
        agents = max(1, status.agents_logged_in)
        ewt = position * status.average_handle / agents
        minutes = max(1, math.ceil(ewt / 60))
        if position <= 1:
            text = f"您是下一位，预计等待{minutes}分钟。"
        else:
            text = f"您前面还有{position - 1}位客户，预计等待{minutes}分钟。"
        self.call.note("queue_announce", position=position, ewt=round(ewt))
        spoken = await self.call.say(text)
        return files + ([spoken] if spoken else [])

    async def _max_wait_reached(self) -> float:
        """Overflow once to the queue's overflow queue (new deadline), else leave: timeout."""
        acd, q = self.acd, self.queue
        target = acd.queues.get(q.overflow_queue or "")
        if target is not None and not self.overflowed:
            moved = await acd.retry(lambda: acd.store.move(self.info.call_id, target.name))
            if moved is not None:
                self.overflowed = True
                acd.record("overflow", queue=q.name, call_id=self.info.call_id,
                           to=target.name, waited=round(self.waited(), 3))
                self.call.note("queue_overflow", to=target.name)
                self.waiter.queue = target.name
                self.queue = target
                await acd.wake(target.name)
                return self.loop.time() + min(self.request.max_wait, target.max_wait)
        await self._finish("timeout", "timeout", "max wait reached")
        raise AssertionError("unreachable")

    async def _check_agents(self) -> None:
        acd, q = self.acd, self.queue
        try:
            status = (await acd.store.queues(q.name, acd.clock()))[0]
        except StoreUnavailable:
            return
        if status.agents_logged_in > 0:
            self.no_agent_since = None
            return
        now = self.loop.time()
        if self.no_agent_since is None:
            self.no_agent_since = now
        if q.leave_empty or (q.max_wait_no_agent > 0
                             and now - self.no_agent_since >= q.max_wait_no_agent):
            await self._finish("no_agents", "no_agents", "no agent logged in", on="wait")

    # -- the offer ---------------------------------------------------------------------------------
    async def _prepare_bridge(self, offer: Offer) -> None:
        """Ringback and no hang-up after the bridge. A caller gone by now fails the offer at
        once: its agents would otherwise stay reserved until the offer expired, and the expiry
        would put the departed caller back in the queue."""
        try:
            await self.channel.set_variable("ringback", self.hold[0])
            await self.channel.set_variable("hangup_after_bridge", "false")
        except CallerHungUp:
            await self.acd.fail_offer(offer, OfferFailure.CALLER_GONE)
            raise

    async def _connect(self, offer: Offer) -> QueueOutcome | None:
        """Ring the offer's agent(s) with the caller; None when nobody answered (the caller is
        back at its place), else the outcome after the conversation."""
        acd, ch = self.acd, self.channel
        q = acd.queues.get(offer.queue, self.queue)
        legs: dict[str, str] = {}
        parts = []
        for i, (agent, endpoint) in enumerate(zip(offer.agents, offer.endpoints, strict=True)):
            leg = str(uuidlib.uuid4())
            legs[leg] = agent
            variables: dict[str, str | int | bool] = {
                "origination_uuid": leg, "leg_timeout": int(max(1, q.ring_timeout)),
                "coreswitch_acd_agent": agent}
            if offer.rings == "sequence" and i:
                variables["leg_delay_start"] = round(i * offer.progressive_delay)
            parts.append("[" + cmd.channel_variables(variables)[1:-1] + "]" + endpoint)
        ring = q.ring_timeout + (offer.progressive_delay * (len(parts) - 1)
                                 if offer.rings == "sequence" else 0.0)
        await self._prepare_bridge(offer)
        self.call.note("queue_offer", agents=list(offer.agents))
        bridged = ch.bridged()
        bridging = asyncio.ensure_future(ch.bridge(",".join(parts), timeout=ring))
        try:
            pending: set[asyncio.Future[Any]] = {bridging, bridged}
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            bridging.cancel()
            raise
        if not bridged.done():
            bridged.cancel()
            try:
                result = bridging.result()
            except CallerHungUp:
                await acd.fail_offer(offer, OfferFailure.CALLER_GONE)
                raise
            failure = failure_for(result.cause)
            await acd.fail_offer(offer, failure)
            self.call.note("queue_no_answer", agents=list(offer.agents), cause=result.cause)
            return None
        agent = legs.get(bridged.result(), offer.agents[0])
        await acd.answered(offer, agent)
        waited = round(self.waited(), 3)
        acd.record("answer", queue=offer.queue, call_id=self.info.call_id, agent=agent,
                   waited=waited)
        for other in offer.agents:
            if other != agent:
                acd.record("answered_elsewhere", queue=offer.queue, call_id=self.info.call_id,
                           agent=other)
        self.call.note("queue_answered", agent=agent, waited=waited)
        start = self.loop.time()
        try:
            await bridging
        except CallerHungUp:  # the caller ended the conversation: answered all the same
            raise _Left(QueueOutcome("answered", "caller hung up", agent=agent,
                                     waited=waited)) from None
        finally:
            talk = self.loop.time() - start
            acd.record("complete", queue=offer.queue, call_id=self.info.call_id, agent=agent,
                       talk=round(talk, 3), waited=waited)
            await acd.ended(offer, agent, talk)
        return QueueOutcome("answered", "agent hung up", agent=agent, waited=waited)


def _dialable(ani: str) -> bool:
    """A caller ID a callback can dial: 3..20 digits, optional leading ``+``."""
    number = ani.strip()
    body = number[1:] if number.startswith("+") else number
    return body.isdigit() and 3 <= len(body) <= 20


def _dial_number(ani: str) -> str:
    return ani.strip()


async def wait(acd: Acd, call: QueueCall, info: CallInfo, request: QueueRequest
               ) -> QueueOutcome:
    queue = acd.queues.get(request.queue)
    if queue is None:
        acd.record("no_agents", queue=request.queue, call_id=info.call_id, on="unknown queue")
        call.note("queue_left", result="no_agents", reason=f"unknown queue {request.queue}")
        return QueueOutcome("no_agents", f"unknown queue {request.queue!r}")
    return await CallerWait(acd, call, info, request, queue).run()

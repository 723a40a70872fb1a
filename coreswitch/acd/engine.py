"""The ACD at work on one node: distribution, agents' offers, callbacks, agent operations.

:class:`Acd` joins a state store (:mod:`coreswitch.acd.store`), the queue log and the switch:

* callers wait through :meth:`Acd.wait`, called by the flow's ``queue`` verb with the call (the
  hold itself — music, announcements, keys, the bridge to the agent — is
  :mod:`coreswitch.acd.waiting`);
* distribution runs per queue whenever something changes (a caller joins, an agent becomes free:
  :meth:`AcdStore.wake`, heard by every node) and on a periodic tick (wrap-up ends, delays end,
  safety net); each node makes the offers for the calls it holds and any booked callback;
* a booked callback is made by ``originate``: the agent's phone rings first; when the agent
  answers, the leg comes to this node's outbound socket (``coreswitch_acd_callback`` names the
  offer) and :meth:`Acd.callback_leg` bridges it to the customer;
* agents log in, out, go away and come back through :meth:`login` … :meth:`wrap_up_done`
  (the CLI and, later, the HTTP API call these); every change is in the queue log.

Times: the store and the queue log use :attr:`Acd.clock` (epoch seconds; the virtual clock in
flow tests); waits use the event loop's timers, which are virtual in flow tests too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from coreswitch.acd import waiting
from coreswitch.acd.model import (
    AgentConfig,
    AgentState,
    AgentStatus,
    Offer,
    OfferFailure,
    QueueConfig,
    QueueStatus,
    StoreUnavailable,
    UnknownAgent,
    UnknownQueue,
)
from coreswitch.acd.queue_log import QueueLog
from coreswitch.acd.store import AcdStore
from coreswitch.acd.waiting import Waiter, failure_for
from coreswitch.esl import command as cmd
from coreswitch.runtime.services import CallInfo, QueueCall, QueueOutcome, QueueRequest
from coreswitch.runtime.session import BridgeResult

log = logging.getLogger("coreswitch.acd")

T = TypeVar("T")

#: The channel variable that marks a callback's agent leg (its value is the offer id).
CALLBACK_VARIABLE = "coreswitch_acd_callback"

#: ``api`` on the switch: (command, arguments) → the response text ("+OK …" / "-ERR …").
Api = Callable[[str, str], Awaitable[str]]


@dataclass
class AcdSettings:
    node: str = "local"
    #: Dial string of a customer for callbacks; ``{number}`` is the caller's number (digits).
    callback_dial: str = "sofia/gateway/default/{number}"
    #: ``socket`` application argument that brings a callback's agent leg to this node.
    callback_socket: str = "127.0.0.1:8084 async full"
    hold_music: str = "local_stream://moh"
    tick: float = 1.0  # seconds between distribution rounds / expiry checks
    node_timeout: float = 30.0
    retry_for: float = 30.0  # how long a caller's store operation is retried while Redis is down


class Acd:
    def __init__(self, store: AcdStore, queue_log: QueueLog, *,
                 queues: Sequence[QueueConfig] = (), agents: Sequence[AgentConfig] = (),
                 settings: AcdSettings | None = None, api: Api | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.log = queue_log
        self.queues = {q.name: q for q in queues}
        self.agent_configs = {a.id: a for a in agents}
        self.settings = settings or AcdSettings()
        self.node = self.settings.node
        self.api = api
        self.clock = clock
        self.waiters: dict[str, Waiter] = {}
        self._dirty: set[str] = set()
        self._kick_event = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._calls: set[asyncio.Task[None]] = set()  # callbacks in progress
        self._callback_offers: dict[str, Offer] = {}
        self.started = False

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.retry(lambda: self.store.configure(list(self.queues.values()),
                                                      list(self.agent_configs.values())))
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._distributor(), name="acd-distributor"),
                       loop.create_task(self._ticker(), name="acd-ticker"),
                       loop.create_task(self._listener(), name="acd-wakes")]
        self.started = True
        self.kick(*self.queues)

    async def stop(self) -> None:
        tasks = [*self._tasks, *self._calls]
        for task in tasks:
            task.cancel()
        if tasks:  # a task that swallows its cancellation must not hold the shutdown
            await asyncio.wait(tasks, timeout=3.0)
        self._tasks.clear()
        self.started = False
        await self.log.flush()

    async def retry(self, op: Callable[[], Awaitable[T]], *, for_: float | None = None) -> T:
        """Run a store operation, retrying while the store is unavailable (Redis restarting)
        for up to ``for_`` seconds (default ``settings.retry_for``); then it raises."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.settings.retry_for if for_ is None else for_)
        delay = 0.1
        while True:
            try:
                return await op()
            except StoreUnavailable:
                if loop.time() + delay > deadline:
                    raise
                log.warning("ACD store unavailable; retrying in %.1f s", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    def record(self, event: str, *, queue: str = "", call_id: str = "", agent: str = "",
               **data: Any) -> None:
        self.log.record(event, at=self.clock(), queue=queue, call_id=call_id, agent=agent,
                        node=self.node, data=data)

    # -- distribution ---------------------------------------------------------------------------
    def kick(self, *queues: str) -> None:
        """Run distribution for these queues soon (on this node)."""
        self._dirty.update(q for q in queues if q in self.queues)
        self._kick_event.set()

    async def wake(self, queue: str) -> None:
        """Distribution on every node (this one at once)."""
        self.kick(queue)
        with contextlib.suppress(StoreUnavailable):
            await self.store.wake(queue)

    async def _listener(self) -> None:
        while True:
            try:
                async for queue in self.store.wakes():
                    self.kick(queue)
            except StoreUnavailable:
                log.warning("ACD wake-ups unavailable (Redis down); listening again in 1 s")
            except Exception:
                log.exception("ACD wake listener failed; restarting it")
            await asyncio.sleep(1.0)

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.settings.tick)
            try:
                now = self.clock()
                await self.store.heartbeat(self.node, now)
                expired = await self.store.expire(now, self.settings.node_timeout)
                for offer in expired.offers:
                    self.record("expired", queue=offer.queue, call_id=offer.caller.id,
                                agents=list(offer.agents))
                for caller in expired.callers:
                    self.record("lost", queue=caller.queue, call_id=caller.id,
                                node=caller.node)
            except StoreUnavailable:
                continue
            except Exception:
                log.exception("ACD tick failed")
            self.kick(*self.queues)

    async def _distributor(self) -> None:
        while True:
            await self._kick_event.wait()
            self._kick_event.clear()
            dirty, self._dirty = self._dirty, set()
            for queue in sorted(dirty):
                try:
                    await self._dispatch_queue(queue)
                except StoreUnavailable:
                    self._dirty.add(queue)  # the tick retries
                except Exception:
                    log.exception("ACD distribution failed for queue %s", queue)

    async def _dispatch_queue(self, queue: str) -> None:
        while True:
            offer = await self.store.dispatch(queue, self.clock(), self.node)
            if offer is None:
                return
            self._deliver(offer)

    def _deliver(self, offer: Offer) -> None:
        self.record("offer", queue=offer.queue, call_id=offer.caller.id,
                    agents=list(offer.agents), rings=offer.rings,
                    callback=offer.caller.callback is not None)
        if offer.caller.callback is not None:
            self.spawn(self._callback(offer), f"acd-callback-{offer.id}")
            return
        waiter = self.waiters.get(offer.caller.id)
        if waiter is None or waiter.closing:
            self.spawn(self.fail_offer(offer, OfferFailure.CALLER_GONE), f"acd-gone-{offer.id}")
            return
        waiter.put(offer)

    async def fail_offer(self, offer: Offer, failure: OfferFailure,
                         agents: Iterable[str] | None = None) -> None:
        """Every agent of ``offer`` (or those given) failed it for ``failure``."""
        now = self.clock()
        for agent in agents if agents is not None else offer.agents:
            await self._failed(offer, agent, failure, now)
            self.record(failure.value, queue=offer.queue, call_id=offer.caller.id, agent=agent)
            if failure not in (OfferFailure.CALLER_GONE, OfferFailure.ANSWERED_ELSEWHERE):
                self._after(agent, self._delay(offer.queue, failure))
        await self.wake(offer.queue)

    async def _failed(self, offer: Offer, agent: str, failure: OfferFailure,
                      now: float) -> None:
        await self.retry(lambda: self.store.offer_failed(offer, agent, failure, now))

    def _delay(self, queue: str, failure: OfferFailure) -> float:
        q = self.queues.get(queue)
        if q is None:
            return 0.0
        return {OfferFailure.NO_ANSWER: q.no_answer_delay, OfferFailure.BUSY: q.busy_delay,
                OfferFailure.REJECTED: q.reject_delay,
                OfferFailure.UNREACHABLE: q.no_answer_delay}.get(failure, 0.0)

    def _after(self, agent: str, seconds: float) -> None:
        """Distribute again for the agent's queues when its delay (or wrap-up) is over."""
        queues = list(self.agent_configs.get(agent, AgentConfig(agent, "")).queues)
        if seconds > 0 and queues:
            asyncio.get_running_loop().call_later(seconds + 0.001, self.kick, *queues)

    async def answered(self, offer: Offer, agent: str) -> None:
        await self.retry(lambda: self.store.offer_answered(offer, agent, self.clock()))

    async def ended(self, offer: Offer, agent: str, talk: float) -> None:
        """The conversation is over: wrap-up starts; distribution resumes when it ends."""
        await self.retry(lambda: self.store.call_ended(offer, agent, talk, self.clock()))
        q = self.queues.get(offer.queue)
        self._after(agent, q.wrap_up if q is not None else 0.0)
        if q is not None and q.wrap_up <= 0:
            await self.wake(offer.queue)

    async def wait(self, call: QueueCall, info: CallInfo, request: QueueRequest
                   ) -> QueueOutcome:
        """A caller of this node waits in a queue (see :mod:`coreswitch.acd.waiting`)."""
        return await waiting.wait(self, call, info, request)

    def spawn(self, work: Awaitable[None], name: str) -> None:
        """Run ``work`` in the background, cancelled by :meth:`stop`."""
        async def run() -> None:
            await work

        task = asyncio.get_running_loop().create_task(run(), name=name)
        self._calls.add(task)
        task.add_done_callback(self._calls.discard)

    # -- callbacks ------------------------------------------------------------------------------
    async def _callback(self, offer: Offer) -> None:
        """Ring the agent; when it answers its leg comes to :meth:`callback_leg`."""
        caller = offer.caller
        agent, endpoint = offer.agents[0], offer.endpoints[0]
        q = self.queues.get(offer.queue)
        ring = q.ring_timeout if q is not None else 15.0
        if self.api is None:
            log.error("callback for %s cannot be made: no switch connection", caller.id)
            await self.fail_offer(offer, OfferFailure.UNREACHABLE)
            return
        self._callback_offers[offer.id] = offer
        variables = cmd.channel_variables({
            "originate_timeout": int(max(1, ring)),
            CALLBACK_VARIABLE: offer.id,
            "origination_caller_id_number": _digits(caller.callback or "") or "0",
            "origination_caller_id_name": "callback",
            "hangup_after_bridge": True,
        })
        try:
            reply = await self.api("originate", f"{variables}{endpoint} "
                                                 f"&socket({self.settings.callback_socket})")
        except Exception as exc:
            reply = f"-ERR {type(exc).__name__}"
        if not reply.startswith("+OK"):
            self._callback_offers.pop(offer.id, None)
            cause = reply.removeprefix("-ERR").strip() or "NO_ANSWER"
            log.info("callback %s: agent %s did not answer (%s)", caller.id, agent, cause)
            await self.fail_offer(offer, failure_for(cause))

    async def callback_leg(self, channel: CallbackChannel, offer_id: str) -> None:
        """The agent answered a callback: bridge the customer, then wrap up."""
        offer = self._callback_offers.pop(offer_id, None)
        if offer is None:  # not ours, or already failed: let the agent go
            await channel.hangup("NORMAL_CLEARING")
            return
        agent = offer.agents[0]
        number = _digits(offer.caller.callback or "")
        await self.answered(offer, agent)
        start = asyncio.get_running_loop().time()
        bridged = channel.bridged()
        try:
            dial = self.settings.callback_dial.format(number=number)
            await channel.bridge(dial, timeout=60)
        except Exception as exc:  # the agent hung up, or the switch refused the dial string
            log.info("callback %s ended: %s", offer.caller.id, exc)
        finally:
            answered = bridged.done() and not bridged.cancelled()
            bridged.cancel()
            talk = asyncio.get_running_loop().time() - start
            self.record("callback_made", queue=offer.queue, call_id=offer.caller.id,
                        agent=agent, number=number, answered=answered,
                        waited=self.clock() - offer.caller.entered)
            await self.ended(offer, agent, talk)
            with contextlib.suppress(Exception):
                await channel.hangup("NORMAL_CLEARING")

    # -- agents ---------------------------------------------------------------------------------
    async def _agent_op(self, agent: str, op: Callable[[], Awaitable[AgentStatus]]
                        ) -> AgentStatus:
        if agent not in self.agent_configs:
            raise UnknownAgent(f"unknown agent {agent!r}")
        before = await self.store.agents(agent)
        status = await op()
        previous = before[0].state if before else AgentState.LOGGED_OUT
        if status.state != previous or status.reason != (before[0].reason if before else ""):
            self.record("agent_state", agent=agent, state=status.state.value,
                        reason=status.reason, previous=previous.value)
        if status.state == AgentState.AVAILABLE:
            for queue in status.queues:
                await self.wake(queue)
        return status

    async def login(self, agent: str) -> AgentStatus:
        return await self._agent_op(agent, lambda: self.store.login(agent, self.clock()))

    async def logout(self, agent: str, *, force: bool = False) -> AgentStatus:
        status = await self._agent_op(
            agent, lambda: self.store.logout(agent, self.clock(), force=force))
        for queue in self.agent_configs[agent].queues:  # leave_empty checks
            self.kick(queue)
        return status

    async def away(self, agent: str, reason: str = "") -> AgentStatus:
        return await self._agent_op(agent,
                                    lambda: self.store.set_away(agent, reason, self.clock()))

    async def available(self, agent: str) -> AgentStatus:
        return await self._agent_op(agent, lambda: self.store.set_available(agent, self.clock()))

    async def wrap_up_done(self, agent: str) -> AgentStatus:
        return await self._agent_op(agent, lambda: self.store.wrap_up_done(agent, self.clock()))

    async def agents(self, agent: str | None = None) -> list[AgentStatus]:
        if agent is not None and agent not in self.agent_configs:
            raise UnknownAgent(f"unknown agent {agent!r}")
        return await self.store.agents(agent)

    async def queue_status(self, queue: str | None = None) -> list[QueueStatus]:
        if queue is not None and queue not in self.queues:
            raise UnknownQueue(f"unknown queue {queue!r} (known: "
                               f"{', '.join(sorted(self.queues))})")
        return await self.store.queues(queue, self.clock())


class CallbackChannel(Protocol):
    """What :meth:`Acd.callback_leg` needs of the agent's leg (a CallSession)."""

    async def bridge(self, dial_string: str, *, timeout: float | None = None
                     ) -> BridgeResult: ...

    def bridged(self) -> asyncio.Future[str]: ...

    async def hangup(self, cause: str = "NORMAL_CLEARING") -> None: ...


def _digits(text: str) -> str:
    """A phone number reduced to what may be dialled: digits and a leading ``+``."""
    text = text.strip()
    plus = "+" if text.startswith("+") else ""
    return plus + "".join(ch for ch in text if ch.isdigit())[:24]

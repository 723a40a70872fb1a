"""The in-process ACD state store (one node; the embedded default).

Every method runs to the end without awaiting anything, so each is atomic on the event loop.

Indexes (what keeps :meth:`MemoryStore.dispatch` O(log n) in agents):

* per queue, the **free** agents (logged in, not away, delays over, spare capacity) sit in a
  sorted list keyed by the queue's strategy order (the figures of
  :mod:`coreswitch.acd.strategies`, then the agent id); a strategy that orders by
  ``proficiency`` (skills-based) keeps one sorted list per (queue, skill) instead, so the key
  holds the agent's proficiency in that skill;
* agents in wrap-up or in a no-answer/busy/reject delay wait in a heap by the time they are free
  again and go back to the lists at the start of the next :meth:`~MemoryStore.dispatch` (or
  :meth:`~MemoryStore.queues`) whose ``now`` has reached that time;
* callers wait per queue in a sorted list by :meth:`Caller.order_key`.

An agent who takes an offer and has no line left leaves the lists of the queue that offered it
at once; its entries in its other queues' lists are dropped when a dispatch there next meets
them (skipped: the agent is not free) or when its state changes again — so an offer costs one
queue's list updates, not one per queue the agent serves.

A dispatch walks the head callers in order and, for each, the front of the agent list it would
be served from, until the first caller with an eligible agent. The walk is bounded: at most
:data:`SCAN_CALLERS` callers and :data:`SCAN_AGENTS` agents per caller; callers with the same
needs (skills, tier reached, skill minimum) are looked at once per dispatch; the walk over the
agents stops as soon as the order says no later agent can be eligible (past the tier the caller
may use; below the caller's skill minimum). The bound is where the ordering rule is approximate:
a caller whose eligible agents are all further down its list than :data:`SCAN_AGENTS` free
agents is treated as unservable for that dispatch. That needs a caller whose skills most of the
queue's free agents lack — in a queue whose strategy does not order by proficiency, or with a
second skill — or a tier wait in a strategy that does not order by tier.

Agent states move when an operation happens: :meth:`~MemoryStore.agents` reports an agent whose
wrap-up time is over as ``wrap_up`` until a dispatch or queue status with a later ``now`` has
run (the store has no clock of its own).

State lives in this process only: a restart of ``coreswitch serve`` starts with every agent
logged out and no caller waiting (the calls themselves ended with the process).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import random
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace

from sortedcontainers import SortedList

from coreswitch.acd import strategies
from coreswitch.acd.model import (
    AcdError,
    AgentConfig,
    AgentState,
    AgentStatus,
    Caller,
    Expired,
    Offer,
    OfferFailure,
    QueueConfig,
    QueueStatus,
    UnknownAgent,
    UnknownQueue,
)

#: Agents looked at per caller before the caller counts as unservable now.
SCAN_AGENTS = 256
#: Callers looked at per dispatch (the head callers in order).
SCAN_CALLERS = 64
#: Seconds an offer may outlive its ring time before :meth:`MemoryStore.expire` takes it back.
OFFER_GRACE = 30.0
#: Weight of the newest call in the moving average handle time, and where the average starts.
AHT_ALPHA = 0.2
AHT_START = 120.0

Key = tuple[float | str, ...]  # strategy figures..., agent id
CallerKey = tuple[tuple[int, float, int], str]  # order_key, caller id
Need = tuple[tuple[str, ...], int, int]  # caller skills, highest tier reachable, skill minimum

_NO_ANSWER = (OfferFailure.NO_ANSWER, OfferFailure.UNREACHABLE)
_ANY_TIER = 1 << 30


@dataclass
class _Agent:
    config: AgentConfig
    state: AgentState = AgentState.LOGGED_OUT
    reason: str = ""
    since: float = 0.0
    available_at: float = 0.0
    idle_since: float = 0.0
    last_offered: float = 0.0
    calls_answered: int = 0
    talk_time: float = 0.0
    no_answers: int = 0
    active: int = 0
    random: float = 0.0
    away_after: str | None = None  # set_away during an offer or call: applies when it ends
    keys: dict[tuple[str, str], Key] = field(default_factory=dict)  # index → key held there

    def status(self) -> AgentStatus:
        return AgentStatus(self.config.id, self.config.name, self.state, self.reason,
                           self.since, dict(self.config.queues), self.calls_answered,
                           self.talk_time, self.no_answers, self.available_at, self.active)

    @property
    def on_duty(self) -> bool:
        """Logged in and not away (may be offered calls once delays are over)."""
        return self.state not in (AgentState.LOGGED_OUT, AgentState.AWAY)


@dataclass
class _Ringing:
    offer: Offer
    ringing: set[str]  # agents of the offer that have not failed it yet


class _Inbox:
    """One :meth:`MemoryStore.wakes` subscriber: queue names not yet read, each at most once
    (a queue woken twice before the reader gets to it is read once), so it never grows past
    the number of queues."""

    def __init__(self) -> None:
        self.pending: dict[str, None] = {}
        self.ready = asyncio.Event()
        self.closed = False

    def put(self, queue: str) -> None:
        self.pending[queue] = None
        self.ready.set()

    def close(self) -> None:
        self.closed = True
        self.ready.set()

    async def get(self) -> str | None:
        while not self.pending and not self.closed:
            self.ready.clear()
            await self.ready.wait()
        if not self.pending:
            return None
        queue = next(iter(self.pending))
        del self.pending[queue]
        return queue


def _penalty(q: QueueConfig, failure: OfferFailure) -> float | None:
    """Seconds the agent who failed an offer is not offered again (``None``: no penalty)."""
    if failure in _NO_ANSWER:
        return q.no_answer_delay
    if failure == OfferFailure.BUSY:
        return q.busy_delay
    if failure == OfferFailure.REJECTED:
        return q.reject_delay
    return None  # caller gone, answered elsewhere, expired


def _uses_proficiency(strategy: strategies.Strategy) -> bool:
    return any(f.removeprefix("-") == "proficiency" for f in strategy.order)


class MemoryStore:
    """:class:`~coreswitch.acd.store.AcdStore` in this process. ``seed`` fixes the draws of
    the ``random`` strategy (tests)."""

    def __init__(self, *, seed: int | None = None) -> None:
        self._queues: dict[str, QueueConfig] = {}
        self._strategies: dict[str, strategies.Strategy] = {}
        self._by_skill: dict[str, bool] = {}  # queue → free lists per skill (proficiency order)
        self._agents: dict[str, _Agent] = {}
        self._members: dict[str, list[str]] = {}  # queue → agent ids, sorted
        self._positions: dict[str, dict[str, int]] = {}  # queue → agent id → place
        self._free: dict[tuple[str, str], SortedList[Key]] = {}  # (queue, "" | skill) → keys
        self._clock: dict[tuple[str, str], float] = {}  # index → random figure last taken
        self._delayed: list[tuple[float, str]] = []  # (available_at, agent id); stale allowed
        self._callers: dict[str, Caller] = {}  # waiting or offered
        self._waiting: dict[str, SortedList[CallerKey]] = {}
        self._offered: dict[str, str] = {}  # caller id → offer id
        self._offers: dict[str, _Ringing] = {}
        self._calls: dict[str, tuple[Offer, str]] = {}  # offer id → (offer, agent) talking
        self._aht: dict[str, float] = {}
        self._beats: dict[str, float] = {}
        self._seq = itertools.count(1)
        self._ids = itertools.count(1)
        self._random = random.Random(seed)
        self._subscribers: set[_Inbox] = set()

    # -- configuration ------------------------------------------------------------------------
    async def configure(self, queues: Sequence[QueueConfig],
                        agents: Sequence[AgentConfig]) -> None:
        found = {q.name: strategies.get(q.strategy) for q in queues}  # unknown: ValueError now
        for q in queues:
            self._queues[q.name] = q
            self._strategies[q.name] = found[q.name]
            self._by_skill[q.name] = _uses_proficiency(found[q.name])
            self._waiting.setdefault(q.name, SortedList())
            self._aht.setdefault(q.name, AHT_START)
        for a in agents:
            agent = self._agents.get(a.id)
            if agent is None:
                self._agents[a.id] = _Agent(a)
            else:
                agent.config = a
        self._members = {}
        for agent in self._agents.values():
            for queue in agent.config.queues:
                self._members.setdefault(queue, []).append(agent.config.id)
        for members in self._members.values():
            members.sort()
        self._positions = {q: {a: i for i, a in enumerate(m)} for q, m in self._members.items()}
        for agent in self._agents.values():  # strategies, tiers, positions may have changed
            self._reindex(agent, 0.0)

    def _queue(self, name: str) -> QueueConfig:
        try:
            return self._queues[name]
        except KeyError:
            raise UnknownQueue(f"unknown queue {name!r}") from None

    def _agent(self, agent_id: str) -> _Agent:
        try:
            return self._agents[agent_id]
        except KeyError:
            raise UnknownAgent(f"unknown agent {agent_id!r}") from None

    # -- agent indexes ------------------------------------------------------------------------
    def _key(self, agent: _Agent, queue: str, skill: str) -> Key:
        key: list[float | str] = []
        for name in self._strategies[queue].order:
            figure = name.removeprefix("-")
            value: float
            if figure == "tier":
                value = agent.config.queues.get(queue, 1)
            elif figure == "position":
                value = self._positions.get(queue, {}).get(agent.config.id, 0)
            elif figure == "proficiency":
                value = agent.config.skills.get(skill, 0) if skill else 0
            elif figure == "random":
                value = self._clock.get((queue, skill), 0.0) - math.log1p(-agent.random)
            else:
                value = getattr(agent, figure)
            key.append(-value if name.startswith("-") else value)
        key.append(agent.config.id)
        return tuple(key)

    def _free_now(self, agent: _Agent, now: float) -> bool:
        return (agent.state in (AgentState.AVAILABLE, AgentState.OFFERED, AgentState.ON_CALL)
                and agent.active < agent.config.max_concurrent and agent.available_at <= now)

    def _unindex(self, agent: _Agent) -> None:
        for index, key in agent.keys.items():
            self._free[index].discard(key)
        agent.keys.clear()

    def _reindex(self, agent: _Agent, now: float) -> None:
        """Put the agent in the free lists of its queues with its current figures, in the delay
        heap, or nowhere. Called after every change of the agent's state or figures."""
        self._unindex(agent)
        if agent.state == AgentState.WRAP_UP or (agent.on_duty and agent.available_at > now):
            heapq.heappush(self._delayed, (agent.available_at, agent.config.id))
            return
        if not self._free_now(agent, now):
            return
        for queue in agent.config.queues:
            if queue not in self._queues:
                continue
            skills = [""]
            if self._by_skill[queue]:
                skills += list(agent.config.skills)
            for skill in skills:
                index = (queue, skill)
                key = self._key(agent, queue, skill)
                self._free.setdefault(index, SortedList()).add(key)
                agent.keys[index] = key

    def _release_delayed(self, now: float) -> None:
        while self._delayed and self._delayed[0][0] <= now:
            at, agent_id = heapq.heappop(self._delayed)
            agent = self._agents.get(agent_id)
            if agent is None or agent.available_at != at or agent.keys:
                continue  # stale entry: the agent's delay changed or it is listed already
            if agent.state == AgentState.WRAP_UP:
                self._become_free(agent, at)
            self._reindex(agent, now)

    def _become_free(self, agent: _Agent, at: float) -> None:
        agent.state, agent.since, agent.idle_since = AgentState.AVAILABLE, at, at
        agent.random = self._random.random()

    # -- callers ------------------------------------------------------------------------------
    async def enqueue(self, caller: Caller) -> Caller:
        existing = self._callers.get(caller.id)
        if existing is not None:
            return existing
        self._queue(caller.queue)
        caller = replace(caller, seq=caller.seq or next(self._seq))
        self._callers[caller.id] = caller
        self._wait(caller)
        return caller

    def _wait(self, caller: Caller) -> None:
        self._waiting[caller.queue].add((caller.order_key(), caller.id))

    def _unwait(self, caller: Caller) -> None:
        self._waiting[caller.queue].discard((caller.order_key(), caller.id))

    def _waiting_caller(self, caller_id: str) -> Caller | None:
        if caller_id in self._offered:
            return None
        return self._callers.get(caller_id)

    async def leave(self, caller_id: str) -> Caller | None:
        caller = self._waiting_caller(caller_id)
        if caller is None:
            return None
        self._unwait(caller)
        del self._callers[caller_id]
        return caller

    async def move(self, caller_id: str, queue: str, priority: int | None = None
                   ) -> Caller | None:
        caller = self._waiting_caller(caller_id)
        if caller is None:
            return None
        self._queue(queue)
        self._unwait(caller)
        caller = replace(caller, queue=queue,
                         priority=caller.priority if priority is None else priority)
        self._callers[caller_id] = caller
        self._wait(caller)
        return caller

    async def book_callback(self, caller_id: str, number: str) -> Caller | None:
        caller = self._waiting_caller(caller_id)
        if caller is None:
            return None
        caller = replace(caller, callback=number, node="*")  # same order key: same place
        self._callers[caller_id] = caller
        return caller

    async def position(self, caller_id: str) -> int | None:
        caller = self._waiting_caller(caller_id)
        if caller is None:
            return None
        return int(self._waiting[caller.queue].index((caller.order_key(), caller.id))) + 1

    async def waiting(self, queue: str) -> list[Caller]:
        self._queue(queue)
        return [self._callers[cid] for _key, cid in self._waiting[queue]]

    # -- distribution -------------------------------------------------------------------------
    @staticmethod
    def _need(caller: Caller, q: QueueConfig, now: float) -> Need:
        """What an agent must have to serve this caller now: its skills, the highest tier it
        may use after its wait, and the proficiency minimum of the queue's skill steps."""
        waited = now - caller.entered
        tier = int(waited // q.tier_wait) + 1 if q.tier_wait > 0 else _ANY_TIER
        minimum = 0
        if caller.skills:
            for after, level in q.skill_steps:
                if waited >= after:
                    minimum = level
        return caller.skills, tier, minimum

    def _choose(self, need: Need, q: QueueConfig, limit: int, now: float) -> list[_Agent]:
        """The first ``limit`` eligible free agents in strategy order for callers with
        ``need`` (at most :data:`SCAN_AGENTS` looked at). Entries of agents no longer free
        (see :meth:`_offer`) are dropped on the way."""
        skills, max_tier, minimum = need
        strategy = self._strategies[q.name]
        by_skill = bool(skills) and self._by_skill[q.name]
        name = (q.name, skills[0] if by_skill else "")
        index = self._free.get(name)
        if not index:
            return []
        first = strategy.order[0] if strategy.order else ""
        tier_first = first == "tier" and max_tier != _ANY_TIER
        proficiency_first = by_skill and first == "-proficiency"
        chosen: list[_Agent] = []
        stale: list[tuple[Key, _Agent]] = []
        looked = 0
        for key in index:
            agent = self._agents[str(key[-1])]
            if not self._free_now(agent, now):
                stale.append((key, agent))  # dropped below: each entry is met at most once
                continue
            looked += 1
            if looked > SCAN_AGENTS:
                break
            if tier_first and float(key[0]) > max_tier:
                break  # every later agent is in a tier the caller may not use yet
            if proficiency_first and -float(key[0]) < minimum:
                break  # every later agent is less proficient than the minimum
            config = agent.config
            if config.queues.get(q.name, 1) > max_tier:
                continue
            if any(s not in config.skills or config.skills[s] < minimum for s in skills):
                continue
            chosen.append(agent)
            if len(chosen) >= limit:
                break
        for key, agent in stale:
            index.discard(key)
            if agent.keys.get(name) == key:
                del agent.keys[name]
        return chosen

    async def dispatch(self, queue: str, now: float, node: str) -> Offer | None:
        q = self._queue(queue)
        self._release_delayed(now)
        strategy = self._strategies[queue]
        limit = 1 if strategy.rings == "one" else strategies.MAX_RING
        unservable: set[Need] = set()
        for _key, caller_id in itertools.islice(self._waiting[queue], SCAN_CALLERS):
            caller = self._callers[caller_id]
            need = self._need(caller, q, now)
            if need in unservable:
                continue
            chosen = self._choose(need, q, limit, now)
            if not chosen:
                unservable.add(need)
                continue
            if caller.node not in (node, "*"):
                return None  # its node makes the offer (when woken)
            return self._offer(caller, chosen, q, strategy, now=now, node=node)
        return None

    def _offer(self, caller: Caller, chosen: list[_Agent], q: QueueConfig,
               strategy: strategies.Strategy, *, now: float, node: str) -> Offer:
        ring = q.ring_timeout
        if strategy.rings == "sequence":
            ring += q.progressive_delay * (len(chosen) - 1)
        offer = Offer(id=f"o{next(self._ids)}", caller=caller,
                      agents=tuple(a.config.id for a in chosen),
                      endpoints=tuple(a.config.endpoint for a in chosen), queue=q.name,
                      made=now, deadline=now + ring + OFFER_GRACE, node=node,
                      rings=strategy.rings, progressive_delay=q.progressive_delay)
        self._unwait(caller)
        self._offered[caller.id] = offer.id
        self._offers[offer.id] = _Ringing(offer, {a.config.id for a in chosen})
        for agent in chosen:
            self._advance_clock(agent, q.name, strategy)
            agent.active += 1
            agent.last_offered = now
            if agent.state == AgentState.AVAILABLE:
                agent.state, agent.since = AgentState.OFFERED, now
            if self._free_now(agent, now):  # lines left: new figures, listed again everywhere
                self._reindex(agent, now)
            else:  # the other queues' lists drop it when they next look, or when it is free
                self._unlist(agent, q.name)
        return offer

    def _unlist(self, agent: _Agent, queue: str) -> None:
        for index in [i for i in agent.keys if i[0] == queue]:
            self._free[index].discard(agent.keys.pop(index))

    def _advance_clock(self, agent: _Agent, queue: str, strategy: strategies.Strategy) -> None:
        """The ``random`` figure: when an agent becomes free it is listed at the index's clock
        plus an exponential draw (``agent.random`` is the uniform draw), and taking an agent
        moves the clock to its figure. By memorylessness every listed agent's remaining
        distance to the clock is then an independent exponential, so the first one is a
        uniformly random choice among the free agents — a plain uniform number per agent would
        keep handing the call to whoever was freed last (the others keep the high numbers)."""
        if "random" not in strategy.order:
            return
        place = strategy.order.index("random")
        for index, key in agent.keys.items():
            if index[0] == queue:
                self._clock[index] = max(self._clock.get(index, 0.0), float(key[place]))

    def _free_agent(self, agent: _Agent, now: float) -> None:
        """One offer or call of the agent is over (no penalty)."""
        agent.active = max(0, agent.active - 1)
        if agent.active == 0 and agent.state in (AgentState.OFFERED, AgentState.ON_CALL):
            self._settle(agent, now)
        self._reindex(agent, now)

    def _settle(self, agent: _Agent, now: float) -> None:
        """The agent's last offer or call is over: available, or away when asked meanwhile."""
        if agent.away_after is not None:
            agent.state, agent.reason, agent.away_after = AgentState.AWAY, agent.away_after, None
        else:
            agent.state = AgentState.AVAILABLE
        agent.since = now

    def _drop_caller(self, caller_id: str) -> None:
        caller = self._callers.pop(caller_id, None)
        if caller is not None and caller_id not in self._offered:
            self._unwait(caller)
        self._offered.pop(caller_id, None)

    async def offer_answered(self, offer: Offer, agent_id: str, now: float) -> None:
        agent = self._agent(agent_id)
        ringing = self._offers.pop(offer.id, None)
        if ringing is not None:
            for other in sorted(ringing.ringing - {agent_id}):
                self._free_agent(self._agents[other], now)
        if ringing is None or agent_id not in ringing.ringing:
            agent.active += 1  # the offer was taken back meanwhile: the call still counts
        if self._offered.get(offer.caller.id) in (offer.id, None):
            self._drop_caller(offer.caller.id)
        else:  # expired, back in the queue and offered again: that offer now fails alone
            self._callers.pop(offer.caller.id, None)
        if agent.state != AgentState.LOGGED_OUT:  # forced out while ringing: stays out
            agent.state, agent.since = AgentState.ON_CALL, now
        agent.no_answers = 0
        self._calls[offer.id] = (offer, agent_id)
        self._reindex(agent, now)

    async def offer_failed(self, offer: Offer, agent_id: str, failure: OfferFailure,
                           now: float) -> bool:
        return self._fail(offer.id, agent_id, failure, now)

    def _fail(self, offer_id: str, agent_id: str, failure: OfferFailure, now: float) -> bool:
        ringing = self._offers.get(offer_id)
        if ringing is None or agent_id not in ringing.ringing:
            return False  # already over (answered elsewhere, expired, reported twice)
        ringing.ringing.discard(agent_id)
        agent = self._agent(agent_id)
        q = self._queues.get(ringing.offer.queue)
        delay = _penalty(q, failure) if q is not None else None
        if q is not None and delay is not None:
            agent.available_at = max(agent.available_at, now + delay)
            if failure in _NO_ANSWER:
                agent.no_answers += 1
                if agent.no_answers >= q.max_no_answer:
                    agent.away_after = "no answer"
        self._free_agent(agent, now)
        if ringing.ringing:
            return False
        del self._offers[offer_id]
        caller_id = ringing.offer.caller.id
        if self._offered.get(caller_id) != offer_id:
            return False
        del self._offered[caller_id]
        caller = self._callers.get(caller_id)
        if caller is None:
            return False
        if failure == OfferFailure.CALLER_GONE:
            del self._callers[caller_id]
            return False
        self._wait(caller)
        return True

    async def call_ended(self, offer: Offer, agent_id: str, talk: float, now: float) -> None:
        """Also when the call is not known here any more (its node was declared dead and
        :meth:`expire` freed the agent, or it was reported twice): the figures count, the
        agent's state is left alone (it may be on another call by now)."""
        agent = self._agent(agent_id)
        q = self._queues.get(offer.queue)
        wrap = q.wrap_up if q is not None else 0.0
        agent.calls_answered += 1
        agent.talk_time += talk
        if q is not None:
            self._aht[q.name] = (1 - AHT_ALPHA) * self._aht[q.name] + AHT_ALPHA * (talk + wrap)
        if self._calls.pop(offer.id, None) is None:
            self._reindex(agent, now)  # new figures, same state
            return
        agent.active = max(0, agent.active - 1)
        if agent.active == 0 and agent.state == AgentState.ON_CALL:
            if agent.away_after is not None:
                self._settle(agent, now)
            elif wrap > 0:
                agent.state, agent.since, agent.available_at = AgentState.WRAP_UP, now, now + wrap
            else:
                self._become_free(agent, now)
        self._reindex(agent, now)

    async def expire(self, now: float, node_timeout: float = 30.0) -> Expired:
        """Offers past their deadline or made by a dead node end first (their callers go back
        to their place); then every waiting caller held by a dead node is removed — so a
        dead node's caller whose offer just ended is removed too, while a booked callback
        (``node='*'``) stays. A dead node's heartbeat is forgotten once cleaned up."""
        dead = {n for n, beat in self._beats.items() if beat < now - node_timeout}
        offers: list[Offer] = []
        callers: list[Caller] = []
        agents: list[str] = []
        for ringing in list(self._offers.values()):
            offer = ringing.offer
            if offer.deadline < now or offer.node in dead:
                offers.append(offer)
                for agent_id in sorted(ringing.ringing):
                    self._fail(offer.id, agent_id, OfferFailure.EXPIRED, now)
                    if offer.node in dead:
                        agents.append(agent_id)
        if not dead:
            return Expired(tuple(offers))
        for offer_id, (offer, agent_id) in list(self._calls.items()):
            if offer.node in dead:
                del self._calls[offer_id]
                self._free_agent(self._agents[agent_id], now)
                agents.append(agent_id)
        for caller in list(self._callers.values()):
            if caller.node in dead and caller.id not in self._offered:
                self._unwait(caller)
                del self._callers[caller.id]
                callers.append(caller)
        for n in dead:
            del self._beats[n]
        return Expired(tuple(offers), tuple(callers), tuple(agents))

    # -- agents -------------------------------------------------------------------------------
    async def login(self, agent_id: str, now: float) -> AgentStatus:
        agent = self._agent(agent_id)
        if agent.state == AgentState.LOGGED_OUT:
            agent.reason, agent.no_answers, agent.available_at, agent.away_after = "", 0, 0.0, None
            agent.calls_answered, agent.talk_time = 0, 0.0
            self._become_free(agent, now)
            self._reindex(agent, now)
        return agent.status()

    async def logout(self, agent_id: str, now: float, *, force: bool = False) -> AgentStatus:
        agent = self._agent(agent_id)
        if agent.state == AgentState.LOGGED_OUT:
            return agent.status()
        if agent.active and not force:
            raise AcdError(f"agent {agent_id} cannot log out during a call or offer "
                           f"(state {agent.state.value}); try again when it ends")
        successor = agent.config.successor
        if agent.config.handover_required and successor and not force:
            other = self._agents.get(successor)
            if other is None or other.state == AgentState.LOGGED_OUT:
                raise AcdError(f"agent {agent_id} cannot log out: successor {successor} is "
                               "not logged in (shift handover); use force to override")
        agent.state, agent.reason, agent.since, agent.away_after = (
            AgentState.LOGGED_OUT, "", now, None)
        self._reindex(agent, now)
        return agent.status()

    async def set_away(self, agent_id: str, reason: str, now: float) -> AgentStatus:
        agent = self._agent(agent_id)
        if agent.state == AgentState.LOGGED_OUT:
            raise AcdError(f"agent {agent_id} is not logged in")
        if agent.active:
            agent.away_after = reason
        else:
            agent.state, agent.reason, agent.since = AgentState.AWAY, reason, now
            self._reindex(agent, now)
        return agent.status()

    async def set_available(self, agent_id: str, now: float) -> AgentStatus:
        agent = self._agent(agent_id)
        if agent.state == AgentState.LOGGED_OUT:
            raise AcdError(f"agent {agent_id} is not logged in")
        agent.away_after = None
        if agent.state == AgentState.AWAY:
            agent.reason, agent.no_answers, agent.available_at = "", 0, 0.0
            self._become_free(agent, now)
            self._reindex(agent, now)
        return agent.status()

    async def wrap_up_done(self, agent_id: str, now: float) -> AgentStatus:
        agent = self._agent(agent_id)
        if agent.state == AgentState.WRAP_UP:
            agent.available_at = now
            self._become_free(agent, now)
            self._reindex(agent, now)
        return agent.status()

    async def agents(self, agent_id: str | None = None) -> list[AgentStatus]:
        """As of the last operation: a wrap-up that is over shows until a dispatch or
        queue status with a later ``now`` (see the module docstring)."""
        if agent_id is not None:
            return [self._agent(agent_id).status()]
        return [self._agents[a].status() for a in sorted(self._agents)]

    async def queues(self, queue: str | None = None, now: float = 0.0) -> list[QueueStatus]:
        names = [self._queue(queue).name] if queue is not None else sorted(self._queues)
        self._release_delayed(now)
        out = []
        for name in names:
            waiting = [self._callers[cid] for _k, cid in self._waiting[name]]
            members = [self._agents[a] for a in self._members.get(name, [])]
            out.append(QueueStatus(
                name=name, waiting=len(waiting),
                callbacks=sum(1 for c in waiting if c.callback is not None),
                agents_logged_in=sum(1 for a in members if a.state != AgentState.LOGGED_OUT),
                agents_available=sum(1 for a in members if self._free_now(a, now)),
                oldest_wait=max((now - c.entered for c in waiting), default=0.0),
                average_handle=self._aht.get(name, AHT_START)))
        return out

    # -- nodes --------------------------------------------------------------------------------
    async def heartbeat(self, node: str, now: float) -> None:
        self._beats[node] = now

    async def wake(self, queue: str) -> None:
        for inbox in self._subscribers:
            inbox.put(queue)

    def wakes(self) -> AsyncIterator[str]:
        """Subscribed from this call on (not from the first read), so a wake between the call
        and the first read is not lost. Wakes of one queue not yet read count once. The
        iterator ends when the store is closed."""
        inbox = _Inbox()
        self._subscribers.add(inbox)
        return self._read(inbox)

    async def _read(self, inbox: _Inbox) -> AsyncIterator[str]:
        try:
            while (queue := await inbox.get()) is not None:
                yield queue
        finally:
            self._subscribers.discard(inbox)

    async def close(self) -> None:
        for inbox in list(self._subscribers):
            inbox.close()
        self._subscribers.clear()

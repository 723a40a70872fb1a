"""The in-process ACD state store (one node; the embedded default).

Every method runs without awaiting anything, so each is atomic on the event loop. Selection is
index-driven (see :mod:`coreswitch.acd.strategies`): per queue, the *free* agents sit in a
sorted list keyed by the queue's strategy order; skills-based queues keep one sorted list per
skill, by proficiency. Agents in wrap-up or a no-answer/busy/reject delay wait in a heap by the
time they are free again and return to the lists at the start of the next :meth:`dispatch`.
Callers wait per queue in a sorted list by :meth:`Caller.order_key`. A dispatch therefore costs
O(log n) in agents and callers, plus the eligibility checks of the agents it looks at (at most
:data:`SCAN_AGENTS` per caller and :data:`SCAN_CALLERS` callers).

State lives in this process only: a restart of ``coreswitch serve`` starts with every agent
logged out and no caller waiting (the calls themselves ended or went back to the dialplan with
the process).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections.abc import AsyncIterator, Iterator, Sequence
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
#: Seconds an offer may outlive its ring time before another node may expire it.
OFFER_GRACE = 30.0
#: Weight of the newest call in the moving average handle time.
AHT_ALPHA = 0.2
AHT_START = 120.0

Key = tuple[object, ...]


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
    away_after: str | None = None  # set_away during a call: applies when it ends
    keys: dict[tuple[str, str], Key] = field(default_factory=dict)  # index → key held there

    def status(self) -> AgentStatus:
        return AgentStatus(self.config.id, self.config.name, self.state, self.reason,
                           self.since, dict(self.config.queues), self.calls_answered,
                           self.talk_time, self.no_answers, self.available_at, self.active)

    @property
    def logged_in(self) -> bool:
        return self.state not in (AgentState.LOGGED_OUT, AgentState.AWAY)


@dataclass
class _Ringing:
    offer: Offer
    ringing: set[str]


class MemoryStore:
    def __init__(self, *, seed: int | None = None) -> None:
        self._queues: dict[str, QueueConfig] = {}
        self._agents: dict[str, _Agent] = {}
        self._members: dict[str, list[str]] = {}  # queue → agent ids, sorted
        self._positions: dict[str, dict[str, int]] = {}  # queue → agent id → place
        self._free: dict[tuple[str, str], SortedList[Key]] = {}  # (queue, "" | skill) → keys
        self._delayed: list[tuple[float, str]] = []
        self._callers: dict[str, Caller] = {}
        self._waiting: dict[str, SortedList[tuple[tuple[int, float, int], str]]] = {}
        self._offered: dict[str, str] = {}  # caller id → offer id
        self._offers: dict[str, _Ringing] = {}
        self._calls: dict[str, tuple[Offer, str]] = {}  # offer id → (offer, agent) talking
        self._aht: dict[str, float] = {}
        self._beats: dict[str, float] = {}
        self._seq = itertools.count(1)
        self._ids = itertools.count(1)
        self._random = random.Random(seed)
        self._subscribers: set[asyncio.Queue[str]] = set()

    # -- configuration ------------------------------------------------------------------------
    async def configure(self, queues: Sequence[QueueConfig],
                        agents: Sequence[AgentConfig]) -> None:
        for q in queues:
            strategies.get(q.strategy)  # unknown strategy: ValueError now, not at dispatch
            self._queues[q.name] = q
            self._waiting.setdefault(q.name, SortedList())
            self._aht.setdefault(q.name, AHT_START)
        for a in agents:
            agent = self._agents.get(a.id)
            if agent is None:
                self._agents[a.id] = _Agent(a)
            else:
                self._unindex(agent)
                agent.config = a
        self._members = {}
        for agent in self._agents.values():
            for queue in agent.config.queues:
                self._members.setdefault(queue, []).append(agent.config.id)
        for members in self._members.values():
            members.sort()
        self._positions = {q: {a: i for i, a in enumerate(m)} for q, m in self._members.items()}
        for agent in self._agents.values():
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

    # -- indexes ------------------------------------------------------------------------------
    def _figures(self, agent: _Agent, queue: str, skill: str) -> Key:
        q = self._queues[queue]
        strategy = strategies.get(q.strategy)
        values = {
            "tier": agent.config.queues.get(queue, 1),
            "position": self._positions.get(queue, {}).get(agent.config.id, 0),
            "idle_since": agent.idle_since, "last_offered": agent.last_offered,
            "calls_answered": agent.calls_answered, "talk_time": agent.talk_time,
            "random": agent.random,
            "proficiency": agent.config.skills.get(skill, 0) if skill else 0,
        }
        key: list[object] = []
        for name in strategy.order:
            value = values[name.removeprefix("-")]
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
        """Put the agent in (or take it out of) the free lists of its queues."""
        self._unindex(agent)
        if agent.state == AgentState.WRAP_UP or (
                agent.logged_in and agent.available_at > now):
            heapq.heappush(self._delayed, (agent.available_at, agent.config.id))
            return
        if not self._free_now(agent, now):
            return
        for queue in agent.config.queues:
            if queue not in self._queues:
                continue
            indexes = [""]
            if strategies.get(self._queues[queue].strategy).name == "skills-based":
                indexes += list(agent.config.skills)
            for skill in indexes:
                index = (queue, skill)
                key = self._figures(agent, queue, skill)
                self._free.setdefault(index, SortedList()).add(key)
                agent.keys[index] = key

    def _release_delayed(self, now: float) -> None:
        while self._delayed and self._delayed[0][0] <= now:
            at, agent_id = heapq.heappop(self._delayed)
            agent = self._agents.get(agent_id)
            if agent is None or agent.available_at != at or agent.keys:
                continue  # stale entry
            if agent.state == AgentState.WRAP_UP:
                agent.state, agent.since = AgentState.AVAILABLE, at
                agent.idle_since = at
                agent.random = self._random.random()
            self._reindex(agent, now)

    # -- callers ------------------------------------------------------------------------------
    async def enqueue(self, caller: Caller) -> Caller:
        existing = self._callers.get(caller.id)
        if existing is not None:
            return existing
        self._queue(caller.queue)
        caller = replace(caller, seq=caller.seq or next(self._seq))
        self._callers[caller.id] = caller
        self._waiting[caller.queue].add((caller.order_key(), caller.id))
        return caller

    def _unwait(self, caller: Caller) -> None:
        self._waiting[caller.queue].discard((caller.order_key(), caller.id))

    async def leave(self, caller_id: str) -> Caller | None:
        caller = self._callers.get(caller_id)
        if caller is None or caller_id in self._offered:
            return None
        self._unwait(caller)
        del self._callers[caller_id]
        return caller

    async def move(self, caller_id: str, queue: str, priority: int | None = None
                   ) -> Caller | None:
        caller = self._callers.get(caller_id)
        if caller is None or caller_id in self._offered:
            return None
        self._queue(queue)
        self._unwait(caller)
        caller = replace(caller, queue=queue,
                         priority=caller.priority if priority is None else priority)
        self._callers[caller_id] = caller
        self._waiting[queue].add((caller.order_key(), caller_id))
        return caller

    async def book_callback(self, caller_id: str, number: str) -> Caller | None:
        caller = self._callers.get(caller_id)
        if caller is None or caller_id in self._offered:
            return None
        caller = replace(caller, callback=number, node="*")
        self._callers[caller_id] = caller
        return caller

    async def position(self, caller_id: str) -> int | None:
        caller = self._callers.get(caller_id)
        if caller is None or caller_id in self._offered:
            return None
        waiting = self._waiting[caller.queue]
        return int(waiting.bisect_left((caller.order_key(), caller.id))) + 1

    async def waiting(self, queue: str) -> list[Caller]:
        self._queue(queue)
        return [self._callers[cid] for _key, cid in self._waiting[queue]]

    # -- distribution -------------------------------------------------------------------------
    def _eligible(self, agent: _Agent, caller: Caller, q: QueueConfig, now: float) -> bool:
        waited = now - caller.entered
        if q.tier_wait > 0:
            tier = agent.config.queues.get(q.name, 1)
            if (tier - 1) * q.tier_wait > waited:
                return False
        if caller.skills:
            minimum = 0
            for after, level in q.skill_steps:
                if waited >= after:
                    minimum = level
            for skill in caller.skills:
                if skill not in agent.config.skills or agent.config.skills[skill] < minimum:
                    return False
        return True

    def _candidates(self, caller: Caller, q: QueueConfig) -> Iterator[_Agent]:
        skilled = strategies.get(q.strategy).name == "skills-based" and caller.skills
        index = self._free.get((q.name, caller.skills[0] if skilled else ""))
        if not index:
            return
        for key in itertools.islice(index, SCAN_AGENTS):
            yield self._agents[str(key[-1])]

    async def dispatch(self, queue: str, now: float, node: str) -> Offer | None:
        q = self._queue(queue)
        self._release_delayed(now)
        strategy = strategies.get(q.strategy)
        limit = 1 if strategy.rings == "one" else strategies.MAX_RING
        for _key, caller_id in itertools.islice(self._waiting[queue], SCAN_CALLERS):
            caller = self._callers[caller_id]
            chosen: list[_Agent] = []
            for agent in self._candidates(caller, q):
                if self._eligible(agent, caller, q, now):
                    chosen.append(agent)
                    if len(chosen) >= limit:
                        break
            if not chosen:
                continue
            if caller.node not in (node, "*"):
                return None  # its node makes the offer
            return self._offer(caller, chosen, q, strategy, now=now, node=node)
        return None

    def _offer(self, caller: Caller, chosen: list[_Agent], q: QueueConfig,
               strategy: strategies.Strategy, *, now: float, node: str) -> Offer:
        ring = q.ring_timeout + (q.progressive_delay * (len(chosen) - 1)
                                 if strategy.rings == "sequence" else 0.0)
        offer = Offer(id=f"o{next(self._ids)}", caller=caller,
                      agents=tuple(a.config.id for a in chosen),
                      endpoints=tuple(a.config.endpoint for a in chosen), queue=q.name,
                      made=now, deadline=now + ring + OFFER_GRACE, node=node,
                      rings=strategy.rings, progressive_delay=q.progressive_delay)
        self._unwait(caller)
        self._offered[caller.id] = offer.id
        self._offers[offer.id] = _Ringing(offer, {a.config.id for a in chosen})
        for agent in chosen:
            agent.active += 1
            agent.last_offered = now
            if agent.state == AgentState.AVAILABLE:
                agent.state, agent.since = AgentState.OFFERED, now
            self._reindex(agent, now)
        return offer

    def _free_agent(self, agent: _Agent, now: float) -> None:
        """One offer or call of the agent is over (no penalty)."""
        agent.active = max(0, agent.active - 1)
        if agent.active == 0 and agent.state in (AgentState.OFFERED, AgentState.ON_CALL):
            if agent.away_after is not None:
                agent.state, agent.reason, agent.away_after = (AgentState.AWAY,
                                                               agent.away_after, None)
            else:
                agent.state = AgentState.AVAILABLE
            agent.since = now
        self._reindex(agent, now)

    async def offer_answered(self, offer: Offer, agent_id: str, now: float) -> None:
        ringing = self._offers.pop(offer.id, None)
        self._offered.pop(offer.caller.id, None)
        self._callers.pop(offer.caller.id, None)
        agent = self._agent(agent_id)
        if ringing is not None:
            for other in ringing.ringing - {agent_id}:
                self._free_agent(self._agents[other], now)
        agent.state, agent.since, agent.no_answers = AgentState.ON_CALL, now, 0
        self._calls[offer.id] = (offer, agent_id)
        self._reindex(agent, now)

    async def offer_failed(self, offer: Offer, agent_id: str, failure: OfferFailure,
                           now: float) -> bool:
        ringing = self._offers.get(offer.id)
        if ringing is None or agent_id not in ringing.ringing:
            return False  # already over (answered elsewhere, expired)
        ringing.ringing.discard(agent_id)
        agent = self._agent(agent_id)
        q = self._queues.get(offer.queue)
        delay = 0.0
        if q is not None:
            delay = {OfferFailure.NO_ANSWER: q.no_answer_delay,
                     OfferFailure.UNREACHABLE: q.no_answer_delay,
                     OfferFailure.BUSY: q.busy_delay,
                     OfferFailure.REJECTED: q.reject_delay}.get(failure, 0.0)
        if failure in (OfferFailure.NO_ANSWER, OfferFailure.UNREACHABLE):
            agent.no_answers += 1
        agent.available_at = max(agent.available_at, now + delay)
        if (q is not None and failure in (OfferFailure.NO_ANSWER, OfferFailure.UNREACHABLE)
                and agent.no_answers >= q.max_no_answer):
            agent.away_after = "no answer"
        self._free_agent(agent, now)
        if ringing.ringing:
            return False
        del self._offers[offer.id]
        self._offered.pop(offer.caller.id, None)
        caller = self._callers.get(offer.caller.id)
        if caller is None:
            return False
        if failure == OfferFailure.CALLER_GONE:
            del self._callers[caller.id]
            return False
        self._waiting[caller.queue].add((caller.order_key(), caller.id))
        return True

    async def call_ended(self, offer: Offer, agent_id: str, talk: float, now: float) -> None:
        self._calls.pop(offer.id, None)
        agent = self._agent(agent_id)
        q = self._queues.get(offer.queue)
        wrap = q.wrap_up if q is not None else 0.0
        agent.calls_answered += 1
        agent.talk_time += talk
        agent.active = max(0, agent.active - 1)
        if q is not None:
            self._aht[q.name] = (1 - AHT_ALPHA) * self._aht[q.name] + AHT_ALPHA * (talk + wrap)
        if agent.active == 0 and agent.state == AgentState.ON_CALL:
            if agent.away_after is not None:
                agent.state, agent.reason, agent.away_after = (AgentState.AWAY,
                                                               agent.away_after, None)
            elif wrap > 0:
                agent.state = AgentState.WRAP_UP
                agent.available_at = now + wrap
            else:
                agent.state, agent.idle_since = AgentState.AVAILABLE, now
            agent.since = now
        self._reindex(agent, now)

    async def expire(self, now: float, node_timeout: float = 30.0) -> Expired:
        offers = []
        for ringing in list(self._offers.values()):
            if ringing.offer.deadline < now:
                offers.append(ringing.offer)
                for agent_id in list(ringing.ringing):
                    await self.offer_failed(ringing.offer, agent_id, OfferFailure.EXPIRED, now)
        dead = {n for n, beat in self._beats.items() if beat < now - node_timeout}
        callers: list[Caller] = []
        agents: list[str] = []
        if dead:
            for caller in list(self._callers.values()):
                if caller.node in dead and caller.id not in self._offered:
                    self._unwait(caller)
                    del self._callers[caller.id]
                    callers.append(caller)
            for offer_id, (offer, agent_id) in list(self._calls.items()):
                if offer.node in dead:
                    del self._calls[offer_id]
                    self._free_agent(self._agents[agent_id], now)
                    agents.append(agent_id)
            for ringing in list(self._offers.values()):
                if ringing.offer.node in dead:
                    offers.append(ringing.offer)
                    for agent_id in list(ringing.ringing):
                        await self.offer_failed(ringing.offer, agent_id,
                                                OfferFailure.EXPIRED, now)
                        agents.append(agent_id)
            for n in dead:
                del self._beats[n]
        return Expired(tuple(offers), tuple(callers), tuple(agents))

    # -- agents -------------------------------------------------------------------------------
    async def login(self, agent_id: str, now: float) -> AgentStatus:
        agent = self._agent(agent_id)
        if agent.state == AgentState.LOGGED_OUT:
            agent.state, agent.reason, agent.since = AgentState.AVAILABLE, "", now
            agent.idle_since, agent.no_answers, agent.available_at = now, 0, 0.0
            agent.calls_answered, agent.talk_time = 0, 0.0
            agent.random = self._random.random()
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
            agent.state, agent.reason, agent.since = AgentState.AVAILABLE, "", now
            agent.idle_since, agent.no_answers, agent.available_at = now, 0, 0.0
            agent.random = self._random.random()
            self._reindex(agent, now)
        return agent.status()

    async def wrap_up_done(self, agent_id: str, now: float) -> AgentStatus:
        agent = self._agent(agent_id)
        if agent.state == AgentState.WRAP_UP:
            agent.state, agent.since, agent.idle_since = AgentState.AVAILABLE, now, now
            agent.available_at = now
            agent.random = self._random.random()
            self._reindex(agent, now)
        return agent.status()

    async def agents(self, agent_id: str | None = None) -> list[AgentStatus]:
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
        for subscriber in self._subscribers:
            subscriber.put_nowait(queue)

    async def wakes(self) -> AsyncIterator[str]:
        inbox: asyncio.Queue[str] = asyncio.Queue()
        self._subscribers.add(inbox)
        try:
            while True:
                yield await inbox.get()
        finally:
            self._subscribers.discard(inbox)

    async def close(self) -> None:
        self._subscribers.clear()

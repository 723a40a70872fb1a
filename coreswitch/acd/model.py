"""The ACD's nouns: queues, agents, callers, offers, and the states an agent moves through.

Everything here is plain data (frozen dataclasses) so that both state stores —
in-process (:mod:`coreswitch.acd.memory`) and Redis (:mod:`coreswitch.acd.redis_store`) — hold
exactly the same thing. Times are **seconds since the epoch as floats** on the ACD's clock (the
wall clock in service, the virtual clock in flow tests); durations are seconds.

Caller order in a queue (the one rule every store keeps): higher ``priority`` first (VIP green
channel, e.g. 100, at the head; blacklisted callers, negative, at the tail); equal priority in
order of ``entered`` (the time the caller first joined — kept when an offer fails and the caller
returns to its place, and when a callback is booked); then ``seq`` (a store-wide counter) so that
no two callers ever tie.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class AcdError(Exception):
    """An agent or queue operation that is refused, with a reason a person can act on
    (``str(exc)``), e.g. "agent 1001 cannot log out: successor 1002 is not logged in"."""


class UnknownAgent(AcdError):
    """No agent with that id is configured."""


class UnknownQueue(AcdError):
    """No queue with that name is configured."""


class StoreUnavailable(AcdError):
    """The state store cannot be reached (Redis down or restarting): retry later."""


class AgentState(enum.StrEnum):
    """What an agent's desktop shows. ``available``/``away``/``logged_out`` are chosen by the
    agent (presence); ``offered``/``on_call``/``wrap_up`` follow from calls."""

    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    AWAY = "away"  # 离开, with a reason
    OFFERED = "offered"  # ringing
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"  # 话后处理, ends after the queue's wrap_up time or on wrap_up_done


class OfferFailure(enum.StrEnum):
    """Why an offer did not become a conversation."""

    NO_ANSWER = "no_answer"  # rang out: counts towards max_no_answer, then no_answer_delay
    BUSY = "busy"  # endpoint busy: busy_delay
    REJECTED = "rejected"  # agent declined: reject_delay
    UNREACHABLE = "unreachable"  # endpoint not registered / error: no_answer_delay
    CALLER_GONE = "caller_gone"  # the caller hung up while the agent rang: no penalty
    ANSWERED_ELSEWHERE = "answered_elsewhere"  # ring-all: another agent took it: no penalty
    EXPIRED = "expired"  # the node owning the offer never acted on it (crashed)


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """An agent as configured (``[acd.agents.<id>]`` or the admin API).

    ``queues`` maps each queue the agent serves to its tier (1 = first tier). ``skills`` maps a
    skill to a proficiency 1..5. ``successor``: with ``handover_required`` the agent may not log
    out until that agent is logged in (shift handover, 交接班)."""

    id: str  # 工号
    endpoint: str  # dial string of the agent's phone, e.g. "user/1001"
    name: str = ""
    queues: Mapping[str, int] = field(default_factory=dict)
    skills: Mapping[str, int] = field(default_factory=dict)
    max_concurrent: int = 1
    successor: str | None = None
    handover_required: bool = False


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """A queue as configured (``[acd.queues.<name>]``).

    ``skill_steps``: (seconds waited, minimum proficiency) pairs; a caller who needs skills is
    offered agents whose proficiency in each needed skill is at least the minimum of the last
    step reached, e.g. ((0, 4), (30, 2), (60, 0)). ``tier_wait``: a caller may be offered agents of
    tier ``n`` after waiting ``(n-1) * tier_wait`` seconds (0: all tiers at once, lower tiers
    first)."""

    name: str
    strategy: str = "longest-idle"
    ring_timeout: float = 15.0  # seconds an offer rings before it counts as no answer
    wrap_up: float = 10.0
    max_wait: float = 300.0  # the flow's max_wait, when shorter, wins
    max_wait_no_agent: float = 0.0  # leave after this long with no agent logged in (0: never)
    join_empty: bool = True  # may a caller join when no agent is logged in?
    leave_empty: bool = False  # leave as soon as the last agent logs out
    overflow_queue: str | None = None  # on max wait, move there (keeping the entry time)
    skill_steps: tuple[tuple[float, int], ...] = ((0.0, 0),)
    tier_wait: float = 0.0
    no_answer_delay: float = 30.0  # agent not offered again for this long after no answer
    busy_delay: float = 60.0
    reject_delay: float = 30.0
    max_no_answer: int = 3  # consecutive no answers → agent set away ("no answer")
    progressive_delay: float = 5.0  # ring-progressively: ring the next agent after this long
    service_level: float = 20.0  # seconds: answered within this counts towards the SLA


@dataclass(frozen=True, slots=True)
class Caller:
    """A caller in a queue. ``node`` is the coreswitch node that holds the call (offers go there);
    ``callback`` is the number to call back when the caller booked a callback (the call itself
    has then ended, and any node may make the callback)."""

    id: str  # the call's UUID
    queue: str
    ani: str
    entered: float
    priority: int = 0
    skills: tuple[str, ...] = ()
    node: str = "local"
    seq: int = 0  # set by the store on first enqueue
    callback: str | None = None

    def order_key(self) -> tuple[int, float, int]:
        """Sort key of the queue order (smaller is served first)."""
        return (-self.priority, self.entered, self.seq)


@dataclass(frozen=True, slots=True)
class Offer:
    """One caller reserved for one or more agents (several with ring-all/ring-progressively,
    in the order to ring them). Until the owning node reports the outcome, the caller is out of
    the waiting order (but keeps its key) and each agent is ``offered``."""

    id: str
    caller: Caller
    agents: tuple[str, ...]
    endpoints: tuple[str, ...]  # same order as agents
    queue: str
    made: float  # when the store made it
    deadline: float  # after this the store may expire it (made + ring time + 30 s grace)
    node: str  # the node that made it (and bridges it)
    rings: str = "one"  # one | all | sequence (see coreswitch.acd.strategies)
    progressive_delay: float = 0.0  # sequence: seconds between one agent and the next


@dataclass(frozen=True, slots=True)
class Expired:
    """What :meth:`AcdStore.expire` cleaned up."""

    offers: tuple[Offer, ...] = ()  # offers past their deadline: callers back in place
    callers: tuple[Caller, ...] = ()  # waiting callers of dead nodes: removed
    agents: tuple[str, ...] = ()  # agents freed from offers/calls of dead nodes


@dataclass(frozen=True, slots=True)
class AgentStatus:
    id: str
    name: str
    state: AgentState
    reason: str = ""  # away reason, or "no answer"
    since: float = 0.0  # when the state began
    queues: Mapping[str, int] = field(default_factory=dict)
    calls_answered: int = 0
    talk_time: float = 0.0  # total seconds on calls since login
    no_answers: int = 0  # consecutive
    available_at: float = 0.0  # not offered before this (wrap-up end, no-answer delay)
    active: int = 0  # offers + calls in progress


@dataclass(frozen=True, slots=True)
class QueueStatus:
    name: str
    waiting: int  # callers waiting, callbacks included
    callbacks: int  # of which booked callbacks
    agents_logged_in: int
    agents_available: int  # eligible for an offer now
    oldest_wait: float  # seconds the head caller has waited
    average_handle: float  # moving average of talk + wrap-up, seconds (for estimated waits)

"""The ACD state store: one interface, two implementations (in-process and Redis).

Every method is **atomic** with respect to every other call on the same store, including calls
from other coreswitch nodes sharing a Redis. That is what lets the ACD promise:

* an agent is never in two offers or calls beyond ``max_concurrent`` (1 for voice);
* a caller, once enqueued, is always in exactly one place — waiting, in an offer, or removed
  with an outcome — until :meth:`leave` or :meth:`offer_answered` takes it out;
* the queue order of :mod:`coreswitch.acd.model` (priority, entered, seq) is kept: no caller is
  offered an agent that an earlier caller in the order could have taken at that moment.

Strategies (:mod:`coreswitch.acd.strategies`) decide which eligible agent a caller gets; the store
applies them inside :meth:`dispatch`.

Agent eligibility for a caller at time ``now``: logged in and not away; ``available_at <= now``
(wrap-up and no-answer delays over); fewer than ``max_concurrent`` offers+calls; serves the
queue at a tier the caller may use after its wait (``QueueConfig.tier_wait``); proficiency in
each skill the caller needs at least the queue's current ``skill_steps`` minimum for that wait.

The ``random`` figure: an agent becoming free is listed at a per-list clock plus an exponential
draw, and taking an agent moves that list's clock to the agent's figure; so the first listed
agent is a uniformly random one of the free agents (a plain uniform number per agent would hand
call after call to whoever was freed last: the others keep the high numbers).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from coreswitch.acd.model import (
    AgentConfig,
    AgentStatus,
    Caller,
    Expired,
    Offer,
    OfferFailure,
    QueueConfig,
    QueueStatus,
)


class AcdStore(Protocol):
    # -- configuration ------------------------------------------------------------------
    async def configure(self, queues: Sequence[QueueConfig],
                        agents: Sequence[AgentConfig]) -> None:
        """Insert or replace queue and agent definitions (idempotent; every node calls it at
        start with the same config). Agents' live state (logged in, counters) is kept."""

    # -- callers ------------------------------------------------------------------------
    async def enqueue(self, caller: Caller) -> Caller:
        """Add a caller at its place in the order; returns it with ``seq`` set. Enqueueing an id
        that is already waiting or offered returns the existing entry unchanged."""

    async def leave(self, caller_id: str) -> Caller | None:
        """Take a **waiting** caller out (abandon, timeout, exit key, overflow). ``None`` when the
        caller is not waiting — e.g. an offer was just made for it; the owner then sees the offer
        and must end it with :meth:`offer_failed` (``CALLER_GONE``)."""

    async def move(self, caller_id: str, queue: str, priority: int | None = None) -> Caller | None:
        """Overflow to another queue keeping ``entered``; ``None`` when not waiting."""

    async def book_callback(self, caller_id: str, number: str) -> Caller | None:
        """The caller hangs up but keeps its place: its entry gets ``callback=number`` and
        ``node='*'`` (any node may make the call). ``None`` when not waiting."""

    async def position(self, caller_id: str) -> int | None:
        """1-based place among the waiting callers of its queue; ``None`` when not waiting."""

    async def waiting(self, queue: str) -> list[Caller]:
        """The waiting callers of a queue in order (for status pages and tests)."""

    # -- distribution -------------------------------------------------------------------
    async def dispatch(self, queue: str, now: float, node: str) -> Offer | None:
        """Atomically pick the first caller in the order for whom an eligible agent exists,
        choose agent(s) by the queue's strategy, mark them offered and the caller offered.
        ``None`` when no caller can be served now. Callers are never skipped for an agent an
        earlier caller could take.

        Offers are made by the node that holds the call: when that first servable caller is
        held by another node (``caller.node`` is neither ``node`` nor ``'*'``), nothing is
        changed and ``None`` is returned — that node makes the offer when woken. Booked
        callbacks (``node='*'``) go to whichever node dispatches them; ``Offer.node`` says
        which."""

    async def offer_answered(self, offer: Offer, agent_id: str, now: float) -> None:
        """The agent answered: it is on the call, the caller leaves the queue, the other agents
        of the offer (ring-all) are released without penalty.

        Also when the store took the offer back meanwhile (expired) or the agent had already
        failed it: the call is real, so it counts as one of the agent's calls and the caller
        is removed from wherever it waits. An agent forced to log out while ringing stays
        logged out (the call still counts until it ends)."""

    async def offer_failed(self, offer: Offer, agent_id: str, failure: OfferFailure,
                           now: float) -> bool:
        """One agent of an offer failed it (the failure's delay/penalty applies to that agent).
        When no agent of the offer is left ringing, the caller returns to its place (same key)
        unless ``failure`` is CALLER_GONE. Returns True when the caller went back to waiting."""

    async def call_ended(self, offer: Offer, agent_id: str, talk: float, now: float) -> None:
        """The conversation ended: the agent goes to wrap-up until ``now + wrap_up`` of the
        queue; talk time and answered count are added to its figures, and to the queue's
        average handle time (moving average, weight 0.2, from 120 s, of talk + wrap-up).

        A call the store no longer holds — :meth:`expire` freed the agent because the call's
        node was declared dead, or the end is reported twice — adds to the figures but leaves
        the agent's state alone (it may be on another call by now)."""

    async def expire(self, now: float, node_timeout: float = 30.0) -> Expired:
        """Clean up after nodes that died: offers past their deadline end (agents released,
        callers back to their place); callers waiting on, and calls (agents on_call or offered)
        held by, a node whose last :meth:`heartbeat` is older than ``node_timeout`` are removed
        and the agents freed (those callers' calls died with the node). Booked callbacks
        (``node='*'``) are never removed this way. Every node calls this periodically.

        Offers are ended first, so a dead node's caller whose offer just ended is removed too
        (reported in ``callers``), while a callback offered by a dead node goes back to its
        place. ``agents`` lists the agents freed from a dead node's offers and calls. A node
        that never sent a heartbeat is never judged dead; a dead node's heartbeat is forgotten
        once it is cleaned up (it counts as alive again when it next beats)."""

    # -- agents -------------------------------------------------------------------------
    async def login(self, agent_id: str, now: float) -> AgentStatus:
        """Logged out → available (already logged in: unchanged). Raises UnknownAgent."""

    async def logout(self, agent_id: str, now: float, *, force: bool = False) -> AgentStatus:
        """→ logged out, refused (AcdError) during an offer or call, and — with
        ``handover_required`` — while the successor is not logged in, unless ``force``.
        Forced during an offer or call: logged out at once; the offer or call still counts
        against ``max_concurrent`` until it ends, and the agent stays logged out after it."""

    async def set_away(self, agent_id: str, reason: str, now: float) -> AgentStatus:
        """→ away with a reason (allowed in wrap-up; during a call it applies when it ends)."""

    async def set_available(self, agent_id: str, now: float) -> AgentStatus:
        """Away → available; clears the no-answer count."""

    async def wrap_up_done(self, agent_id: str, now: float) -> AgentStatus:
        """End wrap-up early (the agent pressed 'ready')."""

    async def agents(self, agent_id: str | None = None) -> list[AgentStatus]:
        """One agent's status, or all (sorted by id). States past their time (wrap-up over)
        are reported as they are at the time of the last write."""

    async def queues(self, queue: str | None = None, now: float = 0.0) -> list[QueueStatus]:
        """One queue's status, or all (sorted by name), as of ``now``: wrap-ups and delays
        over by ``now`` end (and count in ``agents_available``); ``agents_logged_in`` counts
        away agents; ``oldest_wait`` is the longest wait among the waiting callers, callbacks
        included (the head's, unless a caller of higher priority arrived later)."""

    # -- nodes --------------------------------------------------------------------------
    async def heartbeat(self, node: str, now: float) -> None:
        """The node is alive (every node calls this every few seconds)."""

    async def wake(self, queue: str) -> None:
        """Tell every node that something changed in a queue (a caller or agent became
        available) so that they run :meth:`dispatch`."""

    def wakes(self) -> AsyncIterator[str]:
        """Queue names woken by any node (this one included). Several wakes of one queue
        not yet read may arrive as one (a wake only means "run dispatch")."""

    async def close(self) -> None: ...

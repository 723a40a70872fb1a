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
        of the offer (ring-all) are released without penalty."""

    async def offer_failed(self, offer: Offer, agent_id: str, failure: OfferFailure,
                           now: float) -> bool:
        """One agent of an offer failed it (the failure's delay/penalty applies to that agent).
        When no agent of the offer is left ringing, the caller returns to its place (same key)
        unless ``failure`` is CALLER_GONE. Returns True when the caller went back to waiting."""

    async def call_ended(self, offer: Offer, agent_id: str, talk: float, now: float) -> None:
        """The conversation ended: the agent goes to wrap-up until ``now + wrap_up`` of the
        queue; talk time and answered count are added to its figures."""

    async def expire(self, now: float, node_timeout: float = 30.0) -> Expired:
        """Clean up after nodes that died: offers past their deadline end (agents released,
        callers back to their place); callers waiting on, and calls (agents on_call or offered)
        held by, a node whose last :meth:`heartbeat` is older than ``node_timeout`` are removed
        and the agents freed (those callers' calls died with the node). Booked callbacks
        (``node='*'``) are never removed this way. Every node calls this periodically."""

    # -- agents -------------------------------------------------------------------------
    async def login(self, agent_id: str, now: float) -> AgentStatus:
        """Logged out → available (already logged in: unchanged). Raises UnknownAgent."""

    async def logout(self, agent_id: str, now: float, *, force: bool = False) -> AgentStatus:
        """→ logged out, refused (AcdError) during an offer or call, and — with
        ``handover_required`` — while the successor is not logged in, unless ``force``."""

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
        """One queue's status, or all (sorted by name)."""

    # -- nodes --------------------------------------------------------------------------
    async def heartbeat(self, node: str, now: float) -> None:
        """The node is alive (every node calls this every few seconds)."""

    async def wake(self, queue: str) -> None:
        """Tell every node that something changed in a queue (a caller or agent became
        available) so that they run :meth:`dispatch`."""

    def wakes(self) -> AsyncIterator[str]:
        """Queue names woken by any node (this one included)."""

    async def close(self) -> None: ...

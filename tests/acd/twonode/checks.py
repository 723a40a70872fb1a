"""The invariants of the two-node ACD test, checked on the nodes' merged queue logs.

* :func:`outcomes` — every call the switch placed has exactly one outcome in the queue log
  (answered, abandoned, timed out, no agents …) and every answer a ``complete``;
* :func:`double_offers` — per agent, the spans from an offer to its release (``complete``, or
  the failure: ``no_answer``, ``caller_gone`` …) never overlap, and every offer is released;
* :func:`priority_overtakes` — no caller was offered an agent while a caller of higher priority
  in the same queue had been waiting (beyond ``tolerance`` seconds) and had not been offered yet
  (a caller that overflowed counts in its second queue from then on).

The log's times bound the store's: an ``offer`` is written just after the store made it and an
``enter`` just after the caller was queued, so a logged overlap (or overtake) beyond the
tolerance — which absorbs event-loop lag between the store and the log — is a real one.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from coreswitch.acd.queue_log import QueueEvent

#: The events that end a caller's stay (``overflow`` only moves it to another queue; ``lost``
#: is a caller of a node that died, counted as an outcome but never expected here).
OUTCOMES = frozenset({"answer", "abandon", "timeout", "no_agents", "exit_key",
                      "callback_requested", "lost"})
#: The events that end one agent's part in an offer.
RELEASES = frozenset({"complete", "no_answer", "busy", "rejected", "unreachable", "caller_gone",
                      "answered_elsewhere"})


@dataclass
class Outcomes:
    counts: Counter[str] = field(default_factory=Counter)
    overflowed: int = 0  # calls moved to another queue at max wait (then one outcome there)
    missing: list[str] = field(default_factory=list)  # placed, never in the queue log
    several: dict[str, list[str]] = field(default_factory=dict)  # call → its outcome events
    unfinished: list[str] = field(default_factory=list)  # answered, no complete


def outcomes(placed: Iterable[str], log: Sequence[QueueEvent]) -> Outcomes:
    """One outcome per placed call (``placed``: the calls' UUIDs, as the switch numbered them)."""
    per_call: dict[str, list[str]] = defaultdict(list)
    completed: set[str] = set()
    for e in log:
        if e.event in OUTCOMES:
            per_call[e.call_id].append(e.event)
        elif e.event == "complete":
            completed.add(e.call_id)
    result = Outcomes(overflowed=len({e.call_id for e in log if e.event == "overflow"}))
    for call in placed:
        found = per_call.get(call, [])
        if not found:
            result.missing.append(call)
            continue
        if len(found) > 1:
            result.several[call] = found
        result.counts[found[0]] += 1
        if found[0] == "answer" and call not in completed:
            result.unfinished.append(call)
    return result


@dataclass(frozen=True)
class Overlap:
    agent: str
    first: str  # call of the earlier offer
    second: str  # call offered while the first was not released
    at: float  # when the second offer was made
    by: float  # how long it overlapped (seconds; inf: the first never released)


Span = tuple[float, float, str]  # offered at, released at (inf: never), call


def double_offers(log: Sequence[QueueEvent], tolerance: float = 0.05
                  ) -> tuple[list[Overlap], list[tuple[str, str]]]:
    """Overlapping offer spans per agent, and the (agent, call) offers never released."""
    spans, unreleased = _offer_spans(log)
    overlaps = []
    for agent, agent_spans in spans.items():
        agent_spans.sort()
        end, last = agent_spans[0][1], agent_spans[0][2]
        for start, stop, call in agent_spans[1:]:
            if start < end - tolerance:
                overlaps.append(Overlap(agent, last, call, start, end - start))
            if stop > end:
                end, last = stop, call
    return overlaps, unreleased


def _offer_spans(log: Sequence[QueueEvent]
                 ) -> tuple[dict[str, list[Span]], list[tuple[str, str]]]:
    """Each agent's offers from ``offer`` to the release of that agent for that call."""
    open_: dict[tuple[str, str], float] = {}
    spans: dict[str, list[Span]] = defaultdict(list)

    def release(agent: str, call: str, at: float) -> None:
        start = open_.pop((agent, call), None)
        if start is not None:
            spans[agent].append((start, at, call))

    for e in sorted(log, key=lambda e: e.at):
        if e.event == "offer":
            for agent in e.data.get("agents", ()):
                release(agent, e.call_id, float("inf"))  # offered again, never released
                open_[(agent, e.call_id)] = e.at
        elif e.event == "expired":
            for agent in e.data.get("agents", ()):
                release(agent, e.call_id, e.at)
        elif e.event in RELEASES and e.agent:
            release(e.agent, e.call_id, e.at)
    for (agent, call), start in open_.items():
        spans[agent].append((start, float("inf"), call))
    return spans, sorted(open_)


@dataclass(frozen=True)
class Overtake:
    queue: str
    served: str  # the call that was offered
    priority: int
    waiting: str  # the higher-priority call that had been waiting longer
    waiting_priority: int
    waited: float  # seconds the higher-priority caller had been waiting in the queue then


Stay = tuple[str, float, float]  # a call in a queue: call, since, until (offered or gone)


def priority_overtakes(log: Sequence[QueueEvent], tolerance: float = 0.05) -> list[Overtake]:
    """Offers made while a higher-priority caller of the same queue waited unoffered. A caller
    that overflowed waits in the second queue from its ``overflow`` event on."""
    priority, stays, first_offer = _stays(log)
    by_queue: dict[str, list[Stay]] = defaultdict(list)
    for call, call_stays in stays.items():
        offered = first_offer.get(call, (float("inf"), ""))[0]
        for queue, since, until in call_stays:
            by_queue[queue].append((call, since, min(until, offered)))
    found = []
    for call, (at, queue) in first_offer.items():
        mine = priority.get(call)
        if mine is None:
            continue
        for other, since, until in by_queue[queue]:
            theirs = priority[other]
            if theirs > mine and since < at - tolerance and until > at + tolerance:
                found.append(Overtake(queue, call, mine, other, theirs, round(at - since, 3)))
    return found


def _stays(log: Sequence[QueueEvent]) -> tuple[dict[str, int],
                                               dict[str, list[tuple[str, float, float]]],
                                               dict[str, tuple[float, str]]]:
    """Each call's priority, its stays in queues (queue, since, left), its first offer (at,
    queue)."""
    priority: dict[str, int] = {}
    stays: dict[str, list[tuple[str, float, float]]] = {}
    first_offer: dict[str, tuple[float, str]] = {}
    for e in sorted(log, key=lambda e: e.at):
        call = e.call_id
        if e.event == "enter" and call not in priority:
            priority[call] = int(e.data.get("priority", 0))
            stays[call] = [(e.queue, e.at, float("inf"))]
        elif e.event == "overflow" and call in stays:
            queue, since, _ = stays[call][-1]
            stays[call][-1] = (queue, since, e.at)
            stays[call].append((str(e.data.get("to", "")), e.at, float("inf")))
        elif e.event == "offer":
            first_offer.setdefault(call, (e.at, e.queue))
        elif e.event in OUTCOMES and call in stays:
            queue, since, until = stays[call][-1]
            stays[call][-1] = (queue, since, min(until, e.at))
    return priority, stays, first_offer

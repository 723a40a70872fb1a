"""Routing strategies: which eligible agent(s) a caller is offered.

A strategy is **declarative** — an order over a fixed set of agent figures, and how many agents
ring — so that every state store can keep the order as an index (a sorted list in process, a
sorted set in Redis) and pick an agent in O(log n) instead of scoring every agent per call. That
is what keeps selection as fast with 10,000 agents as with 1,000.

Figures a strategy may order by (per agent, per queue):

``tier``            the agent's tier in this queue (1 first)
``position``        the agent's place in the tier: agents sorted by id (工号)
``idle_since``      when the agent last became free (login, end of wrap-up, back from away)
``last_offered``    when the agent was last offered a call (round-robin)
``calls_answered``  calls answered since login
``talk_time``       seconds talked since login
``random``          a random number drawn each time the agent becomes free
``proficiency``     the agent's proficiency (1..5) in the caller's **first** needed skill
                    (0 for a caller who needs no skill)

A name with a leading ``-`` sorts descending; ties are broken by agent id. Eligibility (logged in,
not away, delays over, free capacity, tier reached, skill minimum of the queue's ``skill_steps``)
is the store's job and the same for every strategy.

``rings``: ``one`` (the first agent in the order), ``all`` (every eligible agent at once: first to
answer takes the call; ring-all) or ``sequence`` (every eligible agent, one more every
``QueueConfig.progressive_delay`` seconds while the earlier ones keep ringing:
ring-progressively). Offers of ``all``/``sequence`` hold at most :data:`MAX_RING` agents.

Plugins add strategies with :func:`register` (exposed as a hook later); a queue names its
strategy in ``[acd.queues.<name>] strategy = "..."``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FIGURES = frozenset({"tier", "position", "idle_since", "last_offered", "calls_answered",
                     "talk_time", "random", "proficiency"})
MAX_RING = 32

Rings = Literal["one", "all", "sequence"]


@dataclass(frozen=True, slots=True)
class Strategy:
    name: str
    order: tuple[str, ...]  # figure names, "-name" for descending
    rings: Rings = "one"
    doc: str = ""

    def __post_init__(self) -> None:
        for f in self.order:
            if f.removeprefix("-") not in FIGURES:
                raise ValueError(f"strategy {self.name!r}: unknown figure {f!r} "
                                 f"(known: {', '.join(sorted(FIGURES))})")
        if self.rings not in ("one", "all", "sequence"):
            raise ValueError(f"strategy {self.name!r}: rings must be one, all or sequence")


BUILTIN: tuple[Strategy, ...] = (
    Strategy("longest-idle", ("tier", "idle_since"),
             doc="the agent free for the longest time (fair, the usual choice)"),
    Strategy("round-robin", ("tier", "last_offered"),
             doc="agents in turn: the one offered a call longest ago"),
    Strategy("top-down", ("tier", "position"),
             doc="always the first free agent by tier, then 工号"),
    Strategy("least-talk-time", ("tier", "talk_time"),
             doc="the agent with the least talk time since login"),
    Strategy("fewest-calls", ("tier", "calls_answered"),
             doc="the agent who answered the fewest calls since login"),
    Strategy("random", ("tier", "random"), doc="any free agent, at random"),
    Strategy("ring-all", ("tier", "position"), "all",
             doc="every free agent rings; the first to answer takes the call"),
    Strategy("ring-progressively", ("tier", "position"), "sequence",
             doc="top-down, adding one more ringing agent every progressive_delay seconds"),
    Strategy("skills-based", ("-proficiency", "idle_since"),
             doc="the most proficient agent in the caller's skill, then longest idle; "
                 "the minimum proficiency widens with the queue's skill_steps"),
)

_REGISTRY: dict[str, Strategy] = {s.name: s for s in BUILTIN}


def register(strategy: Strategy) -> None:
    """Add (or replace) a strategy by name."""
    _REGISTRY[strategy.name] = strategy


def get(name: str) -> Strategy:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown ACD strategy {name!r} (known: "
                         f"{', '.join(sorted(_REGISTRY))})") from None


def names() -> list[str]:
    return sorted(_REGISTRY)

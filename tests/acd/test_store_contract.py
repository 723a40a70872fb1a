"""The store contract (coreswitch/acd/store.py), on the in-process store and on Redis."""

from __future__ import annotations

import random

import pytest

from coreswitch.acd import strategies
from coreswitch.acd.model import (
    AcdError,
    AgentConfig,
    AgentState,
    Caller,
    OfferFailure,
    QueueConfig,
    UnknownAgent,
)
from coreswitch.acd.store import AcdStore

T0 = 1_795_000_000.0


def agents(n: int, queue: str = "q", **kw: object) -> list[AgentConfig]:
    return [AgentConfig(f"{1000 + i}", f"user/{1000 + i}", queues={queue: 1}, **kw)  # type: ignore[arg-type]
            for i in range(1, n + 1)]


async def setup(store: AcdStore, n: int = 1, q: QueueConfig | None = None,
                configs: list[AgentConfig] | None = None) -> None:
    await store.configure([q or QueueConfig("q", wrap_up=0)], configs or agents(n))


def caller(cid: str, t: float, priority: int = 0, node: str = "n1", **kw: object) -> Caller:
    return Caller(cid, kw.pop("queue", "q"), "138", T0 + t, priority, node=node, **kw)  # type: ignore[arg-type]


async def test_callers_wait_in_priority_then_entry_order(acd_store: AcdStore) -> None:
    await setup(acd_store)
    for cid, t, p in [("a", 1, 0), ("b", 2, 0), ("vip", 3, 100), ("black", 0, -1), ("c", 4, 0)]:
        await acd_store.enqueue(caller(cid, t, p))
    assert [c.id for c in await acd_store.waiting("q")] == ["vip", "a", "b", "c", "black"]
    assert await acd_store.position("vip") == 1
    assert await acd_store.position("black") == 5


async def test_enqueue_twice_returns_the_existing_entry(acd_store: AcdStore) -> None:
    await setup(acd_store)
    first = await acd_store.enqueue(caller("a", 1))
    again = await acd_store.enqueue(caller("a", 9, 50))
    assert again == first
    assert first.seq > 0


async def test_dispatch_offers_the_head_caller_and_never_an_agent_twice(acd_store: AcdStore
                                                                        ) -> None:
    await setup(acd_store, n=1)
    await acd_store.login("1001", T0)
    await acd_store.enqueue(caller("a", 1))
    await acd_store.enqueue(caller("b", 2))
    offer = await acd_store.dispatch("q", T0 + 5, "n1")
    assert offer is not None
    assert (offer.caller.id, offer.agents) == ("a", ("1001",))
    assert await acd_store.dispatch("q", T0 + 5, "n1") is None  # the only agent is ringing
    assert (await acd_store.agents("1001"))[0].state == AgentState.OFFERED
    assert await acd_store.position("a") is None
    assert await acd_store.leave("a") is None  # offered: the owner must fail the offer


async def test_a_failed_offer_puts_the_caller_back_at_its_place(acd_store: AcdStore) -> None:
    await setup(acd_store, n=2)
    for a in ("1001", "1002"):
        await acd_store.login(a, T0)
    await acd_store.enqueue(caller("a", 1))
    await acd_store.enqueue(caller("b", 2))
    offer = await acd_store.dispatch("q", T0 + 5, "n1")
    assert offer is not None
    assert offer.caller.id == "a"
    back = await acd_store.offer_failed(offer, offer.agents[0], OfferFailure.NO_ANSWER, T0 + 20)
    assert back is True
    assert [c.id for c in await acd_store.waiting("q")] == ["a", "b"]
    again = await acd_store.dispatch("q", T0 + 21, "n1")
    assert again is not None
    assert again.caller.id == "a"
    assert again.agents != offer.agents  # the one who did not answer waits out its delay


async def test_answer_end_and_wrap_up(acd_store: AcdStore) -> None:
    await setup(acd_store, q=QueueConfig("q", wrap_up=10))
    await acd_store.login("1001", T0)
    await acd_store.enqueue(caller("a", 1))
    offer = await acd_store.dispatch("q", T0 + 2, "n1")
    assert offer is not None
    await acd_store.offer_answered(offer, "1001", T0 + 3)
    assert (await acd_store.agents("1001"))[0].state == AgentState.ON_CALL
    await acd_store.call_ended(offer, "1001", 60.0, T0 + 63)
    status = (await acd_store.agents("1001"))[0]
    assert status.state == AgentState.WRAP_UP
    assert status.calls_answered == 1
    await acd_store.enqueue(caller("b", 70))
    assert await acd_store.dispatch("q", T0 + 70, "n1") is None  # still wrapping up
    offer2 = await acd_store.dispatch("q", T0 + 74, "n1")
    assert offer2 is not None
    assert offer2.caller.id == "b"


async def test_wrap_up_done_makes_the_agent_available_at_once(acd_store: AcdStore) -> None:
    await setup(acd_store, q=QueueConfig("q", wrap_up=60))
    await acd_store.login("1001", T0)
    await acd_store.enqueue(caller("a", 1))
    offer = await acd_store.dispatch("q", T0 + 2, "n1")
    assert offer is not None
    await acd_store.offer_answered(offer, "1001", T0 + 3)
    await acd_store.call_ended(offer, "1001", 10.0, T0 + 13)
    assert (await acd_store.wrap_up_done("1001", T0 + 14)).state == AgentState.AVAILABLE
    await acd_store.enqueue(caller("b", 15))
    assert await acd_store.dispatch("q", T0 + 15, "n1") is not None


async def test_max_no_answer_sets_the_agent_away(acd_store: AcdStore) -> None:
    await setup(acd_store, q=QueueConfig("q", no_answer_delay=0, max_no_answer=2))
    await acd_store.login("1001", T0)
    await acd_store.enqueue(caller("a", 1))
    for i in range(2):
        offer = await acd_store.dispatch("q", T0 + 10 * i + 2, "n1")
        assert offer is not None
        await acd_store.offer_failed(offer, "1001", OfferFailure.NO_ANSWER, T0 + 10 * i + 5)
    status = (await acd_store.agents("1001"))[0]
    assert (status.state, status.reason) == (AgentState.AWAY, "no answer")
    assert await acd_store.dispatch("q", T0 + 30, "n1") is None


async def test_logout_is_refused_during_an_offer_and_by_the_handover_rule(acd_store: AcdStore
                                                                          ) -> None:
    configs = [AgentConfig("1001", "user/1001", queues={"q": 1}, successor="1002",
                           handover_required=True),
               AgentConfig("1002", "user/1002", queues={"q": 1})]
    await setup(acd_store, configs=configs)
    await acd_store.login("1001", T0)
    with pytest.raises(AcdError, match="successor 1002"):
        await acd_store.logout("1001", T0 + 1)
    await acd_store.enqueue(caller("a", 1))
    await acd_store.dispatch("q", T0 + 2, "n1")
    await acd_store.login("1002", T0 + 3)
    with pytest.raises(AcdError, match="during a call"):
        await acd_store.logout("1001", T0 + 4)
    assert (await acd_store.logout("1001", T0 + 5, force=True)).state == AgentState.LOGGED_OUT
    with pytest.raises(UnknownAgent):
        await acd_store.login("9999", T0)


@pytest.mark.parametrize(("name", "picks"), [
    ("longest-idle", ("1003", "1002")), ("top-down", ("1001", "1001")),
    ("round-robin", ("1001", "1002")), ("fewest-calls", ("1001", "1002")),
    ("least-talk-time", ("1001", "1002"))])
async def test_each_strategy_picks_the_agent_it_promises(acd_store: AcdStore, name: str,
                                                         picks: tuple[str, str]) -> None:
    """1003 logs in first (longest idle), 1001 last; ties go by 工号. After the first call
    (100 s), the agent who took it has been offered most recently, answered one call and
    talked longest; top-down still prefers 1001."""
    await setup(acd_store, n=3, q=QueueConfig("q", strategy=name, wrap_up=0))
    for i, a in enumerate(("1003", "1002", "1001")):
        await acd_store.login(a, T0 + i)
    got = []
    for t in (10, 200):
        await acd_store.enqueue(caller(f"c{t}", t))
        offer = await acd_store.dispatch("q", T0 + t, "n1")
        assert offer is not None
        got.append(offer.agents[0])
        await acd_store.offer_answered(offer, offer.agents[0], T0 + t + 1)
        await acd_store.call_ended(offer, offer.agents[0], 100.0, T0 + t + 101)
    assert tuple(got) == picks


async def test_ring_all_offers_every_free_agent(acd_store: AcdStore) -> None:
    await setup(acd_store, n=3, q=QueueConfig("q", strategy="ring-all"))
    for a in ("1001", "1002", "1003"):
        await acd_store.login(a, T0)
    await acd_store.enqueue(caller("a", 1))
    offer = await acd_store.dispatch("q", T0 + 2, "n1")
    assert offer is not None
    assert sorted(offer.agents) == ["1001", "1002", "1003"]
    assert offer.rings == "all"
    await acd_store.offer_answered(offer, "1002", T0 + 3)
    states = {s.id: s.state for s in await acd_store.agents()}
    assert states == {"1001": AgentState.AVAILABLE, "1002": AgentState.ON_CALL,
                      "1003": AgentState.AVAILABLE}


async def test_skills_steps_widen_with_the_wait(acd_store: AcdStore) -> None:
    q = QueueConfig("q", strategy="skills-based", skill_steps=((0, 4), (30, 2), (60, 0)))
    configs = [AgentConfig("1001", "user/1001", queues={"q": 1}, skills={"billing": 2})]
    await setup(acd_store, q=q, configs=configs)
    await acd_store.login("1001", T0)
    await acd_store.enqueue(caller("a", 0, skills=("billing",)))
    assert await acd_store.dispatch("q", T0 + 10, "n1") is None  # needs 4 for now
    offer = await acd_store.dispatch("q", T0 + 31, "n1")
    assert offer is not None
    assert offer.agents == ("1001",)


async def test_skills_based_prefers_the_most_proficient(acd_store: AcdStore) -> None:
    q = QueueConfig("q", strategy="skills-based")
    configs = [AgentConfig(f"100{i}", f"user/100{i}", queues={"q": 1}, skills={"en": i})
               for i in (1, 2, 3)]
    await setup(acd_store, q=q, configs=configs)
    for a in ("1001", "1002", "1003"):
        await acd_store.login(a, T0)
    await acd_store.enqueue(caller("a", 1, skills=("en",)))
    offer = await acd_store.dispatch("q", T0 + 2, "n1")
    assert offer is not None
    assert offer.agents == ("1003",)


async def test_a_caller_held_by_another_node_is_not_offered_here(acd_store: AcdStore) -> None:
    await setup(acd_store)
    await acd_store.login("1001", T0)
    await acd_store.enqueue(caller("a", 1, node="n2"))
    assert await acd_store.dispatch("q", T0 + 2, "n1") is None
    offer = await acd_store.dispatch("q", T0 + 2, "n2")
    assert offer is not None
    assert offer.node == "n2"


async def test_a_booked_callback_keeps_its_place_and_any_node_makes_it(acd_store: AcdStore
                                                                       ) -> None:
    await setup(acd_store)
    await acd_store.enqueue(caller("a", 1, node="n2"))
    await acd_store.enqueue(caller("b", 2, node="n2"))
    booked = await acd_store.book_callback("a", "13800000000")
    assert booked is not None
    assert (booked.node, booked.callback) == ("*", "13800000000")
    assert [c.id for c in await acd_store.waiting("q")] == ["a", "b"]
    assert (await acd_store.queues("q", T0 + 3))[0].callbacks == 1
    await acd_store.login("1001", T0 + 5)
    offer = await acd_store.dispatch("q", T0 + 6, "n1")
    assert offer is not None
    assert (offer.caller.id, offer.node) == ("a", "n1")


async def test_overflow_move_keeps_the_entry_time(acd_store: AcdStore) -> None:
    await acd_store.configure([QueueConfig("q"), QueueConfig("r")], agents(1))
    await acd_store.enqueue(caller("old", 1, queue="q"))
    await acd_store.enqueue(caller("new", 50, queue="r"))
    moved = await acd_store.move("old", "r")
    assert moved is not None
    assert moved.entered == T0 + 1
    assert [c.id for c in await acd_store.waiting("r")] == ["old", "new"]


async def test_expire_takes_back_offers_and_callers_of_a_dead_node(acd_store: AcdStore) -> None:
    await setup(acd_store, n=1)
    await acd_store.heartbeat("n2", T0)
    await acd_store.heartbeat("n1", T0 + 100)
    await acd_store.login("1001", T0)
    await acd_store.enqueue(caller("a", 1, node="n2"))
    await acd_store.enqueue(caller("b", 2, node="n2"))
    offer = await acd_store.dispatch("q", T0 + 2, "n2")
    assert offer is not None
    got = await acd_store.expire(T0 + 100, node_timeout=30)
    assert [o.id for o in got.offers] == [offer.id]
    assert {c.id for c in got.callers} >= {"b"}
    assert (await acd_store.agents("1001"))[0].active == 0


async def test_random_operations_keep_the_invariants(acd_store: AcdStore) -> None:
    rng = random.Random(5)
    await setup(acd_store, n=5, q=QueueConfig("q", wrap_up=0, no_answer_delay=1))
    for i in range(1, 6):
        await acd_store.login(f"100{i}", T0)
    now, live, offers, calls = T0, set(), [], []
    for step in range(300):
        now += 1
        op = rng.random()
        if op < 0.3:
            cid = f"c{step}"
            await acd_store.enqueue(caller(cid, now - T0, rng.choice([0, 0, 100, -1])))
            live.add(cid)
        elif op < 0.6:
            offer = await acd_store.dispatch("q", now, "n1")
            if offer is not None:
                offers.append(offer)
        elif op < 0.75 and offers:
            offer = offers.pop(rng.randrange(len(offers)))
            await acd_store.offer_answered(offer, offer.agents[0], now)
            calls.append(offer)
            live.discard(offer.caller.id)
        elif op < 0.85 and offers:
            offer = offers.pop(rng.randrange(len(offers)))
            await acd_store.offer_failed(offer, offer.agents[0], OfferFailure.NO_ANSWER, now)
        elif op < 0.95 and calls:
            offer = calls.pop(rng.randrange(len(calls)))
            await acd_store.call_ended(offer, offer.agents[0], 5.0, now)
        elif live:
            cid = rng.choice(sorted(live))
            if await acd_store.leave(cid) is not None:
                live.discard(cid)
        statuses = await acd_store.agents()
        assert all(s.active <= 1 for s in statuses)
        ringing = [a for o in offers for a in o.agents] + [o.agents[0] for o in calls]
        assert len(ringing) == len(set(ringing)), "an agent is in two offers or calls"
        waiting = [c.id for c in await acd_store.waiting("q")]
        offered = {o.caller.id for o in offers}
        assert set(waiting) | offered == live
        assert not set(waiting) & offered
        keys = [c.order_key()[:2] for c in await acd_store.waiting("q")]
        assert keys == sorted(keys)


def test_an_unknown_figure_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown figure"):
        strategies.Strategy("x", ("height",))

"""The store contract (coreswitch/acd/store.py), on the in-process store and on Redis.

Every test takes ``acd_store`` and runs once per store. Times are on a fake clock: ``T0`` plus
seconds; agents log in at ``T0``, callers enter at ``T0 + t``.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

import pytest

from coreswitch.acd import strategies
from coreswitch.acd.model import (
    AcdError,
    AgentConfig,
    AgentState,
    Caller,
    Offer,
    OfferFailure,
    QueueConfig,
    UnknownAgent,
    UnknownQueue,
)
from coreswitch.acd.store import AcdStore

T0 = 1_795_000_000.0


def agent(n: int, queues: dict[str, int] | None = None, skills: dict[str, int] | None = None,
          **kw: object) -> AgentConfig:
    return AgentConfig(f"{1000 + n}", f"user/{1000 + n}", queues=queues or {"q": 1},
                       skills=skills or {}, **kw)  # type: ignore[arg-type]


def agents(n: int) -> list[AgentConfig]:
    return [agent(i) for i in range(1, n + 1)]


async def setup(store: AcdStore, n: int = 1, q: QueueConfig | None = None,
                configs: list[AgentConfig] | None = None, *, login: bool = False) -> None:
    configs = configs or agents(n)
    await store.configure([q or QueueConfig("q", wrap_up=0)], configs)
    if login:
        for a in configs:
            await store.login(a.id, T0)


def caller(cid: str, t: float, priority: int = 0, *, node: str = "n1", queue: str = "q",
           skills: tuple[str, ...] = ()) -> Caller:
    return Caller(cid, queue, "13800138000", T0 + t, priority, skills, node)


async def offered(store: AcdStore, t: float, queue: str = "q", node: str = "n1") -> Offer:
    offer = await store.dispatch(queue, T0 + t, node)
    assert offer is not None, f"no offer at T0+{t}"
    return offer


async def serve(store: AcdStore, cid: str, t: float, talk: float = 100.0) -> str:
    """A caller arrives at ``t``, is offered, answered a second later and talks ``talk`` s."""
    await store.enqueue(caller(cid, t))
    offer = await offered(store, t)
    await store.offer_answered(offer, offer.agents[0], T0 + t + 1)
    await store.call_ended(offer, offer.agents[0], talk, T0 + t + 1 + talk)
    return offer.agents[0]


async def state(store: AcdStore, agent_id: str) -> AgentState:
    return (await store.agents(agent_id))[0].state


async def ids(store: AcdStore, queue: str = "q") -> list[str]:
    return [c.id for c in await store.waiting(queue)]


# -- order --------------------------------------------------------------------------------------
async def test_callers_wait_in_priority_then_entry_order(acd_store: AcdStore) -> None:
    await setup(acd_store)
    for cid, t, p in [("a", 1, 0), ("b", 2, 0), ("vip", 3, 100), ("black", 0, -1), ("c", 4, 0),
                      ("a-twin", 1, 0)]:
        await acd_store.enqueue(caller(cid, t, p))
    # VIP ahead of earlier callers, blacklist last although first in, equal times by arrival
    assert await ids(acd_store) == ["vip", "a", "a-twin", "b", "c", "black"]
    assert [await acd_store.position(c) for c in ("vip", "a", "black")] == [1, 2, 6]
    assert await acd_store.position("nobody") is None


async def test_the_head_caller_is_served_first_and_positions_move_up(acd_store: AcdStore
                                                                     ) -> None:
    await setup(acd_store, n=1, login=True)
    for cid, t in [("a", 1), ("b", 2), ("c", 3)]:
        await acd_store.enqueue(caller(cid, t))
    await acd_store.enqueue(caller("vip", 4, 100))
    assert await acd_store.position("c") == 4
    offer = await offered(acd_store, 5)
    assert offer.caller.id == "vip"
    assert await acd_store.position("c") == 3
    assert await acd_store.position("vip") is None  # offered: no longer waiting


async def test_enqueue_twice_returns_the_existing_entry(acd_store: AcdStore) -> None:
    await setup(acd_store, login=True)
    first = await acd_store.enqueue(caller("a", 1))
    assert first.seq > 0
    assert await acd_store.enqueue(caller("a", 9, 50)) == first
    await offered(acd_store, 2)
    assert await acd_store.enqueue(caller("a", 9, 50)) == first  # offered: still that entry
    assert await ids(acd_store) == []


async def test_unknown_queues_and_agents_are_refused(acd_store: AcdStore) -> None:
    await setup(acd_store)
    with pytest.raises(UnknownQueue):
        await acd_store.enqueue(caller("a", 1, queue="nope"))
    with pytest.raises(UnknownQueue):
        await acd_store.dispatch("nope", T0, "n1")
    with pytest.raises(UnknownAgent):
        await acd_store.login("9999", T0)
    with pytest.raises(UnknownAgent):
        await acd_store.agents("9999")


# -- offers -------------------------------------------------------------------------------------
async def test_an_agent_is_never_offered_twice_however_often_dispatch_runs(acd_store: AcdStore
                                                                           ) -> None:
    await setup(acd_store, n=3, login=True)
    for i in range(10):
        await acd_store.enqueue(caller(f"c{i}", i))
    got = [await acd_store.dispatch("q", T0 + 20, node) for _ in range(10) for node in ("n1",)]
    offers = [o for o in got if o is not None]
    assert [o.caller.id for o in offers] == ["c0", "c1", "c2"]
    assert sorted(a for o in offers for a in o.agents) == ["1001", "1002", "1003"]
    assert {s.state for s in await acd_store.agents()} == {AgentState.OFFERED}
    assert await acd_store.leave("c0") is None  # offered: the owner must fail the offer
    assert await ids(acd_store) == [f"c{i}" for i in range(3, 10)]


async def test_an_agent_with_two_lines_gets_two_offers_and_no_third(acd_store: AcdStore) -> None:
    await setup(acd_store, configs=[agent(1, max_concurrent=2)], login=True)
    for cid in ("a", "b", "c"):
        await acd_store.enqueue(caller(cid, 1))
    first, second = await offered(acd_store, 2), await offered(acd_store, 2)
    assert (first.agents, second.agents) == (("1001",), ("1001",))
    assert await acd_store.dispatch("q", T0 + 2, "n1") is None
    await acd_store.offer_answered(first, "1001", T0 + 3)
    assert (await acd_store.agents("1001"))[0].active == 2
    await acd_store.call_ended(first, "1001", 10, T0 + 13)
    assert (await offered(acd_store, 14)).caller.id == "c"


async def test_a_failed_offer_puts_the_caller_back_at_its_place(acd_store: AcdStore) -> None:
    await setup(acd_store, n=2, login=True)
    await acd_store.enqueue(caller("a", 1))
    await acd_store.enqueue(caller("b", 2))
    offer = await offered(acd_store, 5)
    assert offer.caller.id == "a"
    await acd_store.enqueue(caller("late", 10))
    back = await acd_store.offer_failed(offer, offer.agents[0], OfferFailure.NO_ANSWER, T0 + 20)
    assert back is True
    assert await ids(acd_store) == ["a", "b", "late"]
    again = await offered(acd_store, 21)
    assert again.caller == offer.caller  # same entry: same entry time and sequence
    assert again.agents != offer.agents  # the one who did not answer waits out its delay


async def test_a_caller_gone_while_ringing_leaves_and_costs_the_agent_nothing(
        acd_store: AcdStore) -> None:
    await setup(acd_store, login=True)
    await acd_store.enqueue(caller("a", 1))
    await acd_store.enqueue(caller("b", 2))
    offer = await offered(acd_store, 3)
    assert await acd_store.offer_failed(offer, "1001", OfferFailure.CALLER_GONE, T0 + 4) is False
    assert await ids(acd_store) == ["b"]
    assert (await offered(acd_store, 4)).agents == ("1001",)  # no delay


async def test_reporting_a_failure_twice_changes_nothing(acd_store: AcdStore) -> None:
    await setup(acd_store, n=2, login=True)
    await acd_store.enqueue(caller("a", 1))
    offer = await offered(acd_store, 2)
    assert await acd_store.offer_failed(offer, "1001", OfferFailure.BUSY, T0 + 3) is True
    second = await offered(acd_store, 3)
    assert await acd_store.offer_failed(offer, "1001", OfferFailure.BUSY, T0 + 4) is False
    assert await ids(acd_store) == []
    assert second.agents == ("1002",)
    assert (await acd_store.agents("1002"))[0].state == AgentState.OFFERED


@pytest.mark.parametrize(("failure", "delay"), [
    (OfferFailure.NO_ANSWER, 10), (OfferFailure.UNREACHABLE, 10), (OfferFailure.BUSY, 20),
    (OfferFailure.REJECTED, 40), (OfferFailure.ANSWERED_ELSEWHERE, 0),
    (OfferFailure.EXPIRED, 0)])
async def test_an_agent_who_failed_an_offer_waits_its_delay(
        acd_store: AcdStore, failure: OfferFailure, delay: float) -> None:
    q = QueueConfig("q", no_answer_delay=10, busy_delay=20, reject_delay=40)
    await setup(acd_store, q=q, login=True)
    await acd_store.enqueue(caller("a", 1))
    offer = await offered(acd_store, 2)
    await acd_store.offer_failed(offer, "1001", failure, T0 + 5)
    status = (await acd_store.agents("1001"))[0]
    assert status.available_at <= T0 + 5 + delay
    if delay:
        assert await acd_store.dispatch("q", T0 + 5 + delay - 0.5, "n1") is None
    assert (await offered(acd_store, 5 + delay)).agents == ("1001",)


async def test_consecutive_no_answers_set_the_agent_away(acd_store: AcdStore) -> None:
    await setup(acd_store, q=QueueConfig("q", no_answer_delay=0, max_no_answer=3), login=True)
    await acd_store.enqueue(caller("a", 1))
    failures = [OfferFailure.NO_ANSWER, OfferFailure.UNREACHABLE, OfferFailure.NO_ANSWER]
    for i, failure in enumerate(failures):
        offer = await offered(acd_store, 10 * i + 2)
        await acd_store.offer_failed(offer, "1001", failure, T0 + 10 * i + 5)
    status = (await acd_store.agents("1001"))[0]
    assert (status.state, status.reason, status.no_answers) == (AgentState.AWAY, "no answer", 3)
    assert await acd_store.dispatch("q", T0 + 60, "n1") is None
    back = await acd_store.set_available("1001", T0 + 61)
    assert (back.state, back.no_answers) == (AgentState.AVAILABLE, 0)
    assert (await offered(acd_store, 62)).caller.id == "a"


async def test_an_answered_call_resets_the_no_answer_count(acd_store: AcdStore) -> None:
    await setup(acd_store, q=QueueConfig("q", no_answer_delay=0, max_no_answer=2, wrap_up=0),
                login=True)
    await acd_store.enqueue(caller("a", 1))
    offer = await offered(acd_store, 2)
    await acd_store.offer_failed(offer, "1001", OfferFailure.NO_ANSWER, T0 + 3)
    offer = await offered(acd_store, 4)
    await acd_store.offer_answered(offer, "1001", T0 + 5)
    await acd_store.call_ended(offer, "1001", 10, T0 + 15)
    await acd_store.enqueue(caller("b", 20))
    offer = await offered(acd_store, 21)
    await acd_store.offer_failed(offer, "1001", OfferFailure.NO_ANSWER, T0 + 22)
    assert (await acd_store.agents("1001"))[0].state == AgentState.AVAILABLE  # 1, not 2


# -- calls and agent states ---------------------------------------------------------------------
async def test_answer_end_and_wrap_up(acd_store: AcdStore) -> None:
    await setup(acd_store, q=QueueConfig("q", wrap_up=10), login=True)
    await acd_store.enqueue(caller("a", 1))
    offer = await offered(acd_store, 2)
    assert await state(acd_store, "1001") == AgentState.OFFERED
    await acd_store.offer_answered(offer, "1001", T0 + 3)
    assert await state(acd_store, "1001") == AgentState.ON_CALL
    assert await ids(acd_store) == []
    assert await acd_store.position("a") is None
    await acd_store.call_ended(offer, "1001", 60.0, T0 + 63)
    status = (await acd_store.agents("1001"))[0]
    assert (status.state, status.calls_answered, status.talk_time) == (AgentState.WRAP_UP, 1, 60)
    assert status.available_at == T0 + 73
    await acd_store.enqueue(caller("b", 70))
    assert await acd_store.dispatch("q", T0 + 72, "n1") is None  # still wrapping up
    assert (await offered(acd_store, 73)).caller.id == "b"


async def test_wrap_up_done_makes_the_agent_available_at_once(acd_store: AcdStore) -> None:
    await setup(acd_store, q=QueueConfig("q", wrap_up=60), login=True)
    await serve(acd_store, "a", 1, talk=10)
    assert await state(acd_store, "1001") == AgentState.WRAP_UP
    assert (await acd_store.wrap_up_done("1001", T0 + 14)).state == AgentState.AVAILABLE
    # the next call's wrap-up is honoured in full (no leftover from the first one)
    await serve(acd_store, "b", 15, talk=10)
    await acd_store.enqueue(caller("c", 30))
    assert await acd_store.dispatch("q", T0 + 26 + 59, "n1") is None
    assert (await offered(acd_store, 26 + 60)).caller.id == "c"


async def test_away_during_a_call_applies_when_it_ends(acd_store: AcdStore) -> None:
    await setup(acd_store, q=QueueConfig("q", wrap_up=10), login=True)
    await acd_store.enqueue(caller("a", 1))
    offer = await offered(acd_store, 2)
    await acd_store.offer_answered(offer, "1001", T0 + 3)
    assert (await acd_store.set_away("1001", "lunch", T0 + 4)).state == AgentState.ON_CALL
    await acd_store.call_ended(offer, "1001", 10, T0 + 13)
    status = (await acd_store.agents("1001"))[0]
    assert (status.state, status.reason) == (AgentState.AWAY, "lunch")
    await acd_store.enqueue(caller("b", 20))
    assert await acd_store.dispatch("q", T0 + 100, "n1") is None


async def test_away_while_ringing_applies_when_the_offer_ends(acd_store: AcdStore) -> None:
    await setup(acd_store, login=True)
    await acd_store.enqueue(caller("a", 1))
    offer = await offered(acd_store, 2)
    await acd_store.set_away("1001", "meeting", T0 + 3)
    await acd_store.offer_failed(offer, "1001", OfferFailure.REJECTED, T0 + 4)
    assert await state(acd_store, "1001") == AgentState.AWAY
    assert await acd_store.dispatch("q", T0 + 100, "n1") is None


async def test_away_in_wrap_up_and_back(acd_store: AcdStore) -> None:
    await setup(acd_store, q=QueueConfig("q", wrap_up=30), login=True)
    await serve(acd_store, "a", 1, talk=10)
    away = await acd_store.set_away("1001", "break", T0 + 15)
    assert (away.state, away.reason) == (AgentState.AWAY, "break")
    await acd_store.enqueue(caller("b", 20))
    assert await acd_store.dispatch("q", T0 + 100, "n1") is None  # wrap-up over, still away
    assert (await acd_store.set_available("1001", T0 + 101)).state == AgentState.AVAILABLE
    assert (await offered(acd_store, 101)).caller.id == "b"


async def test_logout_is_refused_during_an_offer_or_a_call(acd_store: AcdStore) -> None:
    await setup(acd_store, login=True)
    await acd_store.enqueue(caller("a", 1))
    offer = await offered(acd_store, 2)
    with pytest.raises(AcdError, match="during a call"):
        await acd_store.logout("1001", T0 + 3)
    await acd_store.offer_answered(offer, "1001", T0 + 4)
    with pytest.raises(AcdError, match="during a call"):
        await acd_store.logout("1001", T0 + 5)
    await acd_store.call_ended(offer, "1001", 10, T0 + 15)
    assert (await acd_store.logout("1001", T0 + 16)).state == AgentState.LOGGED_OUT
    with pytest.raises(AcdError, match="not logged in"):
        await acd_store.set_away("1001", "x", T0 + 17)


async def test_logout_waits_for_the_successor_unless_forced(acd_store: AcdStore) -> None:
    configs = [agent(1, successor="1002", handover_required=True), agent(2)]
    await setup(acd_store, configs=configs)
    await acd_store.login("1001", T0)
    with pytest.raises(AcdError, match="successor 1002"):
        await acd_store.logout("1001", T0 + 1)
    assert await state(acd_store, "1001") == AgentState.AVAILABLE
    assert (await acd_store.logout("1001", T0 + 2, force=True)).state == AgentState.LOGGED_OUT
    await acd_store.login("1001", T0 + 3)
    await acd_store.login("1002", T0 + 4)
    assert (await acd_store.logout("1001", T0 + 5)).state == AgentState.LOGGED_OUT


async def test_an_agent_forced_out_while_ringing_stays_out_after_the_call(
        acd_store: AcdStore) -> None:
    await setup(acd_store, q=QueueConfig("q", wrap_up=0), login=True)
    await acd_store.enqueue(caller("a", 1))
    offer = await offered(acd_store, 2)
    assert (await acd_store.logout("1001", T0 + 3, force=True)).state == AgentState.LOGGED_OUT
    await acd_store.offer_answered(offer, "1001", T0 + 4)  # the phone was picked up anyway
    await acd_store.call_ended(offer, "1001", 10, T0 + 14)
    status = (await acd_store.agents("1001"))[0]
    assert (status.state, status.active) == (AgentState.LOGGED_OUT, 0)
    await acd_store.enqueue(caller("b", 20))
    assert await acd_store.dispatch("q", T0 + 20, "n1") is None


async def test_login_starts_the_figures_again(acd_store: AcdStore) -> None:
    await setup(acd_store, login=True)
    await serve(acd_store, "a", 1, talk=50)
    await acd_store.logout("1001", T0 + 100)
    status = await acd_store.login("1001", T0 + 200)
    assert (status.state, status.calls_answered, status.talk_time, status.since) == (
        AgentState.AVAILABLE, 0, 0.0, T0 + 200)
    assert (await acd_store.login("1001", T0 + 300)).since == T0 + 200  # already in: unchanged


# -- strategies ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "picks"), [
    ("longest-idle", ("1003", "1002")), ("top-down", ("1001", "1001")),
    ("round-robin", ("1001", "1002")), ("fewest-calls", ("1001", "1002")),
    ("least-talk-time", ("1001", "1002"))])
async def test_each_strategy_picks_the_agent_it_promises(acd_store: AcdStore, name: str,
                                                         picks: tuple[str, str]) -> None:
    """1003 logs in first (longest idle), 1001 last; ties go by 工号. After the first call
    (100 s), the agent who took it has been offered most recently, answered one call and
    talked longest, and has been idle the shortest time; top-down still prefers 1001."""
    await setup(acd_store, n=3, q=QueueConfig("q", strategy=name, wrap_up=0))
    for i, a in enumerate(("1003", "1002", "1001")):
        await acd_store.login(a, T0 + i)
    got = (await serve(acd_store, "c1", 10), await serve(acd_store, "c2", 200))
    assert got == picks


async def test_least_talk_time_counts_seconds_not_calls(acd_store: AcdStore) -> None:
    await setup(acd_store, n=2, q=QueueConfig("q", strategy="least-talk-time", wrap_up=0),
                login=True)
    assert await serve(acd_store, "a", 10, talk=300) == "1001"
    assert await serve(acd_store, "b", 400, talk=10) == "1002"
    assert await serve(acd_store, "c", 500, talk=10) == "1002"  # 20 s < 300 s


async def test_random_spreads_the_calls(acd_store: AcdStore) -> None:
    await setup(acd_store, n=3, q=QueueConfig("q", strategy="random", wrap_up=0), login=True)
    picks = [await serve(acd_store, f"c{i}", 10 + 20 * i, talk=5) for i in range(60)]
    assert set(picks) == {"1001", "1002", "1003"}  # all three: chance of failing ~ 1e-10
    assert max(picks.count(a) for a in set(picks)) < 60 * 0.7


async def test_ring_all_rings_every_free_agent_and_the_first_answer_wins(acd_store: AcdStore
                                                                         ) -> None:
    configs = [agent(3), agent(1), agent(2, queues={"q": 2}), agent(4)]
    await setup(acd_store, configs=configs, q=QueueConfig("q", strategy="ring-all", wrap_up=0),
                login=True)
    await acd_store.set_away("1004", "break", T0)
    await acd_store.enqueue(caller("a", 1))
    offer = await offered(acd_store, 2)
    assert (offer.rings, offer.agents) == ("all", ("1001", "1003", "1002"))  # tier, then 工号
    assert offer.endpoints == ("user/1001", "user/1003", "user/1002")
    assert offer.deadline == offer.made + 15 + 30
    await acd_store.offer_answered(offer, "1003", T0 + 3)
    states = {s.id: s.state for s in await acd_store.agents()}
    assert states == {"1001": AgentState.AVAILABLE, "1002": AgentState.AVAILABLE,
                      "1003": AgentState.ON_CALL, "1004": AgentState.AWAY}
    await acd_store.enqueue(caller("b", 4))
    assert (await offered(acd_store, 4)).agents == ("1001", "1002")  # no penalty for losing


async def test_ring_all_caller_returns_when_every_agent_failed(acd_store: AcdStore) -> None:
    await setup(acd_store, n=2, q=QueueConfig("q", strategy="ring-all"), login=True)
    await acd_store.enqueue(caller("a", 1))
    offer = await offered(acd_store, 2)
    assert await acd_store.offer_failed(offer, "1001", OfferFailure.REJECTED, T0 + 3) is False
    assert await ids(acd_store) == []  # 1002 still rings
    assert await acd_store.offer_failed(offer, "1002", OfferFailure.NO_ANSWER, T0 + 4) is True
    assert await ids(acd_store) == ["a"]


async def test_ring_progressively_rings_top_down_with_a_longer_deadline(acd_store: AcdStore
                                                                        ) -> None:
    q = QueueConfig("q", strategy="ring-progressively", ring_timeout=20, progressive_delay=5)
    await setup(acd_store, configs=[agent(2), agent(3), agent(1)], q=q, login=True)
    await acd_store.enqueue(caller("a", 1))
    offer = await offered(acd_store, 2)
    assert (offer.rings, offer.agents) == ("sequence", ("1001", "1002", "1003"))
    assert offer.progressive_delay == 5
    assert offer.deadline == T0 + 2 + 20 + 5 * 2 + 30


async def test_at_most_max_ring_agents_ring_at_once(acd_store: AcdStore) -> None:
    n = strategies.MAX_RING + 3
    await setup(acd_store, n=n, q=QueueConfig("q", strategy="ring-all"), login=True)
    await acd_store.enqueue(caller("a", 1))
    await acd_store.enqueue(caller("b", 2))
    first, second = await offered(acd_store, 3), await offered(acd_store, 3)
    assert len(first.agents) == strategies.MAX_RING
    assert len(second.agents) == 3
    assert not set(first.agents) & set(second.agents)


async def test_skills_based_prefers_the_most_proficient_then_the_longest_idle(
        acd_store: AcdStore) -> None:
    q = QueueConfig("q", strategy="skills-based", wrap_up=0)
    configs = [agent(1, skills={"en": 5}), agent(2, skills={"en": 3}),
               agent(3, skills={"en": 5}), agent(4, skills={"fr": 5})]
    await setup(acd_store, q=q, configs=configs)
    for i, a in enumerate(("1004", "1003", "1002", "1001")):
        await acd_store.login(a, T0 + i)
    await acd_store.enqueue(caller("a", 10, skills=("en",)))
    assert (await offered(acd_store, 10)).agents == ("1003",)  # 5, idle longer than 1001
    await acd_store.enqueue(caller("b", 11, skills=("en",)))
    assert (await offered(acd_store, 11)).agents == ("1001",)
    await acd_store.enqueue(caller("c", 12))  # needs no skill: the longest idle
    assert (await offered(acd_store, 12)).agents == ("1004",)


async def test_skill_steps_widen_with_the_wait(acd_store: AcdStore) -> None:
    q = QueueConfig("q", strategy="skills-based", skill_steps=((0, 4), (30, 2), (60, 0)))
    configs = [agent(1, skills={"billing": 2}), agent(2, skills={"billing": 1}),
               agent(3, skills={"other": 5})]
    await setup(acd_store, q=q, configs=configs, login=True)
    await acd_store.enqueue(caller("a", 0, skills=("billing",)))
    await acd_store.enqueue(caller("b", 0, skills=("billing",)))
    assert await acd_store.dispatch("q", T0 + 29, "n1") is None  # needs 4 for now
    assert (await offered(acd_store, 30)).agents == ("1001",)  # 2 will do after 30 s
    assert await acd_store.dispatch("q", T0 + 59, "n1") is None
    assert (await offered(acd_store, 60)).agents == ("1002",)  # any level after 60 s


async def test_every_needed_skill_counts_in_other_strategies(acd_store: AcdStore) -> None:
    q = QueueConfig("q", strategy="top-down")
    configs = [agent(1, skills={"en": 5}), agent(2, skills={"en": 1, "vip": 1})]
    await setup(acd_store, q=q, configs=configs, login=True)
    await acd_store.enqueue(caller("a", 0, skills=("en", "vip")))
    assert (await offered(acd_store, 1)).agents == ("1002",)


async def test_lower_tiers_serve_first(acd_store: AcdStore) -> None:
    configs = [agent(1, queues={"q": 2}), agent(2, queues={"q": 1})]
    await setup(acd_store, configs=configs, q=QueueConfig("q", strategy="top-down"), login=True)
    await acd_store.enqueue(caller("a", 1))
    assert (await offered(acd_store, 1)).agents == ("1002",)


async def test_tier_wait_holds_higher_tiers_back(acd_store: AcdStore) -> None:
    q = QueueConfig("q", strategy="longest-idle", tier_wait=30)
    configs = [agent(1, queues={"q": 1}), agent(2, queues={"q": 2}), agent(3, queues={"q": 3})]
    await setup(acd_store, configs=configs, q=q, login=True)
    await acd_store.enqueue(caller("a", 0))
    assert (await offered(acd_store, 0)).agents == ("1001",)
    await acd_store.enqueue(caller("b", 0))
    assert await acd_store.dispatch("q", T0 + 29, "n1") is None
    assert (await offered(acd_store, 30)).agents == ("1002",)
    await acd_store.enqueue(caller("c", 0))
    assert await acd_store.dispatch("q", T0 + 59, "n1") is None
    assert (await offered(acd_store, 60)).agents == ("1003",)


async def test_reconfiguring_keeps_agents_logged_in_and_changes_the_strategy(
        acd_store: AcdStore) -> None:
    await setup(acd_store, n=2, q=QueueConfig("q", strategy="top-down", wrap_up=0))
    await acd_store.login("1002", T0)
    await acd_store.login("1001", T0 + 5)
    assert await serve(acd_store, "a", 10) == "1001"
    await acd_store.configure([QueueConfig("q", strategy="longest-idle", wrap_up=0)], agents(2))
    assert {s.state for s in await acd_store.agents()} == {AgentState.AVAILABLE}
    assert await serve(acd_store, "b", 200) == "1002"


# -- the ordering rule --------------------------------------------------------------------------
async def test_a_caller_nobody_can_serve_does_not_hold_up_the_next(acd_store: AcdStore) -> None:
    configs = [agent(1, skills={"en": 3})]
    await setup(acd_store, configs=configs, q=QueueConfig("q", strategy="top-down"), login=True)
    await acd_store.enqueue(caller("fr", 1, skills=("fr",)))
    await acd_store.enqueue(caller("plain", 2))
    assert (await offered(acd_store, 3)).caller.id == "plain"
    assert await ids(acd_store) == ["fr"]


async def test_a_later_caller_never_takes_an_agent_an_earlier_one_could(acd_store: AcdStore
                                                                        ) -> None:
    configs = [agent(1, skills={"en": 3}), agent(2, skills={"fr": 3})]
    await setup(acd_store, configs=configs, q=QueueConfig("q", strategy="top-down"), login=True)
    await acd_store.enqueue(caller("vip-fr", 5, 100, skills=("fr",)))
    await acd_store.enqueue(caller("plain", 1))
    await acd_store.enqueue(caller("en", 2, skills=("en",)))
    first = await offered(acd_store, 6)
    assert (first.caller.id, first.agents) == ("vip-fr", ("1002",))
    second = await offered(acd_store, 6)
    assert (second.caller.id, second.agents) == ("plain", ("1001",))  # though "en" needs it
    assert await acd_store.dispatch("q", T0 + 6, "n1") is None


async def test_a_head_caller_held_by_another_node_is_offered_by_that_node(acd_store: AcdStore
                                                                          ) -> None:
    await setup(acd_store, login=True)
    await acd_store.enqueue(caller("a", 1, node="n2"))
    await acd_store.enqueue(caller("b", 2, node="n1"))
    assert await acd_store.dispatch("q", T0 + 3, "n1") is None  # b must not jump the queue
    assert await ids(acd_store) == ["a", "b"]
    assert await state(acd_store, "1001") == AgentState.AVAILABLE
    offer = await offered(acd_store, 3, node="n2")
    assert (offer.caller.id, offer.node) == ("a", "n2")


# -- callbacks, overflow, leaving ---------------------------------------------------------------
async def test_a_booked_callback_keeps_its_place_and_any_node_makes_it(acd_store: AcdStore
                                                                       ) -> None:
    await setup(acd_store)
    await acd_store.enqueue(caller("a", 1, node="n2"))
    await acd_store.enqueue(caller("b", 2, node="n2"))
    booked = await acd_store.book_callback("a", "13800000000")
    assert booked is not None
    assert (booked.node, booked.callback, booked.entered, booked.seq) == (
        "*", "13800000000", T0 + 1, (await acd_store.waiting("q"))[0].seq)
    assert await ids(acd_store) == ["a", "b"]
    assert await acd_store.position("a") == 1
    status = (await acd_store.queues("q", T0 + 3))[0]
    assert (status.waiting, status.callbacks) == (2, 1)
    await acd_store.login("1001", T0 + 5)
    offer = await offered(acd_store, 6, node="n1")
    assert (offer.caller.id, offer.caller.callback, offer.node) == ("a", "13800000000", "n1")


async def test_a_callback_can_be_cancelled_and_is_not_booked_while_offered(acd_store: AcdStore
                                                                           ) -> None:
    await setup(acd_store, login=True)
    await acd_store.enqueue(caller("a", 1))
    await acd_store.enqueue(caller("b", 2))
    await offered(acd_store, 3)
    assert await acd_store.book_callback("a", "139") is None  # offered
    assert await acd_store.book_callback("b", "139") is not None
    left = await acd_store.leave("b")
    assert left is not None
    assert left.callback == "139"
    assert (await acd_store.queues("q", T0 + 4))[0].callbacks == 0


async def test_overflow_move_keeps_the_entry_time(acd_store: AcdStore) -> None:
    await acd_store.configure([QueueConfig("q"), QueueConfig("r")], agents(1))
    await acd_store.enqueue(caller("old", 1, queue="q"))
    await acd_store.enqueue(caller("new", 50, queue="r"))
    moved = await acd_store.move("old", "r")
    assert moved is not None
    assert (moved.queue, moved.entered) == ("r", T0 + 1)
    assert await ids(acd_store, "r") == ["old", "new"]
    assert await ids(acd_store, "q") == []
    vip = await acd_store.move("new", "r", priority=100)
    assert vip is not None
    assert await ids(acd_store, "r") == ["new", "old"]
    with pytest.raises(UnknownQueue):
        await acd_store.move("old", "nope")
    assert await acd_store.move("nobody", "q") is None


async def test_leave_takes_a_waiting_caller_out(acd_store: AcdStore) -> None:
    await setup(acd_store)
    await acd_store.enqueue(caller("a", 1))
    await acd_store.enqueue(caller("b", 2))
    left = await acd_store.leave("a")
    assert left is not None
    assert left.id == "a"
    assert await acd_store.leave("a") is None
    assert await ids(acd_store) == ["b"]
    assert await acd_store.position("b") == 1


# -- expiry and dead nodes ----------------------------------------------------------------------
async def test_an_offer_past_its_deadline_is_taken_back(acd_store: AcdStore) -> None:
    await setup(acd_store, q=QueueConfig("q", ring_timeout=15), login=True)
    await acd_store.heartbeat("n1", T0 + 100)
    await acd_store.enqueue(caller("a", 1))
    await acd_store.enqueue(caller("b", 2))
    offer = await offered(acd_store, 2)
    assert offer.deadline == T0 + 2 + 15 + 30
    assert (await acd_store.expire(T0 + 47)).offers == ()
    got = await acd_store.expire(T0 + 48)
    assert [o.id for o in got.offers] == [offer.id]
    assert (got.callers, got.agents) == ((), ())
    assert await ids(acd_store) == ["a", "b"]  # back in its place
    assert (await offered(acd_store, 48)).agents == ("1001",)  # no penalty
    assert await acd_store.offer_failed(offer, "1001", OfferFailure.NO_ANSWER, T0 + 49) is False


async def test_a_dead_node_loses_its_callers_but_not_the_callbacks(acd_store: AcdStore) -> None:
    await setup(acd_store, n=3, login=True)
    await acd_store.heartbeat("n2", T0)
    await acd_store.heartbeat("n1", T0 + 100)
    await acd_store.enqueue(caller("talking", 1, node="n2"))
    await acd_store.enqueue(caller("ringing", 2, node="n2"))
    await acd_store.enqueue(caller("waiting", 3, node="n2"))
    await acd_store.enqueue(caller("callback", 4, node="n2"))
    await acd_store.enqueue(caller("alive", 5, node="n1"))
    call = await offered(acd_store, 6, node="n2")
    await acd_store.offer_answered(call, call.agents[0], T0 + 7)
    ringing = await offered(acd_store, 8, node="n2")
    await acd_store.book_callback("callback", "139")
    got = await acd_store.expire(T0 + 100, node_timeout=30)
    assert [o.id for o in got.offers] == [ringing.id]
    assert {c.id for c in got.callers} == {"ringing", "waiting"}
    assert sorted(got.agents) == sorted(call.agents + ringing.agents)
    assert await ids(acd_store) == ["callback", "alive"]
    assert [s.active for s in await acd_store.agents()] == [0, 0, 0]
    assert (await acd_store.expire(T0 + 101, node_timeout=30)).callers == ()
    # the dead node's late report of its call does not free the agent from a new offer
    again = await offered(acd_store, 101)
    assert again.agents == call.agents
    await acd_store.call_ended(call, call.agents[0], 60, T0 + 102)
    status = (await acd_store.agents(call.agents[0]))[0]
    assert (status.state, status.active) == (AgentState.OFFERED, 1)
    await acd_store.enqueue(caller("next", 103))
    nxt = await offered(acd_store, 103)
    assert nxt.agents != call.agents


async def test_a_node_that_beats_is_left_alone(acd_store: AcdStore) -> None:
    await setup(acd_store, login=True)
    await acd_store.heartbeat("n2", T0 + 80)
    await acd_store.enqueue(caller("a", 1, node="n2"))
    got = await acd_store.expire(T0 + 100, node_timeout=30)
    assert (got.offers, got.callers, got.agents) == ((), (), ())
    assert await ids(acd_store) == ["a"]


# -- status -------------------------------------------------------------------------------------
async def test_queue_status_counts(acd_store: AcdStore) -> None:
    configs = [agent(1), agent(2), agent(3), agent(4, queues={"q": 1, "r": 1})]
    await acd_store.configure([QueueConfig("q", wrap_up=20), QueueConfig("r")], configs)
    for a in ("1001", "1002", "1003"):
        await acd_store.login(a, T0)
    await acd_store.set_away("1003", "break", T0)
    for cid, t in [("a", 10), ("b", 20), ("c", 30)]:
        await acd_store.enqueue(caller(cid, t))
    await acd_store.book_callback("c", "139")
    offer = await offered(acd_store, 40)
    status = (await acd_store.queues("q", T0 + 50))[0]
    assert (status.name, status.waiting, status.callbacks) == ("q", 2, 1)
    assert (status.agents_logged_in, status.agents_available) == (3, 1)  # away counts as in
    assert status.oldest_wait == 30  # b, entered at T0+20
    assert status.average_handle == 120  # nothing handled yet
    await acd_store.offer_answered(offer, offer.agents[0], T0 + 41)
    await acd_store.call_ended(offer, offer.agents[0], 80, T0 + 121)
    status = (await acd_store.queues("q", T0 + 130))[0]
    assert status.average_handle == pytest.approx(0.8 * 120 + 0.2 * (80 + 20))
    assert status.agents_available == 1  # the other one is still in wrap-up
    assert (await acd_store.queues("q", T0 + 141))[0].agents_available == 2
    names = [s.name for s in await acd_store.queues(now=T0 + 141)]
    assert names == ["q", "r"]
    assert (await acd_store.queues("r", T0))[0].agents_logged_in == 0
    assert [s.id for s in await acd_store.agents()] == ["1001", "1002", "1003", "1004"]


def test_an_unknown_figure_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown figure"):
        strategies.Strategy("x", ("height",))


# -- many interleaved operations ----------------------------------------------------------------
RANDOM_QUEUES = [
    QueueConfig("plain", strategy="longest-idle", wrap_up=2, tier_wait=20, no_answer_delay=3,
                busy_delay=5, reject_delay=4, max_no_answer=3),
    QueueConfig("skill", strategy="skills-based", wrap_up=0, no_answer_delay=2,
                skill_steps=((0, 4), (15, 2), (40, 0))),
    QueueConfig("all", strategy="ring-all", wrap_up=1, ring_timeout=10),
]
RANDOM_AGENTS = [
    agent(1, {"plain": 1, "skill": 1}, {"en": 5, "fr": 2}),
    agent(2, {"plain": 2, "all": 1}, {"en": 3}),
    agent(3, {"skill": 1, "all": 1}, {"fr": 5, "en": 1}, max_concurrent=2),
    agent(4, {"plain": 1, "skill": 1, "all": 2}, {"de": 4}),
    agent(5, {"plain": 3}),
    agent(6, {"all": 1, "skill": 1}, {"en": 2, "de": 1}),
]
FAILURES = [OfferFailure.NO_ANSWER, OfferFailure.BUSY, OfferFailure.REJECTED,
            OfferFailure.UNREACHABLE, OfferFailure.CALLER_GONE]
FREE = (AgentState.AVAILABLE, AgentState.OFFERED, AgentState.ON_CALL)


def eligible_by_config(a: AgentConfig, c: Caller, q: QueueConfig, now: float) -> bool:
    """Could agent ``a`` serve caller ``c`` now if it were free (the store.py rule)?"""
    if q.name not in a.queues:
        return False
    waited = now - c.entered
    if q.tier_wait > 0 and (a.queues[q.name] - 1) * q.tier_wait > waited:
        return False
    reached = [level for after, level in q.skill_steps if waited >= after]
    minimum = reached[-1] if reached else 0
    return all(s in a.skills and a.skills[s] >= minimum for s in c.skills)


class Walk:
    """Random operations on a store, with what the store must hold tracked on the side."""

    def __init__(self, store: AcdStore, seed: int) -> None:
        self.store, self.rng = store, random.Random(seed)
        self.queues = {q.name: q for q in RANDOM_QUEUES}
        self.configs = {a.id: a for a in RANDOM_AGENTS}
        self.now, self.step = T0, 0
        self.live: set[str] = set()  # callers the store must hold (waiting or offered)
        self.offers: dict[str, tuple[Offer, set[str]]] = {}  # id → (offer, still ringing)
        self.calls: list[tuple[Offer, str]] = []
        self.expired: list[Offer] = []  # taken back by expire: the agent may still pick up

    def held(self, agent_id: str) -> int:
        return (sum(agent_id in r for _o, r in self.offers.values())
                + sum(w == agent_id for _o, w in self.calls))

    def pick(self, items: Iterable[str]) -> str:
        return self.rng.choice(sorted(items))

    async def enqueue(self) -> None:
        skills = tuple(self.rng.sample(["en", "fr", "de"], self.rng.choice([0, 1, 1, 2])))
        cid = f"c{self.step}"
        await self.store.enqueue(Caller(
            cid, self.pick(self.queues), "139", self.now - self.rng.choice([0, 0, 10, 30]),
            self.rng.choice([0, 0, 0, 100, -1]), skills, "n1"))
        self.live.add(cid)

    async def dispatch(self) -> None:
        """Dispatch, and check the ordering rule against the waiting list just before."""
        q = self.queues[self.pick(self.queues)]
        before = await self.store.waiting(q.name)
        offer = await self.store.dispatch(q.name, self.now, "n1")
        if offer is None:
            statuses = await self.store.agents()
            free = [self.configs[s.id] for s in statuses if s.state in FREE
                    and s.active < self.configs[s.id].max_concurrent
                    and s.available_at <= self.now]
            servable = [(c.id, a.id) for c in before for a in free
                        if eligible_by_config(a, c, q, self.now)]
            assert servable == [], f"step {self.step}: dispatch left {servable} unserved"
            return
        place = [c.id for c in before].index(offer.caller.id)
        for earlier in before[:place]:
            taken = [a for a in offer.agents
                     if eligible_by_config(self.configs[a], earlier, q, self.now)]
            assert taken == [], (f"step {self.step}: {offer.caller.id} got {taken}, which "
                                 f"{earlier.id} (ahead of it) could take")
        wrong = [a for a in offer.agents
                 if not eligible_by_config(self.configs[a], offer.caller, q, self.now)]
        assert wrong == [], f"step {self.step}: {offer} offers {wrong}, not eligible"
        self.offers[offer.id] = (offer, set(offer.agents))

    async def answer(self) -> None:
        offer, ringing = self.offers.pop(self.pick(self.offers))
        who = self.pick(ringing)
        await self.store.offer_answered(offer, who, self.now)
        self.calls.append((offer, who))
        self.live.discard(offer.caller.id)

    async def fail(self) -> None:
        oid = self.pick(self.offers)
        offer, ringing = self.offers[oid]
        who, failure = self.pick(ringing), self.rng.choice(FAILURES)
        back = await self.store.offer_failed(offer, who, failure, self.now)
        ringing.discard(who)
        if ringing:
            assert back is False
            return
        del self.offers[oid]
        assert back is (failure != OfferFailure.CALLER_GONE)
        if not back:
            self.live.discard(offer.caller.id)

    async def end(self) -> None:
        offer, who = self.calls.pop(self.rng.randrange(len(self.calls)))
        await self.store.call_ended(offer, who, self.rng.uniform(1, 30), self.now)

    async def leave_move_or_book(self) -> None:
        cid, op = self.pick(self.live), self.rng.random()
        if op < 0.5:
            if await self.store.leave(cid) is not None:
                self.live.discard(cid)
        elif op < 0.8:
            await self.store.move(cid, self.pick(self.queues))
        else:
            await self.store.book_callback(cid, "139")

    async def agent(self) -> None:
        a, op = self.pick(self.configs), self.rng.random()
        if op < 0.4:
            await self.store.set_away(a, "break", self.now)
        elif op < 0.8:
            await self.store.set_available(a, self.now)
        else:
            await self.store.wrap_up_done(a, self.now)

    async def late_answer(self) -> None:
        late = self.expired.pop()
        spare = [a for a in late.agents if self.held(a) < self.configs[a].max_concurrent]
        if spare and all(o.caller.id != late.caller.id for o, _r in self.offers.values()):
            who = self.rng.choice(spare)  # answers after the offer was taken back
            await self.store.offer_answered(late, who, self.now)
            self.calls.append((late, who))
            self.live.discard(late.caller.id)

    async def expire(self) -> None:
        at = self.now + self.rng.choice([0, 60])  # +60: every offer is past its deadline
        await self.store.heartbeat("n1", at)
        got = await self.store.expire(at)
        for offer in got.offers:
            self.offers.pop(offer.id, None)
            self.expired.append(offer)
        assert (got.callers, got.agents) == ((), ())  # n1 is alive

    async def check(self) -> None:
        for s in await self.store.agents():
            assert s.active == self.held(s.id), (f"step {self.step}: agent {s.id} active "
                                                 f"{s.active}, really {self.held(s.id)}")
            assert s.active <= self.configs[s.id].max_concurrent
            if s.state in (AgentState.OFFERED, AgentState.ON_CALL):
                assert s.active > 0, f"step {self.step}: agent {s.id} {s.state}, nothing on"
        places = [o.caller.id for o, _r in self.offers.values()]
        for name in self.queues:
            waiting = await self.store.waiting(name)
            assert all(c.queue == name for c in waiting)
            keys = [c.order_key() for c in waiting]
            assert keys == sorted(keys), f"step {self.step}: queue {name} out of order"
            places += [c.id for c in waiting]
        assert sorted(places) == sorted(self.live), (f"step {self.step}: callers not in "
                                                     "exactly one place")

    async def run(self, steps: int) -> None:
        await self.store.configure(RANDOM_QUEUES, RANDOM_AGENTS)
        for a in self.configs:
            await self.store.login(a, T0)
        for self.step in range(steps):
            self.now += self.rng.choice([0.0, 0.5, 1.0, 3.0])
            await self.store.heartbeat("n1", self.now)
            op = self.rng.random()
            if op < 0.25:
                await self.enqueue()
            elif op < 0.5:
                await self.dispatch()
            elif op < 0.6 and self.offers:
                await self.answer()
            elif op < 0.7 and self.offers:
                await self.fail()
            elif op < 0.78 and self.calls:
                await self.end()
            elif op < 0.88 and self.live:
                await self.leave_move_or_book()
            elif op < 0.94:
                await self.agent()
            elif op < 0.96 and self.expired:
                await self.late_answer()
            else:
                await self.expire()
            await self.check()


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_operations_keep_the_invariants(acd_store: AcdStore, seed: int) -> None:
    """Enqueue, dispatch, answer (also after expiry), fail, end, leave, move, callbacks,
    away/back, wrap-up done and expiry in random order over three queues; after every step: no
    agent over its lines, the store's count of an agent's offers and calls is the true one,
    every caller is in exactly one place, the waiting lists are in order; and each dispatch
    kept the ordering rule (no earlier caller could take an offered agent; nothing that could
    be served is left waiting)."""
    await Walk(acd_store, seed).run(250)

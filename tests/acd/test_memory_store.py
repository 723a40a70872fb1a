"""Details of the in-process store that the contract leaves open: wakes, when states move,
seeded draws, the bounded dispatch walk, and that its indexes agree with the agents' states."""

from __future__ import annotations

import asyncio
import random

from coreswitch.acd import memory
from coreswitch.acd.memory import MemoryStore
from coreswitch.acd.model import AgentConfig, AgentState, Caller, OfferFailure, QueueConfig

T0 = 1_795_000_000.0


def agents(n: int, **kw: object) -> list[AgentConfig]:
    return [AgentConfig(f"{1000 + i}", f"user/{1000 + i}", queues={"q": 1}, **kw)  # type: ignore[arg-type]
            for i in range(1, n + 1)]


def caller(cid: str, t: float, skills: tuple[str, ...] = ()) -> Caller:
    return Caller(cid, "q", "139", T0 + t, skills=skills, node="n1")


async def test_wakes_are_subscribed_at_once_read_once_per_queue_and_end_on_close() -> None:
    store = MemoryStore()
    first, second = store.wakes(), store.wakes()
    await store.wake("a")  # before anyone reads: not lost
    await store.wake("b")
    await store.wake("a")  # "a" not read yet: counts once
    assert [await anext(first), await anext(first)] == ["a", "b"]
    assert await anext(second) == "a"
    reader = asyncio.ensure_future(anext(first))
    await store.wake("c")
    assert await reader == "c"
    await store.close()
    assert [q async for q in second] == ["b", "c"]  # what was pending, then the end


async def test_an_agent_shows_wrap_up_until_an_operation_at_a_later_time() -> None:
    store = MemoryStore()
    await store.configure([QueueConfig("q", wrap_up=10)], agents(1))
    await store.login("1001", T0)
    await store.enqueue(caller("a", 1))
    offer = await store.dispatch("q", T0 + 1, "n1")
    assert offer is not None
    await store.offer_answered(offer, "1001", T0 + 2)
    await store.call_ended(offer, "1001", 8, T0 + 10)
    assert (await store.agents("1001"))[0].state == AgentState.WRAP_UP
    await store.queues("q", T0 + 20)  # wrap-up ended at T0+20
    status = (await store.agents("1001"))[0]
    assert (status.state, status.since) == (AgentState.AVAILABLE, T0 + 20)


async def test_the_same_seed_makes_the_same_random_choices() -> None:
    async def picks(seed: int) -> list[str]:
        store = MemoryStore(seed=seed)
        await store.configure([QueueConfig("q", strategy="random", wrap_up=0)], agents(5))
        for a in range(1001, 1006):
            await store.login(str(a), T0)
        got = []
        for i in range(20):
            await store.enqueue(caller(f"c{i}", i))
            offer = await store.dispatch("q", T0 + i, "n1")
            assert offer is not None
            got.append(offer.agents[0])
            await store.offer_answered(offer, offer.agents[0], T0 + i)
            await store.call_ended(offer, offer.agents[0], 1, T0 + i)
        return got

    assert await picks(3) == await picks(3)
    assert await picks(3) != await picks(4)


async def test_dispatch_looks_at_a_bounded_number_of_head_callers() -> None:
    """Callers nobody can serve (a skill no agent has) do not block the ones behind them
    within the first SCAN_CALLERS; further back, a servable caller waits for the next
    dispatch after the head moves (the documented bound)."""
    store = MemoryStore()
    await store.configure([QueueConfig("q", strategy="top-down")], agents(1))
    await store.login("1001", T0)
    for i in range(memory.SCAN_CALLERS):
        await store.enqueue(caller(f"fr{i:03}", i, skills=("fr",)))
    await store.enqueue(caller("plain", 1000))
    assert await store.dispatch("q", T0 + 1000, "n1") is None
    await store.leave("fr000")
    offer = await store.dispatch("q", T0 + 1000, "n1")
    assert offer is not None
    assert offer.caller.id == "plain"


def _check_indexes(store: MemoryStore, now: float) -> None:
    """Every free agent is listed in each of its queues with the key its figures give now;
    an agent in a delay waits in the heap; what else is listed belongs to agents that became
    busy (dropped lazily) — and every listed entry is one the agent knows it holds."""
    store._release_delayed(now)
    delayed = {agent_id for _at, agent_id in store._delayed}
    for agent in store._agents.values():
        for index, key in agent.keys.items():
            assert key in store._free[index]
        if store._free_now(agent, now):
            assert {q for q, _s in agent.keys} == set(agent.config.queues)
            for (queue, skill), key in agent.keys.items():  # (no random figure here)
                assert key == store._key(agent, queue, skill)
        elif agent.state == AgentState.WRAP_UP or (agent.on_duty and agent.available_at > now):
            assert agent.config.id in delayed
    listed = sum(len(keys) for keys in store._free.values())
    assert listed == sum(len(a.keys) for a in store._agents.values())


async def test_the_indexes_follow_the_agents_through_random_operations() -> None:
    rng = random.Random(11)
    store = MemoryStore(seed=1)
    queues = [QueueConfig("q", strategy="round-robin", wrap_up=2, no_answer_delay=3),
              QueueConfig("s", strategy="skills-based", wrap_up=0, busy_delay=4)]
    configs = [AgentConfig(f"{1000 + i}", "user/x", queues={"q": 1 + i % 2, "s": 1},
                           skills={"en": 1 + i % 5}, max_concurrent=1 + i % 2)
               for i in range(8)]
    await store.configure(queues, configs)
    for a in configs:
        await store.login(a.id, T0)
    now, offers, calls = T0, [], []
    for step in range(400):
        now += rng.choice([0.0, 1.0, 2.0])
        op = rng.random()
        if op < 0.3:
            name = rng.choice(["q", "s"])
            await store.enqueue(Caller(f"c{step}", name, "139", now, skills=("en",) * (
                name == "s"), node="n1"))
        elif op < 0.6:
            offer = await store.dispatch(rng.choice(["q", "s"]), now, "n1")
            if offer is not None:
                offers.append(offer)
        elif op < 0.7 and offers:
            offer = offers.pop(rng.randrange(len(offers)))
            await store.offer_answered(offer, offer.agents[0], now)
            calls.append(offer)
        elif op < 0.8 and offers:
            offer = offers.pop(rng.randrange(len(offers)))
            await store.offer_failed(offer, offer.agents[0],
                                     rng.choice([OfferFailure.NO_ANSWER, OfferFailure.BUSY]),
                                     now)
        elif op < 0.9 and calls:
            offer = calls.pop(rng.randrange(len(calls)))
            await store.call_ended(offer, offer.agents[0], 3.0, now)
        else:
            agent_id = rng.choice(configs).id
            await (store.set_away(agent_id, "x", now) if rng.random() < 0.4
                   else store.set_available(agent_id, now))
        _check_indexes(store, now)

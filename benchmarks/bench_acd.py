"""``coreswitch bench acd``: agent selection with 1,000 and 10,000 agents, 100 queues, skills.

Prints one line per store and size::

    acd <memory|redis> <agents> agents: p50 <us> us, p99 <us> us, <n> dispatches/s

The pool: ``N`` agents over 100 queues (each agent in 3 to 5 queues at tiers 1–2, 3 of 20
skills at proficiency 1–5); queue strategies rotate through longest-idle, round-robin,
top-down, fewest-calls, least-talk-time, random and skills-based (skill steps: proficiency 4
at first, 2 after 30 s, any after 60 s). All agents log in.

``p50``/``p99``: the latency of the ``dispatch`` call alone (one client, no queueing). Each
round enqueues one caller in a random queue (half of the callers of skills-based queues need a
skill; callers have waited 0–90 s, so every skill step occurs), times ``dispatch`` — the store
choosing the caller's agent and reserving it — then answers and ends the call (no wrap-up) so
the pool stays the same. The first 500 rounds warm up and are not counted. The timed rounds
are split into ``--runs`` runs (default 5); the figures are the **median over the runs** of
each run's p50 and p99, so one run disturbed by other work on a shared machine does not decide
them (the comment line gives every run's p99).

``dispatches/s``: then half as many callers as agents (needing no skill, spread over the
queues) wait, and ``--workers`` concurrent clients dispatch them all (memory: one; each
dispatch picks and reserves an agent); the comment line before each result gives the rate of
whole rounds (enqueue + dispatch + answer + end) of the latency phase.

Redis: ``--redis-url URL`` (used as it is configured; keys under a fresh prefix per size), else
a throwaway ``redis-server`` on loopback started with the test helpers
(tests/support/redis_server.py, so a source checkout is needed) with AOF persistence set by
``--aof``: ``everysec`` (default: the file is written on every change and synced once a
second), ``always`` (synced on every change: then the disk's sync latency is what is measured —
on the 2-core development VM about 70 rounds/s) or ``no``. Run directly with
``python benchmarks/bench_acd.py --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import random
import statistics
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import redis.asyncio as aioredis

from coreswitch.acd.memory import MemoryStore
from coreswitch.acd.model import AgentConfig, Caller, QueueConfig
from coreswitch.acd.store import AcdStore

QUEUES = 100
SKILLS = [f"s{i}" for i in range(20)]
STRATEGIES = ["longest-idle", "round-robin", "top-down", "fewest-calls", "least-talk-time",
              "random", "skills-based"]
T0 = 1_795_000_000.0
WARM_UP = 500
ROOT = Path(__file__).resolve().parents[1]  # the checkout (tests/support for redis-server)
NODE = "bench"


def pool(n: int, seed: int = 1) -> tuple[list[QueueConfig], list[AgentConfig]]:
    rng = random.Random(seed)
    queues = [QueueConfig(f"q{i}", strategy=STRATEGIES[i % len(STRATEGIES)], wrap_up=0,
                          skill_steps=((0, 4), (30, 2), (60, 0)))
              for i in range(QUEUES)]
    agents = []
    for i in range(n):
        qs = rng.sample(range(QUEUES), rng.randint(3, 5))
        agents.append(AgentConfig(
            f"{100000 + i}", f"user/{100000 + i}",
            queues={f"q{q}": 1 + (j % 2) for j, q in enumerate(qs)},
            skills={s: rng.randint(1, 5) for s in rng.sample(SKILLS, 3)}))
    return queues, agents


async def prepare(store: AcdStore, n: int) -> tuple[list[QueueConfig], list[AgentConfig]]:
    queues, agents = pool(n)
    await store.configure(queues, agents)
    for a in agents:
        await store.login(a.id, T0)
    return queues, agents


async def rounds(store: AcdStore, queues: list[QueueConfig], agents: list[AgentConfig],
                 count: int, *, tag: str, latencies: list[float]) -> int:
    """``count`` rounds of enqueue, timed dispatch, answer, end; returns callers served."""
    rng = random.Random(tag)
    skills_of: dict[str, list[str]] = {}
    for a in agents:
        for name in a.queues:
            skills_of.setdefault(name, []).extend(a.skills)
    served = 0
    now = T0 + 100
    for i in range(count):
        q = queues[rng.randrange(len(queues))]
        needs: tuple[str, ...] = ()
        if q.strategy == "skills-based" and rng.random() < 0.5 and skills_of.get(q.name):
            needs = (rng.choice(skills_of[q.name]),)
        cid = f"{tag}-{i}"
        now += 0.001
        await store.enqueue(Caller(cid, q.name, "13800000000", now - rng.uniform(0, 90),
                                   skills=needs, node=NODE))
        start = time.perf_counter()
        offer = await store.dispatch(q.name, now, NODE)
        latencies.append(time.perf_counter() - start)
        if offer is None:  # a skill nobody free has at the current step
            await store.leave(cid)
            continue
        served += 1
        await store.offer_answered(offer, offer.agents[0], now)
        await store.call_ended(offer, offer.agents[0], 1.0, now)
    return served


def pct(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def burst(store: AcdStore, queues: list[QueueConfig], count: int, workers: int
                ) -> tuple[float, int]:
    """Dispatch calls per second with ``workers`` concurrent clients: ``count`` callers (no
    skill needed) wait first, then there is one dispatch per caller. Returns the rate and how
    many dispatches made an offer."""
    rng = random.Random(7)
    now = T0 + 10_000
    names = [queues[i % len(queues)].name for i in range(count)]
    for i, name in enumerate(names):
        await store.enqueue(Caller(f"b{i}", name, "13800000000", now - 61, node=NODE))
    rng.shuffle(names)
    made = 0

    async def worker(w: int) -> None:
        nonlocal made
        for q in names[w::workers]:
            if await store.dispatch(q, now, NODE) is not None:
                made += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(workers)))
    return count / (time.perf_counter() - start), made


async def measure(store: AcdStore, kind: str, n: int, *, count: int, workers: int,
                  runs: int) -> str:
    queues, agents = await prepare(store, n)
    await rounds(store, queues, agents, min(WARM_UP, count), tag="warm", latencies=[])
    p50s, p99s = [], []
    served = elapsed = 0.0
    for run in range(runs):
        gc.collect()  # the set-up's (and the last run's) garbage is not this run's
        latencies: list[float] = []
        start = time.perf_counter()
        served += await rounds(store, queues, agents, count // runs, tag=f"run{run}",
                               latencies=latencies)
        elapsed += time.perf_counter() - start
        p50s.append(pct(latencies, 50))
        p99s.append(pct(latencies, 99))
    timed = count // runs * runs
    rate, made = await burst(store, queues, max(1, n // 2), workers)
    print(f"# acd {kind} {n} agents: p99 of the {runs} runs "
          f"{', '.join(f'{p * 1e6:.0f}' for p in p99s)} us; {timed / elapsed:,.0f} whole "
          f"rounds/s (enqueue + dispatch + answer + end, one client); {served:.0f} of {timed} "
          f"callers served at once, {made} of {max(1, n // 2)} in the burst")
    return (f"acd {kind} {n} agents: p50 {statistics.median(p50s) * 1e6:.0f} us, "
            f"p99 {statistics.median(p99s) * 1e6:.0f} us, {rate:,.0f} dispatches/s")


@contextlib.asynccontextmanager
async def redis_url(given: str | None, aof: str) -> AsyncIterator[str]:
    """``given``, or the URL of a throwaway redis-server (tests/support helpers) with AOF
    persistence ``aof`` (no, everysec, always)."""
    if given is not None:
        yield given
        return
    sys.path.insert(0, str(ROOT))
    try:
        from tests.support.redis_server import RedisServer, RedisUnavailable
    except ImportError as exc:
        raise SystemExit("coreswitch bench acd: no --redis-url, and the test helpers that start "
                         f"a redis-server are not importable ({exc})") from None
    try:
        server = RedisServer.start()
    except RedisUnavailable as exc:
        raise SystemExit(f"coreswitch bench acd: {exc}; or give --redis-url") from None
    try:
        client = aioredis.from_url(server.url)
        try:
            if aof == "no":
                await client.config_set("appendonly", "no")
            else:
                await client.config_set("appendfsync", aof)
        finally:
            await client.aclose()
        yield server.url
    finally:
        server.stop()


async def run(args: argparse.Namespace) -> int:
    stores = ["memory", "redis"] if args.store == "all" else [args.store]
    where = (f"redis at {args.redis_url}" if args.redis_url
             else f"a throwaway redis-server, appendonly {'no' if args.aof == 'no' else 'yes'}"
                  + ("" if args.aof == "no" else f", appendfsync {args.aof}"))
    print(f"# acd: {QUEUES} queues, {len(SKILLS)} skills, {args.dispatches} timed dispatches "
          f"per size in {args.runs} runs after {WARM_UP} warm-up, p50/p99 the median of the "
          f"runs'; dispatches/s with 1 client for memory and {args.workers} concurrent clients "
          "for redis"
          + (f" ({where})" if "redis" in stores else ""))
    for kind in stores:
        if kind == "memory":
            for n in args.agents:
                print(await measure(MemoryStore(seed=1), kind, n, count=args.dispatches,
                                    workers=1, runs=args.runs), flush=True)
            continue
        from coreswitch.acd.redis_store import RedisStore  # only if asked

        async with redis_url(args.redis_url, args.aof) as url:
            for n in args.agents:
                store = await RedisStore.connect(url, prefix=f"bench:{n}:{time.time()}:")
                try:
                    line = await measure(store, kind, n, count=args.dispatches,
                                         workers=args.workers, runs=args.runs)
                finally:
                    await store.close()
                print(line, flush=True)
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="coreswitch bench acd", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", choices=("memory", "redis", "all"), default="all")
    parser.add_argument("--agents", type=int, nargs="+", default=[1000, 10000],
                        help="pool sizes (default: 1000 10000)")
    parser.add_argument("--dispatches", type=int, default=20000,
                        help="timed dispatches per size (default: 20000)")
    parser.add_argument("--runs", type=int, default=5,
                        help="timed runs per size; p50/p99 are their medians (default: 5)")
    parser.add_argument("--aof", choices=("no", "everysec", "always"), default="everysec",
                        help="persistence of the throwaway redis-server (default: everysec)")
    parser.add_argument("--redis-url", help="an existing Redis (keys under a fresh prefix)")
    parser.add_argument("--workers", "--redis-workers", type=int, default=8,
                        help="concurrent clients for redis dispatches/s (default: 8)")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))

"""``coreswitch bench acd``: agent selection with 1,000 and 10,000 agents, 100 queues, skills.

Prints one line per store and size::

    acd <memory|redis> <agents> agents: p50 <us> us, p99 <us> us, <n> dispatches/s

The pool: ``N`` agents over 100 queues (each agent in 3 queues at tiers 1–2, 3 of 20 skills at
proficiency 1–5); queue strategies rotate through longest-idle, round-robin, top-down,
fewest-calls, least-talk-time, random and skills-based (with skill steps 4 → 2 → any). Each
round enqueues one caller in a random queue (half of the callers of skills-based queues need a
skill), times ``dispatch`` — the store choosing the caller's agent — and then answers and ends
the call (no wrap-up) so the pool stays the same size. ``p50``/``p99`` are the latency of the
``dispatch`` call alone (one worker: no queueing). ``dispatches/s``: after the rounds, half as
many callers as agents wait and ``--workers`` concurrent workers (memory: 1) dispatch them, each
dispatch choosing and reserving an agent; the comment line before each figure gives the full
rounds per second of the latency phase.

Redis: ``--redis-url URL``, else a throwaway ``redis-server`` (the Debian package) is started
on loopback. Run directly with ``python benchmarks/bench_acd.py --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import redis.asyncio as aioredis

from coreswitch.acd.memory import MemoryStore
from coreswitch.acd.model import AgentConfig, Caller, QueueConfig
from coreswitch.acd.redis_store import RedisStore
from coreswitch.acd.store import AcdStore

QUEUES = 100
SKILLS = [f"s{i}" for i in range(20)]
STRATEGIES = ["longest-idle", "round-robin", "top-down", "fewest-calls", "least-talk-time",
              "random", "skills-based"]
T0 = 1_795_000_000.0


def pool(n: int, seed: int = 1) -> tuple[list[QueueConfig], list[AgentConfig]]:
    rng = random.Random(seed)
    queues = [QueueConfig(f"q{i}", strategy=STRATEGIES[i % len(STRATEGIES)], wrap_up=0,
                          skill_steps=((0, 4), (30, 2), (60, 0)))
              for i in range(QUEUES)]
    agents = []
    for i in range(n):
        qs = rng.sample(range(QUEUES), 3)
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
                 count: int, *, worker: int, latencies: list[float]) -> int:
    rng = random.Random(worker)
    skills_of: dict[str, list[str]] = {}
    for a in agents:
        for q in a.queues:
            skills_of.setdefault(q, []).extend(a.skills)
    served = 0
    now = T0 + 1
    for i in range(count):
        q = queues[rng.randrange(len(queues))]
        needs: tuple[str, ...] = ()
        if q.strategy == "skills-based" and rng.random() < 0.5 and skills_of.get(q.name):
            needs = (rng.choice(skills_of[q.name]),)
        cid = f"w{worker}-{i}"
        now += 0.001
        await store.enqueue(Caller(cid, q.name, "13800000000", now - 61, skills=needs,
                                   node="bench"))
        start = time.perf_counter()
        offer = await store.dispatch(q.name, now, "bench")
        latencies.append(time.perf_counter() - start)
        if offer is None:
            await store.leave(cid)
            continue
        served += 1
        await store.offer_answered(offer, offer.agents[0], now)
        await store.call_ended(offer, offer.agents[0], 1.0, now)
    return served


def pct(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def burst(store: AcdStore, queues: list[QueueConfig], count: int, workers: int) -> float:
    """Dispatches per second with ``workers`` concurrent callers of ``dispatch``: ``count``
    callers (needing no skill) wait first, then every dispatch takes one agent."""
    rng = random.Random(7)
    now = T0 + 10_000
    names = [q.name for q in queues]
    for i in range(count):
        await store.enqueue(Caller(f"b{i}", names[i % len(names)], "13800000000", now - 61,
                                   node="bench"))
    order = [names[rng.randrange(len(names))] for _ in range(count)]

    async def worker(w: int) -> int:
        made = 0
        for q in order[w::workers]:
            if await store.dispatch(q, now, "bench") is not None:
                made += 1
        return made

    start = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(workers)))
    return count / (time.perf_counter() - start)


async def measure(store: AcdStore, kind: str, n: int, count: int, workers: int) -> str:
    queues, agents = await prepare(store, n)
    warm: list[float] = []
    await rounds(store, queues, agents, min(500, count), worker=99, latencies=warm)
    latencies: list[float] = []
    start = time.perf_counter()
    done = await rounds(store, queues, agents, count, worker=0, latencies=latencies)
    cycle = count / (time.perf_counter() - start)
    if done < len(latencies) * 0.9:
        print(f"warning: only {done} of {len(latencies)} callers were served", file=sys.stderr)
    rate = await burst(store, queues, min(count, n // 2), workers)
    print(f"# acd {kind} {n} agents: {cycle:,.0f} full rounds/s "
          "(enqueue + dispatch + answer + end, one worker)")
    return (f"acd {kind} {n} agents: p50 {pct(latencies, 50) * 1e6:.0f} us, "
            f"p99 {pct(latencies, 99) * 1e6:.0f} us, {rate:,.0f} dispatches/s")


class _Redis:
    """A throwaway redis-server (no persistence) for the benchmark."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.dir = tempfile.mkdtemp(prefix="bench-redis-")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc = subprocess.Popen([binary, "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--dir", self.dir, "--save", "", "--appendonly", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.url = f"redis://127.0.0.1:{self.port}/0"

    async def ready(self) -> None:
        client = aioredis.from_url(self.url)
        for _ in range(200):
            try:
                await client.ping()
                await client.aclose()
                return
            except Exception:
                await asyncio.sleep(0.05)
        raise SystemExit("redis-server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


async def run(args: argparse.Namespace) -> int:
    stores = ["memory", "redis"] if args.store == "all" else [args.store]
    print(f"# acd: {QUEUES} queues, {len(SKILLS)} skills, {args.dispatches} rounds per size; "
          f"redis dispatches/s with {args.redis_workers} concurrent workers")
    server: _Redis | None = None
    try:
        for kind in stores:
            for n in args.agents:
                if kind == "memory":
                    line = await measure(MemoryStore(seed=1), kind, n, args.dispatches, 1)
                else:
                    url = args.redis_url
                    if url is None:
                        if server is None:
                            server = _Redis()
                            await server.ready()
                        url = server.url
                    store = await RedisStore.connect(url, prefix=f"bench{n}:{time.time()}:")
                    try:
                        line = await measure(store, kind, n, args.dispatches,
                                             args.redis_workers)
                    finally:
                        await store.close()
                print(line, flush=True)
    finally:
        if server is not None:
            server.stop()
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="coreswitch bench acd", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", choices=("memory", "redis", "all"), default="all")
    parser.add_argument("--agents", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--dispatches", type=int, default=20000)
    parser.add_argument("--redis-url")
    parser.add_argument("--redis-workers", type=int, default=8)
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(main(sys.argv[1:]))

"""Two ``coreswitch serve`` processes share one Redis; the simulated switch — ``coreswitch sim``,
a process of its own — sends 1,000 calls into 3 queues served by 50 virtual agents, the calls
alternating between the nodes' outbound sockets. The caller's number picks the queue and the
priority (tests/acd/twonode/acd_flows/twonode.flow); one caller in seven hangs up after 8 s; the
agents (ring 0.5 s, talk 2 s, wrap-up 1 s) cannot keep up with 20 calls/s, so callers wait, some
give up and some reach the flow's 15 s max wait: in qa and qc they time out, qb's overflow to qc
for another 15 s. Afterwards (harness: twonode/harness.py, checks:
twonode/checks.py):

* every call the switch placed and ended has exactly one outcome in the nodes' queue logs
  (answered — then completed —, abandoned, timed out, no agents), counted, overflows too;
* no agent was ever in two offers or calls at once: per agent, offer-to-release spans in the
  queue logs never overlap, every offer is released, and the switch itself never saw a leg to
  an agent who still had one up, nor a ``USER_BUSY``;
* priority order: no caller was offered an agent while a caller of higher priority in the same
  queue had been waiting there for more than 50 ms without an offer.

The second test kills redis-server (SIGKILL) a third of the way through and restarts it (AOF
persistence) 3 s later: still no double offer and every caller accounted for (callers caught by
the outage may end ``no_agents`` or time out: counted). Priority order is not asserted there.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from coreswitch.acd.queue_log import QueueEvent
from tests.acd.twonode.checks import Outcomes, double_offers, outcomes, priority_overtakes
from tests.acd.twonode.harness import NodeProcess, Plan, SimProcess, free_port, queue_log
from tests.support.redis_server import RedisServer, start_or_fail

PLAN = Plan()
TOLERANCE = 0.05  # seconds of event-loop lag between the store and the queue log
OUTAGE = 3.0  # seconds redis-server stays down in the second test

pytestmark = [pytest.mark.slow, pytest.mark.server, pytest.mark.timeout(300)]


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    server = start_or_fail()
    yield server
    server.stop()


@dataclass
class Run:
    summary: dict[str, Any]  # the simulator's end summary
    placed: dict[str, str]  # call UUID → caller number
    log: list[QueueEvent]  # both nodes' queue logs, in time order
    exits: list[int | None]  # the nodes' exit statuses after SIGTERM
    errors: list[str]  # error lines of the nodes' logs
    seconds: float


async def _run(tmp: Path, redis: RedisServer, *, outage_after: int | None = None) -> Run:
    t0 = time.monotonic()
    sim_port = free_port()
    nodes = [NodeProcess(tmp, name, PLAN, sim_port=sim_port, redis_url=redis.url)
             for name in ("n1", "n2")]
    sim = SimProcess(tmp, PLAN, sim_port, [n.address for n in nodes])
    exits: list[int | None] = []
    try:
        await sim.ready()
        for node in nodes:
            node.start()
        await asyncio.gather(*(n.ready() for n in nodes))
        if outage_after is not None:
            await _outage(sim, redis, outage_after)
        summary = await sim.finished(limit=PLAN.calls / PLAN.rate + 120)
    finally:
        sim.stop()
        exits = [await asyncio.to_thread(n.stop) for n in nodes]
    return Run(summary, sim.placed(), await queue_log(nodes), exits,
               [line for n in nodes for line in n.errors()], time.monotonic() - t0)


async def _outage(sim: SimProcess, redis: RedisServer, after: int) -> None:
    """Kill redis-server once ``after`` calls were placed; restart it ``OUTAGE`` s later."""
    deadline = time.monotonic() + after / PLAN.rate + 60
    while len(sim.placed()) < after:
        assert time.monotonic() < deadline, f"the sim placed too few calls: {sim.tail()}"
        assert sim.proc.poll() is None, f"the sim stopped: {sim.tail()}"
        await asyncio.sleep(0.1)
    redis.kill()
    await asyncio.sleep(OUTAGE)  # the outage itself: how long Redis is away
    await asyncio.to_thread(redis.restart)


def _check(run: Run, *, outage: bool) -> Outcomes:
    """The invariants every run must keep; the outcomes."""
    summary, placed = run.summary, run.placed
    title = "two nodes" + (", Redis killed and restarted" if outage else "")
    assert summary["placed"] == PLAN.calls == len(placed), summary
    assert summary["ended"] == PLAN.calls, f"calls still up when the sim stopped: {summary}"
    found = outcomes(placed, run.log)
    counts = dict(found.counts)
    overlaps, unreleased = double_offers(run.log, TOLERANCE)
    overtakes = priority_overtakes(run.log, TOLERANCE)
    report = (f"{title}: {PLAN.calls} calls in {run.seconds:.0f} s, outcomes {counts} "
              f"({found.overflowed} overflowed first); "
              f"switch {summary['causes']}, agent legs {summary['agents']}; "
              f"overlapping offers {len(overlaps)}, unreleased {len(unreleased)}, "
              f"priority overtakes {len(overtakes)}; node errors {len(run.errors)}")
    print(report)
    assert not found.missing, f"{len(found.missing)} calls not in the queue logs " \
        f"(e.g. {found.missing[:3]}); {report}"
    assert not found.several, f"calls with several outcomes: {list(found.several.items())[:3]}"
    assert not found.unfinished, f"answered calls never completed: {found.unfinished[:3]}"
    assert sum(counts.values()) == PLAN.calls, report
    assert "lost" not in counts, report
    agents = summary["agents"]
    assert agents["busy"] == 0, f"an agent's phone answered USER_BUSY: {report}"
    assert agents["overlaps"] == 0, f"the switch rang an agent who had a leg up: {report}"
    assert not overlaps, f"agents in two offers at once: {overlaps[:3]}; {report}"
    assert not unreleased, f"offers never released: {unreleased[:3]}; {report}"
    assert run.exits == [0, 0], f"nodes' exit statuses after SIGTERM: {run.exits}"
    if not outage:
        assert not overtakes, f"callers served before a higher-priority caller who had " \
            f"waited longer: {overtakes[:3]}; {report}"
    return found


async def test_two_nodes_share_queues_without_double_offers_or_lost_callers(
        tmp_path: Path, redis: RedisServer) -> None:
    run = await _run(tmp_path, redis)
    found = _check(run, outage=False)
    counts = found.counts
    # the scenario did what it is for: most answered, some gave up, some reached max wait
    assert counts.get("answer", 0) > PLAN.calls * 0.5, counts
    assert counts.get("abandon", 0) > 0, counts
    assert counts.get("timeout", 0) > 0, counts
    assert found.overflowed > 0, "no caller overflowed from qb to qc"
    assert not run.errors, f"node errors: {run.errors[:3]}"


async def test_a_redis_restart_mid_run_loses_no_caller_and_double_offers_no_agent(
        tmp_path: Path, redis: RedisServer) -> None:
    run = await _run(tmp_path, redis, outage_after=PLAN.calls // 3)
    counts = _check(run, outage=True).counts
    assert counts.get("answer", 0) > PLAN.calls * 0.3, counts

"""Two ``coreswitch serve`` processes share one Redis; the simulated switch (in this process,
over TCP) sends 1,000 calls into 3 queues served by 50 virtual agents, the calls alternating
between the nodes' outbound sockets. Afterwards the nodes' queue logs must show:

* every call accounted for: exactly one outcome (answered, abandoned, timed out, no agents);
* no agent ever in two offers or calls at once (and no virtual agent ever answered busy);
* priority order kept: no caller was offered an agent while a caller of higher priority in the
  same queue had been waiting (beyond 50 ms of logging skew) without an offer.

The second test kills redis-server (SIGKILL) a third of the way through and restarts it (AOF
persistence) a few seconds later: the same invariants hold; callers caught by the outage may
end ``no_agents`` or time out, and are counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from coreswitch.acd.queue_log import QueueEvent, events
from coreswitch.store import Database
from coreswitch.switch.sim import SimSwitch
from tests.support.redis_server import RedisServer, start_or_fail

HERE = Path(__file__).resolve().parent / "twonode"
CALLS = 1000
RATE = 20.0  # calls per second
QUEUES = {"qa": range(2001, 2021), "qb": range(2021, 2036), "qc": range(2036, 2051)}
DNIS = {"qa": "9001", "qb": "9002", "qc": "9003"}
FINAL = {"answer", "abandon", "timeout", "no_agents", "overflow", "exit_key",
         "callback_requested"}
RELEASE = {"complete", "no_answer", "busy", "rejected", "unreachable", "caller_gone",
           "answered_elsewhere", "expired"}
TOLERANCE = 0.05

pytestmark = [pytest.mark.slow, pytest.mark.server]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(tmp: Path, node: str, sim_port: int, redis_url: str) -> tuple[Path, int, int]:
    outbound, http = _port(), _port()
    lines = [
        "[switch]", 'kind = "freeswitch"', 'host = "127.0.0.1"', f"port = {sim_port}",
        f'outbound_listen = "127.0.0.1:{outbound}"', "linger = 1",
        "[store]", f'url = "sqlite:///{tmp / node}.db"',
        "[state]", f'backend = "{redis_url}"',
        "[http]", f'bind = "127.0.0.1:{http}"',
        "[flows]", f'directories = ["{HERE / "flows"}"]',
        "[tts]", f'cache_dir = "{tmp / "tts"}"',
        "[acd]", f'node = "{node}"', "tick = 0.5",
    ]
    for queue in QUEUES:
        lines += [f"[acd.queues.{queue}]", "ring_timeout = 5", "wrap_up = 0.5",
                  "max_wait = 40", "no_answer_delay = 2"]
    for queue, agents in QUEUES.items():
        for agent in agents:
            lines += [f'[acd.agents."{agent}"]', f"queues = {{{queue} = 1}}", "login = true"]
    path = tmp / f"{node}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, outbound, http


class Node:
    def __init__(self, tmp: Path, name: str, sim_port: int, redis_url: str) -> None:
        self.name = name
        self.config, self.outbound, self.http = _config(tmp, name, sim_port, redis_url)
        self.db = tmp / f"{name}.db"
        self.log = (tmp / f"{name}.log").open("w")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "coreswitch", "serve", "--config", str(self.config),
             "--drain", "5", "--log-level", "warning"],
            stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=tmp)

    async def ready(self, limit: float = 60.0) -> None:
        deadline = time.monotonic() + limit
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise AssertionError(f"node {self.name} exited: {self.tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"http://127.0.0.1:{self.http}/healthz")).status_code \
                            == 200:
                        return
                await asyncio.sleep(0.2)
        raise AssertionError(f"node {self.name} not ready in {limit:.0f} s: {self.tail()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()

    def tail(self) -> str:
        self.log.flush()
        text = Path(self.log.name).read_text(encoding="utf-8", errors="replace")
        return text[-2000:]


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    server = start_or_fail()
    yield server
    server.stop()


def _ani(i: int) -> str:
    if i % 10 == 3:
        return f"139{i:08d}"  # VIP
    if i % 10 == 7:
        return f"137{i:08d}"  # blacklisted
    return f"138{i:08d}"


async def _run(tmp: Path, redis: RedisServer, *, restart_at: int | None) -> list[QueueEvent]:
    sim = SimSwitch("127.0.0.1", 0)
    for agents in QUEUES.values():
        for agent in agents:
            sim.add_agent(str(agent), answer_after=0.5, talk_time=3.0)
    await sim.start()
    nodes = [Node(tmp, name, sim.port, redis.url) for name in ("n1", "n2")]
    calls = []
    try:
        await asyncio.gather(*(n.ready() for n in nodes))
        queues = list(QUEUES)
        for i in range(CALLS):
            if restart_at is not None and i == restart_at:
                redis.kill()
                await asyncio.sleep(3.0)
                await asyncio.to_thread(redis.restart)
            queue = queues[i % 3]
            node = nodes[i % 2]
            # blacklisted callers wait longest: half of them give up after 25 s
            script = "hangup after 25" if i % 20 == 7 else ""
            calls.append(await sim.place_call(_ani(i), DNIS[queue],
                                              socket=("127.0.0.1", node.outbound),
                                              caller=script))
            await asyncio.sleep(1.0 / RATE)
        async with asyncio.timeout(180):
            for call in calls:
                await call.ended()
    finally:
        for n in nodes:
            await asyncio.to_thread(n.stop)
        await sim.stop()
    found: list[QueueEvent] = []
    for n in nodes:
        db = Database(f"sqlite:///{n.db}")
        found += await events(db)
        await db.close()
    found.sort(key=lambda e: e.at)
    ids = {c.uuid for c in calls}
    return [e for e in found if e.call_id in ids or e.event == "agent_state"]


def _outcomes(found: list[QueueEvent]) -> Counter[str]:
    """Exactly one outcome per call, every call present."""
    by_call: dict[str, list[str]] = defaultdict(list)
    for e in found:
        if e.call_id:
            by_call[e.call_id].append(e.event)
    outcomes: Counter[str] = Counter()
    problems = []
    for call_id, names in by_call.items():
        finals = [n for n in names if n in FINAL]
        if len(finals) != 1:
            problems.append(f"{call_id}: outcomes {finals}")
        outcomes.update(finals[:1])
    missing = CALLS - len(by_call)
    assert missing == 0, f"{missing} calls left no trace in the queue log; {outcomes}"
    assert not problems, f"{len(problems)} calls without exactly one outcome: {problems[:5]}"
    assert sum(outcomes.values()) == CALLS
    return outcomes


def _double_offers(found: list[QueueEvent]) -> list[tuple[str, float, float, float]]:
    """Per agent, the spans from each offer to its release; any two that overlap."""
    open_since: dict[tuple[str, str], float] = {}
    intervals: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for e in found:
        if e.event == "offer":
            for agent in e.data.get("agents", []):
                open_since[(agent, e.call_id)] = e.at
        elif e.event in RELEASE and e.agent:
            start = open_since.pop((e.agent, e.call_id), None)
            if start is not None:
                intervals[e.agent].append((start, e.at))
    for (agent, _call), start in open_since.items():
        intervals[agent].append((start, float("inf")))  # never released (node stopped)
    doubles = []
    for agent, spans in intervals.items():
        spans.sort()
        for (s1, e1), (s2, _e2) in itertools.pairwise(spans):
            if s2 < e1 - TOLERANCE:
                doubles.append((agent, s1, e1, s2))
    return doubles


def _overtaken(found: list[QueueEvent]) -> list[tuple[str, str, str]]:
    """Callers offered an agent while a higher-priority caller of their queue had been waiting
    without an offer (beyond the logging tolerance)."""
    first_offer: dict[str, float] = {}
    left: dict[str, float] = {}
    enter: dict[str, QueueEvent] = {}
    for e in found:
        if e.event == "enter":
            enter.setdefault(e.call_id, e)
        elif e.event == "offer":
            first_offer.setdefault(e.call_id, e.at)
        elif e.event in FINAL:
            left.setdefault(e.call_id, e.at)
    out = []
    for call_id, t in first_offer.items():
        me = enter.get(call_id)
        if me is None:
            continue
        mine = int(me.data.get("priority", 0))
        for other in enter.values():
            if other.queue != me.queue or int(other.data.get("priority", 0)) <= mine:
                continue
            gone = min(first_offer.get(other.call_id, float("inf")),
                       left.get(other.call_id, float("inf")))
            if other.at < t - TOLERANCE and gone > t + TOLERANCE:
                out.append((me.queue, call_id, other.call_id))
    return out


def _check(found: list[QueueEvent], *, outage: bool) -> Counter[str]:
    outcomes = _outcomes(found)
    assert not [e for e in found if e.event == "busy"], \
        "a virtual agent was offered a call while on another (USER_BUSY)"
    doubles = _double_offers(found)
    assert not doubles, f"agents offered two calls at once: {doubles[:5]}"
    overtaken = _overtaken(found)
    if not outage:
        assert not overtaken, f"{len(overtaken)} callers served before a higher-priority " \
            f"caller: {overtaken[:5]}"
    print(f"two nodes{' with a Redis restart' if outage else ''}: {dict(outcomes)}; "
          f"priority overtakes {len(overtaken)}")
    return outcomes


async def test_two_nodes_share_queues_without_double_offers_or_lost_callers(
        tmp_path: Path, redis: RedisServer) -> None:
    found = await _run(tmp_path, redis, restart_at=None)
    outcomes = _check(found, outage=False)
    assert outcomes["answer"] > CALLS * 0.4, outcomes
    assert outcomes["abandon"] > 0, outcomes
    assert outcomes["timeout"] > 0, outcomes


async def test_a_redis_restart_mid_run_loses_no_caller_and_double_offers_no_agent(
        tmp_path: Path, redis: RedisServer) -> None:
    found = await _run(tmp_path, redis, restart_at=CALLS // 3)
    outcomes = _check(found, outage=True)
    assert outcomes["answer"] > CALLS * 0.25, outcomes


"""The processes of the two-node ACD test, on loopback with bounded waits.

* :class:`SimProcess` — ``python -m coreswitch sim``: the simulated FreeSWITCH with its virtual
  agents; it places the calls once every node's inbound link has subscribed
  (``--after-client N``), alternating between the nodes' outbound sockets, and ends with a JSON
  summary (placed, ended, causes, agent legs);
* :class:`NodeProcess` — ``python -m coreswitch serve --config …``: one coreswitch node (its own
  SQLite database, the shared Redis, the flows of ``acd_flows/``); ready when ``/healthz``
  answers, stopped with SIGTERM (drain);
* :func:`queue_log` — the nodes' queue logs merged in time order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from coreswitch.acd.queue_log import QueueEvent, events
from coreswitch.store import Database

FLOWS = Path(__file__).resolve().parent / "acd_flows"
DNIS = "9000"  # the flow of acd_flows/twonode.flow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Plan:
    """What the switch does and how the ACD is set up (the same for both nodes)."""

    calls: int = 1000
    rate: float = 20.0  # calls per second
    ani: str = "13800000000"  # first caller; each next one adds 1 (see acd_flows/twonode.flow)
    answer: float = 0.5  # an agent's phone rings this long before answering
    talk: float = 2.0  # then the agent hangs up after this long
    #: Caller scripts, taken in turn by the calls ("" stays on the line).
    callers: tuple[str, ...] = ("", "", "", "", "", "", "hangup after 8")
    queues: dict[str, range] = field(default_factory=lambda: {
        "qa": range(1001, 1021), "qb": range(1021, 1036), "qc": range(1036, 1051)})
    #: Queue → the queue its callers move to at max wait (once; then time out there).
    overflow: dict[str, str] = field(default_factory=lambda: {"qb": "qc"})
    wrap_up: float = 1.0
    ring_timeout: float = 5.0
    tick: float = 0.5

    @property
    def agents(self) -> range:
        ids = [a for r in self.queues.values() for a in r]
        return range(min(ids), max(ids) + 1)


def _log_tail(path: Path, size: int = 3000) -> str:
    with contextlib.suppress(OSError):
        return path.read_text(encoding="utf-8", errors="replace")[-size:]
    return ""


class SimProcess:
    """``coreswitch sim`` placing ``plan.calls`` calls into ``sockets``."""

    def __init__(self, tmp: Path, plan: Plan, port: int, sockets: Sequence[str]) -> None:
        self.port = port
        self.out_path = tmp / "sim.out"
        self.err_path = tmp / "sim.err"
        args = [sys.executable, "-m", "coreswitch", "sim", "--port", str(port),
                "--agents", f"{plan.agents.start}-{plan.agents.stop - 1}:"
                            f"answer={plan.answer},talk={plan.talk}",
                "--calls", str(plan.calls), "--rate", str(plan.rate), "--dnis", DNIS,
                "--ani", plan.ani, "--after-client", str(len(sockets)), "--exit"]
        for address in sockets:
            args += ["--socket", address]
        for script in plan.callers:
            args += ["--caller", script]
        with self.out_path.open("wb") as out, self.err_path.open("wb") as err:
            self.proc = subprocess.Popen(args, stdout=out, stderr=err,
                                         env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def lines(self) -> list[str]:
        return self.out_path.read_text(encoding="utf-8", errors="replace").splitlines()

    def placed(self) -> dict[str, str]:
        """Call UUID → caller number, of every call placed so far."""
        calls = {}
        for line in self.lines():
            if line.startswith("call "):  # call 12: <uuid> from <ani> to <dnis>
                words = line.split()
                calls[words[2]] = words[4]
        return calls

    async def ready(self, limit: float = 30.0) -> None:
        """Wait until the ESL port is listening (the first line of output)."""
        deadline = time.monotonic() + limit
        while not any(line.startswith("coreswitch sim: ESL on") for line in self.lines()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"sim not up: {self.tail()}")
            await asyncio.sleep(0.1)

    async def finished(self, limit: float) -> dict[str, Any]:
        """Wait (at most ``limit`` s) for every call to end; the end summary."""
        deadline = time.monotonic() + limit
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                self.stop()  # prints the summary of what has ended so far
                break
            await asyncio.sleep(0.25)
        summaries = [line for line in self.lines() if line.startswith("{")]
        if not summaries:
            raise AssertionError(f"sim gave no summary (exit {self.proc.returncode}): "
                                 f"{self.tail()}")
        result: dict[str, Any] = json.loads(summaries[-1])
        return result

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def tail(self) -> str:
        return (_log_tail(self.out_path, 1000) + "\n" + _log_tail(self.err_path)).strip()


def node_config(tmp: Path, name: str, plan: Plan, *, sim_port: int, outbound: int, http: int,
                redis_url: str) -> Path:
    lines = [
        "[switch]", 'kind = "freeswitch"', 'host = "127.0.0.1"', f"port = {sim_port}",
        f'outbound_listen = "127.0.0.1:{outbound}"', "linger = 1",
        "[store]", f'url = "sqlite:///{tmp / name}.db"',
        "[state]", f'backend = "{redis_url}"',
        "[http]", f'bind = "127.0.0.1:{http}"', 'admin_token = "two-node-test"',
        "[flows]", f'directories = ["{FLOWS}"]',
        "[tts]", f'cache_dir = "{tmp / "tts"}"',
        "[acd]", f'node = "{name}"', f"tick = {plan.tick}",
    ]
    for queue in plan.queues:
        lines += [f"[acd.queues.{queue}]", f"ring_timeout = {plan.ring_timeout}",
                  f"wrap_up = {plan.wrap_up}", "max_wait = 60", "no_answer_delay = 2",
                  "busy_delay = 2"]
        if queue in plan.overflow:
            lines.append(f'overflow_queue = "{plan.overflow[queue]}"')
    for queue, agents in plan.queues.items():
        for agent in agents:
            lines += [f'[acd.agents."{agent}"]', f'endpoint = "user/{agent}"',
                      f"queues = {{{queue} = 1}}", "login = true"]
    path = tmp / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class NodeProcess:
    """``coreswitch serve`` as one node: ports chosen and config written at once, the process
    started by :meth:`start` (once the switch it connects to is up)."""

    def __init__(self, tmp: Path, name: str, plan: Plan, *, sim_port: int,
                 redis_url: str) -> None:
        self.tmp, self.name = tmp, name
        self.outbound, self.http = free_port(), free_port()
        self.db_url = f"sqlite:///{tmp / name}.db"
        self.config = node_config(tmp, name, plan, sim_port=sim_port, outbound=self.outbound,
                                  http=self.http, redis_url=redis_url)
        self.log_path = tmp / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "coreswitch", "serve", "--config", str(self.config),
                 "--drain", "10", "--log-level", "warning"],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.tmp,
                env={**os.environ, "PYTHONUNBUFFERED": "1"})

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.outbound}"

    async def ready(self, limit: float = 60.0) -> None:
        assert self.proc is not None, "start() first"
        deadline = time.monotonic() + limit
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise AssertionError(f"node {self.name} exited: {self.tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    reply = await client.get(f"http://127.0.0.1:{self.http}/healthz")
                    if reply.status_code == 200:
                        return
                await asyncio.sleep(0.2)
        raise AssertionError(f"node {self.name} not ready in {limit:.0f} s: {self.tail()}")

    def stop(self) -> int | None:
        """SIGTERM (drain), bounded; the exit status (None: had to be killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
                return None
        return self.proc.returncode

    def tail(self) -> str:
        return _log_tail(self.log_path)

    def errors(self) -> list[str]:
        """The node's log lines at level error (JSON lines)."""
        return [line for line in _log_tail(self.log_path, 10**7).splitlines()
                if '"level": "error"' in line]


async def queue_log(nodes: Sequence[NodeProcess]) -> list[QueueEvent]:
    """Both nodes' queue logs, in time order."""
    found: list[QueueEvent] = []
    for node in nodes:
        db = Database(node.db_url)
        try:
            found += await events(db)
        finally:
            await db.close()
    found.sort(key=lambda e: e.at)
    return found

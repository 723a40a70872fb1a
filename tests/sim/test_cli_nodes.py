"""``coreswitch sim`` feeding several coreswitch nodes: ``--socket`` repeated (calls alternate
between the outbound-socket servers), ``--agents`` ranges, ``--caller`` scripts taken in turn,
the JSON end summary (placed, ended, causes, agent legs with busy refusals and overlaps), and
``--after-client N`` (wait for every node's inbound link)."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import pytest

from coreswitch.cli.sim import parse_agents, wait_for_controllers
from coreswitch.esl import InboundClient, OutboundServer
from coreswitch.esl.outbound import OutboundSession
from coreswitch.switch.sim import SimSwitch


class Node:
    """An outbound-socket server standing in for one coreswitch node: it bridges each call to
    ``agent_for[ani]`` and hangs up when the bridge ends; the other calls it holds until the
    caller hangs up (at most 5 s: then it hangs up with ``RECOVERY_ON_TIMER_EXPIRE``)."""

    def __init__(self, agent_for: dict[str, str]) -> None:
        self.agent_for = agent_for
        self.anis: list[str] = []
        self.server = OutboundServer(self._handle, "127.0.0.1", 0, linger=0)

    async def _handle(self, session: OutboundSession) -> None:
        ani = session.channel_data.get("Caller-Caller-ID-Number")
        self.anis.append(ani)
        agent = self.agent_for.get(ani)
        if agent:
            await session.run("bridge", f"user/{agent}", timeout=60)
            await session.hangup_call()
            return
        try:
            await asyncio.wait_for(session.hung_up.wait(), 5)
        except TimeoutError:
            await session.hangup_call("RECOVERY_ON_TIMER_EXPIRE")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.port}"


async def _sim(*args: str) -> tuple[list[str], dict[str, Any]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "coreswitch.cli.sim", "--port", "0", "--exit", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    summary = json.loads(next(line for line in reversed(lines) if line.startswith("{")))
    return lines, summary


def test_agent_ranges() -> None:
    assert parse_agents("1001-1003:answer=0.5,talk=2") == [
        {"extension": ext, "answer_after": 0.5, "talk_time": 2.0}
        for ext in ("1001", "1002", "1003")]
    assert [a["extension"] for a in parse_agents("0998-1000")] == ["0998", "0999", "1000"]
    for bad in ("1001", "1003-1001", "a-b:answer=1"):
        with pytest.raises(ValueError, match="range"):
            parse_agents(bad)
    with pytest.raises(ValueError, match="unknown agent option"):
        parse_agents("1001-1002:sometimes")


@pytest.mark.server
async def test_calls_alternate_between_sockets_and_the_summary_counts_them() -> None:
    # Calls from 13800000000…03: even ones to node a, odd ones to node b. Each node sends its
    # first caller to an agent of its own and holds the second: the third caller script
    # (13800000002's) hangs up after 0.2 s, 13800000003 (first script again) stays on.
    a = Node({"13800000000": "1001"})
    b = Node({"13800000001": "1002"})
    await a.server.start()
    await b.server.start()
    try:
        lines, summary = await _sim(
            "--speed", "20", "--agents", "1001-1002:answer=1,talk=3", "--calls", "4",
            "--rate", "20", "--socket", a.address, "--socket", b.address,
            "--caller", "", "--caller", "", "--caller", "hangup after 0.2")
    finally:
        await a.server.close()
        await b.server.close()
    assert a.anis == ["13800000000", "13800000002"]
    assert b.anis == ["13800000001", "13800000003"]
    assert [line.split(" from ")[1] for line in lines if line.startswith("call ")] == [
        f"1380000000{i} to 95598" for i in range(4)]
    assert summary == {
        "placed": 4, "ended": 4, "causes": {"NORMAL_CLEARING": 3, "RECOVERY_ON_TIMER_EXPIRE": 1},
        "agents": {"legs": 2, "answered": 2, "busy": 0, "overlaps": 0}}
    assert lines[-1] == "4 calls ended: NORMAL_CLEARING=3, RECOVERY_ON_TIMER_EXPIRE=1"


@pytest.mark.server
async def test_the_summary_reports_an_agent_offered_two_calls_at_once() -> None:
    # Both nodes bridge their caller to agent 1001 (no shared state): the second leg, 2 s
    # after the first, finds 1001 talking to the first caller — the double offer the two-node
    # ACD test must never see.
    a = Node({"13900000000": "1001"})
    b = Node({"13900000001": "1001"})
    await a.server.start()
    await b.server.start()
    try:
        _, summary = await _sim(
            "--speed", "10", "--agents", "1001-1001:answer=0.1,talk=20", "--calls", "2",
            "--rate", "0.5", "--ani", "13900000000", "--socket", a.address, "--socket", b.address,
            "--caller", "hangup after 10")
    finally:
        await a.server.close()
        await b.server.close()
    assert summary["agents"] == {"legs": 2, "answered": 1, "busy": 1, "overlaps": 1}
    assert summary["placed"] == summary["ended"] == 2


async def test_calls_wait_for_every_node_to_subscribe() -> None:
    # --after-client 2: the simulator places calls once both nodes' inbound links subscribed.
    sw = SimSwitch(port=0)
    await sw.start()
    clients: list[InboundClient] = []
    try:
        for _ in range(2):
            client = InboundClient(port=sw.port, connect_timeout=5.0, reconnect=False)
            client.subscribe(lambda event: None)
            await client.start()
            clients.append(client)
            if len(clients) == 1:
                with pytest.raises(ValueError, match="1 of 2 ESL clients subscribed"):
                    await wait_for_controllers(sw, 2, limit=0.3)
        await wait_for_controllers(sw, 2, limit=10)
    finally:
        for client in clients:
            await client.close()
        await sw.stop()

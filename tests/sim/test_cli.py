"""``coreswitch sim`` as its own process, driven over real TCP."""

from __future__ import annotations

import asyncio
import signal
import sys

import pytest

from coreswitch.cli.sim import parse_agent, parse_route
from coreswitch.esl import InboundClient
from coreswitch.switch.sim import caller


async def _start(*args: str) -> tuple[asyncio.subprocess.Process, int]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "coreswitch.cli.sim", "--port", "0", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    first = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    assert first.startswith("coreswitch sim: ESL on 127.0.0.1:"), first
    port = int(first.split("127.0.0.1:")[1].split()[0])
    return proc, port


@pytest.mark.server
async def test_sim_process_serves_inbound_clients() -> None:
    proc, port = await _start("--speed", "100", "--agent", "1001:answer=1")
    try:
        client = InboundClient(port=port, connect_timeout=10.0, reconnect=False)
        await client.start()
        try:
            assert (await client.api("status")).startswith("UP ")
            result = await client.bgapi("originate", "user/1001 &park")
            assert result.startswith("+OK ")
            assert await client.api("uuid_exists", result.split()[1]) == "true"
        finally:
            await client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()


@pytest.mark.server
async def test_sim_process_places_calls_and_exits() -> None:
    proc, _ = await _start("--speed", "200", "--calls", "3", "--rate", "20", "--exit",
                           "--caller", "hangup after 2")
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == ["call 1", "call 2", "call 3"]
    assert lines[-1] == "3 calls ended: NORMAL_CLEARING=3"


def test_agent_and_caller_options() -> None:
    assert parse_agent("1001") == {"extension": "1001"}
    assert parse_agent("1002:answer=3,talk=60") == {
        "extension": "1002", "answer_after": 3.0, "talk_time": 60.0}
    assert parse_agent("1003:never") == {"extension": "1003", "answer_after": None}
    assert parse_agent("1004:busy") == {"extension": "1004", "busy": True}
    with pytest.raises(ValueError, match="unknown agent option"):
        parse_agent("1005:sometimes")
    steps = caller.parse("press 1 on prompt 1 after 0.5; wait 2; press 1234# next prompt;"
                         " hangup after 3")
    assert steps == [caller.Press("1", 0.5, 1), caller.Wait(2.0),
                     caller.Press("1234#", next_prompt=True), caller.Hangup(3.0)]
    with pytest.raises(ValueError, match="unknown caller step"):
        caller.parse("shout 1")
    assert parse_route("answer; playback /sounds/你好.wav; hangup NORMAL_CLEARING") == [
        ("answer", ""), ("playback", "/sounds/你好.wav"), ("hangup", "NORMAL_CLEARING")]

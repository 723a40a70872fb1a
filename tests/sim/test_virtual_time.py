"""The simulator without sockets: in-memory outbound sessions on a virtual-time loop.

The same ESL session code (``OutboundServer``'s sessions) drives a call whose prompts, timeouts
and ring times add up to minutes of switch time; on the virtual clock it takes milliseconds and
gives the same transcript every run.
"""

from __future__ import annotations

import time

from coreswitch.esl import OutboundServer, OutboundSession
from coreswitch.runtime.virtual_time import run
from coreswitch.switch.sim import SimSwitch


async def _scenario() -> tuple[list[str], list[str], float]:
    sw = SimSwitch(port=0, speed=1.0)  # real-time speed: the loop's clock does the jumping
    sw.add_agent("1001", answer_after=12, talk_time=90)
    digits: list[str] = []

    async def handler(session: OutboundSession) -> None:
        await session.run("answer")
        for _ in range(2):
            done = await session.run(
                "play_and_get_digits", r"1 1 3 5000 # ivr/menu.wav ivr/invalid.wav k \d")
            digits.append(done.variable("k") or "")
        await session.run("set", "hangup_after_bridge=true")
        await session.run("bridge", "user/1001")

    server = OutboundServer(handler, port=0, linger=5)
    address = sw.attach_socket("flows", server._accept)  # the server's own accept factory
    start = sw.clock.now()
    call = await sw.place_call("13800000000", "95598", socket=address,
                               caller="wait 10; press 7 next prompt after 1; press 2 on prompt 6")
    await call.ended()
    await server.close()
    await sw.stop()
    return digits, call.event_names, sw.clock.now() - start


def test_minutes_of_call_time_in_an_instant() -> None:
    began = time.monotonic()
    digits, names, switch_seconds = run(_scenario())
    real_seconds = time.monotonic() - began
    assert digits == ["7", "2"]
    assert "CHANNEL_BRIDGE" in names
    assert switch_seconds > 100  # prompts, timeouts, 12 s of ringing, 90 s of talk
    assert real_seconds < 5
    assert run(_scenario()) == (digits, names, switch_seconds)  # the same, every run

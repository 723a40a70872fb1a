"""Many calls at once: every call's lifecycle is complete and nothing is left behind."""

from __future__ import annotations

import asyncio
from collections import Counter

from coreswitch.esl import InboundClient
from coreswitch.switch.sim import MediaTiming, SimSwitch

from .conftest import Recorder


async def test_two_hundred_calls_through_an_inbound_client() -> None:
    switch = SimSwitch(port=0, speed=400, media=MediaTiming(default_file=1.5))
    switch.route("9206", ("answer", ""), ("playback", "prompt.wav"), ("hangup", ""))
    await switch.start()
    rec = Recorder()
    client = InboundClient(port=switch.port, event_format="json", connect_timeout=5.0)
    client.subscribe(rec)
    await client.start()
    try:
        jobs = [client.bgapi("originate", f"{{origination_caller_id_number={13800000000 + i}}}"
                             "loopback/9206/default &park")
                for i in range(200)]
        results = await asyncio.gather(*jobs)
        assert all(r.startswith("+OK ") for r in results)
        while switch.channels:
            await asyncio.wait_for(next(iter(switch.channels.values())).destroyed.wait(), 30)
        await client.dispatcher.drain()
    finally:
        await client.close()
        await switch.stop()
    counts = Counter(e.name for e in rec.events)
    assert counts["CHANNEL_CREATE"] == counts["CHANNEL_DESTROY"] == 400
    assert counts["PLAYBACK_START"] == counts["PLAYBACK_STOP"] == 200
    assert counts["BACKGROUND_JOB"] == 200
    per_channel = Counter(e.uuid for e in rec.events if e.name == "CHANNEL_HANGUP_COMPLETE")
    assert set(per_channel.values()) == {1}
    assert switch.core.tasks == set()
    assert client.dispatcher.channels == set()

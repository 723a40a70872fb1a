"""An ``execute`` refused because the channel ended while the command was on its way raises
ChannelGone and leaves nothing behind: its completion future, failed by the hangup, is not
reported by asyncio as "Future exception was never retrieved" (an error line in serve's log
each time a caller hangs up just as the ACD bridges it — seen in the two-node ACD test)."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest

from coreswitch.esl import ChannelGone

from .fakeswitch import FakeSwitch
from .test_connection import A, connect


@pytest.fixture
async def switch() -> Any:
    async with FakeSwitch() as sw:
        yield sw


async def test_a_refused_execute_on_a_channel_gone_meanwhile_reports_nothing_else(
        switch: FakeSwitch) -> None:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    client, conn = await connect(switch)
    try:
        task = asyncio.create_task(client.execute(A, "set", "ringback=moh"))
        await conn.next_command()
        conn.event({"Event-Name": "CHANNEL_HANGUP_COMPLETE", "Unique-ID": A,
                    "Hangup-Cause": "NORMAL_CLEARING"})
        conn.reply(f"-ERR invalid session id [{A}]")
        with pytest.raises(ChannelGone):
            await asyncio.wait_for(task, 5)
        del task
        gc.collect()
    finally:
        await client.close()
        loop.set_exception_handler(None)
    assert [c.get("message") for c in reported] == []

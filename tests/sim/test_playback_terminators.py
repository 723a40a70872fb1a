"""``playback`` and ``playback_terminators``: FreeSWITCH's default ``*``, ``none``, ``any``, a list.

Only a terminator stops the file (other keys are read and dropped); a stopped file still
reports ``FILE PLAYED`` (mod_dptools maps SWITCH_STATUS_BREAK to it), as does ``uuid_break``.
"""

from __future__ import annotations

import asyncio

import pytest

from coreswitch.esl import InboundClient
from coreswitch.switch.sim import SimSwitch


async def _play(switch: SimSwitch, client: InboundClient, terminators: str | None,
                keys: str) -> tuple[str, str | None, str]:
    """Play a 2 s file while the caller presses ``keys`` at 0.5 s; (status, used, response)."""
    call = await switch.place_call(caller=f"press {keys} on prompt 1 after 0.5")
    if terminators is not None:
        await client.execute(call.uuid, "set", f"playback_terminators={terminators}")
    stopped = switch.wait_for("PLAYBACK_STOP", call.uuid)
    done = await client.execute(call.uuid, "playback", "ivr/prompt.wav")
    stop = await stopped
    return (stop.get("Playback-Status") or "", call.variables.get("playback_terminator_used"),
            done["Application-Response"])


@pytest.mark.parametrize(("terminators", "keys", "expected"), [
    (None, "1", ("done", None)),
    (None, "*", ("break", "*")),  # FreeSWITCH's default terminator
    ("none", "*", ("done", None)),
    ("#", "12", ("done", None)),
    ("#", "1#", ("break", "#")),
    ("any", "7", ("break", "7")),
])
async def test_only_terminators_stop_playback(switch: SimSwitch, client: InboundClient,
                                              terminators: str | None, keys: str,
                                              expected: tuple[str, str | None]) -> None:
    assert await _play(switch, client, terminators, keys) == (*expected, "FILE PLAYED")


async def test_uuid_break_reports_file_played(switch: SimSwitch, client: InboundClient) -> None:
    call = await switch.place_call()
    playing = asyncio.ensure_future(client.execute(call.uuid, "playback", "ivr/long.wav"))
    await switch.wait_for("PLAYBACK_START", call.uuid)
    await client.api("uuid_break", call.uuid)
    assert (await playing)["Application-Response"] == "FILE PLAYED"

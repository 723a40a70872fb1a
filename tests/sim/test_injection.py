"""Caller-controlled text never becomes a second command on the switch.

The simulated switch parses commands exactly as mod_event_socket does and records every command
it parsed, so these tests see what FreeSWITCH would have executed.
"""

from __future__ import annotations

import pytest

from coreswitch.esl import InboundClient, UnsafeArgumentError
from coreswitch.esl import command as cmd
from coreswitch.switch.sim import SimSwitch

from .conftest import Recorder, raw_connect

HOSTILE = "张三\n\napi hupall\n\n"
HOSTILE_CR = "x\r\n\r\napi hupall ORIGINATOR_CANCEL\r\n\r\n"


def hupall_parsed(switch: SimSwitch) -> bool:
    return any("hupall" in c.line for c in switch.commands)


async def test_the_switch_parser_would_be_injected_by_a_raw_newline(switch: SimSwitch) -> None:
    """The control experiment: bytes with a bare LF *do* make a second command."""
    call = await switch.place_call()
    _, writer = await raw_connect(switch)
    writer.write(f"auth ClueCon\n\napi uuid_setvar {call.uuid} name x\n\napi hupall\n\n".encode())
    assert await call.hungup() == "MANAGER_REQUEST"
    writer.close()
    assert hupall_parsed(switch)


async def test_hostile_caller_id_name_from_the_network(switch: SimSwitch,
                                                       client: InboundClient) -> None:
    call = await switch.place_call("13800000000", "95598", caller_id_name=HOSTILE)
    # the name reaches the client intact (URL-decoded from the event)...
    table = await client.api("show", "channels as json")
    assert "api hupall" in table
    # ...and going back to the switch it travels as a body or is refused
    done = await client.execute(call.uuid, "set", f"caller_name={HOSTILE}")
    assert done.variable("caller_name") == HOSTILE
    with pytest.raises(UnsafeArgumentError):
        await client.api("uuid_setvar", f"{call.uuid} caller_name {HOSTILE}")
    with pytest.raises(UnsafeArgumentError):
        await client.bgapi("originate",
                           cmd.channel_variables({"origination_caller_id_name": HOSTILE})
                           + "user/1001 &park")
    assert call.channel.up()
    assert not hupall_parsed(switch)
    sendmsgs = [c for c in switch.commands if c.verb == "sendmsg"]
    assert len(sendmsgs) == 1
    assert sendmsgs[0].body == f"caller_name={HOSTILE}".encode()


async def test_hostile_tts_text_is_one_command(switch: SimSwitch, client: InboundClient) -> None:
    call = await switch.place_call()
    before = len(switch.commands)
    text = f"unimrcp|xiaoyan|您好{HOSTILE_CR}再见"
    done = await client.execute(call.uuid, "speak", text)
    assert done["Application"] == "speak"
    assert done.get("Application-Data") == text
    new = switch.commands[before:]
    assert [c.verb for c in new] == ["sendmsg"]
    assert new[0].body == text.encode()
    assert call.channel.up()
    assert not hupall_parsed(switch)


async def test_hostile_dtmf_and_causes_are_refused(switch: SimSwitch,
                                                   client: InboundClient) -> None:
    call = await switch.place_call()
    before = len(switch.commands)
    with pytest.raises(UnsafeArgumentError):
        cmd.dtmf("1\n\napi hupall")
    with pytest.raises(UnsafeArgumentError):
        await client.api("uuid_recv_dtmf", f"{call.uuid} 1\n\napi hupall\n\n")
    with pytest.raises(UnsafeArgumentError):
        await client.hangup(call.uuid, "NORMAL_CLEARING\n\napi hupall")
    with pytest.raises(UnsafeArgumentError):
        await client.execute(call.uuid, "playback\n\napi hupall", "x.wav")
    assert switch.commands[before:] == []
    # the link is still in sync: the next command gets its own reply
    assert await client.api("uuid_exists", call.uuid) == "true"
    assert call.channel.up()


async def test_pressed_keys_cannot_inject(switch: SimSwitch, client: InboundClient) -> None:
    """Digits a caller presses come back in events; using them stays one command."""
    call = await switch.place_call(caller="press 1*#4 on prompt 1 after 0.2")
    done = await client.execute(call.uuid, "play_and_get_digits",
                                r"1 8 1 3000 # ivr/menu.wav silence pin [0-9*]+ 1000")
    pin = done.variable("pin")
    assert pin == "1*"
    await client.api("uuid_send_dtmf", f"{call.uuid} {cmd.dtmf(pin)}")
    assert switch.commands[-1].line == f"api uuid_send_dtmf {call.uuid} 1*"
    assert not hupall_parsed(switch)


async def test_a_refused_first_filter_changes_nothing(switch: SimSwitch, client: InboundClient,
                                                      rec: Recorder) -> None:
    call = await switch.place_call()
    with pytest.raises(UnsafeArgumentError):
        await client.filter("Unique-ID", f"{call.uuid}\n\napi hupall")
    assert not hupall_parsed(switch)
    later = await switch.place_call()
    await client.api("uuid_exists", later.uuid)
    await client.dispatcher.drain()
    assert "CHANNEL_CREATE" in rec.names(later.uuid)  # events still flow unfiltered

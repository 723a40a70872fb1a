"""Injection over the wire: hostile caller text through EslPeer.api/bgapi/execute/hangup/filter.

A scripted switch parses every byte the real InboundClient writes, the way mod_event_socket does,
and records each command. Whatever the caller-ID name, DTMF, variable, TTS text or file name
holds, the switch must see exactly the commands the test issued: refused ones never reach it,
and multi-line application arguments arrive intact as a body.
"""

from __future__ import annotations

import asyncio

import pytest

from coreswitch.esl import Event, InboundClient, UnsafeArgumentError
from coreswitch.esl import command as cmd

from .fakeswitch import ClientCommand, FakeSwitch, SwitchConn

UUID = "74551285-08c7-44d9-9822-df2a0925bf99"
HOSTILE = [
    "\n", "\r\n\r\n", "\n\napi hupall\n\n", "\0", "张三\r\n\r\nexit\r\n\r\n",
    "Bob\n\nbgapi originate sofia/gateway/gw/900 &park\n\n", "x\rapi hupall\r\r",
]


def auto_switch(conn: SwitchConn, command: ClientCommand) -> bool:
    """Answer api/bgapi/sendmsg like FreeSWITCH, completing executes at once."""
    line = command.line
    if line.startswith("api "):
        conn.api("+OK\n")
    elif line.startswith("bgapi "):
        job = command.header("Job-UUID") or ""
        conn.reply(f"+OK Job-UUID: {job}")
        conn.event({"Event-Name": "BACKGROUND_JOB", "Job-UUID": job}, b"+OK\n")
    elif line.startswith("sendmsg") and command.header("call-command") == "execute":
        conn.reply("+OK")
        arg = command.header("execute-app-arg")
        conn.event({
            "Event-Name": "CHANNEL_EXECUTE_COMPLETE", "Unique-ID": line.split(" ", 1)[1],
            "Application": command.header("execute-app-name") or "",
            "Application-Data": arg if arg is not None else command.body.decode(),
            "Application-UUID": command.header("Event-UUID") or "",
        })
    elif line.startswith("sendmsg"):
        conn.reply("+OK")
    else:
        return False
    return True


@pytest.mark.parametrize("hostile", HOSTILE)
async def test_hostile_text_never_becomes_a_second_command(hostile: str) -> None:
    async with FakeSwitch(on_command=auto_switch) as sw:
        client = InboundClient(port=sw.port, reconnect=False, command_timeout=5)
        await asyncio.wait_for(client.start(), 5)
        expected = ["auth ClueCon", "event plain ALL", "api show channels as json"]
        try:
            refused = [
                client.api("uuid_setvar", f"{UUID} cs_caller_name {hostile}"),
                client.api("uuid_send_dtmf", f"{UUID} 12{hostile}"),
                client.bgapi("originate", f"{{origination_caller_id_name='{hostile}'}}"
                             "loopback/9201/default &park"),
                client.hangup(UUID, f"NORMAL_CLEARING{hostile}"),
                client.execute(UUID, f"playback{hostile}", "x"),
                client.execute(f"{UUID}{hostile}", "playback", "x"),
            ]
            for call in refused:
                with pytest.raises(UnsafeArgumentError):
                    await call
            with pytest.raises(UnsafeArgumentError):
                cmd.channel_variables({"origination_caller_id_name": hostile})
            with pytest.raises(UnsafeArgumentError):
                cmd.dtmf(hostile)

            # Application arguments: TTS text, a variable value, a file name.
            args = {
                "speak": f"flite|kal|您好 {hostile} 再见",
                "set": f"cs_caller_name={hostile}",
                "playback": f"/var/sounds/{hostile}.wav",
            }
            for app, arg in args.items():
                if "\0" in hostile:
                    with pytest.raises(UnsafeArgumentError, match="NUL"):
                        await client.execute(UUID, app, arg)
                    continue
                done: Event = await asyncio.wait_for(client.execute(UUID, app, arg), 5)
                assert done["Application-Data"] == arg  # arrived intact, as a body
                expected.append(f"sendmsg {UUID}")
            assert await client.api("status") == "+OK\n"
            expected.append("api status")
        finally:
            await client.close()
        expected.append("exit")
        assert [c.line for c in sw.commands] == expected
        for command in sw.commands:
            head = command.raw[: len(command.raw) - len(command.body)]
            assert b"\r" not in head
            assert b"\0" not in head
            if command.body:
                assert command.header("content-length") == str(len(command.body))

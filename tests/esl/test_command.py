"""Command builders (coreswitch.esl.command): no argument can put a second command on the wire.

Every builder is fed hostile text — caller-ID names, DTMF, variables, TTS text, file names with
``\\n``, ``\\r\\n\\r\\n``, ``\\n\\napi hupall\\n\\n`` and NUL. The output is then read back with
the switch-side command reader of :mod:`.fakeswitch`: it must hold exactly one command, or the
builder must refuse with :class:`UnsafeArgumentError`. ``execute`` application arguments are the
one place multi-line text is allowed: they travel as a body with ``content-length``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coreswitch.esl import UnsafeArgumentError
from coreswitch.esl import command as cmd

from .captures import read_transcript
from .fakeswitch import ClientCommand, parse_commands

UUID = "74551285-08c7-44d9-9822-df2a0925bf99"
EV = "05085ac8-f382-4e2f-9e1b-079fe7bf726b"
HOSTILE = [
    "\n", "\r", "\0", "a\nb", "a\r\nb", "\r\n\r\n", "\n\napi hupall\n\n",
    "张三\n\nexit\n\n", "x\r\n\r\nbgapi originate loopback/1 &park\r\n\r\n", "nul\0byte",
]
NEWLINE_HOSTILE = [h for h in HOSTILE if "\0" not in h]


def one_command(data: bytes) -> ClientCommand:
    """Read ``data`` as the switch would: it must be exactly one complete command."""
    buf = bytearray(data)
    commands = parse_commands(buf)
    assert len(commands) == 1, commands
    assert not buf, f"bytes left after the command: {bytes(buf)!r}"
    command = commands[0]
    head = command.raw[: len(command.raw) - len(command.body)]
    assert b"\r" not in head
    assert b"\0" not in head
    return command


BUILDERS: dict[str, Callable[[str], bytes]] = {
    "api args": lambda h: cmd.api("uuid_setvar", f"{UUID} cs_name {h}"),
    "api command": cmd.api,
    "bgapi args": lambda h: cmd.bgapi("originate", f"loopback/{h} &park", EV),
    "bgapi job": lambda h: cmd.bgapi("status", "", h),
    "execute app": lambda h: cmd.execute(UUID, h, "x", event_uuid=EV),
    "execute channel": lambda h: cmd.execute(h, "playback", "x", event_uuid=EV),
    "execute event-uuid": lambda h: cmd.execute(UUID, "playback", "x", event_uuid=h),
    "hangup channel": cmd.hangup,
    "hangup cause": lambda h: cmd.hangup(UUID, h),
    "event format": lambda h: cmd.event_subscription(h, ["ALL"]),
    "event name": lambda h: cmd.event_subscription("plain", [h]),
    "filter header": lambda h: cmd.filter_command(h, "x"),
    "filter value": lambda h: cmd.filter_command("Unique-ID", h),
    "filter delete value": lambda h: cmd.filter_command("Unique-ID", h, delete=True),
    "simple": lambda h: cmd.simple(f"log {h}"),
    "header name": lambda h: cmd.with_headers("sendmsg", [(h, "x")]),
    "header value": lambda h: cmd.with_headers("sendmsg", [("call-command", h)]),
    "dtmf": lambda h: cmd.api("uuid_send_dtmf", f"{UUID} {cmd.dtmf(h)}"),
    "dtmf mixed": lambda h: cmd.api("uuid_send_dtmf", f"{UUID} {cmd.dtmf('12#' + h)}"),
    "channel variable": lambda h: cmd.bgapi(
        "originate", cmd.channel_variables({"origination_caller_id_name": h}) + "user/1 &park",
        EV),
    "variable name": lambda h: cmd.api("uuid_setvar", f"{UUID} {cmd.variable_name(h)} x"),
    "uuid": lambda h: cmd.api("uuid_kill", cmd.uuid(h)),
    "token": lambda h: cmd.api("show", cmd.token(h)),
}


@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.parametrize("builder", sorted(BUILDERS))
def test_hostile_text_is_refused_by_every_line_builder(builder: str, hostile: str) -> None:
    with pytest.raises(UnsafeArgumentError):
        BUILDERS[builder](hostile)


@pytest.mark.parametrize("hostile", NEWLINE_HOSTILE)
@pytest.mark.parametrize("app", ["speak", "playback", "set", "say"])
def test_execute_sends_multiline_arguments_as_a_body(app: str, hostile: str) -> None:
    arg = f"cs_name={hostile}" if app == "set" else f"flite|kal|你好{hostile}"
    command = one_command(cmd.execute(UUID, app, arg, event_uuid=EV, event_lock=True))
    assert command.line == f"sendmsg {UUID}"
    assert command.header("execute-app-arg") is None
    assert command.header("content-type") == "text/plain"
    assert command.header("content-length") == str(len(arg.encode()))
    assert command.body == arg.encode()
    assert command.header("Event-UUID") == EV
    assert command.header("event-lock") == "true"


@pytest.mark.parametrize("arg", ["a\0b", "x\n\0"])
def test_execute_refuses_nul_even_in_a_body(arg: str) -> None:
    with pytest.raises(UnsafeArgumentError, match="NUL"):
        cmd.execute(UUID, "speak", arg, event_uuid=EV)


def test_single_line_arguments_stay_in_the_header() -> None:
    command = one_command(cmd.execute(None, "playback", "/var/sounds/a b.wav", event_uuid=EV,
                                      loops=3))
    assert command.line == "sendmsg"
    assert command.header("execute-app-arg") == "/var/sounds/a b.wav"
    assert command.header("loops") == "3"
    assert command.body == b""


def _recorded_sends(name: str) -> list[bytes]:
    return [data for direction, data in read_transcript(name) if direction == "send"]


def test_builders_reproduce_the_recorded_commands_byte_for_byte() -> None:
    sends = _recorded_sends("inbound-plain")
    assert cmd.execute(UUID, "playback", "tone_stream://%(200,100,440);loops=2", event_uuid=EV,
                       event_lock=True) in sends
    assert cmd.execute(UUID, "play_and_get_digits", "1 5 2 3000 # silence_stream://300 "
                       "silence_stream://200 cs_digits \\d+ 1500",
                       event_uuid="d7ca6408-4b99-4855-9739-c5a203e12956") in sends
    assert cmd.hangup(UUID) in sends
    assert cmd.api("uuid_recv_dtmf", f"{UUID} {cmd.dtmf('12#')}") in sends
    assert cmd.event_subscription("plain", ["ALL"]) in sends
    assert cmd.bgapi(
        "originate", "{origination_caller_id_name='张三 测试 100% %41',origination_caller_id_number"
        "=13800000000,sip_h_X-Test=a;b}loopback/9201/default &park",
        "ca9f3b8b-d503-4978-a90f-60f05aa38e64") in sends
    # The recording sent `set` without an Event-UUID; coreswitch adds one, nothing else differs.
    recorded_set = next(s for s in sends if b"execute-app-name: set" in s)
    ours = cmd.execute(UUID, "set", "cs_note=a\nb: c", event_uuid=EV)
    assert ours.replace(f"Event-UUID: {EV}\n".encode(), b"") == recorded_set
    outbound = _recorded_sends("outbound-session")
    assert cmd.execute(None, "answer", event_uuid="7273e0d9-5995-4e66-a4fa-a1a96e7654c0") \
        in outbound
    assert cmd.hangup(None) in outbound
    assert cmd.event_subscription("json", ["CHANNEL_EXECUTE_COMPLETE", "DTMF"]) in outbound


def test_channel_variables_quote_and_escape() -> None:
    assert cmd.channel_variables({"name": "va'l,ue"}) == "{name='va\\'l\\,ue'}"
    assert cmd.channel_variables({"a": "back\\slash", "b": 5, "c": True, "d": False}) == (
        "{a='back\\\\slash',b='5',c='true',d='false'}")
    assert cmd.channel_variables({}) == ""
    assert cmd.channel_variables({"origination_caller_id_name": "张三 100% %41"}) == (
        "{origination_caller_id_name='张三 100% %41'}")
    with pytest.raises(UnsafeArgumentError):
        cmd.channel_variables({"bad name": "x"})
    with pytest.raises(UnsafeArgumentError):
        cmd.channel_variables({"x": "a\nb"})


def find_end_paren(text: str, open_: str = "{", close: str = "}") -> int:
    """FreeSWITCH's switch_find_end_paren (switch_utils.c): counts brackets, ignores quotes."""
    depth = 0
    for i, ch in enumerate(text):
        if ch == open_:
            depth += 1
        elif ch == close:
            depth -= 1
            if depth == 0:
                return i
    return -1


@pytest.mark.parametrize("value", ["x}sofia/gateway/evil/900 &park", "{", "a{b}c}"])
def test_channel_variable_values_cannot_end_the_block(value: str) -> None:
    try:
        block = cmd.channel_variables({"origination_caller_id_name": value})
    except UnsafeArgumentError:
        return
    assert find_end_paren(block + "loopback/9201") == len(block) - 1


def test_validators_accept_what_freeswitch_uses() -> None:
    assert cmd.dtmf("0123456789ABCDabcd*#wW") == "0123456789ABCDabcd*#wW"
    assert cmd.hangup_cause("NORMAL_CLEARING") == "NORMAL_CLEARING"
    assert cmd.hangup_cause("16") == "16"
    assert cmd.uuid("my-origination_uuid.1") == "my-origination_uuid.1"
    assert cmd.token("sofia/gateway/gw1") == "sofia/gateway/gw1"
    assert cmd.variable_name("sip_h_X-Test") == "sip_h_X-Test"
    for bad in ("", "1 2", "12E", "#" * 129):
        with pytest.raises(UnsafeArgumentError):
            cmd.dtmf(bad)
    with pytest.raises(UnsafeArgumentError):
        cmd.filter_command("Unique-ID", "")
    with pytest.raises(UnsafeArgumentError):
        cmd.token(5)  # type: ignore[arg-type]


def test_literal_protects_text_from_variable_expansion() -> None:
    assert cmd.literal("你好 100%") == "你好 100%"
    assert cmd.literal("${system(rm -rf /)}") == "\\${system(rm -rf /)}"
    assert cmd.literal("a\\b $x") == "a\\\\b \\$x"


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=60))
def test_any_text_gives_one_command_or_a_refusal(text: str) -> None:
    for builder, refusable in (
        (lambda t: cmd.api("uuid_setvar", f"{UUID} x {t}"), r"[\r\n\0]"),
        (lambda t: cmd.bgapi("originate", cmd.channel_variables({"v": t}) + "user/1 &park", EV),
         r"[\r\n\0{}]"),  # braces would end the {...} block in FreeSWITCH
        (lambda t: cmd.filter_command("Caller-Caller-ID-Name", t), r"[\r\n\0]|^$"),
        (lambda t: cmd.with_headers("sendmsg", [("x-note", t)]), r"[\r\n\0]"),
    ):
        try:
            data = builder(text)
        except UnsafeArgumentError:
            assert re.search(refusable, text)
            continue
        one_command(data)
    if "\0" not in text and not text.startswith(" "):  # leading spaces: see the xfail below
        assert app_arg(cmd.execute(UUID, "speak", text, event_uuid=EV)) == text


def app_arg(data: bytes) -> str:
    """The application argument FreeSWITCH will see for a built ``sendmsg`` execute."""
    command = one_command(data)
    arg = command.header("execute-app-arg")
    return arg if arg is not None else command.body.decode()


@pytest.mark.parametrize("arg", ["  indented TTS text", " "])
def test_leading_spaces_of_an_execute_argument_survive(arg: str) -> None:
    assert app_arg(cmd.execute(UUID, "speak", arg, event_uuid=EV)) == arg

"""The switch-side wire format: command parsing as FreeSWITCH reads, frames as it writes."""

from __future__ import annotations

import json
from urllib.parse import unquote

import pytest

from coreswitch.esl import Event
from coreswitch.esl import command as cmd
from coreswitch.switch.sim.wire import (
    CommandParser,
    SimEvent,
    api_response,
    command_reply,
    disconnect_notice,
    json_body,
    linger_notice,
    plain_body,
    url_encode,
)

from .captures import events, frames, plain_pairs


def test_url_encode_reproduces_every_captured_plain_header() -> None:
    """Decoding then re-encoding gives the captured bytes (where no %XX was passed through)."""
    checked = 0
    for frame, _ in events("inbound-plain.recv") + events("outbound-session.recv"):
        if frame.content_type != "text/event-plain":
            continue
        for _, encoded in plain_pairs(frame.body):
            if "%41" in encoded:
                continue  # the lossy pass-through, checked below
            assert url_encode(unquote(encoded)) == encoded
            checked += 1
    assert checked > 4000


def test_url_encode_passes_existing_percent_hex_through_like_freeswitch() -> None:
    name = "张三 测试 100% %41"
    captured = dict(plain_pairs(frames("inbound-plain.recv")[19].body))
    assert url_encode(name) == captured["Caller-Caller-ID-Name"]
    assert unquote(url_encode(name)) == "张三 测试 100% A"  # lossy, as on the real switch


def test_json_bodies_are_byte_identical_to_the_capture() -> None:
    checked = 0
    for frame, _ in events("inbound-json.recv") + events("outbound-session.recv"):
        if frame.content_type != "text/event-json":
            continue
        obj = json.loads(frame.body, object_pairs_hook=list)
        pairs = [(k, "ARRAY::" + "|:".join(v) if isinstance(v, list) else v)
                 for k, v in obj if k not in ("_body", "Content-Length")]
        body = next((v for k, v in obj if k == "_body"), None)
        assert json_body(pairs, body) == frame.body
        checked += 1
    assert checked > 50


def test_plain_event_frames_are_byte_identical_to_the_capture() -> None:
    for frame, event in events("inbound-plain.recv"):
        pairs = [(k, unquote(v)) for k, v in plain_pairs(frame.body) if k != "Content-Length"]
        if any("%41" in v for _, v in plain_pairs(frame.body)):
            continue
        rebuilt = SimEvent(pairs, event.body).frame("plain")
        assert rebuilt == frame.to_bytes()


def test_control_frames_are_the_captured_bytes() -> None:
    captured = frames("inbound-plain.recv")
    assert command_reply("+OK accepted") == captured[1].to_bytes()
    assert api_response("-ERR nosuchcommand Command not found!\n") == captured[5].to_bytes()
    assert disconnect_notice() == captured[135].to_bytes()
    job = "ca9f3b8b-d503-4978-a90f-60f05aa38e64"
    assert command_reply(f"+OK Job-UUID: {job}", {"Job-UUID": job}) == captured[7].to_bytes()
    outbound = frames("outbound-session.recv")
    uuid = "68c76bc0-1566-43cd-a5ce-c32d348bdc75"
    assert linger_notice(uuid, "loopback/9202-b", 5) == outbound[14].to_bytes()
    assert disconnect_notice(uuid) == outbound[22].to_bytes()


def test_parser_reads_commands_as_freeswitch_does() -> None:
    parser = CommandParser()
    data = (b"auth ClueCon\n\n"
            b"sendmsg abc\ncall-command: execute\nexecute-app-name: set\n"
            b"content-type: text/plain\ncontent-length: 14\n\ncs_note=a\nb: c"
            b"\n\napi status\n\n")
    got = []
    for i in range(len(data)):  # byte by byte: framing never depends on read boundaries
        got += parser.feed(data[i:i + 1])
    assert [c.line for c in got] == ["auth ClueCon", "sendmsg abc", "api status"]
    assert got[1].body == b"cs_note=a\nb: c"
    assert got[1].header("Content-Length") == "14"
    assert got[1].header("execute-app-name") == "set"


@pytest.mark.parametrize("text", ["a\n\napi hupall", "a\r\n\r\napi hupall", "%0A\n\nexit"])
def test_a_body_is_never_read_as_a_command(text: str) -> None:
    data = cmd.execute("abc", "speak", f"x|y|{text}", event_uuid="e1")
    parsed = CommandParser().feed(data + b"api status\n\n")
    assert [c.line for c in parsed] == ["sendmsg abc", "api status"]
    assert parsed[0].body == f"x|y|{text}".encode()


def test_event_json_and_plain_decode_alike() -> None:
    event = SimEvent([("Event-Name", "CUSTOM"), ("Unique-ID", "u1"),
                      ("Caller-Caller-ID-Name", "王五: 50%\tok"), ("Hangup-Cause", "A"),
                      ("Hangup-Cause", "B")], "body\nline")
    plain = Event.from_plain(plain_body(event.pairs, event.body))
    js = Event.from_json(json_body(event.pairs, event.body))
    assert plain == js
    assert plain.body == "body\nline"
    assert plain["Hangup-Cause"] == "B"

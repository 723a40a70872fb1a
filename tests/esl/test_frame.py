"""Outer framing (coreswitch.esl.frame): headers, Content-Length bodies, any TCP split."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coreswitch.esl import Frame, FrameParser, ProtocolError

from .captures import RECV_FILES, read_capture

CONNECT_REPLY = (
    b"Event-Name: CHANNEL_DATA\nUnique-ID: 68c76bc0-1566-43cd-a5ce-c32d348bdc75\n"
    b"Caller-Caller-ID-Name: %E5%BC%A0%E4%B8%89%20100%25\n"
    b"variable_current_application_data: 127.0.0.1%3A8084%20async%20full\n"
    b"Content-Type: command/reply\nReply-Text: %2BOK%0A\nSocket-Mode: async\nControl: full\n\n"
)
REJECTION = (b"Content-Type: text/rude-rejection\nContent-Length: 24\n\n"
             b"Access Denied, go away.\n")
LINGER = (b"Content-Type: text/disconnect-notice\nControlled-Session-UUID: 68c76bc0-1566-43cd-a5ce-"
          b"c32d348bdc75\nContent-Disposition: linger\nChannel-Name: loopback/9202-b\n"
          b"Linger-Time: 5\nContent-Length: 0\n\n")
BIG = b"x" * (200 * 1024 - 1) + b"\n"
STREAM = (
    b"Content-Type: auth/request\n\n"
    b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n"
    + b"Content-Type: api/response\nContent-Length: %d\n\n" % len(BIG) + BIG
    + b"Content-Type: api/response\nContent-Length: 0\n\n"
    + CONNECT_REPLY + LINGER
    + b"Content-Type: log/data\nContent-Length: 6\nLog-Level: 7\n\nline1\n"
    + REJECTION
)


def frames_of(data: bytes, chunks: list[int] | None = None) -> list[Frame]:
    parser = FrameParser()
    if chunks is None:
        out = parser.feed(data)
    else:
        out, pos = [], 0
        for size in chunks:
            out += parser.feed(data[pos:pos + size])
            pos += size
        out += parser.feed(data[pos:])
    assert parser.buffered == 0
    return out


def test_the_generated_stream_yields_every_frame_shape() -> None:
    frames = frames_of(STREAM)
    assert [f.content_type for f in frames] == [
        "auth/request", "command/reply", "api/response", "api/response", "command/reply",
        "text/disconnect-notice", "log/data", "text/rude-rejection"]
    assert frames[1].reply_text == "+OK accepted"
    assert frames[2].body == BIG  # a body of 200 KiB, over any 64 KiB read size
    assert frames[3].body == b""
    connect = frames[4]
    assert connect.body == b""  # channel data as headers, no Content-Length
    assert connect.headers["Caller-Caller-ID-Name"] == "%E5%BC%A0%E4%B8%89%20100%25"
    assert connect.headers["Socket-Mode"] == "async"
    assert frames[5].headers["Content-Disposition"] == "linger"
    assert frames[5].headers["Linger-Time"] == "5"
    assert frames[6].headers["Log-Level"] == "7"
    assert frames[6].body == b"line1\n"
    assert frames[7].body == b"Access Denied, go away.\n"
    assert b"".join(f.to_bytes() for f in frames) == STREAM


def test_a_split_at_every_byte_boundary_gives_the_same_frames() -> None:
    small = STREAM.replace(b"Content-Length: %d\n\n" % len(BIG) + BIG,
                           b"Content-Length: 10\n\n0123456789")
    whole = frames_of(small)
    for cut in range(1, len(small)):
        assert frames_of(small, [cut]) == whole, cut


@pytest.mark.parametrize("name", RECV_FILES)
def test_captures_fed_one_byte_at_a_time_give_the_same_frames(name: str) -> None:
    data = read_capture(name)
    parser = FrameParser()
    frames: list[Frame] = []
    for i in range(len(data)):
        frames += parser.feed(data[i:i + 1])
    assert frames == frames_of(data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), name=st.sampled_from(RECV_FILES))
def test_random_splits_of_the_captures_give_identical_frames(data: st.DataObject,
                                                             name: str) -> None:
    raw = read_capture(name)
    chunks = data.draw(st.lists(st.integers(0, 9000), max_size=60))
    assert frames_of(raw, chunks) == frames_of(raw)


def test_stray_newlines_between_frames_are_skipped() -> None:
    data = b"\n\nContent-Type: auth/request\n\n\n\nContent-Type: command/reply\nReply-Text: +OK\n\n"
    assert [f.content_type for f in frames_of(data)] == ["auth/request", "command/reply"]


def test_duplicate_outer_headers_keep_the_last_value() -> None:
    (frame,) = frames_of(b"Content-Type: command/reply\nReply-Text: a\nReply-Text: b\n\n")
    assert frame.reply_text == "b"


def test_header_values_may_be_empty_and_hold_colons() -> None:
    (frame,) = frames_of(b"Content-Type: command/reply\nReply-Text: \nX: a: b\n\n")
    assert frame.headers["Reply-Text"] == ""
    assert frame.headers["X"] == "a: b"


def test_invalid_utf8_in_outer_headers_becomes_replacement_characters() -> None:
    (frame,) = frames_of(b"Content-Type: command/reply\nReply-Text: +OK \xff\xfe\n\n")
    assert frame.reply_text == "+OK \ufffd\ufffd"


def test_body_bytes_are_never_decoded() -> None:
    body = b"\xff\x00\n\n\xe5\xbc"
    (frame,) = frames_of(b"Content-Type: api/response\nContent-Length: 6\n\n" + body)
    assert frame.body == body
    assert frame.reply_text == "\ufffd\x00\n\n\ufffd"


@pytest.mark.parametrize("value", [b"-1", b"abc", b"1.5", b"", b" 5", b"\xef\xbc\x91",
                                   "²".encode(), b"0x10"])
def test_a_bad_content_length_is_a_protocol_error(value: bytes) -> None:
    with pytest.raises(ProtocolError, match="Content-Length"):
        FrameParser().feed(b"Content-Type: api/response\nContent-Length: " + value + b"\n\n")


def test_a_header_line_without_a_colon_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="malformed header line"):
        FrameParser().feed(b"Content-Type: command/reply\nthis is not a header\n\n")


def test_a_body_over_the_limit_is_refused_before_it_is_buffered() -> None:
    parser = FrameParser(max_body_bytes=1000)
    with pytest.raises(ProtocolError, match="exceeds the limit"):
        parser.feed(b"Content-Type: api/response\nContent-Length: 1001\n\n")


def test_an_endless_header_block_is_refused_with_a_bounded_buffer() -> None:
    parser = FrameParser(max_header_bytes=4096)
    line = b"X-Garbage: " + b"y" * 500 + b"\n"
    fed = 0
    while fed < 4096:
        parser.feed(line)
        fed += len(line)
        assert parser.buffered == fed
    with pytest.raises(ProtocolError, match="no end of headers"):
        parser.feed(line)


def test_a_failed_parser_stays_failed() -> None:
    parser = FrameParser()
    with pytest.raises(ProtocolError):
        parser.feed(b"garbage\n\n")
    with pytest.raises(ProtocolError):
        parser.feed(b"Content-Type: auth/request\n\n")


def test_the_header_limit_does_not_depend_on_how_tcp_split_the_bytes() -> None:
    data = b"Content-Type: command/reply\nReply-Text: " + b"x" * 300 + b"\n\n"
    with pytest.raises(ProtocolError):
        FrameParser(max_header_bytes=100).feed(data)


@settings(max_examples=300, deadline=2000)
@given(blob=st.binary(max_size=3000), cuts=st.lists(st.integers(1, 500), max_size=10))
def test_random_bytes_give_frames_or_a_protocol_error(blob: bytes, cuts: list[int]) -> None:
    parser = FrameParser(max_header_bytes=1024, max_body_bytes=4096)
    pos = 0
    try:
        for size in [*cuts, len(blob)]:
            for frame in parser.feed(blob[pos:pos + size]):
                assert isinstance(frame.body, bytes)
            pos += size
    except ProtocolError:
        return
    assert parser.buffered <= 1024 + 4096 + 600


@settings(max_examples=200, deadline=2000)
@given(data=st.data(), name=st.sampled_from(RECV_FILES))
def test_mutated_captures_give_frames_or_a_protocol_error(data: st.DataObject, name: str) -> None:
    raw = bytearray(read_capture(name)[:20000])
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        action = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        byte = data.draw(st.integers(0, 255))
        if action == "flip":
            raw[pos] = byte
        elif action == "insert":
            raw.insert(pos, byte)
        else:
            del raw[pos]
    with contextlib.suppress(ProtocolError):
        FrameParser(max_body_bytes=1 << 20).feed(bytes(raw))

"""Event decoding and encoding (coreswitch.esl.event): the captures' facts, an edge-case corpus,
fuzzing and round-trip properties."""

from __future__ import annotations

import contextlib
import json
import re
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coreswitch.esl import Event, Frame, FrameParser, ProtocolError
from coreswitch.esl.event import _plain_headers_careful, _plain_headers_json, unquote_text
from coreswitch.esl.outbound import channel_data_from_connect

from .captures import read_capture

CHINESE = "张三 测试 100% "


def frames(name: str) -> list[Frame]:
    return FrameParser().feed(read_capture(name))


def events(name: str) -> list[Event]:
    out = []
    for f in frames(name):
        if f.content_type == "text/event-plain":
            out.append(Event.from_plain(f.body))
        elif f.content_type == "text/event-json":
            out.append(Event.from_json(f.body))
    return out


# -- facts of the real captures (README) ----------------------------------------------------------

@pytest.mark.parametrize(("fmt", "name"), [("plain", CHINESE + "A"), ("json", CHINESE + "%41")])
def test_the_chinese_caller_id_name_decodes_as_documented(fmt: str, name: str) -> None:
    # FreeSWITCH passes an existing %41 through unencoded: plain decoding turns it into "A"
    # (lossy by design), JSON keeps it literally.
    created = [e for e in events(f"inbound-{fmt}.recv") if e.name == "CHANNEL_CREATE"]
    assert len(created) == 2
    assert {e["Caller-Caller-ID-Name"] for e in created} == {name}
    api = next(e for e in events(f"inbound-{fmt}.recv") if e.name == "API"
               and e["API-Command"] == "originate")
    assert f"origination_caller_id_name='{name}'" in api["API-Command-Argument"]
    assert "sip_h_X-Test=a;b}loopback/9201/default &park" in api["API-Command-Argument"]


@pytest.mark.parametrize("fmt", ["plain", "json"])
def test_background_job_carries_the_originate_result_as_body(fmt: str) -> None:
    evs = events(f"inbound-{fmt}.recv")
    (job,) = [e for e in evs if e.name == "BACKGROUND_JOB"]
    a_leg = next(e.uuid for e in evs if e.name == "CHANNEL_CREATE")
    assert job.body == f"+OK {a_leg}\n"
    assert job["Content-Length"] == "41"
    assert job["Job-Command"] == "originate"
    assert re.fullmatch(r"[0-9a-f-]{36}", job.job_uuid or "")
    assert job.uuid is None  # a job is not about one channel


@pytest.mark.parametrize("fmt", ["plain", "json"])
def test_a_multiline_set_value_survives_both_formats(fmt: str) -> None:
    evs = events(f"inbound-{fmt}.recv")
    done = next(e for e in evs if e.name == "CHANNEL_EXECUTE_COMPLETE"
                and e.get("Application") == "set")
    assert done["Application-Data"] == "cs_note=a\nb: c"
    private = [e.body for e in evs if e.name == "PRIVATE_COMMAND" and e.body is not None]
    assert "cs_note=a\nb: c" in private


@pytest.mark.parametrize("fmt", ["plain", "json"])
def test_dtmf_and_collected_digits(fmt: str) -> None:
    evs = events(f"inbound-{fmt}.recv")
    assert [e["DTMF-Digit"] for e in evs if e.name == "DTMF"] == ["1", "2", "#"]
    pagd = next(e for e in evs if e.name == "CHANNEL_EXECUTE_COMPLETE"
                and e.get("Application") == "play_and_get_digits")
    assert pagd.variable("cs_digits") == "12"


@pytest.mark.parametrize("name", ["inbound-plain.recv", "inbound-json.recv",
                                  "outbound-session.recv"])
def test_every_event_has_a_unique_sequence(name: str) -> None:
    seqs = [e.sequence for e in events(name)]
    assert seqs
    assert None not in seqs
    assert len(set(seqs)) == len(seqs)
    # Not necessarily ascending on the wire (inbound-plain sends 486 before 485): ordering is the
    # wire order, which is what the dispatcher preserves.


def test_events_without_a_channel() -> None:
    evs = events("inbound-json.recv")
    for name in ("HEARTBEAT", "RE_SCHEDULE", "API"):
        assert all(e.uuid is None for e in evs if e.name == name)
    assert any(e.name == "HEARTBEAT" for e in evs)


def test_api_response_bodies() -> None:
    bodies = [f.body for f in frames("inbound-plain.recv") if f.content_type == "api/response"]
    assert bodies[0].startswith(b"UP 0 years")
    assert b"FreeSWITCH (Version 1.10.12-release  64bit) is ready\n" in bodies[0]
    assert bodies[1] == b"-ERR nosuchcommand Command not found!\n"
    show = json.loads(bodies[2])
    assert show["row_count"] == 2
    # raw UTF-8 in JSON, the %41 kept
    assert {r["callee_name"] for r in show["rows"]} == {CHINESE + "%41", "Outbound Call"}
    assert bodies[3] == b"74551285-08c7-44d9-9822-df2a0925bf99"  # no trailing newline
    assert bodies[5] == b"12"
    assert json.loads(bodies[-1]) == {"row_count": 0}


def test_log_data_frames() -> None:
    logs = [f for f in frames("inbound-plain.recv") if f.content_type == "log/data"]
    assert len(logs) == 46
    first = logs[0]
    assert first.headers["Log-Level"] == "5"
    assert first.headers["Log-File"] == "switch_ivr.c"
    assert first.headers["User-Data"] == "74551285-08c7-44d9-9822-df2a0925bf99"
    assert first.body.endswith(b"Hangup loopback/9201-b [CS_EXECUTE] [NORMAL_CLEARING]\n")
    assert all(len(f.body) == int(f.headers["Content-Length"]) for f in logs)


def test_disconnect_notice_variants() -> None:
    goodbye = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
    (bad,) = [f for f in frames("inbound-badauth.recv")
              if f.content_type == "text/disconnect-notice"]
    assert bad.body == goodbye
    assert "Content-Disposition" not in bad.headers
    linger, disconnect = [f for f in frames("outbound-session.recv")
                          if f.content_type == "text/disconnect-notice"]
    assert linger.headers["Content-Disposition"] == "linger"
    assert linger.headers["Linger-Time"] == "5"
    assert linger.headers["Controlled-Session-UUID"] == "68c76bc0-1566-43cd-a5ce-c32d348bdc75"
    assert linger.body == b""
    assert disconnect.headers["Content-Disposition"] == "disconnect"
    assert disconnect.body == goodbye


def test_connect_reply_channel_data() -> None:
    connect = frames("outbound-session.recv")[0]
    assert connect.content_type == "command/reply"
    assert "Content-Length" not in connect.headers
    assert connect.headers["Reply-Text"] == "%2BOK%0A"  # FreeSWITCH URL-encodes it here too
    data = channel_data_from_connect(connect)
    assert data.name == "CHANNEL_DATA"
    assert data.uuid == "68c76bc0-1566-43cd-a5ce-c32d348bdc75"
    assert data["Caller-Caller-ID-Number"] == "13900000000"
    assert data["FreeSWITCH-IPv6"] == "fd00::2"
    assert data["Event-Date-Local"] == "2026-11-22 13:39:10"
    assert data.variable("socket_host") == "127.0.0.1"
    assert not {"Content-Type", "Reply-Text", "Socket-Mode", "Control"} & set(data)


def test_real_duplicate_headers_keep_the_last_value_and_the_earlier_ones() -> None:
    plain = [e for e in events("inbound-plain.recv") if e.duplicates]
    assert plain, "FreeSWITCH repeats some headers (Hangup-Cause, Channel-Write-Codec-*)"
    for e in plain:
        for name, earlier in e.duplicates.items():  # type: ignore[union-attr]
            assert earlier
            assert name in e


# -- generated edge cases ------------------------------------------------------------------------

def test_array_headers_decode_the_same_from_plain_and_json() -> None:
    plain = Event.from_plain(
        b"Event-Name: CUSTOM\nvariable_sip_h_Diversion: ARRAY%3A%3A%3Csip%3Aa%3E%7C%3A%3Csip%3Ab%3E"
        b"\nvariable_x: ARRAY%3A%3Aone\n\n")
    js = Event.from_json(b'{"Event-Name":"CUSTOM","variable_sip_h_Diversion":["<sip:a>","<sip:b>"],'
                         b'"variable_x":["one"]}')
    assert plain == js
    assert plain.get_list("variable_sip_h_Diversion") == ["<sip:a>", "<sip:b>"]
    assert js.get_list("variable_x") == ["one"]
    assert js.get_list("Event-Name") == ["CUSTOM"]
    assert js.get_list("absent") == []
    # and back: JSON lists again, plain ARRAY:: again
    assert json.loads(js.to_json())["variable_sip_h_Diversion"] == ["<sip:a>", "<sip:b>"]
    assert Event.from_plain(js.to_plain()) == plain


@pytest.mark.parametrize("extra", [b"", b"Other: a%0Ab\n"], ids=["fast", "careful"])
def test_duplicate_headers_last_wins_earlier_kept(extra: bytes) -> None:
    event = Event.from_plain(b"Event-Name: X\nHangup-Cause: ONE\n" + extra
                             + b"Hangup-Cause: TWO\nHangup-Cause: THREE%20\n\n")
    assert event["Hangup-Cause"] == "THREE "
    assert event.duplicates == {"Hangup-Cause": ["ONE", "TWO"]}
    js = Event.from_json(b'{"Event-Name":"X","Hangup-Cause":"ONE","Hangup-Cause":"THREE "}')
    assert js["Hangup-Cause"] == "THREE "


def test_events_with_bodies_over_64_kib_in_both_formats() -> None:
    body = ("主叫号码 %41\n" * 8000)[: 100 * 1024]
    event = Event({"Event-Name": "BACKGROUND_JOB", "Job-UUID": "j-1",
                   "Content-Length": str(len(body.encode()))}, body)
    for ctype, payload, decode in (("text/event-plain", event.to_plain(), Event.from_plain),
                                   ("text/event-json", event.to_json(), Event.from_json)):
        outer = b"Content-Length: %d\nContent-Type: %s\n\n" % (len(payload), ctype.encode())
        stream = (outer + payload) * 2
        parser = FrameParser()
        got = []
        for i in range(0, len(stream), 1000):
            got += parser.feed(stream[i:i + 1000])
        assert len(got) == 2
        assert all(decode(f.body) == event for f in got)
        assert decode(got[0].body).body == body


def test_invalid_utf8_becomes_replacement_characters_and_never_raises() -> None:
    plain = Event.from_plain(
        b"Event-Name: X\nRaw: a\xffb\nEncoded: a%FFb%E5%BC\nContent-Length: 3\n\n\xe5\xbc!")
    assert plain["Raw"] == "a\ufffdb"
    assert plain["Encoded"] == "a\ufffdb\ufffd"
    assert plain.body == "\ufffd!"
    js = Event.from_json(b'{"Event-Name":"X","Raw":"a\xffb","_body":"\xe5\xbc!"}')
    assert js["Raw"] == "a\ufffdb"
    assert js.body == "\ufffd!"


def test_empty_values_cr_plus_and_percent() -> None:
    event = Event.from_plain(
        b"Event-Name: X\nEmpty: \nCR: a%0Db\nRawCR: a\rb\nPlus: a+b\nPct: 100%25\nLone: 5%\n\n")
    assert event["Empty"] == ""
    assert event["CR"] == "a\rb"
    assert event["RawCR"] == "a\rb"
    assert event["Plus"] == "a+b"  # FreeSWITCH encodes spaces as %20; + stays +
    assert event["Pct"] == "100%"
    assert event["Lone"] == "5%"


@pytest.mark.parametrize(("data", "match"), [
    (b"Unique-ID: abc\n\n", "without Event-Name"),
    (b"Event-Name: X\nContent-Length: 10\n\nshort", "Content-Length says 10"),
    (b"Event-Name: X\nContent-Length: ten\n\n", "bad inner Content-Length"),
    (b"Event-Name: X\nno colon here\n\n", "malformed"),
])
def test_malformed_plain_events_are_protocol_errors(data: bytes, match: str) -> None:
    with pytest.raises(ProtocolError, match=match):
        Event.from_plain(data)


@pytest.mark.parametrize(("data", "match"), [
    (b'["Event-Name"]', "not an object"),
    (b'{"Unique-ID":"a"}', "without Event-Name"),
    (b'{"Event-Name":"X","A":null}', "unexpected value"),
    (b'{"Event-Name":"X","A":{"b":"c"}}', "unexpected value"),
    (b'{"Event-Name":"X",', "not JSON"),
    (b"", "not JSON"),
])
def test_malformed_json_events_are_protocol_errors(data: bytes, match: str) -> None:
    with pytest.raises(ProtocolError, match=match):
        Event.from_json(data)


def test_json_numbers_and_booleans_become_text() -> None:
    event = Event.from_json(b'{"Event-Name":"X","N":42,"F":1.5,"B":true}')
    assert (event["N"], event["F"], event["B"]) == ("42", "1.5", "true")


@pytest.mark.parametrize("value", ["²".encode(), b"%C2%B2"])
def test_a_non_ascii_digit_inner_content_length_is_a_protocol_error(value: bytes) -> None:
    with pytest.raises(ProtocolError):
        Event.from_plain(b"Event-Name: X\nContent-Length: " + value + b"\n\nab")


def test_sequence_of_a_non_ascii_digit_is_none() -> None:
    assert Event.from_plain(b"Event-Name: X\nEvent-Sequence: %C2%B2\n\n").sequence is None


def test_deeply_nested_json_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        Event.from_json(b"[" * 100_000)


def test_fast_and_careful_plain_paths_agree_on_unencoded_separators() -> None:
    event = Event.from_plain(b"Event-Name: X\nA: b: c\nD:e\n\n")
    assert event["A"] == "b: c"
    assert event["D"] == "e"


# -- the JSON-rewrite path of the plain decoder ---------------------------------------------------

def test_real_plain_events_take_the_json_rewrite_path() -> None:
    """Every FreeSWITCH plain event decodes on the fast path (with or without a body)."""
    bodies = [f.body for f in frames("inbound-plain.recv") + frames("outbound-session.recv")
              if f.content_type == "text/event-plain"]
    assert bodies
    for body in bodies:
        head = body.partition(b"\n\n")[0]
        decoded = _plain_headers_json(head)
        assert decoded is not None, head[:200]
        assert decoded == _plain_headers_careful(head.decode())


@pytest.mark.parametrize("head", [
    b"Event-Name: X\nA: b: c",  # unencoded separator in a value
    b"Event-Name: X\nD:e",  # no space after the colon
    b"Event-Name: X\nA : b",  # space before the colon
    b"Event-Name: X\nA: b c",  # raw space in a value
    b"Event-Name: X\n\nA: b",  # an empty line
    b"Event-Name: X\nA: %4",  # a cut escape
    b"Event-Name: X\nA: %zz",  # not an escape
    b'Event-Name: X\nA: "quoted"',  # raw quote
    b"Event-Name: X\nA: back\\slash",  # raw backslash
    b"Event-Name: X\nA: \xe5\xbc\xa0",  # raw UTF-8
    b"Event-Name: X\nA: tab\there",  # a raw control character
    b"Event-Name: X\nno colon at all\nB: x: y",  # counts that would cancel out
    b"Event-Name: X\nvariable_a%41: 1",  # names are not URL-encoded: keep "%41" as is
    b"Event-Name: X\n::x",  # an empty name
])
def test_blocks_not_written_by_freeswitch_leave_the_json_path(head: bytes) -> None:
    assert _plain_headers_json(head) is None


def test_json_path_escapes_duplicates_and_utf8() -> None:
    head = (b"Event-Name: X\nA: %E5%BC%A0%20%41%3a%25%2541%22%5C%0A\nB: \nA: %ff\n"
            b"C: ARRAY%3A%3A1%7C%3A2\nA: last")
    headers, duplicates = _plain_headers_json(head) or ({}, None)
    assert headers == {"Event-Name": "X", "A": "last", "B": "", "C": "ARRAY::1|:2"}
    assert list(headers) == ["Event-Name", "A", "B", "C"]
    assert duplicates == {"A": ['\u5f20 A:%%41"\\\n', "\ufffd"]}
    assert (headers, duplicates) == _plain_headers_careful(head.decode())


block_pieces = st.lists(st.sampled_from(
    ["Event-Name", "A", "b", "-", ":", " ", ": ", "\n", "%", "%3A", "%20", "%0A", "%E5%BC%A0",
     "%e5", "%C3", "%ff", "%25", "%4", '"', "\\", "\t", "\u00e9", "ARRAY::", "::", "\nA: ",
     "\nA::"]), max_size=30)


@settings(max_examples=1000, deadline=None, derandomize=True)
@given(pieces=block_pieces)
def test_json_path_equals_the_careful_path_whenever_it_answers(pieces: list[str]) -> None:
    head = "".join(pieces).encode()
    decoded = _plain_headers_json(head)
    if decoded is not None:
        assert decoded == _plain_headers_careful(head.decode())
        assert list(decoded[0]) == list(_plain_headers_careful(head.decode())[0])


def test_from_plain_with_and_without_a_trailing_blank_line() -> None:
    with_body = Event.from_plain(b"Event-Name: X\nContent-Length: 4\n\nab\n\n")
    assert with_body.body == "ab\n\n"
    assert Event.from_plain(b"Event-Name: X\nA: 1\n\n") == Event({"Event-Name": "X", "A": "1"})
    # A blank line inside the block ends the headers; the rest is not headers.
    assert Event.from_plain(b"Event-Name: X\n\nA: 1\n\n") == Event({"Event-Name": "X"})


# -- properties ----------------------------------------------------------------------------------

names = st.text(
    st.characters(blacklist_characters="\n:", blacklist_categories=("Cs",)), min_size=1,
    max_size=20,
).filter(lambda n: n not in {"Event-Name", "Content-Length", "_body"} and n.strip(" ") == n)
values = st.text(max_size=40) | st.sampled_from(
    ["", "%41", "100% ", ": ", "a\nb", "\r\n\r\n", "ARRAY::a|:b", "张三", "+", "%", "%%", "\0"])


@st.composite
def arbitrary_events(draw: st.DrawFn) -> Event:
    headers = {"Event-Name": draw(values)}
    headers.update(draw(st.dictionaries(names, values, max_size=8)))
    body = draw(st.none() | st.text(max_size=60))
    if body is not None:
        headers["Content-Length"] = str(len(body.encode()))
    return Event(headers, body)


@settings(max_examples=150, deadline=None)
@given(event=arbitrary_events())
def test_round_trip_through_plain_and_json(event: Event) -> None:
    plain = Event.from_plain(event.to_plain())
    js = Event.from_json(event.to_json())
    assert plain == event
    assert js == event
    assert list(plain.headers) == list(event.headers)


escapes = st.builds(lambda b: f"%{b:02X}" if b % 2 else f"%{b:02x}", st.integers(0, 255))
quoted = st.lists(st.text(max_size=5) | escapes | st.just("%") | st.just("\\x41"),
                  max_size=12).map("".join)


@settings(max_examples=500, deadline=None)
@given(text=quoted)
def test_fast_url_decoding_equals_unquote(text: str) -> None:
    assert unquote_text(text) == unquote(text)


@settings(max_examples=300, deadline=1000, derandomize=True)
@given(blob=st.binary(max_size=2000))
def test_random_bytes_decode_or_raise_protocol_error(blob: bytes) -> None:
    for decode in (Event.from_plain, Event.from_json):
        with contextlib.suppress(ProtocolError):
            decode(blob)


def _event_bodies() -> list[tuple[str, bytes]]:
    out = []
    for name in ("inbound-plain.recv", "inbound-json.recv"):
        out += [(f.content_type, f.body) for f in frames(name)
                if f.content_type.startswith("text/event")][:40]
    return out


EVENT_BODIES = _event_bodies()


@settings(max_examples=300, deadline=1000, derandomize=True)
@given(data=st.data())
def test_mutated_real_events_decode_or_raise_protocol_error(data: st.DataObject) -> None:
    ctype, body = data.draw(st.sampled_from(EVENT_BODIES))
    raw = bytearray(body)
    for _ in range(data.draw(st.integers(1, 6))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        piece = data.draw(st.sampled_from(
            [b"\n", b"\n\n", b":", b": ", b"%", b"%0A", b"\xff", b'"', b"{", b"]", b"\x00"])
            | st.binary(min_size=1, max_size=3))
        if data.draw(st.booleans()):
            raw[pos:pos + len(piece)] = piece
        else:
            raw[pos:pos] = piece
    decode = Event.from_plain if ctype == "text/event-plain" else Event.from_json
    with contextlib.suppress(ProtocolError):
        decode(bytes(raw))


def test_event_accessors() -> None:
    event = Event.from_plain(
        b"Event-Name: CUSTOM\nEvent-Subclass: sofia%3A%3Aregister\nUnique-ID: u-1\n"
        b"Job-UUID: j-1\nApplication-UUID: a-1\nEvent-Sequence: 42\nvariable_cs_x: 1\n\n")
    assert (event.name, event.subclass, event.uuid) == ("CUSTOM", "sofia::register", "u-1")
    assert (event.job_uuid, event.application_uuid, event.sequence) == ("j-1", "a-1", 42)
    assert event.variable("cs_x") == "1"
    assert event.variable("missing", "d") == "d"
    assert "Unique-ID" in event
    assert len(event) == len(list(event)) == 7
    assert event.get("absent") is None
    assert repr(event) == "<Event CUSTOM u-1>"
    assert repr(Event({"Event-Name": "HEARTBEAT"})) == "<Event HEARTBEAT>"
    with pytest.raises(TypeError):
        hash(event)
    assert event != {"Event-Name": "CUSTOM"}
    # equality is about headers and body; duplicates are bookkeeping
    plain_x = Event({"Event-Name": "X"})
    assert Event({"Event-Name": "X"}, duplicates={"Event-Name": ["Y"]}) == plain_x
    assert Event({"Event-Name": "X"}, "b") != Event({"Event-Name": "X"})

"""The calls benchmark's wire timing (``benchmarks/calls/capture.py``) on hand-made captures:
which segments count as a key and as a media command, per connection, and what is refused."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from calls import capture

PORT = 8084  # serve's outbound socket

DTMF_JSON = (b'Content-Length: 40\nContent-Type: text/event-json\n\n'
             b'{"Event-Name":"DTMF","DTMF-Digit":"2"}')
DTMF_PLAIN = b"Content-Length: 30\nContent-Type: text/event-plain\n\nEvent-Name: DTMF\n\n"
COMPLETE = (b'Content-Length: 40\nContent-Type: text/event-json\n\n'
            b'{"Event-Name":"CHANNEL_EXECUTE_COMPLETE"}')
PLAYBACK = b"sendmsg\ncall-command: execute\nexecute-app-name: playback\n\n"
SET_THEN_PLAYBACK = (b"sendmsg\ncall-command: execute\nexecute-app-name: set\n"
                     b"execute-app-arg: playback_terminators=none\n\n" + PLAYBACK)
ANSWER = b"sendmsg\ncall-command: execute\nexecute-app-name: answer\n\n"


SYN = b"<SYN>"  # stands for a SYN segment (no data) in _pcap's lists


def _packet(sport: int, dport: int, payload: bytes) -> bytes:
    flags = 0x18  # PSH, ACK
    if payload == SYN:
        flags, payload = 0x02, b""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 0, 0, 5 << 4, flags, 65535, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 0, 0, 64, 6, 0,
                     b"\x7f\x00\x00\x01", b"\x7f\x00\x00\x01")
    return b"\x00" * 12 + b"\x08\x00" + ip + tcp + payload  # Ethernet, as tcpdump on lo


def _pcap(path: Path, segments: list[tuple[float, int, int, bytes]]) -> Path:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for t, sport, dport, payload in segments:
        pkt = _packet(sport, dport, payload)
        out.append(struct.pack("<IIII", int(t), round((t % 1) * 1e6), len(pkt), len(pkt)) + pkt)
    path.write_bytes(b"".join(out))
    return path


CONNECT = b"connect\n\nmyevents json\n\nlinger 10\n\n"


def test_a_key_is_timed_to_the_next_media_command_of_its_own_call(tmp_path: Path) -> None:
    pcap = _pcap(tmp_path / "c.pcap", [
        (9.990, PORT, 40001, CONNECT),
        (9.991, PORT, 40002, CONNECT),
        (9.992, PORT, 40003, CONNECT),
        (10.000, 40001, PORT, DTMF_JSON + COMPLETE),   # call A: a key (with the prompt's end)
        (10.001, 40002, PORT, DTMF_PLAIN),             # call B: a key, plain events
        (10.002, PORT, 40002, ANSWER),                 # B: not a media command
        (10.004, PORT, 40001, PLAYBACK),               # A: 4 ms after its key
        (10.010, PORT, 40002, SET_THEN_PLAYBACK),      # B: playback behind a set, 9 ms
        (10.020, PORT, 40001, PLAYBACK),               # A again, no key before it: not timed
        (10.030, 40003, PORT, COMPLETE),               # call C: no key at all
    ])
    timing = capture.read_timing(pcap, PORT)
    assert [round(x * 1e3, 3) for x in timing.latencies] == [4.0, 9.0]
    assert (timing.dtmf_segments, timing.media_segments, timing.connections) == (2, 3, 3)


def test_a_key_left_by_an_earlier_call_on_the_same_port_does_not_count(
        tmp_path: Path) -> None:
    pcap = _pcap(tmp_path / "c.pcap", [
        (1.000, PORT, 40001, CONNECT),
        (1.500, 40001, PORT, DTMF_JSON),   # the caller pressed a key and hung up
        (9.000, PORT, 40001, CONNECT),     # a later call on the same port number
        (9.010, PORT, 40001, PLAYBACK),    # its greeting: no key before it
    ])
    timing = capture.read_timing(pcap, PORT)
    assert (timing.latencies, timing.connections) == ([], 2)


CONNECT_REPLY = b"Content-Type: command/reply\nReply-Text: +OK\nUnique-ID: u1\n\n"
OK = b"Content-Type: command/reply\nReply-Text: +OK\n\n"


def test_setup_is_timed_from_the_syn_with_serves_own_part(tmp_path: Path) -> None:
    pcap = _pcap(tmp_path / "c.pcap", [
        (5.000, 40001, PORT, SYN),
        (5.002, PORT, 40001, CONNECT),           # serve: accepted in 2 ms
        (5.012, 40001, PORT, CONNECT_REPLY),     # the switch took 10 ms to reply
        (5.013, 40001, PORT, OK),                # serve's time counts from the first
        (5.015, PORT, 40001, ANSWER),            # serve: 3 ms
        (5.030, 40001, PORT, OK + COMPLETE),     # the switch answered in 15 ms
        (5.031, PORT, 40001, SET_THEN_PLAYBACK), # serve: 1 ms, and its first media command
        (5.040, PORT, 40001, PLAYBACK),          # later prompts are not the setup
    ])
    timing = capture.read_timing(pcap, PORT)
    assert [round(x * 1e3, 3) for x in timing.setups] == [31.0]
    assert [round(x * 1e3, 3) for x in timing.serve_setups] == [6.0]


def test_without_its_syn_a_setup_starts_at_the_connect(tmp_path: Path) -> None:
    pcap = _pcap(tmp_path / "c.pcap", [
        (2.000, PORT, 40002, CONNECT),           # the SYN was not captured
        (2.004, 40002, PORT, CONNECT_REPLY),
        (2.005, PORT, 40002, ANSWER),            # serve: 1 ms
        (2.007, PORT, 40002, PLAYBACK),          # two writes in a row: both serve's time
        (2.100, 40003, PORT, SYN),
        (2.101, PORT, 40003, CONNECT),
        (2.110, 40003, PORT, b"Content-Type: text/disconnect-notice\n\n"),  # gone at once
    ])
    timing = capture.read_timing(pcap, PORT)
    assert [round(x * 1e3, 3) for x in timing.setups] == [7.0]
    assert [round(x * 1e3, 3) for x in timing.serve_setups] == [3.0]
    assert timing.connections == 2  # the call that never got a prompt has no setup


def test_the_latest_key_before_the_command_counts(tmp_path: Path) -> None:
    pcap = _pcap(tmp_path / "c.pcap", [
        (1.000, 40001, PORT, DTMF_JSON),
        (1.050, 40001, PORT, DTMF_JSON),
        (1.052, PORT, 40001, PLAYBACK),
    ])
    assert [round(x * 1e3, 3) for x in capture.read_timing(pcap, PORT).latencies] == [2.0]


def test_what_is_not_a_capture_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"not a capture at all, but long enough")
    with pytest.raises(capture.CaptureError, match="not a pcap file"):
        capture.read_timing(bad, PORT)


def test_tcpdumps_drop_count_is_read() -> None:
    said = ("tcpdump: listening on lo, link-type EN10MB (Ethernet), snapshot length 1024 bytes\n"
            "109944 packets captured\n220000 packets received by filter\n"
            "17 packets dropped by kernel\n")
    assert capture.dropped(said) == 17
    assert capture.dropped("") == 0

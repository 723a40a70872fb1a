"""DTMF → next media command timed on the wire, by a packet capture on loopback.

``tcpdump`` records the start of every data segment to and from serve's outbound-socket port
(kernel timestamps, taken as each segment is sent). :func:`dtmf_to_media` then reads the
capture: on each call's connection, from the segment that carries a ``DTMF`` event (switch →
serve) to the next segment that carries a ``sendmsg`` executing a media application (serve →
switch). Neither process is asked for anything, so the figure holds no delay of the simulated
switch in reading its sockets — a real FreeSWITCH reads each outbound socket on a thread of its
own — only what the controller takes, and loopback.

The same capture times each call's **setup** on the wire, from the switch's ``SYN`` to serve's
first media command, and **serve's own part of it**: the accept (``SYN`` → serve's ``connect``)
plus, for each later command of serve's until the first media one, the time from the first
segment the switch sent after serve's previous write. What is left is the switch's (replying to
``connect``, answering): so a slow setup shows which side it waited on.

The capture needs ``tcpdump`` and the right to capture (root, or ``CAP_NET_RAW``): Debian's
``tcpdump`` package. Without it the benchmark keeps its switch-side figure alone.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import struct
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

#: Bytes kept of each segment (link, IP and TCP headers included): the event's name and the
#: command's application are near the start of what each write sends.
SNAPLEN = 1024

DTMF_MARK = b'"Event-Name":"DTMF"'
DTMF_MARK_PLAIN = b"Event-Name: DTMF\n"
MEDIA_MARKS = tuple(b"execute-app-name: " + app.encode() + b"\n"
                    for app in ("playback", "speak", "play_and_get_digits", "read", "record"))

_LINK_HEADER = {1: 14, 113: 16, 276: 20, 0: 4, 12: 0, 101: 0}  # Ethernet, SLL, SLL2, null, raw


class CaptureError(RuntimeError):
    """The capture could not be started or read."""


@dataclass
class Capture:
    """A running ``tcpdump`` writing to ``path``."""

    proc: subprocess.Popen[bytes]
    path: Path
    stderr: str = ""

    def stop(self, drain: float = 1.5) -> str:
        """Stop it; returns what it said (its counts). tcpdump gets packets from the kernel in
        blocks that are handed over when full or 1 s after their first packet (libpcap's
        TPACKET_V3 ring and tcpdump's buffer timeout), and a block not yet handed over when it
        is told to stop is lost: so it is given ``drain`` seconds first. (``--immediate-mode``
        would hand each packet over at once, at ~10 % of a core during a 250 calls/s run,
        against under 1 % this way.) What the capture missed shows in the key count, which the
        benchmark checks."""
        if self.proc.poll() is None:
            time.sleep(drain)
            self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        self.stderr = err.decode(errors="replace")
        return self.stderr


def tcpdump_path() -> str | None:
    return shutil.which("tcpdump") or next(
        (p for p in ("/usr/sbin/tcpdump", "/usr/bin/tcpdump") if Path(p).exists()), None)


def start(port: int, path: Path, *, ready_timeout: float = 10.0) -> Capture:
    """Capture the data segments of TCP port ``port`` on loopback into ``path``; returns once
    tcpdump listens (it says so on stderr)."""
    exe = tcpdump_path()
    if exe is None:
        raise CaptureError("tcpdump is not installed (apt-get install tcpdump)")
    # segments with data (total length - IP header - TCP header > 0), and the switch's SYNs
    expr = (f"tcp port {port} and "
            "((((ip[2:2] - ((ip[0]&0xf)<<2)) - ((tcp[12]&0xf0)>>2)) != 0) or "
            f"(dst port {port} and (tcp[13] & 0x12) == 0x02))")
    proc = subprocess.Popen(
        [exe, "-i", "lo", "-n", "-s", str(SNAPLEN), "-B", "32768", "-w", str(path), expr],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    # tcpdump says "listening on lo, ..." once its socket and filter are in place
    said = b""
    deadline = time.monotonic() + ready_timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stderr, selectors.EVENT_READ)
        while b"listening on" not in said:
            left = deadline - time.monotonic()
            if left <= 0 or proc.poll() is not None:
                proc.kill()
                _, rest = proc.communicate()
                text = (said + rest).decode(errors="replace").strip()
                raise CaptureError(f"tcpdump did not start: {text or 'no output'}")
            if sel.select(left):
                said += os.read(proc.stderr.fileno(), 4096)
    return Capture(proc, path)


SYN, ACK = 0x02, 0x10


@dataclass
class Segment:
    t: float  # seconds (capture clock)
    sport: int
    dport: int
    data: bytes
    flags: int  # the TCP flags byte

    @property
    def syn(self) -> bool:
        """The opening of a connection (a SYN without ACK)."""
        return self.flags & (SYN | ACK) == SYN


def segments(path: Path) -> Iterator[Segment]:
    """The TCP segments of a pcap file (IPv4, any link type tcpdump uses on ``lo``)."""
    raw = path.read_bytes()
    if len(raw) < 24:
        return
    magic = raw[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise CaptureError(f"{path}: not a pcap file")
    scale = 1e-9 if magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 1e-6
    linktype = struct.unpack(endian + "I", raw[20:24])[0]
    link = _LINK_HEADER.get(linktype)
    if link is None:
        raise CaptureError(f"{path}: link type {linktype} not understood")
    record = struct.Struct(endian + "IIII")
    pos = 24
    while pos + 16 <= len(raw):
        sec, frac, caplen, _ = record.unpack_from(raw, pos)
        pos += 16
        pkt = raw[pos:pos + caplen]
        pos += caplen
        ip = pkt[link:]
        if len(ip) < 20 or ip[0] >> 4 != 4:
            continue
        ihl = (ip[0] & 0xF) * 4
        tcp = ip[ihl:]
        if len(tcp) < 20:
            continue
        sport, dport = struct.unpack_from("!HH", tcp)
        off = (tcp[12] >> 4) * 4
        yield Segment(sec + frac * scale, sport, dport, bytes(tcp[off:]), tcp[13])


@dataclass
class WireTiming:
    """What the capture shows: one latency per key whose media command followed, and the setup
    of each call that reached its first media command."""

    latencies: list[float] = field(default_factory=list)  # seconds
    dtmf_segments: int = 0
    media_segments: int = 0
    connections: int = 0
    setups: list[float] = field(default_factory=list)  # SYN → first media command, seconds
    serve_setups: list[float] = field(default_factory=list)  # serve's part of each


@dataclass
class _Setup:
    """One call's setup while serve has not sent its first media command."""

    start: float  # the SYN, or serve's connect when the SYN was not captured
    serve: float  # serve's part so far
    last_write: float  # serve's latest segment
    answered: float | None = None  # the switch's first segment after it


def dropped(said: str) -> int:
    """Packets tcpdump says the kernel dropped (its closing counts), 0 if it does not say."""
    for line in said.splitlines():
        words = line.split()
        if "dropped by kernel" in line and words and words[0].isdigit():
            return int(words[0])
    return 0


def read_timing(path: Path, port: int) -> WireTiming:
    """Per connection to ``port``: the time from a segment carrying a DTMF event to the next
    segment carrying a media ``sendmsg`` (the latest key before it, as the switch-side figure
    counts), and the setup and serve's part of it (module docstring). A connection starts at
    the switch's SYN and serve's ``connect``: the switch's port number may have served an
    earlier call, whose last key must not count."""
    out = WireTiming()
    key_at: dict[int, float] = {}
    syn_at: dict[int, float] = {}
    setting_up: dict[int, _Setup] = {}
    for seg in segments(path):
        if seg.dport == port:  # switch → serve: events and replies
            if seg.syn:
                syn_at[seg.sport] = seg.t
                continue
            setup = setting_up.get(seg.sport)
            if setup is not None and setup.answered is None:
                setup.answered = seg.t
            if DTMF_MARK in seg.data or DTMF_MARK_PLAIN in seg.data:
                out.dtmf_segments += 1
                key_at[seg.sport] = seg.t
        elif seg.sport == port:  # serve → switch: commands
            if seg.data.startswith(b"connect\n"):
                out.connections += 1
                key_at.pop(seg.dport, None)
                syn = syn_at.pop(seg.dport, None)
                setting_up[seg.dport] = (_Setup(seg.t, 0.0, seg.t) if syn is None
                                         else _Setup(syn, seg.t - syn, seg.t))
                continue
            setup = setting_up.get(seg.dport)
            if setup is not None:
                setup.serve += seg.t - (setup.last_write if setup.answered is None
                                         else setup.answered)
                setup.last_write, setup.answered = seg.t, None
            if any(mark in seg.data for mark in MEDIA_MARKS):
                out.media_segments += 1
                if setup is not None:
                    del setting_up[seg.dport]
                    out.setups.append(seg.t - setup.start)
                    out.serve_setups.append(setup.serve)
                pressed = key_at.pop(seg.dport, None)
                if pressed is not None:
                    out.latencies.append(seg.t - pressed)
    return out

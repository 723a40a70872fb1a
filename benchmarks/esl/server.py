"""Replay server: one connection, speaks mod_event_socket's handshake, then replays a stream.

Usage: ``python server.py --stream plain.stream --index plain.index --rate 0`` (``--rate 0``:
as fast as the socket takes the bytes; ``--rate 5000``: event *i* is scheduled at
``t0 + i / rate``). It binds 127.0.0.1 on an ephemeral port and prints ``PORT <n>``; after the
connection ends it prints one JSON line: ``t_start`` (``time.monotonic()`` when streaming began —
CLOCK_MONOTONIC is shared by all processes on Linux), ``t_done`` (last event byte handed to the
kernel), the rate and the number of events sent.

The handshake is what a real switch does: ``Content-Type: auth/request``; ``auth <pw>`` →
``+OK accepted``; ``event[s] plain|json ...`` → ``+OK event listener enabled <fmt>`` and the
stream starts; ``api show channels as json`` → an ``api/response`` with ``{"row_count":0}``
(coreswitch's client reconciles on connect); other ``api`` → ``+OK``; ``exit`` → ``+OK bye`` and
a disconnect notice; anything else → ``command/reply +OK``. Replies are queued on frame borders,
interleaved with the events exactly like a switch that answers commands while it streams.
"""

from __future__ import annotations

import argparse
import array
import json
import selectors
import socket
import sys
import time

CHUNK = 256 * 1024  # bytes of whole frames queued at a time in throughput mode
SEND_MAX = 1024 * 1024


def reply(text: str) -> bytes:
    return f"Content-Type: command/reply\nReply-Text: {text}\n\n".encode()


def api_response(body: str) -> bytes:
    data = body.encode()
    return b"Content-Type: api/response\nContent-Length: %d\n\n" % len(data) + data


DISCONNECT = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


def answer(command: str) -> tuple[bytes, str | None]:
    """The switch's reply to one command, and what it starts (``stream``) or ends (``exit``)."""
    words = command.split()
    verb = words[0] if words else ""
    if verb == "auth":
        return reply("+OK accepted"), None
    if verb in ("event", "events") and len(words) > 1:
        return reply(f"+OK event listener enabled {words[1]}"), "stream"
    if verb == "api":
        if " ".join(words[1:]) == "show channels as json":
            return api_response('{"row_count":0}'), None
        return api_response("+OK"), None
    if verb == "exit":
        notice = (b"Content-Type: text/disconnect-notice\nContent-Length: %d\n\n"
                  % len(DISCONNECT) + DISCONNECT)
        return reply("+OK bye") + notice, "exit"
    return reply("+OK"), None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stream", required=True)
    parser.add_argument("--index", required=True)
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--accept-timeout", type=float, default=60.0)
    parser.add_argument("--queued", help="paced mode: write each frame's queue time (float64)")
    args = parser.parse_args(argv)
    with open(args.stream, "rb") as fh:
        stream = fh.read()
    ends = array.array("q")
    with open(args.index, "rb") as fh:
        ends.frombytes(fh.read())
    total = len(ends)
    rate = args.rate

    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(args.accept_timeout)
    print(f"PORT {listener.getsockname()[1]}", flush=True)
    conn, _ = listener.accept()
    listener.close()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(conn, selectors.EVENT_READ)

    out = bytearray(b"Content-Type: auth/request\n\n")
    inbuf = b""
    streaming = False
    closing = False
    t_start = 0.0
    t_done = 0.0
    sent = 0  # frames queued into ``out`` so far
    pos = 0  # stream offset of the next frame to queue
    writing = False
    # Paced mode: when each frame was queued for sending (>= its scheduled time; later only when
    # this process itself was late, e.g. not scheduled on a busy machine).
    queued = array.array("d", bytes(8 * total)) if rate > 0 else None
    while True:
        now = time.monotonic()
        if streaming and sent < total and not closing:
            if rate > 0:
                due = min(total, int((now - t_start) * rate) + 1)
            else:
                due = sent
                if len(out) < CHUNK:
                    limit = pos + CHUNK
                    while due < total and ends[due] <= limit:
                        due += 1
                    due = max(due, sent + 1)
            if due > sent:
                if queued is not None:
                    for i in range(sent, due):
                        queued[i] = now
                end = ends[due - 1]
                out += stream[pos:end]
                pos = end
                sent = due
        want_write = bool(out)
        if want_write != writing:
            sel.modify(conn, selectors.EVENT_READ | (selectors.EVENT_WRITE if want_write else 0))
            writing = want_write
        if closing and not out:
            break
        timeout = None
        if streaming and sent < total and not closing:
            timeout = 0.0 if rate <= 0 else max(0.0, t_start + sent / rate - time.monotonic())
            if rate <= 0 and out:
                timeout = None  # wait until the socket takes more
        for _key, mask in sel.select(timeout):
            if mask & selectors.EVENT_READ:
                try:
                    data = conn.recv(65536)
                except (BlockingIOError, InterruptedError):
                    data = None
                except OSError:
                    data = b""
                if data == b"":
                    closing = True
                    out.clear()
                    break
                if data:
                    inbuf += data
                    while b"\n\n" in inbuf:
                        command, inbuf = inbuf.split(b"\n\n", 1)
                        text, action = answer(command.decode("utf-8", "replace").strip())
                        out += text
                        if action == "stream" and not streaming:
                            streaming = True
                            t_start = time.monotonic()
                        elif action == "exit":
                            closing = True
            if mask & selectors.EVENT_WRITE and out:
                try:
                    n = conn.send(memoryview(out)[:SEND_MAX])
                except (BlockingIOError, InterruptedError):
                    n = 0
                except OSError:
                    closing = True
                    out.clear()
                    break
                del out[:n]
                if sent == total and not t_done and streaming and not out:
                    t_done = time.monotonic()
    conn.close()
    if queued is not None and args.queued:
        with open(args.queued, "wb") as fh:
            queued.tofile(fh)
    print(json.dumps({"t_start": t_start, "t_done": t_done, "rate": rate, "sent": sent,
                      "total": total}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

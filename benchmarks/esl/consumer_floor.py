"""The framing floor: coreswitch's ``FrameParser`` over the same bytes, decoding nothing.

A blocking socket does the handshake (``auth``, ``event <fmt> ALL``) and then only splits frames
and counts event frames: no event decoding, no dispatch, no handler. This bounds what any client
built on this framing could do on this machine.
"""

from __future__ import annotations

import json
import socket
import sys
import time

from benchcommon import PASSWORD, consumer_args

from coreswitch.esl.frame import FrameParser


def main(argv: list[str] | None = None) -> int:
    args = consumer_args(argv)
    sock = socket.create_connection(("127.0.0.1", args.port))
    parser = FrameParser()
    events = 0
    expected = args.events
    recv = sock.recv
    feed = parser.feed
    t_last = 0.0
    while events < expected:
        data = recv(262144)
        if not data:
            break
        for frame in feed(data):
            ctype = frame.headers.get("Content-Type", "")
            if ctype.startswith("text/event-"):
                events += 1
            elif ctype == "auth/request":
                sock.sendall(f"auth {PASSWORD}\n\n".encode())
            elif ctype == "command/reply" and frame.headers.get("Reply-Text") == "+OK accepted":
                sock.sendall(f"event {args.fmt} ALL\n\n".encode())
        if events >= expected:
            t_last = time.monotonic()
    sock.close()
    print(json.dumps({"count": events, "t_last": t_last}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

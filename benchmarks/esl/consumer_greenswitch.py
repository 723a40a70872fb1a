"""greenswitch's consumer: ``greenswitch.InboundESL`` (gevent) with a ``register_handle("*")``.

greenswitch only speaks ``text/event-plain`` (it has no JSON decoding), so it runs in plain only.
Normalisation of its ``ESLEvent.headers``: the outer frame's ``Content-Type: text/event-plain`` and
the outer ``Content-Length`` (a bare number) are merged into the headers by greenswitch → dropped.
greenswitch has no event body: it parses the body text as more header lines, so a body ends up
appended to the last header's value (``Content-Length: 41\\n\\n+OK ...``); that is kept as is —
it is a decoding error, not a representation difference.
"""

from __future__ import annotations

import logging
import sys
import time

import gevent
from benchcommon import DEADLINE, IDLE_TIMEOUT, PASSWORD, Recorder, consumer_args
from greenswitch import InboundESL


def normalise(headers: dict[str, str]) -> dict[str, str]:
    if headers.get("Content-Type") == "text/event-plain":
        del headers["Content-Type"]
    length = headers.get("Content-Length")
    if length is not None and length.isdigit():
        del headers["Content-Length"]
    return headers


def main(argv: list[str] | None = None) -> int:
    args = consumer_args(argv)
    if args.fmt != "plain":
        print("greenswitch decodes text/event-plain only", file=sys.stderr)
        return 3
    logging.getLogger().setLevel(logging.ERROR)
    rec = Recorder(args.events, args.mode == "paced")
    fold = rec.make_fold()
    finished = []

    def handler(event: object) -> None:
        headers = event.headers  # type: ignore[attr-defined]
        if headers.get("Content-Type") != "text/event-plain":
            return  # the '*' handler also gets the disconnect notice
        if fold(normalise(headers), None):
            finished.append(True)

    esl = InboundESL("127.0.0.1", args.port, PASSWORD)
    esl.connect()
    esl.register_handle("*", handler)
    esl.send(f"event {args.fmt} ALL")
    start = time.monotonic()
    last_count, last_change = -1, start
    while not finished:
        gevent.sleep(0.1)
        now = time.monotonic()
        if rec.count != last_count:
            last_count, last_change = rec.count, now
        elif now - last_change > IDLE_TIMEOUT or now - start > DEADLINE:
            break
    esl.stop()
    rec.write(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

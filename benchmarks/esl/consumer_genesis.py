"""Genesis's consumer: its inbound client ``genesis.Inbound`` with an ``on("*", handler)`` handler.

``Inbound`` authenticates; the consumer sends ``events plain ALL`` as ``genesis.Consumer.start``
does (``Consumer`` itself is not used: it would also send ``filter Event-Subclass *`` for a ``*``
handler, which a real switch would honour by filtering nearly everything out). Genesis only decodes
``text/event-plain`` (a JSON event reaches handlers as undecoded text in ``event.body``), so it
runs in plain only. The handler is a coroutine function, Genesis's idiom (a plain function would
be run in a thread per event).
Normalisation of its ``ESLEvent`` (a ``UserDict``): a header sent twice becomes a list in Genesis
→ its last value; the outer frame's ``Content-Type: text/event-plain`` and, for events without a
body, the outer ``Content-Length`` are merged into the event's headers by Genesis → dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time

from benchcommon import DEADLINE, IDLE_TIMEOUT, PASSWORD, Recorder, consumer_args
from genesis import Inbound


def normalise(data: dict[str, object], body: str | None) -> dict[str, str]:
    headers = data
    if list in set(map(type, data.values())):  # a repeated header: Genesis made a list
        headers = {k: (v[-1] if v.__class__ is list else v) for k, v in data.items()}
    if headers.get("Content-Type") == "text/event-plain":
        del headers["Content-Type"]
    if body is None:
        headers.pop("Content-Length", None)
    return headers  # type: ignore[return-value]


async def run(argv: list[str] | None = None) -> int:
    args = consumer_args(argv)
    if args.fmt != "plain":
        print("genesis decodes text/event-plain only", file=sys.stderr)
        return 3
    logging.getLogger("genesis").setLevel(logging.WARNING)
    rec = Recorder(args.events, args.mode == "paced")
    fold = rec.make_fold()
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    client = Inbound("127.0.0.1", args.port, PASSWORD)

    async def handler(event: object) -> None:
        body = event.body  # type: ignore[attr-defined]
        if fold(normalise(event.data, body), body) and not done.done():  # type: ignore[attr-defined]
            done.set_result(None)

    client.on("*", handler)
    await client.start()
    await client.send("events plain ALL")
    start = time.monotonic()
    last_count, last_change = -1, start
    while not done.done() and client.is_connected:
        await asyncio.wait([done], timeout=0.5)
        now = time.monotonic()
        if rec.count != last_count:
            last_count, last_change = rec.count, now
        elif now - last_change > IDLE_TIMEOUT or now - start > DEADLINE:
            break
    with contextlib.suppress(Exception):
        await client.stop()
    rec.write(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(run()))

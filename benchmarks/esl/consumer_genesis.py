"""Genesis's consumer: ``genesis.Consumer`` with an ``@consumer.handle("*")`` handler.

Genesis only speaks ``text/event-plain`` (``Consumer.start`` sends ``events plain ALL``; a JSON
event reaches handlers as undecoded text in ``event.body``), so it runs in plain only.
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
from genesis import Consumer


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
    consumer = Consumer("127.0.0.1", args.port, PASSWORD)

    @consumer.handle("*")
    async def handler(event: object) -> None:
        body = event.body  # type: ignore[attr-defined]
        if fold(normalise(event.data, body), body) and not done.done():  # type: ignore[attr-defined]
            done.set_result(None)

    task = loop.create_task(consumer.start())
    start = time.monotonic()
    last_count, last_change = -1, start
    while not done.done():
        await asyncio.wait([done, task], timeout=0.5, return_when=asyncio.FIRST_COMPLETED)
        now = time.monotonic()
        if task.done() and not done.done():
            break
        if rec.count != last_count:
            last_count, last_change = rec.count, now
        elif now - last_change > IDLE_TIMEOUT or now - start > DEADLINE:
            break
    with contextlib.suppress(Exception):
        await consumer.stop()
    task.cancel()
    with contextlib.suppress(BaseException):
        await task
    rec.write(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(run()))

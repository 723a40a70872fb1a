"""coreswitch's consumer: the real client path, ``InboundClient`` + ``client.subscribe(handler)``.

The client authenticates, subscribes with ``event <fmt> ALL`` and reconciles with
``api show channels as json``; its dispatcher decodes each frame to an ``Event`` and delivers it
in the channel's lane to the handler, which folds it into the correctness digest. coreswitch's
``Event.headers`` is already the normal form (last value of a repeated header, ``ARRAY::`` form
for JSON arrays, ``Event.body``), so nothing is normalised.
"""

from __future__ import annotations

import asyncio
import sys
import time

from benchcommon import DEADLINE, IDLE_TIMEOUT, PASSWORD, Recorder, consumer_args

from coreswitch.esl import Event, InboundClient


async def run(argv: list[str] | None = None) -> int:
    args = consumer_args(argv)
    rec = Recorder(args.events, args.mode == "paced")
    fold = rec.make_fold()
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def handler(event: Event) -> None:
        if fold(event.headers, event.body) and not done.done():
            done.set_result(None)

    client = InboundClient("127.0.0.1", args.port, PASSWORD, event_format=args.fmt,
                           reconnect=False)
    client.subscribe(handler)
    await client.start()
    start = time.monotonic()
    last_count, last_change = -1, start
    while not done.done():
        await asyncio.wait([done], timeout=0.5)
        now = time.monotonic()
        if rec.count != last_count:
            last_count, last_change = rec.count, now
        elif now - last_change > IDLE_TIMEOUT or now - start > DEADLINE:
            break
    await client.close()
    rec.write(args.out, decode_errors=client.dispatcher.decode_errors,
              handler_errors=client.dispatcher.handler_errors)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(run()))

"""The virtual-time loop: long waits cost nothing, order is kept, threads freeze the clock."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from coreswitch.runtime.virtual_time import VirtualTimeLoop, run


def test_an_hour_of_waiting_takes_no_real_time() -> None:
    async def main() -> float:
        await asyncio.sleep(3600)
        return asyncio.get_running_loop().time()

    started = time.perf_counter()
    assert run(main()) == pytest.approx(3600)
    assert time.perf_counter() - started < 5  # bound only: virtual time must not be real time


def test_timeouts_fire_at_their_virtual_deadline_in_order() -> None:
    fired: list[tuple[str, float]] = []

    async def wait(name: str, delay: float) -> None:
        await asyncio.sleep(delay)
        fired.append((name, asyncio.get_running_loop().time()))

    async def main() -> None:
        await asyncio.gather(wait("c", 12.0), wait("a", 4.0), wait("b", 4.5))

    run(main())
    assert fired == [("a", 4.0), ("b", 4.5), ("c", 12.0)]


def test_wait_for_times_out_on_the_virtual_clock() -> None:
    async def main() -> float:
        loop = asyncio.get_running_loop()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.Event().wait(), 30)
        return loop.time()

    assert run(main()) == pytest.approx(30)


def test_worker_threads_freeze_the_clock_until_they_finish() -> None:
    release = threading.Event()

    def work() -> str:
        release.wait(10)
        return "done"

    async def main() -> tuple[str, bool, float]:
        loop = asyncio.get_running_loop()
        job = asyncio.ensure_future(asyncio.to_thread(work))
        timer = asyncio.ensure_future(asyncio.sleep(5))
        await asyncio.sleep(0)
        # The thread is busy: the 5 s timer must not fire before it finishes.
        threading.Timer(0.05, release.set).start()
        result = await job
        return result, timer.done(), loop.time()

    result, timer_done, now = run(main())
    assert result == "done"
    assert not timer_done
    assert now < 5


def test_real_sockets_still_work_on_the_virtual_loop() -> None:
    async def main() -> bytes:
        async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(await reader.readline())
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"ping\n")
        line = await reader.readline()
        writer.close()
        server.close()
        await server.wait_closed()
        return line

    assert run(main()) == b"ping\n"


def test_loop_is_a_selector_event_loop() -> None:
    loop = VirtualTimeLoop()
    try:
        assert isinstance(loop, asyncio.SelectorEventLoop)
        assert loop.time() == 0
    finally:
        loop.close()

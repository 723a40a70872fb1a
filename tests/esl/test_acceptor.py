"""The outbound socket's acceptor: a burst of connections (calls placed at once) is taken in a
turn or two of the event loop, on uvloop as on asyncio's loop, not one connection per turn."""

from __future__ import annotations

import asyncio
import errno
import socket

import pytest
import uvloop

from coreswitch.esl.acceptor import Acceptor


class _Made(asyncio.Protocol):
    def __init__(self, made: list[int], turn: list[int]) -> None:
        self.made, self.turn = made, turn

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.made.append(self.turn[0])
        transport.close()


async def _burst(calls: int) -> list[int]:
    """The loop turn in which each of ``calls`` connections, all waiting at once, was made."""
    loop = asyncio.get_running_loop()
    made: list[int] = []
    turn = [0]
    acceptor = Acceptor(lambda: _Made(made, turn), backlog=128)
    await acceptor.start("127.0.0.1", 0)
    # Connected in the kernel (the handshake needs no accept), all before the loop runs again.
    clients = [socket.create_connection(("127.0.0.1", acceptor.port)) for _ in range(calls)]
    done = loop.create_future()

    def tick() -> None:  # counts the loop's turns from here
        turn[0] += 1
        if len(made) >= calls:
            done.set_result(None)
        else:
            loop.call_soon(tick)

    loop.call_soon(tick)
    try:
        await asyncio.wait_for(done, 10)
    finally:
        for client in clients:
            client.close()
        await acceptor.close()
    return made


@pytest.mark.parametrize("loop_factory", [None, uvloop.new_event_loop], ids=["asyncio", "uvloop"])
def test_a_burst_of_connections_is_taken_at_once(loop_factory: object) -> None:
    with asyncio.Runner(loop_factory=loop_factory) as runner:  # type: ignore[arg-type]
        made = runner.run(_burst(20))
    assert len(made) == 20
    # loop.create_server on uvloop takes one connection per turn: the 20th in turn 20 or so
    assert max(made) <= 3, made


async def test_a_closed_acceptor_takes_no_more_connections() -> None:
    acceptor = Acceptor(asyncio.Protocol, backlog=8)
    await acceptor.start("127.0.0.1", 0)
    port = acceptor.port
    await acceptor.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


async def test_localhost_is_listened_on_at_each_of_its_addresses() -> None:
    # As loop.create_server: a switch configured with 127.0.0.1 or ::1 reaches it either way.
    made = asyncio.Queue[None]()

    class Made(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            made.put_nowait(None)
            transport.close()

    acceptor = Acceptor(Made, backlog=8)
    await acceptor.start("localhost", 0)
    try:
        families = {sock.family for sock in acceptor._socks}
        expected = {info[0] for info in socket.getaddrinfo("localhost", 0,
                                                           type=socket.SOCK_STREAM)}
        assert families == expected
        assert len({sock.getsockname()[1] for sock in acceptor._socks}) == 1  # one port
        for sock in acceptor._socks:
            _, writer = await asyncio.open_connection(sock.getsockname()[0], acceptor.port)
            await asyncio.wait_for(made.get(), 5)
            writer.close()
    finally:
        await acceptor.close()


async def test_out_of_file_descriptors_pauses_accepting_and_says_so(
        caplog: pytest.LogCaptureFixture) -> None:
    acceptor = Acceptor(asyncio.Protocol, backlog=8)
    await acceptor.start("127.0.0.1", 0)
    real = acceptor._socks[0]

    class Exhausted:  # the listening socket, in a process with no descriptor left
        def fileno(self) -> int:
            return real.fileno()

        def accept(self) -> tuple[socket.socket, object]:
            raise OSError(errno.EMFILE, "Too many open files")

    exhausted = Exhausted()
    acceptor._socks = [exhausted]  # type: ignore[list-item]
    try:
        acceptor._accept_all(exhausted)  # type: ignore[arg-type]
        assert "cannot accept a connection" in caplog.text
        assert "trying again in 1 s" in caplog.text
        assert acceptor._retry is not None  # not spinning on a readable socket meanwhile
    finally:
        acceptor._socks = [real]
        await acceptor.close()
    assert acceptor._retry is None


async def test_a_port_in_use_is_named_in_the_error() -> None:
    first = Acceptor(asyncio.Protocol, backlog=8)
    await first.start("127.0.0.1", 0)
    try:
        second = Acceptor(asyncio.Protocol, backlog=8)
        with pytest.raises(OSError, match=rf"cannot listen on 127\.0\.0\.1 port {first.port}: "
                                          r"Address already in use") as info:
            await second.start("127.0.0.1", first.port)
        assert info.value.errno == errno.EADDRINUSE
        assert not second._socks
    finally:
        await first.close()

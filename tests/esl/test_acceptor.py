"""The outbound socket's acceptor: a burst of connections (calls placed at once) is taken in a
turn or two of the event loop, on uvloop as on asyncio's loop, not one connection per turn."""

from __future__ import annotations

import asyncio
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

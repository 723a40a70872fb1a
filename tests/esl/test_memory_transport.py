"""The in-memory transport pair carries ESL exactly as TCP would."""

from __future__ import annotations

import asyncio

from coreswitch.esl.memory import connect_pair


class _Recorder(asyncio.Protocol):
    def __init__(self) -> None:
        self.data: list[bytes] = []
        self.lost = asyncio.Event()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.data.append(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.set()


async def test_bytes_arrive_in_order_and_close_reaches_both_ends() -> None:
    client, server = _Recorder(), _Recorder()
    a, b = connect_pair(client, server)
    b.write(b"Content-Type: auth/request\n\n")
    a.write(b"api status\n\n")
    a.write(b"exit\n\n")
    await asyncio.sleep(0)
    a.close()  # written before the close: the server still reads all of it
    await client.lost.wait()
    await server.lost.wait()
    assert b"".join(server.data) == b"api status\n\nexit\n\n"
    assert b"".join(client.data) == b"Content-Type: auth/request\n\n"
    assert b.is_closing()


async def test_data_written_by_the_peer_after_a_close_is_not_delivered() -> None:
    client, server = _Recorder(), _Recorder()
    a, b = connect_pair(client, server)
    a.close()
    b.write(b"too late")
    await client.lost.wait()
    await server.lost.wait()
    assert client.data == []


async def test_paused_reading_holds_data_until_resumed() -> None:
    client, server = _Recorder(), _Recorder()
    a, b = connect_pair(client, server)
    a.pause_reading()
    b.write(b"one")
    b.write(b"two")
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert client.data == []
    a.resume_reading()
    assert client.data == [b"one", b"two"]
    a.close()
    await client.lost.wait()


async def test_writes_after_close_are_dropped() -> None:
    client, server = _Recorder(), _Recorder()
    a, _ = connect_pair(client, server)
    a.close()
    a.write(b"late")
    await server.lost.wait()
    assert server.data == []

"""A switch that breaks the protocol: a clear error and a closed link, never a hang."""

from __future__ import annotations

import asyncio

import pytest

from coreswitch.esl import Backoff, ConnectionLost, InboundClient, ProtocolError

from .fakeswitch import FakeSwitch


@pytest.mark.parametrize("garbage", [
    b"this is not a header line\n\n",
    b"Content-Type: api/response\nContent-Length: -5\n\n",
    b"Content-Type: api/response\nContent-Length: 999999999999\n\n",
])
async def test_garbage_closes_the_link_fails_commands_and_reconnects(garbage: bytes) -> None:
    async with FakeSwitch() as sw:
        client = InboundClient(port=sw.port, backoff=Backoff(base=0.001, cap=0.001))
        try:
            await asyncio.wait_for(client.start(), 5)
            first = await sw.connection()
            pending = asyncio.create_task(client.api("status"))
            await first.next_command()
            first.write(garbage)
            with pytest.raises(ConnectionLost):
                await asyncio.wait_for(pending, 5)
            await asyncio.wait_for(first.closed.wait(), 5)  # coreswitch hung up on it
            second = await sw.connection()  # and came back: a protocol error is not permanent
            assert second is not first
        finally:
            await client.close()


async def test_an_oversized_header_block_is_a_protocol_error_not_a_memory_leak() -> None:
    async with FakeSwitch() as sw:
        client = InboundClient(port=sw.port, reconnect=False)
        try:
            await asyncio.wait_for(client.start(), 5)
            conn = await sw.connection()
            lost = client._conn
            assert lost is not None
            conn.write(b"X-Junk: " + b"y" * (300 * 1024))  # no end of headers, ever
            await asyncio.wait_for(asyncio.shield(lost.closed), 5)
            assert isinstance(lost.error, ProtocolError)
        finally:
            await client.close()


async def test_a_switch_that_never_greets_times_out() -> None:
    async with FakeSwitch(greeting=b"") as sw:
        client = InboundClient(port=sw.port, reconnect=False, connect_timeout=0.05)
        try:
            with pytest.raises(ConnectionLost, match="cannot reach"):
                await asyncio.wait_for(client.start(), 5)
        finally:
            await client.close()


async def test_nothing_listening_is_connection_lost() -> None:
    async with FakeSwitch() as sw:
        port = sw.port
    client = InboundClient(port=port, reconnect=False, connect_timeout=1)
    try:
        with pytest.raises(ConnectionLost, match="cannot reach"):
            await asyncio.wait_for(client.start(), 5)
    finally:
        await client.close()

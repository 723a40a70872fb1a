"""An in-memory transport pair: an ESL client and server in one process, without sockets.

``connect_pair(client_protocol, server_protocol)`` wires two :class:`asyncio.Protocol` objects so
that what one writes the other receives, in order, on later loop iterations — the same delivery
contract as TCP, minus the kernel. The in-process simulator uses it to run the very same ESL code
(framing, dispatcher, sessions) on a virtual clock, where real sockets would make time jump
unpredictably.
"""

from __future__ import annotations

import asyncio
from typing import Any


class MemoryTransport(asyncio.Transport):
    """One end of an in-memory connection."""

    def __init__(self, loop: asyncio.AbstractEventLoop, protocol: asyncio.Protocol,
                 name: str) -> None:
        super().__init__()
        self._loop = loop
        self._protocol = protocol
        self._name = name
        self.peer: MemoryTransport | None = None
        self._closing = False
        self._paused = False
        self._held: list[bytes] = []  # received while reading was paused

    # -- asyncio.Transport ------------------------------------------------------------------------
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name in ("peername", "sockname"):
            return (self._name, 0)
        return default

    def is_closing(self) -> bool:
        return self._closing

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or self.peer is None:
            return
        self._loop.call_soon(self.peer._receive, bytes(data))

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def can_write_eof(self) -> bool:
        return False

    def pause_reading(self) -> None:
        self._paused = True

    def resume_reading(self) -> None:
        if not self._paused:
            return
        self._paused = False
        held, self._held = self._held, []
        for data in held:
            self._protocol.data_received(data)

    def is_reading(self) -> bool:
        return not self._paused

    def close(self) -> None:
        """Close this end: it receives nothing more; the peer still gets what was written before."""
        if self._closing:
            return
        self._closing = True
        self._loop.call_soon(self._protocol.connection_lost, None)
        if self.peer is not None:
            # Queued after the data already written, so the peer reads all of it first (as TCP).
            self._loop.call_soon(self.peer._peer_closed)

    def _peer_closed(self) -> None:
        if not self._closing:
            self._closing = True
            self._protocol.connection_lost(None)

    def abort(self) -> None:
        self.close()

    def get_write_buffer_size(self) -> int:
        return 0

    # -- delivery ---------------------------------------------------------------------------------
    def _receive(self, data: bytes) -> None:
        if self._closing:
            return
        if self._paused:
            self._held.append(data)
            return
        self._protocol.data_received(data)


def connect_pair(
    client: asyncio.Protocol, server: asyncio.Protocol, *, name: str = "memory"
) -> tuple[MemoryTransport, MemoryTransport]:
    """Connect two protocols; both get ``connection_made`` before any data flows."""
    loop = asyncio.get_running_loop()
    a = MemoryTransport(loop, client, f"{name}-client")
    b = MemoryTransport(loop, server, f"{name}-server")
    a.peer, b.peer = b, a
    server.connection_made(b)
    client.connection_made(a)
    return a, b

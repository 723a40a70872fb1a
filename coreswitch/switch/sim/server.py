"""The inbound Event Socket server (FreeSWITCH's port 8021) of the simulated switch.

``kill()`` drops every connection without a goodbye and stops listening — what a crashed switch
looks like to a client; ``start()`` again listens on the same port (reconnect tests).
"""

from __future__ import annotations

import asyncio

from coreswitch.switch.sim.core import SwitchCore
from coreswitch.switch.sim.listener import Listener
from coreswitch.switch.sim.wire import Command


class EslServer:
    def __init__(self, core: SwitchCore, host: str = "127.0.0.1", port: int = 8021, *,
                 password: str = "ClueCon", command_log: list[Command] | None = None) -> None:
        self.core = core
        self.host, self.port = host, port
        self.password = password
        self.command_log: list[Command] = command_log if command_log is not None else []
        self.listeners: set[Listener] = set()
        #: Answer new connections with ``text/rude-rejection`` (an ACL that denies us).
        self.reject = False
        self.connections = 0
        self._server: asyncio.Server | None = None

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        if self._server is not None:
            return
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    def _accept(self) -> Listener:
        self.connections += 1
        listener = Listener(self.core, password=self.password, command_log=self.command_log,
                            reject=self.reject, on_close=self.listeners.discard)
        self.listeners.add(listener)
        return listener

    async def _stop_listening(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    async def kill(self) -> None:
        """Abort every connection (no disconnect notice) and stop listening."""
        for listener in list(self.listeners):
            listener.abort()
        await self._stop_listening()

    async def stop(self) -> None:
        """Say goodbye to every connection and stop listening."""
        for listener in list(self.listeners):
            listener.goodbye()
        await self._stop_listening()
        for listener in list(self.listeners):
            listener.abort()

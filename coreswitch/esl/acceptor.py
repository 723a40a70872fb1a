"""A listening TCP socket that takes every waiting connection at each turn of the event loop.

``loop.create_server`` on uvloop accepts **one** connection per loop turn (libuv ≥ 1.45 stopped
accepting in a loop). FreeSWITCH opens one outbound-socket connection per call, and calls come
in bursts; under load a turn of serve's loop lasts several milliseconds, so the tenth call of a
burst waited ten turns before serve even saw it (at 250 calls/s: p99 130 ms from the switch's
SYN to serve's ``connect``). :class:`Acceptor` accepts everything the kernel holds when the
socket turns readable, and hands each connection to the loop
(``loop.connect_accepted_socket``): a burst is up in two turns, whatever its size. It works the
same on asyncio's own loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable

log = logging.getLogger("coreswitch.esl")

#: Seconds before accepting again after the process ran out of file descriptors (as asyncio).
RETRY_AFTER = 1.0


class Acceptor:
    """Listens on ``host:port`` and makes ``factory()``'s protocol for each connection."""

    def __init__(self, factory: Callable[[], asyncio.Protocol], *, backlog: int) -> None:
        self.factory = factory
        self.backlog = backlog
        self.port = 0
        self._socks: list[socket.socket] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._adopting: set[asyncio.Task[None]] = set()
        self._retry: asyncio.TimerHandle | None = None

    async def start(self, host: str, port: int) -> None:
        """Listen on every address ``host`` resolves to (as ``loop.create_server`` does: both
        ``127.0.0.1`` and ``::1`` for ``localhost``), all on one port."""
        loop = self._loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_PASSIVE)
        if not infos:
            raise OSError(f"cannot resolve {host!r}")
        seen: set[tuple[int, str]] = set()
        try:
            for family, _, _, _, address in infos:
                ip = str(address[0])
                if (family, ip) in seen:
                    continue
                seen.add((family, ip))
                try:
                    sock = socket.create_server((ip, self.port or port), family=family,
                                                backlog=self.backlog)
                except OSError as exc:  # say where: "address already in use" alone does not
                    raise OSError(exc.errno, f"cannot listen on {ip} port {self.port or port}: "
                                  f"{exc.strerror or exc}") from None
                self._socks.append(sock)
                sock.setblocking(False)
                self.port = sock.getsockname()[1]  # port 0: the others take the first's
        except OSError:
            for sock in self._socks:
                sock.close()
            self._socks.clear()
            raise
        for sock in self._socks:
            loop.add_reader(sock.fileno(), self._accept_all, sock)

    def _accept_all(self, sock: socket.socket) -> None:
        loop = self._loop
        if loop is None or sock not in self._socks:
            return
        for _ in range(self.backlog):
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # EMFILE, ENFILE, ENOBUFS: stop a while rather than spin
                log.error("cannot accept a connection on port %s: %s; trying again in %g s",
                          self.port, exc, RETRY_AFTER)
                for listening in self._socks:
                    loop.remove_reader(listening.fileno())
                if self._retry is None:
                    self._retry = loop.call_later(RETRY_AFTER, self._resume)
                return
            conn.setblocking(False)
            with contextlib.suppress(OSError):
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            task = loop.create_task(self._adopt(conn), name="esl-accept")
            self._adopting.add(task)
            task.add_done_callback(self._adopting.discard)

    def _resume(self) -> None:
        self._retry = None
        if self._loop is not None:
            for sock in self._socks:
                self._loop.add_reader(sock.fileno(), self._accept_all, sock)

    async def _adopt(self, conn: socket.socket) -> None:
        assert self._loop is not None
        try:
            await self._loop.connect_accepted_socket(self.factory, conn)
        except asyncio.CancelledError:
            conn.close()
            raise
        except Exception:
            log.exception("could not take a connection on port %s", self.port)
            conn.close()

    async def close(self) -> None:
        """Stop listening; connections being taken over are dropped."""
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        socks, self._socks = self._socks, []
        for sock in socks:
            if self._loop is not None:
                self._loop.remove_reader(sock.fileno())
            sock.close()
        for task in list(self._adopting):
            task.cancel()
        await asyncio.gather(*self._adopting, return_exceptions=True)

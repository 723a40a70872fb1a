"""Inbound mode: coreswitch connects to FreeSWITCH's event socket (port 8021) and stays connected.

:class:`InboundClient` authenticates, subscribes, keeps its filters, and — when the link drops —
fails every in-flight command with :class:`~coreswitch.esl.errors.ConnectionLost`, reconnects with
jittered exponential backoff, subscribes and filters again, and reconciles: it asks the switch for
its live channels (``show channels as json``), forgets the channels that vanished meanwhile and
reports both sets to ``on_reconcile``. A wrong password is permanent: it raises
:class:`~coreswitch.esl.errors.AuthenticationError` and is never retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from coreswitch.esl import command as cmd
from coreswitch.esl.errors import AccessDenied, AuthenticationError, ConnectionLost, ESLError
from coreswitch.esl.names import EventName
from coreswitch.esl.peer import DEFAULT_EXECUTE_TIMEOUT, REQUIRED_EVENTS, EslPeer

log = logging.getLogger("coreswitch.esl")


@dataclass(frozen=True)
class Reconciliation:
    """What the switch reported after a (re)connect."""

    live: dict[str, dict[str, str]]  # channel UUID → its row of ``show channels as json``
    gone: frozenset[str]  # channels we were tracking that no longer exist
    reconnect: bool  # False on the first connection


ReconcileHandler = Callable[[Reconciliation], Awaitable[None] | None]


@dataclass
class Backoff:
    """Jittered exponential backoff: a random delay in [base/2, max(base, min(cap, base·2ⁿ))]."""

    base: float = 0.1
    cap: float = 10.0
    attempt: int = 0

    def next_delay(self, rng: random.Random) -> float:
        ceiling = min(self.cap, self.base * (2 ** self.attempt))
        self.attempt += 1
        return rng.uniform(self.base / 2, max(self.base, ceiling))

    def reset(self) -> None:
        self.attempt = 0


def subscription_names(events: Iterable[str],
                       required: Iterable[str] = REQUIRED_EVENTS) -> list[str]:
    """The words of the ``event`` command: the caller's events plus those the client needs
    (``required``: by default those that complete jobs and executes and track channel ends).

    FreeSWITCH reads every word after ``CUSTOM`` as a subclass name, so ``CUSTOM`` and its
    subclasses go last, after the required events.
    """
    names = [cmd.token(n, "event name") for n in events]
    custom: list[str] = []
    if "CUSTOM" in names:
        at = names.index("CUSTOM")
        names, custom = names[:at], names[at:]
    if "ALL" not in names:
        names += [n for n in required if n not in names]
    return names + custom


class InboundClient(EslPeer):
    """A long-lived inbound connection with reconnect, re-subscribe and reconciliation.

    ``events`` are the event names to subscribe to (``ALL`` by default); the events the client
    needs itself are added. With ``channels=False`` the connection is a control link for
    ``api``/``bgapi`` only — it never executes applications on channels — and needs nothing but
    ``BACKGROUND_JOB``: with ``events=()`` the switch then sends it no channel events at all
    (``coreswitch serve`` runs each call over its outbound socket, which gets the call's own
    events, so the inbound link would only decode every event a second time).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8021,
        password: str = "ClueCon",
        *,
        events: Iterable[str] = ("ALL",),
        channels: bool = True,
        event_format: str = "plain",
        reconnect: bool = True,
        backoff: Backoff | None = None,
        connect_timeout: float = 5.0,
        command_timeout: float = 30.0,
        execute_timeout: float | None = DEFAULT_EXECUTE_TIMEOUT,
        on_reconcile: ReconcileHandler | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(command_timeout=command_timeout, execute_timeout=execute_timeout)
        self.host, self.port, self._password = host, port, password
        self._events = subscription_names(
            events, REQUIRED_EVENTS if channels else (EventName.BACKGROUND_JOB,))
        if event_format not in ("plain", "json"):
            raise ValueError("event_format must be 'plain' or 'json'")
        self.event_format = event_format
        self.reconnect = reconnect
        self.backoff = backoff or Backoff()
        self.connect_timeout = connect_timeout
        self.on_reconcile = on_reconcile
        self._rng = rng or random.Random()
        self._filters: list[tuple[str, str]] = []
        self._supervisor: asyncio.Task[None] | None = None
        self._closing = False
        self.connected = asyncio.Event()
        self.connections = 0  # successful connections so far

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect (raising if the first attempt fails), then keep the link up in the background."""
        self.dispatcher.start()
        await self._connect_once()
        if self._supervisor is None:
            self._supervisor = asyncio.get_running_loop().create_task(
                self._supervise(), name="esl-inbound-supervisor")

    async def close(self) -> None:
        """Say ``exit``, close the socket and stop reconnecting."""
        self._closing = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None
        conn = self._conn
        if conn is not None and conn.is_open:
            with contextlib.suppress(ESLError, TimeoutError):
                await conn.request(b"exit\n\n", timeout=2.0)
            conn.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(conn.closed), 2.0)
        await self.dispatcher.stop()

    async def __aenter__(self) -> InboundClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- filters --------------------------------------------------------------------------------
    async def filter(self, header: str, value: str) -> None:
        """Add an event filter; kept and re-applied after every reconnect.

        The first filter also adds ``Event-Name BACKGROUND_JOB`` so ``bgapi`` results still arrive.
        """
        data = cmd.filter_command(header, value)  # validated before anything is sent
        if not self._filters:
            await self.command(cmd.filter_command("Event-Name", EventName.BACKGROUND_JOB))
            self._filters.append(("Event-Name", EventName.BACKGROUND_JOB))
        await self.command(data)
        self._filters.append((header, value))

    async def filter_delete(self, header: str, value: str) -> None:
        await self.command(cmd.filter_command(header, value, delete=True))
        with contextlib.suppress(ValueError):
            self._filters.remove((header, value))

    # -- connecting -----------------------------------------------------------------------------
    async def _connect_once(self) -> None:
        loop = asyncio.get_running_loop()
        conn = self._make_connection()
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: conn, self.host, self.port), self.connect_timeout)
            await asyncio.wait_for(asyncio.shield(conn.auth_request), self.connect_timeout)
        except (OSError, TimeoutError) as exc:
            conn.close()
            raise ConnectionLost(
                f"cannot reach the switch at {self.host}:{self.port}: {exc}") from exc
        self._conn = conn
        reply = (await conn.request(f"auth {self._password}\n\n".encode(),
                                    self.connect_timeout)).reply_text
        if not reply.startswith("+OK"):
            conn.close()
            raise AuthenticationError(
                f"the switch at {self.host}:{self.port} refused the ESL password ({reply.strip()})")
        await self.command(cmd.event_subscription(self.event_format, self._events))
        for header, value in self._filters:
            await self.command(cmd.filter_command(header, value))
        first = self.connections == 0
        self.connections += 1
        self.connected.set()
        await self._reconcile(reconnect=not first)

    async def _reconcile(self, *, reconnect: bool) -> None:
        text = await self.api("show", "channels as json")
        live: dict[str, dict[str, str]] = {}
        try:
            rows = json.loads(text).get("rows", [])
        except (ValueError, AttributeError):
            log.error("could not read 'show channels as json': %.200s", text)
            rows = []
        for row in rows:
            if isinstance(row, dict) and row.get("uuid"):
                live[str(row["uuid"])] = {str(k): str(v) for k, v in row.items()}
        tracked = self.dispatcher.channels | set(self._executes) | set(self._hungup)
        gone = frozenset(tracked - set(live))
        for channel in gone:
            cause = self._hungup.pop(channel, None)
            self.channel_gone(channel, cause, "vanished while disconnected")
            self.remember_gone(channel, cause)
            self.dispatcher.forget(channel)
        if reconnect:
            log.info("ESL reconnected to %s:%s: %d live channels, %d gone",
                     self.host, self.port, len(live), len(gone))
        if self.on_reconcile is not None:
            result = self.on_reconcile(Reconciliation(live, gone, reconnect))
            if result is not None:
                await result

    def stopping(self) -> bool:
        """True once :meth:`close` was called (a method: its value changes across awaits)."""
        return self._closing

    async def _supervise(self) -> None:
        while not self.stopping():
            conn = self._conn
            if conn is not None:
                await asyncio.shield(conn.closed)
            if self.stopping():
                return
            self.connected.clear()
            if not self.reconnect:
                log.error("ESL connection to %s:%s lost; reconnect is off", self.host, self.port)
                return
            self.backoff.reset()
            while not self.stopping():
                delay = self.backoff.next_delay(self._rng)
                log.warning("ESL link to %s:%s down; reconnecting in %.2f s",
                            self.host, self.port, delay)
                await asyncio.sleep(delay)
                try:
                    await self._connect_once()
                    break
                except (AuthenticationError, AccessDenied):
                    log.exception("ESL reconnect refused permanently")
                    return
                except ESLError as exc:
                    log.warning("ESL reconnect failed: %s", exc)
                except TimeoutError as exc:
                    log.warning("ESL reconnect timed out: %s", exc)

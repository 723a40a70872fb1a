"""A call as the flow runtime sees it: the switch's own vocabulary over one ESL channel.

:class:`CallSession` wraps an :class:`~coreswitch.esl.peer.EslPeer` and one channel UUID — an
outbound-socket session in service, the same over an in-memory pipe in the simulator — and offers
``answer``, ``play`` (with barge-in), ``read_digits`` (DTMF-driven, with the first-digit and
inter-digit timers of the flow language), ``record``, ``bridge``, ``transfer``, ``set_variable`` and
``hangup``.

Digits are collected from DTMF events, not by ``play_and_get_digits``, so the timing model is the
language's own and identical on every backend. Timers are asyncio timeouts: on the virtual-time
loop of ``coreswitch test`` they run on virtual time, in service on the real clock.

Every method raises :class:`CallerHungUp` once the caller has gone; flows treat that as the end.
Text that may come from a caller or a CRM is passed through :func:`~coreswitch.esl.command.literal`
before it reaches an application argument.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from coreswitch.esl import command as cmd
from coreswitch.esl.errors import ChannelGone, CommandError, ConnectionLost
from coreswitch.esl.event import Event
from coreswitch.esl.names import EventName
from coreswitch.esl.peer import EslPeer

log = logging.getLogger("coreswitch.runtime")

DIGITS = frozenset("0123456789*#ABCD")


class CallerHungUp(Exception):
    """The caller hung up (or the channel vanished); the flow ends here."""

    def __init__(self, cause: str = "NORMAL_CLEARING") -> None:
        super().__init__(f"caller hung up ({cause})")
        self.cause = cause


@dataclass(frozen=True)
class DigitResult:
    """What :meth:`CallSession.read_digits` collected and why it stopped.

    ``reason`` is one of ``terminator`` (the terminator key was pressed; not included in
    ``digits``), ``max`` (``max_digits`` reached), ``inter_digit`` (the caller paused too long
    after at least one key), ``first_digit`` (no key at all: no input).
    """

    digits: str
    reason: str
    terminator: str = ""

    @property
    def no_input(self) -> bool:
        return self.reason == "first_digit"


@dataclass(frozen=True)
class BridgeResult:
    answered: bool
    cause: str  # FreeSWITCH's originate/bridge disposition, e.g. SUCCESS, NO_ANSWER, USER_BUSY


class CallSession:
    """One live call. ``outbound`` is True when ``peer`` is the call's own outbound socket."""

    def __init__(self, peer: EslPeer, uuid: str, *, outbound: bool = True) -> None:
        self.peer = peer
        self.uuid = cmd.uuid(uuid)
        self.outbound = outbound
        self._digits: deque[str] = deque()
        self._digit_waiter: asyncio.Future[None] | None = None
        self.hangup_cause: str | None = None
        self.hung_up = asyncio.Event()
        self.answered = False
        peer.bind(self.uuid, self._on_event)

    # -- events --------------------------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        name = event.headers.get("Event-Name")
        if name == EventName.DTMF:
            digit = event.headers.get("DTMF-Digit", "")
            if digit in DIGITS:
                self._digits.append(digit)
                self._wake()
        elif name in (EventName.CHANNEL_HANGUP, EventName.CHANNEL_HANGUP_COMPLETE,
                      EventName.CHANNEL_DESTROY):
            self._mark_hung_up(event.headers.get("Hangup-Cause", "NORMAL_CLEARING"))
        elif name == EventName.CHANNEL_ANSWER:
            self.answered = True

    def _mark_hung_up(self, cause: str) -> None:
        if self.hangup_cause is None:
            self.hangup_cause = cause
            self.hung_up.set()
            self._wake()

    def _wake(self) -> None:
        waiter = self._digit_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _check_alive(self) -> None:
        if self.hangup_cause is not None:
            raise CallerHungUp(self.hangup_cause)

    # -- the vocabulary ------------------------------------------------------------------------
    async def execute(self, app: str, arg: str = "", *, timeout: float | None = None) -> Event:
        """Run one dialplan application; a hangup during it raises :class:`CallerHungUp`."""
        self._check_alive()
        try:
            return await self.peer.execute(self.uuid, app, arg, timeout=timeout,
                                           outbound=self.outbound)
        except ChannelGone as exc:
            self._mark_hung_up(exc.cause or "NORMAL_CLEARING")
            raise CallerHungUp(self.hangup_cause or "NORMAL_CLEARING") from None
        except ConnectionLost:
            self._mark_hung_up("LOSE_RACE" if self.hangup_cause is None else self.hangup_cause)
            raise CallerHungUp(self.hangup_cause or "NORMAL_CLEARING") from None
        except CommandError:
            if self.hangup_cause is not None or self.peer.hangup_cause(self.uuid):
                self._mark_hung_up(self.peer.hangup_cause(self.uuid) or "NORMAL_CLEARING")
                raise CallerHungUp(self.hangup_cause or "NORMAL_CLEARING") from None
            raise

    async def answer(self) -> None:
        if not self.answered:
            await self.execute("answer")
            self.answered = True

    def clear_digits(self) -> None:
        """Forget keys pressed so far (before a prompt that must not see earlier presses)."""
        self._digits.clear()

    async def play(self, media: str | Sequence[str], *, barge: bool = True) -> bool:
        """Play one file (or several in order). Returns True when a key interrupted it.

        With ``barge`` a key pressed during the prompt stops it at once (the key stays buffered
        for :meth:`read_digits`); without, keys are still buffered but the prompt plays on.
        """
        files = [media] if isinstance(media, str) else list(media)
        for path in files:
            if barge and self._digits:
                return True
            if await self._play_one(path, barge=barge):
                return True
        return False

    async def _play_one(self, path: str, *, barge: bool) -> bool:
        self._check_alive()
        playing = asyncio.ensure_future(self.execute("playback", path))
        if not barge:
            await playing
            return False
        pressed = asyncio.ensure_future(self._wait_digit())
        try:
            done, _ = await asyncio.wait({playing, pressed}, return_when=asyncio.FIRST_COMPLETED)
            if pressed in done and not playing.done():
                with contextlib.suppress(CommandError, ConnectionLost, TimeoutError):
                    await self.peer.api("uuid_break", self.uuid, check=False)
                await playing
                return True
            await playing  # re-raise CallerHungUp
            return bool(self._digits)
        finally:
            pressed.cancel()
            if not playing.done():
                playing.cancel()

    async def _wait_digit(self, timeout: float | None = None) -> bool:
        """Wait until a key is buffered (True) or the timeout passes (False)."""
        if self._digits:
            return True
        self._check_alive()
        loop = asyncio.get_running_loop()
        self._digit_waiter = loop.create_future()
        try:
            async with asyncio.timeout(timeout):
                await self._digit_waiter
        except TimeoutError:
            return False
        finally:
            self._digit_waiter = None
        self._check_alive()
        return bool(self._digits)

    async def read_digits(self, *, first_digit: float, inter_digit: float, max_digits: int,
                          terminators: str = "#") -> DigitResult:
        """Collect keys after a prompt (see docs/flow-language.md, "Timing model").

        Keys already buffered (pressed during the prompt) count as typed at once. The first key
        must come within ``first_digit`` seconds; each further key within ``inter_digit`` seconds
        of the previous one. A terminator ends the input and is not part of it; ``max_digits``
        keys end it at once.
        """
        digits = ""
        timeout = first_digit
        while True:
            if not await self._wait_digit(timeout):
                return DigitResult(digits, "inter_digit" if digits else "first_digit")
            key = self._digits.popleft()
            if key in terminators:
                return DigitResult(digits, "terminator", key)
            digits += key
            if len(digits) >= max_digits:
                return DigitResult(digits, "max")
            timeout = inter_digit

    async def record(self, path: str, *, max_seconds: int, silence_seconds: int = 3,
                     terminators: str = "#") -> Event:
        """Record the caller into ``path`` (FreeSWITCH's ``record`` application)."""
        await self.set_variable("playback_terminators", terminators or "none")
        return await self.execute("record", f"{path} {int(max_seconds)} 200 {int(silence_seconds)}")

    async def bridge(self, dial_string: str, *, timeout: float | None = None) -> BridgeResult:
        """Bridge the caller to another endpoint; returns when the bridge ends or fails."""
        done = await self.execute("bridge", dial_string, timeout=timeout)
        cause = (done.variable("originate_disposition") or done.variable("DIALSTATUS")
                 or done.headers.get("Application-Response", ""))
        answered = cause in ("SUCCESS", "ANSWER") or bool(done.variable("bridge_uuid"))
        return BridgeResult(answered, cause or "UNKNOWN")

    async def transfer(self, destination: str, dialplan: str = "XML",
                       context: str = "default") -> None:
        self._check_alive()
        await self.peer.api("uuid_transfer", f"{self.uuid} {cmd.token(destination, 'destination')}"
                            f" {cmd.token(dialplan, 'dialplan')} {cmd.token(context, 'context')}")

    async def set_variable(self, name: str, value: str) -> None:
        """Set a channel variable (the value may hold any text: it travels as a body if needed)."""
        await self.execute("set", f"{cmd.variable_name(name)}={cmd.literal(value)}")

    async def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        if self.hangup_cause is not None:
            return
        with contextlib.suppress(CommandError, ConnectionLost):
            await self.peer.hangup(self.uuid, cmd.hangup_cause(cause), outbound=self.outbound)
        self._mark_hung_up(cause)

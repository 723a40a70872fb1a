"""A call as the flow runtime sees it: the switch's own vocabulary over one ESL channel.

:class:`CallSession` wraps an :class:`~coreswitch.esl.peer.EslPeer` and one channel UUID — an
outbound-socket session in service, the same over an in-memory pipe in the simulator — and offers
``answer``, ``play`` (with barge-in), ``read_digits`` (DTMF-driven, with the first-digit and
inter-digit timers of the flow language), ``record``, ``bridge``, ``transfer``, ``set_variable`` and
``hangup``.

Digits are collected from DTMF events, not by ``play_and_get_digits``, so the timing model is the
language's own and identical on every backend. Timers are asyncio timeouts: on the virtual-time
loop of ``coreswitch test`` they run on virtual time, in service on the real clock.

Every method raises :class:`CallerHungUp` once the caller has gone — at once when the hangup is
already known, or when the application that was running ends because of it (a prompt, a collect, a
recording, a bridge); flows treat that as the end. :meth:`CallSession.hangup` is the exception: it
is a no-op on a call that has already ended, so cleanup code can always call it. Text that may come
from a caller or a CRM is passed through :func:`~coreswitch.esl.command.literal` before it reaches
an application argument (twice for ``set``, which FreeSWITCH expands twice).

**Barge-in.** FreeSWITCH stops a prompt at a key itself: before a ``barge`` prompt the session
sets ``playback_terminators`` to the keys (:data:`BARGE_KEYS`; ``none`` before a ``barge=False``
prompt, as FreeSWITCH's default, ``*``, would cut even those), in the same write as the
``playback``. The caller hears the prompt stop at once, and the session's next command follows the
prompt's completion without a round trip of its own. A key FreeSWITCH was not told to stop at (a
terminator being swallowed, see below, or ``A``–``D``) is stopped with ``uuid_break`` at once;
should the prompt still play :data:`BREAK_AFTER` seconds after any other key's DTMF event
(FreeSWITCH's park loop read the key just before the prompt started), likewise. ``record`` sets
its own terminators.

**Terminator swallowing.** A terminator pressed right after an entry that ended at its maximum
length is swallowed: when :meth:`CallSession.read_digits` ends with reason ``max`` and
``terminators`` is not empty, a terminator key that is already buffered, or that arrives within
``inter_digit`` seconds afterwards, is dropped. Callers told "以井号键结束" for a fixed 10-digit
number press ``#`` after the 10th digit; that ``#`` must not barge into the next prompt or become a
no-input in the next collect. Any other key pressed first cancels the swallow (it counts as usual).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from coreswitch.esl import command as cmd
from coreswitch.esl.errors import ChannelGone, CommandError, ConnectionLost
from coreswitch.esl.event import Event
from coreswitch.esl.names import EventName
from coreswitch.esl.peer import EslPeer
from coreswitch.eventloop import OnOneLoop

log = logging.getLogger("coreswitch.runtime")

DIGITS = frozenset("0123456789*#ABCD")

#: The keys FreeSWITCH stops a ``barge`` prompt at (its ``playback_terminators``).
BARGE_KEYS = "0123456789*#"

#: Seconds a ``barge`` prompt may go on after a key's DTMF event before the session stops it
#: with ``uuid_break`` (FreeSWITCH stops it by itself, unless the key came before the prompt).
BREAK_AFTER = 0.2

#: The events a call session uses: what its outbound socket keeps of ``myevents`` (the server
#: sends ``nixevent`` for the rest, so the switch neither encodes nor sends them).
SESSION_EVENTS = frozenset({
    EventName.CHANNEL_ANSWER, EventName.CHANNEL_BRIDGE, EventName.CHANNEL_DESTROY,
    EventName.CHANNEL_EXECUTE_COMPLETE, EventName.CHANNEL_HANGUP,
    EventName.CHANNEL_HANGUP_COMPLETE, EventName.DTMF,
})


class CallerHungUp(Exception):
    """The caller hung up (or the channel vanished); the flow ends here.

    ``cause`` is the hangup cause. ``result`` is the ``CHANNEL_EXECUTE_COMPLETE`` of the
    application the hangup ended, when there was one (a voicemail ``record`` still has its file).
    """

    def __init__(self, cause: str = "NORMAL_CLEARING", result: Event | None = None) -> None:
        super().__init__(f"caller hung up ({cause})")
        self.cause = cause
        self.result = result


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
        """No key before the first-digit timeout, or a terminator with no digits before it."""
        return self.reason == "first_digit" or (self.reason == "terminator" and not self.digits)


@dataclass(frozen=True)
class BridgeResult:
    answered: bool
    cause: str  # FreeSWITCH's originate/bridge disposition, e.g. SUCCESS, NO_ANSWER, USER_BUSY


class CallSession(OnOneLoop):
    """One live call. ``outbound`` is True when ``peer`` is the call's own outbound socket."""

    def __init__(self, peer: EslPeer, uuid: str, *, outbound: bool = True) -> None:
        self.peer = peer
        self.uuid = cmd.uuid(uuid)
        self.outbound = outbound
        self._digits: deque[str] = deque()
        self._digit_waiter: asyncio.Future[None] | None = None
        #: After an entry ended at its maximum length: (terminators, loop-time deadline).
        self._swallow: tuple[str, float] | None = None
        #: The value of ``playback_terminators`` this session last set (None: FreeSWITCH's default).
        self._playback_terminators: str | None = None
        self.hangup_cause: str | None = None
        self.hung_up = asyncio.Event()
        self.answered = False
        #: Resolved with the other leg's UUID at the next ``CHANNEL_BRIDGE`` (see :meth:`bridged`).
        self._bridge_waiter: asyncio.Future[str] | None = None
        peer.bind(self.uuid, self._on_event)

    # -- events --------------------------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        name = event.headers.get("Event-Name")
        if name == EventName.DTMF:
            digit = event.headers.get("DTMF-Digit", "")
            if digit in DIGITS and not self._swallowed(digit):
                self._digits.append(digit)
                self._wake()
        elif name in (EventName.CHANNEL_HANGUP, EventName.CHANNEL_HANGUP_COMPLETE,
                      EventName.CHANNEL_DESTROY):
            self._mark_hung_up(event.headers.get("Hangup-Cause", "NORMAL_CLEARING"))
        elif name == EventName.CHANNEL_ANSWER:
            self.answered = True
        elif name == EventName.CHANNEL_BRIDGE:
            waiter = self._bridge_waiter
            if waiter is not None and not waiter.done():
                other = (event.headers.get("Bridge-B-Unique-ID")
                         or event.headers.get("Other-Leg-Unique-ID") or "")
                waiter.set_result(other)

    def _swallowed(self, digit: str) -> bool:
        """The first key after a full-length entry: True (drop it) if it is a terminator in time."""
        swallow, self._swallow = self._swallow, None
        if swallow is None:
            return False
        terminators, deadline = swallow
        return digit in terminators and self.running_loop.time() <= deadline

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
        if self.hangup_cause is None:
            cause = self.peer.hangup_cause(self.uuid)
            if cause is not None:  # the router saw it; our lane has not yet
                self._mark_hung_up(cause)
        if self.hangup_cause is not None:
            raise CallerHungUp(self.hangup_cause)

    # -- the vocabulary ------------------------------------------------------------------------
    async def execute(self, app: str, arg: str = "", *, timeout: float | None = None) -> Event:
        """Run one dialplan application; a hangup before or during it raises
        :class:`CallerHungUp` (with the application's completion as ``result`` if it had one)."""
        running = await self._start(app, arg)
        return await self._finish(running, app, timeout)

    async def _start(self, app: str, arg: str = "", *,
                     before: tuple[str, str] | None = None) -> asyncio.Future[Event]:
        """Send an application; once the switch has taken it, the future of its completion
        (see :meth:`EslPeer.start_execute`): :meth:`_finish` it or cancel it. ``before``: an
        application (a ``set``) sent in the same write and run first, its completion not
        awaited."""
        self._check_alive()
        try:
            if before is None:
                return await self.peer.start_execute(self.uuid, app, arg, outbound=self.outbound)
            started = await self.peer.start_executes(self.uuid, [before, (app, arg)],
                                                     outbound=self.outbound)
            return started[-1]
        except CommandError:
            if self.hangup_cause is not None or self.peer.hangup_cause(self.uuid):
                self._mark_hung_up(self.peer.hangup_cause(self.uuid) or "NORMAL_CLEARING")
                raise CallerHungUp(self.hangup_cause or "NORMAL_CLEARING") from None
            raise
        except ConnectionLost as exc:  # ChannelGone (and its refused form) included
            raise self._gone(exc) from None

    async def _finish(self, running: asyncio.Future[Event], app: str,
                      timeout: float | None = None) -> Event:
        """Wait for a started application's completion (see :meth:`execute`)."""
        try:
            done = await self.peer.completion(running, self.uuid, app, timeout)
        except ConnectionLost as exc:
            raise self._gone(exc) from None
        # An application the hangup interrupted still completes (CHANNEL_HANGUP comes first).
        try:
            self._check_alive()
        except CallerHungUp as exc:
            exc.result = done
            raise
        return done

    def _gone(self, exc: ConnectionLost) -> CallerHungUp:
        """The CallerHungUp for a channel that went (ChannelGone) or a link that dropped."""
        if isinstance(exc, ChannelGone):
            self._mark_hung_up(exc.cause or "NORMAL_CLEARING")
        else:
            self._mark_hung_up("LOSE_RACE" if self.hangup_cause is None else self.hangup_cause)
        return CallerHungUp(self.hangup_cause or "NORMAL_CLEARING")

    async def answer(self) -> None:
        self._check_alive()
        if not self.answered:
            await self.execute("answer")
            self.answered = True

    def clear_digits(self) -> None:
        """Forget keys pressed so far (before a prompt that must not see earlier presses)."""
        self._digits.clear()

    async def _set_playback_terminators(self, value: str) -> None:
        if self._playback_terminators != value:
            await self.set_variable("playback_terminators", value)
            self._playback_terminators = value

    async def play(self, media: str | Sequence[str], *, barge: bool = True) -> bool:
        """Play one file (or several in order). Returns True when a key interrupted it.

        With ``barge`` a key pressed during the prompt (or already buffered) stops it at once
        (the key stays buffered for :meth:`read_digits`); without, keys are still buffered but the
        prompt plays on.
        """
        self._check_alive()
        files = [media] if isinstance(media, str) else list(media)
        for path in files:
            if barge and self._digits:
                return True
            if await self._play_one(path, barge=barge):
                return True
        return False

    async def _play_one(self, path: str, *, barge: bool) -> bool:
        terminators = self._barge_keys() if barge else "none"
        if self._playback_terminators == terminators:
            playing = await self._start("playback", path)
        else:  # the set goes in the same write as the playback (the switch runs them in order)
            playing = await self._start("playback", path,
                                        before=self._setter("playback_terminators", terminators))
            self._playback_terminators = terminators
        try:
            if barge and not self._digits and not playing.done():
                # Wait for the prompt's end or a key (or the hangup): one future, no tasks.
                waiter = self._digit_waiter = self.running_loop.create_future()
                playing.add_done_callback(lambda _: _resolve(waiter))
                try:
                    await waiter
                finally:
                    if self._digit_waiter is waiter:
                        self._digit_waiter = None
            if barge and self._digits and not playing.done() and self.hangup_cause is None:
                # A key in `terminators`: FreeSWITCH stopped the prompt, its completion is on
                # the way. Any other key: the session stops it.
                stopped = (self._digits[0] in terminators
                           and await _settles(self.running_loop, playing, BREAK_AFTER))
                if not stopped and not playing.done() and self.hangup_cause is None:
                    with contextlib.suppress(CommandError, ConnectionLost, TimeoutError):
                        await self.peer.api("uuid_break", self.uuid, check=False)
                await self._finish(playing, "playback")  # CallerHungUp if gone meanwhile
                return True
            await self._finish(playing, "playback")  # CallerHungUp when the hangup ended it
            return barge and bool(self._digits)
        finally:
            if not playing.done():
                playing.cancel()

    def _barge_keys(self) -> str:
        """The keys a ``barge`` prompt stops at now: not a terminator being swallowed."""
        swallow = self._swallow
        if swallow is None or self.running_loop.time() > swallow[1]:
            return BARGE_KEYS
        return "".join(k for k in BARGE_KEYS if k not in swallow[0]) or "none"

    async def _wait_digit(self, timeout: float | None = None) -> bool:
        """Wait until a key is buffered (True); False on timeout or hangup."""
        if self._digits:
            return True
        if self.hangup_cause is not None:
            return False
        waiter = self._digit_waiter = self.running_loop.create_future()
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except TimeoutError:
            return False
        finally:
            # A cancelled barge watcher finishes later than the next waiter starts: never
            # clear a waiter that is not ours.
            if self._digit_waiter is waiter:
                self._digit_waiter = None
        return bool(self._digits)

    async def read_digits(self, *, first_digit: float, inter_digit: float, max_digits: int,
                          terminators: str = "#") -> DigitResult:
        """Collect keys after a prompt (see docs/flow-language.md, "Timing model").

        Keys already buffered (pressed during the prompt) count as typed at once. The first key
        must come within ``first_digit`` seconds; each further key within ``inter_digit`` seconds
        of the previous one. A terminator ends the input and is not part of it; ``max_digits``
        keys end it at once, and then a terminator pressed right after is swallowed (see the
        module docstring).
        """
        self._check_alive()
        digits = ""
        timeout = first_digit
        while True:
            got = await self._wait_digit(timeout)
            self._check_alive()
            if not got:
                return DigitResult(digits, "inter_digit" if digits else "first_digit")
            key = self._digits.popleft()
            if key in terminators:
                return DigitResult(digits, "terminator", key)
            digits += key
            if len(digits) >= max_digits:
                if terminators:
                    self._swallow_after_max(terminators, inter_digit)
                return DigitResult(digits, "max")
            timeout = inter_digit

    def _swallow_after_max(self, terminators: str, inter_digit: float) -> None:
        if self._digits:  # the next key is already here: drop it if it is a terminator
            if self._digits[0] in terminators:
                self._digits.popleft()
            return
        self._swallow = (terminators, self.running_loop.time() + inter_digit)

    async def record(self, path: str, *, max_seconds: int, silence_seconds: int = 3,
                     terminators: str = "#") -> Event:
        """Record the caller into ``path`` (FreeSWITCH's ``record`` application).

        Returns the application's completion (``variable_record_ms`` …). When the caller hangs up
        while recording, :class:`CallerHungUp` carries that completion as ``result``.
        """
        self._check_alive()
        await self._set_playback_terminators(terminators or "none")
        return await self.execute(
            "record", f"{cmd.literal(path)} {int(max_seconds)} 200 {int(silence_seconds)}")

    async def bridge(self, dial_string: str, *, timeout: float | None = None) -> BridgeResult:
        """Bridge the caller to another endpoint; returns when the bridge ends or fails.

        ``timeout`` is how long the other side may ring (FreeSWITCH's ``call_timeout``), not a
        limit on the conversation.
        """
        self._check_alive()
        if timeout is not None:
            await self.set_variable("call_timeout", str(max(1, math.ceil(timeout))))
        done = await self.execute("bridge", dial_string)
        # originate_disposition is set by every bridge attempt; bridge_uuid is left over from
        # any earlier bridge and says nothing about this one.
        cause = (done.variable("originate_disposition") or done.variable("DIALSTATUS")
                 or done.headers.get("Application-Response", ""))
        answered = cause in ("SUCCESS", "ANSWER")
        return BridgeResult(answered, cause or "UNKNOWN")

    def bridged(self) -> asyncio.Future[str]:
        """A future resolved with the other leg's UUID when this channel is next bridged
        (``CHANNEL_BRIDGE``): a :meth:`bridge` returns only when the conversation ends, and the
        ACD must know at once who answered. Call it before starting the bridge."""
        waiter = self._bridge_waiter
        if waiter is None or waiter.done():
            waiter = self._bridge_waiter = self.running_loop.create_future()
        return waiter

    async def stop_media(self) -> None:
        """Stop whatever the channel is playing now (``uuid_break``); harmless when idle. The
        :meth:`play` that was running returns (without a key)."""
        if self.hangup_cause is not None:
            return
        with contextlib.suppress(CommandError, ConnectionLost, TimeoutError):
            await self.peer.api("uuid_break", self.uuid, check=False)

    async def transfer(self, destination: str, dialplan: str = "XML",
                       context: str = "default") -> None:
        self._check_alive()
        await self.peer.api("uuid_transfer", f"{self.uuid} {cmd.token(destination, 'destination')}"
                            f" {cmd.token(dialplan, 'dialplan')} {cmd.token(context, 'context')}")

    async def set_variable(self, name: str, value: str) -> None:
        """Set a channel variable to exactly ``value`` (any text: newlines travel as a body;
        ``$`` and ``\\`` are escaped for both of FreeSWITCH's expansions of a ``set``)."""
        await self.execute(*self._setter(name, value))

    @staticmethod
    def _setter(name: str, value: str) -> tuple[str, str]:
        """The ``set`` application that gives a channel variable exactly ``value``."""
        return "set", f"{cmd.variable_name(name)}={cmd.literal(cmd.literal(value))}"

    async def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        """Hang up with ``cause``; does nothing once the call has ended."""
        if self.hangup_cause is not None:
            return
        with contextlib.suppress(CommandError, ConnectionLost):
            await self.peer.hangup(self.uuid, cmd.hangup_cause(cause), outbound=self.outbound)
        self._mark_hung_up(cause)


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def _settles(loop: asyncio.AbstractEventLoop, future: asyncio.Future[Event],
                   seconds: float) -> bool:
    """Wait up to ``seconds`` for ``future`` to be done (never cancelling it); True if it is."""
    if not future.done():
        waiter = loop.create_future()
        future.add_done_callback(lambda _: _resolve(waiter))
        timer = loop.call_later(seconds, _resolve, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
    return future.done()

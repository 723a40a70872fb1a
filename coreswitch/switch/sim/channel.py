"""A simulated channel: identity, caller profile, state machine, answer state and variables.

FreeSWITCH reports two state fields: ``Channel-State`` is the state the state machine last *ran*
(``running_state``), ``Channel-State-Number`` the state it was last *set to* (``state``); e.g.
``CHANNEL_CREATE`` says ``CS_INIT`` / ``2`` because routing is already requested. Call states
(``Channel-Call-State``) and answer states (``Answer-State``) move independently.

Variables keep FreeSWITCH's ordering rule: setting a variable removes and re-appends it, so the
most recently set variables come last in every event (``current_application`` and friends move).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import IntEnum

from coreswitch.switch.sim.signals import Signal
from coreswitch.switch.sim.wire import Headers, Pairs, json_item, plain_item


class ChannelState(IntEnum):
    CS_NEW = 0
    CS_INIT = 1
    CS_ROUTING = 2
    CS_SOFT_EXECUTE = 3
    CS_EXECUTE = 4
    CS_EXCHANGE_MEDIA = 5
    CS_PARK = 6
    CS_CONSUME_MEDIA = 7
    CS_HIBERNATE = 8
    CS_RESET = 9
    CS_HANGUP = 10
    CS_REPORTING = 11
    CS_DESTROY = 12
    CS_NONE = 13


class CallState(IntEnum):
    DOWN = 0
    DIALING = 1
    RINGING = 2
    EARLY = 3
    ACTIVE = 4
    HELD = 5
    RING_WAIT = 6
    HANGUP = 7


#: Q.850 codes of the hangup causes the simulator produces.
Q850 = {
    "NORMAL_CLEARING": 16, "USER_BUSY": 17, "NO_USER_RESPONSE": 18, "NO_ANSWER": 19,
    "CALL_REJECTED": 21, "UNALLOCATED_NUMBER": 1, "NORMAL_TEMPORARY_FAILURE": 41,
    "ORIGINATOR_CANCEL": 487, "LOSE_RACE": 502, "USER_NOT_REGISTERED": 606,
    "SUBSCRIBER_ABSENT": 20, "MANAGER_REQUEST": 503, "DESTINATION_OUT_OF_ORDER": 27,
    "RECOVERY_ON_TIMER_EXPIRE": 102, "ATTENDED_TRANSFER": 601, "NORMAL_UNSPECIFIED": 31,
}


class Variables:
    """Channel variables in FreeSWITCH order: (re)setting a variable moves it to the end.

    Events carry every variable (``variable_<name>`` headers): :meth:`headers` gives them as one
    :class:`~.wire.Headers` run, kept while nothing is set. Once a format has been asked for, each
    variable's encoded header is kept too (in the same order), so after a change the run is
    re-joined from them instead of re-encoding every variable.
    """

    def __init__(self) -> None:
        self._values: dict[str, str] = {}
        self._json: dict[str, bytes] | None = None
        self._plain: dict[str, bytes] | None = None
        #: names set since their encodings in ``_json``/``_plain`` were made (placeholders)
        self._stale: set[str] = set()
        self._headers: VariableHeaders | None = None

    def set(self, name: str, value: str | None) -> None:
        old = self._values.pop(name, None)
        keep = value is not None and value != ""
        if old is None and not keep:
            return  # nothing was there, nothing is: no change
        json, plain = self._json, self._plain
        if json is not None:
            json.pop(name, None)
        if plain is not None:
            plain.pop(name, None)
        if value is not None and keep:
            self._values[name] = value
            if json is not None or plain is not None:  # keep the order; encode when asked
                if json is not None:
                    json[name] = b""
                if plain is not None:
                    plain[name] = b""
                self._stale.add(name)
        self._headers = None

    def _refresh(self) -> None:
        """Encode the variables set since the encodings were last used."""
        values, json, plain = self._values, self._json, self._plain
        for name in self._stale:
            value = values.get(name)
            if value is None:
                continue  # set, then unset: no longer in the dicts
            if json is not None:
                json[name] = json_item(f"variable_{name}", value)
            if plain is not None:
                plain[name] = plain_item(f"variable_{name}", value)
        self._stale.clear()

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._values.get(name, default)

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def items(self) -> Iterator[tuple[str, str]]:
        return iter(list(self._values.items()))

    def __len__(self) -> int:
        return len(self._values)

    def headers(self) -> Headers:
        """The variables as they are now, as ``variable_<name>`` event headers."""
        if self._headers is None:
            self._headers = VariableHeaders(self, tuple(self._values.items()))
        return self._headers

    def current(self, headers: VariableHeaders) -> bool:
        """True while nothing was set since ``headers`` was made."""
        return self._headers is headers

    def encoded_json(self) -> Iterable[bytes]:
        """Every variable as a JSON member, in order (kept up to date from now on)."""
        self._json = self._encoded(self._json, json_item)
        return self._json.values()

    def encoded_plain(self) -> Iterable[bytes]:
        """Every variable as a plain header line, in order (kept up to date from now on)."""
        self._plain = self._encoded(self._plain, plain_item)
        return self._plain.values()

    def _encoded(self, cache: dict[str, bytes] | None,
                 item: Callable[[str, str], bytes]) -> dict[str, bytes]:
        """``cache`` brought up to date, or made with ``item`` if there is none yet."""
        if self._stale:
            self._refresh()
        if cache is None:
            cache = {k: item(f"variable_{k}", v) for k, v in self._values.items()}
        return cache


class VariableHeaders(Headers):
    """A snapshot of a channel's variables as event headers; encoded from the per-variable
    encodings :class:`Variables` keeps when it is still current, else from the snapshot."""

    __slots__ = ("_items", "_named", "_owner")

    def __init__(self, owner: Variables, items: tuple[tuple[str, str], ...]) -> None:
        super().__init__(())
        self._owner = owner
        self._items = items
        self._named: list[tuple[str, str]] | None = None

    @property
    def pairs(self) -> Pairs:
        if self._named is None:
            self._named = [(f"variable_{k}", v) for k, v in self._items]
        return self._named

    def json(self) -> bytes:
        if self._json is None:
            current = self._owner.current(self)
            self._json = b",".join(self._owner.encoded_json()) if current else super().json()
        return self._json

    def plain(self) -> bytes:
        if self._plain is None:
            current = self._owner.current(self)
            self._plain = b"".join(self._owner.encoded_plain()) if current else super().plain()
        return self._plain


@dataclass
class Message:
    """A ``sendmsg`` execute waiting to run on a channel."""

    app: str
    arg: str
    app_uuid: str
    loops: int = 1
    #: the sendmsg headers, echoed in front of the ``PRIVATE_COMMAND`` event
    lead: dict[str, str] = field(default_factory=dict)
    body: str | None = None


@dataclass
class CallerProfile:
    """The ``Caller-*`` headers of a channel (FreeSWITCH's caller profile)."""

    direction: str
    caller_id_name: str
    caller_id_number: str
    destination_number: str
    callee_id_name: str = ""
    callee_id_number: str = ""
    ani: str = ""
    dialplan: str = "xml"
    context: str = "default"
    source: str = "mod_sofia"


@dataclass
class Channel:
    """One leg of a call inside the simulated switch."""

    uuid: str
    name: str
    session_id: int
    profile: CallerProfile
    created_us: int
    state: ChannelState = ChannelState.CS_NEW
    running_state: ChannelState = ChannelState.CS_NEW
    call_state: CallState = CallState.DOWN
    answer_state: str = "ringing"
    hangup_cause: str | None = None
    variables: Variables = field(default_factory=Variables)
    answered_us: int = 0
    progress_us: int = 0
    progress_media_us: int = 0
    hangup_us: int = 0
    transfer_us: int = 0
    bridged_us: int = 0
    #: sendmsg ``execute`` messages waiting for the channel's control loop (park, socket).
    inbox: deque[Message] = field(default_factory=deque)
    #: Set whenever the control loop has something to look at (a message, a hangup, a transfer).
    wakeup: Signal = field(default_factory=Signal)
    #: Replaced and set each time a prompt starts (scripted callers wait on it).
    prompt_signal: Signal = field(default_factory=Signal)
    digits_dialed: str = ""
    transfer_to: tuple[str, str, str] | None = None  # (extension, dialplan, context)
    bridge_request: Channel | None = None
    bridge_driver: bool = False
    #: The route an originated leg runs once answered (``&park``, an extension …).
    pending_route: list[tuple[str, str]] | None = None
    #: Set by an outbound socket's ``exit``: the ``socket`` application ends.
    socket_done: bool = False
    answered: Signal = field(default_factory=Signal)
    #: FreeSWITCH's CF_CONTROLLED: set while ``park`` or ``socket`` runs (and the applications
    #: they run for ``sendmsg``); ``sendmsg`` to a channel without it is refused.
    controlled: Signal = field(default_factory=Signal)
    #: Background recordings (``record_session``): path → the event that stops it.
    recordings: dict[str, asyncio.Event] = field(default_factory=dict)
    codec: str = "PCMA"
    codec_bit_rate: str = "64000"
    hit_dialplan: bool = False
    #: Caller ID before a flip (``Caller-Orig-Caller-ID-*`` and ``Caller-ANI`` keep it).
    orig_caller_id_name: str = ""
    orig_caller_id_number: str = ""
    socket_session: object | None = None
    #: Digits received but not yet consumed by an application (type-ahead).
    dtmf: list[str] = field(default_factory=list)
    dtmf_arrived: Signal = field(default_factory=Signal)
    hungup: Signal = field(default_factory=Signal)
    destroyed: Signal = field(default_factory=Signal)
    application: str = ""
    application_data: str = ""
    bridged_to: Channel | None = None
    #: Set while a media application should stop early (``uuid_break``).
    break_media: Signal = field(default_factory=Signal)
    prompts_started: int = 0
    #: Every prompt the caller heard, in order (file paths; ``say:<text>`` for TTS).
    prompts: list[str] = field(default_factory=list)
    other_leg: Channel | None = None
    #: Keeps the channel from being destroyed (an outbound socket lingering on it).
    holds: int = 0
    released: Signal = field(default_factory=Signal)
    #: The channel block and caller profile as event headers, with what they were made from.
    _state_run: tuple[tuple[object, ...], Headers] | None = field(
        default=None, init=False, repr=False, compare=False)
    _caller_run: tuple[tuple[object, ...], Headers] | None = field(
        default=None, init=False, repr=False, compare=False)

    def up(self) -> bool:
        """True until the channel hangs up (a method: it changes across awaits)."""
        return self.hangup_cause is None

    @property
    def direction(self) -> str:
        return self.profile.direction

    def poke(self) -> None:
        self.wakeup.set()

    def on_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop the channel lives on: its signals need not look it up."""
        for signal in (self.wakeup, self.prompt_signal, self.answered, self.controlled,
                       self.dtmf_arrived, self.hungup, self.destroyed, self.break_media,
                       self.released):
            signal.on_loop(loop)

    def prompt_started(self, what: str = "") -> None:
        """A prompt begins: a file (its path) or speech (``say:`` and the text)."""
        self.prompts.append(what)
        self.prompts_started += 1
        signal, self.prompt_signal = self.prompt_signal, Signal()
        if signal._loop_seen is not None:
            self.prompt_signal.on_loop(signal._loop_seen)
        signal.set()

    def add_dtmf(self, digit: str) -> None:
        self.dtmf.append(digit)
        self.digits_dialed += digit
        self.dtmf_arrived.set()

    def channel_headers(self, include_profile: bool = True) -> dict[str, str]:
        """The channel block of an event, in the order of the captures."""
        p = self.profile
        h: dict[str, str] = {
            "Channel-State": self.running_state.name,
            "Channel-Call-State": self.call_state.name,
            "Channel-State-Number": str(int(self.state)),
            "Channel-Name": self.name,
            "Unique-ID": self.uuid,
            "Call-Direction": p.direction,
            "Presence-Call-Direction": p.direction,
            "Channel-HIT-Dialplan": "true" if self.hit_dialplan else "false",
            "Channel-Call-UUID": self.uuid,
            "Answer-State": self.answer_state,
        }
        if self.hangup_cause is not None:
            h["Hangup-Cause"] = self.hangup_cause
        h.update({
            "Channel-Read-Codec-Name": self.codec, "Channel-Read-Codec-Rate": "8000",
            "Channel-Read-Codec-Bit-Rate": self.codec_bit_rate,
            "Channel-Write-Codec-Name": self.codec, "Channel-Write-Codec-Rate": "8000",
            "Channel-Write-Codec-Bit-Rate": self.codec_bit_rate,
        })
        if include_profile:
            h.update(self.profile_headers("Caller"))
        return h

    def event_headers(self) -> tuple[Headers, Headers]:
        """The channel block of an event as two :class:`~.wire.Headers` runs — the channel's
        state and its ``Caller-*`` profile, what :meth:`channel_headers` returns — each made
        again only when something it shows has changed since the last event."""
        p = self.profile
        key: tuple[object, ...] = (
            self.running_state, self.call_state, self.state, self.name, self.uuid, p.direction,
            self.hit_dialplan, self.answer_state, self.hangup_cause, self.codec,
            self.codec_bit_rate)
        run = self._state_run
        if run is None or run[0] != key:
            run = self._state_run = (key, Headers(
                list(self.channel_headers(include_profile=False).items())))
        key = (p.direction, p.dialplan, p.caller_id_name, p.caller_id_number,
               p.callee_id_name, p.callee_id_number, p.ani, p.destination_number, p.source,
               p.context, self.orig_caller_id_name, self.orig_caller_id_number, self.uuid,
               self.name, self.created_us, self.answered_us, self.progress_us,
               self.progress_media_us, self.hangup_us, self.transfer_us, self.bridged_us)
        caller = self._caller_run
        if caller is None or caller[0] != key:
            caller = self._caller_run = (key, Headers(list(self.profile_headers("Caller").items())))
        return run[1], caller[1]

    def profile_headers(self, prefix: str) -> dict[str, str]:
        p = self.profile
        h: dict[str, str] = {
            f"{prefix}-Direction": p.direction,
            f"{prefix}-Logical-Direction": p.direction,
            f"{prefix}-Dialplan": p.dialplan,
        }
        orig_name = self.orig_caller_id_name or p.caller_id_name
        orig_number = self.orig_caller_id_number or p.caller_id_number
        if p.caller_id_name:
            h[f"{prefix}-Caller-ID-Name"] = p.caller_id_name
        h[f"{prefix}-Caller-ID-Number"] = p.caller_id_number
        if orig_name:
            h[f"{prefix}-Orig-Caller-ID-Name"] = orig_name
        h[f"{prefix}-Orig-Caller-ID-Number"] = orig_number
        if p.callee_id_name:
            h[f"{prefix}-Callee-ID-Name"] = p.callee_id_name
        if p.callee_id_number:
            h[f"{prefix}-Callee-ID-Number"] = p.callee_id_number
        h.update({
            f"{prefix}-ANI": p.ani or orig_number,
            f"{prefix}-Destination-Number": p.destination_number,
            f"{prefix}-Unique-ID": self.uuid,
            f"{prefix}-Source": p.source,
            f"{prefix}-Context": p.context,
            f"{prefix}-Channel-Name": self.name,
            f"{prefix}-Profile-Index": "1",
            f"{prefix}-Profile-Created-Time": str(self.created_us),
            f"{prefix}-Channel-Created-Time": str(self.created_us),
            f"{prefix}-Channel-Answered-Time": str(self.answered_us),
            f"{prefix}-Channel-Progress-Time": str(self.progress_us),
            f"{prefix}-Channel-Progress-Media-Time": str(self.progress_media_us),
            f"{prefix}-Channel-Hangup-Time": str(self.hangup_us),
            f"{prefix}-Channel-Transfer-Time": str(self.transfer_us),
            f"{prefix}-Channel-Resurrect-Time": "0",
            f"{prefix}-Channel-Bridged-Time": str(self.bridged_us),
            f"{prefix}-Channel-Last-Hold": "0",
            f"{prefix}-Channel-Hold-Accum": "0",
            f"{prefix}-Screen-Bit": "true",
            f"{prefix}-Privacy-Hide-Name": "false",
            f"{prefix}-Privacy-Hide-Number": "false",
        })
        return h

    def variable_headers(self) -> dict[str, str]:
        return {f"variable_{k}": v for k, v in self.variables.items()}

    def drop_dtmf(self) -> None:
        """Forget queued keys (their DTMF events were fired when they arrived)."""
        self.dtmf.clear()
        self.dtmf_arrived.clear()

    def take_dtmf(self) -> str | None:
        if self.dtmf:
            digit = self.dtmf.pop(0)
            if not self.dtmf:
                self.dtmf_arrived.clear()
            return digit
        return None

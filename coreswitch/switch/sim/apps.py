"""Dialplan applications of the simulated switch, with the events FreeSWITCH fires for each.

Each application is ``async def app(core, channel, arg) -> response`` and runs inside the
channel's task between ``CHANNEL_EXECUTE`` and ``CHANNEL_EXECUTE_COMPLETE`` (fired by
:meth:`SwitchCore.execute`); the response becomes ``Application-Response``.

Media applications last as long as :class:`~.core.MediaTiming` says, scaled by the clock speed,
and stop early on hangup, on ``uuid_break`` and (where FreeSWITCH does) on a DTMF digit.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from coreswitch.esl.names import EventName
from coreswitch.switch.sim.bridge import bridge_app
from coreswitch.switch.sim.channel import Channel
from coreswitch.switch.sim.signals import Signal, first_of

if TYPE_CHECKING:
    from coreswitch.switch.sim.core import SwitchCore

App = Callable[["SwitchCore", Channel, str], Awaitable[str]]

APPS: dict[str, App] = {}


def app(name: str) -> Callable[[App], App]:
    def register(fn: App) -> App:
        APPS[name] = fn
        return fn
    return register


async def run_app(core: SwitchCore, ch: Channel, name: str, arg: str) -> str:
    fn = APPS.get(name)
    if fn is None:
        return f"-ERR invalid application {name}"
    return await fn(core, ch, arg)


# -- waiting -------------------------------------------------------------------------------------

async def wait(core: SwitchCore, ch: Channel, seconds: float | None, *,
               dtmf: bool = False) -> str:
    """Wait ``seconds`` of switch time; ``"done"``, or why it ended early:
    ``"hangup"``, ``"break"`` (``uuid_break``/transfer) or ``"dtmf"`` (a digit is waiting)."""
    if not ch.up():
        return "hangup"
    if ch.break_media.is_set():
        return "break"
    if dtmf and ch.dtmf:
        return "dtmf"
    reasons = {ch.hungup: "hangup", ch.break_media: "break"}
    if dtmf:
        reasons[ch.dtmf_arrived] = "dtmf"
    timeout = None if seconds is None else core.clock.real(seconds)
    fired = {reasons[s] for s in await first_of(list(reasons), timeout)}
    for reason in ("hangup", "break", "dtmf"):
        if reason in fired:
            return reason
    return "done"


def playback_terminators(ch: Channel) -> str:
    """The keys that stop ``playback``: ``playback_terminators`` (``none``, ``any`` or digits);
    FreeSWITCH's default is ``*``."""
    value = ch.variables.get("playback_terminators")
    if value is None:
        return "*"
    if value.lower() == "none":
        return ""
    if value.lower() == "any":
        return "0123456789*#ABCD"
    return value.replace("+", "").replace("x", "")


async def play_media(core: SwitchCore, ch: Channel, seconds: float, *, interruptible: bool,
                     terminators: str) -> tuple[str, float]:
    """``seconds`` of audio and the keys pressed meanwhile (see :func:`play_file`): how it
    ended (:func:`wait`'s word) and the seconds played."""
    started = core.clock.now()
    while True:
        left = seconds - (core.clock.now() - started)
        status = await wait(core, ch, left, dtmf=True)
        if status != "dtmf" or interruptible:
            break
        while ch.dtmf and ch.dtmf[0] not in terminators:
            ch.take_dtmf()  # not a terminator: read and ignored
        if ch.dtmf:
            break
    return status, min(seconds, core.clock.now() - started)


async def play_file(core: SwitchCore, ch: Channel, path: str, *, interruptible: bool,
                    typed: bool = False, terminators: str = "") -> str:
    """One file: PLAYBACK_START, its duration, PLAYBACK_STOP (``done`` or ``break``).

    ``interruptible``: any key stops it (a collecting application). Otherwise every key pressed
    meanwhile is read (``playback``'s DTMF callback): one of ``terminators`` stops it, any other
    is dropped. Either way the stopping key stays queued for the caller (``"dtmf"``)."""
    ch.prompt_started(path)
    fields: dict[str, str] = {}
    if typed and path.startswith("tone_stream://"):
        fields["Playback-File-Type"] = "tone_stream"
    fields["Playback-File-Path"] = path
    core.fire(EventName.PLAYBACK_START, ch, fields)
    status, played = await play_media(core, ch, core.media.file_seconds(path),
                                      interruptible=interruptible, terminators=terminators)
    ms = int(played * 1000)
    v = ch.variables
    v.set("playback_last_offset_pos", str(ms * 8))
    v.set("playback_seconds", str(ms // 1000))
    v.set("playback_ms", str(ms))
    v.set("playback_samples", str(ms * 8))
    fields["Playback-Status"] = "done" if status == "done" else "break"
    core.fire(EventName.PLAYBACK_STOP, ch, fields)
    if status == "break" and ch.up() and ch.transfer_to is None:
        ch.break_media.clear()
    return status


async def collect(core: SwitchCore, ch: Channel, *, max_digits: int, first_timeout: float,
                  digit_timeout: float, terminators: str) -> tuple[str, str]:
    """Collect digits; returns (digits, the terminator pressed or "")."""
    digits = ""
    while ch.up() and len(digits) < max_digits:
        digit = ch.take_dtmf()
        if digit is None:
            status = await wait(core, ch, digit_timeout if digits else first_timeout, dtmf=True)
            if status != "dtmf":
                break
            continue
        if digit in terminators:
            return digits, digit
        digits += digit
    return digits, ""


# -- applications --------------------------------------------------------------------------------

@app("answer")
async def answer(core: SwitchCore, ch: Channel, arg: str) -> str:
    core.answer(ch)
    ch.variables.set("endpoint_disposition", "ANSWER")
    return "_none_"


@app("pre_answer")
async def pre_answer(core: SwitchCore, ch: Channel, arg: str) -> str:
    if ch.up() and not ch.progress_media_us:
        ch.progress_media_us = core.clock.now_us()
        if ch.answer_state == "ringing":
            ch.answer_state = "early"
        core.fire(EventName.CHANNEL_PROGRESS_MEDIA, ch)
    ch.variables.set("endpoint_disposition", "EARLY MEDIA")
    return "_none_"


@app("ring_ready")
async def ring_ready(core: SwitchCore, ch: Channel, arg: str) -> str:
    if ch.up() and not ch.progress_us:
        core.ring(ch)
    return "_none_"


@app("playback")
async def playback(core: SwitchCore, ch: Channel, arg: str) -> str:
    if not ch.up():
        return "_none_"
    ch.variables.set("playback_terminator_used", None)
    status = await play_file(core, ch, arg, interruptible=False, typed=True,
                             terminators=playback_terminators(ch))
    if status == "dtmf":
        ch.variables.set("playback_terminator_used", ch.take_dtmf())
    # mod_dptools: SWITCH_STATUS_SUCCESS and SWITCH_STATUS_BREAK both report "FILE PLAYED"
    response = "FILE PLAYED"
    ch.variables.set("current_application_response", response)
    return response


@app("speak")
async def speak(core: SwitchCore, ch: Channel, arg: str) -> str:
    """``speak engine|voice|text``: no PLAYBACK events (FreeSWITCH fires none for TTS); keys
    as ``playback`` reads them (``playback_terminators``)."""
    text = arg.split("|", 2)[-1]
    ch.prompt_started(f"say:{text}")
    ch.variables.set("playback_terminator_used", None)
    status, _ = await play_media(core, ch, core.media.speech_seconds(text), interruptible=False,
                                 terminators=playback_terminators(ch))
    if status == "dtmf":
        ch.variables.set("playback_terminator_used", ch.take_dtmf())
    if ch.break_media.is_set() and ch.up():
        ch.break_media.clear()
    return "_none_"


@app("sleep")
async def sleep(core: SwitchCore, ch: Channel, arg: str) -> str:
    ms = int(arg) if arg.strip().isdigit() else 0
    await wait(core, ch, ms / 1000)
    if ch.break_media.is_set() and ch.up():
        ch.break_media.clear()
    return "_none_"


def _int(text: str, default: int) -> int:
    text = text.strip()
    return int(text) if text.lstrip("-").isdigit() else default


@app("play_and_get_digits")
async def play_and_get_digits(core: SwitchCore, ch: Channel, arg: str) -> str:
    """``min max tries timeout terminators file invalid_file var regexp [digit_timeout]
    [transfer_on_failure]`` — FreeSWITCH's argument order."""
    a = arg.split(" ", 10)
    a += [""] * (11 - len(a))
    min_d, max_d, tries = _int(a[0], 0), _int(a[1], 128), max(1, _int(a[2], 1))
    timeout = _int(a[3], 5000) / 1000
    terminators = "" if a[4] in ("none", "") else a[4]
    prompt, invalid, var = a[5], a[6], a[7] or "pagd_input"
    pattern = a[8] or ".*"
    digit_timeout = _int(a[9], int(timeout * 1000)) / 1000
    transfer = a[10].strip()
    v = ch.variables
    for _ in range(tries):
        if not ch.up():
            break
        if prompt and prompt != "silence":
            status = await play_file(core, ch, prompt, interruptible=True)
            if status in ("hangup", "break") and (not ch.up() or ch.transfer_to):
                break
        digits, terminator = await collect(core, ch, max_digits=max_d, first_timeout=timeout,
                                           digit_timeout=digit_timeout, terminators=terminators)
        if not ch.up():
            break
        if terminator:
            v.set("read_terminator_used", terminator)
        # switch_ivr_read's verdict: too few digits fail; a terminator or a full buffer
        # succeed; otherwise the inter-digit timer ended it (still accepted by pagd)
        if len(digits) < min_d or not digits:
            v.set("read_result", "failure" if digits else "timeout")
        else:
            full = terminator or len(digits) >= max_d
            v.set("read_result", "success" if full else "timeout")
            if re.fullmatch(pattern, digits):
                v.set(var, digits)
                return "_none_"
        if digits:
            v.set(f"{var}_invalid", digits)
        if invalid and invalid != "silence" and ch.up():
            await play_file(core, ch, invalid, interruptible=True)
    v.set(var, None)
    if transfer and ch.up():
        parts = transfer.split()
        parts += ["XML", "default"][len(parts) - 1:]
        ch.transfer_to = (parts[0], parts[1], parts[2])
    return "_none_"


@app("read")
async def read(core: SwitchCore, ch: Channel, arg: str) -> str:
    """``min max sound_file variable timeout terminators``."""
    a = arg.split(" ", 5)
    a += [""] * (6 - len(a))
    min_d, max_d = _int(a[0], 0), _int(a[1], 128)
    prompt, var = a[2], a[3] or "read_input"
    timeout = _int(a[4], 5000) / 1000
    terminators = a[5] or "#"
    if prompt and prompt != "silence":
        await play_file(core, ch, prompt, interruptible=True)
    digits, _ = await collect(core, ch, max_digits=max_d, first_timeout=timeout,
                              digit_timeout=timeout, terminators=terminators)
    v = ch.variables
    if not ch.up():
        v.set("read_result", "failure")
    elif len(digits) >= min_d and digits:
        v.set(var, digits)
        v.set("read_result", "success")
    else:
        v.set(var, None)
        v.set("read_result", "timeout")
    return "_none_"


@app("record")
async def record(core: SwitchCore, ch: Channel, arg: str) -> str:
    """``record path [time_limit_secs] [silence_thresh] [silence_hits]``: stops at the limit,
    a terminator digit (``playback_terminators``, default ``*#``), hangup or ``uuid_break``."""
    parts = arg.split()
    path = parts[0] if parts else ""
    limit = float(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 3600.0
    started = core.clock.now()
    core.fire(EventName.RECORD_START, ch, {"Record-File-Path": path})
    terminators = ch.variables.get("playback_terminators") or "*#"
    cause = "success-maxtime"
    while True:
        left = limit - (core.clock.now() - started)
        status = await wait(core, ch, left, dtmf=True)
        if status == "dtmf":
            digit = ch.take_dtmf()
            if digit is not None and digit in terminators:
                cause = "success-terminated"
                ch.variables.set("playback_terminator_used", digit)
                break
            continue
        if status != "done":
            cause = "success-terminated" if status == "break" else "hangup"
        break
    if ch.break_media.is_set() and ch.up():
        ch.break_media.clear()
    ms = int(min(limit, core.clock.now() - started) * 1000)
    v = ch.variables
    v.set("record_ms", str(ms))
    v.set("record_seconds", str(ms // 1000))
    v.set("record_samples", str(ms * 8))
    core.fire(EventName.RECORD_STOP, ch,
              {"Record-File-Path": path, "Record-Completion-Cause": cause})
    return "_none_"


def start_recording(core: SwitchCore, ch: Channel, path: str, limit: float | None) -> None:
    """Record in the background (``record_session``, ``uuid_record start``) until stopped,
    the limit or hangup: RECORD_START now, RECORD_STOP then."""
    if path in ch.recordings or not ch.up():
        return
    stop = Signal()
    ch.recordings[path] = stop
    started = core.clock.now()
    core.fire(EventName.RECORD_START, ch, {"Record-File-Path": path})

    async def run() -> None:
        await first_of((stop, ch.hungup), None if limit is None else core.clock.real(limit))
        ch.recordings.pop(path, None)
        ms = int((core.clock.now() - started) * 1000)
        ch.variables.set("record_ms", str(ms))
        ch.variables.set("record_seconds", str(ms // 1000))
        cause = "success-maxtime" if not stop.is_set() and ch.up() else "success-terminated"
        core.fire(EventName.RECORD_STOP, ch, {"Record-File-Path": path,
                                       "Record-Completion-Cause": cause})
    core.spawn(run(), f"sim-record-{ch.uuid}")


def stop_recording(core: SwitchCore, ch: Channel, path: str) -> None:
    for name, stop in list(ch.recordings.items()):
        if path in (name, "all"):
            stop.set()


@app("record_session")
async def record_session(core: SwitchCore, ch: Channel, arg: str) -> str:
    parts = arg.split()
    if parts:
        limit = float(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        start_recording(core, ch, parts[0], limit)
    return "_none_"


@app("stop_record_session")
async def stop_record_session(core: SwitchCore, ch: Channel, arg: str) -> str:
    stop_recording(core, ch, arg.strip() or "all")
    return "_none_"


@app("set")
async def set_(core: SwitchCore, ch: Channel, arg: str) -> str:
    """``set name=value``: the value is expanded once more (mod_dptools' ``base_set``), on top
    of the expansion every application argument gets."""
    name, _, value = arg.partition("=")
    ch.variables.set(name.strip(), await core.expand(ch, value) if value else value)
    return "_none_"


@app("export")
async def export(core: SwitchCore, ch: Channel, arg: str) -> str:
    name, _, value = arg.partition("=")
    name = name.strip().removeprefix("nolocal:")
    ch.variables.set(name, value)
    exported = ch.variables.get("export_vars")
    ch.variables.set("export_vars", f"{exported},{name}" if exported else name)
    return "_none_"


@app("unset")
async def unset(core: SwitchCore, ch: Channel, arg: str) -> str:
    ch.variables.set(arg.strip(), None)
    return "_none_"


@app("hangup")
async def hangup(core: SwitchCore, ch: Channel, arg: str) -> str:
    core.hangup(ch, arg.strip() or "NORMAL_CLEARING")
    return "_none_"


@app("park")
async def park(core: SwitchCore, ch: Channel, arg: str) -> str:
    core.fire(EventName.CHANNEL_PARK, ch)
    await core.control_loop(ch)
    core.fire(EventName.CHANNEL_UNPARK, ch)
    return "_none_"


@app("transfer")
async def transfer(core: SwitchCore, ch: Channel, arg: str) -> str:
    parts = arg.split()
    if parts:
        parts += ["XML", "default"][len(parts) - 1:]
        ch.transfer_to = (parts[0], parts[1], parts[2])
    return "_none_"


@app("socket")
async def socket(core: SwitchCore, ch: Channel, arg: str) -> str:
    if core.socket_runner is None:
        return "-ERR no outbound sockets in this switch"
    return await core.socket_runner(ch, arg)


@app("bridge")
async def bridge(core: SwitchCore, ch: Channel, arg: str) -> str:
    return await bridge_app(core, ch, arg)


for _noop in ("log", "info", "event", "ring", "respond", "send_display", "sched_hangup"):
    async def _nothing(core: SwitchCore, ch: Channel, arg: str) -> str:
        return "_none_"
    APPS[_noop] = _nothing

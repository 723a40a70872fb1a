"""The verbs that speak, hand over, record or reach other systems: ``say``, ``play``,
``language``, ``hangup``, ``transfer``, ``queue``, ``record``, ``voicemail``, ``work_order``,
``sms``, ``notify`` — and plugin verbs.

A verb with a ``failure`` route takes it when the service or the switch refuses; one without
carries on with the next statement (``sms``/``notify``) — the failure is in the transcript and
the log either way. Text that may come from the caller or a CRM (numbers to transfer to,
SMS recipients) is checked before it reaches the switch.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar

from coreswitch.media.errors import RecordingError
from coreswitch.media.recording import Kind
from coreswitch.runtime.channel import CallChannel
from coreswitch.runtime.interpreter import FlowRun, Op, op
from coreswitch.runtime.services import QueueRequest, ServiceFailed
from coreswitch.runtime.session import CallerHungUp

log = logging.getLogger("coreswitch.flow")
T = TypeVar("T")

#: What a transfer target may contain: numbers, extensions, SIP-ish user@host.
_DIAL_TARGET = re.compile(r"[0-9A-Za-z_.@+*#-]{1,64}")
_CAUSE = re.compile(r"[A-Z_]{1,40}")


def _seconds(value: object, default: float) -> float:
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, int | float):
        return float(value)
    return default


def _route(step: Op, name: str) -> int | None:
    target = step.get("routes", {}).get(name)
    return None if target is None else int(target)


@op("say")
async def say(run: FlowRun, step: Op, pc: int) -> int | None:
    lang = run.arg(step, "lang")
    await run.play({"text": step["args"]["text"]}, barge=bool(run.arg(step, "barge", True)),
                   lang=str(lang) if lang else None)
    return pc + 1


@op("play")
async def play(run: FlowRun, step: Op, pc: int) -> int | None:
    await run.play(step["args"]["prompt"], barge=bool(run.arg(step, "barge", True)))
    return pc + 1


@op("language")
async def language(run: FlowRun, step: Op, pc: int) -> int | None:
    run.lang = str(run.arg(step, "lang"))
    run.transcript.add("language", lang=run.lang)
    return pc + 1


@op("hangup")
async def hangup(run: FlowRun, step: Op, pc: int) -> int | None:
    cause = str(run.arg(step, "cause", "NORMAL_CLEARING"))
    if not _CAUSE.fullmatch(cause):
        cause = "NORMAL_CLEARING"
    run.transcript.add("hangup", cause=cause, by="flow", state=run.frame.qualified())
    await run.channel.hangup(cause)
    run.end("hangup", cause)
    return None


@op("transfer")
async def transfer(run: FlowRun, step: Op, pc: int) -> int | None:
    to = str(run.arg(step, "to", ""))
    failure = _route(step, "failure")
    if not _DIAL_TARGET.fullmatch(to):
        run.transcript.add("transfer", to=to, ok=False, reason="invalid number")
        return pc + 1 if failure is None else failure
    caller_id = run.arg(step, "caller_id")
    if caller_id:
        await run.channel.set_variable("effective_caller_id_number", str(caller_id))
    timeout = _seconds(run.arg(step, "timeout"), 30.0)
    dial = run.deps.transfer_dial.format(to=to)  # `to` is number-like: no "/" or ","
    try:
        with run.conversation():
            result = await run.channel.bridge(dial, timeout=timeout)
            run.transcript.add("transfer", to=to, ok=result.answered, reason=result.cause)
            if result.answered:  # the conversation is over: the call ends with it
                run.transcript.add("hangup", cause="NORMAL_CLEARING", by="flow",
                                   state=run.frame.qualified())
                await run.channel.hangup("NORMAL_CLEARING")
                run.end("transfer", "NORMAL_CLEARING")
    except CallerHungUp:
        run.transcript.add("transfer", to=to, ok=None, reason="caller hung up")
        raise
    return pc + 1 if failure is None else failure


class _QueueCall:
    """The call as the ACD sees it while the caller waits (music, speech, transcript)."""

    def __init__(self, run: FlowRun) -> None:
        self.run = run

    @property
    def channel(self) -> CallChannel:
        return self.run.channel

    async def say(self, text: str) -> str | None:
        run = self.run
        try:
            path = await run.deps.renderer.render(text, run.lang)
        except Exception as exc:  # a TTS fault costs the announcement, never the call
            log.error("cannot render queue announcement %r: %s", text[:40], exc)
            return None
        run.transcript.add("prompt", text=text, lang=run.lang, file=path, barged=False)
        return path

    def note(self, kind: str, **data: object) -> None:
        self.run.transcript.add(kind, **data)


#: Where each queue result goes when the flow has no route of that name.
_QUEUE_FALLBACK = {"timeout": "overflow", "no_agents": "overflow", "exit": "overflow",
                   "answered": "after"}


@op("queue")
async def queue(run: FlowRun, step: Op, pc: int) -> int | None:
    args: Mapping[str, Any] = step["args"]
    skills = run.arg(step, "skills", [])
    callback_after = run.arg(step, "callback_after")
    exit_key = run.arg(step, "exit_key")
    request = QueueRequest(
        queue=str(args["queue"]), priority=int(run.arg(step, "priority", 0)),  # type: ignore[call-overload]
        skills=tuple(str(s) for s in skills) if isinstance(skills, list) else (),
        max_wait=_seconds(run.arg(step, "max_wait"), 300.0),
        hold_music=await run.files(args.get("hold_music")),
        announce=await run.files(args.get("announce")),
        announce_every=_seconds(run.arg(step, "announce_every"), 60.0),
        announce_position=bool(run.arg(step, "announce_position", False)),
        callback_after=None if callback_after is None else _seconds(callback_after, 0.0),
        callback_prompt=await run.files(args.get("callback_prompt")),
        callback_key=str(run.arg(step, "callback_key", "1"))[:1] or "1",
        exit_key=None if exit_key is None else str(exit_key)[:1] or None)
    entry = run.transcript.add("queue", queue=request.queue, priority=request.priority,
                               skills=list(request.skills))
    run.caller_turn()
    mark = len(run.transcript.entries)
    outcome = await run.deps.services.queue(run.call_info(), request, _QueueCall(run))
    joined = next((e.get("position") for e in run.transcript.entries[mark:]
                   if e["event"] == "queue_position"), None)
    entry.update(result=outcome.result, reason=outcome.reason, agent=outcome.agent,
                 waited=outcome.waited, position=joined)
    result = outcome.result
    if result == "answered" and run.channel.hangup_cause is not None:
        raise CallerHungUp(run.channel.hangup_cause)  # the caller ended the conversation
    if result == "abandoned":
        target = _route(step, "abandoned")
        if target is None:
            raise CallerHungUp(run.channel.hangup_cause or "NORMAL_CLEARING")
        run.caller_gone()  # the route runs without media: the first prompt ends the run
        return target
    target = _route(step, result)
    if target is None and result in _QUEUE_FALLBACK:
        target = _route(step, _QUEUE_FALLBACK[result])
    if target is None and result in ("answered", "callback"):
        await run.channel.hangup("NORMAL_CLEARING")
        run.end("hangup", "NORMAL_CLEARING")
    if target is None:
        return pc + 1
    return target


async def _recording(run: FlowRun, step: Op, kind: Kind, box: str | None) -> tuple[str, str]:
    """Prompt, beep, record; returns (recording id or file, why it stopped)."""
    args = step["args"]
    await run.play(args.get("prompt"), barge=False)
    if bool(run.arg(step, "beep", True)):
        await run.channel.play(run.deps.beep, barge=False)
    max_seconds = int(_seconds(run.arg(step, "max"), 120.0))
    silence = int(_seconds(run.arg(step, "silence"), 5.0))
    terminator = str(run.arg(step, "terminator", "#"))
    store = run.deps.recordings
    target = None
    if store is not None:
        try:
            target = await asyncio.to_thread(
                store.begin, kind, call_id=run.call_id, ani=run.ani, dnis=run.dnis,
                flow=str(run.ir.get("name")), state=run.frame.qualified(), started=run.now(),
                mailbox=box)
        except RecordingError as exc:
            log.error("no place for a recording: %s", exc)
    ident = (target.meta.id if target is not None
             else f"{kind}/{run.call_id}-{len(run.transcript.entries)}")
    path = str(target.audio) if target is not None else f"{ident}.wav"
    began = run.elapsed()
    reason = "silence"
    run.caller_turn()
    try:
        run.media_busy = True
        # the channel keeps the last terminator used: clear it, so it says this recording's
        await run.channel.set_variable("playback_terminator_used", "")
        done = await run.channel.record(path, max_seconds=max_seconds,
                                        silence_seconds=silence, terminators=terminator)
        run.media_busy = False
        used = getattr(done, "variable", lambda _name: None)("playback_terminator_used")
        if used and used in terminator:
            reason = "terminator"
        elif run.elapsed() - began >= max_seconds - 0.01:
            reason = "max"
    except CallerHungUp:
        reason = "hangup"
        raise
    finally:
        if target is not None and store is not None:
            with contextlib.suppress(RecordingError, OSError):
                await asyncio.to_thread(store.finish, target, reason=reason,
                                        duration=round(run.elapsed() - began, 3))
        run.transcript.add(kind, **({"box": box} if box else {}), recording=ident,
                           seconds=round(run.elapsed() - began, 1), reason=reason)
    return ident, reason


@op("record")
async def record(run: FlowRun, step: Op, pc: int) -> int | None:
    ident, _ = await _recording(run, step, "record", None)
    into = step["args"].get("into")
    if into:
        run.assign(str(into), ident)
    return pc + 1


@op("voicemail")
async def voicemail(run: FlowRun, step: Op, pc: int) -> int | None:
    await _recording(run, step, "voicemail", str(run.arg(step, "box")))
    return pc + 1


class _Refused(Exception):
    """A service said no: the verb's failure route (or the next statement) follows."""


async def _service(run: FlowRun, step: Op, work: Awaitable[T], **shown: object) -> T:
    """Run a service call for a verb; on failure write the transcript entry and raise
    :class:`_Refused`. A caller hanging up meanwhile cancels the work and ends the run."""
    try:
        return await run.unless_hung_up(work)
    except CallerHungUp:
        raise
    except Exception as exc:
        run.transcript.add(str(step["op"]), **shown, ok=False, reason=_reason(exc))
        raise _Refused from exc


def _failure(step: Op, pc: int) -> int:
    failure = _route(step, "failure")
    return pc + 1 if failure is None else failure


@op("work_order")
async def work_order(run: FlowRun, step: Op, pc: int) -> int | None:
    kind = str(run.arg(step, "type"))
    fields = {name: run.eval(expr) for name, expr in step.get("fields", {}).items()}
    department, priority = run.arg(step, "department"), run.arg(step, "priority")
    try:
        number = await _service(run, step, run.deps.services.work_order(
            run.call_info(), type=kind, department=None if department is None else str(department),
            priority=None if priority is None else str(priority), fields=fields), type=kind)
    except _Refused:
        return _failure(step, pc)
    run.transcript.add("work_order", type=kind, number=number, department=department,
                       fields={k: run.shown(k, v, step["fields"][k]) for k, v in fields.items()})
    into = step["args"].get("into")
    if into:
        run.assign(str(into), number)
    return pc + 1


def _reason(exc: Exception) -> str:
    if isinstance(exc, ServiceFailed):
        return str(exc) or "refused"
    log.warning("service failed: %s: %s", type(exc).__name__, exc)
    return f"error: {type(exc).__name__}"


@op("sms")
async def sms(run: FlowRun, step: Op, pc: int) -> int | None:
    to, text = str(run.arg(step, "to", "")), str(run.arg(step, "text", ""))
    try:
        await _service(run, step, run.deps.services.sms(run.call_info(), to=to, text=text), to=to)
    except _Refused:
        return _failure(step, pc)
    run.transcript.add("sms", to=to, text=text, ok=True)
    return pc + 1


@op("notify")
async def notify(run: FlowRun, step: Op, pc: int) -> int | None:
    channel = str(step["args"].get("channel"))
    to, text = str(run.arg(step, "to", "")), str(run.arg(step, "text", ""))
    try:
        await _service(run, step, run.deps.services.notify(
            run.call_info(), channel=channel, to=to, text=text), channel=channel, to=to)
    except _Refused:
        return _failure(step, pc)
    run.transcript.add("notify", channel=channel, to=to, text=text, ok=True)
    return pc + 1


@op("$plugin")
async def plugin_verb(run: FlowRun, step: Op, pc: int) -> int | None:
    """A verb a plugin declared; until plugins can run verbs (plugins issue) it fails."""
    run.transcript.add("error", state=run.frame.qualified(),
                       message=f"verb {step['op']!r} of plugin {step.get('plugin')!r} "
                               "is not available")
    return _failure(step, pc)

"""``menu``, ``collect`` and ``survey``: the timing model of docs/flow-language.md, exactly.

Keys come from the call's DTMF buffer (:meth:`CallSession.read_digits`), so keys pressed during
a prompt (barge-in) or before it (type-ahead) count as typed at once. After a no-input or a
no-match, keys still buffered are discarded before the handler's prompt, so a caller who typed
too much hears the retry prompt instead of a second failure.

Each menu/collect keeps its counts while its state is entered (``retry`` keeps them, entering
the state again starts from zero). The handler for a failure is the one with the highest count
not above that kind's count; when the failures reach ``tries`` the handler runs and the
``maxtries`` route is taken.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from coreswitch.runtime.interpreter import FlowFault, FlowRun, InputCounts, Op, op

SURVEY_TIMEOUT = 5.0


@lru_cache(maxsize=256)
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


def _counts(run: FlowRun, pc: int) -> tuple[InputCounts, str | None]:
    """The counts of the input at ``pc`` and how it was reached (None: afresh)."""
    frame = run.frame
    mode = frame.pending.pop(pc, None)
    if mode is None or pc not in frame.inputs:
        frame.inputs[pc] = InputCounts()
    return frame.inputs[pc], mode


def _maxtries(run: FlowRun, step: Op) -> int | None:
    run.transcript.add("maxtries", state=run.frame.qualified())
    target = step.get("maxtries")
    if target is None:
        raise FlowFault(f"{step['op']} in {run.frame.qualified()!r} has no maxtries route")
    return int(target)


def _failure(run: FlowRun, step: Op, pc: int, counts: InputCounts, kind: str) -> int | None:
    counts.failures += 1
    count = counts.noinput + 1 if kind == "noinput" else counts.nomatch + 1
    if kind == "noinput":
        counts.noinput = count
    else:
        counts.nomatch = count
    run.transcript.add(kind, state=run.frame.qualified(), count=count)
    run.channel.clear_digits()
    handlers = [h for h in step.get(kind, []) if h["count"] <= count]
    if handlers:
        return int(max(handlers, key=lambda h: h["count"])["pc"])
    if counts.failures >= int(step.get("tries", 3)):
        return _maxtries(run, step)
    run.frame.pending[pc] = "retry"
    return pc


async def _prompt(run: FlowRun, step: Op, mode: str | None) -> None:
    ref = step.get("short") if mode == "retry" and step.get("short") else step.get("prompt")
    await run.play(ref, barge=bool(step.get("barge", True)))


@op("menu")
async def menu(run: FlowRun, step: Op, pc: int) -> int | None:
    counts, mode = _counts(run, pc)
    if mode == "retry" and counts.failures >= int(step.get("tries", 3)):
        return _maxtries(run, step)
    here = (run.frame.scope, run.frame.state)
    if not run.menu_history or run.menu_history[-1] != here:
        run.menu_history.append(here)
    await _prompt(run, step, mode)
    keys, reason = await _menu_keys(run, step)
    run.transcript.add("input", state=run.frame.qualified(), digits=keys, reason=reason)
    if not keys:
        return _failure(run, step, pc, counts, "noinput")
    target = match_key(step.get("keys", []), keys)
    if target is None:
        return _failure(run, step, pc, counts, "nomatch")
    run.transcript.add("route", state=run.frame.qualified(), choice=f"key {keys}")
    return target


def match_key(keys: list[Mapping[str, Any]], typed: str) -> int | None:
    """Exact keys first, then patterns in order (whole match)."""
    for k in keys:
        if not k["regex"] and k["key"] == typed:
            return int(k["pc"])
    for k in keys:
        if k["regex"] and _pattern(k["key"]).fullmatch(typed):
            return int(k["pc"])
    return None


async def _menu_keys(run: FlowRun, step: Op) -> tuple[str, str]:
    exact = [k["key"] for k in step.get("keys", []) if not k["regex"]]
    limit = int(step.get("digits") or 1)
    timeout = int(step.get("timeout_ms", 5000)) / 1000
    inter = int(step.get("inter_digit_ms", 2000)) / 1000
    keys = ""
    run.waiting_for_input()
    while True:
        got = await run.channel.read_digits(first_digit=timeout, inter_digit=inter,
                                            max_digits=1, terminators="")
        if not got.digits:
            return keys, "inter_digit" if keys else "timeout"
        key = got.digits
        if key == "#" and not any(k.startswith(keys + "#") for k in exact):
            return keys, "terminator"
        keys += key
        longer = any(k.startswith(keys) and k != keys for k in exact)
        if keys in exact and not longer:
            return keys, "match"
        if len(keys) >= limit:
            return keys, "max"
        timeout = inter


@op("collect")
async def collect(run: FlowRun, step: Op, pc: int) -> int | None:
    counts, mode = _counts(run, pc)
    if mode == "retry" and counts.failures >= int(step.get("tries", 3)):
        return _maxtries(run, step)
    await _prompt(run, step, mode)
    low, high = int(step.get("min", 1)), int(step.get("max", 20))
    run.waiting_for_input()
    got = await run.channel.read_digits(
        first_digit=int(step.get("first_digit_ms", 5000)) / 1000,
        inter_digit=int(step.get("inter_digit_ms", 3000)) / 1000,
        max_digits=high, terminators=str(step.get("terminator") or ""))
    var = str(step["var"])
    secret = bool(step.get("sensitive")) or run.is_sensitive(var)
    run.transcript.add("input", state=run.frame.qualified(),
                       digits="***" if secret and got.digits else got.digits,
                       reason=got.reason)
    if not got.digits:
        return _failure(run, step, pc, counts, "noinput")
    ok = low <= len(got.digits) <= high
    pattern = step.get("pattern")
    if ok and pattern:
        ok = _pattern(str(pattern)).fullmatch(got.digits) is not None
    if ok and step.get("valid") is not None:
        frame = run.frame
        had, before = var in frame.vars, frame.vars.get(var)
        run.assign(var, got.digits)
        ok = bool(run.eval(step["valid"]))
        if not ok:
            if had:
                frame.vars[var] = before
            else:
                frame.vars.pop(var, None)
    if not ok:
        return _failure(run, step, pc, counts, "nomatch")
    run.assign(var, got.digits)
    return pc + 1


@op("retry")
async def retry(run: FlowRun, step: Op, pc: int) -> int | None:
    target = int(step["pc"])
    run.frame.pending[target] = "retry"
    return target


@op("repeat")
async def repeat(run: FlowRun, step: Op, pc: int) -> int | None:
    target = int(step["pc"])
    run.frame.pending[target] = "repeat"
    return target


@op("survey")
async def survey(run: FlowRun, step: Op, pc: int) -> int | None:
    answers: dict[str, str] = {}
    for question in step.get("questions", []):
        await run.play(question["prompt"], barge=True)
        run.waiting_for_input()
        got = await run.channel.read_digits(first_digit=SURVEY_TIMEOUT, inter_digit=1.0,
                                            max_digits=1, terminators="")
        if got.digits and got.digits in str(question.get("keys", "")):
            answers[question["name"]] = got.digits
        run.channel.clear_digits()
    run.transcript.add("survey", name=step["name"], answers=answers)
    try:
        await run.deps.services.survey(run.call_info(), name=step["name"], answers=answers)
    except Exception as exc:  # losing a survey answer must not end the call
        run.transcript.add("error", state=run.frame.qualified(),
                           message=f"survey not stored: {type(exc).__name__}")
    return pc + 1

"""Scripted callers: what the person on the line does, step by step.

A script is a list of steps run in order once the call is placed:

* :class:`Press` — key digits (DTMF events with ``DTMF-Source: RTP``), ``gap`` seconds apart;
* :class:`Wait` — stay silent for a while;
* :class:`Hangup` — hang up (``NORMAL_CLEARING``).

``Press`` and ``Hangup`` can wait for a prompt first: ``on_prompt=2`` waits until the call's
second prompt has started (prompts are counted per call: every file a ``playback``,
``play_and_get_digits`` or ``read`` starts, and every ``speak``), ``next_prompt=True`` for the
next prompt after the previous step; ``after`` then delays the step. Anchoring to prompts
keeps scripts deterministic whatever the controller's latency. Times are switch seconds.

The same script can be written as text (the ``coreswitch sim`` CLI)::

    press 1 on prompt 1 after 0.5; wait 2; press 1234# next prompt; hangup after 3
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from coreswitch.switch.sim.channel import Channel
from coreswitch.switch.sim.core import SwitchCore
from coreswitch.switch.sim.signals import first_of


@dataclass(frozen=True)
class Press:
    digits: str
    after: float = 0.0
    on_prompt: int | None = None
    next_prompt: bool = False
    gap: float = 0.1


@dataclass(frozen=True)
class Wait:
    seconds: float


@dataclass(frozen=True)
class Hangup:
    after: float = 0.0
    on_prompt: int | None = None
    next_prompt: bool = False
    cause: str = "NORMAL_CLEARING"


Step = Press | Wait | Hangup


def parse(text: str) -> list[Step]:
    """Parse the text form (see the module docstring)."""
    return [_parse_step(raw.split(), raw.strip()) for raw in text.split(";") if raw.split()]


def _parse_step(words: list[str], raw: str) -> Step:
    kind, rest = words[0].lower(), words[1:]
    if kind == "wait":
        if len(rest) != 1:
            raise ValueError(f"wait needs seconds: {raw!r}")
        return Wait(float(rest[0]))
    if kind not in ("press", "hangup"):
        raise ValueError(f"unknown caller step {kind!r} (press, wait, hangup)")
    digits = ""
    if kind == "press":
        if not rest:
            raise ValueError(f"press needs digits: {raw!r}")
        digits = rest.pop(0)
    after, on_prompt, next_prompt = 0.0, None, False
    i = 0
    while i < len(rest):
        word = rest[i].lower()
        following = [w.lower() for w in rest[i + 1:i + 3]]
        if word == "after" and following:
            after, i = float(following[0]), i + 2
        elif word == "on" and len(following) == 2 and following[0] == "prompt":
            on_prompt, i = int(following[1]), i + 3
        elif word == "next" and following[:1] == ["prompt"]:
            next_prompt, i = True, i + 2
        else:
            raise ValueError(f"cannot read {rest[i]!r} in {raw!r}")
    if kind == "press":
        return Press(digits, after, on_prompt, next_prompt)
    return Hangup(after, on_prompt, next_prompt)


async def until_prompt(ch: Channel, count: int) -> None:
    """Wait until the channel has started its ``count``-th prompt, or is hung up."""
    while ch.up() and ch.prompts_started < count:
        await first_of((ch.hungup, ch.prompt_signal))


async def _pause(core: SwitchCore, ch: Channel, seconds: float) -> None:
    if seconds <= 0:
        return
    await first_of((ch.hungup,), core.clock.real(seconds))


#: How a script ended: it ran to its end, the caller hung up (its ``hangup`` step), or the call
#: ended under it (a step found the channel gone).
Outcome = Literal["done", "hung_up", "call_ended"]


async def run(core: SwitchCore, ch: Channel, steps: Sequence[Step], *,
              after_key: Callable[[], None] | None = None) -> Outcome:
    """Play the caller's part on ``ch`` until the script ends or the call does.
    ``after_key`` runs right after each key's DTMF event is fired (the load benchmark's clock)."""
    for step in steps:
        if not ch.up():
            return "call_ended"
        if isinstance(step, Wait):
            await _pause(core, ch, step.seconds)
            continue
        if step.on_prompt is not None:
            await until_prompt(ch, step.on_prompt)
        elif step.next_prompt:
            await until_prompt(ch, ch.prompts_started + 1)
        await _pause(core, ch, step.after)
        if not ch.up():
            return "call_ended"
        if isinstance(step, Hangup):
            return "hung_up" if core.hangup(ch, step.cause) else "call_ended"
        for i, digit in enumerate(step.digits):
            if i:
                await _pause(core, ch, step.gap)
            if not ch.up():
                return "call_ended"
            core.dtmf(ch, digit, source="RTP")
            if after_key is not None:
                after_key()
    return "done"

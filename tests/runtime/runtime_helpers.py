"""Shared helpers for the flow-runtime tests: compile a small flow, run one call, read it.

Every call runs through :class:`~coreswitch.runtime.harness.SimHarness` (the simulated switch
and the outbound ESL session over memory) on the virtual-time loop, so timings are exact and
a minute of call time costs nothing. Prompts are rendered by the harness's virtual renderer:
a spoken text lasts ``len(text) / 5`` seconds (at least 0.5 s).
"""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dsl
from coreswitch.media.recording import RecordingStore
from coreswitch.runtime.functions import FunctionRegistry
from coreswitch.runtime.harness import SimHarness
from coreswitch.runtime.interpreter import Deps, RunResult
from coreswitch.runtime.prompts import VirtualRenderer
from coreswitch.runtime.services import CallServices, LocalServices
from coreswitch.runtime.virtual_time import run as run_virtual
from coreswitch.switch.sim import caller as caller_mod
from dsl.diagnostics import render
from dsl.environment import Environment

IR = dict[str, Any]
AT = dt.datetime(2026, 11, 23, 10, 0)  # a Monday morning


def compile_flow(source: str, env: Environment | None = None) -> IR:
    """Compile an inline flow (dedented); fails the test with the diagnostics on errors."""
    text = textwrap.dedent(source).lstrip("\n")
    ir, diags = dsl.compile_source(text, env)
    if ir is None:
        raise AssertionError("flow does not compile:\n" + "\n".join(
            render(d, "<flow>", text) for d in diags if d.is_error))
    return ir


def seconds(text: str) -> float:
    """How long the virtual renderer lets ``text`` play."""
    return max(0.5, len(text) / 5.0)


@dataclass
class Call:
    """One finished call and what it left behind."""

    result: RunResult
    services: LocalServices | CallServices
    commands: list[Any] = field(default_factory=list)  # sim Command objects, in order

    @property
    def command_lines(self) -> list[str]:
        return [c.line for c in self.commands]

    def wire(self) -> str:
        """Every command as sent: first line, headers and body."""
        return "\n\n".join(c.to_bytes().decode("utf-8", "replace") for c in self.commands)

    @property
    def outcome(self) -> str:
        return self.result.outcome

    @property
    def entries(self) -> list[dict[str, Any]]:
        return self.result.transcript.entries

    def of(self, event: str) -> list[dict[str, Any]]:
        return self.result.transcript.of(event)

    def heard(self) -> list[str]:
        return [e.get("text") or e.get("file") or "" for e in self.of("prompt")]

    def states(self) -> list[str]:
        return [e["state"] for e in self.of("state")]

    def inputs(self) -> list[tuple[int, str, str]]:
        return [(e["t"], e["digits"], e["reason"]) for e in self.of("input")]

    def events(self) -> list[str]:
        return [e["event"] for e in self.entries]

    def var(self, name: str) -> object:
        return self.result.variables.get(name)

    def dump(self) -> str:
        return "\n".join(self.result.transcript.lines())


def place_call(ir: IR, *, caller: Sequence[caller_mod.Step] | str = (),
               functions: Mapping[str, Callable[..., object]] | FunctionRegistry | None = None,
               services: CallServices | None = None, recordings: RecordingStore | None = None,
               ani: str = "13800138000", dnis: str = "", caller_name: str = "",
               answers: Sequence[str] | None = None, hangup_when_done: bool = False,
               seed: int | str | None = 1, at: dt.datetime | None = AT,
               settings: Mapping[str, object] | None = None,
               call_limit: float = 3600.0) -> Call:
    """Run one call through ``ir`` on a fresh virtual-time loop."""
    if isinstance(functions, FunctionRegistry):
        registry = functions
    else:
        registry = FunctionRegistry()
        for name, impl in (functions or {}).items():
            registry.register(name, impl, provider="test")
    svc: CallServices = services if services is not None else LocalServices()

    async def main() -> Call:
        async with SimHarness(call_limit=call_limit) as harness:
            deps = Deps(registry, svc, VirtualRenderer(), recordings=recordings,
                        settings=dict(settings or {}))
            deps.renderer = harness.virtual_renderer()
            result = await harness.call(ir, deps, ani=ani, dnis=dnis, caller=caller, at=at,
                                        seed=seed, caller_name=caller_name, answers=answers,
                                        hangup_when_done=hangup_when_done)
            return Call(result, svc, list(harness.switch.commands))

    return run_virtual(main())


def press(digits: str, after: float = 0.0, gap: float = 0.1) -> caller_mod.Press:
    return caller_mod.Press(digits, after=after, gap=gap)


def wait(seconds_: float) -> caller_mod.Wait:
    return caller_mod.Wait(seconds_)


def hangup(after: float = 0.0) -> caller_mod.Hangup:
    return caller_mod.Hangup(after=after)

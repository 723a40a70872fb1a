"""The flow interpreter: runs a compiled flow (``dsl`` IR) on one call.

One :class:`FlowRun` per call. It keeps a stack of frames (the main flow, and a frame per running
subflow), each at a state and a program counter into that state's op list, and executes ops until
the flow hangs up, transfers, the caller hangs up, or something breaks:

* caller hang-up at any point (:class:`~coreswitch.runtime.session.CallerHungUp`) ends the run
  cleanly, recorded as ``hangup`` with ``"by": "caller"``;
* guards: ``max_duration`` interrupts whatever is playing or waiting and runs the guard's action
  once; ``max_visits`` (flow-wide or per state) sends a state entered once too often to its
  guard action; a guard action that itself runs into a guard ends the call;
* a fault — an expression that cannot be evaluated, a missing state — is logged with the flow's
  file line, recorded as ``error``, and the call is handed back to the switch (``fallback``):
  in FreeSWITCH the dialplan continues after the ``socket`` action, so its fallback (an
  operator, a recorded apology) takes the call. coreswitch never drops a call because of a bug.

Ops are described in docs/flow-language.md ("The compiled form"); the menu/collect timing model
is in :mod:`coreswitch.runtime.inputs`, media and service verbs in :mod:`coreswitch.runtime.verbs`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from coreswitch.media.recording import RecordingStore
from coreswitch.runtime.channel import CallChannel
from coreswitch.runtime.functions import FunctionFailed, FunctionRegistry
from coreswitch.runtime.prompts import PromptBook, Renderer, Utterance
from coreswitch.runtime.services import CallInfo, CallServices
from coreswitch.runtime.session import CallerHungUp
from coreswitch.runtime.transcript import MASK, Transcript
from dsl.calendar import CalendarView
from dsl.errors import EvalError
from dsl.expr import EvalEnv, evaluate

log = logging.getLogger("coreswitch.flow")

IR = dict[str, Any]
Op = Mapping[str, Any]
DEFAULT_TZ = "Asia/Shanghai"
T = TypeVar("T")
#: Functions whose result may show a sensitive value (the checker's W504 agrees).
SAFE_FUNCTIONS = frozenset({"mask", "last4", "len"})


class FlowFault(Exception):
    """The flow cannot go on (a bug in the flow or the runtime, never the caller's doing)."""


class _End(Exception):
    """The flow ended the call (hangup, transfer) — unwinds the op loop."""


@dataclass
class Deps:
    """What every call of a deployment shares."""

    functions: FunctionRegistry
    services: CallServices
    renderer: Renderer
    recordings: RecordingStore | None = None
    settings: Mapping[str, object] = field(default_factory=dict)
    sounds_dir: str | None = None
    transfer_dial: str = "user/{to}"
    beep: str = "tone_stream://%(500,0,800)"


@dataclass
class InputCounts:
    """Failure counts of one menu/collect while its state is entered (reset on entry)."""

    failures: int = 0
    noinput: int = 0
    nomatch: int = 0


@dataclass
class Frame:
    scope: str  # "" for the main flow, else the subflow's name
    states: Mapping[str, Any]
    vars: dict[str, object]
    sensitive: frozenset[str]
    result: str | None = None  # the parent's variable that receives the outputs
    state: str = ""
    pc: int = 0
    inputs: dict[int, InputCounts] = field(default_factory=dict)
    pending: dict[int, str] = field(default_factory=dict)  # pc → "retry" | "repeat"

    def qualified(self, state: str | None = None) -> str:
        name = state if state is not None else self.state
        return f"{self.scope}.{name}" if self.scope else name


@dataclass
class RunResult:
    """How a call ended and what happened on it."""

    outcome: str  # hangup | caller_hangup | transfer | fallback
    cause: str | None
    transcript: Transcript
    variables: dict[str, object]
    covered: set[tuple[str, str, int]]
    states: list[str]


_ZERO: dict[str, object] = {"text": "", "int": 0, "bool": False, "list": [], "record": {}}


def zero(type_name: str | None) -> object:
    if type_name is None:
        return ""
    if type_name.startswith("list"):
        return []
    if type_name.startswith("record"):
        return {}
    return _ZERO.get(type_name, "")


class _Scope(Mapping[str, object]):
    """The variables an expression sees: the frame's, then globals, settings and built-ins."""

    def __init__(self, run: FlowRun) -> None:
        self._run = run

    def __getitem__(self, name: str) -> object:
        run = self._run
        frame = run.frame
        if name in frame.vars:
            return frame.vars[name]
        if name in run.globals:
            return run.globals[name]
        if name in run.settings:
            return run.settings[name]
        if name in run.calendars:
            return CalendarView(run.calendars[name], run.now())
        return run.builtin(name)

    def __iter__(self) -> Iterator[str]:
        run = self._run
        yield from {*run.frame.vars, *run.globals, *run.settings, *run.calendars,
                    "caller", "call", "now", "today"}

    def __len__(self) -> int:
        return sum(1 for _ in self)


OpHandler = Callable[["FlowRun", Op, int], Awaitable[int | None]]
#: Op name → handler; filled by this module and by coreswitch.runtime.inputs/verbs.
OPS: dict[str, OpHandler] = {}


def op(name: str) -> Callable[[OpHandler], OpHandler]:
    def register(fn: OpHandler) -> OpHandler:
        OPS[name] = fn
        return fn
    return register


class FlowRun:
    """One call through one compiled flow."""

    def __init__(self, ir: IR, channel: CallChannel, deps: Deps, *, ani: str, dnis: str,
                 caller_name: str = "", call_id: str | None = None,
                 version: int | None = None, started_at: dt.datetime | None = None,
                 seed: int | str | None = None) -> None:
        self.ir = ir
        self.channel = channel
        self.deps = deps
        self.ani, self.dnis, self.caller_name = ani, dnis, caller_name
        self.call_id = call_id or channel.uuid
        self.version = version
        loop = asyncio.get_running_loop()
        self._loop_time = loop.time
        self._t0 = loop.time()
        cals = ir.get("calendars", {})
        self.calendars: Mapping[str, Any] = cals
        tz_name = next((c.get("timezone") for c in cals.values() if c.get("timezone")),
                       DEFAULT_TZ)
        self.tz = ZoneInfo(tz_name)
        if started_at is None:
            self._start = dt.datetime.now(self.tz)
        elif started_at.tzinfo is None:  # wall-clock time where the flow's calendar is
            self._start = started_at.replace(tzinfo=self.tz)
        else:
            self._start = started_at.astimezone(self.tz)
        self.transcript = Transcript(self._loop_time)
        self.book = PromptBook(ir, sounds_dir=deps.sounds_dir)
        self.lang: str = (ir.get("languages") or ["zh"])[0]
        self.rng = random.Random(seed if seed is not None else self.call_id)
        self.visits: Counter[str] = Counter()
        self.covered: set[tuple[str, str, int]] = set()
        self.menu_history: list[tuple[str, str]] = []
        self.states_entered: list[str] = []
        self.globals: dict[str, object] = {}
        self.settings: dict[str, object] = {}
        self._in_guard = False
        #: True while the switch plays or records for this call (a guard must stop it).
        self.media_busy = False
        #: The caller has gone; the flow runs on without media (see :meth:`caller_gone`).
        self.gone = False
        self._ended: tuple[str, str | None] = ("hangup", None)
        self._guard_timer: tuple[asyncio.Timeout, float | None] | None = None
        #: Called when the flow starts waiting for keys (menu, collect, survey): lets a
        #: simulated caller answer each prompt in turn (``coreswitch call --dtmf``).
        self.on_input: Callable[[FlowRun], None] | None = None
        variables = ir.get("variables", {})
        self.stack: list[Frame] = [Frame("", ir["states"], {}, self._sensitive(variables))]
        self._init_variables(variables, self.frame)

    # -- time, variables ----------------------------------------------------------------------
    def elapsed(self) -> float:
        return self._loop_time() - self._t0

    def now(self) -> dt.datetime:
        return self._start + dt.timedelta(seconds=self.elapsed())

    def builtin(self, name: str) -> object:
        if name == "caller":
            return {"ani": self.ani, "dnis": self.dnis, "name": self.caller_name}
        if name == "call":
            return {"id": self.call_id, "language": self.lang, "started": self._start,
                    "duration": dt.timedelta(seconds=int(self.elapsed()))}
        if name == "now":
            return self.now()
        if name == "today":
            return self.now().date()
        raise EvalError(f"no value for '{name}'")

    @property
    def frame(self) -> Frame:
        return self.stack[-1]

    def env(self) -> EvalEnv:
        # A fresh view each time: one kept on the run would make the run a reference cycle,
        # left to the garbage collector instead of freed when the call ends.
        return EvalEnv(_Scope(self))

    def eval(self, expr: Any) -> object:
        return evaluate(expr, self.env())

    def arg(self, op: Op, name: str, default: object = None) -> object:
        """An op argument: IR expressions evaluated, names and prompt references as they are."""
        value = op.get("args", {}).get(name)
        if value is None:
            return default
        if isinstance(value, list):
            return self.eval(value)
        return value

    @staticmethod
    def _sensitive(variables: Mapping[str, Any]) -> frozenset[str]:
        return frozenset(n for n, v in variables.items() if v.get("sensitive"))

    def _init_variables(self, variables: Mapping[str, Any], frame: Frame) -> None:
        for name, spec in variables.items():
            scope = spec.get("scope")
            if scope == "setting" and name in self.deps.settings:
                self.settings[name] = self.deps.settings[name]
                continue
            value = zero(spec.get("type"))
            if spec.get("default") is not None:
                try:
                    value = self.eval(spec["default"])
                except EvalError as exc:
                    log.warning("flow %s: default of %s: %s", self.ir.get("name"), name, exc)
            if scope == "global":
                self.globals.setdefault(name, value)
            elif scope == "setting":
                self.settings[name] = value
            else:
                frame.vars[name] = value

    def assign(self, name: str, value: object) -> None:
        frame = self.frame
        if name in frame.vars or name not in self.globals:
            frame.vars[name] = value
        else:
            self.globals[name] = value

    def is_sensitive(self, name: str) -> bool:
        return name in self.frame.sensitive

    def shown(self, name: str, value: object, expr: Any = None) -> object:
        """``value`` as the transcript may show it: masked when ``name`` is sensitive or
        ``expr`` (the expression it came from) reads a sensitive variable."""
        return MASK if self.is_sensitive(name) or self.reads_sensitive(expr) else value

    def reads_sensitive(self, expr: Any) -> bool:
        """Does an IR expression expose a variable the current frame marks sensitive?
        ``mask(…)``, ``last4(…)`` and ``len(…)`` of one do not (as the checker's W504)."""
        sensitive = self.frame.sensitive
        if not sensitive or not isinstance(expr, list) or not expr:
            return False
        if expr[0] == "var" and len(expr) == 2:
            return expr[1] in sensitive
        if expr[0] == "call" and len(expr) > 1 and expr[1] in SAFE_FUNCTIONS:
            return False
        return any(self.reads_sensitive(part) for part in expr)

    def variables(self) -> dict[str, object]:
        """The main flow's view of its variables (for test expectations)."""
        main = self.stack[0]
        return {**self.settings, **self.globals, **main.vars}

    def line(self, frame: Frame | None = None) -> int | None:
        frame = frame or self.frame
        lines = self.ir.get("source_map", {}).get(frame.qualified(), [])
        return lines[frame.pc] if 0 <= frame.pc < len(lines) else None

    def call_info(self) -> CallInfo:
        return CallInfo(self.call_id, self.ani, self.dnis, str(self.ir.get("name")),
                        self.version, self.frame.qualified(), self.now())

    def waiting_for_input(self) -> None:
        self.caller_turn()
        if self.on_input is not None:
            self.on_input(self)

    def caller_turn(self) -> None:
        """The flow waits for the caller (keys, a recording, a queue): a guard action that
        started earlier is over. Until then, running into a guard again ends the call — so a
        loop of states that never waits cannot spin between a guard and its action."""
        self._in_guard = False

    def caller_gone(self) -> None:
        """The caller hung up but the flow goes on without media (a queue's ``abandoned``
        route: work orders, SMS, notifications, variables). The hangup is in the transcript
        now; the first step that needs the caller ends the run quietly."""
        if not self.gone:
            self.gone = True
            self.transcript.add("hangup", cause=self.channel.hangup_cause or "NORMAL_CLEARING",
                                by="caller", state=self.frame.qualified())

    async def unless_hung_up(self, work: Awaitable[T]) -> T:
        """Await ``work`` (a plugin function, a service) but give up on it as soon as the caller
        hangs up: the run ends then, not when a slow CRM finally answers. After
        :meth:`caller_gone` the work runs to its end (that is what the route is for)."""
        hung_up = getattr(self.channel, "hung_up", None)
        if self.gone or not isinstance(hung_up, asyncio.Event):
            return await work
        task = asyncio.ensure_future(work)
        gone = asyncio.ensure_future(hung_up.wait())
        try:
            await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            if not task.done():
                task.cancel()
        if not task.done() or task.cancelled():
            raise CallerHungUp(self.channel.hangup_cause or "NORMAL_CLEARING")
        failure = task.exception()
        if failure is None:
            return task.result()
        # Re-raise without this frame holding the task: the exception's traceback holds this
        # frame, and a frame -> task -> exception -> traceback -> frame cycle would keep the
        # whole call (run, session, connection) alive until a full garbage collection.
        del task, gone
        try:
            raise failure
        finally:
            del failure

    # -- prompts ------------------------------------------------------------------------------
    async def play(self, ref: Mapping[str, Any] | None, *, barge: bool = True,
                   lang: str | None = None) -> bool:
        """Play a prompt reference; True when the caller pressed a key during it (barge-in)."""
        for utt in self.book.resolve(ref, lang or self.lang, self.env()):
            path = await self.media_file(utt)
            if path is None:
                continue
            entry = self.transcript.add("prompt", text=utt.text, lang=utt.lang, file=path)
            self.media_busy = True
            barged = await self.channel.play(path, barge=barge)
            self.media_busy = False  # left set when a guard cancels the prompt
            entry["barged"] = barged
            if barged:
                return True
        return False

    async def media_file(self, utt: Utterance) -> str | None:
        if utt.file is not None:
            return utt.file
        text = utt.spoken or utt.text
        if not text:
            return None
        try:
            return await self.deps.renderer.render(text, utt.lang)
        except Exception as exc:  # a TTS fault costs the prompt, never the call
            log.error("cannot render prompt %r: %s", text[:40], exc)
            self.transcript.add("error", state=self.frame.qualified(),
                                message=f"text-to-speech failed: {type(exc).__name__}")
            return None

    async def files(self, ref: Mapping[str, Any] | None) -> list[str]:
        out = []
        for utt in self.book.resolve(ref, self.lang, self.env()):
            path = await self.media_file(utt)
            if path is not None:
                out.append(path)
        return out

    # -- control ------------------------------------------------------------------------------
    def goto(self, name: str) -> None:
        """Enter a state of the current frame (visit guards apply)."""
        frame = self.frame
        states = frame.states
        if name not in states:
            raise FlowFault(f"unknown state {frame.qualified(name)!r}")
        key = frame.qualified(name)
        self.visits[key] += 1
        count = self.visits[key]
        st = states[name]
        guards = self.ir.get("guards") or {}
        own_limit, global_limit = st.get("max_visits"), guards.get("max_visits")
        if own_limit and count > own_limit and st.get("max_visits_pc") is not None:
            self._guard("max_visits", key, lambda: self._position(name, st["max_visits_pc"]))
            return
        if (global_limit and count > global_limit and not name.startswith("$")
                and guards.get("max_visits_pc") is not None):
            self._guard("max_visits", key,
                        lambda: self._to_guard_state(guards["max_visits_pc"]))
            return
        self._position(name, 0)
        self.states_entered.append(key)
        self.transcript.add("state", state=key)

    def _position(self, name: str, pc: int) -> None:
        frame = self.frame
        frame.state, frame.pc = name, pc
        frame.inputs.clear()
        frame.pending.clear()

    def _to_guard_state(self, pc: int) -> None:
        del self.stack[1:]
        guard_state = (self.ir.get("guards") or {}).get("guard_state", "$guards")
        self._position(guard_state, pc)

    def _guard(self, kind: str, state: str, redirect: Callable[[], None]) -> None:
        self.transcript.add("guard", guard=kind, state=state)
        if self._in_guard:
            raise _GuardLoop(state)
        self._in_guard = True
        redirect()

    def top(self) -> None:
        del self.stack[1:]
        self.goto(self.ir["start"])

    # -- running ------------------------------------------------------------------------------
    async def run(self) -> RunResult:
        """Run the flow until the call ends; never raises for anything the call does."""
        self.transcript.add("call", flow=self.ir.get("name"), version=self.version,
                            hash=self.ir.get("content_hash"), ani=self.ani, dnis=self.dnis,
                            at=self._start.isoformat(timespec="minutes"))
        outcome, cause = "hangup", None
        try:
            await self.channel.answer()
            self.goto(self.ir["start"])
            await self._run_guarded()
            outcome, cause = self._ended
            if self.gone:
                outcome, cause = "caller_hangup", self.channel.hangup_cause
        except CallerHungUp as exc:
            outcome, cause = "caller_hangup", exc.cause
            if not self.gone:
                self.transcript.add("hangup", cause=exc.cause, by="caller",
                                    state=self.frame.qualified())
        except _GuardLoop as exc:
            outcome, cause = "hangup", "NORMAL_CLEARING"
            self.transcript.add("error", state=exc.state,
                                message="a guard action ran into a guard again")
            self.transcript.add("hangup", cause=cause, by="flow", state=exc.state)
            await self._hangup(cause)
        except (FlowFault, EvalError) as exc:
            outcome, cause = "fallback", None
            self._fault(str(exc))
        except Exception as exc:
            outcome, cause = "fallback", None
            log.exception("flow %s crashed", self.ir.get("name"))
            self._fault(f"internal error: {type(exc).__name__}")
        return RunResult(outcome, cause, self.transcript, self.variables(), self.covered,
                         self.states_entered)

    def _fault(self, message: str) -> None:
        line = self.line()
        log.error("flow %s, state %s (line %s): %s; handing the call back to the dialplan",
                  self.ir.get("name"), self.frame.qualified(), line, message)
        self.transcript.add("error", state=self.frame.qualified(), line=line, message=message)
        self.transcript.add("fallback")

    async def _hangup(self, cause: str) -> None:
        with contextlib.suppress(CallerHungUp):
            await self.channel.hangup(cause)

    def end(self, outcome: str, cause: str | None) -> None:
        self._ended = (outcome, cause)
        raise _End

    async def _run_guarded(self) -> None:
        guards = self.ir.get("guards") or {}
        limit_ms = guards.get("max_duration_ms")
        deadline = (self._t0 + limit_ms / 1000
                    if limit_ms and guards.get("max_duration_pc") is not None else None)
        while True:
            try:
                async with asyncio.timeout_at(deadline) as cm:
                    self._guard_timer = (cm, deadline)
                    await self._ops()
                return
            except _End:
                return
            except TimeoutError:
                if deadline is None or not cm.expired():
                    raise
                deadline = None
                await self._stop_media()
                self._guard("max_duration", self.frame.qualified(),
                            lambda: self._to_guard_state(guards["max_duration_pc"]))

    @contextlib.contextmanager
    def conversation(self) -> Iterator[None]:
        """While the caller talks to a person (a bridged transfer), ``max_duration`` waits:
        the guard ends IVR time, never a conversation. It fires afterwards if it is due."""
        cm, deadline = self._guard_timer or (None, None)
        if cm is None or deadline is None:
            yield
            return
        cm.reschedule(None)
        try:
            yield
        finally:
            cm.reschedule(max(deadline, self._loop_time()))

    async def _stop_media(self) -> None:
        """Stop what the switch still plays or records after a guard cancelled the op waiting
        for it (cancelling our side of a ``playback`` does not stop the switch's)."""
        if not self.media_busy:
            return
        self.media_busy = False
        stop = getattr(self.channel, "stop_media", None)
        peer = getattr(self.channel, "peer", None)
        with contextlib.suppress(Exception):
            if stop is not None:
                await stop()
            elif peer is not None:
                await peer.api("uuid_break", f"{self.channel.uuid} all", check=False)

    async def _ops(self) -> None:
        while True:
            frame = self.frame
            code = frame.states[frame.state]["code"]
            pc = frame.pc
            if not 0 <= pc < len(code):
                raise FlowFault(f"state {frame.qualified()!r} ended without a jump")
            step = code[pc]
            self.covered.add((frame.scope, frame.state, pc))
            handler = OPS.get(step["op"]) or (OPS["$plugin"] if "plugin" in step else None)
            if handler is None:
                raise FlowFault(f"unknown op {step['op']!r}")
            nxt = await handler(self, step, pc)
            if nxt is not None:
                self.frame.pc = nxt


class _GuardLoop(Exception):
    def __init__(self, state: str) -> None:
        super().__init__(state)
        self.state = state


# -- control ops --------------------------------------------------------------------------------

@op("goto")
async def _goto(run: FlowRun, step: Op, pc: int) -> int | None:
    run.goto(step["state"])
    return None


@op("jump")
async def _jump(run: FlowRun, step: Op, pc: int) -> int | None:
    return int(step["pc"])


@op("branch")
async def _branch(run: FlowRun, step: Op, pc: int) -> int | None:
    return pc + 1 if run.eval(step["cond"]) else int(step["else"])


@op("switch")
async def _switch(run: FlowRun, step: Op, pc: int) -> int | None:
    subject = run.eval(step["subject"])
    for values, target in step["cases"]:
        if any(run.eval(v) == subject for v in values):
            return int(target)
    return int(step["default"])


@op("set")
async def _set(run: FlowRun, step: Op, pc: int) -> int | None:
    for name, expr in step["assign"]:
        run.assign(name, run.eval(expr))
    return pc + 1


@op("split")
async def _split(run: FlowRun, step: Op, pc: int) -> int | None:
    roll = run.rng.uniform(0, 100)
    total = 0.0
    branches = step["branches"]
    for percent, target in branches:
        total += float(percent)
        if roll < total:
            run.transcript.add("route", state=run.frame.qualified(), choice=f"split {percent}%")
            return int(target)
    run.transcript.add("route", state=run.frame.qualified(),
                       choice=f"split {branches[-1][0]}%")
    return int(branches[-1][1])


@op("top")
async def _top(run: FlowRun, step: Op, pc: int) -> int | None:
    run.top()
    return None


@op("back")
async def _back(run: FlowRun, step: Op, pc: int) -> int | None:
    here = (run.frame.scope, run.frame.state)
    history = [m for m in run.menu_history if m != here]
    target = history[-1] if history else None
    if target is None:
        run.top()
        return None
    while run.frame.scope != target[0] and len(run.stack) > 1:
        run.stack.pop()
    run.goto(target[1])
    return None


@op("call")
async def _call(run: FlowRun, step: Op, pc: int) -> int | None:
    name = step["function"]
    args = [run.eval(a) for a in step["args"]]
    kwargs = {k: run.eval(v) for k, v in step["kwargs"].items()}
    declared = run.ir.get("functions", {}).get(name, {})
    timeout_ms = step.get("timeout_ms") or declared.get("timeout_ms")
    began = run.elapsed()
    try:
        value = await run.unless_hung_up(run.deps.functions.call(
            name, args, kwargs, timeout_ms / 1000 if timeout_ms else None))
    except FunctionFailed as exc:
        run.transcript.add("function", function=name, ok=False, reason=exc.reason,
                           ms=int((run.elapsed() - began) * 1000))
        failure = step.get("failure")
        return pc + 1 if failure is None else int(failure)
    result = step.get("result")
    run.transcript.add("function", function=name, ok=True,
                       ms=int((run.elapsed() - began) * 1000))
    if result:
        run.assign(result, value)
    return pc + 1


@op("run")
async def _run_subflow(run: FlowRun, step: Op, pc: int) -> int | None:
    name = step["subflow"]
    sub = run.ir["subflows"][name]
    values = [run.eval(a) for a in step["args"]]
    named = {k: run.eval(v) for k, v in step["kwargs"].items()}
    frame = Frame(name, sub["states"], {}, FlowRun._sensitive(sub.get("variables", {})),
                  result=step.get("result"))
    for (param, _type), value in zip(sub.get("inputs", []), values, strict=False):
        frame.vars[param] = value
    frame.vars.update(named)
    run.frame.pc = pc + 1  # where the caller continues
    run.stack.append(frame)
    run._init_variables({k: v for k, v in sub.get("variables", {}).items()
                         if k not in frame.vars}, frame)
    run.transcript.add("subflow", subflow=name)
    run.goto(sub["start"])
    return None


@op("return")
async def _return(run: FlowRun, step: Op, pc: int) -> int | None:
    if len(run.stack) == 1:
        raise FlowFault("'return' outside a subflow")
    values = {k: run.eval(v) for k, v in step["values"].items()}
    shown = {k: run.shown(k, v, step["values"][k]) for k, v in values.items()}
    frame = run.stack.pop()
    run.transcript.add("return", subflow=frame.scope, values=shown)
    if frame.result:
        run.assign(frame.result, values)
    return None


# register the input and verb ops
from coreswitch.runtime import inputs as _inputs  # noqa: E402, F401
from coreswitch.runtime import verbs as _verbs  # noqa: E402, F401

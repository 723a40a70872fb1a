"""Flow tests: the AST of ``test "name":`` blocks (in a flow or in a ``*.test.flow`` file).

A test is a script of caller steps (caller, at, press, silence, hangup), mocked function
answers (mock) and expectations (expect …). The runner (next issue) plays the steps on a
virtual clock; this module only builds and describes them. Expectation kinds:

=================  =====================================================================
``heard``          a prompt was heard whose text contains the string or matches ``r"…"``
``not_heard``      no prompt containing the string / matching the pattern was heard
``state``          the call reached the state (``sub.state`` for subflow states)
``queue``          the call joined the queue (optionally ``priority=N``)
``work_order``     a work order of the type was created (optionally with field values)
``hangup``         the call ended (optionally ``cause="…"``)
``transfer``       the call was transferred (optionally to a number)
``sms``            an SMS was sent (optionally ``to="…"``)
``voicemail``      a voicemail was left (optionally in a box)
``callback``       a booked callback was made later (``agent="1001"``, ``answered=true``)
``agent``          an agent answered calls (``expect agent "1001" answered=2``)
an expression      a boolean over the flow's variables at the end of the call
=================  =====================================================================

``expect queue`` options match the call's wait: ``result`` (answered, timeout, no_agents,
callback, exit, abandoned), ``agent``, ``position`` (on joining) and ``served_before`` (other
callers of that queue answered while this one waited).

ACD steps set the scene for ``queue``: ``agent "1001" queue=service answers_after=2s talk=60s``
(a virtual agent, logged in; ``no_answer=true``, ``busy=true``, ``skills="billing:4"``,
``tier=2``, ``logged_in=false``, ``away="lunch"``, ``available_after=30s``),
``waiting service callers=3 priority=0`` (other simulated callers in the queue, before this
call or ``after=5s``; ``hangup_after=D``) and ``queue_config service strategy="ring-all"
wrap_up=5s`` (any queue setting).
"""

from __future__ import annotations

from dataclasses import dataclass

from dsl import ast
from dsl.diagnostics import Diagnostic, did_you_mean, error
from dsl.expr import to_ir
from dsl.span import Span

EXPECT_KINDS = ("heard", "not_heard", "state", "queue", "work_order", "hangup", "transfer",
                "sms", "voicemail", "callback", "agent")
ACD_STEPS = ("agent", "waiting", "queue_config")
STEP_KINDS = ("caller", "at", "press", "silence", "hangup", "mock", "expect", *ACD_STEPS)


@dataclass(frozen=True, slots=True)
class Caller:
    ani: str
    dnis: str
    span: Span


@dataclass(frozen=True, slots=True)
class At:
    when: str  # "YYYY-MM-DD HH:MM" local time of the flow's first calendar (or Asia/Shanghai)
    span: Span


@dataclass(frozen=True, slots=True)
class Press:
    keys: str
    after_ms: int
    span: Span


@dataclass(frozen=True, slots=True)
class Silence:
    ms: int
    span: Span


@dataclass(frozen=True, slots=True)
class HangupStep:
    span: Span


@dataclass(frozen=True, slots=True)
class Mock:
    function: str
    returns: ast.Expr | None
    fails: str | None  # failure reason, when the mock fails
    span: Span
    function_span: Span


@dataclass(frozen=True, slots=True)
class Expect:
    kind: str  # one of EXPECT_KINDS, or "expr"
    value: ast.Expr | None  # text/pattern, state name, queue name, order type, or the expression
    options: tuple[ast.Option, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class AcdStep:
    """``agent "ID" …``, ``waiting QUEUE …`` or ``queue_config QUEUE …``."""

    kind: str
    name: str
    options: tuple[ast.Option, ...]
    span: Span


Step = Caller | At | Press | Silence | HangupStep | Mock | Expect | AcdStep


@dataclass(frozen=True, slots=True)
class TestCase:
    __test__ = False  # not a pytest test class

    name: str
    steps: tuple[Step, ...]
    span: Span


def build_test(st: ast.Stmt, diags: list[Diagnostic]) -> TestCase:
    name = ""
    if st.args and isinstance(st.args[0], ast.Pos) and isinstance(st.args[0].expr, ast.Lit):
        name = str(st.args[0].expr.value)
    else:
        diags.append(error("E601", "a test needs a name", st.head_span, 'test "挂失成功":'))
    steps: list[Step] = []
    for it in st.body or ():
        if not isinstance(it, ast.Stmt):
            diags.append(error("E601", "declarations are not allowed in a test", it.span))
            continue
        step = _step(it, diags)
        if step is not None:
            steps.append(step)
    return TestCase(name, tuple(steps), st.span)


def _lit(a: ast.Arg | None, kind: str) -> str | int | None:
    if isinstance(a, ast.Pos | ast.Kw) and isinstance(a.expr, ast.Lit) and a.expr.kind == kind:
        v = a.expr.value
        return v if isinstance(v, str | int) and not isinstance(v, bool) else None
    return None


def _kw(it: ast.Stmt, name: str) -> ast.Kw | None:
    return next((a for a in it.args if isinstance(a, ast.Kw) and a.name == name), None)


def _step(it: ast.Stmt, diags: list[Diagnostic]) -> Step | None:  # noqa: PLR0911, PLR0912, PLR0915
    h = it.head
    pos = [a for a in it.args if isinstance(a, ast.Pos)]

    def bad(msg: str, hint: str | None = None) -> None:
        diags.append(error("E601", msg, it.span, hint))

    if h == "caller":
        ani = _lit(_kw(it, "ani"), "text") or _lit(pos[0] if pos else None, "text") or ""
        dnis = _lit(_kw(it, "dnis"), "text") or ""
        if not ani:
            bad("caller needs ani=\"NUMBER\"", 'caller ani="13800000000" dnis="95598"')
        return Caller(str(ani), str(dnis), it.span)
    if h == "at":
        date = _lit(pos[0] if pos else None, "date")
        time = _lit(pos[1] if len(pos) > 1 else None, "time")
        text = _lit(pos[0] if pos else None, "text")
        if date and time:
            return At(f"{date} {time}", it.span)
        if isinstance(text, str) and len(text) == 16:
            return At(text, it.span)
        bad("'at' needs a date and a time", "at 2026-11-23 10:00")
        return None
    if h == "press":
        keys = _lit(pos[0] if pos else None, "text") or _lit(pos[0] if pos else None, "int")
        after = _lit(_kw(it, "after"), "duration") or 0
        if keys is None or (isinstance(keys, str) and
                            any(ch not in "0123456789*#" for ch in keys)):
            bad("'press' needs the keys as a string of digits, * and #", 'press "1234#"')
            return None
        return Press(str(keys), int(after), it.span)
    if h in ("silence", "wait"):
        ms = _lit(pos[0] if pos else None, "duration")
        if ms is None:
            bad(f"'{h}' needs a duration", "silence 6s")
            return None
        return Silence(int(ms), it.span)
    if h == "hangup":
        return HangupStep(it.span)
    if h == "mock":
        fn = pos[0].expr if pos else None
        fname = _dotted(fn)
        if fname is None or fn is None:
            bad("'mock' needs a function name", "mock billing.balance returns={\"amount\": 1}")
            return None
        returns_kw = _kw(it, "returns")
        fails_kw = _kw(it, "fails")
        flags = [a.expr.name for a in pos[1:] if isinstance(a.expr, ast.Name)]
        fails: str | None = None
        if fails_kw is not None:
            fails = str(_lit(fails_kw, "text") or "error")
        elif "fails" in flags:
            fails = "error"
        if returns_kw is None and fails is None:
            bad("'mock' needs returns=VALUE or fails", 'mock crm.lookup fails="timeout"')
        return Mock(fname, returns_kw.expr if returns_kw else None, fails, it.span, fn.span)
    if h in ACD_STEPS:
        first = pos[0].expr if pos else None
        name = (first.name if isinstance(first, ast.Name)
                else str(first.value) if isinstance(first, ast.Lit) else "")
        if not name:
            bad(f"'{h}' needs a name", {"agent": 'agent "1001" queue=service answers_after=2s',
                                         "waiting": "waiting service callers=3",
                                         "queue_config": 'queue_config service strategy="ring-all"'
                                         }[h])
            return None
        opts = tuple(ast.Option(a.name, a.expr, a.span) for a in it.args if isinstance(a, ast.Kw))
        return AcdStep(h, name, opts, it.span)
    if h == "expect":
        opts = tuple(ast.Option(a.name, a.expr, a.span) for a in it.args if isinstance(a, ast.Kw))
        first = pos[0].expr if pos else None
        if isinstance(first, ast.Name) and first.name in EXPECT_KINDS:
            value = pos[1].expr if len(pos) > 1 else None
            if value is None and first.name in ("heard", "not_heard", "state"):
                bad(f"'expect {first.name}' needs a value",
                    'expect heard "欢迎"' if first.name != "state" else "expect state main")
            return Expect(first.name, value, opts, it.span)
        if len(pos) == 1 and first is not None and not opts:
            return Expect("expr", first, (), it.span)
        bad("unknown expectation", did_you_mean(
            first.name if isinstance(first, ast.Name) else "", EXPECT_KINDS)
            or "expect " + "|".join(EXPECT_KINDS))
        return None
    diags.append(error("E601", f"unknown test step '{h}'", it.head_span,
                       did_you_mean(h, STEP_KINDS) or "steps: " + ", ".join(STEP_KINDS)))
    return None


def _dotted(e: ast.Expr | None) -> str | None:
    if isinstance(e, ast.Name):
        return e.name
    if isinstance(e, ast.Attr):
        base = _dotted(e.obj)
        return None if base is None else f"{base}.{e.name}"
    return None


def test_to_ir(case: TestCase) -> dict[str, object]:
    """A test case as plain data for the runner (expressions in :mod:`dsl.expr` IR form)::

        {"name": …, "line": 12, "steps": [
            {"step": "caller", "ani": "138…", "dnis": "95598"},
            {"step": "at", "when": "2026-11-23 10:00"},
            {"step": "press", "keys": "1", "after_ms": 2000},
            {"step": "silence", "ms": 6000},
            {"step": "hangup"},
            {"step": "mock", "function": "crm.lookup", "returns": EXPR | null, "fails": null},
            {"step": "expect", "kind": "heard", "value": EXPR | null, "options": {k: EXPR}},
        ]}
    """
    steps: list[dict[str, object]] = []
    for s in case.steps:
        line = s.span.line
        if isinstance(s, Caller):
            steps.append({"step": "caller", "ani": s.ani, "dnis": s.dnis, "line": line})
        elif isinstance(s, At):
            steps.append({"step": "at", "when": s.when, "line": line})
        elif isinstance(s, Press):
            steps.append({"step": "press", "keys": s.keys, "after_ms": s.after_ms, "line": line})
        elif isinstance(s, Silence):
            steps.append({"step": "silence", "ms": s.ms, "line": line})
        elif isinstance(s, HangupStep):
            steps.append({"step": "hangup", "line": line})
        elif isinstance(s, AcdStep):
            steps.append({"step": s.kind, "name": s.name,
                          "options": {o.name: to_ir(o.value) for o in s.options}, "line": line})
        elif isinstance(s, Mock):
            steps.append({"step": "mock", "function": s.function,
                          "returns": to_ir(s.returns) if s.returns is not None else None,
                          "fails": s.fails, "line": line})
        else:
            value: object = None
            if s.value is not None:
                is_state = s.kind == "state" or (s.kind in ("queue", "agent")
                                                  and isinstance(s.value, ast.Name))
                value = _dotted(s.value) if is_state else to_ir(s.value)
            steps.append({"step": "expect", "kind": s.kind, "value": value,
                          "options": {o.name: to_ir(o.value) for o in s.options}, "line": line})
    return {"name": case.name, "line": case.span.line, "steps": steps}

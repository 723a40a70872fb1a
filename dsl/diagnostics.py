"""Diagnostics: the stable code table and compiler-style rendering.

Every message the checker can produce has a code here. The table is the single source for the
error reference in docs/flow-language.md (tests/dsl/test_docs.py keeps them in step).
Codes are never renumbered; retired codes stay reserved.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from dsl.span import Span


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    title: str
    explanation: str


_TABLE: tuple[Code, ...] = (
    # E1xx: syntax and statement structure
    Code("E100", "unexpected character",
         "A character that cannot start any token (a stray symbol, a full-width bracket …)."
         ),
    Code("E101", "unterminated string",
         "A string opened with a quote is not closed on the same line."),
    Code("E102", "bad indentation",
         "A line is indented to a level that does not match any enclosing block, or a block is "
         "indented where none was opened."),
    Code("E103", "unexpected token", "The parser met something it did not expect at this point."),
    Code("E104", "missing ':' before block",
         "A statement followed by an indented block must end with ':'."),
    Code("E105", "unexpected end of file", "The file ends inside a bracket or statement."),
    Code("E106", "invalid literal",
         "A date, time, duration, percentage or pattern that cannot be what it says "
         "(25:00, 2026-02-30, an invalid regular expression …)."),
    Code("E107", "bad placeholder", "A `{…}` placeholder in a string is not a valid expression."),
    Code("E108", "statement not allowed here",
         "A statement appears in a block where it has no meaning (a `key` outside a menu, a "
         "`state` inside a state, `elif` without `if` …)."),
    Code("E109", "flow header missing or repeated",
         "Every .flow file (except *.test.flow) has exactly one `flow NAME:` header."),
    # E2xx: names
    Code("E201", "unknown state", "A route, goto or test names a state that does not exist."),
    Code("E202", "unknown prompt",
         "`play` names a prompt that is not in the prompt catalogue."),
    Code("E203", "unknown variable", "An expression or assignment names an undeclared variable."),
    Code("E204", "unknown function",
         "A call names a function that is neither declared with `function` nor a built-in."),
    Code("E205", "unknown statement", "The first word of a line is not a verb this flow knows."),
    Code("E206", "duplicate name",
         "Two states, prompts, variables, functions, subflows or calendars share a name."),
    Code("E207", "unknown subflow", "`run` names a subflow that is not defined."),
    Code("E208", "unknown calendar",
         "An expression names an `hours` calendar that is not defined."),
    Code("E209", "function not provided",
         "A declared function is offered by no installed plugin (see providers.toml)."),
    Code("E210", "unknown option", "A verb is given an option it does not have."),
    Code("E211", "unknown language", "A prompt variant or `language` uses a language the flow "
         "header does not declare."),
    Code("E212", "read-only variable", "Assignment to a setting or a built-in value."),
    Code("E213", "missing prompt translation",
         "A prompt has no text or file for one of the languages the flow declares."),
    # E3xx: types and arguments
    Code("E301", "type mismatch", "A value has the wrong type for where it is used."),
    Code("E302", "missing argument", "A required argument or option is not given."),
    Code("E303", "wrong arguments",
         "A function is called with the wrong number or names of arguments."),
    Code("E304", "subflow signature mismatch",
         "`run` passes inputs the subflow does not declare (or misses some), or `return` does not "
         "give exactly the declared outputs."),
    Code("E305", "invalid value",
         "A value is out of range: split percentages not summing to 100, min length above max, "
         "an unknown hangup cause, a non-positive timeout …"),
    Code("E306", "provider signature mismatch",
         "The flow's `function` declaration differs from what the plugin provides."),
    Code("E307", "option given twice", "The same option is set twice on one statement."),
    # E4xx: control flow
    Code("E401", "dead end",
         "A path through a state ends without choosing where the call goes next (goto, menu, "
         "queue, transfer, hangup, return)."),
    Code("E402", "no noinput handler",
         "A menu or collect does not say what happens when the caller presses nothing."),
    Code("E403", "no nomatch handler",
         "A menu or collect does not say what happens when the caller presses a wrong key."),
    Code("E404", "no maxtries route",
         "A menu or collect does not say where the call goes after the last failed try."),
    Code("E405", "loop without a bound",
         "States form a cycle that never waits for the caller and has no `max_visits` guard, "
         "or subflows run each other in a cycle: it could spin forever."),
    Code("E406", "call without failure route",
         "A plugin call, transfer or work order that can fail does not say where to go if "
         "it does."),
    Code("E407", "unreachable state", "No route from the start state leads to this state."),
    Code("E408", "misplaced control flow",
         "`return` outside a subflow, or a route from a subflow to a state of another flow."),
    Code("E409", "queue without overflow route",
         "A queue does not say where callers go when the maximum wait is reached."),
    Code("E410", "duplicate menu key", "Two entries of a menu claim the same key."),
    # W5xx: warnings (reported, do not fail `coreswitch check`)
    Code("W501", "unused variable", "A variable is declared but never read."),
    Code("W502", "unused prompt", "A prompt in the catalogue is never played."),
    Code("W503", "unreachable statement",
         "Statements after a goto, hangup or other jump never run."),
    Code("W504", "sensitive value exposed",
         "A value collected with `sensitive` is spoken, sent by SMS or put in a work order."),
    Code("W505", "unused function", "A function is declared but never called."),
    Code("W506", "menu has no repeat key",
         "A menu of three or more keys has neither a `repeat` key nor a use of '*': callers "
         "cannot ask to hear it again."),
    # E6xx: flow tests
    Code("E601", "bad test step", "A test line is not a known step or expectation."),
    Code("E602", "test target missing",
         "A *.test.flow file must name the flow it tests with `testing \"FILE.flow\"`."),
)

CODES: dict[str, Code] = {c.code: c for c in _TABLE}


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    severity: Severity
    message: str
    span: Span
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


def error(code: str, message: str, span: Span, hint: str | None = None) -> Diagnostic:
    assert code in CODES, code
    return Diagnostic(code, Severity.ERROR, message, span, hint)


def warning(code: str, message: str, span: Span, hint: str | None = None) -> Diagnostic:
    assert code in CODES, code
    return Diagnostic(code, Severity.WARNING, message, span, hint)


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A hint naming the closest candidate, if one is close enough."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def sort_key(d: Diagnostic) -> tuple[int, int, str]:
    return (d.span.line, d.span.col, d.code)


def render(diag: Diagnostic, filename: str, source: str) -> str:
    """``file:line:col: error[CODE]: message``, the source line, a caret line and the hint."""
    sp = diag.span
    out = [f"{filename}:{sp.line}:{sp.col}: {diag.severity.value}[{diag.code}]: {diag.message}"]
    lines = source.splitlines()
    if 1 <= sp.line <= len(lines):
        text = lines[sp.line - 1].expandtabs(1)
        gutter = f"{sp.line:>4} | "
        out.append(f"{gutter}{text}")
        end = sp.end_col if sp.end_line == sp.line else len(text) + 1
        width = max(1, end - sp.col)
        pad = _display_width(text[: sp.col - 1])
        carets = _display_width(text[sp.col - 1 : sp.col - 1 + width]) or 1
        out.append(" " * (len(gutter) - 2) + "| " + " " * pad + "^" * carets)
    if diag.hint:
        out.append(f"  = hint: {diag.hint}")
    return "\n".join(out)


def render_all(diags: Sequence[Diagnostic], filename: str, source: str) -> str:
    return "\n".join(render(d, filename, source) for d in sorted(diags, key=sort_key))


def _display_width(text: str) -> int:
    """Terminal columns: CJK characters take two, so the caret lines up under Chinese text."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)

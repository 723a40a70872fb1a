"""The flow AST: frozen dataclasses, each with a source :class:`~dsl.span.Span`.

Two layers live here:

* the *statement layer* (``Stmt``, ``Pos``, ``Kw``, ``RouteArg``, declarations) is the uniform
  shape of every line, produced by :mod:`dsl.parser`;
* the *flow layer* (``Flow``, ``State``, ``Menu`` …) is what :mod:`dsl.builder` makes of it and
  what the checker and compiler work on.

Expressions (``Lit`` … ``RecordLit``) are shared by both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from dsl.span import Span

# ---------------------------------------------------------------- expressions

LitValue = str | int | Decimal | bool | tuple[object, ...]


@dataclass(frozen=True, slots=True)
class Lit:
    """A literal. ``kind`` is one of text, int, decimal, bool, duration (value in ms), time
    ("HH:MM"), date ("YYYY-MM-DD"), percent (Decimal), regex (pattern text), timerange
    (("HH:MM","HH:MM")), daterange, dayrange (("mon","fri"))."""

    kind: str
    value: LitValue
    span: Span


@dataclass(frozen=True, slots=True)
class Placeholder:
    """``{expr}`` or ``{expr as money}`` inside a string: text spoken with a say-as rule."""

    expr: Expr
    say_as: str | None
    span: Span


@dataclass(frozen=True, slots=True)
class Template:
    """A string with placeholders: literal parts and :class:`Placeholder` s in order."""

    parts: tuple[str | Placeholder, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Name:
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class Attr:
    obj: Expr
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class Index:
    obj: Expr
    index: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Call:
    func: str
    args: tuple[Expr, ...]
    kwargs: tuple[tuple[str, Expr], ...]
    span: Span
    func_span: Span


@dataclass(frozen=True, slots=True)
class Unary:
    op: str
    operand: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class ListLit:
    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class RecordLit:
    fields: tuple[tuple[str, Expr], ...]
    span: Span


Expr = Lit | Template | Name | Attr | Index | Call | Unary | Binary | ListLit | RecordLit

# ---------------------------------------------------------------- statement layer


@dataclass(frozen=True, slots=True)
class Pos:
    expr: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Kw:
    name: str
    expr: Expr
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class RouteArg:
    """``-> target`` or ``name -> target``."""

    name: str | None
    target: str
    span: Span
    target_span: Span


Arg = Pos | Kw | RouteArg


@dataclass(frozen=True, slots=True)
class TypeRef:
    name: str
    arg: TypeRef | None
    span: Span

    def __str__(self) -> str:
        return self.name if self.arg is None else f"{self.name}[{self.arg}]"


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    type: TypeRef
    span: Span


@dataclass(frozen=True, slots=True)
class Stmt:
    head: str
    args: tuple[Arg, ...]
    body: tuple[Item, ...] | None
    span: Span
    head_span: Span


@dataclass(frozen=True, slots=True)
class Decl:
    scope: str  # var | global | setting
    name: str
    type: TypeRef | None
    value: Expr | None
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class FuncDecl:
    name: str
    params: tuple[Param, ...]
    returns: TypeRef | None
    args: tuple[Arg, ...]
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class SubflowDef:
    name: str
    inputs: tuple[Param, ...]
    outputs: tuple[Param, ...]
    body: tuple[Item, ...]
    span: Span
    name_span: Span


Item = Stmt | Decl | FuncDecl | SubflowDef

# ---------------------------------------------------------------- flow layer


@dataclass(frozen=True, slots=True)
class Action:
    """Where a route or handler goes: a state (``-> target``), a keyword action (``repeat``,
    ``back``, ``top``) or an inline block of statements."""

    target: str | None
    keyword: str | None
    body: tuple[Statement, ...] | None
    span: Span
    target_span: Span | None = None


@dataclass(frozen=True, slots=True)
class Option:
    name: str
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Goto:
    target: str
    span: Span
    target_span: Span


@dataclass(frozen=True, slots=True)
class Assign:
    name: str
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class SetVars:
    assignments: tuple[Assign, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class IfBranch:
    cond: Expr | None  # None for else
    body: tuple[Statement, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class If:
    branches: tuple[IfBranch, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Case:
    values: tuple[Expr, ...]  # empty for default
    action: Action
    span: Span


@dataclass(frozen=True, slots=True)
class Switch:
    subject: Expr
    cases: tuple[Case, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Handler:
    """``noinput [N]: …``, ``nomatch [N]: …``, ``maxtries -> …``, ``failure -> …`` …"""

    event: str
    count: int | None
    action: Action
    span: Span


@dataclass(frozen=True, slots=True)
class MenuKey:
    key: str
    regex: bool
    action: Action
    span: Span


@dataclass(frozen=True, slots=True)
class Menu:
    options: tuple[Option, ...]
    keys: tuple[MenuKey, ...]
    handlers: tuple[Handler, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Collect:
    var: str
    var_span: Span
    options: tuple[Option, ...]
    handlers: tuple[Handler, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class SplitBranch:
    percent: Decimal
    action: Action
    span: Span


@dataclass(frozen=True, slots=True)
class Split:
    branches: tuple[SplitBranch, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class CallFunction:
    result: str | None
    result_span: Span | None
    call: Call
    options: tuple[Option, ...]
    handlers: tuple[Handler, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class RunSubflow:
    result: str | None
    result_span: Span | None
    call: Call
    span: Span


@dataclass(frozen=True, slots=True)
class Return:
    values: tuple[Assign, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Question:
    name: str
    prompt: Expr
    keys: str
    span: Span


@dataclass(frozen=True, slots=True)
class Survey:
    name: str
    questions: tuple[Question, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Verb:
    """Any schema-described verb (say, play, queue, transfer, record, work_order, sms …,
    and plugin verbs): positional and named options, repeated options, routes."""

    name: str
    options: tuple[Option, ...]
    handlers: tuple[Handler, ...]
    span: Span
    head_span: Span


Statement = (Goto | SetVars | If | Switch | Menu | Collect | Split | CallFunction | RunSubflow
             | Return | Survey | Verb)


@dataclass(frozen=True, slots=True)
class PromptVariant:
    lang: str | None
    text: Expr | None
    file: str | None
    span: Span


@dataclass(frozen=True, slots=True)
class Prompt:
    name: str
    variants: tuple[PromptVariant, ...]
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class VarDecl:
    scope: str
    name: str
    type: TypeRef | None
    value: Expr | None
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class FunctionDecl:
    name: str
    params: tuple[Param, ...]
    returns: TypeRef | None
    timeout_ms: int | None
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class WeeklyRule:
    days: tuple[int, ...]  # 0 = Monday
    ranges: tuple[tuple[str, str], ...]
    span: Span


@dataclass(frozen=True, slots=True)
class DateRule:
    kind: str  # holiday | special
    start: str
    end: str
    ranges: tuple[tuple[str, str], ...]  # opening hours on a special day; empty for holidays
    label: str
    span: Span


@dataclass(frozen=True, slots=True)
class Calendar:
    name: str
    timezone: str
    weekly: tuple[WeeklyRule, ...]
    dates: tuple[DateRule, ...]
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class State:
    name: str
    body: tuple[Statement, ...]
    max_visits: int | None
    max_visits_action: Action | None
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class Subflow:
    name: str
    inputs: tuple[Param, ...]
    outputs: tuple[Param, ...]
    vars: tuple[VarDecl, ...]
    states: tuple[State, ...]
    start: str | None
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class Header:
    name: str
    title: str
    languages: tuple[str, ...]
    dnis: tuple[str, ...]
    version: str
    start: str | None
    start_span: Span | None
    max_duration_ms: int | None
    max_duration_action: Action | None
    max_visits: int | None
    max_visits_action: Action | None
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class Flow:
    header: Header | None
    prompts: tuple[Prompt, ...]
    vars: tuple[VarDecl, ...]
    functions: tuple[FunctionDecl, ...]
    calendars: tuple[Calendar, ...]
    states: tuple[State, ...]
    subflows: tuple[Subflow, ...]
    tests: tuple[object, ...] = field(default=())  # tuple[dsl.testspec.TestCase, ...]
    testing: str | None = None  # `testing "95598.flow"` in a *.test.flow file

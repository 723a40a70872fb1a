"""Symbol tables for one flow or subflow: variables (with scope and type), states, prompts."""

from __future__ import annotations

from dataclasses import dataclass, field

from dsl import ast
from dsl import types as T
from dsl.environment import Environment
from dsl.span import NO_SPAN, Span

BUILTIN_VALUES: dict[str, T.Type] = {
    "caller": T.record_of({"ani": T.TEXT, "dnis": T.TEXT, "name": T.TEXT}),
    "call": T.record_of({"id": T.TEXT, "language": T.TEXT, "started": T.DATETIME,
                         "duration": T.DURATION}),
    "now": T.DATETIME,
    "today": T.DATE,
}

DATETIME_FIELDS: dict[str, T.Type] = {
    "hour": T.INT, "minute": T.INT, "weekday": T.INT, "time": T.TIME, "date": T.DATE,
    "year": T.INT, "month": T.INT, "day": T.INT,
}


@dataclass
class VarInfo:
    name: str
    type: T.Type
    scope: str  # var | global | setting | builtin | input | bound | calendar
    span: Span
    readonly: bool = False
    sensitive: bool = False
    reads: int = 0


@dataclass
class FlowInfo:
    """Everything the checker knows about the whole file."""

    flow: ast.Flow
    env: Environment
    languages: tuple[str, ...]
    prompts: dict[str, ast.Prompt] = field(default_factory=dict)
    functions: dict[str, ast.FunctionDecl] = field(default_factory=dict)
    function_types: dict[str, tuple[tuple[tuple[str, T.Type], ...], T.Type]] = field(
        default_factory=dict)
    calendars: dict[str, ast.Calendar] = field(default_factory=dict)
    subflows: dict[str, ast.Subflow] = field(default_factory=dict)
    globals: dict[str, VarInfo] = field(default_factory=dict)
    prompt_uses: set[str] = field(default_factory=set)
    function_uses: set[str] = field(default_factory=set)
    queues: set[str] = field(default_factory=set)
    order_types: set[str] = field(default_factory=set)
    flow_states: dict[str, ast.State] = field(default_factory=dict)

    def param_type(self, p: ast.Param) -> T.Type:
        return T.from_ref(p.type) or T.ANY


@dataclass
class Scope:
    """Names visible inside one flow body (the main flow or one subflow)."""

    info: FlowInfo
    subflow: ast.Subflow | None
    states: dict[str, ast.State]
    vars: dict[str, VarInfo] = field(default_factory=dict)

    def lookup(self, name: str) -> VarInfo | None:
        v = self.vars.get(name) or self.info.globals.get(name)
        if v is not None:
            return v
        if name in BUILTIN_VALUES:
            return VarInfo(name, BUILTIN_VALUES[name], "builtin", NO_SPAN, readonly=True)
        if name in self.info.calendars:
            return VarInfo(name, T.CALENDAR, "calendar", NO_SPAN, readonly=True)
        return None

    def visible_names(self) -> list[str]:
        return [*self.vars, *self.info.globals, *BUILTIN_VALUES, *self.info.calendars]

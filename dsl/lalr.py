"""A lean driver for the LALR(1) tables Lark computes for ``flow.lark``.

Lark builds the grammar, the parse table and the callbacks (our transformer); this module
only runs the shift/reduce loop with each rule's size, callback and target pre-resolved, which
avoids per-reduction hashing and attribute lookups in Lark's general driver. Errors are Lark's
own ``UnexpectedToken``, so callers handle them exactly as they would from ``Lark.parse``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from lark import Lark
from lark.exceptions import UnexpectedToken
from lark.parse_tree_builder import ChildFilterLALR, ChildFilterLALR_NoPlaceholders
from lark.parsers.lalr_analysis import Shift

from dsl.lexer import Tok

_Action = tuple[bool, Any]


class LeanLALR:
    def __init__(self, lark: Lark) -> None:
        lalr: Any = lark.parser.parser  # lark.parsers.lalr_parser.LALR_Parser
        table = lalr._parse_table
        callbacks = lalr.parser.callbacks
        self.start_states: dict[str, Any] = dict(table.start_states)
        self.end_states: dict[str, Any] = dict(table.end_states)
        self.states: dict[Any, dict[str, _Action]] = {}
        for st, actions in table.states.items():
            compiled: dict[str, _Action] = {}
            for tok, (action, arg) in actions.items():
                # names are plain str here (Lark's may be Token objects: slower to hash/compare)
                if action is Shift:
                    compiled[str(tok)] = (True, arg)
                else:
                    cb: Callable[[list[Any]], Any] = _fast(callbacks[arg])
                    compiled[str(tok)] = (False, (len(arg.expansion), cb, str(arg.origin.name)))
            self.states[st] = compiled

    def parse(self, tokens: Iterable[Tok], start: str) -> Any:  # noqa: PLR0915
        states = self.states
        end_state = self.end_states[start]
        state_stack: list[Any] = [self.start_states[start]]
        value_stack: list[Any] = []
        last: Tok | None = None
        prev: Tok | None = None
        push_state = state_stack.append
        push_value = value_stack.append
        state = state_stack[-1]
        for tok in tokens:
            last = tok
            ttype = tok.type
            while True:
                try:
                    shift, arg = states[state][ttype]
                except KeyError:
                    expected = {s for s in states[state] if s.isupper()}
                    err = UnexpectedToken(tok, expected)  # type: ignore[no-untyped-call]
                    err.prev = prev  # type: ignore[attr-defined]  # the token before, for the hint
                    raise err from None
                if shift:
                    push_state(arg)
                    push_value(tok)
                    state = arg
                    prev = tok
                    break
                size, cb, origin = arg
                if size:
                    children = value_stack[-size:]
                    del state_stack[-size:]
                    del value_stack[-size:]
                else:
                    children = []
                push_value(cb(children))
                state = states[state_stack[-1]][origin][1]
                push_state(state)
        end = (Tok("$END", "", last.end_pos, last.end_line, last.end_column, last.end_line,
                   last.end_column, last.end_pos) if last else Tok("$END", "", 0, 1, 1, 1, 1, 0))
        while True:
            try:
                shift, arg = states[state_stack[-1]]["$END"]
            except KeyError:
                expected = {s for s in states[state_stack[-1]] if s.isupper()}
                raise UnexpectedToken(end, expected) from None  # type: ignore[no-untyped-call]
            assert not shift
            size, cb, origin = arg
            if size:
                children = value_stack[-size:]
                del state_stack[-size:]
                del value_stack[-size:]
            else:
                children = []
            value = cb(children)
            state_stack.append(states[state_stack[-1]][origin][1])
            value_stack.append(value)
            if state_stack[-1] == end_state:
                return value_stack[-1]


def _fast(cb: Any) -> Callable[[list[Any]], Any]:
    """The same callback without Lark's generic child filter, where the filter only picks
    children by position (no ``_rule`` inlining): a precomputed template does that faster."""
    if isinstance(cb, ChildFilterLALR_NoPlaceholders):
        picks = cb.to_include
        if any(expand for _i, expand in picks):
            return cb
        template: list[int | None] = [i for i, _ in picks]
    elif isinstance(cb, ChildFilterLALR):
        if any(expand for _i, expand, _n in cb.to_include):
            return cb
        template = []
        for i, _expand, nones in cb.to_include:
            template.extend([None] * nones)
            template.append(i)
        template.extend([None] * cb.append_none)
    else:
        return cb  # type: ignore[no-any-return]
    build = cb.node_builder
    if all(t is not None for t in template) and template == list(range(len(template))):
        def keep_prefix(children: list[Any], n: int = len(template)) -> Any:
            return build(children[:n])
        return keep_prefix

    def pick(children: list[Any]) -> Any:
        return build([None if t is None else children[t] for t in template])
    return pick

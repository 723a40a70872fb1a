"""A fast lexer for the flow grammar, built from the grammar's own terminal definitions.

It compiles the same terminals as ``flow.lark`` (same priorities, same keyword handling) into
one master regular expression, tracks lines itself and produces the INDENT/DEDENT tokens of
the indentation rule in the same pass. Tokens are small :class:`Tok` objects.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from lark.exceptions import UnexpectedCharacters
from lark.lexer import _regexp_has_newline

from dsl.diagnostics import error
from dsl.errors import SyntaxProblem
from dsl.span import Span

EOF_DEDENT = "\x00eof"
_OPEN = frozenset({"LPAR", "LSQB", "LBRACE"})
_OPERATORS = frozenset({"PLUS", "MINUS", "MULOP", "CMPOP", "AND", "OR", "NOT", "IN", "DOT"})
#: Limits that keep every later stage's recursion shallow (a flow needs nowhere near them).
MAX_NESTING = 24  # open brackets at once
MAX_OPERATORS = 64  # operators and field accesses on one logical line
MAX_BLOCK_DEPTH = 32  # indentation levels
_CLOSE = frozenset({"RPAR", "RSQB", "RBRACE"})


class Tok:
    """A token: what Lark's ``Token`` carries, without its construction cost."""

    __slots__ = ("column", "end_column", "end_line", "end_pos", "line", "start_pos", "type",
                 "value")

    def __init__(self, type_: str, value: str, start_pos: int, line: int,  # noqa: PLR0917
                 column: int, end_line: int, end_column: int, end_pos: int) -> None:
        self.type = type_
        self.value = value
        self.start_pos = start_pos
        self.line = line
        self.column = column
        self.end_line = end_line
        self.end_column = end_column
        self.end_pos = end_pos

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"Tok({self.type}, {self.value!r}, {self.line}:{self.column})"


class FlowLexer:
    def __init__(self, conf: Any) -> None:
        terminals = list(conf.terminals)
        self.ignore = frozenset(conf.ignore)
        name_re = next(t for t in terminals if t.name == "NAME").pattern.to_regexp()
        name_full = re.compile(f"(?:{name_re})\\Z")
        self.keywords: dict[str, str] = {}
        rest = []
        for t in terminals:
            if t.pattern.type == "str" and name_full.match(t.pattern.value):
                self.keywords[t.pattern.value] = t.name
            else:
                rest.append(t)
        # Lark's basic-lexer order: priority, then longest possible match, then longest pattern
        rest.sort(key=lambda x: (-x.priority, -x.pattern.max_width, -len(x.pattern.value), x.name))
        names = [t.name for t in rest]
        self.master = re.compile("|".join(f"(?P<t{i}>{t.pattern.to_regexp()})"
                                          for i, t in enumerate(rest)), conf.g_regex_flags)
        self.allowed = {t.name for t in terminals}
        # terminals that may span lines (Lark's own test); the rest skip newline counting
        self.multiline = frozenset(t.name for t in terminals
                                   if _regexp_has_newline(t.pattern.to_regexp()))
        # group number of each terminal's outer group (terminal patterns have inner groups)
        self.by_group = {idx: names[int(name[1:])] for name, idx in self.master.groupindex.items()}

    def tokens(self, text: str, line: int = 1, col: int = 1  # noqa: PLR0912, PLR0915
               ) -> Iterator[Tok]:
        """Tokens of ``text`` with INDENT/DEDENT, ignored terminals dropped. ``line`` and
        ``col`` say where the text starts in its file (for expressions inside strings)."""
        match = self.master.match
        by_group = self.by_group
        multiline = self.multiline
        keywords = self.keywords
        ignore = self.ignore
        end = len(text)
        pos = 0
        line_start = 1 - col  # so that the first character is at column ``col``
        levels = [0]
        parens = 0
        operators = 0
        last: Tok | None = None
        while pos < end:
            m = match(text, pos)
            if m is None:
                raise UnexpectedCharacters(  # type: ignore[no-untyped-call]  # lark is untyped
                    text, pos, line, pos - line_start + 1, allowed=self.allowed)
            value = m.group()
            kind = by_group[m.lastindex]  # type: ignore[index]  # the outer group closes last
            start = pos
            pos = m.end()
            col = start - line_start + 1
            if kind in multiline and "\n" in value:
                end_line = line + value.count("\n")
                new_start = start + value.rindex("\n") + 1
                end_col = pos - new_start + 1
            else:  # every other terminal is confined to one line
                end_line = line
                new_start = line_start
                end_col = col + len(value)
            if kind in ignore:
                line, line_start = end_line, new_start
                continue
            if kind == "NAME":
                kind = keywords.get(value, "NAME")
            tok = Tok(kind, value, start, line, col, end_line, end_col, pos)
            line, line_start = end_line, new_start
            if kind == "_NL":
                if parens:
                    continue
                operators = 0
                last = tok
                yield tok
                indent_str = value.rsplit("\n", 1)[1]
                if "#" in indent_str:  # a comment on the last line of the file
                    continue
                indent = len(indent_str.replace("\t", " " * 8))
                if indent > levels[-1]:
                    levels.append(indent)
                    if len(levels) > MAX_BLOCK_DEPTH:
                        raise SyntaxProblem(error(
                            "E102", f"blocks nested more than {MAX_BLOCK_DEPTH} deep",
                            Span.point(end_line, indent + 1), "split the state into states"))
                    yield Tok("_INDENT", indent_str, start, tok.line, col, end_line, end_col, pos)
                elif indent < levels[-1]:
                    before = list(levels)
                    while indent < levels[-1]:
                        levels.pop()
                        yield Tok("_DEDENT", indent_str, start, tok.line, col, end_line,
                                  end_col, pos)
                    if indent != levels[-1]:
                        outer = " or ".join(str(x) for x in before)
                        raise SyntaxProblem(error(
                            "E102", f"this line is indented by {indent} spaces, but the "
                            f"enclosing blocks are at {outer}", Span.point(end_line, indent + 1),
                            "indent every line of a block by the same amount"))
                continue
            if kind in _OPEN:
                parens += 1
                if parens > MAX_NESTING:
                    raise SyntaxProblem(error(
                        "E103", f"brackets nested more than {MAX_NESTING} deep",
                        Span.point(line, col), "simplify the expression"))
            elif kind in _CLOSE and parens:
                parens -= 1
            elif kind in _OPERATORS:
                operators += 1
                if operators > MAX_OPERATORS:
                    raise SyntaxProblem(error(
                        "E103", f"more than {MAX_OPERATORS} operators on one line",
                        Span.point(line, col), "split the computation with set"))
            last = tok
            yield tok
        while len(levels) > 1:
            levels.pop()
            if last is not None:
                yield Tok("_DEDENT", EOF_DEDENT, last.start_pos, last.line, last.column,
                          last.end_line, last.end_column, last.end_pos)

"""Source text → statement layer (:mod:`dsl.ast`), with syntax errors as E1xx diagnostics.

The Lark grammar (``flow.lark``) is loaded once. Lark trees never leave this module, and no
Lark exception escapes it: :func:`parse_items` returns ``(items, diagnostics)``.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources
from typing import Any

from lark import Lark, Transformer
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.lexer import Lexer

from dsl import ast
from dsl.diagnostics import Diagnostic, error
from dsl.errors import SyntaxProblem
from dsl.lalr import LeanLALR
from dsl.lexer import EOF_DEDENT, FlowLexer, Tok
from dsl.span import Span

_FULLWIDTH = {
    "：": ":", "（": "(", "）": ")", "，": ",", "“": '"', "”": '"', "‘": "'", "’": "'",
    "＝": "=", "［": "[", "］": "]", "｛": "{", "｝": "}", "；": ";", "－": "-", "＃": "#",
}

_TOKEN_NAMES = {
    "COLON": "':'", "LPAR": "'('", "RPAR": "')'", "LSQB": "'['", "RSQB": "']'",
    "LBRACE": "'{'", "RBRACE": "'}'", "EQUAL": "'='", "COMMA": "','", "DOT": "'.'",
    "ARROW": "'->'", "NAME": "a name", "STRING": "a string", "INT": "a number",
    "_NL": "end of line", "_INDENT": "an indented block", "_DEDENT": "end of block",
    "$END": "end of file", "MINUS": "'-'", "PLUS": "'+'", "CMPOP": "a comparison",
    "MULOP": "'*' or '/'", "SCOPE": "'var'", "DECIMAL": "a number", "DURATION": "a duration",
    "TIME": "a time", "DATE": "a date", "PERCENT": "a percentage", "REGEX": "a pattern",
}


_SyntaxProblem = SyntaxProblem
_EOF = EOF_DEDENT


class _TablesOnlyLexer(Lexer):
    """Lark needs a lexer class to build its tables; parsing uses :class:`FlowLexer`."""

    __future_interface__ = 2

    def __init__(self, conf: Any) -> None:
        self.conf = conf

    def lex(self, lexer_state: Any, parser_state: Any) -> Iterator[Any]:  # pragma: no cover
        raise NotImplementedError("parse with dsl.parser.parse_items")


@lru_cache(maxsize=1)
def _lark() -> Lark:
    grammar = resources.files("dsl").joinpath("flow.lark").read_text(encoding="utf-8")
    return Lark(
        grammar,
        parser="lalr",
        lexer=_TablesOnlyLexer,
        propagate_positions=False,  # spans come from the tokens (faster; see _Converter.span)
        maybe_placeholders=True,
        start=["start", "expr"],
        transformer=_Build(),
        cache=False,
    )


@lru_cache(maxsize=1)
def _machinery() -> tuple[FlowLexer, LeanLALR]:
    lark = _lark()
    return FlowLexer(lark.lexer_conf), LeanLALR(lark)


def _parse(text: str, start: str, line: int = 1, col: int = 1) -> Any:
    lexer, lalr = _machinery()
    return lalr.parse(lexer.tokens(text, line, col), start)


def parse_items(source: str) -> tuple[tuple[ast.Item, ...], list[Diagnostic]]:
    """Parse a whole .flow file into the statement layer."""
    source = source.removeprefix("\ufeff")  # editors on Windows save UTF-8 with a BOM
    if not source.endswith("\n"):
        source += "\n"
    _machinery()
    try:
        items: tuple[ast.Item, ...] = _parse(source, "start")
        return items, []
    except _SyntaxProblem as p:
        return (), [p.diag]
    except UnexpectedInput as e:
        return (), [_from_lark(e, source)]
    except LarkError as e:  # pragma: no cover - every Lark failure above is an UnexpectedInput
        return (), [error("E103", f"cannot parse: {e}", Span.point(1, 1))]


def parse_expression(text: str, line: int = 1, col: int = 1) -> ast.Expr:
    """Parse a single expression (used for ``{…}`` placeholders and by tools).

    Raises ``ValueError`` with a human message on syntax errors.
    """
    try:
        expr: ast.Expr = _parse(text, "expr", line, col)
    except (UnexpectedInput, _SyntaxProblem) as e:
        raise ValueError(str(e).splitlines()[0]) from None
    return expr


# ---------------------------------------------------------------- errors


def _from_lark(e: UnexpectedInput, source: str) -> Diagnostic:  # noqa: PLR0911
    if isinstance(e, UnexpectedCharacters):
        at = e.pos_in_stream or 0
        ch = source[at] if at < len(source) else ""
        span = Span.point(e.line, e.column)
        if ch in "\"'":
            return error("E101", "unterminated string", span, "close the string on the same line")
        if ch in ("\xa0", "\u200b", "\ufeff"):
            return error("E100", f"invisible character U+{ord(ch):04X}", span,
                         "replace it with a normal space (or delete it)")
        if ch in _FULLWIDTH:
            return error("E100", f"unexpected character '{ch}'", span,
                         f"use the ASCII '{_FULLWIDTH[ch]}' instead of the full-width '{ch}'")
        return error("E100", f"unexpected character '{ch}'", span, None)
    assert isinstance(e, UnexpectedToken)
    tok: Any = e.token
    expected = sorted(e.expected)
    if tok.type == "$END" or (tok.type == "_DEDENT" and tok.value == _EOF):
        lines = source.rstrip("\n").splitlines() or [""]
        hint = ("a '(', '[' or '{' opened earlier is never closed"
                if tok.type == "_DEDENT" else _expect_hint(expected))
        return error("E105", "unexpected end of file",
                     Span.point(len(lines), len(lines[-1]) + 1), hint)
    if tok.type == "_INDENT":
        line = tok.line or 1
        col = tok.column or 1
        return error("E104", "indented block without ':' on the line before",
                     Span.point(line, col), "end the previous line with ':' to open a block")
    line = tok.line or 1
    col = tok.column or 1
    if tok.type == "_NL":
        what = "end of line"
        width = 1
    elif tok.type == "_DEDENT":
        what = "end of block"
        width = 1
    else:
        what = repr(str(tok.value))
        width = len(str(tok.value))
    prev = getattr(e, "prev", None)
    hint = _expect_hint(expected)
    if prev is not None and prev.type == "ARROW" and "NAME" in expected:
        hint = "expected a state name after '->'"
    elif prev is not None and prev.type in ("EQUAL", "PLUS", "MINUS", "MULOP", "CMPOP", "AND",
                                            "OR", "NOT", "IN", "COMMA", "LPAR", "LSQB"):
        hint = f"expected a value after '{prev.value}'"
    return error("E103", f"unexpected {what}", Span.point(line, col, width), hint)


def _expect_hint(expected: list[str]) -> str | None:
    names = sorted({_TOKEN_NAMES.get(t, "") for t in expected} - {""})
    if not names:
        return None
    for key in ("RPAR", "RSQB", "RBRACE"):
        if key in expected and len(expected) <= 3:
            return f"expected {_TOKEN_NAMES[key]}"
    if len(names) <= 4:
        return "expected " + " or ".join(names)
    if "COLON" in expected and "_NL" in expected:
        return "expected ':' or end of line"
    return None


# ---------------------------------------------------------------- parse callbacks → AST

_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "{": "\\{", "}": "\\}"}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_SAY_AS = re.compile(r"^(.*?)\s+as\s+([A-Za-z_]+)\s*$", re.S)

_Child = Any
_Children = list[Any]


def _tok_span(t: Tok) -> Span:
    return Span(t.line, t.column, t.end_line, t.end_column)


def _span_of(x: _Child) -> Span | None:  # noqa: PLR0911
    if isinstance(x, Span):
        return x
    if isinstance(x, Tok):
        return _tok_span(x)
    if x is None:
        return None
    sp = getattr(x, "span", None)
    if isinstance(sp, Span):
        return sp
    if isinstance(x, tuple) and x:
        if len(x) == 2 and isinstance(x[1], Span) and isinstance(x[0], str):
            return x[1]
        first = next((s for s in map(_span_of, x) if s is not None), None)
        last = next((s for s in map(_span_of, reversed(x)) if s is not None), None)
        if first is not None and last is not None:
            return first.to(last)
    return None


def _cover(*xs: _Child) -> Span:
    spans = [s for s in map(_span_of, xs) if s is not None]
    if not spans:
        return Span(1, 1, 1, 2)
    return spans[0].to(spans[-1])


class _Build(Transformer[Any, Any]):
    """Lark callbacks (run during parsing, no parse tree): rule name → AST node."""

    # ---- structure
    def start(self, c: _Children) -> tuple[ast.Item, ...]:
        return tuple(x for x in c if x is not None and not isinstance(x, Tok))

    def head(self, c: _Children) -> tuple[str, Span]:
        if len(c) == 1:
            t = c[0]
            return t.value, _tok_span(t)
        return ".".join(str(x) for x in c), _tok_span(c[0]).to(_tok_span(c[-1]))

    def simple(self, c: _Children) -> ast.Stmt:
        (name, hsp), args = c[0], c[1] or ()
        return ast.Stmt(name, args, None, hsp.to(args[-1].span) if args else hsp, hsp)

    def block(self, c: _Children) -> ast.Stmt:
        (name, hsp), args = c[0], c[1] or ()
        body = tuple(x for x in c[2:] if x is not None and not isinstance(x, Tok))
        return ast.Stmt(name, args, body, hsp.to(args[-1].span) if args else hsp, hsp)

    def inline(self, c: _Children) -> ast.Stmt:
        (name, hsp), args = c[0], c[1] or ()
        (iname, ihsp), iargs = c[2], c[3] or ()
        inner = ast.Stmt(iname, iargs, None, _cover(ihsp, iargs) if iargs else ihsp, ihsp)
        return ast.Stmt(name, args, (inner,), _cover(hsp, inner.span), hsp)

    def args(self, c: _Children) -> tuple[ast.Arg, ...]:
        return tuple(x for x in c if x is not None and x.__class__ is not Tok)

    def pos(self, c: _Children) -> ast.Pos:
        return ast.Pos(c[0], c[0].span)

    def kw(self, c: _Children) -> ast.Kw:
        name, value = c
        nsp = _tok_span(name)
        return ast.Kw(name.value, value, nsp.to(value.span), nsp)

    def kwroute(self, c: _Children) -> ast.RouteArg:
        name, _arrow, target = c
        return ast.RouteArg(str(name), str(target), _cover(name, target), _tok_span(target))

    def route(self, c: _Children) -> ast.RouteArg:
        arrow, target = c
        return ast.RouteArg(None, str(target), _cover(arrow, target), _tok_span(target))

    # ---- declarations
    def scope(self, c: _Children) -> Tok:
        tok: Tok = c[0]
        return tok

    def decl(self, c: _Children) -> ast.Decl:
        scope, name, typ, value = c
        return ast.Decl(str(scope), str(name), typ, value,
                        _cover(scope, value or typ or name), _tok_span(name))

    def fopts(self, c: _Children) -> tuple[ast.Arg, ...]:
        out: list[ast.Arg] = []
        for i in range(0, len(c), 2):
            name, value = c[i], c[i + 1]
            out.append(ast.Kw(str(name), value, _cover(name, value), _tok_span(name)))
        return tuple(out)

    def funcdecl(self, c: _Children) -> ast.FuncDecl:
        dotted, params, _arrow, ret, opts = c
        name, nsp = dotted
        return ast.FuncDecl(name, params or (), ret, opts or (),
                            _cover(nsp, opts or ret or params or nsp), nsp)

    def subflowdef(self, c: _Children) -> ast.SubflowDef:
        name, inputs, _arrow, outputs = c[:4]
        body = tuple(x for x in c[4:] if x is not None and not isinstance(x, Tok))
        sp = _tok_span(name)
        return ast.SubflowDef(str(name), inputs or (), outputs or (), body, sp, sp)

    def params(self, c: _Children) -> tuple[ast.Param, ...]:
        return tuple(x for x in c if isinstance(x, ast.Param))

    def param(self, c: _Children) -> ast.Param:
        name, typ = c
        return ast.Param(str(name), typ, _cover(name, typ))

    def type(self, c: _Children) -> ast.TypeRef:
        name, arg = c
        return ast.TypeRef(str(name), arg, _cover(name, arg or name))

    def dotted(self, c: _Children) -> tuple[str, Span]:
        return ".".join(str(x) for x in c), _cover(c[0], c[-1])

    # ---- expressions
    def prefix(self, c: _Children) -> Tok:
        tok: Tok = c[0]
        return tok

    def binop(self, c: _Children) -> tuple[str, Span]:
        return " ".join(str(x) for x in c), _cover(c[0], c[-1])

    def expr(self, c: _Children) -> ast.Expr:
        items = [x for x in c if x is not None]
        pos = 0

        def operand() -> ast.Expr:
            nonlocal pos
            node = items[pos]
            pos += 1
            if isinstance(node, Tok):  # a prefix operator
                if str(node) == "not":
                    inner = climb(_PREC["not"])
                    return ast.Unary("not", inner, _tok_span(node).to(inner.span))
                inner = operand()
                return ast.Unary("-", inner, _tok_span(node).to(inner.span))
            result: ast.Expr = node
            return result

        def climb(min_prec: int) -> ast.Expr:
            nonlocal pos
            left = operand()
            while pos < len(items):
                op, _sp = items[pos]
                prec = _PREC[op]
                if prec < min_prec:
                    break
                pos += 1
                right = climb(prec + 1)
                left = ast.Binary(op, left, right, left.span.to(right.span))
            return left

        return climb(0)

    def attr(self, c: _Children) -> ast.Attr:
        return ast.Attr(c[0], c[1].value, c[0].span.to(_tok_span(c[1])))

    def index(self, c: _Children) -> ast.Index:
        return ast.Index(c[0], c[1], _cover(c[0], c[1]))

    def callargs(self, c: _Children) -> tuple[_Child, ...]:
        return tuple(x for x in c if x is not None and not isinstance(x, Tok))

    def cpos(self, c: _Children) -> ast.Expr:
        result: ast.Expr = c[0]
        return result

    def ckw(self, c: _Children) -> tuple[str, ast.Expr]:
        return (str(c[0]), c[1])

    def call(self, c: _Children) -> ast.Call:
        callee, cargs, rpar = c
        sp = _cover(callee, rpar)
        name = _dotted(callee)
        if name is None:
            raise _SyntaxProblem(error("E103", "only named functions can be called", sp, None))
        args: list[ast.Expr] = []
        kwargs: list[tuple[str, ast.Expr]] = []
        for a in cargs or ():
            if isinstance(a, tuple):
                kwargs.append(a)
            else:
                if kwargs:
                    raise _SyntaxProblem(error("E103", "positional argument after a named one",
                                               a.span, "put positional arguments first"))
                args.append(a)
        return ast.Call(name, tuple(args), tuple(kwargs), sp, callee.span)

    def paren(self, c: _Children) -> ast.Expr:
        result: ast.Expr = c[1]
        return result

    def name(self, c: _Children) -> ast.Name:
        t = c[0]
        return ast.Name(t.value, _tok_span(t))

    def string(self, c: _Children) -> ast.Expr:
        t = c[0]
        return _string(t.value, _tok_span(t))

    def regex(self, c: _Children) -> ast.Lit:
        sp = _tok_span(c[0])
        pattern = str(c[0])[2:-1].replace('\\"', '"')
        try:
            re.compile(pattern)
        except re.error as e:
            raise _SyntaxProblem(error("E106", f"invalid pattern: {e.msg}", sp,
                                       "patterns use Python regular-expression syntax")) from None
        return ast.Lit("regex", pattern, sp)

    def int(self, c: _Children) -> ast.Lit:
        return ast.Lit("int", int(c[0].value), _tok_span(c[0]))

    def decimal(self, c: _Children) -> ast.Lit:
        return ast.Lit("decimal", Decimal(str(c[0])), _tok_span(c[0]))

    def percent(self, c: _Children) -> ast.Lit:
        return ast.Lit("percent", Decimal(str(c[0])[:-1]), _tok_span(c[0]))

    def duration(self, c: _Children) -> ast.Lit:
        return ast.Lit("duration", _duration_ms(str(c[0])), _tok_span(c[0]))

    def time(self, c: _Children) -> ast.Lit:
        sp = _tok_span(c[0])
        return ast.Lit("time", _time(str(c[0]), sp), sp)

    def timerange(self, c: _Children) -> ast.Lit:
        sp = _tok_span(c[0])
        a, b = str(c[0]).split("-")
        return ast.Lit("timerange", (_time(a, sp), _time(b, sp)), sp)

    def date(self, c: _Children) -> ast.Lit:
        sp = _tok_span(c[0])
        return ast.Lit("date", _date(str(c[0]), sp), sp)

    def daterange(self, c: _Children) -> ast.Lit:
        sp = _tok_span(c[0])
        a, b = str(c[0]).split("..")
        return ast.Lit("daterange", (_date(a, sp), _date(b, sp)), sp)

    def dayrange(self, c: _Children) -> ast.Lit:
        a, b = str(c[0]).split("-")
        return ast.Lit("dayrange", (a, b), _tok_span(c[0]))

    def true(self, c: _Children) -> ast.Lit:
        return ast.Lit("bool", True, _tok_span(c[0]))

    def false(self, c: _Children) -> ast.Lit:
        return ast.Lit("bool", False, _tok_span(c[0]))

    def list(self, c: _Children) -> ast.ListLit:
        items = tuple(x for x in c[1:-1] if x is not None and not isinstance(x, Tok))
        return ast.ListLit(items, _cover(c[0], c[-1]))

    def pair(self, c: _Children) -> tuple[str, ast.Expr]:
        k, v = c
        key = str(k)
        if k.type == "STRING":
            key = _unescape(key[1:-1])
        return (key, v)

    def record(self, c: _Children) -> ast.RecordLit:
        fields = tuple(x for x in c[1:-1] if isinstance(x, tuple))
        return ast.RecordLit(fields, _cover(c[0], c[-1]))


def _string(raw: str, sp: Span) -> ast.Expr:
    body = raw[1:-1]
    if "{" not in body and "}" not in body:
        return ast.Lit("text", _unescape(body), sp)
    parts: list[str | ast.Placeholder] = []
    pos = 0
    text = body.replace("{{", "\x00").replace("}}", "\x01")
    for m in _PLACEHOLDER.finditer(text):
        parts.append(_unescape(text[pos:m.start()]))
        inner = m.group(1)
        col = sp.col + 1 + m.start(1)
        psp = Span(sp.line, col - 1, sp.line, col + len(inner) + 1)
        say_as = None
        sm = _SAY_AS.match(inner)
        expr_text = inner
        if sm:
            expr_text, say_as = sm.group(1), sm.group(2)
        if not expr_text.strip():
            raise _SyntaxProblem(error("E107", "empty placeholder '{}'", psp,
                                       "write '{{' and '}}' for literal braces"))
        try:
            expr = parse_expression(expr_text, sp.line, col)
        except ValueError:
            raise _SyntaxProblem(error("E107", f"bad placeholder '{{{inner}}}'", psp,
                                       "a placeholder holds an expression, e.g. "
                                       "{balance as money}")) from None
        parts.append(ast.Placeholder(expr, say_as, psp))
        pos = m.end()
    rest = text[pos:]
    if "{" in rest or "}" in rest:
        col = sp.col + 1 + pos + min(i for i in (rest.find("{"), rest.find("}")) if i >= 0)
        raise _SyntaxProblem(error("E107", "unbalanced '{' or '}' in string",
                                   Span.point(sp.line, col),
                                   "write '{{' and '}}' for literal braces"))
    parts.append(_unescape(rest))
    cleaned = tuple(p.replace("\x00", "{").replace("\x01", "}") if isinstance(p, str) else p
                    for p in parts if p != "")
    return ast.Template(cleaned, sp)


_PREC = {"or": 1, "and": 2, "not": 3, "==": 4, "!=": 4, "<": 4, "<=": 4, ">": 4, ">=": 4,
         "in": 4, "not in": 4, "+": 5, "-": 5, "*": 6, "/": 6, "neg": 7}


def _dotted(e: ast.Expr) -> str | None:
    if isinstance(e, ast.Name):
        return e.name
    if isinstance(e, ast.Attr):
        base = _dotted(e.obj)
        return None if base is None else f"{base}.{e.name}"
    return None


def _unescape(s: str) -> str:
    if "\\" not in s:
        return s
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), s)


def _duration_ms(text: str) -> int:
    total = 0
    for num, unit in re.findall(r"(\d+)(ms|h|m|s)", text):
        total += int(num) * {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}[unit]
    return total


def _time(text: str, sp: Span) -> str:
    h, m = text.split(":")
    if not (0 <= int(h) <= 24 and 0 <= int(m) < 60) or (int(h) == 24 and int(m) != 0):
        raise _SyntaxProblem(error("E106", f"invalid time '{text}'", sp,
                                   "times are HH:MM from 00:00 to 24:00"))
    return f"{int(h):02d}:{int(m):02d}"


def _date(text: str, sp: Span) -> str:
    try:
        _dt.date.fromisoformat(text)
    except ValueError:
        raise _SyntaxProblem(error("E106", f"invalid date '{text}'", sp,
                                   "dates are YYYY-MM-DD")) from None
    return text


def parse_decimal(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None

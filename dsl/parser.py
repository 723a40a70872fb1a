"""Source text → statement layer (:mod:`dsl.ast`), with syntax errors as E1xx diagnostics.

The Lark grammar (``flow.lark``) is loaded once. Lark trees never leave this module, and no
Lark exception escapes it: :func:`parse_items` returns ``(items, diagnostics)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources

from lark import Lark, Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.lexer import Token as LexToken

from dsl import ast
from dsl.diagnostics import Diagnostic, error
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


_EOF = "\x00eof"


class _SyntaxProblem(Exception):
    def __init__(self, diag: Diagnostic) -> None:
        super().__init__(diag.message)
        self.diag = diag


class _Indenter:
    """Python-style INDENT/DEDENT post-lexer that reports bad dedents with a position."""

    always_accept = ("_NL",)

    def process(self, stream: Iterator[LexToken]) -> Iterator[LexToken]:
        levels = [0]
        parens = 0
        last: LexToken | None = None
        for tok in stream:
            last = tok
            if tok.type == "_NL":
                if parens > 0:
                    continue
                yield tok
                indent_str = tok.value.rsplit("\n", 1)[1]
                if "#" in indent_str:  # a trailing comment at end of file
                    continue
                indent = len(indent_str.replace("\t", " " * 8))
                if indent > levels[-1]:
                    levels.append(indent)
                    yield LexToken.new_borrow_pos("_INDENT", indent_str, tok)
                else:
                    before = list(levels)
                    while indent < levels[-1]:
                        levels.pop()
                        yield LexToken.new_borrow_pos("_DEDENT", indent_str, tok)
                    if indent != levels[-1]:
                        line = (tok.end_line or tok.line or 1)
                        outer = " or ".join(str(x) for x in before)
                        raise _SyntaxProblem(error(
                            "E102", f"this line is indented by {indent} spaces, but the "
                            f"enclosing blocks are at {outer}",
                            Span.point(line, indent + 1),
                            "indent every line of a block by the same amount",
                        ))
                continue
            yield tok
            if tok.type in ("LPAR", "LSQB", "LBRACE"):
                parens += 1
            elif tok.type in ("RPAR", "RSQB", "RBRACE") and parens > 0:
                parens -= 1
        while len(levels) > 1:
            levels.pop()
            if last is not None:
                yield LexToken.new_borrow_pos("_DEDENT", _EOF, last)
            else:
                yield LexToken("_DEDENT", "", 0, 1, 1, 1, 1, 0)


@lru_cache(maxsize=1)
def _lark() -> Lark:
    grammar = resources.files("dsl").joinpath("flow.lark").read_text(encoding="utf-8")
    return Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        postlex=_Indenter(),  # type: ignore[arg-type]  # duck-typed PostLex
        propagate_positions=True,
        maybe_placeholders=True,
        start=["start", "expr"],
        cache=False,
    )


def parse_items(source: str) -> tuple[tuple[ast.Item, ...], list[Diagnostic]]:
    """Parse a whole .flow file into the statement layer."""
    if not source.endswith("\n"):
        source += "\n"
    parser = _lark()
    try:
        tree = parser.parse(source, start="start")
        return tuple(_Converter(source).items(tree.children)), []
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
        tree = _lark().parse(text, start="expr")
    except (UnexpectedInput, _SyntaxProblem) as e:
        raise ValueError(str(e).splitlines()[0]) from None
    return _Converter(text, line - 1, col - 1).expr(tree)


# ---------------------------------------------------------------- errors


def _from_lark(e: UnexpectedInput, source: str) -> Diagnostic:
    if isinstance(e, UnexpectedCharacters):
        ch = source[e.pos_in_stream] if e.pos_in_stream < len(source) else ""
        span = Span.point(e.line, e.column)
        if ch in "\"'":
            return error("E101", "unterminated string", span, "close the string on the same line")
        if ch in _FULLWIDTH:
            return error("E100", f"unexpected character '{ch}'", span,
                         f"use the ASCII '{_FULLWIDTH[ch]}' instead of the full-width '{ch}'")
        return error("E100", f"unexpected character '{ch}'", span, None)
    assert isinstance(e, UnexpectedToken)
    tok: Token = e.token
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
    return error("E103", f"unexpected {what}", Span.point(line, col, width), _expect_hint(expected))


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


# ---------------------------------------------------------------- tree → statement layer

_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "{": "\\{", "}": "\\}"}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_SAY_AS = re.compile(r"^(.*?)\s+as\s+([A-Za-z_]+)\s*$", re.S)


class _Converter:
    def __init__(self, source: str, line_offset: int = 0, col_offset: int = 0) -> None:
        self.source = source
        self.dl = line_offset
        self.dc = col_offset

    # spans ---------------------------------------------------------------
    def span(self, node: Tree[Token] | Token) -> Span:
        if isinstance(node, Token):
            line, col = node.line or 1, node.column or 1
            end_line, end_col = node.end_line or line, node.end_column or col + 1
        else:
            m = node.meta
            if m.empty:
                return Span(1 + self.dl, 1, 1 + self.dl, 2)
            line, col, end_line, end_col = m.line, m.column, m.end_line, m.end_column
        if line == 1:
            col += self.dc
        if end_line == 1:
            end_col += self.dc
        return Span(line + self.dl, col, end_line + self.dl, end_col)

    # items ---------------------------------------------------------------
    def items(self, children: list[Tree[Token] | Token | None]) -> Iterator[ast.Item]:
        for ch in children:
            if isinstance(ch, Tree):
                yield self.item(ch)

    def item(self, t: Tree[Token]) -> ast.Item:
        kind = t.data
        if kind in ("simple", "block", "inline"):
            head = t.children[0]
            assert isinstance(head, Tree)
            head_name = ".".join(str(x) for x in head.children)
            args = self.args(t.children[1])
            body: tuple[ast.Item, ...] | None = None
            if kind == "block":
                body = tuple(self.items(t.children[2:]))
            elif kind == "inline":
                ihead = t.children[2]
                assert isinstance(ihead, Tree)
                inner = ast.Stmt(".".join(str(x) for x in ihead.children),
                                 self.args(t.children[3]), None,
                                 self.span(ihead) if t.children[3] is None
                                 else self.span(ihead).to(self.span(t.children[3])),
                                 self.span(ihead))
                body = (inner,)
            span = self.span(t)
            if kind == "simple" or kind == "inline":
                span = self._trim_nl(span, head, t.children[1] if kind == "simple"
                                     else t.children[3] or t.children[2])
            else:
                span = self._trim_nl(span, head, t.children[1] or head)
            return ast.Stmt(head_name, args, body, span, self.span(head))
        if kind == "decl":
            scope, name, typ, value = t.children
            assert isinstance(scope, Tree) and isinstance(name, Token)
            return ast.Decl(str(scope.children[0]), str(name),
                            self.type(typ) if isinstance(typ, Tree) else None,
                            self.expr(value) if value is not None else None,
                            self.span(scope).to(self.span(value or typ or name)), self.span(name))
        if kind == "funcdecl":
            dotted, params, _arrow, ret, args = t.children
            assert isinstance(dotted, Tree)
            last = args or ret or dotted
            return ast.FuncDecl(".".join(str(x) for x in dotted.children),
                                self.params(params),
                                self.type(ret) if isinstance(ret, Tree) else None,
                                self.fopts(args), self.span(dotted).to(self.span(last)),
                                self.span(dotted))
        if kind == "subflowdef":
            name, inputs, _arrow, outputs = t.children[:4]
            assert isinstance(name, Token)
            return ast.SubflowDef(str(name), self.params(inputs), self.params(outputs),
                                  tuple(self.items(t.children[4:])), self.span(name),
                                  self.span(name))
        raise AssertionError(kind)  # pragma: no cover

    def _trim_nl(self, span: Span, first: Tree[Token] | Token, last: Tree[Token] | Token | None
                 ) -> Span:
        end = self.span(last) if last is not None else self.span(first)
        return self.span(first).to(end)

    def fopts(self, t: Tree[Token] | Token | None) -> tuple[ast.Arg, ...]:
        if not isinstance(t, Tree):
            return ()
        c = t.children
        out: list[ast.Arg] = []
        for i in range(0, len(c), 2):
            name, value = c[i], c[i + 1]
            assert isinstance(name, Token)
            sp = self.span(name).to(self.span(value))
            out.append(ast.Kw(str(name), self.expr(value), sp, self.span(name)))
        return tuple(out)

    def params(self, t: Tree[Token] | Token | None) -> tuple[ast.Param, ...]:
        if not isinstance(t, Tree):
            return ()
        out = []
        for p in t.children:
            if isinstance(p, Tree):
                name, typ = p.children
                assert isinstance(name, Token) and isinstance(typ, Tree)
                out.append(ast.Param(str(name), self.type(typ), self.span(p)))
        return tuple(out)

    def type(self, t: Tree[Token]) -> ast.TypeRef:
        name, arg = t.children
        return ast.TypeRef(str(name), self.type(arg) if isinstance(arg, Tree) else None,
                           self.span(t))

    def args(self, t: Tree[Token] | Token | None) -> tuple[ast.Arg, ...]:
        if not isinstance(t, Tree):
            return ()
        out: list[ast.Arg] = []
        for a in t.children:
            if not isinstance(a, Tree):
                continue
            sp = self.span(a)
            if a.data == "pos":
                out.append(ast.Pos(self.expr(a.children[0]), sp))
            elif a.data == "kw":
                name, value = a.children
                assert isinstance(name, Token)
                out.append(ast.Kw(str(name), self.expr(value), sp, self.span(name)))
            elif a.data == "kwroute":
                name, _arrow, target = a.children
                assert isinstance(target, Token)
                out.append(ast.RouteArg(str(name), str(target), sp, self.span(target)))
            else:
                _arrow, target = a.children
                assert isinstance(target, Token)
                out.append(ast.RouteArg(None, str(target), sp, self.span(target)))
        return tuple(out)

    # expressions -----------------------------------------------------------
    def expr(self, t: Tree[Token] | Token | None) -> ast.Expr:  # noqa: PLR0911, PLR0912
        assert t is not None
        if isinstance(t, Token):  # pragma: no cover - every atom is wrapped in a rule
            return ast.Name(str(t), self.span(t))
        sp = self.span(t)
        d = t.data
        c = t.children
        if d == "name":
            return ast.Name(str(c[0]), sp)
        if d == "string":
            return self.string(c[0], sp)
        if d == "regex":
            tok = str(c[0])
            pattern = tok[2:-1].replace('\\"', '"')
            try:
                re.compile(pattern)
            except re.error as e:
                raise _SyntaxProblem(error("E106", f"invalid pattern: {e.msg}", sp,
                                           "patterns use Python regular-expression syntax"))
            return ast.Lit("regex", pattern, sp)
        if d == "int":
            return ast.Lit("int", int(str(c[0])), sp)
        if d == "decimal":
            return ast.Lit("decimal", Decimal(str(c[0])), sp)
        if d == "percent":
            return ast.Lit("percent", Decimal(str(c[0])[:-1]), sp)
        if d == "duration":
            return ast.Lit("duration", _duration_ms(str(c[0])), sp)
        if d == "time":
            return ast.Lit("time", _time(str(c[0]), sp), sp)
        if d == "timerange":
            a, b = str(c[0]).split("-")
            return ast.Lit("timerange", (_time(a, sp), _time(b, sp)), sp)
        if d == "date":
            return ast.Lit("date", _date(str(c[0]), sp), sp)
        if d == "daterange":
            a, b = str(c[0]).split("..")
            return ast.Lit("daterange", (_date(a, sp), _date(b, sp)), sp)
        if d == "dayrange":
            a, b = str(c[0]).split("-")
            return ast.Lit("dayrange", (a, b), sp)
        if d == "true":
            return ast.Lit("bool", True, sp)
        if d == "false":
            return ast.Lit("bool", False, sp)
        if d == "list":
            return ast.ListLit(tuple(self.expr(x) for x in c if x is not None), sp)
        if d == "record":
            fields = []
            for p in c:
                if isinstance(p, Tree):
                    k, v = p.children
                    key = str(k)
                    if isinstance(k, Token) and k.type == "STRING":
                        key = _unescape(key[1:-1])
                    fields.append((key, self.expr(v)))
            return ast.RecordLit(tuple(fields), sp)
        if d == "attr":
            return ast.Attr(self.expr(c[0]), str(c[1]), sp)
        if d == "index":
            return ast.Index(self.expr(c[0]), self.expr(c[1]), sp)
        if d == "call":
            return self.call(t, sp)
        if d == "neg":
            return ast.Unary("-", self.expr(c[1]), sp)
        if d == "not_":
            return ast.Unary("not", self.expr(c[0]), sp)
        if d in ("binop", "compare"):
            return ast.Binary(str(c[1]), self.expr(c[0]), self.expr(c[2]), sp)
        if d == "and_":
            return ast.Binary("and", self.expr(c[0]), self.expr(c[1]), sp)
        if d == "or_":
            return ast.Binary("or", self.expr(c[0]), self.expr(c[1]), sp)
        if d == "in_":
            return ast.Binary("in", self.expr(c[0]), self.expr(c[1]), sp)
        if d == "notin":
            return ast.Binary("not in", self.expr(c[0]), self.expr(c[1]), sp)
        raise AssertionError(d)  # pragma: no cover

    def call(self, t: Tree[Token], sp: Span) -> ast.Call:
        callee, cargs = t.children
        func = self.expr(callee)
        name = _dotted(func)
        if name is None:
            raise _SyntaxProblem(error("E103", "only named functions can be called", sp, None))
        args: list[ast.Expr] = []
        kwargs: list[tuple[str, ast.Expr]] = []
        if isinstance(cargs, Tree):
            for a in cargs.children:
                if not isinstance(a, Tree):
                    continue
                if a.data == "ckw":
                    kwargs.append((str(a.children[0]), self.expr(a.children[1])))
                else:
                    if kwargs:
                        raise _SyntaxProblem(error(
                            "E103", "positional argument after a named one", self.span(a),
                            "put positional arguments first"))
                    args.append(self.expr(a.children[0]))
        return ast.Call(name, tuple(args), tuple(kwargs), sp, func.span)

    def string(self, tok: Token | Tree[Token] | None, sp: Span) -> ast.Expr:
        raw = str(tok)
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
    import datetime as _dt

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

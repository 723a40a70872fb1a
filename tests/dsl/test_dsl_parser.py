"""Parsing: what integrators write becomes the AST they meant, with exact positions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dsl import ast
from dsl.parser import parse_expression, parse_items


def _stmt(src: str) -> ast.Stmt:
    items, diags = parse_items(src)
    assert diags == []
    first = items[0]
    assert isinstance(first, ast.Stmt)
    return first


def test_chinese_text_keeps_its_characters_and_columns() -> None:
    st = _stmt('say "您好，欢迎致电95598！"  # 欢迎语\n')
    arg = st.args[0]
    assert isinstance(arg, ast.Pos)
    assert isinstance(arg.expr, ast.Lit)
    assert arg.expr.value == "您好，欢迎致电95598！"
    assert (arg.span.line, arg.span.col, arg.span.end_col) == (1, 5, 20)


def test_placeholders_carry_say_as_and_their_own_position() -> None:
    st = _stmt('say "余额{balance as money}元，户号{last4(acct)}"\n')
    arg = st.args[0]
    assert isinstance(arg, ast.Pos)
    assert isinstance(arg.expr, ast.Template)
    parts = arg.expr.parts
    assert parts[0] == "余额"
    assert parts[2] == "元，户号"
    ph = parts[1]
    assert isinstance(ph, ast.Placeholder)
    assert ph.say_as == "money"
    assert isinstance(ph.expr, ast.Name)
    assert ph.expr.name == "balance"
    assert ph.expr.span.col == 9  # under "balance" in the source line
    call = parts[3]
    assert isinstance(call, ast.Placeholder)
    assert isinstance(call.expr, ast.Call)
    assert call.expr.func == "last4"
    assert call.say_as is None


def test_double_braces_are_literal() -> None:
    st = _stmt('say "{{不是占位}}"\n')
    arg = st.args[0]
    assert isinstance(arg, ast.Pos)
    assert isinstance(arg.expr, ast.Template)
    assert arg.expr.parts == ("{不是占位}",)


@pytest.mark.parametrize(("text", "ms"), [("5s", 5000), ("2m", 120000), ("1m30s", 90000),
                                           ("500ms", 500), ("1h", 3600000)])
def test_durations(text: str, ms: int) -> None:
    e = parse_expression(text)
    assert isinstance(e, ast.Lit)
    assert e.kind == "duration"
    assert e.value == ms


def test_literals() -> None:
    assert parse_expression("12.50") == ast.Lit("decimal", Decimal("12.50"),
                                                 parse_expression("12.50").span)
    t = parse_expression("08:30")
    assert isinstance(t, ast.Lit)
    assert (t.kind, t.value) == ("time", "08:30")
    d = parse_expression("2026-10-01")
    assert isinstance(d, ast.Lit)
    assert d.kind == "date"
    p = parse_expression("30%")
    assert isinstance(p, ast.Lit)
    assert p.value == Decimal(30)
    r = parse_expression(r'r"^\d{10}$"')
    assert isinstance(r, ast.Lit)
    assert r.kind == "regex"
    assert r.value == r"^\d{10}$"


def _shape(e: ast.Expr) -> object:
    if isinstance(e, ast.Binary):
        return (e.op, _shape(e.left), _shape(e.right))
    if isinstance(e, ast.Unary):
        return (e.op, _shape(e.operand))
    if isinstance(e, ast.Name):
        return e.name
    if isinstance(e, ast.Lit):
        return e.value
    return type(e).__name__


@pytest.mark.parametrize(("src", "shape"), [
    ("1 + 2 * 3", ("+", 1, ("*", 2, 3))),
    ("a - b - c", ("-", ("-", "a", "b"), "c")),
    ("not a == b", ("not", ("==", "a", "b"))),
    ("a or b and c", ("or", "a", ("and", "b", "c"))),
    ("-x * 2", ("*", ("-", "x"), 2)),
    ("x not in [1, 2] and y > 3", ("and", ("not in", "x", "ListLit"), (">", "y", 3))),
    ("(a + b) * c", ("*", ("+", "a", "b"), "c")),
])
def test_operator_precedence(src: str, shape: object) -> None:
    assert _shape(parse_expression(src)) == shape


def test_options_routes_and_blocks() -> None:
    st = _stmt("queue service priority=10 overflow -> voicemail:\n  max_wait 3m\n")
    assert st.head == "queue"
    assert st.body is not None
    kinds = [type(a).__name__ for a in st.args]
    assert kinds == ["Pos", "Kw", "RouteArg"]
    route = st.args[2]
    assert isinstance(route, ast.RouteArg)
    assert route.name == "overflow"
    assert route.target == "voicemail"
    assert route.target_span.col == 39


def test_inline_block() -> None:
    st = _stmt('noinput 2: say "请按键"\n')
    assert st.body is not None
    assert isinstance(st.body[0], ast.Stmt)
    assert st.body[0].head == "say"


def test_declarations() -> None:
    items, diags = parse_items(
        "function crm.lookup(ani: text, n: list[int]) -> record timeout=2s\n"
        'global tier: text = "普通"\n'
        "subflow ident(ani: text) -> (ok: bool):\n  state s:\n    return ok=true\n")
    assert diags == []
    f, g, s = items
    assert isinstance(f, ast.FuncDecl)
    assert f.name == "crm.lookup"
    assert [str(p.type) for p in f.params] == ["text", "list[int]"]
    assert isinstance(g, ast.Decl)
    assert g.scope == "global"
    assert isinstance(s, ast.SubflowDef)
    assert [p.name for p in s.outputs] == ["ok"]


@pytest.mark.parametrize(("src", "code", "line", "col"), [
    ('state main：\n  hangup\n', "E100", 1, 11),
    ('say "没有结束\n', "E101", 1, 5),
    ("state a:\n    say 1\n  hangup\n", "E102", 3, 3),
    ("state a\n  hangup\n", "E104", 1, 8),
    ("say (1 + \n", "E105", 1, 10),
    ("hours h:\n  mon 09:00-25:00\n", "E106", 2, 7),
    ("x = 1\n", "E103", 1, 3),
    ('say "{ }"\n', "E107", 1, 6),
])
def test_syntax_errors_are_diagnostics_with_positions(src: str, code: str, line: int,
                                                      col: int) -> None:
    items, diags = parse_items(src)
    assert items == ()
    assert [(d.code, d.span.line, d.span.col) for d in diags] == [(code, line, col)]


def test_comments_and_blank_lines_anywhere() -> None:
    items, diags = parse_items("# 开头注释\n\nstate a:   # 状态\n\n  # 中间\n  hangup\n# 结尾")
    assert diags == []
    assert isinstance(items[0], ast.Stmt)
    assert items[0].body is not None


def test_byte_order_mark_and_invisible_spaces() -> None:
    items, diags = parse_items("\ufeffstate a:\n  hangup\n")
    assert diags == []
    assert isinstance(items[0], ast.Stmt)
    _, diags = parse_items("state a:\n  say\xa0\"x\"\n")
    assert [(d.code, d.span.line, d.span.col, d.message) for d in diags] == [
        ("E100", 2, 6, "invisible character U+00A0")]


@pytest.mark.parametrize(("line", "hint"), [
    ("  key 1 -> \n", "expected a state name after '->'"),
    ("  set x = \n", "expected a value after '='"),
    ('  say "a" +\n', "expected a value after '+'"),
    ("  say (1 2)\n", "expected ')'"),
])
def test_syntax_hints(line: str, hint: str) -> None:
    _, diags = parse_items("state main:\n" + line)
    assert [d.hint for d in diags] == [hint]

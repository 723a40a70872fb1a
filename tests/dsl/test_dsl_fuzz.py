"""Fuzzing: mutated example flows only ever produce the language's own diagnostics.

Every input must come back as diagnostics with a known code and a position inside the file
(or compile), never as another exception, and within one second of CPU time (CPU rather than
wall time: the development VM is shared, and waiting for a core is not the front end's cost).
"""

from __future__ import annotations

import time

import pytest
from dsl_helpers import EXAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dsl
from dsl.diagnostics import CODES, render

SOURCES = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.flow"))]
SNIPPETS = [":", "->", "\"", "'", "(", ")", "[", "]", "{", "}", "{x}", "=", "==", "  ", "\t",
            "\n", "\n  ", "#", "：", "，", "“", "r\"[\"", "08:61", "2026-13-40", "99%",
            "state", "menu", "key", "goto", "if", "elif", "else", "not", "in", "and",
            "collect", "call", "run", "return", "queue", "hangup", "say", "您好", "1m30s",
            "{a as money}", "subflow s(x: text) -> (y: bool):", "function f.g(a: int)",
            "var", "global", "setting", "test", "expect", "mock", "\\", "\x00", "\r\n"]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    src = draw(st.sampled_from(SOURCES))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["delete", "insert", "dup_line", "swap_lines",
                                     "indent", "truncate"]))
        if not src:
            break
        i = draw(st.integers(0, len(src) - 1))
        if kind == "delete":
            j = draw(st.integers(i, min(len(src), i + 40)))
            src = src[:i] + src[j:]
        elif kind == "insert":
            piece = draw(st.one_of(st.sampled_from(SNIPPETS), st.text(max_size=8)))
            src = src[:i] + piece + src[i:]
        elif kind == "truncate":
            src = src[:i]
        else:
            lines = src.split("\n")
            a = draw(st.integers(0, len(lines) - 1))
            b = draw(st.integers(0, len(lines) - 1))
            if kind == "dup_line":
                lines.insert(b, lines[a])
            elif kind == "swap_lines":
                lines[a], lines[b] = lines[b], lines[a]
            else:
                lines[a] = " " * draw(st.integers(0, 9)) + lines[a].lstrip(" ")
            src = "\n".join(lines)
    return src


def _check_one(src: str, *, test_file: bool) -> None:
    start = time.process_time()
    analysis = dsl.analyse(src, test_file=test_file)
    if not test_file and analysis.ok:
        ir, _ = dsl.compile_source(src)
        assert ir is not None
    n_lines = max(1, len(src.splitlines()) + 1)
    for d in analysis.diagnostics:
        assert d.code in CODES
        assert 1 <= d.span.line <= n_lines, d
        assert d.span.col >= 1, d
        text = render(d, "fuzz.flow", src)
        assert f"[{d.code}]" in text
    assert time.process_time() - start < 1.0


@pytest.mark.slow
@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated())
def test_mutated_flows_give_only_diagnostics(src: str) -> None:
    _check_one(src, test_file=False)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_test_files_give_only_diagnostics(src: str) -> None:
    _check_one(src, test_file=True)


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_gives_only_diagnostics(src: str) -> None:
    _check_one(src, test_file=False)


@pytest.mark.parametrize("body", [
    "say " + "(" * 3000 + "1" + ")" * 3000,
    "say " + "- " * 3000 + "1",
    "set x = 1" + " + 1" * 5000,
    "say \"{" + "(" * 60 + "1" + ")" * 60 + "}\"",
])
def test_pathological_nesting_is_a_diagnostic(body: str) -> None:
    src = f"flow a:\n  start s\n\nstate s:\n  {body}\n  hangup\n"
    diags = dsl.analyse(src).diagnostics
    assert [d.code for d in diags] in (["E103"], ["E107"])
    assert diags[0].span.line == 5


def test_deep_blocks_are_a_diagnostic() -> None:
    body = "".join("  " * (i + 1) + "if true:\n" for i in range(100)) + "  " * 101 + "hangup\n"
    diags = dsl.analyse("flow a:\n  start s\n\nstate s:\n" + body).diagnostics
    assert [d.code for d in diags] == ["E102"]

"""Golden diagnostics: every broken flow gives exactly its recorded `coreswitch check` output.

Rewrite the .expected files with CORESWITCH_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest
from dsl_helpers import HERE, golden, run_check

from dsl.diagnostics import CODES

BROKEN = sorted((HERE / "broken").glob("*.flow"))
WARNINGS = sorted((HERE / "warnings").glob("*.flow"))
HEADER = re.compile(r"^(?P<file>[^\s:]+):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning)"
                    r"\[(?P<code>[EW]\d{3})\]: ")


def _code_of(path: Path) -> str:
    return path.name.split("-", 1)[0]


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def test_corpus_is_big_enough() -> None:
    assert len(BROKEN) >= 30


def test_every_code_has_a_broken_example() -> None:
    covered = {_code_of(p) for p in [*BROKEN, *WARNINGS]}
    assert set(CODES) - covered == set()


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.name)
def test_broken_flow_fails_with_its_code(path: Path) -> None:
    code, out = run_check(str(path.relative_to(HERE.parents[1])))
    assert out == golden(path, out)
    assert code == 1
    want = _code_of(path)
    lines = out.splitlines()
    heads = [(i, m) for i, ln in enumerate(lines) if (m := HEADER.match(ln))]
    assert any(m["code"] == want for _, m in heads), out
    for i, m in heads:  # the caret sits under the reported column
        source_line = lines[i + 1].split(" | ", 1)[1]
        caret_line = lines[i + 2].split("| ", 1)[1]
        col = int(m["col"])
        assert caret_line.index("^") == _width(source_line[: col - 1])


@pytest.mark.parametrize("path", WARNINGS, ids=lambda p: p.name)
def test_warning_flow_passes_but_warns(path: Path) -> None:
    code, out = run_check(str(path.relative_to(HERE.parents[1])))
    assert out == golden(path, out)
    assert code == 0
    assert f"warning[{_code_of(path)}]" in out


@pytest.mark.parametrize("path", BROKEN + WARNINGS, ids=lambda p: p.name)
def test_fixed_version_is_clean(path: Path) -> None:
    fixed = path.parent / "fixed" / path.name if path.parent.name == "warnings" \
        else HERE / "fixed" / path.name
    code, out = run_check(str(fixed.relative_to(HERE.parents[1])))
    assert code == 0, out
    assert f"[{_code_of(path)}]" not in out

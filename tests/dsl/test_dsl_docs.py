"""docs/flow-language.md documents every verb, built-in and error code from the code itself."""

from __future__ import annotations

from dsl_docgen import DOC, render
from dsl_helpers import UPDATE

import dsl
from dsl.diagnostics import CODES


def test_reference_generated_sections_are_current() -> None:
    text = DOC.read_text(encoding="utf-8")
    fresh = render(text)
    if UPDATE and fresh != text:
        DOC.write_text(fresh, encoding="utf-8")
        text = fresh
    assert text == fresh, "run CORESWITCH_UPDATE_GOLDEN=1 pytest tests/dsl/test_dsl_docs.py"


def test_every_code_is_documented_with_examples() -> None:
    text = DOC.read_text(encoding="utf-8")
    for code in CODES:
        assert f"### {code} — " in text


def test_tutorial_final_flow_checks_clean() -> None:
    text = (DOC.parent / "tutorial.md").read_text(encoding="utf-8")
    block = text.split("```\n# tutorial: final\n", 1)[1].split("```", 1)[0]
    analysis = dsl.analyse(block)
    assert [d.code for d in analysis.diagnostics] == []
    ir, _ = dsl.compile_source(block)
    assert ir is not None
    assert set(ir["states"]) >= {"welcome", "main_menu", "after_hours"}

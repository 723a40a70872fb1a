"""docs/flow-language.md documents every verb, built-in and error code from the code itself."""

from __future__ import annotations

from dsl_docgen import DOC, render
from dsl_helpers import UPDATE

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

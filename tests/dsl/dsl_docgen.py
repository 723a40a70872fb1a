"""Generated parts of docs/flow-language.md: verb options, built-in functions, error codes.

The tables come from the single sources (``dsl.verbs``, ``dsl.builtins``,
``dsl.diagnostics.CODES``) and the error examples from tests/dsl/{broken,warnings} with their
golden output and fixed versions. test_dsl_docs.py keeps the document in step; run it with
CORESWITCH_UPDATE_GOLDEN=1 to rewrite the generated sections.
"""

from __future__ import annotations

import re
from pathlib import Path

from dsl.builtins import BUILTINS
from dsl.diagnostics import CODES
from dsl.verbs import BUILTIN_VERBS, COLLECT_OPTIONS, MENU_OPTIONS, ParamSpec

HERE = Path(__file__).resolve().parent
DOC = HERE.parents[1] / "docs" / "flow-language.md"
BEGIN = "<!-- BEGIN GENERATED: {name} (tests/dsl/dsl_docgen.py) -->"
END = "<!-- END GENERATED: {name} -->"


def _kind(p: ParamSpec) -> str:
    return {"expr": str(p.type), "name": "name", "var": "variable (bound)",
            "media": "prompt name or \"file.wav\"", "prompt": "prompt name or text",
            "lang": "language", "fields": "`field NAME = expr` lines"}[p.kind]


def _options_table(specs: dict[str, ParamSpec]) -> list[str]:
    out = ["| option | type | meaning |", "|---|---|---|"]
    for p in specs.values():
        req = " (required)" if p.required else ""
        out.append(f"| `{p.name}`{req} | {_kind(p)} | {p.doc} |")
    return out


def verbs_section() -> str:
    out: list[str] = []
    for v in BUILTIN_VERBS.values():
        out.append(f"#### `{v.name}`\n")
        out.append(v.doc + ("  Ends the state." if v.terminal else "") + "\n")
        pos = [p.name.upper() for p in v.params if p.positional]
        out.append(f"Form: `{' '.join([v.name, *pos])} [option=value …]` — options may also be "
                   "written one per line in an indented block.\n")
        out.extend(_options_table({p.name: p for p in v.params}))
        if v.routes:
            out.append("")
            out.append("| route | required | when |")
            out.append("|---|---|---|")
            for r in v.routes:
                out.append(f"| `{r.name} -> STATE` | {'yes' if r.required else 'no'} | "
                           f"{r.doc} |")
        out.append("")
    out.append("#### `menu` options\n")
    out.extend(_options_table(MENU_OPTIONS))
    out.append("\n#### `collect` options\n")
    out.extend(_options_table(COLLECT_OPTIONS))
    return "\n".join(out) + "\n"


def builtins_section() -> str:
    out = ["| function | arguments → result | does |", "|---|---|---|"]
    for b in BUILTINS.values():
        args = ", ".join(str(t) for t in b.params)
        out.append(f"| `{b.name}` | ({args}) → {b.returns} | {b.doc} |")
    return "\n".join(out) + "\n"


def _example(code: str) -> tuple[Path, Path] | None:
    for folder in (HERE / "broken", HERE / "warnings"):
        for p in sorted(folder.glob(f"{code}-*.flow")):
            fixed = folder / "fixed" / p.name if folder.name == "warnings" else \
                HERE / "fixed" / p.name
            return p, fixed
    return None


def _expected(p: Path) -> Path:
    return p.with_name(p.name.removesuffix(".flow").removesuffix(".test") + ".expected")


def errors_section() -> str:
    out: list[str] = []
    for c in CODES.values():
        kind = "warning" if c.code.startswith("W") else "error"
        out.append(f"### {c.code} — {c.title} ({kind})\n")
        out.append(c.explanation + "\n")
        ex = _example(c.code)
        if ex is None:  # pragma: no cover - test_dsl_golden requires an example per code
            continue
        wrong, fixed = ex
        out.append("Wrong:\n")
        out.append("```\n" + wrong.read_text(encoding="utf-8").rstrip() + "\n```\n")
        report = _expected(wrong).read_text(encoding="utf-8")
        report = re.sub(r"^\d+ files? checked.*\n?", "", report, flags=re.M).rstrip()
        out.append("`coreswitch check` says:\n")
        out.append("```\n" + report + "\n```\n")
        out.append("Fixed:\n")
        out.append("```\n" + fixed.read_text(encoding="utf-8").rstrip() + "\n```\n")
    return "\n".join(out)


SECTIONS = {"verbs": verbs_section, "builtins": builtins_section, "errors": errors_section}


def render(doc: str) -> str:
    """``doc`` with every generated section replaced by its current content."""
    for name, fn in SECTIONS.items():
        begin, end = BEGIN.format(name=name), END.format(name=name)
        pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
        if not pattern.search(doc):
            raise ValueError(f"docs/flow-language.md lacks the {name!r} markers")
        doc = pattern.sub(lambda _m, n=name, f=fn: BEGIN.format(name=n) + "\n\n" + f()  # type: ignore[misc]
                          + "\n" + END.format(name=n), doc)
    return doc

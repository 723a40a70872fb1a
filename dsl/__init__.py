"""The coreswitch flow language: grammar, parser, AST, checker, compiler and IR.

Pure: no I/O beyond reading source text handed to it, and no import of ``coreswitch``.

Pipeline: :func:`parse` (Lark → AST) → :func:`analyse` (+ checker diagnostics) →
:func:`compile_source` / :func:`compile_checked` (→ IR dict with ``content_hash``).
"""

from dsl.api import Analysis, analyse, compile_checked, compile_source, parse
from dsl.diagnostics import CODES, Diagnostic, Severity, render, render_all
from dsl.environment import Environment, FunctionSig
from dsl.ir import IR_VERSION

__all__ = [
    "CODES",
    "IR_VERSION",
    "Analysis",
    "Diagnostic",
    "Environment",
    "FunctionSig",
    "Severity",
    "analyse",
    "compile_checked",
    "compile_source",
    "parse",
    "render",
    "render_all",
]

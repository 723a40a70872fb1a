"""Exceptions of the flow front end. Problems in a flow are never exceptions: they are
:class:`dsl.diagnostics.Diagnostic` values, all of them returned at once. Exceptions are
only for the two places where a value cannot be produced::

    Exception
    ├── DslError                 base of everything below
    │   ├── SyntaxProblem        internal to dsl.parser/dsl.lexer: a syntax error found while
    │   │                        lexing or building the AST; carries its finished Diagnostic and
    │   │                        is turned into the parse result, never escapes the package
    │   └── EvalError            raised by dsl.expr.evaluate at run time (division by zero,
    │                            to_int("abc"), a missing field …); the runtime takes the
    │                            statement's failure path and logs it
    └── ValueError               dsl.ir.loads on a wrong IR version or a content-hash mismatch;
                                 dsl.parser.parse_expression on a malformed expression
"""

from __future__ import annotations

from dsl.diagnostics import Diagnostic


class DslError(Exception):
    """Base class of the front end's own exceptions."""


class SyntaxProblem(DslError):
    """A syntax error found while lexing or building the AST, as a finished diagnostic."""

    def __init__(self, diag: Diagnostic) -> None:
        super().__init__(diag.message)
        self.diag = diag


class EvalError(DslError):
    """A run-time failure of an expression (bad conversion, division by zero …)."""

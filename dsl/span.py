"""Source positions: every AST node carries a :class:`Span` (1-based, end column exclusive)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    line: int
    col: int
    end_line: int
    end_col: int

    @staticmethod
    def point(line: int, col: int, width: int = 1) -> Span:
        return Span(line, col, line, col + max(width, 1))

    def to(self, other: Span) -> Span:
        """The span covering ``self`` up to the end of ``other``."""
        return Span(self.line, self.col, other.end_line, other.end_col)

    def as_list(self) -> list[int]:
        return [self.line, self.col, self.end_line, self.end_col]


NO_SPAN = Span(0, 0, 0, 0)

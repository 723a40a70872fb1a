"""What say-as rules produce: words, each with its text (for TTS) and its prompt files (for
deployments that play recorded sounds instead), and the value parsing they share."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import NamedTuple

Number = int | Decimal | float | str
"""What a number, money or decimal say-as accepts. ``str`` must be a plain decimal literal; a
``float`` is read through its shortest repr (``0.1`` is 0.1, not 0.1000000000000000055…)."""


class Word(NamedTuple):
    """One spoken unit: its text, and the recorded prompt files that say it."""

    text: str
    files: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Spoken:
    """A value rendered for speech: ``text`` to synthesise, or ``files`` to play in order."""

    text: str
    files: tuple[str, ...]


def join(words: list[Word], lang: str) -> Spoken:
    """Chinese words run together; English ones take spaces, and ',' sticks to the word before."""
    files = tuple(f for w in words for f in w.files)
    if lang == "zh":
        return Spoken("".join(w.text for w in words), files)
    text = ""
    for w in words:
        text += w.text if (not text or w.text.startswith(",")) else " " + w.text
    return Spoken(text, files)


@dataclass(frozen=True, slots=True)
class ParsedNumber:
    """A number split the way it is read: sign, integer part, digits after the point as written."""

    negative: bool
    integer: int
    fraction: str  # "" for none; "05" for x.05; trailing zeros kept as written ("1.50" → "50")


def to_decimal(value: Number) -> Decimal:
    """Any accepted number → a finite Decimal; ``ValueError``/``TypeError`` for anything else."""
    if isinstance(value, bool):
        raise TypeError("a bool is not a number to say")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, str):
        text = value.strip()  # no thousands separators: "1,5" would be ambiguous
        if not text or any(c not in "0123456789.+-" for c in text):
            raise ValueError(f"not a number: {value!r}")
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"not a number: {value!r}") from None
    if not isinstance(value, Decimal):
        raise TypeError(f"cannot say {type(value).__name__} as a number")
    if not value.is_finite():
        raise ValueError(f"cannot say {value} as a number")
    return value


def parse_number(value: Number) -> ParsedNumber:
    if isinstance(value, int) and not isinstance(value, bool):
        return ParsedNumber(value < 0, abs(value), "")
    d = to_decimal(value)
    whole, _, fraction = format(abs(d), "f").partition(".")
    return ParsedNumber(d < 0, int(whole), fraction)


def parse_money(value: Number) -> tuple[bool, int, int]:
    """(negative, whole units, hundredths), rounded half-up to the cent."""
    d = to_decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    cents = int(abs(d) * 100)
    return d < 0, cents // 100, cents % 100

"""Say-as: values → speakable text (for TTS) or prompt-file lists (for recorded sounds).

Pure functions, no I/O. The language is ``zh`` (Mandarin) or ``en``; regional tags and voice
names are accepted too (``zh-CN``, ``cmn``, ``en-US``). Kinds match the flow language's
``{expr as KIND}`` placeholders::

    say_number(123, "zh")                  一百二十三
    say_number(123, "en")                  one hundred twenty-three
    say_digits("95598", "zh")              九五五九八
    say_phone("13800138000", "zh")         幺三八，零零幺三，八零零零
    say_date(date(2026, 11, 22), "zh")     二〇二六年十一月二十二日
    say_date(date(2026, 11, 22), "en")     November 22, 2026
    say_time(time(14, 5), "zh")            下午两点零五分
    say_time(time(14, 5), "en")            two oh five PM
    say_money(Decimal("123.45"), "zh")     一百二十三元四角五分
    say_money("123.45", "en")              one hundred twenty-three yuan and forty-five fen
    say_ordinal(3, "zh")                   第三

:func:`say_as` returns a :class:`~coreswitch.media.spoken.Spoken` with both ``text`` and ``files``;
:func:`vocabulary` lists every file a language can ask for, so a deployment knows what to record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from coreswitch.media import sayas_en, sayas_zh
from coreswitch.media.spoken import Number, Spoken, join, parse_money, parse_number

__all__ = [
    "Number", "SayAs", "Spoken", "language", "say_as", "say_date", "say_digits", "say_money",
    "say_number", "say_ordinal", "say_phone", "say_time", "vocabulary",
]


class SayAs(StrEnum):
    """The say-as kinds (``{expr as KIND}`` in a flow)."""

    TEXT = "text"
    NUMBER = "number"
    ORDINAL = "ordinal"
    DIGITS = "digits"
    PHONE = "phone"
    MONEY = "money"
    DATE = "date"
    TIME = "time"


def language(lang: str) -> str:
    """``zh``, ``zh-CN``, ``cmn``, ``mandarin`` → ``zh``; ``en``, ``en-US``, ``en-GB`` → ``en``."""
    tag = lang.strip().lower().replace("_", "-")
    base = tag.split("-", 1)[0]
    if base in ("zh", "cmn", "mandarin") or tag == "sit/cmn":
        return "zh"
    if base == "en" or tag.startswith("gmw/en"):
        return "en"
    raise ValueError(f"no say-as rules for language {lang!r} (zh or en)")


def _as_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} needs an int, got {type(value).__name__}")
    return value


def _as_digit_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    raise TypeError(f"digits need text or a non-negative int, got {value!r}")


def _phone_groups(text: str) -> str:
    """A bare 11-digit mobile number (1xx) reads in groups 3-4-4; anything else as written."""
    if len(text) == 11 and text.isdigit() and text.startswith("1"):
        return f"{text[:3]} {text[3:7]} {text[7:]}"
    return text


@dataclass(frozen=True, slots=True)
class _Options:
    currency: str
    yao: bool | None
    seconds: bool


def say_as(kind: SayAs | str, value: object, lang: str = "zh", *, currency: str = "CNY",
           yao: bool | None = None, seconds: bool = False) -> Spoken:
    """Render ``value`` as ``kind`` in ``lang``: text for TTS and prompt files to play.

    ``currency`` (ISO code: CNY, USD, EUR) is for money; ``yao`` reads Chinese 1 as 幺 (default: in
    phone numbers only); ``seconds`` adds seconds to times. ``ValueError``/``TypeError`` when the
    value cannot be said that way.
    """
    try:
        rule = _RULES[SayAs(kind)]
    except ValueError:
        raise ValueError(f"unknown say-as {kind!r}; one of "
                         f"{', '.join(k.value for k in SayAs)}") from None
    return rule(value, language(lang), _Options(currency.upper(), yao, seconds))


def _text(value: object, lang: str, opts: _Options) -> Spoken:
    return Spoken(str(value), ())


def _number(value: object, lang: str, opts: _Options) -> Spoken:
    parsed = parse_number(value)  # type: ignore[arg-type]  # validated inside: TypeError
    return join(sayas_zh.number(parsed) if lang == "zh" else sayas_en.number(parsed), lang)


def _ordinal(value: object, lang: str, opts: _Options) -> Spoken:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"ordinal needs an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError("ordinals are for non-negative numbers")
    return join(sayas_zh.ordinal(value) if lang == "zh" else sayas_en.ordinal(value), lang)


def _digit_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    raise TypeError(f"digits need text or a non-negative int, got {value!r}")


def _digits(value: object, lang: str, opts: _Options) -> Spoken:
    text = _digit_text(value)
    if lang == "zh":
        return join(sayas_zh.digits(text, yao=bool(opts.yao)), lang)
    return join(sayas_en.digits(text), lang)


def _phone(value: object, lang: str, opts: _Options) -> Spoken:
    """Like digits, with 1 as 幺 in Chinese and a bare 11-digit mobile (1xx) grouped 3-4-4."""
    text = _digit_text(value)
    if len(text) == 11 and text.isdigit() and text.startswith("1"):
        text = f"{text[:3]} {text[3:7]} {text[7:]}"
    return _digits(text, lang, _Options(opts.currency, opts.yao is not False, opts.seconds))


def _money(value: object, lang: str, opts: _Options) -> Spoken:
    negative, whole, cents = parse_money(value)  # type: ignore[arg-type]  # validated inside
    if lang == "zh":
        return join(sayas_zh.money(negative, whole, cents, opts.currency), lang)
    return join(sayas_en.money(negative, whole, cents, opts.currency), lang)


def _date(value: object, lang: str, opts: _Options) -> Spoken:
    if not isinstance(value, dt.date):
        raise TypeError(f"date needs a date or datetime, got {type(value).__name__}")
    day = value.date() if isinstance(value, dt.datetime) else value
    if lang == "zh":
        return join(sayas_zh.date(day), lang)
    text, words = sayas_en.date(day)
    return Spoken(text, join(words, lang).files)


def _time(value: object, lang: str, opts: _Options) -> Spoken:
    if isinstance(value, dt.datetime):
        value = value.time()
    if not isinstance(value, dt.time):
        raise TypeError(f"time needs a time or datetime, got {type(value).__name__}")
    if lang == "zh":
        return join(sayas_zh.time(value, seconds=opts.seconds), lang)
    return join(sayas_en.time(value, seconds=opts.seconds), lang)


_RULES: dict[SayAs, Callable[[object, str, _Options], Spoken]] = {
    SayAs.TEXT: _text, SayAs.NUMBER: _number, SayAs.ORDINAL: _ordinal, SayAs.DIGITS: _digits,
    SayAs.PHONE: _phone, SayAs.MONEY: _money, SayAs.DATE: _date, SayAs.TIME: _time,
}


def say_number(value: Number, lang: str = "zh") -> str:
    """123 → 一百二十三 / one hundred twenty-three; -3.14 → 负三点一四 / minus three point
    one four."""
    return say_as(SayAs.NUMBER, value, lang).text


def say_ordinal(n: int, lang: str = "zh") -> str:
    """3 → 第三 / third."""
    return say_as(SayAs.ORDINAL, n, lang).text


def say_digits(value: str | int, lang: str = "zh", *, yao: bool = False) -> str:
    """Digit by digit: "95598" → 九五五九八 / nine five five nine eight. Spaces and '-' pause."""
    return say_as(SayAs.DIGITS, value, lang, yao=yao).text


def say_phone(value: str | int, lang: str = "zh", *, yao: bool = True) -> str:
    """A phone number: digit by digit, 1 as 幺 in Chinese, mobiles grouped 3-4-4."""
    return say_as(SayAs.PHONE, value, lang, yao=yao).text


def say_date(value: dt.date, lang: str = "zh") -> str:
    """2026-11-22 → 二〇二六年十一月二十二日 / November 22, 2026."""
    return say_as(SayAs.DATE, value, lang).text


def say_time(value: dt.time | dt.datetime, lang: str = "zh", *, seconds: bool = False) -> str:
    """14:05 → 下午两点零五分 / two oh five PM."""
    return say_as(SayAs.TIME, value, lang, seconds=seconds).text


def say_money(value: Number, lang: str = "zh", currency: str = "CNY") -> str:
    """123.45 → 一百二十三元四角五分; 100 → 一百元整; en: one hundred twenty-three yuan and
    forty-five fen (USD: dollars and cents)."""
    return say_as(SayAs.MONEY, value, lang, currency=currency).text


def vocabulary(lang: str) -> frozenset[str]:
    """Every prompt file the rules for ``lang`` can ask for (what to record for a deployment)."""
    return sayas_zh.vocabulary() if language(lang) == "zh" else sayas_en.vocabulary()

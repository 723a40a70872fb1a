"""Say-as rules: how a placeholder value is read aloud (``{x as money}``), as plain text for TTS.

Pure functions; the runtime applies them to :class:`dsl.expr.Segment` s before synthesis.
Chinese (``zh``) readings follow common IVR practice; other languages get a neutral form.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

_DIGITS = "零一二三四五六七八九"
_SMALL_UNITS = ("", "十", "百", "千")
_BIG_UNITS = ("", "万", "亿", "万亿")


def _below_10000(n: int) -> str:
    out = ""
    zero = False
    for i in range(3, -1, -1):
        d = n // 10**i % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += _DIGITS[d] + _SMALL_UNITS[i]
    return out


def zh_integer(n: int) -> str:
    """12345 → 一万二千三百四十五; 10 → 十; 0 → 零."""
    if n == 0:
        return "零"
    if n < 0:
        return "负" + zh_integer(-n)
    groups = []
    while n:
        groups.append(n % 10000)
        n //= 10000
    out = ""
    for i in range(len(groups) - 1, -1, -1):
        g = groups[i]
        if g == 0:
            if out and not out.endswith("零"):
                out += "零"
            continue
        if out and g < 1000 and not out.endswith("零"):
            out += "零"
        out += _below_10000(g) + _BIG_UNITS[i]
    out = out.rstrip("零")
    return out[1:] if out.startswith("一十") else out


def zh_number(v: int | Decimal) -> str:
    """Integers and decimals: 3.05 → 三点零五."""
    d = Decimal(v)
    sign = "负" if d < 0 else ""
    d = abs(d)
    whole = int(d)
    frac = format(d, "f").split(".")[1].rstrip("0") if "." in format(d, "f") else ""
    text = zh_integer(whole)
    if frac:
        text += "点" + "".join(_DIGITS[int(c)] for c in frac)
    return sign + text


def zh_money(v: int | Decimal) -> str:
    """56.80 → 五十六元八角; 0.05 → 五分; 12 → 十二元."""
    d = Decimal(v).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "负" if d < 0 else ""
    d = abs(d)
    yuan = int(d)
    jiao = int(d * 10) % 10
    fen = int(d * 100) % 10
    parts = []
    if yuan or not (jiao or fen):
        parts.append(zh_integer(yuan) + "元")
    if jiao:
        parts.append(_DIGITS[jiao] + "角")
    elif fen and yuan:
        parts.append("零")
    if fen:
        parts.append(_DIGITS[fen] + "分")
    return sign + "".join(parts)


def zh_digits(s: str, *, phone: bool = False) -> str:
    """Digit by digit: 95598 → 九五五九八 (phone numbers read 1 as 幺)."""
    table = "零幺二三四五六七八九" if phone else _DIGITS
    return "".join(table[int(c)] if c.isdigit() else c for c in s)


def speak(value: object, say_as: str | None, lang: str = "zh") -> str:  # noqa: PLR0911
    """The text TTS should read for ``value`` said as ``say_as``."""
    if lang != "zh" or say_as in (None, "text"):
        return _plain(value)
    if say_as == "number" and isinstance(value, int | Decimal) and not isinstance(value, bool):
        return zh_number(value)
    if say_as == "money" and isinstance(value, int | Decimal) and not isinstance(value, bool):
        return zh_money(value)
    if say_as in ("digits", "phone"):
        return zh_digits(str(value), phone=say_as == "phone")
    if say_as == "date" and isinstance(value, dt.date):
        return f"{value.year}年{value.month}月{value.day}日"
    if say_as == "time" and isinstance(value, dt.time | dt.datetime):
        return f"{value.hour}点" + (f"{value.minute}分" if value.minute else "整")
    return _plain(value)


def _plain(value: object) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    return str(value)

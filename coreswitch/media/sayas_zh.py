"""Chinese (Mandarin) say-as rules.

Numbers follow the usual reading:

- four-digit sections under 万 and 亿 (一万亿 for 10¹², 一亿亿 beyond);
- one 零 for any run of zeros inside a number, none at its end: 1005 一千零五, 1050 一千零五十,
  10005 一万零五, 100500 十万零五百;
- 十 rather than 一十 only at the very start: 15 十五, 150000 十五万, but 110 一百一十;
- 两 for a 2 before 千, 万 or 亿: 2000 两千, 20000 两万, 22000 两万两千, 2亿 两亿; 200 stays
  二百, 12 stays 十二;
- digit strings read 零 for 0, and 幺 for 1 in phone numbers when asked; years digit by digit
  with 〇.

Prompt files (ASCII names, for recorded-sound deployments; see ``vocabulary()``):
``digits/0``…``digits/9``, ``digits/liang`` 两, ``digits/yao`` 幺, ``digits/shi`` 十,
``digits/bai`` 百, ``digits/qian`` 千, ``digits/wan`` 万, ``digits/yi`` 亿, ``digits/fu`` 负,
``digits/dian`` 点, ``digits/di`` 第, ``digits/star`` 星号, ``digits/pound`` 井号,
``digits/plus`` 加, ``letters/x``,
``time/nian|yue|ri`` 年月日, ``time/lingchen|shangwu|zhongwu|xiawu|wanshang``, ``time/dian`` 点,
``time/fen`` 分, ``time/miao`` 秒, ``currency/*`` for 元角分整 and foreign currency names.
"""

from __future__ import annotations

import datetime as dt

from coreswitch.media.spoken import ParsedNumber, Word

_DIGIT = "零一二三四五六七八九"
_ZERO = Word("零", ("digits/0",))
_LIANG = Word("两", ("digits/liang",))
_TEN = Word("十", ("digits/shi",))
_UNITS = (Word("千", ("digits/qian",)), Word("百", ("digits/bai",)), _TEN)
_WAN = Word("万", ("digits/wan",))
_YI = Word("亿", ("digits/yi",))
_NEGATIVE = Word("负", ("digits/fu",))

# currency code → (main unit, tenth unit or None, hundredth unit)
_CURRENCIES: dict[str, tuple[Word, Word | None, Word]] = {
    "CNY": (Word("元", ("currency/yuan",)), Word("角", ("currency/jiao",)),
            Word("分", ("currency/fen",))),
    "USD": (Word("美元", ("currency/usd",)), None, Word("美分", ("currency/usd-cent",))),
    "EUR": (Word("欧元", ("currency/eur",)), None, Word("欧分", ("currency/eur-cent",))),
}
_WHOLE = Word("整", ("currency/zheng",))

_SYMBOLS = {"*": Word("星号", ("digits/star",)), "#": Word("井号", ("digits/pound",)),
            "+": Word("加", ("digits/plus",)), "X": Word("X", ("letters/x",))}
_PAUSE = Word("，", ())


def digit(d: int, *, yao: bool = False) -> Word:
    if d == 1 and yao:
        return Word("幺", ("digits/yao",))
    return Word(_DIGIT[d], (f"digits/{d}",))


def _section(n: int, liang: bool) -> list[Word]:
    """1..9999 read within a 万/亿 section."""
    out: list[Word] = []
    zero_pending = started = False
    for place, d in enumerate((n // 1000, n // 100 % 10, n // 10 % 10, n % 10)):
        if d == 0:
            zero_pending = zero_pending or started
            continue
        if zero_pending:
            out.append(_ZERO)
            zero_pending = False
        out.append(_LIANG if (liang and d == 2 and place == 0) else digit(d))
        if place < 3:
            out.append(_UNITS[place])
        started = True
    return out


def _large(n: int, liang: bool) -> list[Word]:
    """n ≥ 1 by 万 and 亿 sections, with 零 where a lower section starts with zeros."""
    for size, unit, gap in ((10**8, _YI, 10**7), (10**4, _WAN, 1000)):
        if n >= size:
            high, low = divmod(n, size)
            out = [_LIANG] if (liang and high == 2) else _large(high, liang)
            out.append(unit)
            if low:
                if low < gap:
                    out.append(_ZERO)
                out += _large(low, liang)
            return out
    return _section(n, liang)


def integer(n: int, *, liang: bool = True) -> list[Word]:
    """A non-negative integer: 0 零, 10 十, 1005 一千零五, 20000 两万."""
    if n == 0:
        return [_ZERO]
    out = _large(n, liang)
    if len(out) >= 2 and out[0].text == "一" and out[1] is _TEN:
        del out[0]  # 十五 and 十万, not 一十五
    return out


def number(p: ParsedNumber) -> list[Word]:
    out = [_NEGATIVE] if p.negative and (p.integer or p.fraction.strip("0")) else []
    out += integer(p.integer)
    if p.fraction:
        out.append(Word("点", ("digits/dian",)))
        out += [digit(int(c)) for c in p.fraction]
    return out


def ordinal(n: int) -> list[Word]:
    return [Word("第", ("digits/di",)), *integer(n)]


def digits(text: str, *, yao: bool = False) -> list[Word]:
    out: list[Word] = []
    for ch in text:
        if ch.isascii() and ch.isdigit():
            out.append(digit(int(ch), yao=yao))
        elif ch.upper() in _SYMBOLS:
            out.append(_SYMBOLS[ch.upper()])
        elif ch in " -":
            if out and out[-1] is not _PAUSE:
                out.append(_PAUSE)
        else:
            raise ValueError(f"cannot read {ch!r} in {text!r} as a digit")
    while out and out[-1] is _PAUSE:
        out.pop()
    if not out:
        raise ValueError(f"no digits to read in {text!r}")
    return out


def date(d: dt.date) -> list[Word]:
    """2026-11-22 → 二〇二六年十一月二十二日."""
    year = [Word("〇", ("digits/0",)) if c == "0" else digit(int(c)) for c in str(d.year)]
    return [*year, Word("年", ("time/nian",)), *integer(d.month, liang=False),
            Word("月", ("time/yue",)), *integer(d.day, liang=False), Word("日", ("time/ri",))]


def _period(hour: int) -> Word:
    if hour < 6:
        return Word("凌晨", ("time/lingchen",))
    if hour < 12:
        return Word("上午", ("time/shangwu",))
    if hour == 12:
        return Word("中午", ("time/zhongwu",))
    if hour < 18:
        return Word("下午", ("time/xiawu",))
    return Word("晚上", ("time/wanshang",))


def _sixty(n: int, unit: Word) -> list[Word]:
    """Minutes or seconds: 5 → 零五分, 20 → 二十分."""
    if n == 0:
        return [_ZERO, unit]
    return [*([_ZERO, digit(n)] if n < 10 else integer(n, liang=False)), unit]


def time(t: dt.time, *, seconds: bool = False) -> list[Word]:
    """14:05 → 下午两点零五分; 00:30 → 凌晨零点三十分; 12:00 → 中午十二点."""
    hour12 = t.hour if t.hour <= 12 else t.hour - 12
    out = [_period(t.hour), *([_LIANG] if hour12 == 2 else integer(hour12)),
           Word("点", ("time/dian",))]
    if t.minute or (seconds and t.second):
        out += _sixty(t.minute, Word("分", ("time/fen",)))
    if seconds and t.second:
        out += _sixty(t.second, Word("秒", ("time/miao",)))
    return out


def _amount(n: int) -> list[Word]:
    return [_LIANG] if n == 2 else integer(n)


def money(negative: bool, whole: int, cents: int, currency: str) -> list[Word]:
    """123.45 → 一百二十三元四角五分; 100 → 一百元整; 1.05 → 一元零五分; 0.5 → 五角."""
    if currency not in _CURRENCIES:
        raise ValueError(f"no Chinese reading for currency {currency!r}; "
                         f"known: {', '.join(_CURRENCIES)}")
    main, tenth, hundredth = _CURRENCIES[currency]
    out = [_NEGATIVE] if negative and (whole or cents) else []
    if whole or not cents:
        out += [*_amount(whole), main]
    if not cents:
        return [*out, _WHOLE]
    if tenth is None:
        return [*out, *_amount(cents), hundredth]
    jiao, fen = divmod(cents, 10)
    if jiao:
        out += [*_amount(jiao), tenth]
    elif whole:
        out.append(_ZERO)
    if fen:
        out += [*_amount(fen), hundredth]
    return out


def vocabulary() -> frozenset[str]:
    """Every prompt file these rules can ask for."""
    names = {f"digits/{d}" for d in range(10)}
    names |= {"digits/liang", "digits/yao", "digits/shi", "digits/bai", "digits/qian",
              "digits/wan", "digits/yi", "digits/fu", "digits/dian", "digits/di", "time/nian",
              "time/yue", "time/ri", "time/lingchen", "time/shangwu", "time/zhongwu",
              "time/xiawu", "time/wanshang", "time/dian", "time/fen", "time/miao",
              "currency/zheng"}
    names |= {f for w in _SYMBOLS.values() for f in w.files}
    for units in _CURRENCIES.values():
        names |= {f for w in units if w is not None for f in w.files}
    return frozenset(names)

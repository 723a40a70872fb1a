"""English say-as rules (American: "one hundred twenty-three", no "and" inside numbers).

Prompt files follow FreeSWITCH's English sound tree where it has one: ``digits/0``…``digits/19``,
``digits/20``…``digits/90``, ``digits/hundred``, ``digits/thousand``, ``digits/million`` …,
ordinals ``digits/h-1``… ``digits/h-hundred`` …, ``digits/oh``, ``digits/minus``, ``digits/point``,
``digits/star``, ``digits/pound``, ``digits/plus``, ``letters/x``, ``time/mon-0``…``time/mon-11``,
``time/a-m``, ``time/p-m``, ``time/oclock``, ``time/second(s)``, ``currency/*``.
"""

from __future__ import annotations

import datetime as dt

from coreswitch.media.spoken import ParsedNumber, Word

_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)
_TENS = {2: "twenty", 3: "thirty", 4: "forty", 5: "fifty", 6: "sixty", 7: "seventy",
         8: "eighty", 9: "ninety"}
_SCALES = (
    "thousand", "million", "billion", "trillion", "quadrillion", "quintillion", "sextillion",
    "septillion", "octillion", "nonillion", "decillion",
)
_ORDINAL_ENDINGS = {"one": "first", "two": "second", "three": "third", "five": "fifth",
                    "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}
_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)
_MINUS = Word("minus", ("digits/minus",))
_AND = Word("and", ("currency/and",))
_SYMBOLS = {"*": Word("star", ("digits/star",)), "#": Word("pound", ("digits/pound",)),
            "+": Word("plus", ("digits/plus",)), "X": Word("X", ("letters/x",))}
_PAUSE = Word(",", ())

# currency code → (main singular, main plural, cent singular, cent plural)
_CURRENCIES: dict[str, tuple[str, str, str, str]] = {
    "CNY": ("yuan", "yuan", "fen", "fen"),
    "USD": ("dollar", "dollars", "cent", "cents"),
    "EUR": ("euro", "euros", "cent", "cents"),
}


def digit(d: int) -> Word:
    return Word(_ONES[d], (f"digits/{d}",))


def _under_hundred(n: int) -> Word:
    if n < 20:
        return digit(n)
    tens, ones = divmod(n, 10)
    if not ones:
        return Word(_TENS[tens], (f"digits/{n}",))
    return Word(f"{_TENS[tens]}-{_ONES[ones]}", (f"digits/{10 * tens}", f"digits/{ones}"))


def _under_thousand(n: int) -> list[Word]:
    hundreds, rest = divmod(n, 100)
    out = [digit(hundreds), Word("hundred", ("digits/hundred",))] if hundreds else []
    if rest:
        out.append(_under_hundred(rest))
    return out


def integer(n: int) -> list[Word]:
    """A non-negative integer: 123 → one hundred twenty-three; 1005 → one thousand five."""
    if n == 0:
        return [digit(0)]
    top = 1000 ** len(_SCALES)
    if n >= top * 1000:  # past decillions: "one thousand decillion" and so on
        high, low = divmod(n, top)
        return [*integer(high), Word(_SCALES[-1], (f"digits/{_SCALES[-1]}",)),
                *(integer(low) if low else [])]
    groups: list[int] = []
    while n:
        n, group = divmod(n, 1000)
        groups.append(group)
    out: list[Word] = []
    for index in range(len(groups) - 1, -1, -1):
        if groups[index]:
            out += _under_thousand(groups[index])
            if index:
                out.append(Word(_SCALES[index - 1], (f"digits/{_SCALES[index - 1]}",)))
    return out


def number(p: ParsedNumber) -> list[Word]:
    out = [_MINUS] if p.negative and (p.integer or p.fraction.strip("0")) else []
    out += integer(p.integer)
    if p.fraction:
        out.append(Word("point", ("digits/point",)))
        out += [digit(int(c)) for c in p.fraction]
    return out


def _ordinal_word(word: Word) -> Word:
    head, _, last = word.text.rpartition("-")
    if last in _ORDINAL_ENDINGS:
        ending = _ORDINAL_ENDINGS[last]
    elif last.endswith("y"):
        ending = last[:-1] + "ieth"
    else:
        ending = last + "th"
    text = f"{head}-{ending}" if head else ending
    *rest, final = word.files
    return Word(text, (*rest, final.replace("digits/", "digits/h-")))


def ordinal(n: int) -> list[Word]:
    """23 → twenty-third; 100 → one hundredth; 1001 → one thousand first."""
    words = integer(n)
    return [*words[:-1], _ordinal_word(words[-1])]


def digits(text: str) -> list[Word]:
    out: list[Word] = []
    for ch in text:
        if ch.isascii() and ch.isdigit():
            out.append(digit(int(ch)))
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


def year(y: int) -> list[Word]:
    """2026 → twenty twenty-six; 1905 → nineteen oh five; 2005 → two thousand five."""
    high, low = divmod(y, 100)
    if not 1000 <= y <= 9999 or (high % 10 == 0 and low < 10):
        return integer(y)
    if low == 0:
        return [*integer(high), Word("hundred", ("digits/hundred",))]
    if low < 10:
        return [*integer(high), Word("oh", ("digits/oh",)), digit(low)]
    return [*integer(high), _under_hundred(low)]


def date(d: dt.date) -> tuple[str, list[Word]]:
    """Text "November 22, 2026" (espeak-ng reads it well); files say "November twenty-second,
    twenty twenty-six"."""
    month = Word(_MONTHS[d.month - 1], (f"time/mon-{d.month - 1}",))
    return f"{month.text} {d.day}, {d.year}", [month, *ordinal(d.day), _PAUSE, *year(d.year)]


def time(t: dt.time, *, seconds: bool = False) -> list[Word]:
    """14:05 → two oh five PM; 14:00 → two o'clock PM; 00:30 → twelve thirty AM."""
    hour12 = t.hour % 12 or 12
    out = [*integer(hour12)]
    if t.minute == 0:
        out.append(Word("o'clock", ("time/oclock",)))
    elif t.minute < 10:
        out += [Word("oh", ("digits/oh",)), digit(t.minute)]
    else:
        out.append(_under_hundred(t.minute))
    if seconds and t.second:
        unit = "second" if t.second == 1 else "seconds"
        out += [_AND, *integer(t.second), Word(unit, (f"time/{unit}",))]
    out.append(Word("AM", ("time/a-m",)) if t.hour < 12 else Word("PM", ("time/p-m",)))
    return out


def money(negative: bool, whole: int, cents: int, currency: str) -> list[Word]:
    """123.45 CNY → one hundred twenty-three yuan and forty-five fen; 1 USD → one dollar."""
    if currency not in _CURRENCIES:
        raise ValueError(f"no English reading for currency {currency!r}; "
                         f"known: {', '.join(_CURRENCIES)}")
    one, many, cent, cents_name = _CURRENCIES[currency]
    out = [_MINUS] if negative and (whole or cents) else []
    if whole or not cents:
        name = one if whole == 1 else many
        out += [*integer(whole), Word(name, (f"currency/{name}",))]
    if cents:
        if whole:
            out.append(_AND)
        name = cent if cents == 1 else cents_name
        out += [_under_hundred(cents), Word(name, (f"currency/{name}",))]
    return out


def vocabulary() -> frozenset[str]:
    """Every prompt file these rules can ask for."""
    names = {f"digits/{n}" for n in range(20)} | {f"digits/{10 * t}" for t in _TENS}
    names |= {f"digits/h-{n}" for n in range(20)} | {f"digits/h-{10 * t}" for t in _TENS}
    names |= {f"digits/{s}" for s in ("hundred", *_SCALES)}
    names |= {f"digits/h-{s}" for s in ("hundred", *_SCALES)}
    names |= {"digits/oh", "digits/minus", "digits/point", "currency/and", "time/oclock",
              "time/a-m", "time/p-m", "time/second", "time/seconds"}
    names |= {f"time/mon-{m}" for m in range(12)}
    names |= {f for w in _SYMBOLS.values() for f in w.files}
    names |= {f"currency/{n}" for names4 in _CURRENCIES.values() for n in names4}
    return frozenset(names)

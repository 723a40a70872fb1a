"""Say-as readings for Chinese prompts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from dsl.sayas import speak, zh_integer


@pytest.mark.parametrize(("n", "text"), [
    (0, "零"), (7, "七"), (10, "十"), (15, "十五"), (20, "二十"), (105, "一百零五"),
    (1234, "一千二百三十四"), (10000, "一万"), (10005, "一万零五"), (12345, "一万二千三百四十五"),
    (100000000, "一亿"), (120003000, "一亿二千万三千"), (-3, "负三"),
])
def test_integers(n: int, text: str) -> None:
    assert zh_integer(n) == text


@pytest.mark.parametrize(("value", "kind", "text"), [
    (Decimal("56.80"), "money", "五十六元八角"),
    (Decimal("0.05"), "money", "五分"),
    (Decimal("12.05"), "money", "十二元零五分"),
    (12, "money", "十二元"),
    (Decimal("3.05"), "number", "三点零五"),
    ("95598", "digits", "九五五九八"),
    ("13800138000", "phone", "幺三八零零幺三八零零零"),
    (dt.date(2026, 11, 23), "date", "2026年11月23日"),
    (dt.time(16, 30), "time", "16点30分"),
    (dt.time(9, 0), "time", "9点整"),
    ("任意", None, "任意"),
])
def test_speak(value: object, kind: str | None, text: str) -> None:
    assert speak(value, kind) == text


def test_other_languages_get_plain_text() -> None:
    assert speak(Decimal("56.80"), "money", "en") == "56.80"

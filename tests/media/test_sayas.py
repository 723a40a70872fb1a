"""Say-as tables (expected strings pinned) and property tests over wide ranges."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coreswitch.media.sayas import (
    SayAs,
    language,
    say_as,
    say_date,
    say_digits,
    say_money,
    say_number,
    say_ordinal,
    say_phone,
    say_time,
    vocabulary,
)

NUMBERS = [
    (0, "零", "zero"),
    (1, "一", "one"),
    (2, "二", "two"),
    (10, "十", "ten"),
    (11, "十一", "eleven"),
    (15, "十五", "fifteen"),
    (20, "二十", "twenty"),
    (22, "二十二", "twenty-two"),
    (100, "一百", "one hundred"),
    (101, "一百零一", "one hundred one"),
    (110, "一百一十", "one hundred ten"),
    (123, "一百二十三", "one hundred twenty-three"),
    (200, "二百", "two hundred"),
    (1000, "一千", "one thousand"),
    (1005, "一千零五", "one thousand five"),
    (1010, "一千零一十", "one thousand ten"),
    (1050, "一千零五十", "one thousand fifty"),
    (2000, "两千", "two thousand"),
    (2222, "两千二百二十二", "two thousand two hundred twenty-two"),
    (10000, "一万", "ten thousand"),
    (10005, "一万零五", "ten thousand five"),
    (10010, "一万零一十", "ten thousand ten"),
    (12000, "一万两千", "twelve thousand"),
    (20000, "两万", "twenty thousand"),
    (22000, "两万两千", "twenty-two thousand"),
    (100000, "十万", "one hundred thousand"),
    (100500, "十万零五百", "one hundred thousand five hundred"),
    (150000, "十五万", "one hundred fifty thousand"),
    (1000000, "一百万", "one million"),
    (10010000, "一千零一万", "ten million ten thousand"),
    (100000000, "一亿", "one hundred million"),
    (105000000, "一亿零五百万", "one hundred five million"),
    (100050000, "一亿零五万", "one hundred million fifty thousand"),
    (150000000, "一亿五千万", "one hundred fifty million"),
    (200000000, "两亿", "two hundred million"),
    (1500000000, "十五亿", "one billion five hundred million"),
    (10**12, "一万亿", "one trillion"),
    (10**16, "一亿亿", "ten quadrillion"),
    (95598, "九万五千五百九十八", "ninety-five thousand five hundred ninety-eight"),
    (-5, "负五", "minus five"),
    (-1010, "负一千零一十", "minus one thousand ten"),
    (Decimal("3.14"), "三点一四", "three point one four"),
    ("0.5", "零点五", "zero point five"),
    ("-0.05", "负零点零五", "minus zero point zero five"),
    (1.5, "一点五", "one point five"),
    (0.1, "零点一", "zero point one"),
    (Decimal("1.50"), "一点五零", "one point five zero"),
    (Decimal("10.05"), "十点零五", "ten point zero five"),
    ("+1234", "一千二百三十四", "one thousand two hundred thirty-four"),
    (Decimal("-0"), "零", "zero"),
]


@pytest.mark.parametrize(("value", "zh", "en"), NUMBERS, ids=[str(n[0]) for n in NUMBERS])
def test_numbers(value: int | Decimal | float | str, zh: str, en: str) -> None:
    assert say_number(value, "zh") == zh
    assert say_number(value, "en") == en


ORDINALS = [(1, "第一", "first"), (2, "第二", "second"), (3, "第三", "third"),
            (5, "第五", "fifth"), (8, "第八", "eighth"), (9, "第九", "ninth"),
            (11, "第十一", "eleventh"), (12, "第十二", "twelfth"), (20, "第二十", "twentieth"),
            (21, "第二十一", "twenty-first"), (23, "第二十三", "twenty-third"),
            (100, "第一百", "one hundredth"), (101, "第一百零一", "one hundred first"),
            (1000, "第一千", "one thousandth"), (2000, "第两千", "two thousandth")]


@pytest.mark.parametrize(("n", "zh", "en"), ORDINALS, ids=[str(o[0]) for o in ORDINALS])
def test_ordinals(n: int, zh: str, en: str) -> None:
    assert say_ordinal(n, "zh") == zh
    assert say_ordinal(n, "en") == en


@pytest.mark.parametrize(("value", "kwargs", "zh", "en"), [
    ("95598", {}, "九五五九八", "nine five five nine eight"),
    (12345, {}, "一二三四五", "one two three four five"),
    ("0101", {}, "零一零一", "zero one zero one"),
    ("0101", {"yao": True}, "零幺零幺", "zero one zero one"),
    ("1234#", {}, "一二三四井号", "one two three four pound"),
    ("*99", {}, "星号九九", "star nine nine"),
    ("11010519491231002X", {}, "一一零一零五一九四九一二三一零零二X",
     "one one zero one zero five one nine four nine one two three one zero zero two X"),
    ("010-8888 6666", {}, "零一零，八八八八，六六六六",
     "zero one zero, eight eight eight eight, six six six six"),
    (" 12 ", {}, "一二", "one two"),
])
def test_digits(value: str | int, kwargs: dict[str, bool], zh: str, en: str) -> None:
    assert say_digits(value, "zh", **kwargs) == zh
    assert say_digits(value, "en") == en


def test_phone() -> None:
    assert say_phone("13800138000") == "幺三八，零零幺三，八零零零"
    assert say_phone("13800138000", "en") == (
        "one three eight, zero zero one three, eight zero zero zero")
    assert say_phone("95598") == "九五五九八"
    assert say_phone("12345") == "幺二三四五"
    assert say_phone("12345", yao=False) == "一二三四五"
    assert say_phone("+86 10 12345") == "加八六，幺零，幺二三四五"


@pytest.mark.parametrize("bad", ["12a", "", "  ", "１２", "3.5"])
def test_digits_refuse_other_characters(bad: str) -> None:
    with pytest.raises(ValueError, match="digit"):
        say_digits(bad)


@pytest.mark.parametrize(("day", "zh", "en"), [
    (dt.date(2026, 11, 22), "二〇二六年十一月二十二日", "November 22, 2026"),
    (dt.date(2000, 1, 1), "二〇〇〇年一月一日", "January 1, 2000"),
    (dt.date(1999, 12, 31), "一九九九年十二月三十一日", "December 31, 1999"),
    (dt.date(2026, 2, 10), "二〇二六年二月十日", "February 10, 2026"),
    (dt.datetime(2026, 6, 20, 9, 30), "二〇二六年六月二十日", "June 20, 2026"),
])
def test_dates(day: dt.date, zh: str, en: str) -> None:
    assert say_date(day, "zh") == zh
    assert say_date(day, "en") == en


@pytest.mark.parametrize(("day", "files"), [
    (dt.date(2026, 11, 22), ("time/mon-10", "digits/20", "digits/h-2", "digits/20", "digits/20",
                             "digits/6")),
    (dt.date(2005, 1, 1), ("time/mon-0", "digits/h-1", "digits/2", "digits/thousand",
                           "digits/5")),
    (dt.date(1905, 3, 3), ("time/mon-2", "digits/h-3", "digits/19", "digits/oh", "digits/5")),
    (dt.date(1900, 3, 30), ("time/mon-2", "digits/h-30", "digits/19", "digits/hundred")),
])
def test_english_date_files(day: dt.date, files: tuple[str, ...]) -> None:
    assert say_as(SayAs.DATE, day, "en").files == files


@pytest.mark.parametrize(("at", "zh", "en"), [
    (dt.time(14, 5), "下午两点零五分", "two oh five PM"),
    (dt.time(14, 0), "下午两点", "two o'clock PM"),
    (dt.time(14, 30), "下午两点三十分", "two thirty PM"),
    (dt.time(0, 30), "凌晨零点三十分", "twelve thirty AM"),
    (dt.time(2, 10), "凌晨两点十分", "two ten AM"),
    (dt.time(8, 0), "上午八点", "eight o'clock AM"),
    (dt.time(9, 15), "上午九点十五分", "nine fifteen AM"),
    (dt.time(12, 0), "中午十二点", "twelve o'clock PM"),
    (dt.time(12, 20), "中午十二点二十分", "twelve twenty PM"),
    (dt.time(18, 45), "晚上六点四十五分", "six forty-five PM"),
    (dt.time(23, 59), "晚上十一点五十九分", "eleven fifty-nine PM"),
    (dt.datetime(2026, 11, 22, 14, 5), "下午两点零五分", "two oh five PM"),
])
def test_times(at: dt.time, zh: str, en: str) -> None:
    assert say_time(at, "zh") == zh
    assert say_time(at, "en") == en


def test_times_with_seconds() -> None:
    assert say_time(dt.time(14, 5, 2), "zh", seconds=True) == "下午两点零五分零二秒"
    assert say_time(dt.time(14, 5, 30), "zh", seconds=True) == "下午两点零五分三十秒"
    assert say_time(dt.time(14, 5, 30), "en", seconds=True) == "two oh five and thirty seconds PM"
    assert say_time(dt.time(14, 5, 0), "zh", seconds=True) == "下午两点零五分"


MONEY = [
    ("123.45", "一百二十三元四角五分", "one hundred twenty-three yuan and forty-five fen",
     "one hundred twenty-three dollars and forty-five cents"),
    ("100.00", "一百元整", "one hundred yuan", "one hundred dollars"),
    (100, "一百元整", "one hundred yuan", "one hundred dollars"),
    ("0", "零元整", "zero yuan", "zero dollars"),
    ("0.5", "五角", "fifty fen", "fifty cents"),
    ("0.05", "五分", "five fen", "five cents"),
    ("0.01", "一分", "one fen", "one cent"),
    ("1", "一元整", "one yuan", "one dollar"),
    ("1.05", "一元零五分", "one yuan and five fen", "one dollar and five cents"),
    ("1.01", "一元零一分", "one yuan and one fen", "one dollar and one cent"),
    ("10.50", "十元五角", "ten yuan and fifty fen", "ten dollars and fifty cents"),
    ("2", "两元整", "two yuan", "two dollars"),
    ("2.22", "两元两角两分", "two yuan and twenty-two fen", "two dollars and twenty-two cents"),
    ("20000", "两万元整", "twenty thousand yuan", "twenty thousand dollars"),
    ("12345.6", "一万两千三百四十五元六角",
     "twelve thousand three hundred forty-five yuan and sixty fen",
     "twelve thousand three hundred forty-five dollars and sixty cents"),
    ("-3.2", "负三元两角", "minus three yuan and twenty fen",
     "minus three dollars and twenty cents"),
    ("9.999", "十元整", "ten yuan", "ten dollars"),  # rounded half-up to the cent
    ("0.004", "零元整", "zero yuan", "zero dollars"),
]


@pytest.mark.parametrize(("amount", "zh", "en_cny", "en_usd"), MONEY,
                         ids=[str(m[0]) for m in MONEY])
def test_money(amount: str, zh: str, en_cny: str, en_usd: str) -> None:
    assert say_money(amount, "zh") == zh
    assert say_money(Decimal(amount), "zh") == zh
    assert say_money(amount, "en") == en_cny
    assert say_money(amount, "en", "USD") == en_usd


def test_money_other_currencies() -> None:
    assert say_money("12.34", "zh", "USD") == "十二美元三十四美分"
    assert say_money("3", "zh", "usd") == "三美元整"
    assert say_money("1.5", "en", "EUR") == "one euro and fifty cents"
    assert say_money("12.34", "zh", "EUR") == "十二欧元三十四欧分"
    with pytest.raises(ValueError, match="currency"):
        say_money("1", "zh", "XYZ")


def test_files_follow_the_words() -> None:
    spoken = say_as("money", "123.45", "zh")
    assert spoken.files == ("digits/1", "digits/bai", "digits/2", "digits/shi", "digits/3",
                            "currency/yuan", "digits/4", "currency/jiao", "digits/5",
                            "currency/fen")
    assert say_as("number", 123, "en").files == ("digits/1", "digits/hundred", "digits/20",
                                                 "digits/3")
    assert say_as("ordinal", 23, "en").files == ("digits/20", "digits/h-3")
    assert say_as("time", dt.time(14, 5), "en").files == ("digits/2", "digits/oh", "digits/5",
                                                          "time/p-m")
    assert say_as("phone", "110", "zh").files == ("digits/yao", "digits/yao", "digits/0")
    assert say_as("text", "您好", "zh").files == ()


@pytest.mark.parametrize(("tag", "lang"), [("zh", "zh"), ("zh-CN", "zh"), ("zh_cn", "zh"),
                                           ("cmn", "zh"), ("sit/cmn", "zh"), ("en", "en"),
                                           ("en-US", "en"), ("EN-gb", "en"), ("gmw/en-us", "en")])
def test_language_tags(tag: str, lang: str) -> None:
    assert language(tag) == lang


def test_refusals() -> None:
    with pytest.raises(ValueError, match="language"):
        say_number(1, "fr")
    with pytest.raises(ValueError, match="say-as"):
        say_as("colour", 1)
    with pytest.raises(TypeError):
        say_number(True)
    for bad in ("12abc", "1,5", "1e5", ".", "--5", ""):
        with pytest.raises(ValueError, match="not a number"):
            say_number(bad)
    with pytest.raises(ValueError, match="cannot say"):
        say_number(Decimal("NaN"))
    with pytest.raises(ValueError, match="inf"):
        say_number(float("inf"))
    with pytest.raises(TypeError):
        say_as("date", "2026-11-22")
    with pytest.raises(TypeError):
        say_as("time", dt.date(2026, 1, 1))
    with pytest.raises(TypeError):
        say_as("ordinal", 1.5)
    with pytest.raises(ValueError, match="non-negative"):
        say_ordinal(-1)
    with pytest.raises(TypeError):
        say_digits(-12)


# ---- properties ---------------------------------------------------------------------------------

ZH_NUMBER_CHARS = set("零一二两三四五六七八九十百千万亿负点")
ZH_MONEY_CHARS = ZH_NUMBER_CHARS | set("元角分整")
WIDE = st.integers(min_value=-(10**20), max_value=10**20)
CENTS = st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=2,
                    allow_nan=False, allow_infinity=False)


@given(WIDE)
def test_any_int_reads_in_both_languages(n: int) -> None:
    zh = say_number(n, "zh")
    assert zh
    assert set(zh) <= ZH_NUMBER_CHARS
    assert "零零" not in zh
    assert not zh.endswith("零") or n == 0
    assert not zh.startswith("一十")
    en = say_number(n, "en")
    assert en
    assert all(part.isalpha() for part in en.replace("-", " ").split())


@given(WIDE)
def test_spoken_files_are_in_the_vocabulary(n: int) -> None:
    for lang in ("zh", "en"):
        assert set(say_as("number", n, lang).files) <= vocabulary(lang)
        assert set(say_as("ordinal", abs(n), lang).files) <= vocabulary(lang)


@given(st.integers(min_value=1, max_value=9999))
def test_small_numbers_have_one_word_per_digit_or_unit(n: int) -> None:
    # Reading back: each nonzero digit is said once, followed by its place unit.
    zh = say_number(n, "zh")
    nonzero = sum(1 for c in str(n) if c != "0")
    digits_said = sum(1 for c in zh if c in "一二两三四五六七八九")
    assert digits_said == nonzero - (1 if 10 <= n <= 19 else 0)


@given(CENTS)
def test_any_amount_reads(amount: Decimal) -> None:
    zh = say_money(amount, "zh")
    assert set(zh) <= ZH_MONEY_CHARS
    assert zh.endswith(("元整", "角", "分"))
    for lang, currency in (("zh", "CNY"), ("en", "CNY"), ("en", "USD"), ("zh", "USD")):
        spoken = say_as("money", amount, lang, currency=currency)
        assert spoken.text
        assert set(spoken.files) <= vocabulary(lang)


@given(CENTS)
def test_decimals_read(value: Decimal) -> None:
    zh = say_number(value, "zh")
    assert set(zh) <= ZH_NUMBER_CHARS
    assert say_number(value, "en")


@given(st.dates(min_value=dt.date(1000, 1, 1)), st.times())
def test_any_date_and_time(day: dt.date, at: dt.time) -> None:
    for lang in ("zh", "en"):
        for kind, value in (("date", day), ("time", at)):
            spoken = say_as(kind, value, lang, seconds=True)
            assert spoken.text
            assert set(spoken.files) <= vocabulary(lang)
    assert say_date(day, "zh").endswith("日")
    assert "点" in say_time(at, "zh")


@given(st.text(alphabet="0123456789*#- ", min_size=1).filter(lambda s: any(c.isdigit() for c in s)))
def test_any_digit_string(text: str) -> None:
    for lang in ("zh", "en"):
        spoken = say_as("phone", text, lang)
        assert spoken.text
        assert set(spoken.files) <= vocabulary(lang)
    assert len([c for c in say_digits(text) if c in "零一二三四五六七八九"]) == sum(
        c.isdigit() for c in text)

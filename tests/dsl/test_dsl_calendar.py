"""Business hours: weekly rules, holidays, special days, time zones."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

import dsl
from dsl.calendar import CalendarView, is_holiday, is_open, next_open

SRC = '''flow cal:
  title "日历"
  start main

hours office:
  timezone "Asia/Shanghai"
  mon-fri 08:30-12:00, 13:30-17:30
  sat 09:00-12:00
  holiday 2026-10-01..2026-10-07 "国庆节"
  special 2026-10-11 08:30-17:30 "调休上班"

state main:
  if office.open:
    say "您好"
  hangup
'''


@pytest.fixture(scope="module")
def office() -> dict[str, object]:
    ir, diags = dsl.compile_source(SRC)
    assert ir is not None, diags
    cal = ir["calendars"]["office"]
    assert isinstance(cal, dict)
    return cal


@pytest.mark.parametrize(("when", "open_"), [
    ("2026-11-23 08:29", False),  # Monday before opening
    ("2026-11-23 08:30", True),
    ("2026-11-23 12:00", False),  # lunch: ends are exclusive
    ("2026-11-23 13:30", True),
    ("2026-11-28 10:00", True),   # Saturday morning
    ("2026-11-29 10:00", False),  # Sunday
    ("2026-10-02 10:00", False),  # holiday on a Friday
    ("2026-10-11 10:00", True),   # special working Sunday
])
def test_is_open(office: dict[str, object], when: str, open_: bool) -> None:
    assert is_open(office, dt.datetime.fromisoformat(when)) is open_


def test_aware_times_are_converted_to_the_calendar_zone(office: dict[str, object]) -> None:
    utc = dt.datetime(2026, 11, 23, 1, 0, tzinfo=ZoneInfo("UTC"))  # 09:00 in Shanghai
    assert is_open(office, utc)


def test_next_open_skips_the_holiday_week(office: dict[str, object]) -> None:
    nxt = next_open(office, dt.datetime(2026, 10, 1, 9, 0))
    assert nxt is not None
    assert nxt.replace(tzinfo=None) == dt.datetime(2026, 10, 8, 8, 30)
    assert is_holiday(office, dt.datetime(2026, 10, 3, 12, 0))


def test_view_gives_expression_fields(office: dict[str, object]) -> None:
    view = CalendarView(office, dt.datetime(2026, 10, 3, 10, 0))
    assert (view.field("open"), view.field("holiday"), view.field("special")) == (
        False, True, False)

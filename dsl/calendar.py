"""Business hours, holidays and special days, evaluated as pure functions of a datetime.

Works on the IR form of a calendar (``ir["calendars"][name]``)::

    {"timezone": "Asia/Shanghai",
     "weekly": [{"days": [0, 1, 2, 3, 4], "ranges": [["08:30", "12:00"], ["13:30", "17:30"]]}],
     "dates":  [{"kind": "holiday", "start": "2026-10-01", "end": "2026-10-07",
                 "ranges": [], "label": "国庆节"},
                {"kind": "special", "start": "2026-10-10", "end": "2026-10-10",
                 "ranges": [["08:30", "17:30"]], "label": "调休上班"}]}

Rules, in order: a *special* day uses its own ranges (none = closed all day); a *holiday* is
closed; otherwise the weekly rules for that weekday apply (several rules may add ranges).
Ranges include their start and exclude their end; ``24:00`` means end of day. Naive datetimes
are taken to be in the calendar's time zone; aware ones are converted to it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

Calendar = Mapping[str, Any]


def local(cal: Calendar, when: dt.datetime) -> dt.datetime:
    tz = ZoneInfo(cal.get("timezone") or "Asia/Shanghai")
    return when.replace(tzinfo=tz) if when.tzinfo is None else when.astimezone(tz)


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def _date_rule(cal: Calendar, day: dt.date, kind: str) -> Mapping[str, Any] | None:
    iso = day.isoformat()
    for d in cal.get("dates", ()):
        if d["kind"] == kind and d["start"] <= iso <= d["end"]:
            rule: Mapping[str, Any] = d
            return rule
    return None


def is_holiday(cal: Calendar, when: dt.datetime) -> bool:
    return _date_rule(cal, local(cal, when).date(), "holiday") is not None


def is_special(cal: Calendar, when: dt.datetime) -> bool:
    return _date_rule(cal, local(cal, when).date(), "special") is not None


def ranges_on(cal: Calendar, day: dt.date) -> list[tuple[int, int]]:
    """Opening ranges (minutes after midnight) on a local date."""
    special = _date_rule(cal, day, "special")
    if special is not None:
        return [(_minutes(a), _minutes(b)) for a, b in special["ranges"]]
    if _date_rule(cal, day, "holiday") is not None:
        return []
    out: list[tuple[int, int]] = []
    for rule in cal.get("weekly", ()):
        if day.weekday() in rule["days"]:
            out.extend((_minutes(a), _minutes(b)) for a, b in rule["ranges"])
    return sorted(out)


def is_open(cal: Calendar, when: dt.datetime) -> bool:
    t = local(cal, when)
    m = t.hour * 60 + t.minute
    return any(a <= m < b for a, b in ranges_on(cal, t.date()))


def next_open(cal: Calendar, when: dt.datetime, horizon_days: int = 31) -> dt.datetime | None:
    """The next moment the calendar opens (``when`` itself if open), or None within horizon."""
    t = local(cal, when).replace(second=0, microsecond=0)
    for offset in range(horizon_days + 1):
        day = t.date() + dt.timedelta(days=offset)
        for a, b in ranges_on(cal, day):
            start = dt.datetime.combine(day, dt.time(), tzinfo=t.tzinfo) + dt.timedelta(minutes=a)
            end = dt.datetime.combine(day, dt.time(), tzinfo=t.tzinfo) + dt.timedelta(minutes=b)
            if offset == 0 and start <= t < end:
                return t
            if start >= t:
                return start
    return None


class CalendarView:
    """A calendar at a moment, as the expression evaluator sees it (``office.open``)."""

    def __init__(self, cal: Calendar, now: dt.datetime) -> None:
        self.cal = cal
        self.now = now

    def field(self, name: str) -> object:
        if name == "open":
            return is_open(self.cal, self.now)
        if name == "holiday":
            return is_holiday(self.cal, self.now)
        if name == "special":
            return is_special(self.cal, self.now)
        raise KeyError(name)

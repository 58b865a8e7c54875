"""Calendar arithmetic shared by the rules and the registry (validity periods, waiting times)."""

from __future__ import annotations

import calendar
from datetime import date


def add_months(day: date, months: int) -> date:
    """The same day `months` later; the month's last day when it has no such day (31/1 + 1 = 28/2)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def month_day(year: int, month: int, day: int) -> date:
    """The day of a month and day of the text in `year`: 29/02 is the 28th in a common year."""
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))

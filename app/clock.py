"""The one clock of the service.

"Today" is the calendar date in Vietnam (setting `HOCTAP_TIMEZONE`, default Asia/Ho_Chi_Minh),
whatever zone the server runs in: a container in UTC is seven hours behind Hà Nội, so between
00:00 and 07:00 a bare `date.today()` would be yesterday, and on 1 January last year. Stored
timestamps are UTC. Nothing else in the code asks the system for the time (a test enforces it),
so tests can freeze this clock and see every default, reference day and revocation move with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"

_zone = ZoneInfo(DEFAULT_TIMEZONE)
_frozen: datetime | None = None


def configure(timezone: str) -> None:
    """Set the zone whose calendar date is "today" (from the settings, at start-up)."""
    global _zone
    _zone = ZoneInfo(timezone)


def zone() -> ZoneInfo:
    return _zone


def now() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    return _frozen if _frozen is not None else datetime.now(UTC)


def today() -> date:
    """Today's date in Vietnam."""
    return local_date(now())


def local_date(instant: datetime) -> date:
    """The Vietnamese calendar date of a stored (UTC) instant."""
    return instant.astimezone(_zone).date()


def start_of(day: date) -> datetime:
    """The UTC instant at which `day` begins in Vietnam."""
    return datetime.combine(day, time.min, tzinfo=_zone).astimezone(UTC)


def end_of(day: date) -> datetime:
    """The UTC instant at which `day` ends in Vietnam (the start of the next day)."""
    return start_of(day + timedelta(days=1))


@contextmanager
def frozen(at: datetime) -> Iterator[None]:
    """Tests: stop the clock at `at` (aware) for every thread of the process."""
    global _frozen
    if at.tzinfo is None:
        raise ValueError("freeze the clock with an aware datetime")
    previous, _frozen = _frozen, at.astimezone(UTC)
    try:
        yield
    finally:
        _frozen = previous

"""The rules about recognitions, each written once as an SQL condition.

- In force on a day (còn hiệu lực): the day lies in [valid_from, valid_until) and the title
  was not revoked on or before that day. The status of a subject and the derived indicators
  of an assessment (as of its reference date) use it.
- Holding a title for a year (đạt danh hiệu trong năm), as the statistics count it: recognised
  for that period, or in force on the year's reference day, and never revoked. A revocation
  withdraws the title from the numbers of every year it counted for (which is why an approved
  period is locked against revocations); the revocation's day still shows in the history.

Days are Vietnamese calendar days: a revocation made at 23:30 UTC on 31 December happened on
1 January (`revoked_on`, set from app.clock).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import ColumnElement, and_, or_

from app.assessments.models import Recognition


def not_revoked_by(day: date, recognition=Recognition) -> ColumnElement[bool]:
    return or_(recognition.revoked_on.is_(None), recognition.revoked_on > day)


def in_force_on(day: date, recognition=Recognition) -> ColumnElement[bool]:
    """SQL condition: the recognition is in force on `day`."""
    return and_(recognition.valid_from <= day, recognition.valid_until > day, not_revoked_by(day, recognition))


def holding(title: str, year: int, day: date, recognition=Recognition) -> ColumnElement[bool]:
    """SQL condition: the recognition makes its subject hold `title` for `year` (reference day
    `day`), as the statistics count it."""
    return and_(
        recognition.title == title,
        recognition.revoked_on.is_(None),
        or_(recognition.period == year, and_(recognition.valid_from <= day, recognition.valid_until > day)),
    )


def state_on(day: date, valid_from: date, valid_until: date, revoked_on: date | None) -> str:
    """The state of one recognition on `day`, the same rule in Python for a row already read."""
    if revoked_on is not None and revoked_on <= day:
        return "revoked"
    if day >= valid_until:
        return "expired"
    if day < valid_from:
        return "pending"
    return "active"

"""The dated rules of the registry, each written once: a membership or a residence current on a
day, and an age reached by a day. Statistics, derived indicators and look-ups all use these."""

from __future__ import annotations

from datetime import date

from sqlalchemy import ColumnElement, and_, or_


def member_on(membership, day: date) -> ColumnElement[bool]:
    """SQL condition: a membership row (household member, clan household, staff) is current on
    `day`: joined on or before it and not left by it (`left_on` is the first day away)."""
    return and_(membership.joined_on <= day, or_(membership.left_on.is_(None), membership.left_on > day))


def resident_on(residence, day: date) -> ColumnElement[bool]:
    """SQL condition: a residence row covers `day` (`valid_to` is the first day elsewhere)."""
    return and_(residence.valid_from <= day, or_(residence.valid_to.is_(None), residence.valid_to > day))


def years_before(day: date, years: int) -> date:
    """The same calendar day `years` earlier (28 February for a 29 February that has none):
    whoever was born on or before it is at least `years` old on `day`."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def aged_on(birth_date, day: date, minimum: int | None = None, maximum: int | None = None) -> ColumnElement[bool]:
    """SQL condition: on `day` the person is at least `minimum` and at most `maximum` full years
    old (either bound optional). An unknown birth date meets no bound."""
    conditions = [birth_date.is_not(None)]
    if minimum is not None:
        conditions.append(birth_date <= years_before(day, minimum))
    if maximum is not None:
        conditions.append(birth_date > years_before(day, maximum + 1))
    return and_(*conditions)

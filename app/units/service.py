"""Service functions for administrative units."""

from __future__ import annotations

from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.units.models import AdministrativeUnit


def in_force_on(as_of: date):
    """SQL condition: the unit exists on `as_of` (valid_from ≤ as_of < valid_to)."""
    return (
        or_(AdministrativeUnit.valid_from.is_(None), AdministrativeUnit.valid_from <= as_of),
        or_(AdministrativeUnit.valid_to.is_(None), AdministrativeUnit.valid_to > as_of),
    )


def units_by_codes(session: Session, codes: list[str], as_of: date) -> dict[str, AdministrativeUnit]:
    """The units carrying these official codes on `as_of`, keyed by code (missing codes absent)."""
    if not codes:
        return {}
    rows = session.scalars(
        select(AdministrativeUnit).where(AdministrativeUnit.code.in_(codes), *in_force_on(as_of))
    )
    return {unit.code: unit for unit in rows}

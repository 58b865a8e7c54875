"""Derived indicators (chỉ số dẫn xuất) computed from the registry as of a reference date:
e.g. the share of a clan's member households that hold Gia đình học tập. Each is one SQL
aggregate; the engine receives only the values, the assessment keeps the counts."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from app.assessments.models import Recognition
from app.registry.models import ClanHousehold, HouseholdMember, OrganisationStaff, Residence
from app.rules import CriteriaVersion
from app.rules.model import DerivedSource, IndicatorKind, TitleCode


def recognition_active_on(on: date, recognition=Recognition):
    """SQL condition: a recognition is in force on `on` (and not revoked by then)."""
    day_end = datetime.combine(on + timedelta(days=1), time.min, tzinfo=UTC)
    return and_(
        recognition.valid_from <= on,
        recognition.valid_until > on,
        or_(recognition.revoked_at.is_(None), recognition.revoked_at >= day_end),
    )


def _active(model, on: date):
    return and_(model.joined_on <= on, or_(model.left_on.is_(None), model.left_on > on))


def _population(source: DerivedSource, title: TitleCode, subject_id: int, on: date):
    """A subquery of the ids (households or people) the share is taken over."""
    if source.population == "member_households" and title == TitleCode.CLAN:
        return select(ClanHousehold.household_id.label("id")).where(
            ClanHousehold.clan_id == subject_id, _active(ClanHousehold, on)
        )
    if source.population == "members" and title == TitleCode.CLAN:
        households = select(ClanHousehold.household_id).where(
            ClanHousehold.clan_id == subject_id, _active(ClanHousehold, on)
        )
        return select(HouseholdMember.person_id.label("id")).where(
            HouseholdMember.household_id.in_(households), _active(HouseholdMember, on)
        )
    if source.population == "members" and title == TitleCode.FAMILY:
        return select(HouseholdMember.person_id.label("id")).where(
            HouseholdMember.household_id == subject_id, _active(HouseholdMember, on)
        )
    if source.population == "village_households" and title == TitleCode.COMMUNITY:
        return select(Residence.household_id.label("id")).where(
            Residence.unit_id == subject_id,
            Residence.household_id.is_not(None),
            Residence.valid_from <= on,
            or_(Residence.valid_to.is_(None), Residence.valid_to > on),
        )
    if source.population == "staff" and title == TitleCode.UNIT:
        return select(OrganisationStaff.person_id.label("id")).where(
            OrganisationStaff.organisation_id == subject_id, _active(OrganisationStaff, on)
        )
    raise ValueError(f"population {source.population} is not defined for the {title} title")


def compute(session: Session, version: CriteriaVersion, subject_id: int, on: date) -> dict[str, dict[str, Any]]:
    """{indicator_id: {value, numerator, denominator, as_of}} for every derived indicator."""
    values: dict[str, dict[str, Any]] = {}
    for indicator in version.indicators():
        if indicator.kind != IndicatorKind.DERIVED or indicator.derived is None:
            continue
        source = indicator.derived
        population = _population(source, version.title, subject_id, on).distinct().subquery()
        holders = select(Recognition.subject_id).where(Recognition.title == source.title, recognition_active_on(on))
        denominator, numerator = session.execute(
            select(func.count(population.c.id), func.count(population.c.id).filter(population.c.id.in_(holders)))
        ).one()
        if source.measure == "count_holding_title":
            value = Decimal(numerator)
        else:
            value = (
                (Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.0001")) if denominator else Decimal(0)
            )
        values[indicator.id] = {
            "value": str(value),
            "numerator": numerator,
            "denominator": denominator,
            "as_of": on.isoformat(),
        }
    return values

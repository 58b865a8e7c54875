"""Derived indicators (chỉ số dẫn xuất) computed from the registry as of a reference date: e.g.
the share of a clan's adult members that hold Công dân học tập. The criteria file declares the
population (membership kind and age band on that date, app.rules.model.Population); each value
is one SQL aggregate; the engine receives only the values, the assessment keeps the counts and
the population in words."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.assessments.models import Recognition
from app.assessments.predicates import in_force_on
from app.registry.models import ClanHousehold, HouseholdMember, OrganisationStaff, Person, Residence
from app.registry.predicates import aged_on, member_on, resident_on
from app.rules import CriteriaVersion
from app.rules.model import IndicatorKind, Membership, Population
from app.units.models import AdministrativeUnit, UnitAncestor, UnitLevel
from app.units.service import in_force_on as unit_in_force_on


def _members(population: Population, subject_id: int, on: date) -> Select:
    """A select of the ids (households or people) of the subject's population on `on`."""
    match population.membership:
        case Membership.CLAN_HOUSEHOLDS:
            return select(ClanHousehold.household_id.label("id")).where(
                ClanHousehold.clan_id == subject_id, member_on(ClanHousehold, on)
            )
        case Membership.CLAN_MEMBERS:
            households = select(ClanHousehold.household_id).where(
                ClanHousehold.clan_id == subject_id, member_on(ClanHousehold, on)
            )
            people = select(HouseholdMember.person_id.label("id")).where(
                HouseholdMember.household_id.in_(households), member_on(HouseholdMember, on)
            )
        case Membership.HOUSEHOLD_MEMBERS:
            people = select(HouseholdMember.person_id.label("id")).where(
                HouseholdMember.household_id == subject_id, member_on(HouseholdMember, on)
            )
        case Membership.VILLAGE_HOUSEHOLDS:
            return select(Residence.household_id.label("id")).where(
                Residence.unit_id == subject_id, Residence.household_id.is_not(None), resident_on(Residence, on)
            )
        case Membership.ORGANISATION_STAFF:
            people = select(OrganisationStaff.person_id.label("id")).where(
                OrganisationStaff.organisation_id == subject_id, member_on(OrganisationStaff, on)
            )
        case Membership.COMMUNE_CITIZENS:
            people = select(Residence.person_id.label("id")).where(
                Residence.person_id.is_not(None),
                resident_on(Residence, on),
                Residence.unit_id.in_(select(UnitAncestor.unit_id).where(UnitAncestor.ancestor_id == subject_id)),
            )
        case Membership.DISTRICT_COMMUNES | Membership.PROVINCE_COMMUNES:
            return _units_under(subject_id, UnitLevel.COMMUNE, on)
        case Membership.PROVINCE_DISTRICTS:
            return _units_under(subject_id, UnitLevel.DISTRICT, on)
    if population.age is not None:
        people = people.join(Person, Person.id == people.selected_columns.id).where(
            aged_on(Person.birth_date, on, population.age.min, population.age.max)
        )
    return people


def _units_under(unit_id: int, level: str, on: date) -> Select:
    """Units of `level` under `unit_id` in force on `on` (e.g. the communes of a district)."""
    return select(AdministrativeUnit.id.label("id")).where(
        AdministrativeUnit.level == level,
        *unit_in_force_on(on),
        AdministrativeUnit.id.in_(select(UnitAncestor.unit_id).where(UnitAncestor.ancestor_id == unit_id)),
    )


def compute(session: Session, version: CriteriaVersion, subject_id: int, on: date) -> dict[str, dict[str, Any]]:
    """{indicator_id: {value, numerator, denominator, as_of, population}} for every derived
    indicator of the version."""
    values: dict[str, dict[str, Any]] = {}
    for indicator in version.indicators():
        if indicator.kind != IndicatorKind.DERIVED or indicator.derived is None:
            continue
        source = indicator.derived
        population = _members(source.population, subject_id, on).distinct().subquery()
        holders = select(Recognition.subject_id).where(Recognition.title == source.title, in_force_on(on))
        if source.levels:  # e.g. communes recognised at mức độ 2
            holders = holders.where(Recognition.level.in_(source.levels))
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
            "population": source.population.describe(),
        }
    return values

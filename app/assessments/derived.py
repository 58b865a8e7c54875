"""Derived indicators (chỉ số dẫn xuất) computed from the registry as of a reference date: e.g.
the share of a clan's adult members that hold Công dân học tập. The criteria file declares the
population (membership kind and age band on that date, app.rules.model.Population); each value
is one SQL aggregate, grouped by subject so that many subjects (a batch of a re-scoring run) are
counted by the same query as one; the engine receives only the values, the assessment keeps the
counts and the population in words."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
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

SUBJECTS_PER_QUERY = 1000  # subjects counted by one grouped query (bounds the IN list)


def _members(population: Population, subjects: Sequence[int], on: date) -> Select:
    """A select of (owner, id): for each subject (`owner`) the ids (households or people) of its
    population on `on`."""
    match population.membership:
        case Membership.CLAN_HOUSEHOLDS:
            return select(ClanHousehold.clan_id.label("owner"), ClanHousehold.household_id.label("id")).where(
                ClanHousehold.clan_id.in_(subjects), member_on(ClanHousehold, on)
            )
        case Membership.CLAN_MEMBERS:
            people = (
                select(ClanHousehold.clan_id.label("owner"), HouseholdMember.person_id.label("id"))
                .join(HouseholdMember, HouseholdMember.household_id == ClanHousehold.household_id)
                .where(
                    ClanHousehold.clan_id.in_(subjects), member_on(ClanHousehold, on), member_on(HouseholdMember, on)
                )
            )
        case Membership.HOUSEHOLD_MEMBERS:
            people = select(HouseholdMember.household_id.label("owner"), HouseholdMember.person_id.label("id")).where(
                HouseholdMember.household_id.in_(subjects), member_on(HouseholdMember, on)
            )
        case Membership.VILLAGE_HOUSEHOLDS:
            return select(Residence.unit_id.label("owner"), Residence.household_id.label("id")).where(
                Residence.unit_id.in_(subjects), Residence.household_id.is_not(None), resident_on(Residence, on)
            )
        case Membership.ORGANISATION_STAFF:
            people = select(
                OrganisationStaff.organisation_id.label("owner"), OrganisationStaff.person_id.label("id")
            ).where(OrganisationStaff.organisation_id.in_(subjects), member_on(OrganisationStaff, on))
        case Membership.COMMUNE_CITIZENS:
            people = (
                select(UnitAncestor.ancestor_id.label("owner"), Residence.person_id.label("id"))
                .join(UnitAncestor, UnitAncestor.unit_id == Residence.unit_id)
                .where(
                    UnitAncestor.ancestor_id.in_(subjects), Residence.person_id.is_not(None), resident_on(Residence, on)
                )
            )
        case Membership.DISTRICT_COMMUNES | Membership.PROVINCE_COMMUNES:
            return _units_under(subjects, UnitLevel.COMMUNE, on)
        case Membership.PROVINCE_DISTRICTS:
            return _units_under(subjects, UnitLevel.DISTRICT, on)
    if population.age is not None:
        people = people.join(Person, Person.id == people.selected_columns.id).where(
            aged_on(Person.birth_date, on, population.age.min, population.age.max)
        )
    return people


def _units_under(subjects: Sequence[int], level: str, on: date) -> Select:
    """Units of `level` under each subject unit in force on `on` (e.g. the communes of a district)."""
    return (
        select(UnitAncestor.ancestor_id.label("owner"), AdministrativeUnit.id.label("id"))
        .join(UnitAncestor, UnitAncestor.unit_id == AdministrativeUnit.id)
        .where(UnitAncestor.ancestor_id.in_(subjects), AdministrativeUnit.level == level, *unit_in_force_on(on))
    )


def has_derived(version: CriteriaVersion) -> bool:
    return any(indicator.kind == IndicatorKind.DERIVED and indicator.derived for indicator in version.indicators())


def compute_many(
    session: Session, version: CriteriaVersion, subjects: Iterable[tuple[int, date]]
) -> dict[tuple[int, date], dict[str, dict[str, Any]]]:
    """{(subject_id, reference date): {indicator_id: {value, numerator, denominator, as_of,
    population}}} for every derived indicator of the version: one grouped query per indicator,
    reference date and SUBJECTS_PER_QUERY subjects."""
    by_day: dict[date, set[int]] = defaultdict(set)
    for subject_id, on in subjects:
        by_day[on].add(subject_id)
    values: dict[tuple[int, date], dict[str, dict[str, Any]]] = {
        (subject_id, on): {} for on, ids in by_day.items() for subject_id in ids
    }
    indicators = [i for i in version.indicators() if i.kind == IndicatorKind.DERIVED and i.derived is not None]
    for on, ids in by_day.items():
        ordered = sorted(ids)
        for start in range(0, len(ordered), SUBJECTS_PER_QUERY):
            chunk = ordered[start : start + SUBJECTS_PER_QUERY]
            for indicator in indicators:
                counts = _counts(session, indicator.derived, chunk, on)
                for subject_id in chunk:
                    numerator, denominator = counts.get(subject_id, (0, 0))
                    values[(subject_id, on)][indicator.id] = _value(indicator.derived, numerator, denominator, on)
    return values


def _counts(session: Session, source, subjects: Sequence[int], on: date) -> dict[int, tuple[int, int]]:
    """{subject: (numerator, denominator)}; a subject with an empty population is absent."""
    population = _members(source.population, subjects, on).distinct().subquery()
    holders = select(Recognition.subject_id).where(Recognition.title == source.title, in_force_on(on))
    if source.levels:  # e.g. communes recognised at mức độ 2
        holders = holders.where(Recognition.level.in_(source.levels))
    rows = session.execute(
        select(
            population.c.owner,
            func.count(population.c.id),
            func.count(population.c.id).filter(population.c.id.in_(holders)),
        ).group_by(population.c.owner)
    )
    return {owner: (numerator, denominator) for owner, denominator, numerator in rows}


def _value(source, numerator: int, denominator: int, on: date) -> dict[str, Any]:
    if source.measure == "count_holding_title":
        value = Decimal(numerator)
    else:
        value = (Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.0001")) if denominator else Decimal(0)
    return {
        "value": str(value),
        "numerator": numerator,
        "denominator": denominator,
        "as_of": on.isoformat(),
        "population": source.population.describe(),
    }


def compute(session: Session, version: CriteriaVersion, subject_id: int, on: date) -> dict[str, dict[str, Any]]:
    """{indicator_id: {value, numerator, denominator, as_of, population}} for every derived
    indicator of the version, for one subject."""
    return compute_many(session, version, [(subject_id, on)])[(subject_id, on)]

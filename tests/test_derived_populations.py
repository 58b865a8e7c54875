"""Each derived indicator counts the population its criteria file declares — the membership on the
reference date and, for people, the age band on that date — and the dry-run trace says so.

For every derived indicator of the shipped versions: members just inside and just outside each
bound (joined that day / the day after, left that day / the day after, turned 18 that day / the
day after), counted by the registry's SQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from app.assessments.derived import compute
from app.criteria.service import shipped_files
from app.registry.models import (
    Clan,
    ClanHousehold,
    Household,
    HouseholdMember,
    Organisation,
    OrganisationStaff,
    Person,
    Residence,
)
from app.rules import load_file
from app.rules.model import IndicatorKind, Membership
from app.units.models import AdministrativeUnit, UnitAncestor
from app.units.service import add_ancestors

R = date(2026, 6, 30)  # the reference date
R_DISTRICTS = date(2025, 6, 30)  # districts ended on 01/7/2025: their populations are counted before
DAY = timedelta(days=1)


def _derived_indicators():
    for path in shipped_files():
        version = load_file(path)
        for indicator in version.indicators():
            if indicator.kind == IndicatorKind.DERIVED:
                yield pytest.param(version, indicator, id=f"{version.title}/{version.version}/{indicator.id}")


DERIVED = list(_derived_indicators())


def test_every_shipped_derived_indicator_is_covered():
    memberships = {indicator.derived.population.membership for _, indicator in (p.values for p in DERIVED)}
    assert memberships and memberships <= set(BUILDERS)


def _person(session, born: date | None = date(1980, 1, 1)) -> Person:
    person = Person(full_name="Thành viên", birth_date=born)
    session.add(person)
    session.flush()
    return person


def _commune(session) -> AdministrativeUnit:
    return session.scalar(select(AdministrativeUnit).where(AdministrativeUnit.code == "00367"))


def _clan_with_boundary_households(session) -> tuple[int, int]:
    """A clan with households on each side of R; returns (clan id, households expected)."""
    clan = Clan(name="Họ biên", home_unit_id=_commune(session).id)
    session.add(clan)
    session.flush()
    expected = 0
    for joined, left, counted in (
        (R, None, True),  # joined on the day: a member that day
        (R + DAY, None, False),  # joined the day after
        (R - 10 * DAY, R, False),  # left on the day: no longer a member that day
        (R - 10 * DAY, R + DAY, True),  # left the day after
    ):
        home = Household(name="Hộ")
        session.add(home)
        session.flush()
        session.add(ClanHousehold(clan_id=clan.id, household_id=home.id, joined_on=joined, left_on=left))
        expected += counted
    session.flush()
    return clan.id, expected


def _clan_with_boundary_members(session) -> tuple[int, int]:
    """A clan's household with people of each side of 18 on R and members joining or leaving
    on each side of R; returns (clan id, adults expected)."""
    clan = Clan(name="Họ tuổi", home_unit_id=_commune(session).id)
    home = Household(name="Hộ tuổi")
    session.add_all([clan, home])
    session.flush()
    session.add(ClanHousehold(clan_id=clan.id, household_id=home.id, joined_on=R - 100 * DAY))
    expected = 0
    for born, joined, left, counted in (
        (date(2008, 6, 30), R - 100 * DAY, None, True),  # 18 on the day
        (date(2008, 7, 1), R - 100 * DAY, None, False),  # 18 the day after: 17 on R
        (date(1960, 1, 1), R, None, True),  # an adult who joined on the day
        (date(1960, 1, 1), R + DAY, None, False),  # joined the day after
        (date(1960, 1, 1), R - 100 * DAY, R, False),  # left on the day
        (None, R - 100 * DAY, None, False),  # no birth date: not known to be an adult
    ):
        person = _person(session, born)
        session.add(HouseholdMember(household_id=home.id, person_id=person.id, joined_on=joined, left_on=left))
        expected += counted
    session.flush()
    return clan.id, expected


def _village_with_boundary_households(session) -> tuple[int, int]:
    village = _commune(session)  # any unit: households are counted where they reside
    expected = 0
    for since, until, counted in (
        (R, None, True),
        (R + DAY, None, False),
        (R - 10 * DAY, R, False),  # moved away on the day
        (R - 10 * DAY, R + DAY, True),
    ):
        home = Household(name="Hộ ở")
        session.add(home)
        session.flush()
        session.add(Residence(household_id=home.id, unit_id=village.id, valid_from=since, valid_to=until))
        expected += counted
    session.flush()
    return village.id, expected


def _organisation_with_boundary_staff(session) -> tuple[int, int]:
    organisation = Organisation(name="Cơ quan biên", kind="agency")
    session.add(organisation)
    session.flush()
    expected = 0
    for joined, left, born, counted in (
        (R, None, date(1990, 1, 1), True),
        (R + DAY, None, date(1990, 1, 1), False),
        (R - 10 * DAY, R, date(1990, 1, 1), False),
        (R - 10 * DAY, R + DAY, date(1990, 1, 1), True),
        (R - 10 * DAY, None, None, True),  # staff have no age band: counted whatever the birth date
    ):
        person = _person(session, born)
        session.add(
            OrganisationStaff(organisation_id=organisation.id, person_id=person.id, joined_on=joined, left_on=left)
        )
        expected += counted
    session.flush()
    return organisation.id, expected


def _commune_with_boundary_citizens(session) -> tuple[int, int]:
    """People on each side of 15 on R, and residences on each side of R, in a village of a
    commune and in the commune itself; returns (commune id, citizens expected)."""
    commune = session.scalar(select(AdministrativeUnit).where(AdministrativeUnit.code == "00364"))
    village = AdministrativeUnit(
        code="00364-901",
        name="Tổ biên",
        search_name="to bien",
        unit_type="to_dan_pho",
        level="village",
        parent_id=commune.id,
        valid_from=date(2025, 7, 1),
        source="village",
    )
    session.add(village)
    session.flush()
    add_ancestors(session, village)
    expected = 0
    for unit, born, since, until, counted in (
        (village, date(2011, 6, 30), R - 100 * DAY, None, True),  # 15 on the day
        (village, date(2011, 7, 1), R - 100 * DAY, None, False),  # 15 the day after
        (commune, date(1980, 1, 1), R, None, True),  # came to live there that day
        (commune, date(1980, 1, 1), R + DAY, None, False),  # the day after
        (village, date(1980, 1, 1), R - 100 * DAY, R, False),  # moved away that day
        (village, None, R - 100 * DAY, None, False),  # no birth date
    ):
        person = _person(session, born)
        session.add(Residence(person_id=person.id, unit_id=unit.id, valid_from=since, valid_to=until))
        expected += counted
    session.flush()
    return commune.id, expected


def _units_with_boundaries(level: str, parent_level: str, day: date, known: int):
    """A unit of `parent_level` (a district or province in force on `day`) and its units of
    `level`, counted on `day` as the seed holds them; returns (parent id, units expected)."""

    def build(session) -> tuple[int, int]:
        parent = session.scalar(
            select(AdministrativeUnit).where(
                AdministrativeUnit.level == parent_level,
                AdministrativeUnit.code == ("01" if parent_level == "province" else "009"),
                (AdministrativeUnit.valid_from.is_(None)) | (AdministrativeUnit.valid_from <= day),
                (AdministrativeUnit.valid_to.is_(None)) | (AdministrativeUnit.valid_to > day),
            )
        )
        expected = session.scalar(
            select(func.count())
            .select_from(AdministrativeUnit)
            .join(UnitAncestor, UnitAncestor.unit_id == AdministrativeUnit.id)
            .where(
                UnitAncestor.ancestor_id == parent.id,
                AdministrativeUnit.level == level,
                (AdministrativeUnit.valid_from.is_(None)) | (AdministrativeUnit.valid_from <= day),
                (AdministrativeUnit.valid_to.is_(None)) | (AdministrativeUnit.valid_to > day),
            )
        )
        assert expected == known  # as published: Hà Nội's 30 districts and 126 communes, Thanh Xuân's 9 wards
        return parent.id, expected

    build.day = day
    return build


BUILDERS = {
    Membership.CLAN_HOUSEHOLDS: _clan_with_boundary_households,
    Membership.CLAN_MEMBERS: _clan_with_boundary_members,
    Membership.VILLAGE_HOUSEHOLDS: _village_with_boundary_households,
    Membership.ORGANISATION_STAFF: _organisation_with_boundary_staff,
    Membership.COMMUNE_CITIZENS: _commune_with_boundary_citizens,
    Membership.DISTRICT_COMMUNES: _units_with_boundaries("commune", "district", R_DISTRICTS, 9),
    Membership.PROVINCE_DISTRICTS: _units_with_boundaries("district", "province", R_DISTRICTS, 30),
    Membership.PROVINCE_COMMUNES: _units_with_boundaries("commune", "province", R, 126),
}


@pytest.mark.parametrize(("version", "indicator"), DERIVED)
def test_the_population_counted_is_the_one_declared(session, version, indicator):
    builder = BUILDERS[indicator.derived.population.membership]
    day = getattr(builder, "day", R)
    subject_id, expected = builder(session)
    counted = compute(session, version, subject_id, day)[indicator.id]
    assert counted["denominator"] == expected
    assert counted["as_of"] == day.isoformat()
    assert counted["population"] == indicator.derived.population.describe()
    session.rollback()


def test_the_clan_adults_indicator_declares_its_age_band():
    version = load_file(next(p for p in shipped_files() if p.parts[-2:] == ("clan", "hkhvn-2022.yaml")))
    indicator = next(i for i in version.indicators() if i.id == "c2_1")
    assert "trưởng thành" in indicator.label
    assert (indicator.derived.population.membership, indicator.derived.population.age.min) == ("clan_members", 18)


def test_the_dry_run_trace_shows_the_population(client):
    response = client.post(
        "/api/v1/criteria/versions/clan/hkhvn-2022/evaluate",
        json={"answers": {"c3_1": True}, "derived": {"c1_1": 0.6, "c2_1": 0.5}},
    )
    assert response.status_code == 200, response.text
    traces = {trace["indicator_id"]: trace for trace in response.json()["indicators"]}
    assert "từ đủ 18 tuổi" in traces["c2_1"]["population"]
    assert "hộ thuộc dòng họ" in traces["c1_1"]["population"].lower()
    assert traces["c3_1"]["population"] is None

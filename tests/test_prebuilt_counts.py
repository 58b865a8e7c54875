"""The pre-built counts behind the progress endpoint stay equal to a live count through every
kind of write, and a write makes stale only the units it touches. Answers are exact right after
the write (what is not rebuilt yet is counted live) and, once the rebuild jobs have run, from
the pre-built rows alone."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from app.assessments.models import Recognition
from app.auth.models import Role
from app.registry.models import Clan, ClanHousehold, HouseholdMember, OrganisationStaff, Person, Residence
from app.stats import counting, summary
from app.stats import jobs as count_jobs
from app.stats.models import CountBuild, CountVersion, DataVersion
from app.stats.service import TITLE_ORDER
from app.stats.synthetic import generate
from app.units.models import AdministrativeUnit, UnitAncestor
from app.units.service import get_unit
from tests.helpers import bearer, login

API = "/api/v1"
YEAR = 2025
BASES = ("all", "registered")
# Writes record events of the counted year (2025, whose reference day is 31 December).
SINCE, LATER = "2025-09-01", "2025-10-01"


@pytest.fixture
def world(session, client, make_user, app):
    generate(session, "01", 1500, YEAR, seed=11)
    make_user("quantri", Role.ADMIN)  # writes in two communes
    officer = bearer(login(client, "quantri")["access_token"])
    province = get_unit(session, "01", date.today())
    # The two communes with the most people, and a village of the first.
    busiest = session.execute(
        select(AdministrativeUnit.parent_id, func.count())
        .join(Residence, Residence.unit_id == AdministrativeUnit.id)
        .where(AdministrativeUnit.level == "village", Residence.person_id.is_not(None), Residence.valid_to.is_(None))
        .group_by(AdministrativeUnit.parent_id)
        .order_by(func.count().desc(), AdministrativeUnit.parent_id)
        .limit(2)
    ).all()
    first, second = (session.get(AdministrativeUnit, unit_id) for unit_id, _ in busiest)
    village = session.scalar(
        select(AdministrativeUnit).where(AdministrativeUnit.parent_id == first.id).order_by(AdministrativeUnit.id)
    )
    return {
        "officer": officer,
        "province": province,
        "first": first,
        "second": second,
        "village": village,
        "jobs": app.state.jobs,
    }


def live(session, unit, basis: str) -> dict:
    day = counting.reference_day(YEAR)
    return {
        (title, segment or None): counting.count(
            session, title, counting.Scope(unit, YEAR, day, segment=segment or None), basis == "registered"
        )
        for title, segments in summary.BUILT.items()
        for segment in segments
    }


def check(client, session, world, step: str) -> dict:
    """Every unit's progress (through the API, then the pre-built rows) equals a live count;
    returns the counts, so each step can show that its write changed something."""
    session.rollback()  # see what the server committed
    seen = {}
    for name in ("first", "second", "village", "province"):
        unit = world[name]
        for basis in BASES:
            items = client.get(f"{API}/units/{unit.code}/progress", params={"year": YEAR, "basis": basis}).json()
            expected = live(session, unit, basis)
            got = {(i["title"], i["segment"]): (i["numerator"], i["denominator"]) for i in items["items"]}
            for title in TITLE_ORDER:  # the titles progress counts
                assert got[(title, None)] == expected[(title, None)], (step, name, basis, title)
            seen[(name, basis)] = expected
    # Once the rebuild jobs have run, the pre-built rows alone give the same numbers.
    assert world["jobs"].wait_idle(60)
    session.rollback()
    day = counting.reference_day(YEAR)
    for name in ("first", "second", "village", "province"):
        for basis in BASES:
            tally = summary.counts(session, world[name], YEAR, day, basis)
            assert tally.live_units == [], (step, name, basis)
            assert {key: tally.counts[key] for key in seen[(name, basis)]} == seen[(name, basis)], (step, name, basis)
    session.commit()
    previous = world.get("seen")
    if previous is not None:
        assert seen != previous, f"{step}: the write changed no count, so it tests nothing"
    world["seen"] = seen
    return seen


def versions(session) -> tuple[dict, int]:
    session.rollback()
    return (
        dict(session.execute(select(CountVersion.unit_id, CountVersion.version)).all()),
        session.scalar(select(DataVersion.version).where(DataVersion.name == summary.GLOBAL_VERSION)),
    )


def post(client, world, path: str, body: dict) -> dict:
    response = client.post(f"{API}{path}", headers=world["officer"], json=body)
    assert response.status_code in (200, 201), response.text
    return response.json()


def test_every_kind_of_write_keeps_the_prebuilt_counts_exact(client, session, world):
    first, second, village = world["first"], world["second"], world["village"]
    check(client, session, world, "step 1")  # builds everything once
    assert session.scalar(select(func.count()).select_from(CountBuild)) > 0

    # A new adult in the education sector, in a village of the first commune.
    before, global_before = versions(session)
    teacher = post(
        client,
        world,
        "/people",
        {
            "full_name": "Lê Thị Hoa",
            "birth_date": "1980-03-02",
            "sectors": ["education"],
            "unit_code": village.code,
            "resident_since": SINCE,
        },
    )
    after, global_after = versions(session)
    assert {unit for unit in after if after[unit] != before.get(unit)} == {village.id}  # only its village
    assert global_after == global_before
    check(client, session, world, "step 2")

    # A household of the second commune holding Gia đình học tập gains that member (who lives
    # in the first), loses its title, loses the member, and moves to the first commune.
    holder_household, title_id = session.execute(
        select(Residence.household_id, Recognition.id)
        .join(Recognition, (Recognition.subject_id == Residence.household_id) & (Recognition.title == "family"))
        .join(AdministrativeUnit, AdministrativeUnit.id == Residence.unit_id)
        .where(
            AdministrativeUnit.parent_id == second.id, Residence.valid_to.is_(None), Recognition.revoked_at.is_(None)
        )
        .order_by(Residence.household_id)
    ).first()
    post(client, world, f"/households/{holder_household}/members", {"person_id": teacher["id"], "joined_on": SINCE})
    check(client, session, world, "member joins")
    post(client, world, f"/recognitions/{title_id}/revoke", {"reason": "Kiểm tra lại hồ sơ"})
    check(client, session, world, "household loses its title")
    post(client, world, f"/households/{holder_household}/members/{teacher['id']}/leave", {"left_on": LATER})
    check(client, session, world, "member leaves")
    post(client, world, f"/households/{holder_household}/residence", {"unit_code": first.code, "since": LATER})
    check(client, session, world, "household moves")

    # A person holding Công dân học tập moves from the first commune to the second.
    mover = session.scalar(
        select(Residence.person_id)
        .join(Recognition, (Recognition.subject_id == Residence.person_id) & (Recognition.title == "citizen"))
        .join(AdministrativeUnit, AdministrativeUnit.id == Residence.unit_id)
        .where(AdministrativeUnit.parent_id == first.id, Residence.valid_to.is_(None), Recognition.revoked_at.is_(None))
        .order_by(Residence.person_id)
    )
    post(client, world, f"/people/{mover}/residence", {"unit_code": second.code, "since": LATER})
    check(client, session, world, "step 6")

    # A staff member of a learning organisation leaves it.
    learning = aliased(Recognition)
    staff = session.execute(
        select(OrganisationStaff.organisation_id, OrganisationStaff.person_id)
        .join(
            learning,
            (learning.subject_id == OrganisationStaff.organisation_id) & (learning.title == "unit"),
        )
        .where(OrganisationStaff.left_on.is_(None), learning.revoked_at.is_(None))
        .order_by(OrganisationStaff.id)
        .limit(1)
    ).all()
    post(client, world, f"/organisations/{staff[0][0]}/staff/{staff[0][1]}/leave", {"left_on": LATER})
    check(client, session, world, "step 7")
    # Someone holding Công dân học tập joins the staff of a learning organisation based in
    # another commune, then loses the title: the organisation's commune's numbers change too.
    organisation, based = session.execute(
        select(Residence.organisation_id, Residence.unit_id)
        .join(Recognition, (Recognition.subject_id == Residence.organisation_id) & (Recognition.title == "unit"))
        .where(Residence.valid_to.is_(None), Recognition.revoked_at.is_(None))
        .order_by(Residence.organisation_id)
    ).first()
    elsewhere = {based, session.get(AdministrativeUnit, based).parent_id}
    commuter = session.scalar(
        select(Residence.person_id)
        .join(Recognition, (Recognition.subject_id == Residence.person_id) & (Recognition.title == "citizen"))
        .join(AdministrativeUnit, AdministrativeUnit.id == Residence.unit_id)
        .where(
            AdministrativeUnit.parent_id.not_in(elsewhere),
            Residence.valid_to.is_(None),
            Recognition.revoked_at.is_(None),
            Residence.person_id != mover,
        )
        .order_by(Residence.person_id)
    )
    post(client, world, f"/organisations/{organisation}/staff", {"person_id": commuter, "joined_on": SINCE})
    check(client, session, world, "step 8")
    recognition = session.scalar(
        select(Recognition.id).where(
            Recognition.subject_id == commuter, Recognition.title == "citizen", Recognition.revoked_at.is_(None)
        )
    )
    post(client, world, f"/recognitions/{recognition}/revoke", {"reason": "Kiểm tra lại hồ sơ"})
    check(client, session, world, "step 8")

    # A revoked recognition is restored (an ORM write outside the API is tracked the same way).
    session.rollback()
    revoked = session.scalar(select(Recognition).where(Recognition.revoked_at.is_not(None)).order_by(Recognition.id))
    revoked.revoked_at = revoked.revoked_on = None
    session.commit()
    check(client, session, world, "step 9")

    # A household whose adults live away from the clan's home joins a learning clan; then the
    # clan loses its title.
    clan, clan_home, clan_title = session.execute(
        select(Clan.id, Clan.home_unit_id, Recognition.id)
        .join(Recognition, (Recognition.subject_id == Clan.id) & (Recognition.title == "clan"))
        .where(Recognition.revoked_at.is_(None))
        .order_by(Clan.id)
    ).first()
    learning_clans = select(Recognition.subject_id).where(Recognition.title == "clan", Recognition.revoked_at.is_(None))
    joining, old_clan = session.execute(
        select(HouseholdMember.household_id, ClanHousehold.clan_id)
        .join(ClanHousehold, ClanHousehold.household_id == HouseholdMember.household_id)
        .join(Residence, Residence.person_id == HouseholdMember.person_id)
        .join(Person, Person.id == HouseholdMember.person_id)
        .where(
            ClanHousehold.left_on.is_(None),
            ClanHousehold.clan_id.not_in(learning_clans),
            Residence.valid_to.is_(None),
            Residence.unit_id.not_in(select(UnitAncestor.unit_id).where(UnitAncestor.ancestor_id == clan_home)),
            Person.birth_date < date(YEAR - 20, 1, 1),
            HouseholdMember.left_on.is_(None),
            HouseholdMember.household_id.not_in(
                select(Recognition.subject_id).where(Recognition.title == "family", Recognition.revoked_at.is_(None))
            ),
            Residence.unit_id.not_in(
                select(Recognition.subject_id).where(Recognition.title == "community", Recognition.revoked_at.is_(None))
            ),
        )
        .order_by(HouseholdMember.household_id)
    ).first()
    post(client, world, f"/clans/{old_clan}/households/{joining}/leave", {"left_on": SINCE})
    post(client, world, f"/clans/{clan}/households", {"household_id": joining, "joined_on": SINCE})
    check(client, session, world, "household joins a learning clan")
    post(client, world, f"/recognitions/{clan_title}/revoke", {"reason": "Kiểm tra lại hồ sơ"})
    check(client, session, world, "clan loses its title")

    # A birth date corrected so a person is no longer 15; a registration for the year.
    young = session.scalar(
        select(Residence.person_id)
        .join(AdministrativeUnit, AdministrativeUnit.id == Residence.unit_id)
        .where(
            AdministrativeUnit.parent_id == second.id, Residence.valid_to.is_(None), Residence.person_id.is_not(None)
        )
        .order_by(Residence.person_id)
    )
    session.get(Person, young).birth_date = date(YEAR - 5, 1, 1)
    session.commit()
    check(client, session, world, "step 10")
    post(client, world, "/registrations", {"title": "citizen", "subject_id": mover, "year": YEAR})
    check(client, session, world, "step 11")

    # A new village changes the unit tree: every build is stale.
    _, global_before = versions(session)
    post(client, world, f"/units/{first.code}/villages", {"name": "Thôn Mới", "unit_type": "thon", "valid_from": SINCE})
    assert versions(session)[1] == global_before + 1
    check(client, session, world, "step 12")


def test_a_write_rebuilds_only_what_it_touches(client, session, world, app):
    check(client, session, world, "first build")
    session.rollback()
    built = dict(
        session.execute(select(CountBuild.unit_id, CountBuild.built_at).where(CountBuild.basis == "all")).all()
    )

    def rebuilt() -> set[int]:
        session.rollback()
        return {
            unit
            for unit, built_at in session.execute(
                select(CountBuild.unit_id, CountBuild.built_at).where(CountBuild.basis == "all")
            )
            if built.get(unit) != built_at
        }

    def places_of(member) -> set[int]:
        return set(
            session.scalars(
                select(Residence.unit_id).where(
                    (Residence.person_id == member.person_id)
                    | (Residence.household_id == member.household_id)
                    | Residence.organisation_id.in_(
                        select(OrganisationStaff.organisation_id).where(OrganisationStaff.person_id == member.person_id)
                    )
                )
            )
        )

    # A write through the app's sessions queues the rebuild of where the member, the household
    # and the member's employers are; nothing else is rebuilt, and reads rebuild nothing.
    with app.state.session_factory() as writer:
        member = writer.scalar(
            select(HouseholdMember).where(HouseholdMember.left_on.is_(None)).order_by(HouseholdMember.id)
        )
        member.left_on = date(YEAR, 10, 1)
        writer.commit()
    places = places_of(member)
    assert world["jobs"].wait_idle(60)
    assert rebuilt() == places and len(places) < 5
    assert client.get(f"{API}/units/01/progress", params={"year": YEAR}).status_code == 200
    assert world["jobs"].wait_idle(60)
    assert rebuilt() == places

    # A write no job hears of (another process without a queue) is left to the sweep.
    built.update(
        session.execute(select(CountBuild.unit_id, CountBuild.built_at).where(CountBuild.basis == "all")).all()
    )
    other = session.scalar(
        select(HouseholdMember)
        .where(HouseholdMember.left_on.is_(None), HouseholdMember.household_id != member.household_id)
        .order_by(HouseholdMember.id)
    )
    other.left_on = date(YEAR, 10, 1)
    session.commit()
    elsewhere = places_of(other)
    assert rebuilt() == set()
    assert count_jobs.sweep(app.state.session_factory) >= len(elsewhere)
    assert rebuilt() == elsewhere
    assert count_jobs.sweep(app.state.session_factory) == 0

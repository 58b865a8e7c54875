"""Re-homing the records of units that ended in the 2025 reform."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.auth.models import Role
from app.registry.models import Household, Organisation, Residence
from app.text import plain
from app.units.models import AdministrativeUnit, UnitLevel
from app.units.service import add_ancestors, get_unit
from tests.helpers import assert_problem, bearer, login

BEFORE = date(2025, 6, 30)


def rehoming(client, code: str, headers, **body):
    return client.post(
        f"/api/v1/units/{code}/rehoming", params={"as_of": BEFORE.isoformat()}, headers=headers, json=body
    )


@pytest.fixture
def place(session):
    """Put a household (or organisation) in a unit as of 2020, the way the registry records it."""

    def put(unit: AdministrativeUnit, name: str = "Hộ ông Nguyễn Văn An", kind: str = "household") -> Residence:
        subject = Household(name=name) if kind == "household" else Organisation(name=name, kind="school")
        session.add(subject)
        session.flush()
        residence = Residence(unit_id=unit.id, valid_from=date(2020, 1, 1), **{f"{kind}_id": subject.id})
        session.add(residence)
        session.commit()
        return residence

    return put


def residences_of(session, residence: Residence) -> list[tuple[str, date, date | None, str]]:
    session.expire_all()
    subject_column = getattr(Residence, residence.subject[0] + "_id")
    rows = session.execute(
        select(AdministrativeUnit.code, Residence.valid_from, Residence.valid_to, Residence.reason)
        .join(AdministrativeUnit, AdministrativeUnit.id == Residence.unit_id)
        .where(subject_column == residence.subject[1])
        .order_by(Residence.id)
    )
    return [tuple(row) for row in rows]


@pytest.fixture
def tan_an_officer(client, make_user):
    make_user("canbo.tanan", Role.COMMUNE_OFFICER, ["11167"])  # xã Tân An, Hải Phòng, today
    return bearer(login(client, "canbo.tanan")["access_token"])


@pytest.fixture
def thanh_xuan_officer(client, make_user):
    make_user("canbo.tx", Role.COMMUNE_OFFICER, ["00367"])  # phường Thanh Xuân, today
    return bearer(login(client, "canbo.tx")["access_token"])


def test_household_of_a_merged_commune_moves_and_keeps_its_history(client, session, place, tan_an_officer):
    duc_phuc = get_unit(session, "11167", BEFORE)
    assert duc_phuc.name == "Xã Đức Phúc"
    household = place(duc_phuc)
    # A village of the old commune, kept by the commune before the reform.
    village = AdministrativeUnit(
        code="11167-001",
        name="Thôn Hồng Đức",
        search_name=plain("Thôn Hồng Đức"),
        unit_type="thon",
        level=UnitLevel.VILLAGE,
        parent_id=duc_phuc.id,
        valid_from=date(2024, 12, 1),
        valid_to=None,
        source="village",
    )
    session.add(village)
    session.flush()
    add_ancestors(session, village)
    session.commit()
    in_village = place(village, "Hộ bà Trần Thị Bình")

    preview = rehoming(client, "11167", tan_an_officer, dry_run=True)
    assert preview.status_code == 200, preview.text
    assert len(preview.json()["moved"]) == 2
    assert residences_of(session, household) == [("11167", date(2020, 1, 1), None, "registered")]

    report = rehoming(client, "11167", tan_an_officer).json()
    assert report["needs_choice"] == []
    assert [(m["from_code"], m["to_code"], m["via"]) for m in report["moved"]] == [
        ("11167", "11167", "succession"),
        ("11167-001", "11167-002", "succession"),
    ]
    assert report["villages_moved"][0]["to_commune_code"] == "11167"
    # History: the old residence is closed on the reform date, a new one opens in xã Tân An.
    assert residences_of(session, household) == [
        ("11167", date(2020, 1, 1), date(2025, 7, 1), "registered"),
        ("11167", date(2025, 7, 1), None, "rehomed"),
    ]
    session.expire_all()
    rows = (
        session.execute(
            select(Residence.unit_id).where(
                Residence.household_id == household.household_id, Residence.valid_to.is_(None)
            )
        )
        .scalars()
        .all()
    )
    assert [session.get(AdministrativeUnit, unit_id).name for unit_id in rows] == ["Xã Tân An"]
    village_now = client.get("/api/v1/units/11167-002").json()
    assert village_now["name"] == "Thôn Hồng Đức"
    assert [p["name"] for p in village_now["parents"]] == ["Thành phố Hải Phòng", "Xã Tân An"]
    assert residences_of(session, in_village)[-1] == ("11167-002", date(2025, 7, 1), None, "rehomed")

    # Running it again finds nothing left to move.
    again = rehoming(client, "11167", tan_an_officer).json()
    assert again["moved"] == [] and again["villages_moved"] == []


def test_split_ward_records_are_listed_not_guessed(client, session, place, thanh_xuan_officer, make_user):
    thanh_xuan_bac = get_unit(session, "00367", BEFORE)
    assert thanh_xuan_bac.name == "Phường Thanh Xuân Bắc"
    household = place(thanh_xuan_bac)

    listed = rehoming(client, "00367", thanh_xuan_officer).json()
    assert listed["moved"] == []
    [pending] = listed["needs_choice"]
    assert pending["residence_id"] == household.id and pending["subject_type"] == "household"
    assert {(c["name"], c["is_default"]) for c in pending["candidates"]} == {
        ("Phường Thanh Xuân", True),
        ("Phường Thanh Liệt", False),
    }
    assert residences_of(session, household) == [("00367", date(2020, 1, 1), None, "registered")]

    # The officer of the default successor may apply the default; it is reported as such.
    by_default = rehoming(client, "00367", thanh_xuan_officer, split_policy="default").json()
    assert [(m["to_code"], m["via"]) for m in by_default["moved"]] == [("00367", "default")]

    # A record can also be placed by an explicit choice, by someone allowed in the target.
    other = place(thanh_xuan_bac, "Hộ ông Lê Văn Cường")
    thanh_liet = get_unit(session, "00646", date.today())
    assert thanh_liet.name == "Phường Thanh Liệt"
    outside = rehoming(client, "00367", thanh_xuan_officer, choices=[{"residence_id": other.id, "unit_code": "00646"}])
    assert_problem(outside, 403, "forbidden")
    make_user("quantri")
    admin = bearer(login(client, "quantri")["access_token"])
    chosen = rehoming(client, "00367", admin, choices=[{"residence_id": other.id, "unit_code": "00646"}]).json()
    assert [(m["residence_id"], m["to_code"], m["via"]) for m in chosen["moved"]] == [(other.id, "00646", "choice")]


def test_rehoming_refusals(client, session, place, thanh_xuan_officer, tan_an_officer):
    # Still in force: nothing to re-home.
    today = client.post("/api/v1/units/00367/rehoming", headers=thanh_xuan_officer, json={})
    assert_problem(today, 409, "unit_in_force")
    # An officer of an unrelated commune may not touch xã Đức Phúc's records.
    assert_problem(rehoming(client, "11167", thanh_xuan_officer), 403, "forbidden")
    assert_problem(rehoming(client, "11167", {}), 401, "not_authenticated")
    bad = rehoming(client, "11167", tan_an_officer, choices=[{"residence_id": 1, "unit_code": "00367"}])
    assert assert_problem(bad, 422, "validation_failed")["errors"][0]["code"] == "not_a_successor"
    assert_problem(rehoming(client, "11167", tan_an_officer, split_policy="guess"), 422, "validation_failed")
    province = rehoming(client, "30", tan_an_officer)
    assert_problem(province, 422, "not_a_commune")

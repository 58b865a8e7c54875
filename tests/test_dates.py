"""Nothing is recorded as happening in the future, a decision follows the reviews it rests on,
and every count respects the dates of memberships and residences."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from app import clock
from app.auth.models import Role
from tests.helpers import assert_problem, bearer, login, today

API = "/api/v1"
CITIZEN_ALL_8 = {f"c{c}_{i}": 8 for c, n in ((1, 4), (2, 4), (3, 2)) for i in range(1, n + 1)}


def tomorrow() -> str:
    return (clock.today() + timedelta(days=1)).isoformat()


@pytest.fixture
def ward(client, make_user):
    """An admin's and a second reviewer's view, a village, a person, a household with a member,
    a clan and an organisation in Phường Thanh Xuân."""
    make_user("quantri")
    make_user("thamdinh.b", Role.ASSESSOR, ["00367"])
    admin = bearer(login(client, "quantri")["access_token"])

    def post(path, body, expect=201):
        response = client.post(API + path, json=body, headers=admin)
        assert response.status_code == expect, response.text
        return response.json()

    village = post("/units/00367/villages", {"name": "Tổ 5", "unit_type": "to_dan_pho", "valid_from": "2025-07-01"})
    people = [
        post(
            "/people",
            {
                "full_name": f"Người {n}",
                "birth_date": "1980-01-01",
                "unit_code": village["code"],
                "resident_since": "2025-07-01",
            },
        )
        for n in range(3)
    ]
    home = post(
        "/households",
        {
            "name": "Hộ 5",
            "unit_code": village["code"],
            "since": "2025-07-01",
            "members": [{"person_id": people[0]["id"]}],
        },
    )
    clan = post("/clans", {"name": "Họ Phan", "home_commune_code": "00367", "since": "2025-07-01"})
    organisation = post(
        "/organisations", {"name": "Trường 5", "kind": "school", "unit_code": "00367", "since": "2025-07-01"}
    )
    return {
        "admin": admin,
        "reviewer": bearer(login(client, "thamdinh.b")["access_token"]),
        "village": village["code"],
        "people": [p["id"] for p in people],
        "household": home["id"],
        "clan": clan["id"],
        "organisation": organisation["id"],
    }


# (what, method, path, body, field named in the error); `w` is the ward fixture's dict.
FUTURE_CASES = [
    (
        "person's residence",
        "/people",
        lambda w: {"full_name": "X", "unit_code": w["village"], "resident_since": tomorrow()},
        "body.resident_since",
    ),
    (
        "birth",
        "/people",
        lambda w: {"full_name": "X", "unit_code": w["village"], "birth_date": tomorrow()},
        "body.birth_date",
    ),
    (
        "household's residence",
        "/households",
        lambda w: {"name": "Hộ", "unit_code": w["village"], "since": tomorrow()},
        "body.since",
    ),
    (
        "household member in a new household",
        "/households",
        lambda w: {
            "name": "Hộ",
            "unit_code": w["village"],
            "members": [{"person_id": w["people"][1], "joined_on": tomorrow()}],
        },
        "body.members.0.joined_on",
    ),
    (
        "joining a household",
        lambda w: f"/households/{w['household']}/members",
        lambda w: {"person_id": w["people"][1], "joined_on": tomorrow()},
        "body.joined_on",
    ),
    (
        "leaving a household",
        lambda w: f"/households/{w['household']}/members/{w['people'][0]}/leave",
        lambda w: {"left_on": tomorrow()},
        "body.left_on",
    ),
    ("clan", "/clans", lambda w: {"name": "Họ", "home_commune_code": "00367", "since": tomorrow()}, "body.since"),
    (
        "clan household",
        lambda w: f"/clans/{w['clan']}/households",
        lambda w: {"household_id": w["household"], "joined_on": tomorrow()},
        "body.joined_on",
    ),
    (
        "organisation",
        "/organisations",
        lambda w: {"name": "Cơ quan", "kind": "agency", "unit_code": "00367", "since": tomorrow()},
        "body.since",
    ),
    (
        "staff of a new organisation",
        "/organisations",
        lambda w: {
            "name": "Cơ quan",
            "kind": "agency",
            "unit_code": "00367",
            "staff": [{"person_id": w["people"][1], "joined_on": tomorrow()}],
        },
        "body.staff.0.joined_on",
    ),
    (
        "staff",
        lambda w: f"/organisations/{w['organisation']}/staff",
        lambda w: {"person_id": w["people"][1], "joined_on": tomorrow()},
        "body.joined_on",
    ),
    (
        "move",
        lambda w: f"/people/{w['people'][2]}/residence",
        lambda w: {"unit_code": "00367", "since": tomorrow()},
        "body.since",
    ),
    (
        "registration day",
        "/registrations",
        lambda w: {
            "title": "citizen",
            "subject_id": w["people"][1],
            "year": clock.today().year,
            "registered_on": tomorrow(),
        },
        "body.registered_on",
    ),
    (
        "registration two years ahead",
        "/registrations",
        lambda w: {"title": "citizen", "subject_id": w["people"][1], "year": clock.today().year + 2},
        "body.year",
    ),
    (
        "reference date",
        "/assessments",
        lambda w: {
            "id": str(uuid.uuid4()),
            "title": "citizen",
            "subject_id": w["people"][1],
            "period": clock.today().year,
            "subject_group": "commune_resident",
            "answers": CITIZEN_ALL_8,
            "reference_date": tomorrow(),
        },
        "body.reference_date",
    ),
    (
        "a period not yet begun",
        "/assessments",
        lambda w: {
            "id": str(uuid.uuid4()),
            "title": "citizen",
            "subject_id": w["people"][1],
            "period": clock.today().year + 1,
            "subject_group": "commune_resident",
            "answers": CITIZEN_ALL_8,
        },
        "body.period",
    ),
    (
        "decision",
        "/decisions",
        lambda w: {
            "commune_code": "00367",
            "number": "1/QĐ",
            "decided_on": tomorrow(),
            "signer": "Chủ tịch",
            "title": "citizen",
            "period": clock.today().year,
            "assessment_ids": [str(uuid.uuid4())],
        },
        "body.decided_on",
    ),
    (
        "village",
        "/units/00367/villages",
        lambda w: {"name": "Tổ mai", "unit_type": "to_dan_pho", "valid_from": tomorrow()},
        "body.valid_from",
    ),
    (
        "target's document",
        "/targets",
        lambda w: {
            "unit_code": "00367",
            "title": "family",
            "year": clock.today().year,
            "percent": 70,
            "document_number": "1/KH",
            "document_date": tomorrow(),
            "issuer": "UBND",
            "sentence": "70%.",
        },
        "body.document_date",
    ),
]


@pytest.mark.parametrize(("what", "path", "body", "field"), FUTURE_CASES, ids=[case[0] for case in FUTURE_CASES])
def test_a_day_after_today_is_refused_naming_the_field_and_changes_nothing(client, ward, what, path, body, field):
    admin = ward["admin"]
    audit_before = client.get(f"{API}/audit", headers=admin).json()["total"]
    url = API + (path(ward) if callable(path) else path)
    response = client.post(url, json=body(ward), headers=admin)
    problem = assert_problem(response, 422, "validation_failed")
    assert [error["field"] for error in problem["errors"]] == [field], problem
    assert client.get(f"{API}/audit", headers=admin).json()["total"] == audit_before


def _file_and_review(client, ward, person_id, period):
    filed = client.post(
        f"{API}/assessments",
        headers=ward["admin"],
        json={
            "id": str(uuid.uuid4()),
            "title": "citizen",
            "subject_id": person_id,
            "period": period,
            "subject_group": "commune_resident",
            "answers": CITIZEN_ALL_8,
            "submit": True,
        },
    )
    assert filed.status_code == 201, filed.text
    return client.post(
        f"{API}/assessments/{filed.json()['id']}/transitions",
        headers={**ward["reviewer"], "If-Match": filed.headers["etag"]},
        json={"action": "review"},
    ).json()


def _decide(client, ward, assessment, period, decided_on):
    return client.post(
        f"{API}/decisions",
        headers=ward["admin"],
        json={
            "commune_code": "00367",
            "number": f"{uuid.uuid4().hex[:6]}/QĐ",
            "decided_on": decided_on,
            "signer": "Chủ tịch",
            "title": "citizen",
            "period": period,
            "assessment_ids": [assessment["id"]],
        },
    )


def test_a_decision_is_not_dated_before_the_reviews_it_recognises(client, ward):
    year = clock.today().year
    reviewed = _file_and_review(client, ward, ward["people"][1], year - 1)
    yesterday = (clock.today() - timedelta(days=1)).isoformat()
    early = _decide(client, ward, reviewed, year - 1, yesterday)
    problem = assert_problem(early, 422, "validation_failed")
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [("body.decided_on", "before_review")]
    assert clock.today().strftime("%d/%m/%Y") in problem["errors"][0]["message"]
    assert client.get(f"{API}/recognitions", headers=ward["admin"]).json()["total"] == 0
    # Dated the day of the review, it is recorded.
    assert _decide(client, ward, reviewed, year - 1, today()).status_code == 201


def test_a_decision_for_a_year_is_not_dated_before_that_year(client, ward):
    year = clock.today().year
    reviewed = _file_and_review(client, ward, ward["people"][1], year)
    last_year = f"{year - 1}-12-31"
    problem = assert_problem(_decide(client, ward, reviewed, year, last_year), 422, "validation_failed")
    assert ("body.decided_on", "before_period") in [(e["field"], e["code"]) for e in problem["errors"]]


def test_a_reference_date_lies_in_the_period(client, ward):
    year = clock.today().year
    response = client.post(
        f"{API}/assessments",
        headers=ward["admin"],
        json={
            "id": str(uuid.uuid4()),
            "title": "citizen",
            "subject_id": ward["people"][1],
            "period": year - 1,
            "subject_group": "commune_resident",
            "answers": CITIZEN_ALL_8,
            "reference_date": f"{year - 2}-06-30",
        },
    )
    problem = assert_problem(response, 422, "validation_failed")
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [("body.reference_date", "outside_period")]


def _progress(client, year, segment=None):
    params = {"year": year, **({"segment": segment} if segment else {})}
    items = client.get(f"{API}/units/00367/progress", params=params).json()["items"]
    return {(item["title"], item["segment"]): (item["numerator"], item["denominator"]) for item in items}


def test_every_membership_is_counted_from_its_day(client, ward):
    """One of each dated tie, made in 2026 after a base of 2025: the 2025 numbers (counted on
    31 December 2025) do not see it; this year's do."""
    admin = ward["admin"]

    def post(path, body):
        response = client.post(API + path, json=body, headers=admin)
        assert response.status_code == 201, response.text
        return response.json()

    before = {year: _progress(client, year) for year in (2025, 2026)}
    before_education = {year: _progress(client, year, "education") for year in (2025, 2026)}
    # Residence: a person who came to live here in 2026.
    post(
        "/people",
        {
            "full_name": "Mới Đến",
            "birth_date": "1990-01-01",
            "unit_code": ward["village"],
            "resident_since": "2026-03-01",
        },
    )
    # Clan households: a clan whose first household joined in 2026.
    other = post("/households", {"name": "Hộ 6", "unit_code": ward["village"], "since": "2025-07-01"})
    post(
        "/clans",
        {"name": "Họ Mới", "home_commune_code": "00367", "since": "2026-02-01", "household_ids": [other["id"]]},
    )
    # Household members: an education-sector member who joined a household in 2026.
    teacher = post(
        "/people",
        {
            "full_name": "Cô Giáo",
            "birth_date": "1985-01-01",
            "unit_code": ward["village"],
            "resident_since": "2025-07-01",
            "sectors": ["education"],
        },
    )
    post(f"/households/{other['id']}/members", {"person_id": teacher["id"], "joined_on": "2026-03-01"})
    after = {year: _progress(client, year) for year in (2025, 2026)}
    after_education = {year: _progress(client, year, "education") for year in (2025, 2026)}

    def grew(table_before, table_after, key):
        return table_after[key][1] - table_before[key][1]

    # The teacher and the newcomer are 2026 residents of 15+; the teacher lived here in 2025.
    assert grew(before[2025], after[2025], ("citizen", None)) == 1
    assert grew(before[2026], after[2026], ("citizen", None)) == 2
    assert grew(before[2025], after[2025], ("clan", None)) == 0
    assert grew(before[2026], after[2026], ("clan", None)) == 1
    assert grew(before_education[2025], after_education[2025], ("family", "education")) == 0
    assert grew(before_education[2026], after_education[2026], ("family", "education")) == 1
    # The household itself lived here in 2025 (one more household in both years).
    assert grew(before[2025], after[2025], ("family", None)) == grew(before[2026], after[2026], ("family", None)) == 1


def test_staff_count_from_the_day_they_joined(client, ward):
    """The derived staff share of an organisation, counted on each side of the day a member of
    staff joined."""
    admin = ward["admin"]
    for person_id, joined in ((ward["people"][0], "2025-07-01"), (ward["people"][1], "2026-03-01")):
        response = client.post(
            f"{API}/organisations/{ward['organisation']}/staff",
            headers=admin,
            json={"person_id": person_id, "joined_on": joined},
        )
        assert response.status_code == 201, response.text

    def staff_counted(reference_date):
        response = client.post(
            f"{API}/assessments",
            headers=admin,
            json={
                "id": str(uuid.uuid4()),
                "title": "unit",
                "subject_id": ward["organisation"],
                "period": int(reference_date[:4]),
                "answers": {"c2_1": 25, "c3_1": 25},
                "reference_date": reference_date,
            },
        )
        assert response.status_code == 201, response.text
        return response.json()["derived"]["c1_1"]["denominator"]

    assert staff_counted("2026-02-28") == 1
    assert staff_counted("2026-03-01") == 2

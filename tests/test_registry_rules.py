"""Rules of the registry that an independent run found unkept: one household at a time, nothing
before birth, decision numbers and reasons that mean something, de-identification that reaches
every household named after the person, villages closed only when empty, replays that match
whatever the case of the id or the spelling of a number."""

from __future__ import annotations

import uuid

import pytest

from app.auth.models import Role
from tests.helpers import assert_problem, bearer, login, today

API = "/api/v1"
CITIZEN_ALL_8 = {f"c{c}_{i}": 8 for c, n in ((1, 4), (2, 4), (3, 2)) for i in range(1, n + 1)}


@pytest.fixture
def desk(client, make_user):
    make_user("canbo.tx", Role.COMMUNE_OFFICER, ["00367"])
    make_user("thamdinh.b", Role.ASSESSOR, ["00367"])
    officer = bearer(login(client, "canbo.tx")["access_token"])
    reviewer = bearer(login(client, "thamdinh.b")["access_token"])

    def post(path, body, expect=201, headers=None):
        response = client.post(API + path, json=body, headers={**officer, **(headers or {})})
        assert response.status_code == expect, response.text
        return response

    post.reviewer = reviewer
    post.officer = officer
    return post


def _person(desk, name="Người", born="1980-01-01", since="2025-07-01"):
    return desk(
        "/people", {"full_name": name, "birth_date": born, "unit_code": "00367", "resident_since": since}
    ).json()


def test_a_person_is_in_one_household_at_a_time(client, desk):
    someone = _person(desk)
    first = desk("/households", {"name": "Hộ A", "unit_code": "00367", "since": "2025-07-01"}).json()
    second = desk("/households", {"name": "Hộ B", "unit_code": "00367", "since": "2025-07-01"}).json()
    desk(f"/households/{first['id']}/members", {"person_id": someone["id"], "joined_on": "2026-01-01"})
    # Joining another household earlier, for good, would overlap from 2026-01-01 on.
    earlier = desk(f"/households/{second['id']}/members", {"person_id": someone["id"], "joined_on": "2025-12-01"}, 409)
    assert earlier.json()["code"] == "already_member"
    new_household = {
        "name": "Hộ C",
        "unit_code": "00367",
        "since": "2025-07-01",
        "members": [{"person_id": someone["id"], "joined_on": "2025-08-01"}],
    }
    assert desk("/households", new_household, 409).json()["code"] == "already_member"
    # After leaving the first, joining another is fine.
    leave = client.post(
        f"{API}/households/{first['id']}/members/{someone['id']}/leave",
        json={"left_on": "2026-02-01"},
        headers=desk.officer,
    )
    assert leave.status_code == 200, leave.text
    desk(f"/households/{second['id']}/members", {"person_id": someone["id"], "joined_on": "2026-02-01"})


def test_nothing_is_recorded_before_a_person_was_born(desk):
    refused = desk(
        "/people",
        {"full_name": "Bé", "birth_date": "2026-06-01", "unit_code": "00367", "resident_since": "2025-07-01"},
        422,
    )
    assert [(e["field"], e["code"]) for e in refused.json()["errors"]] == [("body.resident_since", "before_birth")]
    baby = _person(desk, "Bé", born="2026-06-01", since="2026-06-01")
    home = desk("/households", {"name": "Hộ D", "unit_code": "00367", "since": "2025-07-01"}).json()
    early = desk(f"/households/{home['id']}/members", {"person_id": baby["id"], "joined_on": "2025-07-01"}, 422)
    assert [(e["field"], e["code"]) for e in early.json()["errors"]] == [("body.joined_on", "before_birth")]
    school = desk(
        "/organisations", {"name": "Trường", "kind": "school", "unit_code": "00367", "since": "2025-07-01"}
    ).json()
    staff = desk(f"/organisations/{school['id']}/staff", {"person_id": baby["id"], "joined_on": "2026-01-01"}, 422)
    assert [(e["field"], e["code"]) for e in staff.json()["errors"]] == [("body.joined_on", "before_birth")]
    desk(f"/households/{home['id']}/members", {"person_id": baby["id"], "joined_on": "2026-06-01"})


def _reviewed(client, desk, person_id):
    filed = desk(
        "/assessments",
        {
            "id": str(uuid.uuid4()),
            "title": "citizen",
            "subject_id": person_id,
            "period": 2026,
            "subject_group": "commune_resident",
            "answers": CITIZEN_ALL_8,
            "submit": True,
        },
    )
    return client.post(
        f"{API}/assessments/{filed.json()['id']}/transitions",
        json={"action": "review"},
        headers={**desk.reviewer, "If-Match": filed.headers["etag"]},
    ).json()


def _decision(number, signer, assessment_id):
    return {
        "commune_code": "00367",
        "number": number,
        "decided_on": today(),
        "signer": signer,
        "title": "citizen",
        "period": 2026,
        "assessment_ids": [assessment_id],
    }


def test_decision_numbers_and_signers_are_real_text(client, desk):
    first, second = (_reviewed(client, desk, _person(desk, f"Người {n}")["id"]) for n in (1, 2))
    decided = desk("/decisions", _decision("1/QĐ-UBND", "Chủ tịch", first["id"])).json()
    assert decided["number"] == "1/QĐ-UBND"
    again = desk("/decisions", _decision("1/QĐ-UBND ", "Chủ tịch", second["id"]), 409)
    assert again.json()["code"] == "decision_number_taken"
    blank = desk("/decisions", _decision("2/QĐ-UBND", "   ", second["id"]), 422)
    assert [e["field"] for e in blank.json()["errors"]] == ["body.signer"]
    recognition = decided["recognitions"][0]["id"]
    for reason in ("   ", "\t\t\t", " a "):
        refused = desk(f"/recognitions/{recognition}/revoke", {"reason": reason}, 422)
        assert [e["field"] for e in refused.json()["errors"]] == ["body.reason"]


def test_deidentification_renames_every_household_named_after_the_person(client, desk):
    lan = _person(desk, "Vũ Thị Lan")
    named = desk(
        "/households",
        {
            "name": "Hộ bà Vũ Thị Lan",
            "unit_code": "00367",
            "since": "2025-07-01",
            "members": [{"person_id": lan["id"]}],
        },
    ).json()
    other = desk("/households", {"name": "Hộ số 7 tổ 2", "unit_code": "00367", "since": "2025-07-01"}).json()
    blank = client.post(f"{API}/people/{lan['id']}/deidentify", json={"reason": "\t\t\t"}, headers=desk.officer)
    assert [e["field"] for e in assert_problem(blank, 422, "validation_failed")["errors"]] == ["body.reason"]
    done = client.post(f"{API}/people/{lan['id']}/deidentify", json={"reason": "Theo đơn"}, headers=desk.officer)
    assert done.status_code == 200, done.text
    renamed = client.get(f"{API}/households/{named['id']}", headers=desk.officer).json()
    assert "Lan" not in renamed["name"] and renamed["name"] == f"Hộ số {named['id']}"
    assert client.get(f"{API}/households/{other['id']}", headers=desk.officer).json()["name"] == "Hộ số 7 tổ 2"


def test_a_village_is_closed_only_when_nobody_lives_there(client, desk):
    village = desk(
        "/units/00367/villages", {"name": "Tổ 12", "unit_type": "to_dan_pho", "valid_from": "2025-07-01"}
    ).json()
    resident = desk(
        "/people",
        {
            "full_name": "Cư Dân",
            "birth_date": "1980-01-01",
            "unit_code": village["code"],
            "resident_since": "2025-07-01",
        },
    ).json()
    closing = client.patch(f"{API}/units/{village['code']}", json={"valid_to": "2025-07-02"}, headers=desk.officer)
    assert_problem(closing, 409, "village_has_residents")
    desk(f"/people/{resident['id']}/residence", {"unit_code": "00367", "since": "2026-01-01"})
    closed = client.patch(f"{API}/units/{village['code']}", json={"valid_to": "2026-01-01"}, headers=desk.officer)
    assert closed.status_code == 200 and closed.json()["valid_to"] == "2026-01-01"


def test_a_replay_matches_whatever_the_case_of_the_id_or_the_spelling_of_a_number(desk):
    someone = _person(desk)
    body = {
        "id": str(uuid.uuid4()),
        "title": "citizen",
        "subject_id": someone["id"],
        "period": 2026,
        "subject_group": "commune_resident",
        "answers": CITIZEN_ALL_8,
    }
    first = desk("/assessments", body)
    upper = desk("/assessments", {**body, "id": body["id"].upper()}, 200)
    floats = desk("/assessments", {**body, "answers": {key: 8.0 for key in CITIZEN_ALL_8}}, 200)
    assert first.json()["id"] == upper.json()["id"] == floats.json()["id"]
    changed = desk("/assessments", {**body, "answers": {**CITIZEN_ALL_8, "c1_1": 9}}, 409)
    assert changed.json()["code"] == "idempotency_conflict"

"""Errors point at what the caller sent: the field of the body, the body itself for malformed
JSON, and for a unit code the unit the code meant on the date given. The login throttle counts
failures only."""

from __future__ import annotations

import uuid

import pytest

from app.auth.models import Role
from tests.helpers import DEFAULT_PASSWORD, assert_problem, bearer, login

API = "/api/v1"
CITIZEN_ALL_8 = {f"c{c}_{i}": 8 for c, n in ((1, 4), (2, 4), (3, 2)) for i in range(1, n + 1)}


@pytest.fixture
def officer(client, make_user):
    make_user("canbo.tx", Role.COMMUNE_OFFICER, ["00367"])
    return bearer(login(client, "canbo.tx")["access_token"])


def test_a_missing_subject_group_names_the_field_of_the_body(client, officer):
    person = client.post(
        f"{API}/people",
        headers=officer,
        json={"full_name": "Hà Văn Nhóm", "birth_date": "1980-01-01", "unit_code": "00367"},
    ).json()
    response = client.post(
        f"{API}/assessments",
        headers=officer,
        json={
            "id": str(uuid.uuid4()),
            "title": "citizen",
            "subject_id": person["id"],
            "period": 2026,
            "answers": CITIZEN_ALL_8,
        },
    )
    problem = assert_problem(response, 422, "invalid_answers")
    assert [e["field"] for e in problem["errors"]] == ["body.subject_group"]
    # The dry run carries the context in an object of its own, and says so.
    dry = client.post(f"{API}/criteria/versions/citizen/qd324-2023/evaluate", json={"answers": CITIZEN_ALL_8})
    assert [e["field"] for e in assert_problem(dry, 422, "invalid_answers")["errors"]] == ["body.context.subject_group"]


def test_malformed_json_names_the_body_and_the_position(client, officer):
    response = client.post(
        f"{API}/people", headers={**officer, "content-type": "application/json"}, content=b'{"full_name": "A",,}'
    )
    problem = assert_problem(response, 422, "validation_failed")
    [error] = problem["errors"]
    assert (error["field"], error["code"]) == ("body", "json_invalid")
    assert "ký tự thứ" in error["message"]


def test_a_code_on_a_date_before_its_unit_existed_says_what_it_meant_then(client, officer):
    """00367 was Phường Thanh Xuân Bắc until 30/06/2025; the new Phường Thanh Xuân has it since."""
    response = client.post(
        f"{API}/people",
        headers=officer,
        json={"full_name": "Tô Văn Cũ", "unit_code": "00367", "resident_since": "2025-01-01"},
    )
    problem = assert_problem(response, 422, "validation_failed")
    [error] = problem["errors"]
    assert (error["field"], error["code"]) == ("body.unit_code", "unit_ended")
    assert "Thanh Xuân Bắc" in error["message"] and "Phường Thanh Xuân (từ 01/07/2025" in error["message"]
    decision = client.post(
        f"{API}/decisions",
        headers=officer,
        json={
            "commune_code": "00367",
            "number": "1/QĐ",
            "decided_on": "2025-03-01",
            "signer": "Chủ tịch",
            "title": "citizen",
            "period": 2025,
            "assessment_ids": [str(uuid.uuid4())],
        },
    )
    [error] = assert_problem(decision, 422, "validation_failed")["errors"]
    assert error["field"] == "body.commune_code" and "Thanh Xuân Bắc" in error["message"]


def test_a_code_that_named_nothing_on_the_date_says_when_it_does(client, officer):
    village = client.post(
        f"{API}/units/00367/villages",
        headers=officer,
        json={"name": "Tổ 11", "unit_type": "to_dan_pho", "valid_from": "2025-09-01"},
    ).json()
    response = client.post(
        f"{API}/people",
        headers=officer,
        json={"full_name": "Sớm Quá", "unit_code": village["code"], "resident_since": "2025-08-01"},
    )
    [error] = assert_problem(response, 422, "validation_failed")["errors"]
    assert (error["field"], error["code"]) == ("body.unit_code", "unit_not_in_force")
    assert "01/08/2025" in error["message"] and "Tổ 11 (từ 01/09/2025" in error["message"]
    unknown = client.get(f"{API}/people", headers=officer, params={"unit": "99999"})
    assert [e["field"] for e in assert_problem(unknown, 422, "validation_failed")["errors"]] == ["query.unit"]


def test_successful_logins_never_lock_an_account(client, make_user):
    make_user("canbo.login", Role.COMMUNE_OFFICER, ["00367"])
    for _ in range(15):
        login(client, "canbo.login")  # asserts 200 each time
    for _ in range(10):
        wrong = client.post(f"{API}/auth/token", data={"username": "canbo.login", "password": "sai-mat-khau"})
        assert_problem(wrong, 401, "invalid_credentials")
    # Ten failures: now even the right password waits (the account is being guessed at).
    limited = client.post(f"{API}/auth/token", data={"username": "canbo.login", "password": DEFAULT_PASSWORD})
    assert_problem(limited, 429, "too_many_requests")
    assert int(limited.headers["retry-after"]) > 0

"""Account administration: only admins manage accounts; jurisdiction is checked against units."""

from __future__ import annotations

import pytest

from app.auth.models import Role
from tests.helpers import assert_problem, bearer, login

USERS = "/api/v1/users"


@pytest.fixture
def units(session):
    """Seeded units: Hà Nội, today's Phường Thanh Xuân, and a ward that ended on 2025-01-01."""
    from datetime import date

    from app.units.service import get_unit

    return {
        "province": get_unit(session, "01", date.today()),
        "ward": get_unit(session, "00367", date.today()),
        "old": get_unit(session, "00370", date(2024, 6, 1)),
    }


@pytest.fixture
def admin_headers(client, make_user):
    make_user("admin1")
    return bearer(login(client, "admin1")["access_token"])


def test_admin_creates_an_officer_bound_to_a_commune(client, admin_headers, units):
    response = client.post(
        USERS,
        headers=admin_headers,
        json={
            "username": "CanBo.TX",
            "full_name": "Nguyễn Văn A",
            "password": "mat-khau-can-bo-1",
            "role": "commune_officer",
            "unit_codes": ["00367"],
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["username"] == "canbo.tx"
    assert body["role"] == "commune_officer"
    assert [(u["code"], u["name"]) for u in body["units"]] == [("00367", "Phường Thanh Xuân")]
    assert "password" not in response.text and "hash" not in response.text
    officer = login(client, "canbo.tx", "mat-khau-can-bo-1")
    me = client.get("/api/v1/auth/me", headers=bearer(officer["access_token"])).json()
    assert me["units"][0]["id"] == units["ward"].id


def test_list_users_is_an_envelope_with_filters(client, admin_headers, make_user, units):
    make_user("assessor1", Role.ASSESSOR, ["00367"])
    make_user("province1", Role.PROVINCE_OFFICER, ["01"])
    everyone = client.get(USERS, headers=admin_headers).json()
    assert everyone["total"] == 3
    assert [u["username"] for u in everyone["items"]] == ["admin1", "assessor1", "province1"]
    page = client.get(USERS, headers=admin_headers, params={"limit": 1, "offset": 1}).json()
    assert page["total"] == 3 and [u["username"] for u in page["items"]] == ["assessor1"]
    assessors = client.get(USERS, headers=admin_headers, params={"role": "assessor"}).json()
    assert assessors["total"] == 1 and assessors["items"][0]["units"][0]["code"] == "00367"
    assert_problem(client.get(USERS, headers=admin_headers, params={"limit": 10_000}), 422, "validation_failed")


@pytest.mark.parametrize(
    ("payload", "field", "code"),
    [
        ({"role": "commune_officer", "unit_codes": ["99998"]}, "body.unit_codes.0", "unknown_unit"),
        ({"role": "commune_officer", "unit_codes": ["00370"]}, "body.unit_codes.0", "unknown_unit"),
        ({"role": "commune_officer", "unit_codes": ["01"]}, "body.unit_codes.0", "wrong_unit_level"),
        ({"role": "province_officer", "unit_codes": ["00367"]}, "body.unit_codes.0", "wrong_unit_level"),
        ({"role": "assessor", "unit_codes": []}, "body.unit_codes", "missing"),
        ({"role": "admin", "unit_codes": ["01"]}, "body.unit_codes", "admin_has_no_units"),
        ({"role": "superuser", "unit_codes": []}, "body.role", "enum"),
        ({"role": "admin", "password": "ngan"}, "body.password", "string_too_short"),
        ({"role": "admin", "username": "có dấu"}, "body.username", "string_pattern_mismatch"),
        ({"role": "admin", "is_superuser": True}, "body.is_superuser", "extra_forbidden"),
    ],
)
def test_invalid_accounts_are_refused_naming_the_field(client, admin_headers, units, payload, field, code):
    body = {"username": "newuser", "full_name": "Trần Thị B", "password": "mat-khau-dai-du-1", **payload}
    problem = assert_problem(client.post(USERS, headers=admin_headers, json=body), 422, "validation_failed")
    assert (field, code) in [(e["field"], e["code"]) for e in problem["errors"]]
    assert all(e["message"] for e in problem["errors"])
    assert client.get(USERS, headers=admin_headers).json()["total"] == 1  # nothing was written


def test_duplicate_username_is_409(client, admin_headers):
    body = {"username": "admin1", "full_name": "X", "password": "mat-khau-dai-du-1", "role": "admin"}
    assert_problem(client.post(USERS, headers=admin_headers, json=body), 409, "username_taken")


@pytest.mark.parametrize("role", [Role.PROVINCE_OFFICER, Role.COMMUNE_OFFICER, Role.ASSESSOR, Role.PORTAL_CLIENT])
def test_only_admins_manage_accounts(client, make_user, units, role):
    code = "01" if role in (Role.PROVINCE_OFFICER, Role.PORTAL_CLIENT) else "00367"
    user = make_user("someone", role, [code])
    headers = bearer(login(client, "someone")["access_token"])
    assert_problem(client.get(USERS, headers=headers), 403, "forbidden")
    assert_problem(client.get(f"{USERS}/{user.id}", headers=headers), 403, "forbidden")
    assert_problem(client.patch(f"{USERS}/{user.id}", headers=headers, json={"role": "admin"}), 403, "forbidden")
    assert client.get("/api/v1/auth/me", headers=headers).json()["role"] == role


def test_role_change_rechecks_the_jurisdiction(client, admin_headers, make_user, units):
    user = make_user("assessor1", Role.ASSESSOR, ["00367"])
    problem = assert_problem(
        client.patch(f"{USERS}/{user.id}", headers=admin_headers, json={"role": "province_officer"}),
        422,
        "validation_failed",
    )
    assert problem["errors"][0]["code"] == "wrong_unit_level"
    moved = client.patch(
        f"{USERS}/{user.id}", headers=admin_headers, json={"role": "province_officer", "unit_codes": ["01"]}
    )
    assert moved.status_code == 200, moved.text
    assert [u["code"] for u in moved.json()["units"]] == ["01"]


def test_the_last_admin_cannot_be_locked_out(client, admin_headers, make_user):
    me = client.get("/api/v1/auth/me", headers=admin_headers).json()
    assert_problem(
        client.patch(f"{USERS}/{me['id']}", headers=admin_headers, json={"is_active": False}), 409, "last_admin"
    )
    make_user("admin2")
    assert client.patch(f"{USERS}/{me['id']}", headers=admin_headers, json={"is_active": False}).status_code == 200


def test_unknown_and_out_of_range_ids(client, admin_headers):
    assert_problem(client.get(f"{USERS}/999999", headers=admin_headers), 404, "not_found")
    assert_problem(client.get(f"{USERS}/99999999999999", headers=admin_headers), 422, "validation_failed")
    assert_problem(client.get(f"{USERS}/abc", headers=admin_headers), 422, "validation_failed")

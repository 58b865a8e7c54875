"""The authorisation matrix: for every route of the app (taken from its route table), every role
— admin, province officer, commune officer, assessor, portal client, anonymous — inside and
outside its jurisdiction, the expected outcome. A route without an entry fails the test.

Outcomes: "ok" means the request passed authorisation (any answer but 401, 403 and 404: a
validation error, a conflict or a rate limit still shows it was let through); 401, 403 and 404
are exact. The rule (README, docs/registry.md): a record addressed by id (person, household,
clan, organisation, assessment, decision, recognition) outside the caller's jurisdiction is 404
on every route, reading or writing, so its existence is not revealed; acting on an
administrative unit (public) outside it, or with a role that may not act, is 403."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from app.auth.models import Role
from tests.helpers import bearer, login, today

API = "/api/v1"
OK = "ok"
ROLES = ["anonymous", "admin", "province_officer", "commune_officer", "assessor", "portal_client"]
# Where each test account acts: inside = Hà Nội / Phường Thanh Xuân, outside = Hải Phòng / Khương Đình.
UNITS = {
    ("province_officer", True): "01",
    ("province_officer", False): "31",
    ("commune_officer", True): "00367",
    ("commune_officer", False): "00364",
    ("assessor", True): "00367",
    ("assessor", False): "00364",
    ("portal_client", True): "01",
    ("portal_client", False): "31",
}
CITIZEN_ALL_8 = {f"c{c}_{i}": 8 for c, n in ((1, 4), (2, 4), (3, 2)) for i in range(1, n + 1)}
_counter = itertools.count(1)


def unique() -> int:
    return next(_counter)


def expect(
    *, anonymous=401, admin=OK, province=(403, 403), commune=(403, 403), assessor=(403, 403), portal=(403, 403)
) -> dict:
    """Expected outcome by role; tuples are (inside, outside)."""
    table = {
        ("anonymous", True): anonymous,
        ("anonymous", False): anonymous,
        ("admin", True): admin,
        ("admin", False): admin,
    }
    for role, pair in (
        ("province_officer", province),
        ("commune_officer", commune),
        ("assessor", assessor),
        ("portal_client", portal),
    ):
        table[(role, True)], table[(role, False)] = pair
    return table


PUBLIC = expect(anonymous=OK, province=(OK, OK), commune=(OK, OK), assessor=(OK, OK), portal=(OK, OK))
ANY_ACCOUNT = expect(province=(OK, OK), commune=(OK, OK), assessor=(OK, OK), portal=(OK, OK))
ADMIN_ONLY = expect()
READ_LIST = expect(province=(OK, OK), commune=(OK, OK), assessor=(OK, OK))  # filtered, never refused
READ_OBJECT = expect(province=(OK, 404), commune=(OK, 404), assessor=(OK, 404))
CREATE_IN_UNIT = expect(commune=(OK, 403), assessor=(OK, 403))
WRITE_OBJECT = expect(province=(403, 404), commune=(OK, 404), assessor=(OK, 404))
DECIDE_OBJECT = expect(province=(403, 404), commune=(OK, 404), assessor=(403, 404))


@dataclass
class World:
    ids: dict
    etag: str


@pytest.fixture
def world(client, make_user) -> World:
    make_user("quantri")
    admin = bearer(login(client, "quantri")["access_token"])

    def post(path, body):
        response = client.post(API + path, json=body, headers=admin)
        assert response.status_code in (200, 201), response.text
        return response

    village = post(
        "/units/00367/villages", {"name": "Tổ 1", "unit_type": "to_dan_pho", "valid_from": "2025-07-01"}
    ).json()
    people = [
        post(
            "/people",
            {
                "full_name": f"Người {n}",
                "birth_date": "1985-01-01",
                "unit_code": village["code"],
                "resident_since": "2025-07-01",
            },
        ).json()
        for n in range(3)
    ]
    household = post(
        "/households",
        {
            "name": "Hộ 1",
            "unit_code": village["code"],
            "since": "2025-07-01",
            "members": [{"person_id": people[0]["id"]}],
        },
    ).json()
    clan = post(
        "/clans",
        {"name": "Họ 1", "home_commune_code": "00367", "since": "2025-07-01", "household_ids": [household["id"]]},
    ).json()
    organisation = post(
        "/organisations",
        {
            "name": "Trường 1",
            "kind": "school",
            "unit_code": "00367",
            "since": "2025-07-01",
            "staff": [{"person_id": people[0]["id"]}],
        },
    ).json()
    filed = post(
        "/assessments",
        {
            "id": str(uuid.uuid4()),
            "title": "citizen",
            "subject_id": people[0]["id"],
            "period": 2025,
            "subject_group": "commune_resident",
            "answers": CITIZEN_ALL_8,
            "submit": True,
        },
    )
    decided = post(
        "/assessments",
        {
            "id": str(uuid.uuid4()),
            "title": "citizen",
            "subject_id": people[1]["id"],
            "period": 2025,
            "subject_group": "commune_resident",
            "answers": CITIZEN_ALL_8,
            "submit": True,
        },
    )
    reviewed = client.post(
        f"{API}/assessments/{decided.json()['id']}/transitions",
        json={"action": "review"},
        headers={**admin, "If-Match": decided.headers["etag"]},
    ).json()
    decision = post(
        "/decisions",
        {
            "commune_code": "00367",
            "number": "1/QĐ",
            "decided_on": today(),
            "signer": "Chủ tịch",
            "title": "citizen",
            "period": 2025,
            "assessment_ids": [reviewed["id"]],
        },
    ).json()
    client.post(
        f"{API}/criteria/versions",
        content=_criteria_text("matrix-draft").encode(),
        headers={**admin, "content-type": "application/yaml"},
    )
    for role, inside in UNITS:
        make_user(f"{role.replace('_', '')}{'in' if inside else 'out'}", Role(role), [UNITS[(role, inside)]])
    # A re-scoring run of Phường Thanh Xuân's officer: seen within that commune's jurisdiction.
    rescoring = client.post(
        f"{API}/assessment-rescorings",
        json={"title": "citizen", "to_version": "qd324-2023"},
        headers=bearer(login(client, "communeofficerin")["access_token"]),
    )
    assert rescoring.status_code == 202, rescoring.text
    # An import of the administrator's with an error report: only its creator (or an admin) sees it.
    upload = client.post(
        f"{API}/imports",
        headers=admin,
        data={"kind": "people", "dry_run": "true"},
        files={"file": ("x.csv", "Họ và tên,Mã nơi cư trú\nAn,99999\n".encode())},
    )
    assert upload.status_code == 202, upload.text
    import_id = upload.json()["id"]
    for _ in range(300):  # the check runs in the background: wait for its report
        if client.get(f"{API}/imports/{import_id}", headers=admin).json()["state"] == "refused":
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the import was not checked")
    return World(
        ids={
            "village": village["code"],
            "person": people[0]["id"],
            "person2": people[2]["id"],
            "household": household["id"],
            "clan": clan["id"],
            "organisation": organisation["id"],
            "assessment": filed.json()["id"],
            "decision": decision["id"],
            "recognition": decision["recognitions"][0]["id"],
            "credential": decision["recognitions"][0]["credentials"][0],
            "rescoring": rescoring.json()["id"],
            "import": import_id,
            "admin_id": client.get(f"{API}/auth/me", headers=admin).json()["id"],
        },
        etag=filed.headers["etag"],
    )


def _criteria_text(version: str) -> str:
    from pathlib import Path

    text = (Path(__file__).parent.parent / "criteria/citizen/qd244-2022.yaml").read_text(encoding="utf-8")
    return text.replace("version: qd244-2022", f"version: {version}")


# (method, path) -> (expected outcomes, request builder). The builder returns httpx arguments.
Builder = Callable[[World], dict]
MATRIX: dict[tuple[str, str], tuple[dict, Builder]] = {
    ("GET", "/healthz"): (PUBLIC, lambda w: {}),
    ("GET", "/readyz"): (PUBLIC, lambda w: {}),
    ("GET", "/.well-known/jwks.json"): (PUBLIC, lambda w: {}),
    ("POST", "/api/v1/auth/token"): (PUBLIC, lambda w: {"data": {"username": "nobody"}}),
    ("POST", "/api/v1/auth/revoke"): (PUBLIC, lambda w: {"json": {"refresh_token": "unknown"}}),
    ("POST", "/api/v1/auth/activate"): (  # a wrong code: 422 for everyone (the code is the credential)
        PUBLIC,
        lambda w: {"json": {"username": "nobody", "code": "ABCD-EFGH-JKMN", "password": "mat-khau-du-dai-1"}},
    ),
    ("GET", "/api/v1/auth/me"): (ANY_ACCOUNT, lambda w: {}),
    ("POST", "/api/v1/auth/password"): (
        ANY_ACCOUNT,
        lambda w: {"json": {"current_password": "x", "new_password": "mat-khau-moi-dai-1"}},
    ),
    ("GET", "/api/v1/users"): (ADMIN_ONLY, lambda w: {}),
    ("POST", "/api/v1/users"): (
        ADMIN_ONLY,
        lambda w: {
            "json": {"username": f"moi{unique()}", "full_name": "Mới", "password": "mat-khau-du-dai-1", "role": "admin"}
        },
    ),
    ("GET", "/api/v1/users/{user_id}"): (ADMIN_ONLY, lambda w: {"path": {"user_id": w.ids["admin_id"]}}),
    ("PATCH", "/api/v1/users/{user_id}"): (
        ADMIN_ONLY,
        lambda w: {"path": {"user_id": w.ids["admin_id"]}, "json": {"full_name": "Quản trị"}},
    ),
    ("POST", "/api/v1/users/{user_id}/activation-code"): (  # the admin is activated: 409, past authorisation
        ADMIN_ONLY,
        lambda w: {"path": {"user_id": w.ids["admin_id"]}},
    ),
    ("GET", "/api/v1/audit"): (ADMIN_ONLY, lambda w: {}),
    ("GET", "/api/v1/units"): (PUBLIC, lambda w: {"params": {"q": "thanh xuan"}}),
    ("GET", "/api/v1/units/{code}"): (PUBLIC, lambda w: {"path": {"code": "00367"}}),
    ("PATCH", "/api/v1/units/{code}"): (
        expect(commune=(OK, 403)),
        lambda w: {"path": {"code": w.ids["village"]}, "json": {"name": f"Tổ {unique()}"}},
    ),
    ("POST", "/api/v1/units/{code}/villages"): (
        expect(commune=(OK, 403)),
        lambda w: {"path": {"code": "00367"}, "json": {"name": f"Tổ mới {unique()}", "unit_type": "to_dan_pho"}},
    ),
    ("POST", "/api/v1/units/{code}/villages/import"): (
        expect(commune=(OK, 403)),
        lambda w: {
            "path": {"code": "00367"},
            "files": {"file": ("t.csv", f"name,unit_type\nTổ nhập {unique()},to_dan_pho\n".encode(), "text/csv")},
        },
    ),
    ("POST", "/api/v1/units/{code}/rehoming"): (
        expect(commune=(OK, 403)),
        lambda w: {"path": {"code": "00367"}, "params": {"as_of": "2025-06-30"}, "json": {"dry_run": True}},
    ),
    ("GET", "/api/v1/units/{code}/progress"): (PUBLIC, lambda w: {"path": {"code": "00367"}, "params": {"year": 2025}}),
    ("GET", "/api/v1/units/{code}/honour-roll"): (
        PUBLIC,
        lambda w: {"path": {"code": "00367"}, "params": {"year": 2025}},
    ),
    ("GET", "/api/v1/units/{code}/report"): (
        expect(province=(OK, 403), commune=(OK, 403), assessor=(OK, 403), portal=(403, 403)),
        lambda w: {"path": {"code": "00367"}, "params": {"year": 2025, "format": "csv"}},
    ),
    ("PUT", "/api/v1/units/{code}/official-denominators"): (
        expect(province=(OK, 403), commune=(OK, 403)),
        lambda w: {
            "path": {"code": "00367"},
            "json": {"title": "family", "year": 2025, "value": 100, "definition": "households", "source": "Thống kê"},
        },
    ),
    ("PUT", "/api/v1/units/{code}/groups/{group}"): (
        expect(province=(OK, 403)),
        lambda w: {"path": {"code": "00367", "group": "disadvantaged"}},
    ),
    ("DELETE", "/api/v1/units/{code}/groups/{group}"): (
        expect(province=(OK, 403)),
        lambda w: {"path": {"code": "00367", "group": "disadvantaged"}},
    ),
    ("GET", "/api/v1/targets"): (PUBLIC, lambda w: {"params": {"unit": "00367"}}),
    ("POST", "/api/v1/targets"): (
        expect(province=(OK, 403), commune=(OK, 403)),
        lambda w: {
            "json": {
                "unit_code": "00367",
                "title": "family",
                "year": 2027,
                "percent": 70,
                "document_number": "1/KH",
                "issuer": "UBND phường",
                "sentence": "70% hộ gia đình.",
            }
        },
    ),
    ("GET", "/api/v1/criteria/versions"): (PUBLIC, lambda w: {}),
    ("POST", "/api/v1/criteria/versions"): (
        ADMIN_ONLY,
        lambda w: {"content": _criteria_text(f"m{unique()}").encode(), "headers": {"content-type": "application/yaml"}},
    ),
    ("GET", "/api/v1/criteria/versions/{title}/{version}"): (
        PUBLIC,
        lambda w: {"path": {"title": "citizen", "version": "qd244-2022"}},
    ),
    ("POST", "/api/v1/criteria/versions/{title}/{version}/evaluate"): (
        PUBLIC,
        lambda w: {
            "path": {"title": "citizen", "version": "qd244-2022"},
            "json": {"answers": CITIZEN_ALL_8, "context": {"subject_group": "farmer"}},
        },
    ),
    ("POST", "/api/v1/criteria/versions/{title}/{version}/publish"): (
        ADMIN_ONLY,
        lambda w: {"path": {"title": "citizen", "version": "qd244-2022"}},
    ),
    ("POST", "/api/v1/criteria/versions/{title}/{version}/retire"): (
        ADMIN_ONLY,
        lambda w: {"path": {"title": "citizen", "version": "matrix-draft"}},
    ),
    ("GET", "/api/v1/criteria/in-force"): (PUBLIC, lambda w: {"params": {"title": "citizen"}}),
    ("GET", "/api/v1/criteria/diff"): (
        PUBLIC,
        lambda w: {"params": {"title": "citizen", "from": "qd244-2022", "to": "qd324-2023"}},
    ),
    ("POST", "/api/v1/people"): (CREATE_IN_UNIT, lambda w: {"json": {"full_name": "Mới", "unit_code": "00367"}}),
    ("GET", "/api/v1/people"): (READ_LIST, lambda w: {}),
    ("POST", "/api/v1/people-searches"): (READ_LIST, lambda w: {"json": {"national_id": "001099000001"}}),
    ("GET", "/api/v1/people/{person_id}"): (READ_OBJECT, lambda w: {"path": {"person_id": w.ids["person"]}}),
    ("POST", "/api/v1/people/{person_id}/residence"): (
        WRITE_OBJECT,
        lambda w: {"path": {"person_id": w.ids["person"]}, "json": {"unit_code": w.ids["village"]}},
    ),
    ("GET", "/api/v1/people/{person_id}/access-log"): (ADMIN_ONLY, lambda w: {"path": {"person_id": w.ids["person"]}}),
    ("GET", "/api/v1/people/{person_id}/export"): (
        expect(province=(403, 404), commune=(OK, 404), assessor=(403, 404), portal=(403, 404)),
        lambda w: {"path": {"person_id": w.ids["person"]}},
    ),
    ("POST", "/api/v1/people/{person_id}/deidentify"): (
        expect(province=(403, 404), commune=(OK, 404), assessor=(403, 404), portal=(403, 404)),
        lambda w: {"path": {"person_id": w.ids["person2"]}, "json": {"reason": "Theo đơn"}},
    ),
    ("POST", "/api/v1/households"): (CREATE_IN_UNIT, lambda w: {"json": {"name": "Hộ mới", "unit_code": "00367"}}),
    ("GET", "/api/v1/households/{household_id}"): (
        READ_OBJECT,
        lambda w: {"path": {"household_id": w.ids["household"]}},
    ),
    ("POST", "/api/v1/households/{household_id}/members"): (
        WRITE_OBJECT,
        lambda w: {"path": {"household_id": w.ids["household"]}, "json": {"person_id": w.ids["person2"]}},
    ),
    ("POST", "/api/v1/households/{household_id}/members/{person_id}/leave"): (
        WRITE_OBJECT,
        lambda w: {"path": {"household_id": w.ids["household"], "person_id": w.ids["person2"]}, "json": {}},
    ),
    ("POST", "/api/v1/households/{household_id}/residence"): (
        WRITE_OBJECT,
        lambda w: {"path": {"household_id": w.ids["household"]}, "json": {"unit_code": "00367"}},
    ),
    ("POST", "/api/v1/clans"): (CREATE_IN_UNIT, lambda w: {"json": {"name": "Họ mới", "home_commune_code": "00367"}}),
    ("GET", "/api/v1/clans/{clan_id}"): (READ_OBJECT, lambda w: {"path": {"clan_id": w.ids["clan"]}}),
    ("POST", "/api/v1/clans/{clan_id}/households"): (
        WRITE_OBJECT,
        lambda w: {"path": {"clan_id": w.ids["clan"]}, "json": {"household_id": w.ids["household"]}},
    ),
    ("POST", "/api/v1/clans/{clan_id}/households/{household_id}/leave"): (
        WRITE_OBJECT,
        lambda w: {"path": {"clan_id": w.ids["clan"], "household_id": w.ids["household"]}, "json": {}},
    ),
    ("POST", "/api/v1/organisations"): (
        CREATE_IN_UNIT,
        lambda w: {"json": {"name": "Cơ quan", "kind": "agency", "unit_code": "00367"}},
    ),
    ("GET", "/api/v1/organisations/{organisation_id}"): (
        READ_OBJECT,
        lambda w: {"path": {"organisation_id": w.ids["organisation"]}},
    ),
    ("POST", "/api/v1/organisations/{organisation_id}/staff"): (
        WRITE_OBJECT,
        lambda w: {"path": {"organisation_id": w.ids["organisation"]}, "json": {"person_id": w.ids["person2"]}},
    ),
    ("POST", "/api/v1/organisations/{organisation_id}/staff/{person_id}/leave"): (
        WRITE_OBJECT,
        lambda w: {"path": {"organisation_id": w.ids["organisation"], "person_id": w.ids["person2"]}, "json": {}},
    ),
    ("POST", "/api/v1/organisations/{organisation_id}/residence"): (
        WRITE_OBJECT,
        lambda w: {"path": {"organisation_id": w.ids["organisation"]}, "json": {"unit_code": w.ids["village"]}},
    ),
    ("POST", "/api/v1/registrations"): (
        CREATE_IN_UNIT,
        lambda w: {"json": {"title": "family", "subject_id": w.ids["household"], "year": 2000 + unique() % 26}},
    ),
    ("POST", "/api/v1/assessments"): (
        CREATE_IN_UNIT,
        lambda w: {
            "json": {
                "id": str(uuid.uuid4()),
                "title": "family",
                "subject_id": w.ids["household"],
                "period": 2025,
                "answers": {},
            }
        },
    ),
    ("GET", "/api/v1/assessments"): (READ_LIST, lambda w: {}),
    ("GET", "/api/v1/assessments/{assessment_id}"): (
        READ_OBJECT,
        lambda w: {"path": {"assessment_id": w.ids["assessment"]}},
    ),
    ("POST", "/api/v1/assessments/{assessment_id}/revisions"): (
        expect(province=(403, 404), commune=(OK, 404), assessor=(OK, 404)),
        lambda w: {"path": {"assessment_id": w.ids["assessment"]}, "json": {"id": str(uuid.uuid4()), "answers": {}}},
    ),
    ("POST", "/api/v1/assessments/{assessment_id}/transitions"): (
        expect(province=(403, 404), commune=(OK, 404), assessor=(OK, 404)),
        lambda w: {"path": {"assessment_id": w.ids["assessment"]}, "json": {"action": "submit"}},
    ),
    ("POST", "/api/v1/assessment-rescorings"): (
        expect(province=(403, 403), commune=(OK, OK)),
        lambda w: {"json": {"title": "citizen", "to_version": "qd324-2023"}},
    ),
    ("GET", "/api/v1/assessment-rescorings/{run_id}"): (
        READ_OBJECT,
        lambda w: {"path": {"run_id": w.ids["rescoring"]}},
    ),
    ("GET", "/api/v1/assessment-rescorings/{run_id}/items"): (
        READ_OBJECT,
        lambda w: {"path": {"run_id": w.ids["rescoring"]}},
    ),
    ("POST", "/api/v1/decisions"): (
        expect(commune=(OK, 403)),
        lambda w: {
            "json": {
                "commune_code": "00367",
                "number": f"{unique()}/QĐ",
                "decided_on": "2026-02-01",
                "signer": "Chủ tịch",
                "title": "citizen",
                "period": 2025,
                "assessment_ids": [w.ids["assessment"]],
            }
        },
    ),
    ("GET", "/api/v1/decisions/{decision_id}"): (READ_OBJECT, lambda w: {"path": {"decision_id": w.ids["decision"]}}),
    ("GET", "/api/v1/recognitions"): (READ_LIST, lambda w: {}),
    ("POST", "/api/v1/recognitions/{recognition_id}/revoke"): (
        DECIDE_OBJECT,
        lambda w: {"path": {"recognition_id": w.ids["recognition"]}, "json": {"reason": "Kiểm tra"}},
    ),
    ("GET", "/api/v1/recognitions/{recognition_id}/credentials"): (
        READ_OBJECT,
        lambda w: {"path": {"recognition_id": w.ids["recognition"]}},
    ),
    ("POST", "/api/v1/recognitions/{recognition_id}/credentials"): (
        DECIDE_OBJECT,
        lambda w: {"path": {"recognition_id": w.ids["recognition"]}, "json": {}},
    ),
    ("GET", "/api/v1/credentials/{code}"): (READ_OBJECT, lambda w: {"path": {"code": w.ids["credential"]}}),
    ("GET", "/api/v1/credentials/{code}/qr.{kind}"): (
        READ_OBJECT,
        lambda w: {"path": {"code": w.ids["credential"], "kind": "svg"}},
    ),
    ("GET", "/api/v1/credentials/{code}/certificate.{kind}"): (
        READ_OBJECT,
        lambda w: {"path": {"code": w.ids["credential"], "kind": "html"}},
    ),
    ("GET", "/api/v1/decisions/{decision_id}/document.{kind}"): (
        READ_OBJECT,
        lambda w: {"path": {"decision_id": w.ids["decision"], "kind": "html"}},
    ),
    ("POST", "/api/v1/credentials/{code}/suspension"): (
        DECIDE_OBJECT,
        lambda w: {"path": {"code": w.ids["credential"]}, "json": {"reason": "Kiểm tra"}},
    ),
    ("DELETE", "/api/v1/credentials/{code}/suspension"): (
        DECIDE_OBJECT,
        lambda w: {"path": {"code": w.ids["credential"]}},
    ),
    ("POST", "/api/v1/credentials/verify"): (PUBLIC, lambda w: {"json": {"credential": "a.b.c"}}),
    ("GET", "/api/v1/imports/templates/{kind}.xlsx"): (
        expect(commune=(OK, OK), assessor=(OK, OK)),
        lambda w: {"path": {"kind": "people"}},
    ),
    ("GET", "/api/v1/imports/kinds"): (expect(commune=(OK, OK), assessor=(OK, OK)), lambda w: {}),
    ("GET", "/api/v1/imports"): (expect(commune=(OK, OK), assessor=(OK, OK)), lambda w: {}),  # only their own
    ("POST", "/api/v1/imports"): (
        expect(commune=(OK, OK), assessor=(OK, OK)),  # rows outside the caller's units are refused when checked
        lambda w: {"data": {"kind": "people", "dry_run": "true"}, "files": {"file": ("a.csv", b"H\n")}},
    ),
    ("GET", "/api/v1/imports/{job_id}"): (
        expect(commune=(404, 404), assessor=(404, 404)),
        lambda w: {"path": {"job_id": w.ids["import"]}},
    ),
    ("GET", "/api/v1/imports/{job_id}/errors.xlsx"): (
        expect(commune=(404, 404), assessor=(404, 404)),
        lambda w: {"path": {"job_id": w.ids["import"]}},
    ),
    ("GET", "/api/v1/imports/{job_id}/codes.xlsx"): (  # only its importer; a people import has none: 409
        expect(commune=(404, 404), assessor=(404, 404)),
        lambda w: {"path": {"job_id": w.ids["import"]}},
    ),
    ("GET", "/api/v1/reporting-periods"): (
        expect(province=(OK, OK), commune=(OK, OK), assessor=(OK, OK), portal=(OK, OK)),
        lambda w: {"params": {"year": 2025}},
    ),
    ("GET", "/api/v1/reporting-periods/{period}/deadlines"): (
        expect(province=(OK, OK), commune=(OK, OK), assessor=(OK, OK), portal=(OK, OK)),
        lambda w: {"path": {"period": "2025"}},
    ),
    ("PUT", "/api/v1/reporting-periods/{period}/deadlines"): (
        expect(province=(OK, 403)),  # in their own province only
        lambda w: {
            "path": {"period": "2025"},
            "json": {"level": "commune", "unit_code": "01", "due_on": "2025-12-05", "source": "Công văn 1/UBND"},
        },
    ),
    ("GET", "/api/v1/reporting-periods/{period}/reports/{unit_code}"): (
        expect(province=(OK, 404), commune=(OK, 404), assessor=(OK, 404), portal=(404, 404)),
        lambda w: {"path": {"period": "2025", "unit_code": "00367"}},
    ),
    ("GET", "/api/v1/reporting-periods/{period}/reports/{unit_code}/history"): (
        expect(province=(OK, 404), commune=(OK, 404), assessor=(OK, 404), portal=(404, 404)),
        lambda w: {"path": {"period": "2025", "unit_code": "00367"}},
    ),
    ("PUT", "/api/v1/reporting-periods/{period}/reports/{unit_code}/fields"): (
        expect(province=(403, 404), commune=(OK, 404), assessor=(403, 404), portal=(404, 404)),
        lambda w: {
            "path": {"period": "2025-h1", "unit_code": "00367"},
            "json": {"fields": {"community_learning_centres": {"value": 1, "source": "Báo cáo của xã"}}},
        },
    ),
    ("POST", "/api/v1/reporting-periods/{period}/reports/{unit_code}/transitions"): (
        expect(province=(403, 404), commune=(OK, 404), assessor=(403, 404), portal=(404, 404)),
        lambda w: {"path": {"period": "2025-h1", "unit_code": "00367"}, "json": {"action": "submit"}},
    ),
    ("GET", "/api/v1/reporting-periods/{period}/provinces/{province_code}/communes"): (
        expect(province=(OK, 404), commune=(404, 404), assessor=(404, 404), portal=(404, 404)),
        lambda w: {"path": {"period": "2025", "province_code": "01"}},
    ),
    ("GET", "/api/v1/reporting-periods/{period}/provinces/{province_code}/consolidated"): (
        expect(province=(OK, 404), commune=(404, 404), assessor=(404, 404), portal=(404, 404)),
        lambda w: {"path": {"period": "2025", "province_code": "01"}},
    ),
    ("GET", "/api/v1/reporting-periods/{period}/provinces/{province_code}/export"): (
        expect(province=(OK, 404), commune=(404, 404), assessor=(404, 404), portal=(404, 404)),
        lambda w: {"path": {"period": "2025", "province_code": "01"}, "params": {"format": "csv"}},
    ),
    ("GET", "/api/v1/reporting-periods/{period}/national/provinces"): (
        expect(),
        lambda w: {"path": {"period": "2025"}},
    ),
    ("GET", "/api/v1/reporting-periods/{period}/national/consolidated"): (
        expect(),
        lambda w: {"path": {"period": "2025"}},
    ),
    ("GET", "/api/v1/reporting-periods/{period}/national/export"): (
        expect(),
        lambda w: {"path": {"period": "2025"}, "params": {"format": "csv"}},
    ),
    ("GET", "/api/v1/status-lists/{number}/{purpose}"): (
        PUBLIC,
        lambda w: {"path": {"number": 1, "purpose": "revocation"}},
    ),
    ("GET", "/api/v1/subjects/{kind}/{subject_id}/titles"): (
        expect(province=(OK, 404), commune=(OK, 404), assessor=(OK, 404), portal=(OK, 404)),
        lambda w: {"path": {"kind": "person", "subject_id": w.ids["person"]}},
    ),
    ("POST", "/api/v1/title-checks"): (
        PUBLIC,
        lambda w: {"json": {"national_id": "001099000002", "birth_date": "1990-01-01"}},
    ),
}


def _routes(app) -> set[tuple[str, str]]:
    """Every (method, path) the app serves, from the OpenAPI description FastAPI builds from its
    route table (included routers and their prefixes resolved)."""
    return {(method.upper(), path) for path, operations in app.openapi()["paths"].items() for method in operations}


def test_every_route_has_an_entry(app):
    routes = _routes(app)
    assert routes - set(MATRIX) == set(), "routes without an authorisation entry"
    assert set(MATRIX) - routes == set(), "entries for routes that do not exist"


def test_authorisation_matrix(client, world, app):
    tokens = {("admin", True): bearer(login(client, "quantri")["access_token"])}
    tokens[("admin", False)] = tokens[("admin", True)]
    for role, inside in UNITS:
        tokens[(role, inside)] = bearer(
            login(client, f"{role.replace('_', '')}{'in' if inside else 'out'}")["access_token"]
        )
    mismatches = []
    for (method, path), (expected, build) in sorted(MATRIX.items()):
        for role in ROLES:
            for inside in (True, False):
                if role in ("anonymous", "admin") and not inside:
                    continue
                arguments = build(world)
                url = path.format(**arguments.pop("path", {}))
                headers = {**arguments.pop("headers", {}), **tokens.get((role, inside), {})}
                response = client.request(method, url, headers=headers, **arguments)
                status = response.status_code
                want = expected[(role, inside)]
                got = status if status in (401, 403, 404) else OK
                assert status < 500, f"{method} {path} as {role}: {status} {response.text[:200]}"
                if got != want:
                    mismatches.append(
                        f"{method} {path} as {role} {'inside' if inside else 'outside'}: "
                        f"expected {want}, got {status} {response.text[:120]}"
                    )
    assert mismatches == []

"""An assessment is scored under the criteria version in force for its title, the subject's
province and the reference date — not one that ended, was retired or belongs to another
province — and a decision recognises nothing scored under another."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from app.assessments.models import Assessment
from app.auth.models import Role
from app.criteria.models import CriteriaVersionRecord
from tests.helpers import assert_problem, bearer, login, today

API = "/api/v1"
ROOT = Path(__file__).parent.parent
CITIZEN_ALL_8 = {f"c{c}_{i}": 8 for c, n in ((1, 4), (2, 4), (3, 2)) for i in range(1, n + 1)}


def _upload(client, admin, version: str, *, provinces: list[str] | None = None, publish=True, retire=False):
    text = (ROOT / "criteria/citizen/qd324-2023.yaml").read_text(encoding="utf-8")
    text = text.replace("version: qd324-2023", f"version: {version}")
    if provinces:
        codes = ", ".join(f"'{code}'" for code in provinces)
        text = text.replace("  scope: national", f"  scope: provinces\n  provinces: [{codes}]")
    response = client.post(
        f"{API}/criteria/versions", content=text.encode(), headers={**admin, "content-type": "application/yaml"}
    )
    assert response.status_code == 201, response.text
    for action, wanted in (("publish", publish), ("retire", retire)):
        if wanted:
            done = client.post(f"{API}/criteria/versions/citizen/{version}/{action}", headers=admin)
            assert done.status_code == 200, done.text


@pytest.fixture
def ward(client, make_user):
    make_user("quantri")
    make_user("thamdinh.b", Role.ASSESSOR, ["00367"])
    admin = bearer(login(client, "quantri")["access_token"])
    person = client.post(
        f"{API}/people",
        headers=admin,
        json={
            "full_name": "Vũ Văn Luật",
            "birth_date": "1980-05-05",
            "unit_code": "00367",
            "resident_since": "2025-07-01",
        },
    ).json()
    return {"admin": admin, "reviewer": bearer(login(client, "thamdinh.b")["access_token"]), "person": person["id"]}


def _file(client, ward, **extra):
    body = {
        "id": str(uuid.uuid4()),
        "title": "citizen",
        "subject_id": ward["person"],
        "period": 2026,
        "subject_group": "commune_resident",
        "answers": CITIZEN_ALL_8,
        "submit": True,
        **extra,
    }
    return client.post(f"{API}/assessments", headers=ward["admin"], json=body)


def _refused(response) -> str:
    problem = assert_problem(response, 422, "validation_failed")
    [error] = problem["errors"]
    assert (error["field"], error["code"]) == ("body.criteria_version", "not_in_force")
    return error["message"]


def test_a_version_that_ended_is_refused_naming_the_one_in_force(client, ward):
    message = _refused(_file(client, ward, criteria_version="qd244-2022"))
    assert "qd324-2023" in message
    assert client.get(f"{API}/assessments", headers=ward["admin"]).json()["total"] == 0


def test_a_retired_version_is_refused(client, ward):
    _upload(client, ward["admin"], "qd324-retired", retire=True)
    assert "qd324-2023" in _refused(_file(client, ward, criteria_version="qd324-retired"))


def test_another_provinces_version_is_refused_and_serves_its_own_province(client, ward):
    _upload(client, ward["admin"], "hp-2026", provinces=["31"])
    assert "qd324-2023" in _refused(_file(client, ward, criteria_version="hp-2026"))
    # In Hải Phòng the province's own version is the one in force.
    elsewhere = client.post(
        f"{API}/people",
        headers=ward["admin"],
        json={
            "full_name": "Người Hải Phòng",
            "birth_date": "1980-05-05",
            "unit_code": "11167",
            "resident_since": "2025-07-01",
        },
    ).json()
    filed = _file(client, {**ward, "person": elsewhere["id"]})
    assert filed.status_code == 201, filed.text
    assert filed.json()["criteria_version"] == "hp-2026"


def test_naming_the_version_in_force_is_accepted(client, ward):
    filed = _file(client, ward, criteria_version="qd324-2023")
    assert filed.status_code == 201, filed.text
    assert filed.json()["criteria_version"] == "qd324-2023"


def test_no_version_in_force_names_the_date(client, ward):
    # Công dân học tập criteria begin on 28/07/2022: a 2021 assessment has none.
    response = _file(client, ward, period=2021, reference_date="2021-06-30")
    problem = assert_problem(response, 422, "validation_failed")
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [("body.reference_date", "no_criteria_in_force")]


def test_a_decision_refuses_an_assessment_scored_under_another_version(client, ward, session):
    filed = _file(client, ward)
    assert filed.status_code == 201, filed.text
    # An assessment from before the rule (filed under an ended version) is not recognised.
    old_version = session.scalar(
        select(CriteriaVersionRecord.id).where(CriteriaVersionRecord.version_id == "qd244-2022")
    )
    row = session.scalar(select(Assessment).where(Assessment.public_id == filed.json()["id"]))
    row.criteria_version_id = old_version
    session.commit()
    reviewed = client.post(
        f"{API}/assessments/{filed.json()['id']}/transitions",
        headers={**ward["reviewer"], "If-Match": filed.headers["etag"]},
        json={"action": "review"},
    ).json()
    decision = client.post(
        f"{API}/decisions",
        headers=ward["admin"],
        json={
            "commune_code": "00367",
            "number": "5/QĐ",
            "decided_on": today(),
            "signer": "Chủ tịch",
            "title": "citizen",
            "period": 2026,
            "assessment_ids": [reviewed["id"]],
        },
    )
    problem = assert_problem(decision, 422, "validation_failed")
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [("body.assessment_ids.0", "criteria_not_in_force")]
    assert client.get(f"{API}/recognitions", headers=ward["admin"]).json()["total"] == 0

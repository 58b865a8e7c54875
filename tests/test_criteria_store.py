"""The criteria store through the API: publication is immutable, versions resolve by date and
province, old versions keep evaluating identically, and the dry run explains its result."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.auth.models import Role
from app.criteria.service import shipped_files
from tests.helpers import assert_problem, bearer, login

CRITERIA = "/api/v1/criteria"
ROOT = Path(__file__).parent.parent
QD244 = (ROOT / "criteria/citizen/qd244-2022.yaml").read_text(encoding="utf-8")
YAML = {"content-type": "application/yaml"}


@pytest.fixture
def admin(client, make_user):
    make_user("quantri")
    return bearer(login(client, "quantri")["access_token"])


def answers(score: int = 8, **changes) -> dict:
    values = {f"c{c}_{i}": score for c, n in ((1, 4), (2, 4), (3, 2)) for i in range(1, n + 1)}
    values.update(changes)
    return values


def dry_run(client, version: str, body: dict, headers=None):
    return client.post(f"{CRITERIA}/versions/citizen/{version}/evaluate", json=body, headers=headers or {})


def test_shipped_versions_are_published_and_public(client):
    listing = client.get(f"{CRITERIA}/versions", params={"limit": 200}).json()
    assert listing["total"] == len(shipped_files())
    # A shipped version that replaces another retires it; the replaced one stays readable, for
    # the recognitions decided under it.
    commune = {v["version"]: v["state"] for v in listing["items"] if v["title"] == "commune"}
    assert commune == {"tt25-2023": "retired", "tt25-2023-v2": "published", "tt25-2023-two-tier": "published"}
    in_force = client.get(f"{CRITERIA}/in-force", params={"title": "commune", "on": "2025-06-01"}).json()
    assert in_force["version"] == "tt25-2023-v2"
    # From 01/7/2025 (no districts) the same text with the province deciding: docs/commune-title.md.
    in_force = client.get(f"{CRITERIA}/in-force", params={"title": "commune", "on": "2025-07-01"}).json()
    assert in_force["version"] == "tt25-2023-two-tier"
    citizen = client.get(f"{CRITERIA}/versions", params={"title": "citizen"}).json()["items"]
    assert [(v["version"], v["state"], v["provisional"]) for v in citizen] == [
        ("qd244-2022", "published", True),
        ("qd324-2023", "published", True),
    ]
    detail = client.get(f"{CRITERIA}/versions/citizen/qd244-2022").json()
    assert detail["content"]["documents"][0]["number"] == "244/QĐ-KHVN"
    assert detail["content"]["pass_rules"]["total_min"] == "80"
    assert len(detail["content_hash"]) == 64


@pytest.mark.parametrize(("on", "expected"), [("2023-06-01", "qd244-2022"), ("2024-06-01", "qd324-2023")])
def test_version_in_force_by_date(client, on, expected):
    found = client.get(f"{CRITERIA}/in-force", params={"title": "citizen", "on": on, "province": "01"})
    assert found.status_code == 200, found.text
    assert found.json()["version"] == expected


def test_no_version_in_force_is_404(client):
    assert_problem(
        client.get(f"{CRITERIA}/in-force", params={"title": "citizen", "on": "2021-01-01"}), 404, "not_found"
    )
    assert_problem(client.get(f"{CRITERIA}/in-force", params={"title": "poet"}), 422, "validation_failed")


def test_dry_run_explains_each_acceptance_case(client):
    farmer = {"subject_group": "farmer"}
    ok = dry_run(client, "qd244-2022", {"answers": answers(8), "context": farmer}).json()
    assert (ok["status"], ok["total"]) == ("dat", 80)
    low = dry_run(client, "qd244-2022", {"answers": answers(9, c2_3=4), "context": farmer}).json()
    assert (low["status"], low["total"], low["failed_indicators"]) == ("khong_dat", 85, ["c2_3"])
    trace = next(t for t in low["indicators"] if t["indicator_id"] == "c2_3")
    assert trace["points"] == 4 and "5" in trace["reason"]
    short = dry_run(client, "qd244-2022", {"answers": answers(8, c3_2=7), "context": farmer}).json()
    assert (short["status"], short["total"]) == ("khong_dat", 79)
    assert "80" in short["reasons"][0]
    body = {"answers": answers(7, c1_1=8, c1_2=8), "context": farmer}
    assert dry_run(client, "qd244-2022", body).json()["status"] == "khong_dat"
    body["context"] = {**farmer, "unit_groups": ["disadvantaged"]}
    eased = dry_run(client, "qd244-2022", body).json()
    assert (eased["status"], eased["total"], eased["override"]) == ("dat", 72, "disadvantaged_area")


def test_dry_run_refuses_answers_that_do_not_fit(client):
    response = dry_run(client, "qd244-2022", {"answers": answers(8, c1_1=12, c7_1=3), "context": {}})
    errors = {e["field"]: e["code"] for e in assert_problem(response, 422, "invalid_answers")["errors"]}
    assert errors == {
        "body.answers.c1_1": "out_of_range",
        "body.answers.c7_1": "unknown_indicator",
        "body.context.subject_group": "missing",
    }
    assert_problem(dry_run(client, "qd244-2022", {"answers": {}, "score": 100}), 422, "validation_failed")
    assert_problem(dry_run(client, "qd999", {"answers": {}}), 404, "not_found")


def test_published_versions_never_change(client, admin):
    # The same text again is accepted and changes nothing.
    same = client.post(f"{CRITERIA}/versions", content=QD244.encode(), headers={**admin, **YAML})
    assert same.status_code == 201, same.text
    assert same.json()["state"] == "published"
    # A corrected text under the same id is refused.
    changed = QD244.replace("total_min: 80", "total_min: 75")
    assert_problem(
        client.post(f"{CRITERIA}/versions", content=changed.encode(), headers={**admin, **YAML}),
        409,
        "version_immutable",
    )


def test_a_corrected_text_is_a_new_version_and_the_old_one_evaluates_as_before(client, admin):
    body = {"answers": answers(7, c1_1=8, c1_2=8, c1_3=8, c1_4=8, c2_1=8), "context": {"subject_group": "farmer"}}
    before = dry_run(client, "qd244-2022", body).json()
    assert (before["status"], before["total"]) == ("khong_dat", 75)

    corrected = QD244.replace("version: qd244-2022", "version: qd244-2022-r2").replace("total_min: 80", "total_min: 75")
    draft = client.post(f"{CRITERIA}/versions", content=corrected.encode(), headers={**admin, **YAML})
    assert draft.status_code == 201, draft.text
    assert draft.json()["state"] == "draft"
    # Drafts are not public, and not in force until published.
    assert_problem(client.get(f"{CRITERIA}/versions/citizen/qd244-2022-r2"), 404, "not_found")
    assert client.get(f"{CRITERIA}/versions/citizen/qd244-2022-r2", headers=admin).json()["state"] == "draft"
    assert (
        client.get(f"{CRITERIA}/in-force", params={"title": "citizen", "on": "2023-06-01"}).json()["version"]
        == "qd244-2022"
    )
    # A draft may still be replaced; then it is published.
    redo = client.post(
        f"{CRITERIA}/versions",
        content=corrected.replace("Công dân học tập — QĐ", "CDHT — QĐ").encode(),
        headers={**admin, **YAML},
    )
    assert redo.status_code == 201
    published = client.post(f"{CRITERIA}/versions/citizen/qd244-2022-r2/publish", headers=admin)
    assert published.json()["state"] == "published"

    assert dry_run(client, "qd244-2022-r2", body).json()["status"] == "dat"
    after = dry_run(client, "qd244-2022", body).json()
    assert after == before
    diff = client.get(f"{CRITERIA}/diff", params={"title": "citizen", "from": "qd244-2022", "to": "qd244-2022-r2"})
    changes = {c["path"]: c for c in diff.json()["items"]}
    assert changes["pass_rules.total_min"]["old"] == "80" and changes["pass_rules.total_min"]["new"] == "75"
    assert diff.json()["total"] == len(changes)

    retired = client.post(f"{CRITERIA}/versions/citizen/qd244-2022-r2/retire", headers=admin)
    assert retired.json()["state"] == "retired"
    assert_problem(
        client.post(f"{CRITERIA}/versions/citizen/qd244-2022-r2/publish", headers=admin), 409, "invalid_state"
    )


def test_a_province_version_wins_in_its_province(client, admin):
    local = QD244.replace("version: qd244-2022", "version: qd244-2022-hn").replace(
        "applies_to:\n  scope: national", 'applies_to:\n  scope: provinces\n  provinces: ["01"]'
    )
    client.post(f"{CRITERIA}/versions", content=local.encode(), headers={**admin, **YAML})
    client.post(f"{CRITERIA}/versions/citizen/qd244-2022-hn/publish", headers=admin)
    params = {"title": "citizen", "on": "2023-06-01"}
    assert client.get(f"{CRITERIA}/in-force", params={**params, "province": "01"}).json()["version"] == "qd244-2022-hn"
    assert client.get(f"{CRITERIA}/in-force", params={**params, "province": "31"}).json()["version"] == "qd244-2022"
    assert client.get(f"{CRITERIA}/in-force", params=params).json()["version"] == "qd244-2022"


def test_invalid_uploads_name_the_field_and_line(client, admin):
    bad = QD244.replace("      - id: c1_2\n", "      - id: c1_1\n", 1)
    problem = assert_problem(
        client.post(f"{CRITERIA}/versions", content=bad.encode(), headers={**admin, **YAML}), 422, "invalid_criteria"
    )
    [error] = problem["errors"]
    assert error["field"].startswith("criteria[0].indicators[1].id (dòng ")
    assert "duplicate indicator id" in error["message"]
    garbage = client.post(f"{CRITERIA}/versions", content=b"title: [", headers={**admin, **YAML})
    assert_problem(garbage, 422, "invalid_criteria")


def test_only_admins_upload_or_publish(client, make_user):
    make_user("canbo", Role.COMMUNE_OFFICER, ["00367"])
    officer = bearer(login(client, "canbo")["access_token"])
    assert_problem(
        client.post(f"{CRITERIA}/versions", content=QD244.encode(), headers={**officer, **YAML}), 403, "forbidden"
    )
    assert_problem(client.post(f"{CRITERIA}/versions", content=QD244.encode(), headers=YAML), 401, "not_authenticated")
    assert_problem(client.post(f"{CRITERIA}/versions/citizen/qd244-2022/retire", headers=officer), 403, "forbidden")
    assert_problem(client.post(f"{CRITERIA}/versions/citizen/qd244-2022/publish"), 401, "not_authenticated")

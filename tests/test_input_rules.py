"""Input that used to slip through (or break) and now gets a clear 422: criteria files with
values no constructor can make, control characters in multipart forms, names that grow past
their column under Unicode normalisation, numbers written in other scripts, blank passwords,
unknown settings."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from app.auth.models import Role
from app.config import load_settings
from tests.helpers import assert_problem, bearer, login

API = "/api/v1"
ROOT = Path(__file__).parent.parent
CITIZEN = (ROOT / "criteria/citizen/qd324-2023.yaml").read_text(encoding="utf-8")


@pytest.fixture
def admin(client, make_user):
    make_user("quantri")
    return bearer(login(client, "quantri")["access_token"])


@pytest.mark.parametrize(
    "replace",
    [
        ("date: 2023-10-25", "date: 2023-02-30"),
        ("date: 2023-10-25", "date: 0000-01-01"),
        ("date: 2023-10-25", "date: !!int 'abc'"),
        ("date: 2023-10-25", "date: !!timestamp 'abc'"),
        ("date: 2023-10-25", "date: 2023-10-25\n    extra: " + "9" * 5000),
        ("max_points: 10", "max_points: 1e308"),
        ("max_points: 10", "max_points: " + "9" * 4000),
        ("max_points: 10", "max_points: .nan"),
    ],
    ids=["feb-30", "year-0", "int-tag", "timestamp-tag", "huge-int", "1e308", "4000-nines", "nan"],
)
def test_a_criteria_file_with_unreadable_values_is_422(client, admin, replace):
    old, new = replace
    assert old in CITIZEN
    body = CITIZEN.replace("version: qd324-2023", "version: hong").replace(old, new, 1)
    response = client.post(
        f"{API}/criteria/versions", content=body.encode(), headers={**admin, "content-type": "application/yaml"}
    )
    assert_problem(response, 422, "invalid_criteria")


def test_control_characters_in_a_multipart_form_are_422(client):
    response = client.post(
        f"{API}/auth/token", files={"username": (None, b"quan\x00tri"), "password": (None, b"sai-mat-khau-1")}
    )
    problem = assert_problem(response, 422, "validation_failed")
    assert [e["field"] for e in problem["errors"]] == ["body.username"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/people", {"full_name": "\u0958" * 200, "unit_code": "00367"}, "body.full_name"),
        ("/households", {"name": "\u0958" * 200, "unit_code": "00367"}, "body.name"),
        ("/units/00367/villages", {"name": "\u0958" * 200, "unit_type": "to_dan_pho"}, "body.name"),
    ],
    ids=["person", "household", "village"],
)
def test_a_name_that_grows_under_normalisation_is_422(client, admin, path, body, field):
    response = client.post(API + path, json=body, headers=admin)
    problem = assert_problem(response, 422, "validation_failed")
    assert [e["field"] for e in problem["errors"]] == [field]


def test_a_search_form_does_not_outgrow_its_name(client, admin):
    """The search copy of a name drops diacritics; Hangul, which decomposition splits into
    letters, is recomposed, so 200 syllables stay 200 characters and fit the column."""
    korean = client.post(f"{API}/units/00367/villages", json={"name": "가" * 200, "unit_type": "thon"}, headers=admin)
    assert korean.status_code == 201, korean.text
    found = client.get(f"{API}/units", params={"parent": "00367", "q": "가" * 50, "level": "village"}).json()
    assert [unit["code"] for unit in found["items"]] == [korean.json()["code"]]


def test_a_name_of_exactly_the_column_length_is_kept(client, admin):
    exact = "Tổ " + "a" * 197  # 200 characters
    kept = client.post(f"{API}/units/00367/villages", json={"name": exact, "unit_type": "thon"}, headers=admin)
    assert kept.status_code == 201, kept.text
    longer = client.post(f"{API}/units/00367/villages", json={"name": exact + "b", "unit_type": "thon"}, headers=admin)
    assert_problem(longer, 422, "validation_failed")


@pytest.mark.parametrize("score", ["٩", "９", "1e-999999999", "NaN", " 9", "9 "])
def test_scores_are_numbers_written_in_ascii(client, score):
    answers = {f"c{c}_{i}": 8 for c, n in ((1, 4), (2, 4), (3, 2)) for i in range(1, n + 1)}
    answers["c1_1"] = score
    response = client.post(
        f"{API}/criteria/versions/citizen/qd324-2023/evaluate",
        json={"answers": answers, "context": {"subject_group": "commune_resident"}},
    )
    problem = assert_problem(response, 422, "invalid_answers")
    assert [e["field"] for e in problem["errors"]] == ["body.answers.c1_1"]


def test_a_password_of_spaces_is_refused(client, admin):
    response = client.post(
        f"{API}/users",
        headers=admin,
        json={"username": "khoangtrang", "full_name": "Khoảng Trắng", "password": " " * 12, "role": "admin"},
    )
    assert [e["field"] for e in assert_problem(response, 422, "validation_failed")["errors"]] == ["body.password"]


def test_a_village_import_with_a_column_twice_is_refused(client, make_user):
    make_user("canbo.tx", Role.COMMUNE_OFFICER, ["00367"])
    officer = bearer(login(client, "canbo.tx")["access_token"])
    csv_body = "name,unit_type,name\nTổ 1,to_dan_pho,Tổ 2\n".encode()
    response = client.post(
        f"{API}/units/00367/villages/import", headers=officer, files={"file": ("t.csv", csv_body, "text/csv")}
    )
    assert "name" in assert_problem(response, 422, "invalid_file")["detail"]


def test_an_unknown_setting_is_named_not_ignored(monkeypatch, caplog):
    monkeypatch.setenv("HOCTAP_TITLE_CHECK_PER_ID_PER_HOUR", "5")
    monkeypatch.setenv("HOCTAP_TEST_SOMETHING", "x")  # the test tooling's own variables are no settings
    with caplog.at_level(logging.WARNING, logger="hoctap.config"):
        load_settings(_env_file=None)
    [record] = [r for r in caplog.records if r.name == "hoctap.config"]
    assert record.unknown_settings == ["HOCTAP_TITLE_CHECK_PER_ID_PER_HOUR"]
    assert "5" not in record.getMessage()

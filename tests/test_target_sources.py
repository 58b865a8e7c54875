"""Targets quote their documents, and say when they cannot: QĐ 1373's and QĐ 677's 2030 targets
with the decisions' own sentences, secondary wording marked with its public source, the
registry's own summaries marked as such, and nothing citing a document no user can see."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from app.auth.models import Role
from tests.helpers import assert_problem, bearer, login

API = "/api/v1"
TARGETS = Path(__file__).parent.parent / "seed" / "targets"


def _targets(client, unit="00367", year=2025):
    response = client.get(f"{API}/targets", params={"unit": unit, "year": year})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_a_hanoi_commune_sees_qd1373s_targets_in_its_words(client):
    for year, expected in (
        (2025, {"citizen": 40, "district": 25, "province": 15}),
        (2030, {"citizen": 60, "district": 50, "province": 35}),
    ):
        found = {
            item["title"]: item
            for item in _targets(client, year=year)
            if item["source"]["document_number"] == "1373/QĐ-TTg"
        }
        assert {title: item["percent"] for title, item in found.items()} == expected
        for item in found.values():
            assert item["source"]["sentence_kind"] == "verbatim" and item["scope"] == "toàn quốc"
            assert "Mẫu Báo cáo sơ kết 5 năm" in item["source"]["quoted_from"]
    citizen_2025 = next(
        i for i in _targets(client) if i["source"]["document_number"] == "1373/QĐ-TTg" and i["title"] == "citizen"
    )
    assert citizen_2025["source"]["sentence"] == (
        "40% công dân đạt danh hiệu công dân học tập theo tiêu chí do cơ quan có thẩm quyền ban hành"
    )


def test_qd677s_2030_targets_are_verbatim_and_its_2025_ones_secondary(client):
    def qd677(year):
        return {i["segment"]: i for i in _targets(client, year=year) if i["source"]["document_number"] == "677/QĐ-TTg"}

    later, earlier = qd677(2030), qd677(2025)
    assert {s: i["percent"] for s, i in later.items()} == {
        "adults_in_learning_families": 60,
        "staff_of_learning_units": 80,
    }
    assert all(i["source"]["sentence_kind"] == "verbatim" for i in later.values())
    assert all(
        i["source"]["sentence_kind"] == "secondary" and "Bắc Bình" in i["source"]["quoted_from"]
        for i in earlier.values()
    )


def test_a_summary_says_it_is_not_the_documents_words(client):
    summaries = [i for i in _targets(client, year=2020) if i["source"]["document_number"] == "281/QĐ-TTg"]
    assert summaries and all(
        i["source"]["sentence_kind"] == "summary"
        and i["source"]["sentence"].startswith("Tóm tắt, không phải nguyên văn")
        for i in summaries
    )


def test_no_answer_cites_the_project_brief(client, make_user):
    make_user("canbo.tx", Role.COMMUNE_OFFICER, ["00367"])
    officer = bearer(login(client, "canbo.tx")["access_token"])
    answers = [
        client.get(f"{API}/targets", params={"unit": "00367"}).text,
        client.get(f"{API}/targets", params={"unit": "01", "year": 2025}).text,
        client.get(f"{API}/units/00367/progress", params={"year": 2025}).text,
        client.get(f"{API}/units/00367/report", params={"year": 2025, "format": "csv"}, headers=officer).text,
    ]
    for text in answers:
        assert "domain brief" not in text.lower() and "brief §" not in text


def test_every_seeded_verbatim_or_secondary_sentence_stands_in_its_source():
    sources = re.sub(r"\s+", " ", (TARGETS / "programme-targets-sources.md").read_text(encoding="utf-8"))
    data = yaml.safe_load((TARGETS / "programme_targets.yaml").read_text(encoding="utf-8"))
    quoted = [t for t in data["targets"] if t["wording"] in ("verbatim", "secondary")]
    assert len(quoted) >= 10
    assert [t["sentence"] for t in quoted if re.sub(r"\s+", " ", t["sentence"]) not in sources] == []
    assert all(t.get("quoted_from") for t in data["targets"])
    # The five plans' sentences are read in the plans themselves: verbatim.
    plans = yaml.safe_load((TARGETS / "plan_targets.yaml").read_text(encoding="utf-8"))
    assert {t.get("wording", "verbatim") for t in plans["targets"]} == {"verbatim"}


@pytest.mark.parametrize("kind", ["secondary", "summary"])
def test_an_officer_entering_a_target_not_in_its_words_names_the_source(client, make_user, kind):
    make_user("canbo.tx2", Role.COMMUNE_OFFICER, ["00367"])
    officer = bearer(login(client, "canbo.tx2")["access_token"])
    body = {
        "unit_code": "00367",
        "title": "family",
        "year": 2026,
        "percent": 75,
        "document_number": "12/KH-UBND",
        "issuer": "UBND phường Thanh Xuân",
        "sentence": "Khoảng ba phần tư số hộ đạt Gia đình học tập.",
        "sentence_kind": kind,
    }
    missing = client.post(f"{API}/targets", json=body, headers=officer)
    assert [e["field"] for e in assert_problem(missing, 422, "validation_failed")["errors"]] == ["body.quoted_from"]
    created = client.post(f"{API}/targets", json={**body, "quoted_from": "Bản tin phường số 3/2026"}, headers=officer)
    assert created.status_code == 201, created.text
    assert created.json()["source"]["sentence_kind"] == kind


def test_the_readme_target_bodies_are_accepted_as_written(client, make_user):
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    block = readme[readme.index("// POST /api/v1/targets") :]
    block = block[: block.index("```")]
    bodies = [json.loads(m.group(0)) for m in re.finditer(r"^\{.*?\}$", block, re.S | re.M)]
    assert [b["sentence_kind"] for b in bodies] == ["verbatim", "secondary"]
    make_user("canbo.hn3", Role.PROVINCE_OFFICER, ["01"])
    officer = bearer(login(client, "canbo.hn3")["access_token"])
    for body in bodies:
        created = client.post(f"{API}/targets", json=body, headers=officer)
        assert created.status_code == 201, created.text
        assert created.json()["source"]["sentence_kind"] == body["sentence_kind"]

"""The versions encoded from TT 25/2023 and TT 24/2023 at work in the registry: an organisation's
managing level picks its criteria, the province level counts the registry's own commune
recognitions, the district level counts its communes as they were, the commune's share of
citizens is counted, and existing recognitions keep their version."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from sqlalchemy import func, select

from app.assessments.models import Recognition
from app.stats.synthetic import generate
from app.units.models import AdministrativeUnit, UnitAncestor
from tests.helpers import bearer, login

API = "/api/v1"


@pytest.fixture
def admin(client, make_user):
    make_user("quantri")
    return bearer(login(client, "quantri")["access_token"])


def _met(client, title, on, managing_level=None, subject_group=None) -> dict:
    """Answers meeting every chỉ tiêu of the version in force (derived ones are the registry's)."""
    params = {
        "title": title,
        "on": on,
        "province": "01",
        **({"managing_level": managing_level} if managing_level else {}),
    }
    content = client.get(f"{API}/criteria/in-force", params=params).json()["content"]
    answers = {}
    for criterion in content["criteria"]:
        for indicator in criterion["indicators"]:
            if indicator.get("groups") and subject_group not in indicator["groups"]:
                continue
            if indicator["kind"] == "yes_no":
                answers[indicator["id"]] = True
            elif indicator["kind"] == "number":
                answers[indicator["id"]] = float(indicator["threshold"]["value"])
    return answers


def _file(client, headers, title, subject_id, period, managing_level=None, **extra):
    on = extra.get("reference_date", f"{period}-12-31")
    answers = _met(client, title, on, managing_level, extra.get("subject_group"))
    body = {
        "id": str(uuid.uuid4()),
        "title": title,
        "subject_id": subject_id,
        "period": period,
        "answers": answers,
        **extra,
    }
    response = client.post(f"{API}/assessments", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.parametrize(
    ("managing_level", "on", "expected"),
    [
        ("province", "2026-06-30", "tt24-2023-province"),
        ("district", "2025-06-30", "tt24-2023-district"),
        ("commune", "2026-06-30", "hkhvn-2022"),
    ],
)
def test_an_organisations_managing_level_picks_its_criteria(client, managing_level, on, expected):
    found = client.get(
        f"{API}/criteria/in-force",
        params={"title": "unit", "on": on, "province": "01", "managing_level": managing_level},
    )
    assert found.status_code == 200, found.text
    assert found.json()["version"] == expected


def test_a_province_managed_school_is_assessed_under_tt24(client, admin):
    school = client.post(
        f"{API}/organisations",
        headers=admin,
        json={
            "name": "Trường THPT Chu Văn An",
            "kind": "school",
            "sector": "education",
            "managing_level": "province",
            "unit_code": "00367",
            "since": "2025-07-01",
        },
    ).json()
    filed = _file(
        client,
        admin,
        "unit",
        school["id"],
        2026,
        managing_level="province",
        subject_group="thpt_gdtx_cong_lap",
        reference_date="2026-06-30",
    )
    assert filed["criteria_version"] == "tt24-2023-province"
    # The members' share holding Công dân học tập is counted by the registry (no staff yet: 0).
    derived = next(v for v in filed["derived"].values() if "cán bộ" in v["population"].lower())
    assert (derived["numerator"], derived["denominator"]) == (0, 0)


def test_the_province_level_counts_the_registrys_commune_recognitions(client, admin, session):
    generate(session, "01", 600, 2025, seed=5)
    hanoi = session.scalar(
        select(AdministrativeUnit).where(AdministrativeUnit.code == "01", AdministrativeUnit.level == "province")
    )
    communes_of_hanoi = select(UnitAncestor.unit_id).where(UnitAncestor.ancestor_id == hanoi.id)
    recognised = session.scalar(
        select(func.count(func.distinct(Recognition.subject_id))).where(
            Recognition.title == "commune",
            Recognition.subject_id.in_(communes_of_hanoi),
            Recognition.valid_from <= date(2025, 12, 31),
            Recognition.valid_until > date(2025, 12, 31),
        )
    )
    assert recognised > 0
    filed = _file(client, admin, "province", hanoi.id, 2025, reference_date="2025-12-31")
    assert filed["criteria_version"] == "tt25-2023-communes"
    share = filed["derived"]["c4_1_m1"]
    assert (share["numerator"], share["denominator"]) == (recognised, 126)
    assert filed["result"]["provisional"] is True


def test_the_district_level_counts_its_communes_as_they_were(client, admin, session):
    thanh_xuan = session.scalar(
        select(AdministrativeUnit).where(
            AdministrativeUnit.code == "009",
            AdministrativeUnit.level == "district",
            AdministrativeUnit.valid_to == date(2025, 7, 1),
        )
    )
    # Quận Thanh Xuân had 11 wards until the 2025 rearrangement of Hà Nội (01/01/2025), 9 after.
    for period, day, wards in ((2024, "2024-12-31", 11), (2025, "2025-06-30", 9)):
        filed = _file(client, admin, "district", thanh_xuan.id, period, reference_date=day)
        assert filed["criteria_version"] == "tt25-2023"
        share = filed["derived"]["c4_1_m1"]
        assert (share["numerator"], share["denominator"]) == (0, wards)


def test_the_commune_share_of_citizens_is_counted_on_the_reference_day(client, admin, session):
    people = [
        client.post(
            f"{API}/people",
            headers=admin,
            json={
                "full_name": f"Công dân {n}",
                "birth_date": born,
                "unit_code": "00367",
                "resident_since": "2025-07-01",
            },
        ).json()
        for n, born in enumerate(("1980-01-01", "1990-01-01", "2012-01-01"))
    ]
    commune = session.scalar(
        select(AdministrativeUnit.id).where(AdministrativeUnit.code == "00367", AdministrativeUnit.valid_to.is_(None))
    )
    filed = _file(client, admin, "commune", commune, 2025, reference_date="2025-12-31")
    assert filed["criteria_version"] == "tt25-2023-two-tier"  # v2's text, with the province deciding
    share = filed["derived"]["c5_1_m1"]
    # The two adults are citizens of the commune (15 or over); the child is not counted.
    assert (share["numerator"], share["denominator"]) == (0, 2)
    assert {p["id"] for p in people}


def test_a_recognition_keeps_the_version_it_was_decided_under(client, admin, session):
    from app.assessments.models import Assessment, Decision
    from app.criteria.models import CriteriaVersionRecord

    commune = session.scalar(
        select(AdministrativeUnit.id).where(AdministrativeUnit.code == "00367", AdministrativeUnit.valid_to.is_(None))
    )
    old = session.scalar(
        select(CriteriaVersionRecord).where(
            CriteriaVersionRecord.title == "commune", CriteriaVersionRecord.version_id == "tt25-2023"
        )
    )
    assert old.state == "retired"
    # A recognition decided before the text was encoded (under the replaced version) stays so.
    assessment = Assessment(
        public_id=str(uuid.uuid4()),
        request_hash="0" * 64,
        chain_id="c",
        revision=1,
        title="commune",
        subject_id=commune,
        period=2024,
        unit_id=commune,
        reference_date=date(2024, 12, 31),
        criteria_version_id=old.id,
        criteria_content_hash=old.content_hash,
        answers="{}",
        result="{}",
        status="dat",
        total=1,
        state="decided",
    )
    session.add(assessment)
    session.flush()
    decision = Decision(
        unit_id=commune, number="9/QĐ", decided_on=date(2025, 3, 1), signer="x", title="commune", period=2024
    )
    session.add(decision)
    session.flush()
    session.add(
        Recognition(
            title="commune",
            subject_id=commune,
            period=2024,
            unit_id=commune,
            decision_id=decision.id,
            assessment_id=assessment.id,
            criteria_version_id=old.id,
            level="muc_do_1",
            valid_from=date(2025, 3, 1),
            valid_until=date(2028, 3, 1),
        )
    )
    session.commit()
    titles = client.get(f"{API}/subjects/commune/{commune}/titles", headers=admin).json()["items"]
    assert (titles[0]["criteria_version"], titles[0]["state"]) == ("tt25-2023", "active")

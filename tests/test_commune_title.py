"""The commune title (Cộng đồng học tập cấp xã, TT 25/2023) as a workflow with its legal dates
checked, played on the days it happens: the self-assessment of a year is dated 31/12, submitted
from 01/01 to 28/02 of the next year, decided by the province (since 01/7/2025) by 31/03 and not
before the dossier, kept until the end of the third year after the decision's year; mức độ 2
waits 12 months after mức độ 1. Phường Thanh Xuân (00367) in Hà Nội (01) is the commune."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select, update

from app import clock
from app.assessments.models import Assessment
from app.auth.models import Role
from app.rules import InvalidCriteria, diff_versions, load_file, load_text
from app.units.models import AdministrativeUnit
from tests.helpers import assert_problem
from tests.test_registry_e2e import Desk, on_day, review

CRITERIA = Path(__file__).parent.parent / "criteria"
CITIZEN_ALL_8 = {f"c{c}_{i}": 8 for c, n in ((1, 4), (2, 4), (3, 2)) for i in range(1, n + 1)}


@pytest.fixture
def desks(client, make_user):
    make_user("canbo.tx", Role.COMMUNE_OFFICER, ["00367"])
    make_user("thamdinh.a", Role.ASSESSOR, ["00367"])
    make_user("so.hn", Role.PROVINCE_OFFICER, ["01"])
    make_user("so.hp", Role.PROVINCE_OFFICER, ["31"])  # Hải Phòng: another province
    return {
        name: Desk(client, user)
        for name, user in [
            ("officer", "canbo.tx"),
            ("assessor", "thamdinh.a"),
            ("province", "so.hn"),
            ("other_province", "so.hp"),
        ]
    }


@pytest.fixture
def commune(session) -> int:
    return session.scalar(
        select(AdministrativeUnit.id).where(AdministrativeUnit.code == "00367", AdministrativeUnit.valid_to.is_(None))
    )


def refused(response, code: str, field: str) -> dict:
    """A 422 whose one error has this code and field, in Vietnamese."""
    body = assert_problem(response, 422, "validation_failed")
    assert [(e["code"], e["field"]) for e in body["errors"]] == [(code, field)], body
    return body


def citizens_hold_title(desks, year: int, people: list[int] | None = None) -> list[int]:
    """Two adult residents of the commune, recognised Công dân học tập for `year` on 15/12: the
    commune's chỉ tiêu 5.1 (share of its citizens holding the title) then counts 2 of 2."""
    officer, assessor = desks["officer"], desks["assessor"]
    with on_day(f"{year}-12-10", desks):
        if people is None:
            people = [
                officer.post(
                    "/people",
                    {
                        "full_name": name,
                        "birth_date": "1980-01-01",
                        "unit_code": "00367",
                        "resident_since": "2025-07-01",
                    },
                ).json()["id"]
                for name in ("Nguyễn Văn An", "Trần Thị Bình")
            ]
        filed = [
            assessor.post(
                "/assessments",
                {
                    "id": str(uuid.uuid4()),
                    "title": "citizen",
                    "subject_id": person,
                    "period": year,
                    "answers": CITIZEN_ALL_8,
                    "subject_group": "commune_resident",
                    "submit": True,
                },
            ).json()
            for person in people
        ]
        reviewed = [review(officer, assessment) for assessment in filed]
    with on_day(f"{year}-12-15", desks):
        # Other titles keep the commune's decision, by the commune's officer.
        decision = officer.post(
            "/decisions",
            {
                "commune_code": "00367",
                "number": f"{year}/QĐ-CDHT",
                "decided_on": f"{year}-12-15",
                "signer": "Chủ tịch UBND phường Thanh Xuân",
                "title": "citizen",
                "period": year,
                "assessment_ids": [a["id"] for a in reviewed],
            },
        ).json()
        assert decision["issuer_code"] == decision["commune_code"] == "00367"
    return people


def commune_answers(client, *, level: int) -> dict:
    """Every chỉ tiêu met at `level` (the derived share is the registry's)."""
    content = client.get(
        "/api/v1/criteria/in-force", params={"title": "commune", "on": "2025-12-31", "province": "01"}
    ).json()["content"]
    answers = {}
    for criterion in content["criteria"]:
        for indicator in criterion["indicators"]:
            met = level == 2 or "muc_do_2" not in (indicator.get("levels") or [])
            if indicator["kind"] == "yes_no":
                answers[indicator["id"]] = met
            elif indicator["kind"] == "number":
                answers[indicator["id"]] = float(indicator["threshold"]["value"]) - (0 if met else 1)
    return answers


def file_commune(desk, commune: int, period: int, answers: dict, *, submit: bool, expect=(201,), **extra):
    body = {
        "id": str(uuid.uuid4()),
        "title": "commune",
        "subject_id": commune,
        "period": period,
        "answers": answers,
        "submit": submit,
        **extra,
    }
    return desk.post("/assessments", body, expect=expect)


def transition(desk, assessment: dict, action: str, expect=(200,), **extra):
    etag = desk.get(f"/assessments/{assessment['id']}").headers["etag"]
    return desk.post(
        f"/assessments/{assessment['id']}/transitions",
        {"action": action, **extra},
        headers={"If-Match": etag},
        expect=expect,
    )


def decide(desk, number: str, period: int, assessments: list[dict], decided_on: str, expect=(201,)):
    return desk.post(
        "/decisions",
        {
            "commune_code": "00367",
            "number": number,
            "decided_on": decided_on,
            "signer": "Giám đốc Sở Giáo dục và Đào tạo",
            "title": "commune",
            "period": period,
            "assessment_ids": [a["id"] for a in assessments],
        },
        expect=expect,
    )


def test_a_year_of_the_commune_title_from_self_assessment_to_the_provinces_decision(client, desks, commune):
    officer, assessor, province, other_province = (
        desks[k] for k in ("officer", "assessor", "province", "other_province")
    )
    citizens_hold_title(desks, 2025)
    level_1 = commune_answers(client, level=1)

    with on_day("2025-12-15", desks):
        # The self-assessment covers the calendar year: not before its last day.
        response = file_commune(officer, commune, 2025, level_1, submit=False, expect=(422,))
        body = refused(response, "period_not_over", "body.period")
        assert "31/12/2025" in body["detail"] and "01/01/2026" in body["detail"]

    with on_day("2025-12-31", desks):
        draft = file_commune(officer, commune, 2025, level_1, submit=False).json()
        assert (draft["reference_date"], draft["criteria_version"]) == ("2025-12-31", "tt25-2023-two-tier")
        assert (draft["status"], draft["level"]) == ("dat", "muc_do_1")
        # Submitting the dossier in December 2025: the data window has not closed.
        body = refused(transition(officer, draft, "submit", expect=(422,)), "dossier_not_open", "body.action")
        assert "01/01/2026" in body["detail"] and "31/12/2025" in body["detail"]

    with on_day("2026-02-10", desks):
        submitted = transition(officer, draft, "submit").json()
        assert submitted["state"] == "submitted"
        reviewed = review(assessor, submitted)

    with on_day("2026-03-20", desks):
        # The commune does not recognise itself, nor does another province.
        for desk in (officer, other_province):
            assert_problem(decide(desk, "15/QĐ-SGDĐT", 2025, [reviewed], "2026-03-20", expect=(403,)), 403, "forbidden")
        decision = decide(province, "15/QĐ-SGDĐT", 2025, [reviewed], "2026-03-20").json()

    assert (decision["commune_code"], decision["issuer_code"]) == ("00367", "01")
    (recognition,) = decision["recognitions"]
    assert (recognition["subject_id"], recognition["unit_code"], recognition["level"]) == (commune, "00367", "muc_do_1")
    # "bảo lưu trong thời hạn 3 năm (36 tháng) tiếp theo năm được công nhận": 2027–2029 after a
    # decision of 2026, so the last day is 31/12/2029 (valid_until is the first day it no longer holds).
    assert (recognition["valid_from"], recognition["valid_until"]) == ("2026-03-20", "2030-01-01")

    with on_day("2029-12-31", desks):
        titles = officer.get(f"/subjects/commune/{commune}/titles").json()["items"]
        assert (titles[0]["period"], titles[0]["state"], titles[0]["valid_until"]) == (2025, "active", "2030-01-01")
    with on_day("2030-01-01", desks):
        assert officer.get(f"/subjects/commune/{commune}/titles").json()["items"][0]["state"] == "expired"

    # The commune reads the province's decision on it; the credential names the province as issuer.
    assert officer.get(f"/decisions/{decision['id']}").json()["issuer_code"] == "01"
    credential = province.get(f"/credentials/{recognition['credentials'][0]}").json()
    issuer = credential["document"]["issuer"]
    assert (issuer["id"].rsplit("/", 1)[1], issuer["name"]) == ("01", "UBND Thành phố Hà Nội")
    # Revoking is the decider's too: not the commune's officer.
    assert_problem(
        officer.post(f"/recognitions/{recognition['id']}/revoke", {"reason": "Kiểm tra"}, expect=(403,)),
        403,
        "forbidden",
    )


def test_the_dossier_is_submitted_from_1_january_to_28_february(client, desks, commune):
    officer, assessor = desks["officer"], desks["assessor"]
    level_1 = commune_answers(client, level=1)
    with on_day("2026-01-05", desks):
        # The reference day is the data window's last day, not another.
        response = file_commune(
            officer, commune, 2025, level_1, submit=False, reference_date="2025-11-30", expect=(422,)
        )
        assert "31/12/2025" in refused(response, "reference_date_fixed", "body.reference_date")["detail"]
        draft = file_commune(officer, commune, 2025, level_1, submit=False).json()
    with on_day("2026-02-28", desks):  # the last day, included
        submitted = transition(officer, draft, "submit").json()
        transition(assessor, submitted, "return", reason="Thiếu biên bản họp xét")
    with on_day("2026-03-01", desks):
        body = refused(transition(officer, submitted, "submit", expect=(422,)), "dossier_late", "body.action")
        assert "28/02/2026" in body["detail"] and "Điều 9 khoản 1 điểm d" in body["detail"]
        response = file_commune(officer, commune, 2025, level_1, submit=True, expect=(422,))
        refused(response, "dossier_late", "body.submit")
        # A draft may still be written; it cannot be sent this year.
        assert file_commune(officer, commune, 2025, level_1, submit=False).json()["state"] == "draft"


def test_the_decision_is_dated_by_31_march_and_not_before_the_dossier(client, desks, commune, session):
    officer, assessor, province = desks["officer"], desks["assessor"], desks["province"]
    citizens_hold_title(desks, 2025)
    with on_day("2026-02-10", desks):
        filed = file_commune(officer, commune, 2025, commune_answers(client, level=1), submit=True).json()
        reviewed = review(assessor, filed)
    with on_day("2026-04-01", desks):
        response = decide(province, "20/QĐ-SGDĐT", 2025, [reviewed], "2026-04-01", expect=(422,))
        body = refused(response, "decision_late", "body.decided_on")
        assert "31/03/2026" in body["detail"] and "Điều 9 khoản 3" in body["detail"]
        # A review recorded as done on paper before the dossier was sent: the decision still
        # follows the dossier, not the review.
        session.execute(
            update(Assessment)
            .where(Assessment.public_id == reviewed["id"])
            .values(reviewed_at=clock.start_of(date(2026, 2, 1)))
        )
        session.commit()
        response = decide(province, "20/QĐ-SGDĐT", 2025, [reviewed], "2026-02-05", expect=(422,))
        assert "10/02/2026" in refused(response, "before_submission", "body.decided_on")["detail"]
        decision = decide(province, "20/QĐ-SGDĐT", 2025, [reviewed], "2026-03-31").json()  # the last day, included
    assert decision["recognitions"][0]["valid_until"] == "2030-01-01"


def test_level_2_waits_12_months_after_level_1(client, desks, commune):
    officer, assessor, province = desks["officer"], desks["assessor"], desks["province"]
    people = citizens_hold_title(desks, 2025)
    level_1, level_2 = commune_answers(client, level=1), commune_answers(client, level=2)

    with on_day("2026-02-20", desks):
        # Mức độ 2 at once, with no mức độ 1 before: refused.
        first = review(assessor, file_commune(officer, commune, 2025, level_2, submit=True).json())
        assert first["level"] == "muc_do_2"
        response = decide(province, "5/QĐ-SGDĐT", 2025, [first], "2026-02-20", expect=(422,))
        assert "Mức độ 1" in refused(response, "level_too_early", "body.assessment_ids.0")["detail"]
        # The commune files again at mức độ 1, within the dossier's days.
        etag = officer.get(f"/assessments/{first['id']}").headers["etag"]
        corrected = officer.post(
            f"/assessments/{first['id']}/revisions",
            {"id": str(uuid.uuid4()), "answers": level_1, "submit": True},
            headers={"If-Match": etag},
        ).json()
        corrected = review(assessor, corrected)
    with on_day("2026-03-10", desks):
        decision = decide(province, "6/QĐ-SGDĐT", 2025, [corrected], "2026-03-10").json()
        assert decision["recognitions"][0]["level"] == "muc_do_1"

    citizens_hold_title(desks, 2026, people)
    with on_day("2027-02-01", desks):
        second = review(assessor, file_commune(officer, commune, 2026, level_2, submit=True).json())
        assert second["level"] == "muc_do_2"
    with on_day("2027-03-09", desks):  # 11 months and 27 days after mức độ 1
        response = decide(province, "7/QĐ-SGDĐT", 2026, [second], "2027-03-09", expect=(422,))
        body = refused(response, "level_too_early", "body.assessment_ids.0")
        assert "10/03/2026" in body["detail"] and "10/03/2027" in body["detail"]
    with on_day("2027-03-10", desks):  # 12 months
        decision = decide(province, "7/QĐ-SGDĐT", 2026, [second], "2027-03-10").json()
    assert [(r["level"], r["valid_until"]) for r in decision["recognitions"]] == [("muc_do_2", "2031-01-01")]


def test_the_two_tier_version_is_the_text_of_v2_with_the_workflow():
    """The new version repeats v2's criteria word for word: only its identity, start, notes and
    the workflow differ (v2 still applies to reference days before 01/7/2025)."""
    v2 = load_file(CRITERIA / "commune/tt25-2023-v2.yaml")
    two_tier = load_file(CRITERIA / "commune/tt25-2023-two-tier.yaml")
    assert v2.workflow is None
    changed = {change.path for change in diff_versions(v2, two_tier)}
    assert changed == {
        "version",
        "name",
        "replaces",
        "effective_from",
        "levels[muc_do_2].note",
        "procedure.note",
        "workflow",
    }
    assert (two_tier.workflow.decided_by_level, two_tier.workflow.next_level_after_months) == ("province", 12)


def test_a_workflow_names_deadlines_of_its_procedure():
    text = (CRITERIA / "commune/tt25-2023-two-tier.yaml").read_text(encoding="utf-8")
    with pytest.raises(InvalidCriteria) as invalid:
        load_text(text.replace("dossier_deadline: ho_so", "dossier_deadline: nop_ho_so"))
    assert [(issue.where, issue.message) for issue in invalid.value.issues] == [
        ("workflow.dossier_deadline", "unknown deadline 'nop_ho_so' (procedure.deadlines)")
    ]
    with pytest.raises(InvalidCriteria):
        load_text(text.replace("decided_by_level: province", "decided_by_level: district"))

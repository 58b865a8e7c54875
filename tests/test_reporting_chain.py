"""The yearly reporting chain end to end over HTTP (issue 17): two wards of Hà Nội and the city.
Phường Thanh Xuân submits on time, is returned with a reason, resubmits and is approved; its
2025 records are then locked (an assessment, a decision, a revocation refused with 409) until
the city unlocks it with a reason. Phường Khương Đình misses the deadline (01/12, KH 290) and
submits late. The city's consolidated numbers are the sum of the approved reports, and its
export opens in openpyxl with the same numbers. Capability flags are checked for every role."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from app.auth.models import Role
from tests import test_registry_e2e
from tests.helpers import assert_problem
from tests.test_registry_e2e import CITIZEN_ALL_8, Desk, assess, on_day, person, review

API = "/api/v1"
desks = test_registry_e2e.desks
PERIOD = "/reporting-periods/2025"
FLAGS = ("may_edit", "may_submit", "may_approve", "may_return", "may_unlock")


@pytest.fixture
def chain(client, desks, make_user):
    make_user("canbo.kd", Role.COMMUNE_OFFICER, ["00364"])
    make_user("thamdinh.kd2", Role.ASSESSOR, ["00364"])
    make_user("tinh.hn", Role.PROVINCE_OFFICER, ["01"])
    make_user("tinh.hp", Role.PROVINCE_OFFICER, ["31"])
    make_user("cong.tx", Role.PORTAL_CLIENT, ["00367"])
    names = {"kd": "canbo.kd", "kd2": "thamdinh.kd2", "city": "tinh.hn", "haiphong": "tinh.hp", "portal": "cong.tx"}
    return {**desks, **{key: Desk(client, user) for key, user in names.items()}}


def flags(report: dict) -> dict:
    return {name: report[name] for name in FLAGS}


def act(desk, unit: str, action: str, reason: str | None = None, expect=(200,)):
    return desk.post(f"{PERIOD}/reports/{unit}/transitions", {"action": action, "reason": reason}, expect=expect)


def citizens(filer, reviewer, village: str, names: list[str], first_id: int) -> list[dict]:
    reviewed = []
    for offset, name in enumerate(names):
        someone = person(filer, name, village, f"0010850{first_id + offset:05d}")
        assessment, _, _ = assess(filer, "citizen", someone["id"], 2025, CITIZEN_ALL_8, group="commune_resident")
        reviewed.append(review(reviewer, assessment))
    return reviewed


def put(desk, path: str, body: dict, expect=(200,)):
    response = desk.client.put(API + path, json=body, headers=desk.headers)
    assert response.status_code in expect, response.text
    return response


def decide(desk, commune: str, number: str, assessments: list[dict], day: str, expect=(201,)):
    body = {
        "commune_code": commune,
        "number": number,
        "decided_on": day,
        "signer": "Chủ tịch UBND phường",
        "title": "citizen",
        "period": 2025,
        "assessment_ids": [a["id"] for a in assessments],
    }
    return desk.post("/decisions", body, expect=expect)


def sum_of(reports: list[dict], title: str, field: str) -> int:
    return sum(
        item[field] or 0
        for report in reports
        for item in report["figures"]["items"]
        if item["title"] == title and item["segment"] is None
    )


def test_the_whole_chain_for_two_wards_and_the_city(chain):
    a, b, officer, kd, kd2, city = (chain[k] for k in ("a", "b", "officer", "kd", "kd2", "city"))
    with on_day("2025-11-18", chain):
        tx_village = officer.post(
            "/units/00367/villages", {"name": "Tổ dân phố số 3", "unit_type": "to_dan_pho", "valid_from": "2025-07-01"}
        ).json()["code"]
        kd_village = kd.post(
            "/units/00364/villages", {"name": "Tổ dân phố số 4", "unit_type": "to_dan_pho", "valid_from": "2025-07-01"}
        ).json()["code"]
        tx_reviewed = citizens(a, b, tx_village, ["Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường"], 1)
        kd_reviewed = citizens(chain["other"], kd2, kd_village, ["Phạm Thị Dung", "Hoàng Văn Em"], 11)
        decision = decide(officer, "00367", "12/QĐ-UBND", tx_reviewed[:2], "2025-11-18").json()
        decide(kd, "00364", "7/QĐ-UBND", kd_reviewed, "2025-11-18")
        spare = tx_reviewed[2]  # reviewed, not yet decided: decided later, after the lock

    with on_day("2025-11-20", chain):
        draft = officer.get(f"{PERIOD}/reports/00367").json()
        assert draft["state"] == "draft" and not draft["frozen"]
        assert draft["deadline"]["due_on"] == "2025-12-01"  # KH 290: the wards of Hà Nội report to the city
        assert "290/KH-UBND" in draft["deadline"]["source"]
        assert draft["timeliness"] == "open"
        citizen = next(i for i in draft["figures"]["items"] if i["title"] == "citizen" and i["segment"] is None)
        assert citizen["recognised"] == 2 and citizen["assessed"] >= 3
        assert flags(draft) == dict.fromkeys(FLAGS, False) | {"may_edit": True, "may_submit": True}
        assert flags(city.get(f"{PERIOD}/reports/00367").json()) == dict.fromkeys(FLAGS, False)
        # A value the registry cannot know, with its source; a value without a source is refused.
        official = {"value": 4200, "source": "Chi cục Thống kê, số liệu ngày 31/10/2025"}
        put(officer, f"{PERIOD}/reports/00367/fields", {"fields": {"official_households": official}})
        bad = officer.client.put(
            f"{API}{PERIOD}/reports/00367/fields",
            json={"fields": {"official_households": {"value": 1}}},
            headers=officer.headers,
        )
        assert_problem(bad, 422, "validation_failed")
        sent = act(officer, "00367", "submit").json()
        assert sent["state"] == "submitted" and sent["frozen"] and sent["timeliness"] == "on_time"
        assert {f["key"]: f["value"] for f in sent["typed_fields"]}["official_households"] == 4200
        # Only the level above judges: the ward cannot approve its own report.
        assert_problem(act(officer, "00367", "approve", expect=(403,)), 403, "forbidden")
        assert_problem(act(city, "00367", "return", "", expect=(422,)), 422, "validation_failed")
        returned = act(city, "00367", "return", "Thiếu số hộ gia đình của tổ dân phố số 3").json()
        assert returned["state"] == "returned" and returned["reason"].startswith("Thiếu số hộ")
        assert not returned["frozen"]

    with on_day("2025-11-25", chain):
        assert act(officer, "00367", "submit").json()["timeliness"] == "on_time"
        assert_problem(act(officer, "00367", "submit", expect=(409,)), 409, "report_state")
        approved = act(city, "00367", "approve").json()
        assert approved["state"] == "approved" and approved["locked"]
        assert flags(approved) == dict.fromkeys(FLAGS, False) | {"may_unlock": True}

    with on_day("2025-11-27", chain):
        # The ward's 2025 is locked: a new assessment, a decision and a revocation are refused.
        someone = person(a, "Vũ Thị Gấm", tx_village, "001085000099")
        refused, _, response = assess(
            a, "citizen", someone["id"], 2025, CITIZEN_ALL_8, group="commune_resident", expect=(409,)
        )
        assert_problem(response, 409, "period_locked")
        assert "đã được duyệt" in refused["detail"]
        assert_problem(
            decide(officer, "00367", "13/QĐ-UBND", [spare], "2025-11-27", expect=(409,)), 409, "period_locked"
        )
        recognition = decision["recognitions"][0]["id"]
        revoking = officer.post(f"/recognitions/{recognition}/revoke", {"reason": "Nhầm người"}, expect=(409,))
        assert_problem(revoking, 409, "period_locked")
        # Khương Đình is not locked by Thanh Xuân's approval.
        assert kd.get(f"{PERIOD}/reports/00364").json()["locked"] is False

    with on_day("2025-12-05", chain):
        states = city.get(f"{PERIOD}/provinces/01/communes", params={"limit": 200}).json()
        by_code = {item["unit"]["code"]: item for item in states["items"]}
        assert by_code["00367"]["timeliness"] == "on_time" and by_code["00367"]["state"] == "approved"
        assert by_code["00364"]["timeliness"] == "missing"
        assert states["counts"]["missing"] == states["total"] - 1  # every other ward of Hà Nội is late too
        late = act(kd, "00364", "submit").json()
        assert late["timeliness"] == "late"
        assert act(city, "00364", "approve").json()["state"] == "approved"
        # Unlocked by the city with a reason, the ward can decide again.
        assert_problem(act(city, "00367", "unlock", "  ", expect=(422,)), 422, "validation_failed")
        unlocked = act(city, "00367", "unlock", "Bổ sung quyết định công nhận còn sót").json()
        assert unlocked["state"] == "returned" and not unlocked["locked"]
        decide(officer, "00367", "13/QĐ-UBND", [spare], "2025-12-05")
        resubmitted = act(officer, "00367", "submit").json()
        assert resubmitted["timeliness"] == "late"  # sent again after the deadline
        act(city, "00367", "approve")

        history = officer.get(f"{PERIOD}/reports/00367/history").json()["items"]
        assert [h["action"] for h in history if h["action"] != "set_fields"] == [
            "submit",
            "return",
            "submit",
            "approve",
            "unlock",
            "submit",
            "approve",
        ]
        assert history[-3]["by"] == "tinh.hn" and history[-3]["reason"] == "Bổ sung quyết định công nhận còn sót"

        # The consolidated numbers are the sum of the approved reports, and only of those.
        tx = officer.get(f"{PERIOD}/reports/00367").json()
        kd_report = kd.get(f"{PERIOD}/reports/00364").json()
        assert sum_of([tx], "citizen", "recognised") == 3
        consolidated = city.get(f"{PERIOD}/provinces/01/consolidated").json()
        assert consolidated["approved"]["reports"] == 2
        approved_citizen = next(
            i for i in consolidated["approved"]["items"] if i["title"] == "citizen" and i["segment"] is None
        )
        for field in ("registered", "assessed", "recognised", "denominator"):
            assert approved_citizen[field] == sum_of([tx, kd_report], "citizen", field), field
        expected = round(100 * approved_citizen["recognised"] / approved_citizen["denominator"], 2)
        assert approved_citizen["percent"] == expected

        # The export opens in openpyxl with the API's numbers.
        exported = city.get(f"{PERIOD}/provinces/01/export", params={"format": "xlsx"})
        book = openpyxl.load_workbook(io.BytesIO(exported.content))
        sheet = book["Đã duyệt"]
        rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=4)]
        citizen_row = next(r for r in rows if r[0] == approved_citizen["title_name"] and not r[1])
        assert citizen_row[2:6] == [
            approved_citizen["registered"],
            approved_citizen["assessed"],
            approved_citizen["recognised"],
            approved_citizen["denominator"],
        ]
        status_sheet = {row[0].value: row for row in book["Tình hình gửi báo cáo"].iter_rows(min_row=2) if row[0].value}
        assert status_sheet["00364"][4].value == "Gửi muộn"
        text = city.get(f"{PERIOD}/provinces/01/export", params={"format": "csv"}).content.decode("utf-8-sig")
        assert "adults_in_learning_families" not in text and "Người lớn trong gia đình" in text  # named
        csv_rows = list(csv.reader(io.StringIO(text)))
        csv_citizen = next(r for r in csv_rows if r and r[0] == approved_citizen["title_name"] and not r[1])
        assert [int(v) for v in csv_citizen[2:6]] == citizen_row[2:6]


def test_capability_flags_and_reads_for_every_role(chain):
    officer, city = chain["officer"], chain["city"]
    with on_day("2025-11-20", chain):
        act(officer, "00367", "submit")
        expected = {
            "admin": {"may_approve": True, "may_return": True},
            "city": {"may_approve": True, "may_return": True},
            "officer": {},
            "a": {},  # an assessor of the ward reads, acts on nothing
        }
        for who, allowed in expected.items():
            report = chain[who].get(f"{PERIOD}/reports/00367").json()
            assert flags(report) == dict.fromkeys(FLAGS, False) | allowed, who
        # Outside their units: another ward's officer, another province, a ward portal.
        for who in ("kd", "haiphong", "portal"):
            response = chain[who].get(f"{PERIOD}/reports/00367", expect=(403, 404))
            assert response.status_code in (403, 404), who
        assert_problem(chain["haiphong"].get(f"{PERIOD}/provinces/01/communes", expect=(404,)), 404, "not_found")
        assert_problem(city.get(f"{PERIOD}/national/provinces", expect=(403,)), 403, "forbidden")
        # The city's own report goes to the national level: only an administrator approves it.
        assert act(city, "01", "submit").json()["state"] == "submitted"
        assert_problem(act(city, "01", "approve", expect=(403,)), 403, "forbidden")
        national = chain["admin"].get(f"{PERIOD}/national/provinces", params={"limit": 100}).json()
        hanoi = next(item for item in national["items"] if item["unit"]["code"] == "01")
        assert hanoi["state"] == "submitted" and hanoi["due_on"] == "2025-12-15"
        assert act(chain["admin"], "01", "approve").json()["state"] == "approved"
        # A province's approved report locks its wards' year as well.
        assert officer.get(f"{PERIOD}/reports/00367").json()["locked"] is True


def test_deadlines_are_data_a_province_officer_may_change_in_their_province(chain):
    city, haiphong = chain["city"], chain["haiphong"]
    with on_day("2025-11-20", chain):
        deadlines = city.get(f"{PERIOD}/deadlines", params={"limit": 200}).json()["items"]
        hanoi = next(d for d in deadlines if d["scope"] and d["scope"]["code"] == "01")
        assert hanoi["due_on"] == "2025-12-01" and not hanoi["set_by_officer"]
        # Xã Hồng Đức's own plan (KH 17, 15/12) binds the commune that succeeded it, in Hải Phòng.
        assert any(d["due_on"] == "2025-12-15" and d["scope"] and d["scope"]["code"] == "11167" for d in deadlines)
        body = {"level": "commune", "unit_code": "01", "due_on": "2025-12-10", "source": "Công văn 99/UBND-KGVX"}
        assert city.client.put(f"{API}{PERIOD}/deadlines", json=body, headers=city.headers).status_code == 200
        changed = city.get(f"{PERIOD}/reports/00367").json()["deadline"]
        assert changed["due_on"] == "2025-12-10" and changed["set_by_officer"]
        other = haiphong.client.put(f"{API}{PERIOD}/deadlines", json=body, headers=haiphong.headers)
        assert_problem(other, 403, "forbidden")
        national = {**body, "level": "province", "unit_code": None}
        refused = city.client.put(f"{API}{PERIOD}/deadlines", json=national, headers=city.headers)
        assert_problem(refused, 403, "forbidden")

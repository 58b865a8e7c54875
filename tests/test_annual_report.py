"""The annual report read as its users read it: segments by their Vietnamese names, never a raw
key; what is still short of a target, never a negative number, and whether it is met; every
target that applies, each with its document (Hà Nội's KH 290 and KH 291 for organisations);
only the reporting deadlines of documents that bind the unit (a commune is bound by the plans of
the former district whose communes it took over, Hà Nội never by a Hải Dương commune's plan);
and the CSV holding the same rows as the workbook."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date
from pathlib import Path

import openpyxl
import pytest
import yaml

from app.auth.models import Role
from app.spreadsheets import is_formula_like
from app.stats import counting
from app.stats.service import deadlines_binding
from app.units.service import get_unit
from tests.helpers import bearer, login, today

API = "/api/v1"
TARGETS = Path(__file__).parent.parent / "seed" / "targets"
# Every answer 8 (of 10) on each indicator: a pass under the Công dân học tập criteria.
CITIZEN_ALL_8 = {f"c{c}_{i}": 8 for c, n in ((1, 4), (2, 4), (3, 2)) for i in range(1, n + 1)}
SEGMENT_KEYS = [*counting.SEGMENT_LABELS, "disadvantaged"]


def seeded(name: str) -> dict:
    return yaml.safe_load((TARGETS / name).read_text(encoding="utf-8"))


def plan_document(key: str) -> dict:
    return next(doc for doc in seeded("plan_targets.yaml")["documents"] if doc["key"] == key)


def plan_deadlines(key: str) -> set[tuple[str, str]]:
    """A plan's reporting deadlines as seeded: (the plan by number and date, the sentence)."""
    doc = plan_document(key)
    cited = f"{doc['number']} ngày {doc['date']:%d/%m/%Y}"
    return {(cited, d["what"]) for d in seeded("plan_targets.yaml")["reporting_deadlines"] if d["document"] == key}


def seeded_percent(file: str, document: str, title: str, year: int) -> float:
    (percent,) = [
        t["percent"]
        for t in seeded(file)["targets"]
        if t["document"] == document and t["title"] == title and t.get("year") == year and not t.get("segment")
    ]
    return float(percent)


@pytest.fixture
def admin(client, make_user):
    make_user("quantri.baocao")
    return bearer(login(client, "quantri.baocao")["access_token"])


def download(client, headers, code: str, year: int, fmt: str = "xlsx", **params):
    response = client.get(f"{API}/units/{code}/report", params={"year": year, "format": fmt, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return response.content


def workbook(client, headers, code: str, year: int, **params) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(download(client, headers, code, year, **params)))


def trimmed(values) -> list:
    values = list(values)
    while values and values[-1] in (None, ""):
        values.pop()
    return values


def table(book: openpyxl.Workbook) -> list[dict]:
    """The first sheet's rows under its header (row 3), by column name."""
    sheet = book.worksheets[0]
    header = [cell.value for cell in sheet[3]]
    return [dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=4, values_only=True)]


def deadlines(book: openpyxl.Workbook) -> list[dict]:
    sheet = book["Hạn báo cáo"]
    header = [cell.value for cell in sheet[2]]
    rows = sheet.iter_rows(min_row=3, values_only=True)
    return [dict(zip(header, row, strict=True)) for row in rows if row[1] is not None]


def every_text(book: openpyxl.Workbook) -> list[str]:
    return [
        str(cell)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
        for cell in row
        if cell is not None
    ]


def progress(client, code: str, year: int) -> list[dict]:
    response = client.get(f"{API}/units/{code}/progress", params={"year": year})
    assert response.status_code == 200, response.text
    return response.json()["items"]


@pytest.fixture
def half_recognised(client, make_user):
    """Two adults living in Phường Thanh Xuân (00367), one of them recognised Công dân học tập
    for 2025 through the API: the ward's citizen percentage is 50."""
    make_user("thamdinh.bc1", Role.ASSESSOR, ["00367"])
    make_user("thamdinh.bc2", Role.ASSESSOR, ["00367"])
    make_user("canbo.bc", Role.COMMUNE_OFFICER, ["00367"])
    a, b, officer = (
        bearer(login(client, name)["access_token"]) for name in ("thamdinh.bc1", "thamdinh.bc2", "canbo.bc")
    )
    people = []
    for name, born in (("Trương Văn Lực", "1990-04-15"), ("Lê Thị Hoa", "1985-09-02")):
        created = client.post(
            f"{API}/people",
            headers=a,
            json={"full_name": name, "birth_date": born, "unit_code": "00367", "resident_since": "2025-07-01"},
        )
        assert created.status_code == 201, created.text
        people.append(created.json())
    filed = client.post(
        f"{API}/assessments",
        headers=a,
        json={
            "id": str(uuid.uuid4()),
            "title": "citizen",
            "subject_id": people[0]["id"],
            "period": 2025,
            "subject_group": "commune_resident",
            "answers": CITIZEN_ALL_8,
            "submit": True,
        },
    )
    assert filed.status_code == 201, filed.text
    reviewed = client.post(
        f"{API}/assessments/{filed.json()['id']}/transitions",
        json={"action": "review"},
        headers={**b, "If-Match": filed.headers["etag"]},
    )
    assert reviewed.status_code == 200, reviewed.text
    decision = client.post(
        f"{API}/decisions",
        headers=officer,
        json={
            "commune_code": "00367",
            "number": "21/QĐ-UBND",
            "decided_on": today(),
            "signer": "Chủ tịch",
            "title": "citizen",
            "period": 2025,
            "assessment_ids": [reviewed.json()["id"]],
        },
    )
    assert decision.status_code == 201, decision.text
    return people


def test_segments_are_named_in_vietnamese_never_by_their_keys(client, admin, make_user):
    make_user("tinh.baocao", Role.PROVINCE_OFFICER, ["01"])
    province = bearer(login(client, "tinh.baocao")["access_token"])
    # A unit group, and a target naming it as its segment: the report gets a row for the group.
    assert client.put(f"{API}/units/00367/groups/disadvantaged", headers=province).status_code == 204
    created = client.post(
        f"{API}/targets",
        headers=province,
        json={
            "unit_code": "00367",
            "title": "family",
            "year": 2025,
            "percent": 70,
            "segment": "disadvantaged",
            "document_number": "15/KH-UBND",
            "issuer": "UBND phường Thanh Xuân",
            "sentence": "70% hộ gia đình ở vùng khó khăn đạt danh hiệu Gia đình học tập.",
        },
    )
    assert created.status_code == 201, created.text
    for code, year in (("00367", 2025), ("01", 2025), ("00367", 2020)):
        items = progress(client, code, year)
        segments = {i["segment"] for i in items if i["segment"]}
        for item in items:
            assert item["segment_label"] == counting.segment_label(item["segment"])
        book = workbook(client, admin, code, year)
        rows = table(book)
        assert {row["Nhóm đối tượng"] or None for row in rows} == {None} | {counting.segment_label(s) for s in segments}
        texts = every_text(book)
        for key in [*SEGMENT_KEYS, *segments]:
            assert not any(key in text for text in texts), (code, year, key)
    ward = table(workbook(client, admin, "00367", 2025))
    group = "vùng miền núi, vùng sâu, vùng xa, vùng đặc biệt khó khăn"
    in_group = [row for row in ward if row["Nhóm đối tượng"] == f"Thuộc {group}"]
    assert [(row["Danh hiệu"], row["Chỉ tiêu (%)"]) for row in in_group] == [("Gia đình học tập", 70)]
    assert in_group[0]["Định nghĩa mẫu số"].endswith(f"thuộc {group}")
    learning = [row for row in ward if row["Nhóm đối tượng"] == counting.SEGMENT_LABELS["staff_of_learning_units"]]
    assert learning and all(row["Danh hiệu"] == "Công dân học tập" for row in learning)
    # QĐ 281's targets for disadvantaged areas (2020) are set for the group: named in words too.
    old = table(workbook(client, admin, "00367", 2020))
    assert {row["Đơn vị đặt chỉ tiêu"] for row in old if row["Chỉ tiêu (%)"] is not None} >= {
        "Toàn quốc",
        group[:1].upper() + group[1:],
    }


def test_a_met_target_shows_nothing_short_and_says_so(client, admin, half_recognised):
    items = progress(client, "00367", 2025)
    citizen = next(i for i in items if i["title"] == "citizen" and i["segment"] is None)
    assert (citizen["numerator"], citizen["denominator"], citizen["percent"]) == (1, 2, 50.0)
    assert len(citizen["targets"]) >= 3
    # The API: every target judged, the nearest one in force, no negative gap anywhere.
    for target in citizen["targets"]:
        assert target["gap"] == max(0.0, target["percent"] - 50.0)
        assert target["met"] is (target["percent"] <= 50.0)
    assert [t["in_force"] for t in citizen["targets"]] == [True] + [False] * (len(citizen["targets"]) - 1)
    head = citizen["targets"][0]
    assert (citizen["target_percent"], citizen["gap"], citizen["met"]) == (head["percent"], head["gap"], head["met"])
    assert citizen["target_source"] == head["source"]
    assert all(t["gap"] is None or t["gap"] >= 0 for i in items for t in i["targets"])
    assert all(i["gap"] is None or i["gap"] >= 0 for i in items)

    rows = table(workbook(client, admin, "00367", 2025))
    assert all(row["Còn thiếu (điểm %)"] is None or row["Còn thiếu (điểm %)"] >= 0 for row in rows)
    mine = [row for row in rows if row["Danh hiệu"] == "Công dân học tập" and not row["Nhóm đối tượng"]]
    assert len(mine) == len(citizen["targets"])
    for row in mine:
        assert row["Tỉ lệ (%)"] == 50.0
        assert row["Còn thiếu (điểm %)"] == max(0.0, row["Chỉ tiêu (%)"] - 50.0)
        assert row["Tình trạng"] == ("Đã đạt" if row["Chỉ tiêu (%)"] <= 50.0 else "Chưa đạt")
    # Both kinds are there: a target passed (where a signed gap would be negative) and one not.
    kh121 = seeded_percent("plan_targets.yaml", "kh121-2022-thanh-xuan", "citizen", 2025)
    qd1373 = seeded_percent("programme_targets.yaml", "qd1373-2021", "citizen", 2025)
    by_document = {row["Văn bản đặt chỉ tiêu"].split(" — ")[0]: row for row in mine}
    short = by_document[f"121/KH-UBND ngày {plan_document('kh121-2022-thanh-xuan')['date']:%d/%m/%Y}"]
    passed = by_document["1373/QĐ-TTg ngày 30/07/2021"]
    assert kh121 > 50 > qd1373
    assert (short["Còn thiếu (điểm %)"], short["Tình trạng"]) == (kh121 - 50, "Chưa đạt")
    assert (passed["Còn thiếu (điểm %)"], passed["Tình trạng"]) == (0, "Đã đạt")
    # A title nobody holds in a territory without any subject: not computable, not "short".
    nothing = [row for row in rows if row["Danh hiệu"] == "Đơn vị học tập" and not row["Nhóm đối tượng"]]
    assert nothing and all(
        row["Còn thiếu (điểm %)"] is None and row["Tình trạng"].startswith("Chưa tính được") for row in nothing
    )


def test_every_target_for_organisations_in_ha_noi_is_listed_with_its_document(client, admin):
    kh290 = plan_document("kh290-2021-ha-noi")
    for year in (2025, 2030):
        rows = table(workbook(client, admin, "01", year))
        units = [row for row in rows if row["Danh hiệu"] == "Đơn vị học tập" and not row["Nhóm đối tượng"]]
        by_document = {row["Văn bản đặt chỉ tiêu"]: row for row in units}
        city_2021 = f"290/KH-UBND ngày {kh290['date']:%d/%m/%Y} — UBND thành phố Hà Nội"
        assert by_document[city_2021]["Chỉ tiêu (%)"] == seeded_percent(
            "plan_targets.yaml", "kh290-2021-ha-noi", "unit", year
        )
        assert by_document["291/KH-UBND — UBND thành phố Hà Nội"]["Chỉ tiêu (%)"] == seeded_percent(
            "programme_targets.yaml", "kh291-ha-noi", "unit", year
        )
        for row in (by_document[city_2021], by_document["291/KH-UBND — UBND thành phố Hà Nội"]):
            assert row["Đơn vị đặt chỉ tiêu"] == "Thành phố Hà Nội (01)" and row["Câu nêu chỉ tiêu"]
        assert by_document[city_2021]["Câu trên là"] == "Nguyên văn của văn bản"
        assert by_document["291/KH-UBND — UBND thành phố Hà Nội"]["Câu trên là"].startswith("Tóm tắt của hệ thống")
        # The progress answer lists the same targets; the first one is the one in force.
        item = next(i for i in progress(client, "01", year) if i["title"] == "unit" and i["segment"] is None)
        numbers = [t["source"]["document_number"] for t in item["targets"]]
        assert {"290/KH-UBND", "291/KH-UBND"} <= set(numbers) and len(numbers) == len(units)
        assert (item["target_percent"], item["target_source"]) == (
            item["targets"][0]["percent"],
            item["targets"][0]["source"],
        )


def test_the_deadlines_are_those_of_the_documents_binding_the_unit(client, admin):
    hanoi_2021 = plan_deadlines("kh290-2021-ha-noi")
    thanh_xuan = plan_deadlines("kh121-2022-thanh-xuan")
    hong_duc = plan_deadlines("kh17-2022-hong-duc")
    assert hanoi_2021 and thanh_xuan and hong_duc

    def listed(code, year, **params):
        return {
            (row["Văn bản"], row["Nội dung"]): row for row in deadlines(workbook(client, admin, code, year, **params))
        }

    city = listed("01", 2025)
    assert set(city) == hanoi_2021  # not a Hải Dương commune's plan, nor the former districts' plans
    assert all(row["Vì sao áp dụng cho đơn vị"] == "Văn bản của chính đơn vị" for row in city.values())
    # A ward of former quận Thanh Xuân: the city's plan, and the district's (it took over its wards).
    ward = listed("00367", 2025)
    assert set(ward) == hanoi_2021 | thanh_xuan
    assert {ward[what]["Vì sao áp dụng cho đơn vị"] for what in thanh_xuan} == {
        "Văn bản của đơn vị cũ, nay thuộc địa bàn đơn vị (sau sắp xếp đơn vị hành chính)"
    }
    assert {ward[what]["Vì sao áp dụng cho đơn vị"] for what in hanoi_2021} == {"Văn bản của cấp trên"}
    # Xã Hồng Đức (Hải Dương) in 2022, and xã Tân An (Hải Phòng), which took it over: its own plan only.
    assert set(listed("11167", 2022, as_of="2022-03-08")) == hong_duc
    tan_an = listed("11167", 2025)
    assert set(tan_an) == hong_duc
    assert all(row["Phạm vi của văn bản"].startswith("Xã Hồng Đức (11167)") for row in tan_an.values())


def test_a_plan_binds_from_its_date(session):
    """The time rule of deadlines_binding: quận Thanh Xuân's KH 121 (23/3/2022) binds its wards
    from that day on, not before."""
    issued = plan_document("kh121-2022-thanh-xuan")["date"]
    ward = get_unit(session, "00367", date(2022, 1, 1))  # Phường Thanh Xuân Bắc
    before = {d.document_key for d in deadlines_binding(session, ward, date(2022, 1, 1))}
    after = deadlines_binding(session, ward, issued)
    assert "kh121-2022-thanh-xuan" not in before and "kh290-2021-ha-noi" in before
    assert {d.binds_as for d in after if d.document_key == "kh121-2022-thanh-xuan"} == {"ancestor"}
    assert {d.document_key for d in after} == {"kh121-2022-thanh-xuan", "kh290-2021-ha-noi"}
    yearly = next(d for d in after if d.document_key == "kh121-2022-thanh-xuan" and d.every_year)
    assert yearly.day_and_month == (25, 11)


@pytest.mark.parametrize(("code", "year"), [("00367", 2025), ("01", 2030)])
def test_the_csv_has_the_workbooks_rows(client, admin, half_recognised, code, year):
    book = workbook(client, admin, code, year)

    def shown(value) -> str:
        """A cell as text; numbers alike whichever way they were written (50, 50.0)."""
        if value is None:
            return ""
        try:
            return f"{float(value):g}"
        except ValueError:
            return str(value)

    def unquoted(cell: str) -> str:  # a formula-like cell is written with a leading apostrophe
        return cell[1:] if cell.startswith("'") and is_formula_like(cell[1:]) else cell

    expected = [trimmed(shown(v) for v in row) for row in book.worksheets[0].iter_rows(values_only=True)]
    expected.append([])
    expected += [trimmed(shown(v) for v in row) for row in book["Hạn báo cáo"].iter_rows(values_only=True)]
    text = download(client, admin, code, year, "csv").decode("utf-8")
    assert text.startswith("\ufeff")
    got = [trimmed(shown(unquoted(cell)) for cell in row) for row in csv.reader(io.StringIO(text[1:]))]
    assert got == expected
    assert len(got) > 10 and any(row and row[0] == "Hạn" for row in got)

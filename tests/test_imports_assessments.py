"""Importing registrations, assessments (a template per title and criteria version) and the
recognition decisions of past years, through the API: each template round-trips (downloaded,
filled with openpyxl, uploaded, the rows then visible through the API); a dry run with bad rows
names each row, column and reason and writes nothing; one bad row and nothing is written; the
same file again creates nothing; an imported assessment scores exactly as the API scores the
same answers; an imported decision gets its credentials signed with the app's keys."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from app import clock
from tests import test_registry_e2e
from tests.helpers import assert_problem
from tests.test_imports import finished
from tests.test_registry_e2e import CCCD, CITIZEN_ALL_8, FAMILY_GOOD, household, person

API = "/api/v1"
desks = test_registry_e2e.desks
THIS_YEAR = clock.today().year
PAST = THIS_YEAR - 1  # the past year whose assessments and decisions are imported
SUBJECT = ["Số CCCD", "Tên đối tượng", "Ngày sinh", "Mã đơn vị"]
CITIZEN = "citizen:qd324-2023"
FAMILY = "family:hkhvn-2022"


@pytest.fixture
def world(desks):
    """A residential group of Phường Thanh Xuân with three people (one without a national ID),
    three households, a clan and a school."""
    officer, a = desks["officer"], desks["a"]
    village = officer.post(
        "/units/00367/villages", {"name": "Tổ dân phố số 31", "unit_type": "to_dan_pho", "valid_from": "2025-07-01"}
    ).json()["code"]
    an = person(a, "Nguyễn Văn An", village, CCCD[0])
    binh = person(a, "Trần Thị Bình", village, CCCD[1], birth="1987-07-09")
    cuong = person(a, "Lê Văn Cường", village, birth="1990-01-01")
    homes = [
        household(a, "Hộ ông Nguyễn Văn An", village, [an["id"]]),
        household(a, "Hộ bà Trần Thị Bình", village, [binh["id"]]),
        household(a, "Hộ ông Lê Văn Cường", village, [cuong["id"]]),
    ]
    clan = a.post(
        "/clans",
        {"name": "Dòng họ Nguyễn Văn", "home_commune_code": "00367", "since": "2025-07-01", "household_ids": []},
    ).json()
    school = a.post(
        "/organisations",
        {"name": "Trường Tiểu học Thanh Xuân", "kind": "school", "unit_code": "00367", "since": "2025-07-01"},
    ).json()
    return {"village": village, "an": an, "binh": binh, "cuong": cuong, "homes": homes, "clan": clan, "school": school}


def template(desk, kind: str, variant: str | None = None) -> openpyxl.Workbook:
    params = {"variant": variant} if variant else {}
    response = desk.get(f"/imports/templates/{kind}.xlsx", params=params)
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Dữ liệu", "Hướng dẫn"]
    return book


def headers(book: openpyxl.Workbook) -> list[str]:
    return [cell.value for cell in book["Dữ liệu"][1]]


def filled(book: openpyxl.Workbook, rows: list[dict[str, str]]) -> bytes:
    """The template with its example rows replaced by `rows` (cells by header)."""
    sheet, names = book["Dữ liệu"], headers(book)
    assert all(set(row) <= set(names) for row in rows), set().union(*rows) - set(names)
    sheet.delete_rows(2, sheet.max_row)
    for row in rows:
        sheet.append([row.get(name) for name in names])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def as_csv(names: list[str], rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(names)
    for row in rows:
        writer.writerow([row.get(name, "") for name in names])
    return out.getvalue().encode("utf-8")


def upload(desk, kind: str, content: bytes, name: str, *, dry_run: bool, variant: str | None = None, expect=(200, 202)):
    data = {"kind": kind, "dry_run": "true" if dry_run else "false"}
    if variant:
        data["variant"] = variant
    response = desk.client.post(f"{API}/imports", headers=desk.headers, data=data, files={"file": (name, content)})
    assert response.status_code in expect, response.text
    return response


def run(desk, kind: str, content: bytes, name: str, *, dry_run: bool, variant: str | None = None) -> dict:
    return finished(desk, upload(desk, kind, content, name, dry_run=dry_run, variant=variant).json()["id"])


def errors_of(job: dict) -> list[tuple[int, str]]:
    return sorted((error["row"], error["column"]) for error in job["errors"])


def titles(desk, kind: str, subject_id: int) -> list[dict]:
    return desk.get(f"/subjects/{kind}/{subject_id}/titles").json()["items"]


# --- registrations ------------------------------------------------------------------------------


def test_registrations_round_trip_and_idempotent(desks, world):
    officer, village = desks["officer"], world["village"]
    book = template(officer, "registrations")
    assert headers(book) == ["Danh hiệu", *SUBJECT, "Năm đăng ký", "Ngày đăng ký"]
    year = str(THIS_YEAR)
    rows = [
        {"Danh hiệu": "Công dân học tập", "Số CCCD": CCCD[0], "Năm đăng ký": year},
        # Without a national ID: name, birth date and the unit; the title written without accents.
        {
            "Danh hiệu": "cong dan hoc tap",
            "Tên đối tượng": "Lê Văn Cường",
            "Ngày sinh": "01/01/1990",
            "Mã đơn vị": village,
            "Năm đăng ký": year,
            "Ngày đăng ký": f"02/01/{year}",
        },
        {
            "Danh hiệu": "Gia đình học tập",
            "Tên đối tượng": "hộ ông nguyễn văn an",
            "Mã đơn vị": village,
            "Năm đăng ký": year,
        },
        {
            "Danh hiệu": "Dòng họ học tập",
            "Tên đối tượng": "Dòng họ Nguyễn Văn",
            "Mã đơn vị": "00367",
            "Năm đăng ký": year,
        },
        {"Danh hiệu": "Cộng đồng học tập", "Mã đơn vị": village, "Năm đăng ký": year},
        {
            "Danh hiệu": "Đơn vị học tập",
            "Tên đối tượng": "Trường Tiểu học Thanh Xuân",
            "Mã đơn vị": "00367",
            "Năm đăng ký": year,
        },
    ]
    content = filled(book, rows)
    dry = run(officer, "registrations", content, "dang-ky.xlsx", dry_run=True)
    assert (dry["state"], dry["created"], dry["error_count"]) == ("done", 6, 0), dry["errors"]
    assert titles(officer, "person", world["an"]["id"])[0]["state"] == "none"  # a dry run writes nothing

    done = run(officer, "registrations", content, "dang-ky.xlsx", dry_run=False)
    assert (done["state"], done["created"], done["matched"]) == ("done", 6, 0), done["errors"]
    subjects = [
        ("person", world["an"]["id"]),
        ("person", world["cuong"]["id"]),
        ("household", world["homes"][0]["id"]),
        ("clan", world["clan"]["id"]),
        ("organisation", world["school"]["id"]),
    ]
    for kind, subject_id in subjects:
        assert [(t["state"], t["period"]) for t in titles(officer, kind, subject_id)] == [("registered", THIS_YEAR)]
    village_id = officer.get(f"/units/{village}").json()["id"]
    assert titles(officer, "community", village_id)[0]["state"] == "registered"

    # The same file again: answered with the first import. The same rows saved as CSV: all matched.
    again = upload(officer, "registrations", content, "dang-ky.xlsx", dry_run=False)
    assert again.status_code == 200 and again.json()["id"] == done["id"]
    resaved = run(officer, "registrations", as_csv(headers(book), rows), "dang-ky.csv", dry_run=False)
    assert (resaved["state"], resaved["created"], resaved["matched"]) == ("done", 0, 6)


def test_registrations_with_bad_rows_write_nothing(desks, world):
    officer, village = desks["officer"], world["village"]
    names = headers(template(officer, "registrations"))
    year = str(THIS_YEAR)
    rows = [
        {"Danh hiệu": "Công dân học tập", "Số CCCD": CCCD[1], "Năm đăng ký": year},  # good
        {"Danh hiệu": "Công dân học tập", "Số CCCD": "001099999999", "Năm đăng ký": year},  # nobody
        {"Danh hiệu": "Người tốt việc tốt", "Số CCCD": CCCD[1], "Năm đăng ký": year},
        {"Danh hiệu": "Công dân học tập", "Số CCCD": CCCD[1], "Năm đăng ký": year, "Ngày đăng ký": "31/02/2026"},
        {"Danh hiệu": "Công dân học tập", "Số CCCD": CCCD[1], "Năm đăng ký": str(THIS_YEAR + 2)},
        {"Danh hiệu": "Gia đình học tập", "Tên đối tượng": "Hộ không có", "Mã đơn vị": village, "Năm đăng ký": year},
        {"Danh hiệu": "Cộng đồng học tập", "Mã đơn vị": "00364", "Năm đăng ký": year},  # a commune, not a village
    ]
    content = as_csv(names, rows)
    expected = [
        (3, "Số CCCD"),
        (4, "Danh hiệu"),
        (5, "Ngày đăng ký"),
        (6, "Năm đăng ký"),
        (7, "Tên đối tượng"),
        (8, "Mã đơn vị"),
    ]
    for dry_run in (True, False):  # checked, then written: all or nothing
        job = run(officer, "registrations", content, "dang-ky.csv", dry_run=dry_run)
        assert (job["state"], job["created"], errors_of(job)) == ("refused", 0, expected), job["errors"]
        assert titles(officer, "person", world["binh"]["id"])[0]["state"] == "none"
    reasons = {error["row"]: error for error in job["errors"]}
    assert reasons[3]["value"] == "********9999"  # a national ID is never shown in clear
    assert "phạm vi quản lý" in reasons[3]["reason"]
    assert reasons[5]["reason"] == "Ngày không hợp lệ; viết dd/mm/yyyy."
    assert "năm nay hoặc năm sau" in reasons[6]["reason"]
    assert "không phải cấp thôn" in reasons[8]["reason"]
    report = openpyxl.load_workbook(io.BytesIO(officer.get(f"/imports/{job['id']}/errors.xlsx").content)).active
    assert [c.value for c in report[1]] == ["Dòng", "Cột", "Giá trị", "Lý do"] and report.max_row == 1 + len(expected)


# --- assessments --------------------------------------------------------------------------------


def test_assessment_templates_follow_the_criteria_version(client, desks):
    officer = desks["officer"]
    kinds = {kind["key"]: kind for kind in officer.get("/imports/kinds").json()["items"]}
    variants = [variant["key"] for variant in kinds["assessments"]["variants"]]
    assert {CITIZEN, FAMILY, "clan:hkhvn-2022", "unit:tt24-2023-province"} <= set(variants)
    assert not any(key.startswith("commune:") for key in variants)
    version = client.get(f"{API}/criteria/versions/citizen/qd324-2023").json()["content"]
    labels = [indicator["label"] for criterion in version["criteria"] for indicator in criterion["indicators"]]
    assert headers(template(officer, "assessments", CITIZEN)) == [
        *SUBJECT,
        "Năm đánh giá",
        "Ngày tham chiếu",
        "Nhóm đối tượng",
        "Nhóm địa bàn",
        *labels,
        "Trạng thái",
        "Ngày thẩm định",
    ]
    # A clan's shares of households and members are the registry's to compute: no column for them.
    clan = client.get(f"{API}/criteria/versions/clan/hkhvn-2022").json()["content"]
    [answered] = [i["label"] for c in clan["criteria"] for i in c["indicators"] if i["kind"] != "derived"]
    assert headers(template(officer, "assessments", "clan:hkhvn-2022")) == [
        "Tên đối tượng",
        "Mã đơn vị",
        "Năm đánh giá",
        "Ngày tham chiếu",
        answered,
        "Trạng thái",
        "Ngày thẩm định",
    ]
    guide = [row[2].value for row in template(officer, "assessments", FAMILY)["Hướng dẫn"].iter_rows() if len(row) > 2]
    assert "Điểm từ 0 đến 10. Bắt buộc." in guide
    for bad in ("citizen:khong-co", "commune:tt25-2023", None):
        params = {"variant": bad} if bad else {}
        response = officer.client.get(
            f"{API}/imports/templates/assessments.xlsx", headers=officer.headers, params=params
        )
        assert assert_problem(response, 422, "validation_failed")["errors"][0]["field"] == "variant"
    refused = upload(officer, "assessments", b"x", "x.csv", dry_run=True, variant="citizen:khong-co", expect=(422,))
    assert assert_problem(refused, 422, "validation_failed")["errors"][0]["field"] == "variant"


def citizen_row(subject: dict[str, str], scores: dict[str, int], group: str, state: str = "", **more) -> dict:
    return {**subject, "Năm đánh giá": str(PAST), "Nhóm đối tượng": group, **scores, "Trạng thái": state, **more}


def test_assessments_round_trip_score_as_the_api_and_replay(client, desks, world):
    a, admin = desks["a"], desks["admin"]
    book = template(a, "assessments", CITIZEN)
    version = client.get(f"{API}/criteria/versions/citizen/qd324-2023").json()["content"]
    label = {i["id"]: i["label"] for criterion in version["criteria"] for i in criterion["indicators"]}
    scores = {label[key]: str(value) for key, value in CITIZEN_ALL_8.items()}
    rows = [
        citizen_row({"Số CCCD": CCCD[0]}, scores, "Người dân trong xã", "đã nộp"),
        # 79 points (one indicator at 7): fails; left as a draft; the group written by its code.
        citizen_row(
            {"Tên đối tượng": "Lê Văn Cường", "Ngày sinh": "01/01/1990", "Mã đơn vị": world["village"]},
            {**scores, label["c3_2"]: "7"},
            "worker",
            "nháp",
        ),
    ]
    content = filled(book, rows)
    dry = run(a, "assessments", content, "danh-gia.xlsx", dry_run=True, variant=CITIZEN)
    assert (dry["state"], dry["created"], dry["error_count"]) == ("done", 2, 0), dry["errors"]
    assert a.get("/assessments").json()["total"] == 0
    done = run(a, "assessments", content, "danh-gia.xlsx", dry_run=False, variant=CITIZEN)
    assert (done["state"], done["created"], done["variant"]) == ("done", 2, CITIZEN), done["errors"]
    by_subject = {
        item["subject_id"]: item for item in a.get("/assessments", params={"title": "citizen"}).json()["items"]
    }
    an, cuong = by_subject[world["an"]["id"]], by_subject[world["cuong"]["id"]]
    assert (an["state"], an["status"], an["total"], an["period"]) == ("submitted", "dat", 80, PAST)
    assert (an["criteria_version"], an["subject_group"], an["reference_date"]) == (
        "qd324-2023",
        "commune_resident",
        f"{PAST}-12-31",
    )
    assert (cuong["state"], cuong["status"], cuong["total"], cuong["subject_group"]) == (
        "draft",
        "khong_dat",
        79,
        "worker",
    )

    # The same answers through the API, for another person: the same score, the same trace.
    from_api, _, _ = test_registry_e2e.assess(
        a, "citizen", world["binh"]["id"], PAST, CITIZEN_ALL_8, group="commune_resident"
    )
    assert (from_api["status"], from_api["total"], from_api["result"]) == (an["status"], an["total"], an["result"])

    # The same file again: the first import's answer. The same rows as CSV, now with An reviewed
    # by an administrator on the day of the paper review: replayed into the same assessments.
    again = upload(a, "assessments", content, "danh-gia.xlsx", dry_run=False, variant=CITIZEN)
    assert again.status_code == 200 and again.json()["id"] == done["id"]
    rows[0]["Trạng thái"], rows[0]["Ngày thẩm định"] = "Đã thẩm định", f"10/12/{PAST}"
    replay = run(admin, "assessments", as_csv(headers(book), rows), "danh-gia.csv", dry_run=False, variant=CITIZEN)
    assert (replay["state"], replay["created"], replay["matched"]) == ("done", 0, 2), replay["errors"]
    assert a.get("/assessments").json()["total"] == 3  # two imported, one through the API
    reviewed = a.get(f"/assessments/{an['id']}").json()
    assert (reviewed["state"], reviewed["created_at"]) == ("reviewed", an["created_at"])


def test_assessments_with_bad_rows_write_nothing(client, desks, world):
    officer, village = desks["officer"], world["village"]
    names = headers(template(officer, "assessments", FAMILY))
    version = client.get(f"{API}/criteria/versions/family/hkhvn-2022").json()["content"]
    label = {i["id"]: i["label"] for criterion in version["criteria"] for i in criterion["indicators"]}
    good = {label[key]: str(value) for key, value in FAMILY_GOOD.items()}

    def row(home: str, answers: dict, **more) -> dict:
        return {"Tên đối tượng": home, "Mã đơn vị": village, "Năm đánh giá": str(PAST), **answers, **more}

    rows = [
        row("Hộ ông Nguyễn Văn An", good),  # good
        row("Hộ bà Trần Thị Bình", {**good, label["c1_1"]: "11"}),
        row("Hộ ông Lê Văn Cường", {key: value for key, value in good.items() if key != label["c4_1"]}),
        row("Hộ không có", good),
        # The officer filed it in this file, so the officer may not review it (four eyes).
        row("Hộ ông Lê Văn Cường", good, **{"Trạng thái": "đã thẩm định"}),
        row("Hộ bà Trần Thị Bình", good, **{"Năm đánh giá": "năm ngoái"}),
        row("Hộ ông Nguyễn Văn An", good, **{"Năm đánh giá": str(THIS_YEAR), "Ngày thẩm định": f"01/12/{PAST}"}),
        row("Hộ ông Lê Văn Cường", good, **{"Năm đánh giá": "2021"}),  # QĐ 448 was in force then
    ]
    content = as_csv(names, rows)
    expected = [
        (3, label["c1_1"]),
        (4, label["c4_1"]),
        (5, "Tên đối tượng"),
        (6, "Trạng thái"),
        (7, "Năm đánh giá"),
        (8, "Ngày thẩm định"),
        (9, "Năm đánh giá"),
    ]
    for dry_run in (True, False):
        job = run(officer, "assessments", content, "danh-gia.csv", dry_run=dry_run, variant=FAMILY)
        assert (job["state"], job["created"], errors_of(job)) == ("refused", 0, expected), job["errors"]
        assert officer.get("/assessments").json()["total"] == 0
    reasons = {error["row"]: error["reason"] for error in job["errors"]}
    assert reasons[3] == "Điểm phải từ 0 đến 10."
    assert reasons[4] == "Chỉ số bắt buộc chưa có câu trả lời."
    assert "khác người lập" in reasons[6] and "quản trị" in reasons[6]
    assert "family:qd448-2016" in reasons[9]


# --- decisions of past years --------------------------------------------------------------------


def test_past_decisions_need_reviewed_assessments_and_get_credentials(app, desks, world):
    a, officer, admin, village = desks["a"], desks["officer"], desks["admin"], world["village"]
    citizen_names = headers(template(a, "assessments", CITIZEN))
    family_names = headers(template(a, "assessments", FAMILY))
    reviewed = {"Trạng thái": "đã thẩm định", "Ngày thẩm định": f"10/12/{PAST}", "Năm đánh giá": str(PAST)}
    citizens = [
        {"Số CCCD": CCCD[0], "Nhóm đối tượng": "Người lao động", **reviewed},
        {"Số CCCD": CCCD[1], "Nhóm đối tượng": "Người lao động", **reviewed},
        {"Số CCCD": "", "Tên đối tượng": "Lê Văn Cường", "Ngày sinh": "01/01/1990", "Mã đơn vị": village}
        | {"Nhóm đối tượng": "Người lao động", "Năm đánh giá": str(PAST), "Trạng thái": "đã nộp"},
    ]
    citizen_labels = citizen_names[8:18]
    for row in citizens:
        row.update(dict.fromkeys(citizen_labels, "9"))
    job = run(admin, "assessments", as_csv(citizen_names, citizens), "cd.csv", dry_run=False, variant=CITIZEN)
    assert (job["state"], job["created"]) == ("done", 3), job["errors"]
    family_labels = family_names[4:12]
    home = {"Tên đối tượng": "Hộ ông Nguyễn Văn An", "Mã đơn vị": village, **reviewed} | dict.fromkeys(
        family_labels, "10"
    )
    job = run(admin, "assessments", as_csv(family_names, [home]), "gd.csv", dry_run=False, variant=FAMILY)
    assert (job["state"], job["created"]) == ("done", 1), job["errors"]

    book = template(officer, "decisions")
    decision = ["Mã xã ra quyết định", "Số quyết định", "Ngày quyết định", "Người ký", "Danh hiệu", "Năm đánh giá"]
    assert headers(book) == [*decision, *SUBJECT]
    signed = {
        "Mã xã ra quyết định": "00367",
        "Ngày quyết định": f"20/12/{PAST}",
        "Người ký": "Chủ tịch UBND phường Thanh Xuân",
        "Năm đánh giá": str(PAST),
    }
    citizen_decision = {**signed, "Số quyết định": f"15/QĐ-UBND-{PAST}", "Danh hiệu": "Công dân học tập"}
    rows = [
        {**citizen_decision, "Số CCCD": CCCD[0]},
        {**citizen_decision, "Tên đối tượng": "Trần Thị Bình", "Ngày sinh": "09/07/1987", "Mã đơn vị": village},
        {**signed, "Số quyết định": f"16/QĐ-UBND-{PAST}", "Danh hiệu": "Gia đình học tập"}
        | {"Tên đối tượng": "Hộ ông Nguyễn Văn An", "Mã đơn vị": village},
    ]
    # Lê Văn Cường's assessment is only submitted: the decision naming him is refused, and with it
    # the whole file (the family decision too), checked or written.
    cuong = {**citizen_decision, "Tên đối tượng": "Lê Văn Cường", "Ngày sinh": "01/01/1990", "Mã đơn vị": village}
    with_cuong = filled(template(officer, "decisions"), [*rows, cuong])
    assert_problem(upload(a, "decisions", with_cuong, "qd.xlsx", dry_run=True, expect=(403,)), 403, "forbidden")
    for dry_run in (True, False):
        job = run(officer, "decisions", with_cuong, "qd.xlsx", dry_run=dry_run)
        assert (job["state"], job["created"], errors_of(job)) == ("refused", 0, [(5, "Tên đối tượng")]), job["errors"]
        assert "“đã nộp”, chưa được thẩm định" in job["errors"][0]["reason"]
        assert officer.get("/recognitions").json()["total"] == 0

    content = filled(book, rows)
    done = run(officer, "decisions", content, "qd.xlsx", dry_run=False)
    assert (done["state"], done["created"], done["matched"]) == ("done", 2, 0), done["errors"]
    recognitions = officer.get("/recognitions").json()["items"]
    assert sorted((r["title"], r["subject_id"], r["decision_number"]) for r in recognitions) == sorted(
        [
            ("citizen", world["an"]["id"], f"15/QĐ-UBND-{PAST}"),
            ("citizen", world["binh"]["id"], f"15/QĐ-UBND-{PAST}"),
            ("family", world["homes"][0]["id"], f"16/QĐ-UBND-{PAST}"),
        ]
    )
    assert {r["decided_on"] for r in recognitions} == {f"{PAST}-12-20"}
    # Each recognition has its credential, signed with the app's own key as POST /decisions does.
    for recognition in recognitions:
        [code] = recognition["credentials"]
        credential = officer.get(f"/credentials/{code}").json()
        assert credential["kid"] == app.state.credential_signing.keys.kid
        assert credential["status"] in ("valid", "expired")
    held = titles(officer, "person", world["an"]["id"])[0]
    assert (held["period"], held["decision_number"]) == (PAST, f"15/QĐ-UBND-{PAST}")
    an = officer.get("/assessments", params={"subject_id": world["an"]["id"]}).json()["items"][0]
    assert an["state"] == "decided"

    again = upload(officer, "decisions", content, "qd.xlsx", dry_run=False)
    assert again.status_code == 200 and again.json()["id"] == done["id"]
    resaved = run(officer, "decisions", as_csv(headers(book), rows), "qd.csv", dry_run=False)
    assert (resaved["state"], resaved["created"], resaved["matched"]) == ("done", 0, 2), resaved["errors"]
    assert officer.get("/recognitions").json()["total"] == 3
    # A recorded decision cannot gain a subject through a file.
    grown = as_csv(headers(book), [*rows, cuong])
    job = run(officer, "decisions", grown, "qd-them.csv", dry_run=True)
    assert (job["state"], errors_of(job)) == ("refused", [(5, "Tên đối tượng")])
    assert "đã được ghi nhận" in job["errors"][0]["reason"]

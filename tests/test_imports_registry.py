"""Importing households (with members), clans (with households), organisations (with staff) and
villages (issue 16): for each kind the template from the API is filled and imported (a dry run
writes nothing, the real run writes, the same rows again — in another file — create nothing);
a file with bad rows names each of them (row, column, reason), and one bad record leaves the
whole file unwritten; rows outside the importer's commune are refused."""

from __future__ import annotations

import csv
import io
from datetime import date

import openpyxl
import pytest
from sqlalchemy import func, select

from app.registry.models import (
    Clan,
    ClanHousehold,
    Household,
    HouseholdMember,
    Organisation,
    OrganisationStaff,
    Person,
    Residence,
)
from app.units.models import AdministrativeUnit, UnitLevel
from tests import test_registry_e2e
from tests.test_imports import finished
from tests.test_registry_e2e import person

API = "/api/v1"
ON_DAY = "2025-12-01"
desks = test_registry_e2e.desks


@pytest.fixture
def village(desks):
    body = {"name": "Tổ dân phố số 21", "unit_type": "to_dan_pho", "valid_from": "2025-07-01"}
    return desks["officer"].post("/units/00367/villages", body).json()["code"]


def upload(desk, kind: str, content: bytes, name: str, *, dry_run: bool, expect=(200, 202)):
    response = desk.client.post(
        f"{API}/imports",
        headers=desk.headers,
        data={"kind": kind, "dry_run": "true" if dry_run else "false", "on_day": ON_DAY},
        files={"file": (name, content)},
    )
    assert response.status_code in expect, response.text
    return response


def run(desk, kind: str, content: bytes, name: str = "tep.xlsx", *, dry_run: bool) -> dict:
    return finished(desk, upload(desk, kind, content, name, dry_run=dry_run).json()["id"])


def filled(desk, kind: str, rows: list[list[str]]) -> tuple[bytes, list[str]]:
    """The kind's template as the API gives it, its example rows replaced by `rows` (data row i
    is line i + 2), and its headers."""
    book = openpyxl.load_workbook(io.BytesIO(desk.get(f"/imports/templates/{kind}.xlsx").content))
    assert book.sheetnames == ["Dữ liệu", "Hướng dẫn"]
    data = book["Dữ liệu"]
    headers = [cell.value for cell in data[1]]
    guide = [row[0] for row in book["Hướng dẫn"].iter_rows(values_only=True)]
    assert set(headers) <= set(guide)  # every column is explained
    for line in data.iter_rows(min_row=2, max_row=5):
        for cell in line:
            cell.value = None
    for number, row in enumerate(rows, start=2):
        for column, value in enumerate(row, start=1):
            data.cell(row=number, column=column, value=value or None)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), headers


def as_csv(headers: list[str], rows: list[list[str]]) -> bytes:
    """The same rows as a CSV file (other bytes: not answered as the same upload)."""
    out = io.StringIO()
    csv.writer(out).writerows([headers, *rows])
    return out.getvalue().encode("utf-8")


def wrong(job: dict) -> set[tuple[int, str]]:
    assert all(error["reason"] for error in job["errors"]), job["errors"]
    return {(error["row"], error["column"]) for error in job["errors"]}


def count(session, model, *where) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


# --- households -------------------------------------------------------------------------------


def test_households_round_trip_matching_and_idempotent(desks, village, session):
    officer = desks["officer"]
    an = person(officer, "Nguyễn Văn An", village, national_id="001085012345", birth="1985-03-02")
    binh = person(officer, "Trần Thị Bình", village, birth="1987-08-15")  # no CCCD: found by name and birth
    rows = [
        [
            "Hộ ông Nguyễn Văn An",
            village,
            "01/07/2025",
            "Nguyễn Văn An",
            "02/03/1985",
            "Nam",
            "001085012345",
            "Chủ hộ",
            "",
        ],
        ["Hộ ông Nguyễn Văn An", village, "", "Trần Thị Bình", "15/08/1987", "Nữ", "", "Vợ", ""],
        ["Hộ ông Nguyễn Văn An", village, "", "Nguyễn Minh Khôi", "20/10/2025", "Nam", "", "Con", ""],
        ["Hộ bà Lê Thị Cúc", village, "01/08/2025", "Lê Thị Cúc", "10/10/1960", "Nữ", "001160000111", "Chủ hộ", ""],
        # A CCCD that lost its leading zeros in a number cell gets them back.
        ["Hộ bà Lê Thị Cúc", village, "", "Phạm Văn Dũng", "05/05/1990", "Nam", "1190000222", "Con", "01/09/2025"],
    ]
    content, headers = filled(officer, "households", rows)
    assert headers == [
        "Tên hộ",
        "Mã nơi cư trú của hộ",
        "Hộ cư trú từ ngày",
        "Họ và tên thành viên",
        "Ngày sinh",
        "Giới tính",
        "Số CCCD",
        "Quan hệ với chủ hộ",
        "Vào hộ từ ngày",
    ]
    # Two households and three people new; An (by CCCD) and Bình (by name and birth) found.
    dry = run(officer, "households", content, dry_run=True)
    assert (dry["state"], dry["created"], dry["matched"], dry["error_count"]) == ("done", 5, 2, 0), dry["errors"]
    assert (count(session, Household), count(session, Person)) == (0, 2)  # a dry run writes nothing
    done = run(officer, "households", content, dry_run=False)
    assert (done["state"], done["created"], done["matched"]) == ("done", 5, 2), done["errors"]
    assert (count(session, Household), count(session, Person), count(session, HouseholdMember)) == (2, 5, 5)
    first = session.scalar(select(Household).where(Household.name == "Hộ ông Nguyễn Văn An"))
    assert first.head_person_id == an["id"]
    members = {
        m.person_id: m for m in session.scalars(select(HouseholdMember).where(HouseholdMember.household_id == first.id))
    }
    assert an["id"] in members and binh["id"] in members and len(members) == 3
    khoi = session.scalar(select(Person).where(Person.full_name == "Nguyễn Minh Khôi"))
    # Born after the household settled: a member (and a resident of its unit) from birth.
    assert members[khoi.id].joined_on == date(2025, 10, 20)
    home = session.scalar(select(Residence).where(Residence.person_id == khoi.id, Residence.valid_to.is_(None)))
    assert (home.valid_from, home.unit_id) == (date(2025, 10, 20), _unit_id(session, village))
    second = session.scalar(select(Household).where(Household.name == "Hộ bà Lê Thị Cúc"))
    lived = session.scalar(select(Residence.valid_from).where(Residence.household_id == second.id))
    assert lived == date(2025, 8, 1)
    found = officer.post("/people-searches", {"national_id": "001190000222"}).json()["items"]
    assert [p["full_name"] for p in found] == ["Phạm Văn Dũng"]
    # The same rows in another file: everything found, nothing written.
    again = run(officer, "households", as_csv(headers, rows), "lai.csv", dry_run=False)
    assert (again["state"], again["created"], again["matched"]) == ("done", 0, 7), again["errors"]
    assert (count(session, Household), count(session, Person), count(session, HouseholdMember)) == (2, 5, 5)
    # A household already there gets only its missing member (a new person): 2 written.
    more = [rows[1], ["hộ ông nguyễn văn an", village, "", "Nguyễn Thị Em", "01/01/2000", "Nữ", "", "Con", ""]]
    added = run(officer, "households", as_csv(headers, more), "them.csv", dry_run=False)
    assert (added["state"], added["created"], added["matched"]) == ("done", 2, 2), added["errors"]
    assert (count(session, Household), count(session, HouseholdMember, HouseholdMember.household_id == first.id)) == (
        2,
        4,
    )


def test_household_errors_named_and_nothing_written(desks, village, session):
    officer = desks["officer"]
    person(officer, "Nguyễn Văn An", village, national_id="001085012345")
    rows = [
        ["Hộ ông Trần Tốt", village, "", "Trần Tốt", "01/01/1980", "Nam", "", "Chủ hộ", ""],  # a good household
        ["Hộ ông Hỏng", village, "", "Hỏng Một", "31/02/1980", "Nam", "", "Chủ hộ", ""],
        ["Hộ ông Hỏng", village, "", "Hỏng Hai", "01/01/1982", "Khác", "", "Con", ""],  # two bad rows, one household
        ["Hộ ngoài xã", "00364", "", "Người Ngoài", "01/01/1990", "Nam", "", "", ""],  # another commune
        ["Hộ hai chủ", village, "", "Chủ Một", "01/01/1970", "Nam", "", "Chủ hộ", ""],
        ["Hộ hai chủ", village, "", "Chủ Hai", "01/01/1972", "Nữ", "", "Chủ hộ", ""],
        ["Hộ số sai", village, "", "Sai Số", "01/01/1990", "Nam", "12345", "", ""],
        # An's CCCD under another name: a mistyped number, not An.
        ["Hộ nhầm số", village, "", "Nguyễn Văn Bảy", "", "Nam", "001085012345", "", ""],
        # On that day 00367 was another ward (the code was reused on 01/07/2025).
        ["Hộ xưa", "00367", "01/01/2020", "Người Xưa", "01/01/1950", "Nam", "", "", ""],
    ]
    content, _ = filled(officer, "households", rows)
    dry = run(officer, "households", content, dry_run=True)
    assert dry["state"] == "refused"
    assert wrong(dry) == {
        (3, "Ngày sinh"),
        (4, "Giới tính"),
        (5, "Mã nơi cư trú của hộ"),
        (7, "Quan hệ với chủ hộ"),
        (8, "Số CCCD"),
        (9, "Họ và tên thành viên"),
        (10, "Hộ cư trú từ ngày"),
    }, dry["errors"]
    by_row = {error["row"]: error for error in dry["errors"]}
    assert by_row[8]["value"] == "*2345"  # a CCCD, even a mistyped one, is shown masked
    assert by_row[3]["reason"] == "Ngày không hợp lệ; viết dd/mm/yyyy."
    assert "phạm vi quản lý" in by_row[5]["reason"]
    report = openpyxl.load_workbook(io.BytesIO(officer.get(f"/imports/{dry['id']}/errors.xlsx").content)).active
    assert [c.value for c in report[1]] == ["Dòng", "Cột", "Giá trị", "Lý do"] and report.max_row == 8
    real = run(officer, "households", content, dry_run=False)
    assert (real["state"], real["created"], real["error_count"]) == ("refused", 0, 7)
    assert (count(session, Household), count(session, Person)) == (0, 1)  # not even the good household


def _unit_id(session, code: str) -> int:
    return session.scalar(select(AdministrativeUnit.id).where(AdministrativeUnit.code == code))


# --- clans ------------------------------------------------------------------------------------


def _households(officer, village: str) -> None:
    for name, unit in (
        ("Hộ ông Nguyễn Văn An", village),
        ("Hộ ông Nguyễn Văn Bình", village),
        ("Hộ bà Lê Thị Cúc", "00367"),
    ):
        officer.post("/households", {"name": name, "unit_code": unit, "since": "2025-07-01", "members": []})


def test_clans_round_trip_and_idempotent(desks, village, session):
    officer = desks["officer"]
    _households(officer, village)
    rows = [
        ["Dòng họ Nguyễn Văn", "00367", "01/08/2025", "Hộ ông Nguyễn Văn An", village, ""],
        ["Dòng họ Nguyễn Văn", "00367", "", "hộ ông nguyễn văn bình", village, "01/09/2025"],  # case aside
        ["Dòng họ Lê", "00367", "", "Hộ bà Lê Thị Cúc", "00367", ""],
    ]
    content, headers = filled(officer, "clans", rows)
    assert headers == [
        "Tên dòng họ",
        "Mã xã, phường của dòng họ",
        "Dòng họ ghi từ ngày",
        "Tên hộ",
        "Mã nơi cư trú của hộ",
        "Vào dòng họ từ ngày",
    ]
    dry = run(officer, "clans", content, dry_run=True)
    assert (dry["state"], dry["created"], dry["matched"], dry["error_count"]) == ("done", 2, 0, 0), dry["errors"]
    assert count(session, Clan) == 0
    done = run(officer, "clans", content, dry_run=False)
    assert (done["state"], done["created"], done["matched"]) == ("done", 2, 0), done["errors"]
    nguyen = session.scalar(select(Clan).where(Clan.name == "Dòng họ Nguyễn Văn"))
    joined = session.scalars(
        select(ClanHousehold.joined_on).where(ClanHousehold.clan_id == nguyen.id).order_by(ClanHousehold.joined_on)
    ).all()
    assert joined == [date(2025, 8, 1), date(2025, 9, 1)]
    le = session.scalar(select(Clan).where(Clan.name == "Dòng họ Lê"))
    assert session.scalar(select(ClanHousehold.joined_on).where(ClanHousehold.clan_id == le.id)) == date(2025, 12, 1)
    assert le.home_unit_id == _current_commune(session)
    again = run(officer, "clans", as_csv(headers, rows), "lai.csv", dry_run=False)
    assert (again["state"], again["created"], again["matched"]) == ("done", 0, 2), again["errors"]
    assert (count(session, Clan), count(session, ClanHousehold)) == (2, 3)
    more = [["dòng họ lê", "00367", "", "Hộ ông Nguyễn Văn An", village, ""]]
    added = run(officer, "clans", as_csv(headers, more), "them.csv", dry_run=False)
    assert (added["state"], added["created"], added["matched"]) == ("done", 1, 1), added["errors"]
    assert (count(session, Clan), count(session, ClanHousehold, ClanHousehold.clan_id == le.id)) == (2, 2)


def test_clan_errors_named_and_nothing_written(desks, village, session):
    officer = desks["officer"]
    _households(officer, village)
    rows = [
        ["Dòng họ Tốt", "00367", "", "Hộ ông Nguyễn Văn An", village, ""],  # a good clan
        ["Dòng họ Thiếu", "00367", "", "Hộ không có", village, ""],
        ["Dòng họ Thôn", village, "", "Hộ ông Nguyễn Văn An", village, ""],  # a village, not a commune
        ["Dòng họ Ngoài", "00364", "", "Hộ ông Nguyễn Văn An", village, ""],  # another commune
        ["Dòng họ Ngày", "00367", "hôm qua", "Hộ ông Nguyễn Văn An", village, ""],
        ["Dòng họ Đôi", "00367", "", "Hộ ông Nguyễn Văn An", village, ""],
        ["Dòng họ Đôi", "00367", "", "Hộ ông Nguyễn Văn An", village, ""],
    ]
    content, _ = filled(officer, "clans", rows)
    dry = run(officer, "clans", content, dry_run=True)
    assert dry["state"] == "refused"
    assert wrong(dry) == {
        (3, "Tên hộ"),
        (4, "Mã xã, phường của dòng họ"),
        (5, "Mã xã, phường của dòng họ"),
        (6, "Dòng họ ghi từ ngày"),
        (8, "Tên hộ"),
    }, dry["errors"]
    real = run(officer, "clans", content, dry_run=False)
    assert (real["state"], real["created"]) == ("refused", 0)
    assert (count(session, Clan), count(session, ClanHousehold)) == (0, 0)


def _current_commune(session) -> int:
    return session.scalar(
        select(AdministrativeUnit.id).where(AdministrativeUnit.code == "00367", AdministrativeUnit.valid_to.is_(None))
    )


# --- organisations ----------------------------------------------------------------------------


def test_organisations_round_trip_and_idempotent(desks, village, session):
    officer = desks["officer"]
    an = person(officer, "Nguyễn Văn An", village, national_id="001085012345")
    binh = person(officer, "Trần Thị Bình", village, national_id="001187054321")
    rows = [
        [
            "Trường Tiểu học Thanh Xuân",
            "Trường học",
            "Giáo dục",
            "Cấp xã",
            "00367",
            "01/07/2025",
            "Nguyễn Văn An",
            "001085012345",
            "",
        ],
        ["Trường Tiểu học Thanh Xuân", "", "", "", "00367", "", "Trần Thị Bình", "001187054321", "01/09/2025"],
        ["Hợp tác xã Rau sạch", "hợp tác xã", "", "", village, "", "", "", ""],  # no staff yet
    ]
    content, headers = filled(officer, "organisations", rows)
    assert headers == [
        "Tên cơ quan, đơn vị",
        "Loại hình",
        "Ngành",
        "Cấp quản lý",
        "Mã nơi đặt trụ sở",
        "Đặt trụ sở từ ngày",
        "Họ và tên cán bộ, người lao động",
        "Số CCCD",
        "Vào làm từ ngày",
    ]
    dry = run(officer, "organisations", content, dry_run=True)
    assert (dry["state"], dry["created"], dry["matched"], dry["error_count"]) == ("done", 2, 2, 0), dry["errors"]
    assert count(session, Organisation) == 0
    done = run(officer, "organisations", content, dry_run=False)
    assert (done["state"], done["created"], done["matched"]) == ("done", 2, 2), done["errors"]
    school = session.scalar(select(Organisation).where(Organisation.name == "Trường Tiểu học Thanh Xuân"))
    assert (school.kind, school.sector, school.managing_level) == ("school", "education", "commune")
    staff = dict(
        session.execute(
            select(OrganisationStaff.person_id, OrganisationStaff.joined_on).where(
                OrganisationStaff.organisation_id == school.id
            )
        ).all()
    )
    assert staff == {an["id"]: date(2025, 7, 1), binh["id"]: date(2025, 9, 1)}
    coop = session.scalar(select(Organisation).where(Organisation.name == "Hợp tác xã Rau sạch"))
    assert (
        coop.kind == "cooperative"
        and count(session, OrganisationStaff, OrganisationStaff.organisation_id == coop.id) == 0
    )
    based = session.scalar(select(Residence).where(Residence.organisation_id == coop.id))
    assert (based.unit_id, based.valid_from) == (_unit_id(session, village), date(2025, 12, 1))
    again = run(officer, "organisations", as_csv(headers, rows), "lai.csv", dry_run=False)
    assert (again["state"], again["created"], again["matched"]) == ("done", 0, 4), again["errors"]
    assert (count(session, Organisation), count(session, OrganisationStaff)) == (2, 2)


def test_organisation_errors_named_and_nothing_written(desks, village, session):
    officer, admin = desks["officer"], desks["admin"]
    person(officer, "Nguyễn Văn An", village, national_id="001085012345")
    person(admin, "Người Khương Đình", "00364", national_id="001090000333")  # outside the officer's commune
    rows = [
        ["Trạm Y tế", "Y tế", "", "", "00367", "", "", "", ""],  # a good organisation
        ["Nhà máy A", "Nhà máy", "", "", "00367", "", "", "", ""],
        ["Công ty B", "Doanh nghiệp", "", "Quận", "00367", "", "", "", ""],
        ["Trường C", "Trường học", "", "", "00367", "", "Người Lạ", "001099999999", ""],
        ["Trường C", "", "", "", "00367", "", "Người Khương Đình", "001090000333", ""],
        ["Công ty Ngoài", "Doanh nghiệp", "", "", "00364", "", "", "", ""],
        ["Trường D", "Trường học", "Y tế", "", "00367", "", "", "", ""],
        ["Trường E", "Cơ quan", "", "", "00367", "", "Nguyễn Văn An", "", ""],
    ]
    content, _ = filled(officer, "organisations", rows)
    dry = run(officer, "organisations", content, dry_run=True)
    assert dry["state"] == "refused"
    assert wrong(dry) == {
        (3, "Loại hình"),
        (4, "Cấp quản lý"),
        (5, "Số CCCD"),
        (6, "Số CCCD"),
        (7, "Mã nơi đặt trụ sở"),
        (8, "Ngành"),
        (9, "Số CCCD"),
    }, dry["errors"]
    by_row = {error["row"]: error for error in dry["errors"]}
    # Someone unknown and someone outside the officer's units read alike: nothing is given away.
    assert by_row[5]["reason"] == by_row[6]["reason"] and by_row[6]["value"] == "********0333"
    assert "Trường học" in by_row[3]["reason"]  # the allowed values, in Vietnamese
    real = run(officer, "organisations", content, dry_run=False)
    assert (real["state"], real["created"]) == ("refused", 0)
    assert count(session, Organisation) == 0


# --- villages ---------------------------------------------------------------------------------


def test_villages_round_trip_and_idempotent(desks, session):
    officer = desks["officer"]
    rows = [["00367", "Tổ dân phố số 21", "Tổ dân phố", "01/07/2025"], ["00367", "Thôn Đông", "thôn", ""]]
    content, headers = filled(officer, "villages", rows)
    assert headers == ["Mã xã, phường", "Tên thôn, tổ dân phố", "Loại", "Có từ ngày"]
    dry = run(officer, "villages", content, dry_run=True)
    assert (dry["state"], dry["created"], dry["matched"], dry["error_count"]) == ("done", 2, 0, 0), dry["errors"]
    assert count(session, AdministrativeUnit, AdministrativeUnit.level == UnitLevel.VILLAGE) == 0
    done = run(officer, "villages", content, dry_run=False)
    assert (done["state"], done["created"], done["matched"]) == ("done", 2, 0), done["errors"]
    listed = officer.client.get(f"{API}/units", params={"parent": "00367", "level": "village"}).json()["items"]
    assert sorted((u["code"], u["name"], u["unit_type"], u["valid_from"]) for u in listed) == [
        ("00367-001", "Tổ dân phố số 21", "to_dan_pho", "2025-07-01"),
        ("00367-002", "Thôn Đông", "thon", ON_DAY),  # no day written: the file's day
    ]
    again = run(officer, "villages", as_csv(headers, rows), "lai.csv", dry_run=False)
    assert (again["state"], again["created"], again["matched"]) == ("done", 0, 2), again["errors"]
    assert count(session, AdministrativeUnit, AdministrativeUnit.level == UnitLevel.VILLAGE) == 2


def test_village_errors_named_nothing_written_and_who_may(desks, session):
    officer = desks["officer"]
    rows = [
        ["00367", "Tổ dân phố số 30", "Tổ dân phố", ""],  # a good village
        ["00364", "Thôn Lạ", "Thôn", ""],  # another commune
        ["00367", "Thôn Mới", "Làng", ""],
        ["00367", "tổ dân phố  số 30", "Tổ dân phố", ""],  # the first row again
        ["00367", "Thôn Sớm", "Thôn", "01/01/1990"],  # before the ward was formed
        ["00367", "Thôn Hẹn", "Thôn", "31/02/2025"],
    ]
    content, _ = filled(officer, "villages", rows)
    dry = run(officer, "villages", content, dry_run=True)
    assert dry["state"] == "refused"
    assert wrong(dry) == {
        (3, "Mã xã, phường"),
        (4, "Loại"),
        (5, "Tên thôn, tổ dân phố"),
        (6, "Có từ ngày"),
        (7, "Có từ ngày"),
    }
    real = run(officer, "villages", content, dry_run=False)
    assert (real["state"], real["created"]) == ("refused", 0)
    assert count(session, AdministrativeUnit, AdministrativeUnit.level == UnitLevel.VILLAGE) == 0
    # As in the API, assessors do not add villages.
    upload(desks["a"], "villages", content, "tep.xlsx", dry_run=True, expect=(403,))

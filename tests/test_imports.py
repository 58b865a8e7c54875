"""Importing people from spreadsheets (issue 16, first kind): the template round trip, a
50,000-row file with 10 bad rows (the dry run names exactly those; the real run, all or nothing,
changes nothing; fixed, it imports; the same file again creates nothing), progress counts right
after the import, and error reports safe against formula injection."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time

import openpyxl
import pytest
from sqlalchemy import func, select, text

from app.imports import service as imports
from app.imports.models import ImportJob
from app.registry.models import Person
from tests import test_registry_e2e
from tests.conftest import CREDENTIAL_KEY_DIR
from tests.helpers import assert_problem

API = "/api/v1"
desks = test_registry_e2e.desks
HEADER = "Họ và tên,Ngày sinh,Giới tính,Số CCCD,Mã nơi cư trú,Cư trú từ ngày"
WRITING_PEOPLE = (
    "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' "
    "AND query LIKE '%INSERT INTO people%' AND pid <> pg_backend_pid()"
)


@pytest.fixture
def village(desks):
    return (
        desks["officer"]
        .post(
            "/units/00367/villages", {"name": "Tổ dân phố số 21", "unit_type": "to_dan_pho", "valid_from": "2025-07-01"}
        )
        .json()["code"]
    )


def upload(desk, content: bytes, name: str, *, dry_run: bool, expect=(200, 202)):
    response = desk.client.post(
        f"{API}/imports",
        headers=desk.headers,
        data={"kind": "people", "dry_run": "true" if dry_run else "false", "on_day": "2025-12-01"},
        files={"file": (name, content)},
    )
    assert response.status_code in expect, response.text
    return response


def finished(desk, job_id: str, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = desk.get(f"/imports/{job_id}").json()
        if job["state"] in ("done", "refused", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"import {job_id} did not finish: {job}")


def people_csv(village: str, count: int, bad: dict[int, tuple[str, str]] | None = None) -> bytes:
    """`count` people (national IDs 0019900NNNNN); `bad` replaces a column of some data rows."""
    bad = bad or {}
    lines = [HEADER]
    for i in range(count):
        row = [
            f"Người Thứ {i}",
            f"{1 + i % 28:02d}/{1 + i % 12:02d}/{1950 + i % 50}",
            "Nam" if i % 2 else "Nữ",
            f"0019900{i:05d}",
            village,
            "01/07/2025",
        ]
        if i in bad:
            column, value = bad[i]
            row[HEADER.split(",").index(column)] = value
        lines.append(",".join(row))
    return ("\n".join(lines) + "\n").encode("utf-8")


def test_fifty_thousand_people_all_or_nothing_and_idempotent(app, desks, village, session):
    officer = desks["officer"]
    before = session.scalar(select(func.count()).select_from(Person))
    bad = {
        10: ("Ngày sinh", "31/02/1990"),
        500: ("Số CCCD", "12345"),
        1500: ("Họ và tên", ""),
        7000: ("Mã nơi cư trú", "99999"),
        9000: ("Giới tính", "khác"),
        20000: ("Cư trú từ ngày", "01/01/1900"),
        30000: ("Số CCCD", "0019900" + f"{29999:05d}"),  # the same number as the row before it
        40000: ("Ngày sinh", "hôm qua"),
        45000: ("Mã nơi cư trú", "00364"),  # another commune: outside the officer's units
        49999: ("Số CCCD", "abcdefghijkl"),
    }
    content = people_csv(village, 50_000, bad)
    dry = finished(officer, upload(officer, content, "danh-sach.csv", dry_run=True).json()["id"])
    assert dry["state"] == "refused" and dry["error_count"] == 10, sorted(
        (e["row"], e["column"], e["reason"]) for e in dry["errors"]
    )
    # Exactly those rows (data row i is line i + 2), each with its column and a Vietnamese reason.
    assert sorted((e["row"], e["column"]) for e in dry["errors"]) == sorted((i + 2, col) for i, (col, _) in bad.items())
    assert all(e["reason"] for e in dry["errors"])
    mistyped = next(e for e in dry["errors"] if e["row"] == 502)
    assert mistyped["value"] == "*2345"  # a national ID, even mistyped, is shown masked
    report = officer.get(f"/imports/{dry['id']}/errors.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(report.content)).active
    assert [c.value for c in sheet[1]] == ["Dòng", "Cột", "Giá trị", "Lý do"] and sheet.max_row == 11
    real = finished(officer, upload(officer, content, "danh-sach.csv", dry_run=False).json()["id"])
    assert (real["state"], real["created"]) == ("refused", 0)
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Person)) == before  # all or nothing
    fixed = people_csv(village, 50_000)
    done = finished(officer, upload(officer, fixed, "danh-sach-da-sua.csv", dry_run=False).json()["id"])
    assert (done["state"], done["created"], done["matched"], done["error_count"]) == ("done", 50_000, 0, 0)
    assert session.scalar(select(func.count()).select_from(Person)) == before + 50_000
    job = session.scalar(select(ImportJob).where(ImportJob.public_id == done["id"]))
    assert job.content == b""  # the file, national IDs in clear, is not kept
    # Run again (a duplicate queue entry, the periodic resume): the job is not taken twice.
    assert imports.run(app.state.session_factory, app.state.national_ids, job.id) == "done"
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Person)) == before + 50_000
    # The same file again: answered with the first import, nothing new.
    again = upload(officer, fixed, "danh-sach-da-sua.csv", dry_run=False)
    assert again.status_code == 200 and again.json()["id"] == done["id"]
    # The same people in another file (re-saved): every one matched by national ID, none created.
    resaved = finished(officer, upload(officer, fixed + b"\n", "luu-lai.csv", dry_run=False).json()["id"])
    assert (resaved["state"], resaved["created"], resaved["matched"]) == ("done", 0, 50_000)
    assert session.scalar(select(func.count()).select_from(Person)) == before + 50_000
    # The counts of the village are right at once: every adult imported is in the denominator.
    assert app.state.jobs.wait_idle(60)
    progress = officer.client.get(f"{API}/units/{village}/progress", params={"year": 2025}).json()
    citizens = next(i for i in progress["items"] if i["title"] == "citizen" and i["segment"] is None)
    assert citizens["denominator"] == 50_000


def test_template_round_trip_and_formula_safe_reports(desks, village):
    officer = desks["officer"]
    template = officer.get("/imports/templates/people.xlsx")
    book = openpyxl.load_workbook(io.BytesIO(template.content))
    assert book.sheetnames == ["Dữ liệu", "Hướng dẫn"]
    data = book["Dữ liệu"]
    assert [c.value for c in data[1]] == HEADER.split(",")
    data.delete_rows(2)  # the example row
    data.append(["Hoàng Thị Mai", "12/12/1992", "Nữ", "001192012345", village, "01/07/2025"])
    filled = io.BytesIO()
    book.save(filled)
    dry = finished(officer, upload(officer, filled.getvalue(), "mau.xlsx", dry_run=True).json()["id"])
    assert (dry["state"], dry["created"], dry["error_count"]) == ("done", 1, 0)  # checked, nothing written
    # A unit code typed as a formula (a CSV keeps it as text) is refused; the report shows it as text.
    formula = HEADER + "\n" + 'Lê Văn Tám,12/12/1992,Nam,,"=HYPERLINK(""http://x"")",\n'
    job = finished(officer, upload(officer, formula.encode(), "cong-thuc.csv", dry_run=True).json()["id"])
    assert (job["state"], job["error_count"]) == ("refused", 1)
    report = openpyxl.load_workbook(io.BytesIO(officer.get(f"/imports/{job['id']}/errors.xlsx").content)).active
    cell = report.cell(row=2, column=3)
    assert cell.value.startswith("=HYPERLINK") and cell.data_type == "s" and cell.quotePrefix  # text, never run
    assert report.cell(row=2, column=2).value == "Mã nơi cư trú"
    job = finished(officer, upload(officer, filled.getvalue(), "mau.xlsx", dry_run=False).json()["id"])
    assert (job["state"], job["created"]) == ("done", 1)
    found = officer.post("/people-searches", {"national_id": "001192012345"}).json()
    assert [p["full_name"] for p in found["items"]] == ["Hoàng Thị Mai"]


def test_uploads_are_checked(desks):
    officer, other = desks["officer"], desks["other"]
    assert_problem(upload(officer, b"", "trong.csv", dry_run=True, expect=(422,)), 422, "validation_failed")
    job = finished(officer, upload(officer, b"\xff\xfe\x00bad", "x.csv", dry_run=True).json()["id"])
    assert job["state"] == "refused" and "UTF-8" in job["errors"][0]["reason"]
    other.get(f"/imports/{job['id']}", expect=(404,))  # another account's import is not found


def test_a_killed_import_leaves_nothing_and_running_it_again_completes(database_url, session, desks, village, tmp_path):
    """`kill -9` of the importing process in the middle: no person is written; the same command
    again imports everything, once."""
    before = session.scalar(select(func.count()).select_from(Person))
    data = tmp_path / "danh-sach.csv"
    data.write_bytes(people_csv(village, 50_000))
    env = {**os.environ, "HOCTAP_DATABASE_URL": database_url, "HOCTAP_CREDENTIAL_KEY_DIR": str(CREDENTIAL_KEY_DIR)}
    command = [
        sys.executable,
        "-c",
        "from app.cli import main; main()",
        "import",
        "people",
        str(data),
        "--user",
        "canbo.tx",
        "--write",
        "--on-day",
        "2025-12-01",
    ]
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Killed while the rows are being written: on PostgreSQL once the INSERT into people runs
    # (the set-based path still checks for a while after its last row is staged), on SQLite
    # once the whole file has been checked (its last progress: writing starts then).
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        session.rollback()  # a new transaction: pg_stat_activity is read once per transaction
        if not database_url.startswith("sqlite"):
            if session.scalar(text(WRITING_PEOPLE)):
                break
        else:
            checked = session.scalar(select(func.max(ImportJob.checked_rows)))
            if checked and checked >= 50_000:
                time.sleep(0.2)
                break
        time.sleep(0.02)
    else:
        raise AssertionError("the import was not seen writing")
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Person)) == before  # nothing partial
    again = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert again.returncode == 0, again.stderr
    assert "tạo mới 50000" in again.stdout
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Person)) == before + 50_000

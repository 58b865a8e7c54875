"""The import pages in a real browser: a commune officer downloads the people template, fills
it (one bad row), checks it — the page names the row, the column and the reason and nothing is
written — fixes it and writes it; the people are then in the registry. Pages pass axe-core and
are photographed at 360 and 1280 px."""

from __future__ import annotations

import io

import openpyxl
from playwright.sync_api import expect

from tests import test_registry_e2e
from tests.browser import assert_accessible, shoot
from tests.test_staff_pages import sign_in

desks = test_registry_e2e.desks


def _filled(template: bytes, rows: list[list[str]]) -> bytes:
    book = openpyxl.load_workbook(io.BytesIO(template))
    sheet = book["Dữ liệu"]
    sheet.delete_rows(2, sheet.max_row)  # the example row
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _send(page, base_url: str, content: bytes, button: str) -> None:
    page.goto(f"{base_url}/can-bo/nhap")
    page.get_by_label("Loại dữ liệu").select_option("people")
    page.get_by_label("Tệp (.xlsx theo mẫu, hoặc .csv UTF-8)").set_input_files(
        {"name": "cong-dan.xlsx", "mimeType": "application/octet-stream", "buffer": content}
    )
    page.get_by_label("Ngày của tệp").fill("01/12/2025")
    page.get_by_role("button", name=button).click()
    page.wait_for_url(f"{base_url}/can-bo/nhap/*")


def test_an_officer_checks_a_file_sees_its_errors_fixes_and_writes_it(browser, base_url, desks):
    context, page = sign_in(browser, base_url, "canbo.tx")
    page.get_by_role("link", name="Nhập từ Excel").first.click()
    expect(page.get_by_role("heading", name="Nhập từ Excel", exact=True)).to_be_visible()
    assert_accessible(page)
    shoot(page, "staff-imports")

    with page.expect_download() as download:
        page.get_by_role("link", name="Công dân").click()
    template = download.value.path().read_bytes()
    good = ["Trần Thị Bình", "05/04/1990", "Nữ", "001190054321", "00367", "01/07/2025"]
    bad = ["Lê Văn Cường", "31/02/1991", "Nam", "001091054322", "00367", "01/07/2025"]

    _send(page, base_url, _filled(template, [good, bad]), "Kiểm tra thử (không ghi)")
    # The check runs in the background; the page follows it and shows the errors once done.
    expect(page.get_by_text("Có 1 lỗi nên không ghi gì")).to_be_visible(timeout=30_000)
    row = page.get_by_role("row").filter(has_text="Ngày sinh")
    expect(row).to_contain_text("3")  # the header is row 1: the bad person is row 3
    expect(row).to_contain_text("Ngày không hợp lệ; viết dd/mm/yyyy.")
    assert_accessible(page)
    shoot(page, "staff-import-errors")
    found = desks["officer"].get("/people", params={"q": "Bình"}).json()
    assert found["total"] == 0  # nothing written

    with page.expect_download() as report:
        page.get_by_role("link", name="Tải danh sách lỗi đầy đủ (.xlsx)").click()
    errors = openpyxl.load_workbook(io.BytesIO(report.value.path().read_bytes())).active
    assert [cell.value for cell in errors[2]][:2] == [3, "Ngày sinh"]

    bad[1] = "28/02/1991"
    _send(page, base_url, _filled(template, [good, bad]), "Kiểm tra và ghi vào sổ")
    expect(page.get_by_text("Đã ghi vào sổ: 2 mới, 0 đã có từ trước.")).to_be_visible(timeout=30_000)
    assert_accessible(page)
    shoot(page, "staff-import-done")
    names = {p["full_name"] for p in desks["officer"].get("/people", params={"limit": 50}).json()["items"]}
    assert {"Trần Thị Bình", "Lê Văn Cường"} <= names

    page.goto(f"{base_url}/can-bo/nhap")
    expect(page.get_by_role("table")).to_contain_text("cong-dan.xlsx")
    expect(page.get_by_role("table")).to_contain_text("Xong")
    context.close()


def test_the_upload_form_names_what_is_missing(browser, base_url, desks):
    context, page = sign_in(browser, base_url, "canbo.tx")
    page.goto(f"{base_url}/can-bo/nhap")
    page.get_by_label("Ngày của tệp").fill("32/13/2025")
    page.evaluate("document.querySelector('#file').removeAttribute('required')")
    page.get_by_role("button", name="Kiểm tra thử (không ghi)").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Hãy chọn tệp Excel (.xlsx) hoặc CSV.")
    expect(summary).to_contain_text("Ngày của tệp viết dd/mm/yyyy")
    assert_accessible(page)
    context.close()


def test_an_administrator_imports_accounts_and_downloads_their_codes_once(browser, base_url, desks):
    context, page = sign_in(browser, base_url, "quantri")
    page.goto(f"{base_url}/can-bo/nhap")
    with page.expect_download() as download:
        page.get_by_role("link", name="Tài khoản người đánh giá và cán bộ (mã kích hoạt một lần)").click()
    template = download.value.path().read_bytes()
    rows = [["le.thi.mai", "Lê Thị Mai", "Người đánh giá (Hội Khuyến học)", "00367"]]
    page.get_by_label("Loại dữ liệu").select_option("accounts")
    page.get_by_label("Tệp (.xlsx theo mẫu, hoặc .csv UTF-8)").set_input_files(
        {"name": "tai-khoan.xlsx", "mimeType": "application/octet-stream", "buffer": _filled(template, rows)}
    )
    page.get_by_role("button", name="Kiểm tra và ghi vào sổ").click()
    expect(page.get_by_text("Đã ghi vào sổ: 1 mới")).to_be_visible(timeout=30_000)
    assert_accessible(page)
    shoot(page, "staff-import-accounts")
    with page.expect_download() as codes:
        page.get_by_role("button", name="Tải bảng mã kích hoạt (.xlsx)").click()
    sheet = openpyxl.load_workbook(io.BytesIO(codes.value.path().read_bytes())).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert any(row and row[0] == "le.thi.mai" for row in values)
    # Drawn once: the second download is refused and no code is shown again.
    page.get_by_role("button", name="Tải bảng mã kích hoạt (.xlsx)").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bảng mã đã được tải")
    assert "le.thi.mai" not in page.content()
    context.close()

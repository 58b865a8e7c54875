"""The reporting chain in a real browser: a ward officer fills the numbers the registry cannot
know and submits Phường Thanh Xuân's 2025 report; the city's officer finds it among Hà Nội's
wards (with the others late) and approves it; the ward's assessment pages then say the year is
locked. Pages pass axe-core and are photographed at 360 and 1280 px."""

from __future__ import annotations

from playwright.sync_api import expect

from app.auth.models import Role
from tests import test_registry_e2e
from tests.browser import assert_accessible, shoot
from tests.test_registry_e2e import CITIZEN_ALL_8, assess, on_day, person
from tests.test_staff_pages import sign_in

desks = test_registry_e2e.desks


def test_a_ward_submits_the_city_approves_and_the_year_is_locked(browser, base_url, desks, make_user):
    make_user("tinh.hn", Role.PROVINCE_OFFICER, ["01"])
    with on_day("2025-11-20", desks):
        village = (
            desks["officer"]
            .post(
                "/units/00367/villages",
                {"name": "Tổ dân phố số 5", "unit_type": "to_dan_pho", "valid_from": "2025-07-01"},
            )
            .json()["code"]
        )
        someone = person(desks["a"], "Đỗ Văn Hùng", village, "001085000555")
        filed, _, _ = assess(desks["a"], "citizen", someone["id"], 2025, CITIZEN_ALL_8, group="commune_resident")

        context, page = sign_in(browser, base_url, "canbo.tx")
        page.get_by_role("link", name="Báo cáo định kỳ").first.click()
        assert_accessible(page)
        shoot(page, "staff-reporting")
        page.get_by_role("link", name="Báo cáo năm 2025").click()
        expect(page.get_by_text("Đang lập")).to_be_visible()
        expect(page.get_by_text("Hạn gửi: 01/12/2025")).to_be_visible()
        households = "Tổng số hộ gia đình (số liệu thống kê chính thức)"
        page.get_by_label(f"Số: {households}", exact=True).fill("4200")
        page.get_by_label(f"Nguồn của số: {households}").fill("Chi cục Thống kê, số liệu 31/10/2025")
        page.get_by_role("button", name="Lưu số liệu").click()
        expect(page.get_by_label(f"Số: {households}", exact=True)).to_have_value("4200")
        assert_accessible(page)
        shoot(page, "staff-report-draft")
        page.get_by_role("button", name="Gửi báo cáo lên cấp trên").click()
        expect(page.get_by_text("Đã gửi, chờ duyệt")).to_be_visible()
        expect(page.get_by_text("Đúng hạn")).to_be_visible()
        expect(page.get_by_role("button", name="Gửi báo cáo lên cấp trên")).to_have_count(0)
        context.close()

        context, page = sign_in(browser, base_url, "tinh.hn")
        page.goto(f"{base_url}/can-bo/bao-cao-dinh-ky/2025/tinh/01")
        page.get_by_role("link", name="Chờ duyệt").click()  # what the city has to act on
        row = page.get_by_role("row").filter(has_text="Phường Thanh Xuân")
        expect(row).to_contain_text("Đã gửi, chờ duyệt")
        assert_accessible(page)
        shoot(page, "staff-reporting-province")
        row.get_by_role("link").click()
        page.get_by_role("button", name="Duyệt báo cáo").click()
        expect(page.get_by_text("Đã duyệt (số liệu bị khóa)")).to_be_visible()
        expect(page.get_by_role("button", name="Mở khóa")).to_be_visible()
        assert_accessible(page)
        shoot(page, "staff-report-approved")
        context.close()

        context, page = sign_in(browser, base_url, "canbo.tx")
        page.goto(f"{base_url}/can-bo/danh-gia/{filed['id']}")
        expect(page.get_by_text("Số liệu năm 2025 đã khóa.")).to_be_visible()
        shoot(page, "staff-assessment-locked")
        page.goto(
            f"{base_url}/can-bo/danh-gia/moi?title=citizen&subject_id={someone['id']}&period=2025&group=commune_resident"
        )
        expect(page.get_by_text("Số liệu năm 2025 đã khóa.")).to_be_visible()
        context.close()

        # The national level sees Hà Nội among the provinces (its own report still being prepared).
        context, page = sign_in(browser, base_url, "quantri")
        page.goto(f"{base_url}/can-bo/bao-cao-dinh-ky?year=2025")
        page.get_by_role("link", name="Cấp trung ương: các tỉnh, thành phố năm 2025").click()
        row = page.get_by_role("row").filter(has_text="Thành phố Hà Nội")
        expect(row).to_contain_text("Đang lập")
        expect(row).to_contain_text("15/12/2025")
        assert_accessible(page)
        shoot(page, "staff-reporting-national")
        context.close()

"""The staff pages end to end in a real browser (Debian's chromium through Playwright): an assessor
signs in, registers a person, fills a Công dân học tập assessment generated from the criteria in
force and watches the live score change, files it; a second assessor reviews it (four eyes); the
commune officer decides the batch, prints the certificate and its QR code verifies on /verify.
Every page passes axe-core and is photographed at 360 and 1280 px."""

from __future__ import annotations

import io
import re
from contextlib import contextmanager
from urllib.parse import urlparse

import httpx
import openpyxl
import pytest
from playwright.sync_api import expect

from app import clock
from app.stats.report import XLSX_TYPE
from tests import test_credentials, test_registry_e2e
from tests.browser import assert_accessible, shoot
from tests.helpers import DEFAULT_PASSWORD
from tests.test_credential_documents import decode_qr, pdf_images, pdf_text

desks = test_registry_e2e.desks
recognised = test_credentials.recognised
CITIZEN_SCORES = {f"c{c}_{i}": "8" for c, n in ((1, 4), (2, 4), (3, 2)) for i in range(1, n + 1)}


@pytest.fixture
def village(desks):
    return (
        desks["officer"]
        .post(
            "/units/00367/villages", {"name": "Tổ dân phố số 9", "unit_type": "to_dan_pho", "valid_from": "2025-07-01"}
        )
        .json()["code"]
    )


def sign_in(browser, base_url: str, username: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN")
    page = context.new_page()
    page.goto(f"{base_url}/can-bo")
    assert "/dang-nhap" in page.url  # not signed in: sent to the sign-in page
    assert_accessible(page)
    shoot(page, "staff-login")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(f"{base_url}/can-bo")
    return context, page


def test_sign_in_refuses_a_wrong_password_and_needs_csrf(browser, base_url, desks, client):
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{base_url}/dang-nhap")
    page.get_by_label("Tên đăng nhập").fill("thamdinh.a")
    page.get_by_label("Mật khẩu").fill("sai mật khẩu")
    page.get_by_role("button", name="Đăng nhập").click()
    assert "không đúng" in page.locator("[role=alert]").inner_text()
    assert not any(cookie["name"] == "hoctap_session" for cookie in context.cookies())
    context.close()
    # A signed-in browser's form without the session's secret is refused (another site's form).
    context, page = sign_in(browser, base_url, "thamdinh.a")
    cookie = next(c for c in context.cookies() if c["name"] == "hoctap_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    forged = page.request.post(f"{base_url}/can-bo/nguoi", form={"full_name": "X", "unit_code": "00367"})
    assert forged.status == 403
    context.close()


def test_from_assessment_to_verified_certificate(browser, base_url, desks, village, tmp_path):
    # An assessor registers a person and assesses them.
    context, page = sign_in(browser, base_url, "thamdinh.a")
    assert_accessible(page)
    shoot(page, "staff-start")
    page.goto(f"{base_url}/can-bo/nguoi")
    assert_accessible(page)
    page.locator("#full_name").fill("Lê Thị Hoa")
    page.locator("#birth_date").fill("05/04/1990")  # dd/mm/yyyy, as people write it
    page.get_by_label("Nữ").check()
    page.locator("#unit_code").select_option(village)  # chosen by name from the caller's villages
    shoot(page, "staff-people")
    page.get_by_role("button", name="Đăng ký và đánh giá").click()
    # The criteria version splits citizens into groups: one question first.
    page.wait_for_url(re.compile(r"/can-bo/danh-gia/moi"))
    assert_accessible(page)
    shoot(page, "staff-assessment-group")
    page.locator("input[name=group]").first.check()
    page.get_by_role("button", name="Tiếp tục").click()
    page.wait_for_selector("#assessment")
    assert_accessible(page)
    preview = page.locator("#preview")
    for name, value in list(CITIZEN_SCORES.items())[:3]:
        page.locator(f"#a_{name}").fill(value)
    expect(preview).to_contain_text("Chưa chấm được")  # mandatory indicators still empty
    first = preview.inner_text()
    for name, value in CITIZEN_SCORES.items():
        page.locator(f"#a_{name}").fill(value)
    expect(preview).to_contain_text("Tổng điểm")
    assert "Đạt" in preview.inner_text() and "80" in preview.inner_text() and preview.inner_text() != first
    # A wrong value is named beside its field, in Vietnamese, and nothing is filed.
    page.locator("#a_c1_1").fill("15")
    page.get_by_role("button", name="Nộp bản đánh giá").click()
    assert "Điểm phải từ 0 đến" in page.locator(".error-summary").inner_text()
    assert_accessible(page)
    shoot(page, "staff-assessment-errors")
    page.locator("#a_c1_1").fill("8")
    page.get_by_role("button", name="Nộp bản đánh giá").click()
    page.wait_for_url(re.compile(r"/can-bo/danh-gia/[0-9a-f-]{36}$"))
    assert "Kết quả chấm: đạt" in page.locator(".result").inner_text()
    assert "một người khác sẽ thẩm định" in page.content()
    assessment_url = page.url
    assert_accessible(page)
    shoot(page, "staff-assessment")
    context.close()

    # A second assessor reviews it from the queue.
    context, page = sign_in(browser, base_url, "thamdinh.b")
    page.goto(f"{base_url}/can-bo/tham-dinh")
    assert_accessible(page)
    shoot(page, "staff-review-queue")
    page.get_by_role("link", name="Mở").first.click()
    assert page.url == assessment_url
    page.get_by_role("button", name="Xác nhận thẩm định").click()
    page.wait_for_url(f"{base_url}/can-bo/tham-dinh")
    context.close()

    # The commune officer decides the batch and prints the certificate.
    context, page = sign_in(browser, base_url, "canbo.tx")
    page.goto(f"{base_url}/can-bo/quyet-dinh/moi?title=citizen&period={clock.today().year}")
    assert_accessible(page)
    page.locator("#number").fill("88/QĐ-UBND")
    page.locator("#signer").fill("Chủ tịch UBND phường Thanh Xuân")
    shoot(page, "staff-decision-new")
    page.get_by_role("button", name="Ghi quyết định và cấp giấy công nhận").click()
    page.wait_for_url(re.compile(r"/can-bo/quyet-dinh/[0-9]+$"))
    assert_accessible(page)
    shoot(page, "staff-decision")
    assert "Lê Thị Hoa" in page.content()
    decision_pdf = page.request.get(
        base_url + page.get_by_role("link", name=re.compile("In quyết định")).get_attribute("href")
    )
    assert "88/QĐ-UBND" in pdf_text(decision_pdf.body()) and "Lê Thị Hoa" in pdf_text(decision_pdf.body())
    certificate = page.request.get(base_url + page.get_by_role("link", name="A4").first.get_attribute("href"))
    assert certificate.headers["content-type"] == "application/pdf"
    links = [text for image in pdf_images(certificate.body()) for text in decode_qr(image, tmp_path)]
    assert len(links) == 1
    # The QR code's link (on the public address) opens the verification page: valid.
    page.goto(base_url + urlparse(links[0]).path)
    assert "Hợp lệ" in page.locator(".result").inner_text()
    context.close()


def test_assessments_filed_offline_are_sent_once_when_the_connection_returns(browser, base_url, desks, village):
    """In a village without a connection: two forms opened earlier still open, both assessments
    are kept on the phone with a visible counter, and each is filed exactly once when the
    connection returns."""
    assessor = desks["a"]
    people = [test_registry_e2e.person(assessor, name, village) for name in ("Phạm Văn Tư", "Đỗ Thị Năm")]
    context, page = sign_in(browser, base_url, "thamdinh.a")
    page.set_viewport_size({"width": 360, "height": 800})
    assert page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    forms = [
        f"{base_url}/can-bo/danh-gia/moi?title=citizen&subject_id={one['id']}&group=commune_resident" for one in people
    ]
    for url in forms:  # opened while online: the service worker keeps them
        page.goto(url)
        expect(page.locator("#preview")).to_contain_text("Chưa chấm được")
    context.set_offline(True)
    for url in forms:
        page.goto(url)
        for name, value in CITIZEN_SCORES.items():
            page.locator(f"#a_{name}").fill(value)
        page.get_by_role("button", name="Nộp bản đánh giá").click()
        expect(page.locator("#saved-offline")).to_be_visible()
    counter = page.locator("#outbox-counter")
    expect(counter).to_have_text("2 bản đánh giá chờ gửi")
    shoot(page, "staff-offline-waiting")
    filed = [
        assessor.get("/assessments", params={"title": "citizen", "subject_id": one["id"]}).json()["total"]
        for one in people
    ]
    assert filed == [0, 0]  # nothing reached the server
    context.set_offline(False)
    expect(counter).to_be_hidden(timeout=15_000)
    for one in people:
        items = assessor.get("/assessments", params={"title": "citizen", "subject_id": one["id"]}).json()["items"]
        assert [(item["status"], item["state"], item["total"]) for item in items] == [("dat", "submitted", 80.0)]
    # Opening the page again sends nothing more: still one each.
    page.goto(f"{base_url}/can-bo")
    page.wait_for_timeout(500)
    for one in people:
        assert assessor.get("/assessments", params={"title": "citizen", "subject_id": one["id"]}).json()["total"] == 1
    context.close()


@contextmanager
def signed_in_client(base_url: str, username: str):
    with httpx.Client(base_url=base_url, timeout=30) as client:
        response = client.post(
            "/dang-nhap", data={"username": username, "password": DEFAULT_PASSWORD, "next": "/can-bo"}
        )
        assert response.status_code == 303 and response.headers["location"] == "/can-bo"
        yield client


def test_pages_keep_the_apis_jurisdiction_and_roles(base_url, desks, village):
    """The same rules as the API: a subject of another commune is not found, an assessor cannot
    decide, a page without a session sends to the sign-in page, and nothing is written."""
    person = test_registry_e2e.person(desks["a"], "Vũ Văn Sáu", village)
    form = f"/can-bo/danh-gia/moi?title=citizen&subject_id={person['id']}&group=commune_resident"
    with httpx.Client(base_url=base_url) as anonymous:
        response = anonymous.get(form)
        assert response.status_code == 303 and response.headers["location"].startswith("/dang-nhap?next=")
    with signed_in_client(base_url, "thamdinh.kd") as other:  # an assessor of Phường Khương Đình
        response = other.get(form)
        assert response.status_code == 404 and "Không tìm thấy" in response.text
        assert response.headers["content-type"].startswith("text/html")
    with signed_in_client(base_url, "thamdinh.a") as assessor:
        assert assessor.get(form).status_code == 200
        response = assessor.get("/can-bo/quyet-dinh/moi")
        assert response.status_code == 403 and "cán bộ cấp xã" in response.text
        # A tampered form (hidden fields out of range) is a clear 422, never a database error.
        csrf = csrf_of(assessor.get(form).text)
        for subject_id, period in (("99999999999", "2025"), (str(person["id"]), "99999"), ("x", "2025")):
            tampered = assessor.post(
                "/can-bo/danh-gia/xem-truoc",
                data={"csrf": csrf, "title": "citizen", "subject_id": subject_id, "period": period},
            )
            assert tampered.status_code == 422 and "không hợp lệ" in tampered.text
    assert desks["a"].get("/assessments", params={"subject_id": person["id"]}).json()["total"] == 0


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_households_clans_villages_and_organisations_are_registered_and_assessed(browser, base_url, desks):
    """A commune officer registers one subject of each kind from the pages; each leads to its
    title's assessment form, generated from that title's criteria, and appears in its list."""
    member = None
    with signed_in_client(base_url, "canbo.tx") as officer:
        csrf = csrf_of(officer.get("/can-bo/doi-tuong/village").text)
        created = {}
        steps = [
            ("village", {"name": "Tổ dân phố số 12", "unit_type": "to_dan_pho", "unit_code": "00367"}, "community"),
        ]
        for kind, form, title in steps:
            response = officer.post(f"/can-bo/doi-tuong/{kind}", data={**form, "csrf": csrf})
            assert response.status_code == 303, response.text[:500]
            assert f"title={title}&subject_id=" in response.headers["location"]
            created[kind] = int(response.headers["location"].rsplit("=", 1)[1])
        village = next(
            u for u in desks["officer"].get("/units/00367").json()["children"] if u["name"] == "Tổ dân phố số 12"
        )
        # The village exists from today: its first resident arrives today too.
        member = (
            desks["a"]
            .post(
                "/people",
                {"full_name": "Trịnh Văn Bảy", "birth_date": "1980-01-02", "unit_code": village["code"]},
            )
            .json()
        )
        more = [
            (
                "household",
                {
                    "name": "Hộ ông Trịnh Văn Bảy",
                    "unit_code": village["code"],
                    "person_ids": str(member["id"]),
                    "head_person_id": str(member["id"]),
                },
                "family",
            ),
            ("organisation", {"name": "Trường Tiểu học Thanh Xuân", "kind": "school", "unit_code": "00367"}, "unit"),
        ]
        for kind, form, title in more:
            response = officer.post(f"/can-bo/doi-tuong/{kind}", data={**form, "csrf": csrf})
            assert response.status_code == 303, response.text[:500]
            assert f"title={title}&subject_id=" in response.headers["location"]
            created[kind] = int(response.headers["location"].rsplit("=", 1)[1])
        clan = officer.post(
            "/can-bo/doi-tuong/clan",
            data={
                "name": "Dòng họ Trịnh",
                "unit_code": "00367",
                "household_ids": str(created["household"]),
                "csrf": csrf,
            },
        )
        assert clan.status_code == 303 and "title=clan&subject_id=" in clan.headers["location"]
        # A bad code list is named, in Vietnamese, and nothing is created.
        bad = officer.post(
            "/can-bo/doi-tuong/clan",
            data={"name": "Dòng họ Lê", "unit_code": "00367", "household_ids": "ba", "csrf": csrf},
        )
        assert bad.status_code == 422 and "Mã phải là số" in bad.text
        for kind, name in (
            ("household", "Hộ ông Trịnh Văn Bảy"),
            ("clan", "Dòng họ Trịnh"),
            ("organisation", "Trường Tiểu học"),
            ("village", "Tổ dân phố số 12"),
        ):
            assert name in officer.get(f"/can-bo/doi-tuong/{kind}").text
        assert "Dòng họ Lê" not in officer.get("/can-bo/doi-tuong/clan").text
        # The family form is the family criteria's: its own indicators, none of the citizen's.
        form = officer.get(
            clan.headers["location"]
            .replace("title=clan", "title=family")
            .replace(clan.headers["location"].rsplit("=", 1)[1], str(created["household"]))
        )
        assert form.status_code == 200 and "Gia đình học tập: Hộ ông Trịnh Văn Bảy" in form.text
    context, page = sign_in(browser, base_url, "canbo.tx")
    for kind in ("household", "clan", "village", "organisation"):
        page.goto(f"{base_url}/can-bo/doi-tuong/{kind}")
        assert_accessible(page)
        shoot(page, f"staff-subjects-{kind}")
    page.goto(f"{base_url}/can-bo/danh-gia/moi?title=family&subject_id={created['household']}")
    assert_accessible(page)
    shoot(page, "staff-assessment-family")
    context.close()
    assert member is not None


def test_revocation_and_the_annual_report_from_the_pages(base_url, client, desks, recognised):
    """A commune officer revokes a title with a reason on the decision's page (the credential's
    status list says so at once) and downloads the commune's annual report."""
    decision = recognised["decision"]
    recognition = decision["recognitions"][0]
    with signed_in_client(base_url, "canbo.tx") as officer:
        page = officer.get(f"/can-bo/quyet-dinh/{decision['id']}")
        assert page.status_code == 200 and "01/QĐ-UBND" in page.text and "14/01/2027" in page.text
        csrf = csrf_of(page.text)
        refused = officer.post(f"/can-bo/cong-nhan/{recognition['id']}/thu-hoi", data={"reason": "", "csrf": csrf})
        assert refused.status_code == 422 and "lý do" in refused.text
        done = officer.post(
            f"/can-bo/cong-nhan/{recognition['id']}/thu-hoi", data={"reason": "Hồ sơ không trung thực", "csrf": csrf}
        )
        assert done.status_code == 303 and done.headers["location"] == f"/can-bo/quyet-dinh/{decision['id']}"
        assert "Đã thu hồi" in officer.get(done.headers["location"]).text
        report = officer.get("/can-bo/bao-cao", params={"unit": "00367", "year": 2025})
        assert report.status_code == 200 and report.headers["content-type"] == XLSX_TYPE
        sheet = openpyxl.load_workbook(io.BytesIO(report.content), read_only=True).worksheets[0]
        assert any("Công dân học tập" in str(cell) for row in sheet.iter_rows(values_only=True) for cell in row)
        assert officer.get("/can-bo/bao-cao", params={"unit": "00364", "year": 2025}).status_code == 403
    revoked = next(r for r in desks["officer"].get("/recognitions").json()["items"] if r["id"] == recognition["id"])
    assert revoked["revoked_reason"] == "Hồ sơ không trung thực"
    token = desks["officer"].get(f"/credentials/{recognition['credentials'][0]}").json()["credential"]
    assert client.post("/api/v1/credentials/verify", json={"credential": token}).json()["status"] == "revoked"


def test_ended_browser_sessions_are_purged(base_url, desks, session):
    """Signing out ends a session at once; the retention purge removes ended ones a day later."""
    from datetime import timedelta

    from sqlalchemy import func, select

    from app.auth.models import WebSession
    from app.privacy.service import purge

    with signed_in_client(base_url, "thamdinh.a") as browser_like:
        csrf = csrf_of(browser_like.get("/can-bo").text)
        assert browser_like.post("/dang-xuat", data={"csrf": csrf}).status_code == 303
        assert browser_like.get("/can-bo").status_code == 303  # signed out: back to the sign-in page
    assert purge(session, access_log_days=30)["web_sessions"] == 0  # ended only now: kept a day
    with clock.frozen(clock.now() + timedelta(days=2)):
        assert purge(session, access_log_days=30)["web_sessions"] == 1
    session.commit()
    assert session.scalar(select(func.count()).select_from(WebSession)) == 0

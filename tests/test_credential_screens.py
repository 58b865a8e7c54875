"""Screenshots of what people see of a credential: the verification page on a phone (360 px) and a
desk (1280 px), and the printed decision and certificates rendered from their PDFs. Written to
`var/screenshots/` (or HOCTAP_TEST_SCREENSHOT_DIR) on every run; a current set is committed under
docs/screenshots/. Debian's chromium through Playwright; no browser is downloaded."""

from __future__ import annotations

from pathlib import Path

import pypdfium2

from tests import test_credentials, test_registry_e2e
from tests.browser import SHOTS, assert_accessible, shoot
from tests.test_credentials import first_code

desks = test_registry_e2e.desks
recognised = test_credentials.recognised


def shoot_url(browser, url: str, name: str) -> list[Path]:
    page = browser.new_page()
    response = page.goto(url)
    assert response is not None and response.status == 200, url
    assert_accessible(page)
    paths = shoot(page, name)
    page.close()
    return paths


def pdf_pages(content: bytes, name: str) -> list[Path]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    document = pypdfium2.PdfDocument(content)
    paths = []
    for number, page in enumerate(document, start=1):
        path = SHOTS / f"{name}-page{number}.png"
        page.render(scale=1.4).to_pil().save(path)
        paths.append(path)
    return paths


def test_verify_page_screens(browser, base_url, desks, recognised):
    code = first_code(recognised)
    valid = shoot_url(browser, f"{base_url}/verify/{code}", "verify-valid")
    empty = shoot_url(browser, f"{base_url}/verify", "verify-form")
    desks["officer"].post(
        f"/recognitions/{recognised['decision']['recognitions'][0]['id']}/revoke", {"reason": "Sai sót hồ sơ"}
    )
    revoked = shoot_url(browser, f"{base_url}/verify/{code}", "verify-revoked")
    assert all(path.stat().st_size > 5_000 for path in [*valid, *empty, *revoked])


def test_printed_document_screens(desks, recognised):
    officer = desks["officer"]
    decision = officer.get(f"/decisions/{recognised['decision']['id']}/document.pdf").content
    assert len(pdf_pages(decision, "decision")) == 2  # the decision, then its attached list
    code = first_code(recognised)
    for size in ("a4", "a5"):
        certificate = officer.get(f"/credentials/{code}/certificate.pdf", params={"size": size}).content
        assert len(pdf_pages(certificate, f"certificate-{size}")) == 1  # one sheet, nothing spills over

"""Screenshots of what people see of a credential: the verification page on a phone (360 px) and a
desk (1280 px), and the printed decision and certificates rendered from their PDFs. Written to
`var/screenshots/` (or HOCTAP_TEST_SCREENSHOT_DIR) on every run; a current set is committed under
docs/screenshots/. Debian's chromium through Playwright; no browser is downloaded."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pypdfium2
import pytest
from playwright.sync_api import sync_playwright

from tests import test_credentials, test_registry_e2e
from tests.test_credentials import first_code

ROOT = Path(__file__).resolve().parent.parent
SHOTS = Path(os.environ.get("HOCTAP_TEST_SCREENSHOT_DIR", ROOT / "var" / "screenshots"))
WIDTHS = (360, 1280)
desks = test_registry_e2e.desks
recognised = test_credentials.recognised


@pytest.fixture(scope="module")
def browser():
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is needed for page tests: `make test` installs it"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


def shoot(browser, url: str, name: str) -> list[Path]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    paths = []
    for width in WIDTHS:
        page = browser.new_page(viewport={"width": width, "height": 800})
        response = page.goto(url)
        assert response is not None
        # Nothing wider than the screen: a phone never scrolls sideways.
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        path = SHOTS / f"{name}-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        page.close()
        paths.append(path)
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
    valid = shoot(browser, f"{base_url}/verify/{code}", "verify-valid")
    empty = shoot(browser, f"{base_url}/verify", "verify-form")
    desks["officer"].post(
        f"/recognitions/{recognised['decision']['recognitions'][0]['id']}/revoke", {"reason": "Sai sót hồ sơ"}
    )
    revoked = shoot(browser, f"{base_url}/verify/{code}", "verify-revoked")
    assert all(path.stat().st_size > 5_000 for path in [*valid, *empty, *revoked])


def test_printed_document_screens(desks, recognised):
    officer = desks["officer"]
    decision = officer.get(f"/decisions/{recognised['decision']['id']}/document.pdf").content
    assert len(pdf_pages(decision, "decision")) == 2  # the decision, then its attached list
    code = first_code(recognised)
    for size in ("a4", "a5"):
        certificate = officer.get(f"/credentials/{code}/certificate.pdf", params={"size": size}).content
        assert len(pdf_pages(certificate, f"certificate-{size}")) == 1  # one sheet, nothing spills over

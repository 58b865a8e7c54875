"""The public pages in a real browser (Debian's chromium through Playwright): every number on a
commune's page equals the API's, the honour roll and the criteria in force are the API's, the
widget may be framed only by configured portals, no page has a serious accessibility violation
(axe-core), and each page is photographed at 360 px and 1280 px."""

from __future__ import annotations

import http.server
import re
import threading

import httpx
import pytest

from app.main import create_app
from app.web.rendering import number, percent
from tests import test_credentials, test_registry_e2e
from tests.browser import assert_accessible, shoot
from tests.conftest import make_settings, serve
from tests.test_credentials import first_code

API = "/api/v1"
desks = test_registry_e2e.desks
recognised = test_credentials.recognised


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN")
    one = context.new_page()
    yield one
    context.close()


def test_a_communes_page_shows_the_apis_numbers(page, client, base_url, app, recognised):
    app.state.jobs.wait_idle(30)
    api = client.get(f"{API}/units/00367/progress", params={"year": 2025}).json()
    page.goto(f"{base_url}/don-vi/00367?year=2025")
    assert page.locator("h1").inner_text() == "Phường Thanh Xuân"
    shown = page.locator(".progress").evaluate_all(
        "nodes => nodes.map(n => ({...n.dataset, text: n.querySelector('.figures').innerText}))"
    )
    main_items = [item for item in api["items"] if item["segment"] is None]
    assert {s["title"] for s in shown if not s["segment"]} == {item["title"] for item in main_items}
    by_key = {(s["title"], s["segment"] or None): s for s in shown}
    for item in api["items"]:
        on_page = by_key[(item["title"], item["segment"])]
        assert (int(on_page["numerator"]), int(on_page["denominator"])) == (item["numerator"], item["denominator"])
        if item["percent"] is None:  # nobody to count: said in words, not as "0 / 0"
            assert item["denominator"] == 0 and on_page["text"].startswith("Chưa tính được")
        else:
            assert number(item["numerator"]) in on_page["text"] and number(item["denominator"]) in on_page["text"]
            assert percent(item["percent"]) in on_page["text"]
            assert ("đã đạt" in on_page["text"]) is bool(item["met"])
        if item["target_percent"] is not None:
            assert percent(item["target_percent"]) in on_page["text"]
    citizens = by_key[("citizen", None)]
    assert int(citizens["numerator"]) == 2  # the two people the decision recognised
    # The denominator's definition (in words, never its key) and the target's source are on the page.
    page.locator("details").first.click()
    citizen_item = next(i for i in main_items if i["title"] == "citizen")
    assert citizen_item["denominator_label"] in page.content()
    assert f"Mẫu số:</strong> {citizen_item['denominator_definition']}<" not in page.content()
    if citizen_item["target_source"]:
        assert citizen_item["target_source"]["document_number"] in page.content()
    # The criteria in force, with their provisional marks, as the API resolves them.
    in_force = client.get(f"{API}/criteria/in-force", params={"title": "citizen", "province": "01"}).json()
    criteria = page.locator("#criteria").locator("xpath=..").inner_text()
    assert in_force["name"] in criteria and in_force["version"] in criteria and "Tạm thời" in criteria


def test_honour_roll_and_search(page, client, base_url, app, recognised, monkeypatch):
    app.state.jobs.wait_idle(30)
    page.goto(f"{base_url}/?q=thanh xuan")
    page.get_by_role("link", name="Phường Thanh Xuân").click()
    assert page.url.endswith("/don-vi/00367")
    page.goto(f"{base_url}/don-vi/00367?year=2025")
    roll = client.get(f"{API}/units/00367/honour-roll", params={"year": 2025}).json()
    rows = page.locator("#honour").locator("xpath=..").locator("tbody tr")
    assert rows.count() == roll["total"]
    # People are not named on public pages unless the deployment allows it.
    assert "Nguyễn Văn An" not in page.content()


def test_every_public_page_is_accessible_and_photographed(page, base_url, app, desks, recognised):
    app.state.jobs.wait_idle(30)
    code = first_code(recognised)
    pages = {
        "home": "/",
        "search": "/?q=thanh%20xuan",
        "commune": "/don-vi/00367?year=2025",
        "province": "/don-vi/01?year=2025",
        "widget": "/nhung/don-vi/00367?year=2025",
        "verify-form": "/verify",
        "verify-valid": f"/verify/{code}",
    }
    for name, path in pages.items():
        response = page.goto(base_url + path)
        assert response is not None and response.status == 200, path
        assert_accessible(page)
        shoot(page, f"public-{name}")
    for path in ("/don-vi/99999", "/don-vi/00367-999"):
        assert page.goto(base_url + path).status == 404
        assert_accessible(page)
    shoot(page, "public-not-found")


def test_only_configured_portals_may_frame_the_widget(database_url, browser):
    """A portal page on another origin frames the widget; the browser shows it only when that
    origin is configured."""
    widget = {}

    class Portal(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            html = f'<!doctype html><title>Cổng phường</title><iframe id="w" src="{widget["url"]}"></iframe>'
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(html.encode())

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Portal)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    portal = f"http://localhost:{server.server_address[1]}"  # another origin than the app's 127.0.0.1
    try:
        for allowed in (True, False):
            app = create_app(make_settings(database_url, embed_origins=[portal] if allowed else []))
            with serve(app) as base:
                widget["url"] = f"{base}/nhung/don-vi/00367?year=2025"
                header = httpx.get(widget["url"]).headers["content-security-policy"]
                assert re.search(r"frame-ancestors (\S+)", header).group(1) == (portal if allowed else "'none'")
                context = browser.new_context()
                tab = context.new_page()
                tab.goto(portal)
                if allowed:
                    assert "Phường Thanh Xuân" in tab.frame_locator("#w").locator("h1").inner_text(timeout=5000)
                else:
                    tab.wait_for_timeout(500)
                    assert all("Phường Thanh Xuân" not in frame.content() for frame in tab.frames[1:])
                context.close()
    finally:
        server.shutdown()

"""Helpers for page tests through Playwright and Debian's chromium (not a test module).

The fixture ``browser`` is made available to every test by tests/conftest.py; a page test
opens pages with ``browser.new_page()`` and checks them with ``shoot`` (no sideways scroll at 360 and
1280 px, full-page screenshots in ``SHOTS``) and ``assert_accessible`` (axe-core, serious and critical
violations). Nothing is downloaded: chromium is the Debian package that ``make test`` installs, and
axe-core is vendored in ``tests/vendor/axe.min.js``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
SHOTS = Path(os.environ.get("HOCTAP_TEST_SCREENSHOT_DIR") or ROOT / "var" / "screenshots")
AXE_JS = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
WIDTHS = (360, 1280)
HEIGHT = 800

# Runs axe over the whole document; each violation is reduced to what a failure message needs.
# A node's target is a list of selectors (more than one when the node is inside an iframe or a
# shadow root); it is joined with " >>> " into one string.
_RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map((n) => n.target.map((t) => (Array.isArray(t) ? t.join(" ") : t)).join(" >>> ")),
  }));
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless chromium (the Debian package), one per test module: Playwright's sync API keeps an
    event loop running while it is open, which later tests of other modules (asyncio.run) must
    not meet."""
    chromium = shutil.which("chromium")
    assert chromium, "chromium is not installed: `make test` installs it (Debian package chromium)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


def shoot(page: Page, name: str) -> list[Path]:
    """At each width in WIDTHS: no sideways scroll, and a full-page screenshot SHOTS/<name>-<width>.png."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    paths = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": HEIGHT})
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= width, f"{name}: the page scrolls sideways at {width}px (scrollWidth {scroll_width})"
        path = SHOTS / f"{name}-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        paths.append(path)
    return paths


def axe_violations(page: Page, impacts: Iterable[str] = ("serious", "critical")) -> list[dict]:
    """axe-core's violations on the page whose impact is in `impacts`, as {id, impact, help, nodes}."""
    # Our pages send `script-src 'self'`, which blocks page.add_script_tag(content=...) (an inline
    # script). page.evaluate runs through the DevTools protocol, which the page's CSP does not govern.
    if page.evaluate("typeof window.axe") == "undefined":
        page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    wanted = set(impacts)
    return [v for v in page.evaluate(_RUN_AXE) if v["impact"] in wanted]


def assert_accessible(page: Page) -> None:
    """No serious or critical axe-core violation on the page."""
    violations = axe_violations(page)
    lines = [f"- {v['id']} ({v['impact']}): {v['help']} at {', '.join(v['nodes'])}" for v in violations]
    assert violations == [], f"accessibility violations on {page.url}:\n" + "\n".join(lines)

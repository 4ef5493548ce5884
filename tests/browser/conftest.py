"""Fixtures for the browser tests: ``cxroi app`` serving on a free loopback port, and
Debian's Chromium driven by Playwright (no browser downloads; never ``playwright install``).

The tests skip, with the reason, when ``/usr/bin/chromium`` (or the ``playwright`` package)
is missing -- unless ``CXROI_REQUIRE_BROWSER=1`` (set by ``.ci/run``), where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from appserver import Server, start_server, stop

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
ARTIFACTS = ROOT / "test-artifacts"
#: How long the page may take to show the app (cold workers on a busy 2-core machine).
#: the first start on a fresh clone compiles the kernel (numba), under a loaded test run
APP_TIMEOUT_MS = 180_000


def _unavailable() -> str | None:
    if not CHROMIUM.exists():
        return (f"Chromium not found at {CHROMIUM}; install it with "
                "`apt-get install -y chromium` (no browser downloads are used)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip browser tests, saying why, when Chromium or Playwright is missing -- except
    under ``CXROI_REQUIRE_BROWSER=1`` (CI), where the ``browser`` fixture fails instead."""
    reason = _unavailable()
    if reason is None or os.environ.get("CXROI_REQUIRE_BROWSER") == "1":
        return
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_server(tmp_path_factory.mktemp("cxroi-app"))
    try:
        yield server
    finally:
        stop(server.process)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    reason = _unavailable()
    if reason is not None:
        pytest.fail(f"CXROI_REQUIRE_BROWSER=1 but {reason}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        try:
            yield b
        finally:
            b.close()


def open_app(browser: Any, url: str, height: int = 1000) -> Any:
    """A new page on the app, returned once the numbers and the charts are shown."""
    page = browser.new_page(viewport={"width": 1440, "height": height})
    page.set_default_timeout(60_000)
    page.goto(url, timeout=APP_TIMEOUT_MS)
    page.wait_for_selector(".cx-card[data-metric=npv]", timeout=APP_TIMEOUT_MS)
    for key in ("cash_flow", "waterfall", "tornado"):
        page.wait_for_selector(f".cx-chart-{key} svg", timeout=APP_TIMEOUT_MS)
    return page


def launch(p: Any) -> Any:
    """Debian's Chromium, headless, through Playwright ``p``."""
    return p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)


@pytest.fixture(scope="session")
def app_page() -> Any:
    """:func:`open_app`, for tests that need their own page (e.g. another viewport)."""
    return open_app


@pytest.fixture
def page(browser: Any, app_server: Server) -> Iterator[Any]:
    pg = open_app(browser, app_server.url)
    try:
        yield pg
    finally:
        pg.close()

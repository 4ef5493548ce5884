"""Fixtures for the browser tests: Voila serving the app on a free loopback port, and
Debian's Chromium driven by Playwright (no browser downloads; never ``playwright install``).

The tests skip, with the reason, when ``/usr/bin/chromium`` (or the ``playwright`` package)
is missing -- unless ``CXROI_REQUIRE_BROWSER=1`` (set by ``.ci/run``), where they fail.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
ARTIFACTS = ROOT / "test-artifacts"
#: How long the page may take to show the app (cold kernel on a busy 2-core machine).
APP_TIMEOUT_MS = 120_000


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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[Any], timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"the app server exited with code {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the app server did not listen on 127.0.0.1:{port} in {timeout} s")


def stop(proc: subprocess.Popen[Any]) -> None:
    """Stop the server we started (SIGINT lets Voila shut its kernels down), then make
    sure nothing of its own process group is left."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the group we created with start_new_session
    except (ProcessLookupError, PermissionError):
        pass


@dataclass
class Server:
    url: str
    port: int
    scenario_dir: Path
    reports_dir: Path
    log: Path
    process: subprocess.Popen[Any]


def start_server(base: Path, scenario_files: list[Path] | None = None) -> Server:
    """``python -m cxroi.app`` on a free loopback port with its own scenario and report
    folders under ``base`` (the demo scenarios copied in)."""
    scen, reports = base / "scenarios", base / "reports"
    scen.mkdir(parents=True, exist_ok=True)
    for f in scenario_files or sorted((ROOT / "data" / "scenarios").glob("*.yaml")):
        shutil.copy(f, scen / f.name)
    port = free_port()
    log = base / "voila.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cxroi.app", "--port", str(port), "--host", "127.0.0.1",
         "--scenario-dir", str(scen), "--reports-dir", str(reports)],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        wait_for_port(port, proc)
    except Exception:
        stop(proc)
        raise
    return Server(f"http://127.0.0.1:{port}/", port, scen, reports, log, proc)


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
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                              args=CHROMIUM_ARGS)
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

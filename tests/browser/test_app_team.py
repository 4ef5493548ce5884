"""A few colleagues at once: three Chromium sessions on one app server.

Each page (its own browser context, like a separate person) opens the app and moves its
own slider to its own value; every page must show the numbers ``cxroi run`` gives for its
inputs (no page sees another's result), the server must keep its fixed set of workers
(no process or kernel per page), and closing the pages must free their sessions.
``benchmarks/bench_app_team.py`` runs the same with twenty sessions and measures it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from appserver import Server, start_server, stop

from cxroi.scenario import load_scenario
from cxroi.uncertainty import simulate

pytestmark = pytest.mark.browser

TARGET = ".cx-ctl-touchpoints-complaints-lever-target"
LEAD = "complaints-30-to-1.yaml"


@pytest.fixture(scope="module")
def team_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    srv = start_server(tmp_path_factory.mktemp("team"),
                       args=["--workers", "2", "--idle-seconds", "4"])
    try:
        yield srv
    finally:
        stop(srv.process)


def test_three_sessions_at_once_each_get_their_own_numbers(browser: Any, team_server: Server
                                                           ) -> None:
    contexts = [browser.new_context(viewport={"width": 1300, "height": 900}) for _ in range(3)]
    pages = [c.new_page() for c in contexts]
    try:
        for p in pages:  # all three asked for at once
            p.goto(team_server.url, wait_until="commit")
        for p in pages:
            p.wait_for_selector(".cx-card[data-metric=npv]", timeout=60_000)
            p.wait_for_selector(".cx-chart-tornado svg", timeout=60_000)
        workers = team_server.status()["workers"]
        assert team_server.status()["sessions"] == 3
        targets = ["2", "5", "9"]
        stamps = [p.locator(".cx-grid").get_attribute("data-update") for p in pages]
        for p, t in zip(pages, targets, strict=True):  # three updates in flight together
            box = p.locator(f"{TARGET} .cx-box")
            box.fill(t)
            box.press("Enter")
        base = load_scenario(team_server.scenario_dir / LEAD)
        for p, t, s in zip(pages, targets, stamps, strict=True):
            p.wait_for_function("s => document.querySelector('.cx-grid').dataset.update !== s",
                                arg=s, timeout=60_000)
            shown = float(p.locator(".cx-card[data-metric=npv]").get_attribute("data-p50"))
            expected = simulate(base.with_lever("complaints", target=float(t)))
            # the workers run the compiled kernel: the same numbers to 1e-13 (docs/model.md §10)
            assert shown == pytest.approx(float(expected.summary.loc["npv", "p50"]), rel=1e-9), t
        # one fixed pool of workers, whatever the number of pages
        assert sorted(team_server.status()["workers"]) == sorted(workers)
    finally:
        for c in contexts:
            c.close()
    deadline = time.monotonic() + 15
    while team_server.status()["sessions"] and time.monotonic() < deadline:
        time.sleep(0.3)
    assert team_server.status()["sessions"] == 0  # closed pages are freed


def test_a_fast_series_of_releases_ends_on_the_last_one(browser: Any, team_server: Server,
                                                        tmp_path: Path) -> None:
    """Releases faster than the server answers: only the newest inputs are computed
    after the one in flight, and the page ends showing the last value's numbers."""
    page = browser.new_page()
    try:
        page.goto(team_server.url)
        page.wait_for_selector(".cx-card[data-metric=npv]", timeout=60_000)
        before = team_server.status()["computed"]
        box = page.locator(f"{TARGET} .cx-box")
        values = ["2.5", "3.5", "4.5", "5.5", "6.5", "7.5"]
        for v in values:
            box.fill(v)
            box.press("Enter")
        expected = simulate(load_scenario(team_server.scenario_dir / LEAD)
                            .with_lever("complaints", target=7.5))
        npv = float(expected.summary.loc["npv", "p50"])
        page.wait_for_function(
            "v => Math.abs(parseFloat(document.querySelector('.cx-card[data-metric=npv]')"
            ".dataset.p50) - v) <= 1e-9 * Math.abs(v)", arg=npv, timeout=60_000)
        page.wait_for_timeout(500)
        computed = team_server.status()["computed"] - before
        assert computed < len(values) + 2  # stale positions were skipped (+ value of info)
    finally:
        page.close()

"""The app in a real browser (Debian's Chromium, headless, via Playwright).

``cxroi app`` serves on a free loopback port with its own temporary scenario, report and
cache folders (see ``conftest.py``). The tests move the resolution-time slider and check
the NPV against ``cxroi run --json`` (the same draws and seed), type impossible values,
save and reload a scenario, make the report, and check that the page loads nothing from
anywhere but the app server. A screenshot is kept in ``test-artifacts/``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from appserver import drag_slider

from cxroi.app.view import _fmt
from cxroi.scenario import load_scenario, save_scenario

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
LEAD = "complaints-30-to-1.yaml"
TARGET = ".cx-ctl-touchpoints-complaints-lever-target"
ONE_OFF = ".cx-ctl-costs-one-off"


def npv_shown(page: Any) -> tuple[float, str]:
    card = page.locator(".cx-card[data-metric=npv]")
    return float(card.get_attribute("data-p50")), card.locator(".cx-card-value").inner_text()


def update_stamp(page: Any) -> str:
    return page.locator(".cx-grid").get_attribute("data-update")


def wait_for_update(page: Any, before: str) -> None:
    page.wait_for_function(
        "b => { const g = document.querySelector('.cx-grid');"
        " return g && g.dataset.update !== b; }", arg=before)


def type_value(page: Any, row: str, value: str) -> None:
    box = page.locator(f"{row} .cx-box")
    box.fill(value)
    box.press("Enter")


def cxroi_run(path: Path) -> dict[str, Any]:
    """``cxroi run --json`` of a scenario file, with its own draws and seed."""
    out = subprocess.run([sys.executable, "-m", "cxroi.cli", "run", str(path), "--json"],
                         cwd=ROOT, capture_output=True, text=True, check=True, timeout=120)
    return json.loads(out.stdout)


def test_page_shows_the_app_and_loads_nothing_from_the_network(browser: Any, app_server: Any
                                                               ) -> None:
    page = browser.new_page(viewport={"width": 1440, "height": 2300})
    page.set_default_timeout(180_000)  # a fresh clone's first page waits for the kernel's compile
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    try:
        page.goto(app_server.url)
        page.wait_for_selector(".cx-card[data-metric=npv]")
        for key in ("cash_flow", "waterfall", "tornado"):
            page.wait_for_selector(f".cx-chart-{key} svg")
        page.wait_for_selector(".cx-voi-table")
        # the first view's charts (drawn on the server) become live Vega views
        page.wait_for_function("() => window.vega && "
                               "document.querySelectorAll('.cx-view .cx-live svg').length"
                               " === 3")
        text = page.inner_text("body")
        assert "CX business case" in text and "NPV" in text
        for bad in ("Traceback", "build_app", "import ", "Error"):
            assert bad not in text
        # what the issues 12 and 14 added: evidence, the chance of a loss, what to measure
        assert "published benchmarks" in text
        assert "chance it loses money" in text
        assert "worth measuring" in text.lower()
        assert asked and all(u.startswith(app_server.url) or u.startswith("data:")
                             for u in asked), asked
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "app.png"))
    finally:
        page.close()


def test_first_view_is_the_report_simulation(page: Any, app_server: Any) -> None:
    run = cxroi_run(app_server.scenario_dir / LEAD)
    for metric in ("npv", "npv_risk_adjusted", "retention_savings", "nps_change"):
        shown = float(page.locator(f".cx-card[data-metric={metric}]").get_attribute("data-p50"))
        # same draws, same seed; the workers run the compiled kernel (equal to 1e-13)
        assert shown == pytest.approx(run["metrics"][metric]["p50"], rel=1e-9)
    assert f"{run['draws']:,} draws, seed {run['seed']}" in page.inner_text("body")
    assert page.locator("#cx-pitch-text").inner_text() == run["pitch"]


def test_moving_the_resolution_slider_updates_npv_to_cxroi_run(page: Any, app_server: Any,
                                                               tmp_path: Path) -> None:
    before_npv, before_text = npv_shown(page)
    stamp = update_stamp(page)
    drag_slider(page, TARGET, 0.45)  # log scale 0.1..365 days: about 3-5 days
    wait_for_update(page, stamp)
    target = float(page.locator(f"{TARGET} .cx-box").input_value())
    assert 1.5 < target < 15
    npv, text = npv_shown(page)
    assert npv != before_npv and text != before_text

    sc = load_scenario(app_server.scenario_dir / LEAD).with_lever("complaints", target=target)
    path = save_scenario(sc, tmp_path / "same-inputs.yaml")
    expected = cxroi_run(path)["metrics"]["npv"]["p50"]
    assert npv == pytest.approx(expected, rel=1e-9)
    assert text == _fmt(expected, "money", sc.currency)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app-after-slider.png"))


def test_impossible_input_shows_a_plain_message_and_keeps_the_result(page: Any) -> None:
    before = npv_shown(page)
    type_value(page, TARGET, "45")
    msg = page.locator(".cx-message")
    msg.wait_for()
    assert "worse than today" in msg.inner_text()
    assert "last valid inputs" in msg.inner_text()
    assert "Complaint resolution time · Target" in msg.inner_text()  # names the control
    assert npv_shown(page) == before
    type_value(page, TARGET, "1")
    msg.wait_for(state="detached")
    type_value(page, ONE_OFF, "-1000")
    msg.wait_for()
    assert "One-off" in msg.inner_text() and "Traceback" not in page.inner_text("body")
    assert npv_shown(page) == before
    type_value(page, ONE_OFF, "lots")  # said beside the refusal of -1000, which stands
    assert "type a number" in page.locator("#cx-message").inner_text()


def test_save_a_scenario_and_load_it_back(page: Any, app_server: Any) -> None:
    stamp = update_stamp(page)
    type_value(page, TARGET, "3")
    wait_for_update(page, stamp)
    saved_npv = npv_shown(page)
    page.locator(".cx-save-name").fill("Browser saved case")
    page.locator("button.cx-save").click()
    page.locator(".cx-save-status").get_by_text("Saved to").wait_for()
    path = app_server.scenario_dir / "browser-saved-case.yaml"
    sc = load_scenario(path)
    assert sc.name == "Browser saved case"
    assert sc.touchpoints["complaints"].lever.target == 3

    picker = page.locator("#cx-picker")
    stamp = update_stamp(page)
    picker.select_option(label="Demo · First contact resolution from 60% to 80%")
    wait_for_update(page, stamp)
    page.locator(".cx-ctl-touchpoints-first-contact-resolution-lever-today").wait_for()
    stamp = update_stamp(page)
    picker.select_option(label="Saved · Browser saved case")
    wait_for_update(page, stamp)
    assert page.locator(f"{TARGET} .cx-box").input_value() == "3"
    assert npv_shown(page) == saved_npv
    assert cxroi_run(path)["metrics"]["npv"]["p50"] == pytest.approx(saved_npv[0], rel=1e-9)
    # a demo file is never overwritten
    page.locator(".cx-save-name").fill("complaints 30 to 1")
    page.locator("button.cx-save").click()
    page.locator(".cx-save-status").get_by_text("choose another name").wait_for()


def test_make_report_links_the_html_file(page: Any, app_server: Any) -> None:
    page.locator("button.cx-report").click()
    link = page.locator(".cx-report-link")
    link.wait_for(timeout=180_000)
    href = link.get_attribute("href")
    name = link.inner_text()
    path = app_server.reports_dir / name
    assert path.is_file() and path.stat().st_size > 1000
    assert href == f"reports/{name}"
    resp = page.request.get(app_server.url + href)
    assert resp.status == 200 and "<html" in resp.text().lower()
    # only reports are served: not the scenarios, not the code
    for other in (f"reports/../scenarios/{LEAD}", "reports/x.yaml", "static/../server.py",
                  "reports/%2e%2e%2fapp.log"):
        assert page.request.get(app_server.url + other).status in {403, 404}


def live_views(page: Any) -> list[str]:
    """The charts of ``page`` that are live Vega views (not the server's first drawing)."""
    return page.evaluate("() => [...document.querySelectorAll('.cx-chart')]"
                         ".filter((c) => c.querySelector('.cx-view .cx-live svg'))"
                         ".map((c) => c.dataset.chart)")


def drawing(page: Any, box: str) -> list[str]:
    """What the chart in ``box`` draws: every element without children (marks, labels,
    grid lines) as HTML, sorted (so the order the drawing lists them in does not count)."""
    return page.evaluate("(sel) => [...document.querySelectorAll(sel + ' svg *')]"
                         ".filter((e) => !e.children.length).map((e) => e.outerHTML).sort()",
                         box)


def test_a_chart_out_of_sight_is_drawn_when_it_comes_into_view(browser: Any, app_server: Any,
                                                               app_page: Any) -> None:
    """A chart out of sight is not made a live Vega view while the page opens, nor redrawn
    on every update (the page's own work stays small: twenty pages opening at once share
    two cores); scrolled to, it becomes a live view showing the numbers of the newest
    update, exactly what a page that drew every chart all along shows."""
    short = app_page(browser, app_server.url)  # 1440 x 1000: the tornado is below the fold
    tall = app_page(browser, app_server.url, height=2300)  # every chart in sight
    tornado = ".cx-chart-tornado .cx-view"
    try:
        tall.wait_for_function(
            "() => document.querySelectorAll('.cx-view .cx-live svg').length === 3")
        short.wait_for_function(  # the charts in sight became live views; not the tornado
            "() => document.querySelectorAll('.cx-view .cx-live svg').length === 2")
        short.wait_for_timeout(300)
        assert live_views(short) == ["cash_flow", "waterfall"]
        before = short.inner_html(tornado)  # the server's drawing of the first view
        for pg in (short, tall):
            n = pg.evaluate("window.cxStats.updates.length")
            type_value(pg, TARGET, "3")
            pg.wait_for_function(f"() => window.cxStats.updates.length > {n}")
        assert short.evaluate("window.cxStats.updates.at(-1).out_of_sight") == 1
        assert tall.evaluate("window.cxStats.updates.at(-1).out_of_sight") == 0
        assert short.inner_html(tornado) == before  # not drawn while out of sight
        assert live_views(short) == ["cash_flow", "waterfall"]
        assert tall.inner_html(tornado) != before
        short.locator(".cx-chart-tornado").scroll_into_view_if_needed()
        short.wait_for_selector(".cx-chart-tornado .cx-live svg")
        short.wait_for_function(
            "b => document.querySelector('.cx-chart-tornado .cx-view').innerHTML !== b",
            arg=before)
        assert live_views(short) == ["cash_flow", "waterfall", "tornado"]
        # the newest numbers: the same marks, axes and labels as the page that drew the
        # update (a view made afresh lists its grid lines in another order than one whose
        # data was swapped: compared as a set)
        assert drawing(short, tornado) == drawing(tall, tornado)
        assert short.inner_text(".cx-chart-tornado .cx-chart-title") == \
            tall.inner_text(".cx-chart-tornado .cx-chart-title")
        # tooltips: Vega's own handler writes a bar's figures into the view's title (the
        # browser's tooltip; Vega-Embed drew its own box before)
        short.locator(".cx-chart-tornado .cx-live g.mark-rect path").first.hover()
        short.wait_for_function(
            "() => document.querySelector('.cx-chart-tornado .cx-live').title")
        tip = short.get_attribute(".cx-chart-tornado .cx-live", "title")
        assert tip.startswith("input: ") and "\nvalue: " in tip, tip
    finally:
        short.close()
        tall.close()


def test_value_of_information_is_asked_for_only_when_its_panel_is_in_sight(
        browser: Any, app_server: Any, app_page: Any) -> None:
    """The ranking of which link to measure first (100-300 ms of the server's CPU per
    request) is not asked for while its panel is out of sight; scrolled into view, it is
    asked for once and shows the ranking of the inputs on screen, the same as a page
    that had it in sight all along."""
    short = app_page(browser, app_server.url)  # 1440 x 1000: the panel is below the fold
    tall = app_page(browser, app_server.url, height=2300)  # the panel in sight
    asked: list[str] = []
    short.on("request", lambda r: asked.append(r.url) if r.url.endswith("api/voi") else None)
    try:
        tall.wait_for_selector(".cx-voi-table")
        for pg in (short, tall):
            n = pg.evaluate("window.cxStats.updates.length")
            type_value(pg, TARGET, "3")
            pg.wait_for_function(f"() => window.cxStats.updates.length > {n}")
        tall.wait_for_function("() => !document.querySelector('#cx-voi-body.cx-stale')")
        short.wait_for_timeout(1500)  # past the 900 ms a page waits before asking
        assert asked == []
        assert short.locator("#cx-voi-body.cx-stale").count() == 1  # greyed, not ranked
        assert short.locator(".cx-voi-table").count() == 0
        short.locator("#cx-voi").scroll_into_view_if_needed()
        short.wait_for_function("() => !document.querySelector('#cx-voi-body.cx-stale')")
        assert len(asked) == 1
        assert short.inner_html("#cx-voi-body") == tall.inner_html("#cx-voi-body")
        assert "cx-voi-table" in short.inner_html("#cx-voi-body")
    finally:
        short.close()
        tall.close()

"""The app as a CX leader uses it (a fresh-eyes review, December 2026): switching the
scenario while an update is on its way, and values typed the way people type them.

Each test failed on the code before its fix: an update of the scenario left behind that
answered after the new scenario had loaded put the old scenario's numbers under the new
one's controls, and while a scenario picked was on its way the old one's numbers showed
undimmed beside the new name; "1,5" (a decimal comma) was read as 15; a whole-number box kept "12.4"
while the model ran 12.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import APP_TIMEOUT_MS

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
TARGET = ".cx-ctl-touchpoints-complaints-lever-target"
FCR_TODAY = ".cx-ctl-touchpoints-first-contact-resolution-lever-today"
#: Holds every answer to an update (api/compute) back by ``window.cxDelay`` ms, and to a
#: scenario picked (api/load) by ``window.cxLoadDelay`` ms: a busy server, made
#: deterministic.
SLOW_UPDATES = """window.cxDelay = 0; window.cxLoadDelay = 0; { const plain = window.fetch;
  window.fetch = async (url, opts) => { const r = await plain(url, opts);
    const ms = String(url).endsWith('api/compute') ? window.cxDelay
      : String(url).endsWith('api/load') ? window.cxLoadDelay : 0;
    if (ms) await new Promise((ok) => setTimeout(ok, ms));
    return r; }; }"""


def cxroi_run(path: Path) -> dict[str, Any]:
    """``cxroi run --json`` of a scenario file, with its own draws and seed."""
    out = subprocess.run([sys.executable, "-m", "cxroi.cli", "run", str(path), "--json"],
                         cwd=ROOT, capture_output=True, text=True, check=True, timeout=120)
    return json.loads(out.stdout)


def open_slow(browser: Any, url: str) -> Any:
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    page.set_default_timeout(60_000)
    page.add_init_script(SLOW_UPDATES)
    page.goto(url, timeout=APP_TIMEOUT_MS)
    page.wait_for_selector(".cx-card[data-metric=npv]", timeout=APP_TIMEOUT_MS)
    return page


def updates(page: Any) -> int:
    return int(page.evaluate("window.cxStats.updates.length"))


def test_switching_scenario_while_an_update_is_computed_shows_the_new_scenario(
        browser: Any, app_server: Any) -> None:
    fcr = cxroi_run(app_server.scenario_dir / "fcr-60-to-80.yaml")
    page = open_slow(browser, app_server.url)
    try:
        page.evaluate("window.cxDelay = 1500")
        box = page.locator(f"{TARGET} .cx-box")
        box.fill("3")
        box.press("Enter")  # the complaints case with 3 days: its answer comes in 1.5 s
        n = updates(page)
        page.locator("#cx-picker").select_option("fcr-60-to-80.yaml")
        page.locator(FCR_TODAY).wait_for()
        page.wait_for_function(f"() => window.cxStats.updates.length > {n}")
        page.wait_for_timeout(2500)  # the complaints answer has arrived meanwhile
        assert page.locator("#cx-picker").input_value() == "fcr-60-to-80.yaml"
        npv = float(page.locator(".cx-card[data-metric=npv]").get_attribute("data-p50"))
        assert npv == pytest.approx(fcr["metrics"]["npv"]["p50"], rel=1e-9)
        assert page.locator("#cx-pitch-text").inner_text() == fcr["pitch"]
        assert page.locator(".cx-message").count() == 0
    finally:
        page.close()


def test_typed_values_are_read_as_a_person_means_them(browser: Any, app_server: Any) -> None:
    page = open_slow(browser, app_server.url)
    box = page.locator(f"{TARGET} .cx-box")
    try:
        # a decimal comma is not a thousands separator: 1,5 days is not 15 days
        npv = page.locator(".cx-card[data-metric=npv]").get_attribute("data-p50")
        box.fill("1,5")
        box.press("Enter")
        page.wait_for_timeout(1500)
        text = page.inner_text("body")
        assert page.locator(f"{TARGET} input[type=range]").input_value() != "1.175", \
            "1,5 was read as 15 days"
        assert "1.5" in page.locator(".cx-message").inner_text()  # says how to write it
        assert page.locator(".cx-card[data-metric=npv]").get_attribute("data-p50") == npv
        assert "Traceback" not in text
        box.fill("1")  # back to the number it had: the flag goes, nothing to compute
        box.press("Enter")
        page.locator(".cx-message").wait_for(state="detached")
        # thousands separators, a currency sign, k for thousands, a % sign in a % box
        for row, typed, shown in ((".cx-ctl-costs-one-off", "400,000", "400000"),
                                  (".cx-ctl-costs-one-off", "$450k", "450000"),
                                  (".cx-ctl-finance-risk-retention-savings", "20%", "20")):
            n = updates(page)
            b = page.locator(f"{row} .cx-box")
            b.fill(typed)
            b.press("Enter")
            page.wait_for_function(f"() => window.cxStats.updates.length > {n}")
            assert page.locator(".cx-message").count() == 0, typed
            assert b.input_value() == shown, typed  # the box shows the number computed
        # a whole-number box shows the whole number the model runs
        for row, typed, shown in ((".cx-ctl-finance-horizon-months", "30.4", "30"),
                                  (f"{TARGET.replace('target', 'ramp-months')}", "2.6", "3")):
            n = updates(page)
            b = page.locator(f"{row} .cx-box")
            b.fill(typed)
            b.press("Enter")
            page.wait_for_function(f"() => window.cxStats.updates.length > {n}")
            assert b.input_value() == shown
    finally:
        page.close()


def test_the_old_numbers_are_dimmed_while_a_picked_scenario_is_on_its_way(
        browser: Any, app_server: Any) -> None:
    page = open_slow(browser, app_server.url)
    try:
        results = page.locator(".cx-results")
        assert results.evaluate("(e) => getComputedStyle(e).opacity") == "1"
        page.evaluate("window.cxLoadDelay = 2000")
        page.locator("#cx-picker").select_option("fcr-60-to-80.yaml")
        page.wait_for_timeout(800)  # the old scenario's numbers are still on the page
        assert float(results.evaluate("(e) => getComputedStyle(e).opacity")) < 0.6
        assert results.get_attribute("aria-busy") == "true"
        page.locator(FCR_TODAY).wait_for()
        page.wait_for_function("() => getComputedStyle("
                               "document.querySelector('.cx-results')).opacity === '1'")
        assert results.get_attribute("aria-busy") != "true"
    finally:
        page.close()


def test_every_slider_says_what_it_is_and_its_value_in_words(browser: Any,
                                                             app_server: Any) -> None:
    """A keyboard or screen-reader user hears "Complaint resolution time Target, 1 days",
    not an unnamed slider at 0 (a log slider's position is the exponent)."""
    page = open_slow(browser, app_server.url)
    try:
        rows = page.eval_on_selector_all(".cx-ctl", """rows => rows.map((r) => ({
            label: r.querySelector('input[type=range]').getAttribute('aria-label'),
            text: r.querySelector('input[type=range]').getAttribute('aria-valuetext'),
            box: r.querySelector('.cx-box').getAttribute('aria-label'),
            value: r.querySelector('.cx-box').value,
            unit: r.querySelector('.cx-ctl-unit').textContent}))""")
        assert rows
        for r in rows:
            assert r["label"] == r["box"], r
            assert r["text"] == f"{r['value']} {r['unit']}", r
        # the keyboard moves the slider: End takes it to its maximum, the words follow
        today = TARGET.replace("target", "today")
        rng = page.locator(f"{today} input[type=range]")
        rng.focus()
        n = updates(page)
        page.keyboard.press("End")
        page.wait_for_function(f"() => window.cxStats.updates.length > {n}")
        assert page.locator(f"{today} .cx-box").input_value() == "365"  # not 363
        assert rng.get_attribute("aria-valuetext") == "365 days"
    finally:
        page.close()


def test_a_box_that_is_not_a_number_stays_flagged_until_it_is_fixed(browser: Any,
                                                                    app_server: Any) -> None:
    """Text that is not a number in one box, then a change elsewhere: the numbers are
    computed with that box's last number, and the page keeps saying so (it used to clear
    the message, leaving "lots" in the box beside numbers computed with 250000, and save
    250000 as the scenario)."""
    page = open_slow(browser, app_server.url)
    one_off = page.locator(".cx-ctl-costs-one-off .cx-box")
    try:
        one_off.fill("lots")
        one_off.press("Enter")
        msg = page.locator(".cx-message")
        assert "One-off" in msg.inner_text()
        assert one_off.get_attribute("aria-invalid") == "true"
        n = updates(page)
        target = page.locator(f"{TARGET} .cx-box")
        target.fill("3")
        target.press("Enter")
        page.wait_for_function(f"() => window.cxStats.updates.length > {n}")
        assert "One-off" in msg.inner_text() and "250000" in msg.inner_text()
        page.locator(".cx-save-name").fill("Not like this")
        page.locator("button.cx-save").click()
        page.locator(".cx-save-status").get_by_text("Fix the inputs first").wait_for()
        assert not (app_server.scenario_dir / "not-like-this.yaml").exists()
        one_off.fill("250000")  # the number it had: nothing to compute, the flag goes
        one_off.press("Enter")
        msg.wait_for(state="detached")
        assert one_off.get_attribute("aria-invalid") is None
    finally:
        page.close()


def test_moving_the_slider_of_a_flagged_box_clears_its_flag(browser: Any,
                                                            app_server: Any) -> None:
    """Text that is not a number in a box, then its slider dragged: the box holds the
    slider's number, so the flag and the message go and Save works again (they stayed
    until the box was retyped)."""
    page = open_slow(browser, app_server.url)
    row = page.locator(".cx-ctl-costs-one-off")
    one_off = row.locator(".cx-box")
    try:
        one_off.fill("lots")
        one_off.press("Enter")
        assert one_off.get_attribute("aria-invalid") == "true"
        n = updates(page)
        row.locator("input[type=range]").focus()
        page.keyboard.press("ArrowRight")  # input, then change: the box follows the slider
        page.wait_for_function(f"() => window.cxStats.updates.length > {n}")
        assert one_off.get_attribute("aria-invalid") is None
        assert float(one_off.input_value()) > 0
        page.locator(".cx-message").wait_for(state="detached")
    finally:
        page.close()

def test_numbers_of_the_last_valid_inputs_are_greyed_while_the_inputs_are_refused(
        browser: Any, app_server: Any) -> None:
    """A target worse than today is refused; the cards, the pitch (with its Copy button)
    and the charts still show the last valid inputs' numbers, which the message says:
    they are greyed meanwhile, so they are not read (or pasted into a deck) as the
    answer to what the boxes now hold."""
    page = open_slow(browser, app_server.url)
    opacity = ("() => ['.cx-cards', '.cx-pitch', '.cx-charts'].map((s) => "
               "Number(getComputedStyle(document.querySelector(s)).opacity))")
    target = page.locator(f"{TARGET} .cx-box")
    try:
        assert page.evaluate(opacity) == [1, 1, 1]
        target.fill("45")
        target.press("Enter")
        page.locator(".cx-message").wait_for()
        assert "last valid inputs" in page.locator(".cx-message").inner_text()
        page.wait_for_function(f"() => ({opacity})().every((o) => o < 0.6)")
        n = updates(page)
        target.fill("2")
        target.press("Enter")
        page.wait_for_function(f"() => window.cxStats.updates.length > {n}")
        page.wait_for_function(f"() => ({opacity})().every((o) => o === 1)")
        # text that is not a number: the results keep the box's last number, greyed too
        target.fill("soon")
        target.press("Enter")
        page.wait_for_function(f"() => ({opacity})().every((o) => o < 0.6)")
    finally:
        page.close()


def test_a_refusal_and_a_box_that_is_not_a_number_are_both_said(browser: Any,
                                                                app_server: Any) -> None:
    """The server refuses a discount rate of 150 %; then a box gets "1,2": the page says
    both (the second message used to replace the first, while the rate was still
    refused)."""
    page = open_slow(browser, app_server.url)
    msg = page.locator("#cx-message")
    try:
        rate = page.locator(".cx-ctl-finance-discount-rate .cx-box")
        rate.fill("150")
        rate.press("Enter")
        page.locator(".cx-message").get_by_text("Discount rate").first.wait_for()
        one_off = page.locator(".cx-ctl-costs-one-off .cx-box")
        one_off.fill("1,2")
        one_off.press("Enter")
        page.wait_for_function("() => document.querySelector('#cx-message')"
                               ".innerText.includes('One-off')")
        text = msg.inner_text()
        assert "Discount rate" in text and "150%" in text, text
        assert "One-off" in text and "1.5" in text, text
        one_off.fill("250000")  # fixed: the refusal of the rate is still said
        one_off.press("Enter")
        page.wait_for_function("() => !document.querySelector('#cx-message')"
                               ".innerText.includes('One-off')")
        assert "Discount rate" in msg.inner_text()
    finally:
        page.close()


def test_a_reload_keeps_the_scenario_and_the_values_on_screen(browser: Any,
                                                              app_server: Any) -> None:
    """Reloading the page (by accident, or because it seemed stuck) brings back the
    scenario picked and the values typed, with their numbers; it used to start again from
    the lead scenario, losing every value not saved. A new tab starts afresh."""
    page = open_slow(browser, app_server.url)
    try:
        n = updates(page)
        page.locator("#cx-picker").select_option("fcr-60-to-80.yaml")
        page.wait_for_function(f"() => window.cxStats.updates.length > {n}")
        target = page.locator(".cx-ctl-touchpoints-first-contact-resolution-lever-target "
                              ".cx-box")
        n = updates(page)
        target.fill("75")
        target.press("Enter")
        page.wait_for_function(f"() => window.cxStats.updates.length > {n}")
        npv = page.locator(".cx-card[data-metric=npv]").get_attribute("data-p50")
        page.reload()
        page.wait_for_selector(".cx-card[data-metric=npv]", timeout=APP_TIMEOUT_MS)
        page.wait_for_function(
            "(v) => document.querySelector('.cx-card[data-metric=npv]').dataset.p50 === v",
            arg=npv)
        assert page.locator("#cx-picker").input_value() == "fcr-60-to-80.yaml"
        assert target.input_value() == "75"
        assert page.locator(".cx-message").count() == 0
        fresh = open_slow(browser, app_server.url)  # another tab: the lead scenario
        try:
            assert fresh.locator("#cx-picker").input_value() == "complaints-30-to-1.yaml"
        finally:
            fresh.close()
    finally:
        page.close()

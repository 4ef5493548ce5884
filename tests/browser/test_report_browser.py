"""The executive report in a real browser (Debian's Chromium, headless, via Playwright).

Printed on A4 and US Letter, page 1 is the one-page summary (the pitch, cost, NPV with
P10–P90, ROI, payback, chance of loss, the evidence level and one chart) and no page holds
only the footer; ``cxroi report --pdf`` writes the PDF; at 1280 and 390 px neither the
reports nor the batch index scroll sideways; in JupyterLab the executed business-case
notebook shows its money untouched by the maths renderer, styled cards and SVG charts when
trusted, and text tables instead of charts when untrusted. Screenshots and the PDFs are
kept in ``test-artifacts/``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from appserver import free_port, stop, wait_for_port

from cxroi.report import render_index, render_report

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "data" / "scenarios"
ARTIFACTS = ROOT / "test-artifacts"
NAMES = ("cx-programme", "complaints-30-to-1")
#: What page 1 must say (the ask and the answer).
PAGE_ONE = ("Cost", "NPV", "P10–P90", "Risk-adjusted NPV", "ROI", "Payback",
            "Chance of losing money", "Evidence:", "Where the value comes from")
FOOTER = ("Scenario", "Data fingerprint", "Scenario fingerprint", "Simulation",
          "cxroi version", "Date")


def _pdftotext(pdf: Path, page: int) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    return subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout


def _pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True,
                          check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))


def _results(html_text: str) -> dict[str, Any]:
    m = re.search(r'<script[^>]*id="cxroi-results"[^>]*>(.*?)</script>', html_text, re.S)
    return json.loads(m.group(1))


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The full programme and the lead case with their own simulation settings, and a
    batch index linking them."""
    out = tmp_path_factory.mktemp("reports")
    paths = {n: render_report(SCENARIOS / f"{n}.yaml", out / f"{n}.html") for n in NAMES}
    rows = []
    for n, p in paths.items():
        r = _results(p.read_text("utf-8"))
        m = r["metrics"]
        rows.append({"run_id": n, "scenario": r["scenario"], "initiative": n,
                     "segment": "all", "variant": "base", "status": "ok",
                     "report": p.name, "npv_p50": m["npv"]["p50"], "npv_p10": m["npv"]["p10"],
                     "npv_p90": m["npv"]["p90"],
                     "npv_risk_adjusted_p50": m["npv_risk_adjusted"]["p50"],
                     "roi_p50": m["roi"]["p50"], "payback_month_p50": m["payback_month"]["p50"],
                     "prob_npv_negative": r["prob_npv_negative"], "currency": "USD"})
    rows.append({"run_id": "broken", "scenario": "A scenario whose file has a problem",
                 "status": "failed", "report": None,
                 "error": "broken.yaml: 1 problem in the scenario: segments[0].churn: 1.2 is "
                          "outside the allowed range; give annual churn as a share"})
    paths["index"] = render_index(rows, out, title="cxroi reports: the demo scenarios")
    return paths


@pytest.mark.parametrize("paper", ["A4", "Letter"])
@pytest.mark.parametrize("name", NAMES)
def test_page_one_is_the_summary_and_no_page_is_only_the_footer(browser, reports, name, paper):
    path = reports[name]
    page = browser.new_page()
    try:
        page.goto(path.resolve().as_uri())
        ARTIFACTS.mkdir(exist_ok=True)
        pdf = ARTIFACTS / f"report-{name}-{paper}.pdf"
        page.pdf(path=str(pdf), format=paper, print_background=True)
    finally:
        page.close()
    first = _pdftotext(pdf, 1)
    flat = " ".join(first.split())
    pitch = _results(path.read_text("utf-8"))["pitch"]
    assert " ".join(pitch.split()[:12]) in flat  # the pitch opens page 1
    for words in PAGE_ONE:
        assert words in flat, (words, paper)
    assert "Benefits over" not in flat  # the detail starts on page 2
    n = _pages(pdf)
    assert 3 <= n <= 12
    for i in range(1, n + 1):
        text = _pdftotext(pdf, i)
        rest = text
        for word in FOOTER:
            rest = rest.replace(word, "")
        assert len(" ".join(rest.split())) > 250, f"page {i} of {n} holds only the footer"


def test_cxroi_report_pdf_writes_a_letter_pdf(tmp_path):
    out = tmp_path / "lead.html"
    proc = subprocess.run([sys.executable, "-m", "cxroi.cli", "report",
                           str(SCENARIOS / "complaints-30-to-1.yaml"), "--out", str(out),
                           "--pdf", "--paper", "letter"], capture_output=True, text=True,
                          timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    pdf = out.with_suffix(".pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    assert "letter" in info.lower()
    flat = " ".join(_pdftotext(pdf, 1).split())
    for words in PAGE_ONE:
        assert words in flat, words
    assert str(pdf) in proc.stdout.replace("\n", "")


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("name", [*NAMES, "index"])
def test_no_horizontal_overflow(browser, reports, name, width):
    page = browser.new_page(viewport={"width": width, "height": 900})
    try:
        page.goto(reports[name].resolve().as_uri())
        scroll, inner = page.evaluate(
            "[document.documentElement.scrollWidth, window.innerWidth]")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"report-{name}-{width}.png"),
                        full_page=width == 390)
        assert scroll <= inner, f"{name} is {scroll} px wide at {width} px"
        if name != "index":
            # the key figures stay legible on a phone
            size = page.evaluate("parseFloat(getComputedStyle("
                                 "document.querySelector('.tile .value')).fontSize)")
            assert size >= 18
    finally:
        page.close()


@pytest.mark.parametrize("width", [320, 360])
def test_small_phones_keep_badges_inside_their_cards(browser, reports, width):
    """The evidence badges ("benchmarks + assumptions", "Evidence: Published benchmarks
    and assumptions") wrap inside their box on the smallest phones instead of pushing the
    page sideways."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    try:
        page.goto(reports["complaints-30-to-1"].resolve().as_uri())
        scroll, inner, out = page.evaluate("""() => [
            document.documentElement.scrollWidth, window.innerWidth,
            [...document.querySelectorAll('.tile .badge, .evidence .badge')].filter(b => {
                const t = b.closest('.tile, .evidence').getBoundingClientRect();
                return b.getBoundingClientRect().right > t.right + 0.5; }).length]""")
        assert out == 0, f"{out} badges stick out of their card at {width} px"
        assert scroll <= inner, f"the report is {scroll} px wide at {width} px"
    finally:
        page.close()


def test_reports_are_self_contained_and_small(reports):
    for name in NAMES:
        text = reports[name].read_text("utf-8")
        assert reports[name].stat().st_size <= 300 * 1024, name
        assert "http" not in text and "$" not in text


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """JupyterLab on a free loopback port serving an executed business-case notebook twice:
    ``trusted.ipynb`` (signed) and ``untrusted.ipynb`` (the same outputs, not signed)."""
    import nbformat
    from nbformat.sign import NotebookNotary

    from cxroi.report import execute_report

    base = tmp_path_factory.mktemp("lab")
    dirs = {k: base / k for k in ("data", "config", "runtime", "root")}
    for d in dirs.values():
        d.mkdir()
    run = execute_report(SCENARIOS / "complaints-30-to-1.yaml", draws=300, seed=7)
    assert run.error is None, run.error
    nbformat.write(run.nb, dirs["root"] / "trusted.ipynb")
    nb = nbformat.read(dirs["root"] / "trusted.ipynb", as_version=4)
    NotebookNotary(data_dir=str(dirs["data"])).sign(nb)  # what the server reads back
    nb.metadata["cxroi_copy"] = "untrusted"  # signatures are by content: make it differ
    nbformat.write(nb, dirs["root"] / "untrusted.ipynb")
    port = free_port()
    env = dict(os.environ, JUPYTER_DATA_DIR=str(dirs["data"]),
               JUPYTER_CONFIG_DIR=str(dirs["config"]), JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
           "--ServerApp.ip=127.0.0.1", "--ServerApp.token=", "--ServerApp.password=",
           f"--ServerApp.root_dir={dirs['root']}", "--ServerApp.open_browser=False"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = (base / "lab.log").open("w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        wait_for_port(port, proc, timeout=120)
        url = f"http://127.0.0.1:{port}"
        end = time.monotonic() + 60
        while time.monotonic() < end:  # the port opens before the API answers
            try:
                urllib.request.urlopen(f"{url}/api/status", timeout=5).close()
                break
            except OSError:
                time.sleep(0.5)
        yield url
    finally:
        stop(proc)
        log.close()


@pytest.mark.parametrize("trusted", [True, False], ids=["trusted", "untrusted"])
def test_jupyterlab_shows_money_untouched_styled_cards_and_charts(browser, jupyterlab,
                                                                  trusted):
    name = "trusted" if trusted else "untrusted"
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    try:
        page.goto(f"{jupyterlab}/lab/workspaces/cx-{name}/tree/{name}.ipynb?reset",
                  timeout=120_000)
        pitch = page.wait_for_selector(".jp-OutputArea-output .pitch >> visible=true",
                                       timeout=120_000)
        page.wait_for_timeout(4000)  # give the maths renderer its chance
        text = pitch.inner_text()
        assert re.search(r"worth \$[\d.]+[kM] of retention savings and \$[\d.]+[kM] of "
                         r"cross-sell margin", text), text
        assert page.locator(".jp-OutputArea-output mjx-container").count() == 0
        # JupyterLab renders only the cells near the viewport: scroll through the notebook
        svgs, tables = 0, set()
        page.mouse.move(700, 500)
        for _ in range(60):
            svgs = max(svgs, page.locator(".jp-RenderedSVG").count())
            tables |= set(page.locator(".jp-RenderedText pre").all_inner_texts())
            page.mouse.wheel(0, 700)
            page.wait_for_timeout(150)
        border = page.evaluate("getComputedStyle(document.querySelector("
                               "'.jp-OutputArea-output .tile')).borderTopStyle")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"report-jupyterlab-{name}.png"))
        if trusted:
            assert svgs >= 3 and border == "solid"  # SVG charts, styled cards
        else:
            assert svgs == 0  # no sanitised SVG markup: the charts' numbers as text
            assert any("P10" in t and "P50" in t for t in tables)
            assert any("month  36" in t for t in tables)
    finally:
        page.close()

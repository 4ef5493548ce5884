"""The executive report: no code, no network, the numbers of `cxroi run --json`, escaped."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import cxroi
from cxroi.errors import ScenarioError
from cxroi.pitch import fmt, pitch
from cxroi.report import render_index, render_report, results_dict
from cxroi.scenario import load_scenario
from cxroi.uncertainty import simulate

ROOT = Path(__file__).resolve().parents[1]
LEAD = ROOT / "data" / "scenarios" / "complaints-30-to-1.yaml"
DRAWS, SEED = 400, 11


@pytest.fixture(scope="module")
def lead_report(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("report") / "lead.html"
    path = render_report(LEAD, out, draws=DRAWS, seed=SEED, data_fingerprint="fp-1234abcd")
    return path, path.read_text(encoding="utf-8")


def _results(text: str) -> dict:
    m = re.search(r'<script[^>]*id="cxroi-results"[^>]*>(.*?)</script>', text, re.S)
    assert m, "the report carries its results block"
    return json.loads(m.group(1))


def test_report_is_written_atomically_and_small(lead_report):
    path, text = lead_report
    assert path.is_file()
    assert path.stat().st_size <= 2 * 1024 * 1024
    assert not list(path.parent.glob("*.tmp")) and not list(path.parent.glob(".*"))
    assert text.lstrip().startswith("<!DOCTYPE html>")


def test_report_has_no_input_cells(lead_report):
    _, text = lead_report
    for code in ("business_case(", "case.pitch_section", "from cxroi", "data_fingerprint =",
                 "jp-InputArea", "jp-InputPrompt", "In&nbsp;[", "highlight"):
        assert code not in text, code
    # nor the analyst-facing markdown
    assert "This notebook is thin on purpose" not in text


def test_report_loads_nothing_from_the_network(lead_report):
    _, text = lead_report
    assert not re.search(r"<script[^>]*\bsrc\s*=", text, re.I)
    assert not re.search(r"<link\b", text, re.I)
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", text, re.I)
    assert "@import" not in text
    assert not re.search(r"url\(\s*[\"']?(https?:)?//", text, re.I)
    assert "http" not in text  # not even namespaces: inline SVG needs none


def test_report_sections_in_the_executive_order(lead_report):
    _, text = lead_report
    order = ["cx-pitch", "cx-figures", "cx-range", "cx-waterfall", "cx-drivers",
             "cx-flywheel", "cx-sources", "cx-footer"]
    pos = [text.index(f'class="{c}"') for c in order]
    assert pos == sorted(pos)
    # NPV range, cash flow, waterfall, tornado, flywheel: all inline SVG
    assert text.count("<svg") == 5


def test_report_prints_cleanly(lead_report):
    _, text = lead_report
    assert "@media print" in text
    assert "break-inside: avoid" in text
    assert "@page" in text


def test_headline_numbers_equal_cxroi_run_json(lead_report):
    _, text = lead_report
    got = _results(text)
    proc = subprocess.run([sys.executable, "-m", "cxroi.cli", "run", str(LEAD), "--json",
                           "--draws", str(DRAWS), "--seed", str(SEED)],
                          capture_output=True, text=True, check=True)
    want = json.loads(proc.stdout)
    assert got["scenario"] == want["scenario"]
    assert got["pitch"] == want["pitch"]
    assert got["prob_npv_negative"] == pytest.approx(want["prob_npv_negative"])
    assert set(want["metrics"]) <= set(got["metrics"])
    for name, m in want["metrics"].items():
        for q in ("p10", "p50", "p90", "mean", "likely"):
            if m[q] is None:
                assert got["metrics"][name][q] is None
            else:
                assert got["metrics"][name][q] == pytest.approx(m[q], rel=1e-12, abs=1e-9), \
                    (name, q)
    # and what the executive reads is those numbers, formatted
    res = simulate(load_scenario(LEAD), draws=DRAWS, seed=SEED)
    assert html.escape(pitch(res)) in text
    npv = res.quantile("npv", 0.5)
    tile = re.search(r'data-metric="npv" data-value="([^"]+)".*?class="value">([^<]+)<', text,
                     re.S)
    assert float(tile.group(1)) == pytest.approx(npv)
    assert tile.group(2) == fmt(npv, "money", "USD")


def test_sources_table_resolves_benchmark_ids(lead_report):
    _, text = lead_report
    sc = load_scenario(LEAD)
    kinds = {link.provenance for link in sc.link_paths().values()}
    assert "Published benchmark" in text and "Assumption" in text
    assert "benchmark" in kinds
    # the id knox-van-oest-2014 is shown as its citation
    assert "Knox &amp; van Oest (2014)" in text
    assert ">knox-van-oest-2014<" not in text


def test_footer_names_scenario_fingerprint_version_and_date(lead_report):
    _, text = lead_report
    footer = text[text.index('class="cx-footer"'):]
    sc = load_scenario(LEAD)
    assert html.escape(sc.name) in footer
    assert "fp-1234abcd" in footer
    assert cxroi.__version__ in footer
    assert dt.date.today().isoformat() in footer
    assert f"{DRAWS:,} draws, seed {SEED}" in footer


def test_user_text_is_escaped(tmp_path, tiny):
    evil = "<script>alert(1)</script>"
    d = dict(tiny)
    d["name"] = evil
    d["description"] = "<img src=x onerror=alert(2)>"
    d["segments"] = [dict(d["segments"][0], name="<b>Big</b> & co")]
    d["touchpoints"] = {"complaints": dict(d["touchpoints"]["complaints"],
                                           label="<script>alert(3)</script>")}
    from cxroi.scenario import scenario_from_dict

    sc = scenario_from_dict(d)
    text = render_report(sc, tmp_path / "evil.html", draws=200, seed=1).read_text("utf-8")
    assert "<script>alert" not in text
    assert "<img src=x" not in text
    assert "<b>Big</b>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;b&gt;Big&lt;/b&gt; &amp; co" in text
    # the only script elements are the data block (type application/json)
    for tag in re.findall(r"<script[^>]*>", text):
        assert 'type="application/json"' in tag


def test_bad_scenario_is_a_clear_error_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsegments: []\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="bad.yaml"):
        render_report(bad, tmp_path / "out.html")
    assert not (tmp_path / "out.html").exists()


def test_render_index_is_sortable_escaped_and_links_reports(tmp_path):
    res = simulate(load_scenario(LEAD), draws=200, seed=1)
    r = results_dict(res)
    rows = [
        {"run_id": "a", "scenario": "<i>A</i>", "status": "ok", "report": "a.html",
         "npv_p50": r["metrics"]["npv"]["p50"], "npv_p10": 1.0, "npv_p90": 2.0,
         "roi_p50": 0.5, "payback_month_p50": 14.0, "prob_npv_negative": 0.1},
        {"run_id": "b", "scenario": "B", "status": "failed", "report": None,
         "error": "b.yaml: 1 problem in the scenario"},
    ]
    path = render_index(rows, tmp_path, title="t<1>")
    text = path.read_text("utf-8")
    assert "<i>A</i>" not in text and "&lt;i&gt;A&lt;/i&gt;" in text
    assert "t&lt;1&gt;" in text
    assert "href='a.html'" in text
    assert "b.yaml: 1 problem in the scenario" in text
    assert text.count("data-col=") >= 10
    assert not re.search(r"<script[^>]*\bsrc\s*=", text)

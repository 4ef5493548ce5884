"""The executive report: no code, no network, the numbers of `cxroi run --json`, escaped."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from markupsafe import escape

import cxroi
from cxroi.errors import ScenarioError
from cxroi.pitch import fmt, pitch
from cxroi.report import render_index, render_report, results_dict
from cxroi.scenario import load_scenario, scenario_from_dict
from cxroi.uncertainty import simulate

ROOT = Path(__file__).resolve().parents[1]
LEAD = ROOT / "data" / "scenarios" / "complaints-30-to-1.yaml"
DRAWS, SEED = 400, 11


@pytest.fixture(scope="module")
def lead_report(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("report") / "lead.html"
    path = render_report(LEAD, out, draws=DRAWS, seed=SEED, data_fingerprint="fp-1234abcd")
    return path, path.read_text(encoding="utf-8")


def _shown(s: str) -> str:
    """How the report writes plain text: escaped, every ``$`` as ``&#36;``."""
    return str(escape(s)).replace("$", "&#36;")


def _results(text: str) -> dict:
    m = re.search(r'<script[^>]*id="cxroi-results"[^>]*>(.*?)</script>', text, re.S)
    assert m, "the report carries its results block"
    return json.loads(m.group(1))


def test_report_is_written_atomically_and_small(lead_report):
    path, text = lead_report
    assert path.is_file()
    assert path.stat().st_size <= 300 * 1024
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
    order = ["cx-summary", "cx-figures", "cx-range", "cx-drivers", "cx-flywheel",
             "cx-sources", "cx-footer"]
    pos = [text.index(f'class="{c}') for c in order]
    assert pos == sorted(pos)
    # waterfall (page 1), NPV range, cash flow, tornado, flywheel: all inline SVG, once each
    assert text.count("<svg") == 5
    assert text.count('class="cx-footer') == 1


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
    assert _shown(pitch(res)) in text
    npv = res.quantile("npv", 0.5)
    tile = re.search(r'data-metric="npv" data-value="([^"]+)".*?class="value">([^<]+)<', text,
                     re.S)
    assert float(tile.group(1)) == pytest.approx(npv)
    assert html.unescape(tile.group(2)) == fmt(npv, "money", "USD")


def test_sources_table_resolves_benchmark_ids(lead_report):
    _, text = lead_report
    sc = load_scenario(LEAD)
    kinds = {link.provenance for link in sc.link_paths().values()}
    assert "Published benchmark" in text and "Assumption" in text
    # plain units, not raw decimals or jargon
    assert _shown("30% of complaints end with a satisfied customer today (at 30 days)") in text
    assert _shown("Each doubling of complaint resolution time cuts the odds of a satisfied "
                  "customer by 28%") in text
    assert "percentage points more likely to leave" in text
    assert "(odds ratio)" not in text
    # the year of each cited source, and the widening for transfer from another context
    assert "(2014)" in text and "widened ×1.5 for transfer" in text
    # no company data behind this scenario: the baseline is a scenario input
    assert "company books" not in text and "from the scenario inputs" in text
    assert "Survey NPS" in text
    assert "benchmark" in kinds
    # the id knox-van-oest-2014 is shown as its citation
    assert "Knox &amp; van Oest (2014)" in text
    assert ">knox-van-oest-2014<" not in text


def test_footer_names_scenario_fingerprint_version_and_date(lead_report):
    _, text = lead_report
    footer = text[text.index('class="cx-footer'):]
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
    assert "&lt;img src=x onerror=alert(2)&gt;" in text
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
        {"run_id": "c", "scenario": "C", "status": "ok", "report": "c.html",
         "prob_npv_negative": 0.004},
    ]
    path = render_index(rows, tmp_path, title="t<1>")
    text = path.read_text("utf-8")
    assert "<i>A</i>" not in text and "&lt;i&gt;A&lt;/i&gt;" in text
    assert "t&lt;1&gt;" in text
    assert "href='a.html'" in text
    assert "b.yaml: 1 problem in the scenario" in text
    assert text.count("data-col=") >= 10
    assert not re.search(r"<script[^>]*\bsrc\s*=", text)
    # the chance of losing money in the report's words, sorted by the probability itself
    assert "Chance of losing money" in text and "P(NPV&lt;0)" not in text
    assert "<td class='num' data-sort='0.1'>10%</td>" in text
    assert "<td class='num' data-sort='0.004'>under 1%</td>" in text


# --------------------------------------------------------------------------------------
# One page, one statistic, the same numbers, safe money, templates
# --------------------------------------------------------------------------------------


def test_every_money_string_is_safe_from_mathjax(lead_report):
    """JupyterLab's maths renderer reads ``$...$`` as a formula: no raw ``$`` anywhere
    (text, attributes, SVG and the JSON block, which writes it ``\\u0024``)."""
    _, text = lead_report
    assert "$" not in text
    assert "&#36;" in text
    got = _results(text)
    assert "$" in got["pitch"]  # the data still carry the real sign


def test_page_one_holds_the_ask_and_the_answer(lead_report):
    _, text = lead_report
    page1 = text[text.index('class="cx-summary'):text.index('class="cx-figures')]
    for metric in ("total_costs", "npv", "npv_risk_adjusted", "roi", "payback_month",
                   "prob_npv_negative"):
        assert f'data-metric="{metric}"' in page1, metric
    assert 'id="pitch"' in page1 and "P10–P90" in page1
    assert "data-evidence=" in page1 and "Evidence:" in page1
    assert page1.count("<svg") == 1  # the waterfall
    assert "break-after: page" in text


def test_one_statistic_waterfall_adds_to_the_npv_card_and_probabilities_agree(lead_report):
    _, text = lead_report
    got = _results(text)
    m = got["metrics"]
    pv = got["present_values_p50"]
    assert sum(pv.values()) - m["pv_costs"]["likely"] == pytest.approx(m["npv"]["p50"],
                                                                       rel=1e-9)
    card = re.search(r'data-metric="npv" data-value="([^"]+)"', text)
    assert float(card.group(1)) == pytest.approx(m["npv"]["p50"])
    # each benefit card names its present value in the NPV: the waterfall's bar
    for line, v in pv.items():
        tile = text[text.index(f'data-metric="{line}"'):]
        tile = tile[:tile.index("</div>\n</div>") if "</div>\n</div>" in tile else 2000]
        assert _shown(f"present value in the NPV {fmt(v, 'money', 'USD')}") in tile, line
    # statistics are named: P50 headline, likely-case tornado, undiscounted totals
    assert "median (P50)" in text and "likely case" in text and "undiscounted" in text
    # a rounded probability reads the same on the card, in the pitch and in the charts
    from cxroi.pitch import chance

    word = chance(got["prob_npv_negative"])
    tile = re.search(r'data-metric="prob_npv_negative"[^>]*>.*?class="value">([^<]+)<', text,
                     re.S)
    assert tile.group(1) == word
    assert f"{word} chance it loses money" in got["pitch"]
    assert f"{word} chance NPV" in text
    assert not re.search(r"(?<![\d.])(0|100)% (chance|of simulations)", text)


def test_cxroi_run_and_the_report_give_identical_headline_figures(tmp_path):
    """No --draws/--seed anywhere: both use the scenario's simulation settings."""
    scenario = ROOT / "data" / "scenarios" / "fcr-60-to-80.yaml"
    sc = load_scenario(scenario)
    text = render_report(scenario, tmp_path / "fcr.html").read_text("utf-8")
    got = _results(text)
    proc = subprocess.run([sys.executable, "-m", "cxroi.cli", "run", str(scenario), "--json"],
                          capture_output=True, text=True, check=True)
    want = json.loads(proc.stdout)
    assert got["draws"] == want["draws"] == sc.simulation.draws
    assert got["seed"] == want["seed"] == sc.simulation.seed
    assert got["pitch"] == want["pitch"]
    for name in ("npv", "npv_risk_adjusted", "roi", "payback_month", "retention_savings",
                 "cross_sell", "cost_to_serve_savings", "advocacy", "nps_change"):
        for q in ("p10", "p50", "p90"):
            assert got["metrics"][name][q] == want["metrics"][name][q], (name, q)
    assert got["prob_npv_negative"] == want["prob_npv_negative"]


def _rich_scenario():
    """The lead case as calibration would leave it: a measured direct churn link with a
    benchmark prior, the range seen in the data, caveats on money lines, NPS and a link."""
    from cxroi.scenario import Caveat, Observed, scenario_from_dict

    sc = load_scenario(LEAD).with_link(
        "touchpoints.complaints.links.churn_hazard_ratio", value=1.4, low=1.1, high=1.8,
        provenance="calibrated", n=4812, prior_weight=0.3,
        prior_source="tarp-complaint-loyalty",
        source="calibrated: 4,812 accounts + benchmark prior (tarp-complaint-loyalty), Cox "
               "HR per doubling")
    tp = sc.touchpoints["complaints"]
    sc = sc.model_copy(update={
        "touchpoints": {"complaints": tp.model_copy(update={
            "observed": Observed(low=2.0, high=45.0, n=4812)})},
        "caveats": [Caveat(about="retention_savings", text="Only 3 SMB accounts left: <few>"),
                    Caveat(about="nps", text="Response bias: for all customers NPS is about "
                                             "-2 (raw survey +32)"),
                    Caveat(about="churn_hazard_ratio", text="Chain and direct disagree"),
                    Caveat(about="general", text="Same-day tickets floored at 0.1 days")]})
    return scenario_from_dict(sc.model_dump(mode="json"))


@pytest.fixture(scope="module")
def rich_case():
    from cxroi.report import business_case

    return business_case(_rich_scenario(), draws=300, seed=2)


def _tile_html(page: str, metric: str) -> str:
    start = page.index(f'data-metric="{metric}"')
    nxt = page.find('<div class="tile', start)
    return page[start: nxt if nxt > 0 else len(page)]


def test_evidence_and_caveats_sit_next_to_their_numbers(rich_case):
    summary = rich_case.summary_section().html
    ev = rich_case.evidence
    assert ev.lines["retention_savings"].level == "measured"
    assert f'data-evidence="{ev.level}"' in summary
    assert _shown(ev.phrase[1:]) in summary
    # extrapolation: the 1-day target lies outside the 2-45 days seen in the data
    assert "Extrapolated:" in summary and _shown("1 day lies outside the 2 days–45 days") in summary
    assert "Same-day tickets floored" in summary
    benefits = rich_case.figures_section().html
    ret = _tile_html(benefits, "retention_savings")
    assert "measured here" in ret and "Only 3 SMB accounts left: &lt;few&gt;" in ret
    assert "Only 3 SMB" not in _tile_html(benefits, "cross_sell")
    assert "Response bias" in _tile_html(benefits, "nps_change")


def test_provenance_table_reads_in_plain_units(rich_case):
    text = rich_case.sources_section().html
    assert _shown("Each doubling of complaint resolution time raises the hazard of leaving "
                  "by 40%") in text
    assert "raises the hazard by 10% to 80%" in text
    assert "calibrated: 4,812 accounts + benchmark prior" in text
    assert "30% of the precision" in text
    row = text[text.index('data-link="touchpoints.complaints.links.churn_hazard_ratio"'):]
    assert "Chain and direct disagree" in row[:row.index("</tr>")]
    # calibrated: the baseline comes from the company's books; NPS says what it is
    assert "company books" in text
    assert "Survey NPS" in text and "Response bias: for all customers NPS is about" in text
    rows = rich_case.sources_table()
    assert {"sentence", "range", "kind", "source", "year", "caveat"} <= set(rows.columns)
    assert not rows["sentence"].str.contains(r"\d\.\d{4}").any()  # no raw decimals


def test_units_have_their_grammar(rich_case):
    text = rich_case.drivers_section().html
    assert "1 days" not in text
    assert "the plan is 1 day (today 30 days)" in text


def test_sections_show_in_jupyterlab_styled_safe_and_with_fallbacks(rich_case):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    from cxroi.report import SECTION_MIME

    InteractiveShell.instance()
    section = rich_case.range_section()
    with capture_output() as cap:
        section._ipython_display_()
    first, *charts = [o.data for o in cap.outputs]
    assert first[SECTION_MIME] == section.html
    nb = first["text/html"]
    assert "<style>" in nb and ".cx-report" in nb and "mathjax_ignore" in nb
    assert "$" not in nb and "<svg" not in nb  # charts are their own outputs
    assert len(charts) == 2
    for c in charts:
        # no text/html: an untrusted notebook falls back to the text table, never to
        # sanitised, garbled SVG markup
        assert set(c) == {"image/svg+xml", "text/plain"}
        assert c["image/svg+xml"].lstrip().startswith("<svg")
        assert "xmlns" in c["image/svg+xml"]
    assert "P50" in charts[0]["text/plain"] and "month  36" in charts[1]["text/plain"]
    # the stylesheet inlined into notebooks restyles nothing outside the section
    from cxroi.report import section_css

    css = re.sub(r"/\*.*?\*/", "", section_css(), flags=re.S)
    for rule in re.findall(r"(?m)^\s*([^@\s{}][^{;]*)\{", css):
        for sel in rule.split(","):
            assert sel.strip().startswith(".cx-report"), sel


def test_what_to_measure_next_slot(rich_case, monkeypatch):
    import types

    assert rich_case.voi_section().html == "" or "cx-voi" in rich_case.voi_section().html
    fake = types.ModuleType("cxroi.voi")

    class VOI:
        evpi = 120_000.0
        table = pd.DataFrame({"link": ["touchpoints.complaints.links.churn_gap"],
                              "label": ["Leaving after a bad outcome"], "evppi": [85_000.0]})

    fake.value_of_information = lambda result, **kw: VOI()
    monkeypatch.setitem(sys.modules, "cxroi.voi", fake)
    html_text = rich_case.voi_section().html
    assert "What to measure next" in html_text and "Leaving after a bad outcome" in html_text
    assert "&#36;85k" in html_text and "&#36;120k" in html_text
    monkeypatch.setitem(sys.modules, "cxroi.voi", None)  # import fails: no section
    assert rich_case.voi_section().html == ""


def test_what_to_measure_next_is_unchanged_without_the_groups(rich_case):
    """The section asks :func:`cxroi.voi.value_of_information` for no touchpoint groups
    (the report does not show them): the per-link table and the EVPI are the same numbers
    as with them, so the section is the one the full computation gives."""
    from cxroi.voi import value_of_information

    full = value_of_information(rich_case.result)
    light = value_of_information(rich_case.result, groups={})
    assert len(full.groups) > 0 and len(light.groups) == 0
    assert light.evpi == full.evpi
    pd.testing.assert_frame_equal(light.table, full.table)


def test_report_markup_lives_in_templates_not_python_fstrings():
    """The report package keeps the data; the templates keep the markup (the batch
    index, cxroi/report/index.py, aside)."""
    import ast

    modules = sorted((ROOT / "cxroi" / "report").glob("*.py"))
    assert {p.name for p in modules} >= {"case.py", "sections.py", "render.py", "svg.py"}
    for path in modules:
        if path.name == "index.py":
            continue
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                parts = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
                assert not re.search(r"<[a-z/]", parts), (path.name, node.lineno, parts)


def test_write_pdf_without_chromium_is_a_clear_error(tmp_path, monkeypatch):
    from cxroi.errors import ReportError
    from cxroi.report import write_pdf

    page = tmp_path / "r.html"
    page.write_text("<!DOCTYPE html><html><head></head><body>x</body></html>", "utf-8")
    monkeypatch.setenv("CXROI_CHROMIUM", str(tmp_path / "no-chromium"))
    with pytest.raises(ReportError, match="CXROI_CHROMIUM"):
        write_pdf(page)
    assert not (tmp_path / "r.pdf").exists()
    with pytest.raises(ReportError, match="paper"):
        write_pdf(page, paper="A3")


def test_cli_report_pdf_without_chromium_exits_2_before_rendering(tmp_path):
    import os

    env = dict(os.environ, CXROI_CHROMIUM=str(tmp_path / "none"))
    out = tmp_path / "r.html"
    proc = subprocess.run([sys.executable, "-m", "cxroi.cli", "report", str(LEAD), "--out",
                           str(out), "--pdf"], capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert "cannot write a PDF" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()


def test_pitch_words_chances_and_units_consistently():
    from cxroi.pitch import chance, markdown_safe, quantity

    assert [chance(p) for p in (0.0, 0.004, 0.01, 0.5, 0.995, 1.0)] == [
        "under 1%", "under 1%", "1%", "50%", "over 99%", "over 99%"]
    assert [quantity(x, "days") for x in (1, 2, 1.5)] == ["1 day", "2 days", "1.5 days"]
    assert markdown_safe("$971k of retention and $1.3M") == r"\$971k of retention and \$1.3M"


@pytest.fixture(scope="module")
def tei_case():
    from cxroi.report import business_case

    return business_case(ROOT / "data" / "scenarios" / "tei-salesloft.yaml", draws=200, seed=3)


def test_a_cash_flow_case_names_its_own_benefits_and_costs(tei_case):
    """Forrester's SalesLoft study enters as cash-flow lines: PV benefits $7,168,371, PV
    costs $1,672,201, undiscounted costs $2,004,420. The report must show them as such —
    not as "retention savings", nor a cost of "$0 one-off + $0 a year"."""
    summary = tei_case.summary_section().html
    cost = _tile_html(summary, "total_costs")
    assert _shown("$2.0M") in cost
    assert _shown("$2.0M of cost lines") in cost  # the parts add up to the total
    assert _shown("Other benefits (cash-flow lines) carries most of the value") in summary
    assert "Retention savings and cross-sell margin carry" not in summary
    benefits = tei_case.figures_section().html
    other = _tile_html(benefits, "other_benefits")
    assert _shown("$8.9M") in other and _shown("present value in the NPV $7.2M") in other
    assert "benchmarks" in other  # the study's lines are a published benchmark
    assert _shown("present value in the NPV $0") in _tile_html(benefits, "retention_savings")
    assert tei_case.present_values["other_benefits"] == pytest.approx(7_168_371, abs=1)


def test_money_rounds_into_the_next_unit_and_never_shows_minus_zero():
    """Money a CFO reads: never "$1000k" or "$1000.0M" (a reader takes them for a typo),
    trillions of won as "₩5.0T" (as the chart axes write them), never "-$0"; every amount
    read back lies within half its last shown digit of the true one."""
    from cxroi.pitch import money

    assert money(999_600) == "$1.0M"
    assert money(999_499) == "$999k"
    assert money(999.6) == "$1k"
    assert money(999_960_000) == "$1.0B"
    assert money(-999_600) == "-$1.0M"
    assert money(5e12, "KRW") == "₩5.0T"
    assert money(1.25e15, "KRW") == "₩1,250.0T"
    assert money(-0.4) == "$0" and money(0.0) == "$0"
    scale = {"": 1.0, "k": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}
    rng = np.random.default_rng(7)
    for x in np.concatenate([10 ** rng.uniform(0, 14, 3000), [999.5, 999_500, 9.9996e8]]):
        for sign in (1, -1):
            got = money(sign * x)
            m = re.fullmatch(r"(-?)\$([\d,]+(?:\.\d)?)([kMBT]?)", got)
            assert m, got
            number = float(m.group(2).replace(",", ""))
            assert number < 1000 or m.group(3) == "T", got
            step = (0.1 if "." in m.group(2) else 1.0) * scale[m.group(3)]
            shown = (-1 if m.group(1) else 1) * number * scale[m.group(3)]
            assert abs(shown - sign * x) <= step / 2 + 1e-6 * x, (x, got)


def test_pitch_quotes_the_cards_numbers_and_reads_right_when_it_loses_money():
    """The sentence says what the cards say, with their rounding (NPS to a tenth, as the
    NPS card, the before/after table and ``cxroi run``), and a case that makes things worse
    reads as such: the verb follows the lever's actual move, NPS falls, the money lines
    carry their minus signs, and "never pays back" is worded as the payback card words it
    (simulations, not "draws")."""
    from cxroi.pitch import chance, money

    sc = load_scenario(LEAD)
    res = simulate(sc, draws=DRAWS, seed=SEED)
    text = pitch(res)
    assert f"lifts NPS by {fmt(res.quantile('nps_change', 0.5), 'points')} points" in text
    worse = sc.with_lever("complaints", today=1, target=30)  # service made slower
    res = simulate(worse, draws=DRAWS, seed=SEED)
    text = pitch(res)
    assert text.startswith("Raising complaint resolution time from 1 day to 30 days")
    nps = res.quantile("nps_change", 0.5)
    assert nps < 0 and f"lowers NPS by {fmt(-nps, 'points')[1:]} points" in text
    ret, xs = res.quantile("retention_savings", 0.5), res.quantile("cross_sell", 0.5)
    assert ret < 0 and xs < 0
    assert (f"changes retention savings by {money(ret)} and cross-sell margin by "
            f"{money(xs)}") in text
    assert "is worth -" not in text and "lifts NPS by -" not in text
    share = res.share_defined("payback_month")
    assert f"no payback within 36 months ({chance(share)} of simulations pay back)" in text
    assert "draws" not in text
    fcr = load_scenario(ROOT / "data" / "scenarios" / "fcr-60-to-80.yaml")
    name = next(iter(fcr.touchpoints))
    back = fcr.with_lever(name, today=0.8, target=0.6)
    assert pitch(simulate(back, draws=200, seed=1)).startswith(
        "Cutting first contact resolution from 80% to 60%")



def test_a_case_where_no_lever_moves_does_not_claim_the_change_of_its_name():
    """With every lever at today's value the sentence says nothing moves and there are no
    benefits, not "Complaints resolved in 1 day instead of 30 is worth $0"; a case of its
    own cash-flow lines (the TEI study) still quotes them."""
    sc = load_scenario(LEAD)
    still = sc.with_lever("complaints", target=sc.touchpoints["complaints"].lever.today)
    text = pitch(simulate(still, draws=200, seed=1))
    assert text.startswith("Leaving every lever where it is (complaint resolution time at "
                           "30 days) brings no benefits over 36 months, for $")
    assert sc.name not in text
    tei = load_scenario(ROOT / "data" / "scenarios" / "tei-salesloft.yaml")
    assert pitch(simulate(tei, draws=200, seed=1)).startswith(f"{tei.name} is worth $")

def test_flywheel_caption_tells_the_story_the_numbers_tell():
    """The flywheel's caption must not promise happier customers when service gets worse,
    nor "the money funds the next turn" when the case loses money."""
    from cxroi.report import business_case

    sc = load_scenario(LEAD)
    good = business_case(sc, draws=200, seed=3).flywheel_section().html
    assert "customers feel better about the company" in good
    assert "the money funds the next turn" in good
    costly = sc.model_copy(update={"costs": sc.costs.model_copy(
        update={"one_off": 4_000_000.0, "running_per_year": 800_000.0})})
    case = business_case(costly, draws=200, seed=3)
    assert case.q("npv") < 0 < case.q("nps_change")
    text = case.flywheel_section().html
    assert "customers feel better about the company" in text
    assert "funds the next turn" not in text
    assert _shown(f"the money does not cover the cost (NPV {case.f('npv')})") in text
    worse = business_case(sc.with_lever("complaints", today=1, target=30), draws=200, seed=3)
    text = worse.flywheel_section().html
    assert "feel better" not in text and "customers feel worse about the company" in text


def test_summary_and_cards_name_the_assumptions_behind_benchmark_lines():
    from cxroi.report import business_case

    case = business_case(LEAD, draws=200, seed=3)
    summary = case.summary_section().html
    assert "Evidence: Published benchmarks and assumptions</span>" in summary
    assert _shown("resting on published benchmarks and stated assumptions") in summary
    card = _tile_html(case.figures_section().html, "cost_to_serve_savings")
    assert ">benchmarks + assumptions</span>" in card


def test_what_to_measure_next_leads_with_the_conclusion():
    """A CFO reads the answer first: for a case whose decision no measurement could change
    (here one that loses money across every range) the section says nothing needs
    measuring, instead of a bare table of zeros under a term of art."""
    pytest.importorskip("cxroi.voi")
    from cxroi.report import business_case

    sc = load_scenario(LEAD)
    costly = sc.model_copy(update={"costs": sc.costs.model_copy(
        update={"one_off": 4_000_000.0, "running_per_year": 800_000.0})})
    text = business_case(costly, draws=400, seed=3).voi_section().html
    assert "nothing needs measuring before deciding." in text
    assert text.index("nothing needs measuring") < text.index("<table")


def test_terms_a_cfo_may_not_know_are_explained_where_they_first_appear():
    """P10–P90 and TEI are not CFO vocabulary: page 1 says what the range means, and the
    risk adjustment names the method it comes from."""
    from cxroi.report import business_case

    case = business_case(LEAD, draws=200, seed=3)
    summary = case.summary_section().html
    assert "8 in 10 simulations land between the two" in summary
    assert "TEI" not in summary  # the risk-adjusted card says what it is in plain words
    assert "after risk haircuts" in _tile_html(summary, "npv_risk_adjusted")
    benefits = case.figures_section().html
    assert "Total Economic Impact" in benefits


def test_the_data_block_says_its_currency_horizon_and_payback_share_as_cxroi_run(tmp_path):
    """The report's results block is "the numbers of ``cxroi run --json``": a reader of a
    won report must find "KRW" beside the amounts, the horizon they are totals over, and
    what share of simulations pays back at all (a loss-making case's "never")."""
    from cxroi.cli.common import result_payload
    from cxroi.report import business_case
    from cxroi.scenario import scenario_to_yaml

    d = load_scenario(LEAD).model_dump(mode="json")
    d.update(currency="KRW", costs={"one_off": 5.2e9, "running_per_year": 1.04e9})
    path = tmp_path / "krw.yaml"
    path.write_text(scenario_to_yaml(scenario_from_dict(d)), encoding="utf-8")
    got = business_case(path, draws=300, seed=4).results_dict()
    want = result_payload(str(path), draws=300, seed=4)
    assert got["currency"] == want["currency"] == "KRW"
    assert got["horizon_months"] == want["horizon_months"] == 36
    for name, m in want["metrics"].items():
        assert got["metrics"][name]["share_defined"] == m["share_defined"], name
    assert got["metrics"]["payback_month"]["share_defined"] < 0.5  # it loses money


def test_drivers_of_a_case_no_input_moves_say_so_instead_of_an_empty_tornado(tei_case):
    """Forrester's figures are fixed amounts: no input's range moves the NPV, so the
    section says that in words rather than drawing eight empty bars around '$5.49617M'."""
    html_text = tei_case.drivers_section().html
    assert "<svg" not in html_text
    assert _shown("No input's range moves the result (likely case NPV $5.5M)") in html_text
    lead = __import__("cxroi.report", fromlist=["business_case"]).business_case(
        LEAD, draws=200, seed=3).drivers_section().html
    assert "<svg" in lead and "No input's range" not in lead


def test_a_figure_that_reads_negative_is_never_painted_as_a_gain():
    """Green is for money made. A benefit line that loses money (a slower desk) must not
    show "-$631k" in green, and a negative NPV or ROI reads in the loss colour."""
    from cxroi.report import business_case

    sc = load_scenario(LEAD)
    lead = business_case(sc, draws=200, seed=3)
    for t in [*lead.key_tiles(), *lead.benefit_tiles()]:
        assert not t.negative, t.label
    worse = business_case(sc.with_lever("complaints", today=1, target=30), draws=200, seed=3)
    tiles = {t.metric: t for t in [*worse.key_tiles(), *worse.benefit_tiles()]}
    for m in ("retention_savings", "cross_sell", "npv", "roi", "nps_change"):
        assert tiles[m].value.startswith("-") and tiles[m].negative, m
    assert not tiles["total_costs"].negative  # a cost is red already, never "negative"
    card = _tile_html(worse.figures_section().html, "retention_savings")
    assert card.startswith('data-metric="retention_savings"')
    page = worse.figures_section().html
    assert 'class="tile gain negative" data-metric="retention_savings"' in page
    css = (ROOT / "cxroi" / "resources" / "sections.css").read_text("utf-8")
    rules = css.index(".tile.negative .value { color: var(--loss); }")
    assert rules > css.index(".tile.gain .value") and rules > css.index(".tile.total .value")


def test_page_one_cards_state_their_horizon_and_what_roi_is():
    """An NPV or an ROI without its period is not a number a CFO can use: the cards say
    over how many months, and what the ROI divides."""
    from cxroi.report import business_case

    sc = load_scenario(LEAD)
    short = sc.model_copy(update={"finance": sc.finance.model_copy(
        update={"horizon_months": 24})})
    for case, h in ((business_case(sc, draws=200, seed=3), 36),
                    (business_case(short, draws=200, seed=3), 24)):
        page = case.summary_section().html
        for metric in ("npv", "npv_risk_adjusted", "roi"):
            assert f"over {h} months" in _tile_html(page, metric), (metric, h)
        assert "NPV ÷ present value of costs" in _tile_html(page, "roi")


def test_a_payback_beside_a_negative_npv_says_it_is_undiscounted():
    """NPV -$54k and "payback month 34" in one sentence look contradictory to a CFO unless
    the payback is said to be on undiscounted cash (the NPV discounts at 10% a year)."""
    from cxroi.report import business_case

    sc = load_scenario(LEAD)
    marginal = sc.model_copy(update={"costs": sc.costs.model_copy(
        update={"one_off": 1_650_000.0, "running_per_year": 200_000.0})})
    case = business_case(marginal, draws=DRAWS, seed=SEED)
    assert case.q("npv") < 0 and case.q("payback_month") <= 36
    text = pitch(case.result)
    assert f"payback month {case.q('payback_month'):.0f} on undiscounted cash" in text
    pay = _tile_html(case.summary_section().html, "payback_month")
    assert "undiscounted cash" in pay
    lead = pitch(simulate(sc, draws=DRAWS, seed=SEED))
    assert "undiscounted" not in lead  # a positive NPV needs no such note in the sentence


def test_the_index_says_a_loss_making_run_never_pays_back(tmp_path):
    """In the batch index a run whose median simulation never pays back (its report's
    payback P50 is null) reads "not within horizon", as the report's card, not "–", which
    reads as missing data; a failed run keeps "–"."""
    rows = [{"scenario": "Costly desk", "status": "ok", "npv_p50": -4.1e6,
             "payback_month_p50": None, "report": "costly.html", "currency": "USD"},
            {"scenario": "Lead", "status": "ok", "npv_p50": 1.6e6, "payback_month_p50": 15.0,
             "report": "lead.html", "currency": "USD"},
            {"scenario": "Broken", "status": "failed", "npv_p50": None,
             "payback_month_p50": None, "error": "boom"}]
    page = render_index(rows, tmp_path).read_text("utf-8")
    cells = re.findall(r"<tr>(.*?)</tr>", page, re.S)[1:]
    payback = [re.findall(r"<td[^>]*>([^<]*)</td>", c)[9] for c in cells]
    assert payback == ["not within horizon", "15", "–"]
    # and it sorts after every month that pays back
    sorts = [re.findall(r"data-sort='([^']*)'", c)[9] for c in cells]
    assert float(sorts[0]) > float(sorts[1])


def test_the_nps_phrase_says_a_rise_a_fall_nothing_or_not_known():
    """To a tenth of a point, as the NPS card: +0.04 is "barely moves", an NPS change that
    is not known is said to be unknown, not "barely moves"."""
    from cxroi.pitch import _nps_phrase

    assert _nps_phrase(8.24) == "lifts NPS by +8.2 points"
    assert _nps_phrase(-5.06) == "lowers NPS by 5.1 points"
    assert _nps_phrase(0.04) == _nps_phrase(-0.04) == "barely moves NPS"
    assert _nps_phrase(float("nan")) == "leaves NPS unknown"

"""The executive HTML report, rendered from the executed business-case notebook.

``notebooks/02-business-case.ipynb`` is a thin, parameterized notebook: each cell calls
one method of :class:`BusinessCase` (the pitch, the key figures, the range, the
waterfall, the drivers, the flywheel, the sources, the footer). Those methods return
:class:`Section` objects that display as HTML in JupyterLab and carry inline SVG charts.
:func:`render_report` executes the notebook with the scenario as parameter and exports it
with nbconvert, *inputs, markdown, prompts and streams excluded*, through the template
``cxroi/resources/report.html.j2`` (inline CSS with print rules, no scripts, no external
sources). The batch (:mod:`cxroi.batch`) runs exactly the same code, so a report from the
app's button and from a batch are the same file for the same scenario, seed and day.

Heavy imports (vl-convert, nbconvert, papermill) happen inside functions, never on
``import cxroi``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import html
import json
import math
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

import cxroi
from cxroi.errors import ReportError
from cxroi.files import write_atomic
from cxroi.pitch import change_phrase, fmt, headline, money, pitch
from cxroi.scenario import Scenario, load_benchmarks, load_scenario, scenario_to_yaml
from cxroi.uncertainty import SimulationResult, breakeven, simulate, tornado

if TYPE_CHECKING:
    import altair as alt
    from nbformat import NotebookNode

    from cxroi.nbrun import KernelRunner

#: Mime type of the machine-readable results the notebook emits (read by the batch).
RESULTS_MIME = "application/vnd.cxroi.results+json"
#: The notebook every report is rendered from.
NOTEBOOK_NAME = "02-business-case.ipynb"

PROVENANCE_LABELS = {
    "calibrated": "Measured here",
    "benchmark": "Published benchmark",
    "assumption": "Assumption",
}

_e = html.escape


def notebooks_dir() -> Path:
    """``notebooks/`` of the cxroi checkout (override with ``CXROI_NOTEBOOKS``)."""
    env = os.environ.get("CXROI_NOTEBOOKS")
    return Path(env) if env else Path(cxroi.__file__).resolve().parents[1] / "notebooks"


def business_case_notebook() -> Path:
    """Path of the business-case notebook; :class:`ReportError` when it is missing."""
    p = notebooks_dir() / NOTEBOOK_NAME
    if not p.is_file():
        raise ReportError(f"{p}: business-case notebook not found. Fix: run from a cxroi "
                          f"checkout or set CXROI_NOTEBOOKS to the folder holding "
                          f"{NOTEBOOK_NAME}")
    return p


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


def scenario_fingerprint(sc: Scenario) -> str:
    """sha256 of the scenario's canonical YAML (what the report was computed from)."""
    return hashlib.sha256(scenario_to_yaml(sc).encode("utf-8")).hexdigest()


def fingerprint_data(path: str | os.PathLike[str], length: int = 16) -> str:
    """Fingerprint of company data: sha256 over a file's bytes, or over every file of a
    folder (relative names and bytes, in name order). Shown in report footers so a
    reader can tell which data a calibrated scenario came from.

    Raises
    ------
    ReportError
        When the path does not exist.
    """
    p = Path(path)
    if not p.exists():
        raise ReportError(f"{p}: no such data file or folder to fingerprint. Fix: give the "
                          "data path used for calibration")
    h = hashlib.sha256()
    files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.is_file())
    for f in files:
        h.update(f.relative_to(p if p.is_dir() else p.parent).as_posix().encode())
        h.update(b"\0")
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:length]


def to_svg(chart: alt.TopLevelMixin) -> str:
    """Inline SVG of an altair chart (vl-convert, no browser, no network).

    The ``xmlns`` attributes are dropped (inline SVG in HTML does not need them) and the
    picture scales down to the page width.
    """
    import vl_convert as vlc

    svg = vlc.vegalite_to_svg(chart.to_dict())
    svg = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg, count=2)
    return svg.replace("<svg ", '<svg role="img" style="max-width:100%;height:auto" ', 1)


@dataclass(frozen=True)
class Picture:
    """An altair chart as inline SVG: displays the same offline in JupyterLab, in
    nbconvert HTML and in the report (no Vega scripts from a CDN)."""

    svg: str

    def _repr_html_(self) -> str:
        return f'<figure class="chart">{self.svg}</figure>'


def picture(chart: alt.TopLevelMixin) -> Picture:
    """Wrap :func:`to_svg` of ``chart`` for display in a notebook."""
    return Picture(to_svg(chart))


def _json_safe(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_json_safe(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def script_json(data: Any) -> str:
    """JSON that is safe inside an HTML ``<script type="application/json">`` element."""
    text = json.dumps(_json_safe(data), ensure_ascii=False, sort_keys=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def results_dict(res: SimulationResult) -> dict[str, Any]:
    """The numbers of a run, shaped like ``cxroi run --json``.

    Keys: ``scenario``, ``pitch``, ``prob_npv_negative``, ``draws``, ``seed``,
    ``headline`` (:func:`cxroi.pitch.headline`) and ``metrics`` (every output with
    ``label``, ``unit``, ``p10``, ``p50``, ``p90``, ``mean``, ``likely``).
    """
    s = res.summary
    metrics = {k: {"label": r["label"], "unit": r["unit"],
                   **{c: float(r[c]) for c in ("p10", "p50", "p90", "mean", "likely")}}
               for k, r in s.iterrows()}
    return _json_safe({"scenario": res.scenario.name, "pitch": pitch(res),
                       "prob_npv_negative": res.prob_loss, "draws": res.n_draws,
                       "seed": res.seed, "headline": headline(res), "metrics": metrics})


@dataclass(frozen=True)
class Section:
    """A piece of the report: HTML for JupyterLab and nbconvert, optional data."""

    html: str
    data: dict[str, Any] | None = None
    text: str = ""

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle: dict[str, Any] = {"text/html": self.html,
                                  "text/plain": self.text or "(cxroi report section)"}
        if self.data is not None:
            bundle[RESULTS_MIME] = self.data
        return bundle


def _tile(label: str, value: str, sub: str = "", metric: str = "", raw: float | None = None,
          cls: str = "") -> str:
    attrs = f' data-metric="{_e(metric)}"' if metric else ""
    if raw is not None and math.isfinite(raw):
        attrs += f' data-value="{raw!r}"'
    sub_html = f'<div class="sub">{_e(sub)}</div>' if sub else ""
    return (f'<div class="tile {cls}"{attrs}><div class="label">{_e(label)}</div>'
            f'<div class="value">{_e(value)}</div>{sub_html}</div>')


def _chart_block(title: str, svg: str, caption: str = "") -> str:
    cap = f"<p class='caption'>{_e(caption)}</p>" if caption else ""
    return f'<figure class="chart" aria-label="{_e(title)}">{svg}{cap}</figure>'


# --------------------------------------------------------------------------------------
# The business case
# --------------------------------------------------------------------------------------


@dataclass
class BusinessCase:
    """Everything the report shows for one scenario, computed once.

    Build it with :func:`business_case`; each method returns one :class:`Section`.
    """

    scenario: Scenario
    result: SimulationResult
    drivers: pd.DataFrame
    data_fingerprint: str | None = None
    date: str = field(default_factory=lambda: _dt.date.today().isoformat())

    # -- numbers -----------------------------------------------------------------------
    def q(self, metric: str, p: float = 0.5) -> float:
        """Quantile ``p`` of ``metric`` over the draws."""
        return self.result.quantile(metric, p)

    def f(self, metric: str, p: float = 0.5) -> str:
        """Formatted quantile of ``metric`` in its unit."""
        unit = self.result.summary.loc[metric, "unit"]
        return fmt(self.q(metric, p), unit, self.scenario.currency)

    def rng(self, metric: str) -> str:
        """``P10–P90 a to b``."""
        return f"P10–P90 {self.f(metric, 0.1)} to {self.f(metric, 0.9)}"

    # -- sections ----------------------------------------------------------------------
    def pitch_section(self) -> Section:
        """Title, the one-sentence pitch and the benefits (P50 with range)."""
        sc = self.scenario
        desc = f'<p class="desc">{_e(sc.description)}</p>' if sc.description else ""
        tiles = "".join([
            _tile("NPS change", self.f("nps_change") + " points", self.rng("nps_change"),
                  "nps_change", self.q("nps_change")),
            _tile("Retention savings", self.f("retention_savings"),
                  self.rng("retention_savings"), "retention_savings",
                  self.q("retention_savings"), "gain"),
            _tile("Cross-sell margin", self.f("cross_sell"), self.rng("cross_sell"),
                  "cross_sell", self.q("cross_sell"), "gain"),
            _tile("Cost-to-serve savings", self.f("cost_to_serve_savings"),
                  self.rng("cost_to_serve_savings"), "cost_to_serve_savings",
                  self.q("cost_to_serve_savings"), "gain"),
            _tile("Advocacy (referrals)", self.f("advocacy"), self.rng("advocacy"),
                  "advocacy", self.q("advocacy"), "gain"),
        ])
        h = sc.finance.horizon_months
        return Section(
            f'<section class="cx-pitch"><p class="kicker">CX business case</p>'
            f'<h1>{_e(sc.name)}</h1>{desc}'
            f'<p class="pitch" id="pitch">{_e(pitch(self.result))}</p>'
            f'<h2>Benefits over {h} months <span class="note">(P50 of '
            f'{self.result.n_draws:,} simulations)</span></h2>'
            f'<div class="tiles">{tiles}</div></section>',
            text=pitch(self.result))

    def figures_section(self) -> Section:
        """Cost, NPV, risk-adjusted NPV, ROI, payback, chance of loss, NRR, CLV."""
        sc, r = self.scenario, self.result
        cur = sc.currency
        c = sc.costs
        cost_sub = (f"{money(c.one_off, cur)} one-off + {money(c.running_per_year, cur)} "
                    f"a year")
        pay = self.q("payback_month")
        share = float(r.summary.loc["payback_month", "share_defined"])
        pay_text = (f"month {pay:.0f}" if math.isfinite(pay) and share >= 0.5
                    else f"not within {sc.finance.horizon_months} months")
        tiles = "".join([
            _tile("Cost", money(float(r.likely["total_costs"]), cur), cost_sub,
                  "total_costs", float(r.likely["total_costs"]), "cost"),
            _tile("NPV", self.f("npv"), self.rng("npv"), "npv", self.q("npv"), "total"),
            _tile("Risk-adjusted NPV", self.f("npv_risk_adjusted"),
                  self.rng("npv_risk_adjusted"), "npv_risk_adjusted",
                  self.q("npv_risk_adjusted")),
            _tile("ROI", self.f("roi"), f"risk-adjusted {self.f('roi_risk_adjusted')}", "roi",
                  self.q("roi")),
            _tile("Payback", pay_text,
                  f"{share * 100:.0f}% of simulations pay back", "payback_month", pay),
            _tile("Chance of losing money", f"{r.prob_loss * 100:.0f}%", "P(NPV < 0)",
                  "prob_npv_negative", r.prob_loss),
        ])
        rows = [
            ("Net revenue retention", "nrr_before", "nrr_after"),
            ("Customer lifetime value (per account)", "clv_before", "clv_after"),
            ("NPS", "nps_before", "nps_after"),
            ("CSAT (1–5)", "csat_before", "csat_after"),
        ]
        body = "".join(
            f"<tr><th>{_e(label)}</th><td>{_e(self.f(b))}</td><td>{_e(self.f(a))}</td>"
            f"<td class='muted'>{_e(self.rng(a))}</td></tr>" for label, b, a in rows)
        risk = sc.finance.risk
        note = (f"Risk-adjusted figures haircut retention by {risk.retention_savings:.0%}, "
                f"cross-sell by {risk.cross_sell:.0%}, cost to serve by "
                f"{risk.cost_to_serve_savings:.0%}, advocacy by {risk.advocacy:.0%} and add "
                f"{risk.cost_uplift:.0%} to costs (Forrester TEI). Discount rate "
                f"{sc.finance.discount_rate:.0%} a year.")
        return Section(
            f'<section class="cx-figures"><h2>Cost and return</h2>'
            f'<div class="tiles">{tiles}</div>'
            f'<table class="before-after"><thead><tr><th></th><th>Before</th>'
            f'<th>After (P50)</th><th>Range</th></tr></thead><tbody>{body}</tbody></table>'
            f'<p class="note">{_e(note)}</p></section>')

    def range_section(self) -> Section:
        """The P10–P90 range of NPV and the cumulative cash flow with its band."""
        from cxroi import charts

        r = self.result
        return Section(
            '<section class="cx-range"><h2>The risk range</h2>'
            + _chart_block("NPV distribution", to_svg(charts.npv_range_chart(r)),
                           f"NPV {self.rng('npv')}; {r.prob_loss * 100:.0f}% of simulations "
                           f"lose money.")
            + _chart_block("Cumulative cash flow", to_svg(charts.cash_flow_chart(r)),
                           "Baseline (no initiative) is the zero line; the band is P10–P90 "
                           "of the cumulative net cash.")
            + "</section>")

    def waterfall_section(self) -> Section:
        """Retention, cross-sell, cost to serve, advocacy, minus costs: NPV."""
        from cxroi import charts

        return Section(
            '<section class="cx-waterfall"><h2>Where the value comes from</h2>'
            + _chart_block("Value waterfall", to_svg(charts.waterfall_chart(self.result)),
                           "Present values; each bar is the average over the simulations, "
                           "so the bars add up to the average NPV.")
            + "</section>")

    def drivers_section(self, top: int = 10) -> Section:
        """The tornado and, per lever, the breakeven target."""
        from cxroi import charts

        sc = self.scenario
        items = []
        for name, tp in sc.touchpoints.items():
            if tp.lever.today == tp.lever.target:
                continue
            b = breakeven(sc, name)
            unit = f" {tp.unit}" if tp.unit else ""
            if b.target is None:
                text = f"{tp.label}: {b.reason}."
            elif b.target == b.today:
                text = f"{tp.label}: {b.reason}."
            else:
                text = (f"{tp.label}: breaks even (likely NPV = 0) at {b.target:.3g}{unit}; "
                        f"the plan is {b.planned_target:g}{unit} (today {b.today:g}{unit}).")
            items.append(f"<li>{_e(text)}</li>")
        be = f"<ul class='breakeven'>{''.join(items)}</ul>" if items else ""
        return Section(
            '<section class="cx-drivers"><h2>What drives the result</h2>'
            + _chart_block("Tornado", to_svg(charts.tornado_chart(self.drivers, sc.currency,
                                                                  top=top)),
                           "Each input moved to the low and high end of its range, the others "
                           "at their most likely values.")
            + be + "</section>")

    def flywheel_section(self) -> Section:
        """The flywheel as a picture, with this scenario's figures."""
        from cxroi import charts

        return Section(
            '<section class="cx-flywheel"><h2>The flywheel</h2>'
            + _chart_block("Flywheel", to_svg(charts.flywheel_chart(self.scenario,
                                                                     self.result)),
                           f"{change_phrase(self.scenario)}: customers feel better about the "
                           f"company, behave differently, and the money funds the next turn.")
            + "</section>")

    def sources_table(self) -> pd.DataFrame:
        """Every link with its value, range, basis and resolved source."""
        bench = load_benchmarks()
        rows = []
        from cxroi.charts import LINK_LABELS

        for path, link in self.scenario.link_paths().items():
            parts = path.split(".")
            tp = (self.scenario.touchpoints[parts[1]].label if parts[0] == "touchpoints"
                  else "all touchpoints")
            if link.provenance == "benchmark" and link.source in bench:
                b = bench[link.source]
                source = f"{b.get('source', link.source)} — {b.get('figure', '')}".strip(" —")
                caveat = b.get("caveat", "")
            else:
                source, caveat = link.source, ""
            rows.append({"touchpoint": tp, "link": LINK_LABELS.get(parts[-1], parts[-1]),
                         "value": link.value, "low": link.low, "high": link.high,
                         "basis": PROVENANCE_LABELS[link.provenance], "source": source,
                         "caveat": caveat, "note": link.note})
        return pd.DataFrame(rows)

    def sources_section(self) -> Section:
        """Measured vs benchmark vs assumed: every link, its range and its source."""
        t = self.sources_table()
        counts = t["basis"].value_counts()
        summary = ", ".join(f"{counts.get(v, 0)} {v.lower()}" for v in PROVENANCE_LABELS.values())
        body = []
        for _, r in t.iterrows():
            extra = " ".join(x for x in (r["note"], f"Caveat: {r['caveat']}" if r["caveat"]
                                         else "") if x)
            extra_html = f"<div class='muted'>{_e(extra)}</div>" if extra else ""
            cls = {"Measured here": "measured", "Published benchmark": "benchmark"}.get(
                r["basis"], "assumed")
            body.append(
                f"<tr><td>{_e(r['touchpoint'])}</td><td>{_e(r['link'])}</td>"
                f"<td class='num'>{r['value']:g}</td>"
                f"<td class='num'>{r['low']:g} – {r['high']:g}</td>"
                f"<td><span class='badge {cls}'>{_e(r['basis'])}</span></td>"
                f"<td>{_e(r['source'])}{extra_html}</td></tr>")
        segs = "".join(
            f"<tr><td>{_e(s.name)}</td><td class='num'>{s.accounts:,}</td>"
            f"<td class='num'>{_e(money(s.arpa, self.scenario.currency))}</td>"
            f"<td class='num'>{s.gross_margin:.0%}</td><td class='num'>{s.churn:.0%}</td>"
            f"<td class='num'>{100 * (s.promoters - s.detractors):+.0f}</td></tr>"
            for s in self.scenario.segments)
        return Section(
            '<section class="cx-sources"><h2>Measured vs benchmark vs assumed</h2>'
            f"<p>{len(t)} links: {_e(summary)}. Ranges feed the simulation.</p>"
            "<table class='sources'><thead><tr><th>Touchpoint</th><th>Link</th><th>Value</th>"
            "<th>Range</th><th>Basis</th><th>Source</th></tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>"
            "<h3>Company baseline (from the books)</h3>"
            "<table class='segments'><thead><tr><th>Segment</th><th>Accounts</th>"
            "<th>Revenue per account</th><th>Gross margin</th><th>Annual churn</th>"
            f"<th>NPS</th></tr></thead><tbody>{segs}</tbody></table></section>")

    def footer_section(self) -> Section:
        """Scenario name, data fingerprint, scenario fingerprint, cxroi version, date."""
        sc, r = self.scenario, self.result
        data_fp = self.data_fingerprint or "none given (scenario without company data)"
        items = [("Scenario", sc.name), ("Data fingerprint", data_fp),
                 ("Scenario fingerprint", scenario_fingerprint(sc)[:16]),
                 ("Simulation", f"{r.n_draws:,} draws, seed {r.seed}"),
                 ("cxroi version", cxroi.__version__), ("Date", self.date)]
        dl = "".join(f"<div><dt>{_e(k)}</dt><dd>{_e(str(v))}</dd></div>" for k, v in items)
        return Section(f'<footer class="cx-footer"><dl>{dl}</dl></footer>')

    def results_section(self) -> Section:
        """Machine-readable results (same shape as ``cxroi run --json``)."""
        data = results_dict(self.result)
        data["data_fingerprint"] = self.data_fingerprint
        data["scenario_fingerprint"] = scenario_fingerprint(self.scenario)
        data["date"] = self.date
        data["cxroi_version"] = cxroi.__version__
        return Section(f'<script type="application/json" id="cxroi-results">'
                       f"{script_json(data)}</script>", data=_json_safe(data),
                       text=f"NPV P50 {self.f('npv')}")


def business_case(scenario: Scenario | str | os.PathLike[str], draws: int | None = None,
                  seed: int | None = None, data_fingerprint: str | None = None,
                  date: str | None = None) -> BusinessCase:
    """Simulate a scenario and gather everything the report shows.

    Parameters
    ----------
    scenario : Scenario or path
        A scenario or a scenario YAML file.
    draws, seed : int, optional
        Default to the scenario's ``simulation`` settings.
    data_fingerprint : str, optional
        Fingerprint of the company data the scenario was calibrated from.
    date : str, optional
        Report date (ISO); today by default.
    """
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    res = simulate(sc, draws=draws, seed=seed)
    case = BusinessCase(sc, res, tornado(sc, inputs=res.inputs), data_fingerprint)
    if date:
        case.date = date
    return case


# --------------------------------------------------------------------------------------
# Notebook -> HTML
# --------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _exporter() -> Any:
    from nbconvert import HTMLExporter

    template = resources.files("cxroi").joinpath("resources/report.html.j2")
    exp = HTMLExporter(template_file=str(template), exclude_input=True,
                       exclude_input_prompt=True, exclude_output_prompt=True,
                       exclude_markdown=True, exclude_raw=True, exclude_unknown=True)
    return exp


@lru_cache(maxsize=1)
def report_css() -> str:
    """The report's stylesheet (screen and print), inlined into every report."""
    return resources.files("cxroi").joinpath("resources/report.css").read_text("utf-8")


def notebook_to_html(nb: NotebookNode, title: str) -> str:
    """Export an executed business-case notebook to the self-contained report HTML.

    Inputs, markdown, prompts, streams and errors are left out; only the sections'
    outputs remain, wrapped in ``resources/report.html.j2`` with the inline stylesheet.
    """
    body, _ = _exporter().from_notebook_node(
        nb, resources={"cxroi": {"title": title, "css": report_css(),
                                 "version": cxroi.__version__}})
    return body


@dataclass
class ReportRun:
    """One execution of the business-case notebook and its export.

    ``html`` and ``results`` are ``None`` when ``error`` is set.
    """

    nb: NotebookNode
    html: str | None
    results: dict[str, Any] | None
    error: str | None
    log: str
    seconds: float


def _results_from(nb: NotebookNode) -> dict[str, Any] | None:
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if RESULTS_MIME in data:
                return dict(data[RESULTS_MIME])
    return None


def execute_report(scenario_path: str | os.PathLike[str], draws: int | None = None,
                   seed: int | None = None, data_fingerprint: str | None = None,
                   notebook: NotebookNode | None = None, cwd: str | os.PathLike[str] | None = None,
                   runner: KernelRunner | None = None, timeout: int | None = None) -> ReportRun:
    """Execute the business-case notebook for one scenario file and export it.

    This is the one code path behind :func:`render_report` and every batch run. It never
    raises for a failing notebook: the failure is in :attr:`ReportRun.error` and the
    partially executed notebook is kept.

    Parameters
    ----------
    scenario_path : path
        Scenario YAML file (absolute paths are safest: the notebook runs in ``cwd``).
    draws, seed, data_fingerprint
        Notebook parameters; ``None`` keeps the scenario's own settings.
    notebook : NotebookNode, optional
        The unexecuted business-case notebook (default: read from ``notebooks/``).
    cwd : path, optional
        Working directory of the run (default: the notebooks folder, or a temp folder).
    runner : KernelRunner, optional
        Default: this process and thread's shared runner.
    timeout : int, optional
        Seconds any one cell may take.
    """
    import time

    from cxroi import nbrun

    t0 = time.perf_counter()
    nb_in = notebook if notebook is not None else nbrun.read_notebook(business_case_notebook())
    params = {"scenario": str(Path(scenario_path).resolve()), "draws": draws, "seed": seed,
              "data_fingerprint": data_fingerprint}
    nb = nbrun.parameterize(nb_in, params)
    if cwd is None:
        nbdir = notebooks_dir()
        cwd = nbdir if nbdir.is_dir() else tempfile.gettempdir()
    runner = runner or nbrun.shared_runner()
    ex = runner.execute(nb, cwd=cwd, timeout=timeout)
    log = [f"cxroi {cxroi.__version__}: business case for {scenario_path}",
           f"parameters: {json.dumps(params)}",
           f"kernel run #{runner.runs}, execution {ex.seconds:.2f} s"]
    for i, cell in enumerate(ex.nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                log.append(f"[cell {i} {out.get('name')}] {nbrun.strip_ansi(out.get('text', ''))}"
                           .rstrip())
    if ex.error:
        log += [f"FAILED: {ex.error}", ex.traceback]
        return ReportRun(ex.nb, None, None, ex.error, "\n".join(log) + "\n",
                         time.perf_counter() - t0)
    results = _results_from(ex.nb)
    if results is None:
        err = "the notebook produced no results section (case.results_section())"
        log.append(f"FAILED: {err}")
        return ReportRun(ex.nb, None, None, err, "\n".join(log) + "\n", time.perf_counter() - t0)
    html_text = notebook_to_html(ex.nb, title=str(results.get("scenario", "CX business case")))
    log.append(f"exported {len(html_text.encode('utf-8')) / 1024:.0f} kB of HTML; "
               f"total {time.perf_counter() - t0:.2f} s")
    return ReportRun(ex.nb, html_text, results, None, "\n".join(log) + "\n",
                     time.perf_counter() - t0)


def render_report(scenario: Scenario | str | os.PathLike[str], out: Path,
                  draws: int | None = None, seed: int | None = None,
                  data_fingerprint: str | None = None) -> Path:
    """Render the executive report of one scenario to ``out`` (one self-contained HTML).

    Executes ``notebooks/02-business-case.ipynb`` on this process's long-lived kernel
    (started on first use) with the scenario as parameter and exports it without code.
    The file is written atomically. Same scenario, draws and seed on the same day give
    the same bytes as the batch.

    Parameters
    ----------
    scenario : Scenario or path
        A scenario (e.g. from the app) or a scenario YAML file.
    out : Path
        Where to write the report (``.html``).
    draws, seed : int, optional
        Default to the scenario's ``simulation`` settings.
    data_fingerprint : str, optional
        Fingerprint of the company data behind the scenario, shown in the footer.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    ScenarioError
        The scenario file is not valid (raised before anything runs).
    ReportError
        The notebook failed or the report could not be written.
    """
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="cxroi-report-") as tmp:
        if isinstance(scenario, Scenario):
            path = Path(tmp) / "scenario.yaml"
            path.write_text(scenario_to_yaml(scenario), encoding="utf-8")
        else:
            path = Path(scenario)
            load_scenario(path)  # validate at the door: a clear ScenarioError, no kernel
        run = execute_report(path, draws, seed, data_fingerprint)
    if run.error or run.html is None:
        raise ReportError(f"{out}: the business-case notebook failed: {run.error}. Fix: run "
                          f"`cxroi run` on the scenario to see the problem, or open "
                          f"notebooks/{NOTEBOOK_NAME} with this scenario")
    try:
        return write_atomic(out, run.html)
    except OSError as exc:
        raise ReportError(f"{out}: cannot write the report ({exc.strerror}). Fix: choose a "
                          f"folder you can write to") from None


# --------------------------------------------------------------------------------------
# Index of a batch
# --------------------------------------------------------------------------------------

_INDEX_COLUMNS: list[tuple[str, str, str]] = [
    # (column, heading, unit)
    ("scenario", "Scenario", "text"),
    ("initiative", "Initiative", "text"),
    ("segment", "Segment", "text"),
    ("variant", "Variant", "text"),
    ("npv_p50", "NPV P50", "money"),
    ("npv_p10", "NPV P10", "money"),
    ("npv_p90", "NPV P90", "money"),
    ("npv_risk_adjusted_p50", "Risk-adj. NPV", "money"),
    ("roi_p50", "ROI", "share"),
    ("payback_month_p50", "Payback month", "month"),
    ("prob_npv_negative", "P(NPV<0)", "share"),
    ("status", "Status", "text"),
]

_SORT_JS = """
document.querySelectorAll('th[data-col]').forEach(function (th) {
  th.addEventListener('click', function () {
    var table = th.closest('table'), body = table.tBodies[0], col = th.cellIndex;
    var asc = th.getAttribute('aria-sort') !== 'ascending';
    table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col].getAttribute('data-sort'), y = b.cells[col].getAttribute('data-sort');
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
      return asc ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"""


def render_index(results: Iterable[Mapping[str, Any]] | pd.DataFrame, out_dir: Path,
                 title: str = "cxroi batch", filename: str = "index.html",
                 batches: Iterable[Mapping[str, Any]] | None = None) -> Path:
    """Write ``out_dir/<filename>``: one sortable row per run with a link to its report.

    A batch writes two (see ``docs/batch.md``): its own ``<batch>.index.html`` and the
    folder's ``index.html``, which :func:`cxroi.batch.write_folder_index` rebuilds from
    every report and run manifest on disk.

    Parameters
    ----------
    results : DataFrame or iterable of mappings
        One row per run with at least ``run_id`` and ``status``; the columns of
        :data:`_INDEX_COLUMNS` where known, ``report`` (path relative to ``out_dir``),
        ``error``, ``currency`` and ``batch`` (shown as a column when any row has one).
    out_dir : Path
        The reports folder.
    title : str
        Page heading.
    filename : str
        The index's file name in ``out_dir``.
    batches : iterable of mappings, optional
        Links shown above the table: ``{"name", "href"}`` and optionally ``"runs"``.

    Returns
    -------
    Path
        The index file (written atomically).
    """
    records = results.to_dict("records") if isinstance(results, pd.DataFrame) else \
        [dict(r) for r in results]
    out_dir = Path(out_dir)
    n = len(records)
    counts: dict[str, int] = {}
    for rec in records:
        s = rec.get("status")
        counts[str(s)] = counts.get(str(s), 0) + 1
    columns = list(_INDEX_COLUMNS)
    if any(isinstance(rec.get("batch"), str) and rec["batch"] for rec in records):
        columns.insert(0, ("batch", "Batch", "text"))
    head = "".join(f'<th data-col="{c}" scope="col">{_e(h)}</th>'
                   for c, h, _ in columns) + "<th>Report</th>"
    rows = []
    for rec in records:
        cur = rec.get("currency")
        cur = cur if isinstance(cur, str) and cur else "USD"
        cells = []
        for col, _, unit in columns:
            v = rec.get(col)
            if unit == "text":
                text = "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
                cls = f" class='status {_e(text)}'" if col == "status" else ""
                cells.append(f"<td data-sort='{_e(text)}'{cls}>{_e(text)}</td>")
            else:
                ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                shown = fmt(float(v), unit, cur) if ok else "–"
                sort = repr(float(v)) if ok else ""
                cells.append(f"<td class='num' data-sort='{sort}'>{_e(shown)}</td>")
        link = rec.get("report")
        if isinstance(link, str) and link and rec.get("status") in {"ok", "skipped"}:
            cells.append(f"<td><a href='{_e(link)}'>report</a></td>")
        else:
            err = rec.get("error")
            err = err if isinstance(err, str) else ""
            cells.append(f"<td class='error'>{_e(err[:400])}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    links = ""
    for b in batches or []:
        runs = f" ({b['runs']} runs)" if b.get("runs") is not None else ""
        links += f"<li><a href='{_e(str(b['href']))}'>{_e(str(b['name']))}</a>{_e(runs)}</li>"
    links = f"<nav><ul class='batches'>{links}</ul></nav>" if links else ""
    said = {"ok": "rendered", "skipped": "unchanged (skipped)", "failed": "failed"}
    parts = [f"{counts.get(k, 0)} {v}" for k, v in said.items()]
    parts += [f"{c} {_e(str(k))}" for k, c in counts.items() if k not in said]
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
<style>{report_css()}
td.status.pending, td.status.interrupted {{ color: #6b6b6b; font-style: italic; }}
ul.batches {{ padding-left: 1.2em; }}</style></head>
<body class="cx-index"><main>
<h1>{_e(title)}</h1>
{links}
<p>{n} runs: {', '.join(parts)}. Click a heading to sort. NPV figures are P50 with the P10
and P90 of the simulations. Written {stamp}.</p>
<table class="index"><thead><tr>{head}</tr></thead><tbody>
{''.join(rows)}
</tbody></table>
<p class="note">Results table for analysis: results.parquet (every run in this folder) and
&lt;batch&gt;.results.parquet (one batch). Executed notebooks and logs: runs/&lt;run&gt;/.</p>
</main><script>{_SORT_JS}</script></body></html>
"""
    return write_atomic(out_dir / filename, page)

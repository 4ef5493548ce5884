"""The executive HTML report, rendered from the executed business-case notebook.

``notebooks/02-business-case.ipynb`` is a thin, parameterized notebook: each cell calls
one method of :class:`BusinessCase` (page 1's summary, the benefits, the range, the
drivers, what to measure next, the flywheel, the sources with the footer, the results).
Those methods gather the *data* (cards, charts, plain-unit provenance rows) and render the
*markup* from Jinja2 templates in ``cxroi/resources/report/`` into :class:`Section`
objects. In JupyterLab a section is one styled HTML output (scoped CSS inlined, money safe
from MathJax) followed by its charts as SVG with a text-table fallback for untrusted
notebooks; in the report each section contributes its markup with inline SVG charts.

:func:`render_report` executes the notebook with the scenario as parameter and exports it
with nbconvert through ``cxroi/resources/report.html.j2`` (inline CSS with print rules, no
scripts, no external sources, page 1 the one-page summary on A4 and Letter);
:func:`write_pdf` prints it with headless Chromium. The batch (:mod:`cxroi.batch`) runs
exactly the same code, so a report from ``cxroi report``, the app's button and a batch
are the same file for the same scenario, seed and day. ``docs/reports.md`` describes it.

Heavy imports (vl-convert, nbconvert, papermill, jinja2) happen inside functions, never on
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
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from markupsafe import Markup

import cxroi
from cxroi.errors import ReportError
from cxroi.evidence import Evidence, LineEvidence, evidence_of
from cxroi.files import write_atomic
from cxroi.pitch import chance, change_phrase, fmt, headline, lever_value, money, pitch
from cxroi.scenario import Scenario, load_scenario, scenario_to_yaml
from cxroi.uncertainty import SimulationResult, breakeven, simulate, tornado

if TYPE_CHECKING:
    import altair as alt
    from nbformat import NotebookNode

    from cxroi.nbrun import KernelRunner

#: Mime type of the machine-readable results the notebook emits (read by the batch).
RESULTS_MIME = "application/vnd.cxroi.results+json"
#: Mime type of a section's report markup (what the report's template renders).
SECTION_MIME = "application/vnd.cxroi.section+html"
#: The notebook every report is rendered from.
NOTEBOOK_NAME = "02-business-case.ipynb"

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


def _svg_pair(chart: alt.TopLevelMixin) -> tuple[str, str]:
    """(inline SVG for HTML, standalone SVG file text) of an altair chart."""
    import vl_convert as vlc

    svg = vlc.vegalite_to_svg(chart.to_dict())
    inline = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg, count=2)
    inline = inline.replace("<svg ", '<svg role="img" style="max-width:100%;height:auto" ', 1)
    return inline, svg


def to_svg(chart: alt.TopLevelMixin) -> str:
    """Inline SVG of an altair chart (vl-convert, no browser, no network).

    The ``xmlns`` attributes are dropped (inline SVG in HTML does not need them) and the
    picture scales down to the page width.
    """
    return _svg_pair(chart)[0]


@dataclass(frozen=True)
class Picture:
    """An altair chart as SVG, offline (no Vega scripts from a CDN).

    In a trusted notebook JupyterLab shows the SVG; in an untrusted one (SVG is not a
    "safe" output there) it falls back to ``text``, a plain-text table of the chart's
    numbers, instead of garbled markup.
    """

    svg: str
    text: str = "(chart)"
    svg_file: str = ""

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {"image/svg+xml": self.svg_file or self.svg, "text/plain": self.text}


def picture(chart: alt.TopLevelMixin, text: str | None = None) -> Picture:
    """Wrap an altair chart for display in a notebook; ``text`` is the fallback for an
    untrusted notebook (default: the chart's data as a text table)."""
    inline, standalone = _svg_pair(chart)
    if text is None:
        text = _chart_text(chart)
    return Picture(inline, text, standalone)


def _chart_text(chart: alt.TopLevelMixin) -> str:
    """The chart's title and its first dataset as a plain-text table."""
    spec = chart.to_dict()
    title = spec.get("title") or ""
    title = title if isinstance(title, str) else str(title.get("text", ""))
    sets = list(spec.get("datasets", {}).values())
    table = pd.DataFrame(sets[0]).to_string(index=False, max_rows=30) if sets and sets[0] else ""
    return "\n".join(x for x in (title, table) if x) or "(chart)"


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
    """JSON that is safe inside an HTML ``<script type="application/json">`` element (and
    from maths renderers: ``$`` is written ``\\u0024``)."""
    text = json.dumps(_json_safe(data), ensure_ascii=False, sort_keys=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("$", "\\u0024"))


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


# --------------------------------------------------------------------------------------
# Templates: the markup lives in cxroi/resources/report/*.html.j2
# --------------------------------------------------------------------------------------


def _mathjax_safe(value: Any) -> Markup:
    """Jinja ``finalize``: escape the value (unless it is already markup) and write every
    ``$`` as ``&#36;``, so no maths renderer reads money as formula delimiters."""
    from markupsafe import Markup, escape

    m = value if isinstance(value, Markup) else escape("" if value is None else value)
    return Markup(str(m).replace("$", "&#36;"))


@lru_cache(maxsize=1)
def templates() -> Any:
    """The Jinja2 environment of the report's sections (autoescaped, money made safe from
    MathJax, undefined names are errors)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("cxroi", "resources/report"),
                             autoescape=True, finalize=_mathjax_safe,
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=False)
    env.filters["money"] = money
    return env


def render_template(template: str, /, **context: Any) -> str:
    """Render ``cxroi/resources/report/<template>`` with ``context``."""
    return templates().get_template(template).render(**context)


@lru_cache(maxsize=1)
def section_css() -> str:
    """The sections' stylesheet, every rule scoped under ``.cx-report`` (safe to inline in
    a JupyterLab output without restyling JupyterLab)."""
    return resources.files("cxroi").joinpath("resources/sections.css").read_text("utf-8")


@dataclass(frozen=True)
class Chart:
    """One chart of a section: inline SVG for the report and the notebook's trusted view,
    and a plain-text table for an untrusted notebook."""

    key: str
    title: str
    svg: str
    svg_file: str
    text: str
    caption: str = ""


def make_chart(key: str, title: str, chart: alt.TopLevelMixin, text: str,
               caption: str = "") -> Chart:
    inline, standalone = _svg_pair(chart)
    return Chart(key, title, inline, standalone, text, caption)


@dataclass(frozen=True)
class Section:
    """A piece of the report.

    ``html`` is the report's markup (inline SVG charts). In a notebook the section shows as
    a styled HTML output without the charts (CSS inlined and scoped, money safe from
    MathJax) followed by one output per chart: SVG in a trusted notebook, a text table in
    an untrusted one. The report's template takes ``html`` from the
    :data:`SECTION_MIME` entry of the first output.
    """

    html: str
    data: dict[str, Any] | None = None
    text: str = ""
    notebook_html: str | None = None
    charts: tuple[Chart, ...] = ()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle: dict[str, Any] = {SECTION_MIME: self.html,
                                  "text/plain": self.text or "(cxroi report section)"}
        nb = self.html if self.notebook_html is None else self.notebook_html
        if nb:
            bundle["text/html"] = render_template("notebook.html.j2", css=section_css(),
                                                  body=Markup(nb))
        if self.data is not None:
            bundle[RESULTS_MIME] = self.data
        return bundle

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True)
        for c in self.charts:
            display({"image/svg+xml": c.svg_file, "text/plain": c.text}, raw=True)


def _section(template: str, /, text: str = "", charts: tuple[Chart, ...] = (),
             data: dict[str, Any] | None = None, **context: Any) -> Section:
    """Render a section's template for the report and for the notebook."""
    html_text = render_template(template, notebook=False, charts={c.key: c for c in charts},
                                **context)
    nb = render_template(template, notebook=True, charts={c.key: c for c in charts},
                         **context) if charts else None
    return Section(html_text, data=data, text=text, notebook_html=nb, charts=charts)


# --------------------------------------------------------------------------------------
# The business case
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tile:
    """One figure card: label, value, sub-line, and what it rests on."""

    label: str
    value: str
    sub: str = ""
    metric: str = ""
    raw: float | None = None
    cls: str = ""
    note: str = ""
    evidence: LineEvidence | None = None
    caveats: tuple[str, ...] = ()

    @property
    def raw_attr(self) -> str | None:
        return repr(float(self.raw)) if self.raw is not None and math.isfinite(self.raw) \
            else None


@dataclass
class BusinessCase:
    """Everything the report shows for one scenario, computed once.

    Build it with :func:`business_case`; each ``*_section`` method returns one
    :class:`Section`. Every headline figure is the P50 of the same Monte Carlo draws
    (:attr:`result`); the waterfall shows the make-up of that P50 NPV
    (:func:`cxroi.charts.waterfall_data`, basis ``p50``); the tornado is labelled as the
    likely case; undiscounted totals are labelled as such.
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

    @cached_property
    def evidence(self) -> Evidence:
        """What each money line rests on (:func:`cxroi.evidence.evidence_of`)."""
        return evidence_of(self.scenario, likely=self.result.likely)

    @cached_property
    def present_values(self) -> dict[str, float]:
        """Each benefit line's present value as the waterfall shows it (make-up of the
        P50 NPV)."""
        from cxroi.charts import line_present_values

        return line_present_values(self.result, "p50")

    @property
    def calibrated(self) -> bool:
        """Was any link of the scenario calibrated on the company's data?"""
        return any(ln.provenance == "calibrated" for ln in self.scenario.link_paths().values())

    @property
    def statistic(self) -> str:
        """The sentence that names the statistic every headline figure is."""
        r = self.result
        return (f"Every figure is the median (P50) of {r.n_draws:,} simulations (seed "
                f"{r.seed}), with the P10–P90 range; benefits are totals over "
                f"{self.scenario.finance.horizon_months} months, undiscounted, unless "
                f"marked present value (discounted at "
                f"{self.scenario.finance.discount_rate:.0%} a year).")

    def _payback(self) -> tuple[str, str]:
        sc = self.scenario
        pay = self.q("payback_month")
        share = float(self.result.summary.loc["payback_month", "share_defined"])
        text = (f"month {pay:.0f}" if math.isfinite(pay) and share >= 0.5
                else f"not within {sc.finance.horizon_months} months")
        return text, f"{chance(share)} of simulations pay back within " \
                     f"{sc.finance.horizon_months} months"

    def key_tiles(self) -> list[Tile]:
        """Cost, NPV, risk-adjusted NPV, ROI, payback and chance of loss (page 1)."""
        sc, r = self.scenario, self.result
        cur = sc.currency
        c = sc.costs
        cost = float(r.likely["total_costs"])
        pay, pay_sub = self._payback()
        ev = self.evidence
        loss_sub = (f"share of {r.n_draws:,} simulations with NPV below zero"
                    + ("" if ev.measured else ", if the ranges behind it hold"))
        return [
            Tile("Cost", money(cost, cur),
                 f"{money(c.one_off, cur)} one-off + {money(c.running_per_year, cur)} a year, "
                 f"undiscounted; present value {money(float(r.likely['pv_costs']), cur)}",
                 "total_costs", cost, "cost"),
            Tile("NPV", self.f("npv"), self.rng("npv"), "npv", self.q("npv"), "total",
                 note="present value"),
            Tile("Risk-adjusted NPV", self.f("npv_risk_adjusted"),
                 self.rng("npv_risk_adjusted"), "npv_risk_adjusted",
                 self.q("npv_risk_adjusted"), note="present value, TEI haircuts"),
            Tile("ROI", self.f("roi"), f"{self.rng('roi')}; risk-adjusted "
                 f"{self.f('roi_risk_adjusted')}", "roi", self.q("roi")),
            Tile("Payback", pay, pay_sub, "payback_month", self.q("payback_month")),
            Tile("Chance of losing money", chance(r.prob_loss), loss_sub,
                 "prob_npv_negative", r.prob_loss, "risk"),
        ]

    def benefit_tiles(self) -> list[Tile]:
        """NPS change and the four money lines, each with its evidence and caveats."""
        ev, cur = self.evidence, self.scenario.currency
        h = self.scenario.finance.horizon_months
        tiles = [Tile("NPS change", self.f("nps_change") + " points", self.rng("nps_change"),
                      "nps_change", self.q("nps_change"), note=f"after {h} months",
                      evidence=ev.lines["nps"], caveats=ev.caveats_for("nps"))]
        for line, label in _BENEFITS.items():
            pv = self.present_values[line]
            tiles.append(Tile(
                label, self.f(line), f"{self.rng(line)}; present value in the NPV "
                f"{money(pv, cur)}", line, self.q(line), "gain",
                note=f"over {h} months, undiscounted", evidence=ev.lines[line],
                caveats=ev.caveats_for(line)))
        return tiles

    # -- sections ----------------------------------------------------------------------
    def summary_section(self) -> Section:
        """Page 1: the ask and the answer. Title, pitch, evidence level, cost, NPV with
        P10–P90, risk-adjusted NPV, ROI, payback, chance of loss, and the value waterfall."""
        from cxroi import charts

        sc, r, ev = self.scenario, self.result, self.evidence
        cur = sc.currency
        wf = charts.waterfall_data(r, "p50")
        text = "\n".join(f"{s:<18} {money(a, cur):>8}" for s, a in zip(wf["step"], wf["amount"],
                                                                      strict=True))
        chart = make_chart(
            "waterfall", "Where the value comes from",
            charts.waterfall_chart(r, "p50", width=520, height=190),
            f"{charts.waterfall_title('p50')}\n{text}",
            f"Present values. The bars are the make-up of the median outcome (the "
            f"simulations with NPV between P40 and P60), so they add up to the NPV "
            f"{self.f('npv')} above; costs are {money(float(r.likely['pv_costs']), cur)} in "
            f"present value ({money(float(r.likely['total_costs']), cur)} undiscounted).")
        names = [_BENEFITS.get(m, m).lower() for m in ev.material]
        material = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        return _section(
            "summary.html.j2", text=pitch(r), charts=(chart,),
            name=sc.name, description=sc.description, pitch=pitch(r),
            evidence=ev, evidence_label=_LEVEL_LABELS[ev.level],
            material=material[0].upper() + material[1:], general=ev.caveats_for("general"),
            tiles=self.key_tiles(), statistic=self.statistic)

    #: The summary page used to be called the pitch section (notebook 01 still calls it).
    pitch_section = summary_section

    def figures_section(self) -> Section:
        """The benefits (each with its evidence and caveats), before/after and the
        risk adjustment."""
        sc = self.scenario
        basis = "company books" if self.calibrated else "scenario input"
        rows = [("Net revenue retention", "nrr_before", "nrr_after"),
                ("Customer lifetime value (per account)", "clv_before", "clv_after"),
                ("Survey NPS", "nps_before", "nps_after"),
                ("CSAT (1–5)", "csat_before", "csat_after")]
        table = [{"label": label, "before": self.f(b), "after": self.f(a),
                  "range": self.rng(a)} for label, b, a in rows]
        risk = sc.finance.risk
        note = (f"Risk-adjusted figures haircut retention by {risk.retention_savings:.0%}, "
                f"cross-sell by {risk.cross_sell:.0%}, cost to serve by "
                f"{risk.cost_to_serve_savings:.0%}, advocacy by {risk.advocacy:.0%} and add "
                f"{risk.cost_uplift:.0%} to costs (Forrester TEI). Discount rate "
                f"{sc.finance.discount_rate:.0%} a year.")
        return _section("benefits.html.j2", text=f"Benefits over "
                        f"{sc.finance.horizon_months} months",
                        horizon=sc.finance.horizon_months, tiles=self.benefit_tiles(),
                        table=table, basis=basis, note=note, statistic=self.statistic,
                        nps_caveats=self.evidence.caveats_for("nps"))

    def range_section(self) -> Section:
        """The P10–P90 range of NPV and the cumulative cash flow with its band."""
        from cxroi import charts

        r, cur = self.result, self.scenario.currency
        band = r.band("net_cash")
        every = band.iloc[::6] if len(band) > 7 else band
        cash_text = "Cumulative net cash flow (P10 / P50 / P90)\n" + "\n".join(
            f"month {int(m):>3}  {money(a, cur):>8} {money(b, cur):>8} {money(c, cur):>8}"
            for m, a, b, c in zip(every["month"], every["p10"], every["p50"], every["p90"],
                                  strict=True))
        npv_chart = make_chart(
            "npv", "NPV distribution", charts.npv_range_chart(r),
            f"NPV P10 {self.f('npv', 0.1)}, P50 {self.f('npv')}, P90 {self.f('npv', 0.9)}; "
            f"chance NPV < 0: {chance(r.prob_loss)} ({r.n_draws:,} simulations)",
            f"NPV {self.rng('npv')}; {chance(r.prob_loss)} of simulations lose money.")
        cash = make_chart(
            "cash", "Cumulative cash flow", charts.cash_flow_chart(r), cash_text,
            "Baseline (no initiative) is the zero line; the line is the P50 and the band "
            "P10–P90 of the cumulative net cash, undiscounted.")
        return _section("range.html.j2", text=f"NPV {self.rng('npv')}",
                        charts=(npv_chart, cash))

    def waterfall_section(self) -> Section:
        """The waterfall is on the summary page; kept for notebooks that call it."""
        return Section("", text="(the value waterfall is on the summary page)")

    def breakeven_items(self) -> list[str]:
        """Per moving lever, where the likely NPV crosses zero (units in words)."""
        items = []
        for name, tp in self.scenario.touchpoints.items():
            if tp.lever.today == tp.lever.target:
                continue
            b = breakeven(self.scenario, name)
            if b.target is None or b.target == b.today:
                items.append(f"{tp.label[0].upper() + tp.label[1:]}: {b.reason}.")
            else:
                items.append(
                    f"{tp.label[0].upper() + tp.label[1:]}: breaks even (likely-case NPV = 0) "
                    f"at {lever_value(tp, round(b.target, 2))}; the plan is "
                    f"{lever_value(tp, b.planned_target)} (today {lever_value(tp, b.today)}).")
        return items

    def drivers_section(self, top: int = 10) -> Section:
        """The tornado (likely case) and, per lever, the breakeven target."""
        from cxroi import charts

        cur = self.scenario.currency
        rows, metric = charts.tornado_rows(self.drivers, top)
        base = float(rows["base"].iloc[0]) if len(rows) else float("nan")
        text = charts.tornado_title(base, cur) + "\n" + "\n".join(
            f"{i}: low {money(lo, cur)}, high {money(hi, cur)}" for i, lo, hi in zip(
                rows["input"][::2], rows["value"][::2], rows["value"][1::2], strict=True))
        chart = make_chart(
            "tornado", "Tornado", charts.tornado_chart(self.drivers, cur, top=top), text,
            f"Each input moved to the low and high end of its range, the others at their "
            f"most likely values. The base is the likely case (NPV {money(base, cur)}, every "
            f"input at its most likely value), not the simulations' P50 ({self.f('npv')}).")
        return _section("drivers.html.j2", text="What drives the result", charts=(chart,),
                        breakeven=self.breakeven_items())

    def voi_section(self) -> Section:
        """What to measure next (value of information), when :mod:`cxroi.voi` exists."""
        try:
            from cxroi.voi import value_of_information  # type: ignore[import-not-found]
        except ImportError:
            return Section("", text="")
        v = value_of_information(self.result)
        table = getattr(v, "table", None)
        if v is None or table is None or len(table) == 0:
            return Section("", text="")
        cur = self.scenario.currency
        rows = [{"label": str(r["label"]), "link": str(r["link"]),
                 "evppi": money(float(r["evppi"]), cur)} for _, r in table.iterrows()]
        evpi = getattr(v, "evpi", None)
        return _section("voi.html.j2", text="What to measure next", rows=rows,
                        evpi=money(float(evpi), cur) if evpi is not None else None)

    def flywheel_section(self) -> Section:
        """The flywheel as a picture, with this scenario's figures."""
        from cxroi import charts

        labels = charts.flywheel_labels(self.scenario, self.result)
        chart = make_chart(
            "flywheel", "Flywheel", charts.flywheel_chart(self.scenario, self.result),
            "\n".join(f"{s}: {t}".replace("\n", " ") for s, t in
                      zip(charts._STAGES, labels, strict=True)),
            f"{change_phrase(self.scenario)}: customers feel better about the company, "
            f"behave differently, and the money funds the next turn.")
        return _section("flywheel.html.j2", text="The flywheel", charts=(chart,))

    def sources_table(self) -> pd.DataFrame:
        """Every link in plain units with its range, kind, source, year and caveat."""
        from cxroi.provenance import link_rows

        rows = link_rows(self.scenario, self.evidence.caveats)
        return pd.DataFrame([r.__dict__ for r in rows])

    def sources_section(self, footer: bool = True) -> Section:
        """Measured vs benchmark vs assumed: every link in plain units, and the baseline;
        with ``footer`` the footer follows the baseline, kept on the same printed page."""
        from cxroi.provenance import link_rows

        sc = self.scenario
        rows = link_rows(sc, self.evidence.caveats)
        counts = {k: sum(r.kind == k for r in rows) for k in ("measured", "benchmark",
                                                               "assumption")}
        summary = (f"{len(rows)} links: {counts['measured']} measured here, "
                   f"{counts['benchmark']} published benchmarks, {counts['assumption']} "
                   "assumptions")
        segs = [{"name": s.name, "accounts": f"{s.accounts:,}", "arpa": money(s.arpa, sc.currency),
                 "margin": f"{s.gross_margin:.0%}", "churn": f"{s.churn:.0%}",
                 "nps": f"{100 * (s.promoters - s.detractors):+.0f}"} for s in sc.segments]
        basis = ("company books (calibrated from the company's data)" if self.calibrated
                 else "scenario inputs")
        return _section("sources.html.j2", text=summary, rows=rows, summary=summary,
                        segments=segs, basis=basis, calibrated=self.calibrated,
                        nps_caveats=self.evidence.caveats_for("nps"),
                        extrapolation=self.evidence.extrapolation, footer=footer,
                        items=self.footer_items())

    def footer_items(self) -> list[tuple[str, str]]:
        """Scenario, fingerprints, draws and seed, version, date."""
        sc, r = self.scenario, self.result
        data_fp = self.data_fingerprint or "none given (scenario without company data)"
        return [("Scenario", sc.name), ("Data fingerprint", data_fp),
                ("Scenario fingerprint", scenario_fingerprint(sc)[:16]),
                ("Simulation", f"{r.n_draws:,} draws, seed {r.seed}"),
                ("cxroi version", cxroi.__version__), ("Date", self.date)]

    def footer_section(self) -> Section:
        """Scenario name, data fingerprint, scenario fingerprint, cxroi version, date (the
        report has it at the end of :meth:`sources_section`)."""
        return _section("footer.html.j2", text=f"{self.scenario.name} · {self.date}",
                        items=self.footer_items())

    def results_dict(self) -> dict[str, Any]:
        """:func:`results_dict` plus fingerprints, date, evidence and the waterfall."""
        data = results_dict(self.result)
        data["data_fingerprint"] = self.data_fingerprint
        data["scenario_fingerprint"] = scenario_fingerprint(self.scenario)
        data["date"] = self.date
        data["cxroi_version"] = cxroi.__version__
        data["evidence"] = {"level": self.evidence.level, "phrase": self.evidence.phrase}
        data["present_values_p50"] = self.present_values
        return _json_safe(data)

    def results_section(self) -> Section:
        """Machine-readable results (same shape as ``cxroi run --json``)."""
        data = self.results_dict()
        return Section(render_template("results.html.j2", json=Markup(script_json(data))),
                       data=data, text=f"NPV P50 {self.f('npv')}", notebook_html="")


_BENEFITS: dict[str, str] = {
    "retention_savings": "Retention savings",
    "cross_sell": "Cross-sell margin",
    "cost_to_serve_savings": "Cost-to-serve savings",
    "advocacy": "Advocacy (referrals)",
}
_LEVEL_LABELS: dict[str, str] = {
    "measured": "Measured in your data",
    "mixed": "Partly measured",
    "benchmark": "Published benchmarks",
    "assumption": "Assumptions",
}


def business_case(scenario: Scenario | str | os.PathLike[str], draws: int | None = None,
                  seed: int | None = None, data_fingerprint: str | None = None,
                  date: str | None = None) -> BusinessCase:
    """Simulate a scenario and gather everything the report shows.

    Parameters
    ----------
    scenario : Scenario or path
        A scenario or a scenario YAML file.
    draws, seed : int, optional
        Default to the scenario's ``simulation`` settings (what ``cxroi run`` and the
        batch use, so the same scenario gives the same figures everywhere).
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
    # nbconvert's TemplateExporter, not its HTMLExporter: the latter re-serialises the page
    # with BeautifulSoup, which would turn every ``&#36;`` back into a ``$``.
    from nbconvert.exporters import TemplateExporter

    template = resources.files("cxroi").joinpath("resources/report.html.j2")
    exp = TemplateExporter(template_file=str(template), exclude_input=True,
                           exclude_input_prompt=True, exclude_output_prompt=True,
                           exclude_markdown=True, exclude_raw=True, exclude_unknown=True)
    exp.output_mimetype = "text/html"
    exp.file_extension = ".html"
    return exp


@lru_cache(maxsize=1)
def report_css() -> str:
    """The report's stylesheet (the page, screen and print, then the sections' scoped
    rules), inlined into every report and into the batch index."""
    page = resources.files("cxroi").joinpath("resources/report.css").read_text("utf-8")
    return page + "\n" + section_css()


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
# PDF (Chromium prints the report; no other PDF engine)
# --------------------------------------------------------------------------------------

#: Paper sizes :func:`write_pdf` prints on (CSS ``@page`` sizes).
PAPERS: dict[str, str] = {"a4": "A4", "letter": "letter"}


def chromium_path() -> Path | None:
    """The Chromium (or Chrome) executable: ``CXROI_CHROMIUM``, then ``chromium``,
    ``chromium-browser``, ``google-chrome`` on the PATH, then ``/usr/bin/chromium``."""
    import shutil

    env = os.environ.get("CXROI_CHROMIUM")
    if env:
        return Path(env) if Path(env).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return Path(found)
    p = Path("/usr/bin/chromium")
    return p if p.is_file() else None


def require_chromium() -> Path:
    """:func:`chromium_path`, or a :class:`ReportError` saying how to get one."""
    exe = chromium_path()
    if exe is None:
        where = os.environ.get("CXROI_CHROMIUM")
        found = f"CXROI_CHROMIUM={where} is not a file" if where else "no Chromium found"
        raise ReportError(f"cannot write a PDF: {found}. Fix: install Chromium "
                          "(`apt-get install chromium`) or set CXROI_CHROMIUM to a Chromium "
                          "or Chrome executable; the HTML report prints to PDF from any "
                          "browser too")
    return exe


def write_pdf(html_path: str | os.PathLike[str], pdf_path: str | os.PathLike[str] | None = None,
              paper: str = "A4", timeout: float = 180.0) -> Path:
    """Print a report (or any self-contained HTML file) to PDF with headless Chromium.

    Page 1 of a report is its one-page summary on A4 and on US Letter.

    Parameters
    ----------
    html_path : path
        The HTML file (e.g. from :func:`render_report`).
    pdf_path : path, optional
        Where to write the PDF; default: ``html_path`` with ``.pdf``.
    paper : {"A4", "letter"}
        Paper size.
    timeout : float
        Seconds Chromium may take.

    Returns
    -------
    Path
        The PDF, written atomically.

    Raises
    ------
    ReportError
        No Chromium (the message says how to install or point to one), an unknown paper
        size, a missing HTML file, or Chromium failing.
    """
    import shutil
    import subprocess

    html_path = Path(html_path)
    pdf = Path(pdf_path) if pdf_path else html_path.with_suffix(".pdf")
    size = PAPERS.get(paper.lower())
    if size is None:
        raise ReportError(f"paper '{paper}' is not known. Fix: use one of A4, letter")
    if not html_path.is_file():
        raise ReportError(f"{html_path}: no such HTML file to print. Fix: render the report "
                          "first (`cxroi report SCENARIO`)")
    exe = require_chromium()
    page_rule = "<style>@page { size: " + size + "; }</style>"
    with tempfile.TemporaryDirectory(prefix="cxroi-pdf-") as tmp:
        src = Path(tmp) / "report.html"
        text = html_path.read_text("utf-8")
        src.write_text(text.replace("</head>", page_rule + "</head>", 1), "utf-8")
        out = Path(tmp) / "report.pdf"
        cmd = [str(exe), "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--no-pdf-header-footer",
               "--print-to-pdf-no-header", f"--user-data-dir={Path(tmp) / 'profile'}",
               f"--print-to-pdf={out}", src.as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise ReportError(f"{html_path}: Chromium took more than {timeout:.0f} s to print "
                              "the PDF. Fix: try again on a less busy machine") from None
        if not out.is_file() or not out.read_bytes()[:5] == b"%PDF-":
            tail = (proc.stderr or "").strip().splitlines()[-3:]
            raise ReportError(f"{html_path}: Chromium ({exe}) did not write a PDF (exit "
                              f"{proc.returncode}: {' / '.join(tail)}). Fix: check that "
                              "Chromium starts headless on this machine")
        pdf.parent.mkdir(parents=True, exist_ok=True)
        part = pdf.with_name(f".{pdf.name}.part")
        shutil.copyfile(out, part)
        os.replace(part, pdf)
    return pdf


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

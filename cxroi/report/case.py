"""The business case: everything the report shows for one scenario, computed once.

:func:`business_case` simulates a scenario; each ``*_section`` method of
:class:`BusinessCase` gathers the data (cards, charts as Vega-Lite mappings rendered to
SVG, plain-unit provenance rows) and renders one :class:`~cxroi.report.sections.Section`.
The business-case notebook calls one method per cell.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pandas as pd
from markupsafe import Markup

import cxroi
from cxroi.evidence import Evidence, evidence_of
from cxroi.pitch import chance, change_phrase, fmt, headline, lever_value, money, pitch
from cxroi.report.common import _json_safe, render_template, scenario_fingerprint, script_json
from cxroi.report.sections import Section, Tile, _section
from cxroi.report.svg import make_chart
from cxroi.scenario import Scenario, load_scenario
from cxroi.uncertainty import SimulationResult, breakeven, simulate, tornado


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
    _quantiles: dict[tuple[str, float], float] = field(default_factory=dict, init=False,
                                                       repr=False, compare=False)

    # -- numbers -----------------------------------------------------------------------
    def q(self, metric: str, p: float = 0.5) -> float:
        """Quantile ``p`` of ``metric`` over the draws (each computed once: the sections
        ask for the same few dozen about 140 times)."""
        got = self._quantiles.get((metric, p))
        if got is None:
            got = self._quantiles[(metric, p)] = self.result.quantile(metric, p)
        return got

    def f(self, metric: str, p: float = 0.5) -> str:
        """Formatted quantile of ``metric`` in its unit."""
        unit = self.result.summary.loc[metric, "unit"]
        return fmt(self.q(metric, p), unit, self.scenario.currency)

    def rng(self, metric: str) -> str:
        """``P10–P90 a to b``."""
        return f"P10–P90 {self.f(metric, 0.1)} to {self.f(metric, 0.9)}"

    @cached_property
    def fingerprint(self) -> str:
        """:func:`~cxroi.report.common.scenario_fingerprint` of the scenario, computed once
        (the footer and the results both show it; writing the YAML is the costly part)."""
        return scenario_fingerprint(self.scenario)

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
                f"{r.seed}), with the P10–P90 range (8 in 10 simulations land between the "
                f"two); benefits are totals over "
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
        lines = float(r.likely["other_costs"])  # the scenario's cost cash-flow lines
        h = sc.finance.horizon_months
        ev = self.evidence
        loss_sub = (f"share of {r.n_draws:,} simulations with NPV below zero"
                    + ("" if ev.measured else ", if the ranges behind it hold"))
        return [
            Tile("Cost", money(cost, cur),
                 f"{money(c.one_off, cur)} one-off + {money(c.running_per_year, cur)} a year"
                 + (f" + {money(lines, cur)} of cost lines" if lines else "")
                 + f", undiscounted; present value {money(float(r.likely['pv_costs']), cur)}",
                 "total_costs", cost, "cost"),
            Tile("NPV", self.f("npv"), self.rng("npv"), "npv", self.q("npv"), "total",
                 note=f"present value over {h} months"),
            Tile("Risk-adjusted NPV", self.f("npv_risk_adjusted"),
                 self.rng("npv_risk_adjusted"), "npv_risk_adjusted",
                 self.q("npv_risk_adjusted"), note=f"present value over {h} months, after risk haircuts"),
            Tile("ROI", self.f("roi"), f"{self.rng('roi')}; risk-adjusted "
                 f"{self.f('roi_risk_adjusted')}", "roi", self.q("roi"),
                 note=f"over {h} months: NPV ÷ present value of costs"),
            Tile("Payback", pay, pay_sub, "payback_month", self.q("payback_month"),
                 note="undiscounted cash"),
            Tile("Chance of losing money", chance(r.prob_loss), loss_sub,
                 "prob_npv_negative", r.prob_loss, "risk"),
        ]

    def benefit_tiles(self) -> list[Tile]:
        """NPS change and the four money lines (and the benefit cash-flow lines when the
        scenario has them), each with its evidence and caveats."""
        ev, cur = self.evidence, self.scenario.currency
        h = self.scenario.finance.horizon_months
        tiles = [Tile("NPS change", self.f("nps_change") + " points", self.rng("nps_change"),
                      "nps_change", self.q("nps_change"), note=f"after {h} months",
                      evidence=ev.lines["nps"], caveats=ev.caveats_for("nps"))]
        for line, label in _BENEFITS.items():
            if line not in self.present_values:  # other benefits: only with cash-flow lines
                continue
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
            charts.waterfall_spec(r, "p50", width=520, height=190),
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
            evidence=ev, evidence_label=_LEVEL_LABELS[ev.level]
            + (" and assumptions" if ev.names_assumptions else ""),
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
                f"{risk.cost_uplift:.0%} to costs (the risk adjustment of Forrester's Total "
                f"Economic Impact method, TEI). Discount rate "
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
            "npv", "NPV distribution", charts.npv_range_spec(r),
            f"NPV P10 {self.f('npv', 0.1)}, P50 {self.f('npv')}, P90 {self.f('npv', 0.9)}; "
            f"chance NPV < 0: {chance(r.prob_loss)} ({r.n_draws:,} simulations)",
            f"NPV {self.rng('npv')}; {chance(r.prob_loss)} of simulations lose money.")
        cash = make_chart(
            "cash", "Cumulative cash flow", charts.cash_flow_spec(r), cash_text,
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
        if len(rows) and not (rows["swing"].abs() > 0).any():  # fixed amounts only
            still = (f"No input's range moves the result (likely case NPV "
                     f"{money(base, cur)}): it rests on amounts given outright, without a "
                     "range, so there is no tornado to draw.")
            return _section("drivers.html.j2", text="What drives the result", still=still,
                            breakeven=self.breakeven_items())
        text = charts.tornado_title(base, cur) + "\n" + "\n".join(
            f"{i}: low {money(lo, cur)}, high {money(hi, cur)}" for i, lo, hi in zip(
                rows["input"][::2], rows["value"][::2], rows["value"][1::2], strict=True))
        drawn = (charts.tornado_spec(self.drivers, cur, top=top) if len(rows)
                 else charts.tornado_chart(self.drivers, cur, top=top))  # no rows: empty axes
        chart = make_chart(
            "tornado", "Tornado", drawn, text,
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
        # groups={}: the report shows each link's EVPPI and the EVPI, not the touchpoint
        # groups' additive fits (which cost four times the rest of the section)
        v = value_of_information(self.result, groups={})
        table = getattr(v, "table", None)
        if v is None or table is None or len(table) == 0:
            return Section("", text="")
        cur = self.scenario.currency
        rows = [{"label": str(r["label"]), "link": str(r["link"]),
                 "evppi": money(float(r["evppi"]), cur)} for _, r in table.iterrows()]
        evpi = getattr(v, "evpi", None)
        sentence = str(getattr(v, "sentence", "") or "").strip()
        if sentence and not sentence.endswith("."):
            sentence += "."
        return _section("voi.html.j2", text="What to measure next", rows=rows,
                        evpi=money(float(evpi), cur) if evpi is not None else None,
                        sentence=sentence)

    def _flywheel_caption(self) -> str:
        """The turn of the flywheel this case makes, in the direction its numbers go: how
        customers feel (the sign of the P50 NPS change) and whether the money (the P50
        NPV) funds the next turn."""
        nps = round(self.q("nps_change"), 1)
        feel = ("customers feel better about the company, behave differently" if nps > 0
                else "customers feel worse about the company and behave accordingly" if nps < 0
                else "customers barely notice")
        if self.q("npv") >= 0:
            return f"{change_phrase(self.scenario)}: {feel}, and the money funds the next turn."
        return (f"{change_phrase(self.scenario)}: {feel}, but the money does not cover the "
                f"cost (NPV {self.f('npv')}).")

    def flywheel_section(self) -> Section:
        """The flywheel as a picture, with this scenario's figures."""
        from cxroi import charts

        labels = charts.flywheel_labels(self.scenario, self.result)
        chart = make_chart(
            "flywheel", "Flywheel", charts.flywheel_spec(self.scenario, self.result),
            "\n".join(f"{s}: {t}".replace("\n", " ") for s, t in
                      zip(charts._STAGES, labels, strict=True)),
            self._flywheel_caption())
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
                ("Scenario fingerprint", self.fingerprint[:16]),
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
        data["scenario_fingerprint"] = self.fingerprint
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
    "other_benefits": "Other benefits (cash-flow lines)",
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

def results_dict(res: SimulationResult) -> dict[str, Any]:
    """The numbers of a run, shaped like ``cxroi run --json``.

    Keys: ``scenario``, ``currency`` (of every money figure), ``horizon_months`` (what the
    totals are over), ``pitch``, ``prob_npv_negative``, ``draws``, ``seed``, ``headline``
    (:func:`cxroi.pitch.headline`) and ``metrics`` (every output with ``label``, ``unit``,
    ``p10``, ``p50``, ``p90``, ``mean``, ``likely`` and ``share_defined``, the share of
    simulations where it exists: for ``payback_month``, the share that pays back at all).
    """
    s = res.summary
    metrics = {k: {"label": r["label"], "unit": r["unit"],
                   **{c: float(r[c]) for c in ("p10", "p50", "p90", "mean", "likely",
                                               "share_defined")}}
               for k, r in s.iterrows()}
    sc = res.scenario
    return _json_safe({"scenario": sc.name, "currency": sc.currency,
                       "horizon_months": sc.finance.horizon_months, "pitch": pitch(res),
                       "prob_npv_negative": res.prob_loss, "draws": res.n_draws,
                       "seed": res.seed, "headline": headline(res), "metrics": metrics})

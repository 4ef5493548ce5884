"""The result of a calibration and how it becomes a scenario (:meth:`Calibration.to_scenario`)."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cxroi.calibrate.baselines import _base_segment
from cxroi.calibrate.panel import EXPOSURE_MONTHS, WindowChoice
from cxroi.calibrate.priors import (
    DIRECT_CHAIN,
    Prior,
    SegmentMix,
    _scale,
    chain_implied,
    direct_prior,
    link_prior,
)
from cxroi.calibrate.stats import Z95, _summary, combine_precision
from cxroi.data import CompanyData
from cxroi.errors import CalibrationError
from cxroi.scenario import (
    LINK_DOMAINS,
    Link,
    Scenario,
    Segment,
    Touchpoint,
    TouchpointLinks,
    Volume,
    scenario_from_dict,
)

#: The direct (total-effect) links, in the order the money uses them.
DIRECT_LINKS = ("churn_hazard_ratio", "expansion_rate_ratio", "contacts_ratio")
#: Domain of the direct links (spec: (0, 50]); the scenario's registry is used when it has them.
DIRECT_DOMAIN = (1e-6, 50.0)


def _has_field(model: Any, name: str) -> bool:
    return name in getattr(model, "model_fields", {})


def _domain(name: str) -> tuple[float, float]:
    if name in LINK_DOMAINS:
        return float(LINK_DOMAINS[name][0]), float(LINK_DOMAINS[name][1])
    return DIRECT_DOMAIN


@dataclass
class LinkEstimate:
    """A link fitted from the company's data alone (before any prior).

    ``value``, ``low``, ``high`` are the estimate and its 95% interval, symmetric on the
    link's natural scale (log for ratios, logit for shares); ``short`` names the fit in a
    scenario's ``source``.
    """

    value: float
    low: float
    high: float
    n: int
    unit: str
    method: str
    short: str = ""
    #: direct links of leaving / buying more: the exposure window the data chose
    #: (:func:`cxroi.calibrate.panel.choose_window`), its exposed share per segment, and why
    window: WindowChoice | None = None

    def natural(self, name: str) -> tuple[float, float]:
        """Mean and standard deviation on the natural scale, read back from the interval."""
        fwd, _ = _scale(name)
        lo, v, hi = (float(fwd(x)) for x in (self.low, self.value, self.high))
        return v, (hi - lo) / (2 * Z95)


@dataclass(frozen=True)
class Written:
    """What :meth:`Calibration.to_scenario` wrote for one link (the report's table)."""

    name: str
    value: float
    low: float
    high: float
    data: LinkEstimate
    prior: Prior | None
    prior_weight: float | None
    note: str


def check_touchpoint(base: Scenario, data: CompanyData) -> None:
    """The base scenario has the touchpoint the data calibrate (``options.touchpoint``),
    and with tickets (the tables shape) it measures resolution time; else a
    :class:`CalibrationError` naming the touchpoints that would do. Checked before the
    fits (a million accounts take about a minute) and again when the scenario is written."""
    tp_name = data.options.touchpoint
    tps = base.touchpoints
    days = "resolution_days"  # what the tickets measure (tables shape)
    metric = tps[tp_name].metric if tp_name in tps else None
    if metric is None or (data.shape == "tables" and metric != days):
        fits = [k for k, t in tps.items() if t.metric == days] if data.shape == "tables" else list(tps)
        what = (f"the base scenario has no touchpoint '{tp_name}'" if metric is None else
                f"the base scenario's touchpoint '{tp_name}' measures {metric}, but the tickets give "
                f"resolution time ({days})")
        fix = (f"set options.touchpoint in the mapping to {' or '.join(fits)}" if fits else
               f"use a base scenario with a touchpoint of metric {days} (--base "
               "data/scenarios/complaints-30-to-1.yaml)")
        raise CalibrationError(f"{what}. Fix: {fix}")


@dataclass
class Calibration:
    """Everything calibration found, ready for a scenario and a report.

    Attributes
    ----------
    data : CompanyData
    fitters : dict
        The fitted fitter objects by name.
    links : dict of LinkEstimate
        Touchpoint links estimated from the data alone, by scenario link name (the chain
        links and the direct links ``churn_hazard_ratio``, ``expansion_rate_ratio``,
        ``contacts_ratio``).
    today : float or None
        Current median resolution days (the lever's ``today``).
    observed : dict or None
        ``{low, high, n}``: 5th-95th percentile of accounts' typical resolution days.
    caveats : list of dict
        ``{about, text}``: every data problem and every link not estimated, next to the
        money line or link it affects (written to the scenario's ``caveats``).
    notes : list of str
        Plain sentences for the report (what was kept, what was left out).
    written : dict of Written
        Filled by :meth:`to_scenario`: the value written per link, with its prior.
    """

    data: CompanyData
    fitters: dict[str, Any] = field(default_factory=dict)
    links: dict[str, LinkEstimate] = field(default_factory=dict)
    baselines: pd.DataFrame = field(default_factory=pd.DataFrame)
    today: float | None = None
    observed: dict[str, float] | None = None
    caveats: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    base: Scenario | None = None
    written: dict[str, Written] = field(default_factory=dict)
    date: str = field(default_factory=lambda: _dt.date.today().isoformat())

    def caveat(self, about: str, text: str) -> None:
        """Record a caveat once (``about``: a money line, ``nps``, ``csat``, ``general`` or a link)."""
        item = {"about": about, "text": text}
        if item not in self.caveats:
            self.caveats.append(item)

    @property
    def summary(self) -> pd.DataFrame:
        """Every estimate: name, estimate, low, high, n, verdict."""
        parts = [f.summary for f in self.fitters.values() if hasattr(f, "summary")]
        parts = [p for p in parts if not p.empty]
        return pd.concat(parts, ignore_index=True) if parts else _summary([])

    @property
    def verdicts(self) -> list[str]:
        """Plain-language sentences, most important first, then the notes, then every
        caveat ("Caveat (cross_sell): ..."), so that a reader of the verdicts alone (the
        command line) sees the data problems too."""
        return self.sentences() + [f"Caveat ({c['about']}): {c['text']}" for c in self.caveats]

    def sentences(self) -> list[str]:
        """The verdicts and notes without the caveats (the report lists those apart)."""
        out = []
        order = ("resolution_churn", "expansion_rate", "contacts", "complaint_churn", "experience_emotion",
                 "behaviour_gaps", "outcome_gaps")
        for name in order:
            if name in self.fitters:
                out.append(self.fitters[name].verdict)
            if name == "resolution_churn" and "behaviour_gaps" in self.fitters:
                # beside the direct verdict: the hazard ratio the calibrated links imply
                out.append(self.fitters["behaviour_gaps"].compare_with_cox(self.fitters.get("resolution_churn")))
        if "validity" in self.fitters:
            res = self.fitters["validity"].results_
            for m in ("nps", "csat", "satisfaction"):
                v = res.loc[(res["metric"] == m) & (res["target"] == "retention")]
                if not v.empty:
                    out.append(v["verdict"].iloc[0])
        for name in ("drivers", "survey_gap"):
            if name in self.fitters:
                out.append(self.fitters[name].verdict)
        return out + self.notes

    @property
    def exclusions(self) -> pd.DataFrame:
        return self.data.exclusions_frame()

    def source_text(self, est: LinkEstimate, prior: Prior | None = None, weight: float | None = None) -> str:
        """``calibrated: 4,812 accounts + benchmark prior (...), hazard ratio per doubling (data, date)``."""
        head = f"calibrated: {est.n:,} {est.unit}"
        if prior is not None and weight is not None and weight >= 0.005:
            head += f" + {prior.text}"
        return f"{head}, {est.short or est.method} ({self.data.name}, {self.date})"

    # ------------------------------------------------------------------------------------
    def to_scenario(self, base: Scenario | None = None) -> Scenario:
        """The base scenario with this calibration's links, lever, segments and caveats.

        Each estimated link is combined with its benchmark prior by precision
        (:func:`cxroi.calibrate.stats.combine_precision`; direct links: the prior the base
        chain implies, :func:`cxroi.calibrate.priors.chain_implied`) and written with
        ``provenance: calibrated``, the posterior 95% interval, ``n``, ``prior_weight`` and
        ``prior_source``. Links without a fit keep the base scenario's value and provenance
        (a caveat says so). Raises :class:`CalibrationError` if the result is not a valid
        scenario.
        """
        base = base or self.base
        if base is None:
            raise CalibrationError("to_scenario needs a base scenario (its costs, margins and other links)")
        tp_name = self.data.options.touchpoint
        check_touchpoint(base, self.data)
        d = base.model_dump(mode="json")
        tp = d["touchpoints"][tp_name]
        notes: list[str] = []
        if self.today is not None and np.isfinite(self.today):
            lv = tp["lever"]
            lv["today"] = round(float(self.today), 1)
            better_lower = tp["better"] == "lower"
            if (better_lower and lv["target"] > lv["today"]) or (not better_lower and lv["target"] < lv["today"]):
                lv["target"] = lv["today"]
                notes.append("Today's resolution time is already better than the base target; target set to today.")
            lo_m = tp.get("minimum")
            if lo_m is not None and lv["today"] < lo_m:
                lv["today"] = lo_m
        if not self.baselines.empty:
            d["segments"] = self._segments(base, tp_name)
        if self.observed and _has_field(Touchpoint, "observed"):
            tp["observed"] = {k: (round(float(v), 3) if k != "n" else int(v)) for k, v in self.observed.items()}
        self._write_links(base, tp, tp_name, d["segments"], notes)
        if _has_field(Scenario, "caveats"):
            d["caveats"] = [dict(c) for c in self.caveats]
        d["name"] = f"{base.name} (calibrated)"
        d["description"] = (d.get("description", "") + f" Calibrated from {self.data.name} on {self.date}.").strip()
        self.notes.extend(n for n in notes if n not in self.notes)
        try:
            return scenario_from_dict(d, f"calibrated from {self.data.name}")
        except Exception as exc:  # ScenarioError: report as a calibration problem
            raise CalibrationError(f"the calibrated scenario is not valid: {exc}") from None

    def _write_links(self, base: Scenario, tp: dict[str, Any], tp_name: str, segments: list[dict[str, Any]],
                     notes: list[str]) -> None:
        base_links = {k: getattr(base.touchpoints[tp_name].links, k) for k in TouchpointLinks.model_fields
                      if isinstance(getattr(base.touchpoints[tp_name].links, k, None), Link)}
        chain_names = [k for k in ("positive_share_today", "odds_ratio", "churn_gap", "expansion_gap",
                                   "repeat_contacts", "nps_gap", "csat_gap") if k in base_links]
        direct_names = [k for k in DIRECT_LINKS if _has_field(TouchpointLinks, k)]
        implied: dict[str, np.ndarray] = {}
        if any(k in self.links for k in direct_names) and all(
                k in base_links for k in ("positive_share_today", "odds_ratio", *DIRECT_CHAIN.values())):
            windows = {k: e.window.window for k, e in self.links.items() if e.window is not None}
            implied = chain_implied(base_links, SegmentMix.from_segments(segments, tp_name),
                                    **({"windows": windows} if windows else {}))
        extra = {"n", "prior_weight", "prior_source"} & set(Link.model_fields)
        self.written = {}
        for lname in (*direct_names, *chain_names):
            est = self.links.get(lname)
            if est is None:
                if lname in tp["links"] and isinstance(tp["links"][lname], dict):
                    tp["links"][lname]["note"] = (tp["links"][lname].get("note", "") +
                                                  f" [kept from the base scenario: {self.data.name} cannot estimate it]").strip()
                continue
            if lname == "odds_ratio" and ((tp["better"] == "lower" and est.value > 1)
                                          or (tp["better"] == "higher" and est.value < 1)):
                notes.append(f"The fitted odds ratio {est.value:.2f} says a worse {tp['metric']} goes with better "
                             "outcomes; the base scenario's odds ratio is kept - investigate before relying on it.")
                self.caveat("odds_ratio", f"The data say a worse {tp['metric']} goes with more positive outcomes "
                            f"(odds ratio {est.value:.2f}); the base scenario's value is kept.")
                continue
            prior = (direct_prior(lname, implied[lname], base_links) if lname in implied
                     else link_prior(lname, base_links[lname]) if lname in base_links else None)
            mu, sd = est.natural(lname)
            comb = combine_precision(mu, sd, prior.mean, prior.sd) if prior else combine_precision(mu, sd, 0, np.inf)
            _, back = _scale(lname)
            v, lo, hi = (float(back(x)) for x in (comb.mean, *comb.interval()))
            d_lo, d_hi = _domain(lname)
            cv, clo, chi = (float(np.clip(x, d_lo, d_hi)) for x in (v, lo, hi))
            clipped = (cv, clo, chi) != (v, lo, hi)
            if chi - clo <= 0:
                self.caveat(lname, f"{lname} estimated at {v:.3g} ({lo:.3g} to {hi:.3g}) lies outside its allowed "
                            f"range {d_lo:g}-{d_hi:g}: not written; the base scenario's value is kept.")
                continue
            weight = comb.prior_weight if prior else None
            link: dict[str, Any] = {
                "value": round(cv, 6), "low": round(min(clo, cv), 6), "high": round(max(chi, cv), 6),
                "provenance": "calibrated", "source": self.source_text(est, prior, weight),
                "note": est.method + (f"; combined with {prior.text} by precision, prior weight {weight:.0%}"
                                      if prior else "") + (" (clipped to the link's allowed range)" if clipped else ""),
            }
            if "n" in extra:
                link["n"] = int(est.n)
            if "prior_weight" in extra and prior is not None:
                link["prior_weight"] = round(float(weight), 4)
            if "prior_source" in extra and prior is not None and prior.source:
                link["prior_source"] = prior.source
            link.update(_window_fields(est, segments))
            if est.window is not None:
                link["note"] += f"; {window_sentence(est.window)}"
            tp["links"][lname] = link
            self.written[lname] = Written(lname, link["value"], link["low"], link["high"], est, prior, weight,
                                          link["note"])

    def _segments(self, base: Scenario, tp_name: str) -> list[dict[str, Any]]:
        segs = []
        for r in self.baselines.to_dict("records"):
            b = _base_segment(base, r["segment"])
            bvol = b.get("volumes", {})

            def pick(key: str, lo: float, hi: float, r: dict[str, Any] = r, b: dict[str, Any] = b) -> float:
                v = r.get(key)
                if v is None or not np.isfinite(v):
                    v = b.get(key)
                return float(np.clip(v, lo, hi))
            vols = {k: dict(v) for k, v in bvol.items()}
            v = vols.setdefault(tp_name, {"events_per_year": 0.0, "contacts_per_event": 1.0, "cost_per_contact": 0.0})
            if np.isfinite(r.get("complaints_per_year", np.nan)):
                v["events_per_year"] = round(float(r["complaints_per_year"]), 4)
                measured = {f"events_per_year_{e}": r.get(f"complaints_per_year_{e}") for e in ("low", "high")}
                if all(x is not None and np.isfinite(x) for x in measured.values()):
                    v.update(_measured_range({**r, "events_per_year": r["complaints_per_year"], **measured},
                                             "events_per_year", Volume, 0.0, 10_000.0, 4))
            if np.isfinite(r.get("contacts_per_event", np.nan)):
                v["contacts_per_event"] = round(float(r["contacts_per_event"]), 3)
                v.update(_measured_range(r, "contacts_per_event", Volume, 0.0, 1000.0, 3))
            promoters = pick("promoters", 0, 1)
            detractors = min(pick("detractors", 0, 1), 1 - promoters)
            accounts = int(r.get("accounts", 0) or 0)
            if accounts <= 0:  # no active account at the end: a caveat was written by the fit
                accounts = int(b.get("accounts", 0) or 0) if b.get("_matched") else 0
                accounts = accounts or int(r.get("accounts_in_window", 0) or 0)
            segs.append({
                "name": r["segment"], "accounts": max(accounts, 1),
                "arpa": round(pick("arpa", 1e-6, 1e12), 2), "gross_margin": float(b["gross_margin"]),
                "churn": round(pick("churn", 0, 0.999), 5), "expansion_rate": round(pick("expansion_rate", 0, 1), 5),
                "expansion_value": round(pick("expansion_value", 0, 1e6), 5),
                "promoters": round(promoters, 4), "detractors": round(detractors, 4),
                "csat": round(pick("csat", 1, 5), 3), "volumes": vols,
                **_measured_range(r, "churn", Segment, 0.0, 0.999, 5),
                **_measured_range(r, "expansion_rate", Segment, 0.0, 1.0, 5),
            })
        return segs


def window_sentence(ch: WindowChoice) -> str:
    """How the exposure window was chosen and what share of the behaviour it covers."""
    share = ", ".join(f"{k} {v:.0%}" for k, v in ch.exposed_share.items())
    head = f"exposure window {ch.window} month{'s' if ch.window != 1 else ''}: {ch.reason}"
    if not share:
        return head
    if ch.window < EXPOSURE_MONTHS:
        return f"{head}; the ratio applies to the share of the behaviour in exposed months ({share})"
    return (f"{head}; counted share of the behaviour in exposed months {share} (not written: over 12 months the "
            "model applies the ratio to the share of accounts with a complaint in a year, docs/calibration.md 6)")


def _window_fields(est: LinkEstimate, segments: list[dict[str, Any]]) -> dict[str, Any]:
    """``window_months`` and ``exposed_share`` of a windowed direct link, for a scenario whose
    links carry them (the note says how the window was chosen)."""
    ch = est.window
    if ch is None or not _has_field(Link, "window_months"):
        return {}
    names = {str(s["name"]) for s in segments}
    share = {k: round(float(v), 4) for k, v in ch.exposed_share.items() if k in names and np.isfinite(v)}
    out: dict[str, Any] = {"window_months": int(ch.window)}
    if share and ch.window < EXPOSURE_MONTHS:
        # a shorter window: the behaviour concentrates in the few exposed months, so the
        # share of accounts with an event in the window (the model's default) understates it.
        # Over 12 months the two agree within the counted share's sampling error, which is
        # not in the business case's draws: the model's share is kept (docs/calibration.md 6).
        out["exposed_share"] = share
    return out


def _measured_range(row: dict[str, Any], key: str, model: Any, lo: float, hi: float, digits: int) -> dict[str, float]:
    """``{key_low, key_high}``: the 95% sampling interval of a measured baseline rate, for a
    scenario whose segments carry it (the business case's draws then hold the rate's sampling
    error beside the links'); nothing when the scenario has no such field or the rate was not
    measured."""
    if not _has_field(model, f"{key}_low"):
        return {}
    a, b = row.get(f"{key}_low", np.nan), row.get(f"{key}_high", np.nan)
    if not (np.isfinite(a) and np.isfinite(b)):
        return {}
    return {f"{key}_low": round(float(np.clip(a, lo, hi)), digits), f"{key}_high": round(float(np.clip(b, lo, hi)), digits)}

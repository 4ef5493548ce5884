"""Measure one initiative end to end: data + initiative file -> :class:`Measurement`.

:func:`measure` loads the data (:func:`cxroi.data.load`), the initiative
(:func:`~cxroi.measure.initiative.load_initiative`) and its business-case scenario, builds
the panels, picks the design, estimates the lever change and every outcome with its
placebo, compares realised with promised money and writes the measured links into an
updated scenario. Rendering is separate (:mod:`cxroi.measure.report`).

Design choice (``design: auto``): difference-in-differences when some groups were reached
later or never (they show what would have happened without the change); an interrupted
time series only when every group went live on the same date.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm

from cxroi.data import CONTRACT, CompanyData, Mapping, TableMapping, load, load_mapping
from cxroi.errors import DataError, InitiativeError, NoControlGroupError, Problem
from cxroi.measure.did import Estimate, StaggeredDiD, naive_before_after
from cxroi.measure.initiative import Initiative, load_initiative
from cxroi.measure.its import InterruptedTimeSeries, company_series, naive_its
from cxroi.measure.money import MoneyComparison, compare_money
from cxroi.measure.panel import Panel, build_panel
from cxroi.measure.update import LinkUpdate, measured_links, updated_scenario
from cxroi.scenario import Scenario, load_scenario

#: How each outcome's effect is shown: (label, unit word, multiplier for display, decimals).
DISPLAY: dict[str, tuple[str, str, float, int]] = {
    "leaving": ("Accounts leaving", "points of the monthly share", 100.0, 2),
    "buying_more": ("Accounts buying more", "points of the monthly share", 100.0, 2),
    "contacts": ("Contacts per account", "contacts per account-month", 1.0, 3),
    "nps": ("NPS", "NPS points", 1.0, 1),
    "csat": ("CSAT", "points on the 1-5 scale", 1.0, 2),
    "lever": ("Resolution time", "doublings (log2 days)", 1.0, 2),
}
GOOD_DIRECTION = {"leaving": -1, "buying_more": 1, "contacts": -1, "nps": 1, "csat": 1, "lever": -1}
DID_DESIGN = "staggered difference-in-differences"
ITS_DESIGN = "interrupted time series"


@dataclass
class OutcomeResult:
    """The measured effect on one outcome."""

    outcome: str
    effect: Estimate
    pre_mean: float
    post_mean: float
    event_study: pd.DataFrame
    pretrend_p: float
    placebo: Estimate | None
    naive: Estimate
    estimator: Any

    @property
    def label(self) -> str:
        return DISPLAY[self.outcome][0]

    @property
    def separable(self) -> bool:
        """False when the months before go-live already moved: the pre-trend or the placebo
        differs from 0 at p < 0.025 each (the two checks together at 5%, Bonferroni)."""
        bad_pre = np.isfinite(self.pretrend_p) and self.pretrend_p < 0.025
        bad_placebo = self.placebo is not None and self.placebo.p < 0.025
        return not (bad_pre or bad_placebo)

    def phrase(self) -> str:
        """"Accounts leaving: -0.45 points of the monthly share (95% CI -0.90 to -0.05)"."""
        _, unit, k, d = DISPLAY[self.outcome]
        e = self.effect
        return (f"{self.label}: {e.estimate * k:+.{d}f} {unit} (95% CI {e.low * k:+.{d}f} to "
                f"{e.high * k:+.{d}f})")

    def verdict(self) -> str:
        e = self.effect
        if e.low > 0 or e.high < 0:
            good = np.sign(e.estimate) == GOOD_DIRECTION[self.outcome]
            word = "improved" if good else "worsened"
        else:
            word = "no clear change (the interval includes 0)"
        return word


@dataclass
class Measurement:
    """Everything ``cxroi measure`` found (see :mod:`cxroi.measure.report` for rendering)."""

    initiative: Initiative
    scenario: Scenario
    panel: Panel
    design: str
    design_reason: str
    outcomes: dict[str, OutcomeResult]
    lever_by_group: pd.DataFrame
    money: MoneyComparison
    link_updates: list[LinkUpdate]
    updated: Scenario
    data_source: str
    notes: list[str] = field(default_factory=list)

    @property
    def lever(self) -> OutcomeResult | None:
        return self.outcomes.get("lever")

    @property
    def headline(self) -> str:
        return self.money.sentence

    @property
    def summary(self) -> pd.DataFrame:
        """One row per outcome: estimate, interval, p, pre-trend p, placebo, naive, verdict."""
        rows = []
        for name, r in self.outcomes.items():
            k = DISPLAY[name][2]
            rows.append({"outcome": name, "label": r.label, "unit": DISPLAY[name][1],
                         "estimate": r.effect.estimate * k, "low": r.effect.low * k,
                         "high": r.effect.high * k, "p": r.effect.p,
                         "pretrend_p": r.pretrend_p,
                         "placebo": r.placebo.estimate * k if r.placebo else np.nan,
                         "placebo_p": r.placebo.p if r.placebo else np.nan,
                         "naive": r.naive.estimate * k, "verdict": r.verdict(),
                         "separable": r.separable})
        return pd.DataFrame(rows).set_index("outcome")


def _mapping_with_group(mapping: str | os.PathLike[str] | Mapping | None, group_by: str | None
                        ) -> Mapping:
    m = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
    if not group_by or group_by in CONTRACT["accounts"]:
        return m
    tm = m.tables.get("accounts", TableMapping())
    if group_by in tm.keep:
        return m
    tm = tm.model_copy(update={"keep": [*tm.keep, group_by]})
    return m.model_copy(update={"tables": {**m.tables, "accounts": tm}})


def _group_by_named(exc: DataError, ini: Initiative, source: str,
                    mapping: str | os.PathLike[str] | Mapping | None) -> DataError:
    """The data's problem "missing column 'team' (listed under keep)" when ``keep`` is not
    the analyst's but :func:`_mapping_with_group`'s: said as the initiative's ``group_by``."""
    m = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
    if not ini.group_by or ini.group_by in m.tables.get("accounts", TableMapping()).keep:
        return exc
    said = f"missing column '{ini.group_by}' (listed under keep)"
    probs = [Problem(f"group_by ({source})", f"the accounts data have no column '{ini.group_by}'",
                     (f"{p.fix} Otherwise set" if p.fix.startswith("did you mean") else "set")
                     + f" group_by in {source} to one of the accounts' columns (e.g. "
                     "`group_by: segment`)")
             if p.message == said else p for p in exc.problems]
    return DataError(exc.source, probs)


def _lever_by_group(data: CompanyData, panel: Panel, alpha: float = 0.05) -> pd.DataFrame:
    """Geometric-mean resolution days before and after each reached group's go-live, with
    95% intervals (OLS of log2 days on an after indicator, errors clustered by account)."""
    tk = data.tables["tickets"]
    grp = panel.accounts.set_index("account_id")["group"]
    g = tk["account_id"].map(grp)
    days = ((tk["resolved_at"] - tk["opened_at"]) / pd.Timedelta(days=1)).to_numpy(float)
    t = ((tk["opened_at"].dt.year - panel.months[0].year) * 12
         + tk["opened_at"].dt.month - panel.months[0].month).to_numpy()
    ok = np.isfinite(days) & g.notna().to_numpy()
    df = pd.DataFrame({"group": g[ok].to_numpy(), "t": t[ok], "acc": tk["account_id"][ok].to_numpy(),
                       "y": np.log2(np.maximum(days[ok], 0.01))})
    rows = []
    for grp_name, t0 in sorted(panel.go_live.items(), key=lambda kv: (kv[1], kv[0])):
        d = df[df["group"] == grp_name]
        post = (d["t"] >= t0).to_numpy(float)
        row: dict[str, Any] = {"group": grp_name, "go_live": panel.months[t0].date().isoformat(),
                               "tickets_before": int((post == 0).sum()),
                               "tickets_after": int(post.sum())}
        if post.sum() >= 2 and (post == 0).sum() >= 2:
            X = np.column_stack([np.ones(len(d)), post])
            res = sm.OLS(d["y"].to_numpy(), X).fit(cov_type="cluster",
                                                    cov_kwds={"groups": pd.factorize(d["acc"])[0]})
            for name, r in (("before", [1.0, 0.0]), ("after", [1.0, 1.0])):
                tt = res.t_test(np.array([r]))
                lo, hi = np.asarray(tt.conf_int(alpha=alpha)).ravel()
                row.update({f"days_{name}": 2 ** float(np.squeeze(tt.effect)),
                            f"days_{name}_low": 2 ** lo, f"days_{name}_high": 2 ** hi})
        rows.append(row)
    return pd.DataFrame(rows)


def _observed_range(data: CompanyData) -> tuple[float, float, int] | None:
    """5th-95th percentile of accounts' typical (median) resolution days, before and after
    the change alike: the range of the lever the data have seen (as calibration writes it)."""
    tk = data.tables["tickets"]
    days = ((tk["resolved_at"] - tk["opened_at"]) / pd.Timedelta(days=1)).clip(lower=0.01)
    typical = days[days.notna()].groupby(tk["account_id"][days.notna()]).median()
    if len(typical) < 20:
        return None
    lo, hi = np.quantile(typical.to_numpy(float), [0.05, 0.95])
    return float(lo), float(hi), int(len(typical))


def _fit_outcome(name: str, panel: Panel, design: str, ini: Initiative) -> OutcomeResult:
    cells = panel.outcome(name)
    M = len(panel.months)
    if design == DID_DESIGN:
        est = StaggeredDiD(ini.window.before, ini.window.after).fit(cells, panel.go_live, M)
        pl = est.placebo(cells, panel.go_live, M, ini.placebo_shift)
        naive = naive_before_after(cells, panel.go_live)
        es = est.event_study_
        return OutcomeResult(name, est.att_, est.pre_mean_, est.post_mean_, es, est.pretrend_p_,
                             pl.att_ if pl else None, naive, est)
    reached = cells[cells["group"].isin(list(panel.go_live))]
    series = company_series(reached, panel.months)
    t0 = min(panel.go_live.values())
    est = InterruptedTimeSeries(min_pre=min(6, t0)).fit(series, t0)
    pl = est.placebo(series, t0, min(ini.placebo_shift, max(t0 - 3, 1)))
    if pl is not None:
        est.pretrend_p_ = pl.att_.p
    return OutcomeResult(name, est.att_, est.pre_mean_, est.post_mean_, est.event_study_,
                         est.pretrend_p_, pl.att_ if pl else None, naive_its(series, t0), est)


def choose_design(panel: Panel, ini: Initiative) -> tuple[str, str]:
    """The design and why, in plain words."""
    unreached = [g for g in panel.groups if g not in panel.go_live]
    dates = sorted(set(panel.go_live.values()))
    n_live = len(panel.go_live)
    when = ", ".join(panel.month_label(t) for t in dates[:6]) + (" ..." if len(dates) > 6 else "")
    if ini.design == "its" or (ini.design == "auto" and len(dates) == 1 and not unreached):
        why = (f"Everyone went live in {panel.month_label(dates[0])}, so no group shows what "
               "would have happened without the change; the months before (their trend and "
               "seasonality) stand in for it. This cannot separate the initiative from anything "
               f"else that changed in {panel.month_label(dates[0])}.")
        return ITS_DESIGN, why
    if not unreached and len(dates) == 1:
        raise NoControlGroupError(
            "every group went live on the same date, so no group shows what would have happened "
            "without the change. Fix: use `design: its` (interrupted time series) or add groups "
            "that were reached later or never")
    why = (f"{n_live} {panel.group_by} group{'s' if n_live != 1 else ''} went live "
           f"{'on ' + str(len(dates)) + ' dates' if len(dates) > 1 else 'on one date'} ({when})"
           + (f" and {len(unreached)} {'were' if len(unreached) != 1 else 'was'} not reached"
              if unreached else "")
           + ", so each wave is compared with groups not yet (or never) changed over the same "
             "months: a stacked event study with clean controls (Cengiz et al. 2019; in the "
             "spirit of Callaway & Sant'Anna 2021). A plain before/after would credit the "
             "initiative with anything else that changed meanwhile.")
    return DID_DESIGN, why


def measure(data: str | os.PathLike[str] | CompanyData,
            initiative: str | os.PathLike[str] | Initiative,
            mapping: str | os.PathLike[str] | Mapping | None = None) -> Measurement:
    """Measure an initiative after it went live.

    Parameters
    ----------
    data : path or CompanyData
        The company's four tables (as for ``cxroi calibrate``) or data already loaded.
    initiative : path or Initiative
        The ``I.yaml`` (go-live dates, groups, lever, business-case scenario).
    mapping : path or Mapping, optional
        The mapping file; the initiative's ``group_by`` column is kept automatically.

    Raises
    ------
    InitiativeError, DataError, ScenarioError, GoLiveOutsideDataError, NoPrePeriodError,
    NoControlGroupError
        With the file, the key or group, and the fix.
    """
    ini = initiative if isinstance(initiative, Initiative) else load_initiative(initiative)
    source = str(initiative) if not isinstance(initiative, Initiative) else ini.name
    sc = load_scenario(ini.scenario_path())
    if ini.touchpoint not in sc.touchpoints:
        close = difflib.get_close_matches(ini.touchpoint, list(sc.touchpoints), n=1)
        raise InitiativeError(source, [Problem(
            "touchpoint", f"the scenario {ini.scenario} has no touchpoint '{ini.touchpoint}'",
            f"did you mean '{close[0]}'?" if close else
            f"use one of {', '.join(sc.touchpoints)}")])
    metric = sc.touchpoints[ini.touchpoint].metric
    if metric != ini.lever:  # the lever measured from the data must be the touchpoint's
        fits = [k for k, tp in sc.touchpoints.items() if tp.metric == ini.lever]
        raise InitiativeError(source, [Problem(
            "touchpoint", f"'{ini.touchpoint}' measures {metric}, not {ini.lever} (the lever "
            "measured from the data)",
            f"did you mean '{fits[0]}' (metric {ini.lever})?" if fits else
            f"use a business case with a touchpoint of metric {ini.lever} (scenario: in "
            "the initiative file)")])
    if isinstance(data, CompanyData):
        cd = data
    else:
        m = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)  # read once
        try:
            cd = load(data, _mapping_with_group(m, ini.group_by))
        except DataError as exc:
            raise _group_by_named(exc, ini, source, m) from None
    panel = build_panel(cd, ini, source)
    design, why = choose_design(panel, ini)
    outcomes: dict[str, OutcomeResult] = {}
    notes = list(panel.notes)
    for name in ["lever", *ini.outcomes]:
        if not panel.available(name):
            notes.append(f"{DISPLAY[name][0]}: not measured (no data for it)")
            continue
        outcomes[name] = _fit_outcome(name, panel, design, ini)
    for r in outcomes.values():
        if not r.separable:
            notes.append(f"{r.label}: the months before go-live already moved (pre-trend p="
                         f"{r.pretrend_p:.2f}, placebo p={r.placebo.p if r.placebo else float('nan'):.2f}); "
                         "treat it with caution: the data may not separate the initiative from what else was "
                         "changing")
    effects = {k: v.effect for k, v in outcomes.items()}
    costs = (ini.costs.one_off, ini.costs.running_per_year) if ini.costs else None
    mon = compare_money(panel, effects, sc, ini.touchpoint, costs, ini.draws, ini.seed)
    reached = panel.accounts[panel.accounts["group"].isin(list(panel.go_live))]
    what = f"{ini.name}, {cd.name or cd.source}, {len(reached):,} accounts reached"
    ups = measured_links(sc, ini.touchpoint, effects,
                         {k: v.post_mean for k, v in outcomes.items()},
                         list(reached["segment"]), design, what, ini.draws, ini.seed)
    if not ups:
        why = ("the lever did not measurably change" if "lever" in outcomes else
               "the lever could not be measured (no resolved tickets)")
        notes.append(f"{why}, so no link could be updated per unit "
                     "of the lever; the updated scenario keeps the business case's links")
    about = {"leaving": "retention_savings", "buying_more": "cross_sell",
             "contacts": "cost_to_serve_savings", "nps": "nps", "csat": "csat", "lever": "general"}
    cav = [(about[k], f"Measured after rollout ({ini.name}): {r.label.lower()} moved before go-live "
                      "as well; the data may not separate the initiative from what else was changing")
           for k, r in outcomes.items() if not r.separable]
    new = updated_scenario(sc, ini.touchpoint, ups, n=len(reached), caveats=cav,
                           observed=_observed_range(cd))
    return Measurement(ini, sc, panel, design, why, outcomes, _lever_by_group(cd, panel), mon,
                       ups, new, str(cd.source), notes)


def measure_paths(data: str | os.PathLike[str], initiative: str | os.PathLike[str],
                  mapping: str | os.PathLike[str] | None = None) -> Measurement:
    """:func:`measure` from file paths (what the CLI calls)."""
    return measure(Path(data), Path(initiative), mapping)

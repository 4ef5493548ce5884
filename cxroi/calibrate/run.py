"""Orchestration: run every fit the data allow, record caveats, write the scenario and reports."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from cxroi.calibrate.baselines import BaselineFitter, _base_segment
from cxroi.calibrate.calibration import Calibration, LinkEstimate, check_touchpoint
from cxroi.calibrate.churn import ResolutionChurnFitter
from cxroi.calibrate.contacts import ContactsFitter
from cxroi.calibrate.customers import ComplaintChurnFitter, CustomerBaselineFitter
from cxroi.calibrate.emotion import ExperienceEmotionFitter
from cxroi.calibrate.expansion import ExpansionRateFitter
from cxroi.calibrate.gaps import BehaviourGapFitter
from cxroi.calibrate.outcomes import OutcomeGapFitter
from cxroi.calibrate.panel import WindowChoice
from cxroi.calibrate.prepare import Prepared, prepare
from cxroi.calibrate.report import calibration_markdown
from cxroi.calibrate.survey_gap import SurveyGapFitter
from cxroi.calibrate.validity import EmotionDriverFitter, MetricValidityFitter, _first_responses
from cxroi.data import CompanyData, Mapping, from_frames, load
from cxroi.errors import CalibrationError
from cxroi.files import write_atomic
from cxroi.scenario import Scenario, TouchpointLinks, load_scenario, save_scenario

DEFAULT_BASE = Path(__file__).resolve().parents[2] / "data" / "scenarios" / "complaints-30-to-1.yaml"

#: Fewer leavers than this in a segment: its churn is reported as uncertain (a caveat).
SMALL_SEGMENT_LEAVERS = 10

#: Above this many accounts in the window, the links (direct effects, the emotion chain,
#: metric validity) are fitted on a random sample of this many accounts with all their
#: complaints, surveys and orders; baselines, today and the observed range use every
#: account. The sample is stated in the report and the scenario's caveats, and the
#: intervals are the sample's (wider than the full data would give).
FIT_SAMPLE_ACCOUNTS = 150_000

#: Which money line a link drives (for caveats of links that could not be estimated).
LINK_LINE = {"churn_hazard_ratio": "retention_savings", "expansion_rate_ratio": "cross_sell",
             "contacts_ratio": "cost_to_serve_savings"}


def observed_range(prep: Prepared) -> dict[str, float] | None:
    """5th-95th percentile of the accounts' typical resolution time (geometric mean of their
    complaints' days), and the number of accounts: the lever range the data cover; ``spread``,
    the standard deviation of single complaints' log2 resolution time (where the one-contact
    floor binds, ``cxroi.model.contacts_saved``)."""
    c = prep.complaints
    if c.empty or not np.isfinite(prep.today):
        return None
    n = np.bincount(c["acc"].to_numpy(), minlength=len(prep.accounts))
    zsum = np.bincount(c["acc"].to_numpy(), weights=c["z"].to_numpy(), minlength=len(prep.accounts))
    typical = prep.today * np.exp2(zsum[n > 0] / n[n > 0])
    lo, hi = np.percentile(typical, [5, 95])
    z = c["z"].to_numpy()
    return {"low": float(lo), "high": float(hi), "n": int(len(typical)),
            "spread": float(np.std(z, ddof=1)) if len(z) > 1 else 0.0}


def _data_caveats(cal: Calibration, prep: Prepared) -> None:
    """Data problems that change a number: each a caveat next to what it affects."""
    for p in getattr(cal.data, "caveats", []) or []:  # found at validation (cxroi.data)
        cal.notes.append(f"Data check - {p.where}: {p.message}" + (f" (fix: {p.fix})" if p.fix else "") + ".")
    if prep.floored:
        cal.caveat("general", (
            f"{prep.floored:,} of {len(prep.complaints):,} complaints were resolved within {prep.floor_days:.3g} days "
            f"of opening (same-day tickets); their resolution time is floored at {prep.floor_days:.3g} days on the "
            "log scale, so they count as fast but not infinitely fast."))
    if not prep.has_expansion_products:
        seen = ", ".join(prep.products_seen[:8]) or "no orders"
        cal.caveat("cross_sell", (
            f"None of the configured expansion products ({', '.join(prep.expansion_products)}) appear in the orders "
            f"(found: {seen}): buying more was not measured - the base scenario's expansion rate, expansion value "
            "and expansion links are kept, not 0%. Fix: list the products that count as buying more under "
            "options.expansion_products."))
    a = prep.accounts
    if len(a) and a["churned"].all():
        raise CalibrationError(
            f"every one of the {len(a):,} accounts has an end_date inside the data window, so no account is active "
            "at the end: end_date must be empty for accounts that are still customers (check the mapping of "
            "end_date - a last-activity or renewal date is not a leaving date)")


def _rate_basis_notes(cal: Calibration, bf: BaselineFitter) -> None:
    """Say which months each segment's churn and rate of buying more come from."""
    n = bf.recent_months
    if not bf.has_recent_:  # one note for the data, not a caveat per segment
        cal.notes.append(f"Churn and the rate of buying more are the whole window's: the data cover less than "
                         f"{n + 12} months (a year before the last {n} is needed to measure how they moved).")
        return
    cal.notes.append(f"Churn and the rate of buying more are each segment's last {n} months (the accounts still "
                     "there: over a longer window the least loyal accounts, who leave first, weigh in).")
    for seg, basis in bf.rate_basis_.items():
        for rate, how in basis.items():
            if not how.startswith("last "):
                word = "churn" if rate == "churn" else "the rate of buying more"
                text = (f"Segment {seg}: too few events in the last {n} months to measure {word} there; it is the "
                        f"{how}.")
                cal.notes.append(text)
                cal.caveat("retention_savings" if rate == "churn" else "cross_sell", text)


def _segment_caveats(cal: Calibration) -> None:
    for r in cal.baselines.to_dict("records"):
        s, leavers = r["segment"], int(r.get("leavers", 0))
        if int(r.get("accounts", 0)) == 0:
            cal.caveat("retention_savings", (
                f"Segment {s}: none of its {r['accounts_in_window']:,} accounts is active at the end of the data; its "
                "account count is taken from the base scenario (or the accounts seen) - check end_date."))
        if leavers == 0:
            cal.caveat("retention_savings", (
                f"Segment {s}: no account left during the data window ({r['account_months']:,} account-months), so "
                f"its measured churn is 0% (95% upper bound {r['churn_high']:.1%}); retention savings for it are "
                "zero - check that leavers have an end_date."))
        elif leavers < SMALL_SEGMENT_LEAVERS:
            cal.caveat("retention_savings", (
                f"Segment {s}: only {leavers} accounts left in the data window, too few to estimate its churn well "
                f"({r['churn']:.1%}, 95% CI {r['churn_low']:.1%}-{r['churn_high']:.1%})."))


def _unmatched_segments_caveat(cal: Calibration) -> None:
    """Data segments the base scenario lacks take its account-weighted gross margin and cost
    per contact (the data hold neither): say so, with the values and the fix."""
    base = cal.base
    if base is None or cal.baselines is None or not len(cal.baselines):
        return
    info = {s: _base_segment(base, s) for s in sorted({str(x) for x in cal.baselines["segment"]})}
    new = [s for s, seg in info.items() if not seg["_matched"]]
    if not new:
        return
    avg = info[new[0]]  # not a base name: the base's account-weighted average
    cpc = avg["volumes"].get(cal.data.options.touchpoint, {}).get("cost_per_contact")
    what = f"gross margin {avg['gross_margin']:.1%}" + (f" and cost per contact {cpc:,.2f}" if cpc else "")
    cal.caveat("general", (
        f"Segment{'s' if len(new) > 1 else ''} {', '.join(new)} {'are' if len(new) > 1 else 'is'} not in the base "
        f"scenario ({', '.join(s.name for s in base.segments)}): {what} are the base's account-weighted averages "
        "(the data do not hold them). Fix: set them per segment in the calibrated scenario, or map the data's "
        "segments to the base's names (tables.accounts.codes.segment in the mapping)."))


def _calibrated_base_caveat(cal: Calibration) -> None:
    """A base scenario that is itself calibrated: its calibrated chain links are no benchmark
    and give no prior (:func:`cxroi.calibrate.priors.link_prior`), so the new estimates of
    them stand on these data alone. Said, with the fix."""
    base, tp_name = cal.base, cal.data.options.touchpoint
    if base is None or tp_name not in base.touchpoints:
        return
    links = base.touchpoints[tp_name].links
    chain = [k for k in TouchpointLinks.model_fields if k not in LINK_LINE]
    own = [k for k in chain if getattr(links, k, None) is not None
           and getattr(links, k).provenance == "calibrated" and k in cal.links]
    if own:
        cal.caveat("general", (
            f"The base scenario ({base.name}) is itself calibrated: its calibrated links ({', '.join(own)}) are "
            "no benchmark, so they give no benchmark prior and this calibration's estimates of them stand on the data "
            "alone. Fix: calibrate from the scenario it was calibrated from (e.g. "
            "data/scenarios/complaints-30-to-1.yaml) to keep the benchmark priors."))


def _link(cal: Calibration, name: str, value: float, low: float, high: float, n: int, unit: str, method: str,
          short: str, window: WindowChoice | None = None) -> None:
    cal.links[name] = LinkEstimate(float(value), float(low), float(high), int(n), unit, method, short, window)


def _months(w: int) -> str:
    return f"{w} month{'s' if w != 1 else ''}"


def _fit_direct(cal: Calibration, prep: Prepared) -> None:
    """The direct (total) effects of the lever on leaving, buying more and contacts."""
    f = cal.fitters
    try:
        rc = f["resolution_churn"] = ResolutionChurnFitter().fit(prep)
        w = rc.window_months_
        _link(cal, "churn_hazard_ratio", rc.hazard_ratio_, rc.low_, rc.high_, rc.n_, "accounts",
              "discrete-time proportional-hazards model (Poisson GLM of leaving per exposed account-month) on the "
              f"mean log2 resolution time of the complaints resolved in the past {_months(w)} (window chosen by "
              "likelihood), adjusted for segment, size, complaint count and year; hazard ratio per doubling, errors "
              "clustered by account", f"hazard ratio per doubling, {_months(w)} exposure window", rc.window_)
        cal.notes.append(f"Resolution time -> leaving: exposure window {_months(w)} ({rc.window_.reason}).")
        if rc.segments_without_leavers_:
            cal.caveat("churn_hazard_ratio", (
                f"No account with complaints left in segment(s) {', '.join(rc.segments_without_leavers_)}: those "
                "segments add nothing to the hazard ratio."))
        if rc.hazard_ratio_ < 1 and rc.high_ < 1:
            cal.caveat("churn_hazard_ratio", (
                f"The data say slower resolution goes with less leaving (HR {rc.hazard_ratio_:.2f} per doubling): "
                "investigate before relying on it."))
    except CalibrationError as exc:
        cal.caveat("churn_hazard_ratio", f"Resolution time -> leaving not estimated: {exc}; the money uses the "
                   "base scenario's links.")
        cal.notes.append(f"Resolution time -> churn not fitted: {exc}.")
    try:
        er = f["expansion_rate"] = ExpansionRateFitter().fit(prep)
        w = getattr(er, "window_months_", 12)
        _link(cal, "expansion_rate_ratio", er.rate_ratio_, er.low_, er.high_, er.n_, "accounts",
              "Poisson GLM of expansion orders per exposed account-month on the mean log2 resolution time of the "
              f"complaints resolved in the past {_months(w)} (window chosen by likelihood), adjusted for segment, "
              "size, complaint count and year; errors clustered by account",
              f"Poisson rate ratio per doubling, {_months(w)} exposure window", getattr(er, "window_", None))
        if getattr(er, "window_", None) is not None:
            cal.notes.append(f"Resolution time -> buying more: exposure window {_months(w)} ({er.window_.reason}).")
    except CalibrationError as exc:
        cal.caveat("expansion_rate_ratio", f"Resolution time -> buying more not estimated: {exc}.")
    try:
        cf = f["contacts"] = ContactsFitter().fit(prep)
        _link(cal, "contacts_ratio", cf.contacts_ratio_, cf.low_, cf.high_, cf.n_, "complaints",
              "Poisson model of contacts per complaint on its log2 resolution time, adjusted for segment and size; "
              "errors clustered by account", "Poisson contacts ratio per doubling")
    except CalibrationError as exc:
        cal.caveat("contacts_ratio", f"Resolution time -> contacts not estimated: {exc}.")


def _fit_chain(cal: Calibration, prep: Prepared, gap_window: int) -> None:
    """The emotion chain: p(T), the behaviour gaps and the outcome gaps (they carry NPS/CSAT)."""
    f = cal.fitters
    try:
        ee = f["experience_emotion"] = ExperienceEmotionFitter().fit(prep)
    except CalibrationError as exc:
        cal.notes.append(f"Resolution time -> emotion not fitted ({exc}); positive_share_today and odds_ratio "
                         "are kept from the base scenario.")
        return
    _link(cal, "positive_share_today", ee.positive_share_today_, *ee.positive_share_ci_, ee.n_,
          "complaint survey answers", f"logistic fit of a positive outcome ({ee.outcome_rule_}) on log2 resolution "
          f"days, at today's {prep.today:.1f} days; Wald 95% interval", "logistic fit at today")
    _link(cal, "odds_ratio", ee.odds_ratio_, *ee.odds_ratio_ci_, ee.n_, "complaint survey answers",
          "odds of a positive outcome per doubling of resolution time (logistic, Wald 95% interval)",
          "logistic odds ratio per doubling")
    try:
        bg = f["behaviour_gaps"] = BehaviourGapFitter(churn_window=gap_window, expansion_window=gap_window).fit(prep)
        _link(cal, "churn_gap", bg.churn_gap_, *bg.churn_gap_ci_, bg.n_account_months_, "account-months",
              f"distributed-lag linear model of monthly leaving on the expected numbers of positive and negative "
              f"outcomes (p(T)) of complaints resolved in the {bg.churn_window} months before, adjusted for segment "
              "and size; gap = negative minus positive, summed over the window; sandwich 95% interval clustered "
              "by account, outcome-curve uncertainty included", "distributed-lag gap")
        if bg.expansion_measured_:  # else kept from the base scenario, with a caveat (below)
            _link(cal, "expansion_gap", bg.expansion_gap_, *bg.expansion_gap_ci_, bg.n_account_months_,
                  "account-months",
                  f"distributed-lag linear model of monthly expansions on the expected numbers of positive and "
                  f"negative outcomes of complaints resolved in the {bg.expansion_window} months before, adjusted "
                  "for segment and size; gap = positive minus negative, summed over the window; sandwich 95% "
                  "interval clustered by account, outcome-curve uncertainty included", "distributed-lag gap")
        rc = f.get("resolution_churn")
        if rc is not None:
            hr, lo, hi = bg.implied_hazard_ratio()
            if hi < rc.low_ or lo > rc.high_:
                cal.caveat("churn_hazard_ratio", (
                    f"The emotion chain implies a hazard ratio of {hr:.2f} per doubling ({lo:.2f}-{hi:.2f}); the direct "
                    f"estimate is {rc.hazard_ratio_:.2f} ({rc.low_:.2f}-{rc.high_:.2f}). The intervals do not "
                    "overlap: retention savings follow the direct estimate; the chain (which carries NPS) may miss "
                    "part of the effect or overstate it."))
    except CalibrationError as exc:
        cal.notes.append(f"churn_gap / expansion_gap not fitted ({exc}); kept from the base scenario.")
    try:
        og = f["outcome_gaps"] = OutcomeGapFitter().fit(prep)
        methods = {"repeat_contacts": "mean contacts, negative minus positive outcomes (Welch 95% interval)",
                   "nps_gap": "NPS after positive minus after negative complaint outcomes (Welch 95% interval)",
                   "csat_gap": "mean CSAT after positive minus negative complaint outcomes (Welch 95% interval)"}
        for k, (v, lo, hi, n) in og.estimates_.items():
            _link(cal, k, v, lo, hi, n, "complaint survey answers", methods[k], "difference of means")
    except CalibrationError as exc:
        cal.notes.append(f"Outcome gaps not fitted ({exc}); kept from the base scenario.")


def fit_sample(prep: Prepared, max_accounts: int | None, seed: int) -> tuple[Prepared, int | None]:
    """The accounts the links are fitted on: all of them, or a random sample of
    ``max_accounts`` (without replacement, seeded) when there are more.

    Returns the (possibly restricted) frames and the sample size (``None``: every account).
    """
    n = len(prep.accounts)
    if not max_accounts or n <= max_accounts:
        return prep, None
    rows = np.random.default_rng(seed).choice(n, size=int(max_accounts), replace=False)
    return prep.subset(rows), int(max_accounts)


def _calibrate_tables(cal: Calibration, seed: int, gap_window: int = 12, n_boot: int = 500,
                      max_fit_accounts: int | None = FIT_SAMPLE_ACCOUNTS, keep_tables: bool = True) -> None:
    prep = prepare(cal.data, release_tables=not keep_tables)
    _data_caveats(cal, prep)
    cal.today = prep.today
    cal.observed = observed_range(prep)
    fprep, sampled = fit_sample(prep, max_fit_accounts, seed)
    if sampled:
        text = (f"The links (direct effects, emotion chain, metric validity) were fitted on a random sample of "
                f"{sampled:,} of the {len(prep.accounts):,} accounts in the window, with all their complaints, "
                f"surveys and orders ({len(fprep.complaints):,} of {len(prep.complaints):,} resolved complaints; "
                f"seed {seed}); their intervals are the sample's, so somewhat wider than all the data would give. "
                "Baselines, today's resolution time and the observed range use every account.")
        cal.notes.append(text)
        cal.caveat("general", text)
    _fit_direct(cal, fprep)
    _fit_chain(cal, fprep, gap_window)
    f = cal.fitters
    frame, n_short = _first_responses(fprep)
    if n_short:
        cal.notes.append(f"{n_short:,} accounts' first survey answer has less than a year of follow-up and is left "
                         "out of the metric-validity and emotion-driver checks.")
    frame["stay12"] = 1 - frame["left12"]
    if len(frame) >= 20:
        f["validity"] = MetricValidityFitter(n_boot=n_boot, seed=seed).fit(frame)
        if prep.has_emotions:
            f["drivers"] = EmotionDriverFitter().fit(frame)
    else:
        cal.notes.append("Fewer than 20 survey answers with a year of follow-up: metric validity not tested.")
    try:
        f["survey_gap"] = SurveyGapFitter(seed=seed, n_boot=n_boot).fit(prep)
    except CalibrationError as exc:
        cal.notes.append(f"Survey gap not filled: {exc}.")
    bf = f["baselines"] = BaselineFitter().fit(prep, cal.base, survey_gap=f.get("survey_gap"))
    cal.baselines = bf.table_
    _rate_basis_notes(cal, bf)
    _segment_caveats(cal)
    _unmatched_segments_caveat(cal)
    _calibrated_base_caveat(cal)
    if "survey_gap" in f and bf.table_["promoters_raw"].notna().any():
        sg = f["survey_gap"]
        cal.notes.append(f"Baseline NPS is the response-bias-corrected NPS of all active accounts "
                         f"({bf.nps_corrected_:.0f}); the raw survey NPS of respondents is {sg.nps_respondents_:.0f}.")
    chain = [k for k in TouchpointLinks.model_fields if k not in LINK_LINE]
    for name in chain:
        if name not in cal.links:
            cal.notes.append(f"Link '{name}' could not be estimated from {cal.data.name}: the base scenario's value "
                             "is kept.")
            cal.caveat(name, f"{name} not estimated from {cal.data.name}: the base scenario's value is kept.")


def _calibrate_customers(cal: Calibration, seed: int, n_boot: int = 500) -> None:
    d = cal.data
    df = d.tables["customers"]
    f = cal.fitters
    if "complaint" in df:
        f["complaint_churn"] = ComplaintChurnFitter().fit(d)
    if "satisfaction" in df:
        ok = df["satisfaction"].notna()
        d.exclude("customers", "no satisfaction score (left out of the validity check)", ~ok.to_numpy())
        frame = pd.DataFrame({"satisfaction": df.loc[ok, "satisfaction"].astype(float),
                              "stay": 1 - df.loc[ok, "churn"].astype(float)})
        f["validity"] = MetricValidityFitter(n_boot=n_boot, seed=seed, metrics=["satisfaction"]).fit(
            frame, {"retention": "stay"}, {"retention": "retention (not having churned)"})
    bf = f["baselines"] = CustomerBaselineFitter().fit(d)
    cal.baselines = bf.table_
    cal.notes.append(
        f"{d.name} has one row per customer and no resolution times, survey emotions or orders over time, so it cannot "
        "estimate the resolution time -> emotion -> behaviour links (positive_share_today, odds_ratio, churn_gap, "
        "expansion_gap, repeat_contacts, nps_gap, csat_gap) nor the direct effects of resolution time: the base "
        "scenario's benchmark links are kept, and the lever's 'today' is not measured.")
    cal.notes.append("The complained-vs-not churn difference is not the scenario's churn_gap (negative vs positive "
                     "outcome of a complaint); it is an upper-level check that complaints matter here.")
    cal.caveat("general", f"{d.name} has no resolution times: no link of the business case is measured in these data; "
               "the money rests on the base scenario's benchmarks and assumptions.")
    if "spend" not in df:
        cal.notes.append(f"{d.name} has no revenue or spend per customer: ARPA, margin and expansion come from the "
                         "base scenario - replace them with the company's figures.")


def calibrate(tables: CompanyData | dict[str, pd.DataFrame], mapping: Mapping | None = None,
              base_scenario: Scenario | str | os.PathLike[str] | None = None,
              n_boot: int = 500, seed: int = 20261123, name: str | None = None,
              gap_window: int = 12, max_fit_accounts: int | None = FIT_SAMPLE_ACCOUNTS,
              keep_tables: bool = True) -> Calibration:
    """Run every fit the data allow.

    Parameters
    ----------
    tables : CompanyData or dict of DataFrame
        Validated data (:func:`cxroi.data.load`) or raw contract-shaped frames (validated
        here, e.g. from :func:`cxroi.demo.generate_demo`).
    mapping : Mapping, optional
        Used only when ``tables`` are raw frames.
    base_scenario : Scenario or path, optional
        Costs, margins, cost per contact, the benchmark priors and the links the data cannot
        estimate. Defaults to ``data/scenarios/complaints-30-to-1.yaml`` when present.
    n_boot : int
        Bootstrap replicates for the metric-validity (C-index) and survey-gap (response
        bias) intervals.
    seed : int
        Seed of every random draw (bootstraps, cross-validation folds).
    gap_window : int
        Months from a complaint's resolution over which its effect on leaving and on
        buying more is counted (:class:`BehaviourGapFitter`; default 12, one renewal cycle).
    max_fit_accounts : int or None
        Above this many accounts the links are fitted on a seeded random sample of this
        many accounts (:data:`FIT_SAMPLE_ACCOUNTS`, 150,000; ``None`` or 0: every account);
        the report and the scenario's caveats say so. Baselines always use every account.
    keep_tables : bool
        ``False``: each validated table of ``tables`` is replaced by its row numbers once
        the analysis frames are built (memory at millions of rows; :func:`run_calibration`
        does this with the data it loads itself).

    Returns
    -------
    Calibration

    Raises
    ------
    CalibrationError
        When the data make calibration meaningless (e.g. every account has left).
    """
    data = tables if isinstance(tables, CompanyData) else from_frames(tables, mapping, source=name or "<frames>")
    if name:
        data.name = name
    base = _resolve_base(base_scenario)
    cal = Calibration(data=data, base=base)
    if data.shape == "tables":
        _calibrate_tables(cal, seed, gap_window, n_boot, max_fit_accounts, keep_tables)
    else:
        _calibrate_customers(cal, seed, n_boot)
    return cal


def _resolve_base(base: Scenario | str | os.PathLike[str] | None) -> Scenario | None:
    if isinstance(base, Scenario):
        return base
    if base is not None:
        return load_scenario(base)
    return load_scenario(DEFAULT_BASE) if DEFAULT_BASE.is_file() else None


def run_calibration(data: Path, mapping: Path | None, out: Path, base: Path | None = None,
                    report: Path | None = None, n_boot: int = 500, seed: int = 20261123,
                    max_fit_accounts: int | None = FIT_SAMPLE_ACCOUNTS) -> Calibration:
    """Load, validate, calibrate and write the calibrated scenario and its report.

    Writes ``out`` (the scenario, atomically), ``<out stem>.calibration.csv`` (the summary
    table) and ``<out stem>.calibration.md`` (or ``report``) with the verdicts, the links
    written with their priors, the caveats and the exclusions.

    The data are loaded here, so each validated table is let go once its analysis frames
    are built (``keep_tables=False``); above ``max_fit_accounts`` accounts the links are
    fitted on a seeded random sample of that many accounts (:func:`calibrate`), which the
    report and the scenario's caveats state.

    Raises
    ------
    DataError
        The data break the contract (every problem listed).
    CalibrationError
        The data are valid but a needed fit cannot be made, or no base scenario is found.
    """
    data, out = Path(data), Path(out)
    base_file = DEFAULT_BASE if base is None else Path(base) if not isinstance(base, Scenario) else None
    if base_file is not None and base_file.is_file() and out.exists() and out.resolve() == base_file.resolve():
        raise CalibrationError(
            f"--out {out} is the base scenario: writing it would replace the business case (its benchmark links "
            "and their sources) with the calibrated scenario. Fix: write the calibrated scenario to another file, "
            f"e.g. --out {out.with_name('calibrated-' + out.name)}")
    company = load(data, mapping)
    base_sc = _resolve_base(base)
    if base_sc is None:
        raise CalibrationError("no base scenario: pass --base data/scenarios/complaints-30-to-1.yaml (it supplies "
                               "costs, margins and any link the data cannot estimate)")
    check_touchpoint(base_sc, company)  # the scenario is written from it: before the fits, not after
    cal = calibrate(company, base_scenario=base_sc, n_boot=n_boot, seed=seed, max_fit_accounts=max_fit_accounts,
                    keep_tables=False)  # the data are loaded here: nobody else needs the tables
    sc = cal.to_scenario(base_sc)
    save_scenario(sc, out)
    stem = out.with_suffix("")
    csv_path = stem.parent / f"{stem.name}.calibration.csv"
    md_path = Path(report) if report else stem.parent / f"{stem.name}.calibration.md"
    write_atomic(csv_path, cal.summary.to_csv(index=False))
    write_atomic(md_path, calibration_markdown(cal, out, sc))
    return cal

"""Calibration: fit the flywheel's links and baselines from a company's own data.

Lifelines-style fitters, one per estimate: ``fit(...)`` returns the fitter, fitted values end
in ``_``, ``summary`` is a DataFrame (name, estimate, low, high, n, verdict) and ``verdict``
a plain-language sentence. :func:`calibrate` runs them all and returns a
:class:`Calibration`, whose :meth:`Calibration.to_scenario` writes the fitted values into a
scenario (``provenance: calibrated``, ``low``/``high`` = 95% interval).

The estimates (``docs/calibration.md`` explains each):

1. :class:`ResolutionChurnFitter` - Cox model (lifelines) of account survival on the
   account's mean log2 resolution time: hazard ratio per doubling, adjusted for segment
   (strata) and size (log revenue) and complaint frequency. The verdict statistic.
2. :class:`ExperienceEmotionFitter` - logistic model of a positive emotional outcome after a
   complaint on :math:`\\log_2 T - \\log_2 T_{today}`: ``positive_share_today`` and the
   ``odds_ratio`` per doubling (also the odds of a promoter answer).
3. :class:`BehaviourGapFitter` - ``churn_gap`` and ``expansion_gap``: distributed-lag
   linear models of monthly churn / expansion on the *expected* numbers of positive and
   negative outcomes :math:`\\sum_j \\hat p(T_j)`, :math:`\\sum_j (1-\\hat p(T_j))` of
   complaints resolved in the previous 12 months; the gap (negative minus positive) is
   summed over the window; sandwich interval with the curve's uncertainty. Also the
   hazard ratio per doubling the links imply, beside the Cox estimate.
4. :class:`OutcomeGapFitter` - ``repeat_contacts``, ``nps_gap``, ``csat_gap`` from
   after-complaint survey respondents, positive vs negative outcomes.
5. :class:`MetricValidityFitter` - does NPS / CSAT / each emotion predict retention,
   expansion and NRR (concordance with bootstrap interval, lift by score group).
6. :class:`EmotionDriverFitter` - which emotions predict leaving and buying more.
7. :class:`SurveyGapFitter` - synthetic NPS for non-respondents (scikit-learn, cross
   validated) and the response-bias check.
8. :class:`BaselineFitter` - per segment: churn, expansion, NRR, CLV, complaint and contact
   rates, promoter / detractor shares, CSAT.

For the one-row-per-customer shape, :class:`ComplaintChurnFitter`, the validity of the
satisfaction score and the baselines are fitted; what that shape cannot answer is said in
:attr:`Calibration.notes`.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from lifelines.exceptions import ConvergenceError
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, cross_val_predict
from threadpoolctl import threadpool_limits

from cxroi.data import EMOTIONS, NEGATIVE_EMOTIONS, CompanyData, Mapping, Options, from_frames, load
from cxroi.errors import CalibrationError, DataError, Problem
from cxroi.files import write_atomic
from cxroi.scenario import (
    LINK_DOMAINS,
    Scenario,
    TouchpointLinks,
    load_scenario,
    save_scenario,
    scenario_from_dict,
)

Z95 = 1.959963984540054
SUMMARY_COLUMNS = ["name", "estimate", "low", "high", "n", "verdict"]
DEFAULT_BASE = Path(__file__).resolve().parents[1] / "data" / "scenarios" / "complaints-30-to-1.yaml"


# ----------------------------------------------------------------------------------------
# Small statistical helpers
# ----------------------------------------------------------------------------------------


def _sigmoid(x: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


def _pct(x: float, digits: int = 0) -> str:
    return f"{100 * x:.{digits}f}%"


def _fmt(x: float, digits: int = 2) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:,.{digits}f}"


def logistic_fit(X: np.ndarray, y: np.ndarray, w: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Unpenalised logistic regression (scikit-learn) with its Wald covariance.

    Returns ``(beta, cov)`` with ``beta = [intercept, coef...]`` and
    :math:`\\mathrm{cov} = (X^\\top W X)^{-1}`, :math:`W = \\mathrm{diag}(w\\,p(1-p))`.
    """
    X = np.asarray(X, dtype=float).reshape(len(y), -1)
    lr = LogisticRegression(C=np.inf, solver="newton-cholesky", max_iter=100, tol=1e-8)
    lr.fit(X, y, sample_weight=w)
    beta = np.concatenate([lr.intercept_, lr.coef_.ravel()])
    Xd = np.column_stack([np.ones(len(X)), X])
    p = _sigmoid(Xd @ beta)
    ww = p * (1 - p) * (1.0 if w is None else w)
    H = Xd.T @ (Xd * ww[:, None])
    try:
        cov = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        cov = np.full_like(H, np.nan)
    return beta, cov


def concordance_table(table: np.ndarray) -> np.ndarray:
    """Harrell's concordance from count tables ``[..., score group, outcome group]``.

    With groups in ascending order,

    .. math:: C = \\frac{\\sum_{g>g',k>k'} n_{gk} n_{g'k'} + \\tfrac12 \\sum_{g,k>k'}
              n_{gk} n_{gk'}}{\\sum_{k>k'} n_{\\cdot k} n_{\\cdot k'}}

    the probability that of two customers with different outcomes the one with the better
    outcome has the higher score (ties in score count one half). For a binary outcome it is
    the AUC. Works on a stack of tables (bootstrap replicates) at once.
    """
    t = np.asarray(table, dtype=float)
    below_k = np.cumsum(t, axis=-1) - t  # same score, lower outcome
    cg = np.cumsum(t, axis=-2) - t  # lower score group, same outcome group
    cgk = np.cumsum(cg, axis=-1) - cg  # lower score and lower outcome
    conc = (t * cgk).sum(axis=(-2, -1))
    ties = (t * below_k).sum(axis=(-2, -1))
    col = t.sum(axis=-2)
    pairs = (col * (np.cumsum(col, axis=-1) - col)).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (conc + 0.5 * ties) / pairs


def _groups(x: np.ndarray, max_groups: int) -> np.ndarray:
    """Ascending integer groups of ``x`` (its distinct values, or quantile bins)."""
    vals, inv = np.unique(x, return_inverse=True)
    if len(vals) <= max_groups:
        return inv
    ranks = pd.Series(x).rank(method="average").to_numpy()
    return np.minimum((ranks - 0.5) / len(x) * max_groups, max_groups - 1).astype(int)


def concordance_ci(score: np.ndarray, outcome: np.ndarray, rng: np.random.Generator,
                   n_boot: int = 1000) -> tuple[float, float, float]:
    """Concordance of ``score`` with ``outcome`` and a percentile bootstrap 95% interval.

    Rows are independent customers; the bootstrap resamples them (multinomially over the
    score x outcome table, which is exact for discrete scores).
    """
    g = _groups(score, 101)
    k = _groups(outcome, 50)
    G, K = g.max() + 1, k.max() + 1
    tab = np.bincount(g * K + k, minlength=G * K).astype(float)
    c = float(concordance_table(tab.reshape(G, K)))
    boots = rng.multinomial(len(score), tab / tab.sum(), size=n_boot).reshape(n_boot, G, K)
    cb = concordance_table(boots)
    cb = cb[np.isfinite(cb)]
    if cb.size < 10:
        return c, float("nan"), float("nan")
    lo, hi = np.percentile(cb, [2.5, 97.5])
    return c, float(lo), float(hi)


def _row(name: str, est: float, low: float, high: float, n: int, verdict: str) -> dict[str, Any]:
    return {"name": name, "estimate": float(est), "low": float(low), "high": float(high),
            "n": int(n), "verdict": verdict}


def _summary(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


# ----------------------------------------------------------------------------------------
# From contract tables to analysis frames
# ----------------------------------------------------------------------------------------


@dataclass
class Prepared:
    """Analysis frames built from validated :class:`CompanyData` (tables shape).

    Attributes
    ----------
    accounts : DataFrame
        One row per account in the window: ``account_id, segment, seg (code), revenue,
        log_rev (centred), entry, exit (month indices), months, churned``.
    complaints : DataFrame
        One row per resolved complaint of an account in the window: ``acc`` (row of
        ``accounts``), ``days``, ``z = log2(days / today)``, ``open_m``, ``res_m``,
        ``at_risk`` (resolved while the account was a customer), ``contacts``,
        after-complaint survey answers (``responded``, ``positive``, ``nps``, ``csat``).
    responses : DataFrame
        Every answered survey: ``acc``, ``day`` (days since window start), ``post`` (after a
        complaint), ``nps``, ``csat``, emotions.
    surveys_sent : DataFrame
        Every survey sent (answered or not): ``acc``, ``post``, ``responded``.
    expansions : DataFrame
        Expansion orders: ``acc``, ``m``, ``day``, ``amount``.
    orders : DataFrame
        Every order of an account in the window: ``acc``, ``amount``, ``expansion``.
    """

    accounts: pd.DataFrame
    complaints: pd.DataFrame
    responses: pd.DataFrame
    surveys_sent: pd.DataFrame
    expansions: pd.DataFrame
    orders: pd.DataFrame
    window_start: pd.Timestamp
    window_end: pd.Timestamp
    M: int
    today: float
    segments: list[str]
    has_emotions: list[str]


def _month_index(ts: pd.Series, start: pd.Timestamp) -> np.ndarray:
    t = pd.DatetimeIndex(ts)
    return ((t.year - start.year) * 12 + (t.month - start.month)).to_numpy()


def prepare(data: CompanyData) -> Prepared:
    """Build the analysis frames and record exclusions on ``data``."""
    if data.shape != "tables":
        raise CalibrationError("prepare() needs the tables shape (accounts, tickets, surveys, orders)")
    t = data.tables
    opts = data.options
    acc, tic, sur, ords = t["accounts"], t["tickets"], t["surveys"], t["orders"]
    event_dates = [tic["opened_at"], sur["sent_at"], ords["date"]]
    starts = [d.min() for d in event_dates if d.notna().any()]
    ends = [d.max() for d in [*event_dates, tic["resolved_at"], sur["responded_at"], acc["end_date"]]
            if d.notna().any()]
    if not starts:
        raise CalibrationError("the tickets, surveys and orders tables hold no dates")
    w_start = pd.Timestamp(opts.window_start) if opts.window_start else min(starts)
    w_start = w_start.to_period("M").to_timestamp()
    w_end = pd.Timestamp(opts.window_end) if opts.window_end else max(ends)
    M = int((w_end.year - w_start.year) * 12 + w_end.month - w_start.month + 1)

    ended_before = (acc["end_date"] < w_start).to_numpy(dtype=bool)
    started_after = (acc["start_date"] > w_end).to_numpy(dtype=bool)
    data.exclude("accounts", "ended before the data window (no months at risk)", ended_before)
    data.exclude("accounts", "started after the data window", started_after)
    keep = ~(ended_before | started_after)
    a = acc.loc[keep].reset_index(drop=True)
    segments = sorted(a["segment"].astype(str).unique().tolist())
    entry = np.maximum(_month_index(a["start_date"], w_start), 0)
    churned = (a["end_date"].notna() & (a["end_date"] <= w_end)).to_numpy()
    exit_m = np.where(churned, _month_index(a["end_date"].fillna(w_end), w_start), M - 1)
    exit_m = np.clip(exit_m, entry, M - 1)
    logr = np.log(np.maximum(a["revenue"].to_numpy(dtype=float), 1.0))
    accounts = pd.DataFrame({
        "account_id": a["account_id"].to_numpy(), "segment": a["segment"].astype(str).to_numpy(),
        "revenue": a["revenue"].to_numpy(dtype=float), "log_rev": logr - logr.mean(),
        "entry": entry, "exit": exit_m, "months": exit_m - entry + 1, "churned": churned,
        "end_date": a["end_date"].to_numpy(),
    })
    accounts["seg"] = pd.Categorical(accounts["segment"], categories=segments).codes
    idx = pd.Index(accounts["account_id"])

    # complaints
    t_acc = idx.get_indexer(tic["account_id"])
    data.exclude("tickets", "account left out (ended before or started after the window)", t_acc < 0)
    open_now = tic["resolved_at"].isna().to_numpy()
    data.exclude("tickets", "still open at the end of the data (no resolution time)",
                 open_now & (t_acc >= 0))
    ok = (t_acc >= 0) & ~open_now
    tk = tic.loc[ok]
    days = ((tk["resolved_at"] - tk["opened_at"]).dt.total_seconds() / 86400.0).to_numpy()
    days = np.maximum(days, 0.01)
    res_m = _month_index(tk["resolved_at"], w_start)
    open_m = _month_index(tk["opened_at"], w_start)
    ca = t_acc[ok]
    last12 = res_m >= M - 12
    today = float(np.median(days[last12] if last12.sum() >= 20 else days)) if len(days) else float("nan")
    contacts = tk["contacts"].to_numpy(dtype=float) if "contacts" in tk else np.full(len(tk), np.nan)
    complaints = pd.DataFrame({
        "ticket_id": tk["ticket_id"].to_numpy(), "acc": ca, "days": days,
        "z": np.log2(days / today) if len(days) else days, "open_m": open_m, "res_m": res_m,
        "at_risk": (res_m >= accounts["entry"].to_numpy()[ca]) & (res_m <= accounts["exit"].to_numpy()[ca]),
        "contacts": contacts,
    })

    # surveys
    s_acc = idx.get_indexer(sur["account_id"])
    data.exclude("surveys", "account left out (ended before or started after the window)", s_acc < 0)
    responded = sur["responded_at"].notna().to_numpy()
    data.exclude("surveys", "not answered (kept for the response-bias check)", ~responded & (s_acc >= 0))
    post = sur["ticket_id"].notna().to_numpy() if "ticket_id" in sur else np.zeros(len(sur), bool)
    has_em = [e for e in EMOTIONS if e in sur.columns and sur[e].notna().any()]
    sent = pd.DataFrame({"acc": s_acc, "post": post, "responded": responded}).loc[s_acc >= 0]
    r = sur.loc[responded & (s_acc >= 0)]
    responses = pd.DataFrame({
        "acc": s_acc[responded & (s_acc >= 0)], "post": post[responded & (s_acc >= 0)],
        "ticket_id": r["ticket_id"].to_numpy() if "ticket_id" in r else None,
        "day": ((r["responded_at"] - w_start).dt.total_seconds() / 86400.0).to_numpy(),
        "nps": r["nps"].to_numpy(dtype=float) if "nps" in r else np.nan,
        "csat": r["csat"].to_numpy(dtype=float) if "csat" in r else np.nan,
        **{e: r[e].to_numpy(dtype=float) for e in has_em},
    })
    # after-complaint answers onto complaints
    pos_e = [e for e in opts.positive_emotions if e in has_em]
    neg_e = [e for e in opts.negative_emotions if e in has_em]
    pr = responses.loc[responses["post"]].drop_duplicates("ticket_id", keep="first")
    if pos_e and neg_e:
        good = pr[pos_e].mean(axis=1, skipna=False) > pr[neg_e].mean(axis=1, skipna=False)
        known = pr[pos_e + neg_e].notna().all(axis=1)
        rule = f"{' + '.join(pos_e)} rated above {' + '.join(neg_e)}"
    elif "csat" in pr:
        good, known, rule = pr["csat"] >= 4, pr["csat"].notna(), "CSAT 4 or 5"
    else:  # pragma: no cover - no answers at all
        good, known, rule = pd.Series(dtype=bool), pd.Series(dtype=bool), "none"
    outcome = pd.Series(np.where(known, good.astype(float), np.nan), index=pr["ticket_id"].to_numpy())
    complaints["responded"] = complaints["ticket_id"].isin(pr["ticket_id"])
    complaints["positive"] = complaints["ticket_id"].map(outcome).to_numpy(dtype=float)
    for col in ("nps", "csat"):
        complaints[col] = complaints["ticket_id"].map(
            pd.Series(pr[col].to_numpy(dtype=float), index=pr["ticket_id"].to_numpy())).to_numpy(dtype=float)
    data.exclude("surveys", f"after-complaint answer without the ratings for the outcome rule ({rule})",
                 _mask_from(sur, responded & (s_acc >= 0) & post, pr.index, ~known.to_numpy()))
    complaints.attrs["outcome_rule"] = rule

    # expansions
    exp_products = {p.casefold() for p in opts.expansion_products}
    prod = ords["product"].astype("string[pyarrow]").str.lower() if "product" in ords else pd.Series("", index=ords.index)
    is_exp = prod.isin(exp_products).fillna(False).to_numpy(dtype=bool)
    o_acc = idx.get_indexer(ords["account_id"])
    eo = ords.loc[is_exp & (o_acc >= 0)]
    expansions = pd.DataFrame({
        "acc": o_acc[is_exp & (o_acc >= 0)], "m": _month_index(eo["date"], w_start),
        "day": ((eo["date"] - w_start).dt.total_seconds() / 86400.0).to_numpy(),
        "amount": eo["amount"].to_numpy(dtype=float),
    })
    expansions = expansions.loc[(expansions["m"] >= 0) & (expansions["m"] < M)]
    data.exclude("orders", "account left out (ended before or started after the window)", o_acc < 0)
    orders = pd.DataFrame({"acc": o_acc[o_acc >= 0], "amount": ords["amount"].to_numpy(dtype=float)[o_acc >= 0],
                           "expansion": is_exp[o_acc >= 0]})
    return Prepared(accounts, complaints, responses, sent, expansions, orders, w_start, w_end, M, today,
                    segments, has_em)


def _mask_from(frame: pd.DataFrame, base: np.ndarray, sub_index: pd.Index, sub_mask: np.ndarray) -> np.ndarray:
    out = np.zeros(len(frame), dtype=bool)
    pos = frame.index.get_indexer(sub_index[sub_mask])
    out[pos[pos >= 0]] = True
    return out & base


# ----------------------------------------------------------------------------------------
# 1. Resolution time -> churn (Cox)
# ----------------------------------------------------------------------------------------


class ResolutionChurnFitter:
    """Hazard ratio of leaving per doubling of an account's typical resolution time.

    Cox proportional-hazards model (lifelines) over months at risk in the data window,
    one row per account with at least one resolved complaint:

    .. math:: h_i(t) = h_{0,s(i)}(t)\\exp\\big(\\beta\\,\\overline{\\log_2 T}_i
              + \\gamma\\log r_i + \\delta\\log(1+c_i)\\big)

    stratified by segment :math:`s`, with :math:`r_i` the account's revenue (size) and
    :math:`c_i` its complaints per year at risk (so slow resolution is not confused with
    complaining often). :math:`\\mathrm{HR} = e^{\\beta}` per doubling. An account-level
    mean is used rather than a time-varying covariate because the lever moves the typical
    resolution time of all of an account's complaints, and it keeps the fit fast at
    millions of tickets; the monthly, time-varying effect is what
    :class:`BehaviourGapFitter` estimates.
    """

    def fit(self, prep: Prepared) -> ResolutionChurnFitter:
        c = prep.complaints
        a = prep.accounts
        if len(c) < 20:
            raise CalibrationError("fewer than 20 resolved complaints: cannot fit resolution time -> churn")
        g = c.groupby("acc")
        df = pd.DataFrame({"mean_log2_days": g["z"].mean(), "n_c": g.size()})
        df = df.join(a[["months", "churned", "log_rev", "segment"]], how="left")
        df["log_complaints_per_year"] = np.log1p(df["n_c"] / (df["months"] / 12.0))
        df = df[["months", "churned", "mean_log2_days", "log_rev", "log_complaints_per_year", "segment"]]
        df["churned"] = df["churned"].astype(int)
        if df["churned"].sum() < 5:
            raise CalibrationError("fewer than 5 accounts with complaints left: cannot fit a Cox model")
        cph = CoxPHFitter()
        try:
            cph.fit(df, duration_col="months", event_col="churned", strata=["segment"])
        except ConvergenceError as exc:  # pragma: no cover - data dependent
            raise CalibrationError(f"the Cox model did not converge: {exc}") from None
        s = cph.summary.loc["mean_log2_days"]
        self.model_ = cph
        self.hazard_ratio_ = float(s["exp(coef)"])
        self.low_, self.high_ = float(s["exp(coef) lower 95%"]), float(s["exp(coef) upper 95%"])
        self.p_value_ = float(s["p"])
        self.n_ = len(df)
        self.events_ = int(df["churned"].sum())
        return self

    @property
    def verdict(self) -> str:
        hr, lo, hi = self.hazard_ratio_, self.low_, self.high_
        tail = f"(HR {hr:.2f}, 95% CI {lo:.2f}-{hi:.2f}, adjusted for segment and size; {self.n_:,} accounts, {self.events_:,} left)"
        if lo > 1:
            return f"Each doubling of complaint resolution time raises the monthly hazard of leaving by {_pct(hr - 1)} {tail}."
        if hi < 1:
            return f"Each doubling of complaint resolution time lowers the monthly hazard of leaving by {_pct(1 - hr)} {tail} - slower is not worse here; check the data."
        return f"The data show no clear link between complaint resolution time and leaving {tail}."

    @property
    def summary(self) -> pd.DataFrame:
        return _summary([_row("resolution -> churn: hazard ratio per doubling", self.hazard_ratio_,
                              self.low_, self.high_, self.n_, self.verdict)])


# ----------------------------------------------------------------------------------------
# 2. Resolution time -> positive emotion / promoter
# ----------------------------------------------------------------------------------------


class ExperienceEmotionFitter:
    """Share of complaints that end with a positive emotional outcome, and how it falls with time.

    Logistic regression on after-complaint survey respondents,

    .. math:: \\operatorname{logit} P(\\text{positive}\\mid T) = a + b\\,(\\log_2 T - \\log_2 T_{today})

    so ``positive_share_today`` :math:`= \\sigma(a)` and ``odds_ratio`` :math:`= e^b` per
    doubling, with Wald 95% intervals. Unbiased when who answers depends on the
    resolution time (observed), not on the outcome itself given that time (checked by
    :class:`SurveyGapFitter`). The same model with "promoter (NPS 9-10)" as outcome gives
    ``promoter_odds_ratio_``.
    """

    def fit(self, prep: Prepared) -> ExperienceEmotionFitter:
        c = prep.complaints
        r = c.loc[c["positive"].notna()]
        if len(r) < 30 or r["positive"].nunique() < 2:
            raise CalibrationError(
                f"only {len(r)} after-complaint survey answers with an emotional outcome: need 30 "
                "with both positive and negative outcomes to fit resolution time -> emotion")
        beta, cov = logistic_fit(r[["z"]].to_numpy(), r["positive"].to_numpy())
        se = np.sqrt(np.diag(cov))
        self.today_ = prep.today
        self.outcome_rule_ = c.attrs.get("outcome_rule", "")
        self.coef_, self.cov_ = beta, cov
        self.positive_share_today_ = float(_sigmoid(beta[0]))
        self.positive_share_ci_ = tuple(float(v) for v in _sigmoid(beta[0] + np.array([-Z95, Z95]) * se[0]))
        self.odds_ratio_ = float(np.exp(beta[1]))
        self.odds_ratio_ci_ = tuple(float(v) for v in np.exp(beta[1] + np.array([-Z95, Z95]) * se[1]))
        self.n_ = len(r)
        p = r.loc[r["nps"].notna()]
        self.promoter_odds_ratio_ = self.promoter_odds_ratio_ci_ = None
        if len(p) >= 30 and (p["nps"] >= 9).nunique() == 2:
            b2, c2 = logistic_fit(p[["z"]].to_numpy(), (p["nps"] >= 9).to_numpy(int))
            s2 = math.sqrt(c2[1, 1])
            self.promoter_odds_ratio_ = float(np.exp(b2[1]))
            self.promoter_odds_ratio_ci_ = tuple(float(v) for v in np.exp(b2[1] + np.array([-Z95, Z95]) * s2))
            self.n_promoter_ = len(p)
        return self

    @property
    def verdict(self) -> str:
        orr, (lo, hi) = self.odds_ratio_, self.odds_ratio_ci_
        p, (plo, phi) = self.positive_share_today_, self.positive_share_ci_
        head = (f"At today's median resolution time of {self.today_:.1f} days, {_pct(p)} of complaints end "
                f"with a positive emotional outcome (95% CI {_pct(plo)}-{_pct(phi)}; {self.outcome_rule_})")
        if hi < 1:
            return f"{head}; each doubling of resolution time cuts the odds of a positive outcome by {_pct(1 - orr)} (OR {orr:.2f}, {lo:.2f}-{hi:.2f}, {self.n_:,} answers)."
        if lo > 1:
            return f"{head}; slower resolution goes with *more* positive outcomes here (OR {orr:.2f}, {lo:.2f}-{hi:.2f}) - check the data."
        return f"{head}; the data cannot tell whether resolution time changes the outcome (OR {orr:.2f}, {lo:.2f}-{hi:.2f}, {self.n_:,} answers)."

    @property
    def summary(self) -> pd.DataFrame:
        rows = [
            _row("positive_share_today", self.positive_share_today_, *self.positive_share_ci_, self.n_,
                 self.verdict),
            _row("odds_ratio (positive outcome, per doubling)", self.odds_ratio_, *self.odds_ratio_ci_,
                 self.n_, self.verdict),
        ]
        if self.promoter_odds_ratio_ is not None:
            orr, (lo, hi) = self.promoter_odds_ratio_, self.promoter_odds_ratio_ci_
            rows.append(_row("odds ratio of a promoter answer after a complaint, per doubling", orr, lo, hi,
                             self.n_promoter_,
                             f"Each doubling of resolution time multiplies the odds that the customer "
                             f"answers as a promoter by {orr:.2f} (95% CI {lo:.2f}-{hi:.2f})."))
        return _summary(rows)


# ----------------------------------------------------------------------------------------
# 3. churn_gap and expansion_gap
# ----------------------------------------------------------------------------------------

#: Months over which a complaint's effect on leaving / buying more is counted (the month it
#: is resolved and the 11 after it): one renewal cycle of an annual contract, so an account
#: that waits for its renewal to leave is still counted.
GAP_WINDOW_MONTHS = 12


@dataclass
class LaggedGapFit:
    """One distributed-lag linear model of :class:`BehaviourGapFitter` (churn or expansion).

    Attributes
    ----------
    beta : ndarray
        All coefficients: controls (segment intercepts, log revenue), the ``window``
        coefficients of the complaint count by lag, then the ``window`` gap coefficients.
    lag_gaps : ndarray
        The gap by lag (month of resolution = lag 0); ``gap`` is their sum.
    gap : float
        Total gap over the window.
    influence : ndarray
        Per-account influence of ``gap`` (linear part plus the outcome curve's part), so
        ``var(gap) = sum(influence**2)``.
    """

    beta: np.ndarray
    lag_gaps: np.ndarray
    gap: float
    influence: np.ndarray
    rows: int


def _lagged_gap_lpm(y: np.ndarray, count: np.ndarray, expo: np.ndarray, dexpo: list[np.ndarray],
                    window: int, C: np.ndarray, entry: np.ndarray, months: np.ndarray,
                    u_curve: np.ndarray, h_inv: np.ndarray, chunk_rows: int = 300_000) -> LaggedGapFit:
    """Fit one distributed-lag linear probability model on the account-month panel.

    Grids are ``(accounts, months)``: ``y`` the outcome, ``count`` complaints resolved
    while at risk, ``expo`` the expected outcomes (``sum p`` or ``sum 1-p``) and ``dexpo``
    their derivatives with respect to the outcome curve's two coefficients. The design row
    of account *i* in month *t* is
    ``[C_i, count_{t}, ..., count_{t-k+1}, expo_{t}, ..., expo_{t-k+1}]``; the rows are
    built in chunks, so memory stays bounded at millions of account-months.

    The influence of the gap :math:`c^\\top\\beta` (:math:`c` selects the ``expo`` lags)
    for account *i* stacks the two estimating equations (curve, then linear model):

    .. math:: \\mathrm{IF}_i = v^\\top s_i + v^\\top G\\,H^{-1} u_i,\\qquad v = A^{-1}c,
              \\quad A = \\sum X_{it} X_{it}^\\top,\\quad s_i = \\sum_t X_{it} e_{it},

    .. math:: G = \\sum_{it} \\Big[\\frac{\\partial X_{it}}{\\partial\\theta} e_{it}
              - X_{it} \\Big(\\frac{\\partial X_{it}}{\\partial\\theta}\\Big)^{\\!\\top}\\beta\\Big]

    with :math:`u_i` the account's score of the outcome curve and :math:`H^{-1}` its
    inverse information (the curve's uncertainty enters through :math:`G`).
    """
    n, M = y.shape
    k = window
    pad = M + k

    def padded(g: np.ndarray) -> np.ndarray:
        out = np.zeros((n, pad))
        out[:, k:] = g
        return out.ravel()

    cnt_p, exp_p = padded(count), padded(expo)
    d_p = [padded(d) for d in dexpo]
    y_f = y.ravel()
    R = int(months.sum())
    starts = np.cumsum(months) - months
    lags = np.arange(k)
    P = C.shape[1] + 2 * k
    gap_cols = slice(C.shape[1] + k, P)

    def chunks():  # rows (account, month) of the panel, in chunks
        for r0 in range(0, R, chunk_rows):
            r = np.arange(r0, min(r0 + chunk_rows, R))
            ii = np.searchsorted(starts, r, side="right") - 1
            tt = entry[ii] + (r - starts[ii])
            L = (ii * pad + k + tt)[:, None] - lags[None, :]
            X = np.concatenate([C[ii], cnt_p[L], exp_p[L]], axis=1)
            yield ii, L, X, y_f[ii * M + tt]

    A = np.zeros((P, P))
    b = np.zeros(P)
    for _, _, X, yy in chunks():
        A += X.T @ X
        b += X.T @ yy
    try:
        beta = np.linalg.solve(A, b)
        cvec = np.zeros(P)
        cvec[gap_cols] = 1.0
        v = np.linalg.solve(A, cvec)
    except np.linalg.LinAlgError:
        raise CalibrationError("the complaint-lag design is singular (too few complaints)") from None
    sv = np.zeros(n)
    vG = np.zeros(len(dexpo))
    for ii, L, X, yy in chunks():
        e = yy - X @ beta
        Xv = X @ v
        sv += np.bincount(ii, weights=Xv * e, minlength=n)
        for q, dq in enumerate(d_p):
            D = dq[L]
            vG[q] += (D @ v[gap_cols]) @ e - Xv @ (D @ beta[gap_cols])
    influence = sv + u_curve @ (h_inv @ vG)
    lag_gaps = beta[gap_cols]
    return LaggedGapFit(beta, lag_gaps, float(lag_gaps.sum()), influence, R)


class BehaviourGapFitter:
    """Extra probability of leaving (buying more) after a negative rather than a positive outcome.

    The outcome of most complaints is unobserved (only survey respondents say how they
    feel), so the fit uses the *expected* outcomes from the fitted curve
    :math:`\\hat p(T) = \\sigma(\\hat a + \\hat b z)` of :class:`ExperienceEmotionFitter`:
    the variation that identifies a gap is the resolution time, the lever itself. For
    account *i* in month *t* (months at risk in the window), with the complaints *j*
    resolved in month *t - l* while the account was a customer,

    .. math:: N_{i,t-l} = \\#\\{j\\},\\qquad \\mathrm{NEG}_{i,t-l} = \\sum_j (1-\\hat p(T_j)),
              \\qquad \\mathrm{POS}_{i,t-l} = \\sum_j \\hat p(T_j)

    and two distributed-lag linear probability models over the window
    :math:`l = 0..k-1` (``churn_window``, ``expansion_window``; default
    :data:`GAP_WINDOW_MONTHS` = 12, one renewal cycle):

    .. math:: P(\\text{leave}_{it}) = \\alpha_{s(i)} + \\gamma\\log r_i
              + \\sum_{l<k} \\big(\\pi_l N_{i,t-l} + g_{c,l}\\,\\mathrm{NEG}_{i,t-l}\\big)

    .. math:: E[\\text{expansions}_{it}] = \\alpha'_{s(i)} + \\gamma'\\log r_i
              + \\sum_{l<k} \\big(\\pi'_l N_{i,t-l} + g_{e,l}\\,\\mathrm{POS}_{i,t-l}\\big)

    Writing each complaint's effect as :math:`\\pi_l + g_{c,l}` when it ends badly and
    :math:`\\pi_l` when it ends well (``N = POS + NEG``) is the same as regressing on the
    expected numbers of positive *and* negative outcomes, each with its own effect; the
    coefficient :math:`g_{c,l}` is their difference. Neither outcome is assumed to leave
    churn (or expansion) unchanged. The gaps are the effects summed over the window,

    .. math:: \\mathtt{churn\\_gap} = \\sum_{l<k} g_{c,l},\\qquad
              \\mathtt{expansion\\_gap} = \\sum_{l<k} g_{e,l},

    the extra probability (on the monthly-hazard scale, summed) of leaving / extra
    expected expansions attributable to one negative rather than positive outcome,
    however the effect is spread over the window; the flywheel adds it in the event's
    month. A complaint resolved near the window's end or just before the account leaves
    contributes only the lags observed (each lag's coefficient is fitted from the months
    where that lag exists).

    Intervals: the curve and the two linear models are one stacked M-estimator; its
    sandwich variance, clustered by account (:func:`_lagged_gap_lpm`), carries the
    curve's uncertainty into the gaps. Normal 95% intervals. The fit is a single pass
    over the account-month panel (in chunks), so it is fast at millions of tickets.

    Only resolution-time variation identifies a gap (a complaint's outcome moves
    :math:`\\hat p` by about 0.1 between fast and slow complaints), so its interval is much
    wider than a fit that assumes a well-ended complaint has no effect; that width is the
    price of not assuming it. The link's implications are shown next to the Cox model by
    :meth:`implied_hazard_ratio`.
    """

    def __init__(self, churn_window: int = GAP_WINDOW_MONTHS, expansion_window: int = GAP_WINDOW_MONTHS):
        if churn_window < 1 or expansion_window < 1:
            raise ValueError("the lag windows must be at least one month")
        self.churn_window = int(churn_window)
        self.expansion_window = int(expansion_window)

    def fit(self, prep: Prepared) -> BehaviourGapFitter:
        a, c = prep.accounts, prep.complaints
        n = len(a)
        K = len(prep.segments)
        M = prep.M
        C = np.zeros((n, K + 1))
        C[np.arange(n), a["seg"].to_numpy()] = 1.0
        C[:, K] = a["log_rev"].to_numpy()
        entry = a["entry"].to_numpy().astype(np.int64)
        exit_m = a["exit"].to_numpy().astype(np.int64)
        months = (exit_m - entry + 1).astype(np.int64)
        churned = a["churned"].to_numpy(dtype=bool)
        cr = c.loc[c["at_risk"]]
        resp = c.loc[c["positive"].notna()]
        rz, ry, racc = resp["z"].to_numpy(), resp["positive"].to_numpy(), resp["acc"].to_numpy()
        if len(resp) < 30 or len(np.unique(ry)) < 2:
            raise CalibrationError("too few after-complaint answers to estimate the outcome curve")
        if len(cr) < 20:
            raise CalibrationError("fewer than 20 complaints resolved while accounts were customers")
        # the outcome curve, its information and per-account scores
        theta, h_inv = logistic_fit(rz[:, None], ry)
        if not np.isfinite(h_inv).all():
            raise CalibrationError("the outcome curve's information matrix is singular")
        resid = ry - _sigmoid(theta[0] + theta[1] * rz)
        u = np.column_stack([np.bincount(racc, weights=resid, minlength=n),
                             np.bincount(racc, weights=resid * rz, minlength=n)])
        # grids (account, month)
        z = cr["z"].to_numpy()
        p = _sigmoid(theta[0] + theta[1] * z)
        d = p * (1 - p)
        cell = cr["acc"].to_numpy() * M + cr["res_m"].to_numpy()

        def grid(w: np.ndarray | None) -> np.ndarray:
            return np.bincount(cell, weights=w, minlength=n * M).astype(float).reshape(n, M)

        N, POS, D0, D1 = grid(None), grid(p), grid(d), grid(d * z)
        leave = np.zeros((n, M))
        leave[np.flatnonzero(churned), exit_m[churned]] = 1.0
        e = prep.expansions
        ea, em = e["acc"].to_numpy(), e["m"].to_numpy()
        ein = (em >= entry[ea]) & (em <= exit_m[ea])
        expand = np.bincount(ea[ein] * M + em[ein], minlength=n * M).astype(float).reshape(n, M)
        self.theta_, self.theta_cov_ = theta, h_inv
        self.today_ = prep.today
        self.churn_fit_ = _lagged_gap_lpm(leave, N, N - POS, [-D0, -D1], self.churn_window, C, entry, months,
                                          u, h_inv)
        self.expansion_fit_ = _lagged_gap_lpm(expand, N, POS, [D0, D1], self.expansion_window, C, entry, months,
                                              u, h_inv)
        # joint influence of (a, b, churn_gap, expansion_gap), clustered by account
        infl = np.column_stack([u @ h_inv, self.churn_fit_.influence, self.expansion_fit_.influence])
        self.cov_ = infl.T @ infl * (n / max(n - 1, 1))
        se = np.sqrt(np.diag(self.cov_))
        self.churn_gap_ = self.churn_fit_.gap
        self.expansion_gap_ = self.expansion_fit_.gap
        self.churn_gap_se_, self.expansion_gap_se_ = float(se[2]), float(se[3])
        self.churn_gap_ci_ = (self.churn_gap_ - Z95 * se[2], self.churn_gap_ + Z95 * se[2])
        self.expansion_gap_ci_ = (self.expansion_gap_ - Z95 * se[3], self.expansion_gap_ + Z95 * se[3])
        self.churn_lag_gaps_ = self.churn_fit_.lag_gaps
        self.expansion_lag_gaps_ = self.expansion_fit_.lag_gaps
        self.n_account_months_ = int(months.sum())
        self.n_accounts_ = n
        self.n_complaints_ = len(cr)
        # what the links imply for the Cox model's hazard ratio per doubling
        zc = c.groupby("acc")["z"].mean()
        ca = zc.index.to_numpy()
        seg = a["seg"].to_numpy()
        h_seg = (np.bincount(seg, weights=churned.astype(float), minlength=K)
                 / np.maximum(np.bincount(seg, weights=months.astype(float), minlength=K), 1.0))
        self._hr_inputs = (zc.to_numpy(), np.bincount(cr["acc"].to_numpy(), minlength=n)[ca] / months[ca],
                           h_seg[seg[ca]], h_seg[seg[ca]] * months[ca])
        self.implied_log_hr_, self.implied_log_hr_se_ = self._implied_log_hr()
        return self

    def _log_hr(self, a_: float, b_: float, g: float) -> float:
        zbar, lam, h, w = self._hr_inputs
        if not (h > 0).any():
            return float("nan")
        dh = lam * g * (_sigmoid(a_ + b_ * zbar) - _sigmoid(a_ + b_ * (zbar + 1.0)))
        ok = h > 0
        return float(np.average(np.log(np.maximum(1.0 + dh[ok] / h[ok], 1e-9)), weights=w[ok]))

    def _implied_log_hr(self) -> tuple[float, float]:
        x = np.array([self.theta_[0], self.theta_[1], self.churn_gap_])
        f0 = self._log_hr(*x)
        grad = np.zeros(3)
        for q in range(3):
            step = 1e-6 * max(1.0, abs(x[q]))
            hi, lo = x.copy(), x.copy()
            hi[q] += step
            lo[q] -= step
            grad[q] = (self._log_hr(*hi) - self._log_hr(*lo)) / (2 * step)
        return f0, float(np.sqrt(max(grad @ self.cov_[:3, :3] @ grad, 0.0)))

    def implied_hazard_ratio(self) -> tuple[float, float, float]:
        """Hazard ratio of leaving per doubling of resolution time that the links imply.

        For each account *i* with complaints (the Cox model's sample), a doubling of its
        resolution times lowers the expected share of positive outcomes by
        :math:`\\hat p(\\bar z_i) - \\hat p(\\bar z_i + 1)`, which the flywheel turns into
        :math:`\\Delta h_i = \\lambda_i\\,\\mathtt{churn\\_gap}\\,(\\hat p(\\bar z_i) - \\hat p(\\bar z_i + 1))`
        extra monthly hazard (:math:`\\lambda_i` its complaints per month at risk). Against
        the segment's monthly leaving rate :math:`h_s` (leavers / account-months),

        .. math:: \\log \\mathrm{HR}_{links} = \\frac{\\sum_i w_i \\log(1 + \\Delta h_i / h_{s(i)})}{\\sum_i w_i},
                  \\qquad w_i = h_{s(i)}\\,\\text{months}_i

        (weights: expected leavers, the information each account gives a Cox model).
        Delta-method 95% interval from the joint covariance of :math:`(\\hat a, \\hat b,
        \\mathtt{churn\\_gap})`.

        Returns
        -------
        (hr, low, high) : tuple of float
        """
        lg, se = self.implied_log_hr_, self.implied_log_hr_se_
        return float(np.exp(lg)), float(np.exp(lg - Z95 * se)), float(np.exp(lg + Z95 * se))

    def compare_with_cox(self, cox: ResolutionChurnFitter | None) -> str:
        """Sentence setting the links' implied hazard ratio beside the Cox estimate."""
        hr, lo, hi = self.implied_hazard_ratio()
        head = (f"The calibrated links (p(T) and churn_gap) imply a hazard ratio of {hr:.3f} per doubling of "
                f"resolution time (95% CI {lo:.3f}-{hi:.3f})")
        if cox is None:
            return head + "; no Cox model was fitted to compare it with."
        clo, chi = cox.low_, cox.high_
        tail = f"the Cox model estimates {cox.hazard_ratio_:.2f} ({clo:.2f}-{chi:.2f})"
        if lo <= chi and clo <= hi:
            return f"{head}; {tail}: the intervals overlap, so the links and the Cox model agree."
        if lo > chi:
            return (f"{head}; {tail}: the links imply *more* extra leaving than the Cox model sees - "
                    "churn_gap or the outcome curve may be overstated.")
        return (f"{head}; {tail}: the Cox model sees *more* extra leaving than the links imply. Part of that is "
                "expected (a Cox model on an account's typical resolution time weighs the months right after its "
                "complaints, where the effect is concentrated); a large difference suggests slow complaints also "
                "mark accounts at risk for other reasons, or act beyond the lag window.")

    @property
    def verdict(self) -> str:
        g, (lo, hi) = self.churn_gap_, self.churn_gap_ci_
        ge, (elo, ehi) = self.expansion_gap_, self.expansion_gap_ci_
        return (f"A complaint that ends badly rather than well adds {g * 100:.1f} points (95% CI {lo * 100:.1f} to "
                f"{hi * 100:.1f}) to the chance the account leaves within the {self.churn_window} months from its "
                f"resolution; one that ends well rather than badly adds {ge * 100:.1f} points ({elo * 100:.1f} to "
                f"{ehi * 100:.1f}) to the expected expansions within {self.expansion_window} months "
                f"({self.n_account_months_:,} account-months, {self.n_complaints_:,} complaints; both outcomes may "
                f"move churn and expansion, only resolution time separates them).")

    @property
    def summary(self) -> pd.DataFrame:
        g, (lo, hi) = self.churn_gap_, self.churn_gap_ci_
        ge, (elo, ehi) = self.expansion_gap_, self.expansion_gap_ci_
        hr, hlo, hhi = self.implied_hazard_ratio()
        return _summary([
            _row("churn_gap", g, lo, hi, self.n_account_months_,
                 f"A negative rather than positive complaint outcome adds {g * 100:.1f} points ({lo * 100:.1f} to "
                 f"{hi * 100:.1f}) to the probability of leaving, summed over the {self.churn_window} months "
                 "from resolution."),
            _row("expansion_gap", ge, elo, ehi, self.n_account_months_,
                 f"A positive rather than negative complaint outcome adds {ge * 100:.1f} points ({elo * 100:.1f} to "
                 f"{ehi * 100:.1f}) to the expected expansions, summed over the {self.expansion_window} months "
                 "from resolution."),
            _row("resolution -> churn: hazard ratio per doubling implied by the links", hr, hlo, hhi,
                 self.n_account_months_, self.compare_with_cox(None).split(";")[0] + "."),
        ])


# ----------------------------------------------------------------------------------------
# 4. repeat_contacts, nps_gap, csat_gap
# ----------------------------------------------------------------------------------------


def _diff_ci(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Difference of means ``mean(a) - mean(b)`` with a Welch 95% interval."""
    d = a.mean() - b.mean()
    se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    return float(d), float(d - Z95 * se), float(d + Z95 * se)


class OutcomeGapFitter:
    """Differences between complaints that ended positively and negatively (respondents).

    * ``repeat_contacts`` :math:`= \\bar c_{neg} - \\bar c_{pos}` (contacts per complaint);
    * ``nps_gap`` :math:`= \\mathrm{NPS}_{pos} - \\mathrm{NPS}_{neg}` where
      :math:`\\mathrm{NPS} = 100\\,(\\text{share 9-10} - \\text{share 0-6})`, i.e. the
      difference of the mean of the score :math:`100\\,(1[\\ge 9] - 1[\\le 6])`;
    * ``csat_gap`` :math:`= \\overline{\\mathrm{CSAT}}_{pos} - \\overline{\\mathrm{CSAT}}_{neg}`;

    each with a Welch 95% interval (answers are from different complaints; given the
    outcome they do not depend on who answered).
    """

    def fit(self, prep: Prepared) -> OutcomeGapFitter:
        r = prep.complaints.loc[prep.complaints["positive"].notna()]
        pos = r["positive"].to_numpy() == 1
        self.estimates_: dict[str, tuple[float, float, float, int]] = {}
        if pos.sum() < 5 or (~pos).sum() < 5:
            raise CalibrationError("fewer than 5 positive or negative after-complaint answers")
        for name, vals, flip in (("repeat_contacts", r["contacts"].to_numpy(dtype=float), True),
                                 ("nps_gap", 100.0 * ((r["nps"] >= 9).astype(float) - (r["nps"] <= 6).astype(float)).where(r["nps"].notna()).to_numpy(), False),
                                 ("csat_gap", r["csat"].to_numpy(dtype=float), False)):
            if name == "csat_gap" and prep.complaints.attrs.get("outcome_rule", "").startswith("CSAT"):
                continue  # the outcome is defined by CSAT: its gap would be circular
            ok = np.isfinite(vals)
            a, b = vals[ok & pos], vals[ok & ~pos]
            if len(a) < 5 or len(b) < 5:
                continue
            d, lo, hi = _diff_ci(b, a) if flip else _diff_ci(a, b)
            self.estimates_[name] = (d, lo, hi, int(ok.sum()))
        return self

    @property
    def verdict(self) -> str:
        parts = []
        e = self.estimates_
        if "repeat_contacts" in e:
            d, lo, hi, _ = e["repeat_contacts"]
            parts.append(f"a complaint that ends badly takes {d:.2f} more contacts ({lo:.2f}-{hi:.2f})")
        if "nps_gap" in e:
            d, lo, hi, _ = e["nps_gap"]
            parts.append(f"customers whose complaint ended well give an NPS {d:.0f} points higher ({lo:.0f} to {hi:.0f})")
        if "csat_gap" in e:
            d, lo, hi, _ = e["csat_gap"]
            parts.append(f"and a CSAT {d:.2f} points higher ({lo:.2f}-{hi:.2f})")
        return ("After a complaint, " + "; ".join(parts) + ".") if parts else "No outcome gaps could be estimated."

    @property
    def summary(self) -> pd.DataFrame:
        texts = {
            "repeat_contacts": "extra contacts per complaint that ends badly",
            "nps_gap": "NPS points between positive and negative complaint outcomes",
            "csat_gap": "CSAT points between positive and negative complaint outcomes",
        }
        return _summary([_row(k, d, lo, hi, n, f"{texts[k]}: {d:.2f} (95% CI {lo:.2f} to {hi:.2f})")
                         for k, (d, lo, hi, n) in self.estimates_.items()])


# ----------------------------------------------------------------------------------------
# 5. metric validity and 6. emotion drivers
# ----------------------------------------------------------------------------------------


def _first_responses(prep: Prepared, follow_days: float = 365.0) -> tuple[pd.DataFrame, int]:
    """The first answered survey per account with a full year of follow-up, and outcomes.

    Adds ``left12`` (left within a year of answering), ``expanded12`` (bought more within a
    year) and ``nrr12`` (revenue a year later / revenue at answering; 0 if it left).
    """
    r = prep.responses.sort_values("day", kind="stable").drop_duplicates("acc", keep="first")
    horizon = (prep.window_end - prep.window_start).total_seconds() / 86400.0
    full = r["day"].to_numpy() + follow_days <= horizon
    a = prep.accounts
    end_day = ((pd.to_datetime(a["end_date"]) - prep.window_start).dt.total_seconds() / 86400.0).to_numpy()
    r = r.loc[full].copy()
    acc = r["acc"].to_numpy()
    d = r["day"].to_numpy()
    left = a["churned"].to_numpy()[acc] & (end_day[acc] <= d + follow_days)
    e = prep.expansions
    ed = pd.DataFrame({"acc": e["acc"].to_numpy(), "day": e["day"].to_numpy(), "amount": e["amount"].to_numpy()})
    m = ed.merge(pd.DataFrame({"acc": acc, "d0": d}), on="acc")
    m = m.loc[(m["day"] > m["d0"]) & (m["day"] <= m["d0"] + follow_days)]
    added = m.groupby("acc")["amount"].sum()
    cnt = m.groupby("acc").size()
    rev = a["revenue"].to_numpy()[acc]
    r["left12"] = left.astype(int)
    r["expanded12"] = (pd.Series(acc).map(cnt).fillna(0).to_numpy() > 0).astype(int)
    r["nrr12"] = np.where(left, 0.0, (rev + pd.Series(acc).map(added).fillna(0).to_numpy()) / np.maximum(rev, 1e-9))
    r["segment"] = a["segment"].to_numpy()[acc]
    return r, int((~full).sum())


def _strength(c: float) -> str:
    dist = abs(c - 0.5)
    return "weakly" if dist < 0.05 else ("moderately" if dist < 0.15 else "strongly")


TARGET_WORDS = {"retention": "retention (staying a year)", "expansion": "expansion (buying more within a year)",
                "nrr": "net revenue retention over the next year"}


class MetricValidityFitter:
    """Does a survey metric predict what the money depends on? The verdict can be "no".

    For each metric (NPS, CSAT, each emotion) and target (retention, expansion, NRR over the
    year after the customer's first answer), the concordance :math:`C` (AUC for the binary
    targets, Harrell's C for NRR) in the *expected* direction (higher NPS, confidence ...
    goes with staying and buying more; for frustrated, exhausted, angry and indifferent the
    scale is reversed). :math:`C = 0.5` is a coin toss. 95% interval: bootstrap over
    customers. Verdict: *predicts* when the interval lies above 0.5, *predicts the wrong way*
    when below, *does not predict* otherwise. ``lift_`` is the leaving / expanding rate by
    score group relative to the average.
    """

    def __init__(self, n_boot: int = 1000, seed: int = 20261123, metrics: list[str] | None = None):
        self.n_boot = n_boot
        self.seed = seed
        self.metrics = metrics

    def fit(self, frame: pd.DataFrame, targets: dict[str, str] | None = None,
            target_words: dict[str, str] | None = None) -> MetricValidityFitter:
        """``frame`` has one row per customer with metric columns and target columns.

        ``targets`` maps target name -> column, where larger is better (stay = 1 - left);
        ``target_words`` how each target reads in a verdict.
        """
        targets = targets or {"retention": "stay12", "expansion": "expanded12", "nrr": "nrr12"}
        self.target_words_ = {**TARGET_WORDS, **(target_words or {})}
        metrics = self.metrics or [m for m in ("nps", "csat", *EMOTIONS) if m in frame and frame[m].notna().any()]
        rng = np.random.default_rng(self.seed)
        rows, lift = [], []
        for m in metrics:
            sign = -1.0 if m in NEGATIVE_EMOTIONS else 1.0
            for tname, tcol in targets.items():
                ok = frame[m].notna() & frame[tcol].notna()
                x = sign * frame.loc[ok, m].to_numpy(dtype=float)
                y = frame.loc[ok, tcol].to_numpy(dtype=float)
                if len(x) < 20 or len(np.unique(y)) < 2 or len(np.unique(x)) < 2:
                    continue
                c, lo, hi = concordance_ci(x, y, rng, self.n_boot)
                rows.append({"metric": m, "target": tname, "c": c, "low": lo, "high": hi, "n": len(x),
                             "verdict": self._verdict(m, self.target_words_.get(tname, tname), c, lo, hi)})
                if len(np.unique(y)) == 2:
                    g = _groups(frame.loc[ok, m].to_numpy(dtype=float), 10)
                    df = pd.DataFrame({"g": g, "x": frame.loc[ok, m].to_numpy(dtype=float), "y": y})
                    agg = df.groupby("g").agg(low=("x", "min"), high=("x", "max"), n=("y", "size"), rate=("y", "mean"))
                    base = y.mean()
                    for _, r in agg.iterrows():
                        lift.append({"metric": m, "target": tname, "scores": f"{r['low']:g}-{r['high']:g}",
                                     "n": int(r["n"]), "rate": r["rate"], "lift": r["rate"] / base if base else np.nan})
        self.results_ = pd.DataFrame(rows, columns=["metric", "target", "c", "low", "high", "n", "verdict"])
        self.lift_ = pd.DataFrame(lift, columns=["metric", "target", "scores", "n", "rate", "lift"])
        return self

    @staticmethod
    def _verdict(metric: str, target: str, c: float, lo: float, hi: float) -> str:
        label = metric.upper() if metric in {"nps", "csat"} else metric.capitalize()
        tail = f"(C {c:.2f}, 95% CI {lo:.2f}-{hi:.2f})"
        if lo > 0.5:
            return f"{label} {_strength(c)} predicts {target} here {tail}."
        if hi < 0.5:
            return f"{label} predicts {target} the wrong way round here {tail} - don't steer by it."
        return f"{label} does not predict {target} here {tail} - don't steer by it."

    def predicts(self, metric: str, target: str = "retention") -> bool | None:
        """True / False when the metric does / does not predict the target; None if not fitted."""
        r = self.results_.loc[(self.results_["metric"] == metric) & (self.results_["target"] == target)]
        return None if r.empty else bool(r["low"].iloc[0] > 0.5)

    @property
    def verdict(self) -> str:
        return " ".join(self.results_.loc[self.results_["metric"].isin(["nps", "csat"])]["verdict"].tolist())

    @property
    def summary(self) -> pd.DataFrame:
        return _summary([_row(f"validity: {r.metric} -> {r.target} (C)", r.c, r.low, r.high, r.n, r.verdict)
                         for r in self.results_.itertuples()])


class EmotionDriverFitter:
    """Which emotions predict leaving and buying more (all eight in one model).

    Logistic regressions of leaving (buying more) within a year of the first answer on the
    eight emotion ratings together, plus segment:
    :math:`\\operatorname{logit} P = \\alpha_s + \\sum_e \\beta_e x_e`; odds ratio per rating
    point :math:`e^{\\beta_e}` with Wald 95% intervals. A driver is an emotion whose interval
    excludes 1 (no correction for eight comparisons: read borderline drivers with care).
    """

    def fit(self, frame: pd.DataFrame, outcomes: dict[str, str] | None = None) -> EmotionDriverFitter:
        outcomes = outcomes or {"leaving": "left12", "buying more": "expanded12"}
        ems = [e for e in EMOTIONS if e in frame]
        df = frame.dropna(subset=ems)
        rows = []
        seg = pd.get_dummies(df["segment"], drop_first=True, dtype=float) if "segment" in df else pd.DataFrame(index=df.index)
        X = np.column_stack([df[ems].to_numpy(dtype=float), seg.to_numpy()])
        for oname, col in outcomes.items():
            y = df[col].to_numpy(dtype=int)
            if len(df) < 50 or y.sum() < 5 or (1 - y).sum() < 5:
                continue
            beta, cov = logistic_fit(X, y)
            se = np.sqrt(np.diag(cov))
            for i, e in enumerate(ems):
                b, s = beta[1 + i], se[1 + i]
                rows.append({"emotion": e, "outcome": oname, "odds_ratio": math.exp(b),
                             "low": math.exp(b - Z95 * s), "high": math.exp(b + Z95 * s), "n": len(df)})
        self.results_ = pd.DataFrame(rows, columns=["emotion", "outcome", "odds_ratio", "low", "high", "n"])
        self.n_ = len(df)
        return self

    def drivers(self, outcome: str) -> list[str]:
        r = self.results_.loc[self.results_["outcome"] == outcome]
        return r.loc[(r["low"] > 1) | (r["high"] < 1), "emotion"].tolist()

    @property
    def verdict(self) -> str:
        parts = []
        for o in self.results_["outcome"].unique():
            d = self.drivers(o)
            parts.append(f"{' and '.join(x.capitalize() for x in d) if d else 'No emotion'} "
                         f"{'is' if len(d) == 1 else 'are'} the emotion{'s' if len(d) != 1 else ''} that predict{'s' if len(d) == 1 else ''} {o}")
        return ("; ".join(parts) + f" (one model of all eight ratings, {self.n_:,} customers).") if parts else \
            "Too few answers with all emotion ratings to find drivers."

    @property
    def summary(self) -> pd.DataFrame:
        rows = []
        for r in self.results_.itertuples():
            driver = r.low > 1 or r.high < 1
            direction = "more" if r.odds_ratio > 1 else "less"
            v = (f"Each extra point of '{r.emotion}' makes {r.outcome} {direction} likely (OR {r.odds_ratio:.2f}, "
                 f"{r.low:.2f}-{r.high:.2f})." if driver else
                 f"'{r.emotion}' does not predict {r.outcome} (OR {r.odds_ratio:.2f}, {r.low:.2f}-{r.high:.2f}).")
            rows.append(_row(f"driver: {r.emotion} -> {r.outcome} (OR per point)", r.odds_ratio, r.low, r.high, r.n, v))
        return _summary(rows)


# ----------------------------------------------------------------------------------------
# 7. survey gap
# ----------------------------------------------------------------------------------------


def account_features(prep: Prepared) -> pd.DataFrame:
    """Operational, behavioural and financial features per account (no survey answers).

    complaints per year, mean log2 resolution time, share resolved slower than today,
    contacts per complaint, expansions per year, orders per year and order value per year
    relative to revenue, months at risk, log revenue, segment code.
    """
    a, c, e, o = prep.accounts, prep.complaints, prep.expansions, prep.orders
    n = len(a)
    years = a["months"].to_numpy() / 12.0
    nc = np.bincount(c["acc"], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        f = pd.DataFrame({
            "segment": a["seg"].to_numpy(),
            "log_revenue": a["log_rev"].to_numpy(),
            "months": a["months"].to_numpy(),
            "complaints_per_year": nc / years,
            "mean_log2_days": np.bincount(c["acc"], weights=c["z"], minlength=n) / nc,
            "slow_share": np.bincount(c["acc"], weights=(c["z"] > 0).astype(float), minlength=n) / nc,
            "contacts_per_complaint": np.bincount(c["acc"], weights=np.nan_to_num(c["contacts"]), minlength=n) / nc,
            "expansions_per_year": np.bincount(e["acc"], minlength=n) / years,
            "orders_per_year": np.bincount(o["acc"], minlength=n) / years,
            "order_value_share": np.bincount(o["acc"], weights=o["amount"], minlength=n) / years
            / np.maximum(a["revenue"].to_numpy(), 1e-9),
        })
    return f.replace([np.inf, -np.inf], np.nan)


class SurveyGapFitter:
    """Synthetic NPS for customers who do not answer, and the response-bias check.

    A gradient-boosted regression (scikit-learn ``HistGradientBoostingRegressor``) predicts
    an account's mean NPS answer from :func:`account_features`. Accuracy is 5-fold
    cross-validated (MAE against predicting the average, :math:`R^2`, and the AUC of the
    predicted score for promoters). Promoter / detractor probabilities for everyone come from
    the prediction plus the cross-validated residuals:
    :math:`P(\\text{promoter}) = \\frac1m\\sum_k 1[\\hat y + e_k \\ge 8.5]`.

    Response-bias check: the ratio of the promoter share among respondents to the promoter
    share predicted for non-respondents, with a bootstrap interval (assumes answers are
    missing at random given the features; the model is not refitted per replicate).
    """

    def __init__(self, seed: int = 20261123, n_boot: int = 500):
        self.seed = seed
        self.n_boot = n_boot

    def fit(self, prep: Prepared) -> SurveyGapFitter:
        X = account_features(prep)
        r = prep.responses.loc[prep.responses["nps"].notna()]
        rel = r.loc[~r["post"]] if (~r["post"]).sum() >= 50 else r
        y_acc = rel.groupby("acc")["nps"].mean()
        responders = np.zeros(len(X), dtype=bool)
        responders[y_acc.index.to_numpy()] = True
        if responders.sum() < 50:
            raise CalibrationError("fewer than 50 accounts answered an NPS question: cannot fill the survey gap")
        Xr, yr = X.loc[responders], y_acc.reindex(np.flatnonzero(responders)).to_numpy()
        model = HistGradientBoostingRegressor(max_iter=150, learning_rate=0.05, max_leaf_nodes=15,
                                              min_samples_leaf=40, random_state=self.seed)
        cv = KFold(5, shuffle=True, random_state=self.seed)
        # one OpenMP thread: on a busy 2-core machine spinning threads make HGB 50x slower
        with threadpool_limits(limits=1, user_api="openmp"):
            pred_cv = cross_val_predict(model, Xr, yr, cv=cv)
            model.fit(Xr, yr)
            pred = model.predict(X)
        resid = np.sort(yr - pred_cv)
        self.cv_mae_ = float(np.mean(np.abs(yr - pred_cv)))
        self.baseline_mae_ = float(np.mean(np.abs(yr - yr.mean())))
        self.cv_r2_ = float(1 - np.sum((yr - pred_cv) ** 2) / np.sum((yr - yr.mean()) ** 2))
        rng = np.random.default_rng(self.seed)
        prom = (yr >= 8.5).astype(float)
        if 0 < prom.sum() < len(prom):
            self.cv_auc_ = concordance_ci(pred_cv, prom, rng, 300)
        else:
            self.cv_auc_ = (float("nan"),) * 3
        self.model_ = model

        def share_above(p: np.ndarray, cut: float) -> np.ndarray:
            return 1 - np.searchsorted(resid, cut - p, side="left") / len(resid)

        p_prom = share_above(pred, 8.5)
        p_detr = 1 - share_above(pred, 6.5)
        a = prep.accounts
        self.predictions_ = pd.DataFrame({
            "account_id": a["account_id"].to_numpy(), "segment": a["segment"].to_numpy(),
            "responded": responders, "nps_predicted": pred, "p_promoter": p_prom, "p_detractor": p_detr,
            "nps_answered": y_acc.reindex(np.arange(len(X))).to_numpy(),
        })
        actual = prom
        non = ~responders
        self.respondent_promoters_ = float(actual.mean())
        self.respondent_promoters_predicted_ = float(share_above(pred_cv, 8.5).mean())
        self.nonrespondent_promoters_ = float(p_prom[non].mean()) if non.any() else float("nan")
        boots = []
        pn = p_prom[non]
        for _ in range(self.n_boot):
            a_s = actual[rng.integers(0, len(actual), len(actual))].mean()
            n_s = pn[rng.integers(0, len(pn), len(pn))].mean() if len(pn) else np.nan
            boots.append(a_s / n_s if n_s else np.nan)
        boots = np.array(boots)
        boots = boots[np.isfinite(boots)]
        self.bias_ratio_ = self.respondent_promoters_ / self.nonrespondent_promoters_ if self.nonrespondent_promoters_ else float("nan")
        self.bias_ratio_ci_ = tuple(float(v) for v in np.percentile(boots, [2.5, 97.5])) if boots.size else (np.nan, np.nan)
        self.n_respondents_ = int(responders.sum())
        self.n_nonrespondents_ = int(non.sum())
        nps_all = np.where(responders, 100 * ((self.predictions_["nps_answered"] >= 9).astype(float)
                                              - (self.predictions_["nps_answered"] <= 6).astype(float)),
                           100 * (p_prom - p_detr))
        self.nps_all_customers_ = float(np.mean(nps_all))
        self.nps_respondents_ = float(100 * ((yr >= 9).mean() - (yr <= 6).mean()))
        return self

    @property
    def verdict(self) -> str:
        r, (lo, hi) = self.bias_ratio_, self.bias_ratio_ci_
        acc = (f"Synthetic NPS for the {self.n_nonrespondents_:,} accounts that did not answer: cross-validated "
               f"MAE {self.cv_mae_:.2f} points on the 0-10 scale vs {self.baseline_mae_:.2f} for guessing the average "
               f"(R2 {self.cv_r2_:.2f})")
        if lo > 1:
            bias = (f"survey respondents are {r:.1f}x more likely to be promoters than predicted for non-respondents "
                    f"(95% CI {lo:.2f}-{hi:.2f}): the raw NPS ({self.nps_respondents_:.0f}) is biased upward; "
                    f"for all customers it is about {self.nps_all_customers_:.0f}")
        elif hi < 1:
            bias = (f"survey respondents are less likely to be promoters than predicted for non-respondents "
                    f"(ratio {r:.2f}, {lo:.2f}-{hi:.2f}): the raw NPS ({self.nps_respondents_:.0f}) is biased downward; "
                    f"for all customers it is about {self.nps_all_customers_:.0f}")
        else:
            bias = (f"no clear response bias in the promoter share (respondents / predicted non-respondents "
                    f"{r:.2f}, {lo:.2f}-{hi:.2f})")
        return f"{acc}; {bias}."

    @property
    def summary(self) -> pd.DataFrame:
        lo, hi = self.bias_ratio_ci_
        c, clo, chi = self.cv_auc_
        return _summary([
            _row("survey gap: promoter share respondents / predicted non-respondents", self.bias_ratio_, lo, hi,
                 self.n_respondents_ + self.n_nonrespondents_, self.verdict),
            _row("survey gap: cross-validated AUC of synthetic NPS for promoters", c, clo, chi, self.n_respondents_,
                 f"The synthetic score ranks promoters above others {c:.2f} of the time (0.5 = chance)."),
            _row("survey gap: cross-validated R2 of synthetic NPS", self.cv_r2_, np.nan, np.nan, self.n_respondents_,
                 f"The features explain {_pct(max(self.cv_r2_, 0))} of the variation in NPS answers."),
        ])


# ----------------------------------------------------------------------------------------
# 8. baselines
# ----------------------------------------------------------------------------------------


def _annual(rate_per_month: np.ndarray | float) -> np.ndarray:
    return 1 - (1 - np.clip(rate_per_month, 0, 1)) ** 12


class BaselineFitter:
    """Per-segment baselines the scenario's segments need.

    * churn: monthly hazard :math:`\\hat\\lambda = \\text{leavers} / \\text{account-months}`,
      annual :math:`1-(1-\\hat\\lambda)^{12}`, interval from the Poisson count;
    * expansion_rate likewise from expansion orders; expansion_value = mean expansion amount
      / the account's revenue;
    * NRR: for each full year of the window, revenue a year later (kept accounts, with
      their expansions) over revenue at the start of the year, pooled;
    * CLV (Gupta & Lehmann): :math:`m\\,\\mathrm{ARPA}\\,r / (1 + i - r)` with retention
      :math:`r = 1 - \\text{churn}` and margin :math:`m`, discount :math:`i` from the base scenario;
    * complaints per account-year, contacts per complaint, promoter / detractor shares and
      mean CSAT of relationship-survey answers (all answers if none are marked).
    """

    def fit(self, prep: Prepared, base: Scenario | None = None) -> BaselineFitter:
        a, c, e, r = prep.accounts, prep.complaints, prep.expansions, prep.responses
        M = prep.M
        rel = r.loc[~r["post"]] if (~r["post"]).sum() >= 30 else r
        rows = []
        exp_acc = np.bincount(e["acc"], minlength=len(a)) if len(e) else np.zeros(len(a))
        exp_amt = np.bincount(e["acc"], weights=e["amount"], minlength=len(a)) if len(e) else np.zeros(len(a))
        rev = a["revenue"].to_numpy()
        entry, exit_m = a["entry"].to_numpy(), a["exit"].to_numpy()
        churned = a["churned"].to_numpy()
        for si, s in enumerate(prep.segments):
            m = a["seg"].to_numpy() == si
            am = a["months"].to_numpy()[m].sum()
            leavers = churned[m].sum()
            lam = leavers / am
            lam_lo, lam_hi = (leavers - Z95 * math.sqrt(leavers)) / am, (leavers + Z95 * math.sqrt(leavers)) / am
            ex = exp_acc[m].sum() / am
            active = m & ~churned
            cm = m[c["acc"].to_numpy()]
            ea = m[e["acc"].to_numpy()] if len(e) else np.zeros(0, bool)
            ev = float(np.mean(e["amount"].to_numpy()[ea] / np.maximum(rev[e["acc"].to_numpy()[ea]], 1e-9))) if ea.any() else 0.0
            # NRR: cohorts at the start of each full year
            num = den = 0.0
            for y0 in range(0, M - 11, 12):
                alive0 = m & (entry <= y0) & (exit_m >= y0)
                kept = alive0 & ~(churned & (exit_m < y0 + 12))
                if not alive0.any():
                    continue
                before = np.bincount(e["acc"][e["m"] < y0], weights=e["amount"][e["m"] < y0], minlength=len(a)) if len(e) else 0
                during_mask = (e["m"] >= y0) & (e["m"] < y0 + 12)
                during = np.bincount(e["acc"][during_mask], weights=e["amount"][during_mask], minlength=len(a)) if len(e) else 0
                cur = rev + before
                den += cur[alive0].sum()
                num += (cur + during)[kept].sum()
            nrr = num / den if den else float("nan")
            sm = m[rel["acc"].to_numpy()]
            nps = rel.loc[sm, "nps"].dropna()
            churn_a = float(_annual(lam))
            seg_base = _base_segment(base, s)
            margin = seg_base.get("gross_margin", float("nan"))
            disc = base.finance.discount_rate if base is not None else 0.10
            arpa = float((rev + exp_amt)[active].mean()) if active.any() else float(rev[m].mean())
            rr = 1 - churn_a
            rows.append({
                "segment": s, "accounts": int(active.sum()), "accounts_in_window": int(m.sum()),
                "arpa": arpa, "churn": churn_a, "churn_low": float(_annual(max(lam_lo, 0))),
                "churn_high": float(_annual(lam_hi)), "expansion_rate": float(_annual(ex)),
                "expansion_value": ev, "nrr": nrr,
                "clv": margin * arpa * rr / (1 + disc - rr) if np.isfinite(margin) else float("nan"),
                "complaints_per_year": float(cm.sum() / (am / 12)),
                "contacts_per_event": float(np.nanmean(c["contacts"].to_numpy()[cm])) if cm.any() else float("nan"),
                "promoters": float((nps >= 9).mean()) if len(nps) else float("nan"),
                "detractors": float((nps <= 6).mean()) if len(nps) else float("nan"),
                "csat": float(rel.loc[sm, "csat"].mean()) if sm.any() else float("nan"),
                "account_months": int(am), "survey_answers": int(len(nps)),
            })
        self.table_ = pd.DataFrame(rows)
        return self

    @property
    def summary(self) -> pd.DataFrame:
        out = []
        for r in self.table_.itertuples():
            out.append(_row(f"baseline {r.segment}: annual churn", r.churn, r.churn_low, r.churn_high, r.account_months,
                            f"{r.segment}: {_pct(r.churn, 1)} of accounts leave per year ({_pct(r.churn_low, 1)}-{_pct(r.churn_high, 1)})."))
            out.append(_row(f"baseline {r.segment}: NRR", r.nrr, np.nan, np.nan, r.accounts_in_window,
                            f"{r.segment}: net revenue retention {_pct(r.nrr)}; expansion {_pct(r.expansion_rate)} of accounts a year "
                            f"adding {_pct(r.expansion_value)} of revenue; CLV {_fmt(r.clv, 0)}."))
            out.append(_row(f"baseline {r.segment}: complaints per account-year", r.complaints_per_year, np.nan, np.nan,
                            r.account_months, f"{r.segment}: {r.complaints_per_year:.2f} complaints per account-year, "
                            f"{_fmt(r.contacts_per_event)} contacts each; promoters {_pct(r.promoters)}, detractors {_pct(r.detractors)}."))
        return _summary(out)

    @property
    def verdict(self) -> str:
        return " ".join(self.summary["verdict"].tolist())


def _base_segment(base: Scenario | None, name: str) -> dict[str, Any]:
    """The base scenario's segment of this name, else its account-weighted average."""
    if base is None:
        return {}
    for s in base.segments:
        if s.name.casefold() == name.casefold():
            return {**s.model_dump(), "_matched": True}
    w = np.array([s.accounts for s in base.segments], dtype=float)
    w /= w.sum()
    out: dict[str, Any] = {"_matched": False}
    for k in ("arpa", "gross_margin", "churn", "expansion_rate", "expansion_value", "promoters", "detractors", "csat"):
        out[k] = float(sum(wi * getattr(s, k) for wi, s in zip(w, base.segments, strict=True)))
    vols: dict[str, dict[str, float]] = {}
    for tp in base.touchpoints:
        vols[tp] = {k: float(sum(wi * getattr(s.volumes[tp], k) for wi, s in zip(w, base.segments, strict=True)
                                 if tp in s.volumes))
                    for k in ("events_per_year", "contacts_per_event", "cost_per_contact")}
    out["volumes"] = vols
    return out


# ----------------------------------------------------------------------------------------
# The customers shape (one row per customer)
# ----------------------------------------------------------------------------------------


def _tenure_months(df: pd.DataFrame, opts: Options) -> pd.Series:
    t = df["tenure_months"].astype(float)
    return t * {"months": 1.0, "days": 12 / 365.25, "years": 12.0}[opts.tenure_unit]


class ComplaintChurnFitter:
    """Churn of customers who complained vs those who did not (customers shape).

    Risk ratio :math:`\\mathrm{RR} = \\hat p_{complained} / \\hat p_{not}` of the churn flag
    with a log-scale Wald interval, the risk difference, and - when tenure is given - a Cox
    hazard ratio (lifelines) of the complaint flag on tenure, adjusted for segment (strata).
    This is complained vs not, *not* the negative-vs-positive-outcome gap the scenario's
    ``churn_gap`` needs (that needs resolution times and emotions).
    """

    def fit(self, data: CompanyData) -> ComplaintChurnFitter:
        df = data.tables["customers"]
        if "complaint" not in df:
            raise CalibrationError("no complaint column: cannot compare complainers with others")
        miss = df["complaint"].isna().to_numpy()
        data.exclude("customers", "no complaint value (left out of the complaint comparison)", miss)
        d = df.loc[~miss]
        comp = d["complaint"].to_numpy() > 0
        y = d["churn"].to_numpy()
        n1, n0 = comp.sum(), (~comp).sum()
        p1, p0 = y[comp].mean(), y[~comp].mean()
        self.churn_complained_, self.churn_not_ = float(p1), float(p0)
        self.risk_ratio_ = float(p1 / p0)
        se = math.sqrt((1 - p1) / (p1 * n1) + (1 - p0) / (p0 * n0))
        self.risk_ratio_ci_ = tuple(float(math.exp(math.log(self.risk_ratio_) + s * Z95 * se)) for s in (-1, 1))
        sd = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
        self.risk_difference_ = float(p1 - p0)
        self.risk_difference_ci_ = (float(p1 - p0 - Z95 * sd), float(p1 - p0 + Z95 * sd))
        self.n_ = int(len(d))
        self.hazard_ratio_ = None
        if "tenure_months" in d:
            ok = d["tenure_months"].notna().to_numpy()
            data.exclude("customers", "no tenure (left out of the survival model)", ~miss & ~_full(df, ~miss, ok))
            sv = pd.DataFrame({"t": _tenure_months(d.loc[ok], data.options) + 0.5,
                               "e": d.loc[ok, "churn"].astype(int), "complained": comp[ok].astype(int),
                               "segment": d.loc[ok, "segment"].astype(str)})
            cph = CoxPHFitter()
            strata = ["segment"] if sv["segment"].nunique() > 1 else None
            cph.fit(sv, "t", "e", strata=strata)
            s = cph.summary.loc["complained"]
            self.hazard_ratio_ = float(s["exp(coef)"])
            self.hazard_ratio_ci_ = (float(s["exp(coef) lower 95%"]), float(s["exp(coef) upper 95%"]))
            self.n_survival_ = int(ok.sum())
        return self

    @property
    def verdict(self) -> str:
        lo, hi = self.risk_ratio_ci_
        text = (f"Customers who complained churned {self.risk_ratio_:.1f}x as often as those who did not "
                f"({_pct(self.churn_complained_, 1)} vs {_pct(self.churn_not_, 1)}; RR 95% CI {lo:.2f}-{hi:.2f}, "
                f"{self.n_:,} customers)")
        if self.hazard_ratio_ is not None:
            hlo, hhi = self.hazard_ratio_ci_
            text += f"; over tenure the hazard ratio is {self.hazard_ratio_:.2f} ({hlo:.2f}-{hhi:.2f})"
        return text + "."

    @property
    def summary(self) -> pd.DataFrame:
        rows = [_row("complained vs not: churn risk ratio", self.risk_ratio_, *self.risk_ratio_ci_, self.n_, self.verdict),
                _row("complained vs not: churn risk difference", self.risk_difference_, *self.risk_difference_ci_, self.n_,
                     f"Complaining goes with {self.risk_difference_ * 100:.1f} more churners per 100 customers.")]
        if self.hazard_ratio_ is not None:
            rows.append(_row("complained vs not: hazard ratio over tenure (Cox)", self.hazard_ratio_,
                             *self.hazard_ratio_ci_, self.n_survival_, self.verdict))
        return _summary(rows)


def _full(df: pd.DataFrame, sub: np.ndarray, sub_ok: np.ndarray) -> np.ndarray:
    out = np.zeros(len(df), dtype=bool)
    out[np.flatnonzero(sub)[sub_ok]] = True
    return out


class CustomerBaselineFitter:
    """Baselines of the customers shape per segment: customers, churn, complaint rate, orders.

    Annual churn from the churn flag over tenure: :math:`\\hat\\lambda = \\text{churners} /
    \\sum(\\text{tenure}+\\tfrac12)` months, annual :math:`1-(1-\\hat\\lambda)^{12}`.
    Complaints per year from the share :math:`q` complaining in the complaint window of
    :math:`w` months: :math:`-\\ln(1-q)\\cdot 12/w` (a Poisson rate).
    """

    def fit(self, data: CompanyData) -> CustomerBaselineFitter:
        df = data.tables["customers"]
        o = data.options
        rows = []
        for s, g in df.groupby("segment", sort=True):
            row: dict[str, Any] = {"segment": str(s), "accounts": int((g["churn"] == 0).sum()),
                                   "customers": len(g), "churn_flag_share": float(g["churn"].mean())}
            if "tenure_months" in g:
                ok = g["tenure_months"].notna()
                months = (_tenure_months(g.loc[ok], o) + 0.5).sum()
                k = g.loc[ok, "churn"].sum()
                lam = k / months
                row.update(churn=float(_annual(lam)), churn_low=float(_annual((k - Z95 * math.sqrt(k)) / months)),
                           churn_high=float(_annual((k + Z95 * math.sqrt(k)) / months)), customer_months=float(months))
            if "complaint" in g:
                q = float((g["complaint"].dropna() > 0).mean())
                row["complaint_share"] = q
                row["complaints_per_year"] = float(-math.log(max(1 - q, 1e-9)) * 12 / o.complaint_window_months)
            for col in ("satisfaction", "orders", "spend"):
                if col in g:
                    row[f"mean_{col}"] = float(g[col].mean())
            rows.append(row)
        self.table_ = pd.DataFrame(rows)
        return self

    @property
    def summary(self) -> pd.DataFrame:
        out = []
        for r in self.table_.to_dict("records"):
            if "churn" in r:
                out.append(_row(f"baseline {r['segment']}: annual churn", r["churn"], r["churn_low"], r["churn_high"],
                                r["customers"], f"{r['segment']}: {_pct(r['churn'], 1)} of customers leave per year "
                                f"(from the churn flag over tenure)."))
            if "complaints_per_year" in r:
                out.append(_row(f"baseline {r['segment']}: complaints per customer-year", r["complaints_per_year"],
                                np.nan, np.nan, r["customers"],
                                f"{r['segment']}: {_pct(r['complaint_share'])} complained in the complaint window."))
        return _summary(out)


# ----------------------------------------------------------------------------------------
# The whole calibration
# ----------------------------------------------------------------------------------------


@dataclass
class LinkEstimate:
    """A fitted link ready for a scenario."""

    value: float
    low: float
    high: float
    n: int
    unit: str
    method: str


@dataclass
class Calibration:
    """Everything calibration found, ready for a scenario and a report.

    Attributes
    ----------
    data : CompanyData
    fitters : dict
        The fitted fitter objects by name.
    links : dict of LinkEstimate
        Fitted touchpoint links by scenario link name.
    today : float or None
        Current median resolution days (the lever's ``today``).
    notes : list of str
        What could not be estimated and what was kept from the base scenario.
    """

    data: CompanyData
    fitters: dict[str, Any] = field(default_factory=dict)
    links: dict[str, LinkEstimate] = field(default_factory=dict)
    baselines: pd.DataFrame = field(default_factory=pd.DataFrame)
    today: float | None = None
    notes: list[str] = field(default_factory=list)
    base: Scenario | None = None
    date: str = field(default_factory=lambda: _dt.date.today().isoformat())

    @property
    def summary(self) -> pd.DataFrame:
        """Every estimate: name, estimate, low, high, n, verdict."""
        parts = [f.summary for f in self.fitters.values() if hasattr(f, "summary")]
        return pd.concat(parts, ignore_index=True) if parts else _summary([])

    @property
    def verdicts(self) -> list[str]:
        """Plain-language sentences, most important first, then the notes."""
        out = []
        for name in ("resolution_churn", "complaint_churn", "experience_emotion", "behaviour_gaps", "outcome_gaps"):
            if name in self.fitters:
                out.append(self.fitters[name].verdict)
            if name == "resolution_churn" and "behaviour_gaps" in self.fitters:
                # beside the Cox verdict: the hazard ratio the calibrated links imply
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

    def source_text(self, unit: str, n: int) -> str:
        return f"calibrated from {self.data.name}, n={n:,} {unit}, {self.date}"

    def to_scenario(self, base: Scenario | None = None) -> Scenario:
        """The base scenario with this calibration's links, lever and segment baselines.

        Links with a fit get ``provenance: calibrated`` (value and 95% interval, clipped to
        the link's allowed range); links without one keep the base scenario's values, and
        the note says why. Raises :class:`CalibrationError` if the result is not a valid
        scenario.
        """
        base = base or self.base
        if base is None:
            raise CalibrationError("to_scenario needs a base scenario (its costs, margins and other links)")
        tp_name = self.data.options.touchpoint
        d = base.model_dump(mode="json")
        if tp_name not in d["touchpoints"]:
            raise CalibrationError(
                f"the base scenario has no touchpoint '{tp_name}': set options.touchpoint in the mapping "
                f"to one of {', '.join(d['touchpoints'])}")
        tp = d["touchpoints"][tp_name]
        notes = []
        for lname in TouchpointLinks.model_fields:
            est = self.links.get(lname)
            if est is None and tp["links"].get(lname) is None:
                continue  # an optional direct link the data did not give
            if est is None:
                tp["links"][lname]["note"] = (tp["links"][lname].get("note", "") +
                                              f" [kept from the base scenario: {self.data.name} cannot estimate it]").strip()
                continue
            lo_d, hi_d, _ = LINK_DOMAINS[lname]
            v, lo, hi = (float(np.clip(x, lo_d, hi_d)) for x in (est.value, est.low, est.high))
            lo, hi = min(lo, v), max(hi, v)
            clipped = (v, lo, hi) != (est.value, est.low, est.high)
            if lname == "odds_ratio" and ((tp["better"] == "lower" and v > 1) or (tp["better"] == "higher" and v < 1)):
                notes.append(f"The fitted odds ratio {v:.2f} says a worse {tp['metric']} goes with better outcomes; "
                             "the base scenario's odds ratio is kept - investigate before relying on it.")
                continue
            tp["links"][lname] = {
                "value": round(v, 6), "low": round(lo, 6), "high": round(hi, 6), "provenance": "calibrated",
                "source": self.source_text(est.unit, est.n),
                "note": est.method + (" (clipped to the link's allowed range)" if clipped else ""),
            }
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
        d["name"] = f"{base.name} (calibrated)"
        d["description"] = (d.get("description", "") + f" Calibrated from {self.data.name} on {self.date}.").strip()
        self.notes.extend(n for n in notes if n not in self.notes)
        try:
            return scenario_from_dict(d, f"calibrated from {self.data.name}")
        except Exception as exc:  # ScenarioError: report as a calibration problem
            raise CalibrationError(f"the calibrated scenario is not valid: {exc}") from None

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
            if np.isfinite(r.get("contacts_per_event", np.nan)):
                v["contacts_per_event"] = round(float(r["contacts_per_event"]), 3)
            promoters = pick("promoters", 0, 1)
            detractors = min(pick("detractors", 0, 1), 1 - promoters)
            segs.append({
                "name": r["segment"], "accounts": max(int(r.get("accounts", 1)), 1),
                "arpa": round(pick("arpa", 1e-6, 1e12), 2), "gross_margin": float(b["gross_margin"]),
                "churn": round(pick("churn", 0, 0.999), 5), "expansion_rate": round(pick("expansion_rate", 0, 1), 5),
                "expansion_value": round(pick("expansion_value", 0, 1e6), 5),
                "promoters": round(promoters, 4), "detractors": round(detractors, 4),
                "csat": round(pick("csat", 1, 5), 3), "volumes": vols,
            })
        return segs


def _calibrate_tables(cal: Calibration, seed: int, gap_window: int = 12, n_boot: int = 500) -> None:
    prep = prepare(cal.data)
    cal.today = prep.today
    f = cal.fitters
    rule_note = None
    try:
        f["resolution_churn"] = ResolutionChurnFitter().fit(prep)
    except CalibrationError as exc:
        cal.notes.append(f"Resolution time -> churn (Cox) not fitted: {exc}.")
    try:
        ee = f["experience_emotion"] = ExperienceEmotionFitter().fit(prep)
        cal.links["positive_share_today"] = LinkEstimate(
            ee.positive_share_today_, *ee.positive_share_ci_, ee.n_, "complaint survey answers",
            f"logistic fit of a positive outcome ({ee.outcome_rule_}) on log2 resolution days, at today's "
            f"{prep.today:.1f} days; Wald 95% interval")
        cal.links["odds_ratio"] = LinkEstimate(
            ee.odds_ratio_, *ee.odds_ratio_ci_, ee.n_, "complaint survey answers",
            "odds of a positive outcome per doubling of resolution time (logistic, Wald 95% interval)")
    except CalibrationError as exc:
        rule_note = str(exc)
        cal.notes.append(f"Resolution time -> emotion not fitted ({exc}); positive_share_today and odds_ratio "
                         "are kept from the base scenario.")
    if rule_note is None:
        try:
            bg = f["behaviour_gaps"] = BehaviourGapFitter(churn_window=gap_window, expansion_window=gap_window).fit(prep)
            cal.links["churn_gap"] = LinkEstimate(
                bg.churn_gap_, *bg.churn_gap_ci_, bg.n_account_months_, "account-months",
                f"distributed-lag linear model of monthly leaving on the expected numbers of positive and negative "
                f"outcomes (p(T)) of complaints resolved in the {bg.churn_window} months before, adjusted for segment "
                "and size; gap = negative minus positive, summed over the window; sandwich 95% interval clustered "
                "by account, outcome-curve uncertainty included")
            cal.links["expansion_gap"] = LinkEstimate(
                bg.expansion_gap_, *bg.expansion_gap_ci_, bg.n_account_months_, "account-months",
                f"distributed-lag linear model of monthly expansions on the expected numbers of positive and negative "
                f"outcomes of complaints resolved in the {bg.expansion_window} months before, adjusted for segment "
                "and size; gap = positive minus negative, summed over the window; sandwich 95% interval clustered "
                "by account, outcome-curve uncertainty included")
        except CalibrationError as exc:
            cal.notes.append(f"churn_gap / expansion_gap not fitted ({exc}); kept from the base scenario.")
        try:
            og = f["outcome_gaps"] = OutcomeGapFitter().fit(prep)
            methods = {"repeat_contacts": "mean contacts, negative minus positive outcomes (Welch 95% interval)",
                       "nps_gap": "NPS after positive minus after negative complaint outcomes (Welch 95% interval)",
                       "csat_gap": "mean CSAT after positive minus negative complaint outcomes (Welch 95% interval)"}
            for k, (v, lo, hi, n) in og.estimates_.items():
                cal.links[k] = LinkEstimate(v, lo, hi, n, "complaint survey answers", methods[k])
        except CalibrationError as exc:
            cal.notes.append(f"Outcome gaps not fitted ({exc}); kept from the base scenario.")
    frame, n_short = _first_responses(prep)
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
    bf = f["baselines"] = BaselineFitter().fit(prep, cal.base)
    cal.baselines = bf.table_
    for name in TouchpointLinks.model_fields:
        if name not in cal.links and TouchpointLinks.model_fields[name].is_required():
            cal.notes.append(f"Link '{name}' could not be estimated from {cal.data.name}: the base scenario's value is kept.")


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
    cal.baselines = bf.table_.rename(columns={"complaints_per_year": "complaints_per_year"})
    cal.notes.append(
        f"{d.name} has one row per customer and no resolution times, survey emotions or orders over time, so it cannot "
        "estimate the resolution time -> emotion -> behaviour links (positive_share_today, odds_ratio, churn_gap, "
        "expansion_gap, repeat_contacts, nps_gap, csat_gap): the base scenario's benchmark links are kept, and the "
        "lever's 'today' is not measured.")
    cal.notes.append("The complained-vs-not churn difference is not the scenario's churn_gap (negative vs positive "
                     "outcome of a complaint); it is an upper-level check that complaints matter here.")
    if "spend" not in df:
        cal.notes.append(f"{d.name} has no revenue or spend per customer: ARPA, margin and expansion come from the "
                         "base scenario - replace them with the company's figures.")


def calibrate(tables: CompanyData | dict[str, pd.DataFrame], mapping: Mapping | None = None,
              base_scenario: Scenario | str | os.PathLike[str] | None = None,
              n_boot: int = 500, seed: int = 20261123, name: str | None = None,
              gap_window: int = 12) -> Calibration:
    """Run every fit the data allows.

    Parameters
    ----------
    tables : CompanyData or dict of DataFrame
        Validated data (:func:`cxroi.data.load`) or raw contract-shaped frames (validated
        here, e.g. from :func:`cxroi.demo.generate_demo`).
    mapping : Mapping, optional
        Used only when ``tables`` are raw frames.
    base_scenario : Scenario or path, optional
        Costs, margins, cost per contact and links the data cannot estimate. Defaults to
        ``data/scenarios/complaints-30-to-1.yaml`` when present.
    n_boot : int
        Bootstrap replicates for the metric-validity (C-index) and survey-gap (response
        bias) intervals. The behaviour gaps have an analytic (sandwich) interval.
    seed : int
        Seed of every random draw (bootstraps, cross-validation folds).
    gap_window : int
        Months from a complaint's resolution over which its effect on leaving and on
        buying more is counted (:class:`BehaviourGapFitter`; default 12, one renewal cycle).

    Returns
    -------
    Calibration
    """
    data = tables if isinstance(tables, CompanyData) else from_frames(tables, mapping, source=name or "<frames>")
    if name:
        data.name = name
    base = _resolve_base(base_scenario)
    cal = Calibration(data=data, base=base)
    if data.shape == "tables":
        _calibrate_tables(cal, seed, gap_window, n_boot)
    else:
        _calibrate_customers(cal, seed, n_boot)
    return cal


def _resolve_base(base: Scenario | str | os.PathLike[str] | None) -> Scenario | None:
    if isinstance(base, Scenario):
        return base
    if base is not None:
        return load_scenario(base)
    return load_scenario(DEFAULT_BASE) if DEFAULT_BASE.is_file() else None


# ----------------------------------------------------------------------------------------
# Reports and the CLI entry point
# ----------------------------------------------------------------------------------------


def calibration_markdown(cal: Calibration, scenario_path: Path | None = None) -> str:
    """A short Markdown report: verdicts, links written, exclusions."""
    lines = [f"# Calibration from {cal.data.name}", "",
             f"Data: `{cal.data.source}` ({cal.data.shape} shape; "
             + ", ".join(f"{k} {v:,} rows" for k, v in cal.data.n_rows().items()) + f"). Run on {cal.date}.", ""]
    if scenario_path:
        lines += [f"Calibrated scenario: `{scenario_path}`.", ""]
    lines += ["## Verdicts", ""] + [f"- {v}" for v in cal.verdicts] + [""]
    if cal.links:
        lines += ["## Links written to the scenario", "", "| link | value | 95% interval | n | method |",
                  "| --- | --- | --- | --- | --- |"]
        for k, e in cal.links.items():
            lines.append(f"| {k} | {e.value:.4g} | {e.low:.4g} to {e.high:.4g} | {e.n:,} {e.unit} | {e.method} |")
        lines.append("")
    ex = cal.exclusions
    lines += ["## Rows left out of fits (nothing is dropped silently)", ""]
    if ex.empty:
        lines.append("None.")
    else:
        lines += ["| table | rule | rows | of | first rows |", "| --- | --- | --- | --- | --- |"]
        lines += [f"| {r.table} | {r.rule} | {r.rows:,} | {r.of:,} | {r.first_rows} |" for r in ex.itertuples()]
    return "\n".join(lines) + "\n"


def run_calibration(data: Path, mapping: Path | None, out: Path, base: Path | None = None,
                    report: Path | None = None, n_boot: int = 500, seed: int = 20261123) -> Calibration:
    """Load, validate, calibrate and write the calibrated scenario and its report.

    Writes ``out`` (the scenario, atomically), ``<out stem>.calibration.csv`` (the summary
    table) and ``<out stem>.calibration.md`` (or ``report``) with the verdicts and exclusions.

    Raises
    ------
    DataError
        The data break the contract (every problem listed).
    CalibrationError
        The data are valid but a needed fit cannot be made, or no base scenario is found.
    """
    data, out = Path(data), Path(out)
    company = load(data, mapping)
    base_sc = _resolve_base(base)
    if base_sc is None:
        raise CalibrationError("no base scenario: pass --base data/scenarios/complaints-30-to-1.yaml (it supplies "
                               "costs, margins and any link the data cannot estimate)")
    cal = calibrate(company, base_scenario=base_sc, n_boot=n_boot, seed=seed)
    sc = cal.to_scenario(base_sc)
    save_scenario(sc, out)
    stem = out.with_suffix("")
    csv_path = stem.parent / f"{stem.name}.calibration.csv"
    md_path = Path(report) if report else stem.parent / f"{stem.name}.calibration.md"
    write_atomic(csv_path, cal.summary.to_csv(index=False))
    write_atomic(md_path, calibration_markdown(cal, out))
    return cal


__all__ = [
    "BaselineFitter", "BehaviourGapFitter", "Calibration", "ComplaintChurnFitter", "CustomerBaselineFitter",
    "DataError", "EmotionDriverFitter", "ExperienceEmotionFitter", "LinkEstimate", "MetricValidityFitter",
    "OutcomeGapFitter", "Prepared", "Problem", "ResolutionChurnFitter", "SurveyGapFitter", "account_features",
    "calibrate", "calibration_markdown", "concordance_ci", "concordance_table", "logistic_fit", "prepare",
    "run_calibration",
]

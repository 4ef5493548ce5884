"""Per-segment baselines: churn, expansion, NRR, CLV, complaint and contact rates, NPS mix."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from cxroi.calibrate.prepare import Prepared
from cxroi.calibrate.stats import Z95, _fmt, _pct, _row, _summary
from cxroi.scenario import Scenario


def _annual(rate_per_month: np.ndarray | float) -> np.ndarray:
    return 1 - (1 - np.clip(rate_per_month, 0, 1)) ** 12


def poisson_interval(count: float, exposure: float) -> tuple[float, float]:
    """Exact (Garwood) 95% interval of a rate ``count / exposure`` from a Poisson count.

    .. math:: \\Big[\\tfrac{1}{2}\\chi^2_{0.025}(2k),\\ \\tfrac{1}{2}\\chi^2_{0.975}(2k + 2)\\Big] / E

    Defined for ``count = 0`` too (lower bound 0, upper bound 3.69 / E).
    """
    lo = 0.5 * stats.chi2.ppf(0.025, 2 * count) / exposure if count > 0 else 0.0
    return float(lo), float(0.5 * stats.chi2.ppf(0.975, 2 * count + 2) / exposure)


def ratio_interval(num: np.ndarray, den: np.ndarray) -> tuple[float, float, float]:
    """Ratio estimate :math:`r = \\sum_i y_i / \\sum_i x_i` over clusters (accounts) and its
    95% interval, symmetric on the log scale, from the cluster-robust (linearisation) standard
    error :math:`\\mathrm{se}(r) = \\sqrt{\\sum_i (y_i - r x_i)^2} / \\sum_i x_i`.

    Accounts differ (health, size), so an account's repeat orders or contacts are not
    independent draws: the clustered error holds that over-dispersion, a Poisson count's would
    not. ``(nan, nan, nan)`` without any exposure; the interval is ``(r, r)`` when r is 0.
    """
    num, den = np.asarray(num, float), np.asarray(den, float)
    tot = den.sum()
    if tot <= 0:
        return float("nan"), float("nan"), float("nan")
    r = num.sum() / tot
    if r <= 0:
        return float(r), float(r), float(r)
    se_log = math.sqrt(float(((num - r * den) ** 2).sum())) / tot / r
    return float(r), float(r * math.exp(-Z95 * se_log)), float(r * math.exp(Z95 * se_log))


def _drifted(rate: float, low: float, high: float, drift: tuple[float, float, float, int]
             ) -> tuple[float, float]:
    """95% interval of ``rate * D``: the rate's and the drift's log-scale errors added in
    quadrature (a rate of 0 keeps a lower bound of 0 and scales its upper bound)."""
    d, d_lo, d_hi, _ = drift
    sd_d = math.log(d_hi / d_lo) / (2 * Z95) if d_hi > d_lo > 0 else 0.0
    if rate <= 0:
        return 0.0, float(high * d * math.exp(Z95 * sd_d))
    up = math.log(high / rate) / Z95 if high > rate else 0.0
    lo = float(rate * d * math.exp(-Z95 * math.hypot(math.log(rate / low) / Z95, sd_d))) if low > 0 else 0.0
    return lo, float(rate * d * math.exp(Z95 * math.hypot(up, sd_d)))


class BaselineFitter:
    """Per-segment baselines the scenario's segments need.

    * churn: monthly hazard :math:`\\hat\\lambda = \\text{leavers} / \\text{account-months}`
      over the segment's last 12 months (``recent_months``), annual
      :math:`1-(1-\\hat\\lambda)^{12}`, exact Poisson 95% interval (:func:`poisson_interval`;
      an account leaves once). A segment with fewer than :attr:`MIN_SEGMENT_EVENTS` leavers
      in those months takes its whole window's rate times the company-wide drift of the last
      12 months (:meth:`_drifts`; interval :func:`_drifted`), so a quiet year never reads as
      0% churn. ``rate_basis_`` says which, per segment (``has_recent_``: whether a year of
      data came before those months; without one, every segment takes its whole window);
    * expansion_rate likewise from expansion orders (95% interval clustered by account,
      :func:`ratio_interval`: an account may expand repeatedly); expansion_value = mean
      expansion amount / the account's revenue.
      Why the last 12 months, not the window's average: accounts differ in how likely they
      are to leave and to buy more, and the least healthy leave first, so over a multi-year
      window churn falls and buying more rises among the accounts still there -- the
      accounts the business case is about. On generated companies with such differences the
      window's average overstated their churn by about 15% and the business case's
      retention savings by about 10% (``docs/calibration.md`` section 6). A company-wide
      drift applied to every segment's window rate was tried: less noise, but a segment's
      own drift differs from the company's, and its interval covered the true retention
      savings in 14 of 20 companies against 19 of 20 for the segment's own last 12 months.
      It is also what finance reports ("trailing-twelve-month churn"); the price, a wider
      interval (a third of a three-year window's leavers), is carried by the money's draws;
    * NRR: for each full year of the window, revenue a year later (kept accounts, with
      their expansions) over revenue at the start of the year, pooled;
    * CLV (Gupta & Lehmann): :math:`m\\,\\mathrm{ARPA}\\,r / (1 + i - r)` with retention
      :math:`r = 1 - \\text{churn}` and margin :math:`m`, discount :math:`i` from the base scenario;
    * complaints per account-year (complaints *opened* while a customer over the whole window,
      resolved or still open: counting only resolved ones loses the last weeks' complaints) and
      contacts per complaint (resolved ones), each with a 95% interval
      clustered by account (``*_low``, ``*_high``: the sampling error of the baseline rates,
      ``docs/calibration.md`` section 6); promoter / detractor shares and
      mean CSAT of relationship-survey answers (all answers if none are marked);
    * with a fitted :class:`~cxroi.calibrate.survey_gap.SurveyGapFitter`, promoters and
      detractors are the response-bias-corrected shares of the segment's active accounts
      (an account's own answer where it answered, its predicted probabilities where it did
      not); the raw respondent shares stay in ``promoters_raw`` / ``detractors_raw``.

    Without any configured expansion product in the orders, expansion_rate and
    expansion_value are ``NaN`` (not measured, not 0): the scenario keeps the base's.
    """

    #: The trailing months whose churn and buying more set "now" (the drift ratio).
    RECENT_MONTHS = 12
    #: Fewer leavers (expansions) than this in the trailing months: no drift is applied.
    MIN_DRIFT_EVENTS = 10
    #: A segment with at least this many leavers (expansions) in the trailing months takes
    #: its rate from them; below it, from the whole window times the company-wide drift.
    MIN_SEGMENT_EVENTS = 5

    def __init__(self, recent_months: int = RECENT_MONTHS) -> None:
        if recent_months < 1:
            raise ValueError(f"recent_months must be at least 1 (got {recent_months})")
        self.recent_months = int(recent_months)

    def _drifts(self, seg_of: np.ndarray, months_w: np.ndarray, m_recent: np.ndarray,
                events: tuple[tuple[np.ndarray, np.ndarray], ...]) -> list[tuple[float, float, float, int]]:
        r"""Company-wide drift of churn and of buying more: the trailing months' events over
        what each segment's whole-window rate predicts for them,

        .. math:: D = \frac{\sum_i y_i^{\text{recent}}}{\sum_i \hat\lambda_{s(i)}\, m_i^{\text{recent}}}

        (:math:`m_i^{\text{recent}}` = ``m_recent``, the account's months at risk in the trailing
        months), with its 95% interval clustered by account (:func:`ratio_interval`), for each
        ``(y_all, y_recent)`` of ``events`` (per account: in the window, in the trailing
        months). ``(1, 1, 1, n)`` -- no drift -- when fewer than :attr:`MIN_DRIFT_EVENTS`
        events fall in the trailing months. Returns ``(D, low, high, events)`` each.
        """
        exposure = np.bincount(seg_of, weights=months_w)
        out = []
        for y_all, y_recent in events:
            tot = np.bincount(seg_of, weights=y_all, minlength=len(exposure))
            rate = np.divide(tot, exposure, out=np.zeros_like(tot), where=exposure > 0)
            n = int(y_recent.sum())
            d, lo, hi = (ratio_interval(y_recent, rate[seg_of] * m_recent) if n >= self.MIN_DRIFT_EVENTS
                         else (1.0, 1.0, 1.0))
            out.append((d, lo, hi, n) if np.isfinite(d) and d > 0 else (1.0, 1.0, 1.0, n))
        return out

    def fit(self, prep: Prepared, base: Scenario | None = None, survey_gap: Any = None) -> BaselineFitter:
        a, c, e, r = prep.accounts, prep.complaints, prep.expansions, prep.responses
        M = prep.M
        rel = r.loc[~r["post"]] if (~r["post"]).sum() >= 30 else r
        rows = []
        exp_acc = np.bincount(e["acc"], minlength=len(a)) if len(e) else np.zeros(len(a))
        exp_amt = np.bincount(e["acc"], weights=e["amount"], minlength=len(a)) if len(e) else np.zeros(len(a))
        rev = a["revenue"].to_numpy()
        entry, exit_m = a["entry"].to_numpy(), a["exit"].to_numpy()
        churned = a["churned"].to_numpy()
        opened = (a["complaints_opened"].to_numpy() if "complaints_opened" in a
                  else np.bincount(c["acc"], minlength=len(a)))
        seg_of = a["seg"].to_numpy()
        months_w = a["months"].to_numpy()
        # the trailing months: taken when at least a year of data comes before them
        first = prep.M - self.recent_months
        self.has_recent_ = has_recent = first >= 12
        m_recent = np.maximum(np.minimum(exit_m, M - 1) - np.maximum(entry, max(first, 0)) + 1, 0)
        left_recent = churned & (exit_m >= first)
        exp_recent = (np.bincount(e["acc"][e["m"] >= first], minlength=len(a)) if len(e)
                      else np.zeros(len(a), np.int64))
        none = (1.0, 1.0, 1.0, 0)
        self.churn_drift_, self.expansion_drift_ = self._drifts(
            seg_of, months_w.astype(float), m_recent.astype(float),
            ((churned.astype(float), left_recent.astype(float)),
             (np.asarray(exp_acc, float), exp_recent.astype(float)))) if has_recent else (none, none)
        self.rate_basis_: dict[str, dict[str, str]] = {}
        for si, s in enumerate(prep.segments):
            m = seg_of == si
            am = months_w[m].sum()
            leavers = churned[m].sum()
            basis = self.rate_basis_.setdefault(s, {})
            if has_recent and left_recent[m].sum() >= self.MIN_SEGMENT_EVENTS:  # its own trailing months
                am_r, l_r = m_recent[m].sum(), left_recent[m].sum()
                lam = l_r / am_r
                lam_lo, lam_hi = poisson_interval(l_r, am_r)
                basis["churn"] = f"last {self.recent_months} months ({int(l_r)} leavers)"
            else:  # too few recent leavers (or a short window): the window's, drifted
                lam = leavers / am
                lam_lo, lam_hi = _drifted(lam, *poisson_interval(leavers, am), self.churn_drift_)
                lam = lam * self.churn_drift_[0]
                basis["churn"] = (f"whole window ({int(leavers)} leavers) x company-wide drift "
                                  f"{self.churn_drift_[0]:.2f}" if has_recent else f"whole window ({int(leavers)} leavers)")
            if has_recent and exp_recent[m].sum() >= self.MIN_SEGMENT_EVENTS:
                ex, ex_lo, ex_hi = ratio_interval(exp_recent[m], m_recent[m])
                basis["expansion_rate"] = f"last {self.recent_months} months ({int(exp_recent[m].sum())} expansions)"
            else:
                ex, ex_lo, ex_hi = ratio_interval(exp_acc[m], months_w[m])
                if np.isfinite(ex):
                    ex_lo, ex_hi = _drifted(ex, ex_lo, ex_hi, self.expansion_drift_)
                    ex = ex * self.expansion_drift_[0]
                if np.isfinite(ex):  # (not measured at all: no basis to name)
                    basis["expansion_rate"] = "whole window" + (
                        f" x company-wide drift {self.expansion_drift_[0]:.2f}" if has_recent else "")
            active = m & ~churned
            cm = m[c["acc"].to_numpy()]
            c_acc = c["acc"].to_numpy()
            cpy, cpy_lo, cpy_hi = ratio_interval(opened[m], months_w[m] / 12)
            c_n = c["contacts"].to_numpy(dtype=float)
            cw = cm & np.isfinite(c_n)
            cpe, cpe_lo, cpe_hi = ratio_interval(np.bincount(c_acc[cw], weights=c_n[cw], minlength=len(a))[m],
                                                 np.bincount(c_acc[cw], minlength=len(a))[m])
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
            if not prep.has_expansion_products:
                ex, ex_lo, ex_hi, ev, nrr = (float("nan"),) * 5
            prom_raw = float((nps >= 9).mean()) if len(nps) else float("nan")
            detr_raw = float((nps <= 6).mean()) if len(nps) else float("nan")
            prom, detr = prom_raw, detr_raw
            if survey_gap is not None and active.any():
                pr = survey_gap.predictions_
                ans = pr["nps_answered"].to_numpy()
                resp = pr["responded"].to_numpy()
                p_p = np.where(resp, ans >= 9, pr["p_promoter"].to_numpy())[active]
                p_d = np.where(resp, ans <= 6, pr["p_detractor"].to_numpy())[active]
                prom, detr = float(np.mean(p_p)), float(np.mean(p_d))
            rows.append({
                "segment": s, "accounts": int(active.sum()), "accounts_in_window": int(m.sum()),
                "leavers": int(leavers), "promoters_raw": prom_raw, "detractors_raw": detr_raw,
                "arpa": arpa, "churn": churn_a, "churn_low": float(_annual(max(lam_lo, 0))),
                "churn_high": float(_annual(lam_hi)), "expansion_rate": float(_annual(ex)) if np.isfinite(ex) else float("nan"),
                "expansion_rate_low": float(_annual(ex_lo)) if np.isfinite(ex_lo) else float("nan"),
                "expansion_rate_high": float(_annual(ex_hi)) if np.isfinite(ex_hi) else float("nan"),
                "expansion_value": ev, "nrr": nrr,
                "clv": margin * arpa * rr / (1 + disc - rr) if np.isfinite(margin) else float("nan"),
                "complaints_per_year": cpy, "complaints_per_year_low": cpy_lo, "complaints_per_year_high": cpy_hi,
                "contacts_per_event": cpe, "contacts_per_event_low": cpe_lo, "contacts_per_event_high": cpe_hi,
                "promoters": prom, "detractors": detr,
                "csat": float(rel.loc[sm, "csat"].mean()) if sm.any() else float("nan"),
                "account_months": int(am), "survey_answers": int(len(nps)),
            })
        self.table_ = pd.DataFrame(rows)
        t = self.table_
        w = t["accounts"].to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            self.nps_corrected_ = float(100 * np.average(t["promoters"] - t["detractors"], weights=w)) if w.sum() else float("nan")
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


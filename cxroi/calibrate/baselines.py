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


class BaselineFitter:
    """Per-segment baselines the scenario's segments need.

    * churn: monthly hazard :math:`\\hat\\lambda = \\text{leavers} / \\text{account-months}`,
      annual :math:`1-(1-\\hat\\lambda)^{12}`, exact Poisson 95% interval
      (:func:`poisson_interval`; an account leaves once);
    * expansion_rate likewise from expansion orders, with a 95% interval clustered by account
      (:func:`ratio_interval`: an account may expand repeatedly); expansion_value = mean
      expansion amount / the account's revenue;
    * NRR: for each full year of the window, revenue a year later (kept accounts, with
      their expansions) over revenue at the start of the year, pooled;
    * CLV (Gupta & Lehmann): :math:`m\\,\\mathrm{ARPA}\\,r / (1 + i - r)` with retention
      :math:`r = 1 - \\text{churn}` and margin :math:`m`, discount :math:`i` from the base scenario;
    * complaints per account-year and contacts per complaint, each with a 95% interval
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
        for si, s in enumerate(prep.segments):
            m = a["seg"].to_numpy() == si
            am = a["months"].to_numpy()[m].sum()
            leavers = churned[m].sum()
            lam = leavers / am
            lam_lo, lam_hi = poisson_interval(leavers, am)
            ex, ex_lo, ex_hi = ratio_interval(exp_acc[m], a["months"].to_numpy()[m])
            active = m & ~churned
            cm = m[c["acc"].to_numpy()]
            c_acc = c["acc"].to_numpy()
            cpy, cpy_lo, cpy_hi = ratio_interval(np.bincount(c_acc[cm], minlength=len(a))[m],
                                                 a["months"].to_numpy()[m] / 12)
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


"""Per-segment baselines: churn, expansion, NRR, CLV, complaint and contact rates, NPS mix."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from cxroi.calibrate.prepare import Prepared
from cxroi.calibrate.stats import Z95, _fmt, _pct, _row, _summary
from cxroi.scenario import Scenario


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
            if not prep.has_expansion_products:
                ex, ev, nrr = float("nan"), float("nan"), float("nan")
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
                "expansion_value": ev, "nrr": nrr,
                "clv": margin * arpa * rr / (1 + disc - rr) if np.isfinite(margin) else float("nan"),
                "complaints_per_year": float(cm.sum() / (am / 12)),
                "contacts_per_event": float(np.nanmean(c["contacts"].to_numpy()[cm])) if np.isfinite(c["contacts"].to_numpy()[cm]).any() else float("nan"),
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


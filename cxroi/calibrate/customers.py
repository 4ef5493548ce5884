"""The one-row-per-customer shape: complained vs not, and baselines."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter

from cxroi.calibrate.baselines import _annual
from cxroi.calibrate.stats import Z95, _pct, _row, _summary
from cxroi.data import CompanyData, Options
from cxroi.errors import CalibrationError


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


"""Resolution time -> leaving: Cox hazard ratio per doubling (the verdict statistic)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from lifelines.exceptions import ConvergenceError

from cxroi.calibrate.prepare import Prepared
from cxroi.calibrate.stats import (
    DOES_NOT,
    PREDICTS,
    _pct,
    _row,
    _summary,
    three_way,
)
from cxroi.errors import CalibrationError


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

    This hazard ratio is the *direct* (total) effect written to the scenario as
    ``churn_hazard_ratio``: it already contains every path from resolution time to
    leaving, through emotion or not.

    Verdict (three-way): *raises / lowers the hazard* when the 95% interval excludes 1;
    *no useful link* only when the whole interval lies within :data:`HR_MARGIN`
    (0.95-1.05 per doubling: at most a 5% change in the hazard); otherwise *not shown
    with these data*.
    """

    #: Hazard ratios per doubling too small to matter: the interval must lie within this
    #: band for the verdict "does not raise the hazard".
    HR_MARGIN = (0.95, 1.05)

    def fit(self, prep: Prepared) -> ResolutionChurnFitter:
        c = prep.complaints
        a = prep.accounts
        if len(c) < 20:
            raise CalibrationError("fewer than 20 resolved complaints: cannot fit resolution time -> churn")
        c = c.loc[c["settled"]]  # opened early enough to be resolved by the data's end (see prepare)
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
        self.log_hr_, self.log_hr_se_ = float(s["coef"]), float(s["se(coef)"])
        ev = df.groupby("segment")["churned"].sum()
        self.segments_without_leavers_ = sorted(str(k) for k, v in ev.items() if v == 0)
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
        state = self.state
        if state == PREDICTS and lo > 1:
            return f"Each doubling of complaint resolution time raises the monthly hazard of leaving by {_pct(hr - 1)} {tail}."
        if state == PREDICTS:
            return f"Each doubling of complaint resolution time lowers the monthly hazard of leaving by {_pct(1 - hr)} {tail} - slower is not worse here; check the data."
        m_lo, m_hi = self.HR_MARGIN
        if state == DOES_NOT:
            return (f"Resolution time does not drive leaving here: the interval rules out any effect beyond a "
                    f"{m_lo:.2f}-{m_hi:.2f} hazard ratio per doubling {tail}.")
        return (f"A link between complaint resolution time and leaving is not shown with these data (n={self.n_:,} "
                f"accounts): the interval allows no effect and an effect beyond {m_lo:.2f}-{m_hi:.2f} per doubling {tail}.")

    @property
    def state(self) -> str:
        """``predicts`` / ``not shown`` / ``does not predict`` (see the class docstring)."""
        return three_way(self.low_, self.high_, 1.0, *self.HR_MARGIN)

    @property
    def summary(self) -> pd.DataFrame:
        return _summary([_row("resolution -> churn: hazard ratio per doubling", self.hazard_ratio_,
                              self.low_, self.high_, self.n_, self.verdict)])


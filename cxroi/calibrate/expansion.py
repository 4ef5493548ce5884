"""Resolution time -> buying more: the direct (total) effect, ``expansion_rate_ratio``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxroi.calibrate.glm import design, poisson_ratio
from cxroi.calibrate.prepare import Prepared
from cxroi.calibrate.stats import DOES_NOT, PREDICTS, _pct, _row, _summary, three_way
from cxroi.errors import CalibrationError


class ExpansionRateFitter:
    """Rate ratio of buying more per doubling of an account's typical resolution time.

    Poisson model (statsmodels GLM, log link) of the number of expansion orders of each
    account with at least one resolved complaint over its months at risk in the window:

    .. math:: \\log E[\\text{expansions}_i] = \\log \\text{months}_i + \\alpha_{s(i)}
              + \\beta\\,\\bar z_i + \\gamma \\log r_i + \\delta \\log(1 + c_i)

    with :math:`\\bar z_i` the mean of :math:`\\log_2(T_j / T_{today})` over the account's
    complaints, :math:`r_i` its size (revenue), :math:`c_i` its complaints per year and
    :math:`\\alpha_s` a segment effect: the same adjustment as the Cox model of leaving.
    ``expansion_rate_ratio`` :math:`= e^{\\beta}`: the monthly rate of buying more of an
    account whose complaints take twice as long, relative to one like it. With
    account-level covariates this is the account-month Poisson model summed over months;
    standard errors are clustered by account (robust to over-dispersion). The rate ratio
    is used as a ratio of monthly probabilities (expansions are rare in a month).
    """

    #: Rate ratios per doubling too small to matter (three-way verdict).
    RR_MARGIN = (0.95, 1.05)

    def fit(self, prep: Prepared) -> ExpansionRateFitter:
        if not prep.has_expansion_products:
            seen = ", ".join(prep.products_seen[:8]) or "none"
            raise CalibrationError(
                f"none of the configured expansion products ({', '.join(prep.expansion_products)}) appear in the "
                f"orders (products found: {seen}): buying more cannot be measured; fix: list the products that "
                "count as buying more under options.expansion_products in the mapping")
        a, c, e = prep.accounts, prep.complaints, prep.expansions
        if c.empty:
            raise CalibrationError("no resolved complaints: cannot relate resolution time to buying more")
        c = c.loc[c["settled"]]  # as in the Cox model
        g = c.groupby("acc")
        acc = g.size().index.to_numpy()
        n_c = g.size().to_numpy()
        zbar = g["z"].mean().to_numpy()
        entry, exit_m = a["entry"].to_numpy()[acc], a["exit"].to_numpy()[acc]
        months = (exit_m - entry + 1).astype(float)
        ea, em = e["acc"].to_numpy(), e["m"].to_numpy()
        at_risk = (em >= a["entry"].to_numpy()[ea]) & (em <= a["exit"].to_numpy()[ea])
        counts = np.bincount(ea[at_risk], minlength=len(a))[acc]
        if counts.sum() < 10:
            raise CalibrationError(f"only {int(counts.sum())} expansion orders by accounts with complaints: need 10")
        X = design(zbar, {"log_rev": a["log_rev"].to_numpy()[acc],
                          "log_complaints_per_year": np.log1p(n_c / (months / 12.0))},
                   a["segment"].to_numpy()[acc])
        self.fit_, self.model_ = poisson_ratio(counts, X, acc, offset=np.log(months))
        self.rate_ratio_ = self.fit_.ratio
        self.low_, self.high_ = self.fit_.interval
        self.log_rr_, self.log_rr_se_ = self.fit_.log_ratio, self.fit_.se
        self.n_ = self.fit_.n
        self.expansions_ = int(counts.sum())
        self.account_months_ = int(months.sum())
        return self

    @property
    def state(self) -> str:
        return three_way(self.low_, self.high_, 1.0, *self.RR_MARGIN)

    @property
    def verdict(self) -> str:
        rr, lo, hi = self.rate_ratio_, self.low_, self.high_
        tail = (f"(rate ratio {rr:.2f}, 95% CI {lo:.2f}-{hi:.2f}, adjusted for segment, size and complaint rate; "
                f"{self.n_:,} accounts, {self.expansions_:,} expansions)")
        if self.state == PREDICTS:
            word = "lowers" if rr < 1 else "raises"
            return f"Each doubling of complaint resolution time {word} the monthly rate of buying more by {_pct(abs(1 - rr))} {tail}."
        m_lo, m_hi = self.RR_MARGIN
        if self.state == DOES_NOT:
            return (f"Resolution time does not drive buying more here: the interval rules out any effect beyond a "
                    f"{m_lo:.2f}-{m_hi:.2f} rate ratio per doubling {tail}.")
        return f"A link between resolution time and buying more is not shown with these data (n={self.n_:,} accounts) {tail}."

    @property
    def summary(self) -> pd.DataFrame:
        return _summary([_row("resolution -> buying more: rate ratio per doubling", self.rate_ratio_, self.low_,
                              self.high_, self.n_, self.verdict)])

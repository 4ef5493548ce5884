"""Resolution time -> buying more: the direct (total) effect, ``expansion_rate_ratio``."""

from __future__ import annotations

import pandas as pd

from cxroi.calibrate.glm import poisson_ratio
from cxroi.calibrate.panel import windowed_fit
from cxroi.calibrate.prepare import Prepared
from cxroi.calibrate.stats import DOES_NOT, PREDICTS, _pct, _row, _summary, three_way
from cxroi.errors import CalibrationError


class ExpansionRateFitter:
    """Rate ratio of buying more per doubling of an account's recent resolution time.

    Poisson model (log link, :mod:`cxroi.calibrate.glm`) of expansion orders in each *exposed*
    account-month (:func:`cxroi.calibrate.panel.exposure_panel`):

    .. math:: \\log E[\text{expansions}_{it}] = \alpha_{s(i)} + \tau_{y(t)} + \beta\\,\bar z_{it}
              + \\gamma \\log r_i + \\delta \\log k_{it}

    with :math:`\bar z_{it}` the mean :math:`\\log_2(T_j / T_{today})` over the complaints
    resolved in the 12 months up to *t*, :math:`k_{it}` their number, :math:`r_i` the
    account's size, a segment and a window-year effect: the same adjustment as the model
    of leaving. ``expansion_rate_ratio`` :math:`= e^{\beta}`: the monthly rate of buying
    more of an exposed account whose complaints take twice as long, relative to one like
    it. Standard errors clustered by account (robust to over-dispersion and to an
    account's months not being independent). The rate ratio is used as a ratio of monthly
    probabilities (expansions are rare in a month).
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
        if prep.complaints.empty:
            raise CalibrationError("no resolved complaints: cannot relate resolution time to buying more")
        def fit(p: pd.DataFrame, X: pd.DataFrame) -> tuple[pd.DataFrame, tuple]:
            if p["expansions"].sum() < 10:
                raise CalibrationError(f"only {int(p['expansions'].sum())} expansion orders within a year of a "
                                       "complaint: need 10")
            return p, poisson_ratio(p["expansions"].to_numpy(), X, p["acc"].to_numpy())

        # the exposure window chosen by likelihood (cxroi.calibrate.panel.choose_window)
        self.window_, (p, (self.fit_, self.coefficients_)) = windowed_fit(prep, "expansions", fit)
        self.window_months_ = self.window_.window
        self.exposed_share_ = dict(self.window_.exposed_share)
        self.rate_ratio_ = self.fit_.ratio
        self.low_, self.high_ = self.fit_.interval
        self.log_rr_, self.log_rr_se_ = self.fit_.log_ratio, self.fit_.se
        self.n_ = int(p["acc"].nunique())
        self.expansions_ = int(p["expansions"].sum())
        self.account_months_ = len(p)
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

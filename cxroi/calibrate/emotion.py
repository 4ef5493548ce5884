"""Resolution time -> emotion: positive_share_today and odds_ratio (logistic)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from cxroi.calibrate.prepare import Prepared
from cxroi.calibrate.stats import Z95, _pct, _row, _sigmoid, _summary, logistic_fit
from cxroi.errors import CalibrationError


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


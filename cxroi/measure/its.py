r"""Interrupted time series: everyone went live on one date.

With no group left unchanged there is no control group; the counterfactual is the
pre-period's own path carried forward. :class:`InterruptedTimeSeries` fits the monthly
series :math:`\bar y_t` (all accounts, weights :math:`n_t`) with statsmodels WLS

.. math::

    \bar y_t = \alpha + \beta\, t + \sum_{k=1}^{2} \big[a_k \cos(2\pi k\, m_t / 12)
        + b_k \sin(2\pi k\, m_t / 12)\big] + \delta\, \mathbf 1[t \ge t_0] + \varepsilon_t

(a linear trend, seasonality by two yearly harmonics of the calendar month :math:`m_t`,
and a level change :math:`\delta` at the go-live :math:`t_0`), with Newey-West (HAC)
standard errors for autocorrelated months (``maxlags`` :math:`\lfloor 4 (T/100)^{2/9}
\rfloor`, at least 1). :math:`\delta` is the effect. The per-month gap between the observed
series and the counterfactual (the fit without :math:`\delta`) is the event-study view;
its pre-period part shows how well the trend and seasonality explain the months before.
The placebo fits the same model on the pre-period only, with a fake go-live ``shift``
months before the real one.

An ITS cannot tell the initiative from anything else that changed in the same month
(a price change, a new product, a reorganisation); the report says so.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import statsmodels.api as sm

from cxroi.errors import MeasurementError
from cxroi.measure.did import Estimate, _lincom


def _design(t: np.ndarray, month_of_year: np.ndarray, go_live: int) -> np.ndarray:
    cols = [np.ones_like(t, dtype=float), t.astype(float)]
    for k in (1, 2):
        ang = 2 * np.pi * k * month_of_year / 12.0
        cols += [np.cos(ang), np.sin(ang)]
    cols.append((t >= go_live).astype(float))
    return np.column_stack(cols)


class InterruptedTimeSeries:
    """Level change at one go-live date, against trend and seasonality, with HAC errors.

    Attributes (after :meth:`fit`)
    ------------------------------
    att_ : Estimate
        The level change :math:`\\delta` with its interval.
    event_study_ : DataFrame
        Per month: ``t``, ``month``, ``event_time``, ``observed``, ``counterfactual``,
        ``gap`` (observed - counterfactual), ``weight``.
    pretrend_p_ : float
        p-value of the placebo level change (nan when the pre-period is too short).
    result_ : statsmodels results
    """

    def __init__(self, alpha: float = 0.05, min_pre: int = 6):
        self.alpha, self.min_pre = float(alpha), int(min_pre)

    def fit(self, series: pd.DataFrame, go_live: int) -> InterruptedTimeSeries:
        """Fit on a monthly ``series`` (``t``, ``month`` Timestamp, ``y``, ``weight``)."""
        s = series[series["weight"] > 0].sort_values("t")
        t = s["t"].to_numpy(int)
        if (t < go_live).sum() < self.min_pre or (t >= go_live).sum() < 1:
            raise MeasurementError(
                f"the interrupted time series needs at least {self.min_pre} months before and "
                f"one after the go-live; the data have {(t < go_live).sum()} before and "
                f"{(t >= go_live).sum()} after. Fix: give data covering more months")
        moy = pd.to_datetime(s["month"]).dt.month.to_numpy()
        X = _design(t, moy, go_live)
        maxlags = max(1, int(math.floor(4 * (len(t) / 100) ** (2 / 9))))
        res = sm.WLS(s["y"].to_numpy(float), X, weights=s["weight"].to_numpy(float)).fit(
            cov_type="HAC", cov_kwds={"maxlags": maxlags}, use_t=True)
        self.result_, self.maxlags_ = res, maxlags
        r = np.zeros(X.shape[1])
        r[-1] = 1.0
        self.att_ = _lincom(res, r, self.alpha)
        cf = X.copy()
        cf[:, -1] = 0.0
        counterfactual = cf @ res.params
        self.event_study_ = pd.DataFrame({
            "t": t, "month": s["month"].to_numpy(), "event_time": t - go_live,
            "observed": s["y"].to_numpy(float), "counterfactual": counterfactual,
            "gap": s["y"].to_numpy(float) - counterfactual, "weight": s["weight"].to_numpy(float)})
        post = t >= go_live
        self.pre_mean_ = float(np.average(s["y"][~post], weights=s["weight"][~post]))
        self.post_mean_ = float(np.average(s["y"][post], weights=s["weight"][post]))
        self.go_live_ = go_live
        self.pretrend_p_ = float("nan")
        return self

    def placebo(self, series: pd.DataFrame, go_live: int, shift: int = 6
                ) -> InterruptedTimeSeries | None:
        """The same model on the months before the go-live, with a fake go-live ``shift``
        months earlier; ``None`` when too few months remain."""
        pre = series[series["t"] < go_live]
        try:
            return InterruptedTimeSeries(self.alpha, self.min_pre).fit(pre, go_live - shift)
        except MeasurementError:
            return None

    @property
    def summary(self) -> pd.DataFrame:
        a = self.att_
        return pd.DataFrame([{"design": "interrupted time series (trend + seasonality, HAC)",
                              "estimate": a.estimate, "se": a.se, "low": a.low, "high": a.high,
                              "p": a.p, "hac_maxlags": self.maxlags_}])


def company_series(cells: pd.DataFrame, months: pd.DatetimeIndex) -> pd.DataFrame:
    """Group-month cells (``group``, ``t``, ``y``, ``weight``) to one company-wide monthly
    series (weighted means)."""
    c = cells.assign(yw=cells["y"] * cells["weight"])
    g = c.groupby("t", as_index=False)[["yw", "weight"]].sum()
    g = g[g["weight"] > 0]
    return pd.DataFrame({"t": g["t"].to_numpy(), "month": months[g["t"].to_numpy()],
                         "y": (g["yw"] / g["weight"]).to_numpy(), "weight": g["weight"].to_numpy()})


def naive_its(series: pd.DataFrame, go_live: int, alpha: float = 0.05) -> Estimate:
    """Before/after means of the series, no trend, no seasonality (HAC errors)."""
    s = series[series["weight"] > 0]
    X = np.column_stack([np.ones(len(s)), (s["t"] >= go_live).astype(float)])
    res = sm.WLS(s["y"].to_numpy(float), X, weights=s["weight"].to_numpy(float)).fit(
        cov_type="HAC", cov_kwds={"maxlags": 2}, use_t=True)
    return _lincom(res, np.array([0.0, 1.0]), alpha)

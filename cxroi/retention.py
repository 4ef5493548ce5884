r"""Churn that falls with tenure: the shifted-beta-geometric (sBG) cohort model.

Fader & Hardie (2007), "How to project customer retention", *Journal of Interactive
Marketing* 21(1). Each account leaves at the end of a period (a renewal) with its own
probability :math:`\theta`; across accounts :math:`\theta \sim \mathrm{Beta}(\alpha, \beta)`.
The risky leave first, so a cohort's churn falls as it ages although no account changes:

.. math::

    P(T = t) = \frac{B(\alpha + 1, \beta + t - 1)}{B(\alpha, \beta)}, \qquad
    S(t) = \frac{B(\alpha, \beta + t)}{B(\alpha, \beta)}, \qquad
    r(t) = \frac{S(t)}{S(t - 1)} = \frac{\beta + t - 1}{\alpha + \beta + t - 1}

Accounts that have already stayed :math:`n_0` periods have
:math:`\theta \sim \mathrm{Beta}(\alpha, \beta + n_0)`: the same formulas with
:math:`\beta + n_0`. :class:`ShiftedBetaGeometric` fits :math:`\alpha, \beta` by maximum
likelihood, lifelines style; :func:`fit_segments` fits one per segment (calibration calls it
with account tenure).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.special import betaln

from cxroi.errors import CalibrationError
from cxroi.scenario import Segment

Array = NDArray[np.float64]


def sbg_survival(t: ArrayLike, alpha: float, beta: float, tenure: float = 0.0) -> Array:
    r"""Share of a cohort still there after ``t`` periods (``t`` may be fractional).

    .. math:: S(t \mid n_0) = B(\alpha, \beta + n_0 + t) / B(\alpha, \beta + n_0)

    ``tenure`` :math:`n_0` is the periods the accounts have already stayed.
    """
    t = np.asarray(t, float)
    return np.exp(betaln(alpha, beta + tenure + t) - betaln(alpha, beta + tenure))


def _loglik(log_ab: Array, t: Array, churned: Array, entry: Array, w: Array) -> float:
    a, b = np.exp(log_ab)
    # left truncation: an account seen only from tenure e on is conditioned on S(e)
    ll = (np.where(churned, betaln(a + 1.0, b + t - 1.0), betaln(a, b + t))
          - betaln(a, b + entry))
    return float(w @ ll)


#: Bounds of alpha and beta in the fit. At the upper bound the data show no heterogeneity:
#: every account churns alike (a constant rate); beyond it the Beta functions lose precision.
BOUNDS = (1e-4, 1e6)


@dataclass
class ShiftedBetaGeometric:
    """Shifted-beta-geometric retention model, fitted by maximum likelihood.

    Lifelines style: :meth:`fit` returns ``self``; fitted values end in ``_``.

    Attributes
    ----------
    alpha_, beta_ : float
        The Beta heterogeneity of the per-period churn probability.
    summary : pandas.DataFrame
        ``coef``, ``se(coef)`` and the ``coef lower 95%`` / ``coef upper 95%`` interval of
        ``alpha`` and ``beta`` (Wald interval on the log scale, from the observed information).
    log_likelihood_ : float
    variance_matrix_ : ndarray
        Covariance of ``(log alpha, log beta)`` (NaN when ``at_bound_``).
    at_bound_ : bool
        The data show no heterogeneity (alpha, beta at :data:`BOUNDS`' upper end): churn does
        not fall with tenure, a constant rate describes them.

    Examples
    --------
    >>> m = ShiftedBetaGeometric().fit_cohort([1000, 631, 468, 382, 326, 289, 262, 241])
    >>> round(m.alpha_, 3), round(m.beta_, 3)
    (0.704, 1.182)
    """

    alpha: float = 0.05  # 1 - coverage of the intervals, as lifelines' ``alpha``

    def fit(self, durations: ArrayLike, churned: ArrayLike, weights: ArrayLike | None = None,
            entry: ArrayLike | None = None) -> ShiftedBetaGeometric:
        """Fit to accounts: ``durations`` in whole periods (renewals) each was observed, and
        whether it ``churned`` at the end of its last period (else still there: censored).

        A churned account's duration is the period it left in (1 = at the first renewal);
        a censored one's, the periods it has completed (0 allowed). ``weights`` count
        identical accounts (cohort tables). ``entry`` (as lifelines' ``entry``): periods an
        account had already completed when the data start (left truncation; accounts that
        left before then are not in the data), default 0.
        """
        t = np.asarray(durations, float).ravel()
        c = np.asarray(churned).astype(bool).ravel()
        w = np.ones_like(t) if weights is None else np.asarray(weights, float).ravel()
        e = np.zeros_like(t) if entry is None else np.asarray(entry, float).ravel()
        if not (t.shape == c.shape == w.shape == e.shape):
            raise CalibrationError("sBG fit: durations, churned, weights and entry must have the "
                                   f"same length (got {t.size}, {c.size}, {w.size}, {e.size})")
        bad = ~np.isfinite(t) | (t != np.round(t)) | (t < 0) | (c & (t < 1))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise CalibrationError(
                f"sBG fit: duration {t[i]} at row {i} is not a whole number of periods "
                "(a churned account needs at least 1). Fix: give durations in whole renewal "
                "periods, e.g. years completed")
        late = ~np.isfinite(e) | (e < 0) | (e > t) | (c & (e >= t))
        if late.any():
            i = int(np.flatnonzero(late)[0])
            raise CalibrationError(
                f"sBG fit: entry {e[i]} at row {i} is not between 0 and the duration {t[i]} "
                "(an account that churned must have entered before the period it left in)")
        if (w < 0).any() or not np.isfinite(w).all():
            raise CalibrationError("sBG fit: weights must be non-negative counts")
        if w[c].sum() == 0:
            raise CalibrationError("sBG fit: no account churned, so the churn curve cannot be "
                                   "estimated. Fix: use a longer history or the constant rate")
        keep = w > 0
        self.n_ = float(w[keep].sum())
        self.churned_ = float(w[keep & c].sum())
        # the likelihood depends on (duration, churned, entry) only: sum equal rows' weights
        key, inv = np.unique(np.stack([t[keep], c[keep], e[keep]], axis=1), axis=0,
                             return_inverse=True)
        w = np.bincount(inv.ravel(), weights=w[keep])
        t, c, e = key[:, 0], key[:, 1].astype(bool), key[:, 2]

        def neg(x: Array) -> float:
            return -_loglik(x, t, c, e, w)

        bounds = [tuple(np.log(BOUNDS))] * 2
        best = None
        from scipy.optimize import minimize  # here, not at import: 0.3 s of every cxroi start

        for start in ((0.0, 0.0), (-1.0, 1.0), (1.0, 2.0), (3.0, 6.0)):
            r = minimize(neg, np.array(start), method="L-BFGS-B", bounds=bounds,
                         options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 2000})
            if best is None or r.fun < best.fun:
                best = r
        assert best is not None
        x = best.x
        self.at_bound_ = bool(np.any(x >= np.log(BOUNDS[1]) - 1e-3))
        from statsmodels.tools.numdiff import approx_hess3

        try:
            cov = np.linalg.inv(approx_hess3(x, neg))
        except np.linalg.LinAlgError:
            cov = np.full((2, 2), np.nan)
        if self.at_bound_:  # no heterogeneity in the data: the interval is not defined
            cov = np.full((2, 2), np.nan)
        self.log_alpha_beta_ = x
        self.alpha_, self.beta_ = (float(v) for v in np.exp(x))
        self.log_likelihood_ = -float(neg(x))
        self.variance_matrix_ = cov
        return self

    def fit_cohort(self, alive: ArrayLike) -> ShiftedBetaGeometric:
        """Fit to a cohort table: accounts still there at the start and after each period
        (``alive[0]`` the starting size). The last count is censored."""
        n = np.asarray(alive, float)
        if n.ndim != 1 or n.size < 2 or np.any(np.diff(n) > 0) or n[-1] < 0:
            raise CalibrationError("sBG fit: a cohort is a falling list of counts, starting "
                                   "with the cohort's size, e.g. [1000, 631, 468, ...]")
        lost = -np.diff(n)
        periods = np.arange(1, n.size, dtype=float)
        return self.fit(np.concatenate([periods, [n.size - 1]]),
                        np.concatenate([np.ones(lost.size), [0.0]]),
                        np.concatenate([lost, [n[-1]]]))

    # ---- fitted curves ---------------------------------------------------------------

    def _check(self) -> None:
        if not hasattr(self, "alpha_"):
            raise CalibrationError("sBG: call fit() or fit_cohort() first")

    def survival_function(self, t: ArrayLike, tenure: float = 0.0) -> Array:
        """Share still there after ``t`` periods, for accounts ``tenure`` periods old now."""
        self._check()
        return sbg_survival(t, self.alpha_, self.beta_, tenure)

    def retention_rate(self, t: ArrayLike) -> Array:
        r"""Retention from period :math:`t - 1` to :math:`t`:
        :math:`(\beta + t - 1) / (\alpha + \beta + t - 1)`; rises with :math:`t`."""
        self._check()
        t = np.asarray(t, float)
        return (self.beta_ + t - 1.0) / (self.alpha_ + self.beta_ + t - 1.0)

    @property
    def summary(self) -> pd.DataFrame:
        """Estimates with standard errors and intervals (lifelines' column names)."""
        self._check()
        from scipy.stats import norm  # here, not at import: 0.3 s of every cxroi start

        z = norm.ppf(1.0 - self.alpha / 2.0)
        se_log = np.sqrt(np.diag(self.variance_matrix_))
        coef = np.exp(self.log_alpha_beta_)
        pct = f"{round((1 - self.alpha) * 100)}%"
        return pd.DataFrame({
            "coef": coef,
            "se(coef)": coef * se_log,  # delta method
            f"coef lower {pct}": np.exp(self.log_alpha_beta_ - z * se_log),
            f"coef upper {pct}": np.exp(self.log_alpha_beta_ + z * se_log),
        }, index=pd.Index(["alpha", "beta"], name="param"))

    def churn_next_year(self, tenure_months: float = 0.0, period_months: int = 12) -> float:
        """Churn over the next 12 months for accounts ``tenure_months`` old: what a scenario's
        ``segments[].churn`` states beside its ``retention`` curve."""
        self._check()
        return float(1.0 - sbg_survival(12.0 / period_months, self.alpha_, self.beta_,
                                        tenure_months / period_months))

    def __repr__(self) -> str:
        if not hasattr(self, "alpha_"):
            return "<ShiftedBetaGeometric: not fitted>"
        return (f"<ShiftedBetaGeometric: alpha={self.alpha_:.4g}, beta={self.beta_:.4g}, "
                f"{self.n_:,.0f} accounts, {self.churned_:,.0f} churned>")


def fit_segments(durations: ArrayLike, churned: ArrayLike, segments: ArrayLike,
                 weights: ArrayLike | None = None, entry: ArrayLike | None = None
                 ) -> dict[Hashable, ShiftedBetaGeometric]:
    """One :class:`ShiftedBetaGeometric` per segment (same inputs as
    :meth:`ShiftedBetaGeometric.fit`, including ``entry`` for accounts first seen already
    some periods old, plus each account's segment).

    Raises
    ------
    CalibrationError
        Naming the segment that cannot be fitted (e.g. nobody in it churned).
    """
    seg = pd.Series(np.asarray(segments)).reset_index(drop=True)
    t = np.asarray(durations, float)
    c = np.asarray(churned)
    w = np.ones_like(t) if weights is None else np.asarray(weights, float)
    e = np.zeros_like(t) if entry is None else np.asarray(entry, float)
    out: dict[Hashable, ShiftedBetaGeometric] = {}
    for name, idx in seg.groupby(seg, sort=True).groups.items():
        rows = np.asarray(idx)
        try:
            out[name] = ShiftedBetaGeometric().fit(t[rows], c[rows], w[rows], e[rows])
        except CalibrationError as exc:
            raise CalibrationError(f"segment '{name}': {exc}") from None
    return out


def baseline_hazard(seg: Segment, horizon: int) -> tuple[Array, Array]:
    r"""Monthly baseline hazard and survival of a segment over months 1..H.

    Constant churn :math:`c`: :math:`h = 1 - (1 - c)^{1/12}`, :math:`S(t) = (1 - h)^t`.
    Shifted-beta-geometric (``segment.retention``), tenure :math:`n_0` periods of :math:`P`
    months today, survival from now

    .. math:: S(t) = B(\alpha, \beta + n_0 + t/P) \,/\, B(\alpha, \beta + n_0),
              \qquad h(t) = 1 - S(t) / S(t - 1)

    (exact at period ends; in between, each account's own per-period churn probability
    :math:`\theta` is spread evenly over the months, :math:`(1 - \theta)^{t/P}`).
    """
    t = np.arange(1, horizon + 1, dtype=float)
    ret = seg.retention
    if ret is None:
        h = np.full(horizon, 1.0 - (1.0 - seg.churn) ** (1.0 / 12.0))
        # a running product, as the initiative arm's: equal arms cancel exactly
        return h, np.cumprod(1.0 - h)
    surv = sbg_survival(np.concatenate([[0.0], t]) / ret.period_months, ret.alpha, ret.beta,
                        ret.tenure_months / ret.period_months)
    return 1.0 - surv[1:] / surv[:-1], surv[1:]

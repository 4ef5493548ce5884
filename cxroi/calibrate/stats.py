"""Small statistical helpers shared by the fitters: logistic fits, concordance, summary rows."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

Z95 = 1.959963984540054
SUMMARY_COLUMNS = ["name", "estimate", "low", "high", "n", "verdict"]

def _sigmoid(x: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


def _pct(x: float, digits: int = 0) -> str:
    return f"{100 * x:.{digits}f}%"


def _fmt(x: float, digits: int = 2) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:,.{digits}f}"


def logistic_fit(X: np.ndarray, y: np.ndarray, w: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Unpenalised logistic regression (scikit-learn) with its Wald covariance.

    Returns ``(beta, cov)`` with ``beta = [intercept, coef...]`` and
    :math:`\\mathrm{cov} = (X^\\top W X)^{-1}`, :math:`W = \\mathrm{diag}(w\\,p(1-p))`.
    """
    X = np.asarray(X, dtype=float).reshape(len(y), -1)
    lr = LogisticRegression(C=np.inf, solver="newton-cholesky", max_iter=100, tol=1e-8)
    lr.fit(X, y, sample_weight=w)
    beta = np.concatenate([lr.intercept_, lr.coef_.ravel()])
    Xd = np.column_stack([np.ones(len(X)), X])
    p = _sigmoid(Xd @ beta)
    ww = p * (1 - p) * (1.0 if w is None else w)
    H = Xd.T @ (Xd * ww[:, None])
    try:
        cov = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        cov = np.full_like(H, np.nan)
    return beta, cov


def concordance_table(table: np.ndarray) -> np.ndarray:
    """Harrell's concordance from count tables ``[..., score group, outcome group]``.

    With groups in ascending order,

    .. math:: C = \\frac{\\sum_{g>g',k>k'} n_{gk} n_{g'k'} + \\tfrac12 \\sum_{g,k>k'}
              n_{gk} n_{gk'}}{\\sum_{k>k'} n_{\\cdot k} n_{\\cdot k'}}

    the probability that of two customers with different outcomes the one with the better
    outcome has the higher score (ties in score count one half). For a binary outcome it is
    the AUC. Works on a stack of tables (bootstrap replicates) at once.
    """
    t = np.asarray(table, dtype=float)
    below_k = np.cumsum(t, axis=-1) - t  # same score, lower outcome
    cg = np.cumsum(t, axis=-2) - t  # lower score group, same outcome group
    cgk = np.cumsum(cg, axis=-1) - cg  # lower score and lower outcome
    conc = (t * cgk).sum(axis=(-2, -1))
    ties = (t * below_k).sum(axis=(-2, -1))
    col = t.sum(axis=-2)
    pairs = (col * (np.cumsum(col, axis=-1) - col)).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (conc + 0.5 * ties) / pairs


def _groups(x: np.ndarray, max_groups: int) -> np.ndarray:
    """Ascending integer groups of ``x`` (its distinct values, or quantile bins)."""
    vals, inv = np.unique(x, return_inverse=True)
    if len(vals) <= max_groups:
        return inv
    ranks = pd.Series(x).rank(method="average").to_numpy()
    return np.minimum((ranks - 0.5) / len(x) * max_groups, max_groups - 1).astype(int)


def concordance_ci(score: np.ndarray, outcome: np.ndarray, rng: np.random.Generator,
                   n_boot: int = 1000) -> tuple[float, float, float]:
    """Concordance of ``score`` with ``outcome`` and a percentile bootstrap 95% interval.

    Rows are independent customers; the bootstrap resamples them (multinomially over the
    score x outcome table, which is exact for discrete scores).
    """
    g = _groups(score, 101)
    k = _groups(outcome, 50)
    G, K = g.max() + 1, k.max() + 1
    tab = np.bincount(g * K + k, minlength=G * K).astype(float)
    c = float(concordance_table(tab.reshape(G, K)))
    boots = rng.multinomial(len(score), tab / tab.sum(), size=n_boot).reshape(n_boot, G, K)
    cb = concordance_table(boots)
    cb = cb[np.isfinite(cb)]
    if cb.size < 10:
        return c, float("nan"), float("nan")
    lo, hi = np.percentile(cb, [2.5, 97.5])
    return c, float(lo), float(hi)


def _row(name: str, est: float, low: float, high: float, n: int, verdict: str) -> dict[str, Any]:
    return {"name": name, "estimate": float(est), "low": float(low), "high": float(high),
            "n": int(n), "verdict": verdict}


def _summary(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)



# ----------------------------------------------------------------------------------------
# Three-way verdicts and precision-weighted combination with a prior
# ----------------------------------------------------------------------------------------

#: The three answers a verdict can give (issue 10): the effect is shown, the data cannot
#: tell, or the interval rules out any useful effect.
PREDICTS, NOT_SHOWN, DOES_NOT = "predicts", "not shown", "does not predict"


def three_way(low: float, high: float, null: float, margin_low: float, margin_high: float) -> str:
    """Classify a 95% interval against a null value and a margin of useful effects.

    Returns :data:`PREDICTS` when the interval excludes the null (either direction: the
    caller words the wrong-way case), :data:`DOES_NOT` when it contains the null *and* lies
    wholly inside ``[margin_low, margin_high]`` (every value it allows is too small to
    matter), else :data:`NOT_SHOWN` (the data cannot tell).

    Parameters
    ----------
    low, high : float
        The 95% interval.
    null : float
        The no-effect value (0.5 for a concordance, 1 for a ratio).
    margin_low, margin_high : float
        The band of effects too small to be useful, e.g. ``0.45, 0.55`` for C or
        ``0.95, 1.05`` for a hazard ratio.
    """
    if not (np.isfinite(low) and np.isfinite(high)):
        return NOT_SHOWN
    if low > null or high < null:
        return PREDICTS
    if margin_low <= low and high <= margin_high:
        return DOES_NOT
    return NOT_SHOWN


@dataclass(frozen=True)
class Combined:
    """A company estimate combined with a benchmark prior by precision (natural scale).

    Attributes
    ----------
    mean, sd : float
        Posterior mean and standard deviation on the natural scale (log for ratios).
    prior_weight : float
        Share of the posterior precision that came from the prior,
        :math:`w = \\sigma_d^2 / (\\sigma_d^2 + \\sigma_p^2)`.
    """

    mean: float
    sd: float
    prior_weight: float

    def interval(self, z: float = Z95) -> tuple[float, float]:
        return self.mean - z * self.sd, self.mean + z * self.sd


def combine_precision(mu_d: float, sd_d: float, mu_p: float, sd_p: float) -> Combined:
    """Normal-normal update: the company's estimate :math:`(\\mu_d, \\sigma_d)` and a prior
    :math:`(\\mu_p, \\sigma_p)`, both on the link's natural scale.

    .. math:: \\hat\\mu = \\frac{\\mu_d/\\sigma_d^2 + \\mu_p/\\sigma_p^2}{1/\\sigma_d^2 + 1/\\sigma_p^2},
              \\qquad \\hat\\sigma^2 = \\frac{1}{1/\\sigma_d^2 + 1/\\sigma_p^2}

    the posterior of a normal likelihood (the estimate's sampling distribution) with a
    normal prior. Weak data (large :math:`\\sigma_d`) leave the prior nearly unchanged;
    strong data override it.
    """
    if not (np.isfinite(sd_p) and sd_p > 0):
        return Combined(float(mu_d), float(sd_d), 0.0)
    if not (np.isfinite(sd_d) and sd_d > 0):
        return Combined(float(mu_p), float(sd_p), 1.0)
    wd, wp = 1.0 / sd_d**2, 1.0 / sd_p**2
    return Combined(float((wd * mu_d + wp * mu_p) / (wd + wp)), float(1.0 / math.sqrt(wd + wp)),
                    float(wp / (wd + wp)))

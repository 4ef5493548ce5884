"""Survey answers of the demo company: ordered-normal answer scales shifted to realise an exact gap."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import optimize, stats

from cxroi.demo.parameters import _sigmoid


def _category_probs(mu: float, sd: float, lo: int, hi: int) -> np.ndarray:
    cuts = np.arange(lo, hi) + 0.5
    cdf = stats.norm.cdf((cuts - mu) / sd)
    return np.diff(np.concatenate([[0.0], cdf, [1.0]]))


def _nps_of(mu: float, sd: float) -> float:
    p = _category_probs(mu, sd, 0, 10)
    return 100.0 * (p[9:].sum() - p[:7].sum())


def _mean_of(mu: float, sd: float, lo: int, hi: int) -> float:
    return float(_category_probs(mu, sd, lo, hi) @ np.arange(lo, hi + 1))


def _half_shift(gap_fn: Any, target: float) -> float:
    """Half-distance :math:`\\delta` with ``gap_fn(delta) == target`` (0 for a zero gap)."""
    if target <= 0:
        return 0.0
    return float(optimize.brentq(lambda d: gap_fn(d) - target, 0.0, 20.0, xtol=1e-10))


NPS_SD, CSAT_SD, POST_NPS_MU, POST_CSAT_MU = 2.0, 1.0, 6.5, 3.4


def _draw_ordered(rng: np.random.Generator, mu: np.ndarray, sd: float, lo: int, hi: int) -> np.ndarray:
    return np.clip(np.floor(mu + sd * rng.standard_normal(mu.shape) + 0.5), lo, hi)


def _draw_post_ratings(rng: np.random.Generator, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(confident, frustrated) with ``confident > frustrated`` exactly when positive."""
    n = len(positive)
    a = rng.choice([1, 2, 3], size=n, p=[0.5, 0.35, 0.15])
    pos_d = rng.choice([1, 2, 3], size=n, p=[0.3, 0.45, 0.25])
    neg_d = rng.choice([0, 1, 2], size=n, p=[0.3, 0.4, 0.3])
    low = rng.choice([1, 2, 3], size=n, p=[0.45, 0.35, 0.2])
    conf = np.where(positive, np.minimum(a + pos_d, 5), low)
    frus = np.where(positive, a, np.minimum(low + neg_d, 5))
    return conf.astype(float), frus.astype(float)


def _noise_ratings(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.choice([1, 2, 3, 4, 5], size=n, p=[0.15, 0.25, 0.3, 0.2, 0.1]).astype(float)


def _response_intercept(target: float, terms: np.ndarray) -> float:
    """Intercept c with mean(sigmoid(c + terms)) == target."""
    return float(optimize.brentq(lambda c: _sigmoid(c + terms).mean() - target, -30, 30))


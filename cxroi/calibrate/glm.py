"""Poisson regression with standard errors clustered by account (statsmodels), shared by the
direct-effect fitters of buying more and of contacts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from statsmodels.tools.sm_exceptions import PerfectSeparationError

from cxroi.calibrate.stats import Z95
from cxroi.errors import CalibrationError


@dataclass(frozen=True)
class RatioFit:
    """A rate ratio per lever unit from a log-link model: ``exp(coef)`` and its interval."""

    log_ratio: float
    se: float
    n: int

    @property
    def ratio(self) -> float:
        return float(np.exp(self.log_ratio))

    @property
    def interval(self) -> tuple[float, float]:
        return (float(np.exp(self.log_ratio - Z95 * self.se)), float(np.exp(self.log_ratio + Z95 * self.se)))


def design(z: np.ndarray, controls: dict[str, np.ndarray], segment: np.ndarray) -> pd.DataFrame:
    """Design matrix: intercept, the lever term ``z`` first, controls, segment dummies
    (first segment the reference)."""
    X = pd.DataFrame({"const": 1.0, "z": np.asarray(z, float), **{k: np.asarray(v, float) for k, v in controls.items()}})
    seg = pd.get_dummies(pd.Series(segment, dtype="string"), prefix="seg", drop_first=True, dtype=float)
    seg.index = X.index
    return pd.concat([X, seg], axis=1)


def poisson_ratio(y: np.ndarray, X: pd.DataFrame, groups: np.ndarray,
                  offset: np.ndarray | None = None) -> tuple[RatioFit, pd.DataFrame]:
    """Poisson GLM (log link) of ``y`` on ``X``; the ratio of the ``z`` column.

    .. math:: \\log E[y_r] = \\log \\text{offset}_r + X_r\\beta, \\qquad \\text{ratio} = e^{\\beta_z}

    Standard errors are clustered by ``groups`` (statsmodels ``cov_type="cluster"``), which
    makes the interval valid whatever the true variance (over-dispersion, correlated rows of
    one account): the Poisson model is used for its mean only (a quasi-likelihood).

    Returns the ratio of ``z`` and the coefficient table (``coef``, ``se``): the fitted
    statsmodels result is not kept, as it holds the whole design.
    """
    X = X.loc[:, (X != 0).any(axis=0)]  # a segment dummy with no rows is dropped
    try:
        res = sm.GLM(np.asarray(y, float), X, family=sm.families.Poisson(), offset=offset).fit(
            cov_type="cluster", cov_kwds={"groups": pd.factorize(pd.Series(groups))[0]})
    except (PerfectSeparationError, np.linalg.LinAlgError, ValueError) as exc:
        raise CalibrationError(f"the Poisson model did not fit ({exc})") from None
    b, se = float(res.params["z"]), float(res.bse["z"])
    if not (np.isfinite(b) and np.isfinite(se) and se > 0):
        raise CalibrationError("the Poisson model gave no finite estimate")
    table = pd.DataFrame({"coef": res.params, "se": res.bse})
    return RatioFit(b, se, int(len(np.unique(groups)))), table

"""Exposed account-months: the panel on which the direct effects of leaving and buying more
are measured.

An account is *exposed* in month *t* when it had at least one complaint resolved in the
12 months up to *t* (the flywheel's exposure :math:`\\pi_s = 1 - e^{-\\lambda_s}` is the
chance of at least one event in a year). Its lever value that month is the mean
:math:`\\bar z_{it}` of :math:`z_j = \\log_2(T_j / T_{today})` over those complaints. Only
complaints resolved by month *t* count, so a ticket still open at the data's end never
shortens anyone's typical resolution time (no look-ahead).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxroi.calibrate.prepare import Prepared

#: Months a resolved complaint keeps its account exposed (one renewal cycle).
EXPOSURE_MONTHS = 12


def exposure_panel(prep: Prepared, window: int = EXPOSURE_MONTHS) -> pd.DataFrame:
    """One row per exposed account-month at risk.

    Built once per :class:`Prepared` and window (cached on it: the models of leaving and of
    buying more share it). Columns: ``acc``, ``t`` (month index), ``zbar`` (mean log2 resolution time relative to
    today over the complaints resolved in months ``t - window + 1 .. t``), ``k`` (their
    number), ``segment``, ``log_rev``, ``year`` (year of the data window), ``left`` (the
    account left in month ``t``), ``expansions`` (expansion orders in month ``t``).
    """
    cache = prep.__dict__.setdefault("_panels", {})
    if window in cache:
        return cache[window]
    a, c, e = prep.accounts, prep.complaints, prep.expansions
    n, M = len(a), prep.M
    cc = c.loc[(c["res_m"] >= 0) & (c["res_m"] < M)]
    cell = cc["acc"].to_numpy() * M + cc["res_m"].to_numpy()
    N = np.bincount(cell, minlength=n * M).astype(float).reshape(n, M)
    Z = np.bincount(cell, weights=cc["z"].to_numpy(), minlength=n * M).reshape(n, M)

    def rolling(g: np.ndarray) -> np.ndarray:
        cs = np.cumsum(g, axis=1)
        out = cs.copy()
        out[:, window:] -= cs[:, :-window]
        return out

    K, S = rolling(N), rolling(Z)
    entry, exit_m = a["entry"].to_numpy(), a["exit"].to_numpy()
    months = np.arange(M)
    at_risk = (months[None, :] >= entry[:, None]) & (months[None, :] <= exit_m[:, None])
    ii, tt = np.nonzero(at_risk & (K > 0))
    k = K[ii, tt]
    churned = a["churned"].to_numpy()
    ea, em = e["acc"].to_numpy(), e["m"].to_numpy()
    ok = (em >= 0) & (em < M)
    X = np.bincount(ea[ok] * M + em[ok], minlength=n * M).reshape(n, M)
    cache[window] = pd.DataFrame({
        "acc": ii, "t": tt, "zbar": S[ii, tt] / k, "k": k,
        "segment": a["segment"].to_numpy()[ii], "log_rev": a["log_rev"].to_numpy()[ii],
        "year": tt // 12, "left": (churned[ii] & (tt == exit_m[ii])).astype(float),
        "expansions": X[ii, tt].astype(float),
    })
    return cache[window]


def exposure_design(prep: Prepared, window: int = EXPOSURE_MONTHS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The exposed panel and its design, built once per :class:`Prepared` (cached on it)."""
    cache = prep.__dict__.setdefault("_designs", {})
    if window not in cache:
        p = exposure_panel(prep, window)
        cache[window] = (p, panel_design(p))
    return cache[window]


def panel_design(p: pd.DataFrame) -> pd.DataFrame:
    """Design of the exposed panel: intercept, ``z`` (= zbar) first, log revenue, log number of
    recent complaints, segment and window-year effects (first level the reference)."""
    from cxroi.calibrate.glm import design

    X = design(p["zbar"].to_numpy(), {"log_rev": p["log_rev"].to_numpy(), "log_k": np.log(p["k"].to_numpy())},
               p["segment"].to_numpy())
    yr = pd.get_dummies(pd.Series(p["year"].to_numpy()), prefix="year", drop_first=True, dtype=float)
    yr.index = X.index
    return pd.concat([X, yr], axis=1)

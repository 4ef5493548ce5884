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

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

import numpy as np
import pandas as pd

from cxroi.calibrate.prepare import Prepared
from cxroi.errors import CalibrationError

T = TypeVar("T")

#: Months a resolved complaint keeps its account exposed (one renewal cycle): the default
#: window, kept unless the data clearly prefer a shorter one (:func:`choose_window`).
EXPOSURE_MONTHS = 12

#: The exposure windows calibration compares (months).
CANDIDATE_WINDOWS = (1, 3, 6, 12)

#: Log-likelihood points by which a shorter window must beat :data:`EXPOSURE_MONTHS` to
#: replace it. On generated companies (3,000 accounts, 20 per shape, docs/calibration.md 6)
#: where the effect acts in the month of resolution (demo shape ``chain``) the 1-month window
#: wins by 43-75 points for leaving and 17-57 for buying more; where it acts over 12 months
#: with a weak effect (shape ``weak``, HR 1.10) a shorter window fits best by chance in half
#: the companies, by at most 3.5 points (``strong``: 1 company in 20, 1.8). 10 points (a
#: likelihood ratio of e^10) lies between the two with room on both sides.
WINDOW_MARGIN = 10.0

#: Above this many accounts the window comparison and the exposed share use a seeded random
#: sample of this many accounts (their whole histories): the choice is then as clear as with
#: every account (a real preference grows with the data -- thousands of points at 100,000
#: accounts -- a chance one does not) at a bounded cost (about 4 s of CPU).
WINDOW_SAMPLE_ACCOUNTS = 50_000


def window_sample(prep: Prepared) -> Prepared:
    """``prep``, or a seeded random sample of :data:`WINDOW_SAMPLE_ACCOUNTS` of its accounts
    when it has more (cached on it)."""
    n = len(prep.accounts)
    if n <= WINDOW_SAMPLE_ACCOUNTS:
        return prep
    got = prep.__dict__.get("_window_sample")
    if got is None:
        rows = np.random.default_rng(20261206).choice(n, size=WINDOW_SAMPLE_ACCOUNTS, replace=False)
        got = prep.__dict__["_window_sample"] = prep.subset(rows)
    return got


def complaint_grid(prep: Prepared) -> tuple[np.ndarray, np.ndarray]:
    """Account x month grids of the complaints resolved in each month of the window: their
    number ``N`` and the sum ``Z`` of their :math:`z = \\log_2(T / T_{today})`, (n, M) each."""
    c, n, M = prep.complaints, len(prep.accounts), prep.M
    cc = c.loc[(c["res_m"] >= 0) & (c["res_m"] < M)]
    cell = cc["acc"].to_numpy() * M + cc["res_m"].to_numpy()
    N = np.bincount(cell, minlength=n * M).astype(float).reshape(n, M)
    Z = np.bincount(cell, weights=cc["z"].to_numpy(), minlength=n * M).reshape(n, M)
    return N, Z


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
    N, Z = complaint_grid(prep)
    K, S = _rolling_sum(np.cumsum(N, axis=1), window), _rolling_sum(np.cumsum(Z, axis=1), window)
    ii, tt = np.nonzero(_at_risk(prep) & (K > 0))
    k = K[ii, tt]
    cache[window] = pd.DataFrame({"acc": ii, "t": tt, "zbar": S[ii, tt] / k, "k": k,
                                  **_month_outcomes(prep, ii, tt)})
    return cache[window]


def _rolling_sum(cumulative: np.ndarray, window: int) -> np.ndarray:
    """Sums over months ``t - window + 1 .. t`` of each row, from its cumulative sums."""
    out = cumulative.copy()
    out[:, window:] -= cumulative[:, :-window]
    return out


def _at_risk(prep: Prepared) -> np.ndarray:
    """(accounts, months): the account was a customer in the month (from entry to exit)."""
    a, months = prep.accounts, np.arange(prep.M)
    entry, exit_m = a["entry"].to_numpy(), a["exit"].to_numpy()
    return (months[None, :] >= entry[:, None]) & (months[None, :] <= exit_m[:, None])


def _month_outcomes(prep: Prepared, ii: np.ndarray, tt: np.ndarray) -> dict[str, np.ndarray]:
    """The columns both panels share for account-months (``ii``, ``tt``): ``segment``,
    ``log_rev``, ``year``, ``left`` (the account left that month) and ``expansions``
    (expansion orders that month) -- one definition of the outcomes, so the window choice
    and the fit cannot drift apart."""
    a, e, n, M = prep.accounts, prep.expansions, len(prep.accounts), prep.M
    ea, em = e["acc"].to_numpy(), e["m"].to_numpy()
    ok = (em >= 0) & (em < M)
    X = np.bincount(ea[ok] * M + em[ok], minlength=n * M).reshape(n, M)
    churned, exit_m = a["churned"].to_numpy(), a["exit"].to_numpy()
    return {"segment": a["segment"].to_numpy()[ii], "log_rev": a["log_rev"].to_numpy()[ii],
            "year": tt // 12, "left": (churned[ii] & (tt == exit_m[ii])).astype(float),
            "expansions": X[ii, tt].astype(float)}


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


@dataclass(frozen=True)
class WindowChoice:
    """The exposure window the data choose for one outcome (:func:`choose_window`).

    Attributes
    ----------
    window : int
        Months: :data:`EXPOSURE_MONTHS` unless a shorter one wins by more than :data:`WINDOW_MARGIN`.
    loglik : dict of int to float
        Maximised log-likelihood per candidate window, on the same account-months.
    exposed_share : dict of str to float
        Per segment, the share of the outcome (leaving, expansion orders) that happens in
        months exposed under ``window``, counted from month ``window`` of the data on (so
        complaints before the data start do not hide exposure); segments without an event
        there are left out.
    exposed_share_all : float
        The same share over every segment.
    reason : str
        Why the window is what it is, in a sentence for the report.
    """

    window: int
    loglik: dict[int, float] = field(default_factory=dict)
    exposed_share: dict[str, float] = field(default_factory=dict)
    exposed_share_all: float = float("nan")
    reason: str = ""

    @property
    def gain(self) -> float:
        """Log-likelihood points of the chosen window over the 12-month one (0 when kept)."""
        if self.window not in self.loglik or EXPOSURE_MONTHS not in self.loglik:
            return 0.0
        return self.loglik[self.window] - self.loglik[EXPOSURE_MONTHS]


def window_panel(prep: Prepared, windows: tuple[int, ...] = CANDIDATE_WINDOWS) -> pd.DataFrame:
    """Every at-risk account-month (exposed or not), with each window's exposure.

    Columns ``acc``, ``t``, ``segment``, ``log_rev``, ``year``, ``left``, ``expansions`` as
    :func:`exposure_panel`, and per window *w* ``k<w>`` (complaints resolved in months
    ``t - w + 1 .. t``) and ``z<w>`` (their mean log2 resolution time, 0 when none). Cached on
    ``prep``.
    """
    cache = prep.__dict__.setdefault("_window_panels", {})
    if windows in cache:
        return cache[windows]
    N, Z = complaint_grid(prep)
    ii, tt = np.nonzero(_at_risk(prep))
    cols = {"acc": ii, "t": tt, **_month_outcomes(prep, ii, tt)}
    cN, cZ = np.cumsum(N, axis=1), np.cumsum(Z, axis=1)
    for w in windows:
        K, S = _rolling_sum(cN, w), _rolling_sum(cZ, w)
        k = K[ii, tt]
        cols[f"k{w}"] = k
        cols[f"z{w}"] = np.divide(S[ii, tt], k, out=np.zeros(len(k)), where=k > 0)
    cache[windows] = pd.DataFrame(cols)
    return cache[windows]


def window_design(p: pd.DataFrame, w: int) -> pd.DataFrame:
    """Design of the window comparison on every at-risk account-month: intercept, ``z`` (the
    window's mean log2 resolution time, 0 when not exposed), ``exposed``, log revenue, segment
    and window-year effects."""
    from cxroi.calibrate.glm import design

    k = p[f"k{w}"].to_numpy()
    exposed = (k > 0).astype(float)
    X = design(p[f"z{w}"].to_numpy(), {"exposed": exposed, "log_rev": p["log_rev"].to_numpy()},
               p["segment"].to_numpy())
    yr = pd.get_dummies(pd.Series(p["year"].to_numpy()), prefix="year", drop_first=True, dtype=float)
    yr.index = X.index
    return pd.concat([X, yr], axis=1)


def choose_window(prep: Prepared, outcome: str, windows: tuple[int, ...] = CANDIDATE_WINDOWS,
                  margin: float = WINDOW_MARGIN) -> WindowChoice:
    r"""Choose the exposure window of a direct effect by likelihood, and measure its exposed share.

    Each candidate window *w* is fitted (Poisson GLM, :func:`cxroi.calibrate.glm.poisson_loglik`)
    on the *same* rows -- every at-risk account-month from month ``max(windows) - 1`` of the
    data on, where every window is fully observed --

    .. math:: \log E[y_{it}] = \alpha_{s(i)} + \tau_{y(t)} + \gamma\log r_i
              + E^w_{it}\,(\theta + \beta\,\bar z^w_{it})

    with :math:`E^w_{it}` = 1 when the account had a complaint resolved in months
    :math:`t - w + 1 .. t` and :math:`\bar z^w_{it}` their mean log2 resolution time. Every
    candidate has the same number of parameters, so the log-likelihoods compare directly.
    (The complaint count of the exposed panel's fit is left out here: in a 1-month window
    two complaints in a month are rare and often without a leaver, which no finite
    coefficient fits.) :data:`EXPOSURE_MONTHS` is kept unless a shorter window
    is better by more than ``margin`` points (:data:`WINDOW_MARGIN`).

    The exposed share of the chosen window *W*: per segment,
    :math:`q_s = \sum_{E^W_{it} = 1} y_{it} / \sum y_{it}` over the account-months from month
    *W* on (so an account's complaints before the data start do not hide its exposure).

    Parameters
    ----------
    outcome : {"left", "expansions"}
        The outcome column of :func:`window_panel`.
    """
    windows = tuple(sorted(set(windows) | {EXPOSURE_MONTHS}))
    sample = window_sample(prep)
    p = window_panel(sample, windows)
    loglik, reason = _logliks(sample, windows)[outcome]
    window = EXPOSURE_MONTHS
    if loglik:
        best = max(loglik, key=loglik.__getitem__)
        gain = loglik[best] - loglik[EXPOSURE_MONTHS]
        if best < EXPOSURE_MONTHS and gain > margin:
            window = best
            reason = (f"the data prefer a {best}-month window by {gain:.1f} log-likelihood points (more than the "
                      f"{margin:g} required)")
        elif best != EXPOSURE_MONTHS:
            reason = (f"a {best}-month window fits better by only {gain:.1f} log-likelihood points (at most "
                      f"{margin:g}: not enough): the {EXPOSURE_MONTHS}-month window is kept")
        else:
            second = max((v for w, v in loglik.items() if w != EXPOSURE_MONTHS), default=np.nan)
            reason = (f"the {EXPOSURE_MONTHS}-month window fits best ({loglik[EXPOSURE_MONTHS] - second:.1f} "
                      "log-likelihood points ahead of the next)")
    if sample is not prep:
        reason += f" (compared on a random sample of {len(sample.accounts):,} of the {len(prep.accounts):,} accounts)"
    return WindowChoice(window, loglik, *exposed_share(p, outcome, window), reason)


#: The outcomes whose windows :func:`choose_window` compares (columns of :func:`window_panel`).
OUTCOMES = ("left", "expansions")


def _logliks(prep: Prepared, windows: tuple[int, ...]) -> dict[str, tuple[dict[int, float], str]]:
    """Log-likelihood of each window for every outcome, fitted on the same rows; each window's
    design is built once for both outcomes (cached on ``prep``). Per outcome: ``({window:
    log-likelihood}, reason)``, the dict empty (and the reason said) when not compared."""
    cache = prep.__dict__.setdefault("_window_logliks", {})
    if windows in cache:
        return cache[windows]
    from cxroi.calibrate.glm import poisson_loglik

    p = window_panel(prep, windows)
    rows = p["t"].to_numpy() >= max(windows) - 1
    q = p.loc[rows]
    out: dict[str, tuple[dict[int, float], str]] = {}
    todo = []
    for o in OUTCOMES:
        if q[o].sum() < 5:
            out[o] = ({}, f"fewer than 5 events after the first {max(windows)} months of data: the "
                          f"{EXPOSURE_MONTHS}-month window is kept without comparing")
        else:
            todo.append(o)
            out[o] = ({}, "")
    X = None
    for w in windows if todo else ():
        if X is None:
            X = window_design(q, w)
        else:  # only the window's own columns change
            k = q[f"k{w}"].to_numpy()
            X["z"], X["exposed"] = q[f"z{w}"].to_numpy(), (k > 0).astype(float)
        for o in list(todo):
            try:
                out[o][0][w] = poisson_loglik(q[o].to_numpy(), X)
            except CalibrationError as exc:
                todo.remove(o)
                out[o] = ({}, f"the window comparison did not fit ({exc}): the {EXPOSURE_MONTHS}-month window "
                              "is kept")
    cache[windows] = out
    return out


def exposed_share(p: pd.DataFrame, outcome: str, window: int) -> tuple[dict[str, float], float]:
    """Per segment and overall, the share of ``outcome`` in the account-months exposed under
    ``window`` (:func:`window_panel` rows from month ``window`` on); segments without an event
    there are left out."""
    y = p[outcome].to_numpy()
    late = p["t"].to_numpy() >= window
    exposed = late & (p[f"k{window}"].to_numpy() > 0)
    seg = p["segment"].to_numpy()
    tot = pd.Series(y[late]).groupby(seg[late]).sum()
    exp_ = pd.Series(y[exposed]).groupby(seg[exposed]).sum().reindex(tot.index, fill_value=0.0)
    share = {str(s): float(exp_[s] / tot[s]) for s in tot.index if tot[s] > 0}
    return share, (float(y[exposed].sum() / y[late].sum()) if y[late].sum() > 0 else float("nan"))


def windowed_fit(prep: Prepared, outcome: str,
                 fit: Callable[[pd.DataFrame, pd.DataFrame], T]) -> tuple[WindowChoice, T]:
    """Choose the window (:func:`choose_window`), then ``fit(panel, design)`` on that window's
    exposed panel (:func:`exposure_design`). When a shorter window's fit fails (e.g. no
    leaver among accounts with two complaints in one month: the complaint-count term cannot
    be estimated), the 12-month window is used and the reason says so."""
    choice = choose_window(prep, outcome)
    try:
        return choice, fit(*exposure_design(prep, choice.window))
    except CalibrationError as exc:
        if choice.window == EXPOSURE_MONTHS:
            raise
        p = window_panel(window_sample(prep), tuple(sorted(set(CANDIDATE_WINDOWS) | {EXPOSURE_MONTHS})))
        share, share_all = exposed_share(p, outcome, EXPOSURE_MONTHS)
        choice = replace(choice, window=EXPOSURE_MONTHS, exposed_share=share, exposed_share_all=share_all,
                         reason=f"{choice.reason}; but the fit on that window failed ({exc}), so the "
                                f"{EXPOSURE_MONTHS}-month window is used")
        return choice, fit(*exposure_design(prep, EXPOSURE_MONTHS))

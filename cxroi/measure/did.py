r"""Staggered difference-in-differences: a stacked event study with clean controls.

When groups go live at different dates, the classic two-way fixed-effects regression
compares late groups with early ones that are already changed ("forbidden comparisons")
and can get even the sign wrong (Goodman-Bacon 2021; Baker, Larcker & Wang 2022).
:class:`StaggeredDiD` avoids that by the *stacked* design of Cengiz, Dube, Lindner &
Zipperer (2019), an event study with clean controls in the spirit of Callaway & Sant'Anna
(2021) with not-yet-treated controls:

* for each *cohort* :math:`c` (the groups that went live in month :math:`c`) a
  sub-experiment holds its groups and the *clean controls* -- the groups never reached or
  reached only after the window :math:`[c - K, c + L]` ends -- over that window;
* the sub-experiments are stacked and one weighted regression is fitted on the
  group-month cells

  .. math::

      \bar y_{sgt} = \alpha_{sg} + \lambda_{st} + \sum_{e=-K,\,e\neq -1}^{L}
          \beta_e\, \mathbf 1[g \in c_s,\ t - c_s = e] + \varepsilon_{sgt}

  with weights :math:`n_{sgt}` (accounts at risk, tickets or answers in the cell), so
  :math:`\beta_e` is the effect :math:`e` months after go-live relative to the month
  before, each cohort compared only with groups unchanged over its whole window;
* standard errors are clustered by *group* (the level the change was assigned at; a
  group appearing in several sub-experiments is one cluster), with statsmodels' small-
  sample correction and :math:`t_{G-1}` intervals. Fitting the cell means with weights
  :math:`n` gives the same point estimates and group-clustered scores as the
  account-level regression with the same fixed effects.

The effect over the post period (ATT) is :math:`\sum_{e \ge 0} \omega_e \beta_e` with
:math:`\omega_e` the treated weight at event time :math:`e`; pre-trends are tested by the
average of :math:`\beta_{-K..-2}` (and their joint Wald test); the placebo moves every go-live
``shift`` months earlier on the data before the real go-live (its ATT should be 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from threadpoolctl import threadpool_limits

from cxroi.errors import NoControlGroupError


@dataclass(frozen=True)
class Estimate:
    """One effect with its interval (level ``1 - alpha``)."""

    estimate: float
    se: float
    low: float
    high: float
    p: float


def _lincom(res: sm.regression.linear_model.RegressionResultsWrapper, r: np.ndarray,
            alpha: float) -> Estimate:
    t = res.t_test(r.reshape(1, -1))
    lo, hi = np.asarray(t.conf_int(alpha=alpha)).ravel()
    return Estimate(float(np.squeeze(t.effect)), float(np.squeeze(t.sd)), float(lo), float(hi),
                    float(np.squeeze(t.pvalue)))


class StaggeredDiD:
    """Stacked event study with clean (not-yet-treated or never-treated) controls.

    Parameters
    ----------
    before, after : int
        Months of the event window before and after each go-live (``K`` and ``L``).
    alpha : float
        1 - confidence level of the intervals (0.05: 95%).

    Attributes (after :meth:`fit`)
    ------------------------------
    att_ : Estimate
        Effect over the post window (months 0..L after go-live), weighted by treated cells.
    event_study_ : DataFrame
        ``event_time``, ``estimate``, ``se``, ``low``, ``high``, ``p``, ``weight``; the
        reference month -1 is 0 by construction.
    pretrend_ : Estimate or None
        The average effect over the pre-period months -K..-2 (treated-weighted); 0 when the
        trends were parallel before go-live.
    pretrend_p_ : float
        Its p-value (t with G-1 df); nan with fewer than 2 pre months.
    pretrend_joint_p_ : float
        p-value of the joint F test that every pre-period effect is 0 (over-rejects with few
        clusters; shown for completeness).
    cohorts_ : DataFrame
        ``cohort`` (month index), ``treated``, ``controls`` (group lists), ``used``, ``reason``.
    treated_cells_ : DataFrame
        ``group``, ``t``, ``weight`` of the treated cells in the post window (what the ATT
        averages over).
    n_clusters_ : int
    result_ : statsmodels results
    """

    def __init__(self, before: int = 6, after: int = 6, alpha: float = 0.05):
        self.before, self.after, self.alpha = int(before), int(after), float(alpha)

    def _stack(self, cells: pd.DataFrame, go_live: dict[str, int], clean_until: dict[str, int],
               n_months: int) -> pd.DataFrame:
        rows, info = [], []
        for c in sorted(set(go_live.values())):
            lo, hi = max(0, c - self.before), min(n_months - 1, c + self.after)
            treated = sorted(g for g, m in go_live.items() if m == c)
            controls = sorted(g for g in cells["group"].unique()
                              if g not in go_live or (g not in treated
                                                      and clean_until.get(g, 10**9) > hi))
            reason = "" if controls else (
                "no group was still unchanged by the end of its window")
            info.append({"cohort": c, "treated": treated, "controls": controls,
                         "used": bool(controls), "reason": reason})
            if not controls:
                continue
            sub = cells[cells["group"].isin(treated + controls) & cells["t"].between(lo, hi)
                        & (cells["weight"] > 0)].copy()
            sub["stack"] = c
            sub["treated"] = sub["group"].isin(treated)
            sub["e"] = np.where(sub["treated"], sub["t"] - c, np.nan)
            rows.append(sub)
        self.cohorts_ = pd.DataFrame(info)
        if not rows:
            raise NoControlGroupError(
                "no group stayed unchanged while another went live, so nothing shows what would "
                "have happened without the change. Fix: include groups reached later or never "
                "(leave them out of go_live), or, when everyone went live on one date, give a "
                "single go_live date to use the interrupted time series")
        return pd.concat(rows, ignore_index=True)

    def fit(self, cells: pd.DataFrame, go_live: dict[str, int], n_months: int,
            clean_until: dict[str, int] | None = None) -> StaggeredDiD:
        """Fit on group-month ``cells`` (``group``, ``t``, ``y``, ``weight``).

        Parameters
        ----------
        go_live : dict
            Reached group -> month index of its go-live.
        n_months : int
            Months in the data.
        clean_until : dict, optional
            Group -> first month it is no longer a clean control (default: its go-live).
        """
        st = self._stack(cells, go_live, clean_until if clean_until is not None else go_live,
                         n_months)
        sg = st["stack"].astype(str) + ":" + st["group"].astype(str)
        stt = st["stack"].astype(str) + ":" + st["t"].astype(str)
        fe_g = pd.get_dummies(sg, dtype=float)
        fe_t = pd.get_dummies(stt, dtype=float)
        firsts = st.groupby("stack")["t"].transform("min")
        fe_t = fe_t.drop(columns=sorted(set(stt[st["t"] == firsts])))
        events = [e for e in range(-self.before, self.after + 1) if e != -1
                  and ((st["e"] == e).any())]
        ev = np.column_stack([(st["e"] == e).to_numpy(float) for e in events])
        y = st["y"].to_numpy(float)
        w = st["weight"].to_numpy(float)
        # Frisch-Waugh-Lovell: the fixed effects are partialled out of y and the event
        # dummies by weighted least squares, then statsmodels fits the event coefficients
        # with clustered errors (same estimates and residuals as the full dummy regression).
        F = np.hstack([fe_g.to_numpy(), fe_t.to_numpy()])
        sw = np.sqrt(w)[:, None]
        Z = np.column_stack([y, ev])
        with threadpool_limits(1):  # small matrices: threads only contend on a shared machine
            beta = np.linalg.lstsq(F * sw, Z * sw, rcond=None)[0]
            R = Z - F @ beta
            groups = pd.factorize(st["group"])[0]
            res = sm.WLS(R[:, 0], R[:, 1:], weights=w).fit(
                cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
        self.n_fixed_effects_ = F.shape[1]
        self.result_ = res
        self.n_clusters_ = int(groups.max() + 1)
        k = ev.shape[1]
        ci = np.asarray(res.conf_int(alpha=self.alpha))
        tw = st[st["treated"]].groupby("e")["weight"].sum()
        rows = [{"event_time": -1, "estimate": 0.0, "se": 0.0, "low": 0.0, "high": 0.0,
                 "p": np.nan, "weight": float(tw.get(-1, 0.0))}]
        for i, e in enumerate(events):
            rows.append({"event_time": e, "estimate": float(res.params[i]),
                         "se": float(res.bse[i]), "low": float(ci[i, 0]), "high": float(ci[i, 1]),
                         "p": float(res.pvalues[i]), "weight": float(tw.get(e, 0.0))})
        self.event_study_ = pd.DataFrame(rows).sort_values("event_time").reset_index(drop=True)
        post = [i for i, e in enumerate(events) if e >= 0]
        if not post:
            raise NoControlGroupError(
                "no month after a go-live has a clean control group. Fix: include groups reached "
                "later or never, or data running past the go-live")
        r = np.zeros(k)
        w = np.array([tw.get(events[i], 0.0) for i in post])
        r[post] = w / w.sum()
        self.att_ = _lincom(res, r, self.alpha)
        pre = [i for i, e in enumerate(events) if e < -1]
        if pre:
            # the average pre-period effect (one restriction, t with G-1 df): a joint Wald
            # test of many leads over-rejects with few clusters, so it is reported beside it
            rp = np.zeros(k)
            wp = np.array([tw.get(events[i], 0.0) for i in pre])
            rp[pre] = wp / wp.sum()
            self.pretrend_ = _lincom(res, rp, self.alpha)
            self.pretrend_p_ = self.pretrend_.p
            R = np.zeros((len(pre), k))
            R[np.arange(len(pre)), pre] = 1.0
            self.pretrend_joint_p_ = float(res.wald_test(R, scalar=True, use_f=True).pvalue)
        else:
            self.pretrend_ = None
            self.pretrend_p_ = self.pretrend_joint_p_ = float("nan")
        tc = st[st["treated"] & (st["e"] >= 0)]
        self.treated_cells_ = (tc.groupby(["group", "t"], as_index=False)["weight"].sum())
        self.pre_mean_ = float(np.average(st.loc[st["treated"] & (st["e"] < 0), "y"],
                                          weights=st.loc[st["treated"] & (st["e"] < 0), "weight"]))
        self.post_mean_ = float(np.average(tc["y"], weights=tc["weight"]))
        return self

    @property
    def summary(self) -> pd.DataFrame:
        """The ATT, the pre-trend test and the design, one row."""
        a = self.att_
        return pd.DataFrame([{"design": "staggered difference-in-differences (stacked event study)",
                              "estimate": a.estimate, "se": a.se, "low": a.low, "high": a.high,
                              "p": a.p, "pretrend_p": self.pretrend_p_,
                              "clusters": self.n_clusters_,
                              "cohorts_used": int(self.cohorts_["used"].sum())}])

    def placebo(self, cells: pd.DataFrame, go_live: dict[str, int], n_months: int,
                shift: int = 6) -> StaggeredDiD | None:
        """The same estimator with every go-live moved ``shift`` months earlier, on the data
        before the real go-live (a fake change: its ATT should be 0). ``None`` when no cohort
        has ``shift + 2`` months of data before it."""
        keep = ~np.array([g in go_live and t >= go_live[g]
                          for g, t in zip(cells["group"], cells["t"], strict=True)])
        fake = {g: m - shift for g, m in go_live.items() if m - shift >= 2}
        if not fake:
            return None
        est = StaggeredDiD(before=min(self.before, max(fake.values())), after=shift - 1,
                           alpha=self.alpha)
        try:
            return est.fit(cells[keep], fake, n_months, clean_until=go_live)
        except NoControlGroupError:
            return None


def naive_before_after(cells: pd.DataFrame, go_live: dict[str, int],
                       alpha: float = 0.05) -> Estimate:
    """What a naive before/after comparison would say: the reached groups' mean after their
    go-live minus before, no control group (WLS of the cell means on a post indicator,
    errors clustered by group). Biased by anything else that changed over time."""
    c = cells[cells["group"].isin(list(go_live)) & (cells["weight"] > 0)]
    post = (c["t"].to_numpy() >= c["group"].map(go_live).to_numpy()).astype(float)
    X = np.column_stack([np.ones(len(c)), post])
    res = sm.WLS(c["y"].to_numpy(float), X, weights=c["weight"].to_numpy(float)).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(c["group"])[0]}, use_t=True)
    return _lincom(res, np.array([0.0, 1.0]), alpha)

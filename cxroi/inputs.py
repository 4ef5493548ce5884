r"""The flywheel's inputs: a validated scenario compiled to arrays, once per edit.

:class:`Inputs` holds what :func:`cxroi.model.run_flywheel` needs as numpy arrays (``S``
segments, ``K`` touchpoints, ``H`` months); :func:`compile_inputs` builds it,
:func:`likely_params` gives the links' most likely values as a one-draw parameter set,
:func:`lever_path` the lever's ramp from today's value to the target and
:func:`trailing_mean` the build-up of a measured direct effect:

.. math::

    x_k(t) = x_{k,0} + (x_{k,1} - x_{k,0}) \min\big(1, \max(0, (t - t_0) / T_{ramp})\big),
    \qquad \bar{s}(t) = \tfrac{1}{W} \textstyle\sum_{u = t - W + 1}^{t} s(u)

with the registries of the model's vocabulary (:data:`SCALES`, :data:`OUTPUTS`,
:data:`TOUCHPOINT_LINKS`, :data:`GLOBAL_LINKS`, :data:`BENEFIT_LINES`). ``docs/model.md``
gives every equation; :mod:`cxroi.model` re-exports all of these names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cxroi.cashflow import cash_flow_params
from cxroi.retention import baseline_hazard
from cxroi.scenario import (
    DIRECT_LINKS,
    WINDOW_LINKS,
    GlobalLinks,
    Scenario,
    Touchpoint,
    TouchpointLinks,
)

Array = NDArray[np.float64]

#: Metric transforms g(x): the scale on which the odds ratio acts (registry, not if-chain).
SCALES: dict[str, Callable[[Array, float], Array]] = {
    "log2": lambda x, step: np.log2(x),
    "linear": lambda x, step: np.asarray(x, float) / step,
}

TOUCHPOINT_LINKS: tuple[str, ...] = tuple(TouchpointLinks.model_fields)
GLOBAL_LINKS: tuple[str, ...] = tuple(GlobalLinks.model_fields)
BENEFIT_LINES: tuple[str, ...] = (
    "retention_savings", "cross_sell", "cost_to_serve_savings", "advocacy",
)

#: Every scalar output: (label a CX leader recognises, unit). Units: money, share, points,
#: month, ratio, accounts, csat.
OUTPUTS: dict[str, tuple[str, str]] = {
    "retention_savings": ("Retention savings (margin kept)", "money"),
    "cross_sell": ("Cross-sell margin", "money"),
    "cost_to_serve_savings": ("Cost-to-serve savings", "money"),
    "advocacy": ("Advocacy margin (referrals)", "money"),
    "other_benefits": ("Other benefits (cash-flow lines)", "money"),
    "total_benefits": ("Total benefits", "money"),
    "one_off_cost": ("One-off cost", "money"),
    "running_costs": ("Running costs", "money"),
    "other_costs": ("Other costs (cash-flow lines)", "money"),
    "total_costs": ("Total costs", "money"),
    "pv_benefits": ("PV of benefits", "money"),
    "pv_costs": ("PV of costs", "money"),
    "npv": ("NPV", "money"),
    "npv_risk_adjusted": ("Risk-adjusted NPV", "money"),
    "roi": ("ROI", "share"),
    "roi_risk_adjusted": ("Risk-adjusted ROI", "share"),
    "payback_month": ("Payback month", "month"),
    "irr": ("IRR (annual)", "share"),
    "accounts_kept": ("Extra accounts at horizon end", "accounts"),
    "nrr_before": ("NRR before", "share"),
    "nrr_after": ("NRR after", "share"),
    "clv_before": ("CLV per account before", "money"),
    "clv_after": ("CLV per account after", "money"),
    "nps_before": ("NPS before", "points"),
    "nps_after": ("NPS after", "points"),
    "nps_change": ("NPS change", "points"),
    "csat_before": ("CSAT before", "csat"),
    "csat_after": ("CSAT after", "csat"),
    "csat_change": ("CSAT change", "csat"),
}


@dataclass(frozen=True, eq=False)
class Inputs:
    """A scenario compiled to arrays: ``S`` segments, ``K`` touchpoints, ``H`` months."""

    segments: tuple[str, ...]
    touchpoints: tuple[str, ...]
    accounts: Array  # (S,)
    arpa: Array  # (S,)
    margin: Array  # (S,)
    churn: Array  # (S,) annual
    hazard: Array  # (S, H) baseline monthly hazard (constant, or falling with tenure: sBG)
    surv_base: Array  # (S, H) baseline survival
    hazard_year: Array  # (S,) constant monthly hazard with the same 12-month retention
    expansion_rate: Array  # (S,) annual
    expansion_value: Array  # (S,) share of ARPA
    promoters: Array  # (S,)
    detractors: Array  # (S,)
    csat: Array  # (S,)
    events: Array  # (S, K) per account-year
    cost_per_contact: Array  # (S, K)
    contacts: Array  # (S, K) contacts per event today
    direct: Mapping[str, Array]  # direct link name -> (K,) bool: the touchpoint has it
    shift: Array  # (K, H) g(x(t)) - g(today)
    shift_unique: Array  # (K, U) the distinct month-columns of ``shift`` (ramp + flat)
    trailing_unique: Array  # (K, U) the same columns of the 12-month trailing mean of shift
    month_index: Array  # (H,) int: month t uses column month_index[t] of shift_unique
    shift_full: Array  # (K,) g(target) - g(today)
    one_off: float
    running_per_year: float
    horizon: int
    discount_rate: float
    haircuts: Array  # (4,) per benefit line, order of BENEFIT_LINES
    cost_uplift: float
    spread: Array | None = None  # (K,) sd of the lever over events on its scale (NaN: not measured)
    #: per windowed direct link (:data:`WINDOW_LINKS`): (K, U) the same columns of the trailing
    #: mean of shift over each touchpoint's window; absent: ``trailing_unique`` (12 months)
    direct_trailing: Mapping[str, Array] | None = None
    #: per windowed direct link: (S, K) the share of the segment's behaviour the ratio applies
    #: to (measured exposed share, else 1 - exp(-events * window / 12)); absent: 1 - exp(-events)
    direct_share: Mapping[str, Array] | None = None

    def trailing(self, name: str) -> Array:
        """(K, U) trailing mean of the lever shift a windowed direct link applies to."""
        got = None if self.direct_trailing is None else self.direct_trailing.get(name)
        return self.trailing_unique if got is None else got

    def share(self, name: str) -> Array:
        """(S, K) share of a segment's leaving / buying more a windowed direct link acts on."""
        got = None if self.direct_share is None else self.direct_share.get(name)
        return window_share(self.events) if got is None else got


def lever_path(today: float, target: float, ramp_months: int, start_month: int,
               horizon: int) -> Array:
    r"""Lever value in months 1..H: flat until ``start_month``, then linear to the target.

    .. math:: x(t) = x_0 + (x_1 - x_0)\,\min\!\big(1, \max(0, (t - t_0) / R)\big)

    with :math:`R = \max(1, \text{ramp\_months})` so a zero ramp gives the full effect from
    month :math:`t_0 + 1`.
    """
    t = np.arange(1, horizon + 1, dtype=float)
    frac = np.clip((t - start_month) / max(ramp_months, 1), 0.0, 1.0)
    return today + (target - today) * frac


#: Months over which a measured direct effect on leaving / buying more builds up when its link
#: states no ``window_months``: calibration measures it per unit of the mean lever value of an
#: account's events in the past 12 months unless the data choose a shorter window.
DIRECT_WINDOW_MONTHS = 12


def window_share(events: ArrayLike, window_months: ArrayLike = DIRECT_WINDOW_MONTHS) -> Array:
    r"""Share of accounts with at least one event in ``window_months`` (Poisson events at
    ``events`` a year): the exposure a windowed direct link acts on.

    .. math:: \pi(W) = 1 - e^{-\lambda W / 12}

    (:math:`W / 12` is formed first, so :math:`W = 12` gives :math:`1 - e^{-\lambda}`
    exactly.)
    """
    return 1.0 - np.exp(-np.asarray(events, float) * (np.asarray(window_months, float) / 12.0))


def trailing_mean(shift: Array, window: int) -> Array:
    r"""Trailing ``window``-month mean of each row of ``shift`` (months before month 1 at 0).

    .. math:: \bar s(t) = \frac{1}{W} \sum_{u = t - W + 1}^{t} s(u), \qquad s(u \le 0) = 0
    """
    padded = np.concatenate([np.zeros((shift.shape[0], window)), shift], axis=1)
    c = np.cumsum(padded, axis=1)
    return (c[:, window:] - c[:, :-window]) / window


def _shift(tp: Touchpoint, x: Array) -> Array:
    g = SCALES[tp.scale]
    return g(np.asarray(x, float), tp.step) - g(np.asarray(tp.lever.today, float), tp.step)


def compile_inputs(sc: Scenario) -> Inputs:
    """Turn a validated scenario into the arrays :func:`run_flywheel` needs (done once)."""
    tps = tuple(sc.touchpoints)
    segs = sc.segments
    h = sc.finance.horizon_months
    paths = np.array([lever_path(tp.lever.today, tp.lever.target, tp.lever.ramp_months,
                                 tp.lever.start_month, h) for tp in sc.touchpoints.values()])
    shift = np.array([_shift(tp, p) for tp, p in zip(sc.touchpoints.values(), paths, strict=True)])
    shift_full = np.array([float(_shift(tp, tp.lever.target)) for tp in sc.touchpoints.values()])
    trailing = trailing_mean(shift, DIRECT_WINDOW_MONTHS)
    windows = {name: _windows(sc, name) for name in WINDOW_LINKS}
    # a window other than 12 months (only there: scenarios without one compile as before)
    own = {name: trailing_by_window(shift, w) for name, w in windows.items()
           if (w != DIRECT_WINDOW_MONTHS).any()}
    # Once every lever has ramped, months repeat: the hot path evaluates each distinct
    # month-column once and expands with an index.
    both, month_index = np.unique(np.vstack([shift, trailing, *own.values()]), axis=1,
                                  return_inverse=True)
    k = len(tps)
    shift_unique, trailing_unique = both[:k], both[k:2 * k]
    direct_trailing = {name: both[k * (i + 2):k * (i + 3)] for i, name in enumerate(own)}

    def seg(attr: str) -> Array:
        return np.array([getattr(s, attr) for s in segs], float)

    def vol(attr: str) -> Array:
        return np.array([[getattr(s.volumes[k], attr) for k in tps] for s in segs], float)

    hz, sv = zip(*(baseline_hazard(s, h) for s in segs), strict=True)  # tenure curve or not
    # steady-state views (NRR, CLV) use the constant rate with the same 12-month retention
    h_year = np.array([x[0] if s.retention is None else
                       1.0 - (y[min(h, 12) - 1]) ** (1.0 / min(h, 12))
                       for s, x, y in zip(segs, hz, sv, strict=True)])

    risk = sc.finance.risk
    return Inputs(
        segments=tuple(s.name for s in segs), touchpoints=tps,
        accounts=seg("accounts"), arpa=seg("arpa"), margin=seg("gross_margin"),
        churn=seg("churn"), hazard=np.array(hz), surv_base=np.array(sv), hazard_year=h_year,
        expansion_rate=seg("expansion_rate"),
        expansion_value=seg("expansion_value"), promoters=seg("promoters"),
        detractors=seg("detractors"), csat=seg("csat"),
        events=vol("events_per_year"),
        cost_per_contact=vol("cost_per_contact"),
        contacts=vol("contacts_per_event"),
        direct={name: np.array([getattr(tp.links, name) is not None
                                for tp in sc.touchpoints.values()])
                for name in DIRECT_LINKS},
        shift=shift, shift_full=shift_full,
        spread=np.array([tp.observed.spread if tp.observed is not None and tp.observed.spread is not None
                         else np.nan for tp in sc.touchpoints.values()], float),
        shift_unique=shift_unique, trailing_unique=trailing_unique,
        month_index=month_index.ravel(),
        one_off=sc.costs.one_off, running_per_year=sc.costs.running_per_year, horizon=h,
        discount_rate=sc.finance.discount_rate,
        haircuts=np.array([getattr(risk, b) for b in BENEFIT_LINES], float),
        cost_uplift=risk.cost_uplift,
        direct_trailing=direct_trailing or None,
        direct_share=_direct_shares(sc, windows) or None,
    )


def _windows(sc: Scenario, name: str) -> NDArray[np.int64]:
    """(K,) each touchpoint's exposure window of direct link ``name`` (12 when not stated)."""
    out = []
    for tp in sc.touchpoints.values():
        link = getattr(tp.links, name)
        w = None if link is None else link.window_months
        out.append(DIRECT_WINDOW_MONTHS if w is None else int(w))
    return np.array(out, np.int64)


def trailing_by_window(shift: Array, windows: NDArray[np.int64]) -> Array:
    """Each row of ``shift`` (K, H) averaged over its own trailing window (:func:`trailing_mean`;
    a 1-month window is the shift itself, exactly)."""
    return np.vstack([shift[k:k + 1] if w == 1 else trailing_mean(shift[k:k + 1], int(w))
                      for k, w in enumerate(windows)])


def _direct_shares(sc: Scenario, windows: Mapping[str, NDArray[np.int64]]) -> dict[str, Array]:
    r"""(S, K) share of each segment's leaving / buying more that a windowed direct link acts
    on, for links that state a window or an exposed share (others: :meth:`Inputs.share`).

    .. math:: q_{sk} = \text{exposed\_share}_s \text{ (measured)}, \quad\text{else}\quad
              \pi_{sk}(W_k) = 1 - e^{-\lambda_{sk} W_k / 12}

    (:func:`window_share`; for :math:`W_k = 12` exactly the model's
    :math:`\pi_{sk} = 1 - e^{-\lambda_{sk}}`).
    """
    out = {}
    events = np.array([[s.volumes[k].events_per_year for k in sc.touchpoints] for s in sc.segments], float)
    for name, w in windows.items():
        links = [getattr(tp.links, name) for tp in sc.touchpoints.values()]
        if not any(lk is not None and (lk.window_months is not None or lk.exposed_share is not None)
                   for lk in links):
            continue
        share = window_share(events, w[None, :])
        for k, lk in enumerate(links):
            for s, seg in enumerate(sc.segments):
                got = None if lk is None or lk.exposed_share is None else lk.exposed_share.get(seg.name)
                if got is not None:
                    share[s, k] = got
        out[name] = share
    return out


def likely_params(sc: Scenario) -> dict[str, Array]:
    """Every link at its most likely value, with a draw axis of length 1.

    Touchpoint links have shape ``(1, K)``, global links ``(1,)``. A direct link a
    touchpoint does not have is 1.0 (no effect; the model uses the emotion chain there).
    """
    out = {name: np.array([[_value(getattr(tp.links, name)) for tp in sc.touchpoints.values()]])
           for name in TOUCHPOINT_LINKS}
    out.update({name: np.array([getattr(sc.links, name).value]) for name in GLOBAL_LINKS})
    if sc.cash_flows:
        out.update(cash_flow_params(sc, {k: np.array([cf.likely], float)
                                         for k, cf in sc.cash_flows.items()}))
    return out


def _value(link: object) -> float:
    return 1.0 if link is None else float(link.value)  # type: ignore[attr-defined]


def _sigmoid(z: Array) -> Array:
    return 1.0 / (1.0 + np.exp(-z))


def _logit(p: Array) -> Array:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return np.log(p / (1.0 - p))

r"""The flywheel: touchpoint experience -> emotion -> behaviour -> money, month by month.

Two arms run side by side per segment over the horizon: the *baseline* (levers stay at
today's values) and the *initiative* (levers ramp to their targets). An account kept this
month still pays next month, so benefits compound. ``docs/model.md`` gives every equation;
the short form:

.. math::

    p_k(t) &= \sigma\big(\operatorname{logit} p_{k,0} + \ln OR_k\,[g_k(x_k(t)) - g_k(x_{k,0})]\big),
    \qquad \Delta p_k(t) = p_k(t) - p_{k,0} \\
    h^I_s(t) &= \big[h_s(t) - \textstyle\sum_k \tfrac{\lambda_{sk}}{12} \Delta p_k(t)\,\gamma^{churn}_k\big]_0^1,
    \qquad h_s = 1 - (1 - c_s)^{1/12} \text{ or an sBG tenure curve} \\
    \epsilon^I_s(t) &= \big[\tfrac{e_s}{12} + \textstyle\sum_k \tfrac{\lambda_{sk}}{12} \Delta p_k(t)\,\gamma^{exp}_k\big]_0^1 \\
    A^X_s(t) &= N_s \textstyle\prod_{u \le t} (1 - h^X_s(u)), \qquad
    R^X_s(t) = \mathrm{ARPA}_s \textstyle\prod_{u \le t} (1 + \epsilon^X_s(u)\, v_s)

Money per month: retention savings :math:`m_s (A^I - A^B) R^B / 12`, cross-sell
:math:`m_s A^I (R^I - R^B) / 12`, cost-to-serve savings
:math:`A^I \sum_k \tfrac{\lambda_{sk}}{12} \Delta p_k \rho_k \kappa_{sk}`, advocacy
:math:`m_s A^{ref}_s \mathrm{ARPA}_s / 12` from accounts referred by extra promoters.

Cash-flow lines a scenario states outright (TEI style, :mod:`cxroi.cashflow`) are added to
net cash beside the model's lines.

The hot path is :func:`run_flywheel`: the numpy reference (:func:`run_flywheel_numpy`, pure
numpy over a ``draw`` axis, no Python loop over draws or months) or, once a process has
called :func:`use_kernel`, the compiled kernel :mod:`cxroi.kernel` (numba; same numbers to
1e-12, tests compare the two). :func:`compile_inputs` turns a validated
:class:`~cxroi.scenario.Scenario` into arrays once, so a slider move costs one call.
``docs/model.md`` ("Speed") gives the figures.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from types import ModuleType

import numpy as np

from cxroi import finance
from cxroi.contacts import contacts_saved, floored_contacts  # noqa: F401 (re-exported)
from cxroi.files import machine_lock
from cxroi.inputs import (
    BENEFIT_LINES,
    DIRECT_WINDOW_MONTHS,
    GLOBAL_LINKS,
    OUTPUTS,
    SCALES,
    TOUCHPOINT_LINKS,
    Array,
    Inputs,
    _logit,
    _sigmoid,
    compile_inputs,
    lever_path,
    likely_params,
    trailing_mean,
    window_share,
)
from cxroi.scenario import Scenario

#: The inputs' names, re-exported: ``from cxroi.model import compile_inputs`` keeps working.
__all__ = ["BENEFIT_LINES", "CHUNK", "DIRECT_WINDOW_MONTHS", "ENGINES", "GLOBAL_LINKS",
           "OUTPUTS", "SCALES", "TOUCHPOINT_LINKS", "Array", "Inputs", "compile_inputs",
           "evaluate", "kernel_active", "lever_path", "likely_params", "run_flywheel",
           "run_flywheel_numpy", "trailing_mean", "use_kernel"]


#: Draws per chunk on the hot path: keeps the (draw, segment, month) arrays in cache.
CHUNK = 1024

#: Which implementation :func:`run_flywheel` uses (environment variable ``CXROI_ENGINE``):
#: ``auto`` -- the compiled kernel (:mod:`cxroi.kernel`) once this process has loaded it with
#: :func:`use_kernel`, else numpy; ``numpy`` -- always the numpy reference; ``kernel`` --
#: load the kernel on first use. Both give the same numbers to 1e-12 (tests prove it).
ENGINE = os.environ.get("CXROI_ENGINE", "auto")
ENGINES = ("auto", "numpy", "kernel")
_KERNEL: ModuleType | None = None


def use_kernel() -> bool:
    """Load the compiled kernel now, so that from then on :func:`run_flywheel` runs on it.

    Costs the numba import and loading the machine code cached on disk (0.3-2 s, with the
    machine's load; the very first time on a machine, 10-30 s of compiling). For
    long-lived processes (the app server, batch workers), called once at start -- it may
    run in a background thread: until it returns, :func:`run_flywheel` keeps running on
    numpy. Returns False when numba is not installed (numpy stays).
    """
    global _KERNEL
    if _KERNEL is None:
        try:
            kernel = importlib.import_module("cxroi.kernel")
        except ImportError:
            return False
        # the first time on a machine the app's workers start together and would each compile
        # it (three compiles on two cores): one compiles and writes numba's cache, the others
        # then load it
        with machine_lock("kernel"):
            kernel.warm_up()
        _KERNEL = kernel
    return True


def kernel_active() -> bool:
    """Whether :func:`run_flywheel` runs on the compiled kernel right now."""
    return _engine() is not None


def _engine() -> ModuleType | None:
    if ENGINE not in ENGINES:
        raise ValueError(f"CXROI_ENGINE={ENGINE!r} is not an engine; use one of "
                         f"{', '.join(ENGINES)}")
    if ENGINE == "numpy":
        return None
    if ENGINE == "kernel" and _KERNEL is None and not use_kernel():
        raise ImportError("CXROI_ENGINE=kernel needs numba: pip install 'numba>=0.59', or "
                          "set CXROI_ENGINE=auto to run on numpy")
    return _KERNEL


def run_flywheel(inp: Inputs, params: Mapping[str, Array], monthly: bool = False,
                 detail: bool = False, irr: bool = True) -> dict[str, Array]:
    r"""Run both arms for every draw at once.

    Parameters
    ----------
    inp : Inputs
        From :func:`compile_inputs`.
    params : mapping of str to ndarray
        Touchpoint links of shape ``(D, K)`` and global links of shape ``(D,)``, as from
        :func:`likely_params` or :func:`cxroi.uncertainty.sample_params`. Optional (from
        :func:`cxroi.uncertainty.sample_rates`): ``churn_scale``, ``expansion_scale``
        ``(D, S)`` and ``contacts_scale`` ``(D, S, K)``, factors on the baseline monthly
        churn hazard, expansion rate and contacts per event in both arms (absent: 1);
        ``contacts_floor_weight`` ``(D,)``, where between the unfloored contacts
        :math:`\kappa CR^{\Delta g}` (0) and the floored :math:`\max(\kappa CR^{\Delta g}, 1)`
        (1) the measured contacts lie: :math:`\kappa' = \kappa CR^{\Delta g}
        + w \max(1 - \kappa CR^{\Delta g}, 0)` for a segment with :math:`\kappa \ge 1`
        (absent: 0.5).
    monthly : bool
        Also return monthly series: ``<benefit line>_monthly`` of shape ``(D, H)``;
        ``net_cash`` and ``net_cash_risk_adjusted`` of shape ``(D, H + 1)`` (month 0 is the
        one-off cost).
    detail : bool
        Also return ``revenue_baseline_monthly``, ``revenue_initiative_monthly`` ``(D, H)``
        and ``positive_share_monthly`` ``(D, K, H)`` (for charts of the likely run).
    irr : bool
        Compute the internal rate of return (``irr``, a root search per draw). ``False``
        gives NaN (not computed) for it, for callers that show or read no IRR (the app,
        the break-even search, a tornado of NPV); every other output is the same.

    Returns
    -------
    dict of str to ndarray
        Every key of :data:`OUTPUTS`, each of shape ``(D,)``.

    Notes
    -----
    Runs on the compiled kernel when it is active (:data:`ENGINE`, :func:`use_kernel`),
    else on :func:`run_flywheel_numpy`, the reference; both agree to 1e-12.
    """
    kernel = _engine()
    if kernel is not None:
        return kernel.flywheel(inp, params, monthly, detail, irr)
    return run_flywheel_numpy(inp, params, monthly, detail, irr)


def run_flywheel_numpy(inp: Inputs, params: Mapping[str, Array], monthly: bool = False,
                       detail: bool = False, irr: bool = True) -> dict[str, Array]:
    """The numpy reference of :func:`run_flywheel` (same arguments and results).

    Draws are processed in chunks of :data:`CHUNK` so the working arrays stay in the CPU
    cache; each chunk is fully vectorised (no loop over draws or months).
    """
    d = np.asarray(params["positive_share_today"]).shape[0]
    if d <= CHUNK:
        out = _run(inp, params, monthly, detail)
    else:
        parts = [_run(inp, {k: v[i:i + CHUNK] for k, v in params.items()}, monthly, detail)
                 for i in range(0, d, CHUNK)]
        # every array is draw-last here: joining chunks copies contiguous row segments
        out = {k: np.concatenate([p[k] for p in parts], axis=-1) for k in parts[0]}
    # payback and IRR work on whole cash-flow rows: cheaper once over all draws
    net = np.ascontiguousarray((out["net_cash"] if monthly else out.pop("net_cash")).T)
    out["payback_month"] = finance.payback_period(net)
    out["irr"] = finance.irr(net) if irr else np.full(net.shape[0], np.nan)
    # the public layout is draw-first: (D,), (D, H), (D, K, H) -- views, no copies
    return {k: v if v.ndim == 1 else np.moveaxis(v, -1, 0) for k, v in out.items()}


def _accumulate_months(x: Array, op: np.ufunc) -> Array:
    """In-place cumulative ``op`` (multiply / add) along axis 1 of an (S, H, D) array.

    A step per month over contiguous (S, D) slabs: numpy's own ``cumprod`` along a middle
    axis does not vectorise and is about 4x slower for thousands of draws; for a few draws
    (a deterministic run) the single ufunc call is cheaper than the month loop.
    """
    if x.shape[2] < 256:
        return op.accumulate(x, axis=1, out=x)
    for t in range(1, x.shape[1]):
        op(x[:, t], x[:, t - 1], out=x[:, t])
    return x


def _draws_last(x: Array) -> Array:
    """(D, K) -> contiguous (K, D): strided operands would cost the hot path its SIMD."""
    return np.ascontiguousarray(np.asarray(x, float).T)


def _rate_scale(params: Mapping[str, Array], name: str) -> Array | None:
    """A drawn factor on a segment's baseline rate, (D, S) -> contiguous (S, D); None when
    the scenario states the rate without a sampling interval."""
    x = params.get(name)
    return None if x is None else _draws_last(x)


def _floor_weight(params: Mapping[str, Array], d: int) -> Array:
    """Where between the unfloored (0) and the floored (1) contacts the saving lies, (D,)."""
    w = params.get("contacts_floor_weight")
    return np.full(d, 0.5) if w is None else np.asarray(w, float)


def _contacts_per_event(inp: Inputs, scale: Array | None, d: int) -> Array:
    r"""Contacts per event of each segment and touchpoint in each draw, (S, K, D):
    :math:`\kappa_{sk} f_{sk}`, with the drawn factor ``scale`` (D, S, K) when given."""
    if scale is None:
        return np.broadcast_to(inp.contacts[:, :, None], (*inp.contacts.shape, d))
    return inp.contacts[:, :, None] * np.moveaxis(np.asarray(scale, float), 0, -1)


def _run(inp: Inputs, params: Mapping[str, Array], monthly: bool, detail: bool
         ) -> dict[str, Array]:
    """One chunk of draws. Internally the draw axis is *last* -- arrays are (S, H, D) and
    (K, H, D) -- so month-wise cumulative products and segment sums run over contiguous
    draws; outputs stay draw-last and :func:`run_flywheel` turns them draw-first."""
    p0 = _draws_last(params["positive_share_today"])  # (K, D)
    d = p0.shape[1]
    logit0 = _logit(p0)
    log_or = np.log(_draws_last(params["odds_ratio"]))
    # (K, U, D): change in the share of positive outcomes, on distinct month-columns only
    dp = _sigmoid(logit0[:, None, :] + log_or[:, None, :] * inp.shift_unique[:, :, None])
    dp -= p0[:, None, :]
    dp *= inp.shift_unique[:, :, None] != 0  # a lever at today changes nothing, exactly
    months = inp.month_index  # (H,) column of dp for each month
    dp_full = _sigmoid(logit0 + log_or * inp.shift_full[:, None]) - p0  # (K, D) at target
    dp_full *= inp.shift_full[:, None] != 0

    lam = inp.events / 12.0  # (S, K) events per account-month
    n_seg = lam.shape[0]
    h = inp.horizon

    def per_segment(gap: str, weights: Array, delta: Array) -> Array:
        """out[s, ..., d] = sum_k weights[s, k] * gap[d, k] * delta[k, ..., d].

        With ``delta = dp`` the result is expanded from distinct columns to all H months.
        """
        g = _draws_last(params[gap])  # (K, D)
        out = np.zeros((n_seg, *delta.shape[1:]))
        for k in range(g.shape[0]):  # loop over touchpoints (a handful), never draws
            gd = delta[k] * g[k]
            for s in range(n_seg):
                if weights[s, k]:
                    out[s] += weights[s, k] * gd
        return np.take(out, months, axis=1) if delta.ndim == 3 else out

    exposure = window_share(inp.events)  # (S, K) share of accounts with >= 1 event a year

    def gap_weights(direct: str, weights: Array) -> Array:
        """Weights of the emotion-chain gap, zero where the touchpoint has the direct link."""
        return weights * ~inp.direct[direct][None, :]

    def direct_factor(name: str, shift: Array) -> Array | None:
        """prod_k [1 + q_sk (ratio_k ** shift_k - 1)] over touchpoints with the direct link
        (``q_sk``: :meth:`Inputs.share`, the exposed share, ``pi_sk`` unless measured).

        ``shift`` is ``(K, U)`` (distinct month-columns, expanded to H months) or ``(K,)``
        (levers at target); returns ``(S, H, D)`` or ``(S, D)``, or None when no touchpoint
        has the link.
        """
        has = inp.direct[name]
        if not has.any():
            return None
        log_r = np.log(_draws_last(params[name]))  # (K, D)
        share = inp.share(name)  # (S, K): measured exposed share, else pi over the window
        out = np.ones((n_seg, *shift.shape[1:], d))
        for k in np.flatnonzero(has):
            rk = np.exp(np.multiply.outer(shift[k], log_r[k])) - 1.0  # (U, D) or (D,)
            for s in range(n_seg):
                if share[s, k]:
                    out[s] *= 1.0 + share[s, k] * rk
        return np.take(out, months, axis=1) if shift.ndim == 2 else out

    def seg_sum(weights: Array, *arrays: Array) -> Array:
        """sum_s weights[s] * prod(arrays)[s] -> (H, D); weights (S,) or (S, H)."""
        acc = np.zeros(np.broadcast_shapes(*(a.shape[1:] for a in arrays)))
        for s in range(n_seg):
            term = arrays[0][s] * (weights[s][:, None] if np.ndim(weights[s]) else weights[s])
            for extra in arrays[1:]:
                term = term * extra[s]  # (H, 1) x (H, D) when only some rates are drawn
            acc += term
        return acc

    # --- baseline rates measured with sampling error: a factor per draw and segment ------
    # (``churn_scale``, ``expansion_scale`` (D, S), ``contacts_scale`` (D, S, K) from
    # cxroi.uncertainty.sample_rates; absent: the rates as stated). They move the money
    # lines of both arms; the steady-state views (NRR, CLV) keep the stated rates.
    churn_scale, exp_scale = _rate_scale(params, "churn_scale"), _rate_scale(params, "expansion_scale")
    contacts_scale = params.get("contacts_scale")  # (D, S, K) or None

    # --- churn and survival: S(t) = prod (1 - h_I(u)) --------------------------------------
    h_base = inp.hazard_year  # (S,) steady state
    h_path = inp.hazard[:, :, None]  # (S, H, 1): constant, or falling with tenure
    if churn_scale is not None:
        h_path = h_path * churn_scale[:, None, :]  # (S, H, D): h_s(t) f_s
    surv = per_segment("churn_gap", gap_weights("churn_hazard_ratio", lam), dp)  # reduction
    # measured per unit of the trailing mean lever value of recent events: the effect on
    # leaving and buying more builds up over the link's window (DIRECT_WINDOW_MONTHS unless
    # calibration chose another) after the lever moves
    hr = direct_factor("churn_hazard_ratio", inp.trailing("churn_hazard_ratio"))
    if hr is None:
        np.subtract(h_path, surv, out=surv)
    else:  # measured total effect: the hazard scales for the accounts exposed
        hr *= h_path
        np.subtract(hr, surv, out=surv)
    # a hazard pushed below 0 means the links claim more churn than the segment has
    floored = (surv < 0.0).any(axis=(0, 1))  # (D,)
    np.clip(surv, 0.0, 1.0, out=surv)
    np.subtract(1.0, surv, out=surv)
    _accumulate_months(surv, np.multiply)  # (S, H, D) survival of the initiative arm
    if churn_scale is None:
        surv_base = inp.surv_base[:, :, None]  # (S, H, 1)
    else:  # the running product of the same hazard as the initiative arm's: equal arms cancel
        surv_base = _accumulate_months(1.0 - np.clip(h_path, 0.0, 1.0), np.multiply)  # (S, H, D)

    # --- expansion: revenue per account grows by prod (1 + eps(u) v) ----------------------
    e_base = inp.expansion_rate / 12.0
    e_path = e_base[:, None, None]  # (S, 1, 1), or (S, 1, D): e_s f_s / 12
    if exp_scale is not None:
        e_path = e_path * exp_scale[:, None, :]
    grow = per_segment("expansion_gap", gap_weights("expansion_rate_ratio", lam), dp)
    rr = direct_factor("expansion_rate_ratio", inp.trailing("expansion_rate_ratio"))
    if rr is None:
        np.add(e_path, grow, out=grow)
    else:
        rr *= e_path
        np.add(rr, grow, out=grow)
    np.clip(grow, 0.0, 1.0, out=grow)
    grow *= inp.expansion_value[:, None, None]
    grow += 1.0
    _accumulate_months(grow, np.multiply)  # (S, H, D) revenue per account / ARPA
    grow_base = np.cumprod(np.broadcast_to(1.0 + e_path * inp.expansion_value[:, None, None],
                                           (n_seg, h, e_path.shape[2])), axis=1)  # as the arm's

    # margin per month of the whole segment at ARPA
    w = inp.margin * inp.accounts * inp.arpa / 12.0  # (S,)
    # the three sums multiply in the same order, so equal arms cancel to exactly zero
    base_margin = seg_sum(w, surv_base, grow_base)  # (H, 1), or (H, D) with drawn rates
    kept = seg_sum(w, surv, grow_base)  # initiative accounts at baseline spend
    retention = kept - base_margin
    cross_sell = seg_sum(w, surv, grow) - kept

    # cost to serve: accounts x sum_k lam * cost * repeat_gap * dp
    cts = per_segment("repeat_contacts",
                      gap_weights("contacts_ratio", lam * inp.cost_per_contact), dp)
    if inp.direct["contacts_ratio"].any():
        # measured: contacts per event scale by ratio ** shift; the saving is what is not
        # made, each event at least one contact (contacts_saved)
        log_c = np.log(_draws_last(params["contacts_ratio"]))  # (K, D)
        kappa_d = _contacts_per_event(inp, contacts_scale, d)  # (S, K, D)
        save = contacts_saved(inp, log_c, kappa_d, _floor_weight(params, d),
                              params.get("events_scale"))  # (S, U, D)
        cts += np.take(save, months, axis=1)
    cost_to_serve = seg_sum(inp.accounts, surv, cts)

    # --- survey view and advocacy -------------------------------------------------------
    # New referred accounts per month: A_I * max(dNPS, 0)/200 * phi/12; each then survives
    # with the initiative arm's hazard, so A_ref(t) = S(t) * cumsum(N * dNPS+ * phi / 2400).
    ref = per_segment("nps_gap", exposure, dp)  # (S, H, D) NPS points
    phi = np.asarray(params["referrals_per_promoter"], float)  # (D,)
    # promoters gained, never beyond NPS +100 (the same ceiling as the NPS after)
    np.clip(ref, 0.0, (100.0 - 100.0 * (inp.promoters - inp.detractors))[:, None, None], out=ref)
    ref *= (inp.accounts[:, None] * phi[None, :] / 2400.0)[:, None, :]
    _accumulate_months(ref, np.add)
    ref *= surv  # referred accounts alive, (S, H, D)
    advocacy = seg_sum(inp.margin * inp.arpa / 12.0, ref)

    lines = np.stack([retention, cross_sell, cost_to_serve, advocacy])  # (4, H, D)
    running = np.full(h, inp.running_per_year / 12.0)
    costs = np.concatenate([[inp.one_off], running])  # (H + 1,)
    benefits = lines.sum(axis=0)  # (H, D)
    net = np.empty((h + 1, d))
    net[0] = 0.0
    net[1:] = benefits
    net -= costs[:, None]
    # TEI haircut on gains only: a losing line is not made smaller by the risk adjustment
    adj_benefits = benefits - np.tensordot(inp.haircuts, np.maximum(lines, 0.0), axes=1)
    net_adj = np.empty((h + 1, d))
    net_adj[0] = 0.0
    net_adj[1:] = adj_benefits
    net_adj -= costs[:, None] * (1.0 + inp.cost_uplift)

    df = finance.discount_factors(h, inp.discount_rate)
    pv_b = df[1:] @ benefits
    pv_c = float(costs @ df) * np.ones(d)
    pv_b_adj = df[1:] @ adj_benefits
    pv_c_adj = pv_c * (1.0 + inp.cost_uplift)
    other_b = other_c = np.zeros(d)
    if "cash_benefits" in params:  # the scenario's own cash-flow lines, (H + 1, D) each
        cb, cc, cb_adj, cc_adj = (_draws_last(params[k]) for k in (
            "cash_benefits", "cash_costs", "cash_benefits_adj", "cash_costs_adj"))
        net += cb - cc
        net_adj += cb_adj - cc_adj
        pv_b = pv_b + df @ cb
        pv_c = pv_c + df @ cc
        pv_b_adj = pv_b_adj + df @ cb_adj
        pv_c_adj = pv_c_adj + df @ cc_adj
        other_b, other_c = cb.sum(axis=0), cc.sum(axis=0)

    # --- steady state (levers at target) for NRR, CLV, NPS, CSAT: arrays (S, D) -----------
    hr_full = direct_factor("churn_hazard_ratio", inp.shift_full)
    rr_full = direct_factor("expansion_rate_ratio", inp.shift_full)
    hz_full = np.clip(h_base[:, None] * (1.0 if hr_full is None else hr_full)
                      - per_segment("churn_gap", gap_weights("churn_hazard_ratio", lam), dp_full),
                      0.0, 1.0)
    eps_full = np.clip(e_base[:, None] * (1.0 if rr_full is None else rr_full)
                       + per_segment("expansion_gap", gap_weights("expansion_rate_ratio", lam),
                                     dp_full), 0.0, 1.0)
    ret_b, ret_a = (1.0 - h_base) ** 12, (1.0 - hz_full) ** 12
    grow_b = (1.0 + e_base * inp.expansion_value) ** 12
    grow_a = (1.0 + eps_full * inp.expansion_value[:, None]) ** 12
    rev0 = inp.accounts * inp.arpa
    nrr_b = float((rev0 * ret_b * grow_b).sum() / rev0.sum())
    nrr_a = (rev0 / rev0.sum()) @ (ret_a * grow_a)
    w_acc = inp.accounts / inp.accounts.sum()
    annual_margin = inp.margin * inp.arpa
    clv_b = float(w_acc @ finance.clv(annual_margin, ret_b, inp.discount_rate, grow_b - 1.0))
    clv_a = w_acc @ finance.clv(annual_margin[:, None], ret_a, inp.discount_rate, grow_a - 1.0)

    nps_b_seg = 100.0 * (inp.promoters - inp.detractors)
    nps_a_seg = np.clip(nps_b_seg[:, None] + per_segment("nps_gap", exposure, dp_full),
                        -100.0, 100.0)
    nps_b = float(w_acc @ nps_b_seg)
    nps_a = w_acc @ nps_a_seg
    ev_tot = inp.events.sum(axis=1, keepdims=True)
    ev_share = np.divide(inp.events, ev_tot, out=np.zeros_like(inp.events), where=ev_tot > 0)
    csat_a_seg = np.clip(inp.csat[:, None] + per_segment("csat_gap", ev_share, dp_full),
                         1.0, 5.0)
    csat_b = float(w_acc @ inp.csat)
    csat_a = w_acc @ csat_a_seg

    totals = lines.sum(axis=1)  # (4, D)
    ones = np.ones(d)
    out: dict[str, Array] = dict(zip(BENEFIT_LINES, totals, strict=True))
    out.update(
        other_benefits=other_b,
        total_benefits=totals.sum(axis=0) + other_b,
        one_off_cost=inp.one_off * ones,
        running_costs=running.sum() * ones,
        other_costs=other_c,
        total_costs=costs.sum() + other_c,
        pv_benefits=pv_b,
        pv_costs=pv_c,
        npv=df @ net,
        npv_risk_adjusted=df @ net_adj,
        roi=finance.roi(pv_b, pv_c),
        roi_risk_adjusted=finance.roi(pv_b_adj, pv_c_adj),
        accounts_kept=inp.accounts @ (surv[:, -1, :] - surv_base[:, -1, :]) + ref[:, -1].sum(0),
        nrr_before=nrr_b * ones, nrr_after=nrr_a,
        clv_before=clv_b * ones, clv_after=clv_a,
        nps_before=nps_b * ones, nps_after=nps_a, nps_change=nps_a - nps_b,
        csat_before=csat_b * ones, csat_after=csat_a, csat_change=csat_a - csat_b,
        churn_floored=floored.astype(float),
        net_cash=net,
    )
    if monthly:
        for name, series in zip(BENEFIT_LINES, lines, strict=True):
            out[f"{name}_monthly"] = series
        out["net_cash_risk_adjusted"] = net_adj
    if detail:
        rev_w = inp.accounts * inp.arpa / 12.0
        out["revenue_baseline_monthly"] = np.broadcast_to(
            (rev_w[:, None, None] * surv_base * grow_base).sum(axis=0), (h, d))
        out["revenue_initiative_monthly"] = (seg_sum(rev_w, surv, grow)
                                             + seg_sum(inp.arpa / 12.0, ref))
        out["positive_share_monthly"] = p0[:, None, :] + dp[:, months]  # (K, H, D)
    return out


def evaluate(sc: Scenario, monthly: bool = False) -> dict[str, float | Array]:
    """Deterministic run with every link at its most likely value.

    Returns scalars for :data:`OUTPUTS` (and monthly series, with detail, when ``monthly``).
    """
    res = run_flywheel(compile_inputs(sc), likely_params(sc), monthly=monthly, detail=monthly)
    return {k: (float(v[0]) if v.ndim == 1 else v[0]) for k, v in res.items()}

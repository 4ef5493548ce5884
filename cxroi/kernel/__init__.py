r"""The flywheel compiled (numba): the whole model in one pass over blocks of draws.

Same equations, same operations in the same order as the numpy reference
(:func:`cxroi.model.run_flywheel_numpy`), as loops that numba compiles to machine code
(:mod:`cxroi.kernel._loops`): per segment and month, survival, revenue per account, referred
accounts and the four money lines of a block of 128 draws are accumulated while the block
sits in the L1/L2 cache -- the innermost loops run over the block's draws, so they
vectorise -- instead of a dozen numpy passes over ``(S, H, D)`` arrays. What needs
``exp``/``log``/``pow`` runs here, vectorised in numpy with the reference's expressions
(on each touchpoint's distinct lever positions only), so the loops start from the
reference's numbers exactly. Results agree with the reference to a few 1e-15 of each
output's scale (sums in order rather than BLAS's); tests hold them to 1e-12.

This package imports numba, so :mod:`cxroi.model` imports it only on demand
(:func:`cxroi.model.use_kernel`): the numba import and the load of the compiled code
(``cache=True``: compiled once per machine, 10-30 s, then loaded from disk) never land on
a cold start that did not ask for them.
"""

from __future__ import annotations

import math
import sys
import threading
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from cxroi import finance
from cxroi.inputs import window_share
from cxroi.kernel._finance import _irr
from cxroi.kernel._loops import BLOCK, _flywheel
from cxroi.scenario import DIRECT_LINKS

if TYPE_CHECKING:
    from cxroi.model import Array, Inputs

__all__ = ["BLOCK", "flywheel", "steady_baseline", "warm_up"]


_CONSTANTS: weakref.WeakKeyDictionary[Inputs, tuple[tuple, dict]] = weakref.WeakKeyDictionary()


def _constants(inp: Inputs) -> tuple[tuple, dict]:
    """Scenario-derived arrays of the kernel and the baseline's steady state, computed once
    per :class:`Inputs` (a frozen object: a slider move makes a new one) with the
    reference's own expressions, so both paths start from the same numbers."""
    got = _CONSTANTS.get(inp)
    if got is not None:
        return got
    lam = inp.events / 12.0
    direct = np.array([inp.direct[name] for name in DIRECT_LINKS], bool)  # (3, K)
    exposure = window_share(inp.events)
    ev_tot = inp.events.sum(axis=1, keepdims=True)
    ev_share = np.divide(inp.events, ev_tot, out=np.zeros_like(inp.events), where=ev_tot > 0)
    e_base = inp.expansion_rate / 12.0
    h = inp.horizon
    grow_base = np.cumprod(np.broadcast_to((1.0 + e_base * inp.expansion_value)[:, None],
                                           (len(inp.segments), h)), axis=1)
    w = inp.margin * inp.accounts * inp.arpa / 12.0
    base_margin = np.zeros(h)
    for s in range(len(inp.segments)):
        base_margin += inp.surv_base[s] * w[s] * grow_base[s]
    costs = np.concatenate([[inp.one_off], np.full(h, inp.running_per_year / 12.0)])
    f64 = np.ascontiguousarray
    # the emotion chain depends on the lever alone: its distinct month-columns (a ramp, then
    # flat), each touchpoint's distinct positions, and which one each column holds
    shift_c, col = np.unique(inp.shift, axis=1, return_inverse=True)
    found = [np.unique(row, return_inverse=True) for row in shift_c]
    shift_vals = np.zeros((len(found), max(len(v) for v, _ in found)))
    for k, (v, _) in enumerate(found):
        shift_vals[k, :len(v)] = v
    val_index = np.array([i.ravel() for _, i in found], np.int64)
    args = (
        val_index, col.ravel().astype(np.int64), inp.month_index.astype(np.int64), direct,
        lam * ~direct[0][None, :], lam * ~direct[1][None, :],
        lam * inp.cost_per_contact * ~direct[2][None, :],
        exposure, np.stack([inp.share("churn_hazard_ratio"), inp.share("expansion_rate_ratio")]),
        ev_share,
        f64(inp.hazard), inp.hazard_year, e_base, inp.expansion_value, grow_base, w,
        inp.accounts, 100.0 - 100.0 * (inp.promoters - inp.detractors),
        inp.margin * inp.arpa / 12.0, costs, inp.haircuts, float(inp.cost_uplift),
        finance.discount_factors(h, inp.discount_rate), inp.accounts / inp.accounts.sum(),
        100.0 * (inp.promoters - inp.detractors), inp.csat, base_margin, f64(inp.surv_base),
        f64(inp.surv_base[:, -1]), inp.accounts * inp.arpa / 12.0, inp.arpa / 12.0,
    )
    rev0 = inp.accounts * inp.arpa
    xs = finance.IRR_GRID  # finance.irr's grid
    extra = {"irr_grid": xs, **steady_baseline(inp), "costs": costs, "shift_vals": shift_vals,
             "shift_c": f64(shift_c), "direct": [bool(row.any()) for row in direct],
             "moved": (shift_vals != 0)[:, :, None],
             "at_today": [(int(k), int(v)) for k, v in zip(*np.nonzero(shift_vals == 0),
                                                           strict=True)],
             "exposure": exposure,
             "rev_share": rev0 / rev0.sum(), "w_acc": inp.accounts / inp.accounts.sum(),
             "annual_margin": inp.margin * inp.arpa}
    # every array contiguous float64 / int64 / bool: the types the kernel was compiled for
    # (another layout would mean a fresh compile of tens of seconds mid-request)
    args = tuple(a if not isinstance(a, np.ndarray) else np.ascontiguousarray(
        a, float if a.dtype.kind == "f" else a.dtype) for a in args)
    got = args, extra
    _CONSTANTS[inp] = got
    return got


def _touchpoint_draws(links: list[Array]) -> Array:
    """The touchpoint links draw-last, ``(L, K, D)`` contiguous float64: the sampler's own
    buffer when the ``(D, K)`` links are its views, in order
    (:func:`cxroi.uncertainty.sample_params`: no copy), else stacked."""
    first = np.asarray(links[0])
    buf = first.base
    if (isinstance(buf, np.ndarray) and buf.dtype == np.float64 and buf.flags.c_contiguous
            and buf.shape == (len(links), *first.shape[::-1])):
        start, step = buf.ctypes.data, buf.strides[0]
        if all(isinstance(x, np.ndarray) and x.base is buf and x.shape == first.shape
               and x.strides == buf.strides[:0:-1] and x.ctypes.data == start + i * step
               for i, x in enumerate(links)):
            return buf
    arrays = [np.asarray(x) for x in links]
    if any(x.shape != first.shape for x in arrays):
        return np.stack([np.asarray(x, float).T for x in arrays])  # numpy's own error
    out = np.empty((len(arrays), *first.shape[::-1]))
    for i, x in enumerate(arrays):  # cheaper than np.stack for a deterministic run's few
        out[i] = x.T
    return out


def _readonly(x: Array) -> Array:
    """A read-only view of ``x`` (the kernel never writes its inputs)."""
    v = x.view()
    v.flags.writeable = False
    return v


#: Output buffers of earlier calls, reused once nothing refers to them any more
#: (:func:`_outputs`); at most this many are kept.
SPARE_BUFFERS = 2
_SPARE: list[Array] = []
_SPARE_LOCK = threading.Lock()
#: Below this many float64s a fresh buffer is cheap: no reuse.
_SPARE_MIN = 1 << 17


def _references(pool: list[Array], i: int) -> int:
    return sys.getrefcount(pool[i])


#: The count :func:`_references` gives for an array that only the pool holds (measured the
#: same way, so it stays right whatever the interpreter counts for its own stack).
_UNUSED = _references([np.empty(1)], 0)


def _outputs(shapes: list[tuple[int, ...]]) -> list[Array]:
    """Contiguous float64 arrays of ``shapes``, carved from one buffer.

    Fresh memory is expensive on this kind of machine: the kernel writes ~18 MB of monthly
    series for 10,000 draws, and first touching new pages costs ~0.2 ms per MB (page
    faults), as much as a quarter of the model. So a buffer from an earlier call is reused
    when nothing refers to it any more -- no array, view or result holds it (its reference
    count is the pool's own); a result still in use is never overwritten. At most
    :data:`SPARE_BUFFERS` buffers are kept (the app's current result and the next one).
    """
    sizes = [math.prod(shape) for shape in shapes]
    total = sum(sizes)
    if total < _SPARE_MIN:  # a few draws (a deterministic run): plain arrays
        return [np.empty(shape) for shape in shapes]
    with _SPARE_LOCK:  # pick and carve under the lock: the views claim the buffer
        buf = None
        for i in range(len(_SPARE)):
            if _SPARE[i].size == total and _references(_SPARE, i) <= _UNUSED:
                buf = _SPARE.pop(i)
                _SPARE.append(buf)  # most recently used last
                break
        if buf is None:
            buf = np.empty(total)
            _SPARE.append(buf)
            del _SPARE[:-SPARE_BUFFERS]
        out, start = [], 0
        for shape, size in zip(shapes, sizes, strict=True):
            out.append(buf[start:start + size].reshape(shape))
            start += size
    return out


#: Order of the kernel's per-draw scalars (``scal`` columns).
_SCALARS = ("retention_savings", "cross_sell", "cost_to_serve_savings", "advocacy",
            "other_benefits", "total_benefits", "other_costs", "pv_benefits", "pv_costs",
            "pv_benefits_adj", "pv_costs_adj", "npv", "npv_risk_adjusted", "accounts_kept",
            "nps_after", "csat_after", "churn_floored", "payback_month", "roi",
            "roi_risk_adjusted")


def flywheel(inp: Inputs, params: Mapping[str, Array], monthly: bool = False,
             detail: bool = False, irr: bool = True) -> dict[str, Array]:
    """:func:`cxroi.model.run_flywheel` on the compiled kernel: same arguments, same keys,
    same shapes (draw-first; monthly series are views of draw-last arrays, as there)."""
    from cxroi.contacts import contacts_saved
    from cxroi.model import (
        TOUCHPOINT_LINKS,
        _contacts_per_event,
        _floor_weight,
        _rate_scale,
    )

    # draw-last (K, D) and (T, D) inputs, as the numpy reference lays them out
    tp = _touchpoint_draws([params[name] for name in TOUCHPOINT_LINKS])
    n = tp.shape[2]
    phi = np.ascontiguousarray(params["referrals_per_promoter"], float)
    has_cash = "cash_benefits" in params
    h = inp.horizon
    t_all = h + 1
    cash = (np.stack([np.asarray(params[k], float).T for k in (
        "cash_benefits", "cash_costs", "cash_benefits_adj", "cash_costs_adj")])
        if has_cash else np.zeros((4, t_all, 1)))
    c, base = _constants(inp)
    # transcendental functions run vectorised over draws in numpy (SIMD), with the
    # reference's expressions, so the kernel's inputs are the reference's numbers exactly
    p0 = tp[0]
    p = np.clip(p0, 1e-9, 1 - 1e-9)
    logit0 = np.log(p / (1.0 - p))  # (K, D)
    log_or = np.log(tp[1])
    vals = base["shift_vals"]  # (K, V): each touchpoint's distinct lever positions
    # sigma(logit p0 + ln OR * shift) - p0, in one buffer, as the reference computes it;
    # -(logit p0 + ln OR * shift) as (-ln OR) * shift - logit p0: the same number (negation
    # is exact), one pass fewer; a lever at today changes nothing, exactly
    dpv = np.multiply(np.negative(log_or)[:, None, :], vals[:, :, None])
    dpv -= logit0[:, None, :]
    np.exp(dpv, out=dpv)
    dpv += 1.0
    np.divide(1.0, dpv, out=dpv)
    dpv -= p0[:, None, :]
    if n < 256:  # a few draws: one call
        dpv *= base["moved"]
    else:  # thousands: only the rows of a lever at today
        for k, v in base["at_today"]:
            dpv[k, v] *= 0.0
    shift_full = inp.shift_full[:, None]
    dpf = 1.0 / (1.0 + np.exp(-(logit0 + log_or * shift_full))) - p0
    dpf *= shift_full != 0
    has_hr, has_rr, has_cr = base["direct"]
    rk_hr = rk_rr = saved = np.zeros((1, 1, 1))
    rkf_hr = rkf_rr = np.zeros((1, 1))
    if has_hr:
        log_r = np.log(tp[7])
        rk_hr = np.exp(inp.trailing("churn_hazard_ratio")[:, :, None] * log_r[:, None, :]) - 1.0
        rkf_hr = np.exp(shift_full * log_r) - 1.0
    if has_rr:
        log_r = np.log(tp[8])
        rk_rr = np.exp(inp.trailing("expansion_rate_ratio")[:, :, None] * log_r[:, None, :]) - 1.0
        rkf_rr = np.exp(shift_full * log_r) - 1.0
    if has_cr:  # the contacts not made per account, (S, C, D): the reference's function
        kap = _contacts_per_event(inp, params.get("contacts_scale"), n)
        saved = np.ascontiguousarray(contacts_saved(
            inp, np.log(tp[9]), kap, _floor_weight(params, n), params.get("events_scale"),
            shift=base["shift_c"]))
    # drawn factors on the baseline rates, (S, D): the baseline arm is then per draw
    cs, es = (_rate_scale(params, name) for name in ("churn_scale", "expansion_scale"))
    has_cs, has_es = cs is not None, es is not None
    cs = cs if has_cs else np.zeros((1, 1))
    es = es if has_es else np.zeros((1, 1))
    k_tp = tp.shape[1]
    block = max(1, min(BLOCK, n))  # a deterministic run: scratch for one draw, not 128
    lines, net, net_adj, scal, steady = _outputs(
        [(4, h, n), (t_all, n), (t_all, n), (len(_SCALARS), n), (2, len(inp.segments), n)])
    pos_share = np.empty((k_tp, h, n) if detail else (1, 1, 1))
    rev_init = np.empty((h, n) if detail else (1, 1))
    rev_base = np.empty((h, n) if detail and (has_cs or has_es) else (1, 1))
    # the draws enter read-only, always: the caller's may be (a simulation's kept draws,
    # cxroi.uncertainty.draws), and one type per argument means one compiled signature
    _flywheel(_readonly(tp), _readonly(phi), cash, has_cash, dpv, dpf, rk_hr, rk_rr, rkf_hr,
              rkf_rr, saved, _readonly(cs), _readonly(es), has_cs, has_es, *c,
              detail, block, lines, net, net_adj, scal, steady, pos_share, rev_init, rev_base)
    # steady state (levers at target): the powers vectorised, as the reference
    ret_a = (1.0 - steady[0]) ** 12
    grow_a = (1.0 + steady[1] * inp.expansion_value[:, None]) ** 12
    nrr_a = base["rev_share"] @ (ret_a * grow_a)
    clv_a = base["w_acc"] @ finance.clv(base["annual_margin"][:, None], ret_a,
                                        inp.discount_rate, grow_a - 1.0)
    # IRR: bracketed on the reference's grid of rates, then its Newton steps
    irrs = np.full(n, np.nan)  # not computed unless asked for
    if irr:
        _irr(net, base["irr_grid"], 12, 1e-10, 100, block, irrs)

    ones = np.ones(n)
    col = dict(zip(_SCALARS, scal, strict=True))
    pv_b, pv_c = col["pv_benefits"], col["pv_costs"]
    out: dict[str, Array] = {k: col[k] for k in (
        "retention_savings", "cross_sell", "cost_to_serve_savings", "advocacy",
        "other_benefits", "total_benefits")}
    out.update(
        one_off_cost=inp.one_off * ones,
        running_costs=base["costs"][1:].sum() * ones,
        other_costs=col["other_costs"],
        total_costs=base["costs"].sum() + col["other_costs"],
        pv_benefits=pv_b, pv_costs=pv_c,
        npv=col["npv"], npv_risk_adjusted=col["npv_risk_adjusted"],
        roi=col["roi"], roi_risk_adjusted=col["roi_risk_adjusted"],
        accounts_kept=col["accounts_kept"],
        nrr_before=base["nrr_before"] * ones, nrr_after=nrr_a,
        clv_before=base["clv_before"] * ones, clv_after=clv_a,
        nps_before=base["nps_before"] * ones, nps_after=col["nps_after"],
        nps_change=col["nps_after"] - base["nps_before"],
        csat_before=base["csat_before"] * ones, csat_after=col["csat_after"],
        csat_change=col["csat_after"] - base["csat_before"],
        churn_floored=col["churn_floored"],
        payback_month=col["payback_month"], irr=irrs,
    )
    if monthly:
        from cxroi.model import BENEFIT_LINES
        for j, name in enumerate(BENEFIT_LINES):
            out[f"{name}_monthly"] = lines[j].T  # draw-first views, as the reference's
        out["net_cash"] = net.T
        out["net_cash_risk_adjusted"] = net_adj.T
    if detail:
        out["revenue_baseline_monthly"] = (rev_base.T if has_cs or has_es else
                                           np.broadcast_to(base["revenue_baseline"], (n, h)))
        out["revenue_initiative_monthly"] = rev_init.T
        out["positive_share_monthly"] = np.moveaxis(pos_share, -1, 0)
    return out


def steady_baseline(inp: Inputs) -> dict[str, float | Array]:
    """The baseline arm's steady state and revenue (the same for every draw), with the
    reference's expressions."""
    e_base = inp.expansion_rate / 12.0
    h_base = inp.hazard_year
    ret_b = (1.0 - h_base) ** 12
    grow_b = (1.0 + e_base * inp.expansion_value) ** 12
    rev0 = inp.accounts * inp.arpa
    w_acc = inp.accounts / inp.accounts.sum()
    annual_margin = inp.margin * inp.arpa
    nps_b_seg = 100.0 * (inp.promoters - inp.detractors)
    grow_base = np.cumprod(np.broadcast_to((1.0 + e_base * inp.expansion_value)[:, None],
                                           (len(inp.segments), inp.horizon)), axis=1)
    rev_w = inp.accounts * inp.arpa / 12.0
    return {
        "nrr_before": float((rev0 * ret_b * grow_b).sum() / rev0.sum()),
        "clv_before": float(w_acc @ finance.clv(annual_margin, ret_b, inp.discount_rate,
                                                grow_b - 1.0)),
        "nps_before": float(w_acc @ nps_b_seg),
        "csat_before": float(w_acc @ inp.csat),
        "revenue_baseline": (rev_w[:, None] * inp.surv_base * grow_base).sum(axis=0),
    }


def warm_up() -> None:
    """Load the compiled kernel (compile it, the first time on a machine: a few seconds,
    then cached on disk) by running it once on a one-segment, one-touchpoint, two-month toy
    case with every optional part (direct links, cash-flow lines, detail) switched on."""
    from cxroi.model import GLOBAL_LINKS, TOUCHPOINT_LINKS, Inputs

    one, two = np.ones(1), np.ones((1, 2))
    inp = Inputs(
        segments=("toy",), touchpoints=("toy",), accounts=one, arpa=one, margin=one,
        churn=0.1 * one, hazard=0.01 * two, surv_base=0.99 * two, hazard_year=0.01 * one,
        expansion_rate=0.1 * one, expansion_value=one, promoters=0.3 * one,
        detractors=0.3 * one, csat=3.0 * one, events=np.ones((1, 1)),
        cost_per_contact=np.ones((1, 1)), contacts=np.ones((1, 1)),
        direct={name: np.ones(1, bool) for name in DIRECT_LINKS}, shift=-two,
        shift_unique=-np.ones((1, 1)), trailing_unique=-np.ones((1, 1)),
        month_index=np.zeros(2, np.int64), shift_full=-one, one_off=1.0,
        running_per_year=0.0, horizon=2, discount_rate=0.1, haircuts=np.zeros(4),
        cost_uplift=0.0)
    params = {name: np.full((1, 1), 0.5) for name in TOUCHPOINT_LINKS}
    params.update({name: np.full(1, 0.1) for name in GLOBAL_LINKS})
    params.update({name: np.ones((1, 3)) for name in (
        "cash_benefits", "cash_costs", "cash_benefits_adj", "cash_costs_adj")})
    flywheel(inp, params, monthly=True, detail=True)

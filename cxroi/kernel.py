r"""The flywheel compiled (numba): one pass per draw, every month and segment in registers.

Same equations, same order of operations as the numpy reference (:func:`cxroi.model._run`),
written as loops over draws that numba compiles to machine code: the whole chain -- change
in positive share, hazards and survival, expansion, the four benefit lines, net cash, NPV,
payback and IRR -- runs for one draw while its ``(S, H)`` working arrays sit in the L1 cache,
instead of a dozen numpy passes over ``(S, H, D)`` arrays. Results agree with the reference
to about 1e-15 relative (exp/pow from the C library instead of numpy's SIMD versions, and
sums of a few terms in order rather than BLAS's); tests check 1e-12.

This module imports numba, so :mod:`cxroi.model` only imports it on demand
(:func:`cxroi.model.use_kernel`): its import (~0.5 s) and the load of the compiled code
(cached on disk, ``cache=True``; the first compile on a machine takes a few seconds) never
land on a cold start that did not ask for them.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numba
import numpy as np

from cxroi import finance
from cxroi.scenario import DIRECT_LINKS

if TYPE_CHECKING:
    from cxroi.model import Array, Inputs

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}


@numba.njit(**_JIT)
def _clip(x: float, lo: float, hi: float) -> float:
    # as np.clip: NaN stays NaN
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


#: Draws per block: the kernel's innermost loops run over a block of draws (contiguous, so
#: the compiler vectorises them: several draws per SIMD instruction) while a block's
#: working arrays stay in the L1/L2 cache.
BLOCK = 128


@numba.njit(**_JIT)
def _flywheel(tp, phi, cash, has_cash, dpv, dpf, rk_hr, rk_rr, rkf_hr, rkf_rr, drop,
              val_index, col, month, has_dir,
              w_churn, w_exp, w_cts, expo, ev_share, w_save, hazard, h_base, e_base,
              ev, grow_base, w_margin, accounts, nps_cap, w_adv, costs, haircuts,
              cost_uplift, df, w_acc, nps_b_seg, csat,
              base_margin, surv_base_end, rev_w, arpa12, detail, block,
              lines, net, net_adj, scal, steady, pos_share, rev_init):  # pragma: no cover
    """Every draw of the flywheel, draw-last: inputs ``tp`` (10, K, D), ``dpv`` (K, V, D),
    ...; writes ``lines`` (4, H, D), ``net`` / ``net_adj`` (H + 1, D), ``scal`` (18, D),
    ``steady`` (2, S, D) and, with ``detail``, ``pos_share`` (K, H, D) / ``rev_init``
    (H, D). Same operations in the same order as the numpy reference, per draw."""
    n_tp, n_draw = tp.shape[1], tp.shape[2]
    n_seg, h = hazard.shape
    n_u = max(rk_hr.shape[1], rk_rr.shape[1])  # distinct (lever, trailing) columns
    n_c = val_index.shape[1]  # distinct lever month-columns: the emotion chain
    t_all = h + 1
    any_hr, any_rr, any_cr = False, False, False
    for k in range(n_tp):
        any_hr = any_hr or has_dir[0, k]
        any_rr = any_rr or has_dir[1, k]
        any_cr = any_cr or has_dir[2, k]
    up = 1.0 + cost_uplift
    pv_c0 = 0.0
    for t in range(t_all):
        pv_c0 += costs[t] * df[t]
    b = block
    ac = np.empty((n_c, b))  # per distinct column: sums over touchpoints, one segment
    ae = np.empty((n_c, b))
    at = np.empty((n_c, b))
    an = np.empty((n_c, b))
    fh = np.empty((n_u, b))  # measured direct factors, one segment
    fr = np.empty((n_u, b))
    kept = np.empty((h, b))  # sums over segments, per month
    both = np.empty((h, b))
    serve = np.empty((h, b))
    adv = np.empty((h, b))
    r1 = np.empty((h, b))
    r2 = np.empty((h, b))
    alive = np.empty(b)
    tmp = np.empty(b)
    ben = np.empty(b)
    adjv = np.empty(b)
    tot = np.empty((4, b))
    pv_b = np.empty(b)
    pv_b_adj = np.empty(b)
    other = np.empty((2, b))
    pv_cash = np.empty((4, b))
    npv = np.empty(b)
    npv_adj = np.empty(b)
    cum = np.empty(b)
    last_neg = np.empty(b)
    spend = np.empty(b)
    referred = np.empty(b)
    scale = np.empty(b)
    floored = np.empty(b)
    kept_end = np.empty(b)
    ref_end = np.empty(b)
    gap = np.empty((4, b))
    fac = np.empty((2, b))
    for d0 in range(0, n_draw, b):
        nb = min(b, n_draw - d0)
        kept[:] = 0.0
        both[:] = 0.0
        serve[:] = 0.0
        adv[:] = 0.0
        r1[:] = 0.0
        r2[:] = 0.0
        floored[:] = 0.0
        kept_end[:] = 0.0
        ref_end[:] = 0.0
        for s in range(n_seg):
            # --- sums over touchpoints: sum_k w[s, k] * (dp[k] * gap[k]) ----------------
            ac[:] = 0.0
            ae[:] = 0.0
            at[:] = 0.0
            an[:] = 0.0
            for c in range(n_c):
                for k in range(n_tp):
                    v = val_index[k, c]
                    wc, we, wt, wn = w_churn[s, k], w_exp[s, k], w_cts[s, k], expo[s, k]
                    if wc != 0:
                        for j in range(nb):
                            ac[c, j] += wc * (dpv[k, v, d0 + j] * tp[2, k, d0 + j])
                    if we != 0:
                        for j in range(nb):
                            ae[c, j] += we * (dpv[k, v, d0 + j] * tp[3, k, d0 + j])
                    if wt != 0:
                        for j in range(nb):
                            at[c, j] += wt * (dpv[k, v, d0 + j] * tp[4, k, d0 + j])
                    if wn != 0:
                        for j in range(nb):
                            an[c, j] += wn * (dpv[k, v, d0 + j] * tp[5, k, d0 + j])
                if any_cr:  # measured: the contacts not made
                    for j in range(nb):
                        sv = 0.0
                        for k in range(n_tp):
                            if has_dir[2, k]:
                                sv += w_save[s, k] * drop[k, c, d0 + j]
                        at[c, j] = at[c, j] + sv
            # measured direct effects: prod_k [1 + pi_sk (ratio_k ** trailing_k - 1)]
            if any_hr or any_rr:
                fh[:] = 1.0
                fr[:] = 1.0
                for u in range(n_u):
                    for k in range(n_tp):
                        x = expo[s, k]
                        if x != 0 and has_dir[0, k]:
                            for j in range(nb):
                                fh[u, j] *= 1.0 + x * rk_hr[k, u, d0 + j]
                        if x != 0 and has_dir[1, k]:
                            for j in range(nb):
                                fr[u, j] *= 1.0 + x * rk_rr[k, u, d0 + j]
            # --- months: survival, revenue per account, referred accounts; money summed ----
            alive[:] = 1.0
            spend[:] = 1.0
            referred[:] = 0.0
            for j in range(nb):
                scale[j] = accounts[s] * phi[d0 + j] / 2400.0
            wm, acc_s, wa, e0, ev_s, cap = (w_margin[s], accounts[s], w_adv[s], e_base[s],
                                            ev[s], nps_cap[s])
            # one short loop per quantity: each touches two or three arrays, so the
            # compiler vectorises it over the block's draws (it cannot prove a dozen arrays
            # apart in one loop)
            for t in range(h):
                c = col[t]
                u = month[t] if any_hr or any_rr else 0
                hz = hazard[s, t]
                gb = grow_base[s, t]
                if any_hr:
                    for j in range(nb):
                        tmp[j] = fh[u, j] * hz - ac[c, j]
                else:
                    for j in range(nb):
                        tmp[j] = hz - ac[c, j]
                for j in range(nb):
                    floored[j] = 1.0 if tmp[j] < 0.0 else floored[j]
                for j in range(nb):
                    alive[j] = (1.0 - _clip(tmp[j], 0.0, 1.0)) * alive[j]
                if any_rr:
                    for j in range(nb):
                        tmp[j] = fr[u, j] * e0 + ae[c, j]
                else:
                    for j in range(nb):
                        tmp[j] = e0 + ae[c, j]
                for j in range(nb):
                    spend[j] = (_clip(tmp[j], 0.0, 1.0) * ev_s + 1.0) * spend[j]
                for j in range(nb):
                    referred[j] = _clip(an[c, j], 0.0, cap) * scale[j] + referred[j]
                for j in range(nb):
                    kept[t, j] += alive[j] * wm * gb
                for j in range(nb):
                    both[t, j] += alive[j] * wm * spend[j]
                for j in range(nb):
                    serve[t, j] += alive[j] * acc_s * at[c, j]
                for j in range(nb):
                    adv[t, j] += referred[j] * alive[j] * wa
                if detail:
                    for j in range(nb):
                        r1[t, j] += alive[j] * rev_w[s] * spend[j]
                    for j in range(nb):
                        r2[t, j] += referred[j] * alive[j] * arpa12[s]
            for j in range(nb):
                kept_end[j] += acc_s * (alive[j] - surv_base_end[s])
                ref_end[j] += referred[j] * alive[j]

        # --- money per month, net cash, NPV, payback (short loops again) -----------------
        for j in range(nb):
            net[0, d0 + j] = 0.0 - costs[0]
        for j in range(nb):
            net_adj[0, d0 + j] = 0.0 - costs[0] * up
        tot[:] = 0.0
        pv_b[:] = 0.0
        pv_b_adj[:] = 0.0
        h0, h1, h2, h3 = haircuts[0], haircuts[1], haircuts[2], haircuts[3]
        for t in range(h):
            bm, dft, ct = base_margin[t], df[t + 1], costs[t + 1]
            for j in range(nb):
                lines[0, t, d0 + j] = kept[t, j] - bm
            for j in range(nb):
                lines[1, t, d0 + j] = both[t, j] - kept[t, j]
            for j in range(nb):
                lines[2, t, d0 + j] = serve[t, j]
            for j in range(nb):
                lines[3, t, d0 + j] = adv[t, j]
            for i in range(4):
                for j in range(nb):
                    tot[i, j] += lines[i, t, d0 + j]
            for j in range(nb):
                ben[j] = (lines[0, t, d0 + j] + lines[1, t, d0 + j] + lines[2, t, d0 + j]
                          + lines[3, t, d0 + j])
            for j in range(nb):  # TEI haircut on gains only
                adjv[j] = ben[j] - (h0 * max(lines[0, t, d0 + j], 0.0)
                                    + h1 * max(lines[1, t, d0 + j], 0.0)
                                    + h2 * max(lines[2, t, d0 + j], 0.0)
                                    + h3 * max(lines[3, t, d0 + j], 0.0))
            for j in range(nb):
                net[t + 1, d0 + j] = ben[j] - ct
            for j in range(nb):
                net_adj[t + 1, d0 + j] = adjv[j] - ct * up
            for j in range(nb):
                pv_b[j] += dft * ben[j]
            for j in range(nb):
                pv_b_adj[j] += dft * adjv[j]
            if detail:
                for j in range(nb):
                    rev_init[t, d0 + j] = r1[t, j] + r2[t, j]
        other[:] = 0.0
        pv_cash[:] = 0.0
        if has_cash:
            for t in range(t_all):
                for j in range(nb):
                    net[t, d0 + j] += cash[0, t, d0 + j] - cash[1, t, d0 + j]
                for j in range(nb):
                    net_adj[t, d0 + j] += cash[2, t, d0 + j] - cash[3, t, d0 + j]
                for i in range(4):
                    for j in range(nb):
                        pv_cash[i, j] += df[t] * cash[i, t, d0 + j]
                for i in range(2):
                    for j in range(nb):
                        other[i, j] += cash[i, t, d0 + j]
        npv[:] = 0.0
        npv_adj[:] = 0.0
        cum[:] = 0.0
        last_neg[:] = -1.0
        for t in range(t_all):
            dft = df[t]
            for j in range(nb):
                npv[j] += dft * net[t, d0 + j]
            for j in range(nb):
                npv_adj[j] += dft * net_adj[t, d0 + j]
            for j in range(nb):
                cum[j] += net[t, d0 + j]
            for j in range(nb):
                last_neg[j] = t if cum[j] < -1e-9 else last_neg[j]

        # --- steady state (levers at target): hazard, expansion, NPS, CSAT -----------------
        nps_a = np.zeros(b)
        csat_a = np.zeros(b)
        for s in range(n_seg):
            gap[:] = 0.0
            fac[:] = 1.0
            for k in range(n_tp):
                wc, we, wn, ws, x = (w_churn[s, k], w_exp[s, k], expo[s, k], ev_share[s, k],
                                     expo[s, k])
                for j in range(nb):
                    d = d0 + j
                    dp_k = dpf[k, d]
                    if wc != 0:
                        gap[0, j] += wc * (dp_k * tp[2, k, d])
                    if we != 0:
                        gap[1, j] += we * (dp_k * tp[3, k, d])
                    if wn != 0:
                        gap[2, j] += wn * (dp_k * tp[5, k, d])
                    if ws != 0:
                        gap[3, j] += ws * (dp_k * tp[6, k, d])
                    if has_dir[0, k] and x != 0:
                        fac[0, j] *= 1.0 + x * rkf_hr[k, d]
                    if has_dir[1, k] and x != 0:
                        fac[1, j] *= 1.0 + x * rkf_rr[k, d]
            for j in range(nb):
                d = d0 + j
                steady[0, s, d] = _clip(h_base[s] * fac[0, j] - gap[0, j], 0.0, 1.0)
                steady[1, s, d] = _clip(e_base[s] * fac[1, j] + gap[1, j], 0.0, 1.0)
                nps_a[j] += w_acc[s] * _clip(nps_b_seg[s] + gap[2, j], -100.0, 100.0)
                csat_a[j] += w_acc[s] * _clip(csat[s] + gap[3, j], 1.0, 5.0)

        for j in range(nb):
            d = d0 + j
            scal[0, d], scal[1, d], scal[2, d], scal[3, d] = tot[0, j], tot[1, j], tot[2, j], tot[3, j]
            scal[4, d] = other[0, j]
            scal[5, d] = tot[0, j] + tot[1, j] + tot[2, j] + tot[3, j] + other[0, j]
            scal[6, d] = other[1, j]
            scal[7, d] = pv_b[j] + pv_cash[0, j]
            scal[8, d] = pv_c0 + pv_cash[1, j]
            scal[9, d] = pv_b_adj[j] + pv_cash[2, j]
            scal[10, d] = pv_c0 * up + pv_cash[3, j]
            scal[11, d] = npv[j]
            scal[12, d] = npv_adj[j]
            scal[13, d] = kept_end[j] + ref_end[j]
            scal[14, d] = nps_a[j]
            scal[15, d] = csat_a[j]
            scal[16, d] = floored[j]
            pb = last_neg[j] + 1.0
            scal[17, d] = pb if pb <= t_all - 1 else np.nan
            for i in range(2):  # ROI (Forrester): (PV benefits - PV costs) / PV costs
                pv_ben, pv_cost = scal[7 + 2 * i, d], scal[8 + 2 * i, d]
                scal[18 + i, d] = (pv_ben - pv_cost) / pv_cost if pv_cost > 0 else np.nan
        if detail:
            for k in range(n_tp):
                for t in range(h):
                    v = val_index[k, col[t]]
                    for j in range(nb):
                        pos_share[k, t, d0 + j] = tp[0, k, d0 + j] + dpv[k, v, d0 + j]


@numba.njit(**_JIT)
def _irr(cash, xs, f_grid, per_year, tol, max_iter, block, out):  # pragma: no cover
    """:func:`cxroi.finance.irr` from the same grid values, a block of draws at a time:
    Horner's rule for f and f' runs over the block's draws together (vectorised), then
    each draw still iterating takes its own safeguarded Newton step, exactly as there.
    ``cash`` is draw-last, (T, D)."""
    n_t, n_draw = cash.shape
    n_g = xs.shape[0]
    b = block
    x = np.empty(b)
    lo = np.empty(b)
    hi = np.empty(b)
    f_lo = np.empty(b)
    f_hi = np.empty(b)
    fp_lo = np.empty(b)
    fp_hi = np.empty(b)
    f = np.empty(b)
    fp = np.empty(b)
    going = np.zeros(b, np.bool_)
    rooted = np.zeros(b, np.bool_)
    for d0 in range(0, n_draw, b):
        nb = min(b, n_draw - d0)
        n_going = 0
        for j in range(nb):
            d = d0 + j
            g = -1
            for i in range(n_g - 1):
                fa, fb = f_grid[d, i], f_grid[d, i + 1]
                if (fa < 0) != (fb < 0) and fa != 0 and fb != 0:
                    g = i
                    break
            going[j] = g >= 0
            rooted[j] = g >= 0
            if g < 0:
                out[d] = np.nan
                continue
            n_going += 1
            lo[j], hi[j] = xs[g], xs[g + 1]
            f_lo[j], f_hi[j] = f_grid[d, g], f_grid[d, g + 1]
            slope = (f_hi[j] - f_lo[j]) / (hi[j] - lo[j])
            fp_lo[j], fp_hi[j] = slope, slope
            x[j] = lo[j] - f_lo[j] / slope
        for _ in range(max_iter):
            if n_going == 0:
                break
            f[:] = 0.0
            fp[:] = 0.0
            for t in range(n_t - 1, -1, -1):
                for j in range(nb):
                    fp[j] = fp[j] * x[j] + f[j]
                    f[j] = f[j] * x[j] + cash[t, d0 + j]
            for j in range(nb):
                if not going[j]:
                    continue
                xa, fj, fpj = x[j], f[j], fp[j]
                same = np.sign(fj) == np.sign(f_lo[j])
                if same:
                    lo[j], f_lo[j], fp_lo[j] = xa, fj, fpj
                else:
                    hi[j], f_hi[j], fp_hi[j] = xa, fj, fpj
                a, bb = min(lo[j], hi[j]), max(lo[j], hi[j])
                step = xa - fj / fpj
                if same:
                    o, fo, fpo = hi[j], f_hi[j], fp_hi[j]
                else:
                    o, fo, fpo = lo[j], f_lo[j], fp_lo[j]
                other = o - fo / fpo
                ok_step = (step > a) and (step < bb)
                ok_other = (other > a) and (other < bb)
                at_other = abs(fo / fpo) <= tol * abs(o)
                if ok_step:
                    new = step
                elif ok_other:
                    new = other
                else:
                    new = 0.5 * (a + bb)
                if fj == 0:
                    new = xa
                elif at_other and not ok_step:
                    new = o
                x[j] = new
                if ((abs(new - xa) <= tol * abs(xa)) and ok_step or fj == 0
                        or (at_other and not ok_step) or (bb - a <= tol * abs(xa))):
                    going[j] = False
                    n_going -= 1
        for j in range(nb):
            if rooted[j]:
                out[d0 + j] = (1.0 / x[j]) ** per_year - 1.0


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
    exposure = 1.0 - np.exp(-inp.events)
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
        exposure, ev_share, lam * inp.contacts * inp.cost_per_contact,
        f64(inp.hazard), inp.hazard_year, e_base, inp.expansion_value, grow_base, w,
        inp.accounts, 100.0 - 100.0 * (inp.promoters - inp.detractors),
        inp.margin * inp.arpa / 12.0, costs, inp.haircuts, float(inp.cost_uplift),
        finance.discount_factors(h, inp.discount_rate), inp.accounts / inp.accounts.sum(),
        100.0 * (inp.promoters - inp.detractors), inp.csat, base_margin,
        f64(inp.surv_base[:, -1]), inp.accounts * inp.arpa / 12.0, inp.arpa / 12.0,
    )
    rev0 = inp.accounts * inp.arpa
    xs = np.geomspace(1.0 / 11.0, 10.0, finance.GRID)  # finance.irr's grid of rates
    extra = {"irr_grid": (xs, xs[None, :] ** np.arange(h + 1, dtype=float)[:, None]),**steady_baseline(inp), "costs": costs, "shift_vals": shift_vals,
             "shift_c": f64(shift_c), "direct": [bool(row.any()) for row in direct],
             "exposure": exposure,
             "rev_share": rev0 / rev0.sum(), "w_acc": inp.accounts / inp.accounts.sum(),
             "annual_margin": inp.margin * inp.arpa}
    got = args, extra
    _CONSTANTS[inp] = got
    return got


#: Order of the kernel's per-draw scalars (``scal`` columns).
_SCALARS = ("retention_savings", "cross_sell", "cost_to_serve_savings", "advocacy",
            "other_benefits", "total_benefits", "other_costs", "pv_benefits", "pv_costs",
            "pv_benefits_adj", "pv_costs_adj", "npv", "npv_risk_adjusted", "accounts_kept",
            "nps_after", "csat_after", "churn_floored", "payback_month", "roi",
            "roi_risk_adjusted")


def flywheel(inp: Inputs, params: Mapping[str, Array], monthly: bool = False,
             detail: bool = False) -> dict[str, Array]:
    """:func:`cxroi.model.run_flywheel` on the compiled kernel: same arguments, same keys,
    same shapes (draw-first; monthly series are views of draw-last arrays, as there)."""
    from cxroi.model import TOUCHPOINT_LINKS

    # draw-last (K, D) and (T, D) inputs, as the numpy reference lays them out
    tp = np.stack([np.asarray(params[name], float).T for name in TOUCHPOINT_LINKS])
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
    # sigma(logit p0 + ln OR * shift) - p0, in one buffer (same operations, same order)
    dpv = np.multiply(log_or[:, None, :], vals[:, :, None])
    dpv += logit0[:, None, :]
    np.negative(dpv, out=dpv)
    np.exp(dpv, out=dpv)
    dpv += 1.0
    np.divide(1.0, dpv, out=dpv)
    dpv -= p0[:, None, :]
    dpv *= (vals != 0)[:, :, None]
    shift_full = inp.shift_full[:, None]
    dpf = 1.0 / (1.0 + np.exp(-(logit0 + log_or * shift_full))) - p0
    dpf *= shift_full != 0
    has_hr, has_rr, has_cr = base["direct"]
    rk_hr = rk_rr = drop = np.zeros((1, 1, 1))
    rkf_hr = rkf_rr = np.zeros((1, 1))
    if has_hr:
        log_r = np.log(tp[7])
        rk_hr = np.exp(inp.trailing_unique[:, :, None] * log_r[:, None, :]) - 1.0
        rkf_hr = np.exp(shift_full * log_r) - 1.0
    if has_rr:
        log_r = np.log(tp[8])
        rk_rr = np.exp(inp.trailing_unique[:, :, None] * log_r[:, None, :]) - 1.0
        rkf_rr = np.exp(shift_full * log_r) - 1.0
    if has_cr:
        drop = 1.0 - np.exp(base["shift_c"][:, :, None] * np.log(tp[9])[:, None, :])
    k_tp = tp.shape[1]
    lines = np.empty((4, h, n))
    net = np.empty((t_all, n))
    net_adj = np.empty((t_all, n))
    scal = np.empty((len(_SCALARS), n))
    steady = np.empty((2, len(inp.segments), n))
    pos_share = np.empty((k_tp, h, n) if detail else (1, 1, 1))
    rev_init = np.empty((h, n) if detail else (1, 1))
    _flywheel(tp, phi, cash, has_cash, dpv, dpf, rk_hr, rk_rr, rkf_hr, rkf_rr, drop, *c,
              detail, BLOCK, lines, net, net_adj, scal, steady, pos_share, rev_init)
    # steady state (levers at target): the powers vectorised, as the reference
    ret_a = (1.0 - steady[0]) ** 12
    grow_a = (1.0 + steady[1] * inp.expansion_value[:, None]) ** 12
    nrr_a = base["rev_share"] @ (ret_a * grow_a)
    clv_a = base["w_acc"] @ finance.clv(base["annual_margin"][:, None], ret_a,
                                        inp.discount_rate, grow_a - 1.0)
    # IRR: the grid values by a matrix product as the reference, then Newton
    xs, powers = base["irr_grid"]
    f_grid = net.T @ powers
    irr = np.empty(n)
    _irr(net, xs, f_grid, 12, 1e-10, 100, BLOCK, irr)

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
        payback_month=col["payback_month"], irr=irr,
    )
    if monthly:
        from cxroi.model import BENEFIT_LINES
        for j, name in enumerate(BENEFIT_LINES):
            out[f"{name}_monthly"] = lines[j].T  # draw-first views, as the reference's
        out["net_cash"] = net.T
        out["net_cash_risk_adjusted"] = net_adj.T
    if detail:
        out["revenue_baseline_monthly"] = np.broadcast_to(base["revenue_baseline"], (n, h))
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

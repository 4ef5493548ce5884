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


@numba.njit(**_JIT)
def _flywheel(tp, phi, cash, has_cash, dpv, dpf, rk_hr, rk_rr, rkf_hr, rkf_rr, drop,
              val_index, col, month, has_dir,
              w_churn, w_exp, w_cts, expo, ev_share, w_save, hazard, h_base, e_base,
              ev, grow_base, w_margin, accounts, nps_cap, w_adv, costs, haircuts,
              cost_uplift, df, w_acc, nps_b_seg, csat,
              base_margin, surv_base_end, rev_w, arpa12, detail,
              lines, net, net_adj, scal, steady, pos_share, rev_init):  # pragma: no cover
    """Every draw of the flywheel; writes ``lines`` (D, 4, H), ``net`` / ``net_adj``
    (D, H + 1), ``scal`` (D, 21) and, with ``detail``, ``pos_share`` / ``rev_init``."""
    n_draw, n_tp = tp.shape[1], tp.shape[2]
    n_seg, h = hazard.shape
    n_u = max(rk_hr.shape[2], rk_rr.shape[2])  # distinct (lever, trailing mean) month-columns: direct links
    n_c = val_index.shape[1]  # distinct lever month-columns: the emotion chain
    t_all = h + 1
    # per segment and distinct column: the sums over touchpoints of each behaviour
    a_churn = np.empty((n_seg, n_c))
    a_exp = np.empty((n_seg, n_c))
    a_cts = np.empty((n_seg, n_c))
    a_nps = np.empty((n_seg, n_c))
    b_hr = np.ones((n_seg, n_u))
    b_rr = np.ones((n_seg, n_u))
    surv = np.empty((n_seg, h))
    grow = np.empty((n_seg, h))
    ref = np.empty((n_seg, h))
    benefits = np.empty(h)
    adj = np.empty(h)
    tot = np.empty(4)
    any_hr, any_rr, any_cr = False, False, False
    for k in range(n_tp):
        any_hr = any_hr or has_dir[0, k]
        any_rr = any_rr or has_dir[1, k]
        any_cr = any_cr or has_dir[2, k]
    for d in range(n_draw):
        # --- sum over touchpoints: sum_k w[s, k] * (dp[k] * gap[k]) per behaviour ----------
        for s in range(n_seg):
            for c in range(n_c):
                ac, ae, at, an = 0.0, 0.0, 0.0, 0.0
                for k in range(n_tp):
                    x = dpv[d, k, val_index[k, c]]
                    if w_churn[s, k] != 0:
                        ac += w_churn[s, k] * (x * tp[2, d, k])
                    if w_exp[s, k] != 0:
                        ae += w_exp[s, k] * (x * tp[3, d, k])
                    if w_cts[s, k] != 0:
                        at += w_cts[s, k] * (x * tp[4, d, k])
                    if expo[s, k] != 0:
                        an += expo[s, k] * (x * tp[5, d, k])
                if any_cr:  # measured: the contacts not made
                    sv = 0.0
                    for k in range(n_tp):
                        if has_dir[2, k]:
                            sv += w_save[s, k] * drop[d, k, c]
                    at = at + sv
                a_churn[s, c], a_exp[s, c], a_cts[s, c], a_nps[s, c] = ac, ae, at, an
        # measured direct effects: prod_k [1 + pi_sk (ratio_k ** trailing_k - 1)]
        if any_hr or any_rr:
            for s in range(n_seg):
                for u in range(n_u):
                    fh, fr = 1.0, 1.0
                    for k in range(n_tp):
                        if expo[s, k] != 0:
                            if has_dir[0, k]:
                                fh *= 1.0 + expo[s, k] * rk_hr[d, k, u]
                            if has_dir[1, k]:
                                fr *= 1.0 + expo[s, k] * rk_rr[d, k, u]
                    b_hr[s, u], b_rr[s, u] = fh, fr

        # --- survival, revenue per account, referred accounts: products / sums over months --
        floored = 0.0
        for s in range(n_seg):
            alive, spend, referred = 1.0, 1.0, 0.0
            scale = accounts[s] * phi[d] / 2400.0
            for t in range(h):
                c = col[t]
                if any_hr:
                    x = b_hr[s, month[t]] * hazard[s, t] - a_churn[s, c]
                else:
                    x = hazard[s, t] - a_churn[s, c]
                if x < 0.0:
                    floored = 1.0
                x = 1.0 - _clip(x, 0.0, 1.0)
                alive = x if t == 0 else x * alive
                surv[s, t] = alive
                if any_rr:
                    y = b_rr[s, month[t]] * e_base[s] + a_exp[s, c]
                else:
                    y = e_base[s] + a_exp[s, c]
                y = _clip(y, 0.0, 1.0) * ev[s] + 1.0
                spend = y if t == 0 else y * spend
                grow[s, t] = spend
                r = _clip(a_nps[s, c], 0.0, nps_cap[s]) * scale
                referred = r if t == 0 else r + referred
                ref[s, t] = referred * alive

        # --- money per month ------------------------------------------------------------------
        for t in range(h):
            kept = 0.0
            both = 0.0
            serve = 0.0
            adv = 0.0
            for s in range(n_seg):
                kept += surv[s, t] * w_margin[s] * grow_base[s, t]
                both += surv[s, t] * w_margin[s] * grow[s, t]
                serve += surv[s, t] * accounts[s] * a_cts[s, col[t]]
                adv += ref[s, t] * w_adv[s]
            retention = kept - base_margin[t]
            cross = both - kept
            lines[d, 0, t] = retention
            lines[d, 1, t] = cross
            lines[d, 2, t] = serve
            lines[d, 3, t] = adv
            benefits[t] = retention + cross + serve + adv
            cut = (haircuts[0] * max(retention, 0.0) + haircuts[1] * max(cross, 0.0)
                   + haircuts[2] * max(serve, 0.0) + haircuts[3] * max(adv, 0.0))
            adj[t] = benefits[t] - cut
            if detail:
                r = 0.0
                for s in range(n_seg):
                    r += surv[s, t] * rev_w[s] * grow[s, t]
                r2 = 0.0
                for s in range(n_seg):
                    r2 += ref[s, t] * arpa12[s]
                rev_init[d, t] = r + r2
        up = 1.0 + cost_uplift
        net[d, 0] = 0.0 - costs[0]
        net_adj[d, 0] = 0.0 - costs[0] * up
        for t in range(h):
            net[d, t + 1] = benefits[t] - costs[t + 1]
            net_adj[d, t + 1] = adj[t] - costs[t + 1] * up
        pv_b = 0.0
        pv_b_adj = 0.0
        for t in range(h):
            pv_b += df[t + 1] * benefits[t]
            pv_b_adj += df[t + 1] * adj[t]
        pv_c = 0.0
        for t in range(t_all):
            pv_c += costs[t] * df[t]
        pv_c_adj = pv_c * up
        other_b = 0.0
        other_c = 0.0
        if has_cash:
            cb_pv = 0.0
            cc_pv = 0.0
            cba_pv = 0.0
            cca_pv = 0.0
            for t in range(t_all):
                net[d, t] += cash[0, d, t] - cash[1, d, t]
                net_adj[d, t] += cash[2, d, t] - cash[3, d, t]
                cb_pv += df[t] * cash[0, d, t]
                cc_pv += df[t] * cash[1, d, t]
                cba_pv += df[t] * cash[2, d, t]
                cca_pv += df[t] * cash[3, d, t]
                other_b += cash[0, d, t]
                other_c += cash[1, d, t]
            pv_b += cb_pv
            pv_c += cc_pv
            pv_b_adj += cba_pv
            pv_c_adj += cca_pv
        npv = 0.0
        npv_adj = 0.0
        for t in range(t_all):
            npv += df[t] * net[d, t]
            npv_adj += df[t] * net_adj[d, t]

        # --- steady state (levers at target): NRR, CLV, NPS, CSAT --------------------------
        nps_a = 0.0
        csat_a = 0.0
        for s in range(n_seg):
            c_gap = 0.0
            e_gap = 0.0
            n_gap = 0.0
            s_gap = 0.0
            hr = 1.0
            rr = 1.0
            for k in range(n_tp):
                x = dpf[d, k]
                if w_churn[s, k] != 0:
                    c_gap += w_churn[s, k] * (x * tp[2, d, k])
                if w_exp[s, k] != 0:
                    e_gap += w_exp[s, k] * (x * tp[3, d, k])
                if expo[s, k] != 0:
                    n_gap += expo[s, k] * (x * tp[5, d, k])
                if ev_share[s, k] != 0:
                    s_gap += ev_share[s, k] * (x * tp[6, d, k])
                if has_dir[0, k] and expo[s, k] != 0:
                    hr *= 1.0 + expo[s, k] * rkf_hr[d, k]
                if has_dir[1, k] and expo[s, k] != 0:
                    rr *= 1.0 + expo[s, k] * rkf_rr[d, k]
            steady[d, 0, s] = _clip(h_base[s] * hr - c_gap, 0.0, 1.0)
            steady[d, 1, s] = _clip(e_base[s] * rr + e_gap, 0.0, 1.0)
            nps_a += w_acc[s] * _clip(nps_b_seg[s] + n_gap, -100.0, 100.0)
            csat_a += w_acc[s] * _clip(csat[s] + s_gap, 1.0, 5.0)

        kept_end = 0.0
        ref_end = 0.0
        for s in range(n_seg):
            kept_end += accounts[s] * (surv[s, h - 1] - surv_base_end[s])
            ref_end += ref[s, h - 1]
        tot[:] = 0.0
        for j in range(4):
            for t in range(h):
                tot[j] += lines[d, j, t]
        row = scal[d]
        row[0], row[1], row[2], row[3] = tot[0], tot[1], tot[2], tot[3]
        row[4] = other_b
        row[5] = tot[0] + tot[1] + tot[2] + tot[3] + other_b
        row[6] = other_c
        row[7] = pv_b
        row[8] = pv_c
        row[9] = pv_b_adj
        row[10] = pv_c_adj
        row[11] = npv
        row[12] = npv_adj
        row[13] = kept_end + ref_end
        row[14] = nps_a
        row[15] = csat_a
        row[16] = floored
        # payback: first month after the last negative cumulative position
        cum = 0.0
        last_neg = -1
        for t in range(t_all):
            cum += net[d, t]
            if cum < -1e-9:
                last_neg = t
        pb = last_neg + 1.0
        row[17] = pb if pb <= t_all - 1 else np.nan
        if detail:
            for k in range(n_tp):
                for t in range(h):
                    pos_share[d, k, t] = tp[0, d, k] + dpv[d, k, val_index[k, col[t]]]


@numba.njit(**_JIT)
def _irr(cash, xs, f_grid, per_year, tol, max_iter, out):  # pragma: no cover
    """:func:`cxroi.finance.irr`, one draw at a time, from the same grid values."""
    n_draw, n_t = cash.shape
    n_g = xs.shape[0]
    for d in range(n_draw):
        g = -1
        for j in range(n_g - 1):
            a, b = f_grid[d, j], f_grid[d, j + 1]
            if (a < 0) != (b < 0) and a != 0 and b != 0:
                g = j
                break
        if g < 0:
            out[d] = np.nan
            continue
        lo, hi = xs[g], xs[g + 1]
        f_lo, f_hi = f_grid[d, g], f_grid[d, g + 1]
        slope = (f_hi - f_lo) / (hi - lo)
        fp_lo, fp_hi = slope, slope
        x = lo - f_lo / slope
        for _ in range(max_iter):
            xa = x
            f = 0.0
            fp = 0.0
            for t in range(n_t - 1, -1, -1):
                fp = fp * xa + f
                f = f * xa + cash[d, t]
            same = np.sign(f) == np.sign(f_lo)
            if same:
                lo, f_lo, fp_lo = xa, f, fp
            else:
                hi, f_hi, fp_hi = xa, f, fp
            a, b = min(lo, hi), max(lo, hi)
            step = xa - f / fp
            if same:
                o, fo, fpo = hi, f_hi, fp_hi
            else:
                o, fo, fpo = lo, f_lo, fp_lo
            other = o - fo / fpo
            ok_step = (step > a) and (step < b)
            ok_other = (other > a) and (other < b)
            at_other = abs(fo / fpo) <= tol * abs(o)
            if ok_step:
                new = step
            elif ok_other:
                new = other
            else:
                new = 0.5 * (a + b)
            if f == 0:
                new = xa
            elif at_other and not ok_step:
                new = o
            x = new
            if ((abs(new - xa) <= tol * abs(xa)) and ok_step or f == 0
                    or (at_other and not ok_step) or (b - a <= tol * abs(xa))):
                break
        out[d] = (1.0 / x) ** per_year - 1.0


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
    extra = {**steady_baseline(inp), "costs": costs, "shift_vals": shift_vals,
             "shift_c": f64(shift_c), "direct": direct, "exposure": exposure,
             "rev_share": rev0 / rev0.sum(), "w_acc": inp.accounts / inp.accounts.sum(),
             "annual_margin": inp.margin * inp.arpa}
    got = args, extra
    _CONSTANTS[inp] = got
    return got


#: Order of the kernel's per-draw scalars (``scal`` columns).
_SCALARS = ("retention_savings", "cross_sell", "cost_to_serve_savings", "advocacy",
            "other_benefits", "total_benefits", "other_costs", "pv_benefits", "pv_costs",
            "pv_benefits_adj", "pv_costs_adj", "npv", "npv_risk_adjusted", "accounts_kept",
            "nps_after", "csat_after", "churn_floored", "payback_month")


def flywheel(inp: Inputs, params: Mapping[str, Array], monthly: bool = False,
             detail: bool = False) -> dict[str, Array]:
    """:func:`cxroi.model.run_flywheel` on the compiled kernel: same arguments, same keys,
    same shapes (draw-first, C-contiguous)."""
    from cxroi.model import TOUCHPOINT_LINKS

    tp = np.stack([np.asarray(params[name], float) for name in TOUCHPOINT_LINKS])  # (10, D, K)
    n = tp.shape[1]
    phi = np.ascontiguousarray(params["referrals_per_promoter"], float)
    has_cash = "cash_benefits" in params
    t_all = inp.horizon + 1
    cash = (np.stack([np.asarray(params[k], float) for k in (
        "cash_benefits", "cash_costs", "cash_benefits_adj", "cash_costs_adj")])
        if has_cash else np.zeros((4, 1, t_all)))
    h = inp.horizon
    k_tp = tp.shape[2]
    lines = np.empty((n, 4, h))
    net = np.empty((n, t_all))
    net_adj = np.empty((n, t_all))
    scal = np.empty((n, len(_SCALARS)))
    pos_share = np.empty((n, k_tp, h) if detail else (1, 1, 1))
    rev_init = np.empty((n, h) if detail else (1, 1))
    c, base = _constants(inp)
    # transcendental functions run vectorised over draws in numpy (SIMD), with the
    # reference's expressions, so the kernel's inputs are the reference's numbers exactly
    p0 = tp[0]
    p = np.clip(p0, 1e-9, 1 - 1e-9)
    logit0 = np.log(p / (1.0 - p))  # (D, K)
    log_or = np.log(tp[1])
    dpv = 1.0 / (1.0 + np.exp(-(logit0[:, :, None] + log_or[:, :, None] * base["shift_vals"])))
    dpv -= p0[:, :, None]
    dpv *= base["shift_vals"] != 0  # (D, K, V): each touchpoint's distinct lever positions
    shift_full = inp.shift_full
    dpf = 1.0 / (1.0 + np.exp(-(logit0 + log_or * shift_full))) - p0
    dpf *= shift_full != 0
    direct = base["direct"]
    none3, none2 = np.zeros((1, 1, 1)), np.zeros((1, 1))
    rk_hr = rk_rr = drop = none3
    rkf_hr = rkf_rr = none2
    if direct[0].any():
        log_r = np.log(tp[7])
        rk_hr = np.exp(inp.trailing_unique * log_r[:, :, None]) - 1.0
        rkf_hr = np.exp(shift_full * log_r) - 1.0
    if direct[1].any():
        log_r = np.log(tp[8])
        rk_rr = np.exp(inp.trailing_unique * log_r[:, :, None]) - 1.0
        rkf_rr = np.exp(shift_full * log_r) - 1.0
    if direct[2].any():
        drop = 1.0 - np.exp(base["shift_c"] * np.log(tp[9])[:, :, None])
    steady = np.empty((n, 2, len(inp.segments)))
    _flywheel(tp, phi, cash, has_cash, dpv, dpf, rk_hr, rk_rr, rkf_hr, rkf_rr, drop, *c,
              detail, lines, net, net_adj, scal, steady, pos_share, rev_init)
    # steady state (levers at target): the powers vectorised, as the reference
    ret_a = (1.0 - steady[:, 0]) ** 12
    grow_a = (1.0 + steady[:, 1] * inp.expansion_value) ** 12
    nrr_a = (ret_a * grow_a) @ base["rev_share"]
    clv_a = finance.clv(base["annual_margin"], ret_a, inp.discount_rate,
                        grow_a - 1.0) @ base["w_acc"]
    # IRR: the grid values by the same matrix product as the reference, then Newton per draw
    xs = np.geomspace(1.0 / 11.0, 10.0, finance.GRID)
    t = np.arange(t_all, dtype=float)
    f_grid = net @ (xs[None, :] ** t[:, None])
    irr = np.empty(n)
    _irr(net, xs, f_grid, 12, 1e-10, 100, irr)

    ones = np.ones(n)
    col = dict(zip(_SCALARS, scal.T, strict=True))
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
        roi=finance.roi(pv_b, pv_c),
        roi_risk_adjusted=finance.roi(col["pv_benefits_adj"], col["pv_costs_adj"]),
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
            out[f"{name}_monthly"] = lines[:, j, :]
        out["net_cash"] = net
        out["net_cash_risk_adjusted"] = net_adj
    if detail:
        out["revenue_baseline_monthly"] = np.broadcast_to(base["revenue_baseline"], (n, h))
        out["revenue_initiative_monthly"] = rev_init
        out["positive_share_monthly"] = pos_share
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

"""The compiled loops of the flywheel kernel (numba, cached on disk): the model per block of
draws (the IRR is in :mod:`cxroi.kernel._finance`). Called by :func:`cxroi.kernel.flywheel`,
which prepares their inputs; see there and ``docs/model.md`` ("Speed")."""

from __future__ import annotations

import numba
import numpy as np

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
def _flywheel(tp, phi, cash, has_cash, dpv, dpf, rk_hr, rk_rr, rkf_hr, rkf_rr, saved,
              cs, es, has_cs, has_es, val_index, col, month, has_dir,
              w_churn, w_exp, w_cts, expo, expo_dir, ev_share, hazard, h_base, e_base,
              ev, grow_base, w_margin, accounts, nps_cap, w_adv, costs, haircuts,
              cost_uplift, df, w_acc, nps_b_seg, csat,
              base_margin, surv_base, surv_base_end, rev_w, arpa12, detail, block,
              lines, net, net_adj, scal, steady, pos_share, rev_init,
              rev_base):  # pragma: no cover
    """Every draw of the flywheel, draw-last: inputs ``tp`` (10, K, D), ``dpv`` (K, V, D),
    ``saved`` (S, C, D) the contacts a measured contacts ratio saves per account-month
    (:func:`cxroi.contacts.contacts_saved`, cost included), ``cs`` / ``es`` (S, D) drawn factors
    on the baseline churn / expansion rates (used when ``has_cs`` / ``has_es``: the
    baseline arm is then per draw too), ...; writes ``lines`` (4, H, D), ``net`` /
    ``net_adj`` (H + 1, D), ``scal`` (18, D), ``steady`` (2, S, D) and, with ``detail``,
    ``pos_share`` (K, H, D) / ``rev_init`` (H, D) / ``rev_base`` (H, D, with drawn rates).
    Same operations in the same order as the numpy reference, per draw."""
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
    per_draw = has_cs or has_es  # the baseline arm differs between draws
    pv_c0 = 0.0
    for t in range(t_all):
        pv_c0 += costs[t] * df[t]
    b = block
    n_v = dpv.shape[1]  # distinct lever positions of a touchpoint
    # the emotion chain's weights on the four gaps: churn, expansion, contacts, NPS
    wts = np.empty((4, n_seg, n_tp))
    wts[0], wts[1], wts[2], wts[3] = w_churn, w_exp, w_cts, expo
    need = np.zeros((4, n_tp), np.bool_)  # a gap some segment weighs
    for i in range(4):
        for s in range(n_seg):
            for k in range(n_tp):
                need[i, k] = need[i, k] or wts[i, s, k] != 0
    prod = np.empty((4, n_tp, n_v, b))  # dp[k, v] * gap[k] of a block, for every segment
    sums = np.empty((4, n_c, b))  # per distinct column: sums over touchpoints, one segment
    ac, ae, at, an = sums[0], sums[1], sums[2], sums[3]
    fh = np.empty((n_u, b))  # measured direct factors, one segment
    fr = np.empty((n_u, b))
    kept = np.empty((h, b))  # sums over segments, per month
    both = np.empty((h, b))
    serve = np.empty((h, b))
    adv = np.empty((h, b))
    r1 = np.empty((h, b))
    r2 = np.empty((h, b))
    alive = np.empty(b)
    alive_b = np.empty(b)  # baseline arm, with drawn rates
    gbj = np.empty(b)
    e0j = np.empty(b)
    bm_d = np.empty((h, b))
    rb = np.empty((h, b))
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
        if detail:  # the sums only some runs need
            r1[:] = 0.0
            r2[:] = 0.0
        if per_draw:
            bm_d[:] = 0.0
            if detail:
                rb[:] = 0.0
        floored[:] = 0.0
        kept_end[:] = 0.0
        ref_end[:] = 0.0
        # --- the emotion chain's products dp * gap: once per block, shared by the segments
        for i in range(4):
            for k in range(n_tp):
                if need[i, k]:
                    g = tp[2 + i, k, d0:d0 + nb]
                    for v in range(n_v):
                        dp = dpv[k, v, d0:d0 + nb]
                        pr = prod[i, k, v]
                        for j in range(nb):
                            pr[j] = dp[j] * g[j]
        for s in range(n_seg):
            # --- sums over touchpoints: sum_k w[s, k] * (dp[k] * gap[k]) ----------------
            sums[:] = 0.0
            for c in range(n_c):
                for i in range(4):
                    row = sums[i, c]
                    for k in range(n_tp):
                        wk = wts[i, s, k]
                        if wk != 0:
                            pr = prod[i, k, val_index[k, c]]
                            for j in range(nb):
                                row[j] += wk * pr[j]
                if any_cr:  # measured: the contacts not made, at least one per event
                    for j in range(nb):
                        at[c, j] = at[c, j] + saved[s, c, d0 + j]
            # measured direct effects: prod_k [1 + pi_sk (ratio_k ** trailing_k - 1)]
            if any_hr or any_rr:
                fh[:] = 1.0
                fr[:] = 1.0
                for u in range(n_u):
                    for k in range(n_tp):
                        x, xr = expo_dir[0, s, k], expo_dir[1, s, k]  # exposed shares
                        if x != 0 and has_dir[0, k]:
                            for j in range(nb):
                                fh[u, j] *= 1.0 + x * rk_hr[k, u, d0 + j]
                        if xr != 0 and has_dir[1, k]:
                            for j in range(nb):
                                fr[u, j] *= 1.0 + xr * rk_rr[k, u, d0 + j]
            # --- months: survival, revenue per account, referred accounts; money summed ----
            alive[:] = 1.0
            spend[:] = 1.0
            referred[:] = 0.0
            for j in range(nb):
                scale[j] = accounts[s] * phi[d0 + j] / 2400.0
            wm, acc_s, wa, e0, ev_s, cap = (w_margin[s], accounts[s], w_adv[s], e_base[s],
                                            ev[s], nps_cap[s])
            alive_b[:] = 1.0
            gbj[:] = 1.0
            for j in range(nb):
                e0j[j] = e0 * es[s, d0 + j] if has_es else e0
            # one short loop per quantity: each touches two or three arrays, so the
            # compiler vectorises it over the block's draws (it cannot prove a dozen arrays
            # apart in one loop)
            for t in range(h):
                c = col[t]
                u = month[t] if any_hr or any_rr else 0
                hz = hazard[s, t]
                gb = grow_base[s, t]
                if has_cs:  # h_s(t) f_s
                    if any_hr:
                        for j in range(nb):
                            tmp[j] = fh[u, j] * (hz * cs[s, d0 + j]) - ac[c, j]
                    else:
                        for j in range(nb):
                            tmp[j] = hz * cs[s, d0 + j] - ac[c, j]
                elif any_hr:
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
                        tmp[j] = fr[u, j] * e0j[j] + ae[c, j]
                else:
                    for j in range(nb):
                        tmp[j] = e0j[j] + ae[c, j]
                for j in range(nb):
                    spend[j] = (_clip(tmp[j], 0.0, 1.0) * ev_s + 1.0) * spend[j]
                for j in range(nb):
                    referred[j] = _clip(an[c, j], 0.0, cap) * scale[j] + referred[j]
                if per_draw:  # the baseline arm of each draw: S_B(t) and R_B(t)
                    if has_cs:
                        for j in range(nb):
                            alive_b[j] = (1.0 - _clip(hz * cs[s, d0 + j], 0.0, 1.0)) * alive_b[j]
                    else:
                        sbt = surv_base[s, t]
                        for j in range(nb):
                            alive_b[j] = sbt
                    for j in range(nb):
                        gbj[j] = (e0j[j] * ev_s + 1.0) * gbj[j]
                    for j in range(nb):
                        kept[t, j] += alive[j] * wm * gbj[j]
                    for j in range(nb):
                        bm_d[t, j] += alive_b[j] * wm * gbj[j]
                    if detail:
                        for j in range(nb):
                            rb[t, j] += alive_b[j] * rev_w[s] * gbj[j]
                else:
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
                kept_end[j] += acc_s * (alive[j] - (alive_b[j] if has_cs else surv_base_end[s]))
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
            # this month's row of each line, a contiguous slice of the block's draws
            l0 = lines[0, t, d0:d0 + nb]
            l1 = lines[1, t, d0:d0 + nb]
            l2 = lines[2, t, d0:d0 + nb]
            l3 = lines[3, t, d0:d0 + nb]
            k_t = kept[t]
            if per_draw:
                bm_t = bm_d[t]
                for j in range(nb):
                    l0[j] = k_t[j] - bm_t[j]
            else:
                for j in range(nb):
                    l0[j] = k_t[j] - bm
            b_t = both[t]
            for j in range(nb):
                l1[j] = b_t[j] - k_t[j]
            l2[:] = serve[t, :nb]
            l3[:] = adv[t, :nb]
            for i, li in enumerate((l0, l1, l2, l3)):
                tot_i = tot[i]
                for j in range(nb):
                    tot_i[j] += li[j]
            for j in range(nb):
                ben[j] = l0[j] + l1[j] + l2[j] + l3[j]
            for j in range(nb):  # TEI haircut on gains only
                adjv[j] = ben[j] - (h0 * max(l0[j], 0.0) + h1 * max(l1[j], 0.0)
                                    + h2 * max(l2[j], 0.0) + h3 * max(l3[j], 0.0))
            net_t = net[t + 1, d0:d0 + nb]
            adj_t = net_adj[t + 1, d0:d0 + nb]
            for j in range(nb):
                net_t[j] = ben[j] - ct
            for j in range(nb):
                adj_t[j] = adjv[j] - ct * up
            for j in range(nb):
                pv_b[j] += dft * ben[j]
            for j in range(nb):
                pv_b_adj[j] += dft * adjv[j]
            if detail:
                for j in range(nb):
                    rev_init[t, d0 + j] = r1[t, j] + r2[t, j]
                if per_draw:
                    for j in range(nb):
                        rev_base[t, d0 + j] = rb[t, j]
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
            net_t = net[t, d0:d0 + nb]  # contiguous slices: the loops vectorise
            adj_t = net_adj[t, d0:d0 + nb]
            for j in range(nb):
                npv[j] += dft * net_t[j]
            for j in range(nb):
                npv_adj[j] += dft * adj_t[j]
            for j in range(nb):
                cum[j] += net_t[j]
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
                                     expo_dir[0, s, k])
                xr = expo_dir[1, s, k]
                # one loop per gap that this segment weighs (the tests outside the loops,
                # so each vectorises; the same sums in the same order)
                dp_k = dpf[k, d0:d0 + nb]
                for i, (wi, row) in enumerate(((wc, 2), (we, 3), (wn, 5), (ws, 6))):
                    if wi != 0:
                        g_i = gap[i]
                        gp = tp[row, k, d0:d0 + nb]
                        for j in range(nb):
                            g_i[j] += wi * (dp_k[j] * gp[j])
                if has_dir[0, k] and x != 0:
                    rk = rkf_hr[k, d0:d0 + nb]
                    f0 = fac[0]
                    for j in range(nb):
                        f0[j] *= 1.0 + x * rk[j]
                if has_dir[1, k] and xr != 0:
                    rk = rkf_rr[k, d0:d0 + nb]
                    f1 = fac[1]
                    for j in range(nb):
                        f1[j] *= 1.0 + xr * rk[j]
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

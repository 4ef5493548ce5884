"""The TRUE value of an initiative for a generated company (the ground truth money).

Calibration plus the model claim, with an interval, what cutting resolution time is worth.
For a company made by :func:`cxroi.demo.generate_company` the claim can be checked:
:func:`true_value` simulates the *same* company forward over the business case's horizon
twice, lever at today's value (baseline) and lever moved to the target along the scenario's
own ramp (initiative), with common random numbers, and measures the money lines exactly as
the model defines them (``docs/model.md`` §4).

The forward simulation, for the accounts active at the end of the data (month ``M``), in
months :math:`t = 1..H` after it:

* complaints arrive at the account's own rate (Poisson), with the same arrival times,
  resolution-time noise and outcome draws in both arms; the initiative moves each
  complaint opened in month *t* on the touchpoint's scale by the lever's shift
  :math:`\\Delta g(t) = g(x(t)) - g(x_0)` (``log2``: :math:`T^I = T\\,2^{\\Delta g(t)}`), with
  :math:`x(t)` the scenario's lever path (today, target, ``ramp_months``, ``start_month``);
  tickets still open at the end of the data and the complaints of the last months (which
  still act through the trailing window and the lags) are the same in both arms;
* each month's probability of leaving and of expanding follow the generator's mechanism
  (:mod:`cxroi.demo.generator`: base rate x health x direct multiplier + outcome gaps);
  survival and revenue are taken in *expectation* given the complaint path,
  :math:`S_i(t) = \\prod_{u \\le t} (1 - P_i(\\text{leave in } u))`,
  :math:`R_i(t) = R_{i0} + v_i \\sum_{u \\le t} P_i(\\text{expand in } u)`, with
  :math:`R_{i0}` the account's revenue plus its expansions in the data (an expansion adds
  recurring revenue, as calibration's ARPA and the model treat it) and
  :math:`v_i` = ``expansion_value`` x its revenue; contacts likewise
  (:math:`E[c_j] = \\max(c_s\\,\\mathrm{CR}^{z_j}, 1) + \\text{repeat} \\cdot 1[\\text{negative}]`);
* the money, summed over accounts and months, with margin :math:`m_s` and cost per contact
  from the scenario's segment of the same name:

  .. math:: \\text{retention} = \\sum m_s (S^I_i - S^B_i) R^B_i / 12,\\quad
            \\text{cross-sell} = \\sum m_s S^I_i (R^I_i - R^B_i) / 12,\\quad
            \\text{cost to serve} = \\sum_j \\text{cpc}_s\\, S^I_i(t_j) (c^B_j - c^I_j)

Only the complaint paths are random, and they are averaged over ``n_futures`` simulated
futures; the standard error of each line is returned beside it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from cxroi import finance
from cxroi.demo.generator import Company, _trailing, direct_multiplier
from cxroi.model import SCALES, lever_path
from cxroi.scenario import Scenario

#: The benefit lines :func:`true_value` measures (names of the model's outputs).
MONEY_LINES: tuple[str, ...] = ("retention_savings", "cross_sell", "cost_to_serve_savings")
MONTH_DAYS = 365.25 / 12


def _moved(scale: str, step: float, days: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Resolution times moved by ``shift`` on the touchpoint's scale (exact when the shift is 0)."""
    return days * np.exp2(shift) if scale == "log2" else days + shift * step


def _segment_economics(company: Company, sc: Scenario, touchpoint: str) -> tuple[np.ndarray, np.ndarray]:
    """Per generator segment: gross margin and cost per contact from the scenario."""
    by_name = {s.name: s for s in sc.segments}
    margin, cpc = [], []
    for s in company.truth.segments:
        if s.name not in by_name:
            raise ValueError(f"the scenario has no segment '{s.name}' (it has {', '.join(by_name)}): "
                             "give the scenario calibrated from this company")
        seg = by_name[s.name]
        margin.append(seg.gross_margin)
        vol = seg.volumes.get(touchpoint)
        cpc.append(vol.cost_per_contact if vol is not None else 0.0)
    return np.array(margin), np.array(cpc)


def true_value(company: Company, scenario: Scenario, n_futures: int = 200, seed: int = 0,
               touchpoint: str = "complaints") -> dict[str, Any]:
    """The true value of moving ``touchpoint``'s lever as ``scenario`` says, for ``company``.

    Parameters
    ----------
    company : Company
        From :func:`cxroi.demo.generate_company`.
    scenario : Scenario
        Usually the one calibrated from ``company``'s tables: its horizon, lever path (today,
        target, ramp, start month), scale, gross margins, cost per contact, costs and
        discount rate are used, so both sides agree on everything but the links.
    n_futures : int
        Simulated futures (complaint paths) averaged over.
    seed : int
        Seed of the futures (independent of the company's seed).
    touchpoint : str
        The scenario's touchpoint the generator's complaints are.

    Returns
    -------
    dict
        ``retention_savings``, ``cross_sell``, ``cost_to_serve_savings`` (undiscounted totals
        over the horizon, like the model's benefit lines), ``total_benefits``, ``npv`` (no
        risk adjustment, no advocacy: the generator has no referrals), ``accounts_kept`` (at
        the horizon's end), ``positive_share_change`` (after-complaint positive share at the
        target minus today), ``baseline_leavers_12m`` (share of the accounts expected to leave in
        the first year without the initiative), each line's standard error under ``se``, the
        mean monthly series under ``monthly``, ``n_futures`` and ``accounts`` (active at the
        end of the data).
    """
    if touchpoint not in scenario.touchpoints:
        raise ValueError(f"the scenario has no touchpoint '{touchpoint}' (it has {', '.join(scenario.touchpoints)})")
    if n_futures < 2:
        raise ValueError(f"n_futures must be at least 2 (for a standard error), got {n_futures}")
    tr, M = company.truth, company.months
    tp = scenario.touchpoints[touchpoint]
    H = scenario.finance.horizon_months
    lv = tp.lever
    g = SCALES[tp.scale]
    shift = g(lever_path(lv.today, lv.target, lv.ramp_months, lv.start_month, H), tp.step) - g(
        np.asarray(lv.today, float), tp.step)  # Δg(t), t = 1..H
    margin_s, cpc_s = _segment_economics(company, scenario, touchpoint)

    st = company.accounts
    active = np.flatnonzero(st["active_at_end"].to_numpy())
    n_a = active.size
    seg = st["seg"].to_numpy()[active]
    arr = lambda attr: np.array([getattr(s, attr) for s in tr.segments], dtype=float)[seg]  # noqa: E731
    health = st["health"].to_numpy()[active]
    base_leave = (1 - (1 - arr("churn")) ** (1 / 12)) * np.exp(-tr.health_churn * health - tr.health_churn**2 / 2)
    base_exp = (1 - (1 - arr("expansion_rate")) ** (1 / 12)) * np.exp(
        tr.health_expansion * health - tr.health_expansion**2 / 2)
    revenue = st["revenue"].to_numpy()[active]
    r0 = revenue + st["expansion_amount"].to_numpy()[active]
    value = arr("expansion_value") * revenue
    monthly_complaints = st["complaints_per_year"].to_numpy()[active] / 12
    tier = st["tier"].to_numpy()[active]
    c_s = arr("contacts_per_event")
    margin, cpc = margin_s[seg], cpc_s[seg]

    # history: complaints of the last L months (and tickets still open) act in both arms alike
    lag = np.asarray(tr.churn_lag)
    L = max(int(tr.direct_window), lag.size)
    J = L + H
    row_of = np.full(len(st), -1)
    row_of[active] = np.arange(n_a)
    c = company.complaints
    ca = row_of[c["acc"].to_numpy()]
    cj = c["res_m"].to_numpy() - (M - L)
    keep = (ca >= 0) & (cj >= 0) & (cj < J)
    past_cell = ca[keep] * J + cj[keep]
    past_z, past_pos = c["z"].to_numpy()[keep], c["positive"].to_numpy()[keep].astype(float)

    def grid(cells: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(cells, weights=w, minlength=n_a * J).reshape(n_a, J)

    past = {"z": grid(past_cell, past_z), "n": grid(past_cell).astype(float),
            "pos": grid(past_cell, past_pos), "neg": grid(past_cell, 1 - past_pos)}

    rng = np.random.default_rng(seed)
    W = int(tr.direct_window)
    lines = np.zeros((n_futures, 3, H))
    kept = np.zeros(n_futures)
    dpos = np.zeros(n_futures)
    left12 = np.zeros(n_futures)
    for f in range(n_futures):
        counts = rng.poisson(np.repeat(monthly_complaints[:, None], H, axis=1))
        ka, ku = np.nonzero(counts)
        reps = counts[ka, ku]
        ka, ku = np.repeat(ka, reps), np.repeat(ku, reps)
        K = ka.size
        frac, eps, u_out = rng.random(K), rng.standard_normal(K), rng.random(K)
        days_b = np.clip(tr.today_days * np.exp(tier[ka] + tr.within_sigma * eps), 0.05, 365.0)
        days_i = np.clip(_moved(tp.scale, tp.step, days_b, shift[ku]), 0.05, 365.0)
        arms = {}
        for arm, days in (("B", days_b), ("I", days_i)):
            z = np.log2(days / tr.today_days)
            p = tr.positive_share(days)
            pos = (u_out < p).astype(float)
            j = L + ku + np.floor((frac * MONTH_DAYS + days) / MONTH_DAYS).astype(int)
            ok = j < J
            cell = ka[ok] * J + j[ok]
            Z = past["z"] + grid(cell, z[ok])
            N = past["n"] + grid(cell)
            POS = past["pos"] + grid(cell, pos[ok])
            NEG = past["neg"] + grid(cell, 1 - pos[ok])
            zw, nw = _trailing(Z, W), _trailing(N, W)
            hr = direct_multiplier(tr.churn_hazard_ratio, zw, nw)[:, L:]
            rr = direct_multiplier(tr.expansion_rate_ratio, zw, nw)[:, L:]
            out = (tr.churn_positive + tr.churn_gap) * NEG + tr.churn_positive * POS
            spread = np.zeros_like(out)
            for k_lag, w in enumerate(lag):
                spread[:, k_lag:] += w * out[:, :J - k_lag]
            p_leave = np.clip(base_leave[:, None] * hr + spread[:, L:], 0, 1)
            p_exp = np.clip(base_exp[:, None] * rr + (tr.expansion_negative + tr.expansion_gap) * POS[:, L:]
                            + tr.expansion_negative * NEG[:, L:], 0, 1)
            contacts = np.maximum(c_s[ka] * tr.contacts_ratio ** z, 1.0) + tr.repeat_contacts * (1 - pos)
            arms[arm] = {"S": np.cumprod(1 - p_leave, axis=1),
                         "R": r0[:, None] + value[:, None] * np.cumsum(p_exp, axis=1),
                         "contacts": contacts, "p": p}
        B, I_ = arms["B"], arms["I"]
        m12 = margin[:, None] / 12
        lines[f, 0] = (m12 * (I_["S"] - B["S"]) * B["R"]).sum(axis=0)
        lines[f, 1] = (m12 * I_["S"] * (I_["R"] - B["R"])).sum(axis=0)
        saved = cpc[ka] * I_["S"][ka, ku] * (B["contacts"] - I_["contacts"])
        lines[f, 2] = np.bincount(ku, weights=saved, minlength=H)
        kept[f] = (I_["S"][:, -1] - B["S"][:, -1]).sum()
        left12[f] = 1 - B["S"][:, min(11, H - 1)].mean()
        at_target = shift[ku] == shift[-1]
        dpos[f] = (I_["p"] - B["p"])[at_target].mean() if at_target.any() else np.nan

    monthly = lines.mean(axis=0)  # (3, H)
    totals = lines.sum(axis=2)  # (n_futures, 3)
    se = totals.std(axis=0, ddof=1) / math.sqrt(n_futures)
    costs = np.full(H + 1, scenario.costs.running_per_year / 12)
    costs[0] = scenario.costs.one_off
    benefits = np.concatenate([[0.0], monthly.sum(axis=0)])
    result: dict[str, Any] = {name: float(totals[:, i].mean()) for i, name in enumerate(MONEY_LINES)}
    result["total_benefits"] = float(totals.sum(axis=1).mean())
    result["npv"] = float(finance.npv(benefits - costs, scenario.finance.discount_rate, per_year=12))
    result["accounts_kept"] = float(kept.mean())
    result["positive_share_change"] = float(np.nanmean(dpos))
    result["baseline_leavers_12m"] = float(left12.mean())
    result["se"] = {name: float(se[i]) for i, name in enumerate(MONEY_LINES)} | {
        "total_benefits": float(totals.sum(axis=1).std(ddof=1) / math.sqrt(n_futures))}
    result["monthly"] = {name: monthly[i] for i, name in enumerate(MONEY_LINES)}
    result["n_futures"] = n_futures
    result["accounts"] = int(n_a)
    return result

"""The demo company: a B2B firm generated from KNOWN parameters by the flywheel's own mechanism.

:func:`generate_demo` simulates accounts, complaints (tickets), surveys and orders month by
month from a :class:`DemoTruth`. Because the truth is known, calibration can be checked: the
fitted links' 95% intervals must contain the true values (``tests/test_calibrate.py``).

The mechanism is exactly the one the flywheel model (``cxroi.model``) assumes.

* Complaint *j* of account *i* takes :math:`T_j` days to resolve,
  :math:`\\ln T_j \\sim N(\\ln T_0, \\sigma_T^2)`; it ends with a positive emotional outcome
  with probability

  .. math:: p(T) = \\sigma\\big(\\operatorname{logit} p_0 + \\ln(\\mathrm{OR})\\,
            (\\log_2 T - \\log_2 T_0)\\big)

  (``positive_share_today`` :math:`p_0` at :math:`T_0` = ``today_days``, ``odds_ratio``
  per doubling).
* In the month *t* a complaint is resolved, each negative outcome adds ``churn_gap`` to the
  account's churn probability and each positive outcome adds ``expansion_gap`` to its
  probability of expanding (the defaults):

  .. math:: P(\\text{leave in } t) = h_s\\,\\phi_i + g_c\\,\\mathrm{NEG}_{it},\\qquad
            P(\\text{expand in } t) = e_s\\,\\psi_i + g_e\\,\\mathrm{POS}_{it}

  Three options (off by default) break the assumptions a simpler calibration would make,
  so that the recovery tests can catch it. ``churn_lag`` spreads a complaint's churn
  effect over the resolution month and the following ones (weights :math:`w_l`, summing
  to 1); ``churn_positive`` lets a positive outcome raise churn too, and
  ``expansion_negative`` lets a negative outcome move expansion (e.g. lower it):

  .. math:: P(\\text{leave in } t) = h_s\\phi_i + \\sum_l w_l\\big[(c_+ + g_c)\\,\\mathrm{NEG}_{i,t-l}
            + c_+\\,\\mathrm{POS}_{i,t-l}\\big],\\qquad
            P(\\text{expand in } t) = e_s\\psi_i + (x_- + g_e)\\,\\mathrm{POS}_{it} + x_-\\,\\mathrm{NEG}_{it}

  so the gaps (negative minus positive for churn, positive minus negative for expansion,
  summed over the lags) stay exactly ``churn_gap`` and ``expansion_gap``. Probabilities
  are clipped to [0, 1]; keep ``expansion_negative`` above minus the smallest monthly
  expansion probability (a few tenths of a point) or the clip eats part of the effect.

  with :math:`h_s = 1-(1-\\text{churn}_s)^{1/12}`, :math:`e_s` likewise from the annual
  expansion rate, and :math:`\\phi_i = e^{-\\beta_c z_i - \\beta_c^2/2}`,
  :math:`\\psi_i = e^{\\beta_e z_i - \\beta_e^2/2}` mean-one multipliers of a latent account
  *health* :math:`z_i \\sim N(0,1)` that also moves relationship-survey answers (NPS,
  confidence, frustration) and how often the account orders services (behaviour from
  which the survey gap can be filled). Health is independent of complaints, so it does not confound
  the complaint links.
* A negative outcome adds :math:`\\text{Poisson}(\\text{repeat\\_contacts})` contacts.
* After-complaint surveys: an outcome is *positive* exactly when the respondent rates
  ``confident`` above ``frustrated`` (the default rule of calibration); NPS and CSAT come from
  ordered-normal latents whose category means differ by ``nps_gap`` and ``csat_gap``
  between positive and negative outcomes. The other six emotions are noise.
* Response (~7%) depends on the experience: after-complaint surveys on
  :math:`|z|` and the sign of :math:`z = \\log_2(T/T_0)` (extreme and fast experiences answer
  more), relationship surveys on health (extreme and happy customers answer more).
* ``nps_informative=False`` makes every NPS answer pure noise (the "verdict is no" case).

The shapes real companies have (options, off by default; named combinations in
:data:`cxroi.demo.SHAPES`):

* Support tier, ``tier_sigma``: accounts differ in their typical resolution time,
  :math:`\\ln T_j = \\ln T_0 + \tau_{i(j)} + \\epsilon_j`, :math:`\tau_i \\sim N(0, \\sigma_\tau^2)`,
  :math:`\\epsilon_j \\sim N(0, \\sigma_T^2 - \\sigma_\tau^2)` (the total spread stays
  ``resolution_sigma``).
* Direct effects of resolution time, ``churn_hazard_ratio`` (HR), ``expansion_rate_ratio``
  (RR) and ``contacts_ratio`` (CR), per doubling: in a month where account *i* has had
  complaints resolved in the last ``direct_window`` (12) months, with :math:`\bar z_{it}`
  their mean :math:`\\log_2(T/T_0)`, its probability of leaving is multiplied by
  :math:`\\mathrm{HR}^{\bar z_{it}}` and of expanding by :math:`\\mathrm{RR}^{\bar z_{it}}`
  (an account with no recent complaint is not exposed, as in the model's
  :math:`\\pi = 1 - e^{-\text{events per year}}`); a complaint's expected contacts are
  :math:`\\max(c_s\\,\\mathrm{CR}^{z_j}, 1)` (at least the complaint itself).
* ``surveys``: ``tied`` (after-complaint surveys carry the ticket id), ``untied`` (exported
  without it) or ``none`` (empty surveys table); ``emotions=False`` drops the eight emotion
  columns. Both change only the export, not the company.

:func:`generate_company` returns the tables with the hidden state (health, tier, own
complaint rate, every complaint's :math:`z` and outcome) that :func:`cxroi.demo.true_value`
continues forward.
"""


from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cxroi.data import EMOTIONS
from cxroi.demo.answers import (
    CSAT_SD,
    NPS_SD,
    POST_CSAT_MU,
    POST_NPS_MU,
    _draw_ordered,
    _draw_post_ratings,
    _half_shift,
    _mean_of,
    _noise_ratings,
    _nps_of,
    _response_intercept,
)
from cxroi.demo.parameters import DemoTruth, _sigmoid

# ----------------------------------------------------------------------------------------
# The generator
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Company:
    """A generated company: its exported tables and the hidden state behind them.

    The state is what an analyst never sees but the ground truth needs
    (:func:`cxroi.demo.truth.true_value` simulates the same company forward from it).

    Attributes
    ----------
    tables : dict of DataFrame
        ``accounts``, ``tickets``, ``surveys``, ``orders`` (what :func:`generate_demo` returns).
    truth : DemoTruth
    seed, n_accounts : int
    accounts : DataFrame
        One row per account (the row order of ``tables["accounts"]``): ``seg`` (index into
        ``truth.segments``), ``revenue`` (annual), ``health``, ``tier`` (ln of the account's
        typical resolution time over ``today_days``), ``complaints_per_year`` (its own rate),
        ``active_at_end`` (a customer in the data's last month), ``expansion_amount`` (sum of
        its expansion orders in the window).
    complaints : DataFrame
        Every complaint simulated (also those opened after the account left): ``acc``
        (account row), ``res_m`` (month index of resolution, ``M`` or more when after the
        window), ``z`` (:math:`\\log_2(T / T_0)`), ``positive``.
    months : int
        ``M``, months in the data window.
    """

    tables: dict[str, pd.DataFrame]
    truth: DemoTruth
    seed: int
    n_accounts: int
    accounts: pd.DataFrame
    complaints: pd.DataFrame
    months: int


def _trailing(x: np.ndarray, window: int) -> np.ndarray:
    """Sum over the last ``window`` months up to and including each month (axis 1)."""
    c = np.cumsum(x, axis=1)
    out = c.copy()
    out[:, window:] -= c[:, :-window]
    return out


def direct_multiplier(ratio: float, zsum: np.ndarray, count: np.ndarray) -> np.ndarray:
    """:math:`r^{\\bar z}` where an account-month has complaints resolved in its window, else 1.

    ``zsum`` and ``count`` are the trailing-window sums of :math:`z = \\log_2(T/T_0)` and of
    complaints; :math:`\\bar z = ` ``zsum / count``.
    """
    if ratio == 1.0:
        return np.ones_like(zsum, dtype=float)
    zbar = np.divide(zsum, count, out=np.zeros_like(zsum, dtype=float), where=count > 0)
    return np.where(count > 0, ratio ** zbar, 1.0)


def generate_demo(seed: int = 20261123, n_accounts: int = 5000,
                  truth: DemoTruth | None = None) -> dict[str, pd.DataFrame]:
    """Generate the demo company's four tables from known parameters.

    The tables of :func:`generate_company` (same arguments).

    Parameters
    ----------
    seed : int
        Seed of the ``numpy.random.Generator``; the same seed gives the same tables.
    n_accounts : int
        Accounts ever seen in the window (``truth.active_at_start`` of them are customers
        at the window's start, the rest join during it).
    truth : DemoTruth, optional
        The parameters; the defaults mirror ``data/scenarios/complaints-30-to-1.yaml``.

    Returns
    -------
    dict of DataFrame
        ``accounts``, ``tickets``, ``surveys``, ``orders`` in the data contract's columns.
    """
    return generate_company(seed, n_accounts, truth).tables


def generate_company(seed: int = 20261123, n_accounts: int = 5000,
                     truth: DemoTruth | None = None) -> Company:
    """Generate a company from known parameters: its tables and its hidden state.

    Parameters
    ----------
    seed : int
        Seed of the ``numpy.random.Generator``; the same seed gives the same company.
    n_accounts : int
        Accounts ever seen in the window (``truth.active_at_start`` of them are customers
        at the window's start, the rest join during it).
    truth : DemoTruth, optional
        The parameters (a named shape from :data:`cxroi.demo.SHAPES`, or the default demo).

    Returns
    -------
    Company
    """
    tr = truth or DemoTruth()
    rng = np.random.default_rng(seed)
    M = 12 * tr.years
    t0 = pd.Timestamp(tr.start)
    month_starts = pd.date_range(t0, periods=M + 1, freq="MS")
    mday = ((month_starts - t0) / pd.Timedelta(days=1)).to_numpy()  # day offset of month starts
    window_days = mday[-1]

    # --- accounts ------------------------------------------------------------------------
    shares = np.array([s.share for s in tr.segments], dtype=float)
    counts = np.floor(shares / shares.sum() * n_accounts).astype(int)
    counts[np.argmax(shares)] += n_accounts - counts.sum()
    seg = rng.permutation(np.repeat(np.arange(len(tr.segments)), counts))
    S = lambda attr: np.array([getattr(s, attr) for s in tr.segments], dtype=float)[seg]  # noqa: E731
    n = n_accounts
    size = np.exp(tr.size_sigma * rng.standard_normal(n) - tr.size_sigma**2 / 2)
    revenue = np.round(S("arpa") * size, 0)
    health = rng.standard_normal(n)
    initial = rng.random(n) < tr.active_at_start
    entry = np.where(initial, 0, rng.integers(1, M, size=n))
    start_day = np.where(initial, -rng.uniform(30, 6 * 365, size=n),
                         mday[entry] + rng.uniform(0, 1, size=n) * (mday[entry + 1] - mday[entry]))
    start_day = np.floor(start_day)

    # --- complaints, as if every account stayed to the end -------------------------------
    eps, s2 = tr.complaint_size_elasticity, tr.size_sigma**2
    rate = S("complaints_per_year") * size**eps / math.exp(eps * (eps - 1) * s2 / 2)
    from_day = np.maximum(start_day, 0.0)
    exposure_years = (window_days - from_day) / 365.25
    # support tier: the account's typical resolution time (drawn only when accounts differ)
    tier = tr.tier_sigma * rng.standard_normal(n) if tr.tier_sigma > 0 else np.zeros(n)
    k = rng.poisson(rate * exposure_years)
    acc = np.repeat(np.arange(n), k)
    opened = from_day[acc] + rng.random(acc.size) * (window_days - from_day[acc])
    if tr.tier_sigma > 0:
        days = np.clip(tr.today_days * np.exp(tier[acc] + tr.within_sigma * rng.standard_normal(acc.size)),
                       0.05, 365.0)
    else:
        days = np.clip(tr.today_days * np.exp(tr.resolution_sigma * rng.standard_normal(acc.size)),
                       0.05, 365.0)
    resolved = opened + days
    positive = rng.random(acc.size) < tr.positive_share(days)
    open_m = np.searchsorted(mday, opened, side="right") - 1
    res_m = np.searchsorted(mday, resolved, side="right") - 1  # == M when after the window
    in_win = res_m < M
    cell = acc[in_win] * M + res_m[in_win]
    NEG = np.bincount(cell, weights=(~positive[in_win]).astype(float), minlength=n * M).reshape(n, M)
    POS = np.bincount(cell, weights=positive[in_win].astype(float), minlength=n * M).reshape(n, M)
    z_all = np.log2(days / tr.today_days)
    if tr.has_direct_effects:  # mean z of the complaints resolved in each account's trailing window
        ZW = _trailing(np.bincount(cell, weights=z_all[in_win], minlength=n * M).reshape(n, M), tr.direct_window)
        CW = _trailing(np.bincount(cell, minlength=n * M).reshape(n, M).astype(float), tr.direct_window)
        hr_mult = direct_multiplier(tr.churn_hazard_ratio, ZW, CW)
        rr_mult = direct_multiplier(tr.expansion_rate_ratio, ZW, CW)
    else:
        hr_mult = rr_mult = 1.0
    all_complaints = pd.DataFrame({"acc": acc, "res_m": res_m, "z": z_all, "positive": positive})

    # --- churn and expansion, month by month (vectorised over months) ---------------------
    months = np.arange(M)
    at_risk_from = entry[:, None] <= months[None, :]
    h = 1 - (1 - S("churn")) ** (1 / 12)
    phi = np.exp(-tr.health_churn * health - tr.health_churn**2 / 2)
    base_leave = h[:, None] * phi[:, None] * hr_mult
    if tr.churn_lag == (1.0,) and tr.churn_positive == 0.0:
        p_leave = np.clip(base_leave + tr.churn_gap * NEG, 0, 1)
    else:  # the effect of an outcome spread over the resolution month and the next ones
        out = (tr.churn_positive + tr.churn_gap) * NEG + tr.churn_positive * POS
        spread = np.zeros((n, M))
        for lag, w in enumerate(tr.churn_lag[:M]):
            spread[:, lag:] += w * out[:, :M - lag]
        p_leave = np.clip(base_leave + spread, 0, 1)
    leave = (rng.random((n, M)) < p_leave) & at_risk_from
    churned = leave.any(axis=1)
    exit_m = np.where(churned, leave.argmax(axis=1), M - 1)
    end_day = np.where(churned, mday[np.minimum(exit_m + 1, M)] - 1, np.nan)  # month's last day
    alive = at_risk_from & (months[None, :] <= exit_m[:, None])
    e = 1 - (1 - S("expansion_rate")) ** (1 / 12)
    psi = np.exp(tr.health_expansion * health - tr.health_expansion**2 / 2)
    base_exp = e[:, None] * psi[:, None] * rr_mult
    if tr.expansion_negative == 0.0:
        p_exp = np.clip(base_exp + tr.expansion_gap * POS, 0, 1)
    else:
        p_exp = np.clip(base_exp + (tr.expansion_negative + tr.expansion_gap) * POS
                        + tr.expansion_negative * NEG, 0, 1)
    expand = (rng.random((n, M)) < p_exp) & alive

    # --- tickets that exist (opened while a customer) -------------------------------------
    keep = open_m <= exit_m[acc]
    acc, opened, days, resolved, positive, res_m = (
        x[keep] for x in (acc, opened, days, resolved, positive, res_m))
    n_t = acc.size
    # expected contacts c_s * CR^z (at least the complaint itself); CR = 1: c_s
    cr = tr.contacts_ratio ** np.log2(days / tr.today_days) if tr.contacts_ratio != 1.0 else 1.0
    base_extra = np.maximum(S("contacts_per_event")[acc] * cr - 1, 0)
    contacts = 1 + rng.poisson(base_extra) + np.where(positive, 0, rng.poisson(tr.repeat_contacts, n_t))
    chan = rng.choice(np.array(["phone", "email", "chat", "portal"]), size=n_t, p=[0.4, 0.3, 0.2, 0.1])
    cats = rng.choice(np.array(["billing", "delivery", "product quality", "service", "technical"]),
                      size=n_t, p=[0.25, 0.2, 0.2, 0.2, 0.15])
    resolved_known = res_m < M

    # --- after-complaint surveys ----------------------------------------------------------
    sent_mask = resolved_known & (res_m <= exit_m[acc])
    z = np.log2(days / tr.today_days)
    terms = tr.response_extreme * np.abs(z) - tr.response_skew * z
    c_post = _response_intercept(tr.response_rate, terms)
    answers = rng.random(n_t) < _sigmoid(c_post + terms)
    d_nps = _half_shift(lambda d: _nps_of(POST_NPS_MU + d, NPS_SD) - _nps_of(POST_NPS_MU - d, NPS_SD),
                        tr.true_nps_gap)
    d_csat = _half_shift(lambda d: _mean_of(POST_CSAT_MU + d, CSAT_SD, 1, 5)
                         - _mean_of(POST_CSAT_MU - d, CSAT_SD, 1, 5), tr.csat_gap)
    sign = np.where(positive, 1.0, -1.0)
    post_nps = _draw_ordered(rng, POST_NPS_MU + d_nps * sign, NPS_SD, 0, 10)
    post_csat = _draw_ordered(rng, POST_CSAT_MU + d_csat * sign, CSAT_SD, 1, 5)
    conf, frus = _draw_post_ratings(rng, positive)
    post = {"confident": conf, "frustrated": frus}
    post_em = {em: post.get(em, _noise_ratings(rng, n_t)) for em in EMOTIONS}

    # --- relationship surveys (mid-year, to every active account) --------------------------
    r_months = np.arange(6, M, 12)
    ra, rm = np.nonzero(alive[:, r_months])
    rm = r_months[rm]
    hz = health[ra]
    rterms = tr.response_extreme * np.abs(hz) + tr.response_skew * hz
    c_rel = _response_intercept(tr.response_rate, rterms)
    r_ans = rng.random(ra.size) < _sigmoid(c_rel + rterms)
    if tr.nps_informative:
        nps_mu = np.array([s.nps_mean for s in tr.segments])[seg[ra]] + tr.health_nps * hz
    else:  # pure noise: not even through segment differences
        nps_mu = np.full(ra.size, float(np.mean([s.nps_mean for s in tr.segments])))
    r_nps = _draw_ordered(rng, nps_mu, NPS_SD, 0, 10)
    r_csat = _draw_ordered(rng, 3.6 + 0.4 * hz, CSAT_SD, 1, 5)
    rel_em = {em: _noise_ratings(rng, ra.size) for em in EMOTIONS}
    rel_em["confident"] = np.clip(np.round(3 + tr.health_emotion * hz + 0.8 * rng.standard_normal(ra.size)), 1, 5)
    rel_em["frustrated"] = np.clip(np.round(3 - tr.health_emotion * hz + 0.8 * rng.standard_normal(ra.size)), 1, 5)
    if not tr.nps_informative:  # the same noise after complaints and in relationship surveys
        post_nps = _draw_ordered(rng, np.full(n_t, float(nps_mu[0]) if ra.size else POST_NPS_MU),
                                 NPS_SD, 0, 10)

    # --- orders: yearly renewals and expansions -----------------------------------------
    ea, em_ = np.nonzero(expand)
    exp_day = mday[em_] + rng.random(ea.size) * (mday[em_ + 1] - mday[em_])
    exp_amount = np.round(S("expansion_value")[ea] * revenue[ea] * rng.uniform(0.8, 1.2, ea.size), 2)
    start_month_abs = np.floor(start_day / 30.4375).astype(int)
    first_renewal = entry + np.mod(start_month_abs - entry, 12)
    n_ren = np.maximum(0, (exit_m - first_renewal) // 12 + 1)
    ren_a = np.repeat(np.arange(n), n_ren)
    ren_m = first_renewal[ren_a] + 12 * (np.arange(ren_a.size) - np.repeat(np.cumsum(n_ren) - n_ren, n_ren))
    ren_day = np.maximum(mday[ren_m], start_day[ren_a])

    # service orders: how often a healthy account orders extras (behaviour that speaks)
    lam_o = tr.service_orders_per_month * np.exp(tr.health_orders * health - tr.health_orders**2 / 2)
    n_so = rng.poisson(lam_o[:, None] * alive)
    so_a, so_m = np.nonzero(n_so)
    so_k = n_so[so_a, so_m]
    so_a, so_m = np.repeat(so_a, so_k), np.repeat(so_m, so_k)
    so_day = mday[so_m] + rng.random(so_a.size) * (mday[so_m + 1] - mday[so_m])
    so_amount = np.round(0.02 * revenue[so_a] * rng.uniform(0.5, 1.5, so_a.size), 2)

    # --- assemble tables --------------------------------------------------------------------
    ids = np.char.add("A", np.char.zfill(np.arange(1, n + 1).astype(str), 6))

    def ts(day: np.ndarray, unit: str = "D") -> pd.Series:
        out = t0 + pd.to_timedelta(day, unit="D")
        return pd.Series(out).dt.floor("min" if unit == "min" else "D")

    names = np.array([s.name for s in tr.segments])
    accounts = pd.DataFrame({
        "account_id": ids, "segment": names[seg], "start_date": ts(start_day),
        "end_date": ts(end_day), "revenue": revenue,
    })
    tickets = pd.DataFrame({
        "ticket_id": np.char.add("T", np.char.zfill(np.arange(1, n_t + 1).astype(str), 7)),
        "account_id": ids[acc], "opened_at": ts(opened, "min"),
        "resolved_at": ts(np.where(resolved_known, resolved, np.nan), "min"),
        "contacts": contacts.astype(int), "channel": chan, "category": cats,
    })
    # keep chronological order of tickets, like an export
    order = np.argsort(opened, kind="stable")
    tickets = tickets.iloc[order].reset_index(drop=True)
    tickets["ticket_id"] = np.char.add("T", np.char.zfill(np.arange(1, n_t + 1).astype(str), 7))
    tid_of = np.empty(n_t, dtype=object)
    tid_of[order] = tickets["ticket_id"].to_numpy()

    post_sent = resolved[sent_mask]
    post_resp_day = post_sent + rng.exponential(3.0, post_sent.size)
    post_ok = answers[sent_mask] & (post_resp_day < window_days)
    post_df = pd.DataFrame({
        "account_id": ids[acc[sent_mask]], "ticket_id": tid_of[sent_mask],
        "sent_at": ts(post_sent), "responded_at": ts(np.where(post_ok, post_resp_day, np.nan)),
        "nps": np.where(post_ok, post_nps[sent_mask], np.nan),
        "csat": np.where(post_ok, post_csat[sent_mask], np.nan),
        **{em: np.where(post_ok, post_em[em][sent_mask], np.nan) for em in EMOTIONS},
    })
    rel_sent = mday[rm] + rng.uniform(0, 20, rm.size)
    rel_resp = rel_sent + rng.exponential(5.0, rm.size)
    rel_ok = r_ans & (rel_resp < np.minimum(window_days, np.nan_to_num(end_day[ra], nan=1e9) + 1))
    rel_df = pd.DataFrame({
        "account_id": ids[ra], "ticket_id": None, "sent_at": ts(rel_sent),
        "responded_at": ts(np.where(rel_ok, rel_resp, np.nan)),
        "nps": np.where(rel_ok, r_nps, np.nan), "csat": np.where(rel_ok, r_csat, np.nan),
        **{em: np.where(rel_ok, rel_em[em], np.nan) for em in EMOTIONS},
    })
    surveys = pd.concat([post_df, rel_df], ignore_index=True).sort_values(
        "sent_at", kind="stable").reset_index(drop=True)
    if tr.surveys == "untied":  # the survey tool does not keep the ticket the survey followed
        surveys["ticket_id"] = None
    elif tr.surveys == "none":  # no survey program: the export has the columns and no rows
        surveys = surveys.iloc[:0].reset_index(drop=True)
    if not tr.emotions:
        surveys = surveys.drop(columns=list(EMOTIONS))

    orders = pd.concat([
        pd.DataFrame({"account_id": ids[ren_a], "date": ts(ren_day), "product": "subscription",
                      "amount": revenue[ren_a]}),
        pd.DataFrame({"account_id": ids[ea], "date": ts(exp_day), "product": tr.expansion_product,
                      "amount": exp_amount}),
        pd.DataFrame({"account_id": ids[so_a], "date": ts(so_day), "product": "services",
                      "amount": so_amount}),
    ], ignore_index=True).sort_values("date", kind="stable").reset_index(drop=True)
    orders.insert(0, "order_id", np.char.add("O", np.char.zfill(np.arange(1, len(orders) + 1).astype(str), 7)))
    tables = {"accounts": accounts, "tickets": tickets, "surveys": surveys, "orders": orders}
    state = pd.DataFrame({
        "seg": seg, "revenue": revenue, "health": health, "tier": tier, "complaints_per_year": rate,
        "active_at_end": ~churned,
        "expansion_amount": np.bincount(ea, weights=exp_amount, minlength=n),
    })
    return Company(tables, tr, seed, n_accounts, state, all_complaints, M)

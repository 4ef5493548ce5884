r"""A demo company with a rollout: the lever changes at known dates for known groups.

:func:`generate_rollout` simulates the four tables (accounts, tickets, surveys, orders) of a
B2B company whose complaint desk is rebuilt team by team (or for everyone on one date),
from KNOWN parameters (:class:`RolloutTruth`), so that ``cxroi measure`` can be checked
against the truth (``tests/test_measure*.py``).

The segments' economics are the demo company's (:data:`cxroi.demo.DEFAULT_SEGMENTS`).
Accounts belong to one of ``teams`` account teams; wave *w* of ``teams_per_wave`` teams
goes live in month ``waves[w]`` (months counted from ``start``); the remaining teams are
never reached. From its go-live month a team's complaints take
:math:`T_1` = ``target_days`` instead of :math:`T_0` = ``today_days`` days (log-normal
around them), a change of :math:`\Delta g = \log_2(T_1/T_0)` doublings.

The effects follow the flywheel's direct links (``docs/model.md``): an account reached by
the change, with exposure :math:`\pi_i = 1 - e^{-\lambda_i}` (its chance of complaining in
a year), has

.. math::

    P(\text{leave in } t) &= h_s\, S(t)\, C_h(t)\, \phi_i\, \tau_j\,
        [1 + D_{it}\, \pi_i (\mathrm{HR}^{\Delta g} - 1)] \\
    P(\text{buy more in } t) &= e_s\, S(t)^{-1} C_e(t)\, \psi_i\,
        [1 + D_{it}\, \pi_i (\mathrm{RR}^{\Delta g} - 1)] \\
    E[\text{contacts of a complaint}] &= \kappa_s\, C_c(t)\, \mathrm{CR}^{D_{it} \Delta g}

with :math:`D_{it}` = 1 once account *i*'s team is live, seasonality
:math:`S(t) = 1 + a \cos(2\pi(m_t - 12)/12)` (:math:`m_t` the calendar month, so leaving
peaks in December), a company-wide trend :math:`C(t)` that is flat unless ``trend`` is set
(the *confounded* variant: leaving falls, buying more rises, contacts fall and NPS rises for
everyone, reached or not), account health :math:`\phi_i, \psi_i` (mean-one log-normal) and a
team level :math:`\tau_j`. Relationship-survey answers (NPS 0-10, CSAT 1-5) are ordered
normal with the latent mean shifted by :math:`D_{it}\pi_i\,\delta` (``nps_shift``,
``csat_shift``).

Because every probability is known, the *true* effect on each team-month is known
exactly: :attr:`Rollout.effects` holds, per team and month, the expected difference between
the world with the change and without it (same accounts, same random numbers), summed over
the accounts at risk (and over survey answers for NPS and CSAT).
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from scipy import stats

from cxroi.demo import DEFAULT_SEGMENTS, SegmentTruth
from cxroi.demo.answers import _draw_ordered

Variant = Literal["effect", "null", "confounded", "everyone"]
#: True-effect columns of :attr:`Rollout.effects`, by outcome, with their weight column.
EFFECT_COLUMNS: dict[str, tuple[str, str]] = {
    "leaving": ("leaving", "at_risk"),
    "buying_more": ("buying_more", "at_risk"),
    "contacts": ("contacts", "at_risk"),
    "nps": ("nps", "nps_answers"),
    "csat": ("csat", "csat_answers"),
    "lever": ("lever", "tickets"),
}


@dataclass(frozen=True)
class RolloutTruth:
    """Known parameters of a rollout demo company (ratios are per doubling of resolution time)."""

    segments: tuple[SegmentTruth, ...] = DEFAULT_SEGMENTS
    start: str = "2023-01-01"
    months: int = 36
    teams: int = 20
    waves: tuple[int, ...] = (12, 16, 20, 24)
    teams_per_wave: int = 4
    today_days: float = 30.0
    target_days: float = 3.0
    resolution_sigma: float = 0.8
    complaint_factor: float = 3.0
    churn_hazard_ratio: float = 1.20
    expansion_rate_ratio: float = 0.90
    contacts_ratio: float = 1.10
    nps_shift: float = 0.6
    csat_shift: float = 0.3
    seasonality: float = 0.25
    trend: float = 0.0
    health_sigma: float = 0.5
    team_sigma: float = 0.15
    survey_rate: float = 0.08
    active_at_start: float = 0.85

    @property
    def shift(self) -> float:
        """:math:`\\Delta g`: doublings of resolution time the change brings (negative)."""
        return math.log2(self.target_days / self.today_days)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["segments"] = [dataclasses.asdict(s) for s in self.segments]
        d["waves"] = list(self.waves)
        return d


def rollout_truth(variant: Variant = "effect", **changes: Any) -> RolloutTruth:
    """The truth of a named variant.

    ``effect``: the staggered rollout with real effects; ``null``: the same rollout with no
    effect on any outcome (the lever still moves); ``confounded``: real effects plus a
    company-wide improvement over time (what a naive before/after would credit to the
    initiative); ``everyone``: every team goes live on one date (month 24), with effects.
    """
    base = RolloutTruth()
    if variant == "null":
        base = dataclasses.replace(base, churn_hazard_ratio=1.0, expansion_rate_ratio=1.0,
                                   contacts_ratio=1.0, nps_shift=0.0, csat_shift=0.0)
    elif variant == "confounded":
        base = dataclasses.replace(base, trend=0.6)
    elif variant == "everyone":
        base = dataclasses.replace(base, waves=(24,), teams_per_wave=base.teams)
    elif variant != "effect":
        raise ValueError(f"unknown rollout variant {variant!r}; use effect, null, confounded "
                         "or everyone")
    return dataclasses.replace(base, **changes)


@dataclass(frozen=True)
class Rollout:
    """A generated rollout: the four tables, the truth, who went live when, the true effects.

    Attributes
    ----------
    tables : dict of DataFrame
        ``accounts`` (with a ``team`` column), ``tickets``, ``surveys``, ``orders``.
    go_live : dict of str to str
        Team -> go-live date (ISO) of every reached team.
    effects : DataFrame
        Per ``team`` and ``month`` (first day): ``at_risk``, ``tickets``, ``nps_answers``,
        ``csat_answers`` and the summed true effects ``leaving``, ``buying_more``,
        ``contacts``, ``nps``, ``csat``, ``lever`` (log2 days per ticket).
    """

    tables: dict[str, pd.DataFrame]
    truth: RolloutTruth
    go_live: dict[str, str]
    effects: pd.DataFrame
    seed: int

    def true_effect(self, outcome: str, cells: pd.DataFrame | None = None) -> float:
        """The true average effect on ``outcome`` over treated cells.

        ``cells`` (columns ``group``, ``month``, ``weight``) restricts and weights the cells,
        e.g. the treated post-period cells an estimator used (``StaggeredDiD.treated_cells_``);
        by default every reached team-month after go-live, weighted by its accounts (or answers).
        """
        col, wcol = EFFECT_COLUMNS[outcome]
        eff = self.effects
        if cells is None:
            live = eff["team"].map(self.go_live).notna()
            live &= eff["month"] >= pd.to_datetime(eff["team"].map(self.go_live))
            sub = eff[live & (eff[wcol] > 0)]
            return float(sub[col].sum() / sub[wcol].sum())
        m = cells.rename(columns={"group": "team"}).merge(eff, on=["team", "month"], how="left")
        m = m[m[wcol] > 0]
        per = m[col] / m[wcol]
        return float((per * m["weight"]).sum() / m["weight"].sum())


def _nps_score(mu: np.ndarray, sd: float) -> np.ndarray:
    """Expected NPS score (+100 promoter, -100 detractor) of an ordered-normal 0-10 answer."""
    return 100.0 * (stats.norm.sf((8.5 - mu) / sd) - stats.norm.cdf((6.5 - mu) / sd))


def _csat_mean(mu: np.ndarray, sd: float) -> np.ndarray:
    cuts = np.arange(1, 5) + 0.5
    cdf = stats.norm.cdf((cuts[None, :] - mu[:, None]) / sd)
    return 5.0 - cdf.sum(axis=1)  # E[X] = 1 + sum_k P(X > k)


NPS_SD, CSAT_SD = 2.0, 1.0


def generate_rollout(seed: int = 20261202, n_accounts: int = 3000,
                     truth: RolloutTruth | None = None) -> Rollout:
    """Generate a rollout company from known parameters (see the module docstring).

    Parameters
    ----------
    seed : int
        Seed of the ``numpy.random.Generator``; the same seed gives the same tables.
    n_accounts : int
        Accounts ever seen in the window.
    truth : RolloutTruth, optional
        Default: :func:`rollout_truth` ``("effect")``.
    """
    tr = truth or rollout_truth()
    if tr.teams_per_wave * len(tr.waves) > tr.teams:
        raise ValueError("more teams in waves than teams")
    rng = np.random.default_rng(seed)
    M = tr.months
    t0 = pd.Timestamp(tr.start)
    month_starts = pd.date_range(t0, periods=M + 1, freq="MS")
    mday = ((month_starts - t0) / pd.Timedelta(days=1)).to_numpy()
    moy = month_starts[:M].month.to_numpy()
    tgrid = np.arange(M) / max(M - 1, 1)

    # --- accounts, teams and who goes live when ----------------------------------------
    shares = np.array([s.share for s in tr.segments])
    counts = np.floor(shares / shares.sum() * n_accounts).astype(int)
    counts[np.argmax(shares)] += n_accounts - counts.sum()
    seg = rng.permutation(np.repeat(np.arange(len(tr.segments)), counts))
    S = lambda attr: np.array([getattr(s, attr) for s in tr.segments], float)[seg]  # noqa: E731
    n = n_accounts
    team_names = np.array([f"T{j + 1:02d}" for j in range(tr.teams)])
    team = rng.integers(0, tr.teams, size=n)
    order = rng.permutation(tr.teams)  # which teams are in which wave
    live_month = np.full(tr.teams, M + 1_000)  # never
    for w, month in enumerate(tr.waves):
        live_month[order[w * tr.teams_per_wave:(w + 1) * tr.teams_per_wave]] = month
    go_live = {str(team_names[j]): month_starts[live_month[j]].date().isoformat()
               for j in range(tr.teams) if live_month[j] < M}
    D = np.arange(M)[None, :] >= live_month[team][:, None]  # (n, M) reached

    size = np.exp(0.6 * rng.standard_normal(n) - 0.18)
    revenue = np.round(S("arpa") * size, 0)
    hs = tr.health_sigma
    phi = np.exp(hs * rng.standard_normal(n) - hs**2 / 2)
    psi = np.exp(hs * rng.standard_normal(n) - hs**2 / 2)
    health_nps = rng.standard_normal(n)
    tau = np.exp(tr.team_sigma * rng.standard_normal(tr.teams))[team]
    initial = rng.random(n) < tr.active_at_start
    entry = np.where(initial, 0, rng.integers(1, M, size=n))
    start_day = np.where(initial, -rng.uniform(30, 5 * 365, size=n),
                         mday[entry] + rng.uniform(0, 1, size=n) * (mday[entry + 1] - mday[entry]))
    start_day = np.floor(start_day)

    lam = S("complaints_per_year") * tr.complaint_factor  # complaints per account-year
    expo = 1.0 - np.exp(-lam)
    season = 1.0 + tr.seasonality * np.cos(2 * np.pi * (moy - 12) / 12)
    c_h, c_e = np.exp(-tr.trend * tgrid), np.exp(tr.trend * tgrid)
    c_c = np.exp(-0.5 * tr.trend * tgrid)
    m_h = 1 + expo * (tr.churn_hazard_ratio ** tr.shift - 1)
    m_e = 1 + expo * (tr.expansion_rate_ratio ** tr.shift - 1)
    m_c = tr.contacts_ratio ** tr.shift

    # --- leaving and buying more ----------------------------------------------------------
    h = 1 - (1 - S("churn")) ** (1 / 12)
    p0 = np.clip((h * phi * tau)[:, None] * (season * c_h)[None, :], 0, 1)
    p1 = np.clip(p0 * np.where(D, m_h[:, None], 1.0), 0, 1)
    at_risk_from = entry[:, None] <= np.arange(M)[None, :]
    leave = (rng.random((n, M)) < p1) & at_risk_from
    churned = leave.any(axis=1)
    exit_m = np.where(churned, leave.argmax(axis=1), M - 1)
    alive = at_risk_from & (np.arange(M)[None, :] <= exit_m[:, None])
    end_day = np.where(churned, mday[np.minimum(exit_m + 1, M)] - 1, np.nan)
    e = 1 - (1 - S("expansion_rate")) ** (1 / 12)
    q0 = np.clip((e * psi)[:, None] * (c_e / season)[None, :], 0, 1)
    q1 = np.clip(q0 * np.where(D, m_e[:, None], 1.0), 0, 1)
    expand = (rng.random((n, M)) < q1) & alive

    # --- complaints (tickets) -----------------------------------------------------------
    k = rng.poisson(lam[:, None] / 12.0 * alive)
    ta, tm = np.nonzero(k)
    reps = k[ta, tm]
    ta, tm = np.repeat(ta, reps), np.repeat(tm, reps)
    opened = mday[tm] + rng.random(ta.size) * (mday[tm + 1] - mday[tm])
    treated_t = D[ta, tm]
    typical = np.where(treated_t, tr.target_days, tr.today_days)
    days = np.clip(typical * np.exp(tr.resolution_sigma * rng.standard_normal(ta.size)), 0.02, 365.0)
    resolved = opened + days
    cpe = S("contacts_per_event")[ta] * c_c[tm]
    mean_contacts = cpe * np.where(treated_t, m_c, 1.0)
    contacts = 1 + rng.poisson(np.maximum(mean_contacts - 1.0, 0.0))

    # --- relationship surveys: a share of alive account-months answer ---------------------
    sa, sm = np.nonzero(alive & (rng.random((n, M)) < tr.survey_rate))
    nps_mean = np.array([s.nps_mean for s in tr.segments])[seg[sa]] + 1.2 * health_nps[sa]
    nps_mu0 = nps_mean + 1.5 * tr.trend * tgrid[sm]
    shift_n = D[sa, sm] * expo[sa] * tr.nps_shift
    nps = _draw_ordered(rng, nps_mu0 + shift_n, NPS_SD, 0, 10)
    csat_mu0 = 3.6 + 0.4 * health_nps[sa] + 0.5 * tr.trend * tgrid[sm]
    shift_c = D[sa, sm] * expo[sa] * tr.csat_shift
    csat = _draw_ordered(rng, csat_mu0 + shift_c, CSAT_SD, 1, 5)

    # --- the true effects per team and month ----------------------------------------------
    cell = (team[:, None] * M + np.arange(M)[None, :])
    def per_cell(values: np.ndarray, idx: np.ndarray) -> np.ndarray:
        return np.bincount(idx.ravel(), weights=values.ravel(), minlength=tr.teams * M)
    at_risk = alive.astype(float)
    eff = pd.DataFrame({
        "team": np.repeat(team_names, M),
        "month": np.tile(month_starts[:M], tr.teams),
        "at_risk": per_cell(at_risk, cell),
        "leaving": per_cell((p1 - p0) * at_risk, cell),
        "buying_more": per_cell((q1 - q0) * alive, cell),
        "contacts": per_cell(np.where(D, lam[:, None] / 12 * S("contacts_per_event")[:, None]
                                      * c_c[None, :] * (m_c - 1.0), 0.0) * at_risk, cell),
    })
    tcell = team[ta] * M + tm
    eff["tickets"] = np.bincount(tcell, minlength=tr.teams * M).astype(float)
    eff["lever"] = np.bincount(tcell, weights=treated_t * tr.shift, minlength=tr.teams * M)
    scell = team[sa] * M + sm
    eff["nps_answers"] = eff["csat_answers"] = np.bincount(scell, minlength=tr.teams * M).astype(float)
    eff["nps"] = np.bincount(scell, weights=_nps_score(nps_mu0 + shift_n, NPS_SD)
                             - _nps_score(nps_mu0, NPS_SD), minlength=tr.teams * M)
    eff["csat"] = np.bincount(scell, weights=_csat_mean(csat_mu0 + shift_c, CSAT_SD)
                              - _csat_mean(csat_mu0, CSAT_SD), minlength=tr.teams * M)

    # --- tables -------------------------------------------------------------------------
    ids = np.char.add("A", np.char.zfill(np.arange(1, n + 1).astype(str), 6))
    window_days = mday[-1]

    def ts(day: np.ndarray, unit: str = "D") -> pd.Series:
        out = t0 + pd.to_timedelta(day, unit="D")
        return pd.Series(out).dt.floor("min" if unit == "min" else "D")

    names = np.array([s.name for s in tr.segments])
    accounts = pd.DataFrame({"account_id": ids, "segment": names[seg], "team": team_names[team],
                             "start_date": ts(start_day), "end_date": ts(end_day),
                             "revenue": revenue})
    o = np.argsort(opened, kind="stable")
    known = resolved < window_days
    tickets = pd.DataFrame({
        "ticket_id": np.char.add("T", np.char.zfill(np.arange(1, ta.size + 1).astype(str), 7)),
        "account_id": ids[ta[o]], "opened_at": ts(opened[o], "min").to_numpy(),
        "resolved_at": ts(np.where(known, resolved, np.nan)[o], "min").to_numpy(),
        "contacts": contacts[o].astype(int),
    })
    sent = mday[sm] + rng.uniform(0, 20, sm.size)
    resp = np.minimum(sent + rng.exponential(3.0, sm.size), mday[sm + 1] - 0.5)
    so = np.argsort(sent, kind="stable")
    surveys = pd.DataFrame({
        "account_id": ids[sa[so]], "ticket_id": None, "sent_at": ts(sent[so]).to_numpy(),
        "responded_at": ts(resp[so]).to_numpy(), "nps": nps[so], "csat": csat[so]})
    ea, em = np.nonzero(expand)
    exp_day = mday[em] + rng.random(ea.size) * (mday[em + 1] - mday[em])
    amount = np.round(S("expansion_value")[ea] * revenue[ea] * rng.uniform(0.8, 1.2, ea.size), 2)
    oo = np.argsort(exp_day, kind="stable")
    orders = pd.DataFrame({
        "order_id": np.char.add("O", np.char.zfill(np.arange(1, ea.size + 1).astype(str), 7)),
        "account_id": ids[ea[oo]], "date": ts(exp_day[oo]).to_numpy(), "product": "expansion",
        "amount": amount[oo]})
    tables = {"accounts": accounts, "tickets": tickets, "surveys": surveys, "orders": orders}
    return Rollout(tables, tr, go_live, eff, seed)


def write_rollout(folder: str | os.PathLike[str] = "data/demo-rollout", seed: int = 20261202,
                  n_accounts: int = 3000, truth: RolloutTruth | None = None) -> Rollout:
    """Generate a rollout company and write its four tables (CSV), ``truth.yaml`` (the known
    parameters, go-live dates and true average effects) and ``effects.csv`` (true effects
    per team and month)."""
    ro = generate_rollout(seed, n_accounts, truth)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for name, df in ro.tables.items():
        fmt = "%Y-%m-%d %H:%M" if name == "tickets" else "%Y-%m-%d"
        df.to_csv(out / f"{name}.csv", index=False, date_format=fmt, float_format="%.10g")
    ro.effects.to_csv(out / "effects.csv", index=False, date_format="%Y-%m-%d",
                      float_format="%.8g")
    meta = {
        "generator": "cxroi.rollout.generate_rollout",
        "seed": seed, "n_accounts": n_accounts,
        "rows": {k: len(v) for k, v in ro.tables.items()},
        "go_live": ro.go_live,
        "true_effects": {k: round(ro.true_effect(k), 8) for k in EFFECT_COLUMNS},
        "note": ("True average effects over every reached team-month after go-live: change "
                 "in the monthly share leaving / buying more, contacts per account-month, "
                 "NPS points, CSAT points, log2 resolution days. Ratios are per doubling."),
        "truth": ro.truth.to_dict(),
    }
    (out / "truth.yaml").write_text(yaml.safe_dump(meta, sort_keys=False, width=100), "utf-8")
    return ro


def initiative_dict(ro: Rollout, scenario: str = "../scenarios/complaints-30-to-1.yaml",
                    name: str = "Complaint desk rollout by account team") -> dict[str, Any]:
    """The ``I.yaml`` content for a generated rollout (go-live dates from the generator)."""
    tr = ro.truth
    staggered = len(set(ro.go_live.values())) > 1 or len(ro.go_live) < tr.teams
    d: dict[str, Any] = {
        "name": name,
        "description": (f"Complaint resolution cut from {tr.today_days:g} to {tr.target_days:g} "
                        "days, team by team" if staggered else
                        f"Complaint resolution cut from {tr.today_days:g} to {tr.target_days:g} "
                        "days for everyone on one date"),
        "scenario": scenario,
        "touchpoint": "complaints",
        "lever": "resolution_days",
    }
    if staggered:
        d["group_by"] = "team"
        d["go_live"] = {g: ro.go_live[g] for g in sorted(ro.go_live, key=lambda g: (ro.go_live[g], g))}
    else:
        d["go_live"] = next(iter(ro.go_live.values()))
    d["window"] = {"before": 6, "after": 6}
    return d


def business_case_for(ro: Rollout, base: str | os.PathLike[str] = "data/scenarios/complaints-30-to-1.yaml"
                      ) -> dict[str, Any]:
    """The business case the demo rollout was "sold with": the complaints scenario with the
    demo company's complaint volumes (``complaint_factor`` times the base's events per year,
    as the generator uses) and the rollout's target, ramped over the waves."""
    from cxroi.scenario import load_scenario

    sc = load_scenario(base).model_dump(mode="json")
    tr = ro.truth
    sc["name"] = f"Complaint desk: {tr.today_days:g} to {tr.target_days:g} days, team by team"
    sc["description"] = ("The business case the demo rollout was approved with (generated by "
                         "cxroi.rollout.business_case_for from complaints-30-to-1.yaml).")
    for seg in sc["segments"]:
        v = seg["volumes"]["complaints"]
        v["events_per_year"] = round(v["events_per_year"] * tr.complaint_factor, 4)
    lever = sc["touchpoints"]["complaints"]["lever"]
    lever.update(today=tr.today_days, target=tr.target_days,
                 ramp_months=max(1, max(tr.waves) - min(tr.waves) + 1), start_month=0)
    return sc


def write_demo_rollout(folder: str | os.PathLike[str] = "data/demo-rollout",
                       initiative: str | os.PathLike[str] = "data/initiatives/demo-rollout.yaml",
                       seed: int = 20261202, n_accounts: int = 6000,
                       variant: Variant = "effect",
                       base: str | os.PathLike[str] = "data/scenarios/complaints-30-to-1.yaml"
                       ) -> Rollout:
    """Write the bundled demo rollout: the tables (:func:`write_rollout`), the business case
    it was sold with (``<initiative stem>-case.yaml``) and the initiative file pointing at
    both."""
    from cxroi.scenario import save_scenario, scenario_from_dict

    ro = write_rollout(folder, seed, n_accounts, rollout_truth(variant))
    ip = Path(initiative)
    ip.parent.mkdir(parents=True, exist_ok=True)
    case = ip.with_name(f"{ip.stem}-case.yaml")
    save_scenario(scenario_from_dict(business_case_for(ro, base), str(case)), case)
    d = initiative_dict(ro, scenario=case.name)
    rel = os.path.relpath(Path(folder), ip.parent)
    header = ("# The demo rollout (generated by cxroi.rollout.write_demo_rollout; data in "
              f"{Path(folder).as_posix()}/, the business case in {case.name}).\n"
              f"# Run: cxroi measure {Path(folder).as_posix()} --initiative {ip.as_posix()}\n"
              f"# (data folder relative to this file: {Path(rel).as_posix()})\n")
    ip.write_text(header + yaml.safe_dump(d, sort_keys=False, width=100), "utf-8")
    return ro

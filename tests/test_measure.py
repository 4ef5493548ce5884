"""Measuring an initiative after it went live: recovery of known effects from the rollout
demo (effect, null, confounded, everyone-at-once), against the truth the generator knows."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from cxroi.data import Mapping, TableMapping, from_frames
from cxroi.measure.did import StaggeredDiD, naive_before_after
from cxroi.measure.initiative import initiative_from_dict
from cxroi.measure.its import InterruptedTimeSeries, company_series
from cxroi.measure.panel import Panel, build_panel
from cxroi.rollout import Rollout, generate_rollout, rollout_truth

OUTCOMES = ("leaving", "buying_more", "contacts", "nps", "csat", "lever")
REPO = Path(__file__).resolve().parents[1]
KEEP_TEAM = Mapping(tables={"accounts": TableMapping(keep=["team"])})


@lru_cache(maxsize=16)
def _panel(variant: str, seed: int, n_accounts: int = 3000) -> tuple[Rollout, Panel]:
    ro = generate_rollout(seed=seed, n_accounts=n_accounts, truth=rollout_truth(variant))
    data = from_frames(ro.tables, KEEP_TEAM)
    raw = {"name": "t", "scenario": "s.yaml", "group_by": "team", "go_live": ro.go_live}
    if variant == "everyone":
        raw = {"name": "t", "scenario": "s.yaml", "go_live": next(iter(ro.go_live.values()))}
    return ro, build_panel(data, initiative_from_dict(raw))


def _did(variant: str, seed: int, outcome: str) -> tuple[StaggeredDiD, float]:
    ro, p = _panel(variant, seed)
    est = StaggeredDiD(6, 6).fit(p.outcome(outcome), p.go_live, len(p.months))
    cells = est.treated_cells_.assign(month=lambda x: p.months[x["t"].to_numpy()])
    return est, ro.true_effect(outcome, cells)


# --------------------------------------------------------------------------------------
# Recovery
# --------------------------------------------------------------------------------------


def test_recovery_intervals_cover_true_effects_fast() -> None:
    """3 seeds x 6 outcomes: the 95% intervals cover the generator's true effect in >= 80%."""
    hits = []
    for s in (0, 1, 2):
        for o in OUTCOMES:
            est, truth = _did("effect", s, o)
            hits.append((o, s, est.att_.low <= truth <= est.att_.high, truth, est.att_))
    share = np.mean([h[2] for h in hits])
    assert share >= 0.8, [h for h in hits if not h[2]]
    # the effects are real: the lever moved by ~log2(3/30) doublings and was found to
    assert all(h[4].high < -3.0 for h in hits if h[0] == "lever")


@pytest.mark.slow
def test_recovery_intervals_cover_true_effects_many_seeds() -> None:
    cover = {o: [] for o in OUTCOMES}
    for s in range(40):
        for o in OUTCOMES:
            est, truth = _did("effect", 100 + s, o)
            cover[o].append(est.att_.low <= truth <= est.att_.high)
        _panel.cache_clear()
    rates = {o: float(np.mean(v)) for o, v in cover.items()}
    assert all(r >= 0.8 for r in rates.values()), rates


def test_null_variant_intervals_contain_zero() -> None:
    ro, p = _panel("null", 0)
    assert ro.true_effect("leaving") == 0.0 and ro.true_effect("nps") == 0.0
    for o in ("leaving", "buying_more", "contacts", "nps", "csat"):
        est, truth = _did("null", 0, o)
        assert truth == 0.0
        assert est.att_.low <= 0.0 <= est.att_.high, (o, est.att_)
    lever, _ = _did("null", 0, "lever")  # the lever still moved: only its effects are null
    assert lever.att_.high < -3.0


@pytest.mark.slow
def test_null_variant_many_seeds() -> None:
    inside = {o: [] for o in OUTCOMES[:-1]}
    for s in range(30):
        for o in inside:
            est, _ = _did("null", 200 + s, o)
            inside[o].append(est.att_.low <= 0.0 <= est.att_.high)
        _panel.cache_clear()
    rates = {o: float(np.mean(v)) for o, v in inside.items()}
    assert all(r >= 0.8 for r in rates.values()), rates


def test_confounded_naive_before_after_is_biased_cxroi_is_not() -> None:
    """A company-wide improvement over time: a before/after comparison of the reached groups
    credits it to the initiative (its interval misses the truth, always in the same
    direction); the staggered DiD's interval covers the truth."""
    naive_miss, cx_cover, signs = [], [], []
    for s in (0, 1):
        ro, p = _panel("confounded", s)
        for o in ("leaving", "buying_more", "contacts", "nps", "csat"):
            est, truth = _did("confounded", s, o)
            nv = naive_before_after(p.outcome(o), p.go_live)
            naive_miss.append(not (nv.low <= truth <= nv.high))
            signs.append(np.sign(nv.estimate - truth))
            cx_cover.append(est.att_.low <= truth <= est.att_.high)
    assert np.mean(naive_miss) >= 0.8, naive_miss
    assert np.mean(cx_cover) >= 0.8, cx_cover
    # the naive bias points the way the company-wide trend does: better on every outcome
    direction = np.array([-1, 1, -1, 1, 1] * 2)
    assert np.mean(signs == direction) >= 0.8


def test_everyone_at_once_interrupted_time_series() -> None:
    ro, p = _panel("everyone", 0)
    assert len(set(p.go_live.values())) == 1 and len(p.go_live) == len(p.groups)
    t0 = next(iter(p.go_live.values()))
    covered = []
    for o in ("leaving", "nps", "lever"):
        its = InterruptedTimeSeries().fit(company_series(p.outcome(o), p.months), t0)
        covered.append(its.att_.low <= ro.true_effect(o) <= its.att_.high)
        assert its.maxlags_ >= 1 and len(its.event_study_) == len(p.months)
    assert all(covered)


# --------------------------------------------------------------------------------------
# The estimator itself
# --------------------------------------------------------------------------------------


def test_partialling_out_equals_full_dummy_regression() -> None:
    """The fixed effects partialled out (Frisch-Waugh-Lovell) give the same event-study
    coefficients as statsmodels' WLS with every dummy in the design."""
    ro, p = _panel("effect", 0)
    cells = p.outcome("leaving")
    est = StaggeredDiD(4, 3).fit(cells, p.go_live, len(p.months))
    st = est._stack(cells, p.go_live, p.go_live, len(p.months))
    fe = pd.get_dummies(st["stack"].astype(str) + ":" + st["group"], dtype=float)
    ft = pd.get_dummies(st["stack"].astype(str) + ":" + st["t"].astype(str), dtype=float)
    ft = ft.drop(columns=[f"{s}:{st.loc[st['stack'] == s, 't'].min()}" for s in st["stack"].unique()])
    ev = est.event_study_[est.event_study_["event_time"] != -1]["event_time"].tolist()
    X = np.column_stack([*[(st["e"] == e).to_numpy(float) for e in ev], fe, ft])
    full = sm.WLS(st["y"].to_numpy(), X, weights=st["weight"].to_numpy()).fit()
    got = est.event_study_.set_index("event_time").loc[ev, "estimate"].to_numpy()
    np.testing.assert_allclose(got, full.params[:len(ev)], rtol=1e-6, atol=1e-10)


def test_clean_controls_exclude_groups_changed_inside_the_window() -> None:
    ro, p = _panel("effect", 0)
    est = StaggeredDiD(6, 6).fit(p.outcome("leaving"), p.go_live, len(p.months))
    for _, row in est.cohorts_.iterrows():
        hi = min(len(p.months) - 1, row["cohort"] + 6)
        for g in row["controls"]:
            assert g not in p.go_live or p.go_live[g] > hi
        assert set(row["treated"]) == {g for g, t in p.go_live.items() if t == row["cohort"]}
    assert est.n_clusters_ == len(p.groups)


def test_placebo_finds_nothing_on_the_null_and_uses_only_pre_go_live_data() -> None:
    ro, p = _panel("effect", 1)
    cells = p.outcome("contacts")
    est = StaggeredDiD(6, 6).fit(cells, p.go_live, len(p.months))
    pl = est.placebo(cells, p.go_live, len(p.months), shift=6)
    assert pl is not None
    used = pl.treated_cells_
    assert all(t < p.go_live[g] for g, t in zip(used["group"], used["t"], strict=True))
    assert pl.att_.low <= 0.0 <= pl.att_.high


@pytest.mark.parametrize("window, exposed", [(None, None), (1, None), (3, None), (1, {"first": 0.4})])
def test_measured_hazard_ratio_follows_the_links_exposure_window(window, exposed) -> None:
    """Known truth: a hazard ratio HR per doubling acting on the share q_s of a segment's
    leaving (the link's exposure: measured share, else 1 - exp(-events * window / 12)) moves
    the leaving of reached accounts, all in one segment, by R = 1 + (HR^dg - 1) q; the update
    must give HR back, whatever the window (it used the 12-month share for every link)."""
    from cxroi.measure.did import Estimate
    from cxroi.measure.update import measured_links
    from cxroi.scenario import load_scenario

    sc = load_scenario(REPO / "data" / "scenarios" / "complaints-30-to-1.yaml")
    seg = sc.segments[0].name
    exposed = None if exposed is None else {seg: next(iter(exposed.values()))}
    sc = sc.with_link("touchpoints.complaints.links.churn_hazard_ratio", value=1.2, low=1.0,
                      high=1.5, provenance="assumption", source="a test's prior",
                      window_months=window, exposed_share=exposed)
    lam = next(s for s in sc.segments if s.name == seg).volumes["complaints"].events_per_year
    q = exposed[seg] if exposed else 1.0 - np.exp(-lam * (window or 12) / 12.0)
    hr, dg, post = 1.3, -4.0, 0.02  # 30% more leaving per doubling; 16x faster resolution
    r = 1.0 + (hr ** dg - 1.0) * q  # reached accounts' leaving over their counterfactual
    effect = post - post / r  # measured change: after minus counterfactual
    tiny = 1e-12
    got = measured_links(sc, "complaints",
                         {"lever": Estimate(dg, tiny, dg, dg, 0.0),
                          "leaving": Estimate(effect, tiny, effect, effect, 0.0)},
                         {"leaving": post}, [seg] * 50, "test", "test", draws=50)
    link = next(u for u in got if u.link == "churn_hazard_ratio")
    assert link.value == pytest.approx(hr, rel=1e-9)

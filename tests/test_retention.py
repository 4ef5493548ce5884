"""Churn that falls with tenure: the shifted-beta-geometric fitter and the model on it."""

from __future__ import annotations

import numpy as np
import pytest

from cxroi.errors import CalibrationError, ScenarioError
from cxroi.model import compile_inputs, evaluate
from cxroi.retention import ShiftedBetaGeometric, fit_segments, sbg_survival
from cxroi.scenario import sbg_churn_next_year, scenario_from_dict

REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]


def test_recovers_fader_hardie_regular_cohort() -> None:
    """Fader & Hardie (2007), Regular cohort, years 0-7: alpha 0.704, beta 1.182 and the
    fitted survivors 627, 474, 388, 332, 292, 262, 239."""
    m = ShiftedBetaGeometric().fit_cohort(REGULAR)
    assert m.alpha_ == pytest.approx(0.704, abs=0.001)
    assert m.beta_ == pytest.approx(1.182, abs=0.001)
    proj = np.round(1000 * m.survival_function(np.arange(1, 8))).astype(int)
    assert proj.tolist() == [627, 474, 388, 332, 292, 262, 239]
    s = m.summary
    assert list(s.index) == ["alpha", "beta"]
    for p in ("alpha", "beta"):
        assert s.loc[p, "coef lower 95%"] < s.loc[p, "coef"] < s.loc[p, "coef upper 95%"]
        assert s.loc[p, "se(coef)"] > 0
    # retention rises with tenure: (beta + t - 1) / (alpha + beta + t - 1)
    r = m.retention_rate(np.arange(1, 8))
    assert np.all(np.diff(r) > 0)
    assert r[0] == pytest.approx(0.627, abs=0.001)


def test_fit_on_accounts_equals_fit_on_cohort_counts() -> None:
    n = np.array(REGULAR)
    lost = -np.diff(n)
    durations = np.concatenate([np.repeat(np.arange(1, 8), lost), np.full(n[-1], 7)])
    churned = np.concatenate([np.ones(lost.sum()), np.zeros(n[-1])])
    a = ShiftedBetaGeometric().fit(durations, churned)
    b = ShiftedBetaGeometric().fit_cohort(REGULAR)
    assert a.alpha_ == pytest.approx(b.alpha_, rel=1e-5)
    assert a.beta_ == pytest.approx(b.beta_, rel=1e-5)
    assert a.log_likelihood_ == pytest.approx(b.log_likelihood_, rel=1e-9)


def _simulate_accounts(alpha: float, beta: float, n: int, periods: int,
                       rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    theta = rng.beta(alpha, beta, n)
    t = rng.geometric(theta)  # the period each account leaves in
    # staggered starts: each account observed for 1..periods periods
    seen = rng.integers(1, periods + 1, n)
    churned = t <= seen
    return np.where(churned, t, seen), churned


@pytest.mark.parametrize(("alpha", "beta"), [(0.7, 1.2), (2.0, 8.0)])
def test_recovers_known_parameters_with_intervals(alpha: float, beta: float) -> None:
    rng = np.random.default_rng(7)
    d, c = _simulate_accounts(alpha, beta, 6000, 8, rng)
    m = ShiftedBetaGeometric().fit(d, c)
    s = m.summary
    assert s.loc["alpha", "coef lower 95%"] < alpha < s.loc["alpha", "coef upper 95%"]
    assert s.loc["beta", "coef lower 95%"] < beta < s.loc["beta", "coef upper 95%"]


def test_fit_segments_one_model_per_segment() -> None:
    rng = np.random.default_rng(3)
    d1, c1 = _simulate_accounts(0.7, 1.2, 5000, 8, rng)
    d2, c2 = _simulate_accounts(2.0, 12.0, 5000, 8, rng)
    fits = fit_segments(np.concatenate([d1, d2]), np.concatenate([c1, c2]),
                        ["SMB"] * 5000 + ["Enterprise"] * 5000)
    assert set(fits) == {"SMB", "Enterprise"}
    # mean churn probability at the first renewal alpha / (alpha + beta)
    assert fits["SMB"].alpha_ / (fits["SMB"].alpha_ + fits["SMB"].beta_) == pytest.approx(
        0.7 / 1.9, abs=0.02)
    assert fits["Enterprise"].alpha_ / (fits["Enterprise"].alpha_ + fits["Enterprise"].beta_) \
        == pytest.approx(2 / 14, abs=0.02)
    with pytest.raises(CalibrationError, match="segment 'B'"):
        fit_segments([1, 2, 3, 1], [1, 0, 0, 0], ["A", "A", "B", "B"])


@pytest.mark.parametrize(("durations", "churned", "match"), [
    ([0, 2, 3], [1, 0, 1], "whole number"),
    ([1.5, 2, 3], [1, 0, 1], "whole number"),
    ([1, 2, 3], [0, 0, 0], "no account churned"),
])
def test_bad_input_is_named(durations: list, churned: list, match: str) -> None:
    with pytest.raises(CalibrationError, match=match):
        ShiftedBetaGeometric().fit(durations, churned)


def _sbg_tiny(tiny: dict, alpha: float, beta: float, tenure: float = 0.0) -> dict:
    ret = {"model": "sbg", "alpha": alpha, "beta": beta, "period_months": 12,
           "tenure_months": tenure}
    seg = tiny["segments"][0]
    seg["retention"] = ret
    from cxroi.scenario import Retention

    seg["churn"] = round(sbg_churn_next_year(Retention(**ret)), 4)
    return tiny


def test_model_baseline_follows_the_tenure_curve(tiny: dict) -> None:
    sc = scenario_from_dict(_sbg_tiny(tiny, 0.704, 1.182, tenure=24))
    inp = compile_inputs(sc)
    expect = sbg_survival(np.arange(1, 13) / 12, 0.704, 1.182, 2.0)
    np.testing.assert_allclose(inp.surv_base[0], expect, rtol=1e-12)
    assert np.all(np.diff(inp.hazard[0]) < 0)  # churn falls with tenure
    # at period ends the survival is the discrete sBG's
    assert inp.surv_base[0, 11] == pytest.approx(
        ShiftedBetaGeometric(alpha=0.05).fit_cohort(REGULAR).survival_function(1, tenure=2),
        rel=2e-3)


def test_near_constant_heterogeneity_matches_the_constant_rate(tiny: dict) -> None:
    """Beta(a, b) with a + b huge is a point mass: sBG with mean a/(a+b) = c is constant churn c."""
    const = evaluate(scenario_from_dict(tiny))
    c = tiny["segments"][0]["churn"]
    k = 1e7
    sbg = evaluate(scenario_from_dict(_sbg_tiny(tiny, c * k, (1 - c) * k)))
    for key in ("retention_savings", "cross_sell", "npv", "nrr_before", "nrr_after"):
        assert sbg[key] == pytest.approx(const[key], rel=1e-5), key


def test_falling_churn_changes_retention_savings_by_the_arms(tiny: dict) -> None:
    """Gap path: the initiative lowers the hazard by the same amount each month in both
    cases; with churn falling with tenure fewer baseline accounts leave later, so the
    retention savings differ from the constant rate's, and the initiative still helps."""
    const = evaluate(scenario_from_dict(tiny))
    c = tiny["segments"][0]["churn"]
    # same first-year churn, strong heterogeneity
    from scipy.optimize import brentq

    from cxroi.scenario import Retention

    b = brentq(lambda b: sbg_churn_next_year(Retention(model="sbg", alpha=0.5, beta=b)) - c,
               0.6, 100.0)
    sbg = evaluate(scenario_from_dict(_sbg_tiny(tiny, 0.5, b)))
    assert sbg["retention_savings"] > 0
    assert sbg["retention_savings"] != pytest.approx(const["retention_savings"], rel=1e-3)
    assert sbg["nrr_before"] == pytest.approx(const["nrr_before"], rel=2e-3)


def test_direct_hazard_ratio_scales_the_tenure_hazard(tiny: dict) -> None:
    """With only a measured hazard ratio (no gaps), the initiative's monthly hazard is the
    baseline's times [1 + pi (HR^dg(t) - 1)] in every month, whatever the baseline's shape."""
    d = _sbg_tiny(tiny, 0.704, 1.182, tenure=12)
    links = d["touchpoints"]["complaints"]["links"]
    links["churn_gap"].update(value=0.0, low=0.0, high=0.0)
    links["churn_hazard_ratio"] = {"value": 1.3, "low": 1.3, "high": 1.3,
                                   "provenance": "assumption", "source": "test"}
    sc = scenario_from_dict(d)
    out = evaluate(sc, monthly=True)
    inp = compile_inputs(sc)
    pi = 1 - np.exp(-12.0)
    # lever halves at once (one doubling less); the measured effect acts on the 12-month
    # trailing mean of the shift, -t/12 in month t (docs/model.md section 3b)
    trailing = -np.arange(1, 13) / 12.0
    factor = 1 + pi * (1.3 ** trailing - 1)
    surv_i = np.cumprod(1 - inp.hazard[0] * factor)
    # retention savings month by month: m * N * (S_I - S_B) * ARPA/12 * growth
    grow = np.cumprod(np.full(12, 1 + 0.01 * 0.5))
    expect = 0.5 * 1000 * (surv_i - inp.surv_base[0]) * 1000 * grow
    np.testing.assert_allclose(out["retention_savings_monthly"], expect, rtol=1e-10)


def test_scenario_churn_must_agree_with_the_curve(tiny: dict) -> None:
    d = _sbg_tiny(tiny, 0.704, 1.182)
    d["segments"][0]["churn"] = 0.10
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(d)
    text = str(info.value)
    assert "segments[0].churn" in text and "set churn: 0.3733" in text


def test_no_heterogeneity_gives_the_constant_rate() -> None:
    """Every account alike (geometric churn 0.2): the fitted Beta is a near point mass
    (polarisation 1 / (alpha + beta + 1) under 2%) and the curve is the constant rate."""
    rng = np.random.default_rng(5)
    t = rng.geometric(0.2, 20_000)
    seen = rng.integers(1, 9, t.size)
    m = ShiftedBetaGeometric().fit(np.where(t <= seen, t, seen), t <= seen)
    assert 1 / (m.alpha_ + m.beta_ + 1) < 0.02
    assert m.churn_next_year() == pytest.approx(0.2, abs=0.01)
    np.testing.assert_allclose(m.survival_function(np.arange(1, 6)),
                               (1 - m.churn_next_year()) ** np.arange(1, 6), rtol=0.02)


def test_left_truncated_accounts_are_conditioned_on_their_entry() -> None:
    """Accounts first seen after some renewals (entry > 0): ignoring it would understate churn
    early in life; with ``entry`` the known parameters come back."""
    rng = np.random.default_rng(8)
    theta = rng.beta(0.7, 1.2, 60_000)
    t = rng.geometric(theta)
    entry = rng.integers(0, 4, t.size)
    seen = entry + rng.integers(1, 6, t.size)
    alive_at_entry = t > entry
    t, entry, seen = t[alive_at_entry], entry[alive_at_entry], seen[alive_at_entry]
    churned = t <= seen
    d = np.where(churned, t, seen)
    m = ShiftedBetaGeometric().fit(d, churned, entry=entry)
    s = m.summary
    assert s.loc["alpha", "coef lower 95%"] < 0.7 < s.loc["alpha", "coef upper 95%"]
    assert s.loc["beta", "coef lower 95%"] < 1.2 < s.loc["beta", "coef upper 95%"]
    naive = ShiftedBetaGeometric().fit(d, churned)
    assert abs(naive.alpha_ / (naive.alpha_ + naive.beta_) - 0.7 / 1.9) > 0.05


def test_misspelt_retention_key_suggests_the_right_one(tiny: dict) -> None:
    tiny["segments"][0]["retention"] = {"model": "sbg", "alpha": 1.0, "beta": 1.0,
                                        "tenure_month": 3}
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(tiny)
    assert any(p.where == "segments[0].retention.tenure_month"
               and "did you mean 'tenure_months'" in p.fix for p in info.value.problems)

"""Portfolio: the knapsack is exact, the ranking and totals are consistent."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from cxroi.portfolio import PortfolioError, cost_of, rank_portfolio, select
from cxroi.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "data" / "scenarios"

SINGLES = [SCENARIOS / f"{n}.yaml" for n in
           ("complaints-30-to-1", "fcr-60-to-80", "order-simplification")]


def _brute(costs, values, budget):
    best_v = 0.0
    for k in range(len(costs) + 1):
        for combo in itertools.combinations(range(len(costs)), k):
            c = sum(costs[i] for i in combo)
            v = sum(values[i] for i in combo)
            if c <= budget and v > best_v:
                best_v = v
    return best_v


@pytest.mark.parametrize("n", [5, 12, 20])
def test_select_matches_brute_force_and_fits_the_budget(n):
    rng = np.random.default_rng(n)
    costs = rng.uniform(50, 500, n)
    values = rng.normal(300, 300, n)
    budget = float(costs.sum() / 3)
    pick = select(costs, values, budget)
    assert costs[pick].sum() <= budget + 1e-9
    assert not (pick & (values <= 0)).any()
    if n <= 12:
        assert values[pick].sum() == pytest.approx(_brute(costs, values, budget))
    else:  # dynamic programme on costs rounded up: feasible and near the greedy bound
        order = np.argsort(-values / costs)
        greedy, spent = 0.0, 0.0
        for i in order:
            if values[i] > 0 and spent + costs[i] <= budget:
                greedy += values[i]
                spent += costs[i]
        assert values[pick].sum() >= greedy - 1e-9


def test_select_nothing_when_nothing_fits():
    assert not select(np.array([10.0, 20.0]), np.array([5.0, 5.0]), 5.0).any()
    assert not select(np.array([1.0]), np.array([-3.0]), 100.0).any()


def test_rank_portfolio_selects_within_budget_and_totals_add_up():
    costs = [cost_of(load_scenario(p)) for p in SINGLES]
    budget = sorted(costs)[0] + sorted(costs)[1] + 1.0
    pf = rank_portfolio(SINGLES, budget, draws=400, seed=3)
    t = pf.table
    assert len(t) == 3 and list(t["rank"]) == [1, 2, 3]
    assert t.loc[t["selected"], "cost"].sum() <= budget
    assert pf.total["cost"] == pytest.approx(t.loc[t["selected"], "cost"].sum())
    assert len(pf.selected) >= 1
    # the portfolio's draws are the selected initiatives' draws added up
    want = sum(pf.results[n].draws["npv_risk_adjusted"] for n in pf.selected)
    assert pf.total["p50"] == pytest.approx(float(np.quantile(want, 0.5)))
    # selected first, then by value per unit of cost
    sel = t[t["selected"]]
    assert list(sel["value_per_cost"]) == sorted(sel["value_per_cost"], reverse=True)
    assert "fund" in pf.summary()


def test_zero_budget_selects_nothing():
    pf = rank_portfolio(SINGLES[:2], 0, draws=200, seed=1)
    assert pf.selected == []
    assert "No initiative fits" in pf.summary()


@pytest.mark.parametrize("kw, match", [({"budget": -1}, "non-negative"),
                                       ({"budget": 1e6, "metric": "nps"}, "cannot rank"),
                                       ({"budget": 1e6, "cost_basis": "monthly"}, "cost basis")])
def test_bad_settings_are_clear_errors(kw, match):
    with pytest.raises(PortfolioError, match=match):
        rank_portfolio(SINGLES, **kw)


def test_cost_bases():
    sc = load_scenario(SINGLES[0])
    assert cost_of(sc, "one_off") == sc.costs.one_off
    assert cost_of(sc, "total") == pytest.approx(sc.costs.one_off + 3 * sc.costs.running_per_year)
    assert cost_of(sc, "first_year") == pytest.approx(sc.costs.one_off
                                                      + sc.costs.running_per_year)
    assert cost_of(sc, "one_off") < cost_of(sc, "pv") < cost_of(sc, "total")


def test_overlapping_initiatives_are_flagged() -> None:
    """The full programme and the complaints initiative move the same lever for the same
    segments: funding both double counts, and the summary says so."""
    from pathlib import Path

    from cxroi.portfolio import rank_portfolio

    folder = Path(__file__).resolve().parents[1] / "data" / "scenarios"
    pf = rank_portfolio([folder / "complaints-30-to-1.yaml", folder / "cx-programme.yaml"],
                        budget=1e9, draws=200, seed=1)
    assert pf.overlaps and "complaint resolution time" in pf.overlaps[0][2]
    assert "overlap" in pf.summary()
    alone = rank_portfolio([folder / "complaints-30-to-1.yaml", folder / "fcr-60-to-80.yaml"],
                           budget=1e9, draws=200, seed=1)
    assert alone.overlaps == ()


@pytest.mark.parametrize("name", ["tei-salesloft", "complaints-30-to-1", "cx-programme"])
def test_cost_counted_against_the_budget_is_the_models_cost(name: str) -> None:
    """The whole cost and its present value are what the model charges the case (its own
    cost lines included: the TEI study's $2.0M was counted as free against a budget)."""
    from cxroi.uncertainty import simulate

    sc = load_scenario(SCENARIOS / f"{name}.yaml")
    likely = simulate(sc, draws=100).likely
    assert cost_of(sc, "total") == pytest.approx(float(likely["total_costs"]), rel=1e-12)
    assert cost_of(sc, "pv") == pytest.approx(float(likely["pv_costs"]), rel=1e-12)
    assert cost_of(sc, "one_off") <= cost_of(sc, "first_year") <= cost_of(sc, "total")

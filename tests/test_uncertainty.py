"""Distributions, tornado and breakeven."""

from __future__ import annotations

import numpy as np
import pytest

from cxroi.model import evaluate
from cxroi.scenario import Link, scenario_from_dict
from cxroi.uncertainty import breakeven, sample_link, simulate, tornado


def test_calibrated_link_reproduces_its_interval() -> None:
    link = Link(value=1.18, low=1.09, high=1.28, provenance="calibrated", source="fit")
    x = sample_link("odds_ratio", link, 200_000, np.random.default_rng(0))
    lo, hi = np.quantile(x, [0.025, 0.975])
    assert lo == pytest.approx(1.09, rel=0.01)
    assert hi == pytest.approx(1.28, rel=0.01)


def test_pert_mean_and_bounds() -> None:
    link = Link(value=0.05, low=0.02, high=0.10, provenance="benchmark", source="x")
    x = sample_link("churn_gap", link, 200_000, np.random.default_rng(1))
    assert x.min() >= 0.02 and x.max() <= 0.10
    assert x.mean() == pytest.approx((0.02 + 4 * 0.05 + 0.10) / 6, rel=0.01)


def test_fixed_link_is_constant() -> None:
    link = Link(value=0.3, low=0.3, high=0.3, provenance="assumption", source="x")
    assert np.all(sample_link("positive_share_today", link, 10, np.random.default_rng(2)) == 0.3)


def test_draws_respect_link_domain() -> None:
    link = Link(value=0.01, low=0.0, high=0.5, provenance="calibrated", source="wide fit")
    x = sample_link("churn_gap", link, 10_000, np.random.default_rng(3))
    assert x.min() >= 0.0


def test_tornado_matches_one_at_a_time_runs(lead_dict: dict) -> None:
    sc = scenario_from_dict(lead_dict)
    tor = tornado(sc)
    assert list(tor["swing"]) == sorted(tor["swing"], reverse=True)
    assert len(tor) == len(sc.link_paths())
    for _, row in tor.head(3).iterrows():
        low = evaluate(sc.with_link(row["link"], value=row["low"]))["npv"]
        high = evaluate(sc.with_link(row["link"], value=row["high"]))["npv"]
        assert row["npv_at_low"] == pytest.approx(low, rel=1e-9)
        assert row["npv_at_high"] == pytest.approx(high, rel=1e-9)


def test_breakeven_is_where_npv_crosses_zero(lead_dict: dict) -> None:
    sc = scenario_from_dict(lead_dict)
    be = breakeven(sc, "complaints")
    assert be.target is not None and 1 < be.target < 30
    at = evaluate(sc.with_lever("complaints", target=be.target))["npv"]
    assert at == pytest.approx(0.0, abs=50.0)
    assert evaluate(sc.with_lever("complaints", target=be.target * 1.05))["npv"] < 0


def test_breakeven_reports_when_impossible(lead_dict: dict) -> None:
    lead_dict["costs"]["one_off"] = 5e8
    be = breakeven(scenario_from_dict(lead_dict), "complaints")
    assert be.target is None and "does not pay back" in be.reason


def test_summary_has_every_output(lead_dict: dict) -> None:
    res = simulate(scenario_from_dict(lead_dict), draws=200, seed=1)
    s = res.summary
    assert {"npv", "npv_risk_adjusted", "roi", "payback_month", "irr", "nrr_before",
            "nrr_after", "clv_before", "clv_after", "nps_before", "nps_after", "csat_before",
            "csat_after"} <= set(s.index)
    band = res.band("net_cash")
    assert band["month"].iloc[0] == 0 and len(band) == 37
    assert (band["p10"] <= band["p90"]).all()

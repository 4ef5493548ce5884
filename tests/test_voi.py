"""Value of information: bounds, the one-link and clear-decision cases, agreement with a
brute-force nested Monte Carlo, the smoother, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cxroi.cli import app
from cxroi.model import compile_inputs, likely_params, run_flywheel
from cxroi.scenario import load_scenario, scenario_from_dict
from cxroi.uncertainty import sample_link, simulate
from cxroi.voi import conditional_mean, value_of_information

SCENARIOS = Path(__file__).resolve().parents[1] / "data" / "scenarios"


def _fixed_except(tiny: dict, wide: dict[str, tuple[float, float, float]], one_off: float) -> dict:
    """The tiny case with every link fixed at its value except ``wide`` (low, value, high)."""
    for link in tiny["touchpoints"]["complaints"]["links"].values():
        link["low"] = link["high"] = link["value"]
    tiny["links"]["referrals_per_promoter"].update(low=0.12, high=0.12)
    for name, (lo, v, hi) in wide.items():
        tiny["touchpoints"]["complaints"]["links"][name].update(low=lo, value=v, high=hi)
    tiny["costs"]["one_off"] = one_off
    return tiny


def test_evpi_bounds_every_evppi() -> None:
    """EVPI >= every EVPPI >= 0, and the regression rarely needs the clip to get there."""
    res = simulate(load_scenario(SCENARIOS / "order-simplification.yaml"), draws=4000, seed=3)
    assert 0.05 < res.prob_loss < 0.5  # a decision with something at stake
    v = value_of_information(res)
    assert v.evpi > 0
    assert (v.table["evppi"] >= 0).all() and (v.table["evppi"] <= v.evpi).all()
    assert (v.table["evppi_raw"] <= 1.02 * v.evpi).all()
    assert list(v.table["evppi"]) == sorted(v.table["evppi"], reverse=True)
    assert set(v.table["link"]) <= set(res.scenario.uncertain_paths())
    # EVPI by definition
    npv = res.draws["npv"]
    assert v.evpi == pytest.approx(np.maximum(npv, 0).mean() - max(npv.mean(), 0), rel=1e-12)


def test_one_uncertain_link_has_evppi_equal_to_evpi(tiny: dict) -> None:
    sc = scenario_from_dict(_fixed_except(tiny, {"churn_gap": (0.0, 0.03, 0.09)}, 360_000))
    res = simulate(sc, draws=4000, seed=1)
    assert 0.2 < res.prob_loss < 0.5
    v = value_of_information(res)
    assert list(v.table["link"]) == ["touchpoints.complaints.links.churn_gap"]
    assert v.table["evppi"].iloc[0] == pytest.approx(v.evpi, rel=0.01)
    assert "effect of complaint resolution time on leaving" in v.sentence


def test_clear_decision_is_worth_nothing_to_measure() -> None:
    res = simulate(load_scenario(SCENARIOS / "cx-programme.yaml"), draws=2000, seed=1)
    assert res.prob_loss == 0.0
    v = value_of_information(res)
    assert v.evpi == pytest.approx(0.0, abs=1e-6)
    assert (v.table["evppi"] == 0).all()
    assert v.decision == "go" and v.sentence.startswith("The decision is clear")


def test_evppi_agrees_with_nested_monte_carlo(tiny: dict) -> None:
    r"""Brute force: for each outer draw of the link, the expected NPV over inner draws of the
    other link; EVPPI = mean(max(inner mean, 0)) - max(mean, 0).

    >>> evppi = np.mean(np.maximum(npv.reshape(outer, inner).mean(1), 0)) - max(npv.mean(), 0)
    """
    sc = scenario_from_dict(_fixed_except(
        tiny, {"churn_gap": (0.0, 0.03, 0.09), "expansion_gap": (0.0, 0.03, 0.12)}, 345_000))
    v = value_of_information(simulate(sc, draws=20_000, seed=5))
    inp = compile_inputs(sc)
    base = likely_params(sc)
    links = sc.touchpoints["complaints"].links
    rng = np.random.default_rng(11)
    outer, inner = 400, 400
    for name, other in (("churn_gap", "expansion_gap"), ("expansion_gap", "churn_gap")):
        x = np.repeat(sample_link(name, getattr(links, name), outer, rng), inner)
        y = sample_link(other, getattr(links, other), outer * inner, rng)
        params = {k: np.repeat(a, outer * inner, axis=0) for k, a in base.items()}
        params[name] = x[:, None]
        params[other] = y[:, None]
        npv = run_flywheel(inp, params)["npv"]
        nested = (np.mean(np.maximum(npv.reshape(outer, inner).mean(axis=1), 0.0))
                  - max(npv.mean(), 0.0))
        got = float(v.table.set_index("link").loc[f"touchpoints.complaints.links.{name}", "evppi"])
        assert got == pytest.approx(nested, rel=0.12), name
    # and the total: EVPI from the same draws is above both
    assert v.evpi >= v.table["evppi"].max()


def test_conditional_mean_recovers_a_known_curve() -> None:
    rng = np.random.default_rng(0)
    x = rng.lognormal(0.0, 0.5, 5000)
    truth = np.sin(2 * x) * 100
    g = conditional_mean(x, truth + rng.normal(0, 50, x.size))
    assert np.sqrt(np.mean((g - truth) ** 2)) < 8  # noise sd 50 reduced by ~an order
    # a link with few distinct values: exact group means
    xs = rng.integers(0, 3, 300).astype(float)
    ys = xs * 2 + rng.normal(0, 1, 300)
    gm = conditional_mean(xs, ys)
    for k in range(3):
        assert np.allclose(gm[xs == k], ys[xs == k].mean())


def test_sentence_names_the_top_link_and_bounds_the_rest(tiny: dict) -> None:
    sc = scenario_from_dict(_fixed_except(
        tiny, {"churn_gap": (0.0, 0.03, 0.09), "expansion_gap": (0.0, 0.03, 0.12)}, 300_000))
    v = value_of_information(simulate(sc, draws=4000, seed=1))
    top, second = v.table["evppi"].iloc[:2]
    assert second < 0.5 * top
    assert v.sentence.startswith("Measuring the effect of complaint resolution time on leaving "
                                 "before deciding is worth up to $")
    # the rest bounded by the next value rounded up to one significant figure
    assert 3_000 < second < 5_000
    assert v.sentence.endswith("; measuring the rest is worth less than $5k each")


def test_cli_run_voi_json_and_table() -> None:
    runner = CliRunner()
    path = str(SCENARIOS / "order-simplification.yaml")
    out = runner.invoke(app, ["run", path, "--voi", "--json", "--draws", "1500"])
    assert out.exit_code == 0, out.output
    voi = json.loads(out.output)["voi"]
    assert voi["evpi"] > 0 and voi["sentence"].startswith("Measuring")
    assert {"link", "label", "evppi", "share_of_evpi"} <= set(voi["table"][0])
    text = runner.invoke(app, ["run", path, "--voi", "--draws", "1500"])
    assert text.exit_code == 0 and "What to measure next" in text.output
    plain = json.loads(runner.invoke(app, ["run", path, "--json", "--draws", "300"]).output)
    assert "voi" not in plain


def test_links_measured_together(tiny: dict) -> None:
    """Both uncertain links of the tiny case measured together are worth (almost) the EVPI
    (NPV is nearly additive in them), and more than either alone."""
    sc = scenario_from_dict(_fixed_except(
        tiny, {"churn_gap": (0.0, 0.03, 0.09), "expansion_gap": (0.0, 0.03, 0.12)}, 345_000))
    v = value_of_information(simulate(sc, draws=8000, seed=4))
    assert len(v.groups) == 1
    g = v.groups.iloc[0]
    assert g["group"] == "everything about complaint resolution time"
    assert sorted(g["links"]) == ["touchpoints.complaints.links.churn_gap",
                                  "touchpoints.complaints.links.expansion_gap"]
    assert g["evppi"] >= v.table["evppi"].max()
    assert g["evppi"] == pytest.approx(v.evpi, rel=0.03)


def test_cached_rank_basis_is_the_spline_basis_of_the_ranks():
    """Links without ties reuse one basis of the rank grid, rows in their own order: the
    very same numbers as evaluating the B-splines at their ranks (with ties: computed)."""
    import numpy as np

    from cxroi.voi import _rank_basis, _ranks, _spline_basis

    rng = np.random.default_rng(3)
    for x in (rng.normal(size=997), np.round(rng.normal(size=997), 1)):
        u, inv, k = _ranks(x)
        for m in (0, 3, 12):
            assert np.array_equal(_rank_basis(u, inv, k, m), _spline_basis(u, m))
    assert k < 997  # the second sample has ties


def test_rank_order_regression_is_the_direct_regression_on_the_draws():
    """A link without ties is regressed in its rank order (the Gram matrix of the rank
    grid, cached): the same fit as building each knot count's design on the draws and
    choosing by GCV, as this reference does (to rounding)."""
    import numpy as np

    from cxroi.voi import KNOTS, _ranks, _spline_basis

    def reference(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        u, _, _ = _ranks(x)
        n, best = x.size, None
        for m in KNOTS:
            if m + 4 >= n // 10:
                break
            b = np.column_stack([np.ones(n), _spline_basis(u, m)[:, 1:]])
            fit = b @ np.linalg.lstsq(b, y, rcond=None)[0]
            gcv = n * np.sum((y - fit) ** 2) / (n - m - 4) ** 2
            if best is None or gcv < best[0]:
                best = (gcv, fit)
        return best[1]

    rng = np.random.default_rng(11)
    for n in (60, 400, 4000):
        x = rng.beta(2, 5, n)
        y = 1e6 * np.sin(6 * x) + rng.normal(0, 3e5, n)
        got = conditional_mean(x, y)
        assert np.allclose(got, reference(x, y), rtol=1e-9, atol=1e-6 * np.abs(y).max())
        assert got.mean() == pytest.approx(y.mean(), rel=1e-9)
    # too few draws for any spline: a straight line in the ranks
    x = rng.normal(size=40)
    y = 3 * x + rng.normal(size=40)
    u, _, _ = _ranks(x)
    line = np.column_stack([np.ones(40), u])
    assert np.allclose(conditional_mean(x, y), line @ np.linalg.lstsq(line, y, rcond=None)[0])

"""A simulation reuses the draws of the same priors (cxroi.uncertainty.draws), and that
changes no number and can never hand out stale or shared-writable draws.

- A kept set of draws is bit-identical to a fresh ``sample_params(default_rng(seed))``, and a
  simulation from it to one with the cache emptied (kernel and numpy).
- A lever move reuses the draws (the same arrays), and its result is the uncached one.
- Whatever the draws are computed from is in the key: changing a link, a segment's measured
  rate interval, a correlation, a cash-flow line, the seed, the number of draws or the
  correlation switch gives the fresh draws of the new priors; what the key leaves out (the
  levers, the simulation settings) provably does not change the draws.
- Kept draws are read-only (the arrays and the buffer behind them).
- The cache is bounded in sets and bytes.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

from cxroi import model
from cxroi.model import compile_inputs
from cxroi.scenario import Scenario, load_scenario
from cxroi.uncertainty import draws as draw_cache
from cxroi.uncertainty import sample_params, simulate

SCENARIOS = Path(__file__).resolve().parents[1] / "data" / "scenarios"
PROGRAMME = SCENARIOS / "cx-programme.yaml"
D = 600


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    draw_cache.clear_draw_cache()


@pytest.fixture(scope="module")
def programme() -> Scenario:
    return load_scenario(PROGRAMME)


def _fresh(sc: Scenario, n: int = D, seed: int = 7, correlated: bool = True) -> dict:
    return sample_params(sc, n, np.random.default_rng(seed), correlated=correlated)


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        np.array_equal(a[k], b[k], equal_nan=True) for k in a)


@pytest.mark.parametrize("engine", ["numpy", "kernel"])
def test_kept_draws_change_no_number(programme: Scenario, engine: str,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    if engine == "kernel":
        importlib.import_module("cxroi.kernel")
    monkeypatch.setattr(model, "ENGINE", engine)
    first = simulate(programme, draws=D, seed=7)
    again = simulate(programme, draws=D, seed=7)
    assert _same(first.params, _fresh(programme)) and _same(again.params, first.params)
    draw_cache.clear_draw_cache()
    cold = simulate(programme, draws=D, seed=7)
    assert _same(again.draws, cold.draws) and _same(first.draws, cold.draws)
    assert again.summary.equals(cold.summary)


def test_a_lever_move_reuses_the_draws_and_gives_the_uncached_result(
        programme: Scenario) -> None:
    first = simulate(programme, draws=D, seed=7)
    tp = next(iter(programme.touchpoints))
    lever = programme.touchpoints[tp].lever
    moved = programme.with_lever(tp, target=(lever.today + lever.target) / 2)
    warm = simulate(moved, draws=D, seed=7)
    assert warm.params["odds_ratio"].base is first.params["odds_ratio"].base  # reused
    draw_cache.clear_draw_cache()
    cold = simulate(moved, draws=D, seed=7)
    assert warm.params["odds_ratio"].base is not cold.params["odds_ratio"].base
    assert _same(warm.draws, cold.draws) and _same(warm.params, cold.params)
    assert not np.array_equal(warm.draws["npv"], first.draws["npv"])  # the lever counted


def test_what_the_key_leaves_out_does_not_move_the_draws(programme: Scenario) -> None:
    """Levers and the simulation settings are not in the key: prove the draws ignore them."""
    base = _fresh(programme)
    for tp, t in programme.touchpoints.items():
        lv = t.lever
        for change in ({"target": lv.today}, {"today": lv.target},
                       {"ramp_months": lv.ramp_months + 5}, {"start_month": 3}):
            assert _same(_fresh(programme.with_lever(tp, **change)), base), (tp, change)
    fin = programme.finance
    for what, update in (
            ("costs", {"costs": programme.costs.model_copy(
                update={"one_off": programme.costs.one_off * 3 + 1,
                        "running_per_year": programme.costs.running_per_year + 5e4})}),
            ("discount rate and risk", {"finance": fin.model_copy(update={
                "discount_rate": fin.discount_rate / 2 + 0.01,
                "risk": fin.risk.model_copy(update={"cost_uplift": 0.3})})})):
        moved = programme.model_copy(update=update)
        assert _same(_fresh(moved), base), what
        assert draw_cache.draws_key(moved, D, 7, True) == draw_cache.draws_key(programme, D, 7, True)
    other = programme.model_copy(update={"simulation": programme.simulation.model_copy(
        update={"draws": 17, "seed": 1})})
    assert _same(_fresh(other), base)
    assert draw_cache.draws_key(other, D, 7, True) == draw_cache.draws_key(programme, D, 7, True)


def _prior_changes(sc: Scenario) -> dict[str, Scenario]:
    tp = next(iter(sc.touchpoints))
    link = sc.touchpoints[tp].links.churn_gap
    seg = sc.segments[0].model_copy(update={"churn_low": sc.segments[0].churn * 0.8,
                                            "churn_high": sc.segments[0].churn * 1.2})
    corr = [{"links": [f"touchpoints.{a}.links.churn_gap" for a in list(sc.touchpoints)[:2]],
             "rho": 0.6}]
    cash = {"licences": {"label": "Licences saved", "kind": "benefit", "likely": [0, 1e5],
                         "low": [0, 5e4], "high": [0, 2e5], "risk": 0.1,
                         "source": "vendor quote"}}
    from cxroi.scenario import scenario_from_dict
    raw = sc.model_dump(mode="json", exclude_none=True)
    return {
        "a link's range": sc.with_link(f"touchpoints.{tp}.links.churn_gap",
                                       high=link.high * 1.1),
        "a link's value": sc.with_link(f"touchpoints.{tp}.links.churn_gap",
                                       value=(link.value + link.high) / 2),
        "a global link": sc.with_link("links.referrals_per_promoter",
                                      high=sc.links.referrals_per_promoter.high * 1.5),
        "a segment's churn interval": sc.model_copy(
            update={"segments": [seg, *sc.segments[1:]]}),
        "a correlation": scenario_from_dict({**raw, "correlations": corr}),
        "a cash-flow line": scenario_from_dict({**raw, "cash_flows": cash}),
    }


def test_changed_priors_never_reuse_draws(programme: Scenario) -> None:
    simulate(programme, draws=D, seed=7)  # keep the programme's draws
    for what, sc in _prior_changes(programme).items():
        assert draw_cache.draws_key(sc, D, 7, True) != draw_cache.draws_key(
            programme, D, 7, True), what
        got = simulate(sc, draws=D, seed=7).params
        assert _same(got, _fresh(sc)), what
        assert not _same(got, _fresh(programme)), what  # the change moved the draws
    for kw in ({"seed": 8}, {"draws": D + 1}):
        res = simulate(programme, **{"draws": D, "seed": 7, **kw})
        assert _same(res.params, _fresh(programme, kw.get("draws", D), kw.get("seed", 7)))


def test_a_scenario_changed_in_place_gets_its_new_draws(programme: Scenario) -> None:
    """The key is the content, not the object: a list edited in place is seen."""
    sc = programme.model_copy(deep=True)
    simulate(sc, draws=D, seed=7)
    seg = sc.segments[0]
    sc.segments[0] = seg.model_copy(update={"churn_low": seg.churn * 0.8,
                                            "churn_high": seg.churn * 1.2})
    assert _same(simulate(sc, draws=D, seed=7).params, _fresh(sc))
    assert "churn_scale" in simulate(sc, draws=D, seed=7).params


def test_correlation_switch_is_in_the_key(programme: Scenario) -> None:
    sc = _prior_changes(programme)["a correlation"]
    on = simulate(sc, draws=D, seed=7).params
    off = simulate(sc, draws=D, seed=7, correlated=False).params
    assert _same(on, _fresh(sc)) and _same(off, _fresh(sc, correlated=False))
    assert not _same(on, off)
    # without correlations the switch changes no draw: one set is kept for both
    assert not programme.correlations
    assert _same(_fresh(programme, correlated=False), _fresh(programme))
    assert draw_cache.draws_key(programme, D, 7, False) == draw_cache.draws_key(programme, D, 7, True)


def test_kept_draws_are_read_only(programme: Scenario) -> None:
    res = simulate(programme, draws=D, seed=7)
    for name, x in res.params.items():
        with pytest.raises(ValueError, match="read-only"):
            x[..., 0] = 0.0
        base = x.base
        while base is not None:  # nor through the buffer it views
            assert not base.flags.writeable, name
            base = base.base
        with pytest.raises(ValueError):
            x.flags.writeable = True
    res.params.pop("odds_ratio")  # the result's dict is its own
    assert "odds_ratio" in simulate(programme, draws=D, seed=7).params


def test_the_cache_is_bounded(programme: Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    for seed in range(draw_cache.DRAW_CACHE_SIZE + 3):
        simulate(programme, draws=D, seed=seed)
    assert len(draw_cache._CACHE) == draw_cache.DRAW_CACHE_SIZE
    draw_cache.clear_draw_cache()
    one = simulate(programme, draws=D, seed=1)
    size = next(iter(draw_cache._CACHE.values()))[2]
    assert size >= sum(x.nbytes for k, x in one.params.items() if k in model.GLOBAL_LINKS)
    monkeypatch.setattr(draw_cache, "DRAW_CACHE_BYTES", size - 1)  # too big to keep
    draw_cache.clear_draw_cache()
    simulate(programme, draws=D, seed=1)
    assert not draw_cache._CACHE
    monkeypatch.setattr(draw_cache, "DRAW_CACHE_BYTES", 2 * size)  # two sets fit, not three
    for seed in range(3):
        simulate(programme, draws=D, seed=seed)
    assert len(draw_cache._CACHE) == 2


def test_the_kernel_reads_read_only_draws_as_writable_ones(programme: Scenario) -> None:
    kernel = importlib.import_module("cxroi.kernel")
    inp = compile_inputs(programme)
    writable = _fresh(programme)
    frozen = simulate(programme, draws=D, seed=7).params
    a = kernel.flywheel(inp, writable, monthly=True)
    b = kernel.flywheel(inp, frozen, monthly=True)
    assert _same(a, b)

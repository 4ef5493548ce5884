"""Money arithmetic against published figures (Forrester TEI, Gupta & Lehmann)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cxroi import finance
from cxroi.cli import app
from cxroi.errors import ScenarioError
from cxroi.model import evaluate
from cxroi.scenario import scenario_from_dict
from cxroi.uncertainty import simulate


def test_salesloft_tei_figures() -> None:
    """Forrester's SalesLoft TEI study: annual flows, year 0 undiscounted, 10%.

    Reference: PV costs $1,672,201, PV benefits $7,168,371, NPV $5,496,170, ROI 329%.
    """
    costs = np.array([53_150, 666_715, 636_772, 647_783], float)
    benefits = np.array([0, 1_606_511, 3_061_331, 4_229_760], float)
    pv_c = finance.npv(costs, 0.10, per_year=1)
    pv_b = finance.npv(benefits, 0.10, per_year=1)
    assert pv_c == pytest.approx(1_672_201, abs=1.0)
    assert pv_b == pytest.approx(7_168_371, abs=1.0)
    assert finance.npv(benefits - costs, 0.10, per_year=1) == pytest.approx(5_496_170, abs=1.0)
    assert finance.roi(pv_b, pv_c) == pytest.approx(3.29, abs=0.005)


def test_gupta_lehmann_clv() -> None:
    """CLV = m r / (1 + i - r): r = 0.8, i = 0.1 gives 2.67 x margin."""
    assert finance.clv(1.0, 0.8, 0.10) == pytest.approx(0.8 / 0.3)
    assert finance.clv(1.0, 0.8, 0.10, growth=0.05) > finance.clv(1.0, 0.8, 0.10)


@pytest.mark.parametrize(
    ("flows", "rate"),
    [([-100, 10, 10, 10, 10, 110], 0.10), ([-1000, 500, 400, 300, 100], 0.144888)],
)
def test_irr_known_values(flows: list[float], rate: float) -> None:
    got = finance.irr(np.array(flows, float), per_year=1)
    assert got == pytest.approx(rate, abs=1e-5)
    # the definition: NPV at the IRR is zero
    assert finance.npv(np.array(flows, float), float(got), per_year=1) == pytest.approx(0, abs=1e-6)


def test_irr_vectorised_and_undefined() -> None:
    flows = np.array([[-100, 60, 60], [100, 10, 10], [-100, -1, -1]], float)
    got = finance.irr(flows, per_year=1)
    assert got[0] == pytest.approx(0.130662, abs=1e-5)
    assert np.isnan(got[1]) and np.isnan(got[2])


def test_payback_period() -> None:
    flows = np.array([[-100, 30, 30, 30, 30], [-100, 10, 10, 10, 10], [50, 10, 0, 0, 0]], float)
    assert finance.payback_period(flows).tolist()[:1] == [4.0]
    assert np.isnan(finance.payback_period(flows)[1])
    assert finance.payback_period(flows)[2] == 0.0


def test_discount_factors_month_zero_undiscounted() -> None:
    df = finance.discount_factors(12, 0.10)
    assert df[0] == 1.0
    assert df[12] == pytest.approx(1 / 1.1)


def test_irr_matches_a_root_finder_on_long_random_flows() -> None:
    """Reference: scipy.optimize.brentq on the same bracket, up to 120 months.

    >>> brentq(lambda r: np.sum(c * (1 + r) ** -np.arange(len(c))), lo, hi)
    """
    from scipy.optimize import brentq

    rng = np.random.default_rng(0)
    rates = 1.0 / finance.IRR_GRID - 1.0  # its bracket grid
    checked = 0
    for _ in range(300):
        months = int(rng.integers(2, 121))
        c = rng.normal(100, 300, size=months + 1)
        c[0] = -abs(rng.normal(5000, 3000))
        t = np.arange(months + 1)
        vals = np.array([np.sum(c * (1 + r) ** -t) for r in rates])
        change = np.flatnonzero(np.sign(vals[:-1]) != np.sign(vals[1:]))
        got = finance.irr(c)
        if change.size == 0:
            assert np.isnan(got)
            continue
        j = change[0]
        root = brentq(lambda r, c=c, t=t: np.sum(c * (1 + r) ** -t), rates[j + 1], rates[j],
                      xtol=1e-15, rtol=1e-15)
        assert (1 + got) ** (1 / 12) - 1 == pytest.approx(root, abs=1e-8)
        checked += 1
    assert checked > 200


def test_npv_needs_periods_per_year() -> None:
    """A yearly table discounted as months would be silently wrong: no default."""
    with pytest.raises(TypeError):
        finance.npv(np.array([-100.0, 60.0, 60.0]), 0.10)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="per_year"):
        finance.npv(np.array([-100.0, 60.0, 60.0]), 0.10, per_year=0)
    yearly = finance.npv(np.array([-100.0, 60.0, 60.0]), 0.10, per_year=1)
    assert yearly == pytest.approx(-100 + 60 / 1.1 + 60 / 1.21)


# --- cash-flow lines in a scenario (TEI style) -------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def test_salesloft_tei_through_cxroi_run() -> None:
    """data/scenarios/tei-salesloft.yaml reproduces the study through the CLI, to the dollar."""
    out = CliRunner().invoke(app, ["run", str(ROOT / "data/scenarios/tei-salesloft.yaml"),
                                   "--json"])
    assert out.exit_code == 0, out.output
    m = json.loads(out.output)["metrics"]
    assert m["pv_costs"]["likely"] == pytest.approx(1_672_201, abs=1.0)
    assert m["pv_benefits"]["likely"] == pytest.approx(7_168_371, abs=1.0)
    assert m["npv"]["likely"] == pytest.approx(5_496_170, abs=1.0)
    assert round(m["roi"]["likely"], 2) == 3.29
    assert m["npv_risk_adjusted"]["likely"] == pytest.approx(5_496_170, abs=1.0)
    assert m["other_benefits"]["likely"] == pytest.approx(8_897_602, abs=0.01)
    assert m["total_costs"]["likely"] == pytest.approx(2_004_420, abs=0.01)
    # the model's own lines are exactly zero: no lever moves
    for line in ("retention_savings", "cross_sell", "cost_to_serve_savings", "advocacy"):
        assert m[line]["likely"] == 0.0
    assert m["payback_month"]["likely"] == 12  # year-end convention: year 1 lands at month 12


def _lines(tiny: dict, **lines: dict) -> dict:
    tiny["cash_flows"] = {k: {"provenance": "assumption", "source": "test", **v}
                          for k, v in lines.items()}
    return tiny


def test_cash_flow_lines_enter_every_figure(tiny: dict) -> None:
    """A yearly benefit line lands at month 12 y; a monthly cost line month by month; both
    reach net cash, PV, NPV, ROI and the risk adjustment (haircut / uplift per line)."""
    tiny["finance"]["discount_rate"] = 0.10
    base = evaluate(scenario_from_dict(copy.deepcopy(tiny)), monthly=True)
    sc = scenario_from_dict(_lines(
        tiny,
        licences={"label": "Licence savings", "kind": "benefit", "by": "year",
                  "likely": [0, 12_000], "risk": 0.2},
        staff={"label": "Staff time", "kind": "cost", "by": "month",
               "likely": [5_000, 1_000, 1_000], "risk": 0.5},
    ))
    out = evaluate(sc, monthly=True)
    df = finance.discount_factors(12, 0.10)
    extra_b = 12_000 * df[12]
    extra_c = 5_000 + 1_000 * (df[1] + df[2])
    assert out["pv_benefits"] == pytest.approx(base["pv_benefits"] + extra_b, rel=1e-12)
    assert out["pv_costs"] == pytest.approx(base["pv_costs"] + extra_c, rel=1e-12)
    assert out["npv"] == pytest.approx(base["npv"] + extra_b - extra_c, rel=1e-12)
    assert out["roi"] == pytest.approx(out["npv"] / out["pv_costs"], rel=1e-12)
    delta = out["net_cash"] - base["net_cash"]
    assert delta[0] == -5_000 and delta[1] == delta[2] == -1_000 and delta[12] == 12_000
    assert np.count_nonzero(delta) == 4
    adj = out["npv_risk_adjusted"] - base["npv_risk_adjusted"]
    assert adj == pytest.approx(0.8 * extra_b - 1.5 * extra_c, rel=1e-12)
    assert out["other_benefits"] == 12_000 and out["other_costs"] == 7_000
    assert out["total_costs"] == base["total_costs"] + 7_000


def test_cash_flow_ranges_are_sampled_pert_and_comonotone(tiny: dict) -> None:
    from cxroi.uncertainty import sample_cash_flow

    sc = scenario_from_dict(_lines(tiny, licences={
        "label": "Licence savings", "kind": "benefit", "by": "month",
        "likely": [0, 1000, 2000], "low": [0, 500, 1000], "high": [0, 2000, 3000], "risk": 0.1}))
    x = sample_cash_flow(sc.cash_flows["licences"], 100_000, np.random.default_rng(0))
    assert (x[:, 0] == 0).all()
    assert x[:, 1].mean() == pytest.approx((500 + 4 * 1000 + 2000) / 6, rel=0.01)
    assert x[:, 2].mean() == pytest.approx((1000 + 4 * 2000 + 3000) / 6, rel=0.01)
    assert x[:, 1].min() >= 500 and x[:, 2].max() <= 3000
    # one ranking across periods: a high month 1 is a high month 2
    assert (np.argsort(x[:, 1]) == np.argsort(x[:, 2])).mean() > 0.999
    res = simulate(sc, draws=2000, seed=1)
    assert res.quantile("other_benefits", 0.1) < res.quantile("other_benefits", 0.9)


@pytest.mark.parametrize(("line", "where", "says"), [
    ({"by": "year", "likely": [0, 1, 2]}, "cash_flows.x.likely", "beyond the horizon"),
    ({"likely": [0, 5], "low": [0, 6]}, "cash_flows.x", "low <= likely <= high"),
    ({"likely": [0, 5], "high": [9]}, "cash_flows.x.high", "1 amounts for 2 periods"),
    ({"likely": [0, -5]}, "cash_flows.x.likely[1]", "not a positive amount"),
])
def test_cash_flow_validation(tiny: dict, line: dict, where: str, says: str) -> None:
    spec = {"label": "X", "kind": "benefit", "by": "month", "risk": 0.1, **line}
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(_lines(tiny, x=spec))
    assert any(p.where == where and says in p.message for p in info.value.problems), \
        info.value.problems


def test_tornado_and_voi_see_a_cash_flow_line_with_a_range(tiny: dict) -> None:
    from cxroi.uncertainty import tornado
    from cxroi.voi import value_of_information

    sc = scenario_from_dict(_lines(tiny, licences={
        "label": "Licence savings", "kind": "benefit", "by": "month",
        "likely": [0, 50_000], "low": [0, 10_000], "high": [0, 90_000], "risk": 0.1}))
    tor = tornado(sc).set_index("link")
    row = tor.loc["cash_flows.licences"]
    assert row["npv_at_high"] - row["npv_at_low"] == pytest.approx(80_000, rel=1e-12)
    assert (row["low"], row["likely"], row["high"]) == (10_000, 50_000, 90_000)
    v = value_of_information(simulate(sc, draws=1000, seed=1))
    assert "cash_flows.licences" in set(v.table["link"])
    assert "Licence savings" in set(v.table["label"])


def test_misspelt_cash_flow_key_suggests_the_right_one(tiny: dict) -> None:
    d = _lines(tiny, x={"label": "X", "kind": "cost", "by": "year", "likly": [1.0], "risk": 0.1})
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(d)
    assert any(p.where == "cash_flows.x.likly" and "did you mean 'likely'" in p.fix
               for p in info.value.problems)


def test_scenario_with_lines_round_trips(tmp_path: Path) -> None:
    from cxroi.scenario import load_scenario, save_scenario

    sc = load_scenario(ROOT / "data/scenarios/tei-salesloft.yaml")
    assert load_scenario(save_scenario(sc, tmp_path / "copy.yaml")) == sc

"""The flywheel model: a case computed by hand, and properties that must always hold."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxroi.model import OUTPUTS, compile_inputs, evaluate, likely_params, run_flywheel
from cxroi.scenario import load_scenario, scenario_from_dict
from cxroi.uncertainty import sample_params, simulate

SCENARIOS = Path(__file__).resolve().parents[1] / "data" / "scenarios"


def test_tiny_case_first_month_by_hand(tiny: dict) -> None:
    out = evaluate(scenario_from_dict(tiny), monthly=True)
    # month 1: 0.5 margin * 1000 accounts * (0.99 - 0.98) * $12,000/12 * 1.005 = $5,025
    assert out["retention_savings_monthly"][0] == pytest.approx(5025.0, rel=1e-12)
    # month 1 cross-sell: 0.5 * 1000 * 0.99 * 1000 * (1.01 - 1.005) = $2,475
    assert out["cross_sell_monthly"][0] == pytest.approx(2475.0, rel=1e-12)
    # month 1 cost to serve: 1000 * 0.99 * 1/6 * 2 contacts * $10 = $3,300
    assert out["cost_to_serve_savings_monthly"][0] == pytest.approx(3300.0, rel=1e-12)
    # month 0 is the one-off cost, months 1.. carry $2,000 running cost
    assert out["net_cash"][0] == -100000.0


def test_tiny_case_matches_reference_loop(tiny: dict) -> None:
    sc = scenario_from_dict(tiny)
    out = evaluate(sc)
    ref = reference_flywheel(sc)
    for key, value in ref.items():
        assert out[key] == pytest.approx(value, rel=1e-12), key
    benefits = ref["total_benefits"]
    assert out["npv"] == pytest.approx(benefits - 100000 - 24000, rel=1e-12)
    assert out["roi"] == pytest.approx((benefits - 124000) / 124000, rel=1e-12)
    assert out["nps_change"] == pytest.approx(60 / 6 * (1 - math.exp(-12)), rel=1e-12)
    assert out["csat_change"] == pytest.approx(1.2 / 6, rel=1e-12)
    # NRR before: (0.98 ** 12) * (1.005 ** 12)
    assert out["nrr_before"] == pytest.approx(0.98 ** 12 * 1.005 ** 12, rel=1e-12)
    assert out["nrr_after"] == pytest.approx(0.99 ** 12 * 1.01 ** 12, rel=1e-12)


def test_vectorised_equals_per_draw(tiny: dict) -> None:
    sc = scenario_from_dict(tiny)
    inp = compile_inputs(sc)
    params = sample_params(sc, 7, np.random.default_rng(3))
    together = run_flywheel(inp, params)
    for i in range(7):
        alone = run_flywheel(inp, {k: v[i:i + 1] for k, v in params.items()})
        for key in OUTPUTS:
            np.testing.assert_allclose(together[key][i], alone[key][0], rtol=1e-12,
                                       err_msg=key)


def test_chunked_equals_unchunked(lead_dict: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    import cxroi.model as model

    sc = scenario_from_dict(lead_dict)
    inp = compile_inputs(sc)
    params = sample_params(sc, 300, np.random.default_rng(5))
    whole = run_flywheel(inp, params, monthly=True)
    monkeypatch.setattr(model, "CHUNK", 64)
    parts = run_flywheel(inp, params, monthly=True)
    for key in whole:
        np.testing.assert_allclose(whole[key], parts[key], rtol=1e-12, err_msg=key)


# ---------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------

MONEY_LINES = ("retention_savings", "cross_sell", "cost_to_serve_savings", "advocacy")
FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def _lead(lead_dict: dict, **lever: float) -> dict:
    lead_dict["touchpoints"]["complaints"]["lever"].update(lever)
    return lead_dict


@FAST
@given(today=st.floats(0.5, 200), one_off=st.floats(0, 1e6), running=st.floats(0, 1e6))
def test_zero_improvement_zero_benefit(lead_dict: dict, today: float, one_off: float,
                                       running: float) -> None:
    d = _lead(lead_dict, today=today, target=today)
    d["costs"] = {"one_off": one_off, "running_per_year": running}
    sc = scenario_from_dict(d)
    res = simulate(sc, draws=64, seed=0)
    for line in (*MONEY_LINES, "total_benefits", "nps_change", "csat_change", "accounts_kept"):
        assert np.allclose(res.draws[line], 0.0, atol=1e-6), line
    pv_costs = res.draws["pv_costs"]
    np.testing.assert_allclose(res.draws["npv"], -pv_costs, rtol=1e-12, atol=1e-6)


@FAST
@given(a=st.floats(0.2, 30), b=st.floats(0.2, 30))
def test_faster_resolution_never_lowers_retention(lead_dict: dict, a: float, b: float) -> None:
    better, worse = min(a, b), max(a, b)
    sc_better = scenario_from_dict(_lead(lead_dict, today=30, target=better))
    sc_worse = sc_better.with_lever("complaints", target=worse)
    params = sample_params(sc_better, 64, np.random.default_rng(11))
    r_b = run_flywheel(compile_inputs(sc_better), params)
    r_w = run_flywheel(compile_inputs(sc_worse), params)
    for key in ("retention_savings", "total_benefits", "npv", "nps_change"):
        assert np.all(r_b[key] >= r_w[key] - 1e-6), key


@FAST
@given(k=st.integers(2, 5))
def test_scaling_accounts_scales_money(lead_dict: dict, k: int) -> None:
    sc = scenario_from_dict(lead_dict)
    d2 = lead_dict
    for seg in d2["segments"]:
        seg["accounts"] *= k
    sc2 = scenario_from_dict(d2)
    one, many = evaluate(sc), evaluate(sc2)
    for key in (*MONEY_LINES, "total_benefits", "pv_benefits", "accounts_kept"):
        assert many[key] == pytest.approx(k * one[key], rel=1e-9), key
    for key in ("nps_change", "nrr_after", "clv_after", "csat_change"):
        assert many[key] == pytest.approx(one[key], rel=1e-9), key


@FAST
@given(r1=st.floats(0.0, 0.5), r2=st.floats(0.0, 0.5))
def test_higher_discount_rate_lowers_npv_of_positive_flows(lead_dict: dict, r1: float,
                                                           r2: float) -> None:
    lead_dict["costs"] = {"one_off": 0, "running_per_year": 0}
    lo, hi = min(r1, r2), max(r1, r2)
    lead_dict["finance"]["discount_rate"] = lo
    n_lo = evaluate(scenario_from_dict(lead_dict))["npv"]
    lead_dict["finance"]["discount_rate"] = hi
    n_hi = evaluate(scenario_from_dict(lead_dict))["npv"]
    assert n_lo > 0
    assert n_hi <= n_lo + 1e-6


def test_quantiles_ordered_for_every_metric(lead_dict: dict) -> None:
    res = simulate(scenario_from_dict(lead_dict), draws=2000, seed=3)
    s = res.summary
    assert (s["p10"] <= s["p50"] + 1e-9).all()
    assert (s["p50"] <= s["p90"] + 1e-9).all()
    assert 0.0 <= res.prob_loss <= 1.0


def test_risk_adjusted_below_unadjusted(lead_dict: dict) -> None:
    res = simulate(scenario_from_dict(lead_dict), draws=500, seed=2)
    assert np.all(res.draws["npv_risk_adjusted"] <= res.draws["npv"])


def test_seeded_and_reproducible(lead_dict: dict) -> None:
    sc = scenario_from_dict(lead_dict)
    a, b = simulate(sc, draws=300, seed=9), simulate(sc, draws=300, seed=9)
    c = simulate(sc, draws=300, seed=10)
    np.testing.assert_array_equal(a.draws["npv"], b.draws["npv"])
    assert not np.array_equal(a.draws["npv"], c.draws["npv"])


def test_ramp_delays_benefits(lead_dict: dict) -> None:
    fast = scenario_from_dict(_lead(lead_dict, ramp_months=0))
    slow = fast.with_lever("complaints", ramp_months=12)
    assert evaluate(fast)["npv"] > evaluate(slow)["npv"]
    late = fast.with_lever("complaints", start_month=6)
    assert evaluate(late, monthly=True)["retention_savings_monthly"][:6] == pytest.approx(0.0, abs=1e-6)


def test_likely_params_shapes(tiny: dict) -> None:
    sc = scenario_from_dict(tiny)
    p = likely_params(sc)
    assert p["churn_gap"].shape == (1, 1)
    assert p["referrals_per_promoter"].shape == (1,)


def reference_flywheel(sc) -> dict[str, float]:  # noqa: ANN001
    """docs/model.md written out as plain loops over months, segments and touchpoints."""
    h = sc.finance.horizon_months
    tot = dict.fromkeys(("retention_savings", "cross_sell", "cost_to_serve_savings",
                         "advocacy"), 0.0)
    for seg in sc.segments:
        hb = 1 - (1 - seg.churn) ** (1 / 12)
        eb = seg.expansion_rate / 12
        s_b = s_i = g_b = g_i = 1.0
        ref = 0.0
        for t in range(1, h + 1):
            red = grow = nps = cts = 0.0
            for name, tp in sc.touchpoints.items():
                lv, ln, vol = tp.lever, tp.links, seg.volumes[name]
                frac = min(1.0, max(0.0, (t - lv.start_month) / max(lv.ramp_months, 1)))
                x = lv.today + (lv.target - lv.today) * frac
                g = (math.log2 if tp.scale == "log2" else (lambda v, s=tp.step: v / s))
                p0 = ln.positive_share_today.value
                z = math.log(p0 / (1 - p0)) + math.log(ln.odds_ratio.value) * (g(x) - g(lv.today))
                dp = 1 / (1 + math.exp(-z)) - p0
                lam = vol.events_per_year / 12
                red += lam * dp * ln.churn_gap.value
                grow += lam * dp * ln.expansion_gap.value
                cts += lam * dp * ln.repeat_contacts.value * vol.cost_per_contact
                nps += (1 - math.exp(-vol.events_per_year)) * dp * ln.nps_gap.value
            s_b *= 1 - hb
            s_i *= 1 - min(1.0, max(0.0, hb - red))
            g_b *= 1 + eb * seg.expansion_value
            g_i *= 1 + min(1.0, max(0.0, eb + grow)) * seg.expansion_value
            nps_b = 100 * (seg.promoters - seg.detractors)
            ref = ref * (1 - min(1.0, max(0.0, hb - red)))
            ref += seg.accounts * s_i * min(max(nps, 0.0), 100 - nps_b) / 200 \
                * sc.links.referrals_per_promoter.value / 12
            w = seg.gross_margin * seg.accounts * seg.arpa / 12
            parts = (w * (s_i - s_b) * g_b, w * s_i * (g_i - g_b),
                     seg.accounts * s_i * cts, seg.gross_margin * ref * seg.arpa / 12)
            for key, v in zip(tot, parts, strict=True):
                tot[key] += v
    tot["total_benefits"] = sum(tot.values())
    return tot


def test_three_touchpoints_with_different_ramps_match_reference(lead_dict: dict) -> None:
    """The full programme (3 segments x 3 touchpoints), with a delayed start and no ramp on
    one lever, equals the plain-loop reference."""
    from cxroi.scenario import load_scenario

    sc = load_scenario(SCENARIOS / "cx-programme.yaml")
    sc = sc.with_lever("complaints", start_month=5, ramp_months=0)
    sc = sc.with_lever("first_contact_resolution", start_month=2, ramp_months=11)
    got, ref = evaluate(sc), reference_flywheel(sc)
    for key, value in ref.items():
        assert got[key] == pytest.approx(value, rel=1e-10), key


def test_chunking_does_not_change_three_touchpoint_results(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    import cxroi.model as model
    from cxroi.scenario import load_scenario

    sc = load_scenario(SCENARIOS / "cx-programme.yaml")
    inp = compile_inputs(sc)
    params = sample_params(sc, 700, np.random.default_rng(8))
    whole = run_flywheel(inp, params, monthly=True)
    monkeypatch.setattr(model, "CHUNK", 97)
    parts = run_flywheel(inp, params, monthly=True)
    for key in whole:
        np.testing.assert_allclose(whole[key], parts[key], rtol=1e-12, err_msg=key)


def test_risk_adjustment_never_flatters_a_loss(lead_dict: dict) -> None:
    """A calibrated odds ratio whose interval crosses 1 gives losing draws; the haircut must
    not shrink a loss."""
    link = lead_dict["touchpoints"]["complaints"]["links"]["odds_ratio"]
    link.update(value=0.9, low=0.6, high=1.6, provenance="calibrated", source="weak fit")
    res = simulate(scenario_from_dict(lead_dict), draws=2000, seed=4)
    assert (res.draws["npv"] < 0).any()
    assert np.all(res.draws["npv_risk_adjusted"] <= res.draws["npv"] + 1e-9)


def test_referrals_stop_at_the_nps_ceiling(lead_dict: dict) -> None:
    for seg in lead_dict["segments"]:
        seg.update(promoters=1.0, detractors=0.0)
    out = evaluate(scenario_from_dict(lead_dict))
    assert out["nps_change"] == pytest.approx(0.0)
    assert out["advocacy"] == pytest.approx(0.0)


def test_links_claiming_more_churn_than_there_is_are_flagged(lead_dict: dict) -> None:
    seg = lead_dict["segments"][0]
    seg["volumes"]["complaints"]["events_per_year"] = 50
    lead_dict["touchpoints"]["complaints"]["links"]["churn_gap"].update(value=0.5, high=0.6)
    res = simulate(scenario_from_dict(lead_dict), draws=200, seed=1)
    assert res.draws["churn_floored"].mean() > 0.9
    assert res.churn_floor_share > 0.9
    normal = simulate(load_scenario(SCENARIOS / "complaints-30-to-1.yaml"), draws=200, seed=1)
    assert normal.churn_floor_share == 0.0


def test_payback_counts_draws_that_never_pay_back(lead_dict: dict) -> None:
    lead_dict["touchpoints"]["complaints"]["lever"]["target"] = 8
    lead_dict["costs"]["one_off"] = 800_000
    res = simulate(scenario_from_dict(lead_dict), draws=2000, seed=2)
    pays = np.isfinite(res.draws["payback_month"])
    assert 0.05 < pays.mean() < 0.95
    # P90 is among the draws that never pay back
    assert res.quantile("payback_month", 0.9) == np.inf
    s = res.summary.loc["payback_month"]
    assert s["share_defined"] == pytest.approx(pays.mean())
    # the median over all draws, not over the ones that pay back
    finite_median = np.median(res.draws["payback_month"][pays])
    assert res.quantile("payback_month", 0.5) >= finite_median


# ---------------------------------------------------------------------------------------
# The compiled kernel (cxroi.kernel) against the numpy reference
# ---------------------------------------------------------------------------------------

def _cal(value: float, low: float, high: float) -> dict:
    return {"value": value, "low": low, "high": high, "provenance": "calibrated",
            "source": "test fit"}


def random_scenario(seed: int) -> dict:
    """The full programme (3 segments x 3 touchpoints) with its levers, horizon, finance and
    economics redrawn, and at random: measured direct links, sBG tenure curves, touchpoints a
    segment never meets, TEI cash-flow lines and correlations -- every branch of the model."""
    from cxroi.scenario import Retention, sbg_churn_next_year

    rng = np.random.default_rng(seed)
    d = yaml.safe_load((SCENARIOS / "cx-programme.yaml").read_text())
    h = int(rng.choice([1, 6, 12, 24, 36, 60]))
    d["finance"] = {"horizon_months": h, "discount_rate": float(rng.uniform(0, 0.3))}
    d["costs"] = {"one_off": float(rng.uniform(0, 2e6)),
                  "running_per_year": float(rng.uniform(0, 5e5))}
    for tp in d["touchpoints"].values():
        lev = tp["lever"]
        lo, hi = tp.get("minimum"), tp.get("maximum")
        target = lev["today"] + (lev["target"] - lev["today"]) * rng.uniform(0.0, 1.5)
        lev["target"] = float(np.clip(target, lo if lo is not None else -np.inf,
                                      hi if hi is not None else np.inf))
        lev["start_month"] = int(rng.integers(0, min(6, h - 1) + 1))
        lev["ramp_months"] = int(rng.integers(0, min(12, h - lev["start_month"]) + 1))
        for name in ("churn_hazard_ratio", "expansion_rate_ratio", "contacts_ratio"):
            if rng.random() < 0.35:
                v = float(rng.uniform(0.7, 1.5))
                tp["links"][name] = _cal(v, v * 0.9, v * 1.1)
    for seg in d["segments"]:
        seg["expansion_rate"] = float(rng.uniform(0, 0.4))
        for vol in seg["volumes"].values():
            if rng.random() < 0.15:
                vol["events_per_year"] = 0
        if rng.random() < 0.3:
            ret = {"model": "sbg", "alpha": float(rng.uniform(0.3, 3)),
                   "beta": float(rng.uniform(1, 8)), "period_months": 12,
                   "tenure_months": float(rng.uniform(0, 36))}
            seg["retention"] = ret
            seg["churn"] = round(sbg_churn_next_year(Retention(**ret)), 6)
    if rng.random() < 0.5:
        d["cash_flows"] = {"licences": {
            "label": "Licence savings", "kind": "benefit", "by": "month",
            "likely": [0.0] + [float(x) for x in rng.uniform(0, 2e4, h)],
            "low": [0.0] * (h + 1), "high": [0.0] + [3e4] * h, "risk": 0.1,
            "source": "test"},
            "training": {"label": "Training", "kind": "cost", "by": "month",
                         "likely": [float(rng.uniform(0, 1e5))] + [0.0] * h, "risk": 0.2,
                         "source": "test"}}
    if rng.random() < 0.5:
        d["correlations"] = [{"links": ["touchpoints.complaints.links.churn_gap",
                                        "touchpoints.ordering.links.churn_gap"], "rho": 0.6}]
    # drawn after everything above, so the scenarios above stay what they were: baseline
    # rates with a sampling interval, and contacts per event near one (the floor binds)
    for seg in d["segments"]:
        if rng.random() < 0.5:
            c = seg["churn"]
            seg["churn_low"], seg["churn_high"] = c * 0.7, min(c * 1.3, 0.99)
        if rng.random() < 0.5:
            e = seg["expansion_rate"]
            seg["expansion_rate_low"], seg["expansion_rate_high"] = e * 0.6, min(e * 1.5, 1.0)
        for vol in seg["volumes"].values():
            if rng.random() < 0.4:
                vol["contacts_per_event"] = float(rng.uniform(1.0, 1.4))
            if rng.random() < 0.4:
                k = vol.get("contacts_per_event", 1.0)
                vol["contacts_per_event_low"] = k * 0.8
                vol["contacts_per_event_high"] = k * 1.2
    # drawn after everything above again: a measured spread (the floor of single events) and
    # an events rate with its sampling interval
    for tp in d["touchpoints"].values():
        if rng.random() < 0.5:
            tp["observed"] = {"low": 1.0, "high": 90.0, "n": 100, "spread": float(rng.uniform(0.0, 2.5))}
    for seg in d["segments"]:
        for vol in seg["volumes"].values():
            if rng.random() < 0.4:
                ev = vol["events_per_year"]
                vol["events_per_year_low"], vol["events_per_year_high"] = ev * 0.85, ev * 1.2
    # drawn last too: a measured direct link's exposure window and exposed share per segment
    for tp in d["touchpoints"].values():
        for name in ("churn_hazard_ratio", "expansion_rate_ratio"):
            if name in tp["links"] and rng.random() < 0.6:
                tp["links"][name]["window_months"] = int(rng.choice([1, 3, 6, 12, 24]))
                if rng.random() < 0.6:
                    tp["links"][name]["exposed_share"] = {
                        s["name"]: float(rng.uniform(0, 1)) for s in d["segments"] if rng.random() < 0.7}
    return d


def assert_same_results(fast: dict, ref: dict, rtol: float = 1e-12) -> None:
    """Every output equal to ``rtol`` of its own scale (the largest magnitude over draws and
    months: a month whose net cash is near zero is not held to 1e-12 of itself), and
    undefined (NaN: no payback, no IRR) in exactly the same draws."""
    assert set(fast) == set(ref)
    for key, r in ref.items():
        f, r = np.asarray(fast[key]), np.asarray(r)
        assert f.shape == r.shape, key
        np.testing.assert_array_equal(np.isnan(f), np.isnan(r), err_msg=key)
        ok = ~np.isnan(r)
        scale = float(np.abs(r[ok]).max()) if ok.any() else 0.0
        np.testing.assert_allclose(f[ok], r[ok], rtol=rtol, atol=rtol * scale, err_msg=key)


@pytest.fixture(scope="module")
def kernel():  # noqa: ANN201 - the module
    """The compiled kernel, loaded without switching the rest of the tests onto it."""
    import importlib

    return importlib.import_module("cxroi.kernel")


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_kernel_equals_numpy_on_the_demo_scenarios(path: Path, kernel) -> None:
    from cxroi.model import run_flywheel_numpy

    sc = load_scenario(path)
    inp = compile_inputs(sc)
    params = sample_params(sc, 1500, np.random.default_rng(11))
    assert_same_results(kernel.flywheel(inp, params, monthly=True),
                        run_flywheel_numpy(inp, params, monthly=True))
    likely = likely_params(sc)
    assert_same_results(kernel.flywheel(inp, likely, monthly=True, detail=True),
                        run_flywheel_numpy(inp, likely, monthly=True, detail=True))
    assert_same_results(kernel.flywheel(inp, likely), run_flywheel_numpy(inp, likely))


@pytest.mark.parametrize("seed", range(16))
def test_kernel_equals_numpy_on_random_scenarios(seed: int, kernel) -> None:
    from cxroi.model import run_flywheel_numpy

    sc = scenario_from_dict(random_scenario(seed))
    inp = compile_inputs(sc)
    params = sample_params(sc, 400, np.random.default_rng(seed))
    fast = kernel.flywheel(inp, params, monthly=True, detail=True)
    assert_same_results(fast, run_flywheel_numpy(inp, params, monthly=True, detail=True))
    # the case is not degenerate: money moves, and for most scenarios in both directions
    assert np.abs(fast["npv"]).max() > 0


def test_random_scenarios_reach_every_branch() -> None:
    """The random scenarios above do exercise direct links, sBG curves, cash-flow lines,
    correlations, touchpoints a segment never meets and a one-month horizon."""
    seen = {"direct": 0, "sbg": 0, "cash": 0, "corr": 0, "no_events": 0, "one_month": 0,
            "churn_interval": 0, "expansion_interval": 0, "contacts_interval": 0, "floor": 0,
            "spread_floor": 0, "events_interval": 0, "short_window": 0, "exposed_share": 0}
    for seed in range(16):
        d = random_scenario(seed)
        tps = d["touchpoints"].values()
        seen["direct"] += any("contacts_ratio" in tp["links"] for tp in tps)
        seen["sbg"] += any("retention" in s for s in d["segments"])
        seen["cash"] += "cash_flows" in d
        seen["corr"] += "correlations" in d
        seen["no_events"] += any(v["events_per_year"] == 0 for s in d["segments"]
                                 for v in s["volumes"].values())
        seen["one_month"] += d["finance"]["horizon_months"] == 1
        seen["churn_interval"] += any("churn_low" in s for s in d["segments"])
        seen["expansion_interval"] += any("expansion_rate_low" in s for s in d["segments"])
        seen["contacts_interval"] += any("contacts_per_event_low" in v for s in d["segments"]
                                         for v in s["volumes"].values())
        links = [tp["links"].get(n) or {} for tp in tps for n in ("churn_hazard_ratio", "expansion_rate_ratio")]
        seen["short_window"] += any(lk.get("window_months", 12) < 12 for lk in links)
        seen["exposed_share"] += any(lk.get("exposed_share") for lk in links)
        # the one-contact floor binds: a measured contacts ratio meets contacts near one
        sc = scenario_from_dict(d)
        inp = compile_inputs(sc)
        for k, tp in enumerate(sc.touchpoints.values()):
            cr = tp.links.contacts_ratio
            if cr is not None:
                low = inp.contacts[:, k] * np.exp(inp.shift_full[k] * np.log(cr.value))
                seen["floor"] += bool(((inp.contacts[:, k] >= 1) & (low < 1)).any())
                seen["spread_floor"] += tp.observed is not None and (tp.observed.spread or 0) > 0
        seen["events_interval"] += any("events_per_year_low" in v for s in d["segments"]
                                       for v in s["volumes"].values())
    assert all(seen.values()), seen


def test_simulate_on_the_kernel_equals_numpy(monkeypatch: pytest.MonkeyPatch, kernel) -> None:
    """Same seed, same draws, same results whichever engine runs the model; the engine is
    the one asked for."""
    import cxroi.model as model

    sc = scenario_from_dict(random_scenario(3))
    monkeypatch.setattr(model, "ENGINE", "numpy")
    ref = simulate(sc, draws=600, seed=5)
    assert not model.kernel_active()
    monkeypatch.setattr(model, "ENGINE", "auto")
    monkeypatch.setattr(model, "_KERNEL", kernel)
    assert model.kernel_active()
    fast = simulate(sc, draws=600, seed=5)
    for key in ref.params:
        np.testing.assert_array_equal(fast.params[key], ref.params[key], err_msg=key)
    assert_same_results(fast.draws, ref.draws)
    assert_same_results({k: np.asarray(v) for k, v in fast.likely.items()},
                        {k: np.asarray(v) for k, v in ref.likely.items()})
    summary = fast.summary.drop(columns=["label", "unit"]).astype(float)
    expect = ref.summary.drop(columns=["label", "unit"]).astype(float)
    np.testing.assert_allclose(summary.to_numpy(), expect.to_numpy(), rtol=1e-11)


def test_engine_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    import cxroi.model as model

    monkeypatch.setattr(model, "ENGINE", "fast")
    with pytest.raises(ValueError, match="CXROI_ENGINE='fast'.*auto, numpy, kernel"):
        model.kernel_active()


# ---------------------------------------------------------------------------------------
# Baseline rates with sampling error, and the one-contact floor
# ---------------------------------------------------------------------------------------

def _measured_contacts(d: dict, contacts: float, ratio: float = 1.5) -> dict:
    """The tiny case with contacts per complaint measured: ``ratio`` per doubling of
    resolution time (halving it cuts contacts per complaint to contacts / ratio)."""
    d["touchpoints"]["complaints"]["links"]["contacts_ratio"] = _cal(ratio, ratio, ratio)
    d["segments"][0]["volumes"]["complaints"]["contacts_per_event"] = contacts
    return d


@pytest.mark.parametrize("engine", ["numpy", "kernel"])
@pytest.mark.parametrize("weight", [0.0, 0.3, 1.0])
def test_contacts_never_fall_below_one_per_event(tiny: dict, weight: float, engine: str,
                                                 kernel) -> None:
    """kappa 1.2, ratio 1.5 per doubling, halved: kappa CR^dg = 0.8 < 1, so the saving per
    complaint is 1.2 - [0.8 + w (1 - 0.8)]: 0.4 contacts unfloored, 0.2 floored at one."""
    from cxroi.model import run_flywheel_numpy

    sc = scenario_from_dict(_measured_contacts(tiny, 1.2))
    inp = compile_inputs(sc)
    params = likely_params(sc)
    params["contacts_floor_weight"] = np.array([weight])
    run = kernel.flywheel if engine == "kernel" else run_flywheel_numpy
    out = run(inp, params, monthly=True)
    # month 1: 1000 accounts x 0.99 alive x 1 complaint a month x $10 x contacts saved
    # (plus the emotion chain's repeat contacts, not on a touchpoint with the measured link)
    saved = 1.2 - (0.8 + weight * 0.2)
    assert out["cost_to_serve_savings_monthly"][0, 0] == pytest.approx(
        1000 * 0.99 * 1.0 * 10.0 * saved, rel=1e-12)


def test_contacts_floor_leaves_a_segment_above_one_alone(tiny: dict) -> None:
    """kappa 3, halved with ratio 1.5: 2 contacts per complaint, above one: w plays no part;
    a segment below one contact today (most events need none) has no floor either."""
    for contacts in (3.0, 0.5):
        sc = scenario_from_dict(_measured_contacts(copy.deepcopy(tiny), contacts))
        inp = compile_inputs(sc)
        runs = []
        for w in (0.0, 1.0):
            params = likely_params(sc)
            params["contacts_floor_weight"] = np.array([w])
            runs.append(run_flywheel(inp, params, monthly=True)["cost_to_serve_savings_monthly"])
        np.testing.assert_array_equal(runs[0], runs[1])
        assert runs[0][0, 0] == pytest.approx(1000 * 0.99 * 10.0 * contacts / 3, rel=1e-12)


def test_likely_run_takes_the_middle_of_the_floor(tiny: dict) -> None:
    sc = scenario_from_dict(_measured_contacts(tiny, 1.2))
    out = evaluate(sc, monthly=True)
    assert out["cost_to_serve_savings_monthly"][0] == pytest.approx(1000 * 0.99 * 10 * 0.3,
                                                                    rel=1e-12)


def _restated(d: dict, churn: float, expansion: float, contacts: float) -> dict:
    seg = d["segments"][0]
    h = 1 - (1 - seg["churn"]) ** (1 / 12)
    seg["churn"] = 1 - (1 - h * churn) ** 12
    seg["expansion_rate"] *= expansion
    seg["volumes"]["complaints"]["contacts_per_event"] *= contacts
    return d


@pytest.mark.parametrize("engine", ["numpy", "kernel"])
def test_a_drawn_rate_factor_is_the_rate_restated(tiny: dict, engine: str, kernel) -> None:
    """A draw whose factors are f on churn's monthly hazard, expansion and contacts per event
    has the money of the scenario that states those rates outright (a known truth); the
    steady-state views (NRR, CLV) keep the stated rates."""
    from cxroi.model import run_flywheel_numpy

    run = kernel.flywheel if engine == "kernel" else run_flywheel_numpy
    d = _measured_contacts(tiny, 1.3, ratio=1.2)
    sc = scenario_from_dict(d)
    inp = compile_inputs(sc)
    factors = [(1.0, 1.0, 1.0), (1.4, 0.7, 1.1), (0.6, 1.3, 0.8)]
    params = {k: np.repeat(v, len(factors), axis=0) for k, v in likely_params(sc).items()}
    params["churn_scale"] = np.array([[f[0]] for f in factors])
    params["expansion_scale"] = np.array([[f[1]] for f in factors])
    params["contacts_scale"] = np.array([[[f[2]]] for f in factors])
    drawn = run(inp, params, monthly=True, detail=True)
    for i, f in enumerate(factors):
        alone = scenario_from_dict(_restated(copy.deepcopy(d), *f))
        ref = run_flywheel_numpy(compile_inputs(alone), likely_params(alone), monthly=True,
                                 detail=True)
        for key in ("retention_savings", "cross_sell", "cost_to_serve_savings", "advocacy",
                    "npv", "accounts_kept", "revenue_baseline_monthly",
                    "cost_to_serve_savings_monthly"):
            np.testing.assert_allclose(drawn[key][i], ref[key][0], rtol=1e-9, err_msg=key)
        assert drawn["nrr_before"][i] == pytest.approx(evaluate(sc)["nrr_before"], rel=1e-12)


@pytest.mark.parametrize("engine", ["numpy", "kernel"])
def test_drawn_baseline_rates_alone_move_no_money(lead_dict: dict, engine: str, kernel) -> None:
    """With every lever left at today, both arms share each draw's rates: every money line
    is exactly zero however the baseline rates are drawn."""
    from cxroi.model import run_flywheel_numpy

    for tp in lead_dict["touchpoints"].values():
        tp["lever"]["target"] = tp["lever"]["today"]
    for seg in lead_dict["segments"]:
        seg["churn_low"], seg["churn_high"] = seg["churn"] * 0.5, seg["churn"] * 1.5
        seg["expansion_rate_low"] = seg["expansion_rate"] * 0.5
        seg["expansion_rate_high"] = min(seg["expansion_rate"] * 1.5, 1.0)
    sc = scenario_from_dict(lead_dict)
    params = sample_params(sc, 300, np.random.default_rng(4))
    assert {"churn_scale", "expansion_scale"} <= set(params)
    run = kernel.flywheel if engine == "kernel" else run_flywheel_numpy
    out = run(compile_inputs(sc), params)
    for key in ("retention_savings", "cross_sell", "cost_to_serve_savings", "advocacy",
                "accounts_kept"):
        assert np.all(out[key] == 0.0), key

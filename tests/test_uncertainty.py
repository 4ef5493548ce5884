"""Distributions, tornado and breakeven."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.stats import spearmanr

from cxroi.errors import ScenarioError
from cxroi.model import GLOBAL_LINKS, TOUCHPOINT_LINKS, evaluate
from cxroi.scenario import Link, scenario_from_dict
from cxroi.uncertainty import (
    breakeven,
    sample_link,
    sample_params,
    sample_rates,
    simulate,
    tornado,
)


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


# --- correlated links ---------------------------------------------------------------------

PROGRAMME = Path(__file__).resolve().parents[1] / "data" / "scenarios" / "cx-programme.yaml"
CHURN = "touchpoints.{}.links.churn_gap"


def _with_correlations(d: dict, pairs: list[tuple[str, str, float]]) -> dict:
    d["correlations"] = [{"links": [a, b], "rho": r} for a, b, r in pairs]
    return d


def test_no_correlations_keeps_the_independent_stream(lead_dict: dict) -> None:
    """Without correlations the draws are exactly the per-link independent draws in the fixed
    order (links of every touchpoint, then global links): the same stream as always."""
    sc = scenario_from_dict(lead_dict)
    got = sample_params(sc, 500, np.random.default_rng(9))
    rng = np.random.default_rng(9)
    for name in TOUCHPOINT_LINKS:
        col = np.stack([sample_link(name, getattr(tp.links, name), 500, rng)
                        for tp in sc.touchpoints.values()], axis=1)
        np.testing.assert_array_equal(got[name], col)
    for name in GLOBAL_LINKS:
        np.testing.assert_array_equal(got[name], sample_link(name, getattr(sc.links, name), 500,
                                                             rng))


def test_correlation_is_honoured_and_marginals_kept(lead_dict: dict) -> None:
    a, b = CHURN.format("complaints"), "touchpoints.complaints.links.expansion_gap"
    c = "touchpoints.complaints.links.odds_ratio"
    sc = scenario_from_dict(_with_correlations(lead_dict, [(a, b, 0.6), (a, c, -0.3)]))
    n = 20_000
    corr = sample_params(sc, n, np.random.default_rng(4))
    ind = sample_params(sc, n, np.random.default_rng(4), correlated=False)
    for name in ("churn_gap", "expansion_gap", "odds_ratio", "nps_gap"):
        # the same values, only reordered
        np.testing.assert_array_equal(np.sort(corr[name], axis=0), np.sort(ind[name], axis=0))
    np.testing.assert_array_equal(corr["nps_gap"], ind["nps_gap"])  # untouched links stay put
    rho_ab = spearmanr(corr["churn_gap"][:, 0], corr["expansion_gap"][:, 0])[0]
    rho_ac = spearmanr(corr["churn_gap"][:, 0], corr["odds_ratio"][:, 0])[0]
    assert rho_ab == pytest.approx(0.6, abs=0.02)
    assert rho_ac == pytest.approx(-0.3, abs=0.02)
    assert abs(spearmanr(ind["churn_gap"][:, 0], ind["expansion_gap"][:, 0])[0]) < 0.03


def test_positive_correlation_widens_the_npv_band() -> None:
    d = yaml.safe_load(PROGRAMME.read_text())
    tps = ("complaints", "first_contact_resolution", "ordering")
    pairs = [(CHURN.format(x), CHURN.format(y), 0.8) for i, x in enumerate(tps)
             for y in tps[i + 1:]]
    sc = scenario_from_dict(_with_correlations(d, pairs))
    on = simulate(sc, draws=8000, seed=2)
    off = simulate(sc, draws=8000, seed=2, correlated=False)
    width = {k: r.quantile("npv", 0.9) - r.quantile("npv", 0.1) for k, r in (("on", on),
                                                                            ("off", off))}
    assert width["on"] > 1.05 * width["off"]
    # the means agree (same marginals, an additive-ish model)
    assert on.draws["npv"].mean() == pytest.approx(off.draws["npv"].mean(), rel=0.02)


def _problems(d: dict) -> str:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(d, "bad.yaml")
    return str(info.value)


def test_correlation_matrix_not_psd_names_the_entries() -> None:
    d = yaml.safe_load(PROGRAMME.read_text())
    a, b, c = (CHURN.format(x) for x in ("complaints", "first_contact_resolution", "ordering"))
    text = _problems(_with_correlations(d, [(a, b, 0.9), (a, c, 0.9), (b, c, -0.9)]))
    assert "not positive semi-definite" in text
    for i in range(3):
        assert f"correlations[{i}]" in text
    assert "rho -0.9" in text


def test_correlation_unknown_link_suggests_spelling(lead_dict: dict) -> None:
    a = "touchpoints.complaints.links.churn_gap"
    text = _problems(_with_correlations(lead_dict, [(a, "touchpoints.complaints.links.churn_gp",
                                                     0.5), (a, a, 0.2)]))
    assert "correlations[0].links[1]" in text
    assert "did you mean 'touchpoints.complaints.links.churn_gap'" in text
    assert "cannot be correlated with itself" in text
    lead_dict["correlations"] = [{"links": [a, "links.referrals_per_promoter"], "rho": 1.5}]
    assert "correlations[0].rho" in _problems(lead_dict)


def test_tornado_and_breakeven_agree_on_both_engines(lead_dict: dict,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiled kernel (cxroi.kernel) gives the tornado and the breakeven the numpy
    reference gives; the engine switch is honoured both ways."""
    import importlib

    import cxroi.model as model

    sc = scenario_from_dict(lead_dict)
    monkeypatch.setattr(model, "ENGINE", "numpy")
    monkeypatch.setattr(model, "_KERNEL", importlib.import_module("cxroi.kernel"))
    assert not model.kernel_active()  # numpy forced although the kernel is loaded
    ref_t, ref_b = tornado(sc), breakeven(sc, "complaints")
    monkeypatch.setattr(model, "ENGINE", "auto")
    assert model.kernel_active()
    fast_t, fast_b = tornado(sc), breakeven(sc, "complaints")
    assert list(fast_t["link"]) == list(ref_t["link"])
    for col in ("npv_at_low", "npv_at_high", "swing"):
        np.testing.assert_allclose(fast_t[col], ref_t[col], rtol=1e-12,
                                   atol=1e-12 * ref_t[col].abs().max())
    assert fast_b.target == pytest.approx(ref_b.target, rel=1e-9)
    assert fast_b.npv_at_planned == pytest.approx(ref_b.npv_at_planned, rel=1e-12)


# --- baseline rates measured with sampling error ---------------------------------------

def _monthly(c: float) -> float:
    return 1.0 - (1.0 - c) ** (1.0 / 12.0)


def _annual(h: float) -> float:
    return 1.0 - (1.0 - h) ** 12


def _with_rate_intervals(d: dict, spread: float = 1.3) -> dict:
    """Every segment's churn and expansion with a 95% interval of x/÷ ``spread`` on the
    monthly rate; the complaints' contacts per event likewise."""
    for seg in d["segments"]:
        for rate in ("churn", "expansion_rate"):
            h = _monthly(seg[rate])
            seg[f"{rate}_low"], seg[f"{rate}_high"] = _annual(h / spread), _annual(h * spread)
        vol = seg["volumes"]["complaints"]
        k = vol["contacts_per_event"]
        vol["contacts_per_event_low"], vol["contacts_per_event_high"] = k / spread, k * spread
    return d


def test_rate_intervals_keep_every_link_draw(lead_dict: dict) -> None:
    """The rates' factors are drawn after every link: a scenario gains them without any
    other draw changing, and one without intervals draws nothing new."""
    plain = sample_params(scenario_from_dict(lead_dict), 500, np.random.default_rng(7))
    assert not {"churn_scale", "expansion_scale", "contacts_scale",
                "contacts_floor_weight"} & set(plain)
    drawn = sample_params(scenario_from_dict(_with_rate_intervals(lead_dict)), 500,
                          np.random.default_rng(7))
    assert set(drawn) - set(plain) == {"churn_scale", "expansion_scale", "contacts_scale"}
    for key, value in plain.items():
        np.testing.assert_array_equal(drawn[key], value, err_msg=key)
    assert drawn["churn_scale"].shape == (500, 3)
    assert drawn["contacts_scale"].shape == (500, 3, 1)


def test_rate_factors_reproduce_the_interval(lead_dict: dict) -> None:
    """The drawn monthly rate h f has the interval the scenario states: its 2.5% and 97.5%
    quantiles are r(low) and r(high), its median the stated rate (a known truth)."""
    sc = scenario_from_dict(_with_rate_intervals(lead_dict))
    f = sample_rates(sc, 200_000, np.random.default_rng(8))
    for s, seg in enumerate(sc.segments):
        for rate, key in (("churn", "churn_scale"), ("expansion_rate", "expansion_scale")):
            x = _monthly(getattr(seg, rate)) * f[key][:, s]
            lo, mid, hi = np.quantile(x, [0.025, 0.5, 0.975])
            assert lo == pytest.approx(_monthly(getattr(seg, f"{rate}_low")), rel=0.01)
            assert mid == pytest.approx(_monthly(getattr(seg, rate)), rel=0.01)
            assert hi == pytest.approx(_monthly(getattr(seg, f"{rate}_high")), rel=0.01)
        vol = seg.volumes["complaints"]
        lo, hi = np.quantile(vol.contacts_per_event * f["contacts_scale"][:, s, 0], [0.025, 0.975])
        assert lo == pytest.approx(vol.contacts_per_event_low, rel=0.01)
        assert hi == pytest.approx(vol.contacts_per_event_high, rel=0.01)


def test_contacts_floor_weight_is_uniform_where_contacts_are_measured(lead_dict: dict) -> None:
    lead_dict["touchpoints"]["complaints"]["links"]["contacts_ratio"] = {
        "value": 1.2, "low": 1.1, "high": 1.3, "provenance": "calibrated", "source": "test fit"}
    w = sample_params(scenario_from_dict(lead_dict), 20_000,
                      np.random.default_rng(9))["contacts_floor_weight"]
    assert w.min() >= 0.0 and w.max() <= 1.0
    np.testing.assert_allclose(np.quantile(w, [0.1, 0.5, 0.9]), [0.1, 0.5, 0.9], atol=0.01)


def test_measured_rates_widen_the_money_not_the_likely_case(lead_dict: dict) -> None:
    """Sampling error of the baseline rates adds to the spread of the money lines that rest
    on them -- the measured direct effects, which scale the rates (the emotion chain's gaps
    are absolute: they do not); the likely case (every rate as stated) does not move."""
    links = lead_dict["touchpoints"]["complaints"]["links"]
    for name, value in (("churn_hazard_ratio", 1.3), ("expansion_rate_ratio", 0.85),
                        ("contacts_ratio", 1.2)):
        links[name] = {"value": value, "low": value * 0.97, "high": value * 1.03,
                       "provenance": "calibrated", "source": "test fit"}
    plain = simulate(scenario_from_dict(lead_dict), draws=3000, seed=3)
    wide = simulate(scenario_from_dict(_with_rate_intervals(lead_dict, spread=2.0)),
                    draws=3000, seed=3)
    for line in ("retention_savings", "cross_sell", "cost_to_serve_savings"):
        assert wide.likely[line] == plain.likely[line], line
        width = {name: r.quantile(line, 0.9) - r.quantile(line, 0.1)
                 for name, r in (("plain", plain), ("wide", wide))}
        assert width["wide"] > 1.05 * width["plain"], line

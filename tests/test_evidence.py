"""Direct (measured total-effect) links, evidence levels, extrapolation and caveats."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from cxroi.errors import ScenarioError
from cxroi.evidence import evidence_of, link_kind
from cxroi.model import evaluate
from cxroi.pitch import pitch
from cxroi.scenario import load_scenario, scenario_from_dict, scenario_to_yaml
from cxroi.uncertainty import sample_link, sampling_range, simulate

LEAD = Path(__file__).resolve().parents[1] / "data" / "scenarios" / "complaints-30-to-1.yaml"


def _cal(value: float, low: float, high: float, n: int = 5000, **extra) -> dict:
    return {"value": value, "low": low, "high": high, "provenance": "calibrated",
            "source": "calibrated: test data", "n": n, **extra}


def _with_direct(d: dict, **links: dict) -> dict:
    d["touchpoints"]["complaints"]["links"].update(links)
    return d


def test_hand_checked_hazard_ratio(tiny):
    """HR 2 per doubling, lever 4 -> 2 days at once: the effect builds up over the 12-month
    trailing mean of the shift (-t/12 doublings in month t), so for the exposed share
    pi = 1 - e^-12 the hazard is h (1 + pi (2^(-t/12) - 1)); retention savings follow from
    the two survival curves (discount 0, 12 months, no expansion effect)."""
    d = _with_direct(tiny, churn_hazard_ratio=_cal(2.0, 2.0, 2.0),
                     expansion_rate_ratio=_cal(1.0, 1.0, 1.0))
    sc = scenario_from_dict(d)
    out = evaluate(sc)
    h = 0.02
    pi = 1 - math.exp(-12)
    t = np.arange(1, 13)
    h_i = h * (1 + pi * (2.0 ** (-t / 12) - 1))
    grow = (1 + 0.01 * 0.5) ** t
    kept = 1000 * (np.cumprod(1 - h_i) - (1 - h) ** t)
    expected = float((0.5 * kept * 12000 * grow / 12).sum())
    assert out["retention_savings"] == pytest.approx(expected, rel=1e-9)
    assert out["cross_sell"] == pytest.approx(0.0, abs=1e-6)


def test_trailing_mean_builds_up_over_the_window():
    from cxroi.model import trailing_mean

    s = np.array([[0.0, -1, -2, -3, -3, -3, -3]])
    np.testing.assert_allclose(trailing_mean(s, 3), [[0, -1 / 3, -1, -2, -8 / 3, -3, -3]])


def test_no_effect_measured_gives_no_money_whatever_the_chain_says(tiny):
    ratio = _cal(1.0, 1.0, 1.0)
    d = _with_direct(tiny, churn_hazard_ratio=ratio, expansion_rate_ratio=ratio,
                     contacts_ratio=ratio)
    d["touchpoints"]["complaints"]["links"]["churn_gap"] = _cal(0.5, 0.4, 0.6)
    out = evaluate(scenario_from_dict(d))
    for line in ("retention_savings", "cross_sell", "cost_to_serve_savings"):
        assert out[line] == pytest.approx(0.0, abs=1e-6), line
    # NPS still comes from the emotion chain
    assert out["nps_change"] > 0


def test_direct_link_replaces_the_gap_nothing_counted_twice(tiny):
    d = _with_direct(tiny, churn_hazard_ratio=_cal(1.3, 1.2, 1.4))
    a = evaluate(scenario_from_dict(d))["retention_savings"]
    d["touchpoints"]["complaints"]["links"]["churn_gap"] = _cal(0.3, 0.2, 0.4)
    b = evaluate(scenario_from_dict(d))["retention_savings"]
    assert a == pytest.approx(b, rel=1e-12)


@pytest.mark.parametrize("hrs", [(1.1, 1.3, 1.6, 2.5)])
def test_stronger_measured_effect_never_lowers_retention(tiny, hrs):
    vals = []
    for hr in hrs:
        d = _with_direct(dict(tiny), churn_hazard_ratio=_cal(hr, hr, hr))
        vals.append(evaluate(scenario_from_dict(d))["retention_savings"])
    assert all(b > a for a, b in zip(vals, vals[1:], strict=False))


def test_measured_contacts_ratio_saves_contacts_at_todays_volume(tiny):
    d = _with_direct(tiny, contacts_ratio=_cal(1.5, 1.5, 1.5))
    out = evaluate(scenario_from_dict(d))
    # 12 events a year, 2 contacts each at $10: halving the time cuts contacts by 1/3
    assert out["cost_to_serve_savings"] > 0
    d["touchpoints"]["complaints"]["links"]["contacts_ratio"] = _cal(1.0, 1.0, 1.0)
    d["touchpoints"]["complaints"]["links"]["repeat_contacts"] = _cal(0.0, 0.0, 0.0)
    assert evaluate(scenario_from_dict(d))["cost_to_serve_savings"] == pytest.approx(0.0, abs=1e-9)


def test_monte_carlo_interval_of_a_null_effect_contains_zero(lead_dict):
    ratio = _cal(1.0, 0.96, 1.04)
    _with_direct(lead_dict, churn_hazard_ratio=ratio, expansion_rate_ratio=ratio,
                 contacts_ratio=ratio)
    res = simulate(scenario_from_dict(lead_dict), draws=2000, seed=3)
    for line in ("retention_savings", "cross_sell"):
        assert res.quantile(line, 0.1) < 0 < res.quantile(line, 0.9), line
    assert res.prob_loss > 0.10


def test_evidence_levels_follow_the_links():
    sc = load_scenario(LEAD)
    ev = evidence_of(sc)
    assert ev.level == "benchmark"
    assert "not yet measured" in ev.phrase
    d = sc.model_dump(mode="json")
    for name in ("churn_hazard_ratio", "expansion_rate_ratio", "contacts_ratio"):
        d["touchpoints"]["complaints"]["links"][name] = _cal(1.3, 1.2, 1.4, n=4812)
    measured = scenario_from_dict(d)
    ev = evidence_of(measured)
    assert ev.level == "measured" and ev.n == 4812
    assert ev.lines["retention_savings"].level == "measured"
    assert ev.lines["nps"].level != "measured"  # NPS still rests on the chain's benchmarks
    assert "n=4,812 accounts" in ev.phrase
    # a prior that carried most of the precision is not "measured"
    d["touchpoints"]["complaints"]["links"]["churn_hazard_ratio"]["prior_weight"] = 0.8
    ev = evidence_of(scenario_from_dict(d))
    assert ev.lines["retention_savings"].level == "benchmark"
    assert ev.level in {"mixed", "benchmark"}


def test_link_kind():
    sc = load_scenario(LEAD)
    kinds = {link_kind(ln) for ln in sc.link_paths().values()}
    assert kinds <= {"benchmark", "assumption"}


def test_pitch_says_what_the_money_rests_on():
    sc = load_scenario(LEAD)
    text = pitch(simulate(sc, draws=500, seed=1))
    # its lines rest on benchmarks and two stated assumptions: both named
    assert "published benchmarks and stated assumptions, not yet measured in your data" in text
    assert "if those ranges hold" in text
    d = sc.model_dump(mode="json")
    for name in ("churn_hazard_ratio", "expansion_rate_ratio", "contacts_ratio"):
        d["touchpoints"]["complaints"]["links"][name] = _cal(1.3, 1.2, 1.4, n=4812)
    d["touchpoints"]["complaints"]["observed"] = {"low": 2.0, "high": 45.0, "n": 4812}
    text = pitch(simulate(scenario_from_dict(d), draws=500, seed=1))
    assert "measured in your data (n=4,812 accounts)" in text
    assert "if those ranges hold" not in text
    assert "outside the range seen in your data" in text


def test_extrapolation_names_the_lever():
    d = load_scenario(LEAD).model_dump(mode="json")
    d["touchpoints"]["complaints"]["observed"] = {"low": 2.0, "high": 45.0, "n": 100}
    ev = evidence_of(scenario_from_dict(d))
    assert len(ev.extrapolation) == 1
    assert "1 day" in ev.extrapolation[0] and "2 days–45 days" in ev.extrapolation[0]


def test_caveats_round_trip_and_are_grouped():
    d = load_scenario(LEAD).model_dump(mode="json")
    d["caveats"] = [{"about": "retention_savings", "text": "only 3 accounts left"},
                    {"about": "churn_hazard_ratio", "text": "not estimated"}]
    sc = scenario_from_dict(d)
    assert scenario_from_dict(__import__("yaml").safe_load(scenario_to_yaml(sc))) == sc
    assert evidence_of(sc).caveats_for("retention_savings") == ("only 3 accounts left",)
    d["caveats"] = [{"about": "retension_savings", "text": "typo"}]
    with pytest.raises(ScenarioError, match="did you mean 'retention_savings'"):
        scenario_from_dict(d)


def test_yaml_leaves_unset_optional_keys_out():
    text = scenario_to_yaml(load_scenario(LEAD))
    assert "null" not in text and "churn_hazard_ratio" not in text


def test_far_benchmarks_are_sampled_wider_than_their_range():
    sc = load_scenario(LEAD)
    link = sc.touchpoints["complaints"].links.odds_ratio  # TARP: consumer, decades old
    low, likely, high = sampling_range("odds_ratio", link)
    assert low < link.low and high > link.high and likely == link.value
    assert math.log(likely / low) == pytest.approx(2 * math.log(link.value / link.low))
    x = sample_link("odds_ratio", link, 20000, np.random.default_rng(0))
    assert (x < link.low).mean() > 0.05
    # assumptions keep their range
    a = sc.touchpoints["complaints"].links.repeat_contacts
    assert sampling_range("repeat_contacts", a) == (a.low, a.value, a.high)


TEI = Path(__file__).resolve().parents[1] / "data" / "scenarios" / "tei-salesloft.yaml"


def test_cash_flow_benefits_are_graded_by_their_own_provenance():
    """A TEI-style case carries all its value in cash-flow lines: the evidence names them,
    graded by the lines' own provenance, not the (zero) retention and cross-sell lines."""
    sc = load_scenario(TEI)
    ev = evidence_of(sc)
    assert ev.material == ("other_benefits",)
    assert ev.lines["other_benefits"].links == ("cash_flows.salesloft_benefits",)
    assert ev.lines["other_benefits"].level == "benchmark" == ev.level
    d = sc.model_dump(mode="json")
    d["cash_flows"]["salesloft_benefits"]["provenance"] = "assumption"
    ev = evidence_of(scenario_from_dict(d))
    assert ev.lines["other_benefits"].level == "assumption" == ev.level
    assert ev.phrase == "resting on stated assumptions, not yet measured in your data"
    # a case without cash-flow lines has no such line
    assert "other_benefits" not in evidence_of(load_scenario(LEAD)).lines


def test_an_assumption_behind_a_benchmark_line_is_named():
    """The lead case's lines rest on published benchmarks *and* stated assumptions (30% of
    complaints end well today, one extra contact after a bad one): the sentence and the
    badges say both, never "benchmarks" alone. The level stays ``benchmark`` (nothing is
    measured here); a case resting on benchmarks only keeps the plain wording."""
    sc = load_scenario(LEAD)
    ev = evidence_of(sc)
    assert ev.level == "benchmark" and ev.assumed
    assert ev.phrase == ("resting on published benchmarks and stated assumptions, not yet "
                         "measured in your data")
    ctc = ev.lines["cost_to_serve_savings"]  # share today, repeat contacts: assumptions
    assert ctc.level == "benchmark" and ctc.assumed
    assert ctc.short == "benchmarks + assumptions" and "stated assumptions" in ctc.phrase
    assert "and stated assumptions" in pitch(simulate(sc, draws=300, seed=1))
    d = sc.model_dump(mode="json")
    for link in d["touchpoints"]["complaints"]["links"].values():
        if link and link["provenance"] == "assumption":
            link.update(provenance="benchmark", source="tarp-complaint-loyalty")
    ev = evidence_of(scenario_from_dict(d))
    assert ev.level == "benchmark" and not ev.assumed
    assert ev.phrase == "resting on published benchmarks, not yet measured in your data"
    assert ev.lines["cost_to_serve_savings"].short == "benchmarks"


def test_a_sample_size_says_what_it_counts():
    """Calibration writes what n counts ("5,232 complaints", "370 complaint survey
    answers", "126,414 account-months"): the evidence phrase and the sources table say the
    same, never "5,232 accounts"."""
    from cxroi.provenance import link_rows

    d = load_scenario(LEAD).model_dump(mode="json")
    d["touchpoints"]["complaints"]["links"]["contacts_ratio"] = _cal(
        0.9, 0.8, 1.0, n=5232,
        source="calibrated: 5,232 complaints, Poisson contacts ratio per doubling (demo, x)")
    d["touchpoints"]["complaints"]["links"]["churn_hazard_ratio"] = _cal(
        1.3, 1.2, 1.4, n=126414, prior_weight=0.2, prior_source="knox-van-oest-2014",
        source="calibrated: 126,414 account-months + benchmark prior (knox-van-oest-2014), x")
    sc = scenario_from_dict(d)
    ev = evidence_of(sc)
    assert ev.lines["cost_to_serve_savings"].phrase == \
        "measured in your data (n=5,232 complaints)"
    assert "(n=126,414 account-months)" in ev.lines["retention_savings"].phrase
    rows = {r.name: r for r in link_rows(sc)}
    assert rows["contacts_ratio"].kind_detail == "calibrated: 5,232 complaints"
    assert rows["churn_hazard_ratio"].kind_detail.startswith(
        "calibrated: 126,414 account-months + benchmark prior")
    # a source that does not say what n counts keeps "accounts"
    d["touchpoints"]["complaints"]["links"]["contacts_ratio"] = _cal(0.9, 0.8, 1.0, n=4812)
    ev = evidence_of(scenario_from_dict(d))
    assert ev.lines["cost_to_serve_savings"].phrase.endswith("(n=4,812 accounts)")

"""The exposure window of a measured direct effect: the model applies the ratio to the
window's trailing mean of the lever shift and to the exposed share (``docs/model.md`` 3b)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from cxroi.errors import ScenarioError
from cxroi.inputs import compile_inputs, likely_params
from cxroi.model import evaluate, run_flywheel_numpy
from cxroi.scenario import scenario_from_dict
from cxroi.uncertainty import sample_params


def _hr(value: float = 1.5, **extra: object) -> dict:
    return {"value": value, "low": value, "high": value, "provenance": "calibrated",
            "source": "test fit", **extra}


def _with_hr(tiny: dict, **extra: object) -> dict:
    d = copy.deepcopy(tiny)
    d["touchpoints"]["complaints"]["links"]["churn_hazard_ratio"] = _hr(**extra)
    return d


def _retention_by_hand(hazard_initiative: np.ndarray) -> np.ndarray:
    """Tiny case: 1000 accounts, $12,000 ARPA, margin 0.5, baseline hazard 0.02 a month and
    expansion 1% a month at half ARPA (revenue per account x 1.005 a month in both arms)."""
    t = np.arange(1, len(hazard_initiative) + 1)
    kept = np.cumprod(1.0 - hazard_initiative) - 0.98 ** t
    return 0.5 * 1000 * kept * 12000 / 12 * 1.005 ** t


def test_window_one_with_exposed_share_by_hand(tiny: dict) -> None:
    """Lever halved at once (shift -1 doubling), HR 1.5 on a 1-month window, 30% of leaving
    in exposed months: h_I = 0.02 (1 + 0.3 (1.5^-1 - 1)) = 0.018 from month 1."""
    sc = scenario_from_dict(_with_hr(tiny, window_months=1, exposed_share={"All": 0.3}))
    out = evaluate(sc, monthly=True)
    assert 0.02 * (1 + 0.3 * (1.5 ** -1 - 1)) == pytest.approx(0.018, rel=1e-12)
    by_hand = _retention_by_hand(np.full(12, 0.018))
    assert out["retention_savings_monthly"][0] == pytest.approx(1005.0, rel=1e-12)  # 500 x 2 x 1.005
    np.testing.assert_allclose(out["retention_savings_monthly"], by_hand, rtol=1e-12)
    assert out["retention_savings"] == pytest.approx(by_hand.sum(), rel=1e-12)


def test_window_three_builds_up_over_three_months(tiny: dict) -> None:
    """The trailing 3-month mean of the shift is -1/3, -2/3, -1, -1, ...; without a measured
    share the ratio applies to the accounts with an event in 3 months, 1 - exp(-12 x 3/12)."""
    sc = scenario_from_dict(_with_hr(tiny, window_months=3))
    out = evaluate(sc, monthly=True)
    pi = 1 - math.exp(-3.0)
    trailing = np.array([-1 / 3, -2 / 3] + [-1.0] * 10)
    by_hand = _retention_by_hand(0.02 * (1 + pi * (1.5 ** trailing - 1)))
    np.testing.assert_allclose(out["retention_savings_monthly"], by_hand, rtol=1e-12)


def test_default_window_is_twelve_months(tiny: dict) -> None:
    """No window: the 12-month build-up on the share of accounts with an event a year."""
    out = evaluate(scenario_from_dict(_with_hr(tiny)), monthly=True)
    pi = 1 - math.exp(-12.0)
    trailing = -np.arange(1, 13) / 12
    by_hand = _retention_by_hand(0.02 * (1 + pi * (1.5 ** trailing - 1)))
    np.testing.assert_allclose(out["retention_savings_monthly"], by_hand, rtol=1e-12)


def test_window_twelve_stated_gives_the_same_numbers_exactly(lead_dict: dict) -> None:
    d = copy.deepcopy(lead_dict)
    links = d["touchpoints"]["complaints"]["links"]
    links["churn_hazard_ratio"] = _hr(1.3) | {"low": 1.2, "high": 1.4}
    links["expansion_rate_ratio"] = _hr(0.9) | {"low": 0.85, "high": 0.95}
    plain = scenario_from_dict(d)
    for name in ("churn_hazard_ratio", "expansion_rate_ratio"):
        links[name]["window_months"] = 12
    stated = scenario_from_dict(d)
    a, b = compile_inputs(plain), compile_inputs(stated)
    assert b.direct_trailing is None  # a 12-month window compiles as before
    params = sample_params(plain, 300, np.random.default_rng(5))
    ra, rb = run_flywheel_numpy(a, params, monthly=True), run_flywheel_numpy(b, params, monthly=True)
    for key in ra:
        np.testing.assert_array_equal(ra[key], rb[key], err_msg=key)


def test_exposed_share_scales_the_effect(tiny: dict) -> None:
    """More of the leaving in exposed months: more retention savings; none: no saving."""
    money = [evaluate(scenario_from_dict(_with_hr(tiny, window_months=1, exposed_share={"All": q})))
             ["retention_savings"] for q in (0.0, 0.2, 0.6)]
    assert money[0] == 0.0
    assert 0 < money[1] < money[2]


def test_windows_per_link_and_touchpoint_compile(lead_dict: dict) -> None:
    """Leaving on a 1-month window, buying more on 12: each link gets its own trailing mean."""
    d = copy.deepcopy(lead_dict)
    links = d["touchpoints"]["complaints"]["links"]
    seg = d["segments"][0]["name"]
    links["churn_hazard_ratio"] = _hr(1.3, window_months=1, exposed_share={seg: 0.25})
    links["expansion_rate_ratio"] = _hr(0.9)
    sc = scenario_from_dict(d)
    inp = compile_inputs(sc)
    k = list(sc.touchpoints).index("complaints")
    hr = inp.trailing("churn_hazard_ratio")[k, inp.month_index]
    np.testing.assert_array_equal(hr, inp.shift[k])  # 1-month window: the shift itself
    rr = inp.trailing("expansion_rate_ratio")[k, inp.month_index]
    np.testing.assert_allclose(rr[:12], np.cumsum(inp.shift[k][:12]) / 12, rtol=1e-12)
    assert inp.share("churn_hazard_ratio")[0, k] == 0.25
    assert inp.share("expansion_rate_ratio")[0, k] == pytest.approx(1 - math.exp(-inp.events[0, k]), rel=1e-15)


@pytest.mark.parametrize("window", [1, 3, 24])
def test_kernel_equals_numpy_with_a_window(lead_dict: dict, window: int) -> None:
    from test_model import assert_same_results

    kernel = pytest.importorskip("cxroi.kernel")
    d = copy.deepcopy(lead_dict)
    links = d["touchpoints"]["complaints"]["links"]
    names = [s["name"] for s in d["segments"]]
    links["churn_hazard_ratio"] = _hr(1.3, window_months=window,
                                      exposed_share={n: 0.1 + 0.2 * i for i, n in enumerate(names)}) | {
        "low": 1.1, "high": 1.5}
    links["expansion_rate_ratio"] = _hr(0.85, window_months=max(1, window // 3)) | {"low": 0.7, "high": 0.95}
    sc = scenario_from_dict(d)
    inp = compile_inputs(sc)
    params = sample_params(sc, 300, np.random.default_rng(window))
    assert_same_results(kernel.flywheel(inp, params, monthly=True, detail=True),
                        run_flywheel_numpy(inp, params, monthly=True, detail=True))
    likely = likely_params(sc)
    assert_same_results(kernel.flywheel(inp, likely), run_flywheel_numpy(inp, likely))


# --- validated at the door ---------------------------------------------------------------

def test_window_on_a_link_without_one_is_refused(tiny: dict) -> None:
    d = copy.deepcopy(tiny)
    d["touchpoints"]["complaints"]["links"]["odds_ratio"]["window_months"] = 1
    with pytest.raises(ScenarioError, match=r"odds_ratio\.window_months: window_months applies only to the "
                                            r"direct links of leaving and buying more.*Fix: remove it"):
        scenario_from_dict(d)


def test_exposed_share_of_an_unknown_segment_is_refused(tiny: dict) -> None:
    with pytest.raises(ScenarioError, match=r"churn_hazard_ratio\.exposed_share\.Al: unknown segment 'Al'.*"
                                            r"Fix: did you mean 'All'\?"):
        scenario_from_dict(_with_hr(tiny, window_months=1, exposed_share={"Al": 0.3}))


@pytest.mark.parametrize(("extra", "message"), [
    ({"window_months": 0}, r"window_months: .*Fix: give the exposure window in whole months from 1 to 36"),
    ({"window_months": 1.5}, r"window_months: .*Fix: give the exposure window in whole months"),
    ({"exposed_share": {"All": 1.4}}, r"exposed_share\.All: .*Fix: give per segment the share \(0 to 1\)"),
])
def test_bad_window_fields_are_refused(tiny: dict, extra: dict, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        scenario_from_dict(_with_hr(tiny, **extra))

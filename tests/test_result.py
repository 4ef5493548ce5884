"""SimulationResult's summary statistics: the fast path (several quantiles in one partition)
gives exactly the numbers of the one-at-a-time definition."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cxroi.pitch import headline
from cxroi.scenario import load_scenario
from cxroi.uncertainty import OUTPUTS, QUANTILES, simulate

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "data" / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_quantiles_at_once_equal_quantile_one_by_one(path: Path) -> None:
    res = simulate(load_scenario(path), draws=800)
    for key in OUTPUTS:
        x = res.ranked(key)
        one = []
        for q in QUANTILES:  # the definition: inverted CDF where draws never pay back
            if np.isinf(x).any():
                one.append(float(np.nanquantile(x, q, method="inverted_cdf")))
            else:
                one.append(float(np.nanquantile(x, q)) if np.isfinite(x).any() else np.nan)
        assert res.quantiles(key) == pytest.approx(one, rel=0, abs=0, nan_ok=True)
        assert list(res.summary.loc[key, ["p10", "p50", "p90"]]) == pytest.approx(
            one, rel=0, abs=0, nan_ok=True)
    share = res.summary.loc["payback_month", "share_defined"]
    assert headline(res)["share_paying_back"] == share


def test_an_irr_not_computed_is_said_not_ranked_as_no_irr() -> None:
    """``simulate(irr=False)`` (the app) leaves the IRR draws NaN: reading its quantiles
    raises instead of ranking NaN as "no IRR exists" (+-inf), its summary row is NaN, and
    every other number is that of the full run."""
    sc = load_scenario(SCENARIOS[0].parent / "complaints-30-to-1.yaml")
    full = simulate(sc, draws=600, seed=3)
    fast = simulate(sc, draws=600, seed=3, irr=False)
    assert full.irr_computed and not fast.irr_computed
    assert all(np.isfinite(full.quantiles("irr")))
    with pytest.raises(ValueError, match=r"irr: the IRR was not computed .*irr=True"):
        fast.quantiles("irr")
    with pytest.raises(ValueError, match="not computed"):
        fast.quantile("irr", 0.5)
    assert np.isnan(fast.share_defined("irr"))
    assert fast.summary.loc["irr", ["p10", "p50", "p90", "mean", "share_defined"]].isna().all()
    others = [k for k in OUTPUTS if k != "irr"]
    assert fast.summary.loc[others].equals(full.summary.loc[others])

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

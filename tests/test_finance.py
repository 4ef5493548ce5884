"""Money arithmetic against published figures (Forrester TEI, Gupta & Lehmann)."""

from __future__ import annotations

import numpy as np
import pytest

from cxroi import finance


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
    rates = 1.0 / np.geomspace(1.0 / 11.0, 10.0, finance.GRID) - 1.0  # its bracket grid
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

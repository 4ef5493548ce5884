"""Money arithmetic on cash-flow arrays: NPV, ROI, payback, IRR.

Pure numpy, vectorised over a leading ``draw`` axis: every function takes cash flows of
shape ``(..., T + 1)`` where index 0 is the start (month or year 0, not discounted) and
returns one value per leading index.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]


def discount_factors(periods: int, annual_rate: float, per_year: int = 12) -> Array:
    r"""Discount factor for periods 0..``periods``.

    .. math:: DF_t = (1 + i)^{-t / n}

    with annual rate :math:`i` and :math:`n` periods per year. Period 0 is not discounted
    (Forrester TEI: the initial investment is paid today).
    """
    t = np.arange(periods + 1, dtype=float)
    return (1.0 + annual_rate) ** (-t / per_year)


def npv(cash: ArrayLike, annual_rate: float, *, per_year: int) -> Array:
    r"""Net present value :math:`\sum_t DF_t \, c_t` over the last axis.

    ``per_year`` (periods per year: 12 for monthly flows, 1 for yearly) has no default: a
    yearly TEI table discounted as months would be silently wrong by years.
    """
    if not isinstance(per_year, int | np.integer) or per_year < 1:
        raise ValueError(f"per_year must be a whole number of periods per year >= 1 "
                         f"(12 for months, 1 for years), got {per_year!r}")
    c = np.asarray(cash, dtype=float)
    return c @ discount_factors(c.shape[-1] - 1, annual_rate, per_year)


def roi(pv_benefits: ArrayLike, pv_costs: ArrayLike) -> Array:
    r"""Return on investment as Forrester defines it.

    .. math:: ROI = \frac{PV_{benefits} - PV_{costs}}{PV_{costs}}

    NaN where there is no cost.
    """
    b, c = np.asarray(pv_benefits, float), np.asarray(pv_costs, float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.where(c > 0, (b - c) / np.where(c > 0, c, 1.0), np.nan)


def payback_period(cash: ArrayLike) -> Array:
    """First period at which cumulative (undiscounted) net cash turns non-negative and stays
    so for the rest of the horizon; NaN if it never does within the horizon.

    A programme with no up-front cost and positive flows pays back in period 0.
    """
    c = np.asarray(cash, dtype=float)
    cum = np.cumsum(c, axis=-1)
    neg = cum < -1e-9
    # last period with a negative cumulative position; payback is the one after it
    any_neg = neg.any(axis=-1)
    last_neg = c.shape[-1] - 1 - np.argmax(neg[..., ::-1], axis=-1)
    out = np.where(any_neg, last_neg + 1, 0).astype(float)
    return np.where(out > c.shape[-1] - 1, np.nan, out)


#: Points of the rate grid that brackets each IRR (the matrix product over it is most of
#: the cost; Newton steps from a coarse bracket are cheap).
GRID = 48
#: The grid of discount factors :math:`x = 1/(1+r)` the root is bracketed on (-90% to
#: +1000% per period).
IRR_GRID = np.geomspace(1.0 / 11.0, 10.0, GRID)


def irr(cash: ArrayLike, per_year: int = 12, tol: float = 1e-10, max_iter: int = 100) -> Array:
    r"""Annual internal rate of return of periodic cash flows, vectorised over draws.

    Solves :math:`f(x) = \sum_t c_t x^t = 0` for the discount factor
    :math:`x = 1 / (1 + r)`. A matrix product brackets the root on a grid of :data:`GRID` rates
    (-90% to +1000% per period); then a safeguarded Newton iteration (Horner's rule for
    :math:`f` and :math:`f'`, inside a bracket that shrinks every step; when a step would
    leave it, a Newton step from the bracket's other end, else bisection) runs until every
    draw has converged to ``tol``. The periodic rate is
    annualised, :math:`(1 + r)^n - 1`. Where flows change sign once (cost first, benefits
    later) the root is unique (Descartes' rule); otherwise the highest-rate root is taken.
    NaN where the flows have no root in the bracket (no cost, or never pays back).
    """
    c = np.atleast_2d(np.asarray(cash, dtype=float))
    lead = np.asarray(cash).shape[:-1]
    t = np.arange(c.shape[-1], dtype=float)
    xs = IRR_GRID
    f_grid = c @ (xs[None, :] ** t[:, None])  # (D, G)
    neg = f_grid < 0
    change = (neg[:, :-1] != neg[:, 1:]) & (f_grid[:, :-1] != 0) & (f_grid[:, 1:] != 0)
    ok = change.any(axis=1)
    g = np.argmax(change, axis=1)
    rows = np.arange(c.shape[0])
    lo, hi = xs[g], xs[g + 1]
    f_lo, f_hi = f_grid[rows, g], f_grid[rows, g + 1]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        slope = (f_hi - f_lo) / (hi - lo)  # stands in for f' at the grid ends
        fp_lo, fp_hi = slope.copy(), slope.copy()
        x = np.where(ok, lo - f_lo / slope, 1.0)
        cols = np.ascontiguousarray(c.T[::-1])
        idx = np.flatnonzero(ok)  # draws still iterating
        sub = cols[:, idx]
        for _ in range(max_iter):
            if idx.size == 0:
                break
            xa = x[idx]
            f = np.zeros_like(xa)
            fp = np.zeros_like(xa)
            for ct in sub:
                fp = fp * xa + f
                f = f * xa + ct
            # xa replaces the bracket end whose f has its sign
            same = np.sign(f) == np.sign(f_lo[idx])
            lo_a, hi_a = np.where(same, xa, lo[idx]), np.where(same, hi[idx], xa)
            flo, fhi = np.where(same, f, f_lo[idx]), np.where(same, f_hi[idx], f)
            fplo, fphi = np.where(same, fp, fp_lo[idx]), np.where(same, fp_hi[idx], fp)
            lo[idx], hi[idx], f_lo[idx], f_hi[idx] = lo_a, hi_a, flo, fhi
            fp_lo[idx], fp_hi[idx] = fplo, fphi
            a, b = np.minimum(lo_a, hi_a), np.maximum(lo_a, hi_a)
            step = xa - f / fp
            # Newton from xa; if it leaves the bracket (it overshoots on the far side of a
            # convex f), Newton from the other end, which then converges from its side;
            # bisection only if both leave it
            o, fo, fpo = np.where(same, hi_a, lo_a), np.where(same, fhi, flo), np.where(
                same, fphi, fplo)
            other = o - fo / fpo
            ok_step = (step > a) & (step < b)
            ok_other = (other > a) & (other < b)
            # the other end may already be the root (its Newton step is below tolerance)
            at_other = np.abs(fo / fpo) <= tol * np.abs(o)
            new = np.where(ok_step, step, np.where(ok_other, other, 0.5 * (a + b)))
            new = np.where(f == 0, xa, np.where(at_other & ~ok_step, o, new))
            x[idx] = new
            going = ~((np.abs(new - xa) <= tol * np.abs(xa)) & ok_step | (f == 0)
                      | (at_other & ~ok_step) | (b - a <= tol * np.abs(xa)))
            if not going.all():
                idx, sub = idx[going], sub[:, going]
        annual = (1.0 / x) ** per_year - 1.0
    return np.where(ok, annual, np.nan).reshape(lead)


def clv(annual_margin: ArrayLike, retention: ArrayLike, discount_rate: float,
        growth: ArrayLike = 0.0) -> Array:
    r"""Customer lifetime value with constant retention (Gupta & Lehmann), plus growth.

    .. math:: CLV = \frac{m \, r}{1 + i - r (1 + g)}

    with annual margin :math:`m`, annual retention :math:`r`, discount rate :math:`i` and
    annual growth of a surviving account's margin :math:`g` (expansion). With
    :math:`g = 0`, :math:`r = 0.8`, :math:`i = 0.1` this is :math:`2.67 m`. The
    denominator is floored at 0.01 so fast-growing, sticky accounts stay finite (100 years
    of margin at most).
    """
    m, r, g = (np.asarray(x, float) for x in (annual_margin, retention, growth))
    return m * r / np.maximum(1.0 + discount_rate - r * (1.0 + g), 0.01)

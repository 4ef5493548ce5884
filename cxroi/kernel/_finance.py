"""The IRR of a block of draws, compiled (numba, cached on disk): the grid bracket and the
safeguarded Newton iteration of :func:`cxroi.finance.irr`. Called by
:func:`cxroi.kernel.flywheel`; see ``docs/model.md`` ("Speed")."""

from __future__ import annotations

import numba
import numpy as np

from cxroi.kernel._loops import _JIT

#: Grid points (of :data:`cxroi.finance.GRID`) the IRR's bracketing tries to start from,
#: highest first (see :func:`_irr`).
_SKIP_TO = (20, 14, 8)


@numba.njit(**_JIT)
def _irr(cash, xs, per_year, tol, max_iter, block, out):  # pragma: no cover
    r""":func:`cxroi.finance.irr`, a block of draws at a time. The root is bracketed on the
    same grid of rates: the first sign change of :math:`f(x) = \sum_t c_t x^t`,
    ``x = 1 / (1 + r)``, walking up the grid from the highest point below which ``f``
    provably keeps the sign of :math:`c_0` for the whole block (:data:`_SKIP_TO`) until
    every draw of the block has its bracket (the grid values by Horner's rule over the
    block's draws: the reference's product ``cash @ x**t`` in another order of summation).
    Then each draw still iterating takes its own safeguarded Newton step, exactly as there
    (Horner's rule for f and f' over the block's draws together; the step's choices as
    selects, so that loop vectorises too). ``cash`` is draw-last, (T, D)."""
    n_t, n_draw = cash.shape
    n_g = xs.shape[0]
    b = block
    x = np.empty(b)
    lo = np.empty(b)
    hi = np.empty(b)
    f_lo = np.empty(b)
    f_hi = np.empty(b)
    fp_lo = np.empty(b)
    fp_hi = np.empty(b)
    f = np.empty(b)
    fp = np.empty(b)
    f_prev = np.empty(b)
    going = np.zeros(b, np.bool_)
    rooted = np.zeros(b, np.bool_)
    for d0 in range(0, n_draw, b):
        nb = min(b, n_draw - d0)
        # --- the first grid interval with a sign change (neither end exactly 0) ----------
        n_going = 0
        for j in range(nb):
            rooted[j] = False
        # grid points where f provably has the sign of c_0, nonzero, for every draw of the
        # block are skipped: |c_0| > 2 B(x_k), B(x) = sum_{t >= 1} |c_t| x^t, increasing in
        # x > 0, so |f(x_i) - c_0| <= B(x_i) < |c_0| / 2 for every i <= k (rounding is far
        # inside the factor 2); the first sign change lies above x_k
        first = 0
        for k in _SKIP_TO:
            if k >= n_g - 1:
                continue
            xk = xs[k]
            f[:] = 0.0
            for t in range(n_t - 1, 0, -1):
                row = cash[t, d0:d0 + nb]
                for j in range(nb):
                    f[j] = (f[j] + abs(row[j])) * xk
            row = cash[0, d0:d0 + nb]
            n_ok = 0
            for j in range(nb):
                n_ok += abs(row[j]) > 2.0 * f[j]
            if n_ok == nb:
                first = k
                break
        for g in range(first, n_g):
            xg = xs[g]
            f[:] = 0.0
            for t in range(n_t - 1, -1, -1):
                row = cash[t, d0:d0 + nb]  # a contiguous slice: the loop vectorises
                for j in range(nb):
                    f[j] = f[j] * xg + row[j]
            if g > first:
                for j in range(nb):
                    fa, fb = f_prev[j], f[j]
                    if (not rooted[j] and (fa < 0) != (fb < 0) and fa != 0 and fb != 0):
                        rooted[j] = True
                        n_going += 1
                        lo[j], hi[j] = xs[g - 1], xg
                        f_lo[j], f_hi[j] = fa, fb
            if n_going == nb:
                break
            for j in range(nb):
                f_prev[j] = f[j]
        for j in range(nb):
            going[j] = rooted[j]
            if not rooted[j]:
                out[d0 + j] = np.nan
                continue
            slope = (f_hi[j] - f_lo[j]) / (hi[j] - lo[j])
            fp_lo[j], fp_hi[j] = slope, slope
            x[j] = lo[j] - f_lo[j] / slope
        for _ in range(max_iter):
            if n_going == 0:
                break
            f[:] = 0.0
            fp[:] = 0.0
            for t in range(n_t - 1, -1, -1):
                row = cash[t, d0:d0 + nb]
                for j in range(nb):
                    fp[j] = fp[j] * x[j] + f[j]
                    f[j] = f[j] * x[j] + row[j]
            # the safeguarded Newton step of every draw, without branches (selects), so
            # the loop vectorises; a draw that is no longer going keeps its values
            for j in range(nb):
                xa, fj, fpj, g = x[j], f[j], fp[j], going[j]
                lo0, flo0, fplo0 = lo[j], f_lo[j], fp_lo[j]
                hi0, fhi0, fphi0 = hi[j], f_hi[j], fp_hi[j]
                # np.sign(fj) == np.sign(f_lo): the same sign, or both 0 (never for a NaN)
                same = (((fj > 0) & (flo0 > 0)) | ((fj < 0) & (flo0 < 0))
                        | ((fj == 0) & (flo0 == 0)))
                lo1 = xa if same else lo0
                flo1 = fj if same else flo0
                fplo1 = fpj if same else fplo0
                hi1 = hi0 if same else xa
                fhi1 = fhi0 if same else fj
                fphi1 = fphi0 if same else fpj
                a, bb = min(lo1, hi1), max(lo1, hi1)
                step = xa - fj / fpj
                o = hi1 if same else lo1  # the end that was not replaced
                fo = fhi1 if same else flo1
                fpo = fphi1 if same else fplo1
                other = o - fo / fpo
                ok_step = (step > a) & (step < bb)
                ok_other = (other > a) & (other < bb)
                at_other = abs(fo / fpo) <= tol * abs(o)
                new = step if ok_step else (other if ok_other else 0.5 * (a + bb))
                new = xa if fj == 0 else (o if at_other & (not ok_step) else new)
                done = (((abs(new - xa) <= tol * abs(xa)) & ok_step) | (fj == 0)
                        | (at_other & (not ok_step)) | (bb - a <= tol * abs(xa)))
                lo[j] = lo1 if g else lo0
                f_lo[j] = flo1 if g else flo0
                fp_lo[j] = fplo1 if g else fplo0
                hi[j] = hi1 if g else hi0
                f_hi[j] = fhi1 if g else fhi0
                fp_hi[j] = fphi1 if g else fphi0
                x[j] = new if g else xa
                going[j] = g & (not done)
            n_going = 0
            for j in range(nb):
                n_going += going[j]
        for j in range(nb):
            if rooted[j]:
                out[d0 + j] = (1.0 / x[j]) ** per_year - 1.0

"""churn_gap and expansion_gap: distributed-lag models on expected complaint outcomes."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cxroi.calibrate.churn import ResolutionChurnFitter
from cxroi.calibrate.prepare import Prepared
from cxroi.calibrate.stats import Z95, _row, _sigmoid, _summary, logistic_fit
from cxroi.errors import CalibrationError

#: Months over which a complaint's effect on leaving / buying more is counted (the month it
#: is resolved and the 11 after it): one renewal cycle of an annual contract, so an account
#: that waits for its renewal to leave is still counted.
GAP_WINDOW_MONTHS = 12


@dataclass
class LaggedGapFit:
    """One distributed-lag linear model of :class:`BehaviourGapFitter` (churn or expansion).

    Attributes
    ----------
    beta : ndarray
        All coefficients: controls (segment intercepts, log revenue), the ``window``
        coefficients of the complaint count by lag, then the ``window`` gap coefficients.
    lag_gaps : ndarray
        The gap by lag (month of resolution = lag 0); ``gap`` is their sum.
    gap : float
        Total gap over the window.
    influence : ndarray
        Per-account influence of ``gap`` (linear part plus the outcome curve's part), so
        ``var(gap) = sum(influence**2)``.
    """

    beta: np.ndarray
    lag_gaps: np.ndarray
    gap: float
    influence: np.ndarray
    rows: int


def _lagged_gap_lpm(ys: list[np.ndarray], signs: list[float], count: np.ndarray, expo: np.ndarray,
                    dexpo: list[np.ndarray], window: int, C: np.ndarray, entry: np.ndarray, months: np.ndarray,
                    u_curve: np.ndarray, h_inv: np.ndarray, chunk_rows: int = 300_000) -> list[LaggedGapFit]:
    """Fit distributed-lag linear probability models, one per outcome in ``ys``, that share
    their design, on the account-month panel.

    Grids are ``(accounts, months)``: each ``y`` an outcome, ``count`` complaints resolved
    while at risk, ``expo`` the expected positive outcomes (``sum p``) and ``dexpo`` its
    derivatives with respect to the outcome curve's two coefficients. The design row of
    account *i* in month *t* is
    ``[C_i, count_{t}, ..., count_{t-k+1}, expo_{t}, ..., expo_{t-k+1}]``; the rows are
    built in chunks, so memory stays bounded at millions of account-months, and each chunk
    serves every outcome. Each gap is ``sign`` times the sum of the ``expo`` lags'
    coefficients: with ``sign = -1`` it is the effect of an expected *negative* outcome
    (``count - expo``) relative to a positive one, the same regression reparametrised
    (``N = POS + NEG``), so the gap and its influence are exactly those of the model on
    ``[count, count - expo]``.

    The influence of the gap :math:`c^\\top\\beta` (:math:`c` = ``sign`` on the ``expo``
    lags) for account *i* stacks the two estimating equations (curve, then linear model):

    .. math:: \\mathrm{IF}_i = v^\\top s_i + v^\\top G\\,H^{-1} u_i,\\qquad v = A^{-1}c,
              \\quad A = \\sum X_{it} X_{it}^\\top,\\quad s_i = \\sum_t X_{it} e_{it},

    .. math:: G = \\sum_{it} \\Big[\\frac{\\partial X_{it}}{\\partial\\theta} e_{it}
              - X_{it} \\Big(\\frac{\\partial X_{it}}{\\partial\\theta}\\Big)^{\\!\\top}\\beta\\Big]

    with :math:`u_i` the account's score of the outcome curve and :math:`H^{-1}` its
    inverse information (the curve's uncertainty enters through :math:`G`).
    """
    n, M = count.shape
    k = window
    pad = M + k

    def padded(g: np.ndarray) -> np.ndarray:
        out = np.zeros((n, pad))
        out[:, k:] = g
        return out.ravel()

    cnt_p, exp_p = padded(count), padded(expo)
    d_p = [padded(d) for d in dexpo]
    y_f = [y.ravel() for y in ys]
    R = int(months.sum())
    starts = np.cumsum(months) - months
    lags = np.arange(k)
    P = C.shape[1] + 2 * k
    gap_cols = slice(C.shape[1] + k, P)

    def chunks():  # rows (account, month) of the panel, in chunks
        for r0 in range(0, R, chunk_rows):
            r = np.arange(r0, min(r0 + chunk_rows, R))
            ii = np.searchsorted(starts, r, side="right") - 1
            tt = entry[ii] + (r - starts[ii])
            L = (ii * pad + k + tt)[:, None] - lags[None, :]
            X = np.concatenate([C[ii], cnt_p[L], exp_p[L]], axis=1)
            yield ii, L, X, [y[ii * M + tt] for y in y_f]

    A = np.zeros((P, P))
    b = np.zeros((P, len(ys)))
    for _, _, X, yy in chunks():
        A += X.T @ X
        b += X.T @ np.column_stack(yy)
    try:
        betas = np.linalg.solve(A, b)
        cvec = np.zeros(P)
        cvec[gap_cols] = 1.0
        v0 = np.linalg.solve(A, cvec)
    except np.linalg.LinAlgError:
        raise CalibrationError("the complaint-lag design is singular (too few complaints)") from None
    sv = np.zeros((len(ys), n))
    vG = np.zeros((len(ys), len(dexpo)))
    for ii, L, X, yy in chunks():
        Xv0 = X @ v0
        Ds = [dq[L] for dq in d_p]
        for j, (y, sg) in enumerate(zip(yy, signs, strict=True)):
            beta, v = betas[:, j], sg * v0
            e = y - X @ beta
            sv[j] += np.bincount(ii, weights=sg * Xv0 * e, minlength=n)
            for q, D in enumerate(Ds):
                vG[j, q] += (D @ v[gap_cols]) @ e - (sg * Xv0) @ (D @ beta[gap_cols])
    fits = []
    for j, sg in enumerate(signs):
        lag_gaps = sg * betas[gap_cols, j]
        fits.append(LaggedGapFit(betas[:, j], lag_gaps, float(lag_gaps.sum()), sv[j] + u_curve @ (h_inv @ vG[j]), R))
    return fits


class BehaviourGapFitter:
    """Extra probability of leaving (buying more) after a negative rather than a positive outcome.

    The outcome of most complaints is unobserved (only survey respondents say how they
    feel), so the fit uses the *expected* outcomes from the fitted curve
    :math:`\\hat p(T) = \\sigma(\\hat a + \\hat b z)` of :class:`ExperienceEmotionFitter`:
    the variation that identifies a gap is the resolution time, the lever itself. For
    account *i* in month *t* (months at risk in the window), with the complaints *j*
    resolved in month *t - l* while the account was a customer,

    .. math:: N_{i,t-l} = \\#\\{j\\},\\qquad \\mathrm{NEG}_{i,t-l} = \\sum_j (1-\\hat p(T_j)),
              \\qquad \\mathrm{POS}_{i,t-l} = \\sum_j \\hat p(T_j)

    and two distributed-lag linear probability models over the window
    :math:`l = 0..k-1` (``churn_window``, ``expansion_window``; default
    :data:`GAP_WINDOW_MONTHS` = 12, one renewal cycle):

    .. math:: P(\\text{leave}_{it}) = \\alpha_{s(i)} + \\gamma\\log r_i
              + \\sum_{l<k} \\big(\\pi_l N_{i,t-l} + g_{c,l}\\,\\mathrm{NEG}_{i,t-l}\\big)

    .. math:: E[\\text{expansions}_{it}] = \\alpha'_{s(i)} + \\gamma'\\log r_i
              + \\sum_{l<k} \\big(\\pi'_l N_{i,t-l} + g_{e,l}\\,\\mathrm{POS}_{i,t-l}\\big)

    Writing each complaint's effect as :math:`\\pi_l + g_{c,l}` when it ends badly and
    :math:`\\pi_l` when it ends well (``N = POS + NEG``) is the same as regressing on the
    expected numbers of positive *and* negative outcomes, each with its own effect; the
    coefficient :math:`g_{c,l}` is their difference. Neither outcome is assumed to leave
    churn (or expansion) unchanged. The gaps are the effects summed over the window,

    .. math:: \\mathtt{churn\\_gap} = \\sum_{l<k} g_{c,l},\\qquad
              \\mathtt{expansion\\_gap} = \\sum_{l<k} g_{e,l},

    the extra probability (on the monthly-hazard scale, summed) of leaving / extra
    expected expansions attributable to one negative rather than positive outcome,
    however the effect is spread over the window; the flywheel adds it in the event's
    month. A complaint resolved near the window's end or just before the account leaves
    contributes only the lags observed (each lag's coefficient is fitted from the months
    where that lag exists).

    Intervals: the curve and the two linear models are one stacked M-estimator; its
    sandwich variance, clustered by account (:func:`_lagged_gap_lpm`), carries the
    curve's uncertainty into the gaps. Normal 95% intervals. The fit is a single pass
    over the account-month panel (in chunks), so it is fast at millions of tickets.

    Only resolution-time variation identifies a gap (a complaint's outcome moves
    :math:`\\hat p` by about 0.1 between fast and slow complaints), so its interval is much
    wider than a fit that assumes a well-ended complaint has no effect; that width is the
    price of not assuming it. The link's implications are shown next to the direct hazard ratio by
    :meth:`implied_hazard_ratio`.
    """

    def __init__(self, churn_window: int = GAP_WINDOW_MONTHS, expansion_window: int = GAP_WINDOW_MONTHS):
        if churn_window < 1 or expansion_window < 1:
            raise ValueError("the lag windows must be at least one month")
        self.churn_window = int(churn_window)
        self.expansion_window = int(expansion_window)

    def fit(self, prep: Prepared) -> BehaviourGapFitter:
        a, c = prep.accounts, prep.complaints
        n = len(a)
        K = len(prep.segments)
        M = prep.M
        C = np.zeros((n, K + 1))
        C[np.arange(n), a["seg"].to_numpy()] = 1.0
        C[:, K] = a["log_rev"].to_numpy()
        entry = a["entry"].to_numpy().astype(np.int64)
        exit_m = a["exit"].to_numpy().astype(np.int64)
        months = (exit_m - entry + 1).astype(np.int64)
        churned = a["churned"].to_numpy(dtype=bool)
        cr = c.loc[c["at_risk"]]
        resp = c.loc[c["positive"].notna()]
        rz, ry, racc = resp["z"].to_numpy(), resp["positive"].to_numpy(), resp["acc"].to_numpy()
        if len(resp) < 30 or len(np.unique(ry)) < 2:
            raise CalibrationError("too few after-complaint answers to estimate the outcome curve")
        if len(cr) < 20:
            raise CalibrationError("fewer than 20 complaints resolved while accounts were customers")
        # the outcome curve, its information and per-account scores
        theta, h_inv = logistic_fit(rz[:, None], ry)
        if not np.isfinite(h_inv).all():
            raise CalibrationError("the outcome curve's information matrix is singular")
        resid = ry - _sigmoid(theta[0] + theta[1] * rz)
        u = np.column_stack([np.bincount(racc, weights=resid, minlength=n),
                             np.bincount(racc, weights=resid * rz, minlength=n)])
        # grids (account, month)
        z = cr["z"].to_numpy()
        p = _sigmoid(theta[0] + theta[1] * z)
        d = p * (1 - p)
        cell = cr["acc"].to_numpy() * M + cr["res_m"].to_numpy()

        def grid(w: np.ndarray | None) -> np.ndarray:
            return np.bincount(cell, weights=w, minlength=n * M).astype(float).reshape(n, M)

        N, POS, D0, D1 = grid(None), grid(p), grid(d), grid(d * z)
        leave = np.zeros((n, M))
        leave[np.flatnonzero(churned), exit_m[churned]] = 1.0
        e = prep.expansions
        ea, em = e["acc"].to_numpy(), e["m"].to_numpy()
        ein = (em >= entry[ea]) & (em <= exit_m[ea])
        expand = np.bincount(ea[ein] * M + em[ein], minlength=n * M).astype(float).reshape(n, M)
        # no expansion at all (no orders, or none of the expansion products): the fit of an
        # all-zero outcome is 0 (0 to 0), not a measurement
        self.expansion_measured_ = bool(expand.any())
        self.theta_, self.theta_cov_ = theta, h_inv
        self.today_ = prep.today
        if self.churn_window == self.expansion_window:  # one design serves both outcomes
            self.churn_fit_, self.expansion_fit_ = _lagged_gap_lpm(
                [leave, expand], [-1.0, 1.0], N, POS, [D0, D1], self.churn_window, C, entry, months, u, h_inv)
        else:
            (self.churn_fit_,) = _lagged_gap_lpm([leave], [-1.0], N, POS, [D0, D1], self.churn_window, C, entry,
                                                 months, u, h_inv)
            (self.expansion_fit_,) = _lagged_gap_lpm([expand], [1.0], N, POS, [D0, D1], self.expansion_window, C,
                                                     entry, months, u, h_inv)
        # joint influence of (a, b, churn_gap, expansion_gap), clustered by account
        infl = np.column_stack([u @ h_inv, self.churn_fit_.influence, self.expansion_fit_.influence])
        self.cov_ = infl.T @ infl * (n / max(n - 1, 1))
        se = np.sqrt(np.diag(self.cov_))
        self.churn_gap_ = self.churn_fit_.gap
        self.expansion_gap_ = self.expansion_fit_.gap
        self.churn_gap_se_, self.expansion_gap_se_ = float(se[2]), float(se[3])
        self.churn_gap_ci_ = (self.churn_gap_ - Z95 * se[2], self.churn_gap_ + Z95 * se[2])
        self.expansion_gap_ci_ = (self.expansion_gap_ - Z95 * se[3], self.expansion_gap_ + Z95 * se[3])
        self.churn_lag_gaps_ = self.churn_fit_.lag_gaps
        self.expansion_lag_gaps_ = self.expansion_fit_.lag_gaps
        self.n_account_months_ = int(months.sum())
        self.n_accounts_ = n
        self.n_complaints_ = len(cr)
        # what the links imply for the hazard ratio per doubling
        zc = c.groupby("acc")["z"].mean()
        ca = zc.index.to_numpy()
        seg = a["seg"].to_numpy()
        h_seg = (np.bincount(seg, weights=churned.astype(float), minlength=K)
                 / np.maximum(np.bincount(seg, weights=months.astype(float), minlength=K), 1.0))
        self._hr_inputs = (zc.to_numpy(), np.bincount(cr["acc"].to_numpy(), minlength=n)[ca] / months[ca],
                           h_seg[seg[ca]], h_seg[seg[ca]] * months[ca])
        self.implied_log_hr_, self.implied_log_hr_se_ = self._implied_log_hr()
        return self

    def _log_hr(self, a_: float, b_: float, g: float) -> float:
        zbar, lam, h, w = self._hr_inputs
        if not (h > 0).any():
            return float("nan")
        dh = lam * g * (_sigmoid(a_ + b_ * zbar) - _sigmoid(a_ + b_ * (zbar + 1.0)))
        ok = h > 0
        return float(np.average(np.log(np.maximum(1.0 + dh[ok] / h[ok], 1e-9)), weights=w[ok]))

    def _implied_log_hr(self) -> tuple[float, float]:
        x = np.array([self.theta_[0], self.theta_[1], self.churn_gap_])
        f0 = self._log_hr(*x)
        grad = np.zeros(3)
        for q in range(3):
            step = 1e-6 * max(1.0, abs(x[q]))
            hi, lo = x.copy(), x.copy()
            hi[q] += step
            lo[q] -= step
            grad[q] = (self._log_hr(*hi) - self._log_hr(*lo)) / (2 * step)
        return f0, float(np.sqrt(max(grad @ self.cov_[:3, :3] @ grad, 0.0)))

    def implied_hazard_ratio(self) -> tuple[float, float, float]:
        """Hazard ratio of leaving per doubling of resolution time that the links imply.

        For each account *i* with complaints (the Cox model's sample), a doubling of its
        resolution times lowers the expected share of positive outcomes by
        :math:`\\hat p(\\bar z_i) - \\hat p(\\bar z_i + 1)`, which the flywheel turns into
        :math:`\\Delta h_i = \\lambda_i\\,\\mathtt{churn\\_gap}\\,(\\hat p(\\bar z_i) - \\hat p(\\bar z_i + 1))`
        extra monthly hazard (:math:`\\lambda_i` its complaints per month at risk). Against
        the segment's monthly leaving rate :math:`h_s` (leavers / account-months),

        .. math:: \\log \\mathrm{HR}_{links} = \\frac{\\sum_i w_i \\log(1 + \\Delta h_i / h_{s(i)})}{\\sum_i w_i},
                  \\qquad w_i = h_{s(i)}\\,\\text{months}_i

        (weights: expected leavers, the information each account gives a Cox model).
        Delta-method 95% interval from the joint covariance of :math:`(\\hat a, \\hat b,
        \\mathtt{churn\\_gap})`.

        Returns
        -------
        (hr, low, high) : tuple of float
        """
        lg, se = self.implied_log_hr_, self.implied_log_hr_se_
        return float(np.exp(lg)), float(np.exp(lg - Z95 * se)), float(np.exp(lg + Z95 * se))

    def compare_with_cox(self, cox: ResolutionChurnFitter | None) -> str:
        """Sentence setting the links' implied hazard ratio beside the direct estimate of
        :class:`ResolutionChurnFitter` (the name is kept from when that was a Cox model)."""
        hr, lo, hi = self.implied_hazard_ratio()
        head = (f"The calibrated links (p(T) and churn_gap) imply a hazard ratio of {hr:.3f} per doubling of "
                f"resolution time (95% CI {lo:.3f}-{hi:.3f})")
        if cox is None:
            return head + "; no direct hazard ratio was fitted to compare it with."
        clo, chi = cox.low_, cox.high_
        tail = f"the direct estimate is {cox.hazard_ratio_:.2f} ({clo:.2f}-{chi:.2f})"
        if lo <= chi and clo <= hi:
            return f"{head}; {tail}: the intervals overlap, so the chain and the direct estimate agree."
        if lo > chi:
            return (f"{head}; {tail}: the chain implies *more* extra leaving than the direct estimate - "
                    "churn_gap or the outcome curve may be overstated; the money follows the direct estimate.")
        return (f"{head}; {tail}: the direct estimate sees *more* extra leaving than the chain implies - slow "
                "complaints may act beyond the chain's emotional outcome or its lag window, or mark accounts at "
                "risk for other reasons; the money follows the direct estimate.")

    @property
    def verdict(self) -> str:
        g, (lo, hi) = self.churn_gap_, self.churn_gap_ci_
        ge, (elo, ehi) = self.expansion_gap_, self.expansion_gap_ci_
        expansion = (f"; one that ends well rather than badly adds {ge * 100:.1f} points ({elo * 100:.1f} to "
                     f"{ehi * 100:.1f}) to the expected expansions within {self.expansion_window} months"
                     if self.expansion_measured_ else
                     " (no account bought more in the data, so its effect on buying more is not measured)")
        return (f"A complaint that ends badly rather than well adds {g * 100:.1f} points (95% CI {lo * 100:.1f} to "
                f"{hi * 100:.1f}) to the chance the account leaves within the {self.churn_window} months from its "
                f"resolution{expansion} ({self.n_account_months_:,} account-months, {self.n_complaints_:,} "
                "complaints; both outcomes may move churn and expansion, only resolution time separates them).")

    @property
    def summary(self) -> pd.DataFrame:
        g, (lo, hi) = self.churn_gap_, self.churn_gap_ci_
        ge, (elo, ehi) = self.expansion_gap_, self.expansion_gap_ci_
        hr, hlo, hhi = self.implied_hazard_ratio()
        return _summary([
            _row("churn_gap", g, lo, hi, self.n_account_months_,
                 f"A negative rather than positive complaint outcome adds {g * 100:.1f} points ({lo * 100:.1f} to "
                 f"{hi * 100:.1f}) to the probability of leaving, summed over the {self.churn_window} months "
                 "from resolution."),
            *([_row("expansion_gap", ge, elo, ehi, self.n_account_months_,
                    f"A positive rather than negative complaint outcome adds {ge * 100:.1f} points "
                    f"({elo * 100:.1f} to {ehi * 100:.1f}) to the expected expansions, summed over the "
                    f"{self.expansion_window} months from resolution.")] if self.expansion_measured_ else []),
            _row("resolution -> churn: hazard ratio per doubling implied by the links", hr, hlo, hhi,
                 self.n_account_months_, self.compare_with_cox(None).split(";")[0] + "."),
        ])


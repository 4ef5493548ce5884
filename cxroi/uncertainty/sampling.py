r"""Sampling the links: one distribution per link, by its provenance.

- ``calibrated``: normal on the link's natural scale (log for odds ratios, logit for
  shares, identity otherwise) with :math:`\sigma = (q(high) - q(low)) / (2 \cdot 1.96)`,
  centred on :math:`q(value)`.
- ``benchmark`` and ``assumption``: beta-PERT on ``low`` / ``value`` / ``high``,
  :math:`\alpha = 1 + 4 (m - a) / (b - a)`, :math:`\beta = 1 + 4 (b - m) / (b - a)`.

A benchmark's range is widened by its transfer factor first (:func:`sampling_range`).
Cash-flow lines are beta-PERT per period, comonotone across periods
(:func:`sample_cash_flow`). :func:`sample_params` draws every link of a scenario.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cxroi.cashflow import cash_flow_params
from cxroi.model import GLOBAL_LINKS, TOUCHPOINT_LINKS, Array
from cxroi.scenario import DIRECT_LINKS, LINK_DOMAINS, CashFlow, Link, Scenario, load_benchmarks
from cxroi.uncertainty.correlation import correlate
from cxroi.uncertainty.rates import sample_rates

_LOG_LINKS = {"odds_ratio", *DIRECT_LINKS}
_LOGIT_LINKS = {"positive_share_today"}

#: Widening of a benchmark's range by how far its context is from the company's.
TRANSFER: dict[str, float] = {"same": 1.0, "near": 1.5, "far": 2.0}


def _scale(name: str) -> tuple[Callable[[Array], Array], Callable[[Array], Array]]:
    if name in _LOG_LINKS:
        return np.log, np.exp
    if name in _LOGIT_LINKS:
        def fwd(p: Array) -> Array:
            p = np.clip(p, 1e-6, 1 - 1e-6)
            return np.log(p / (1 - p))

        def back(z: Array) -> Array:
            return 1.0 / (1.0 + np.exp(-z))
        return fwd, back

    def ident(x: Array) -> Array:
        return np.asarray(x, float)
    return ident, ident


def transfer_factor(link: Link) -> float:
    """How much a benchmark link's range is widened (1.0 for other provenances)."""
    if link.provenance != "benchmark":
        return 1.0
    entry = load_benchmarks().get(link.source) or {}
    return TRANSFER.get(str(entry.get("transfer", "same")), 1.0)


def sampling_range(name: str, link: Link) -> tuple[float, float, float]:
    r"""(low, likely, high) that sampling and the tornado use for a link.

    For a benchmark with transfer factor :math:`w`, on the link's natural scale :math:`q`:
    :math:`q(\text{low}') = q(v) - w\,[q(v) - q(\text{low})]` (and the same above), clipped
    to the link's domain; other links keep their range.
    """
    w = transfer_factor(link)
    if w == 1.0:
        return link.low, link.value, link.high
    fwd, back = _scale(name)
    lo_d, hi_d, _ = LINK_DOMAINS[name]
    q = {k: float(fwd(np.asarray(getattr(link, k), float))) for k in ("low", "value", "high")}
    low = float(back(np.asarray(q["value"] - w * (q["value"] - q["low"]))))
    high = float(back(np.asarray(q["value"] + w * (q["high"] - q["value"]))))
    return max(low, lo_d), link.value, min(high, hi_d)


def _pert(name: str, link: Link, n: int, rng: np.random.Generator) -> Array:
    a, m, b = sampling_range(name, link)
    if b - a <= 0:
        return np.full(n, m)
    alpha = 1.0 + 4.0 * (m - a) / (b - a)
    beta = 1.0 + 4.0 * (b - m) / (b - a)
    x = rng.beta(alpha, beta, size=n)
    x *= b - a  # a + (b - a) x, in place (the same two operations)
    x += a
    return x


def _normal_on_scale(name: str, link: Link, n: int, rng: np.random.Generator) -> Array:
    fwd, back = _scale(name)
    lo, mid, hi = (fwd(np.asarray(v, float)) for v in (link.low, link.value, link.high))
    sd = (hi - lo) / (2 * 1.959964)
    if sd <= 0:
        return np.full(n, link.value)
    return back(rng.normal(mid, sd, size=n))


#: Sampler by provenance (registry, not if-chain).
SAMPLERS: dict[str, Callable[[str, Link, int, np.random.Generator], Array]] = {
    "calibrated": _normal_on_scale,
    "benchmark": _pert,
    "assumption": _pert,
}


def sample_link(name: str, link: Link | None, n: int, rng: np.random.Generator,
                out: Array | None = None) -> Array:
    """``n`` draws of one link, by its provenance, clipped to the link's domain.

    A direct link that is not given (``None``) is 1.0: no effect, no rng draws spent.
    ``out`` (``(n,)`` float64, optional) receives the draws (no extra array).
    """
    if link is None:
        if out is None:
            return np.ones(n)
        out.fill(1.0)
        return out
    lo, hi, _ = LINK_DOMAINS[name]
    x = SAMPLERS[link.provenance](name, link, n, rng)
    return np.clip(x, lo, hi, out=x if out is None else out)


def sample_cash_flow(cf: CashFlow, n: int, rng: np.random.Generator) -> Array:
    """``(n, T)`` draws of a cash-flow line: beta-PERT(low, likely, high) in each period,
    comonotone across periods (a line that runs high in one year runs high in all: its
    uncertainty is about its scale, not year-to-year noise). Each period keeps its PERT
    marginal exactly; the periods share one random ranking."""
    likely = np.asarray(cf.likely, float)
    lo = likely if cf.low is None else np.asarray(cf.low, float)
    hi = likely if cf.high is None else np.asarray(cf.high, float)
    out = np.repeat(likely[None, :], n, axis=0)
    varies = np.flatnonzero(hi > lo)
    if varies.size == 0:
        return out
    order = rng.permutation(n)
    for j in varies:
        a, m, b = lo[j], likely[j], hi[j]
        x = a + (b - a) * rng.beta(1.0 + 4.0 * (m - a) / (b - a), 1.0 + 4.0 * (b - m) / (b - a),
                                   size=n)
        out[order, j] = np.sort(x)
    return out



def sample_params(sc: Scenario, draws: int, rng: np.random.Generator,
                  correlated: bool = True) -> dict[str, Array]:
    """Draw every link: touchpoint links ``(draws, K)`` (views of one draw-last
    ``(L, K, draws)`` buffer, which :func:`cxroi.model.run_flywheel` reads without a copy),
    global links ``(draws,)``; the cash-flow lines (:func:`cxroi.cashflow.cash_flow_params`) when the scenario has any.

    Links are drawn independently first, in a fixed order, so a scenario without
    correlations or cash-flow lines gets the same draws as before they existed; the
    scenario's ``correlations`` then reorder the draws (:func:`correlate`) unless
    ``correlated`` is False.
    """
    out: dict[str, Array] = {}
    # one draw-last buffer (link, touchpoint, draw): the layout both engines compute on, so
    # neither copies the draws again; each link is a (draws, K) view of it
    tps = list(sc.touchpoints.values())
    buf = np.empty((len(TOUCHPOINT_LINKS), len(tps), draws))
    for i, name in enumerate(TOUCHPOINT_LINKS):
        for k, tp in enumerate(tps):
            sample_link(name, getattr(tp.links, name), draws, rng, out=buf[i, k])
        out[name] = buf[i].T
    for name in GLOBAL_LINKS:
        out[name] = sample_link(name, getattr(sc.links, name), draws, rng)
    amounts = {k: sample_cash_flow(cf, draws, rng) for k, cf in sc.cash_flows.items()}
    if correlated and sc.correlations:
        correlate(sc, out, amounts, rng)
    if amounts:
        out.update(cash_flow_params(sc, amounts))
    out.update(sample_rates(sc, draws, rng))  # last: the draws above are unchanged
    return out


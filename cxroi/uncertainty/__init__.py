r"""Uncertainty: every link is a distribution; Monte Carlo over all of them at once.

Distributions by provenance (registry :data:`SAMPLERS`):

- ``calibrated``: normal on the link's natural scale (log for odds ratios, logit for
  shares, identity otherwise) with :math:`\sigma = (q(high) - q(low)) / (2 \cdot 1.96)`,
  centred on :math:`q(value)` -- the fit's 95% interval read back as a sampling
  distribution.
- ``benchmark`` and ``assumption``: beta-PERT on ``low`` / ``value`` / ``high``,
  :math:`\alpha = 1 + 4 (m - a) / (b - a)`, :math:`\beta = 1 + 4 (b - m) / (b - a)`.

A benchmark taken from another context carries a *transfer* uncertainty: its low-high
range is widened around the likely value by the factor its entry in ``benchmarks.yaml``
names (``transfer: same | near | far`` -> x1.0 / x1.5 / x2.0, :data:`TRANSFER`) on the
link's natural scale (log for ratios, logit for shares), before sampling; see
:func:`sampling_range`. Draws are clipped to each link's domain
(:data:`cxroi.scenario.LINK_DOMAINS`). A direct link a
touchpoint does not have is 1.0 in every draw (no rng draws are spent on it).

Links are independent unless the scenario states rank ``correlations`` between them; those
are imposed by reordering the draws (:func:`correlate`: Gaussian copula on ranks, as Iman &
Conover), which keeps every link's marginal draws exactly. Cash-flow lines (TEI style) are
beta-PERT per period, comonotone across periods (:func:`sample_cash_flow`). One vectorised
model call evaluates all draws (no Python loop over draws), so thousands of draws take
milliseconds.

Parts: :mod:`~cxroi.uncertainty.sampling` (one link, one cash-flow line, a scenario's
draws), :mod:`~cxroi.uncertainty.correlation`, :mod:`~cxroi.uncertainty.rates` (baseline
rates' sampling error), :mod:`~cxroi.uncertainty.result` (:func:`simulate`,
:class:`SimulationResult`), :mod:`~cxroi.uncertainty.draws` (the draws of the same
priors, kept for the next run), :mod:`~cxroi.uncertainty.sensitivity` (tornado, breakeven).
"""

from __future__ import annotations

from cxroi.model import OUTPUTS
from cxroi.uncertainty.correlation import correlate, path_draws
from cxroi.uncertainty.rates import rate_log_sd, sample_rates
from cxroi.uncertainty.result import QUANTILES, SimulationResult, simulate
from cxroi.uncertainty.sampling import (
    SAMPLERS,
    TRANSFER,
    sample_cash_flow,
    sample_link,
    sample_params,
    sampling_range,
    transfer_factor,
)
from cxroi.uncertainty.sensitivity import Breakeven, breakeven, tornado

__all__ = [
    "OUTPUTS", "QUANTILES", "SAMPLERS", "TRANSFER", "Breakeven", "SimulationResult",
    "breakeven", "correlate", "path_draws", "rate_log_sd", "sample_cash_flow", "sample_link",
    "sample_params", "sample_rates", "sampling_range", "simulate", "tornado",
    "transfer_factor",
]

r"""The Monte Carlo run of a scenario (:func:`simulate`) and its result
(:class:`SimulationResult`: draws, quantiles, bands)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from cxroi.model import OUTPUTS, Array, Inputs, compile_inputs, likely_params, run_flywheel
from cxroi.scenario import Scenario
from cxroi.uncertainty.draws import scenario_draws

QUANTILES = (0.10, 0.50, 0.90)


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """Monte Carlo result of one scenario.

    Attributes
    ----------
    scenario : Scenario
    params : dict of str to ndarray
        The links' draws (:func:`~cxroi.uncertainty.sampling.sample_params`); read-only,
        shared with other results of the same priors.
    draws : dict of str to ndarray
        Every output of :data:`cxroi.model.OUTPUTS` per draw, plus the monthly benefit
        lines and net cash flows (``run_flywheel(monthly=True)``).
    likely : dict of str to float or ndarray
        The deterministic run with every link at its most likely value, with monthly series
        and detail (revenue of both arms, positive share by touchpoint and month).
    irr_computed : bool
        Whether the IRR of every draw was solved (``simulate(irr=True)``, the default).
        Without it the ``irr`` draws are NaN, which says nothing about the IRR: its
        quantiles raise, and its row of :attr:`summary` is NaN.
    """

    scenario: Scenario
    inputs: Inputs
    params: dict[str, Array]
    draws: dict[str, Array]
    likely: dict[str, Any]
    seed: int
    irr_computed: bool = True
    n_draws: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_draws", int(self.draws["npv"].shape[0]))

    def ranked(self, metric: str) -> Array:
        """Draws of ``metric`` with undefined values placed where they rank.

        A payback that never comes within the horizon counts as later than any month
        (+inf); an IRR that does not exist counts as -inf for a draw that loses money and
        +inf for one that cannot. Other metrics are returned as they are.
        """
        x = self.draws[metric]
        if metric == "payback_month":
            return np.where(np.isnan(x), np.inf, x)
        if metric == "irr":
            return np.where(np.isnan(x), np.where(self.draws["npv"] < 0, -np.inf, np.inf), x)
        return x

    def quantile(self, metric: str, q: float) -> float:
        """Quantile ``q`` of ``metric`` over all draws (see :meth:`ranked`); +-inf when the
        quantile falls among draws that never pay back."""
        return self.quantiles(metric, (q,))[0]

    def quantiles(self, metric: str, qs: tuple[float, ...] = QUANTILES) -> list[float]:
        """Several quantiles of ``metric`` in one partition of its draws (the same numbers
        as :meth:`quantile` one by one, at a third of the cost for P10/P50/P90).

        Raises
        ------
        ValueError
            For ``irr`` when it was not computed (:attr:`irr_computed`): its NaN draws
            would rank as "no IRR exists" and give +-inf.
        """
        if metric == "irr" and not self.irr_computed:
            raise ValueError("irr: the IRR was not computed for this result (it was "
                             "simulated with irr=False); run simulate(..., irr=True) to "
                             "read its quantiles")
        x = self.ranked(metric)
        nan = np.isnan(x)
        if nan.any():  # np.nanquantile's result, without its per-call overhead (half the time)
            x = x[~nan]
        if not x.size:
            return [float("nan")] * len(qs)
        if np.isinf(x).any():  # no interpolation towards infinity
            return [float(v) for v in np.quantile(x, qs, method="inverted_cdf")]
        return [float(v) for v in np.quantile(x, qs)]

    @cached_property
    def summary(self) -> pd.DataFrame:
        """P10 / P50 / P90, mean and likely value of every output (rows), with label and unit.

        ``share_defined`` is the share of draws where the metric exists (for payback: the
        share that pays back within the horizon); the mean is over those draws.
        """
        rows = []
        for key, (label, unit) in OUTPUTS.items():
            if key == "irr" and not self.irr_computed:  # not computed: nothing to say
                rows.append({"metric": key, "label": label, "unit": unit, "p10": np.nan,
                             "p50": np.nan, "p90": np.nan, "mean": np.nan,
                             "likely": np.nan, "share_defined": np.nan})
                continue
            raw = self.draws[key]
            finite = raw[np.isfinite(raw)]
            q = self.quantiles(key, QUANTILES)
            rows.append({"metric": key, "label": label, "unit": unit,
                         "p10": q[0], "p50": q[1], "p90": q[2],
                         "mean": finite.mean() if finite.size else np.nan,
                         "likely": self.likely[key],
                         "share_defined": self.share_defined(key)})
        return pd.DataFrame(rows).set_index("metric")

    def share_defined(self, metric: str) -> float:
        """Share of draws where ``metric`` exists (for payback: the share that pays back
        within the horizon), without building the whole :attr:`summary`; NaN for an IRR
        that was not computed (:attr:`irr_computed`)."""
        if metric == "irr" and not self.irr_computed:
            return float("nan")
        raw = self.draws[metric]
        return float(np.count_nonzero(np.isfinite(raw)) / raw.size)

    @property
    def prob_loss(self) -> float:
        """Probability that NPV < 0."""
        return float(np.mean(self.draws["npv"] < 0))

    @property
    def churn_floor_share(self) -> float:
        """Share of draws in which the links claim more churn reduction than a segment has
        churn (the initiative's hazard was floored at 0): a sign that ``churn_gap`` or
        ``events_per_year`` is too high."""
        return float(np.mean(self.draws["churn_floored"]))

    def band(self, series: str, cumulative: bool = True) -> pd.DataFrame:
        """P10 / P50 / P90 of a monthly series (e.g. ``net_cash``) by month."""
        # month-major, each month's draws contiguous (the draw-first series are often views of
        # draw-last arrays): the same sums and quantiles, 2.5x faster than along axis 0
        x = self.draws[series].T  # (T, D)
        x = np.cumsum(x, axis=0) if cumulative else np.ascontiguousarray(x)
        q = np.quantile(x, QUANTILES, axis=1)
        start = 0 if x.shape[0] == self.inputs.horizon + 1 else 1
        return pd.DataFrame({"month": np.arange(start, start + x.shape[0]),
                             "p10": q[0], "p50": q[1], "p90": q[2],
                             "likely": np.cumsum(self.likely[series]) if cumulative
                             else self.likely[series]})


def simulate(sc: Scenario, draws: int | None = None, seed: int | None = None,
             inputs: Inputs | None = None, correlated: bool = True, irr: bool = True
             ) -> SimulationResult:
    """Monte Carlo over all links at once.

    Parameters
    ----------
    sc : Scenario
    draws, seed : int, optional
        Default to the scenario's ``simulation`` settings. The same seed gives the same
        result, draw for draw. The draws are ``sample_params(sc, draws,
        default_rng(seed))``, kept for the next call with the same priors
        (:func:`cxroi.uncertainty.draws.scenario_draws`: a lever move reuses them; the
        result's ``params`` are read-only).
    inputs : Inputs, optional
        Pre-compiled inputs (saves ~0.1 ms when the caller already has them).
    correlated : bool
        Honour the scenario's ``correlations`` (default); False samples every link
        independently (the app's "correlation off"), with the same marginal draws.
    irr : bool
        Compute the IRR of every draw (a root search per draw); ``False`` leaves it NaN
        and says so (:attr:`SimulationResult.irr_computed`: its quantiles raise rather
        than rank NaN as "no IRR"). The app, which shows no IRR, passes ``False``. Every
        other number is the same.
    """
    n = draws if draws is not None else sc.simulation.draws
    s = seed if seed is not None else sc.simulation.seed
    inp = inputs if inputs is not None else compile_inputs(sc)
    # the draws depend on the priors, not the levers: a lever move reuses them (read-only)
    params = scenario_draws(sc, n, s, correlated)
    out = run_flywheel(inp, params, monthly=True, irr=irr)
    likely_raw = run_flywheel(inp, likely_params(sc), monthly=True, detail=True, irr=irr)
    likely = {k: (float(v[0]) if v.ndim == 1 else v[0]) for k, v in likely_raw.items()}
    return SimulationResult(sc, inp, params, out, likely, s, irr_computed=irr)

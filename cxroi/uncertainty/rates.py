r"""Sampling error of the measured baseline rates: per-draw factors on churn, expansion
and contacts, and the weight of the one-contact floor."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cxroi.model import Array
from cxroi.scenario import Scenario


def _monthly(annual: float) -> float:
    return 1.0 - (1.0 - annual) ** (1.0 / 12.0)


def rate_log_sd(low: float | None, high: float | None,
                to_rate: Callable[[float], float] | None = None) -> float:
    r"""Standard deviation on the log scale of a rate whose 95% interval is ``low``-``high``:
    :math:`\sigma = [\ln r(\text{high}) - \ln r(\text{low})] / (2 \cdot 1.96)`, ``r`` =
    ``to_rate`` (identity by default). 0 without an interval or with a lower end at 0 (no
    log scale: the rate is then taken as stated)."""
    if low is None or high is None or not 0 < low < high:
        return 0.0
    f = to_rate or (lambda x: x)
    return float((np.log(f(high)) - np.log(f(low))) / (2 * 1.959964))


def sample_rates(sc: Scenario, draws: int, rng: np.random.Generator) -> dict[str, Array]:
    r"""Per-draw factors on the baseline rates measured with sampling error, and the weight
    of the one-contact floor.

    A segment whose ``churn`` (``expansion_rate``, a volume's ``contacts_per_event``) carries
    a 95% sampling interval ``<rate>_low``-``<rate>_high`` (calibration writes them) gets a
    log-normal factor with median 1 on its monthly rate,

    .. math:: f = e^{\sigma u}, \quad u \sim N(0, 1), \quad
              \sigma = \frac{\ln r(\text{high}) - \ln r(\text{low})}{2 \cdot 1.96},
              \quad r(c) = 1 - (1 - c)^{1/12}

    (contacts per event: :math:`r` is the rate itself).

    Returns
    -------
    dict of str to ndarray
        ``churn_scale`` and ``expansion_scale`` ``(D, S)``, ``contacts_scale`` ``(D, S, K)``,
        each only when some segment has that interval; ``contacts_floor_weight`` ``(D,)``,
        uniform on [0, 1], when a touchpoint has a measured ``contacts_ratio`` (where the
        saving lies between the floored and the unfloored contacts is not measured:
        :func:`cxroi.model.run_flywheel`); ``events_scale`` ``(D, S, K)`` when a volume's
        ``events_per_year`` carries an interval (it scales the measured contacts saving,
        :func:`cxroi.model.contacts_saved`). Nothing, and no rng draws, for a scenario with
        none of these, so its draws are the ones it had before these existed.
    """
    segs, tps = sc.segments, list(sc.touchpoints)
    sd = {
        "churn_scale": np.array([rate_log_sd(s.churn_low, s.churn_high, _monthly)
                                 for s in segs]),
        "expansion_scale": np.array([rate_log_sd(s.expansion_rate_low, s.expansion_rate_high,
                                                 _monthly) for s in segs]),
        "contacts_scale": np.array([[rate_log_sd(s.volumes[k].contacts_per_event_low,
                                                 s.volumes[k].contacts_per_event_high)
                                     if k in s.volumes else 0.0 for k in tps] for s in segs]),
    }
    out: dict[str, Array] = {}
    for name, v in sd.items():
        if v.any():
            out[name] = np.exp(rng.standard_normal((draws, *v.shape)) * v[None])
    if any(tp.links.contacts_ratio is not None for tp in sc.touchpoints.values()):
        out["contacts_floor_weight"] = rng.random(draws)
    # drawn after everything above, so scenarios without these intervals keep their draws
    ev = np.array([[rate_log_sd(s.volumes[k].events_per_year_low, s.volumes[k].events_per_year_high)
                    if k in s.volumes else 0.0 for k in tps] for s in segs])
    if ev.any():
        out["events_scale"] = np.exp(rng.standard_normal((draws, *ev.shape)) * ev[None])
    return out

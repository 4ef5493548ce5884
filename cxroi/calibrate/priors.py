"""Benchmark priors for calibrated links, and their combination with the company's estimate.

Two kinds of prior (``docs/calibration.md`` section 4):

* **Chain links** (``odds_ratio``, ``churn_gap``, ``nps_gap`` ...) whose base-scenario value
  is a benchmark: the prior is that value with its range read as a 95% interval on the
  link's natural scale (log for ratios, logit for shares), widened for transfer.
* **Direct links** (``churn_hazard_ratio``, ``expansion_rate_ratio``, ``contacts_ratio``):
  the prior is the ratio per lever unit the base scenario's *chain* implies for this
  company (its segments, volumes and today's lever value), computed on draws of the chain's
  links (each widened for transfer), summarised by the mean and standard deviation of the
  log ratio.

Transfer: a benchmark's ``transfer`` in ``benchmarks.yaml`` (``same`` / ``near`` / ``far``)
widens its range around the value by x1.0 / x1.5 / x2.0 on the natural scale - exactly as
the model samples it (:func:`cxroi.uncertainty.sampling_range`), so the prior is the
benchmark as the business case would otherwise use it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from cxroi.calibrate.stats import Z95
from cxroi.inputs import window_share
from cxroi.scenario import Link
from cxroi.uncertainty import sample_link, sampling_range

LOG_LINKS = {"odds_ratio", "churn_hazard_ratio", "expansion_rate_ratio", "contacts_ratio"}
LOGIT_LINKS = {"positive_share_today"}
PRIOR_DRAWS = 4000


def _scale(name: str) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    """(forward, back) transforms to the link's natural scale."""
    if name in LOG_LINKS:
        return (lambda x: np.log(np.maximum(x, 1e-9))), np.exp
    if name in LOGIT_LINKS:
        def fwd(p: Any) -> Any:
            p = np.clip(p, 1e-6, 1 - 1e-6)
            return np.log(p / (1 - p))
        return fwd, (lambda z: 1.0 / (1.0 + np.exp(-z)))
    return (lambda x: np.asarray(x, float)), (lambda x: np.asarray(x, float))


@dataclass(frozen=True)
class Prior:
    """A normal prior on a link's natural scale, with the benchmark it comes from."""

    mean: float
    sd: float
    source: str
    text: str


def link_prior(name: str, link: Link) -> Prior | None:
    """The prior a base-scenario benchmark link gives its calibrated counterpart (None if the
    base value is not a benchmark)."""
    if link.provenance != "benchmark":
        return None
    fwd, _ = _scale(name)
    lo, v, hi = sampling_range(name, link)
    sd = (float(fwd(hi)) - float(fwd(lo))) / (2 * Z95)
    if not (np.isfinite(sd) and sd > 0):
        return None
    return Prior(float(fwd(v)), sd, link.source, f"benchmark prior ({link.source})")


@dataclass(frozen=True)
class SegmentMix:
    """What the chain needs to know about the company's segments (arrays over segments)."""

    accounts: np.ndarray
    events_per_year: np.ndarray
    churn: np.ndarray
    expansion_rate: np.ndarray
    contacts_per_event: np.ndarray

    @classmethod
    def from_segments(cls, segments: list[dict[str, Any]], touchpoint: str) -> SegmentMix:
        def col(f: Callable[[dict[str, Any]], float]) -> np.ndarray:
            return np.array([float(f(s)) for s in segments])
        vol = lambda s, k, d: (s.get("volumes", {}).get(touchpoint) or {}).get(k, d)  # noqa: E731
        return cls(col(lambda s: s["accounts"]), col(lambda s: vol(s, "events_per_year", 0.0)),
                   col(lambda s: s["churn"]), col(lambda s: s.get("expansion_rate", 0.0)),
                   col(lambda s: vol(s, "contacts_per_event", 1.0)))


#: Which chain link drives each direct link, and where its benchmark id comes from.
DIRECT_CHAIN = {"churn_hazard_ratio": "churn_gap", "expansion_rate_ratio": "expansion_gap",
                "contacts_ratio": "repeat_contacts"}


def chain_implied(links: dict[str, Link], mix: SegmentMix, step: float = 1.0, n: int = PRIOR_DRAWS,
                  seed: int = 20261123, windows: dict[str, int] | None = None) -> dict[str, np.ndarray]:
    """Draws of the direct ratios per lever unit that the chain of links implies.

    With :math:`\\Delta p = p(g_0) - p(g_0 + 1)` the fall in the positive share per lever unit
    worse (:math:`p` from ``positive_share_today`` and ``odds_ratio``), :math:`\\lambda_s`
    events per year, exposure :math:`\\pi_s = 1 - e^{-\\lambda_s}`, monthly churn
    :math:`h_s = 1 - (1 - c_s)^{1/12}`, monthly expansion :math:`e_s/12` and contacts per
    event :math:`\\kappa_s`, the flywheel's chain gives an exposed account

    .. math:: \\mathrm{HR}_s = 1 + \\frac{\\lambda_s}{12\\pi_s}\\frac{\\gamma^{churn}\\Delta p}{h_s},\\quad
              \\mathrm{RR}_s = 1 - \\frac{\\lambda_s}{12\\pi_s}\\frac{\\gamma^{exp}\\Delta p}{e_s/12},\\quad
              \\mathrm{CR}_s = 1 + \\frac{\\rho\\,\\Delta p}{\\kappa_s}

    (the same first-order effect of one unit through the chain as through the direct link),
    Each link is drawn as the model samples it (:func:`cxroi.uncertainty.sample_link`:
    beta-PERT on the transfer-widened range, normal on the natural scale when calibrated),
    averaged on the log scale over segments weighted by the accounts it concerns
    (exposed leavers, exposed expanders, complaints). Ratios are floored at 0.01.

    ``windows``: the exposure window *W* (months) calibration measured a direct link on
    (default 12): an account exposed over *W* months, :math:`\\pi_s = 1 - e^{-\\lambda_s W/12}`.
    """
    rng = np.random.default_rng(seed)
    d = {k: sample_link(k, links[k], n, rng) for k in ("positive_share_today", "odds_ratio", "churn_gap",
                                                "expansion_gap", "repeat_contacts")}
    logit0 = np.log(d["positive_share_today"] / (1 - d["positive_share_today"]))
    dp = 1 / (1 + np.exp(-logit0)) - 1 / (1 + np.exp(-(logit0 + np.log(d["odds_ratio"]) * step)))
    lam = mix.events_per_year

    def exposure(name: str) -> tuple[np.ndarray, np.ndarray]:
        w = (windows or {}).get(name, 12)
        pi = window_share(lam, w)
        ok = pi > 0
        return pi, np.where(ok, lam / 12.0 / np.where(ok, pi, 1.0), 0.0)
    h = 1 - (1 - mix.churn) ** (1 / 12)
    em = mix.expansion_rate / 12.0
    out = {}

    def avg(ratio: np.ndarray, w: np.ndarray) -> np.ndarray:
        w = np.where(np.isfinite(w) & (w > 0), w, 0.0)
        if w.sum() <= 0:
            return np.full(n, np.nan)
        return np.exp(np.log(np.maximum(ratio, 0.01)) @ (w / w.sum()))

    with np.errstate(divide="ignore", invalid="ignore"):
        pi, per_exposed = exposure("churn_hazard_ratio")
        hr = 1 + per_exposed[None, :] * d["churn_gap"][:, None] * dp[:, None] / np.where(h > 0, h, np.inf)[None, :]
        out["churn_hazard_ratio"] = avg(hr, mix.accounts * pi * h)
        pi, per_exposed = exposure("expansion_rate_ratio")
        rr = 1 - per_exposed[None, :] * d["expansion_gap"][:, None] * dp[:, None] / np.where(em > 0, em, np.inf)[None, :]
        out["expansion_rate_ratio"] = avg(rr, mix.accounts * pi * em)
        cr = 1 + d["repeat_contacts"][:, None] * dp[:, None] / np.maximum(mix.contacts_per_event, 1e-9)[None, :]
        out["contacts_ratio"] = avg(cr, mix.accounts * lam)
    return out


#: Smallest standard deviation of a direct link's prior on the log scale: a 95% prior range
#: of at least x/÷1.25 per lever unit around the chain's value. The chain's own spread only
#: reflects the ranges of its links; it says nothing about how well a chain of published
#: gaps describes this company's total effect, so it must not outweigh a company that
#: measures that effect.
DIRECT_PRIOR_MIN_SD = float(np.log(1.25) / Z95)


def direct_prior(name: str, draws: np.ndarray, links: dict[str, Link]) -> Prior | None:
    """Normal prior on the log ratio from the chain-implied draws: their mean, and their
    standard deviation floored at :data:`DIRECT_PRIOR_MIN_SD`. ``source`` is the benchmark
    id of the chain's gap (else of its odds ratio); without any benchmark in the chain the
    prior rests on the base scenario's assumptions (``source`` empty)."""
    x = np.log(draws[np.isfinite(draws) & (draws > 0)])
    if x.size < 10 or not np.isfinite(x.std()):
        return None
    used = (DIRECT_CHAIN[name], "odds_ratio", "positive_share_today")
    ids = list(dict.fromkeys(links[k].source for k in used if k in links and links[k].provenance == "benchmark"))
    text = (f"benchmark prior (the base scenario's chain: {', '.join(ids)})" if ids
            else "prior from the base scenario's assumptions")
    return Prior(float(x.mean()), max(float(x.std(ddof=1)), DIRECT_PRIOR_MIN_SD), ids[0] if ids else "", text)

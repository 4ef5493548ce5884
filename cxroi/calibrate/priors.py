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

Transfer (spec section 6): a benchmark's ``transfer`` in ``benchmarks.yaml`` (``same`` /
``near`` / ``far``) widens its range around the value by x1.0 / x1.5 / x2.0 on the natural
scale; an entry without it counts as ``near``; an ``assumption`` counts as ``far``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from cxroi.calibrate.stats import Z95
from cxroi.scenario import LINK_DOMAINS, Link, load_benchmarks

TRANSFER_WIDTH = {"same": 1.0, "near": 1.5, "far": 2.0}
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


def transfer_width(link: Link) -> float:
    """How much a link's range is widened when it is carried to this company."""
    if link.provenance == "calibrated":
        return 1.0
    if link.provenance == "assumption":
        return TRANSFER_WIDTH["far"]
    entry = load_benchmarks().get(link.source) or {}
    return TRANSFER_WIDTH.get(str(entry.get("transfer", "near")), TRANSFER_WIDTH["near"])


def widened(name: str, link: Link) -> tuple[float, float, float]:
    """``(low, value, high)`` of a link with its range widened for transfer, clipped to the domain."""
    f = transfer_width(link)
    fwd, back = _scale(name)
    v = float(fwd(link.value))
    lo = float(back(v - f * (v - float(fwd(link.low)))))
    hi = float(back(v + f * (float(fwd(link.high)) - v)))
    d_lo, d_hi, _ = LINK_DOMAINS.get(name, (-np.inf, np.inf, ""))[:3]
    return max(lo, d_lo), link.value, min(hi, d_hi)


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
    lo, v, hi = widened(name, link)
    sd = (float(fwd(hi)) - float(fwd(lo))) / (2 * Z95)
    if not (np.isfinite(sd) and sd > 0):
        return None
    return Prior(float(fwd(v)), sd, link.source, f"benchmark prior ({link.source})")


def draw(name: str, link: Link, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` draws of a base link: beta-PERT on its transfer-widened range (calibrated links:
    normal on the natural scale from their 95% interval)."""
    lo, m, hi = widened(name, link)
    if link.provenance == "calibrated":
        fwd, back = _scale(name)
        sd = (float(fwd(hi)) - float(fwd(lo))) / (2 * Z95)
        out = back(rng.normal(float(fwd(m)), max(sd, 0.0), n))
    elif hi - lo <= 0:
        out = np.full(n, m)
    else:
        a = 1.0 + 4.0 * (m - lo) / (hi - lo)
        b = 1.0 + 4.0 * (hi - m) / (hi - lo)
        out = lo + (hi - lo) * rng.beta(a, b, n)
    d_lo, d_hi = LINK_DOMAINS.get(name, (-np.inf, np.inf, ""))[:2]
    return np.clip(out, d_lo, d_hi)


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
                  seed: int = 20261123) -> dict[str, np.ndarray]:
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
    averaged on the log scale over segments weighted by the accounts it concerns
    (exposed leavers, exposed expanders, complaints). Ratios are floored at 0.01.
    """
    rng = np.random.default_rng(seed)
    d = {k: draw(k, links[k], n, rng) for k in ("positive_share_today", "odds_ratio", "churn_gap",
                                                "expansion_gap", "repeat_contacts")}
    logit0 = np.log(d["positive_share_today"] / (1 - d["positive_share_today"]))
    dp = 1 / (1 + np.exp(-logit0)) - 1 / (1 + np.exp(-(logit0 + np.log(d["odds_ratio"]) * step)))
    lam = mix.events_per_year
    pi = 1 - np.exp(-lam)
    ok = pi > 0
    per_exposed = np.where(ok, lam / 12.0 / np.where(ok, pi, 1.0), 0.0)
    h = 1 - (1 - mix.churn) ** (1 / 12)
    em = mix.expansion_rate / 12.0
    out = {}

    def avg(ratio: np.ndarray, w: np.ndarray) -> np.ndarray:
        w = np.where(np.isfinite(w) & (w > 0), w, 0.0)
        if w.sum() <= 0:
            return np.full(n, np.nan)
        return np.exp(np.log(np.maximum(ratio, 0.01)) @ (w / w.sum()))

    with np.errstate(divide="ignore", invalid="ignore"):
        hr = 1 + per_exposed[None, :] * d["churn_gap"][:, None] * dp[:, None] / np.where(h > 0, h, np.inf)[None, :]
        out["churn_hazard_ratio"] = avg(hr, mix.accounts * pi * h)
        rr = 1 - per_exposed[None, :] * d["expansion_gap"][:, None] * dp[:, None] / np.where(em > 0, em, np.inf)[None, :]
        out["expansion_rate_ratio"] = avg(rr, mix.accounts * pi * em)
        cr = 1 + d["repeat_contacts"][:, None] * dp[:, None] / np.maximum(mix.contacts_per_event, 1e-9)[None, :]
        out["contacts_ratio"] = avg(cr, mix.accounts * lam)
    return out


def direct_prior(name: str, draws: np.ndarray, links: dict[str, Link]) -> Prior | None:
    """Normal prior on the log ratio from the chain-implied draws."""
    x = np.log(draws[np.isfinite(draws) & (draws > 0)])
    if x.size < 10 or not np.isfinite(x.std()) or x.std() <= 0:
        return None
    src = links[DIRECT_CHAIN[name]]
    bench = src.source if src.provenance == "benchmark" else "the base scenario's assumptions"
    return Prior(float(x.mean()), float(x.std(ddof=1)), src.source if src.provenance == "benchmark" else "",
                 f"benchmark prior (the base scenario's chain: {bench})")

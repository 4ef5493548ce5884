r"""Value of information: which uncertainty is worth resolving before the money is spent.

The decision is go / no-go on the business case: go earns the NPV, no-go earns 0. On what is
known today the better choice earns :math:`\max(E[\mathrm{NPV}], 0)`; knowing everything
before deciding would earn :math:`E[\max(\mathrm{NPV}, 0)]`. The difference is the expected
value of perfect information,

.. math:: \mathrm{EVPI} = E_\theta[\max(\mathrm{NPV}(\theta), 0)] - \max(E_\theta[\mathrm{NPV}(\theta)], 0),

the most any measurement could be worth. For one link :math:`\phi` (the rest :math:`\psi`
still uncertain), the expected value of partial perfect information is

.. math:: \mathrm{EVPPI}_\phi = E_\phi\big[\max(E_{\psi \mid \phi}[\mathrm{NPV}], 0)\big]
          - \max(E[\mathrm{NPV}], 0).

The inner conditional expectation :math:`g(\phi) = E[\mathrm{NPV} \mid \phi]` is estimated by
regression on the Monte Carlo draws already made (Strong, Oakley & Brennan 2014, *Medical
Decision Making* 34(3), the method of the ``voi`` and BCEA R packages): NPV is smoothed on
the link's draws with a cubic regression spline (B-splines, the number of knots chosen by
generalised cross-validation; :func:`conditional_mean`), on the link's rank scale (the same
conditional expectation, evenly spaced). No extra simulation is run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy.interpolate import BSpline

from cxroi.model import Array
from cxroi.scenario import Scenario
from cxroi.uncertainty import SimulationResult, path_draws

#: Plain words for each link, ``{tp}`` the touchpoint's label.
LINK_LABELS: dict[str, str] = {
    "positive_share_today": "share of {tp} experiences ending well today",
    "odds_ratio": "effect of {tp} on how customers feel",
    "churn_gap": "effect of {tp} on leaving",
    "expansion_gap": "effect of {tp} on buying more",
    "repeat_contacts": "repeat contacts when {tp} goes badly",
    "nps_gap": "effect of {tp} on NPS",
    "csat_gap": "effect of {tp} on CSAT",
    "churn_hazard_ratio": "measured effect of {tp} on leaving",
    "expansion_rate_ratio": "measured effect of {tp} on buying more",
    "contacts_ratio": "measured effect of {tp} on contacts",
    "referrals_per_promoter": "referrals per extra promoter",
}


def link_label(sc: Scenario, path: str) -> str:
    """``touchpoints.complaints.links.churn_gap`` -> "effect of complaint resolution time on
    leaving"; ``cash_flows.<name>`` -> the line's label."""
    parts = path.split(".")
    if parts[0] == "cash_flows":
        return sc.cash_flows[parts[1]].label
    tp = sc.touchpoints[parts[1]].label if parts[0] == "touchpoints" else ""
    return LINK_LABELS.get(parts[-1], parts[-1].replace("_", " ")).format(tp=tp)


@dataclass(frozen=True)
class VOI:
    """Value of information of a go / no-go decision.

    Attributes
    ----------
    evpi : float
        Expected value of perfect information (money): the most resolving every uncertainty
        before deciding could be worth.
    table : pandas.DataFrame
        One row per uncertain link or cash-flow line, largest first: ``link`` (key path),
        ``label`` (plain words), ``evppi`` (money), ``share_of_evpi``.
    sentence : str
        "Measuring the effect of ... before deciding is worth up to $210k; measuring the rest
        is worth less than $5k each".
    expected_npv : float
        Mean of the decision metric over the draws.
    decision : str
        ``go`` or ``no-go``: the better choice on what is known today.
    groups : pandas.DataFrame
        EVPPI of links measured together (one study measures several): ``group`` (plain
        words, e.g. "everything about complaint resolution time"), ``links`` (key paths),
        ``evppi``, ``share_of_evpi``; by default one group per touchpoint with two or more
        uncertain links.
    """

    evpi: float
    table: pd.DataFrame
    sentence: str
    expected_npv: float
    decision: str
    metric: str
    currency: str
    groups: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["group", "links", "evppi", "share_of_evpi"]))


#: Interior knots tried for the regression spline (chosen by generalised cross-validation).
KNOTS: tuple[int, ...] = (0, 1, 2, 3, 4, 6, 8, 10, 12)
#: Knots tried when several links are fitted together (each adds its own columns).
GROUP_KNOTS: tuple[int, ...] = (0, 1, 2, 4)


def _ranks(x: Array) -> tuple[Array, Array, int]:
    """Mid-rank of each draw in (0, 1), the index of its distinct value, and how many
    distinct values there are."""
    ux, inv, counts = np.unique(x, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    return ((np.cumsum(counts) - 0.5 * counts) / x.size)[inv], inv, ux.size


def _spline_basis(u: Array, m: int) -> Array:
    """Cubic B-spline basis with ``m`` equally spaced interior knots on [0, 1], ``(n, m + 4)``."""
    knots = np.concatenate([[0.0] * 3, np.linspace(0.0, 1.0, m + 2), [1.0] * 3])
    return BSpline(knots, np.eye(m + 4), 3)(u)


@lru_cache(maxsize=2 * len(KNOTS))
def _grid_basis(n: int, m: int) -> Array:
    """:func:`_spline_basis` on the mid-ranks of ``n`` distinct draws, in rank order
    (read-only, cached: every link without ties has these ranks, in its own order)."""
    basis = _spline_basis((np.arange(n) + 0.5) / n, m)
    basis.flags.writeable = False
    return basis


@lru_cache(maxsize=2 * len(KNOTS))
def _grid_design(n: int, m: int) -> tuple[Array, Array]:
    r"""The regression's design on the rank grid of ``n`` distinct draws, ``G`` (an
    intercept and :func:`_grid_basis` less its first column, rows in rank order), and its
    Gram matrix :math:`G^\top G` (read-only, cached)."""
    design = np.column_stack([np.ones(n), _grid_basis(n, m)[:, 1:]])
    gram = design.T @ design
    design.flags.writeable = False
    gram.flags.writeable = False
    return design, gram


def _rank_basis(u: Array, inv: Array, k: int, m: int) -> Array:
    """:func:`_spline_basis` of mid-ranks ``u`` (from :func:`_ranks`): for draws without
    ties, rows of the cached :func:`_grid_basis` (the same numbers: B-splines are evaluated
    point by point), else computed."""
    return _grid_basis(u.size, m)[inv] if k == u.size else _spline_basis(u, m)


def conditional_mean(x: Array, y: Array) -> Array:
    r"""Estimate :math:`E[y \mid x]` at every draw by a cubic regression spline.

    ``x`` is put on its rank scale :math:`u \in (0, 1)` (mid-ranks; ties share one), where the
    draws are evenly spread, and ``y`` is regressed by least squares on the cubic B-spline
    basis with :math:`m` equally spaced interior knots; :math:`m` is chosen from
    :data:`KNOTS` by generalised cross-validation,
    :math:`\mathrm{GCV}(m) = n\,\mathrm{RSS}_m / (n - p_m)^2`. B-splines sum to one, so the
    fitted values average exactly to the mean of ``y``. A link with fewer than five distinct
    values gets its group means (the conditional expectation itself).

    With ``x`` of shape ``(n, L)`` (several links measured together) the regression is
    additive, :math:`E[y \mid x] \approx c + \sum_l f_l(x_l)` (a GAM without interactions):
    an intercept and each link's basis less one column (they each sum to one), one ``m``
    for all by GCV from :data:`GROUP_KNOTS`; a link with few distinct values enters as
    indicators.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    n = x.shape[0]
    cols = [_ranks(x[:, j]) for j in range(x.shape[1])] if x.ndim == 2 else [_ranks(x)]
    if x.ndim == 1 and cols[0][2] < 5:
        inv = cols[0][1]
        return (np.bincount(inv, weights=y) / np.bincount(inv))[inv]
    dummies = [np.eye(k)[inv][:, 1:] for _, inv, k in cols if k < 5]
    smooth = [(u, inv, k) for u, inv, k in cols if k >= 5]
    if x.ndim == 1 and cols[0][2] == n:
        # one link without ties: its design is the rank grid's with the rows permuted,
        # B = P G, so B'B = G'G (cached, _grid_design), B'y = G'z with z = y in rank order,
        # and the fit is P G c: the same least squares, a third of the time (to rounding)
        inv = cols[0][1]
        target = np.empty(n)
        target[inv] = y

        def design(m: int) -> tuple[Array, Array]:
            return _grid_design(n, m)
    else:
        inv, target = None, y

        def design(m: int) -> tuple[Array, Array]:
            b = np.column_stack([np.ones(n), *dummies,
                                 *(_rank_basis(u, iv, k, m)[:, 1:] for u, iv, k in smooth)])
            return b, b.T @ b
    best: tuple[float, Array] | None = None
    for m in KNOTS if len(cols) == 1 else GROUP_KNOTS:
        p = 1 + sum(d.shape[1] for d in dummies) + len(smooth) * (m + 3)
        if smooth and p >= min(min(k for _, _, k in cols if k >= 5), n // 10):
            break
        basis, gram = design(m)
        # normal equations: B-spline bases are well conditioned and p is small
        fit = basis @ np.linalg.lstsq(gram, basis.T @ target, rcond=None)[0]
        gcv = n * float(np.sum((target - fit) ** 2)) / (n - p) ** 2
        if best is None or gcv < best[0]:
            best = (gcv, fit)
        if not smooth:
            break
    if best is None:  # too few draws for a spline: straight lines
        basis = np.column_stack([np.ones(n), *dummies, *(u for u, _, _ in smooth)])
        return basis @ np.linalg.lstsq(basis, y, rcond=None)[0]
    return best[1] if inv is None else best[1][inv]


def _evppi(x: Array, nb: Array) -> float:
    g = conditional_mean(x, nb)
    return float(np.mean(np.maximum(g, 0.0)) - max(float(np.mean(g)), 0.0))


def _ceil_nice(x: float) -> float:
    """Round up to one significant figure: 3,412 -> 4,000."""
    if x <= 0:
        return 0.0
    mag = 10.0 ** math.floor(math.log10(x))
    return math.ceil(x / mag - 1e-9) * mag


def value_of_information(result: SimulationResult, metric: str = "npv",
                         links: list[str] | None = None,
                         groups: Mapping[str, Sequence[str]] | None = None) -> VOI:
    """EVPI of the go / no-go decision and EVPPI of each uncertain link, from the draws.

    Parameters
    ----------
    result : SimulationResult
        From :func:`cxroi.uncertainty.simulate`; its draws are reused (nothing is re-run).
    metric : str
        The net benefit of going ahead: ``npv`` (default) or ``npv_risk_adjusted``.
    links : list of str, optional
        Key paths to value (default: every link and cash-flow line that varies).
    groups : mapping of str to list of str, optional
        Sets of links measured together, by name (default: every touchpoint's uncertain
        links, "everything about <touchpoint>"); valued by an additive regression on all of
        them (:func:`conditional_mean`).

    Returns
    -------
    VOI

    Notes
    -----
    Each EVPPI is clipped to ``[0, EVPI]``: the regression estimate can stray by its own
    error, but the information on one link can never be worth more than on all of them.
    """
    sc = result.scenario
    nb = np.asarray(result.draws[metric], float)
    mean_nb = float(nb.mean())
    evpi = max(float(np.mean(np.maximum(nb, 0.0))) - max(mean_nb, 0.0), 0.0)
    paths = links if links is not None else sc.uncertain_paths()
    rows = []
    for path in paths:
        x = path_draws(sc, result.params, path)
        if np.ptp(x) == 0:
            continue
        raw = _evppi(x, nb)
        rows.append({"link": path, "label": link_label(sc, path),
                     "evppi": min(max(raw, 0.0), evpi), "evppi_raw": raw})
    table = pd.DataFrame(rows, columns=["link", "label", "evppi", "evppi_raw"])
    table = table.sort_values("evppi", ascending=False, kind="stable").reset_index(drop=True)
    table["share_of_evpi"] = table["evppi"] / evpi if evpi > 0 else 0.0
    varying = set(table["link"])
    if groups is None:
        groups = {f"everything about {tp.label}": [p for p in table["link"]
                                                   if p.startswith(f"touchpoints.{k}.")]
                  for k, tp in sc.touchpoints.items()}
    grows = []
    for gname, members in groups.items():
        members = [p for p in members if p in varying]
        if len(members) < 2:
            continue
        x = np.column_stack([path_draws(sc, result.params, p) for p in members])
        grows.append({"group": gname, "links": members,
                      "evppi": min(max(_evppi(x, nb), 0.0), evpi)})
    gtab = pd.DataFrame(grows, columns=["group", "links", "evppi"])
    gtab = gtab.sort_values("evppi", ascending=False, kind="stable").reset_index(drop=True)
    gtab["share_of_evpi"] = gtab["evppi"] / evpi if evpi > 0 else 0.0
    return VOI(evpi=evpi, table=table, sentence=voi_sentence(evpi, table, sc.currency, mean_nb),
               expected_npv=mean_nb, decision="go" if mean_nb > 0 else "no-go",
               metric=metric, currency=sc.currency, groups=gtab)


def voi_sentence(evpi: float, table: pd.DataFrame, currency: str, expected: float) -> str:
    """The plain sentence of :class:`VOI` (what to measure next, in money), without a final
    full stop (callers end or continue it)."""
    from cxroi.pitch import money

    scale = max(abs(expected), 1.0)
    if table.empty or evpi <= 1e-3 * scale or table["evppi"].iloc[0] <= 1e-3 * scale:
        return (f"The decision is clear on what is known: even perfect information on every "
                f"link is worth at most {money(evpi, currency)}, so nothing needs measuring "
                "before deciding")
    top = table["evppi"].iloc[0]
    lead = table[table["evppi"] >= 0.5 * top].head(3)
    named = [f"the {r.label} before deciding is worth up to {money(r.evppi, currency)}"
             if i == 0 else f"the {r.label} up to {money(r.evppi, currency)}"
             for i, r in enumerate(lead.itertuples())]
    text = "Measuring " + ", ".join(named)
    rest = table.iloc[len(lead):]
    if not rest.empty:
        cap = _ceil_nice(float(rest["evppi"].max()))
        text += ("; measuring the rest is worth nothing before deciding" if cap == 0 else
                 f"; measuring the rest is worth less than {money(cap, currency)} each")
    return text

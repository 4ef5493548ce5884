r"""Rank correlations between links, imposed on their draws (Iman & Conover)."""

from __future__ import annotations

import numpy as np

from cxroi.model import Array
from cxroi.scenario import Scenario, correlation_matrix, rank_to_normal


def path_draws(sc: Scenario, params: dict[str, Array], path: str) -> Array:
    """The ``(D,)`` draws of one key path: a link's value, or a cash-flow line's
    undiscounted total (``cash_flows.<name>``)."""
    parts = path.split(".")
    if parts[0] == "touchpoints":
        return params[parts[-1]][:, list(sc.touchpoints).index(parts[1])]
    if parts[0] == "cash_flows":
        return params["cash_flow_lines"][:, list(sc.cash_flows).index(parts[1])]
    return params[parts[-1]]


def correlate(sc: Scenario, params: dict[str, Array], amounts: dict[str, Array],
              rng: np.random.Generator) -> None:
    r"""Reorder the draws of the links named in ``sc.correlations`` so that their rank
    correlations are the ones stated (Gaussian copula on ranks, Iman & Conover 1982).

    Each link keeps exactly the values it was drawn with (its marginal is unchanged); only
    which draw a value sits in changes. With :math:`R` the stated rank correlations,
    :math:`Z \sim N(0, \Sigma)` with :math:`\Sigma_{ij} = 2 \sin(\pi R_{ij} / 6)` (the normal
    correlation with Spearman correlation :math:`R_{ij}`), and link :math:`j`'s sorted draws
    are placed in the rank order of :math:`Z_j`. A cash-flow line moves as a whole (its rows
    ranked by their total). Changes ``params`` and ``amounts`` in place.
    """
    paths, rank_corr = correlation_matrix(sc)
    n = len(next(iter(params.values())))
    w, v = np.linalg.eigh(rank_to_normal(rank_corr))
    z = rng.standard_normal((n, len(paths))) @ (v * np.sqrt(np.clip(w, 0.0, None))).T
    tps = list(sc.touchpoints)
    for j, path in enumerate(paths):
        ranks = np.argsort(np.argsort(z[:, j], kind="stable"), kind="stable")
        parts = path.split(".")
        if parts[0] == "cash_flows":
            rows = amounts[parts[1]]
            amounts[parts[1]] = rows[np.argsort(rows.sum(axis=1), kind="stable")[ranks]]
            continue
        name = parts[-1]
        col = params[name][:, tps.index(parts[1])] if parts[0] == "touchpoints" else params[name]
        new = np.sort(col)[ranks]
        if parts[0] == "touchpoints":
            params[name][:, tps.index(parts[1])] = new
        else:
            params[name] = new


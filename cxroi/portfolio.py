"""A portfolio of CX initiatives ranked and selected under a budget.

Each initiative is a scenario, simulated on its own. :func:`rank_portfolio` picks the
subset whose cost fits the budget and whose *expected* (mean) value is largest -- a 0/1
knapsack, solved exactly by enumeration for up to 16 initiatives and by dynamic
programming on costs rounded *up* (so the pick never exceeds the budget) beyond that --
and ranks every initiative by value per unit of cost. The value is risk-adjusted NPV by
default (Forrester TEI haircuts), so a risky initiative has to earn its place.

The portfolio's own range adds the selected initiatives' draws index by index. Each
scenario draws with its own seed; scenarios that share the default seed and the same
benchmark links get strongly correlated draws, which is the cautious reading (shared
benchmarks are wrong together). Initiatives that touch the same customers can overlap:
model them together in one scenario (as ``cx-programme.yaml`` does) when that matters.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cxroi.errors import CxroiError
from cxroi.finance import discount_factors
from cxroi.model import OUTPUTS
from cxroi.pitch import money
from cxroi.scenario import Scenario, load_scenario, scenario_files
from cxroi.uncertainty import SimulationResult, simulate

#: How an initiative's cost is counted against the budget.
COST_BASES: dict[str, str] = {
    "total": "one-off plus running costs over the horizon",
    "one_off": "one-off cost only",
    "first_year": "one-off plus the first year's running cost",
    "pv": "present value of all costs",
}
#: Values an initiative can be ranked by (money outputs of the model).
METRICS = ("npv_risk_adjusted", "npv", "pv_benefits", "total_benefits")


class PortfolioError(CxroiError):
    """A portfolio that cannot be built (no initiatives, a bad budget or setting)."""


def cost_of(sc: Scenario, basis: str = "total") -> float:
    """The cost of one initiative counted against the budget (see :data:`COST_BASES`):
    its one-off and running costs and its own cost lines (TEI style, at their likely
    amounts, placed on the months as the model places them: month 0 is up front)."""
    c, h = sc.costs, sc.finance.horizon_months
    lines = np.zeros(h + 1)  # the cost lines by month
    if sc.cash_flows:
        from cxroi.cashflow import cash_flow_params

        lines = cash_flow_params(sc, {k: np.asarray([cf.likely], float)
                                      for k, cf in sc.cash_flows.items()})["cash_costs"][0]
    if basis == "total":
        return float(c.one_off + c.running_per_year * h / 12 + lines.sum())
    if basis == "one_off":
        return float(c.one_off + lines[0])
    if basis == "first_year":
        return float(c.one_off + c.running_per_year * min(h, 12) / 12 + lines[:13].sum())
    if basis == "pv":
        df = discount_factors(h, sc.finance.discount_rate)
        return float(c.one_off + c.running_per_year / 12 * df[1:].sum() + lines @ df)
    raise PortfolioError(f"cost basis '{basis}' is not known. Fix: use one of "
                         f"{', '.join(COST_BASES)}")


def select(costs: np.ndarray, values: np.ndarray, budget: float,
           resolution: int = 20_000) -> np.ndarray:
    """The subset with the largest total value whose total cost fits the budget.

    Parameters
    ----------
    costs, values : ndarray
        One entry per item; items with value <= 0 are never worth picking.
    budget : float
    resolution : int
        Cost units of the dynamic programme used above 16 items (costs are rounded up to
        ``budget / resolution``, so the result always fits the budget).

    Returns
    -------
    ndarray of bool
        The selection.
    """
    costs, values = np.asarray(costs, float), np.asarray(values, float)
    n = costs.size
    useful = (values > 0) & (costs <= budget + 1e-9)
    idx = np.flatnonzero(useful)
    pick = np.zeros(n, bool)
    if idx.size == 0:
        return pick
    c, v = costs[idx], values[idx]
    if idx.size <= 16:
        masks = (np.arange(1 << idx.size)[:, None] >> np.arange(idx.size)[None, :]) & 1
        tot_c, tot_v = masks @ c, masks @ v
        tot_v = np.where(tot_c <= budget * (1 + 1e-12) + 1e-9, tot_v, -np.inf)
        best = masks[int(np.argmax(tot_v))].astype(bool)
        pick[idx[best]] = True
        return pick
    unit = budget / resolution if budget > 0 else 1.0
    w = np.ceil(c / unit - 1e-9).astype(int)
    cap = resolution
    table = np.zeros(cap + 1)
    keep = np.zeros((idx.size, cap + 1), bool)
    for i in range(idx.size):
        if w[i] > cap:
            continue
        cand = np.full(cap + 1, -np.inf)
        cand[w[i]:] = table[: cap + 1 - w[i]] + v[i]
        better = cand > table
        keep[i] = better
        table = np.where(better, cand, table)
    j = int(np.argmax(table))
    for i in range(idx.size - 1, -1, -1):
        if keep[i, j]:
            pick[idx[i]] = True
            j -= w[i]
    return pick


@dataclass
class Portfolio:
    """Initiatives ranked, and the ones selected under the budget.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per initiative, best value per unit of cost first: ``initiative``,
        ``cost``, ``<metric>_p10/_p50/_p90/_mean``, ``npv_p50``, ``roi_p50``,
        ``payback_month_p50``, ``prob_loss``, ``value_per_cost``, ``rank``, ``selected``,
        ``cumulative_cost`` (of the selected ones, in rank order).
    results : dict of str to SimulationResult
        By initiative.
    total : dict
        The selected portfolio: ``cost``, ``p10``, ``p50``, ``p90``, ``mean`` of the metric
        and ``prob_loss``.
    """

    table: pd.DataFrame
    results: dict[str, SimulationResult]
    budget: float
    metric: str
    cost_basis: str
    currency: str
    total: dict[str, float]
    overlaps: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    @property
    def selected(self) -> list[str]:
        """Names of the selected initiatives, in rank order."""
        return list(self.table.loc[self.table["selected"], "initiative"])

    def summary(self) -> str:
        """One paragraph for the budget meeting."""
        cur, t = self.currency, self.total
        if not self.selected:
            return (f"No initiative fits a budget of {money(self.budget, cur)} with a positive "
                    f"expected {self.metric.replace('_', ' ')}.")
        names = ", ".join(self.selected)
        label = OUTPUTS[self.metric][0]
        label = label[0].lower() + label[1:]
        caution = "".join(
            f" Caution: {a} and {b} both move {', '.join(tps)} for the same segments, so their "
            "benefits overlap and the total overstates them; model them together as one "
            "scenario." for a, b, tps in self.overlaps)
        return (f"Within a budget of {money(self.budget, cur)}, fund {names}: "
                f"{money(t['cost'], cur)} ({COST_BASES[self.cost_basis]}) for a "
                f"{label} of {money(t['p50'], cur)} "
                f"(P10–P90 {money(t['p10'], cur)} to {money(t['p90'], cur)}, "
                f"{t['prob_loss'] * 100:.0f}% chance of losing money).{caution}")


def _collect(scenarios: Iterable[Scenario | str | os.PathLike[str]] | str | os.PathLike[str]
             ) -> list[tuple[str, Scenario]]:
    if isinstance(scenarios, str | os.PathLike):
        p = Path(scenarios)
        if p.is_dir():
            files = scenario_files(p)
            if not files:
                raise PortfolioError(f"{p}: no scenario files (*.yaml). Fix: point at a folder "
                                     "of scenarios, e.g. data/scenarios")
            return [(f.stem, load_scenario(f)) for f in files]
        return [(p.stem, load_scenario(p))]
    out: list[tuple[str, Scenario]] = []
    for item in scenarios:
        if isinstance(item, Scenario):
            out.append((item.name, item))
        else:
            out.append((Path(item).stem, load_scenario(item)))
    return out


def rank_portfolio(scenarios: Iterable[Scenario | str | os.PathLike[str]] | str | os.PathLike[str],
                   budget: float, metric: str = "npv_risk_adjusted", cost_basis: str = "total",
                   draws: int | None = None, seed: int | None = None) -> Portfolio:
    """Rank initiatives and select the best set within a budget.

    Parameters
    ----------
    scenarios : folder, file, or iterable of Scenario / paths
        The candidate initiatives (files are named by their stem, scenarios by ``name``).
    budget : float
        Money available, in the scenarios' currency, counted by ``cost_basis``.
    metric : str
        The value to maximise (its mean over the draws): one of :data:`METRICS`.
    cost_basis : str
        One of :data:`COST_BASES`.
    draws, seed : int, optional
        Simulation settings for every initiative (default: each scenario's own).

    Raises
    ------
    PortfolioError
        No initiatives, a negative budget, an unknown metric or cost basis, or mixed
        currencies.
    """
    if not (isinstance(budget, int | float) and math.isfinite(budget) and budget >= 0):
        raise PortfolioError(f"budget must be a non-negative amount (got {budget!r}). Fix: "
                             "e.g. budget = 1_000_000")
    if metric not in METRICS:
        raise PortfolioError(f"metric '{metric}' cannot rank a portfolio. Fix: use one of "
                             f"{', '.join(METRICS)}")
    if cost_basis not in COST_BASES:
        raise PortfolioError(f"cost basis '{cost_basis}' is not known. Fix: use one of "
                             f"{', '.join(COST_BASES)}")
    items = _collect(scenarios)
    if not items:
        raise PortfolioError("no initiatives given. Fix: pass scenario files or a folder")
    currencies = {sc.currency for _, sc in items}
    if len(currencies) > 1:
        raise PortfolioError(f"initiatives use different currencies ({', '.join(sorted(currencies))})."
                             " Fix: convert them to one currency before ranking")
    names: list[str] = []
    for name, _ in items:
        base, n = name, 2
        while name in names:
            name, n = f"{base} ({n})", n + 1
        names.append(name)
    results = {n: simulate(sc, draws=draws, seed=seed) for n, (_, sc) in zip(names, items,
                                                                               strict=True)}
    rows = []
    for n, (_, sc) in zip(names, items, strict=True):
        r = results[n]
        x = r.draws[metric]
        rows.append({"initiative": n, "scenario": sc.name, "cost": cost_of(sc, cost_basis),
                     f"{metric}_p10": r.quantile(metric, 0.1),
                     f"{metric}_p50": r.quantile(metric, 0.5),
                     f"{metric}_p90": r.quantile(metric, 0.9),
                     f"{metric}_mean": float(np.mean(x)),
                     "npv_p50": r.quantile("npv", 0.5), "roi_p50": r.quantile("roi", 0.5),
                     "payback_month_p50": r.quantile("payback_month", 0.5),
                     "prob_loss": r.prob_loss})
    t = pd.DataFrame(rows)
    t["value_per_cost"] = np.where(t["cost"] > 0, t[f"{metric}_mean"] / t["cost"].where(
        t["cost"] > 0, 1.0), np.inf)
    t["selected"] = select(t["cost"].to_numpy(), t[f"{metric}_mean"].to_numpy(), budget)
    t = t.sort_values(["selected", "value_per_cost"], ascending=[False, False],
                      kind="stable").reset_index(drop=True)
    t["rank"] = np.arange(1, len(t) + 1)
    t["cumulative_cost"] = np.where(t["selected"], t["cost"].where(t["selected"], 0).cumsum(),
                                    np.nan)
    chosen = [results[n] for n in t.loc[t["selected"], "initiative"]]
    if chosen:
        size = min(r.n_draws for r in chosen)
        total_draws = np.sum([r.draws[metric][:size] for r in chosen], axis=0)
        total = {"cost": float(t.loc[t["selected"], "cost"].sum()),
                 "p10": float(np.quantile(total_draws, 0.1)),
                 "p50": float(np.quantile(total_draws, 0.5)),
                 "p90": float(np.quantile(total_draws, 0.9)),
                 "mean": float(total_draws.mean()),
                 "prob_loss": float(np.mean(total_draws < 0))}
    else:
        total = {"cost": 0.0, "p10": 0.0, "p50": 0.0, "p90": 0.0, "mean": 0.0,
                 "prob_loss": 0.0}
    picked = dict(zip(names, (sc for _, sc in items), strict=True))
    chosen_names = list(t.loc[t["selected"], "initiative"])
    overlaps = tuple(
        (a, b, tuple(picked[a].touchpoints[k].label for k in shared))
        for i, a in enumerate(chosen_names) for b in chosen_names[i + 1:]
        if (shared := _moved(picked[a]) & _moved(picked[b]))
        and {s.name for s in picked[a].segments} & {s.name for s in picked[b].segments})
    return Portfolio(t, results, float(budget), metric, cost_basis, currencies.pop(), total,
                     overlaps)


def _moved(sc: Scenario) -> set[str]:
    """Touchpoints whose lever the scenario moves."""
    return {k for k, tp in sc.touchpoints.items() if tp.lever.target != tp.lever.today}

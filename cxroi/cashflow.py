"""Cash-flow lines a scenario states outright, TEI style: licence savings, staff time, an
implementation paid by year -- each with amounts by year or month, an optional low-high range
and a risk adjustment -- placed on the model's months beside its own lines.
See ``docs/model.md`` section 4b.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from cxroi.scenario import Scenario

Array = NDArray[np.float64]


def cash_flow_params(sc: Scenario, amounts: Mapping[str, Array]) -> dict[str, Array]:
    r"""The scenario's cash-flow lines placed on the model's months, per draw.

    Parameters
    ----------
    sc : Scenario
    amounts : mapping of line name to ndarray
        ``(D, T)`` amounts of each line by its period (index 0 up front).

    Returns
    -------
    dict of str to ndarray
        ``cash_benefits``, ``cash_costs`` ``(D, H + 1)`` by month (a yearly amount for year
        :math:`y` falls at month :math:`12 y`; year 0 at month 0, undiscounted), their
        risk-adjusted versions ``cash_benefits_adj`` (:math:`b - r\,b`: TEI haircut) and
        ``cash_costs_adj`` (:math:`c (1 + r)`: uplift), and ``cash_flow_lines`` ``(D, L)``,
        each line's undiscounted total per draw.
    """
    h = sc.finance.horizon_months
    d = next(iter(amounts.values())).shape[0]
    out = {k: np.zeros((d, h + 1)) for k in ("cash_benefits", "cash_costs",
                                             "cash_benefits_adj", "cash_costs_adj")}
    totals = []
    for name, cf in sc.cash_flows.items():
        a = np.asarray(amounts[name], float)
        months = np.arange(a.shape[1]) * (12 if cf.by == "year" else 1)
        side = "cash_benefits" if cf.kind == "benefit" else "cash_costs"
        out[side][:, months] += a
        adj = a * (1.0 - cf.risk) if cf.kind == "benefit" else a * (1.0 + cf.risk)
        out[f"{side}_adj"][:, months] += adj
        totals.append(a.sum(axis=1))
    out["cash_flow_lines"] = np.stack(totals, axis=1)
    return out

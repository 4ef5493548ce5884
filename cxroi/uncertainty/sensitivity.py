r"""Which links move the result most (:func:`tornado`), and how far a lever must move to
break even (:func:`breakeven`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cxroi.cashflow import cash_flow_params
from cxroi.model import Array, Inputs, compile_inputs, likely_params, run_flywheel
from cxroi.scenario import Scenario
from cxroi.uncertainty.sampling import sampling_range


def tornado(sc: Scenario, metric: str = "npv", inputs: Inputs | None = None) -> pd.DataFrame:
    """Which links move ``metric`` most: each link at its low and high, the others likely.

    A cash-flow line with a range is a row too (``cash_flows.<name>``; low / likely / high
    are its undiscounted totals). All ``2 L`` variants run in one vectorised call. Sorted by
    swing, largest first.
    """
    inp = inputs if inputs is not None else compile_inputs(sc)
    base = likely_params(sc)
    rows: list[dict[str, Any]] = []
    variants: dict[str, list[Array]] = {k: [] for k in base}
    for path, link in sc.link_paths().items():
        parts = path.split(".")
        name = parts[-1]
        k = list(sc.touchpoints).index(parts[1]) if parts[0] == "touchpoints" else None
        low, likely, high = sampling_range(name, link)
        for end in (low, high):
            for key, arr in base.items():
                row = arr[0].copy()
                if key == name:
                    if k is None:
                        row = np.asarray(end, float)
                    else:
                        row[k] = end
                variants[key].append(row)
        tp_label = sc.touchpoints[parts[1]].label if k is not None else "all touchpoints"
        rows.append({"link": path, "name": name, "touchpoint": tp_label,
                     "provenance": link.provenance, "source": link.source,
                     "low": low, "likely": likely, "high": high})
    for name, cf in sc.cash_flows.items():  # a cash-flow line with a range: at its low, high
        lo, hi = cf.low or cf.likely, cf.high or cf.likely
        if lo == hi:
            continue
        for end in (lo, hi):
            amounts = {k: np.array([c.likely], float) for k, c in sc.cash_flows.items()}
            amounts[name] = np.array([end], float)
            moved = cash_flow_params(sc, amounts)
            for key, arr in base.items():
                variants[key].append((moved[key] if key in moved else arr)[0].copy())
        rows.append({"link": f"cash_flows.{name}", "name": name, "touchpoint": cf.label,
                     "provenance": cf.provenance, "source": cf.source, "low": float(sum(lo)),
                     "likely": float(sum(cf.likely)), "high": float(sum(hi))})
    params = {k: np.stack(v) for k, v in variants.items()}
    want_irr = metric == "irr"
    res = run_flywheel(inp, params, irr=want_irr)[metric]
    base_val = float(run_flywheel(inp, base, irr=want_irr)[metric][0])
    df = pd.DataFrame(rows)
    df[f"{metric}_at_low"] = res[0::2]
    df[f"{metric}_at_high"] = res[1::2]
    df["base"] = base_val
    df["swing"] = (df[f"{metric}_at_high"] - df[f"{metric}_at_low"]).abs()
    return df.sort_values("swing", ascending=False, kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class Breakeven:
    """How far a lever must move for the programme to break even within the horizon.

    ``target`` is the lever value at which likely NPV = 0 (a discounted payback exactly at
    the horizon's end); ``None`` when even the best value in range does not pay back, in
    which case ``reason`` says so.
    """

    touchpoint: str
    metric: str
    today: float
    planned_target: float
    target: float | None
    npv_at_planned: float
    reason: str = ""


def breakeven(sc: Scenario, touchpoint: str, tolerance: float = 1e-4) -> Breakeven:
    """Lever value at which likely NPV crosses zero, by bisection between today and the
    metric's best bound (``minimum`` / ``maximum`` of the touchpoint).

    NPV is monotone in the target (a better target never lowers any benefit), so bisection
    on the target is exact to ``tolerance`` (relative).
    """
    tp = sc.touchpoints[touchpoint]
    today = tp.lever.today
    best = tp.minimum if tp.better == "lower" else tp.maximum
    if best is None:
        best = today / 1024 if tp.better == "lower" else today + 100 * tp.step

    def npv_at(x: float) -> float:
        return float(run_flywheel(compile_inputs(sc.with_lever(touchpoint, target=x)),
                                  likely_params(sc), irr=False)["npv"][0])

    planned = npv_at(tp.lever.target)
    common = dict(touchpoint=touchpoint, metric=tp.metric, today=today,
                  planned_target=tp.lever.target, npv_at_planned=planned)
    if npv_at(today) >= 0:
        others = any(o.lever.target != o.lever.today
                     for k, o in sc.touchpoints.items() if k != touchpoint)
        reason = ("pays back even with this lever left where it is (the other levers carry it)"
                  if others else "pays back with no improvement at all")
        return Breakeven(target=today, reason=reason, **common)
    if npv_at(best) < 0:
        return Breakeven(target=None, reason=f"does not pay back within "
                         f"{sc.finance.horizon_months} months even at {best} {tp.unit}",
                         **common)
    lo, hi = today, best  # npv(lo) < 0 <= npv(hi)
    log = tp.scale == "log2"
    for _ in range(100):
        mid = float(np.sqrt(lo * hi)) if log else 0.5 * (lo + hi)
        if npv_at(mid) >= 0:
            hi = mid
        else:
            lo = mid
        if abs(hi - lo) <= tolerance * max(abs(hi), 1e-9):
            break
    return Breakeven(target=hi, **common)

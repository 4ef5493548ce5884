"""The numbers behind each chart: labels, palette, waterfall and tornado rows, flywheel
figures and layout, shared by the altair charts (:mod:`cxroi.charts.altair_charts`) and
the plain Vega-Lite specs (:mod:`cxroi.charts.specs`), so both draw the very same data.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cxroi.finance import discount_factors
from cxroi.pitch import _SYMBOLS, chance, fmt, lever_value, money
from cxroi.provenance import LINK_NAMES

if TYPE_CHECKING:
    from cxroi.scenario import Scenario
    from cxroi.uncertainty import SimulationResult

#: Plain words for each link of the flywheel (tornado rows, source tables).
LINK_LABELS: dict[str, str] = dict(LINK_NAMES)

#: Benefit lines in the order the waterfall shows them.
LINE_LABELS: dict[str, str] = {
    "retention_savings": "Retention savings",
    "cross_sell": "Cross-sell",
    "cost_to_serve_savings": "Cost to serve",
    "advocacy": "Advocacy",
}
#: The bar of a scenario's own benefit cash-flow lines (TEI style), after the model's lines;
#: shown only when the scenario has such a line (see :func:`waterfall_lines`).
OTHER_BENEFITS: tuple[str, str] = ("other_benefits", "Other benefits")

#: The palette: benefits green, costs red, neutral grey, range blue.
GAIN, LOSS, TOTAL, BAND, INK, MUTED = "#1b7a4a", "#b8322a", "#23395d", "#8fb3de", "#222", "#777"

_FONT = "Helvetica, Arial, sans-serif"


def _money_expr(currency: str) -> str:
    """Vega expression labelling an axis value as money in ``currency``."""
    sym = _SYMBOLS.get(currency, currency + " ").replace("'", "\\'")
    return (f"(datum.value < 0 ? '-' : '') + '{sym}' + "
            f"replace(format(abs(datum.value), '~s'), 'G', 'B')")


def _finite(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, float)
    return x[np.isfinite(x)]


# --------------------------------------------------------------------------------------
# Waterfall
# --------------------------------------------------------------------------------------


#: Waterfall bases: what statistic of the draws the bars show (see :func:`waterfall_data`).
WATERFALL_BASES: dict[str, str] = {
    "p50": "make-up of the median (P50) outcome",
    "mean": "average over the simulations",
    "likely": "likely case, every input at its most likely value",
}
#: The simulations whose NPV lies within this many quantile points of the median make up
#: the ``p50`` waterfall (P40-P60).
MEDIAN_BAND = 0.10


def waterfall_data(res: SimulationResult, basis: str = "p50") -> pd.DataFrame:
    r"""Present value of each benefit line and of the costs, which add up to NPV.

    Parameters
    ----------
    res : SimulationResult
    basis : {"p50", "mean", "likely"}
        ``p50`` (default, the statistic every headline figure uses) shows the make-up of the
        median outcome: each line's present value averaged over the simulations whose NPV
        lies between P40 and P60, then the small remainder to the P50 NPV spread over the
        lines in proportion to their size, so the bars end exactly at the NPV P50 the
        report's cards and the pitch show,

        .. math:: b_i = \bar v_i + (\mathrm{NPV}_{50} + PV_{costs} - \textstyle\sum_j \bar v_j)
                  \, |\bar v_i| / \textstyle\sum_j |\bar v_j|.

        ``mean`` averages each line's present value over all draws (means add up, so the
        bars end exactly at the mean NPV); ``likely`` uses the run with every link at its
        most likely value.

    Returns
    -------
    pandas.DataFrame
        Columns ``step``, ``kind`` (benefit / cost / total), ``amount``, ``start``,
        ``end``, in waterfall order.
    """
    return pd.DataFrame(_waterfall_records(res, basis),
                        columns=["step", "kind", "amount", "end", "start"])


def waterfall_lines(sc: Scenario) -> dict[str, str]:
    """The benefit bars of a scenario's waterfall, in order: the model's four lines
    (:data:`LINE_LABELS`) and, when the scenario has a benefit cash-flow line,
    :data:`OTHER_BENEFITS` (otherwise those benefits would have no bar of their own)."""
    if sc.benefit_flows():
        return {**LINE_LABELS, OTHER_BENEFITS[0]: OTHER_BENEFITS[1]}
    return dict(LINE_LABELS)


def line_present_values(res: SimulationResult, basis: str = "p50") -> dict[str, float]:
    r"""Present value of each benefit line (``retention_savings`` ...) as the waterfall
    shows it for ``basis`` (see :func:`waterfall_data`); with ``other_benefits``, the
    present value of the scenario's benefit cash-flow lines, when it has one
    (:func:`waterfall_lines`): :math:`PV_{benefits} - \sum_i PV_i` of the same draw."""
    if basis not in WATERFALL_BASES:
        raise ValueError(f"basis must be one of {', '.join(map(repr, WATERFALL_BASES))}, "
                         f"not {basis!r}")
    df = discount_factors(res.inputs.horizon, res.inputs.discount_rate)[1:]
    other = OTHER_BENEFITS[0] in waterfall_lines(res.scenario)
    if basis == "likely":
        got = {line: float(np.mean(np.atleast_2d(res.likely[f"{line}_monthly"]) @ df))
               for line in LINE_LABELS}
        if other:
            got[OTHER_BENEFITS[0]] = float(res.likely["pv_benefits"]) - sum(got.values())
        return got
    pv = {line: res.draws[f"{line}_monthly"] @ df for line in LINE_LABELS}
    if other:
        pv[OTHER_BENEFITS[0]] = np.asarray(res.draws["pv_benefits"], float) - sum(pv.values())
    if basis == "mean":
        return {line: float(np.mean(v)) for line, v in pv.items()}
    npv = np.asarray(res.draws["npv"], float)
    rank = (np.argsort(np.argsort(npv, kind="stable"), kind="stable") + 0.5) / npv.size
    near = np.abs(rank - 0.5) <= MEDIAN_BAND
    if not near.any():
        near = rank == rank[np.argmin(np.abs(rank - 0.5))]
    comp = {line: float(np.mean(v[near])) for line, v in pv.items()}
    target = res.quantile("npv", 0.5) + float(res.likely["pv_costs"])
    rest = target - sum(comp.values())
    weight = sum(abs(v) for v in comp.values())
    if weight > 0:
        return {line: v + rest * abs(v) / weight for line, v in comp.items()}
    first = next(iter(comp))
    return {line: (v + rest if line == first else v) for line, v in comp.items()}


def _waterfall_records(res: SimulationResult, basis: str) -> list[dict[str, Any]]:
    """:func:`waterfall_data` as a list of rows (plain floats, no pandas)."""
    pv = line_present_values(res, basis)
    steps: list[tuple[str, str, float]] = [
        (label, "benefit", pv[line]) for line, label in waterfall_lines(res.scenario).items()]
    steps.append(("Costs", "cost", -float(res.likely["pv_costs"])))
    rows: list[dict[str, Any]] = []
    end = 0.0
    for step, kind, amount in steps:  # a running sum, as a cumulative sum adds
        end += amount
        rows.append({"step": step, "kind": kind, "amount": amount, "end": end,
                     "start": end - amount})
    if basis == "p50":  # exactly the P50 the cards show, not a float sum's last digit
        end = res.quantile("npv", 0.5)
    rows.append({"step": "NPV", "kind": "total", "amount": end, "end": end, "start": 0.0})
    return rows


def waterfall_title(basis: str = "p50") -> str:
    """The waterfall's title, naming its statistic."""
    return f"Where the value comes from (present value, {WATERFALL_BASES[basis]})"


# --------------------------------------------------------------------------------------
# Tornado
# --------------------------------------------------------------------------------------


def tornado_rows(tornado_df: pd.DataFrame, top: int = 10) -> tuple[pd.DataFrame, str]:
    """Long table of a tornado (two rows per link: at its low and at its high end).

    Returns the table and the metric name found in the ``<metric>_at_low`` column.
    """
    rows, metric = _tornado_records(tornado_df, top)
    return pd.DataFrame(rows), metric


def _tornado_records(tornado_df: pd.DataFrame, top: int = 10
                     ) -> tuple[list[dict[str, Any]], str]:
    """:func:`tornado_rows` as a list of rows (plain floats and strings)."""
    low_cols = [c for c in tornado_df.columns if c.endswith("_at_low")]
    if not low_cols:
        raise ValueError("tornado_df needs '<metric>_at_low' / '<metric>_at_high' columns, "
                         "as from cxroi.uncertainty.tornado")
    metric = low_cols[0][: -len("_at_low")]
    t = tornado_df.sort_values("swing", ascending=False, kind="stable").head(top)
    cols = {c: t[c].tolist() for c in ("name", "touchpoint", "low", "high", "base", "swing",
                                       f"{metric}_at_low", f"{metric}_at_high")}
    rows = []
    for i, name in enumerate(cols["name"]):
        label = f"{LINK_LABELS.get(name, name)} — {cols['touchpoint'][i]}"
        for end in ("low", "high"):
            rows.append({"input": label, "end": f"input at its {end}",
                         "value": float(cols[f"{metric}_at_{end}"][i]),
                         "base": float(cols["base"][i]),
                         "range": f"{cols['low'][i]:g} to {cols['high'][i]:g}",
                         "swing": float(cols["swing"][i])})
    return rows, metric


def tornado_title(base: float, currency: str = "USD") -> str:
    """The tornado's title: its base is the likely case, not the simulations' P50."""
    return f"What drives the result (likely case {money(base, currency)})"


def tornado_axis_title(metric: str = "npv") -> str:
    """The tornado's axis title."""
    return f"{metric.upper().replace('_', ' ')} with one input at its low / high end, " \
        "the others at their most likely"


# --------------------------------------------------------------------------------------
# Flywheel
# --------------------------------------------------------------------------------------

_STAGES = ("Investment", "Experience", "Emotion", "Behaviour", "Money")
_STAGE_COLORS = ("#23395d", "#3b6fc9", "#8e44ad", "#c9793b", "#1b7a4a")


def flywheel_labels(sc: Scenario, res: SimulationResult | None = None) -> list[str]:
    """One short line of scenario figures per flywheel stage."""
    cur = sc.currency
    if res is not None:  # what the cost card says: one-off, running and cost lines
        cost = float(res.likely["total_costs"])
    else:
        from cxroi.portfolio import cost_of

        cost = cost_of(sc, "total")
    levers = [f"{tp.label}\n{lever_value(tp, tp.lever.today)} → "
              f"{lever_value(tp, tp.lever.target)}" for tp in sc.touchpoints.values()
              if tp.lever.today != tp.lever.target] or ["no lever moves"]
    experience = levers[0] + (f" (+{len(levers) - 1} more)" if len(levers) > 1 else "")
    if res is None:
        return [f"{money(cost, cur)} over {sc.finance.horizon_months} months", experience,
                "more positive outcomes", "stay longer, buy more, call less",
                "retention, cross-sell, cost to serve"]
    ps = res.likely["positive_share_monthly"]  # (K, H)
    k = 0
    emotion = f"positive outcomes {ps[k, 0] * 100:.0f}% → {ps[k, -1] * 100:.0f}%"
    behaviour = (f"NPS {fmt(res.quantile('nps_change', 0.5), 'points')}\n"
                 f"{res.quantile('accounts_kept', 0.5):,.0f} more accounts")
    value = f"NPV {money(res.quantile('npv', 0.5), cur)}"
    return [f"{money(cost, cur)} over {sc.finance.horizon_months} months", experience,
            emotion, behaviour, value]




def npv_range_data(res: SimulationResult, metric: str = "npv", bins: int = 40
                   ) -> dict[str, Any]:
    """The histogram, the P10/P50/P90 marks and the axis title of :func:`npv_range_chart`.

    Returns
    -------
    dict
        ``hist`` (columns ``start``, ``end``, ``share``, ``side`` as numpy arrays; ``bins``
        rows computed with numpy, not every draw), ``marks`` (``value``, ``name``,
        ``label``; one mark ``P10 = P50 = P90`` when the three read the same), ``label_y``
        (height of each mark's label), ``y_ticks`` and ``y_domain`` (None, or when a label
        would sit above 100%: ticks up to 100% and a scale with room for the label),
        ``axis_title`` and ``title``.
    """
    cur = res.scenario.currency
    x = _finite(res.draws[metric])
    if x.size == 0:
        x = np.zeros(1)
    lo, hi = float(x.min()), float(x.max())
    if hi - lo < 1e-9 * max(1.0, abs(hi)):
        lo, hi = lo - max(1.0, abs(lo)) * 0.05, hi + max(1.0, abs(hi)) * 0.05
    counts, edges = np.histogram(x, bins=bins, range=(lo, hi))
    mid = 0.5 * (edges[:-1] + edges[1:])
    share = counts / x.size
    hist = {"start": edges[:-1], "end": edges[1:], "share": share,
            "side": np.where(mid >= 0, "gain", "loss")}
    q = np.quantile(x, [0.1, 0.5, 0.9])
    names = ["P10", "P50", "P90"]
    top = float(share.max()) or 1.0
    if money(q[0], cur) == money(q[2], cur):  # no spread to show: one mark, one label
        marks = {"value": q[1:2], "name": ["P10 = P50 = P90"],
                 "label": [f"P10 = P50 = P90 {money(q[1], cur)}"]}
        label_y = top * np.array([1.08])
    else:
        marks = {"value": q, "name": names,
                 "label": [f"{n} {money(v, cur)}" for n, v in zip(names, q, strict=True)]}
        label_y = top * np.array([1.08, 1.18, 1.08])
    # labels above a share near 100%: the scale makes room for them, the ticks stop at 100%
    tall = bool(label_y.max() > 1.0)
    return {"hist": hist, "marks": marks, "label_y": label_y,
            "y_ticks": [0.0, 0.2, 0.4, 0.6, 0.8, 1.0] if tall else None,
            "y_domain": [0.0, round(float(label_y.max()) * 1.12, 3)] if tall else None,
            "axis_title": f"{'Risk-adjusted NPV' if 'risk' in metric else 'NPV'} over "
                          f"{res.scenario.finance.horizon_months} months",
            "title": f"Range of outcomes ({res.n_draws:,} simulations): "
                     f"{chance(res.prob_loss)} chance NPV < 0"}


def flywheel_layout(sc: Scenario, res: SimulationResult | None = None,
                    size: int = 420) -> dict[str, Any]:
    r"""Geometry and text of :func:`flywheel_chart`: five arcs around a ring, an arrow head
    in each gap, and each stage's name and figures outside its arc.

    Stage :math:`i` of :math:`n = 5` spans the angles :math:`[i s + g, (i + 1) s - g]`
    with :math:`s = 2\pi / n` and gap :math:`g = 0.06`; a point at angle :math:`t` and
    radius :math:`r` is drawn at :math:`(c_x + r \sin t,\; c_y - r \cos t)`.

    Returns
    -------
    dict
        ``ring``, ``heads``, ``labels`` (per alignment ``left``, ``right``, ``center``)
        and ``centre`` as column mappings, plus ``width``, ``r_out``, ``r_in`` and
        ``limit`` (the width a figure's text may take).
    """
    n = len(_STAGES)
    gap = 0.06
    seg = 2 * math.pi / n
    lines = flywheel_labels(sc, res)
    t0 = [i * seg + gap for i in range(n)]
    t1 = [(i + 1) * seg - gap for i in range(n)]
    r_out, r_in = size * 0.36, size * 0.25
    width = size + 320
    cx, cy = width / 2, size / 2
    t = np.array([(i + 1) * seg for i in range(n)])
    heads = {"t": t, "x": cx + (r_in + r_out) / 2 * np.sin(t),
             "y": cy - (r_in + r_out) / 2 * np.cos(t), "angle": np.degrees(t)}
    mid = (np.array(t0) + np.array(t1)) / 2
    x = cx + (r_out + 16) * np.sin(mid)
    y = cy - (r_out + 16) * np.cos(mid)
    align = np.where(np.abs(x - cx) < 5, "center", np.where(x > cx, "left", "right"))
    labels = {}
    for a in ("left", "right", "center"):
        keep = align == a
        if keep.any():
            labels[a] = {"stage": [s for s, k in zip(_STAGES, keep, strict=True) if k],
                         "detail": [d for d, k in zip(lines, keep, strict=True) if k],
                         "x": x[keep], "y": y[keep], "align": align[keep]}
    return {"ring": {"stage": list(_STAGES), "t0": t0, "t1": t1, "detail": lines},
            "heads": heads, "labels": labels,
            "centre": {"x": [cx] * 2, "y": [cy - 8, cy + 10], "t": ["CX loyalty", "flywheel"]},
            "width": width, "r_out": r_out, "r_in": r_in,
            "limit": (width - size) / 2 + size * 0.1 - 10}


def records(columns: dict[str, Any]) -> list[dict[str, Any]]:
    """Column mapping (lists or numpy arrays) -> rows of plain Python values."""
    cols = {k: (v.tolist() if isinstance(v, np.ndarray) else list(v))
            for k, v in columns.items()}
    return [dict(zip(cols, vals, strict=True)) for vals in zip(*cols.values(), strict=True)]

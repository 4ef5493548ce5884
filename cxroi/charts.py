"""Altair charts of a business case: the NPV range, cash flow, value waterfall, tornado,
the flywheel, and a portfolio view.

Every function builds and returns an :class:`altair.Chart` (or layer / concat of charts)
from small, pre-aggregated data (bins, monthly quantiles, a handful of bars), so the Voila
app can redraw on every slider move. Nothing here renders: the executive report turns the
charts into inline SVG (:func:`cxroi.report.to_svg`), the app displays them as they are.

Money axes use the scenario's currency symbol; labels a CX leader reads come from
:data:`LINK_LABELS` and :data:`LINE_LABELS`.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cxroi.finance import discount_factors
from cxroi.pitch import _SYMBOLS, chance, fmt, lever_value, money
from cxroi.provenance import LINK_NAMES

if TYPE_CHECKING:
    import altair as alt

    from cxroi.portfolio import Portfolio
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

#: The palette: benefits green, costs red, neutral grey, range blue.
GAIN, LOSS, TOTAL, BAND, INK, MUTED = "#1b7a4a", "#b8322a", "#23395d", "#8fb3de", "#222", "#777"

_FONT = "Helvetica, Arial, sans-serif"


def _config(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    return (chart.configure_view(stroke=None)
            .configure_axis(labelFont=_FONT, titleFont=_FONT, labelColor=INK, titleColor=INK,
                            gridColor="#e6e6e6", domainColor="#999", tickColor="#999")
            .configure_title(font=_FONT, anchor="start", fontSize=14, color=INK)
            .configure_text(font=_FONT)
            .configure_legend(labelFont=_FONT, titleFont=_FONT, orient="bottom"))


def money_axis(currency: str = "USD", title: str | None = None, **kw: Any) -> alt.Axis:
    """An axis that labels money as ``$1.2M`` / ``€350k`` in the scenario's currency."""
    import altair as alt

    return alt.Axis(title=title, labelExpr=_money_expr(currency), **kw)


def _money_expr(currency: str) -> str:
    """Vega expression labelling an axis value as money in ``currency``."""
    sym = _SYMBOLS.get(currency, currency + " ").replace("'", "\\'")
    return (f"(datum.value < 0 ? '-' : '') + '{sym}' + "
            f"replace(format(abs(datum.value), '~s'), 'G', 'B')")


def _finite(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, float)
    return x[np.isfinite(x)]


# --------------------------------------------------------------------------------------
# NPV range
# --------------------------------------------------------------------------------------


def npv_range_chart(res: SimulationResult, metric: str = "npv", bins: int = 40,
                    width: int = 560, height: int = 200) -> alt.LayerChart:
    """Distribution of NPV over the Monte Carlo draws with its P10, P50 and P90 marked.

    Parameters
    ----------
    res : SimulationResult
        From :func:`cxroi.uncertainty.simulate`.
    metric : str
        A money output, ``npv`` (default) or ``npv_risk_adjusted``.
    bins : int
        Histogram bins (computed here with numpy, so the chart carries ``bins`` rows, not
        every draw).
    width, height : int
        Size in pixels.

    Returns
    -------
    altair.LayerChart
        Bars (green where NPV >= 0, red where it is negative) and three labelled rules.
    """
    import altair as alt

    cur = res.scenario.currency
    x = _finite(res.draws[metric])
    if x.size == 0:
        x = np.zeros(1)
    lo, hi = float(x.min()), float(x.max())
    if hi - lo < 1e-9 * max(1.0, abs(hi)):
        lo, hi = lo - max(1.0, abs(lo)) * 0.05, hi + max(1.0, abs(hi)) * 0.05
    counts, edges = np.histogram(x, bins=bins, range=(lo, hi))
    mid = 0.5 * (edges[:-1] + edges[1:])
    hist = pd.DataFrame({"start": edges[:-1], "end": edges[1:],
                         "share": counts / x.size,
                         "side": np.where(mid >= 0, "gain", "loss")})
    q = np.quantile(x, [0.1, 0.5, 0.9])
    marks = pd.DataFrame({"value": q, "name": ["P10", "P50", "P90"],
                          "label": [f"{n} {money(v, cur)}" for n, v in
                                    zip(["P10", "P50", "P90"], q, strict=True)]})
    axis = money_axis(cur, title=f"{'Risk-adjusted NPV' if 'risk' in metric else 'NPV'} "
                      f"over {res.scenario.finance.horizon_months} months")
    bars = alt.Chart(hist).mark_rect(stroke="white", strokeWidth=0.5).encode(
        x=alt.X("start:Q", axis=axis, scale=alt.Scale(zero=False, nice=False)),
        x2="end:Q",
        y=alt.Y("share:Q", axis=alt.Axis(title="Share of simulations", format="%")),
        y2=alt.datum(0),
        color=alt.Color("side:N", scale=alt.Scale(domain=["gain", "loss"],
                                                  range=[GAIN, LOSS]), legend=None),
    )
    rules = alt.Chart(marks).mark_rule(color=INK, strokeDash=[4, 3]).encode(x="value:Q")
    top = float(hist["share"].max()) or 1.0
    text = alt.Chart(marks.assign(y=top * np.array([1.08, 1.18, 1.08]))).mark_text(
        align="center", dy=-4, fontSize=11, color=INK).encode(x="value:Q", y="y:Q",
                                                             text="label:N")
    return _config((bars + rules + text).properties(
        width=width, height=height,
        title=f"Range of outcomes ({res.n_draws:,} simulations): "
              f"{chance(res.prob_loss)} chance NPV < 0"))


# --------------------------------------------------------------------------------------
# Cash flow
# --------------------------------------------------------------------------------------


def cash_flow_chart(res: SimulationResult, series: str = "net_cash", width: int = 560,
                    height: int = 220) -> alt.LayerChart:
    """Cumulative net cash flow of the initiative by month against the baseline at zero.

    The band is P10-P90 of the cumulative cash, the line its P50; the baseline (no
    initiative) is the zero line, and the median payback month is marked.

    Parameters
    ----------
    res : SimulationResult
    series : str
        ``net_cash`` (default) or ``net_cash_risk_adjusted``.
    width, height : int
        Size in pixels.
    """
    import altair as alt

    cur = res.scenario.currency
    band = res.band(series)
    band = band.assign(arm="Initiative (P50, band P10–P90)")
    base = pd.DataFrame({"month": [int(band["month"].min()), int(band["month"].max())],
                         "value": [0.0, 0.0], "arm": "Baseline (no initiative)"})
    axis = money_axis(cur, title="Cumulative net cash")
    x = alt.X("month:Q", axis=alt.Axis(title="Month", tickMinStep=1),
              scale=alt.Scale(nice=False))
    color = alt.Color("arm:N", title=None,
                      scale=alt.Scale(domain=["Initiative (P50, band P10–P90)",
                                              "Baseline (no initiative)"],
                                      range=[TOTAL, MUTED]))
    area = alt.Chart(band).mark_area(color=BAND, opacity=0.55).encode(
        x=x, y=alt.Y("p10:Q", axis=axis), y2="p90:Q")
    line = alt.Chart(band).mark_line(strokeWidth=2.5).encode(x=x, y="p50:Q", color=color)
    zero = alt.Chart(base).mark_line(strokeDash=[5, 4], strokeWidth=1.5).encode(
        x=x, y="value:Q", color=color)
    layers = area + zero + line
    pay = res.quantile("payback_month", 0.5)
    if math.isfinite(pay):
        pm = pd.DataFrame({"month": [pay], "label": [f"payback month {pay:.0f}"]})
        layers += alt.Chart(pm).mark_rule(color=GAIN, strokeDash=[2, 2]).encode(x="month:Q")
        layers += alt.Chart(pm).mark_text(align="left", dx=4, dy=-6, color=GAIN,
                                          fontSize=11).encode(
            x="month:Q", y=alt.value(10), text="label:N")
    title = ("Cumulative net cash, risk-adjusted" if "risk" in series
             else "Cumulative net cash flow")
    return _config(layers.properties(width=width, height=height, title=title))


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


def line_present_values(res: SimulationResult, basis: str = "p50") -> dict[str, float]:
    """Present value of each benefit line (``retention_savings`` ...) as the waterfall
    shows it for ``basis`` (see :func:`waterfall_data`)."""
    if basis not in WATERFALL_BASES:
        raise ValueError(f"basis must be one of {', '.join(map(repr, WATERFALL_BASES))}, "
                         f"not {basis!r}")
    df = discount_factors(res.inputs.horizon, res.inputs.discount_rate)[1:]
    if basis == "likely":
        return {line: float(np.mean(np.atleast_2d(res.likely[f"{line}_monthly"]) @ df))
                for line in LINE_LABELS}
    pv = {line: res.draws[f"{line}_monthly"] @ df for line in LINE_LABELS}
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
    steps: list[tuple[str, str, float]] = [(label, "benefit", pv[line])
                                           for line, label in LINE_LABELS.items()]
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


def waterfall_chart(res: SimulationResult, basis: str = "p50", width: int = 560,
                    height: int = 240) -> alt.LayerChart:
    """Value waterfall: retention, cross-sell, cost to serve, advocacy, minus costs = NPV.

    Bars are present values (discounted at the scenario's rate), so they add up to NPV;
    see :func:`waterfall_data` for ``basis``.
    """
    import altair as alt

    cur = res.scenario.currency
    data = waterfall_data(res, basis)
    data["label"] = [money(v, cur) for v in data["amount"]]
    data["top"] = data[["start", "end"]].max(axis=1)
    order = list(data["step"])
    x = alt.X("step:N", sort=order, axis=alt.Axis(title=None, labelAngle=0))
    bars = alt.Chart(data).mark_bar(size=46).encode(
        x=x, y=alt.Y("start:Q", axis=money_axis(cur, title="Present value")), y2="end:Q",
        color=alt.Color("kind:N", legend=None,
                        scale=alt.Scale(domain=["benefit", "cost", "total"],
                                        range=[GAIN, LOSS, TOTAL])))
    text = alt.Chart(data).mark_text(dy=-6, fontSize=11, color=INK).encode(
        x=x, y="top:Q", text="label:N")
    return _config((bars + text).properties(
        width=width, height=height, title=waterfall_title(basis)))


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


def tornado_chart(tornado_df: pd.DataFrame, currency: str = "USD", top: int = 10,
                  width: int = 460) -> alt.LayerChart:
    """What drives the result: NPV with each input at its low and its high end.

    Parameters
    ----------
    tornado_df : pandas.DataFrame
        From :func:`cxroi.uncertainty.tornado`.
    currency : str
        For the axis labels.
    top : int
        How many inputs to show (largest swing first).
    width : int
        Width in pixels; height follows the number of rows.
    """
    import altair as alt

    data, metric = tornado_rows(tornado_df, top)
    order = list(dict.fromkeys(data["input"]))
    base = float(data["base"].iloc[0]) if len(data) else 0.0
    y = alt.Y("input:N", sort=order, axis=alt.Axis(title=None, labelLimit=330))
    bars = alt.Chart(data).mark_bar(height=14).encode(
        y=y,
        x=alt.X("value:Q", axis=money_axis(currency, title=tornado_axis_title(metric)),
                scale=alt.Scale(zero=False)),
        x2="base:Q",
        color=alt.Color("end:N", title=None,
                        scale=alt.Scale(domain=["input at its low", "input at its high"],
                                        range=["#c9793b", "#3b6fc9"])),
        tooltip=["input", "end", "range", "value"],
    )
    rule = alt.Chart(pd.DataFrame({"base": [base]})).mark_rule(color=INK).encode(x="base:Q")
    return _config((bars + rule).properties(
        width=width, height=max(60, 26 * len(order)),
        title=tornado_title(base, currency)))


def tornado_title(base: float, currency: str = "USD") -> str:
    """The tornado's title: its base is the likely case, not the simulations' P50."""
    return f"What drives the result (likely case {money(base, currency)})"


def tornado_axis_title(metric: str = "npv") -> str:
    """The tornado's axis title."""
    return f"{metric.upper().replace('_', ' ')} with one input at its low / high end, " \
        "the others at their most likely"


# --------------------------------------------------------------------------------------
# The same charts as plain Vega-Lite specs, for the app's hot path
# --------------------------------------------------------------------------------------
#
# The app redraws three charts on every slider release. Building them with altair and
# serialising them (``to_dict``) takes ~50-150 ms; the functions below write the very same
# Vega-Lite mapping directly from the numbers (~1 ms, no altair import). Each returns what
# ``<name>_chart(...).to_dict()`` returns -- same layers, encodings, config, data and
# dataset names -- except the ``$schema`` key, which the caller sets for the renderer it
# targets; ``tests/test_charts.py`` checks the equality for several scenarios.

#: ``config`` of every chart (what :func:`_config` sets, as altair serialises it).
_CONFIG_SPEC: dict[str, Any] = {
    "view": {"continuousWidth": 300, "continuousHeight": 300, "stroke": None},
    "axis": {"domainColor": "#999", "gridColor": "#e6e6e6", "labelColor": INK,
             "labelFont": _FONT, "tickColor": "#999", "titleColor": INK, "titleFont": _FONT},
    "legend": {"labelFont": _FONT, "orient": "bottom", "titleFont": _FONT},
    "text": {"font": _FONT},
    "title": {"anchor": "start", "color": INK, "font": _FONT, "fontSize": 14},
}


def _config_spec() -> dict[str, Any]:
    return json.loads(json.dumps(_CONFIG_SPEC))  # a fresh copy the caller may change


def _clean(x: Any) -> Any:
    """A value as altair's data sanitiser writes it: NaN and infinities become null."""
    return None if isinstance(x, float) and not math.isfinite(x) else x


def _dataset(datasets: dict[str, list[dict[str, Any]]], rows: list[dict[str, Any]]
             ) -> dict[str, str]:
    """Add ``rows`` to ``datasets`` under altair's name for them; the ``data`` reference."""
    rows = [{k: _clean(v) for k, v in r.items()} for r in rows]
    text = json.dumps(rows, sort_keys=True, default=str)
    name = "data-" + hashlib.sha256(text.encode()).hexdigest()[:32]
    datasets.setdefault(name, rows)
    return {"name": name}


def _money_axis_spec(currency: str, title: str | None) -> dict[str, Any]:
    return {"labelExpr": _money_expr(currency), "title": title}


def cash_flow_spec(res: SimulationResult, series: str = "net_cash", width: int = 560,
                   height: int = 220) -> dict[str, Any]:
    """:func:`cash_flow_chart` as a Vega-Lite mapping (without ``$schema``)."""
    cur = res.scenario.currency
    band = res.band(series)
    arm, baseline = "Initiative (P50, band P10–P90)", "Baseline (no initiative)"
    cols = {c: band[c].tolist() for c in band.columns}
    band_rows = [dict(zip(cols, vals, strict=True), arm=arm)
                 for vals in zip(*cols.values(), strict=True)]
    months = cols["month"]
    base_rows = [{"month": int(min(months)), "value": 0.0, "arm": baseline},
                 {"month": int(max(months)), "value": 0.0, "arm": baseline}]
    datasets: dict[str, list[dict[str, Any]]] = {}
    band_ref = _dataset(datasets, band_rows)
    base_ref = _dataset(datasets, base_rows)

    def x() -> dict[str, Any]:
        return {"axis": {"tickMinStep": 1, "title": "Month"}, "field": "month",
                "scale": {"nice": False}, "type": "quantitative"}

    def color() -> dict[str, Any]:
        return {"field": "arm", "scale": {"domain": [arm, baseline], "range": [TOTAL, MUTED]},
                "title": None, "type": "nominal"}

    layers: list[dict[str, Any]] = [
        {"data": band_ref, "mark": {"type": "area", "color": BAND, "opacity": 0.55},
         "encoding": {"x": x(), "y": {"axis": _money_axis_spec(cur, "Cumulative net cash"),
                                      "field": "p10", "type": "quantitative"},
                      "y2": {"field": "p90"}}},
        {"data": base_ref, "mark": {"type": "line", "strokeDash": [5, 4], "strokeWidth": 1.5},
         "encoding": {"color": color(), "x": x(),
                      "y": {"field": "value", "type": "quantitative"}}},
        {"data": dict(band_ref), "mark": {"type": "line", "strokeWidth": 2.5},
         "encoding": {"color": color(), "x": x(),
                      "y": {"field": "p50", "type": "quantitative"}}},
    ]
    pay = res.quantile("payback_month", 0.5)
    if math.isfinite(pay):
        pm_ref = _dataset(datasets, [{"month": pay, "label": f"payback month {pay:.0f}"}])
        layers.append({"data": pm_ref,
                       "mark": {"type": "rule", "color": GAIN, "strokeDash": [2, 2]},
                       "encoding": {"x": {"field": "month", "type": "quantitative"}}})
        layers.append({"data": dict(pm_ref),
                       "mark": {"type": "text", "align": "left", "color": GAIN, "dx": 4,
                                "dy": -6, "fontSize": 11},
                       "encoding": {"text": {"field": "label", "type": "nominal"},
                                    "x": {"field": "month", "type": "quantitative"},
                                    "y": {"value": 10}}})
    title = ("Cumulative net cash, risk-adjusted" if "risk" in series
             else "Cumulative net cash flow")
    return {"config": _config_spec(), "layer": layers, "height": height, "title": title,
            "width": width, "datasets": datasets}


def waterfall_spec(res: SimulationResult, basis: str = "p50", width: int = 560,
                   height: int = 240) -> dict[str, Any]:
    """:func:`waterfall_chart` as a Vega-Lite mapping (without ``$schema``)."""
    cur = res.scenario.currency
    rows = _waterfall_records(res, basis)
    for r in rows:
        r["label"] = money(r["amount"], cur)
        r["top"] = max(r["start"], r["end"])
    order = [r["step"] for r in rows]
    datasets: dict[str, list[dict[str, Any]]] = {}
    ref = _dataset(datasets, rows)

    def x() -> dict[str, Any]:
        return {"axis": {"labelAngle": 0, "title": None}, "field": "step", "sort": list(order),
                "type": "nominal"}

    layers = [
        {"mark": {"type": "bar", "size": 46},
         "encoding": {"color": {"field": "kind", "legend": None,
                                "scale": {"domain": ["benefit", "cost", "total"],
                                          "range": [GAIN, LOSS, TOTAL]},
                                "type": "nominal"},
                      "x": x(),
                      "y": {"axis": _money_axis_spec(cur, "Present value"), "field": "start",
                            "type": "quantitative"},
                      "y2": {"field": "end"}}},
        {"mark": {"type": "text", "color": INK, "dy": -6, "fontSize": 11},
         "encoding": {"text": {"field": "label", "type": "nominal"}, "x": x(),
                      "y": {"field": "top", "type": "quantitative"}}},
    ]
    return {"config": _config_spec(), "layer": layers, "data": ref, "height": height,
            "title": waterfall_title(basis), "width": width,
            "datasets": datasets}


def tornado_spec(tornado_df: pd.DataFrame, currency: str = "USD", top: int = 10,
                 width: int = 460) -> dict[str, Any]:
    """:func:`tornado_chart` as a Vega-Lite mapping (without ``$schema``)."""
    rows, metric = _tornado_records(tornado_df, top)
    if not rows:
        raise ValueError("the tornado has no rows to draw")
    order = list(dict.fromkeys(r["input"] for r in rows))
    base = rows[0]["base"]
    datasets: dict[str, list[dict[str, Any]]] = {}
    bars_ref = _dataset(datasets, rows)
    rule_ref = _dataset(datasets, [{"base": base}])
    title = tornado_axis_title(metric)
    layers = [
        {"data": bars_ref, "mark": {"type": "bar", "height": 14},
         "encoding": {
             "color": {"field": "end",
                       "scale": {"domain": ["input at its low", "input at its high"],
                                 "range": ["#c9793b", "#3b6fc9"]},
                       "title": None, "type": "nominal"},
             "tooltip": [{"field": "input", "type": "nominal"},
                         {"field": "end", "type": "nominal"},
                         {"field": "range", "type": "nominal"},
                         {"field": "value", "type": "quantitative"}],
             "x": {"axis": _money_axis_spec(currency, title), "field": "value",
                   "scale": {"zero": False}, "type": "quantitative"},
             "x2": {"field": "base"},
             "y": {"axis": {"labelLimit": 330, "title": None}, "field": "input",
                   "sort": order, "type": "nominal"}}},
        {"data": rule_ref, "mark": {"type": "rule", "color": INK},
         "encoding": {"x": {"field": "base", "type": "quantitative"}}},
    ]
    return {"config": _config_spec(), "layer": layers, "height": max(60, 26 * len(order)),
            "title": tornado_title(base, currency),
            "width": width, "datasets": datasets}


# --------------------------------------------------------------------------------------
# Flywheel
# --------------------------------------------------------------------------------------

_STAGES = ("Investment", "Experience", "Emotion", "Behaviour", "Money")
_STAGE_COLORS = ("#23395d", "#3b6fc9", "#8e44ad", "#c9793b", "#1b7a4a")


def flywheel_labels(sc: Scenario, res: SimulationResult | None = None) -> list[str]:
    """One short line of scenario figures per flywheel stage."""
    cur = sc.currency
    cost = sc.costs.one_off + sc.costs.running_per_year * sc.finance.horizon_months / 12
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


def flywheel_chart(sc: Scenario, res: SimulationResult | None = None,
                   size: int = 420) -> alt.LayerChart:
    """The CX loyalty flywheel as a picture: investment → experience → emotion →
    behaviour → money, which funds the next turn.

    Parameters
    ----------
    sc : Scenario
        Supplies the lever, the costs and the currency shown at each stage.
    res : SimulationResult, optional
        With a simulation, the emotion, behaviour and money stages show its figures.
    size : int
        Width and height in pixels.
    """
    import altair as alt

    n = len(_STAGES)
    gap = 0.06
    seg = 2 * math.pi / n
    lines = flywheel_labels(sc, res)
    ring = pd.DataFrame({
        "stage": _STAGES,
        "t0": [i * seg + gap for i in range(n)],
        "t1": [(i + 1) * seg - gap for i in range(n)],
        "detail": lines,
    })
    r_out, r_in = size * 0.36, size * 0.25
    width = size + 320
    cx, cy = width / 2, size / 2
    color = alt.Color("stage:N", legend=None,
                      scale=alt.Scale(domain=list(_STAGES), range=list(_STAGE_COLORS)))
    arcs = alt.Chart(ring).mark_arc(outerRadius=r_out, innerRadius=r_in, cornerRadius=3).encode(
        theta=alt.Theta("t0:Q", scale=None), theta2="t1:Q", color=color)
    # arrow heads in the gaps between stages, pointing along the ring (clockwise)
    heads = pd.DataFrame({"t": [(i + 1) * seg for i in range(n)]})
    heads["x"] = cx + (r_in + r_out) / 2 * np.sin(heads["t"])
    heads["y"] = cy - (r_in + r_out) / 2 * np.cos(heads["t"])
    heads["angle"] = np.degrees(heads["t"])
    arrow = alt.Chart(heads).mark_point(shape="triangle-right", size=220, filled=True,
                                        color=MUTED, opacity=1).encode(
        x=alt.X("x:Q", scale=None), y=alt.Y("y:Q", scale=None), angle=alt.Angle("angle:Q",
                                                                              scale=None))
    mid = (ring["t0"] + ring["t1"]) / 2
    lab = pd.DataFrame({"stage": _STAGES, "detail": lines,
                        "x": cx + (r_out + 16) * np.sin(mid),
                        "y": cy - (r_out + 16) * np.cos(mid)})
    lab["align"] = np.where(np.abs(lab["x"] - cx) < 5, "center",
                            np.where(lab["x"] > cx, "left", "right"))
    layers = arcs + arrow
    for align in ("left", "right", "center"):
        part = lab[lab["align"] == align]
        if part.empty:
            continue
        base = alt.Chart(part).encode(x=alt.X("x:Q", scale=None), y=alt.Y("y:Q", scale=None))
        layers += base.mark_text(align=align, fontSize=13, fontWeight="bold", dy=-7).encode(
            text="stage:N", color=color)
        layers += base.mark_text(align=align, fontSize=10.5, dy=2, color=INK, lineBreak="\n",
                                 baseline="top", limit=(width - size) / 2 + size * 0.1 - 10
                                 ).encode(text="detail:N")
    centre = pd.DataFrame({"x": [cx] * 2, "y": [cy - 8, cy + 10],
                           "t": ["CX loyalty", "flywheel"]})
    layers += alt.Chart(centre).mark_text(fontSize=13, color=MUTED, fontWeight="bold").encode(
        x=alt.X("x:Q", scale=None), y=alt.Y("y:Q", scale=None), text="t:N")
    return _config(layers.properties(width=width, height=size,
                                     title="The flywheel: how the investment turns into money"))


# --------------------------------------------------------------------------------------
# Portfolio
# --------------------------------------------------------------------------------------


def portfolio_chart(portfolio: Portfolio, width: int = 520, height: int = 280) -> alt.LayerChart:
    """Cost against risk-ranked value of each initiative; selected ones are filled.

    Parameters
    ----------
    portfolio : Portfolio
        From :func:`cxroi.portfolio.rank_portfolio`.
    """
    import altair as alt

    t = portfolio.table.copy()
    cur = portfolio.currency
    t["status"] = np.where(t["selected"], "selected within budget", "not selected")
    value_col = portfolio.metric
    t["range"] = [f"{money(a, cur)} to {money(b, cur)}" for a, b in
                  zip(t[f"{value_col}_p10"], t[f"{value_col}_p90"], strict=True)]
    x = alt.X("cost:Q", axis=money_axis(cur, title=f"Cost ({portfolio.cost_basis})"))
    y = alt.Y(f"{value_col}_p50:Q", axis=money_axis(cur, title="Value (P50, bar P10–P90)"))
    err = alt.Chart(t).mark_rule(color=MUTED).encode(x=x, y=f"{value_col}_p10:Q",
                                                     y2=f"{value_col}_p90:Q")
    pts = alt.Chart(t).mark_point(size=140, filled=True).encode(
        x=x, y=y, color=alt.Color("status:N", title=None,
                                  scale=alt.Scale(domain=["selected within budget",
                                                          "not selected"],
                                                  range=[GAIN, MUTED])),
        tooltip=["initiative", "cost", f"{value_col}_p50", "range"])
    text = alt.Chart(t).mark_text(align="left", dx=9, fontSize=11, color=INK).encode(
        x=x, y=y, text="initiative:N")
    budget = pd.DataFrame({"cost": [portfolio.budget],
                           "label": [f"budget {money(portfolio.budget, cur)}"]})
    rule = alt.Chart(budget).mark_rule(color=LOSS, strokeDash=[5, 4]).encode(x="cost:Q")
    rule_text = alt.Chart(budget).mark_text(align="left", dx=4, color=LOSS, fontSize=11).encode(
        x="cost:Q", y=alt.value(8), text="label:N")
    return _config((err + pts + text + rule + rule_text).properties(
        width=width, height=height,
        title=f"Portfolio under a budget of {money(portfolio.budget, cur)}"))


# --------------------------------------------------------------------------------------
# Metric validity
# --------------------------------------------------------------------------------------


def metric_validity_chart(results: pd.DataFrame, width: int = 420) -> alt.FacetChart:
    """Does each survey metric predict each outcome? Concordance with its 95% interval.

    Parameters
    ----------
    results : pandas.DataFrame
        Columns ``metric``, ``target``, ``c``, ``low``, ``high`` (as
        ``MetricValidityFitter.results_`` of :mod:`cxroi.calibrate`). C = 0.5 is a coin
        toss; an interval wholly above 0.5 means the metric predicts the outcome here.
    width : int
        Width of each panel in pixels.
    """
    import altair as alt

    need = {"metric", "target", "c", "low", "high"}
    if not need <= set(results.columns):
        raise ValueError(f"results need the columns {sorted(need)}")
    t = results[list(need)].copy()
    t["verdict"] = np.where(t["low"] > 0.5, "predicts",
                            np.where(t["high"] < 0.5, "wrong way round", "does not predict"))
    order = list(dict.fromkeys(t["metric"]))
    y = alt.Y("metric:N", sort=order, title=None)
    x = alt.X("c:Q", scale=alt.Scale(domain=[0.3, 0.8], zero=False), title="Concordance (0.5 = coin toss)")
    color = alt.Color("verdict:N", title=None,
                      scale=alt.Scale(domain=["predicts", "does not predict", "wrong way round"],
                                      range=[GAIN, MUTED, LOSS]))
    base = alt.Chart(t)
    ci = base.mark_rule(strokeWidth=2).encode(y=y, x=alt.X("low:Q", scale=alt.Scale(
        domain=[0.3, 0.8], zero=False)), x2="high:Q", color=color)
    pts = base.mark_point(filled=True, size=70).encode(y=y, x=x, color=color,
                                                       tooltip=["metric", "target", "c", "low",
                                                                "high"])
    half = base.mark_rule(color=INK, strokeDash=[3, 3]).encode(
        x=alt.X(datum=0.5, type="quantitative", scale=alt.Scale(domain=[0.3, 0.8], zero=False)))
    return _config(alt.layer(half, ci, pts).properties(width=width, height=22 * len(order)).facet(
        row=alt.Row("target:N", title=None, header=alt.Header(labelFontWeight="bold",
                                                              labelAngle=0, labelAlign="left")),
    ).properties(title="Does the metric predict the outcome here?"))

"""Altair charts of a business case: the NPV range, cash flow, value waterfall, tornado,
the flywheel, a portfolio view and the metric check.

Every function builds and returns an :class:`altair.Chart` (or layer / concat of charts)
from small, pre-aggregated data (:mod:`cxroi.charts.data`), so the Voila app can redraw on
every slider move. Nothing here renders; the executive report draws the same charts from
the plain Vega-Lite mappings of :mod:`cxroi.charts.specs` (no altair on its hot path).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cxroi.charts.data import (
    _FONT,
    _STAGE_COLORS,
    _STAGES,
    BAND,
    GAIN,
    INK,
    LOSS,
    MUTED,
    TOTAL,
    _money_expr,
    flywheel_layout,
    npv_range_data,
    tornado_axis_title,
    tornado_rows,
    tornado_title,
    waterfall_data,
    waterfall_title,
)
from cxroi.pitch import money

if TYPE_CHECKING:
    import altair as alt

    from cxroi.portfolio import Portfolio
    from cxroi.scenario import Scenario
    from cxroi.uncertainty import SimulationResult

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

    d = npv_range_data(res, metric, bins)
    hist, marks = pd.DataFrame(d["hist"]), pd.DataFrame(d["marks"])
    axis = money_axis(res.scenario.currency, title=d["axis_title"])
    bars = alt.Chart(hist).mark_rect(stroke="white", strokeWidth=0.5).encode(
        x=alt.X("start:Q", axis=axis, scale=alt.Scale(zero=False, nice=False)),
        x2="end:Q",
        y=(alt.Y("share:Q", axis=alt.Axis(title="Share of simulations", format="%"))
           if d["y_ticks"] is None else
           alt.Y("share:Q", axis=alt.Axis(title="Share of simulations", format="%",
                                          values=list(d["y_ticks"]),
                                          tickCount=len(d["y_ticks"])),
                 scale=alt.Scale(domain=list(d["y_domain"]), nice=False))),
        y2=alt.datum(0),
        color=alt.Color("side:N", scale=alt.Scale(domain=["gain", "loss"],
                                                  range=[GAIN, LOSS]), legend=None),
    )
    rules = alt.Chart(marks).mark_rule(color=INK, strokeDash=[4, 3]).encode(x="value:Q")
    text = alt.Chart(marks.assign(y=d["label_y"])).mark_text(
        align="center", dy=-4, fontSize=11, color=INK).encode(x="value:Q", y="y:Q",
                                                             text="label:N")
    return _config((bars + rules + text).properties(width=width, height=height,
                                                    title=d["title"]))


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

    g = flywheel_layout(sc, res, size)
    width = g["width"]
    color = alt.Color("stage:N", legend=None,
                      scale=alt.Scale(domain=list(_STAGES), range=list(_STAGE_COLORS)))
    arcs = alt.Chart(pd.DataFrame(g["ring"])).mark_arc(
        outerRadius=g["r_out"], innerRadius=g["r_in"], cornerRadius=3).encode(
        theta=alt.Theta("t0:Q", scale=None), theta2="t1:Q", color=color)
    # arrow heads in the gaps between stages, pointing along the ring (clockwise)
    arrow = alt.Chart(pd.DataFrame(g["heads"])).mark_point(
        shape="triangle-right", size=220, filled=True, color=MUTED, opacity=1).encode(
        x=alt.X("x:Q", scale=None), y=alt.Y("y:Q", scale=None),
        angle=alt.Angle("angle:Q", scale=None))
    layers = arcs + arrow
    for align, part in g["labels"].items():
        base = alt.Chart(pd.DataFrame(part)).encode(x=alt.X("x:Q", scale=None),
                                                    y=alt.Y("y:Q", scale=None))
        layers += base.mark_text(align=align, fontSize=13, fontWeight="bold", dy=-7).encode(
            text="stage:N", color=color)
        layers += base.mark_text(align=align, fontSize=10.5, dy=2, color=INK, lineBreak="\n",
                                 baseline="top", limit=g["limit"]).encode(text="detail:N")
    layers += alt.Chart(pd.DataFrame(g["centre"])).mark_text(
        fontSize=13, color=MUTED, fontWeight="bold").encode(
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


"""The report's and the app's charts as plain Vega-Lite mappings (no altair).

Building a chart with altair and serialising it (``to_dict``, with schema validation)
takes ~50-150 ms; the functions here write the very same Vega-Lite mapping directly from
the numbers (~1 ms, no altair import). Each returns what ``<name>_chart(...).to_dict()``
returns -- same layers, encodings, config, data and dataset names -- except the
``$schema`` key, which the caller sets for the renderer it targets;
``tests/test_charts.py`` checks the equality for several scenarios. The app redraws with
them on every slider release; the executive report renders them to SVG with vl-convert.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import TYPE_CHECKING, Any

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
    _tornado_records,
    _waterfall_records,
    flywheel_layout,
    npv_range_data,
    records,
    tornado_axis_title,
    tornado_title,
    waterfall_title,
)
from cxroi.pitch import money

if TYPE_CHECKING:
    import pandas as pd

    from cxroi.scenario import Scenario
    from cxroi.uncertainty import SimulationResult

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




def _share_y(d: dict[str, Any]) -> dict[str, Any]:
    """The share axis of the NPV range: Vega's own, or ticks to 100% with room above."""
    y: dict[str, Any] = {"axis": {"format": "%", "title": "Share of simulations"},
                         "field": "share", "type": "quantitative"}
    if d["y_ticks"] is not None:
        # every tick shown (without tickCount Vega thins explicit values out)
        y["axis"].update(values=list(d["y_ticks"]), tickCount=len(d["y_ticks"]))
        y["scale"] = {"domain": list(d["y_domain"]), "nice": False}
    return y


def npv_range_spec(res: SimulationResult, metric: str = "npv", bins: int = 40,
                   width: int = 560, height: int = 200) -> dict[str, Any]:
    """:func:`npv_range_chart` as a Vega-Lite mapping (without ``$schema``)."""
    d = npv_range_data(res, metric, bins)
    datasets: dict[str, list[dict[str, Any]]] = {}
    hist_ref = _dataset(datasets, records(d["hist"]))
    marks = records(d["marks"])
    marks_ref = _dataset(datasets, marks)
    text_ref = _dataset(datasets, [dict(m, y=y) for m, y in
                                   zip(marks, d["label_y"].tolist(), strict=True)])
    layers = [
        {"data": hist_ref, "mark": {"type": "rect", "stroke": "white", "strokeWidth": 0.5},
         "encoding": {"color": {"field": "side", "legend": None,
                                "scale": {"domain": ["gain", "loss"], "range": [GAIN, LOSS]},
                                "type": "nominal"},
                      "x": {"axis": _money_axis_spec(res.scenario.currency, d["axis_title"]),
                            "field": "start", "scale": {"nice": False, "zero": False},
                            "type": "quantitative"},
                      "x2": {"field": "end"},
                      "y": _share_y(d),
                      "y2": {"datum": 0}}},
        {"data": marks_ref, "mark": {"type": "rule", "color": INK, "strokeDash": [4, 3]},
         "encoding": {"x": {"field": "value", "type": "quantitative"}}},
        {"data": text_ref, "mark": {"type": "text", "align": "center", "color": INK, "dy": -4,
                                    "fontSize": 11},
         "encoding": {"text": {"field": "label", "type": "nominal"},
                      "x": {"field": "value", "type": "quantitative"},
                      "y": {"field": "y", "type": "quantitative"}}},
    ]
    return {"config": _config_spec(), "layer": layers, "height": height, "title": d["title"],
            "width": width, "datasets": datasets}


def flywheel_spec(sc: Scenario, res: SimulationResult | None = None,
                  size: int = 420) -> dict[str, Any]:
    """:func:`flywheel_chart` as a Vega-Lite mapping (without ``$schema``)."""
    g = flywheel_layout(sc, res, size)
    datasets: dict[str, list[dict[str, Any]]] = {}

    def color() -> dict[str, Any]:
        return {"field": "stage", "legend": None,
                "scale": {"domain": list(_STAGES), "range": list(_STAGE_COLORS)},
                "type": "nominal"}

    def xy() -> dict[str, Any]:
        return {"x": {"field": "x", "scale": None, "type": "quantitative"},
                "y": {"field": "y", "scale": None, "type": "quantitative"}}

    layers: list[dict[str, Any]] = [
        {"data": _dataset(datasets, records(g["ring"])),
         "mark": {"type": "arc", "cornerRadius": 3, "innerRadius": g["r_in"],
                  "outerRadius": g["r_out"]},
         "encoding": {"color": color(),
                      "theta": {"field": "t0", "scale": None, "type": "quantitative"},
                      "theta2": {"field": "t1"}}},
        {"data": _dataset(datasets, records(g["heads"])),
         "mark": {"type": "point", "color": MUTED, "filled": True, "opacity": 1,
                  "shape": "triangle-right", "size": 220},
         "encoding": {"angle": {"field": "angle", "scale": None, "type": "quantitative"},
                      **xy()}},
    ]
    for align, part in g["labels"].items():
        ref = _dataset(datasets, records(part))
        layers.append({"data": ref, "mark": {"type": "text", "align": align, "dy": -7,
                                             "fontSize": 13, "fontWeight": "bold"},
                       "encoding": {"color": color(),
                                    "text": {"field": "stage", "type": "nominal"}, **xy()}})
        layers.append({"data": dict(ref),
                       "mark": {"type": "text", "align": align, "baseline": "top",
                                "color": INK, "dy": 2, "fontSize": 10.5,
                                "limit": g["limit"], "lineBreak": "\n"},
                       "encoding": {"text": {"field": "detail", "type": "nominal"}, **xy()}})
    layers.append({"data": _dataset(datasets, records(g["centre"])),
                   "mark": {"type": "text", "color": MUTED, "fontSize": 13,
                            "fontWeight": "bold"},
                   "encoding": {"text": {"field": "t", "type": "nominal"}, **xy()}})
    return {"config": _config_spec(), "layer": layers, "height": size,
            "title": "The flywheel: how the investment turns into money",
            "width": g["width"], "datasets": datasets}

"""Drop the label-length limits no label of a chart reaches, before vl-convert renders it.

Vega truncates an axis or legend label longer than its ``labelLimit`` (180 px for axes,
160 for legends unless set). To know whether it must, it measures every label's width
once more, on top of the measurement for the label's bounds; in vl-convert each
measurement shapes the string with the font (about 0.04 ms a character here, measured:
40 % of the time of an axis of short labels, a third of the tornado's). When no label
reaches its limit the truncation changes nothing, so the picture is the same without the
limit, byte for byte (tested on every demo scenario's charts).

:func:`lift_label_limits` proves that first and only then sets the limits to 0:

- a quantitative axis labelled by the report's money expression, a percent format or the
  default number format writes at most :data:`MAX_NUMBER_LABEL_CHARS` characters, each
  at most :data:`MAX_EM_PER_CHAR` of the font size wide (checked against vl-convert's own
  measurement in ``tests/test_charts.py``);
- a nominal axis's labels (its ``sort`` list, else its field's values) and a legend's
  labels (its scale's ``domain``) are measured with vl-convert, once per string, font and
  size in a process (a batch's tornado labels repeat from run to run).

Anything it does not recognise leaves the spec as it is.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

#: Vega's default ``labelLimit`` of axes and of legends (pixels).
AXIS_LABEL_LIMIT = 180.0
LEGEND_LABEL_LIMIT = 160.0
#: Vega's default label font size of axes and legends.
LABEL_FONT_SIZE = 10.0
#: Longest label a plain or percent number axis writes (``-1,500,000``, ``12.5%``), with
#: room to spare; a money axis writes at most its symbol plus :data:`MONEY_CHARS`.
MAX_NUMBER_LABEL_CHARS = 12
#: Characters of a money label beyond its currency symbol: the sign and ``~s`` (at most
#: six significant digits, a point and an SI prefix).
MONEY_CHARS = 9
#: Upper bound on one character's advance, in font sizes (measured with vl-convert: the
#: widest character numbers and currencies are written with is the won sign, 1.19 em).
MAX_EM_PER_CHAR = 1.25
#: Margin (pixels) a measured label must keep below its limit (the measure is rounded up
#: to whole pixels already).
MARGIN = 2.0

_MONEY_EXPR_START = "(datum.value < 0 ? '-' : '') + '"
_CHANNELS_WITH_LEGEND = ("color", "fill", "stroke", "shape", "size", "opacity",
                         "fillOpacity", "strokeOpacity", "strokeWidth", "strokeDash", "angle")


@lru_cache(maxsize=4096)
def text_width(text: str, font: str, size: float) -> float:
    """Width in pixels of ``text`` as vl-convert measures it (rounded up to whole pixels:
    the width of a Vega view sized to fit the text alone), cached per process.

    Parameters
    ----------
    text : str
        One line of text.
    font : str
        CSS font family list, as in the chart's config.
    size : float
        Font size in pixels.
    """
    import vl_convert as vlc

    if not text:
        return 0.0
    spec = {"width": 0, "height": 0, "autosize": "pad", "padding": 0,
            "marks": [{"type": "text", "encode": {"enter": {
                "text": {"value": text}, "font": {"value": font},
                "fontSize": {"value": size}, "align": {"value": "left"},
                "x": {"value": 0}, "y": {"value": 0}}}}]}
    return float(vlc.vega_to_scenegraph(spec)["width"])


def _number_axis_fits(axis: dict[str, Any], limit: float, size: float) -> bool:
    """Does every label of this quantitative axis stay below ``limit``, whatever the
    ticks? True for the report's money expression and plain or percent numbers."""
    expr = axis.get("labelExpr")
    chars = MAX_NUMBER_LABEL_CHARS
    if expr is not None:
        tail = "' + replace(format(abs(datum.value), '~s'), 'G', 'B')"
        if not (isinstance(expr, str) and expr.startswith(_MONEY_EXPR_START)
                and expr.endswith(tail)):
            return False
        symbol = expr[len(_MONEY_EXPR_START):-len(tail)]
        chars = len(symbol) + MONEY_CHARS
    if axis.get("format") not in (None, "%") or axis.get("formatType") is not None:
        return False
    return chars * MAX_EM_PER_CHAR * size < limit - MARGIN


def _labels_fit(labels: list[Any], font: str, size: float, limit: float) -> bool:
    return all(text_width(str(t), font, size) < limit - MARGIN for t in labels if t is not None)


def _layers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    layers = spec.get("layer")
    if "transform" in spec:
        return []  # fields computed in Vega: their labels are not in the rows
    if layers is None:
        return [spec] if "mark" in spec else []
    if any("layer" in lay or "mark" not in lay or "transform" in lay for lay in layers):
        return []  # nested layers or computed fields: not recognised
    return [{**lay, "data": lay.get("data", spec.get("data"))} for lay in layers]


def _field_values(spec: dict[str, Any], layer: dict[str, Any], field: str) -> list[Any] | None:
    data = layer.get("data")
    if not isinstance(data, dict) or "name" not in data:
        return None
    rows = spec.get("datasets", {}).get(data["name"])
    return None if rows is None else [r.get(field) for r in rows]


def lift_label_limits(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with its axis and legend ``labelLimit`` set to 0 (no truncation) when no
    label reaches its limit, so that the rendered SVG is the same and Vega measures each
    label once instead of twice; ``spec`` itself (unchanged) otherwise.

    Parameters
    ----------
    spec : dict
        A Vega-Lite mapping from :mod:`cxroi.charts.specs` (single or layered).

    Returns
    -------
    dict
        A changed copy, or ``spec``.
    """
    config = spec.get("config", {})
    axis_cfg, legend_cfg = config.get("axis", {}), config.get("legend", {})
    if "labelFontSize" in axis_cfg or "labelFontSize" in legend_cfg:
        return spec
    layers = _layers(spec)
    if not layers:
        return spec
    axis_font = axis_cfg.get("labelFont", "sans-serif")
    legend_font = legend_cfg.get("labelFont", "sans-serif")
    axis_limit = float(axis_cfg.get("labelLimit", AXIS_LABEL_LIMIT))
    legend_limit = float(legend_cfg.get("labelLimit", LEGEND_LABEL_LIMIT))
    if axis_limit <= 0 and legend_limit <= 0:
        return spec
    for layer in layers:
        enc = layer.get("encoding", {})
        for ch in ("x", "y"):
            e = enc.get(ch)
            if not isinstance(e, dict) or "field" not in e or e.get("scale", {}) is None:
                continue
            axis = e.get("axis", {})
            if axis is None or axis.get("labels") is False:
                continue
            if "labelFontSize" in axis or "labelFont" in axis:
                return spec
            limit = float(axis.get("labelLimit", axis_limit))
            if limit <= 0:
                continue
            if e.get("type") == "quantitative":
                if not _number_axis_fits(axis, limit, LABEL_FONT_SIZE):
                    return spec
            elif e.get("type") in ("nominal", "ordinal"):
                if "labelExpr" in axis or "format" in axis:
                    return spec  # the drawn label is not the value
                # every value drawn: the rows' (all present) and a sort list's
                values = _field_values(spec, layer, e["field"])
                if values is None or any(v is None for v in values):
                    return spec
                sort = e.get("sort")
                labels = [*sort, *values] if isinstance(sort, list) else values
                if not _labels_fit(labels, axis_font, LABEL_FONT_SIZE, limit):
                    return spec
            else:
                return spec
        for ch in _CHANNELS_WITH_LEGEND:
            e = enc.get(ch)
            if not isinstance(e, dict) or "field" not in e or e.get("legend", {}) is None \
                    or e.get("scale", {}) is None:  # no legend
                continue
            legend = e.get("legend", {})
            if "labelFontSize" in legend or "labelFont" in legend or "labelExpr" in legend:
                return spec
            domain = (e.get("scale") or {}).get("domain")
            limit = float(legend.get("labelLimit", legend_limit))
            if limit <= 0:
                continue
            if not isinstance(domain, list) or not _labels_fit(domain, legend_font,
                                                              LABEL_FONT_SIZE, limit):
                return spec
    out = {k: v if k == "datasets" else copy.deepcopy(v) for k, v in spec.items()}
    out.setdefault("config", {}).setdefault("axis", {})["labelLimit"] = 0
    out["config"].setdefault("legend", {})["labelLimit"] = 0
    for layer in out.get("layer", [out]):
        for ch in ("x", "y"):
            axis = layer.get("encoding", {}).get(ch, {}).get("axis") if isinstance(
                layer.get("encoding", {}).get(ch), dict) else None
            if isinstance(axis, dict) and "labelLimit" in axis:
                axis["labelLimit"] = 0
        for ch in _CHANNELS_WITH_LEGEND:
            e = layer.get("encoding", {}).get(ch)
            if isinstance(e, dict) and isinstance(e.get("legend"), dict) and \
                    "labelLimit" in e["legend"]:
                e["legend"]["labelLimit"] = 0
    return out

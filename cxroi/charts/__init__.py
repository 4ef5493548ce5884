"""Charts of a business case: the NPV range, cash flow, value waterfall, tornado, the
flywheel, a portfolio view and the metric check.

Two faces of the same charts:

- :mod:`cxroi.charts.altair_charts`: ``*_chart`` functions returning altair charts (the
  notebooks, the app's first draw, anything that wants an altair object);
- :mod:`cxroi.charts.specs`: ``*_spec`` functions writing the very same Vega-Lite mapping
  as a plain ``dict`` in about a millisecond, without importing altair (the app's slider
  redraws, and the executive report, which renders them to inline SVG with vl-convert).

Both draw from :mod:`cxroi.charts.data` (the bins, rows, labels and layout). Money axes
use the scenario's currency symbol; labels a CX leader reads come from
:data:`LINK_LABELS` and :data:`LINE_LABELS`.
"""

from cxroi.charts.altair_charts import (
    _config,
    cash_flow_chart,
    flywheel_chart,
    metric_validity_chart,
    money_axis,
    npv_range_chart,
    portfolio_chart,
    tornado_chart,
    waterfall_chart,
)
from cxroi.charts.data import (
    _FONT,
    _STAGE_COLORS,
    _STAGES,
    BAND,
    GAIN,
    INK,
    LINE_LABELS,
    LINK_LABELS,
    LOSS,
    MEDIAN_BAND,
    MUTED,
    OTHER_BENEFITS,
    TOTAL,
    WATERFALL_BASES,
    _finite,
    _money_expr,
    _tornado_records,
    _waterfall_records,
    flywheel_labels,
    flywheel_layout,
    line_present_values,
    npv_range_data,
    tornado_axis_title,
    tornado_rows,
    tornado_title,
    waterfall_data,
    waterfall_lines,
    waterfall_title,
)
from cxroi.charts.specs import (
    _CONFIG_SPEC,
    _config_spec,
    _dataset,
    _money_axis_spec,
    cash_flow_spec,
    flywheel_spec,
    npv_range_spec,
    tornado_spec,
    waterfall_spec,
)

__all__ = [
    "BAND", "GAIN", "INK", "LINE_LABELS", "LINK_LABELS", "LOSS", "MEDIAN_BAND", "MUTED",
    "OTHER_BENEFITS", "TOTAL", "WATERFALL_BASES", "cash_flow_chart", "cash_flow_spec",
    "flywheel_chart", "flywheel_labels", "flywheel_layout", "flywheel_spec",
    "line_present_values", "metric_validity_chart", "money_axis", "npv_range_chart",
    "npv_range_data", "npv_range_spec", "portfolio_chart", "tornado_axis_title",
    "tornado_chart", "tornado_rows", "tornado_spec", "tornado_title", "waterfall_chart",
    "waterfall_data", "waterfall_lines", "waterfall_spec", "waterfall_title",
    # kept importable for callers of the one-module version
    "_CONFIG_SPEC", "_FONT", "_STAGES", "_STAGE_COLORS", "_config", "_config_spec",
    "_dataset", "_finite", "_money_axis_spec", "_money_expr", "_tornado_records",
    "_waterfall_records",
]

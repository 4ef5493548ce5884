"""The Voila app for CX leaders: sliders in, money out.

A CX leader picks a starting scenario, moves a slider ("resolution time today 30 days,
after the programme 1 day; programme cost $400k") and sees NPV, risk-adjusted NPV, ROI,
payback, retention savings, cross-sell, cost-to-serve savings and the NPS / CSAT change,
each with its P10-P90 range, the one-sentence pitch, and the cash-flow, waterfall and
tornado charts. Every card says whether it rests on measured numbers, published benchmarks
or assumptions, and links to the table of sources. The scenario can be saved (YAML that
``cxroi run`` reads back exactly) and turned into the executive HTML report.

Everything a person can get wrong ends as a plain message built from
:class:`~cxroi.errors.ScenarioError` ``.problems``; the last good result stays on screen.

Public API
----------
:func:`build_app`
    The whole app as one ipywidgets widget (what ``notebooks/app.ipynb`` displays).
:class:`CxApp`
    The same, with its state and actions (``load``, ``recompute``, ``save``,
    ``make_report``) for tests and notebooks.
:func:`serve`
    Start Voila on the app notebook only, on 127.0.0.1 (``cxroi app``).

The hot path (one slider release) is: apply the control values to the scenario mapping,
validate it (:func:`cxroi.scenario.scenario_from_dict`), compile it once, run
:func:`cxroi.uncertainty.simulate` with :data:`APP_DRAWS` draws and the scenario's seed,
send the cash-flow and waterfall charts, run the tornado and send its chart, then the
cards and the sentence. The charts are plain Vega-Lite mappings written by the
``*_spec`` functions of :mod:`cxroi.charts` (the same specs as its altair charts, without
building altair objects), so the app's kernel never imports altair; numpy and pandas are
imported on first use, so ``cxroi app`` itself starts without them.
"""

from __future__ import annotations

import html
import math
import os
import re
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from cxroi.errors import CxroiError, Problem, ScenarioError
from cxroi.scenario import Scenario, load_scenario, save_scenario, scenario_from_dict
from cxroi.scenario import scenario_files as _scenario_paths

if TYPE_CHECKING:
    import ipywidgets
    import pandas as pd

    from cxroi.uncertainty import SimulationResult

#: Monte Carlo draws per slider move; the result equals ``cxroi run --json --draws 2000``.
APP_DRAWS = 2000

#: Mime type the charts are sent with (Voila renders it with its bundled Vega-Lite 5).
VL_MIME = "application/vnd.vegalite.v5+json"
_VL5_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
#: A 1x1 transparent PNG sent beside each chart's spec. Voila's Vega renderer, after drawing
#: a chart without an ``image/png`` in its output, rasterises it to PNG and stores that in
#: the output, which makes it draw the chart a second time; the page never uses the PNG
#: (the Vega-Lite view ranks first), so the app skips both with this placeholder.
_PNG_PLACEHOLDER = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAAC0lEQVR4nGNgAAIAAAUAAXpeqz8AAAAA"
                    "SUVORK5CYII=")
_EMBED_OPTIONS = {"renderer": "svg",
                  "actions": {"export": True, "source": False, "compiled": False,
                              "editor": False}}

#: Environment variables :func:`serve` hands to the app's kernel.
ENV_SCENARIO_DIR = "CXROI_SCENARIO_DIR"
ENV_REPORTS_DIR = "CXROI_REPORTS_DIR"
ENV_FILES_ROOT = "CXROI_APP_FILES_ROOT"
#: Thread-count variables of the BLAS libraries numpy may use; :func:`serve` sets them to 1
#: for the app's kernel unless they are set already.
_BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

_ROOT = Path(__file__).resolve().parents[1]

#: The headline cards, in order: metric of :data:`cxroi.model.OUTPUTS` and a short note.
CARDS: tuple[tuple[str, str], ...] = (
    ("npv", "discounted, over the horizon"),
    ("npv_risk_adjusted", "after the risk haircuts"),
    ("roi", "PV of benefits over PV of costs"),
    ("payback_month", "when cumulative cash turns positive"),
    ("retention_savings", "margin kept from customers who stay"),
    ("cross_sell", "margin from customers buying more"),
    ("cost_to_serve_savings", "fewer repeat contacts"),
    ("nps_change", "at target, accounts-weighted"),
    ("csat_change", "at target, 1-5 scale"),
)

#: Which links each card rests on (the others rest on all of them).
CARD_LINKS: dict[str, tuple[str, ...]] = {
    "retention_savings": ("positive_share_today", "odds_ratio", "churn_gap"),
    "cross_sell": ("positive_share_today", "odds_ratio", "expansion_gap"),
    "cost_to_serve_savings": ("positive_share_today", "odds_ratio", "repeat_contacts"),
    "nps_change": ("positive_share_today", "odds_ratio", "nps_gap"),
    "csat_change": ("positive_share_today", "odds_ratio", "csat_gap"),
}

#: How each provenance is shown: (badge text, longer explanation). Weakest first.
PROVENANCE: dict[str, tuple[str, str]] = {
    "assumption": ("rests on assumptions", "a judgement with a range, not measured"),
    "benchmark": ("published benchmark", "a published study, not measured at this company"),
    "calibrated": ("measured", "fitted from this company's own data"),
}

_RISK_LABELS = {
    "retention_savings": "Retention haircut",
    "cross_sell": "Cross-sell haircut",
    "cost_to_serve_savings": "Cost-to-serve haircut",
    "advocacy": "Advocacy haircut",
    "cost_uplift": "Cost uplift",
}


def _w() -> Any:
    """ipywidgets, imported on first use (keeps ``cxroi app`` start-up light)."""
    import ipywidgets

    return ipywidgets


def _log(msg: str) -> None:
    """Write to the kernel's own stderr (the server log), never to the page."""
    print(msg, file=sys.__stderr__, flush=True)


# --------------------------------------------------------------------------------------
# Controls: a slider with a typed box beside it, for one number of the scenario
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ControlSpec:
    """One number of the scenario the app lets a person change.

    Attributes
    ----------
    key : tuple of str
        Key path in the scenario mapping, e.g. ``("costs", "one_off")``.
    label : str
        What the person reads.
    group : str
        The heading it sits under.
    value : float
        Current value in model units (shares as 0-1).
    lo, hi, step : float
        Slider range and step in *display* units (``value * scale``); for ``kind="log"``
        ``lo`` and ``hi`` are the range and ``step`` the step of the base-10 exponent.
    kind : {"float", "log", "int"}
        Linear slider, logarithmic slider, or whole numbers.
    scale : float
        Display value = model value * scale (100 for shares shown as %).
    unit : str
        Shown after the typed box.
    """

    key: tuple[str, ...]
    label: str
    group: str
    value: float
    lo: float
    hi: float
    step: float
    kind: Literal["float", "log", "int"] = "float"
    scale: float = 1.0
    unit: str = ""

    @property
    def path(self) -> str:
        """Dotted key path, as :class:`~cxroi.errors.Problem` ``.where`` writes it."""
        return ".".join(self.key)

    @property
    def css(self) -> str:
        """CSS class of the control's row, e.g. ``cx-ctl-touchpoints-complaints-lever-today``."""
        return "cx-ctl-" + re.sub(r"[^a-z0-9]+", "-", self.path.lower()).strip("-")


def _nice_ceiling(x: float) -> float:
    """The next 1-2-5 number at or above ``x`` (for slider ranges)."""
    if x <= 0:
        return 1.0
    mag = 10 ** math.floor(math.log10(x))
    for m in (1, 2, 5, 10):
        if m * mag >= x - 1e-12 * mag:
            return m * mag
    return 10 * mag  # pragma: no cover


def _nice_step(span: float, positions: int = 200) -> float:
    """A 1-2-5 step giving about ``positions`` slider positions over ``span``."""
    raw = span / positions
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag  # pragma: no cover


def control_specs(sc: Scenario) -> list[ControlSpec]:
    """Every control the app shows for a scenario, in display order.

    Each touchpoint's lever (today, target, ramp months), the one-off and running cost, the
    horizon, the discount rate and the five risk adjustments.
    """
    specs: list[ControlSpec] = []
    h = sc.finance.horizon_months
    for name, tp in sc.touchpoints.items():
        lv = tp.lever
        share = tp.unit in {"share", "%"}
        scale, unit = (100.0, "%") if share else (1.0, tp.unit)
        group = tp.label[:1].upper() + tp.label[1:]
        if tp.scale == "log2":
            lo = tp.minimum if tp.minimum is not None and tp.minimum > 0 else \
                min(lv.today, lv.target) / 100
            hi = tp.maximum if tp.maximum is not None else max(lv.today, lv.target) * 10
            lo, hi = lo * scale, hi * scale
            kind: Literal["float", "log", "int"] = "log"
            step = 0.005
        else:
            lo = tp.minimum if tp.minimum is not None else min(0.0, lv.today, lv.target)
            hi = tp.maximum if tp.maximum is not None else \
                _nice_ceiling(max(abs(lv.today), abs(lv.target)) * 2)
            lo, hi = lo * scale, hi * scale
            kind = "float"
            step = _nice_step(hi - lo)
        for attr, what in (("today", "Today"), ("target", "Target")):
            specs.append(ControlSpec(("touchpoints", name, "lever", attr), what, group,
                                     getattr(lv, attr), lo, hi, step, kind, scale, unit))
        specs.append(ControlSpec(("touchpoints", name, "lever", "ramp_months"), "Ramp",
                                 group, lv.ramp_months, 0, max(120, lv.ramp_months), 1, "int",
                                 1.0, "months"))
    cur = sc.currency
    for attr, label, floor in (("one_off", "One-off", 1e6), ("running_per_year", "Running a year",
                                                              5e5)):
        v = getattr(sc.costs, attr)
        hi = _nice_ceiling(max(4 * v, floor))
        specs.append(ControlSpec(("costs", attr), label, "Programme cost", v, 0.0, hi,
                                 _nice_step(hi), "float", 1.0, cur))
    specs.append(ControlSpec(("finance", "horizon_months"), "Horizon", "Finance", h,
                             min(6, h), 120, 1, "int", 1.0, "months"))
    specs.append(ControlSpec(("finance", "discount_rate"), "Discount rate", "Finance",
                             sc.finance.discount_rate, 0.0, max(30.0, sc.finance.discount_rate
                                                                * 100), 0.5, "float", 100.0,
                             "%/year"))
    for attr, label in _RISK_LABELS.items():
        specs.append(ControlSpec(("finance", "risk", attr), label, "Risk adjustment",
                                 getattr(sc.finance.risk, attr), 0.0, 100.0, 1.0, "float",
                                 100.0, "%"))
    return specs


def _round_display(x: float, kind: str) -> float:
    """What the typed box shows for a slider value (3 significant digits on log sliders)."""
    if kind == "int":
        return int(round(x))
    if kind == "log" and x > 0:
        digits = 2 - math.floor(math.log10(abs(x)))
        return round(x, max(digits, 0)) if digits >= 0 else float(round(x, digits))
    return round(x, 9)


class SharedStyles:
    """Layout and style models shared by the many small widgets of the controls.

    ipywidgets gives every widget its own layout and style model unless one is passed in;
    sharing them (they never change) makes the page about 140 models lighter to create,
    send and restore when it opens, with the same look.
    """

    def __init__(self) -> None:
        from ipywidgets.widgets.widget_description import DescriptionStyle
        from ipywidgets.widgets.widget_string import HTMLStyle

        w = _w()
        self.slider = w.Layout(width="140px")
        self.box = w.Layout(width="92px")
        self.label = w.Layout(width="112px")
        self.unit = w.Layout(width="58px")
        self.row = w.Layout(align_items="center", width="100%")
        self.plain = w.Layout()
        self.html = HTMLStyle()
        self.slider_style = w.SliderStyle()
        self.box_style = DescriptionStyle()


class NumberControl:
    """A slider and a typed box for one :class:`ControlSpec`; the box holds the value.

    Moving the slider (on release) writes its value, rounded, into the box; typing in the
    box (on Enter or leaving the box) moves the slider when the value fits its range (the
    range grows for larger values) and keeps impossible values as typed so they can be
    reported. Either way ``on_change(control)`` is called once.
    """

    def __init__(self, spec: ControlSpec, on_change: Callable[[NumberControl], None],
                 shared: SharedStyles | None = None):
        w = _w()
        shared = shared or SharedStyles()
        self.spec = spec
        self._on_change = on_change
        self._sync = False
        disp = _round_display(spec.value * spec.scale, spec.kind)
        common: dict[str, Any] = dict(readout=False, continuous_update=False,
                                      layout=shared.slider, style=shared.slider_style)
        if spec.kind == "log":
            self.slider = w.FloatLogSlider(value=disp, base=10, min=math.log10(spec.lo),
                                           max=math.log10(spec.hi), step=spec.step, **common)
        elif spec.kind == "int":
            self.slider = w.IntSlider(value=int(disp), min=int(spec.lo), max=int(spec.hi),
                                      step=int(spec.step), **common)
        else:
            self.slider = w.FloatSlider(value=disp, min=spec.lo, max=spec.hi, step=spec.step,
                                        **common)
        box_cls = w.IntText if spec.kind == "int" else w.FloatText
        self.box = box_cls(value=disp, layout=shared.box, style=shared.box_style)
        self.slider.add_class("cx-slider")
        self.box.add_class("cx-box")
        label = w.HTML(f"<span class='cx-ctl-label'>{html.escape(spec.label)}</span>",
                       layout=shared.label, style=shared.html)
        unit = w.HTML(f"<span class='cx-ctl-unit'>{html.escape(spec.unit)}</span>",
                      layout=shared.unit, style=shared.html)
        self.row = w.HBox([label, self.slider, self.box, unit], layout=shared.row)
        self.row.add_class("cx-ctl")
        self.row.add_class(spec.css)
        self.slider.observe(self._from_slider, "value")
        self.box.observe(self._from_box, "value")

    @property
    def value(self) -> float:
        """The value in model units (what goes into the scenario)."""
        if self.spec.kind == "int":
            return int(self.box.value)
        return round(float(self.box.value) / self.spec.scale, 12)

    def _from_slider(self, change: dict[str, Any]) -> None:
        if self._sync:
            return
        self._sync = True
        try:
            self.box.value = _round_display(change["new"], self.spec.kind)
        finally:
            self._sync = False
        self._on_change(self)

    def _from_box(self, change: dict[str, Any]) -> None:
        if self._sync:
            return
        self._sync = True
        try:
            self._place_slider(float(change["new"]))
        finally:
            self._sync = False
        self._on_change(self)

    def _place_slider(self, x: float) -> None:
        s = self.slider
        if not math.isfinite(x):
            return
        if self.spec.kind == "log":
            if x <= 0:
                return
            e = math.log10(x)
            if e > s.max:
                s.max = math.ceil(e * 10) / 10
            if e < s.min:
                s.min = math.floor(e * 10) / 10
            s.value = x
            return
        if x > s.max:
            s.max = type(s.max)(_nice_ceiling(x))
        if x >= s.min:
            s.value = x
        else:
            s.value = s.min


def _set_path(data: dict[str, Any], key: tuple[str, ...], value: Any) -> None:
    node = data
    for part in key[:-1]:
        node = node[part]
    node[key[-1]] = value


# --------------------------------------------------------------------------------------
# Scenario files
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScenarioFile:
    """A scenario the picker offers.

    ``kind`` is ``Demo`` (a shipped example: the file starts with a comment header),
    ``Calibrated`` (at least one link fitted from company data), ``Saved`` (written by
    :func:`cxroi.scenario.save_scenario`, e.g. from this app) or ``Needs fixing`` (the file
    does not validate; picking it shows why).
    """

    path: Path
    kind: str
    title: str

    @property
    def option(self) -> str:
        return f"{self.kind} · {self.title}"


_KIND_ORDER = {"Demo": 0, "Calibrated": 1, "Saved": 2, "Needs fixing": 3}


def _quick_yaml(text: str) -> Any:
    """Parse YAML with libyaml when available (about 8x faster than pure Python)."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _has_calibrated_link(data: dict[str, Any]) -> bool:
    links: list[Any] = list((data.get("links") or {}).values())
    for tp in (data.get("touchpoints") or {}).values():
        if isinstance(tp, dict):
            links += list((tp.get("links") or {}).values())
    return any(isinstance(lk, dict) and lk.get("provenance") == "calibrated" for lk in links)


def scenario_files(scenario_dir: Path) -> list[ScenarioFile]:
    """Every ``*.yaml`` scenario in ``scenario_dir``: demo, calibrated, then saved ones.

    Files are only parsed here (fast); they are validated when picked, and a file that
    does not even parse as a mapping is listed as ``Needs fixing``.
    """
    out = []
    for p in _scenario_paths(scenario_dir):
        try:
            text = p.read_text(encoding="utf-8")
            data = _quick_yaml(text)
        except Exception:  # unreadable or not YAML: listed, and explained when picked
            data, text = None, ""
        if not isinstance(data, dict):
            out.append(ScenarioFile(p, "Needs fixing", p.name))
            continue
        if _has_calibrated_link(data):
            kind = "Calibrated"
        else:
            kind = "Demo" if text.lstrip()[:1] == "#" else "Saved"
        out.append(ScenarioFile(p, kind, str(data.get("name") or p.stem)))
    return sorted(out, key=lambda f: (_KIND_ORDER[f.kind], f.title.lower()))


def slugify(name: str) -> str:
    """File name stem for a scenario name: ``"Complaints 30 → 2!"`` -> ``complaints-30-2``."""
    s = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return s[:60].rstrip("-")


def _default_dir(env: str, rel: str) -> Path:
    """``$env``, else ``./rel`` when it exists, else ``rel`` under the project root."""
    if os.environ.get(env):
        return Path(os.environ[env])
    here = Path.cwd() / rel
    return here if here.exists() else _ROOT / rel


# --------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _fmt(value: float, unit: str, currency: str) -> str:
    from cxroi.pitch import fmt

    if unit == "points":
        return f"{value:+.1f} pts" if math.isfinite(value) else "n/a"
    if unit == "csat":
        return f"{value:+.2f}" if math.isfinite(value) else "n/a"
    if unit == "month":
        return f"month {value:.0f}" if math.isfinite(value) else "not within horizon"
    return fmt(value, unit, currency)


def headline_values(res: SimulationResult) -> dict[str, dict[str, float]]:
    """P10 / P50 / P90 (and the share of draws where it is defined) of every card metric.

    The same numbers ``cxroi run --json --draws <n> --seed <s>`` prints under ``metrics``.
    """
    summ = res.summary
    return {m: {c: float(summ.loc[m, c]) for c in ("p10", "p50", "p90", "share_defined")}
            for m, _ in CARDS}


def card_provenance(sc: Scenario, metric: str) -> tuple[str, list[str]]:
    """The weakest provenance among the links ``metric`` rests on, and those links.

    Only touchpoints whose lever moves count (a lever that stays put contributes nothing);
    a card resting on any assumption says so.
    """
    from cxroi.charts import LINK_LABELS

    names = CARD_LINKS.get(metric)
    moving = [k for k, tp in sc.touchpoints.items() if tp.lever.target != tp.lever.today]
    moving = moving or list(sc.touchpoints)
    found: list[tuple[str, str]] = []
    for path, link in sc.link_paths().items():
        parts = path.split(".")
        lname = parts[-1]
        if parts[0] == "touchpoints":
            if parts[1] not in moving or (names is not None and lname not in names):
                continue
            where = sc.touchpoints[parts[1]].label
        elif names is not None:
            continue
        else:
            where = "all touchpoints"
        found.append((link.provenance, f"{LINK_LABELS.get(lname, lname)} ({where})"))
    order = list(PROVENANCE)
    worst = min((p for p, _ in found), key=order.index, default="calibrated")
    return worst, [f"{PROVENANCE[p][0]}: {text}" for p, text in found]


# --------------------------------------------------------------------------------------
# The app
# --------------------------------------------------------------------------------------

_CSS = """
<style>
.cx-app { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial,
  sans-serif; color: #222; }
.cx-app .widget-html-content { line-height: 1.35; }
.cx-header h1 { font-size: 22px; margin: 0 0 2px 0; font-weight: 650; color: #23395d; }
.cx-header p { margin: 0; color: #666; font-size: 13px; }
.cx-panel { background: #f6f7f9; border: 1px solid #e2e5ea; border-radius: 8px;
  padding: 10px 12px; }
.cx-group { font-weight: 600; font-size: 13px; color: #23395d; margin: 10px 0 2px 0;
  border-bottom: 1px solid #e2e5ea; padding-bottom: 2px; }
.cx-ctl-label { font-size: 12.5px; color: #333; }
.cx-ctl-unit { font-size: 12px; color: #777; padding-left: 4px; }
.cx-message { border-left: 4px solid #b8322a; background: #fdecea; padding: 8px 12px;
  border-radius: 4px; font-size: 13px; }
.cx-message ul { margin: 4px 0 0 0; padding-left: 18px; }
.cx-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr));
  gap: 10px; }
.cx-card { background: #fff; border: 1px solid #e2e5ea; border-radius: 8px;
  padding: 10px 12px; }
.cx-card-label { font-size: 12.5px; color: #555; display: flex; justify-content:
  space-between; gap: 6px; }
.cx-card-value { font-size: 24px; font-weight: 650; color: #23395d; margin: 2px 0; }
.cx-card-value.cx-neg { color: #b8322a; }
.cx-card-range { font-size: 12px; color: #555; }
.cx-card-note { font-size: 11px; color: #888; }
.cx-prov { font-size: 10.5px; border-radius: 10px; padding: 1px 7px; text-decoration: none;
  white-space: nowrap; height: fit-content; }
.cx-prov-assumption { background: #fff1dc; color: #8a4b00; }
.cx-prov-benchmark { background: #e6eefb; color: #23457a; }
.cx-prov-calibrated { background: #e3f4ea; color: #1b5e3a; }
.cx-pitch { background: #23395d; color: #fff; border-radius: 8px; padding: 12px 14px;
  display: flex; gap: 12px; align-items: flex-start; }
.cx-pitch-text { margin: 0; font-size: 15px; line-height: 1.45; flex: 1; }
.cx-copy { background: #fff; color: #23395d; border: 0; border-radius: 6px;
  padding: 6px 10px; cursor: pointer; font-weight: 600; white-space: nowrap; }
.cx-status { font-size: 11.5px; color: #888; }
.cx-chart-title { font-size: 13px; font-weight: 600; color: #23395d; }
.cx-charts { display: flex; flex-wrap: wrap; gap: 12px; }
.cx-prov-table { border-collapse: collapse; font-size: 12px; width: 100%; }
.cx-prov-table th { text-align: left; color: #555; border-bottom: 1px solid #ccc;
  padding: 4px 6px; }
.cx-prov-table td { border-bottom: 1px solid #eee; padding: 4px 6px; vertical-align: top; }
.cx-note { font-size: 12px; color: #555; }
.cx-ok { color: #1b7a4a; }
.cx-bad { color: #b8322a; }
</style>
"""

_COPY_JS = (
    "var b=this,t=b.parentNode.querySelector('.cx-pitch-text').innerText;"
    "function ok(){b.textContent='Copied';setTimeout(function(){b.textContent='Copy'},1500)}"
    "function old(){var a=document.createElement('textarea');a.value=t;"
    "document.body.appendChild(a);a.select();document.execCommand('copy');"
    "document.body.removeChild(a);ok()}"
    "if(navigator.clipboard&&window.isSecureContext){navigator.clipboard.writeText(t)"
    ".then(ok,old)}else{old()}"
)


class CxApp:
    """The app: a scenario picker, controls, results and actions, as ipywidgets.

    Parameters
    ----------
    scenario_dir : Path, optional
        Where the picker looks for scenarios and where "Save" writes them; default
        ``$CXROI_SCENARIO_DIR`` or ``data/scenarios``.
    reports_dir : Path, optional
        Where "Make report" writes HTML; default ``$CXROI_REPORTS_DIR`` or ``reports``.
    draws : int
        Monte Carlo draws per update (:data:`APP_DRAWS`); the seed is the scenario's.
    files_root : Path, optional
        The folder Voila serves files from (set by :func:`serve` through
        ``$CXROI_APP_FILES_ROOT``); report links point into it.
    initial : Path, optional
        The scenario shown first; default the first demo scenario.

    Attributes
    ----------
    widget : ipywidgets.Widget
        The whole app, ready to display.
    scenario : Scenario or None
        The last scenario that passed validation (what the results show).
    result : SimulationResult or None
        Its Monte Carlo result.
    problems : list of Problem
        What is wrong with the current inputs (empty when they are usable).
    """

    def __init__(self, scenario_dir: Path | None = None, reports_dir: Path | None = None,
                 draws: int = APP_DRAWS, files_root: Path | None = None,
                 initial: Path | None = None):
        w = _w()
        self.scenario_dir = Path(scenario_dir) if scenario_dir is not None else \
            _default_dir(ENV_SCENARIO_DIR, "data/scenarios")
        self.reports_dir = Path(reports_dir) if reports_dir is not None else \
            _default_dir(ENV_REPORTS_DIR, "reports")
        root = files_root if files_root is not None else os.environ.get(ENV_FILES_ROOT)
        self.files_root = Path(root).resolve() if root else None
        self.draws = int(draws)
        self.base: Scenario | None = None
        self.source: Path | None = None
        self.scenario: Scenario | None = None
        self.result: SimulationResult | None = None
        self.tornado_df: pd.DataFrame | None = None
        self.problems: list[Problem] = []
        self.controls: list[NumberControl] = []
        self.updates = 0
        self.last_update_ms = float("nan")
        self._loading = False
        self._shared = SharedStyles()

        def html_box(value: str = "") -> Any:  # an HTML widget with the shared models
            return w.HTML(value, layout=self._shared.plain, style=self._shared.html)

        self.picker = w.Dropdown(description="Scenario", layout=w.Layout(width="520px"),
                                 style={"description_width": "70px"})
        self.picker.add_class("cx-picker")
        self.controls_box = w.VBox()
        self.message = w.HTML(layout=w.Layout(display="none"), style=self._shared.html)
        self.message.add_class("cx-message-box")
        self.cards = html_box()
        self.cards.add_class("cx-cards")
        self.pitch_html = html_box()
        self.pitch_html.add_class("cx-pitch-box")
        self.status = html_box()
        self.status.add_class("cx-status-box")
        self.charts: dict[str, Any] = {}
        chart_boxes = []
        for key in ("cash_flow", "waterfall", "tornado"):
            out = w.Output(layout=w.Layout(min_height="120px"))
            out.add_class(f"cx-chart-{key}")
            out.add_class("cx-chart")
            self.charts[key] = out
            chart_boxes.append(out)
        self.provenance = html_box()
        self.provenance.add_class("cx-provenance-box")

        self.save_name = w.Text(placeholder="Name for this scenario",
                                layout=w.Layout(width="auto", flex="1 1 auto"))
        self.save_name.add_class("cx-save-name")
        self.save_button = w.Button(description="Save scenario", button_style="primary")
        self.save_button.add_class("cx-save")
        self.save_status = html_box()
        self.save_status.add_class("cx-save-status")
        self.report_button = w.Button(description="Make report", button_style="success",
                                      layout=w.Layout(width="auto"))
        self.report_button.add_class("cx-report")
        self.report_status = html_box()
        self.report_status.add_class("cx-report-status")
        self.save_button.on_click(lambda _b: self.save(self.save_name.value))
        self.report_button.on_click(lambda _b: self.make_report())

        header = html_box(
            "<div class='cx-header'><h1>CX business case</h1>"
            "<p>Move a lever and see what it is worth: P50 with the P10–P90 range of "
            f"{self.draws:,} simulations. Sliders update on release; you can also type "
            "a value and press Enter.</p></div>")
        actions = w.VBox([
            html_box("<div class='cx-group'>Keep it</div>"),
            w.HBox([self.save_name, self.save_button]), self.save_status,
            w.HBox([self.report_button]), self.report_status,
        ])
        panel = w.VBox([self.controls_box, actions],
                       layout=w.Layout(width="430px", min_width="380px"))
        panel.add_class("cx-panel")
        charts = w.Box(chart_boxes)
        charts.add_class("cx-charts")
        results = w.VBox([self.message, self.cards, self.pitch_html, charts,
                          self.provenance, self.status],
                         layout=w.Layout(flex="1 1 auto", min_width="0", grid_gap="12px"))
        body = w.HBox([panel, results], layout=w.Layout(grid_gap="16px", width="100%",
                                                          align_items="flex-start"))
        top = w.HBox([header, self.picker],
                     layout=w.Layout(justify_content="space-between",
                                     align_items="center", width="100%"))
        self.widget = w.VBox([html_box(_CSS), top, body], layout=w.Layout(grid_gap="10px"))
        self.widget.add_class("cx-app")

        files = self.refresh_picker()
        first = initial or self._first_path(files)
        if first is not None:
            self.picker.value = str(first)  # loads and computes
        self.picker.observe(self._on_pick, "value")
        if first is not None and self.source is None:
            self.load(first)

    # ---------------------------------------------------------------- scenario files --

    @staticmethod
    def _first_path(files: list[ScenarioFile]) -> Path | None:
        preferred = [f for f in files if f.kind == "Demo"
                     and f.path.stem == "complaints-30-to-1"]
        usable = [f for f in files if f.kind != "Needs fixing"]
        pick = (preferred or usable or files or [None])[0]
        return pick.path if pick is not None else None

    def refresh_picker(self) -> list[ScenarioFile]:
        """Re-read the scenario folder into the picker (keeps the current choice)."""
        files = scenario_files(self.scenario_dir)
        self._loading = True
        try:
            current = self.picker.value
            self.picker.options = [(f.option, str(f.path)) for f in files]
            if current in {str(f.path) for f in files}:
                self.picker.value = current
        finally:
            self._loading = False
        return files

    def _on_pick(self, change: dict[str, Any]) -> None:
        if self._loading or not change["new"]:
            return
        self.load(Path(change["new"]))

    def load(self, path: Path) -> bool:
        """Show a scenario file: rebuild the controls and recompute.

        Returns False (and shows the file's problems, keeping the last result) when the
        file does not validate.
        """
        try:
            sc = load_scenario(path)
        except ScenarioError as exc:
            self._show_problems(exc.problems, f"{Path(path).name} cannot be used as it is")
            return False
        self.base = sc
        self.source = Path(path)
        self._build_controls(sc)
        self.save_name.value = sc.name
        self.provenance.value = self._provenance_html(sc)
        self.report_status.value = ""
        self.save_status.value = ""
        return self.recompute()

    def _build_controls(self, sc: Scenario) -> None:
        w = _w()
        self.controls = [NumberControl(s, self._on_control, self._shared)
                         for s in control_specs(sc)]
        rows: list[Any] = []
        group = None
        for c in self.controls:
            if c.spec.group != group:
                group = c.spec.group
                rows.append(w.HTML(f"<div class='cx-group'>{_e(group)}</div>",
                                   layout=self._shared.plain, style=self._shared.html))
            rows.append(c.row)
        self.controls_box.children = rows

    def _on_control(self, _control: NumberControl) -> None:
        self.recompute()

    # ------------------------------------------------------------------- the hot path --

    def current_dict(self) -> dict[str, Any]:
        """The loaded scenario as a mapping, with every control's value applied."""
        if self.base is None:
            raise CxroiError("no scenario loaded. Fix: pick one from the list")
        data = self.base.model_dump(mode="python")
        for c in self.controls:
            _set_path(data, c.spec.key, c.value)
        return data

    def recompute(self) -> bool:
        """Validate the inputs and, when they are usable, update every number and chart.

        Returns
        -------
        bool
            True when the results were updated; False when the inputs have problems (a
            plain message says which, and the last good result stays on screen).
        """
        t0 = time.perf_counter()
        try:
            sc = scenario_from_dict(self.current_dict(), source="your inputs")
        except ScenarioError as exc:
            self._show_problems(exc.problems)
            return False
        except CxroiError as exc:
            self._show_text(str(exc))
            return False
        self.problems = []
        self.message.layout.display = "none"
        self.message.value = ""
        try:
            self._compute(sc)
        except CxroiError as exc:
            self._show_text(str(exc))
            return False
        except Exception as exc:  # a bug must not put a traceback on the page
            _log(traceback.format_exc())
            self._show_text(f"Something went wrong computing this case ({type(exc).__name__}:"
                            f" {exc}). The numbers shown are from the last valid inputs.")
            return False
        self.last_update_ms = (time.perf_counter() - t0) * 1e3
        self.status.value = (
            f"<span class='cx-status'>{self.result.n_draws:,} simulations, seed "
            f"{self.result.seed} · computed in {self.last_update_ms:.0f} ms · same as "
            f"<code>cxroi run &lt;file&gt; --draws {self.result.n_draws}</code> on the "
            f"saved scenario</span>")
        return True

    def _compute(self, sc: Scenario) -> None:
        from cxroi.charts import cash_flow_spec, tornado_spec, waterfall_spec
        from cxroi.model import compile_inputs
        from cxroi.pitch import pitch
        from cxroi.uncertainty import simulate, tornado

        inputs = compile_inputs(sc)
        res = simulate(sc, draws=self.draws, seed=sc.simulation.seed, inputs=inputs)
        # Each chart goes to the page as soon as its numbers are known: the browser draws
        # it (the longest part of an update) while the rest is computed here. Should
        # anything fail after that, the charts go back to what they were, so the page
        # never mixes two sets of inputs.
        before = {key: out.outputs for key, out in self.charts.items()}
        try:
            self.charts["cash_flow"].outputs = (_chart_output(cash_flow_spec(res)),)
            self.charts["waterfall"].outputs = (_chart_output(waterfall_spec(res)),)
            tor = tornado(sc, inputs=inputs)
            self.charts["tornado"].outputs = (_chart_output(tornado_spec(tor, sc.currency)),)
            cards = self._cards_html(sc, res, self.updates + 1)
            sentence = _e(pitch(res))
        except Exception:
            for key, outputs in before.items():
                self.charts[key].outputs = outputs
            raise
        self.updates += 1
        self.cards.value = cards
        self.pitch_html.value = (
            "<div class='cx-pitch'><p class='cx-pitch-text'>" + sentence + "</p>"
            f"<button class='cx-copy' type='button' title='Copy the sentence' "
            f"onclick=\"{_e(_COPY_JS)}\">Copy</button></div>")
        self.scenario, self.result, self.tornado_df = sc, res, tor

    # ------------------------------------------------------------------------ output --

    def _cards_html(self, sc: Scenario, res: SimulationResult, update: int) -> str:
        from cxroi.model import OUTPUTS

        cur = sc.currency
        vals = headline_values(res)
        h = sc.finance.horizon_months
        parts = [f"<div class='cx-grid' data-update='{update}'>"]
        for metric, note in CARDS:
            label, unit = OUTPUTS[metric]
            v = vals[metric]
            share = v["share_defined"]
            if metric == "payback_month" and share < 0.5:
                value = f"not within {h} months"
                rng = f"pays back in {share * 100:.0f}% of simulations"
            else:
                value = _fmt(v["p50"], unit, cur)
                rng = (f"P10–P90: {_fmt(v['p10'], unit, cur)} to "
                       f"{_fmt(v['p90'], unit, cur)}")
                if metric == "payback_month" and share < 0.995:
                    rng += f" (pays back in {share * 100:.0f}% of simulations)"
            if metric == "npv":
                note = f"{note}; {res.prob_loss * 100:.0f}% chance it is negative"
            prov, links = card_provenance(sc, metric)
            badge = (f"<a class='cx-prov cx-prov-{prov}' href='#cx-provenance' "
                     f"title='{_e(chr(10).join(links))}'>{_e(PROVENANCE[prov][0])}</a>")
            neg = " cx-neg" if unit == "money" and v["p50"] < 0 else ""
            parts.append(
                f"<div class='cx-card' data-metric='{metric}' data-p50='{v['p50']!r}' "
                f"data-provenance='{prov}'>"
                f"<div class='cx-card-label'><span>{_e(label)}</span>{badge}</div>"
                f"<div class='cx-card-value{neg}'>{_e(value)}</div>"
                f"<div class='cx-card-range'>{_e(rng)}</div>"
                f"<div class='cx-card-note'>{_e(note)}</div></div>")
        parts.append("</div>")
        return "".join(parts)

    def _provenance_html(self, sc: Scenario) -> str:
        from cxroi.charts import LINK_LABELS
        from cxroi.scenario import load_benchmarks

        bench = load_benchmarks()
        rows = []
        for path, link in sc.link_paths().items():
            parts = path.split(".")
            tp = sc.touchpoints[parts[1]].label if parts[0] == "touchpoints" \
                else "all touchpoints"
            src = link.source
            if link.provenance == "benchmark" and src in bench:
                src = f"{src}: {bench[src].get('source', '')}"
            if link.note:
                src = f"{src} — {link.note}"
            rows.append(
                f"<tr><td>{_e(LINK_LABELS.get(parts[-1], parts[-1]))}</td><td>{_e(tp)}</td>"
                f"<td>{link.value:g} ({link.low:g} to {link.high:g})</td>"
                f"<td><span class='cx-prov cx-prov-{link.provenance}'>"
                f"{_e(PROVENANCE[link.provenance][0])}</span></td><td>{_e(src)}</td></tr>")
        legend = " · ".join(f"<span class='cx-prov cx-prov-{k}'>{_e(v[0])}</span> {_e(v[1])}"
                            for k, v in PROVENANCE.items())
        return (
            "<details id='cx-provenance' open><summary class='cx-chart-title'>"
            "What is measured and what is assumed</summary>"
            f"<p class='cx-note'>{legend}. Segment economics (accounts, revenue, margin, "
            "churn) come from the books; costs, horizon and discount rate are your inputs."
            "</p><table class='cx-prov-table'><tr><th>Link of the flywheel</th>"
            "<th>Touchpoint</th><th>Value (range)</th><th>Basis</th><th>Source</th></tr>"
            + "".join(rows) + "</table></details>")

    def _label_for(self, where: str) -> str:
        best = None
        for c in self.controls:
            if where == c.spec.path or where.startswith(c.spec.path + "."):
                best = c
        if best is None:
            return where
        return f"{best.spec.group} · {best.spec.label}"

    def _show_problems(self, problems: Iterable[Problem], title: str | None = None) -> None:
        self.problems = list(problems)
        metric_names = {}
        if self.base is not None:
            metric_names = {tp.metric: tp.label for tp in self.base.touchpoints.values()}
        items = []
        for p in self.problems:
            msg = p.message
            for metric, label in metric_names.items():
                msg = msg.replace(metric, label)
            fix = f" <i>Fix:</i> {_e(p.fix[:1].upper() + p.fix[1:])}." if p.fix else ""
            items.append(f"<li><b>{_e(self._label_for(p.where))}</b>: {_e(msg)}.{fix}</li>")
        head = title or "These inputs cannot be used yet"
        kept = " The numbers below are from the last valid inputs." if self.result else ""
        self.message.value = (f"<div class='cx-message'><b>{_e(head)}.</b>{kept}"
                              f"<ul>{''.join(items)}</ul></div>")
        self.message.layout.display = None

    def _show_text(self, text: str) -> None:
        self.problems = [Problem("(app)", text)]
        self.message.value = f"<div class='cx-message'>{_e(text)}</div>"
        self.message.layout.display = None

    # ----------------------------------------------------------------------- actions --

    def save(self, name: str | None = None) -> Path | None:
        """Save the current (valid) scenario as YAML under ``scenario_dir``.

        The file name comes from ``name`` (also the scenario's new name). Demo and
        calibrated files are never overwritten. The saved file is read back and checked
        to equal what is on screen, so ``cxroi run`` reproduces it.

        Returns
        -------
        Path or None
            The file written, or None (with a message) when nothing was saved.
        """
        if self.scenario is None or self.problems:
            self.save_status.value = ("<span class='cx-bad'>Fix the inputs first: only a "
                                      "valid scenario can be saved.</span>")
            return None
        name = (name or self.scenario.name).strip()
        slug = slugify(name)
        if not slug:
            self.save_status.value = ("<span class='cx-bad'>Give the scenario a name with "
                                      "letters or digits.</span>")
            return None
        path = self.scenario_dir / f"{slug}.yaml"
        if path.exists():
            kind = next((f.kind for f in scenario_files(self.scenario_dir)
                         if f.path.resolve() == path.resolve()), "Saved")
            if kind != "Saved":
                self.save_status.value = (
                    f"<span class='cx-bad'>{_e(path.name)} is a {kind.lower()} scenario and "
                    "is kept as it is: choose another name.</span>")
                return None
        try:
            sc = scenario_from_dict({**self.scenario.model_dump(mode="python"), "name": name},
                                    source="your inputs")
            save_scenario(sc, path)
            back = load_scenario(path)
        except (CxroiError, OSError) as exc:
            self.save_status.value = f"<span class='cx-bad'>Not saved: {_e(exc)}</span>"
            return None
        if back != sc:  # pragma: no cover - guarded by tests of save_scenario
            self.save_status.value = ("<span class='cx-bad'>Saved, but the file does not read "
                                      "back the same; please report this.</span>")
            return path
        self.base, self.source, self.scenario = sc, path, sc
        self.refresh_picker()
        self._loading = True
        try:
            self.picker.value = str(path)
        finally:
            self._loading = False
        self.save_status.value = (
            f"<span class='cx-ok'>Saved to <code>{_e(path)}</code></span><br>"
            f"<span class='cx-note'>Run it with <code>cxroi run {_e(path)}</code></span>")
        return path

    def report_href(self, path: Path) -> str:
        """Link to a report: through Voila's file handler when served, else a file URI."""
        p = Path(path).resolve()
        if self.files_root is not None:
            try:
                rel = p.relative_to(self.files_root)
            except ValueError:
                pass
            else:
                return "voila/files/" + quote(rel.as_posix())
        return p.as_uri()

    def make_report(self) -> Path | None:
        """Render the executive HTML report of what is on screen; show a link to it.

        Returns
        -------
        Path or None
            The report written, or None (with a message) when it could not be made.
        """
        if self.scenario is None or self.problems:
            self.report_status.value = ("<span class='cx-bad'>Fix the inputs first: the "
                                        "report is made from a valid scenario.</span>")
            return None
        self.report_status.value = "<span class='cx-note'>Making the report…</span>"
        out = self.reports_dir / f"{slugify(self.scenario.name) or 'scenario'}.html"
        try:
            from cxroi.report import render_report
        except ImportError:
            self.report_status.value = ("<span class='cx-bad'>The report module is not "
                                        "available in this installation.</span>")
            return None
        try:
            path = Path(render_report(self.scenario, out))
        except CxroiError as exc:
            self.report_status.value = f"<span class='cx-bad'>{_e(exc)}</span>"
            return None
        except Exception as exc:
            _log(traceback.format_exc())
            self.report_status.value = (f"<span class='cx-bad'>The report could not be made "
                                        f"({_e(type(exc).__name__)}: {_e(exc)}).</span>")
            return None
        self.report_status.value = (
            f"<span class='cx-ok'>Report ready:</span> <a class='cx-report-link' "
            f"href='{_e(self.report_href(path))}' target='_blank' rel='noopener'>"
            f"{_e(path.name)}</a><br><span class='cx-note'>{_e(path.resolve())}</span>")
        return path


def _chart_output(spec: dict[str, Any]) -> dict[str, Any]:
    """An Output-widget display item for a chart's Vega-Lite spec (from the ``*_spec``
    functions of :mod:`cxroi.charts`), rendered in the page by Voila's Vega-Lite 5."""
    spec["$schema"] = _VL5_SCHEMA
    return {"output_type": "display_data", "data": {VL_MIME: spec, "image/png": _PNG_PLACEHOLDER},
            "metadata": {VL_MIME: {"embed_options": _EMBED_OPTIONS}}}


def build_app(scenario_dir: Path | None = None, reports_dir: Path | None = None,
              draws: int = APP_DRAWS) -> ipywidgets.Widget:
    """The whole app as one widget, showing the lead demo scenario.

    Parameters
    ----------
    scenario_dir : Path, optional
        Scenario folder (picker and "Save"); default ``$CXROI_SCENARIO_DIR`` or
        ``data/scenarios``.
    reports_dir : Path, optional
        Where "Make report" writes; default ``$CXROI_REPORTS_DIR`` or ``reports``.
    draws : int
        Monte Carlo draws per update.

    Returns
    -------
    ipywidgets.Widget
        Display it (the last line of ``notebooks/app.ipynb``). Its ``cx_app`` attribute is
        the :class:`CxApp`.
    """
    app = CxApp(scenario_dir, reports_dir, draws)
    app.widget.cx_app = app
    return app.widget


# --------------------------------------------------------------------------------------
# Serving
# --------------------------------------------------------------------------------------


def app_notebook() -> Path:
    """``notebooks/app.ipynb`` of the working directory, else of the project."""
    for base in (Path.cwd(), _ROOT):
        nb = base / "notebooks" / "app.ipynb"
        if nb.is_file():
            return nb.resolve()
    raise CxroiError("notebooks/app.ipynb not found. Fix: run `cxroi app` from the "
                     "project folder")


def free_port(preferred: int = 8866, host: str = "127.0.0.1") -> int:
    """``preferred`` when it is free on ``host``, else any free port there."""
    for port in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise CxroiError(f"no free port on {host}")  # pragma: no cover


def voila_argv(notebook: Path, port: int, host: str, open_browser: bool, root: Path,
               reports_dir: Path) -> list[str]:
    """Command-line arguments for Voila: this notebook only, sources stripped, no
    tracebacks, a preheated kernel, and only the reports folder's HTML files served."""
    rel = reports_dir.resolve().relative_to(root).as_posix()
    allow = (re.escape(rel) + "/" if rel != "." else "") + r"[^/]+\.html"
    return [
        str(notebook),
        f"--Voila.ip={host}",
        f"--Voila.port={port}",
        "--Voila.port_retries=0",
        f"--Voila.open_browser={open_browser}",
        f"--Voila.root_dir={root}",
        "--VoilaConfiguration.strip_sources=True",
        "--VoilaConfiguration.show_tracebacks=False",
        "--VoilaConfiguration.preheat_kernel=True",
        "--VoilaConfiguration.default_pool_size=1",
        "--VoilaConfiguration.theme=light",
        f"--VoilaConfiguration.file_allowlist={allow}",
        r"--VoilaConfiguration.file_denylist=.*\.(ipynb|py|ya?ml|json|csv|parquet)",
    ]


def _decline_iri_checker() -> None:
    """Keep ``rfc3987_syntax`` out of the server process (about 1 s of ``cxroi app``'s start).

    jupyter_server validates its event records with jsonschema, and jsonschema imports
    ``rfc3987_syntax``, when it is installed, only to offer an optional checker for the
    ``iri`` string format, building its grammar on import. No event schema of the server
    uses that format; marking the module as absent makes jsonschema skip that checker, as
    it does wherever the package is not installed. Only this process is affected (the
    app's kernel never imports jsonschema).
    """
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def serve(port: int | None = None, host: str = "127.0.0.1", open_browser: bool = False,
          scenario_dir: Path = Path("data/scenarios"), reports_dir: Path = Path("reports"),
          ) -> None:
    """Start Voila on the app notebook only and print its address; blocks until Ctrl+C.

    Parameters
    ----------
    port : int, optional
        Default 8866 when free, else any free port.
    host : str
        Interface to bind; keep the default ``127.0.0.1`` (the app has no login).
    open_browser : bool
        Open the page in the default browser.
    scenario_dir, reports_dir : Path
        Scenario folder (picker and "Save") and report folder, relative to the working
        directory.
    """
    nb = app_notebook()
    scen = Path(scenario_dir).resolve()
    reps = Path(reports_dir).resolve()
    reps.mkdir(parents=True, exist_ok=True)
    root = Path(os.path.commonpath([nb.parent.parent, reps]))
    port = port or free_port(8866, host)
    os.environ.update({ENV_SCENARIO_DIR: str(scen), ENV_REPORTS_DIR: str(reps),
                       ENV_FILES_ROOT: str(root)})
    # The app's arrays are small: one BLAS thread computes them as fast as several, while
    # OpenBLAS's extra threads spin-wait and take a core from the browser (about twice the
    # CPU time per update on a 2-core machine). The kernel inherits this environment.
    for var in _BLAS_THREAD_VARS:
        os.environ.setdefault(var, "1")
    print(f"cxroi app: http://{host}:{port}/  (scenarios in {scen}, reports in {reps}; "
          "Ctrl+C stops it)", flush=True)
    _decline_iri_checker()
    from voila.app import Voila

    Voila.launch_instance(argv=voila_argv(nb, port, host, open_browser, root, reps))


def main(argv: list[str] | None = None) -> None:
    """``python -m cxroi.app [--port N] [--scenario-dir D] [--reports-dir D] [--open]``."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m cxroi.app", description=serve.__doc__)
    ap.add_argument("--port", type=int, default=None)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--open", action="store_true", help="open the default browser")
    ap.add_argument("--scenario-dir", type=Path, default=Path("data/scenarios"))
    ap.add_argument("--reports-dir", type=Path, default=Path("reports"))
    a = ap.parse_args(argv)
    try:
        serve(a.port, a.host, a.open, a.scenario_dir, a.reports_dir)
    except CxroiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":  # pragma: no cover
    main()

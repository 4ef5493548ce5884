"""The controls of the app and the scenario files it offers.

A control is one number of the scenario a CX leader may change (a lever's value today or
its target, a ramp, a cost, the horizon, the discount rate, a risk adjustment): a slider
with a box to type into. :func:`control_specs` lists them for a scenario, in display order;
the served page (``static/app.js``) and the notebook widget (:mod:`cxroi.app.widgets`) both
draw them from these specs. :func:`scenario_files` lists the scenario folder for the picker.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cxroi.scenario import scenario_files as _scenario_paths

if TYPE_CHECKING:
    from cxroi.scenario import Scenario

#: Environment variables the app reads its folders from (set by ``cxroi app``).
ENV_SCENARIO_DIR = "CXROI_SCENARIO_DIR"
ENV_REPORTS_DIR = "CXROI_REPORTS_DIR"
ENV_FILES_ROOT = "CXROI_APP_FILES_ROOT"

_ROOT = Path(__file__).resolve().parents[2]

_RISK_LABELS = {
    "retention_savings": "Retention haircut",
    "cross_sell": "Cross-sell haircut",
    "cost_to_serve_savings": "Cost-to-serve haircut",
    "advocacy": "Advocacy haircut",
    "cost_uplift": "Cost uplift",
}


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

    def as_json(self) -> dict[str, Any]:
        """The spec as the page's script reads it (plus ``path``, ``css`` and the value
        shown in the box, ``display``)."""
        out = asdict(self)
        out.update(key=list(self.key), path=self.path, css=self.css,
                   display=round_display(self.value * self.scale, self.kind))
        return out

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


def round_display(x: float, kind: str) -> float:
    """What the typed box shows for a slider value (3 significant digits on log sliders)."""
    if kind == "int":
        return int(round(x))
    if kind == "log" and x > 0:
        digits = 2 - math.floor(math.log10(abs(x)))
        return round(x, max(digits, 0)) if digits >= 0 else float(round(x, digits))
    return round(x, 9)



def set_path(data: dict[str, Any], key: tuple[str, ...] | list[str], value: Any) -> None:
    """Set ``data[key[0]][key[1]]...`` to ``value`` (a control's value into the scenario
    mapping)."""
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

"""The app for CX leaders: sliders in, money out.

A CX leader picks a starting scenario, moves a slider ("resolution time today 30 days,
after the programme 1 day; programme cost $400k") and sees NPV, risk-adjusted NPV, ROI,
payback, retention savings, cross-sell, cost-to-serve savings and the NPS / CSAT change,
each with its P10-P90 range and the evidence level it rests on, the chance the case loses
money, the one-sentence pitch, the cash-flow, waterfall and tornado charts, and which link
is worth measuring first (value of information). The scenario can be saved (YAML that
``cxroi run`` reads back exactly) and turned into the executive HTML report.

Parts
-----
:mod:`cxroi.app.controls`
    The controls of a scenario and the scenario files offered.
:mod:`cxroi.app.view`
    Cards, messages, table of sources, value of information and charts, as HTML / JSON.
:mod:`cxroi.app.engine`
    Computing a result: validation, the report's simulation, a cache and a process pool.
:mod:`cxroi.app.server`, :mod:`cxroi.app.security`, :mod:`cxroi.app.launch`
    ``cxroi app``: one tornado server, the page and its JSON API; its guards; starting
    and stopping it.
:mod:`cxroi.app.tasks`, :mod:`cxroi.app.bundle`
    What the workers compute; the vendored chart library and the chart compiler.
:mod:`cxroi.app.widgets`, :mod:`cxroi.app.sliders`
    The same app as ipywidgets for notebooks (:class:`CxApp`, :func:`build_app`).

Imports here stay light (no numpy, no ipywidgets) so ``cxroi app`` starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cxroi.app.controls import (
    ENV_FILES_ROOT,
    ENV_REPORTS_DIR,
    ENV_SCENARIO_DIR,
    ControlSpec,
    ScenarioFile,
    control_specs,
    scenario_files,
    slugify,
)

if TYPE_CHECKING:
    from cxroi.app.sliders import NumberControl
    from cxroi.app.widgets import CxApp, build_app

_LAZY = {"CxApp": "cxroi.app.widgets", "build_app": "cxroi.app.widgets",
         "NumberControl": "cxroi.app.sliders", "SharedStyles": "cxroi.app.sliders",
         "serve": "cxroi.app.launch", "main": "cxroi.app.launch",
         "VL_MIME": "cxroi.app.widgets"}


def __getattr__(name: str) -> Any:
    """``CxApp``, ``build_app``, ``serve``... imported on first use."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'cxroi.app' has no attribute {name!r}")


__all__ = ["ENV_FILES_ROOT", "ENV_REPORTS_DIR", "ENV_SCENARIO_DIR", "ControlSpec", "CxApp",
           "NumberControl", "ScenarioFile", "build_app", "control_specs", "scenario_files",
           "serve", "slugify"]

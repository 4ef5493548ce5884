"""A slider with a box to type into, as ipywidgets, for one control of the notebook app
(:class:`cxroi.app.widgets.CxApp`)."""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from typing import Any

from cxroi.app.controls import ControlSpec, _nice_ceiling, round_display


def _w() -> Any:
    """ipywidgets, imported on first use."""
    import ipywidgets

    return ipywidgets


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
        disp = round_display(spec.value * spec.scale, spec.kind)
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
            self.box.value = round_display(change["new"], self.spec.kind)
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

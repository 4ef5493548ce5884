"""A piece of the report (:class:`Section`) and a figure card (:class:`Tile`).

A section renders its Jinja2 template (``cxroi/resources/report/*.html.j2``) twice: the
report's markup, with inline SVG charts, and the notebook's view (scoped CSS inlined,
money safe from MathJax) followed by one output per chart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from cxroi.evidence import LineEvidence
from cxroi.report.common import RESULTS_MIME, SECTION_MIME, render_template, section_css
from cxroi.report.svg import Chart


@dataclass(frozen=True)
class Section:
    """A piece of the report.

    ``html`` is the report's markup (inline SVG charts). In a notebook the section shows as
    a styled HTML output without the charts (CSS inlined and scoped, money safe from
    MathJax) followed by one output per chart: SVG in a trusted notebook, a text table in
    an untrusted one. The report's template takes ``html`` from the
    :data:`SECTION_MIME` entry of the first output.
    """

    html: str
    data: dict[str, Any] | None = None
    text: str = ""
    notebook_html: str | None = None
    charts: tuple[Chart, ...] = ()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        bundle: dict[str, Any] = {SECTION_MIME: self.html,
                                  "text/plain": self.text or "(cxroi report section)"}
        nb = self.html if self.notebook_html is None else self.notebook_html
        if nb:
            bundle["text/html"] = render_template("notebook.html.j2", css=section_css(),
                                                  body=Markup(nb))
        if self.data is not None:
            bundle[RESULTS_MIME] = self.data
        return bundle

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True)
        for c in self.charts:
            display({"image/svg+xml": c.svg_file, "text/plain": c.text}, raw=True)


def _section(template: str, /, text: str = "", charts: tuple[Chart, ...] = (),
             data: dict[str, Any] | None = None, **context: Any) -> Section:
    """Render a section's template for the report and for the notebook."""
    html_text = render_template(template, notebook=False, charts={c.key: c for c in charts},
                                **context)
    nb = render_template(template, notebook=True, charts={c.key: c for c in charts},
                         **context) if charts else None
    return Section(html_text, data=data, text=text, notebook_html=nb, charts=charts)


# --------------------------------------------------------------------------------------
# The business case
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tile:
    """One figure card: label, value, sub-line, and what it rests on."""

    label: str
    value: str
    sub: str = ""
    metric: str = ""
    raw: float | None = None
    cls: str = ""
    note: str = ""
    evidence: LineEvidence | None = None
    caveats: tuple[str, ...] = ()

    @property
    def negative(self) -> bool:
        """Does the figure read as negative (shown with a minus sign)? Painted in the loss
        colour then, never green; the cost card is red already and not marked."""
        return self.cls != "cost" and self.value.lstrip().startswith(("-", "−"))

    @property
    def raw_attr(self) -> str | None:
        return repr(float(self.raw)) if self.raw is not None and math.isfinite(self.raw) \
            else None


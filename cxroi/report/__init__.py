"""The executive HTML report, rendered from the executed business-case notebook.

``notebooks/02-business-case.ipynb`` is a thin, parameterized notebook: each cell calls
one method of :class:`BusinessCase` (page 1's summary, the benefits, the range, the
drivers, what to measure next, the flywheel, the sources with the footer, the results).
Those methods gather the *data* (cards, charts, plain-unit provenance rows) and render the
*markup* from Jinja2 templates in ``cxroi/resources/report/`` into :class:`Section`
objects. In JupyterLab a section is one styled HTML output (scoped CSS inlined, money safe
from MathJax) followed by its charts as SVG with a text-table fallback for untrusted
notebooks; in the report each section contributes its markup with inline SVG charts.

:func:`render_report` executes the notebook with the scenario as parameter and exports it
through ``cxroi/resources/report.html.j2`` (inline CSS with print rules, no scripts, no
external sources, page 1 the one-page summary on A4 and Letter); :func:`write_pdf` prints
it with headless Chromium. The batch (:mod:`cxroi.batch`) runs exactly the same code, so a
report from ``cxroi report``, the app's button and a batch are the same file for the same
scenario, seed and day. ``docs/reports.md`` describes it.

The parts, one module each:

- :mod:`~cxroi.report.common`: mime types, notebook paths, fingerprints, templates, CSS;
- :mod:`~cxroi.report.svg`: charts (Vega-Lite mappings or altair) to inline SVG, cached;
- :mod:`~cxroi.report.sections`: :class:`Section` and :class:`Tile`;
- :mod:`~cxroi.report.case`: :class:`BusinessCase`, :func:`business_case`,
  :func:`results_dict`;
- :mod:`~cxroi.report.render`: :func:`execute_report`, :func:`notebook_to_html`,
  :func:`render_report`;
- :mod:`~cxroi.report.pdf`: :func:`write_pdf` and the Chromium it needs;
- :mod:`~cxroi.report.index`: :func:`render_index`, the batch index page.

Names are loaded on first use (``from cxroi.report import X`` works for every one of
them), so a batch worker that only exports notebooks never imports numpy, pandas or
altair, and heavy imports (vl-convert, papermill, jinja2) happen inside functions, never
on ``import cxroi``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: Public (and formerly module-level) name -> the module of this package defining it.
_WHERE: dict[str, str] = {
    **dict.fromkeys(("RESULTS_MIME", "SECTION_MIME", "NOTEBOOK_NAME", "notebooks_dir",
                     "business_case_notebook", "scenario_fingerprint", "fingerprint_data",
                     "_json_safe", "script_json", "_mathjax_safe", "templates",
                     "render_template", "section_css", "report_css"), "common"),
    **dict.fromkeys(("SVG_CACHE_SIZE", "chart_spec", "render_svg", "_svg_pair", "to_svg",
                     "Picture", "picture", "_chart_text", "Chart", "make_chart"), "svg"),
    **dict.fromkeys(("Section", "_section", "Tile"), "sections"),
    **dict.fromkeys(("BusinessCase", "business_case", "results_dict", "_BENEFITS",
                     "_LEVEL_LABELS"), "case"),
    **dict.fromkeys(("ReportRun", "execute_report", "notebook_to_html", "report_sections",
                     "render_report", "_results_from"), "render"),
    **dict.fromkeys(("PAPERS", "chromium_path", "require_chromium", "write_pdf"), "pdf"),
    **dict.fromkeys(("render_index", "_INDEX_COLUMNS", "_SORT_JS"), "index"),
}

__all__ = [
    "BusinessCase", "Chart", "NOTEBOOK_NAME", "PAPERS", "Picture", "RESULTS_MIME",
    "ReportRun", "SECTION_MIME", "SVG_CACHE_SIZE", "Section", "Tile", "business_case",
    "business_case_notebook", "chart_spec", "chromium_path", "execute_report",
    "fingerprint_data", "make_chart", "notebook_to_html", "notebooks_dir", "picture",
    "render_index", "render_report", "render_svg", "render_template", "report_css",
    "report_sections", "require_chromium", "results_dict", "scenario_fingerprint",
    "script_json", "section_css", "templates", "to_svg", "write_pdf",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'cxroi.report' has no attribute '{name}'")
    value = getattr(importlib.import_module(f"cxroi.report.{module}"), name)
    globals()[name] = value  # next time without this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


if TYPE_CHECKING:
    from cxroi.report.case import BusinessCase, business_case, results_dict
    from cxroi.report.common import (
        NOTEBOOK_NAME,
        RESULTS_MIME,
        SECTION_MIME,
        business_case_notebook,
        fingerprint_data,
        notebooks_dir,
        render_template,
        report_css,
        scenario_fingerprint,
        script_json,
        section_css,
        templates,
    )
    from cxroi.report.index import render_index
    from cxroi.report.pdf import PAPERS, chromium_path, require_chromium, write_pdf
    from cxroi.report.render import (
        ReportRun,
        execute_report,
        notebook_to_html,
        render_report,
        report_sections,
    )
    from cxroi.report.sections import Section, Tile
    from cxroi.report.svg import (
        SVG_CACHE_SIZE,
        Chart,
        Picture,
        chart_spec,
        make_chart,
        picture,
        render_svg,
        to_svg,
    )

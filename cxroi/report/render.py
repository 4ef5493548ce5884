"""Execute the business-case notebook and export it to the self-contained report HTML.

:func:`execute_report` is the one code path behind :func:`render_report` (``cxroi
report``, the app's button) and every batch run: the notebook runs on a long-lived
kernel (:mod:`cxroi.nbrun`) with the scenario as parameter, and :func:`notebook_to_html`
keeps only the sections' report markup (:data:`SECTION_MIME` outputs), wrapped in
``cxroi/resources/report.html.j2`` with the inline stylesheet -- Jinja2 alone, not
nbconvert's exporters (a few milliseconds, and nothing to import in a batch worker
beyond Jinja2).

Light on purpose: no pandas, altair or nbconvert at import (batch workers export here).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

import cxroi
from cxroi.errors import ReportError
from cxroi.files import write_atomic
from cxroi.report.common import (
    NOTEBOOK_NAME,
    RESULTS_MIME,
    SECTION_MIME,
    business_case_notebook,
    notebooks_dir,
    report_css,
)
from cxroi.scenario import Scenario, load_scenario, scenario_to_yaml

if TYPE_CHECKING:
    from nbformat import NotebookNode

    from cxroi.nbrun import InProcessRunner, KernelRunner


@lru_cache(maxsize=1)
def _page_template() -> Any:
    """The report page's Jinja2 template (autoescaped; sections and CSS go in as markup)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("cxroi", "resources"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    return env.get_template("report.html.j2")


def report_sections(nb: NotebookNode) -> list[str]:
    """The report markup of every section an executed notebook emitted, in order (the
    :data:`SECTION_MIME` entry of its code cells' display and result outputs)."""
    out = []
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        for o in cell.get("outputs", []):
            if o.get("output_type") in {"display_data", "execute_result"}:
                markup = o.get("data", {}).get(SECTION_MIME)
                if markup:
                    out.append(markup if isinstance(markup, str) else "".join(markup))
    return out


def notebook_to_html(nb: NotebookNode, title: str) -> str:
    """Export an executed business-case notebook to the self-contained report HTML.

    Inputs, markdown, prompts, streams and errors are left out; only the sections'
    outputs remain, wrapped in ``resources/report.html.j2`` with the inline stylesheet.
    """
    return _page_template().render(
        title=title, version=cxroi.__version__, css=Markup(report_css()),
        sections=[Markup(s) for s in report_sections(nb)])


@dataclass
class ReportRun:
    """One execution of the business-case notebook and its export.

    ``html`` and ``results`` are ``None`` when ``error`` is set.
    """

    nb: NotebookNode
    html: str | None
    results: dict[str, Any] | None
    error: str | None
    log: str
    seconds: float


def _results_from(nb: NotebookNode) -> dict[str, Any] | None:
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if RESULTS_MIME in data:
                return dict(data[RESULTS_MIME])
    return None


def execute_report(scenario_path: str | os.PathLike[str], draws: int | None = None,
                   seed: int | None = None, data_fingerprint: str | None = None,
                   notebook: NotebookNode | None = None, cwd: str | os.PathLike[str] | None = None,
                   runner: KernelRunner | InProcessRunner | None = None,
                   timeout: int | None = None) -> ReportRun:
    """Execute the business-case notebook for one scenario file and export it.

    This is the one code path behind :func:`render_report` and every batch run. It never
    raises for a failing notebook: the failure is in :attr:`ReportRun.error` and the
    partially executed notebook is kept.

    Parameters
    ----------
    scenario_path : path
        Scenario YAML file (absolute paths are safest: the notebook runs in ``cwd``).
    draws, seed, data_fingerprint
        Notebook parameters; ``None`` keeps the scenario's own settings.
    notebook : NotebookNode, optional
        The unexecuted business-case notebook (default: read from ``notebooks/``).
    cwd : path, optional
        Working directory of the run (default: the notebooks folder, or a temp folder).
    runner : KernelRunner or InProcessRunner, optional
        Default: this process and thread's shared kernel runner (a batch worker passes
        its in-process runner).
    timeout : int, optional
        Seconds any one cell may take.
    """
    import time

    from cxroi import nbrun

    t0 = time.perf_counter()
    nb_in = notebook if notebook is not None else nbrun.read_notebook(business_case_notebook())
    params = {"scenario": str(Path(scenario_path).resolve()), "draws": draws, "seed": seed,
              "data_fingerprint": data_fingerprint}
    nb = nbrun.parameterize(nb_in, params)
    if cwd is None:
        nbdir = notebooks_dir()
        cwd = nbdir if nbdir.is_dir() else tempfile.gettempdir()
    runner = runner or nbrun.shared_runner()
    ex = runner.execute(nb, cwd=cwd, timeout=timeout)
    log = [f"cxroi {cxroi.__version__}: business case for {scenario_path}",
           f"parameters: {json.dumps(params)}",
           f"{getattr(runner, 'kind', 'kernel')} run #{runner.runs}, execution "
           f"{ex.seconds:.2f} s"]
    for i, cell in enumerate(ex.nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                log.append(f"[cell {i} {out.get('name')}] {nbrun.strip_ansi(out.get('text', ''))}"
                           .rstrip())
    if ex.error:
        log += [f"FAILED: {ex.error}", ex.traceback]
        return ReportRun(ex.nb, None, None, ex.error, "\n".join(log) + "\n",
                         time.perf_counter() - t0)
    results = _results_from(ex.nb)
    if results is None:
        err = "the notebook produced no results section (case.results_section())"
        log.append(f"FAILED: {err}")
        return ReportRun(ex.nb, None, None, err, "\n".join(log) + "\n", time.perf_counter() - t0)
    html_text = notebook_to_html(ex.nb, title=str(results.get("scenario", "CX business case")))
    log.append(f"exported {len(html_text.encode('utf-8')) / 1024:.0f} kB of HTML; "
               f"total {time.perf_counter() - t0:.2f} s")
    return ReportRun(ex.nb, html_text, results, None, "\n".join(log) + "\n",
                     time.perf_counter() - t0)


def render_report(scenario: Scenario | str | os.PathLike[str], out: Path,
                  draws: int | None = None, seed: int | None = None,
                  data_fingerprint: str | None = None) -> Path:
    """Render the executive report of one scenario to ``out`` (one self-contained HTML).

    Executes ``notebooks/02-business-case.ipynb`` on this process's long-lived kernel
    (started on first use) with the scenario as parameter and exports it without code.
    The file is written atomically. Same scenario, draws and seed on the same day give
    the same bytes as the batch.

    Parameters
    ----------
    scenario : Scenario or path
        A scenario (e.g. from the app) or a scenario YAML file.
    out : Path
        Where to write the report (``.html``).
    draws, seed : int, optional
        Default to the scenario's ``simulation`` settings.
    data_fingerprint : str, optional
        Fingerprint of the company data behind the scenario, shown in the footer.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    ScenarioError
        The scenario file is not valid (raised before anything runs).
    ReportError
        The notebook failed or the report could not be written.
    """
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="cxroi-report-") as tmp:
        if isinstance(scenario, Scenario):
            path = Path(tmp) / "scenario.yaml"
            path.write_text(scenario_to_yaml(scenario), encoding="utf-8")
        else:
            path = Path(scenario)
            load_scenario(path)  # validate at the door: a clear ScenarioError, no kernel
        run = execute_report(path, draws, seed, data_fingerprint)
    if run.error or run.html is None:
        raise ReportError(f"{out}: the business-case notebook failed: {run.error}. Fix: run "
                          f"`cxroi run` on the scenario to see the problem, or open "
                          f"notebooks/{NOTEBOOK_NAME} with this scenario")
    try:
        return write_atomic(out, run.html)
    except OSError as exc:
        raise ReportError(f"{out}: cannot write the report ({exc.strerror}). Fix: choose a "
                          f"folder you can write to") from None


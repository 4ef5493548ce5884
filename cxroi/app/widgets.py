"""The app as ipywidgets, for notebook users (``notebooks/app.ipynb``, ``voila``).

``cxroi app`` serves its own page (:mod:`cxroi.app.server`); this is the same app inside a
notebook: :func:`build_app` displays it, :class:`CxApp` gives its state and actions
(``load``, ``recompute``, ``save``, ``make_report``) to tests and analysts. Cards,
messages and the table of sources are the HTML of :mod:`cxroi.app.view`, the charts the
Vega-Lite specs of :mod:`cxroi.charts`, shown by the notebook's Vega-Lite 5 renderer.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from cxroi.app.controls import (
    ENV_FILES_ROOT,
    ENV_REPORTS_DIR,
    ENV_SCENARIO_DIR,
    ScenarioFile,
    _default_dir,
    control_specs,
    scenario_files,
    set_path,
    slugify,
)
from cxroi.app.sliders import NumberControl, SharedStyles
from cxroi.app.view import _e, cards_html, control_label, problems_html, provenance_html
from cxroi.errors import CxroiError, Problem, ScenarioError
from cxroi.scenario import Scenario, load_scenario, save_scenario, scenario_from_dict

if TYPE_CHECKING:
    import ipywidgets
    import pandas as pd

    from cxroi.uncertainty import SimulationResult

#: Mime type the charts are sent with (Voila and JupyterLab render it with Vega-Lite 5).
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
_STATIC = Path(__file__).resolve().parent / "static"


def _w() -> Any:
    """ipywidgets, imported on first use."""
    import ipywidgets

    return ipywidgets


def _log(msg: str) -> None:
    """Write to the kernel's own stderr (the server log), never to the page."""
    print(msg, file=sys.__stderr__, flush=True)


def widget_css() -> str:
    """The app's style sheet (``static/app.css``, shared with the served page)."""
    return "<style>" + (_STATIC / "app.css").read_text(encoding="utf-8") + "</style>"


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
        Monte Carlo draws per update; default the scenario's own (``simulation.draws``,
        as ``cxroi run`` and the report); the seed is the scenario's.
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
                 draws: int | None = None, files_root: Path | None = None,
                 initial: Path | None = None):
        w = _w()
        self.scenario_dir = Path(scenario_dir) if scenario_dir is not None else \
            _default_dir(ENV_SCENARIO_DIR, "data/scenarios")
        self.reports_dir = Path(reports_dir) if reports_dir is not None else \
            _default_dir(ENV_REPORTS_DIR, "reports")
        root = files_root if files_root is not None else os.environ.get(ENV_FILES_ROOT)
        self.files_root = Path(root).resolve() if root else None
        self.draws = int(draws) if draws is not None else None
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
            "<p>Move a lever and see what it is worth: P50 with the P10–P90 range of the "
            "scenario's simulations. Sliders update on release; you can also type "
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
        self.widget = w.VBox([html_box(widget_css()), top, body], layout=w.Layout(grid_gap="10px"))
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
        self.provenance.value = provenance_html(sc)
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
            set_path(data, c.spec.key, c.value)
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
            "<code>cxroi run &lt;file&gt;</code> on the saved scenario</span>")
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
            cards = cards_html(sc, res, self.updates + 1)
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

    def _label_for(self, where: str) -> str:
        return control_label([c.spec for c in self.controls], where)

    def _show_problems(self, problems: Iterable[Problem], title: str | None = None) -> None:
        self.problems = list(problems)
        self.message.value = problems_html(self.problems, self._label_for, self.base, title,
                                           kept=self.result is not None,
                                           specs=[c.spec for c in self.controls])
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
              draws: int | None = None) -> ipywidgets.Widget:
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

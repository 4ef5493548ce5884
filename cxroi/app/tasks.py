"""What a worker process of the app computes (:class:`cxroi.app.engine.Engine` runs these).

Each function takes plain JSON-like arguments and returns a JSON-like mapping with ``ok``:
the page's whole answer to one request. Inputs are validated here
(:func:`cxroi.scenario.scenario_from_dict`); a problem comes back as ``ok: False`` with a
plain message naming the control and the fix (:func:`cxroi.app.view.problems_html`).

The simulation is the report's: :func:`cxroi.uncertainty.simulate` with the scenario's own
``simulation.draws`` and ``simulation.seed``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cxroi.app.controls import control_specs, slugify
from cxroi.app.engine import MAX_DRAWS, log_failure
from cxroi.app.view import (
    cards_html,
    control_label,
    problems_html,
    provenance_html,
    split_chart,
    text_html,
    voi_html,
)
from cxroi.errors import CxroiError, Problem, ScenarioError

if TYPE_CHECKING:
    from cxroi.scenario import Scenario
    from cxroi.uncertainty import SimulationResult

#: Recent simulations of this worker, by cache key (the value of information reuses them).
_RECENT: OrderedDict[str, tuple[Scenario, SimulationResult]] = OrderedDict()
_RECENT_SIZE = 3
#: Scenario files read by this worker: path -> (mtime, scenario).
_BASES: dict[str, tuple[float, Scenario]] = {}
#: Charts compiled to Vega by this worker, by shape (:func:`cxroi.app.view.split_chart`).
_VEGA: OrderedDict[str, dict[str, Any]] = OrderedDict()


def chart(vega_lite: dict[str, Any]) -> dict[str, Any]:
    """One chart as the page draws it: :func:`cxroi.app.view.split_chart` of the
    Vega-Lite spec, with the spec compiled to Vega (``vega``; once per shape)."""
    from cxroi.app.bundle import vega_spec

    part = split_chart(vega_lite)
    shape = part["shape"]
    if shape not in _VEGA:
        _VEGA[shape] = vega_spec(part["spec"])
        while len(_VEGA) > 64:
            _VEGA.popitem(last=False)
    part["vega"] = _VEGA[shape]
    del part["spec"]
    return part


#: Whether the app's simulations compute the IRR (:func:`cxroi.uncertainty.simulate`'s
#: ``irr``). The app shows none (not on a card, in the pitch, the charts, the tornado or the
#: value of information), and solving it for every draw is about half of a numpy
#: simulation's time; everything the page shows is unchanged without it
#: (``tests/test_app_server.py``). ``cxroi run`` and the report compute it as always.
IRR = False


def failure(what: str) -> dict[str, Any]:
    """The answer of a task that failed unexpectedly while ``what`` (a bug or the machine,
    not the inputs; its traceback goes to the server log, :func:`log_failure`): ``ok``
    false, the page's message, and ``failure`` true, so that
    :meth:`cxroi.app.engine.Engine.cached` does not keep it."""
    return {"ok": False, "failure": True, "message": text_html(log_failure(what))}


def _without_pyarrow() -> None:
    """Have pandas (not imported yet) run without pyarrow, which it imports when installed
    (0.3-0.45 s per process here) and which nothing the app's workers compute uses."""
    import sys

    if "pandas" not in sys.modules:
        sys.modules.setdefault("pyarrow", None)


def warm(background: bool = False) -> None:
    """Import the model (pandas without pyarrow, :func:`_without_pyarrow`), skip the IRR
    nobody sees here (:data:`IRR`), load the compiled kernel in a thread (until
    it is in, the simulation runs on numpy, to the same numbers within 1e-13), and run one
    small simulation and tornado (a worker's first request then costs what every later one
    does); a background worker (``background``) instead runs one small value of
    information (it draws no charts)."""
    import threading

    _prepare(charts=not background)
    from cxroi import model
    from cxroi.scenario import load_scenario

    # the compiled flywheel kernel, where this installation has one: loaded in a thread,
    # off the path of the first request (the worker answers on numpy meanwhile: on a first
    # start the workers start after the first view, and a person may move a slider at once)
    if model.ENGINE != "numpy":
        threading.Thread(target=_load_kernel, name="cxroi-kernel", daemon=True).start()
    from cxroi.uncertainty import tornado

    lead = Path(__file__).resolve().parents[2] / "data" / "scenarios" / "complaints-30-to-1.yaml"
    if lead.is_file() and background:
        from cxroi.uncertainty import simulate
        from cxroi.voi import value_of_information

        sc = load_scenario(lead)
        value_of_information(simulate(sc, draws=400, irr=IRR))
    elif lead.is_file():
        sc = load_scenario(lead)
        tornado(sc)
        small = result(sc.model_copy(update={"simulation": sc.simulation.model_copy(
            update={"draws": 200})}))  # and vl-convert's compiler started
        from cxroi.app.bundle import svg

        part = small["charts"]["waterfall"]
        svg(part["vega"], part["data"])  # and its SVG renderer


def _load_kernel() -> None:
    """Load the compiled kernel (:func:`cxroi.model.use_kernel`, in a worker's thread);
    if it fails, say so in the server's log: the worker goes on with numpy, the same
    numbers, only slower."""
    import os
    import sys

    from cxroi import model

    try:
        if not model.use_kernel():
            print(f"cxroi app: worker {os.getpid()} runs on numpy (numba is not installed)",
                  file=sys.stderr, flush=True)
    except Exception as exc:  # a broken numba install or cache: numpy answers instead
        print(f"cxroi app: worker {os.getpid()} could not load the compiled kernel "
              f"({type(exc).__name__}: {exc}); it runs on numpy, the same numbers, slower",
              file=sys.stderr, flush=True)


def _start_chart_compiler() -> None:
    """Start vl-convert's JavaScript runtime (compiler and SVG renderer) in a thread: it
    releases the GIL, so it starts on the other core while this process imports numpy,
    pandas and scipy (about 0.4-0.5 s of a first start)."""
    import threading

    def start() -> None:
        import vl_convert as vlc

        from cxroi.app.bundle import VEGA_LITE

        vlc.vegalite_to_vega({"mark": "bar", "data": {"values": [{"a": 1}]},
                              "encoding": {"x": {"field": "a", "type": "quantitative"}}},
                             vl_version=VEGA_LITE)
        vlc.vega_to_svg({"width": 1, "height": 1, "marks": []})

    threading.Thread(target=start, name="cxroi-vl-convert", daemon=True).start()


def warm_first_view() -> None:
    """Get ready for one computation, the lead scenario's first view on a first start
    (:meth:`cxroi.app.engine.Engine.run_alone`), and no more: skip the IRR
    (:data:`IRR`), start the chart compiler (:func:`_start_chart_compiler`) and
    import the model. Not the compiled kernel: its numba import and load (0.3-2 s; 10-30 s
    the first time on a machine) cost more than it saves on one simulation, which numpy
    runs in about 40 ms to the same numbers (within 1e-13, docs/model.md). Nor pyarrow
    (:func:`_without_pyarrow`)."""
    _prepare()


def _prepare(charts: bool = True) -> None:
    """What every process of the app computing answers does first: pandas without
    pyarrow (:func:`_without_pyarrow`), the chart compiler started in a thread when it
    draws charts (:func:`_start_chart_compiler`), the model's modules imported."""
    _without_pyarrow()
    from cxroi.app.view import CARDS

    assert IRR or "irr" not in dict(CARDS), "the app shows the IRR: set tasks.IRR = True"
    if charts:
        _start_chart_compiler()
    import cxroi.charts  # noqa: F401
    import cxroi.evidence  # noqa: F401
    import cxroi.pitch  # noqa: F401
    import cxroi.uncertainty  # noqa: F401


def _base(source: str | None, scenario_dir: str) -> Scenario | None:
    """The scenario file the page started from (for naming controls in messages), when it
    lies in the scenario folder and still validates."""
    from cxroi.scenario import load_scenario

    if not source:
        return None
    folder = Path(scenario_dir).resolve()
    p = (folder / Path(source).name).resolve()
    if p.parent != folder or not p.is_file():
        return None
    mtime = p.stat().st_mtime
    hit = _BASES.get(str(p))
    if hit is not None and hit[0] == mtime:
        return hit[1]
    try:
        sc = load_scenario(p)
    except CxroiError:
        return None
    _BASES[str(p)] = (mtime, sc)
    return sc


def _problems(probs: list[Problem], base: Scenario | None, title: str | None = None
              ) -> dict[str, Any]:
    specs = control_specs(base) if base is not None else []
    return {"ok": False,
            "problems": [{"where": p.where, "message": p.message, "fix": p.fix} for p in probs],
            "message": problems_html(probs, lambda w: control_label(specs, w), base, title,
                                     specs=specs)}


def _validate(data: Any, source: str | None, scenario_dir: str
              ) -> tuple[Scenario | None, dict[str, Any] | None]:
    from cxroi.scenario import scenario_from_dict

    try:
        sc = scenario_from_dict(data, source="your inputs")
    except ScenarioError as exc:
        return None, _problems(exc.problems, _base(source, scenario_dir))
    if sc.simulation.draws > MAX_DRAWS:
        return None, _problems([Problem("simulation.draws",
                                        f"{sc.simulation.draws:,} draws is more than the app "
                                        f"runs ({MAX_DRAWS:,})",
                                        "use cxroi run for this scenario")], None)
    return sc, None


def result(sc: Scenario, correlated: bool = True, key: str | None = None) -> dict[str, Any]:
    """The page's numbers and charts for a valid scenario.

    Returns
    -------
    dict
        ``cards`` (HTML), ``pitch`` (the sentence), ``loss`` (the chance the case loses
        money, :func:`cxroi.pitch.chance`), ``evidence`` (the headline's evidence phrase),
        ``charts`` (:func:`cxroi.app.view.split_chart` of the cash-flow, waterfall and
        tornado charts), ``draws``, ``seed`` and ``compute_ms``.
    """
    from cxroi.charts import cash_flow_spec, tornado_spec, waterfall_spec
    from cxroi.evidence import evidence_of
    from cxroi.model import compile_inputs
    from cxroi.pitch import chance, pitch
    from cxroi.uncertainty import simulate, tornado

    t0 = time.perf_counter()
    inputs = compile_inputs(sc)
    res = simulate(sc, inputs=inputs, correlated=correlated, irr=IRR)
    t_sim = time.perf_counter()
    tor = tornado(sc, inputs=inputs)
    t_tor = time.perf_counter()
    ev = evidence_of(sc, likely=res.likely)
    out = {
        "ok": True, "name": sc.name, "draws": res.n_draws, "seed": res.seed,
        "correlated": bool(correlated and sc.correlations),
        "cards": cards_html(sc, res, 0, ev), "pitch": pitch(res),
        "loss": chance(res.prob_loss), "evidence": ev.phrase,
        "charts": {"cash_flow": chart(cash_flow_spec(res)),
                   "waterfall": chart(waterfall_spec(res)),
                   "tornado": chart(tornado_spec(tor, sc.currency))},
    }
    t_end = time.perf_counter()
    out["compute_ms"] = {"simulate": (t_sim - t0) * 1e3, "tornado": (t_tor - t_sim) * 1e3,
                         "view": (t_end - t_tor) * 1e3, "total": (t_end - t0) * 1e3}
    if key is not None:
        _RECENT[key] = (sc, res)
        _RECENT.move_to_end(key)
        while len(_RECENT) > _RECENT_SIZE:
            _RECENT.popitem(last=False)
    return out


def compute(data: Any, source: str | None, scenario_dir: str, correlated: bool = True,
            key: str | None = None) -> dict[str, Any]:
    """Validate the page's scenario mapping and compute its result (:func:`result`)."""
    t0 = time.perf_counter()
    sc, bad = _validate(data, source, scenario_dir)
    if bad is not None:
        return bad
    assert sc is not None
    validate_ms = (time.perf_counter() - t0) * 1e3
    try:
        out = result(sc, correlated, key)
        out["compute_ms"]["validate"] = validate_ms
        out["compute_ms"]["total"] += validate_ms
        return out
    except CxroiError as exc:
        return {"ok": False, "message": text_html(str(exc))}
    except Exception:  # a bug must not put a traceback on the page
        return failure("computing this case")


def load(path: str, scenario_dir: str, correlated: bool = True, key: str | None = None
         ) -> dict[str, Any]:
    """A scenario file of the scenario folder: its controls, its mapping and its result.

    Returns
    -------
    dict
        ``file``, ``name``, ``controls`` (:meth:`ControlSpec.as_json` of each),
        ``data`` (the scenario as JSON, what the page sends back with its controls'
        values), ``correlations`` (how many pairs of links it correlates),
        ``provenance`` (the table of sources) and ``result`` (:func:`result`); or
        ``ok: False`` with the message saying why the file cannot be used.
    """
    from cxroi.scenario import load_scenario

    folder = Path(scenario_dir).resolve()
    p = (folder / Path(path).name).resolve()
    if p.parent != folder:
        return {"ok": False, "message": text_html("Pick a scenario from the list.")}
    try:
        sc = load_scenario(p)
    except ScenarioError as exc:
        return _problems(exc.problems, None, f"{p.name} cannot be used as it is")
    if sc.simulation.draws > MAX_DRAWS:
        return _validate({**sc.model_dump(mode="json")}, None, scenario_dir)[1] or {}
    try:
        res = result(sc, correlated, key)
        from cxroi.app.bundle import svg

        for part in res["charts"].values():  # the first view, drawn here (see bundle.svg)
            part["svg"] = svg(part["vega"], part["data"])
    except Exception:
        return failure("computing this case")
    return {"ok": True, "file": p.name, "name": sc.name,
            "controls": [s.as_json() for s in control_specs(sc)],
            "data": sc.model_dump(mode="json"), "correlations": len(sc.correlations),
            "provenance": provenance_html(sc), "result": res}


def voi(data: Any, correlated: bool = True, key: str | None = None) -> dict[str, Any]:
    """Which link is worth measuring first: :func:`cxroi.voi.value_of_information` on the
    same draws as the result (reused when this worker just computed them)."""
    from cxroi.scenario import scenario_from_dict
    from cxroi.uncertainty import simulate
    from cxroi.voi import value_of_information

    hit = _RECENT.get(key) if key else None
    if hit is not None and hit[0].model_dump(mode="json") != data:
        hit = None  # not the draws of these inputs
    try:
        if hit is None:
            sc = scenario_from_dict(data, source="your inputs")
            res = simulate(sc, correlated=correlated, irr=IRR)
        else:
            sc, res = hit
        v = value_of_information(res)
    except CxroiError as exc:
        return {"ok": False, "message": text_html(str(exc))}
    except Exception:
        return failure("valuing information")
    first = v.table.iloc[0] if not v.table.empty else None
    return {"ok": True, "html": voi_html(v), "evpi": v.evpi, "sentence": v.sentence,
            "first": None if first is None else {"link": first["link"],
                                                  "label": first["label"],
                                                  "evppi": float(first["evppi"])}}


def save(data: Any, name: str, scenario_dir: str) -> dict[str, Any]:
    """Save the page's scenario as ``<scenario_dir>/<slug of name>.yaml``; demo and
    calibrated files are never overwritten; the file is read back and compared."""
    from cxroi.app.controls import scenario_files
    from cxroi.scenario import load_scenario, save_scenario, scenario_from_dict

    name = (name or "").strip()
    slug = slugify(name)
    if not slug:
        return {"ok": False, "message": "Give the scenario a name with letters or digits."}
    folder = Path(scenario_dir)
    path = folder / f"{slug}.yaml"
    if path.exists():
        kind = next((f.kind for f in scenario_files(folder)
                     if f.path.resolve() == path.resolve()), "Saved")
        if kind != "Saved":
            return {"ok": False, "message": f"{path.name} is a {kind.lower()} scenario and is "
                                            "kept as it is: choose another name."}
    try:
        sc = scenario_from_dict({**data, "name": name}, source="your inputs")
    except ScenarioError:
        return {"ok": False, "message": "Fix the inputs first: only a valid scenario can be "
                                        "saved."}
    try:
        save_scenario(sc, path)
        back = load_scenario(path)
    except (CxroiError, OSError) as exc:
        return {"ok": False, "message": f"Not saved: {exc}"}
    if back != sc:  # pragma: no cover - guarded by tests of save_scenario
        return {"ok": False, "message": "Saved, but the file does not read back the same; "
                                        "please report this."}
    return {"ok": True, "file": path.name, "path": str(path.resolve()), "name": sc.name}


def report_input(data: Any, folder: str) -> dict[str, Any]:
    """Validate the page's scenario and write it as YAML into ``folder`` for
    ``cxroi report`` (which the server runs in its own process)."""
    from cxroi.scenario import save_scenario, scenario_from_dict

    try:
        sc = scenario_from_dict(data, source="your inputs")
    except ScenarioError:
        return {"ok": False, "message": "Fix the inputs first: the report is made from a "
                                        "valid scenario."}
    slug = slugify(sc.name) or "scenario"
    path = Path(folder) / f"{slug}.yaml"
    save_scenario(sc, path)
    return {"ok": True, "yaml": str(path), "html": f"{slug}.html"}

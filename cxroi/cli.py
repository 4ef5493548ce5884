"""The ``cxroi`` command line: run, validate, demo, calibrate, batch, app, measure, report.

Every user error (a :class:`~cxroi.errors.CxroiError`, a bad option value, a full disk) is
printed as a plain message and exits with code 2; no traceback reaches the terminal. An
unexpected error (a bug) prints one line saying so and where its full traceback was written,
and exits 1; ``--debug`` shows the traceback instead. ``-v`` / ``-q`` set how much the
package's :mod:`logging` says on stderr.
"""

from __future__ import annotations

import datetime as _dt
import errno
import functools
import json
import logging
import math
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cxroi import __version__
from cxroi.errors import CxroiError, Problem, ScenarioError

log = logging.getLogger(__name__)

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Turn a customer-experience improvement into the money a CFO understands.",
)
# Rich markup is on for styled words; text from users (file, scenario, segment names,
# messages) goes through rich.markup.escape, so "[red]x.yaml" stays "[red]x.yaml".
console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

#: Highest --draws accepted (as scenario files' simulation.draws).
MAX_DRAWS = 200_000
#: Set by --debug: show the traceback of an unexpected error instead of the one-line note.
_DEBUG = {"on": False}

#: Errors of the operating system that are the user's to fix, not bugs.
_USER_OS_ERRORS = {
    errno.ENOSPC: "free some disk space, or write to another folder",
    getattr(errno, "EDQUOT", -1): "free some space in your quota, or write to another folder",
    errno.EROFS: "write to a folder that is not read-only",
    errno.EACCES: "write to a folder you may write to, or check the file's permissions",
    errno.EPERM: "write to a folder you may write to, or check the file's permissions",
    errno.ENAMETOOLONG: "use a shorter file name",
    errno.EISDIR: "give a file name, not a folder",
    errno.ENOTDIR: "check the path: part of it is a file, not a folder",
}


def _error(text: str) -> None:
    err_console.print("[bold red]error:[/] " + escape(text), highlight=False, markup=True,
                      soft_wrap=True)


def crash_log_dir() -> Path:
    """Where tracebacks of unexpected errors go: ``$CXROI_LOG_DIR``, else
    ``~/.cache/cxroi/logs``, else the temporary folder."""
    for d in (os.environ.get("CXROI_LOG_DIR"), Path.home() / ".cache" / "cxroi" / "logs",
              Path(tempfile.gettempdir()) / "cxroi-logs"):
        if not d:
            continue
        try:
            Path(d).mkdir(parents=True, exist_ok=True)
            if os.access(d, os.W_OK):
                return Path(d)
        except OSError:
            continue
    return Path(tempfile.gettempdir())


def _write_crash_log(exc: BaseException) -> Path | None:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = crash_log_dir() / f"cxroi-crash-{stamp}-{os.getpid()}.log"
    text = (f"cxroi {__version__}, Python {sys.version.split()[0]}, {sys.platform}\n"
            f"command: {' '.join(sys.argv)}\n\n"
            + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    try:
        path.write_text(text, encoding="utf-8")
    except OSError:
        return None
    return path


def _friendly(fn: F) -> F:
    """Print CxroiError messages plainly and exit 2 instead of showing a traceback; an
    unexpected error is reported as a bug in one line (exit 1) with its traceback saved."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CxroiError as exc:
            _error(str(exc))
            raise typer.Exit(2) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except OSError as exc:
            if exc.errno not in _USER_OS_ERRORS:
                _internal(exc)
            where = exc.filename or "a file"
            _error(f"cannot write or read {where}: {exc.strerror or exc}. Nothing was left "
                   f"half-written. Fix: {_USER_OS_ERRORS[exc.errno]}")
            raise typer.Exit(2) from None
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            _internal(exc)

    return wrapper  # type: ignore[return-value]


def _internal(exc: Exception) -> None:
    if _DEBUG["on"]:
        raise exc
    path = _write_crash_log(exc)
    where = f"the full traceback is in {path}" if path else "the traceback could not be saved"
    first = (str(exc).splitlines() or [""])[0][:200]
    _error(f"internal error in cxroi {__version__} (a bug, not your input): "
           f"{type(exc).__name__}: {first}. {where}; please report it with that file, "
           "or rerun with --debug to see it here.")
    raise typer.Exit(1) from None


def _version(value: bool) -> None:
    if value:
        console.print(f"cxroi {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit")] = False,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True,
                                         help="Say more (-v: progress, -vv: debugging)")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors")] = False,
    debug: Annotated[bool, typer.Option(help="Show the full traceback of an unexpected "
                                             "error (a bug)")] = False,
) -> None:
    """Turn a customer-experience improvement into the money a CFO understands."""
    _DEBUG["on"] = debug
    level = (logging.ERROR if quiet else logging.WARNING if verbose == 0
             else logging.INFO if verbose == 1 else logging.DEBUG)
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    pkg = logging.getLogger("cxroi")
    for h in list(pkg.handlers):
        if getattr(h, "_cxroi_cli", False):
            pkg.removeHandler(h)
    handler._cxroi_cli = True  # type: ignore[attr-defined]
    pkg.addHandler(handler)
    pkg.setLevel(level)
    pkg.propagate = False


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Logs to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _scenario_arg(path: Path | None) -> Path:
    """A scenario argument that is a folder is a named error, not 'file not found'."""
    if path is None:  # older typer versions let a missing argument through
        raise ScenarioError("(command line)", [Problem(
            "SCENARIO", "no scenario file given", "name one, e.g. cxroi run "
            "data/scenarios/complaints-30-to-1.yaml")])
    if path.is_dir():
        raise ScenarioError(str(path), [Problem(
            "(file)", "is a folder, not a scenario file",
            f"give one scenario file, e.g. {path / 'name.yaml'}, or run `cxroi batch {path}` "
            "for every scenario in the folder")])
    return path


def _clean(x: Any) -> Any:
    """JSON-safe: NaN/inf -> null, numpy scalars -> float."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if hasattr(x, "item"):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def result_payload(path: str, draws: int | None = None, seed: int | None = None,
                   breakeven_for: str | None = None, voi: bool = False) -> dict[str, Any]:
    """Everything ``cxroi run --json`` prints for one scenario file (with ``voi``: the value
    of information, key ``voi``)."""
    from cxroi.pitch import pitch
    from cxroi.scenario import load_scenario
    from cxroi.uncertainty import breakeven, simulate, tornado

    sc = load_scenario(path)
    res = simulate(sc, draws=draws, seed=seed)
    summ = res.summary
    metrics = {
        name: {c: row[c] for c in ("label", "unit", "p10", "p50", "p90", "mean", "likely",
                                   "share_defined")}
        for name, row in summ.iterrows()
    }
    tor = tornado(sc, inputs=res.inputs)
    moved = [k for k, tp in sc.touchpoints.items() if tp.lever.target != tp.lever.today]
    be = [breakeven(sc, k) for k in ([breakeven_for] if breakeven_for else moved)]
    extra: dict[str, Any] = {}
    if voi:
        from cxroi.voi import value_of_information

        v = value_of_information(res)
        extra["voi"] = {"metric": v.metric, "evpi": v.evpi, "expected_npv": v.expected_npv,
                        "decision": v.decision, "sentence": v.sentence,
                        "table": v.table[["link", "label", "evppi", "share_of_evpi"]]
                        .to_dict(orient="records"),
                        "groups": v.groups.to_dict(orient="records")}
    return _clean({
        "scenario": sc.name,
        "file": str(path),
        "currency": sc.currency,
        "draws": res.n_draws,
        "seed": res.seed,
        "horizon_months": sc.finance.horizon_months,
        "pitch": pitch(res),
        "prob_npv_negative": res.prob_loss,
        "share_draws_churn_floored": res.churn_floor_share,
        "metrics": metrics,
        "tornado": tor[["link", "provenance", "low", "likely", "high", "npv_at_low",
                        "npv_at_high", "swing"]].head(10).to_dict(orient="records"),
        "breakeven": [b.__dict__ for b in be],
        **extra,
    })


def _print_result(payload: dict[str, Any]) -> None:
    from cxroi.pitch import fmt, lever_value
    from cxroi.scenario import load_scenario

    cur = payload["currency"]
    table = Table(title=f"{escape(payload['scenario'])}  ({payload['draws']:,} draws, seed "
                        f"{payload['seed']})", title_justify="left")
    table.add_column("Metric")
    for c in ("P10", "P50", "P90", "Likely"):
        table.add_column(c, justify="right")
    for m in payload["metrics"].values():
        vals = [m[k] if m[k] is not None else float("nan")
                for k in ("p10", "p50", "p90", "likely")]
        table.add_row(escape(m["label"]), *(escape(fmt(v, m["unit"], cur)) for v in vals))
    console.print(table)
    console.print(f"P(NPV < 0) = {payload['prob_npv_negative']:.1%}")
    floored = payload["share_draws_churn_floored"]
    if floored:
        console.print(f"[yellow]warning:[/] in {floored:.0%} of draws the links claim more churn "
                      "reduction than a segment has churn (churn floored at 0); check churn_gap "
                      "and events_per_year.", highlight=False, markup=True)
    sc = load_scenario(payload["file"])
    for b in payload["breakeven"]:
        tp = sc.touchpoints[b["touchpoint"]]
        if b["reason"]:
            console.print(escape(f"Breakeven, {tp.label}: {b['reason']}."), highlight=False)
        else:
            console.print(escape(f"Breakeven, {tp.label}: the programme pays back within "
                      f"{payload['horizon_months']} months (NPV ≥ 0) once it reaches "
                      f"{lever_value(tp, round(b['target'], 2))} "
                      f"(planned {lever_value(tp, b['planned_target'])})."), highlight=False)
    console.print()
    console.print("[bold]" + escape(payload["pitch"]) + "[/]", highlight=False, markup=True)


@app.command()
@_friendly
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file")],
    draws: Annotated[int | None, typer.Option(
        min=1, max=MAX_DRAWS, help="Monte Carlo draws (default: the file's)")] = None,
    seed: Annotated[int | None, typer.Option(
        min=0, help="Random seed, 0 or more (default: the file's)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
    voi: Annotated[bool, typer.Option("--voi", help="Value of information: what is worth "
                                                    "measuring before deciding")] = False,
) -> None:
    """Run one scenario: summary table (P10/P50/P90), breakeven and the pitch sentence."""
    payload = result_payload(str(_scenario_arg(scenario)), draws, seed, voi=voi)
    if as_json:
        sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
        return
    _print_result(payload)
    if voi:
        from cxroi.pitch import money

        v = payload["voi"]
        cur = payload["currency"]
        table = Table(title=f"What to measure next (value of information, EVPI "
                            f"{money(v['evpi'], cur)})", title_justify="left")
        table.add_column("Link")
        table.add_column("Worth knowing before deciding (EVPPI)", justify="right")
        table.add_column("Share of EVPI", justify="right")
        for row in v["table"][:10]:
            table.add_row(row["label"], money(row["evppi"], cur),
                          f"{row['share_of_evpi']:.0%}" if row["share_of_evpi"] is not None
                          else "n/a")
        console.print()
        console.print(table)
        console.print(v["sentence"] + ".", highlight=False)


@app.command()
@_friendly
def validate(
    scenarios: Annotated[list[Path], typer.Argument(help="Scenario YAML files")],
) -> None:
    """Check scenario files; list every problem with its key path and fix."""
    from cxroi.scenario import load_scenario

    failed = []
    for path in scenarios:
        try:
            load_scenario(_scenario_arg(path))
            console.print("[green]ok[/]  " + escape(str(path)), highlight=False, markup=True)
        except ScenarioError as exc:
            failed.append(exc)
            _error(str(exc))
    if failed:
        raise typer.Exit(2)


@app.command()
@_friendly
def calibrate(
    data: Annotated[Path, typer.Argument(help="Folder of the four tables (CSV/Parquet), an .xlsx "
                                              "or a .duckdb file")],
    out: Annotated[Path, typer.Option(help="Calibrated scenario to write")] = Path(
        "data/scenarios/calibrated.yaml"),
    mapping: Annotated[Path | None, typer.Option(help="Mapping file for your column names, "
                                                      "date formats and codes")] = None,
    base: Annotated[Path | None, typer.Option(help="Scenario supplying costs and any link the "
                                                   "data cannot estimate")] = None,
    report: Annotated[Path | None, typer.Option(help="Calibration report (Markdown)")] = None,
    n_boot: Annotated[int, typer.Option(min=1, max=100_000,
                                        help="Bootstrap replicates for the metric-validity and "
                                             "survey-gap intervals")] = 500,
    seed: Annotated[int, typer.Option(min=0, help="Random seed, 0 or more")] = 20261123,
    max_fit_accounts: Annotated[int, typer.Option(
        min=0, help="Fit the links on a seeded random sample of this many accounts when the "
                    "company has more (baselines always use every account); 0: fit on all")
    ] = 150_000,
) -> None:
    """Calibrate the flywheel's links from a company's own data; write a scenario file."""
    from cxroi.calibrate import run_calibration
    from cxroi.files import all_or_nothing

    if base is not None:
        _scenario_arg(base)
    with all_or_nothing():  # the scenario, its table and its report: all or none
        cal = run_calibration(data, mapping, out, base=base, report=report, n_boot=n_boot,
                              seed=seed, max_fit_accounts=max_fit_accounts or None)
    for sentence in cal.verdicts:
        console.print(escape(f"- {sentence}"), highlight=False)
    console.print(escape(f"\nCalibrated scenario: {out} (run it with `cxroi run {out}`)"),
                      highlight=False)


@app.command()
@_friendly
def demo(
    scenario_dir: Annotated[Path, typer.Option(help="Folder of scenario files")] = Path(
        "data/scenarios"),
    reports: Annotated[Path, typer.Option(help="Where rendered reports go")] = Path("reports"),
    draws: Annotated[int | None, typer.Option(min=1, max=MAX_DRAWS,
                                              help="Monte Carlo draws")] = None,
) -> None:
    """The main job on the bundled demo data: calibrate the demo company, run every
    scenario, and render the executive reports with an index."""
    from cxroi.calibrate import run_calibration
    from cxroi.demo import write_demo
    from cxroi.files import project_path
    from cxroi.scenario import scenario_files

    # the checkout's bundled data and scenarios, also when run from a subfolder of it
    demo_data = project_path("data/demo")
    scenario_dir = project_path(scenario_dir)
    if not (demo_data / "accounts.csv").is_file():
        console.print(escape(f"Generating the demo company in {demo_data} ..."))
        write_demo(demo_data)
    console.rule("Calibration from the demo company's data")
    calibrated = scenario_dir / "calibrated-demo.yaml"
    from cxroi.files import all_or_nothing

    with all_or_nothing():
        cal = run_calibration(demo_data, None, calibrated,
                              base=scenario_dir / "complaints-30-to-1.yaml",
                              report=reports / "calibration-demo.md")
    for sentence in cal.verdicts:
        console.print(escape(f"- {sentence}"), highlight=False)
    console.print(escape(f"Calibrated scenario written to {calibrated}."), highlight=False)
    files = scenario_files(scenario_dir)
    if not files:
        raise CxroiError(f"{scenario_dir}: no scenario files (*.yaml) found. Fix: point "
                         "--scenario-dir at a folder of scenarios, e.g. data/scenarios")
    for f in files:
        console.rule(escape(str(f)))
        _print_result(result_payload(str(f), draws))
    console.rule("Executive reports")
    from cxroi.batch import run_batch

    res = run_batch(scenario_dir, reports)
    console.print(escape(res.summary()), highlight=False)
    console.print(escape(f"\n{len(files)} scenarios run from {scenario_dir}; open {res.index} "
              f"for the reports."), highlight=False)
    if res.exit_code:
        raise typer.Exit(res.exit_code)


@app.command()
@_friendly
def batch(
    spec: Annotated[Path, typer.Argument(help="Batch YAML file or a folder of scenarios")],
    out_dir: Annotated[Path, typer.Option("--out", help="Where reports go")] = Path("reports"),
    workers: Annotated[int | None, typer.Option(help="Parallel workers (default: cores)")] = None,
    scheduler: Annotated[str | None, typer.Option(
        envvar="CXROI_SCHEDULER",
        help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 (or set CXROI_SCHEDULER)")] = None,
    force: Annotated[bool, typer.Option(help="Redo runs whose inputs have not changed")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar")] = True,
    only: Annotated[list[str] | None, typer.Option(
        help="Only runs whose id matches this pattern, e.g. 'complaints-*' (repeatable)")] = None,
    pdf: Annotated[bool, typer.Option("--pdf", help="Also print each report to PDF with "
                                                    "Chromium (<run>.pdf)")] = False,
    paper: Annotated[str, typer.Option(help="PDF paper size: A4 or letter")] = "A4",
) -> None:
    """Run many business cases in parallel: reports, this batch's <name>.index.html, the
    folder's index.html and results tables; with --pdf each report's PDF too."""
    from cxroi.batch import run_batch

    if pdf:
        from cxroi.report import PAPERS, require_chromium

        if paper.lower() not in PAPERS:
            raise CxroiError(f"--paper {paper} is not known. Fix: use A4 or letter")
        require_chromium()  # say so before spending time on the batch
    try:
        res = run_batch(spec, out_dir, workers=workers, scheduler=scheduler, force=force,
                        progress=progress, only=only)
    except KeyboardInterrupt:
        err_console.print(f"interrupted: workers stopped; finished runs are kept and listed in "
                          f"{out_dir / 'index.html'}; run the batch again to do the rest.",
                          highlight=False, markup=False)
        raise typer.Exit(130) from None
    # names, keys and errors are the user's text: never Rich markup
    console.print(res.summary(), highlight=False, markup=False)
    code = res.exit_code
    if pdf:
        from cxroi.batch import write_batch_pdfs

        pdfs = write_batch_pdfs(res, paper=paper)
        bad = [p for p in pdfs if p.error]
        console.print(f"PDFs: {len(pdfs) - len(bad)} written next to the reports, "
                      f"{len(bad)} failed", highlight=False, markup=False)
        for p in bad:
            console.print(f"  PDF FAILED {p.run_id}: {p.error}", highlight=False, markup=False)
        code = code or (1 if bad else 0)
    raise typer.Exit(code)


@app.command(name="app")
@_friendly
def app_command(
    port: Annotated[int | None, typer.Option(min=1, max=65535,
                                             help="Port (default 8866 or a free one)")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on; beyond loopback a token is "
                                           "required")] = "127.0.0.1",
    workers: Annotated[int | None, typer.Option(min=1, max=64, help="Worker processes "
                                                "computing results (default: CPUs, at most 4)")
                       ] = None,
    token: Annotated[str | None, typer.Option(help="Token browsers must present (generated "
                                                   "and printed beyond loopback)")] = None,
    max_sessions: Annotated[int, typer.Option(min=1, help="Open pages served at once; the "
                                                          "next visitor is asked to come back "
                                                          "in a minute")] = 40,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the browser")] = False,
    scenario_dir: Annotated[Path, typer.Option(help="Scenarios to pick from and save to")] = Path(
        "data/scenarios"),
    reports_dir: Annotated[Path, typer.Option(help="Where 'make report' writes")] = Path("reports"),
) -> None:
    """Start the app for CX leaders (one server, a few workers) and print its address."""
    from cxroi.app.launch import serve

    serve(port=port, host=host, open_browser=open_browser, scenario_dir=scenario_dir,
          reports_dir=reports_dir, workers=workers, token=token, max_sessions=max_sessions)


@app.command()
@_friendly
def measure(
    data: Annotated[Path, typer.Argument(help="Folder of the four tables (CSV/Parquet), an .xlsx "
                                              "or a .duckdb file, covering months before and "
                                              "after the go-live")],
    initiative: Annotated[Path, typer.Option(help="Initiative file (I.yaml): go-live date(s), "
                                                  "groups, lever, business-case scenario")],
    mapping: Annotated[Path | None, typer.Option(help="Mapping file for your column names, "
                                                      "date formats and codes")] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for measurement.html, "
                                                    "measurement.json, updated-scenario.yaml")]
    = Path("reports/measure"),
) -> None:
    """Did it work? Measure an initiative after it went live: the lever's change, the effect
    on leaving, buying more, contacts, NPS and CSAT (difference-in-differences or interrupted
    time series), realised vs promised money, an updated scenario and an HTML report."""
    from cxroi.measure import measure as run_measure
    from cxroi.measure.report import write_outputs

    m = run_measure(data, initiative, mapping)
    console.print(f"[bold]{m.headline}[/]", highlight=False)
    console.print(f"Design: {m.design}. {m.design_reason}", highlight=False)
    if m.lever is not None:
        from cxroi.measure.report import report_data

        console.print(report_data(m)["lever"]["sentence"] + ".", highlight=False)
    for r in m.outcomes.values():
        if r.outcome != "lever":
            flag = "" if r.separable else "  [yellow](treat with caution: the pre-period moved)[/]"
            console.print(f"- {r.phrase()}: {r.verdict()}{flag}", highlight=False)
    for note in m.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    paths = write_outputs(m, out)
    console.print(f"\nReport: {paths['report']}\nUpdated scenario: {paths['scenario']} "
                  f"(run it with `cxroi run {paths['scenario']}`)", highlight=False)


@app.command(name="report")
@_friendly
def report_command(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file")],
    out: Annotated[Path | None, typer.Option(help="HTML file to write (default: "
                                                  "reports/<scenario>.html)")] = None,
    pdf: Annotated[bool, typer.Option("--pdf", help="Also print it to PDF with Chromium "
                                                    "(<out>.pdf)")] = False,
    paper: Annotated[str, typer.Option(help="PDF paper size: A4 or letter")] = "A4",
    data_fingerprint: Annotated[str | None, typer.Option(
        help="Fingerprint of the company data behind the scenario")] = None,
) -> None:
    """Render the executive report of one scenario (the same draws and seed as `cxroi run`
    and the batch: the scenario's own simulation settings), and optionally its PDF."""
    from cxroi.report import PAPERS, render_report, require_chromium, write_pdf

    if pdf:
        if paper.lower() not in PAPERS:
            raise CxroiError(f"--paper {paper} is not known. Fix: use A4 or letter")
        require_chromium()  # say so before spending time on the report
    html_out = out or Path("reports") / f"{scenario.stem}.html"
    path = render_report(scenario, html_out, data_fingerprint=data_fingerprint)
    console.print(f"Report: {path}", highlight=False)
    if pdf:
        console.print(f"PDF: {write_pdf(path, paper=paper)}", highlight=False)


if __name__ == "__main__":  # pragma: no cover
    app()

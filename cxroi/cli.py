"""The ``cxroi`` command line: run, validate, demo, calibrate, batch, app, measure, report.

Every user error (a :class:`~cxroi.errors.CxroiError`) is printed as a plain message and
exits with code 2; no traceback reaches the terminal.
"""

from __future__ import annotations

import functools
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from cxroi.errors import CxroiError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Turn a customer-experience improvement into the money a CFO understands.",
)
console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def _friendly(fn: F) -> F:
    """Print CxroiError messages plainly and exit 2 instead of showing a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CxroiError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


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
                   breakeven_for: str | None = None) -> dict[str, Any]:
    """Everything ``cxroi run --json`` prints for one scenario file."""
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
    })


def _print_result(payload: dict[str, Any]) -> None:
    from cxroi.pitch import fmt, lever_value
    from cxroi.scenario import load_scenario

    cur = payload["currency"]
    table = Table(title=f"{payload['scenario']}  ({payload['draws']:,} draws, seed "
                        f"{payload['seed']})", title_justify="left")
    table.add_column("Metric")
    for c in ("P10", "P50", "P90", "Likely"):
        table.add_column(c, justify="right")
    for m in payload["metrics"].values():
        vals = [m[k] if m[k] is not None else float("nan")
                for k in ("p10", "p50", "p90", "likely")]
        table.add_row(m["label"], *(fmt(v, m["unit"], cur) for v in vals))
    console.print(table)
    console.print(f"P(NPV < 0) = {payload['prob_npv_negative']:.1%}")
    floored = payload["share_draws_churn_floored"]
    if floored:
        console.print(f"[yellow]warning:[/] in {floored:.0%} of draws the links claim more churn "
                      "reduction than a segment has churn (churn floored at 0); check churn_gap "
                      "and events_per_year.", highlight=False)
    sc = load_scenario(payload["file"])
    for b in payload["breakeven"]:
        tp = sc.touchpoints[b["touchpoint"]]
        if b["reason"]:
            console.print(f"Breakeven, {tp.label}: {b['reason']}.")
        else:
            console.print(f"Breakeven, {tp.label}: the programme pays back within "
                      f"{payload['horizon_months']} months (NPV ≥ 0) once it reaches "
                      f"{lever_value(tp, round(b['target'], 2))} "
                      f"(planned {lever_value(tp, b['planned_target'])}).")
    console.print()
    console.print(f"[bold]{payload['pitch']}[/]", highlight=False)


@app.command()
@_friendly
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file")],
    draws: Annotated[int | None, typer.Option(help="Monte Carlo draws (default: the file's)")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: the file's)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False,
) -> None:
    """Run one scenario: summary table (P10/P50/P90), breakeven and the pitch sentence."""
    payload = result_payload(str(scenario), draws, seed)
    if as_json:
        sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    else:
        _print_result(payload)


@app.command()
@_friendly
def validate(
    scenarios: Annotated[list[Path], typer.Argument(help="Scenario YAML files")],
) -> None:
    """Check scenario files; list every problem with its key path and fix."""
    from cxroi.errors import ScenarioError
    from cxroi.scenario import load_scenario

    failed = []
    for path in scenarios:
        try:
            load_scenario(path)
            console.print(f"[green]ok[/]  {path}", highlight=False)
        except ScenarioError as exc:
            failed.append(exc)
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
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
    n_boot: Annotated[int, typer.Option(help="Bootstrap replicates for the metric-validity and "
                                           "survey-gap intervals")] = 500,
    seed: Annotated[int, typer.Option(help="Random seed")] = 20261123,
) -> None:
    """Calibrate the flywheel's links from a company's own data; write a scenario file."""
    from cxroi.calibrate import run_calibration

    cal = run_calibration(data, mapping, out, base=base, report=report, n_boot=n_boot, seed=seed)
    for sentence in cal.verdicts:
        console.print(f"- {sentence}", highlight=False)
    console.print(f"\nCalibrated scenario: {out} (run it with `cxroi run {out}`)",
                      highlight=False)


@app.command()
@_friendly
def demo(
    scenario_dir: Annotated[Path, typer.Option(help="Folder of scenario files")] = Path(
        "data/scenarios"),
    reports: Annotated[Path, typer.Option(help="Where rendered reports go")] = Path("reports"),
    draws: Annotated[int | None, typer.Option(help="Monte Carlo draws")] = None,
) -> None:
    """The main job on the bundled demo data: calibrate the demo company, run every
    scenario, and render the executive reports with an index."""
    from cxroi.calibrate import run_calibration
    from cxroi.demo import write_demo
    from cxroi.scenario import scenario_files

    demo_data = Path("data/demo")
    if not (demo_data / "accounts.csv").is_file():
        console.print(f"Generating the demo company in {demo_data} ...")
        write_demo(demo_data)
    console.rule("Calibration from the demo company's data")
    calibrated = scenario_dir / "calibrated-demo.yaml"
    cal = run_calibration(demo_data, None, calibrated, base=scenario_dir / "complaints-30-to-1.yaml",
                          report=reports / "calibration-demo.md")
    for sentence in cal.verdicts:
        console.print(f"- {sentence}", highlight=False)
    console.print(f"Calibrated scenario written to {calibrated}.", highlight=False)
    files = scenario_files(scenario_dir)
    if not files:
        raise CxroiError(f"{scenario_dir}: no scenario files (*.yaml) found. Fix: point "
                         "--scenario-dir at a folder of scenarios, e.g. data/scenarios")
    for f in files:
        console.rule(str(f))
        _print_result(result_payload(str(f), draws))
    console.rule("Executive reports")
    from cxroi.batch import run_batch

    res = run_batch(scenario_dir, reports)
    console.print(res.summary(), highlight=False)
    console.print(f"\n{len(files)} scenarios run from {scenario_dir}; open {res.index} "
              f"for the reports.", highlight=False)
    if res.exit_code:
        raise typer.Exit(res.exit_code)


@app.command()
@_friendly
def batch(
    spec: Annotated[Path, typer.Argument(help="Batch YAML file or a folder of scenarios")],
    out_dir: Annotated[Path, typer.Option("--out", help="Where reports go")] = Path("reports"),
    workers: Annotated[int | None, typer.Option(help="Parallel workers (default: cores)")] = None,
    scheduler: Annotated[str | None, typer.Option(
        help="Dask scheduler address, e.g. tcp://127.0.0.1:8786")] = None,
    force: Annotated[bool, typer.Option(help="Redo runs whose inputs have not changed")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar")] = True,
    only: Annotated[list[str] | None, typer.Option(
        help="Only runs whose id matches this pattern, e.g. 'complaints-*' (repeatable)")] = None,
) -> None:
    """Run many business cases in parallel: reports, this batch's <name>.index.html, the
    folder's index.html and results tables."""
    from cxroi.batch import run_batch

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
    raise typer.Exit(res.exit_code)


@app.command(name="app")
@_friendly
def app_command(
    port: Annotated[int | None, typer.Option(help="Port (default 8866 or a free one)")] = None,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the browser")] = False,
    scenario_dir: Annotated[Path, typer.Option(help="Scenarios to pick from and save to")] = Path(
        "data/scenarios"),
    reports_dir: Annotated[Path, typer.Option(help="Where 'make report' writes")] = Path("reports"),
) -> None:
    """Start the Voila app for CX leaders on 127.0.0.1 and print its address."""
    from cxroi.app import serve

    serve(port=port, open_browser=open_browser, scenario_dir=scenario_dir,
          reports_dir=reports_dir)



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

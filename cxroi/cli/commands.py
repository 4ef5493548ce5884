"""The ``cxroi`` commands: run, validate, calibrate, demo, batch, app, measure, report
(registered on :data:`cxroi.cli.common.app`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cxroi.cli.common import (
    MAX_DRAWS,
    _error,
    _friendly,
    _print_result,
    _scenario_arg,
    app,
    console,
    err_console,
    result_payload,
)
from cxroi.errors import CxroiError, ScenarioError


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
    workers: Annotated[int | None, typer.Option(min=1, help="Parallel workers, 1 or more (default: cores)")] = None,
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

"""The command line: run, --json, validate, and friendly errors (exit 2, no traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cxroi.cli import app
from cxroi.pitch import headline, pitch
from cxroi.scenario import load_scenario
from cxroi.uncertainty import simulate

LEAD = Path(__file__).resolve().parents[1] / "data" / "scenarios" / "complaints-30-to-1.yaml"
runner = CliRunner()


def test_run_prints_table_and_pitch() -> None:
    res = runner.invoke(app, ["run", str(LEAD), "--draws", "400"])
    assert res.exit_code == 0, res.output
    assert "Retention savings" in res.output and "Risk-adjusted NPV" in res.output
    assert "Cutting complaint resolution time from 30 days to 1 day" in res.output
    # the chance of a loss worded as the report and the pitch word it, not "1.3%" beside "1%"
    from cxroi.pitch import chance
    from cxroi.scenario import load_scenario
    from cxroi.uncertainty import simulate

    p = simulate(load_scenario(LEAD), draws=400).prob_loss
    assert f"Chance of losing money (NPV < 0): {chance(p)}" in res.output
    assert "P(NPV < 0) =" not in res.output


def test_run_json_equals_simulation() -> None:
    res = runner.invoke(app, ["run", str(LEAD), "--json", "--draws", "500", "--seed", "4"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    sim = simulate(load_scenario(LEAD), draws=500, seed=4)
    assert payload["pitch"] == pitch(sim)
    assert payload["metrics"]["npv"]["p50"] == headline(sim)["npv"]
    assert payload["prob_npv_negative"] == sim.prob_loss
    assert payload["breakeven"][0]["touchpoint"] == "complaints"
    for key in ("p10", "p50", "p90"):
        assert payload["metrics"]["retention_savings"][key] is not None


def test_bad_scenario_exit_2_without_traceback(tmp_path: Path) -> None:
    d = yaml.safe_load(LEAD.read_text())
    d["segments"][0]["churn"] = 1.5
    d["touchpoints"]["complaints"]["lever"]["target"] = 60
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(d))
    res = runner.invoke(app, ["run", str(bad)])
    assert res.exit_code == 2
    assert "Traceback" not in res.output
    assert "bad.yaml" in res.output and "segments[0].churn" in res.output


def test_validate(tmp_path: Path) -> None:
    ok = runner.invoke(app, ["validate", str(LEAD)])
    assert ok.exit_code == 0 and "ok" in ok.output
    missing = runner.invoke(app, ["validate", str(tmp_path / "missing.yaml")])
    assert missing.exit_code == 2 and "file not found" in missing.output


def test_calibrate_command_writes_a_runnable_scenario(tmp_path: Path) -> None:
    demo = LEAD.parents[1] / "demo"
    out = tmp_path / "cal.yaml"
    res = runner.invoke(app, ["calibrate", str(demo), "--out", str(out), "--base", str(LEAD),
                              "--n-boot", "20"])
    assert res.exit_code == 0, res.output
    assert "Calibrated scenario" in res.output and "hazard" in res.output
    sc = load_scenario(out)
    assert any(ln.provenance == "calibrated" for ln in sc.link_paths().values())
    run = runner.invoke(app, ["run", str(out), "--draws", "200"])
    assert run.exit_code == 0, run.output


def test_calibrate_bad_data_exit_2(tmp_path: Path) -> None:
    (tmp_path / "accounts.csv").write_text("account_id,segment\n1,A\n1,A\n")
    res = runner.invoke(app, ["calibrate", str(tmp_path), "--out", str(tmp_path / "x.yaml"),
                              "--base", str(LEAD)])
    assert res.exit_code == 2
    assert "Traceback" not in res.output
    assert "tickets table" in res.output and "Fix:" in res.output


def test_batch_command_reports_a_broken_scenario(tmp_path: Path) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "good.yaml").write_text(LEAD.read_text())
    d = yaml.safe_load(LEAD.read_text())
    d["segments"][0]["churn"] = 3
    (folder / "broken.yaml").write_text(yaml.safe_dump(d))
    res = runner.invoke(app, ["batch", str(folder), "--out", str(tmp_path / "reports"),
                              "--workers", "1", "--no-progress"])
    assert res.exit_code == 1, res.output
    assert "1 failed" in res.output and "broken" in res.output
    assert (tmp_path / "reports" / "good.html").is_file()
    assert not (tmp_path / "reports" / "broken.html").exists()


# --------------------------------------------------------------------------------------
# Every shipped artefact runs: scenarios, mappings against their data, the README's demo
# --------------------------------------------------------------------------------------

ROOT = LEAD.parents[2]
SHIPPED_SCENARIOS = sorted(p for p in (ROOT / "data" / "scenarios").glob("*.y*ml")
                           if not p.name.startswith("calibrated"))
MAPPINGS = sorted((ROOT / "data" / "mappings").glob("*.y*ml"))
#: CI keeps the shared data next to the checkout; the helpers' machines at /work/shared.
SHARED_DATA = [ROOT.parent / "shared" / "data", Path("/work/shared/data")]


def _data_for(mapping: Path) -> Path | None:
    """A mapping's data: the file of the same name in the shared data folder."""
    for folder in SHARED_DATA:
        for p in sorted(folder.glob(f"{mapping.stem}.*")) if folder.is_dir() else []:
            if p.suffix.lower() in {".xlsx", ".csv", ".parquet", ".duckdb"}:
                return p
    return None


def test_every_shipped_scenario_is_listed() -> None:
    assert len(SHIPPED_SCENARIOS) >= 4 and MAPPINGS


@pytest.mark.parametrize("path", SHIPPED_SCENARIOS, ids=[p.name for p in SHIPPED_SCENARIOS])
def test_every_shipped_scenario_runs(path: Path) -> None:
    res = runner.invoke(app, ["run", str(path), "--draws", "300", "--json"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["pitch"] and payload["metrics"]["npv"]["p50"] is not None
    assert 0 <= payload["prob_npv_negative"] <= 1


@pytest.mark.parametrize("mapping", MAPPINGS, ids=[p.name for p in MAPPINGS])
def test_every_mapping_calibrates_its_data(mapping: Path, tmp_path: Path) -> None:
    data = _data_for(mapping)
    if data is None:
        pytest.skip(f"the data for {mapping.name} ({mapping.stem}.*) is not in "
                    f"{' or '.join(map(str, SHARED_DATA))}")
    out = tmp_path / "cal.yaml"
    res = runner.invoke(app, ["calibrate", str(data), "--mapping", str(mapping), "--out",
                              str(out), "--base", str(LEAD), "--n-boot", "20"])
    assert res.exit_code == 0, res.output
    assert load_scenario(out).name
    run = runner.invoke(app, ["run", str(out), "--draws", "200"])
    assert run.exit_code == 0, run.output


def test_readme_demo_command_into_a_temp_folder(tmp_path: Path, monkeypatch) -> None:
    """`make demo` runs `cxroi demo`: calibrate the demo company, run every scenario,
    render the reports and their index."""
    import shutil

    scen = tmp_path / "scenarios"
    shutil.copytree(ROOT / "data" / "scenarios", scen,
                    ignore=shutil.ignore_patterns("calibrated*"))
    reports = tmp_path / "reports"
    monkeypatch.chdir(ROOT)
    res = runner.invoke(app, ["demo", "--scenario-dir", str(scen), "--reports", str(reports),
                              "--draws", "300"])
    assert res.exit_code == 0, res.output
    assert (scen / "calibrated-demo.yaml").is_file()
    assert (reports / "index.html").is_file() and (reports / "calibration-demo.md").is_file()
    for f in SHIPPED_SCENARIOS:
        assert (reports / f"{f.stem}.html").is_file() or any(reports.rglob(f"*{f.stem}*.html"))


def test_the_readme_quotes_what_cxroi_run_says() -> None:
    """The sentence on the README's first screen is the lead scenario's pitch, word for word
    (same draws and seed as `cxroi run`), so the front page cannot drift from the tool."""
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quoted = re.search(r"\n((?:> .*\n)+)", readme)
    assert quoted, "the README lost its quoted pitch"
    text = " ".join(line[2:].strip() for line in quoted.group(1).splitlines())
    res = runner.invoke(app, ["run", str(LEAD), "--json"])
    assert res.exit_code == 0, res.output
    assert text == json.loads(res.stdout)["pitch"]


def test_calibrate_fits_a_sample_when_asked_and_says_so(tmp_path: Path) -> None:
    """`--max-fit-accounts`: the links come from a seeded sample, stated in the report; the
    CLI's default is the library's."""
    import inspect

    from cxroi.calibrate.run import FIT_SAMPLE_ACCOUNTS
    from cxroi.cli import calibrate

    default = inspect.signature(calibrate).parameters["max_fit_accounts"].default
    assert default == FIT_SAMPLE_ACCOUNTS
    out = tmp_path / "cal.yaml"
    res = runner.invoke(app, ["calibrate", str(ROOT / "data" / "demo"), "--out", str(out),
                              "--base", str(LEAD), "--n-boot", "20", "--max-fit-accounts",
                              "600"])
    assert res.exit_code == 0, res.output
    report = out.with_suffix(".calibration.md").read_text(encoding="utf-8")
    assert "random sample of 600 of the" in report
    assert "random sample" in out.read_text(encoding="utf-8")  # the scenario's caveat

"""The command line: run, --json, validate, and friendly errors (exit 2, no traceback)."""

from __future__ import annotations

import json
from pathlib import Path

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

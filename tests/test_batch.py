"""Batches: failures are contained, unchanged runs are skipped, a killed run leaves no
partial report, and the same runs go to a Dask cluster."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cxroi.batch import apply_overrides, load_spec, plan, run_batch
from cxroi.errors import BatchError
from cxroi.report import render_report
from cxroi.scenario import load_scenario, scenario_from_dict
from cxroi.uncertainty import simulate

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "data" / "scenarios"
DRAWS = 300


def _spec(folder: Path, files: list[str], **extra) -> Path:
    spec = {"name": "test batch", "initiatives": files, "draws": DRAWS, **extra}
    path = folder / "batch.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("batch")
    shutil.copy(SCENARIOS / "complaints-30-to-1.yaml", d / "complaints.yaml")
    shutil.copy(SCENARIOS / "fcr-60-to-80.yaml", d / "fcr.yaml")
    broken = yaml.safe_load((SCENARIOS / "complaints-30-to-1.yaml").read_text())
    broken["segments"][0]["churn"] = "8%"
    (d / "broken.yaml").write_text(yaml.safe_dump(broken), encoding="utf-8")
    return d


@pytest.fixture(scope="module")
def first(folder):
    spec = _spec(folder, ["complaints.yaml", "fcr.yaml", "broken.yaml"])
    return run_batch(spec, folder / "reports", workers=2, progress=False)


def test_broken_scenario_is_reported_and_the_others_finish(first, folder):
    out = folder / "reports"
    status = {r.run_id: r.status for r in first.runs}
    assert status == {"complaints": "ok", "fcr": "ok", "broken": "failed"}
    assert not first.ok and first.exit_code == 1 and first.n_failed == 1
    err = first.failed[0].error
    assert "broken.yaml" in err and "segments[0].churn" in err
    assert not (out / "broken.html").exists()
    for rid in ("complaints", "fcr"):
        assert (out / f"{rid}.html").is_file()
        assert (out / "runs" / rid / "business-case.ipynb").is_file()
        assert "execution" in (out / "runs" / rid / "run.log").read_text()
    assert "segments[0].churn" in (out / "runs" / "broken" / "run.log").read_text()
    index = (out / "index.html").read_text("utf-8")
    assert "href='complaints.html'" in index and "failed" in index
    assert "segments[0].churn" in index
    table = pd.read_parquet(out / "results.parquet")
    assert sorted(table["status"]) == ["failed", "ok", "ok"]
    ok = table.set_index("run_id").loc["complaints"]
    want = simulate(load_scenario(folder / "complaints.yaml"), draws=DRAWS)
    assert ok["npv_p50"] == pytest.approx(want.quantile("npv", 0.5))
    assert ok["npv_p10"] == pytest.approx(want.quantile("npv", 0.1))
    assert "summary" not in table.columns and {"roi_p50", "payback_month_p50"} <= set(table)
    assert "FAILED broken" in first.summary()


def test_app_report_is_the_batch_report(first, folder, tmp_path):
    """render_report (the app's button) produces the batch's bytes for the same scenario."""
    app = render_report(folder / "complaints.yaml", tmp_path / "app.html", draws=DRAWS)
    assert app.read_bytes() == (folder / "reports" / "complaints.html").read_bytes()


def test_second_run_skips_unchanged_and_redoes_changed(first, folder):
    out = folder / "reports"
    before = (out / "complaints.html").stat().st_mtime_ns
    data = yaml.safe_load((folder / "fcr.yaml").read_text())
    data["costs"]["one_off"] = data["costs"]["one_off"] + 1000
    (folder / "fcr.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    second = run_batch(folder / "batch.yaml", out, workers=1, progress=False)
    status = {r.run_id: r.status for r in second.runs}
    assert status == {"complaints": "skipped", "fcr": "ok", "broken": "failed"}
    assert (out / "complaints.html").stat().st_mtime_ns == before
    m = json.loads((out / "runs" / "fcr" / "manifest.json").read_text())
    assert m["results"]["metrics"]["one_off_cost"]["p50"] == data["costs"]["one_off"]
    # the skipped run still has its numbers in the index and the table
    table = pd.read_parquet(out / "results.parquet").set_index("run_id")
    assert table.loc["complaints", "status"] == "skipped"
    assert table.loc["complaints", "npv_p50"] > 0
    # a report edited by hand is not trusted: the run is redone
    (out / "complaints.html").write_text("tampered", encoding="utf-8")
    third = run_batch(folder / "batch.yaml", out, workers=1, progress=False, force=False)
    assert {r.run_id: r.status for r in third.runs}["complaints"] == "ok"
    assert "tampered" not in (out / "complaints.html").read_text()


def test_killed_run_leaves_no_partial_report_and_is_redone(tmp_path):
    for name in ("a", "b", "c"):
        shutil.copy(SCENARIOS / "complaints-30-to-1.yaml", tmp_path / f"{name}.yaml")
    spec = _spec(tmp_path, ["a.yaml", "b.yaml", "c.yaml"])
    out = tmp_path / "reports"
    code = ("from pathlib import Path; from cxroi.batch import run_batch; "
            f"run_batch(Path({str(spec)!r}), Path({str(out)!r}), workers=1, progress=False)")
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not list(out.glob("runs/*/manifest.json")):
            assert proc.poll() is None, "the batch ended before it could be killed"
            assert time.monotonic() < deadline, "no run finished within 4 minutes"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    complete = {p.parent.name for p in out.glob("runs/*/manifest.json")}
    assert 1 <= len(complete) < 3
    # every report present is complete and vouched for by its manifest
    for html in out.glob("*.html"):
        m = json.loads((out / "runs" / html.stem / "manifest.json").read_text())
        assert m["status"] == "ok"
        assert hashlib.sha256(html.read_bytes()).hexdigest() == m["report_sha256"]
    assert {h.stem for h in out.glob("*.html")} == complete
    # the next run skips the finished ones and redoes the killed one(s)
    again = run_batch(spec, out, workers=1, progress=False)
    status = {r.run_id: r.status for r in again.runs}
    assert {k for k, v in status.items() if v == "skipped"} == complete
    assert all(v in {"ok", "skipped"} for v in status.values())
    assert {h.stem for h in out.glob("*.html")} == {"a", "b", "c"} | {"index"}
    assert not list(out.rglob("*.tmp"))


def test_dask_local_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    shutil.copy(SCENARIOS / "complaints-30-to-1.yaml", tmp_path / "one.yaml")
    shutil.copy(SCENARIOS / "order-simplification.yaml", tmp_path / "two.yaml")
    spec = _spec(tmp_path, ["one.yaml", "two.yaml"])
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  protocol="tcp://", host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        res = run_batch(spec, tmp_path / "reports", scheduler=cluster.scheduler_address,
                        progress=False)
    assert res.ok, res.summary()
    assert [r.status for r in res.runs] == ["ok", "ok"]
    for r in res.runs:
        assert r.report.is_file()
        sc = load_scenario(tmp_path / f"{r.run_id}.yaml")
        want = simulate(sc, draws=DRAWS).quantile("npv", 0.5)
        assert r.results["metrics"]["npv"]["p50"] == pytest.approx(want)


def test_unreachable_scheduler_is_a_clear_error(tmp_path, monkeypatch):
    shutil.copy(SCENARIOS / "complaints-30-to-1.yaml", tmp_path / "one.yaml")
    spec = _spec(tmp_path, ["one.yaml"])
    import distributed

    def refuse(*a, **k):
        raise OSError("Timed out trying to connect")

    monkeypatch.setattr(distributed, "Client", refuse)
    with pytest.raises(BatchError, match="Dask scheduler at tcp://127.0.0.1:1"):
        run_batch(spec, tmp_path / "reports", scheduler="tcp://127.0.0.1:1", progress=False)


# -- the plan: specs, segments, variants (no execution) -------------------------------


def test_spec_errors_name_the_file_and_the_fix(tmp_path):
    bad = tmp_path / "b.yaml"
    bad.write_text("initiatives: [x.yaml]\nvariant: {}\n", encoding="utf-8")
    with pytest.raises(BatchError, match=r"b.yaml: unknown key 'variant'.*did you mean 'variants'"):
        load_spec(bad)
    bad.write_text("name: nothing\n", encoding="utf-8")
    with pytest.raises(BatchError, match="initiatives"):
        load_spec(bad)
    bad.write_text("initiatives: [a.yaml\n", encoding="utf-8")
    with pytest.raises(BatchError, match="not valid YAML"):
        load_spec(bad)
    with pytest.raises(BatchError, match="no such batch file"):
        load_spec(tmp_path / "missing.yaml")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BatchError, match="no scenario files"):
        load_spec(empty)


def test_plan_segments_and_variants(tmp_path):
    spec = _spec(tmp_path, [str(SCENARIOS / "complaints-30-to-1.yaml")],
                 segments=["all", "Enterprise"],
                 variants={"plan": {}, "dear": {"costs.one_off": {"times": 2}},
                           "typo": {"costs.one_of": 1}})
    runs = plan(load_spec(spec), "{}")
    ids = [r.run_id for r in runs]
    assert ids == ["complaints-30-to-1__plan", "complaints-30-to-1__dear",
                   "complaints-30-to-1__typo", "complaints-30-to-1__enterprise__plan",
                   "complaints-30-to-1__enterprise__dear", "complaints-30-to-1__enterprise__typo"]
    by = {r.run_id: r for r in runs}
    full = load_scenario(SCENARIOS / "complaints-30-to-1.yaml")
    dear = scenario_from_dict(yaml.safe_load(by["complaints-30-to-1__dear"].scenario_yaml))
    assert dear.costs.one_off == 2 * full.costs.one_off
    ent = scenario_from_dict(yaml.safe_load(by["complaints-30-to-1__enterprise__plan"]
                                            .scenario_yaml))
    assert [s.name for s in ent.segments] == ["Enterprise"]
    share = 250 * 90000 / sum(s.accounts * s.arpa for s in full.segments)
    assert ent.costs.one_off == pytest.approx(full.costs.one_off * share)
    assert ent.name.endswith("Enterprise")
    typo = by["complaints-30-to-1__typo"]
    assert typo.scenario_yaml is None and "did you mean 'one_off'" in typo.error
    assert len({r.key for r in runs}) == len(runs)
    # the key depends on the content only: planning twice gives the same keys
    assert [r.key for r in plan(load_spec(spec), "{}")] == [r.key for r in runs]
    assert [r.key for r in plan(load_spec(spec), "{ }")] != [r.key for r in runs]


def test_apply_overrides_paths_wildcards_and_scaling():
    d = yaml.safe_load((SCENARIOS / "cx-programme.yaml").read_text())
    out = apply_overrides(d, {"touchpoints.*.lever.ramp_months": 9,
                              "segments.SMB.churn": {"times": 0.5},
                              "segments.0.arpa": {"plus": 1000},
                              "finance.discount_rate": 0.08})
    assert all(tp["lever"]["ramp_months"] == 9 for tp in out["touchpoints"].values())
    smb = next(s for s in out["segments"] if s["name"] == "SMB")
    assert smb["churn"] == pytest.approx(0.5 * next(
        s for s in d["segments"] if s["name"] == "SMB")["churn"])
    assert out["segments"][0]["arpa"] == d["segments"][0]["arpa"] + 1000
    assert out["finance"]["discount_rate"] == 0.08
    assert d["touchpoints"]["complaints"]["lever"]["ramp_months"] != 9  # input unchanged
    with pytest.raises(KeyError, match="no item named 'Nope'"):
        apply_overrides(d, {"segments.Nope.churn": 0.1})
    with pytest.raises(KeyError, match="not a number"):
        apply_overrides(d, {"name": {"times": 2}})

"""Batches: failures are contained, unchanged runs are skipped, a killed run leaves no
partial report, and the same runs go to a Dask cluster."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pandas as pd
import psutil
import pytest
import yaml

from cxroi.batch import (
    OverrideError,
    apply_overrides,
    folder_rows,
    load_spec,
    plan,
    run_batch,
    write_folder_index,
)
from cxroi.errors import BatchError
from cxroi.report import render_report
from cxroi.scenario import load_scenario, scenario_from_dict
from cxroi.uncertainty import simulate

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "data" / "scenarios"
DRAWS = 300


def _reports(out: Path) -> list[Path]:
    """The run reports in a reports folder (not the indexes)."""
    return [h for h in out.glob("*.html") if not h.name.endswith("index.html")]


def _links(index: Path) -> set[str]:
    """The report links of an index page."""
    return set(re.findall(r"<a href='([^']+)'>report</a>", index.read_text("utf-8")))


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
    for index in (first.batch_index, first.index):  # this batch's and the folder's
        text = index.read_text("utf-8")
        assert "href='complaints.html'" in text and "failed" in text
        assert "segments[0].churn" in text
    assert first.batch_index == out / "batch.index.html" and first.index == out / "index.html"
    assert pd.read_parquet(first.folder_table).equals(pd.read_parquet(out / "results.parquet"))
    table = pd.read_parquet(first.table)
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


def test_runs_with_the_same_inputs_are_executed_once(first, folder):
    """Two runs of one batch with the same content key (the same scenario under two
    names) are executed once: both get the report an independent execution gives (the
    first batch's), each its own notebook and log."""
    spec = folder / "twice.yaml"
    spec.write_text(yaml.safe_dump({"name": "twice", "draws": DRAWS, "initiatives": [
        {"path": "complaints.yaml", "name": "a"}, {"path": "complaints.yaml", "name": "b"}]}),
        encoding="utf-8")
    out = folder / "twice"
    res = run_batch(spec, out, workers=2, progress=False)
    assert [(r.run_id, r.status) for r in res.runs] == [("a", "ok"), ("b", "ok")]
    assert res.runs[0].run.key == res.runs[1].run.key
    want = (folder / "reports" / "complaints.html").read_bytes()
    assert (out / "a.html").read_bytes() == want and (out / "b.html").read_bytes() == want
    logs = {r.run_id: r.log.read_text() for r in res.runs}
    assert "reused" not in logs["a"] and "same inputs as run a" in logs["b"]
    nb_b = (out / "runs" / "b" / "business-case.ipynb").read_text()
    assert str((out / "runs" / "b" / "scenario.yaml").resolve()) in nb_b
    assert str((out / "runs" / "a" / "scenario.yaml").resolve()) not in nb_b
    manifest = json.loads((out / "runs" / "b" / "manifest.json").read_text())
    assert manifest["status"] == "ok" and manifest["report_sha256"] == \
        hashlib.sha256(want).hexdigest()
    spec.unlink()


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
    table = pd.read_parquet(second.table).set_index("run_id")
    assert table.loc["complaints", "status"] == "skipped"
    assert table.loc["complaints", "npv_p50"] > 0
    # a report edited by hand is not trusted: the run is redone
    (out / "complaints.html").write_text("tampered", encoding="utf-8")
    third = run_batch(folder / "batch.yaml", out, workers=1, progress=False, force=False)
    assert {r.run_id: r.status for r in third.runs}["complaints"] == "ok"
    assert "tampered" not in (out / "complaints.html").read_text()


def test_killed_run_leaves_no_partial_report_and_is_redone(tmp_path):
    base = yaml.safe_load((SCENARIOS / "complaints-30-to-1.yaml").read_text())
    for k, name in enumerate(("a", "b", "c")):  # three different runs (same ones run once)
        base["costs"]["one_off"] += 1000 * k
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(base), encoding="utf-8")
    spec = _spec(tmp_path, ["a.yaml", "b.yaml", "c.yaml"])
    out = tmp_path / "reports"
    code = ("from pathlib import Path; from cxroi.batch import run_batch; "
            f"run_batch(Path({str(spec)!r}), Path({str(out)!r}), workers=1, progress=False)")
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        # the index is rewritten as each run finishes: kill once it lists a report
        while not (list(out.glob("runs/*/manifest.json")) and (out / "index.html").is_file()
                   and "report</a>" in (out / "index.html").read_text("utf-8")):
            assert proc.poll() is None, "the batch ended before it could be killed"
            assert time.monotonic() < deadline, "no run finished within 4 minutes"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    # the indexes and tables written so far agree with the reports on disk
    on_disk = {h.name for h in _reports(out)}
    for index in ("index.html", "batch.index.html"):
        assert _links(out / index) == on_disk, index
    folder = pd.read_parquet(out / "results.parquet")
    assert set(folder.loc[folder["status"] == "ok", "report"]) == on_disk
    complete = {p.parent.name for p in out.glob("runs/*/manifest.json")}
    assert 1 <= len(complete) < 3
    # every report present is complete and vouched for by its manifest
    for html in _reports(out):
        m = json.loads((out / "runs" / html.stem / "manifest.json").read_text())
        assert m["status"] == "ok"
        assert hashlib.sha256(html.read_bytes()).hexdigest() == m["report_sha256"]
    assert {h.stem for h in _reports(out)} == complete
    # the next run skips the finished ones and redoes the killed one(s)
    again = run_batch(spec, out, workers=1, progress=False)
    status = {r.run_id: r.status for r in again.runs}
    assert {k for k, v in status.items() if v == "skipped"} == complete
    assert all(v in {"ok", "skipped"} for v in status.values())
    assert {h.stem for h in _reports(out)} == {"a", "b", "c"}
    assert {h.name for h in out.glob("*.html")} - {f"{s}.html" for s in "abc"} == \
        {"index.html", "batch.index.html"}
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
    # `segments: all`, which the error below offers, is the whole scenario
    bad.write_text(f"initiatives: [{SCENARIOS / 'complaints-30-to-1.yaml'}]\nsegments: all\n",
                   encoding="utf-8")
    assert load_spec(bad).segments == ["all"]
    bad.write_text("initiatives: [x.yaml]\nsegments: Enterprise\n", encoding="utf-8")
    with pytest.raises(BatchError, match=r"`segments` must be a list of segment names \(or `all`\)"):
        load_spec(bad)
    # the fix names the key at fault (it said "e.g. `draws: 2000`" for timeout and seed)
    for key, value, fix in (("timeout", -1, r"Fix: e\.g\. `timeout: 600` \(seconds"),
                            ("seed", "abc", r"Fix: e\.g\. `seed: 7`"),
                            ("draws", 0, r"Fix: e\.g\. `draws: 2000`")):
        bad.write_text(f"initiatives: [x.yaml]\n{key}: {value}\n", encoding="utf-8")
        with pytest.raises(BatchError, match=rf"`{key}` must be a whole number.*{fix}"):
            load_spec(bad)
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


# -- the bundled batch specs ----------------------------------------------------------


BATCHES = sorted((ROOT / "data" / "batches").glob("*.yaml"))


@pytest.mark.parametrize("bundled", BATCHES, ids=[p.stem for p in BATCHES])
def test_bundled_batch_spec_runs_with_zero_failures(bundled, tmp_path):
    """Every run of every shipped spec builds a valid scenario; a covering subset (each
    initiative and each variant, every segment along the way) runs with no failure."""
    runs = plan(load_spec(bundled), "{}")
    assert runs and [r.run_id for r in runs if r.error] == []
    for r in runs:  # the resolved scenarios are valid, whole-number fields included
        sc = scenario_from_dict(yaml.safe_load(r.scenario_yaml))
        assert all(isinstance(tp.lever.ramp_months, int) for tp in sc.touchpoints.values())
    # the same spec with few draws and absolute paths, run on a covering subset
    spec = yaml.safe_load(bundled.read_text("utf-8"))
    spec["initiatives"] = [
        {**i, "path": str((bundled.parent / i["path"]).resolve())} if isinstance(i, dict)
        else str((bundled.parent / i).resolve()) for i in spec["initiatives"]]
    spec["draws"] = 200
    copy = tmp_path / bundled.name
    copy.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), "utf-8")
    inits = list(dict.fromkeys(r.initiative for r in runs))
    segs = list(dict.fromkeys(r.segment for r in runs))
    variants = list(dict.fromkeys(r.variant for r in runs))
    pick = [next(r.run_id for r in runs if r.initiative == ini and r.variant == var
                 and r.segment == segs[(i + j) % len(segs)])
            for i, ini in enumerate(inits) for j, var in enumerate(variants)]
    res = run_batch(copy, tmp_path / "reports", workers=2, progress=False, only=pick)
    assert res.n_failed == 0, res.summary()
    assert sorted(r.run_id for r in res.runs) == sorted(pick)
    assert {x.run.segment for x in res.runs} == set(segs) or len(pick) < len(segs)
    assert _links(res.batch_index) == {f"{p}.html" for p in pick}


def test_only_matching_nothing_is_a_clear_error(tmp_path):
    spec = _spec(tmp_path, [str(SCENARIOS / "complaints-30-to-1.yaml")])
    with pytest.raises(BatchError, match=r"--only nope-\* matches none of the 1 runs"):
        run_batch(spec, tmp_path / "reports", progress=False, only=["nope-*"])


# -- variants: whole-number fields stay whole numbers ---------------------------------


def test_scaling_a_whole_number_field_keeps_it_whole_or_says_how_to_round():
    d = yaml.safe_load((SCENARIOS / "cx-programme.yaml").read_text())
    ramps = {k: tp["lever"]["ramp_months"] for k, tp in d["touchpoints"].items()}
    out = apply_overrides(d, {"touchpoints.*.lever.ramp_months": {"times": 2}})
    for k, tp in out["touchpoints"].items():
        assert tp["lever"]["ramp_months"] == 2 * ramps[k]
        assert type(tp["lever"]["ramp_months"]) is int
    scenario_from_dict(out)  # strict validation accepts it
    odd = next(k for k, v in ramps.items() if v % 2)
    with pytest.raises(OverrideError, match=rf"touchpoints\.{odd}\.lever\.ramp_months.*"
                                            r"whole-number field.*round: nearest") as exc:
        apply_overrides(d, {"touchpoints.*.lever.ramp_months": {"times": 1.5}})
    assert isinstance(exc.value, BatchError) and isinstance(exc.value, KeyError)
    for how, want in (("up", math.ceil), ("down", math.floor),
                      ("nearest", lambda x: math.floor(x + 0.5))):
        out = apply_overrides(d, {"touchpoints.*.lever.ramp_months":
                                  {"times": 1.5, "round": how}})
        assert {k: tp["lever"]["ramp_months"] for k, tp in out["touchpoints"].items()} == \
            {k: want(1.5 * v) for k, v in ramps.items()}
    # a money field written as a whole number is not a whole-number field
    arpa = d["segments"][0]["arpa"]
    out = apply_overrides(d, {"segments.0.arpa": {"times": 1.013}})
    assert out["segments"][0]["arpa"] == pytest.approx(arpa * 1.013)
    accounts = d["segments"][0]["accounts"]
    assert apply_overrides(d, {"segments.0.accounts": {"plus": 10}})["segments"][0][
        "accounts"] == accounts + 10
    for bad, msg in (({"times": "x"}, "`times` must be a number"),
                     ({"times": 2, "round": "sideways"}, "`round` must be one of"),
                     ({"times": float("inf")}, "`times` must be a number"),
                     # a misspelt scale replaced the number by the mapping, and the run
                     # failed on "input should be a valid number", the typo unnamed
                     ({"time": 2}, r"'segments\.0\.accounts': \{'time': 2\} is not a number: "
                                   r"unknown key 'time' \(did you mean 'times'\?\)"),
                     ({"times": 2, "rounding": "up"}, r"unknown key 'rounding' \(did you mean "
                                                      r"'round'\?\).*\{times: k\}")):
        with pytest.raises(OverrideError, match=msg):
            apply_overrides(d, {"segments.0.accounts": bad})
    with pytest.raises(OverrideError, match=r"'costs\.one_off': \{'plus': 1, 'extra': 1\}"):
        apply_overrides(d, {"costs.one_off": {"plus": 1, "extra": 1}})


def test_a_fractional_whole_number_is_a_failed_run_naming_the_variant(tmp_path):
    spec = _spec(tmp_path, [str(SCENARIOS / "complaints-30-to-1.yaml")],
                 variants={"plan": {}, "x1.25": {"touchpoints.*.lever.ramp_months":
                                                  {"times": 1.25}}})
    sc = load_scenario(SCENARIOS / "complaints-30-to-1.yaml")
    assert any(tp.lever.ramp_months * 1.25 % 1 for tp in sc.touchpoints.values())
    runs = {r.variant: r for r in plan(load_spec(spec), "{}")}
    assert runs["plan"].error is None
    err = runs["x1.25"].error
    assert "variant 'x1.25'" in err and "whole-number field" in err and "round" in err
    assert err.count("Fix:") == 1, err  # its own fix, not the generic one after it


# -- indexes: this batch's and the folder's ------------------------------------------


def _manifest(out: Path, run_id: str, batch: str, status: str = "ok", npv: float = 1e6):
    d = out / "runs" / run_id
    d.mkdir(parents=True, exist_ok=True)
    html = f"<html><title>{run_id}</title></html>"
    if status == "ok":
        (out / f"{run_id}.html").write_text(html, "utf-8")
    m = {"run_id": run_id, "status": status, "batch": batch, "error": None if status == "ok"
         else "boom", "report_bytes": len(html.encode()) if status == "ok" else None,
         "row": {"run_id": run_id, "scenario": f"S {run_id}", "batch": batch,
                 "status": status, "npv_p50": npv, "currency": "EUR"}}
    (d / "manifest.json").write_text(json.dumps(m), "utf-8")


def test_folder_index_lists_every_report_on_disk(tmp_path):
    """The top-level index is a function of the folder: runs of every batch (manifests),
    reports rendered elsewhere (the app), links to each batch's own index."""
    out = tmp_path
    _manifest(out, "a1", "alpha")
    _manifest(out, "a2", "alpha", status="failed")
    _manifest(out, "b1", "beta", npv=-5e5)
    (out / "alpha.batch.json").write_text(json.dumps(
        {"name": "Alpha [/bold] batch", "runs": ["a2", "a1"]}), "utf-8")
    (out / "beta.batch.json").write_text(json.dumps({"name": "Beta", "runs": ["b1"]}),
                                         "utf-8")
    (out / "from-the-app.html").write_text("<title>App &amp; report</title>", "utf-8")
    (out / "calibration-demo.md").write_text("# Calibration of the demo\n\ntext", "utf-8")
    (out / "measure").mkdir()
    (out / "measure" / "measurement.html").write_text("<title>Did it work?</title>", "utf-8")
    (out / "runs" / "a1" / "notes.md").write_text("# not a report", "utf-8")
    (out / "alpha.index.html").write_text("an index, not a report", "utf-8")
    _manifest(out, "gone", "beta")
    (out / "gone.html").unlink()  # deleted by hand: not listed as a report
    rows, batches = folder_rows(out)
    by = {r["run_id"]: r for r in rows}
    assert [r["run_id"] for r in rows][:3] == ["a2", "a1", "b1"]  # plan order per batch
    assert set(by) == {"a1", "a2", "b1", "gone", "from-the-app", "calibration-demo",
                       "measure/measurement"}
    assert by["measure/measurement"]["scenario"] == "Did it work?"
    assert by["from-the-app"]["scenario"] == "App & report"
    assert by["calibration-demo"]["scenario"] == "Calibration of the demo"
    assert by["gone"]["report"] is None and by["a2"]["report"] is None
    assert [b["href"] for b in batches] == ["alpha.index.html", "beta.index.html"]
    index = write_folder_index(out)
    text = index.read_text("utf-8")
    assert _links(index) == {"a1.html", "b1.html", "from-the-app.html", "calibration-demo.md",
                             "measure/measurement.html"}
    assert "href='alpha.index.html'" in text and "Alpha [/bold] batch" in text
    assert "<th data-col=\"batch\"" in text
    table = pd.read_parquet(out / "results.parquet")
    assert set(table["run_id"]) == set(by)
    assert table.set_index("run_id").loc["b1", "npv_p50"] == -5e5
    # a manifest replaced (a run redone) is read again, not served from the cache
    _manifest(out, "b1", "beta", npv=7e5)
    write_folder_index(out)
    assert pd.read_parquet(out / "results.parquet").set_index("run_id").loc[
        "b1", "npv_p50"] == 7e5


def test_results_tables_read_back_as_the_pandas_frame_of_their_rows():
    """``pandas.read_parquet`` of a results table gives the frame of its rows --
    columns in order of first appearance, missing keys, None, inf and
    NaN, whole and fractional numbers in one column."""
    import io

    from cxroi.batch.store import parquet_bytes

    rows = [{"run_id": "a", "status": "pending", "attempts": 1, "error": None},
            {"run_id": "b", "status": "ok", "attempts": 2, "error": None, "npv_p50": 1.5e6,
             "roi_p50": float("nan"), "payback_month_p50": float("inf"), "seconds": 3},
            {"run_id": "c", "status": "failed", "error": "boom", "npv_p50": None,
             "roi_p50": 0.25, "seconds": 0.5, "report": None}]
    got = pd.read_parquet(io.BytesIO(parquet_bytes(rows)))
    want = pd.read_parquet(io.BytesIO(pd.DataFrame(rows).to_parquet(index=False)))
    pd.testing.assert_frame_equal(got, want)
    assert list(got.columns)[:4] == ["run_id", "status", "attempts", "error"]
    assert pd.read_parquet(io.BytesIO(parquet_bytes([]))).empty


def _schema_and_table(data: bytes):
    import io

    import pyarrow.parquet as pq

    return pq.read_schema(io.BytesIO(data)), pq.read_table(io.BytesIO(data))


@pytest.mark.parametrize("shape", [
    "all-int", "int-with-missing", "int-with-none", "floats-with-nan", "ints-and-floats",
    "strings-with-none", "strings-with-missing", "booleans", "booleans-with-none",
    "all-none", "none-and-missing", "nan-only", "folder-rows", "empty"])
def test_results_tables_have_the_arrow_schema_pandas_wrote(shape):
    """Every Parquet reader (duckdb, polars, pyarrow) sees the table pandas wrote: the
    same Arrow types and nullability, NaN stored as null, the same ``pandas`` metadata --
    on each shape of column the tables hold, and on the rows of a folder with runs of a
    batch and reports made elsewhere (``attempts`` missing there: float64, not int64)."""
    from cxroi.batch.store import parquet_bytes

    nan, inf = float("nan"), float("inf")
    values = {
        "all-int": [1, 2, 3], "int-with-missing": [1, ..., 2], "int-with-none": [None, 2],
        "floats-with-nan": [1.5, nan, inf, -0.0], "ints-and-floats": [1, 2.5, 3],
        "strings-with-none": ["a", None, "c"], "strings-with-missing": [..., "b"],
        "booleans": [True, False], "booleans-with-none": [True, None, ...],
        "all-none": [None, None], "none-and-missing": [None, ...], "nan-only": [nan, None],
    }
    if shape == "empty":
        rows: list[dict] = []
    elif shape == "folder-rows":
        rows = [{"batch": "b1", "run_id": "r1", "status": "ok", "error": None,
                 "seconds": 0.31, "worker": "w1", "attempts": 1, "npv_p50": 1.2e6,
                 "roi_p50": nan, "report": "r1.html"},
                {"batch": "b1", "run_id": "r2", "status": "failed", "error": "boom",
                 "seconds": 0.0, "worker": "", "attempts": 2, "npv_p50": None,
                 "roi_p50": None, "report": None},
                {"run_id": "app", "scenario": "From the app", "status": "ok",
                 "report": "app.html", "batch": ""}]
    else:
        rows = [{"n": i} | ({} if v is ... else {"col": v})
                for i, v in enumerate(values[shape])]
    got_schema, got = _schema_and_table(parquet_bytes(rows))
    want_schema, want = _schema_and_table(pd.DataFrame(rows).to_parquet(index=False))
    assert [(f.name, f.type, f.nullable) for f in got_schema] == \
        [(f.name, f.type, f.nullable) for f in want_schema]
    assert json.loads(got_schema.metadata[b"pandas"]) == \
        json.loads(want_schema.metadata[b"pandas"])
    assert got_schema.equals(want_schema, check_metadata=True)
    assert got.equals(want)  # the values too, nulls where pandas had NaN
    if shape == "folder-rows":
        assert str(got_schema.field("attempts").type) == "double"
        assert str(got_schema.field("roi_p50").type) == "double"
        assert got.column("roi_p50").null_count == 3  # NaN, None and missing
    if shape == "floats-with-nan":
        assert got.column("col").to_pylist()[1:3] == [None, inf]


def test_results_table_rejects_mixed_columns_naming_the_column():
    """A column of text and numbers cannot be one Parquet column: a clear error naming
    it (pandas failed on it too)."""
    from cxroi.batch.store import parquet_bytes

    with pytest.raises(ValueError, match="column 'worker' mixes"):
        parquet_bytes([{"worker": "w1"}, {"worker": 3}])


def test_the_manifest_cache_forgets_deleted_runs_and_stays_bounded(tmp_path, monkeypatch):
    """The folder index's manifest cache (a long-lived process: the app, Jupyter) keeps
    only the manifests its last scan of a folder saw, and at most
    ``MANIFEST_CACHE_SIZE`` manifests over every folder (the folders scanned longest ago
    are dropped); a manifest still cached is not parsed again."""
    from cxroi.batch import store

    monkeypatch.setattr(store, "_MANIFESTS", store.OrderedDict())
    monkeypatch.setattr(store, "MANIFEST_CACHE_SIZE", 5)
    parsed: list[str] = []
    read = store._read_manifest
    monkeypatch.setattr(store, "_read_manifest",
                        lambda p: parsed.append(p.parent.name) or read(p))

    def cached() -> dict[str, set[str]]:
        return {d.parent.name: {p.parent.name for p in v}
                for d, v in store._MANIFESTS.items()}

    a, b, c = (tmp_path / x for x in "abc")
    for r in ("a1", "a2", "a3"):
        _manifest(a, r, "alpha")
    assert [r["run_id"] for r in folder_rows(a)[0]] == ["a1", "a2", "a3"]
    assert cached() == {"a": {"a1", "a2", "a3"}} and parsed == ["a1", "a2", "a3"]
    shutil.rmtree(a / "runs" / "a2")  # a run deleted: forgotten by the next scan
    (a / "a2.html").unlink()
    parsed.clear()
    assert [r["run_id"] for r in folder_rows(a)[0]] == ["a1", "a3"]
    assert cached() == {"a": {"a1", "a3"}} and parsed == []
    for r in ("b1", "b2"):
        _manifest(b, r, "beta")
    folder_rows(b)
    assert cached() == {"a": {"a1", "a3"}, "b": {"b1", "b2"}}
    for r in ("c1", "c2"):
        _manifest(c, r, "gamma")
    folder_rows(c)  # 6 > 5: the folder scanned longest ago goes
    assert cached() == {"b": {"b1", "b2"}, "c": {"c1", "c2"}}
    parsed.clear()
    folder_rows(b)  # still cached: not parsed again, and now the latest
    assert parsed == [] and list(cached()) == ["c", "b"]
    for r in ("c3", "c4", "c5", "c6"):
        _manifest(c, r, "gamma")
    rows, _ = folder_rows(c)  # one folder beyond the bound: the rows all there,
    assert len(rows) == 6  # five of its manifests kept
    assert cached() == {"c": {"c1", "c2", "c3", "c4", "c5"}}
    assert sum(len(v) for v in store._MANIFESTS.values()) <= 5
    # only what the index reads is kept: the row, not the full results; an older
    # manifest without a row keeps its results, from which its row is made
    d = tmp_path / "d"
    _manifest(d, "new", "delta")
    m = json.loads((d / "runs" / "new" / "manifest.json").read_text("utf-8"))
    m["results"] = {"prob_npv_negative": 0.5, "metrics": {"npv": {"p50": 9.0}}}
    (d / "runs" / "new" / "manifest.json").write_text(json.dumps(m), "utf-8")
    (d / "runs" / "old").mkdir()
    (d / "runs" / "old" / "manifest.json").write_text(json.dumps(
        {"run_id": "old", "status": "failed", "key": "k", "error": "boom",
         "results": {"prob_npv_negative": 0.25, "metrics": {"npv": {"p50": -3.0}}}}), "utf-8")
    by = {r["run_id"]: r for r in folder_rows(d)[0]}
    assert by["new"]["npv_p50"] == 1e6 and by["old"]["npv_p50"] == -3.0
    assert by["old"]["prob_npv_negative"] == 0.25 and by["old"]["status"] == "failed"
    kept = {p.parent.name: v[1] for p, v in store._MANIFESTS[d / "runs"].items()}
    assert "results" not in kept["new"] and kept["old"]["results"]["metrics"]["npv"]["p50"] == -3.0


def test_indexes_are_rewritten_after_every_run_unless_a_rewrite_costs_more():
    """:class:`cxroi.batch.run.IndexPace`: a finished run rewrites the indexes unless the
    last rewrite is more recent than four times its cost (a very large folder) or than
    the pace's interval; runs finishing in between leave them stale for the next one or
    the end of the batch."""
    from cxroi.batch.run import IndexPace

    now = [100.0]
    pace = IndexPace(clock=lambda: now[0])
    assert pace.due() and not pace.stale  # the first rewrite
    pace.wrote(99.98)  # 20 ms
    now[0] = 100.1  # the next run, 100 ms later: rewritten
    assert pace.due()
    pace.wrote(100.0)  # a rewrite that took 0.1 s: the next waits 0.4 s
    now[0] = 100.3
    assert not pace.due() and pace.stale
    now[0] = 100.6
    assert pace.due()
    pace.wrote(100.59)
    assert not pace.stale
    paced = IndexPace(interval=1.0, clock=lambda: now[0])
    paced.wrote(100.59)
    for t in (100.9, 101.3, 101.5):  # within the interval: skipped
        now[0] = t
        assert not paced.due() and paced.stale
    now[0] = 101.7
    assert paced.due()


def test_two_batches_on_one_folder_keep_each_others_entries(tmp_path):
    """A folder of scenarios (what `cxroi demo` runs) and a batch file, at the same time
    into one reports folder: each writes its own index, the folder's lists both."""
    scen = tmp_path / "scenarios"
    scen.mkdir()
    shutil.copy(SCENARIOS / "order-simplification.yaml", scen / "order.yaml")
    spec = _spec(tmp_path, [str(SCENARIOS / "complaints-30-to-1.yaml")],
                 variants={"plan": {}, "dear": {"costs.one_off": {"times": 2}}})
    out = tmp_path / "reports"
    out.mkdir()
    (out / "from-the-app.html").write_text("<title>App report</title>", "utf-8")
    results = {}

    def go(name, path):
        results[name] = run_batch(path, out, workers=1, progress=False)

    threads = [threading.Thread(target=go, args=("demo", scen)),
               threading.Thread(target=go, args=("batch", spec))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert set(results) == {"demo", "batch"}
    demo, batch = results["demo"], results["batch"]
    assert demo.ok and batch.ok, demo.summary() + batch.summary()
    assert demo.batch_index == out / "scenarios.index.html"
    assert batch.batch_index == out / "batch.index.html"
    assert _links(demo.batch_index) == {"order.html"}
    assert _links(batch.batch_index) == {"complaints-30-to-1__plan.html",
                                         "complaints-30-to-1__dear.html"}
    every = _links(out / "index.html")
    assert every == {h.name for h in _reports(out)} == {
        "order.html", "complaints-30-to-1__plan.html", "complaints-30-to-1__dear.html",
        "from-the-app.html"}
    text = (out / "index.html").read_text("utf-8")
    assert "href='scenarios.index.html'" in text and "href='batch.index.html'" in text
    assert len(pd.read_parquet(out / "results.parquet")) == 4
    assert not list(out.rglob("*.tmp"))


# -- rich markup in names and keys ----------------------------------------------------


def test_markup_in_names_and_keys_is_printed_as_written(tmp_path):
    from typer.testing import CliRunner

    from cxroi.cli import app

    data = yaml.safe_load((SCENARIOS / "complaints-30-to-1.yaml").read_text())
    data["[/bold]"] = 1  # an unknown key
    (tmp_path / "[red]x.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    spec = _spec(tmp_path, ["[red]x.yaml"], name="[bold]my batch[/]")
    res = CliRunner().invoke(app, ["batch", str(spec), "--out", str(tmp_path / "out"),
                                   "--no-progress"], env={"COLUMNS": "300"})
    assert res.exit_code == 1, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert "[red]x.yaml" in res.output and "[/bold]" in res.output
    assert "FAILED red-x" in res.output
    index = (tmp_path / "out" / "batch.index.html").read_text("utf-8")
    assert "[bold]my batch[/]" in index and "[/bold]" in index


# -- a dead worker, a killed batch ----------------------------------------------------


def _slow_notebook(folder: Path) -> Path:
    """The business-case notebook with a cell that leaves a marker (the worker's pid, the
    pid of the process executing the notebook: the worker itself, or its kernel) and
    sleeps, so a test can kill a worker or the batch mid-run."""
    nb = nbformat.read(str(ROOT / "notebooks" / "02-business-case.ipynb"), as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell(
        "import os as _o, pathlib as _p, sys as _s, time as _t\n"
        "_d = _o.environ.get('CXROI_TEST_MARKERS')\n"
        "_w = _o.getpid() if 'cxroi.batch.worker' in _s.modules else _o.getppid()\n"
        "if _d:\n"
        "    _p.Path(_d, f'{_w}-{_o.getpid()}-{_t.time_ns()}').write_text("
        "scenario)\n"
        "    _t.sleep(float(_o.environ.get('CXROI_TEST_SLEEP', '3')))\n"))
    path = folder / "slow.ipynb"
    nbformat.write(nb, str(path))
    return path


def _markers(folder: Path) -> list[tuple[int, int, str]]:
    """(worker pid, kernel pid, scenario) of every run that reached the slow cell."""
    out = []
    for m in sorted(folder.iterdir(), key=lambda p: int(p.name.split("-")[2])):
        worker, kernel, _ = m.name.split("-")
        out.append((int(worker), int(kernel), m.read_text()))
    return out


def _gone(pids: list[int], timeout: float = 30.0) -> list[int]:
    """The pids still alive (zombies count as gone) after up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for pid in pids:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
            except psutil.NoSuchProcess:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


def _slow_batch(folder: Path, n: int) -> Path:
    base = yaml.safe_load((SCENARIOS / "complaints-30-to-1.yaml").read_text())
    for i in range(n):  # n different runs (runs with the same inputs are executed once)
        base["costs"]["one_off"] += 1000
        (folder / f"r{i}.yaml").write_text(yaml.safe_dump(base), encoding="utf-8")
    _slow_notebook(folder)
    return _spec(folder, [f"r{i}.yaml" for i in range(n)], notebook="slow.ipynb")


def test_dead_worker_fails_only_its_own_run_which_is_retried(tmp_path, monkeypatch):
    markers = tmp_path / "markers"
    markers.mkdir()
    spec = _slow_batch(tmp_path, 4)
    monkeypatch.setenv("CXROI_TEST_MARKERS", str(markers))
    monkeypatch.setenv("CXROI_TEST_SLEEP", "2")
    victim: dict[str, object] = {}

    def kill_first_worker_mid_run():
        deadline = time.monotonic() + 300
        while not list(markers.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.05)
        worker, kernel, scenario = _markers(markers)[0]
        victim.update(worker=worker, kernel=kernel, scenario=scenario)
        os.kill(worker, signal.SIGKILL)

    killer = threading.Thread(target=kill_first_worker_mid_run, daemon=True)
    killer.start()
    res = run_batch(spec, tmp_path / "reports", workers=2, progress=False)
    killer.join(timeout=10)
    assert victim, "no run reached the slow cell"
    assert res.ok and res.n_failed == 0, res.summary()
    retried = [r for r in res.runs if r.attempts == 2]
    # the run the killed worker was on (its resolved scenario is runs/<run>/scenario.yaml)
    assert [r.run_id for r in retried] == [Path(victim["scenario"]).parent.name]
    assert all(r.attempts == 1 for r in res.runs if r not in retried)
    assert "retried" in retried[0].log.read_text() and "retry" in res.summary()
    manifest = json.loads((tmp_path / "reports" / "runs" / retried[0].run_id /
                           "manifest.json").read_text())
    assert manifest["attempts"] == 2 and manifest["status"] == "ok"
    # the dead worker's kernel died with it; the batch's other workers are stopped too
    assert _gone([victim["worker"], victim["kernel"]]) == []
    survivors = [w for w, _, _ in _markers(markers) if w != victim["worker"]]
    assert _gone(survivors) == []
    assert _links(tmp_path / "reports" / "index.html") == {f"r{i}.html" for i in range(4)}


def test_a_worker_that_always_dies_fails_its_run_after_one_retry(tmp_path):
    from cxroi.nbrun import WORKER_DIED, WorkerPool

    done: dict[int, dict] = {}
    WorkerPool(_die_on_two, workers=2, retries=1).run(
        [1, 2, 3, 4], lambda i, out: done.__setitem__(i, out))
    assert sorted(done) == [0, 1, 2, 3]
    assert [done[i]["status"] for i in range(4)] == ["ok", "failed", "ok", "ok"]
    assert WORKER_DIED in done[1]["error"] and done[1]["attempts"] == 2
    assert all(done[i]["value"] == 10 * (i + 1) for i in (0, 2, 3))


def test_workers_started_early_warm_up_first_and_idle_ones_stop_at_once():
    """A pool started before its tasks are known runs each worker's warm-up first (the
    batch starts them before planning); workers that get no task are stopped at once
    when the pool closes, without waiting for their warm-up to end."""
    from cxroi.nbrun import WorkerPool

    try:
        os.environ["CXROI_TEST_WARM_UP_SECONDS"] = "0"
        pool = WorkerPool(_warmed_value, workers=2, warm_up=_slow_warm_up)
        pool.start()
        pids = pool.pids()
        assert len(pids) == 2
        done: dict[int, dict] = {}
        pool.run([5], lambda i, out: done.__setitem__(i, out))
        assert done[0] == {"status": "ok", "warmed": True, "value": 5}
        os.environ["CXROI_TEST_WARM_UP_SECONDS"] = "60"
        idle = WorkerPool(_warmed_value, workers=2, warm_up=_slow_warm_up)
        idle.start()
        idle_pids = idle.pids()
        t0 = time.monotonic()
        idle.close()
        assert time.monotonic() - t0 < 30  # not the 60 s warm-up
        assert _gone(pids + idle_pids) == []
    finally:
        os.environ.pop("CXROI_TEST_WARM_UP_SECONDS", None)


_warmed = {"done": False}


def _slow_warm_up() -> None:
    time.sleep(float(os.environ["CXROI_TEST_WARM_UP_SECONDS"]))
    _warmed["done"] = True


def _warmed_value(task: int) -> dict:
    return {"status": "ok", "warmed": _warmed["done"], "value": task}


def _die_on_two(task: int) -> dict:
    if task == 2:
        os._exit(9)
    return {"status": "ok", "value": 10 * task}


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "SIGKILL"])
def test_killing_the_batch_leaves_no_process_behind(how, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    spec = _slow_batch(tmp_path, 4)
    out = tmp_path / "reports"
    code = ("import sys; from pathlib import Path; from cxroi.batch import run_batch\n"
            "try:\n"
            f"    run_batch(Path({str(spec)!r}), Path({str(out)!r}), workers=2, "
            "progress=False)\n"
            "except KeyboardInterrupt:\n"
            "    sys.exit(130)\n")
    env = dict(os.environ, CXROI_TEST_MARKERS=str(markers), CXROI_TEST_SLEEP="120")
    # as from a terminal: Ctrl+C's default disposition (a test run started as a background
    # job of a non-interactive shell inherits SIGINT ignored, and so would the batch)
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 300
        while len(list(markers.iterdir())) < 2:  # both workers mid-run on their kernels
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the runs did not start within 5 minutes"
            time.sleep(0.1)
        family = [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
        kernels = [k for _, k, _ in _markers(markers)]
        workers = [w for w, _, _ in _markers(markers)]
        assert set(kernels) | set(workers) <= set(family)
        os.kill(proc.pid, getattr(signal, how))  # the batch only, not its group
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if how != "SIGKILL":
        assert proc.returncode == 130, proc.stderr.read().decode()
        text = (out / "batch.index.html").read_text("utf-8")
        assert "interrupted" in text
    assert _gone(family) == [], [psutil.Process(p).cmdline() for p in _gone(family, 0)]


def _pdf_batch(tmp_path, monkeypatch):
    """Three rendered reports (one the stand-in Chromium refuses) and a failed run."""
    from cxroi.batch import BatchResult, PlannedRun, RunResult

    fake = tmp_path / "chromium"
    fake.write_text(
        "#!/bin/sh\n"
        "for a in \"$@\"; do case \"$a\" in --print-to-pdf=*) out=\"${a#--print-to-pdf=}\";;"
        " file://*) src=\"${a#file://}\";; esac; done\n"
        "if grep -q REFUSE \"$src\"; then echo 'cannot print' >&2; exit 3; fi\n"
        "printf '%%PDF-1.4 stand-in' > \"$out\"\n", "utf-8")
    fake.chmod(0o755)
    monkeypatch.setenv("CXROI_CHROMIUM", str(fake))
    runs = []
    for name, body in (("a", "fine"), ("b", "REFUSE"), ("c", "fine too")):
        page = tmp_path / f"{name}.html"
        page.write_text(f"<!DOCTYPE html><html><head></head><body>{body}</body></html>",
                        "utf-8")
        plan_run = PlannedRun(name, name, "all", "base", "x.yaml", "", name, "USD", "k")
        runs.append(RunResult(plan_run, "ok", report=page))
    runs.append(RunResult(PlannedRun("d", "d", "all", "base", "x.yaml", None, "d", "USD", "k"),
                          "failed", error="broken scenario"))
    return BatchResult(runs, tmp_path, tmp_path / "index.html", tmp_path / "t.parquet", 0.0)


def test_batch_pdfs_report_a_failing_pdf_per_run_and_finish_the_others(tmp_path, monkeypatch):
    """``cxroi batch --pdf``: each report is printed (here by a stand-in for Chromium that
    refuses one report); the failure is that run's, the others get their PDF."""
    from cxroi.batch import write_batch_pdfs

    res = _pdf_batch(tmp_path, monkeypatch)
    got = {p.run_id: p for p in write_batch_pdfs(res)}
    assert set(got) == {"a", "b", "c"}  # the failed run has no report to print
    assert got["a"].pdf == tmp_path / "a.pdf" and got["c"].pdf == tmp_path / "c.pdf"
    assert (tmp_path / "a.pdf").read_bytes().startswith(b"%PDF-")
    assert got["b"].pdf is None and "b.html" in got["b"].error and "exit 3" in got["b"].error
    assert not (tmp_path / "b.pdf").exists()


def test_package_names_survive_importing_every_part():
    """``cxroi.batch`` and ``cxroi.report`` are packages: every name of the one-module
    versions still imports from them, and no part's module shadows a function of the
    same name (``cxroi.batch.plan`` is the function)."""
    import importlib
    import pkgutil

    import cxroi.batch
    import cxroi.report

    for pkg in (cxroi.batch, cxroi.report):
        for part in pkgutil.iter_modules(pkg.__path__):
            importlib.import_module(f"{pkg.__name__}.{part.name}")
        for name in pkg._WHERE:
            value = getattr(pkg, name)
            assert not isinstance(value, type(pkg)), (pkg.__name__, name)
        for name in pkg.__all__:
            exec(f"from {pkg.__name__} import {name}", {})
    assert callable(cxroi.batch.plan) and callable(cxroi.report.render_report)


def test_cli_batch_pdf_flag_prints_each_report_and_names_the_failure(tmp_path, monkeypatch):
    """The CLI wires ``--pdf`` to :func:`write_batch_pdfs` after the batch (the batch
    itself stood in by its result here): two PDFs, one named failure, exit code 1."""
    from typer.testing import CliRunner

    import cxroi.batch
    from cxroi.cli import app

    res = _pdf_batch(tmp_path, monkeypatch)
    calls = []

    def fake_run_batch(spec, out_dir, **kw):
        calls.append((spec, out_dir))
        return res

    monkeypatch.setattr(cxroi.batch, "run_batch", fake_run_batch)
    got = CliRunner().invoke(app, ["batch", str(tmp_path / "b.yaml"), "--out", str(tmp_path),
                                   "--pdf", "--no-progress"])
    assert calls and got.exit_code == 1, got.output
    assert "PDFs: 2 written" in got.output and "1 failed" in got.output
    assert "PDF FAILED b:" in got.output
    assert (tmp_path / "a.pdf").is_file() and (tmp_path / "c.pdf").is_file()
    bad = CliRunner().invoke(app, ["batch", str(tmp_path / "b.yaml"), "--pdf",
                                   "--paper", "A3"])
    assert bad.exit_code != 0 and "A3" in bad.output


def test_workers_and_the_batch_process_start_light():
    """A worker process imports ``cxroi.batch.worker`` first: no pandas, altair or
    nbconvert; the batch's own process never needs ``nbformat`` (whose ``jsonschema``
    takes seconds to import) to plan, run and index a batch."""
    code = (
        "import sys\n"
        "import cxroi.batch.worker\n"
        "heavy = [m for m in ('pandas', 'altair', 'nbconvert', 'nbformat', 'jsonschema',"
        " 'papermill', 'vl_convert') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "from cxroi.batch import run_batch, write_folder_index\n"
        "from cxroi.report import render_index\n"
        "heavy = [m for m in ('altair', 'nbconvert', 'nbformat', 'jsonschema')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_an_override_of_a_measured_rate_carries_its_interval_along() -> None:
    """A calibrated segment's churn carries its sampling interval; a variant that scales the
    churn scales the interval too, one that replaces it drops the interval (the new value
    was not measured), and either way the scenario still validates."""
    from cxroi.batch.planning import apply_overrides
    from cxroi.scenario import scenario_from_dict

    data = yaml.safe_load((ROOT / "data" / "scenarios" / "complaints-30-to-1.yaml").read_text())
    seg = data["segments"][0]
    seg["churn_low"], seg["churn_high"] = seg["churn"] * 0.8, seg["churn"] * 1.25
    scaled = apply_overrides(data, {"segments.*.churn": {"times": 2}})
    s0 = scaled["segments"][0]
    assert (s0["churn_low"], s0["churn"], s0["churn_high"]) == pytest.approx(
        (seg["churn"] * 1.6, seg["churn"] * 2, seg["churn"] * 2.5))
    scenario_from_dict(scaled)
    replaced = apply_overrides(data, {"segments.0.churn": 0.5})
    assert "churn_low" not in replaced["segments"][0] and replaced["segments"][0]["churn"] == 0.5
    scenario_from_dict(replaced)
    own = apply_overrides(data, {"segments.0.churn": 0.5, "segments.0.churn_low": 0.4,
                                 "segments.0.churn_high": 0.6})
    assert own["segments"][0]["churn_low"] == 0.4



def test_a_batch_worker_gives_its_blas_one_thread():
    """One worker per core: a worker's numpy and scipy BLAS get one thread each after its
    warm-up (their threads only competed for the other workers' cores)."""
    code = ("import json; from cxroi.batch.worker import warm_up; warm_up()\n"
            "from threadpoolctl import threadpool_info\n"
            "print(json.dumps([i['num_threads'] for i in threadpool_info()"
            " if i['user_api'] == 'blas']))\n")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, env=dict(os.environ, OPENBLAS_NUM_THREADS="2"))
    threads = json.loads(out.stdout.strip().splitlines()[-1])
    assert threads and all(n == 1 for n in threads)

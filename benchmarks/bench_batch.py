"""Benchmark: a 50-run batch to HTML reports vs the naive chain.

The naive chain is what an analyst would script by hand, per run and one after another::

    papermill notebooks/02-business-case.ipynb out.ipynb -p scenario <file>
    jupyter nbconvert --to html --no-input out.ipynb

It starts two Python processes and a kernel per run, so it is measured on a few runs
(``--naive-runs``, default 3: half before the batch, the rest after it, so both see the
machine's load of the moment) and extrapolated linearly to the batch size (its per-run
cost does not depend on the run). The batch is measured in full, from a cold start (new
worker processes) with an empty reports folder. The script prints the ratio of the two,
measured in this run, with the load average before, during and after.

The benchmark batch has a fifth initiative that is a copy of the first under another name
(10 of 50 runs with the same inputs as others, which the batch executes once);
``--distinct`` makes the copy differ by one unit of one-off cost, so every run is executed.

``--naive-ref GITREF`` also measures the naive chain on cxroi as it was at that commit
(extracted with ``git archive``, run with it first on ``PYTHONPATH``), e.g. the commit
before the batch was made faster: the notebook itself got faster too, so the ratio
against the naive chain of today understates what changed for an analyst.

``--batch-ref GITREF`` also runs the same 50-run batch on cxroi as it was at that commit
(in a subprocess, into its own empty folder), right before and right after this code's
batch, and prints both: the machine's load moves the wall times by 2-3x within minutes,
so the ratio of the two batches measured side by side is what shows a change. This code's
batch is then also run the same way (a subprocess, its interpreter's start and imports
included, as the reference's), each time right after the reference's: the fair ratio.

``--spec`` times a given batch file instead (e.g. the bundled one), cold and then
re-run unchanged, and skips the naive chain. Both modes also time one rebuild of the
folder's index and results table (what every finished run pays, see docs/batch.md).

Usage::

    .venv/bin/python benchmarks/bench_batch.py            # 50 runs, 3 naive runs
    .venv/bin/python benchmarks/bench_batch.py --runs 20 --naive-runs 2 --workers 2
    .venv/bin/python benchmarks/bench_batch.py --spec data/batches/demo.yaml
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SCENARIOS = ["complaints-30-to-1", "fcr-60-to-80", "order-simplification", "cx-programme"]


def make_spec(folder: Path, runs: int, distinct: bool = False) -> Path:
    """A batch of ``runs`` runs: the example initiatives × two segments × cost variants.

    The fifth initiative is a copy of the first under another name (the same runs: the
    batch executes them once); with ``distinct`` the copy's one-off cost is one unit higher,
    so every run is executed.
    """
    inits = [{"path": str(ROOT / "data/scenarios" / f"{s}.yaml"), "name": s} for s in SCENARIOS]
    copy = ROOT / "data/scenarios/complaints-30-to-1.yaml"
    if distinct:
        data = yaml.safe_load(copy.read_text(encoding="utf-8"))
        data["costs"]["one_off"] += 1
        copy = folder / "complaints-copy.yaml"
        copy.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    inits.append({"path": str(copy), "name": "complaints-copy"})
    per = len(inits) * 2
    n_var = -(-runs // per)
    variants = {f"cost-x{1 + 0.1 * i:.1f}": {"costs.one_off": {"times": 1 + 0.1 * i}}
                for i in range(n_var)}
    spec = {"name": f"benchmark batch ({runs} runs)", "initiatives": inits,
            "segments": ["all", "Enterprise"], "variants": variants}
    path = folder / "bench.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its finished children so far
    (worker processes and kernels included once they have exited and been waited for)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def naive(folder: Path, n: int, root: Path = ROOT, cpu: list[float] | None = None,
          start: int = 0) -> list[float]:
    """Seconds per run of papermill CLI + nbconvert CLI, sequentially, with the cxroi and
    notebook of ``root`` (a checkout); the CPU seconds of each run are appended to
    ``cpu``. Runs ``start`` to ``start + n - 1`` of the scenarios in turn."""
    nb = root / "notebooks/02-business-case.ipynb"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(root)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    times = []
    for i in range(start, start + n):
        scen = ROOT / "data/scenarios" / f"{SCENARIOS[i % len(SCENARIOS)]}.yaml"
        out = folder / f"naive-{i}-{root.name}.ipynb"
        c0 = cpu_seconds()
        t0 = time.perf_counter()
        subprocess.run([str(BIN / "papermill"), str(nb), str(out), "-p", "scenario", str(scen),
                        "--cwd", str(nb.parent), "--no-progress-bar", "--log-level", "ERROR"],
                       check=True, capture_output=True, env=env)
        subprocess.run([str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input",
                        str(out)], check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - t0)
        if cpu is not None:
            cpu.append(cpu_seconds() - c0)
        print(f"  naive run {i + 1}: {times[-1]:.1f} s, load {os.getloadavg()[0]:.1f}",
              flush=True)
    return times


def checkout(ref: str, folder: Path) -> Path:
    """The repository's files at ``ref`` (``git archive``), in ``folder/ref``."""
    dest = folder / f"at-{ref[:12]}"
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def batch_at(root: Path, spec: Path, out: Path, workers: int | None) -> tuple[float, float]:
    """Wall and CPU seconds (the subprocess and its workers) of ``run_batch`` with the
    cxroi of ``root`` (a checkout), from a cold start into the empty folder ``out``."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(root)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    code = ("import sys; from pathlib import Path; from cxroi.batch import run_batch\n"
            "if __name__ == '__main__':\n"
            f"    r = run_batch(Path({str(spec)!r}), Path({str(out)!r}), "
            f"workers={workers!r}, progress=False)\n"
            "    sys.exit(0 if r.ok else 1)\n")
    c0 = cpu_seconds()
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=env,
                   cwd=str(root))
    return time.perf_counter() - t0, cpu_seconds() - c0


def _time_index(out: Path, write_folder_index) -> float:
    """Median seconds of one rebuild of the folder's index.html and results.parquet."""
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        write_folder_index(out)
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def bench_spec(spec: Path, workers: int | None, run_batch, write_folder_index) -> dict:
    """A batch file from a cold start into an empty folder, then re-run unchanged."""
    with tempfile.TemporaryDirectory(prefix="cxroi-bench-") as tmp:
        out = Path(tmp) / "reports"
        print(f"cxroi batch {spec}, workers={workers or os.cpu_count()}:")
        t0 = time.perf_counter()
        res = run_batch(spec, out, workers=workers, progress=True)
        batch_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        again = run_batch(spec, out, workers=workers, progress=False)
        rerun_s = time.perf_counter() - t1
        index_s = _time_index(out, write_folder_index)
    run_s = [r.seconds for r in res.rendered]
    return {
        "spec": str(spec), "runs": len(res.runs), "rendered": len(res.rendered),
        "failed": res.n_failed, "cores": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 1),
        "batch_seconds": round(batch_s, 1),
        "batch_seconds_per_rendered_run": round(batch_s / max(len(res.rendered), 1), 2),
        "worker_seconds_per_run_mean": round(sum(run_s) / max(len(run_s), 1), 3),
        "rerun_unchanged_seconds": round(rerun_s, 2), "rerun_skipped": len(again.skipped),
        "folder_index_rebuild_seconds": round(index_s, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--naive-runs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--naive-ref", default=None,
                    help="also time the naive chain on cxroi at this git commit")
    ap.add_argument("--batch-ref", default=None,
                    help="also run the batch on cxroi at this git commit, before and after")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument("--distinct", action="store_true",
                    help="make the copied initiative differ, so every run is executed")
    ap.add_argument("--spec", type=Path, default=None,
                    help="time this batch file (cold, then unchanged) instead")
    args = ap.parse_args()

    from cxroi.batch import run_batch, write_folder_index

    if args.spec:
        figures = bench_spec(args.spec.resolve(), args.workers, run_batch, write_folder_index)
        print(json.dumps(figures, indent=2))
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
        return

    load_before = os.getloadavg()
    before = -(-args.naive_runs // 2)  # the naive runs are split around the batch, so
    after = args.naive_runs - before   # both see the machine's load of the moment
    with tempfile.TemporaryDirectory(prefix="cxroi-bench-") as tmp:
        folder = Path(tmp)
        ref_root = checkout(args.naive_ref, folder) if args.naive_ref else None
        ncpu: list[float] = []
        rcpu: list[float] = []
        print(f"naive chain (papermill CLI + nbconvert CLI), {before} run(s) before the batch:")
        nt = naive(folder, before, cpu=ncpu)
        rt: list[float] = []
        if ref_root is not None:
            print(f"naive chain at {args.naive_ref}, {before} run(s) before the batch:")
            rt += naive(folder, before, ref_root, cpu=rcpu)

        spec = make_spec(folder, args.runs, args.distinct)
        out = folder / "reports"
        shutil.rmtree(out, ignore_errors=True)
        bref: list[tuple[float, float]] = []
        bnow: list[tuple[float, float]] = []  # this code, measured as the reference is
        bref_root = checkout(args.batch_ref, folder / "batch-ref") if args.batch_ref else None

        def side_by_side(k: int, when: str) -> None:
            """The reference's batch, then this code's, both in a subprocess."""
            for label, root, times, name in (
                    (f"at {args.batch_ref}, {args.runs} runs ({when})", bref_root, bref, "ref"),
                    (f"this code in a subprocess, {args.runs} runs", ROOT, bnow, "now")):
                print(f"cxroi batch {label}:", flush=True)
                times.append(batch_at(root, spec, folder / f"reports-{name}-{k}", args.workers))
                print(f"  {times[-1][0]:.1f} s, load {os.getloadavg()[0]:.1f}", flush=True)

        if bref_root is not None:
            side_by_side(0, "before")
        print(f"cxroi batch, {args.runs} runs, workers={args.workers or os.cpu_count()}:")
        load_batch = os.getloadavg()
        c0 = cpu_seconds()
        t0 = time.perf_counter()
        res = run_batch(spec, out, workers=args.workers, progress=True)
        batch_s = time.perf_counter() - t0
        batch_cpu = cpu_seconds() - c0
        load_batch_end = os.getloadavg()
        n = len(res.runs)
        executed = sum(1 for r in res.rendered if "execution is reused" not in
                       r.log.read_text(encoding="utf-8"))
        sizes = [r.report.stat().st_size for r in res.runs if r.report]
        run_s = [r.seconds for r in res.rendered if r.seconds > 0]
        if bref_root is not None:
            side_by_side(1, "after")
        t1 = time.perf_counter()
        again = run_batch(spec, out, workers=args.workers, progress=False)
        rerun_s = time.perf_counter() - t1
        index_s = _time_index(out, write_folder_index)

        if after:
            print(f"naive chain, {after} run(s) after the batch:")
            nt += naive(folder, after, cpu=ncpu, start=before)
            if ref_root is not None:
                print(f"naive chain at {args.naive_ref}, {after} run(s) after the batch:")
                rt += naive(folder, after, ref_root, cpu=rcpu, start=before)
        naive_per_run = sum(nt) / len(nt)
        ref_per_run = sum(rt) / len(rt) if rt else None
        ref_cpu = sum(rcpu) / len(rcpu) if rcpu else None

    naive_total = naive_per_run * n
    figures = {
        "runs": n, "executed": executed, "failed": res.n_failed, "cores": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_batch_start": [round(x, 2) for x in load_batch],
        "load_average_batch_end": [round(x, 2) for x in load_batch_end],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "naive_seconds_per_run": round(naive_per_run, 2),
        "naive_seconds_extrapolated": round(naive_total, 1),
        "batch_seconds": round(batch_s, 1),
        "batch_seconds_per_run_wall": round(batch_s / n, 3),
        "worker_seconds_per_run_mean": round(sum(run_s) / max(len(run_s), 1), 3),
        "speedup": round(naive_total / batch_s, 1),
        "naive_cpu_seconds_per_run": round(sum(ncpu) / len(ncpu), 2),
        "batch_cpu_seconds_per_run": round(batch_cpu / n, 3),
        "cpu_ratio": round(sum(ncpu) / len(ncpu) / (batch_cpu / n), 1),
        "rerun_unchanged_seconds": round(rerun_s, 2),
        "rerun_skipped": len(again.skipped),
        "folder_index_rebuild_seconds": round(index_s, 3),
        "report_kb_mean": round(sum(sizes) / max(len(sizes), 1) / 1024, 1),
        "report_kb_max": round(max(sizes, default=0) / 1024, 1),
    }
    if bref:
        figures["batch_at_ref"] = args.batch_ref
        figures["batch_at_ref_seconds"] = [round(w, 1) for w, _ in bref]
        figures["batch_at_ref_cpu_seconds_per_run"] = round(
            sum(c for _, c in bref) / len(bref) / n, 3)
        figures["batch_speedup_vs_ref"] = round(sum(w for w, _ in bref) / len(bref) / batch_s, 2)
        figures["batch_cpu_ratio_vs_ref"] = round(
            figures["batch_at_ref_cpu_seconds_per_run"] / (batch_cpu / n), 2)
        # the same measurement of this code (a subprocess from its interpreter's start,
        # imports included, as the reference's), alternating with the reference's
        figures["batch_subprocess_seconds"] = [round(w, 1) for w, _ in bnow]
        figures["batch_subprocess_cpu_seconds_per_run"] = round(
            sum(c for _, c in bnow) / len(bnow) / n, 3)
        figures["batch_subprocess_speedup_vs_ref"] = round(
            sum(w for w, _ in bref) / sum(w for w, _ in bnow), 2)
        figures["batch_subprocess_cpu_ratio_vs_ref"] = round(
            figures["batch_at_ref_cpu_seconds_per_run"]
            / figures["batch_subprocess_cpu_seconds_per_run"], 2)
    if ref_per_run is not None:
        figures["naive_at_ref"] = args.naive_ref
        figures["naive_at_ref_seconds_per_run"] = round(ref_per_run, 2)
        figures["speedup_vs_naive_at_ref"] = round(ref_per_run * n / batch_s, 1)
        figures["naive_at_ref_cpu_seconds_per_run"] = round(ref_cpu, 2)
        figures["cpu_ratio_vs_naive_at_ref"] = round(ref_cpu / (batch_cpu / n), 1)
    print(json.dumps(figures, indent=2))
    print(summary(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")


def summary(f: dict) -> str:
    """The side-by-side figures in two or three sentences."""
    load = (f"load average (1 min) {f['load_average_before'][0]:.1f} before, "
            f"{f['load_average_batch_start'][0]:.1f} → {f['load_average_batch_end'][0]:.1f} "
            f"during the batch, {f['load_average_after'][0]:.1f} after, {f['cores']} cores")
    text = (f"{f['runs']} reports ({f['executed']} executed, {f['failed']} failed): batch "
            f"{f['batch_seconds']} s; naive chain {f['naive_seconds_per_run']} s per report, "
            f"{f['naive_seconds_extrapolated']} s for {f['runs']} -> {f['speedup']}x faster, "
            f"measured in this run ({load}).\nCPU seconds per report: batch "
            f"{f['batch_cpu_seconds_per_run']}, naive chain {f['naive_cpu_seconds_per_run']} "
            f"-> {f['cpu_ratio']}x less.")
    if "batch_at_ref" in f:
        text += (f"\nBatch at {f['batch_at_ref']} (before and after this one): "
                 f"{f['batch_at_ref_seconds']} s -> this batch {f['batch_speedup_vs_ref']}x "
                 f"faster; CPU {f['batch_at_ref_cpu_seconds_per_run']} s per report -> "
                 f"{f['batch_cpu_ratio_vs_ref']}x less.\nMeasured alike (a subprocess each, "
                 f"imports included, alternating): this code {f['batch_subprocess_seconds']} s, "
                 f"{f['batch_subprocess_cpu_seconds_per_run']} CPU s per report -> "
                 f"{f['batch_subprocess_speedup_vs_ref']}x faster, "
                 f"{f['batch_subprocess_cpu_ratio_vs_ref']}x less CPU than at "
                 f"{f['batch_at_ref']}.")
    if "naive_at_ref" in f:
        text += (f"\nNaive chain at {f['naive_at_ref']}: {f['naive_at_ref_seconds_per_run']} s "
                 f"per report -> {f['speedup_vs_naive_at_ref']}x; CPU "
                 f"{f['naive_at_ref_cpu_seconds_per_run']} s -> "
                 f"{f['cpu_ratio_vs_naive_at_ref']}x.")
    return text


if __name__ == "__main__":
    main()

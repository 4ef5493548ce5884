"""Benchmark: a 50-run batch to HTML reports vs the naive chain.

The naive chain is what an analyst would script by hand, per run and one after another::

    papermill notebooks/02-business-case.ipynb out.ipynb -p scenario <file>
    jupyter nbconvert --to html --no-input out.ipynb

It starts two Python processes and a kernel per run, so it is measured on a few runs
(``--naive-runs``, default 3) and extrapolated linearly to the batch size (its per-run
cost does not depend on the run). The batch is measured in full, from a cold start (new
worker processes and kernels) with an empty reports folder.

``--naive-ref GITREF`` also measures the naive chain on cxroi as it was at that commit
(extracted with ``git archive``, run with it first on ``PYTHONPATH``), e.g. the commit
before the batch was made faster: the notebook itself got faster too, so the ratio
against the naive chain of today understates what changed for an analyst.

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


def make_spec(folder: Path, runs: int) -> Path:
    """A batch of ``runs`` runs: the example initiatives × two segments × cost variants."""
    inits = [{"path": str(ROOT / "data/scenarios" / f"{s}.yaml"), "name": s} for s in SCENARIOS]
    inits.append({"path": str(ROOT / "data/scenarios/complaints-30-to-1.yaml"),
                  "name": "complaints-copy"})
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


def naive(folder: Path, n: int, root: Path = ROOT, cpu: list[float] | None = None
          ) -> list[float]:
    """Seconds per run of papermill CLI + nbconvert CLI, sequentially, with the cxroi and
    notebook of ``root`` (a checkout); the CPU seconds of each run are appended to
    ``cpu``."""
    nb = root / "notebooks/02-business-case.ipynb"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(root)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    times = []
    for i in range(n):
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
        print(f"  naive run {i + 1}/{n}: {times[-1]:.1f} s", flush=True)
    return times


def checkout(ref: str, folder: Path) -> Path:
    """The repository's files at ``ref`` (``git archive``), in ``folder/ref``."""
    dest = folder / f"at-{ref[:12]}"
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


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
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
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
    with tempfile.TemporaryDirectory(prefix="cxroi-bench-") as tmp:
        folder = Path(tmp)
        print(f"naive chain on {args.naive_runs} runs (papermill CLI + nbconvert CLI):")
        ncpu: list[float] = []
        nt = naive(folder, args.naive_runs, cpu=ncpu)
        naive_per_run = sum(nt) / len(nt)
        ref_per_run = ref_cpu = None
        if args.naive_ref:
            print(f"naive chain at {args.naive_ref} on {args.naive_runs} runs:")
            rcpu: list[float] = []
            rt = naive(folder, args.naive_runs, checkout(args.naive_ref, folder), cpu=rcpu)
            ref_per_run, ref_cpu = sum(rt) / len(rt), sum(rcpu) / len(rcpu)

        spec = make_spec(folder, args.runs)
        out = folder / "reports"
        shutil.rmtree(out, ignore_errors=True)
        print(f"cxroi batch, {args.runs} runs, workers={args.workers or os.cpu_count()}:")
        c0 = cpu_seconds()
        t0 = time.perf_counter()
        res = run_batch(spec, out, workers=args.workers, progress=True)
        batch_s = time.perf_counter() - t0
        batch_cpu = cpu_seconds() - c0
        n = len(res.runs)
        sizes = [r.report.stat().st_size for r in res.runs if r.report]
        run_s = [r.seconds for r in res.rendered]
        t1 = time.perf_counter()
        again = run_batch(spec, out, workers=args.workers, progress=False)
        rerun_s = time.perf_counter() - t1
        index_s = _time_index(out, write_folder_index)

    naive_total = naive_per_run * n
    figures = {
        "runs": n, "failed": res.n_failed, "cores": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
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
    if ref_per_run is not None:
        figures["naive_at_ref"] = args.naive_ref
        figures["naive_at_ref_seconds_per_run"] = round(ref_per_run, 2)
        figures["speedup_vs_naive_at_ref"] = round(ref_per_run * n / batch_s, 1)
        figures["naive_at_ref_cpu_seconds_per_run"] = round(ref_cpu, 2)
        figures["cpu_ratio_vs_naive_at_ref"] = round(ref_cpu / (batch_cpu / n), 1)
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()

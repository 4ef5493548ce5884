"""Benchmark: calibration time from 10,000 to 100,000 accounts (1,000,000 tickets), and
``cxroi calibrate`` at B2C scale (1,000,000 accounts / 10,000,000 tickets).

Targets: 1,000,000 accounts / 10,000,000 tickets calibrated by ``cxroi calibrate`` in
<= 90 s and <= 8 GB peak memory on the project machine (2 cores). Run::

    .venv/bin/python benchmarks/bench_calibrate.py --sizes --scale 100000 1000000
        # writes each company once to Parquet under /tmp (the demo generator, 100,000
        # accounts at a time), then times `python -m cxroi calibrate` on it in a child
        # process: wall clock, CPU, peak resident memory, load average; the ratio of each
        # size to the first is printed

    .venv/bin/python benchmarks/bench_calibrate.py            # 10k, 30k, 100k accounts
    .venv/bin/python benchmarks/bench_calibrate.py --coverage 50   # also coverage over seeds
    .venv/bin/python benchmarks/bench_calibrate.py --sizes 10000 --coverage 50 --gap-options
        # coverage with the churn effect spread over 8 months and both outcomes acting
    .venv/bin/python benchmarks/bench_calibrate.py --sizes --direct-coverage 20
        # coverage of the direct links (HR, expansion and contacts ratios) on the company shapes

Complaint rates are scaled so the largest company has about ten tickets per account.
Validation (typing and checking every table) and calibration (every fit) are timed
separately; data generation is not timed.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from cxroi.calibrate import (
    ContactsFitter,
    ExpansionRateFitter,
    ResolutionChurnFitter,
    calibrate,
    prepare,
)
from cxroi.data import from_frames
from cxroi.demo import SHAPES, DemoTruth, generate_company, generate_demo

LINKS = ["positive_share_today", "odds_ratio", "churn_gap", "expansion_gap", "repeat_contacts",
         "nps_gap", "csat_gap"]


def bench(sizes: list[int], factor: float, n_boot: int) -> list[dict[str, float]]:
    truth = DemoTruth().with_complaints(factor)
    rows = []
    for n in sizes:
        frames = generate_demo(seed=1, n_accounts=n, truth=truth)
        t0, c0 = time.perf_counter(), time.process_time()
        data = from_frames(frames, source=f"bench-{n}")
        t1 = time.perf_counter()
        cal = calibrate(data, n_boot=n_boot, seed=1)
        t2, c2 = time.perf_counter(), time.process_time()
        row = {"accounts": n, "tickets": len(frames["tickets"]), "surveys": len(frames["surveys"]),
               "orders": len(frames["orders"]), "validate_s": t1 - t0, "calibrate_s": t2 - t1,
               "total_s": t2 - t0, "cpu_s": c2 - c0, "churn_gap": cal.links["churn_gap"].value,
               "churn_gap_low": cal.links["churn_gap"].low, "churn_gap_high": cal.links["churn_gap"].high}
        rows.append(row)
        print(f"{n:>8,} accounts {row['tickets']:>10,} tickets {row['surveys']:>10,} surveys "
              f"{row['orders']:>10,} orders | validate {row['validate_s']:6.1f} s | "
              f"calibrate {row['calibrate_s']:6.1f} s | total {row['total_s']:6.1f} s (CPU {row['cpu_s']:6.1f} s)"
              f" | load average {os.getloadavg()[0]:.1f} | churn_gap {row['churn_gap']:.3f} "
              f"({row['churn_gap_low']:.3f} to {row['churn_gap_high']:.3f}) | "
              + " ".join(f"{k} {cal.links[k].value:.3f} ({cal.links[k].low:.3f}-{cal.links[k].high:.3f})"
                         for k in DIRECT if k in cal.links), flush=True)
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        k = np.log(b["total_s"] / a["total_s"]) / np.log(b["accounts"] / a["accounts"])
        print(f"time grows like n^{k:.2f} from {a['accounts']:,} to {b['accounts']:,} accounts")
    return rows


DIRECT = ("churn_hazard_ratio", "expansion_rate_ratio", "contacts_ratio")


def direct_coverage(n_seeds: int, n_accounts: int, shapes: tuple[str, ...] = ("strong", "weak", "null")
                    ) -> dict[str, dict[str, float]]:
    """Coverage of the direct links' 95% intervals (data alone, before any prior) on the
    generator's company shapes, whose true ratios per doubling are known."""
    out = {}
    for sh in shapes:
        truth = SHAPES[sh]
        hits = {k: 0 for k in DIRECT}
        for s in range(n_seeds):
            prep = prepare(from_frames(generate_company(seed=3000 + s, n_accounts=n_accounts, truth=truth).tables))
            fits = {"churn_hazard_ratio": ResolutionChurnFitter().fit(prep),
                    "expansion_rate_ratio": ExpansionRateFitter().fit(prep), "contacts_ratio": ContactsFitter().fit(prep)}
            for k, f in fits.items():
                hits[k] += f.low_ <= getattr(truth, k) <= f.high_
        out[sh] = {k: v / n_seeds for k, v in hits.items()}
        print(f"{sh:<7} ({n_seeds} seeds, {n_accounts:,} accounts): "
              + ", ".join(f"{k} {getattr(truth, k):.2f} covered {v:.0%}" for k, v in out[sh].items()), flush=True)
    return out


GAP_OPTIONS = {"churn_lag": (0.3, 0.2, 0.15, 0.1, 0.08, 0.07, 0.05, 0.05), "churn_positive": 0.015,
               "expansion_negative": -0.003}


def coverage(n_seeds: int, n_accounts: int, gap_options: bool = False) -> dict[str, float]:
    truth = dataclasses.replace(DemoTruth(), **GAP_OPTIONS) if gap_options else DemoTruth()
    hits = {k: 0 for k in LINKS}
    for s in range(n_seeds):
        cal = calibrate(generate_demo(seed=1000 + s, n_accounts=n_accounts, truth=truth), n_boot=100, seed=s)
        t = {"positive_share_today": float(truth.positive_share(cal.today)), "odds_ratio": truth.odds_ratio,
             "churn_gap": truth.churn_gap, "expansion_gap": truth.expansion_gap,
             "repeat_contacts": truth.repeat_contacts, "nps_gap": truth.true_nps_gap, "csat_gap": truth.csat_gap}
        for k in LINKS:
            hits[k] += cal.links[k].low <= t[k] <= cal.links[k].high
    cov = {k: v / n_seeds for k, v in hits.items()}
    label = " (lagged churn effect, both outcomes acting)" if gap_options else ""
    print(f"coverage of the 95% intervals over {n_seeds} seeds ({n_accounts:,} accounts each){label}:")
    for k, v in cov.items():
        print(f"  {k:<22} {v:.2f}")
    return cov


def write_company(n_accounts: int, folder: Path, factor: float = 11.5, chunk: int = 100_000,
                  seed: int = 1) -> Path:
    """Write a company of ``n_accounts`` (about ten tickets each) to Parquet, once.

    The demo generator (:func:`cxroi.demo.generate_demo`) makes it ``chunk`` accounts at a
    time (independent accounts, seeds ``seed``, ``seed + 1``, ...; ids prefixed by the
    chunk number so they stay unique), appended as row groups: memory stays that of one
    chunk. A folder that already holds a finished company of this size is reused.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    done = folder / "_complete"
    if done.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    truth = DemoTruth().with_complaints(factor)
    writers: dict[str, pq.ParquetWriter] = {}
    schemas: dict[str, pa.Schema] = {}
    ids = [("accounts", "account_id"), ("tickets", "account_id"), ("tickets", "ticket_id"),
           ("surveys", "account_id"), ("surveys", "ticket_id"), ("orders", "account_id"), ("orders", "order_id")]
    counts = dict.fromkeys(("accounts", "tickets", "surveys", "orders"), 0)
    try:
        for c, n0 in enumerate(range(0, n_accounts, chunk)):
            frames = generate_demo(seed=seed + c, n_accounts=min(chunk, n_accounts - n0), truth=truth)
            for table, col in ids:
                s = frames[table][col]
                frames[table][col] = (f"{c:02d}-" + s.astype("string")).where(s.notna(), None)
            for table, df in frames.items():
                tab = pa.Table.from_pandas(df, preserve_index=False)
                if table not in writers:
                    schemas[table] = pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type) else f
                                                for f in tab.schema]).remove_metadata()
                    writers[table] = pq.ParquetWriter(folder / f"{table}.parquet", schemas[table])
                writers[table].write_table(tab.cast(schemas[table]))
                counts[table] += len(df)
            print(f"  generated {n0 + len(frames['accounts']):,} of {n_accounts:,} accounts", flush=True)
    finally:
        for w in writers.values():
            w.close()
    done.write_text(" ".join(f"{k}={v}" for k, v in counts.items()))
    return folder


def run_cli(folder: Path, out: Path) -> dict[str, float]:
    """Time ``python -m cxroi calibrate folder`` in a child process: wall clock, CPU and
    peak resident memory (the child's own ``ru_maxrss``), load average before and after."""
    out.parent.mkdir(parents=True, exist_ok=True)
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(repo)}  # this checkout's cxroi (cwd too: `-m` puts it first)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "cxroi", "calibrate", str(folder), "--out", str(out)],
                            env=env, cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if status != 0:
        raise RuntimeError(f"cxroi calibrate failed on {folder}:\n{err[-2000:]}")
    return {"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime, "peak_gb": ru.ru_maxrss / 1024**2,
            "load_before": load0, "load_after": os.getloadavg()[0]}


def bench_scale(sizes: list[int], root: Path) -> list[dict[str, float]]:
    """``cxroi calibrate`` on Parquet companies of the given sizes; ratios to the first."""
    rows = []
    for n in sizes:
        folder = write_company(n, root / f"cxroi-bench-calibrate-{n}")
        r = {"accounts": n, **run_cli(folder, root / f"cxroi-bench-calibrate-{n}-out" / "calibrated.yaml")}
        r["tickets"] = int((folder / "_complete").read_text().split("tickets=")[1].split()[0])
        rows.append(r)
        ref = rows[0]
        print(f"{n:>10,} accounts {r['tickets']:>11,} tickets | cxroi calibrate {r['wall_s']:6.1f} s wall, "
              f"{r['cpu_s']:6.1f} s CPU, peak {r['peak_gb']:.2f} GB | load average {r['load_before']:.1f} -> "
              f"{r['load_after']:.1f} | x{r['wall_s'] / ref['wall_s']:.2f} wall, x{r['cpu_s'] / ref['cpu_s']:.2f} CPU "
              f"of {ref['accounts']:,} accounts", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 30_000, 100_000])
    ap.add_argument("--factor", type=float, default=11.5, help="complaint-rate multiplier")
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--coverage", type=int, default=0, help="also check coverage over this many seeds")
    ap.add_argument("--coverage-accounts", type=int, default=3000)
    ap.add_argument("--gap-options", action="store_true",
                    help="coverage with the generator's lagged-churn and both-outcomes options on")
    ap.add_argument("--direct-coverage", type=int, default=0,
                    help="coverage of the direct links on the strong / weak / null shapes over this many seeds")
    ap.add_argument("--scale", type=int, nargs="*", default=[],
                    help="time `cxroi calibrate` on Parquet companies of these sizes (e.g. 100000 1000000)")
    ap.add_argument("--scale-dir", type=Path, default=Path("/tmp"), help="where the Parquet companies are kept")
    args = ap.parse_args()
    if args.scale:
        bench_scale(args.scale, args.scale_dir)
    if args.sizes:
        bench(args.sizes, args.factor, args.n_boot)
    if args.direct_coverage:
        direct_coverage(args.direct_coverage, args.coverage_accounts)
    if args.coverage:
        coverage(args.coverage, args.coverage_accounts, args.gap_options)


if __name__ == "__main__":
    main()

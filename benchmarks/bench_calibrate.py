"""Benchmark: calibration time from 10,000 to 100,000 accounts (1,000,000 tickets).

Target: 100,000 accounts / 1,000,000 tickets calibrated in <= 60 s on the project machine
(2 cores). Run::

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
import time

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
    args = ap.parse_args()
    if args.sizes:
        bench(args.sizes, args.factor, args.n_boot)
    if args.direct_coverage:
        direct_coverage(args.direct_coverage, args.coverage_accounts)
    if args.coverage:
        coverage(args.coverage, args.coverage_accounts, args.gap_options)


if __name__ == "__main__":
    main()

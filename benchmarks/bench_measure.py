"""Benchmark: ``cxroi measure`` time by company size, and interval coverage over seeds.

Run::

    .venv/bin/python benchmarks/bench_measure.py                      # 3k, 10k, 30k accounts
    .venv/bin/python benchmarks/bench_measure.py --sizes 3000 --coverage 100 --variant effect
    .venv/bin/python benchmarks/bench_measure.py --sizes 3000 --coverage 100 --variant null

Timing: the whole measurement (panels, six outcomes with placebo and naive comparison, lever
by group, money with 4,000 draws, updated scenario) on generated tables already in memory;
wall and CPU seconds. Coverage: share of seeds whose 95% interval covers the true effect
(0 for the null variant's outcomes), per outcome, with the stacked event study (6, 6).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from cxroi.data import Mapping, TableMapping, from_frames
from cxroi.measure import measure
from cxroi.measure.did import StaggeredDiD
from cxroi.measure.initiative import initiative_from_dict
from cxroi.measure.panel import build_panel
from cxroi.rollout import business_case_for, generate_rollout, initiative_dict, rollout_truth
from cxroi.scenario import save_scenario, scenario_from_dict

ROOT = Path(__file__).resolve().parents[1]
KEEP = Mapping(tables={"accounts": TableMapping(keep=["team"])})
OUTCOMES = ("leaving", "buying_more", "contacts", "nps", "csat", "lever")


def bench(sizes: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            ro = generate_rollout(seed=1, n_accounts=n)
            case = Path(tmp) / "case.yaml"
            save_scenario(scenario_from_dict(business_case_for(
                ro, ROOT / "data" / "scenarios" / "complaints-30-to-1.yaml")), case)
            raw = initiative_dict(ro, scenario=str(case))
            data = from_frames(ro.tables, KEEP, source=f"bench-{n}")
            ini = initiative_from_dict(raw)
            t0, c0 = time.perf_counter(), time.process_time()
            measure(data, ini)
            print(f"{n:>7,} accounts: {time.perf_counter() - t0:6.1f} s wall, "
                  f"{time.process_time() - c0:6.1f} s CPU")


def coverage(n_seeds: int, variant: str, n_accounts: int) -> None:
    hits: dict[str, list[bool]] = {o: [] for o in OUTCOMES}
    t0 = time.perf_counter()
    for s in range(n_seeds):
        ro = generate_rollout(seed=1000 + s, n_accounts=n_accounts, truth=rollout_truth(variant))
        p = build_panel(from_frames(ro.tables, KEEP), initiative_from_dict(
            {"name": "b", "scenario": "s.yaml", "group_by": "team", "go_live": ro.go_live}))
        for o in OUTCOMES:
            est = StaggeredDiD(6, 6).fit(p.outcome(o), p.go_live, len(p.months))
            cells = est.treated_cells_.assign(month=p.months[est.treated_cells_["t"].to_numpy()])
            truth = ro.true_effect(o, cells)
            hits[o].append(est.att_.low <= truth <= est.att_.high)
    rates = {o: f"{np.mean(v):.0%}" for o, v in hits.items()}
    print(f"{variant}, {n_seeds} seeds, {n_accounts:,} accounts: coverage of the 95% intervals "
          f"{rates} ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[3000, 10_000, 30_000])
    ap.add_argument("--coverage", type=int, default=0, help="seeds for the coverage run")
    ap.add_argument("--variant", default="effect", choices=["effect", "null", "confounded"])
    args = ap.parse_args()
    bench(args.sizes)
    if args.coverage:
        coverage(args.coverage, args.variant, args.sizes[0])

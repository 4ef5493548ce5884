"""Model speed, run on demand: ``.venv/bin/python benchmarks/bench_model.py``.

Targets (issue: the flywheel engine), on the 2-core machine:
- one deterministic scenario, 3 segments x 3 touchpoints x 36 months: <= 1 ms;
- Monte Carlo, 10,000 draws (sampling + model + finance): <= 50 ms;
- the ratio against a straightforward per-draw Python loop of the same model.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import yaml
from threadpoolctl import threadpool_limits

from cxroi.model import compile_inputs, likely_params, run_flywheel
from cxroi.scenario import load_scenario, scenario_from_dict
from cxroi.uncertainty import sample_params, simulate
from cxroi.voi import value_of_information

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "data" / "scenarios" / "cx-programme.yaml"  # 3 segments x 3 touchpoints


def timeit(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median wall time and median CPU time of this process, in milliseconds.

    CPU time is the steadier figure on a shared machine (other processes' load does not
    count); on an idle machine the two agree.
    """
    fn()  # warm up
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    # One BLAS thread, as the app runs: OpenBLAS's extra thread spin-waits on tiny matrix
    # products and takes a core away without making them faster.
    with threadpool_limits(limits=1):
        _main()


def _main() -> None:
    sc = load_scenario(SCENARIO)
    inp = compile_inputs(sc)
    shape = (len(inp.segments), len(inp.touchpoints), inp.horizon)
    print(f"scenario: {SCENARIO.name}  segments x touchpoints x months = {shape}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    likely = likely_params(sc)
    med, best = timeit(lambda: run_flywheel(inp, likely), 500)
    print(f"deterministic run_flywheel: wall {med:.3f} ms, CPU {best:.3f} ms (target <= 1 ms)")
    med, best = timeit(lambda: compile_inputs(sc), 200)
    print(f"compile_inputs (once per scenario edit): wall {med:.3f} ms")

    n = 10_000
    med, best = timeit(lambda: simulate(sc, draws=n, seed=1, inputs=inp), 15)
    print(f"Monte Carlo {n:,} draws, simulate() incl. monthly series: wall {med:.1f} ms, "
          f"CPU {best:.1f} ms (target <= 50 ms)")
    params = sample_params(sc, n, np.random.default_rng(1))
    med_v, best_v = timeit(lambda: run_flywheel(inp, params), 15)
    print(f"Monte Carlo {n:,} draws, run_flywheel only: wall {med_v:.1f} ms, CPU {best_v:.1f} ms")

    # issue 14: correlated links (reordering on the same draws) and value of information
    raw = yaml.safe_load(SCENARIO.read_text())
    tps = list(raw["touchpoints"])
    raw["correlations"] = [{"links": [f"touchpoints.{a}.links.churn_gap",
                                      f"touchpoints.{b}.links.churn_gap"], "rho": 0.5}
                           for i, a in enumerate(tps) for b in tps[i + 1:]]
    corr = scenario_from_dict(raw)
    med_c, best_c = timeit(lambda: simulate(corr, draws=n, seed=1, inputs=inp), 15)
    print(f"Monte Carlo {n:,} draws with 3 correlated links: wall {med_c:.1f} ms, "
          f"CPU {best_c:.1f} ms")
    res = simulate(sc, draws=n, seed=1, inputs=inp)
    med_voi, best_voi = timeit(lambda: value_of_information(res), 3)
    print(f"value of information on {n:,} draws ({len(sc.uncertain_paths())} links): wall "
          f"{med_voi:.0f} ms, CPU {best_voi:.0f} ms")

    def per_draw_loop(k: int) -> None:
        for i in range(k):
            run_flywheel(inp, {key: v[i:i + 1] for key, v in params.items()})

    k = 1000
    med_l, _ = timeit(lambda: per_draw_loop(k), 3)
    loop_ms = med_l * n / k
    print(f"per-draw Python loop of the same model: {loop_ms:.0f} ms for {n:,} draws "
          f"(measured on {k:,}, scaled); vectorised is {loop_ms / med_v:.0f}x faster (wall)")


if __name__ == "__main__":
    main()

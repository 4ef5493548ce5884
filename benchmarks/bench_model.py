"""Model speed, run on demand: ``.venv/bin/python benchmarks/bench_model.py [--quick]``.

Targets (issue 13, item 1), on the 2-core machine, for the 3 segments x 3 touchpoints x 36
months programme:
- ``simulate()`` of 10,000 draws in <= 3 "cumprod passes": the time of one ``np.cumprod``
  over a (3, 36, 10,000) array along the months axis, measured in the same run, interleaved
  round by round with what it is compared to (a shared machine's load moves both alike);
- one deterministic run (``run_flywheel`` with every link at its most likely value)
  <= 0.2 ms.

Both engines are measured: the compiled kernel (:mod:`cxroi.kernel`, after
:func:`cxroi.model.use_kernel`) and the numpy reference. Wall and CPU time (of this thread:
other processes' load does not count) are medians over rounds; the load average is printed
beside them.
"""

from __future__ import annotations

import itertools
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import yaml
from threadpoolctl import threadpool_limits

from cxroi import model
from cxroi.model import compile_inputs, likely_params, run_flywheel
from cxroi.scenario import Scenario, load_scenario, scenario_from_dict
from cxroi.uncertainty import sample_params, sampling_range, simulate
from cxroi.uncertainty.draws import clear_draw_cache
from cxroi.voi import value_of_information

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "data" / "scenarios" / "cx-programme.yaml"  # 3 segments x 3 touchpoints
DRAWS = 10_000


def timeit(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Median wall time and median CPU time of this thread, in milliseconds."""
    fn()  # warm up
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.thread_time()
        fn()
        wall.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.thread_time() - c0) * 1e3)
    return statistics.median(wall), statistics.median(cpu)


def interleaved(fns: dict[str, Callable[[], object]], rounds: int
                ) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) ms of each function, run round by round in turn, so a change of
    the machine's load during the run touches every one of them alike."""
    for fn in fns.values():
        fn()
    wall: dict[str, list[float]] = {k: [] for k in fns}
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for key, fn in fns.items():
            t0, c0 = time.perf_counter(), time.thread_time()
            fn()
            wall[key].append((time.perf_counter() - t0) * 1e3)
            cpu[key].append((time.thread_time() - c0) * 1e3)
    return {k: (statistics.median(wall[k]), statistics.median(cpu[k])) for k in fns}


def load() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def cold_start_seconds(code: str, repeat: int = 3) -> float:
    """Median seconds of a fresh interpreter running ``code`` (imports included)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def pert_parameters(sc: Scenario) -> list[tuple[float, float]]:
    """(alpha, beta) of every beta-PERT link the scenario samples, in sampling order."""
    out = []
    for path, link in sc.link_paths().items():
        a, m, b = sampling_range(path.split(".")[-1], link)
        if link.provenance != "calibrated" and b > a:
            out.append((1.0 + 4.0 * (m - a) / (b - a), 1.0 + 4.0 * (b - m) / (b - a)))
    return out


def beta_draws(pert: list[tuple[float, float]], rng: np.random.Generator) -> list[np.ndarray]:
    """The generator calls of the PERT links alone: the floor of sampling them."""
    return [rng.beta(a, b, size=DRAWS) for a, b in pert]


def main() -> None:
    # One BLAS thread, as the app runs: OpenBLAS's extra thread spin-waits on tiny matrix
    # products and takes a core away without making them faster.
    with threadpool_limits(limits=1):
        _main(quick="--quick" in sys.argv)


def _main(quick: bool) -> None:
    t0 = time.perf_counter()
    kernel = model.use_kernel()
    print(f"use_kernel(): {time.perf_counter() - t0:.2f} s (numba import + cached machine "
          f"code; compiled={kernel})")
    sc = load_scenario(SCENARIO)
    inp = compile_inputs(sc)
    shape = (len(inp.segments), len(inp.touchpoints), inp.horizon)
    print(f"scenario: {SCENARIO.name}  segments x touchpoints x months = {shape}; {load()}")

    # --- the headline: 10,000 draws in cumprod passes -----------------------------------
    ref_array = np.random.default_rng(0).random((shape[0], inp.horizon, DRAWS))
    params = sample_params(sc, DRAWS, np.random.default_rng(1))

    def on_numpy(fn: Callable[[], object]) -> Callable[[], object]:
        def run() -> object:
            model.ENGINE = "numpy"
            try:
                return fn()
            finally:
                model.ENGINE = "auto"
        return run

    def sim() -> object:  # new priors: the draws are sampled (as before the draws were kept)
        clear_draw_cache()
        return simulate(sc, draws=DRAWS, seed=1, inputs=inp)

    # a lever moved (as the app's slider): another scenario with the same priors, compiled
    # again; the draws are the kept ones, the previous result is still held
    tp, touchpoint = next(iter(sc.touchpoints.items()))
    lever = touchpoint.lever
    moved = [sc.with_lever(tp, target=lever.target),
             sc.with_lever(tp, target=(lever.today + lever.target) / 2)]
    held: list[object] = []
    turn = itertools.cycle(moved)

    def sim_moved() -> None:
        held.append(simulate(next(turn), draws=DRAWS, seed=1))
        del held[:-1]

    pert = pert_parameters(sc)
    fns: dict[str, Callable[[], object]] = {
        "cumprod pass (reference)": lambda: np.cumprod(ref_array, axis=1),
        "simulate, kernel, new priors": sim,
        "simulate, kernel, lever moved": sim_moved,
        "  sampling the links": lambda: sample_params(sc, DRAWS, np.random.default_rng(1)),
        "    of which rng.beta alone": lambda: beta_draws(pert, np.random.default_rng(1)),
        "  run_flywheel(monthly), kernel": lambda: run_flywheel(inp, params, monthly=True),
        "simulate, numpy reference, new priors": on_numpy(sim),
    }
    # the floor of ANY other random stream: one uniform per draw and PERT link (a faster
    # beta sampler or an inverse-CDF table would cost more): measured, not adopted
    fns["uniforms alone, same count (any new stream)"] = (
        lambda: np.random.default_rng(1).random((len(pert), DRAWS)))
    # the floor of keeping per-draw monthly series at all: writing their bytes (four
    # benefit lines and two net cash flows) into memory that is already mapped
    monthly_bytes = np.empty((4 * inp.horizon + 2 * (inp.horizon + 1)) * DRAWS)
    fns["writing the monthly series' bytes alone"] = lambda: monthly_bytes.fill(1.0)
    rounds = 5 if quick else 15
    res = interleaved(fns, rounds)
    ref_wall, ref_cpu = res["cumprod pass (reference)"]
    print(f"\n{DRAWS:,} draws, {rounds} interleaved rounds, medians; {load()}")
    print(f"{'':40s} {'wall ms':>8s} {'passes':>7s} {'CPU ms':>8s} {'passes':>7s}")
    for key, (wall, cpu) in res.items():
        print(f"{key:40s} {wall:8.2f} {wall / ref_wall:7.2f} {cpu:8.2f} {cpu / ref_cpu:7.2f}")
    print(f"(target: simulate <= 3 passes; {len(pert)} links are beta-PERT: numpy's rng.beta, "
          "kept so that a seed gives today's numbers, is the floor of the 'sampling' line; "
          "'lever moved' reuses the kept draws of the same priors)")
    sim_cpu = res["simulate, kernel, new priors"][1]
    beta_cpu = res["    of which rng.beta alone"][1]
    new_cpu = sim_cpu - beta_cpu + res["uniforms alone, same count (any new stream)"][1]
    print(f"another random stream (new numbers for every seed; NOT adopted) could at best make "
          f"simulate {new_cpu:.1f} ms CPU = {new_cpu / ref_cpu:.2f} passes")

    # --- one deterministic run ----------------------------------------------------------
    likely = likely_params(sc)
    wall_k, cpu_k = timeit(lambda: run_flywheel(inp, likely), 2000)
    wall_m, _ = timeit(lambda: run_flywheel(inp, likely, monthly=True, detail=True), 1000)
    wall_n, _ = timeit(on_numpy(lambda: run_flywheel(inp, likely)), 300)
    print(f"\ndeterministic run_flywheel: kernel {wall_k * 1e3:.0f} us wall, {cpu_k * 1e3:.0f} us "
          f"CPU (target <= 200 us); with monthly series and detail {wall_m * 1e3:.0f} us; "
          f"numpy reference {wall_n * 1e3:.0f} us; {load()}")
    wall_c, _ = timeit(lambda: compile_inputs(sc), 200)
    print(f"compile_inputs (once per scenario edit): {wall_c:.3f} ms")

    # --- cold start: what loading the kernel adds to a fresh process ---------------------
    base = "import cxroi.uncertainty"
    cold = cold_start_seconds(base)
    warm = cold_start_seconds(base + "; import cxroi.model as m; m.use_kernel()")
    print(f"\ncold start: import cxroi.uncertainty {cold:.2f} s; with use_kernel() "
          f"{warm:.2f} s (+{warm - cold:.2f} s, paid only by a process that asks for it); "
          f"{load()}")
    if quick:
        return

    # --- issue 14: correlated links and value of information (kernel) --------------------
    raw = yaml.safe_load(SCENARIO.read_text())
    tps = list(raw["touchpoints"])
    raw["correlations"] = [{"links": [f"touchpoints.{a}.links.churn_gap",
                                      f"touchpoints.{b}.links.churn_gap"], "rho": 0.5}
                           for i, a in enumerate(tps) for b in tps[i + 1:]]
    corr = scenario_from_dict(raw)
    def sim_corr() -> object:
        clear_draw_cache()
        return simulate(corr, draws=DRAWS, seed=1, inputs=inp)

    med_c, best_c = timeit(sim_corr, 10)
    print(f"\nMonte Carlo {DRAWS:,} draws with 3 correlated links: wall {med_c:.1f} ms, "
          f"CPU {best_c:.1f} ms")
    res_sim = simulate(sc, draws=DRAWS, seed=1, inputs=inp)
    med_voi, best_voi = timeit(lambda: value_of_information(res_sim), 3)
    print(f"value of information on {DRAWS:,} draws ({len(sc.uncertain_paths())} links): wall "
          f"{med_voi:.0f} ms, CPU {best_voi:.0f} ms")

    med_v, _ = timeit(lambda: run_flywheel(inp, params), 10)

    def per_draw_loop(k: int) -> None:
        for i in range(k):
            run_flywheel(inp, {key: v[i:i + 1] for key, v in params.items()})

    k = 1000
    med_l, _ = timeit(lambda: per_draw_loop(k), 3)
    loop_ms = med_l * DRAWS / k
    print(f"per-draw Python loop of the same model: {loop_ms:.0f} ms for {DRAWS:,} draws "
          f"(measured on {k:,}, scaled); vectorised is {loop_ms / med_v:.0f}x faster (wall); "
          f"{load()}")


if __name__ == "__main__":
    main()

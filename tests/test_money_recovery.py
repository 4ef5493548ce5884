"""Money recovery against ground truth: does the calibrated business case cover the TRUE money?

For each company shape (:data:`cxroi.demo.SHAPES`) and seed: generate a company, calibrate
it (``cxroi.calibrate.calibrate``), simulate the calibrated scenario
(``cxroi.uncertainty.simulate``), and compare each money line's P10-P90 with the true value
of the same initiative for the same company (:func:`cxroi.demo.true_value`: the company
simulated forward with the lever at today's value and at the target, common random numbers).

* fast (default): a few seeds per shape on small companies; each money line must be
  covered in at least 2 of 3 seeds, and the null shape's retention interval must hold 0;
* slow (``-m slow``): many seeds; no line's coverage may be shown to be below 80% (a
  one-sided binomial test per line, and over all lines together: :func:`undercoverage_p`
  says why the bar is a test); ``MONEY_RECOVERY_SEEDS=5`` runs it on fewer seeds.

The baseline rates the money rests on (churn, expansion, complaints and contacts per
complaint) are measured with sampling error: their 95% intervals are checked here too.

Run ``python tests/test_money_recovery.py --seeds 20`` for the coverage table of
``docs/calibration.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cxroi.calibrate import calibrate
from cxroi.calibrate.baselines import poisson_interval, ratio_interval
from cxroi.demo import MONEY_LINES, SHAPES, generate_company, true_value
from cxroi.uncertainty import simulate

FAST_SHAPES = ("strong", "weak", "null", "no-surveys", "untied-surveys")
FAST_SEEDS = (101, 102, 103)
FAST_ACCOUNTS = 2000
SLOW_SEEDS = tuple(range(201, 201 + int(os.environ.get("MONEY_RECOVERY_SEEDS", "20"))))
SLOW_ACCOUNTS = 3000
COVERAGE = 0.80
#: Dollars of floating-point slack when a line's truth is exactly 0 and a bound sits at 0.
TOL = 1.0


@cache
def recovery(shape: str, seed: int, n_accounts: int, draws: int = 1000, n_futures: int = 40) -> dict[str, Any]:
    """One company: calibrated P10/P50/P90 and the true value of each money line."""
    company = generate_company(seed=seed, n_accounts=n_accounts, truth=SHAPES[shape])
    cal = calibrate(company.tables, n_boot=30, seed=seed, name=f"{shape}-{seed}")
    sc = cal.to_scenario()
    res = simulate(sc, draws=draws, seed=seed)
    truth = true_value(company, sc, n_futures=n_futures, seed=seed)
    out: dict[str, Any] = {"shape": shape, "seed": seed, "prob_loss": res.prob_loss, "truth_npv": truth["npv"],
                           "baselines": cal.baselines.to_dict("records")}
    for line in (*MONEY_LINES, "npv"):
        out[line] = {q: res.quantile(line, p) for q, p in (("p10", 0.1), ("p50", 0.5), ("p90", 0.9))}
        out[line]["truth"] = truth[line]
        out[line]["covered"] = out[line]["p10"] - TOL <= truth[line] <= out[line]["p90"] + TOL
    return out


def coverage_table(runs_by_shape: dict[str, list[dict[str, Any]]]) -> pd.DataFrame:
    """Shape x money line: coverage over the seeds, median calibrated P50 and median truth."""
    rows = []
    for shape, runs in runs_by_shape.items():
        for line in MONEY_LINES:
            rows.append({
                "shape": shape, "line": line, "seeds": len(runs),
                "coverage": float(np.mean([r[line]["covered"] for r in runs])),
                "median_p50": float(np.median([r[line]["p50"] for r in runs])),
                "median_truth": float(np.median([r[line]["truth"] for r in runs])),
                "median_p50_over_truth": float(np.median([r[line]["p50"] / r[line]["truth"]
                                                          for r in runs if r[line]["truth"] != 0]))
                if any(r[line]["truth"] != 0 for r in runs) else float("nan"),
            })
        rows.append({"shape": shape, "line": "P(NPV<0)", "seeds": len(runs),
                     "coverage": float("nan"), "median_p50": float(np.median([r["prob_loss"] for r in runs])),
                     "median_truth": float(np.median([r["truth_npv"] < 0 for r in runs])),
                     "median_p50_over_truth": float("nan")})
    return pd.DataFrame(rows)


def _message(runs: list[dict[str, Any]], line: str) -> str:
    return "; ".join(f"seed {r['seed']}: P10 {r[line]['p10']:,.0f} P50 {r[line]['p50']:,.0f} "
                     f"P90 {r[line]['p90']:,.0f} vs true {r[line]['truth']:,.0f}" for r in runs)


# ----------------------------------------------------------------------------------------
# fast: a few seeds, small companies
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", FAST_SHAPES)
@pytest.mark.parametrize("line", MONEY_LINES)
def test_calibrated_interval_covers_the_true_money(shape, line):
    runs = [recovery(shape, s, FAST_ACCOUNTS) for s in FAST_SEEDS]
    covered = sum(r[line]["covered"] for r in runs)
    assert covered >= len(runs) - 1, f"{shape} {line} covered in {covered}/{len(runs)} seeds: {_message(runs, line)}"


def test_null_effect_is_not_sold_as_money():
    runs = [recovery("null", s, FAST_ACCOUNTS) for s in FAST_SEEDS]
    for r in runs:  # the truth: nothing to gain, the programme only costs
        assert r["retention_savings"]["truth"] == 0.0 and r["npv"]["truth"] < 0
    holds_zero = sum(r["retention_savings"]["p10"] - TOL <= 0 <= r["retention_savings"]["p90"] + TOL for r in runs)
    assert holds_zero >= len(runs) - 1, _message(runs, "retention_savings")
    losing = [r["prob_loss"] for r in runs]
    assert sum(p >= 0.10 for p in losing) >= len(runs) - 1, f"P(NPV < 0) on a null company: {losing}"


# ----------------------------------------------------------------------------------------
# the baseline rates' sampling intervals (what the money's draws carry beside the links)
# ----------------------------------------------------------------------------------------


def test_rate_intervals_cover_a_known_rate():
    """Exact Poisson and account-clustered ratio intervals hold a known rate ~95% of the time,
    also when accounts differ (gamma-distributed rates: over-dispersed counts)."""
    rng = np.random.default_rng(7)
    true_rate, hits_p, hits_r, reps = 0.05, 0, 0, 400
    for _ in range(reps):
        months = rng.integers(1, 37, size=300).astype(float)
        own = true_rate * rng.gamma(0.5, 2.0, size=300)  # mean-one frailty, variance 2
        counts = rng.poisson(own * months)
        lo, hi = poisson_interval(counts.sum(), months.sum())
        hits_p += lo <= true_rate <= hi
        _, lo, hi = ratio_interval(counts, months)
        hits_r += lo <= true_rate <= hi
    assert 0.90 <= hits_r / reps <= 0.99, hits_r / reps  # clustered: right under over-dispersion
    assert hits_p / reps < hits_r / reps  # a Poisson count's interval is too narrow there
    lo, hi = poisson_interval(0, 1000.0)
    assert lo == 0.0 and hi == pytest.approx(3.689 / 1000, rel=1e-3)  # no event: still an upper bound


def test_baseline_intervals_hold_the_generated_company():
    """On the null shape (contacts do not depend on resolution time) each segment's contacts per
    complaint and complaints per account-year intervals hold the generator's values."""
    runs = [recovery("null", s, FAST_ACCOUNTS) for s in FAST_SEEDS]
    truth = {seg.name: seg for seg in SHAPES["null"].segments}
    checks = []
    for r in runs:
        for b in r["baselines"]:
            t = truth[b["segment"]]
            assert b["churn_low"] < b["churn"] < b["churn_high"]
            assert b["expansion_rate_low"] < b["expansion_rate"] < b["expansion_rate_high"]
            checks.append(b["contacts_per_event_low"] <= t.contacts_per_event <= b["contacts_per_event_high"])
            checks.append(b["complaints_per_year_low"] <= t.complaints_per_year <= b["complaints_per_year_high"])
    assert sum(checks) >= len(checks) - 2, checks


# ----------------------------------------------------------------------------------------
# slow: the bar, coverage >= 80% over many seeds
# ----------------------------------------------------------------------------------------


def undercoverage_p(covered: int, n: int, nominal: float = COVERAGE) -> float:
    """One-sided binomial p-value of covering the truth in ``covered`` of ``n`` companies or
    fewer, if the interval's true coverage were ``nominal``.

    Why a test and not "coverage >= 80%" read literally: an honest 80% interval covers the
    truth in 16 or more of 20 companies only 63% of the time (``binom.sf(15, 20, 0.8)``), so
    the literal bar on 18 lines (6 shapes x 3 money lines) would pass with probability
    0.63 ** 18 = 0.02% for perfectly calibrated intervals, and could only be met reliably by
    intervals wider than the P10-P90 they are labelled. The slow test therefore fails a line
    whose coverage is *shown* to be below 80%, and the coverages themselves are printed
    (``python tests/test_money_recovery.py``) and recorded in ``docs/calibration.md``.
    """
    from scipy.stats import binom

    return float(binom.cdf(covered, n, nominal))


#: A line fails when its coverage is below 80% with one-sided p below this (20 companies:
#: 11 or fewer covered, 55%; a calibrated line fails by chance with probability 1%).
LINE_ALPHA = 0.01
#: The coverage over all lines of all shapes fails below 80% with one-sided p below this.
POOLED_ALPHA = 0.05


@pytest.mark.slow
@pytest.mark.parametrize("shape", tuple(SHAPES))
def test_coverage_over_many_seeds(shape):
    runs = [recovery(shape, s, SLOW_ACCOUNTS) for s in SLOW_SEEDS]
    for line in MONEY_LINES:
        covered = int(sum(r[line]["covered"] for r in runs))
        p = undercoverage_p(covered, len(runs))
        assert p >= LINE_ALPHA, (f"{shape} {line}: coverage {covered}/{len(runs)}, below 80% with p = {p:.4f}; "
                                 f"{_message(runs, line)}")


@pytest.mark.slow
def test_coverage_over_all_lines():
    """All shapes and lines together: the calibrated P10-P90 covers the truth about 80% of
    the time (not shown to be below it)."""
    covered = n = 0
    for shape in SHAPES:
        for r in (recovery(shape, s, SLOW_ACCOUNTS) for s in SLOW_SEEDS):
            covered += sum(bool(r[line]["covered"]) for line in MONEY_LINES)
            n += len(MONEY_LINES)
    p = undercoverage_p(covered, n)
    assert p >= POOLED_ALPHA, f"pooled coverage {covered}/{n} = {covered / n:.0%}, below 80% with p = {p:.4f}"


@pytest.mark.slow
def test_null_effect_over_many_seeds():
    runs = [recovery("null", s, SLOW_ACCOUNTS) for s in SLOW_SEEDS]
    holds_zero = int(sum(r["retention_savings"]["p10"] - TOL <= 0 <= r["retention_savings"]["p90"] + TOL
                         for r in runs))
    assert undercoverage_p(holds_zero, len(runs)) >= LINE_ALPHA, _message(runs, "retention_savings")
    # the programme only costs: the business case must not call it safe
    assert np.mean([r["prob_loss"] >= 0.10 for r in runs]) >= COVERAGE, [r["prob_loss"] for r in runs]


# ----------------------------------------------------------------------------------------
# the table for docs/calibration.md
# ----------------------------------------------------------------------------------------


def _markdown(table: pd.DataFrame) -> str:
    def money(x: float) -> str:
        return f"{x / 1e6:,.2f}M" if abs(x) >= 1e5 else f"{x / 1e3:,.1f}k"
    out = ["| shape | line | coverage (P10-P90 holds truth) | p (below 80%) | median P50 | median truth | "
           "median P50 / truth |",
           "|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        if r.line == "P(NPV<0)":
            out.append(f"| {r.shape} | P(NPV < 0) | | | {r.median_p50:.0%} | {'loses' if r.median_truth else 'gains'} | |")
            continue
        ratio = "" if not np.isfinite(r.median_p50_over_truth) else f"{r.median_p50_over_truth:.2f}"
        p = undercoverage_p(round(r.coverage * r.seeds), r.seeds)
        out.append(f"| {r.shape} | {r.line.replace('_', ' ')} | {r.coverage:.0%} of {r.seeds} | {p:.2f} | "
                   f"{money(r.median_p50)} | {money(r.median_truth)} | {ratio} |")
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover - produces the docs table
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=len(SLOW_SEEDS))
    ap.add_argument("--first-seed", type=int, default=SLOW_SEEDS[0])
    ap.add_argument("--accounts", type=int, default=SLOW_ACCOUNTS)
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--log", help="append each run as a JSON line here (and read runs already there)")
    a = ap.parse_args()
    t = time.perf_counter()
    done: dict[tuple[str, int], dict[str, Any]] = {}
    if a.log and Path(a.log).is_file():
        for ln in Path(a.log).read_text().splitlines():
            r = json.loads(ln)
            done[(r["shape"], r["seed"])] = r
    by_shape: dict[str, list[dict[str, Any]]] = {}
    for seed in range(a.first_seed, a.first_seed + a.seeds):  # seed-major: every shape advances together
        for shape in a.shapes.split(","):
            r = done.get((shape, seed))
            if r is None:
                r = recovery(shape, seed, a.accounts)
                if a.log:
                    with open(a.log, "a") as fh:
                        fh.write(json.dumps(r, default=float) + "\n")
            by_shape.setdefault(shape, []).append(r)
    table = coverage_table(by_shape)
    print(_markdown(table))
    lines = table.loc[table["line"] != "P(NPV<0)"]
    cov, n = float((lines["coverage"] * lines["seeds"]).sum()), int(lines["seeds"].sum())
    print(f"\nall lines: {cov / n:.1%} of {n} (p below 80%: {undercoverage_p(round(cov), n):.3f})")
    print(f"\n{a.seeds} seeds x {a.accounts:,} accounts, {time.perf_counter() - t:.0f} s")

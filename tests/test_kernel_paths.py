"""The fast paths of a simulation (issue 13, item 1) change no number.

- The draws are the generator's, in the fixed order, whatever buffer they are written into:
  an oracle written from the distributions' definitions (raw ``rng.beta`` / ``rng.normal``
  calls, one link after the other) gives the same numbers, bit for bit.
- The kernel reads the sampler's draw-last buffer without copying it, and gives bit for bit
  what it gives on ordinary ``(D, K)`` arrays.
- The kernel reuses the memory of an earlier call's outputs only when nothing refers to
  them any more: a result in use is never overwritten.

No timings here (they live in ``benchmarks/bench_model.py``).
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

from cxroi.model import GLOBAL_LINKS, TOUCHPOINT_LINKS, compile_inputs
from cxroi.scenario import LINK_DOMAINS, load_scenario
from cxroi.uncertainty import sample_params, sampling_range, simulate

SCENARIOS = Path(__file__).resolve().parents[1] / "data" / "scenarios"
PROGRAMME = SCENARIOS / "cx-programme.yaml"


@pytest.fixture(scope="module")
def kernel():  # noqa: ANN201 - the module
    """The compiled kernel, loaded without switching the rest of the tests onto it."""
    return importlib.import_module("cxroi.kernel")


def _oracle_draw(name: str, link: object, n: int, rng: np.random.Generator) -> np.ndarray:
    """One link's draws from the definitions in ``cxroi.uncertainty``'s docstring."""
    if link is None:
        return np.ones(n)
    lo_d, hi_d, _ = LINK_DOMAINS[name]
    if link.provenance == "calibrated":  # normal on the natural scale
        log = name in {"odds_ratio", "churn_hazard_ratio", "expansion_rate_ratio",
                       "contacts_ratio"}
        logit = name == "positive_share_today"
        if log:
            q = np.log(np.array([link.low, link.value, link.high]))
        elif logit:
            p = np.clip(np.array([link.low, link.value, link.high]), 1e-6, 1 - 1e-6)
            q = np.log(p / (1 - p))
        else:
            q = np.array([link.low, link.value, link.high], float)
        sd = (q[2] - q[0]) / (2 * 1.959964)
        if sd <= 0:
            return np.clip(np.full(n, link.value), lo_d, hi_d)
        z = rng.normal(q[1], sd, size=n)
        x = np.exp(z) if log else 1.0 / (1.0 + np.exp(-z)) if logit else z
    else:  # beta-PERT on the (transfer-widened) range
        a, m, b = sampling_range(name, link)
        if b - a <= 0:
            return np.clip(np.full(n, m), lo_d, hi_d)
        x = rng.beta(1.0 + 4.0 * (m - a) / (b - a), 1.0 + 4.0 * (b - m) / (b - a), size=n)
        x = x * (b - a) + a
    return np.clip(x, lo_d, hi_d)


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_draws_are_the_generators_stream(path: Path) -> None:
    sc = load_scenario(path)
    n = 700
    got = sample_params(sc, n, np.random.default_rng(21))
    rng = np.random.default_rng(21)
    for name in TOUCHPOINT_LINKS:
        want = np.stack([_oracle_draw(name, getattr(tp.links, name), n, rng)
                         for tp in sc.touchpoints.values()], axis=1)
        assert got[name].shape == want.shape
        np.testing.assert_array_equal(got[name], want, err_msg=name)
    for name in GLOBAL_LINKS:
        np.testing.assert_array_equal(got[name], _oracle_draw(name, getattr(sc.links, name),
                                                              n, rng), err_msg=name)


def test_kernel_reads_the_samplers_buffer_without_a_copy(kernel) -> None:
    sc = load_scenario(PROGRAMME)
    inp = compile_inputs(sc)
    params = sample_params(sc, 900, np.random.default_rng(2))
    links = [params[name] for name in TOUCHPOINT_LINKS]
    buf = kernel._touchpoint_draws(links)
    assert buf is links[0].base  # the sampler's own (L, K, D) buffer
    copies = {k: np.ascontiguousarray(v) for k, v in params.items()}  # plain (D, K) arrays
    stacked = kernel._touchpoint_draws([copies[name] for name in TOUCHPOINT_LINKS])
    assert stacked is not buf
    np.testing.assert_array_equal(stacked, buf)
    # a slice of the draws is not the buffer: stacked, with the slice's numbers
    part = {k: v[100:200] for k, v in params.items()}
    np.testing.assert_array_equal(kernel._touchpoint_draws([part[n] for n in TOUCHPOINT_LINKS]),
                                  buf[:, :, 100:200])
    fast = kernel.flywheel(inp, params, monthly=True)
    plain = kernel.flywheel(inp, copies, monthly=True)
    for key in fast:
        np.testing.assert_array_equal(fast[key], plain[key], err_msg=key)


def test_outputs_in_use_are_never_overwritten(kernel) -> None:
    sc = load_scenario(PROGRAMME)
    inp = compile_inputs(sc)
    first = kernel.flywheel(inp, sample_params(sc, 3000, np.random.default_rng(1)), True)
    kept = {k: v.copy() for k, v in first.items()}
    npv_view = first["npv"][:10]  # a view of a view of the outputs' buffer
    for seed in (2, 3, 4):  # later calls with other draws, while ``first`` is held
        other = kernel.flywheel(inp, sample_params(sc, 3000, np.random.default_rng(seed)), True)
        assert not np.array_equal(other["npv"], kept["npv"])
    for key, v in first.items():
        np.testing.assert_array_equal(v, kept[key], err_msg=key)
    buf = first["npv"].base
    del first, other
    # only a small view is left: still held, so still not reused
    again = kernel.flywheel(inp, sample_params(sc, 3000, np.random.default_rng(5)), True)
    assert again["npv"].base is not buf
    np.testing.assert_array_equal(npv_view, kept["npv"][:10])
    del npv_view, again
    # nothing refers to them any more: the next call takes the memory of one of them
    spare = {id(b) for b in kernel._SPARE}
    nxt = kernel.flywheel(inp, sample_params(sc, 3000, np.random.default_rng(6)), True)
    assert id(nxt["npv"].base) in spare
    assert len(kernel._SPARE) <= kernel.SPARE_BUFFERS


def test_held_simulations_keep_their_numbers_on_the_kernel(monkeypatch: pytest.MonkeyPatch,
                                                          kernel) -> None:
    """The app keeps one result while the next is computed: both stay what they were."""
    import cxroi.model as model

    sc = load_scenario(PROGRAMME)
    monkeypatch.setattr(model, "ENGINE", "auto")
    monkeypatch.setattr(model, "_KERNEL", kernel)
    results = [simulate(sc, draws=2000, seed=s) for s in (1, 2, 1)]
    np.testing.assert_array_equal(results[0].draws["net_cash"], results[2].draws["net_cash"])
    assert not np.array_equal(results[0].draws["npv"], results[1].draws["npv"])
    monkeypatch.setattr(model, "ENGINE", "numpy")
    ref = simulate(sc, draws=2000, seed=1)
    np.testing.assert_allclose(results[0].draws["npv"], ref.draws["npv"], rtol=1e-12,
                               atol=1e-12 * np.abs(ref.draws["npv"]).max())


def _cash_flows(rng: np.random.Generator, n: int = 3000, t: int = 37) -> np.ndarray:
    """(D, T) cash flows of every kind the IRR's bracketing must get right."""
    mixed = rng.normal(0.0, 1.0, (n, t))  # many sign changes
    paying = np.hstack([-rng.uniform(1, 30, (n, 1)), rng.uniform(0, 2, (n, t - 1))])
    fast = np.hstack([-np.ones((n, 1)), rng.uniform(5, 500, (n, 1)),  # roots at the grid's
                      rng.uniform(-1, 1, (n, t - 2))])  # low end: very high IRRs
    no_cost = np.hstack([np.zeros((n, 1)), rng.normal(0.0, 1.0, (n, t - 1))])  # c_0 = 0
    tiny = np.hstack([-1e-9 * np.ones((n, 1)), rng.uniform(0, 1, (n, t - 1))])
    never = np.hstack([-1e6 * np.ones((n, 1)), rng.uniform(0, 1, (n, t - 1))])  # no root
    late = paying.copy()
    late[:, -1] = -1e3  # a second sign change at the end
    odd = mixed[:50].copy()
    odd[:10, 5] = np.nan
    return np.vstack([mixed, paying, fast, no_cost, tiny, never, late, odd])


def test_kernel_irr_is_the_references_on_hard_cash_flows(kernel) -> None:
    """The kernel brackets the IRR's root on the reference's grid from a provably safe
    starting point (grid points where f keeps the sign of c_0 are skipped) and takes the
    same Newton steps without branches: the reference's IRR, draw for draw, on cash flows
    with roots anywhere on the grid, none, several, c_0 = 0 and NaN."""
    from cxroi import finance
    from cxroi.kernel._finance import _irr

    cash = _cash_flows(np.random.default_rng(4))
    want = finance.irr(cash)
    got = np.empty(cash.shape[0])
    xs = finance.IRR_GRID
    _irr(np.ascontiguousarray(cash.T), xs, 12, 1e-10, 100, kernel.BLOCK, got)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    assert ok.sum() > cash.shape[0] // 2 and (~ok).sum() > 3000  # both kinds are tested
    np.testing.assert_allclose(got[ok], want[ok], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("engine", ["kernel", "numpy"])
def test_leaving_the_irr_out_changes_no_other_output(kernel, engine: str) -> None:
    """``irr=False`` (the app, the break-even search, a tornado of NPV) leaves the IRR
    NaN (not computed) and nothing else changes: every other output is the full run's,
    bit for bit, on both engines; ``simulate(irr=False)`` likewise."""
    from cxroi.model import run_flywheel_numpy

    run = kernel.flywheel if engine == "kernel" else run_flywheel_numpy
    sc = load_scenario(PROGRAMME)
    inp = compile_inputs(sc)
    params = sample_params(sc, 500, np.random.default_rng(7))
    full = {k: v.copy() for k, v in run(inp, params, True).items()}
    lean = run(inp, params, True, irr=False)
    assert np.isfinite(full["irr"]).any() and np.isnan(lean["irr"]).all()
    assert set(lean) == set(full)
    for key, v in lean.items():
        if key != "irr":
            np.testing.assert_array_equal(v, full[key], err_msg=key)
    if engine == "numpy":
        a, b = simulate(sc, draws=300, irr=False), simulate(sc, draws=300)
        assert np.isnan(a.draws["irr"]).all() and np.isfinite(b.draws["irr"]).any()
        np.testing.assert_array_equal(a.draws["npv"], b.draws["npv"])

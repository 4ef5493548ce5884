r"""The draws of a scenario's links, kept for the next run that needs the same ones.

The draws depend on the scenario's priors (links, cash-flow lines, correlations, the
segments' measured rates), the seed, the number of draws and whether correlations are
honoured -- not on the levers. The app and the batches move levers far more often than
priors, so :func:`scenario_draws` keeps the last few sets of draws (:data:`DRAW_CACHE_SIZE`,
at most :data:`DRAW_CACHE_BYTES`): after a lever move a simulation costs the model alone.

The key is *what the draws are computed from*: the whole scenario as JSON except its levers,
costs, discount rate, risk adjustments and ``simulation`` settings (the draws and the seed are key parts of their own), plus
the benchmark table in effect (its transfer factors widen ranges) -- never an object's
identity, so an edited scenario (even a list changed in place) cannot reuse stale draws.
A cached set is read-only (every array and the buffer behind the touchpoint links): a
caller cannot change the draws another run will get. The numbers are the ones
:func:`~cxroi.uncertainty.sampling.sample_params` gives with a fresh generator, bit for bit.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from cxroi.model import Array
from cxroi.scenario import Scenario, load_benchmarks
from cxroi.uncertainty.sampling import sample_params

#: How many sets of draws are kept (the app's scenario with correlations on and off, and a
#: couple of others: a batch's scenarios are different priors and simply replace them).
DRAW_CACHE_SIZE = 4
#: At most this many bytes of draws are kept (a set bigger than this is not kept at all).
DRAW_CACHE_BYTES = 64 * 2**20

_CACHE: OrderedDict[tuple, tuple[dict[str, Array], Any, int]] = OrderedDict()
_LOCK = threading.Lock()
#: The parts of a scenario the draws do not read, all of them the app's sliders: each
#: touchpoint's lever, the programme's costs, the discount rate and the risk adjustments,
#: and the simulation settings (tests/test_draw_cache.py moves each of them and checks the
#: draws).
_NOT_PRIORS = {"simulation": True, "touchpoints": {"__all__": {"lever"}}, "costs": True,
               "finance": {"discount_rate", "risk"}}


def draws_key(sc: Scenario, draws: int, seed: int, correlated: bool,
              benchmarks: object | None = None) -> tuple:
    """The cache key of a scenario's draws: its priors (the scenario as JSON without its
    levers and ``simulation`` settings; floats written exactly), the number of draws, the
    seed, the correlation switch and the benchmark table in effect (``benchmarks``, by
    default :func:`~cxroi.scenario.load_benchmarks`'s)."""
    table = load_benchmarks() if benchmarks is None else benchmarks
    # the switch matters only where there are correlations to honour
    return (sc.model_dump_json(exclude=_NOT_PRIORS), int(draws), int(seed),
            bool(correlated and sc.correlations), id(table))


def _freeze(params: dict[str, Array]) -> int:
    """Make every array (and the buffer it views) read-only, each a view (so its own flag
    cannot be turned back on: its base is read-only); the bytes they hold."""
    seen: set[int] = set()
    total = 0
    for name, x in params.items():
        if x.base is None:
            params[name] = x = x.view()
        a: Any = x
        while isinstance(a, np.ndarray) and id(a) not in seen:  # the view, its base, ...
            seen.add(id(a))
            a.flags.writeable = False
            if a.base is None:
                total += a.nbytes
            a = a.base
    return total


def scenario_draws(sc: Scenario, draws: int, seed: int, correlated: bool = True
                   ) -> dict[str, Array]:
    """:func:`~cxroi.uncertainty.sampling.sample_params` with ``default_rng(seed)``, reused
    while the priors, ``draws``, ``seed`` and ``correlated`` are the same.

    Returns a new dict each time; its arrays are read-only and may be shared with other
    results of the same priors.
    """
    bench = load_benchmarks()
    key = draws_key(sc, draws, seed, correlated, bench)
    with _LOCK:
        got = _CACHE.get(key)
        if got is not None:
            _CACHE.move_to_end(key)
            return dict(got[0])
    params = sample_params(sc, draws, np.random.default_rng(seed), correlated=correlated)
    size = _freeze(params)
    if size <= DRAW_CACHE_BYTES:
        with _LOCK:
            # the benchmark table is held with the entry: while it lives, no other table
            # can have its id
            _CACHE[key] = (params, bench, size)
            while (len(_CACHE) > DRAW_CACHE_SIZE
                   or sum(v[2] for v in _CACHE.values()) > DRAW_CACHE_BYTES):
                _CACHE.popitem(last=False)
    return dict(params)


def clear_draw_cache() -> None:
    """Forget every kept set of draws."""
    with _LOCK:
        _CACHE.clear()

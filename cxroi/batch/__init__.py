"""Batches of business cases: initiatives × segments × variants, in parallel, cached.

A batch is a YAML file (or a folder of scenario files, or one scenario file)::

    name: Demo batch
    initiatives:                       # scenario files, relative to this file
      - data/scenarios/complaints-30-to-1.yaml
      - {path: data/scenarios/fcr-60-to-80.yaml, name: fcr}
    segments: [all, Enterprise, SMB]   # optional; `all` = the whole scenario
    segment_costs: allocate            # allocate (by revenue share, default) | full
    variants:                          # optional; each a set of overrides
      base: {}
      slow-ramp: {touchpoints.*.lever.ramp_months: 12}
      dearer: {costs.one_off: {times: 1.5}}
    draws: 2000                        # optional: simulation settings for every run
    seed: 7
    data_fingerprint: null
    timeout: 600                       # seconds per notebook cell

Each run executes ``notebooks/02-business-case.ipynb`` (the notebook the report renders
from) through :func:`cxroi.report.execute_report`.

Speed: the imports of pandas / scipy / vl-convert cost seconds, the notebook itself
a few tenths. Every worker process executes run after run **in its own IPython shell**
(:class:`cxroi.nbrun.InProcessRunner`; no Jupyter kernel beside it; the namespace is
reset in between), so the start-up is paid once per worker, not once per run; runs with
the same content hash are executed once for all of them. On a Dask cluster each worker
thread keeps one long-lived kernel (:class:`cxroi.nbrun.KernelRunner`).

Safety: every file is written to a temporary file and renamed; the run's manifest is
written last, so a run killed midway has no manifest and is redone next time. A run is
skipped when its content hash (resolved scenario, notebook, cxroi version and code,
parameters) matches its manifest and its report exists.

The parts, one module each: :mod:`~cxroi.batch.spec` (the batch file),
:mod:`~cxroi.batch.planning` (overrides, the plan), :mod:`~cxroi.batch.results` (runs and
their outcomes), :mod:`~cxroi.batch.worker` (one run on a worker),
:mod:`~cxroi.batch.store` (files, cache, the folder's index),
:mod:`~cxroi.batch.table` (the results tables as Parquet) and :mod:`~cxroi.batch.run`
(:func:`run_batch`), :mod:`~cxroi.batch.pdf` (``--pdf``). Names are loaded on first use (``from cxroi.batch import X`` works
for each), so a worker process importing :mod:`cxroi.batch.worker` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: Public (and formerly module-level) name -> the module of this package defining it.
_WHERE: dict[str, str] = {
    **dict.fromkeys(("TABLE_QUANTILES", "PlannedRun", "RunResult", "BatchResult", "slug",
                     "code_fingerprint", "_content_key"), "results"),
    **dict.fromkeys(("SPEC_KEYS", "BatchSpec", "load_spec", "_read_yaml", "_is_scenario"),
                    "spec"),
    **dict.fromkeys(("OverrideError", "apply_overrides", "plan", "_walk", "_scaled",
                     "_is_integer_field", "_select_segment"), "planning"),
    **dict.fromkeys(("execute_task",), "worker"),
    **dict.fromkeys(("BATCH_SUFFIXES", "folder_rows", "write_folder_index", "_paths",
                     "_read_manifest", "_cached", "_store", "_locked", "_html_title",
                     "_manifest_row", "_write_folder_index", "_clean_stale_temps"), "store"),
    **dict.fromkeys(("PdfOutcome", "write_batch_pdfs"), "pdf"),
    **dict.fromkeys(("run_batch", "_run", "_run_local", "_run_dask", "_signals_interrupt"),
                    "run"),
}

__all__ = [
    "BATCH_SUFFIXES", "SPEC_KEYS", "TABLE_QUANTILES", "BatchResult", "BatchSpec",
    "OverrideError", "PdfOutcome", "PlannedRun", "RunResult", "apply_overrides", "code_fingerprint",
    "execute_task", "folder_rows", "load_spec", "plan", "run_batch", "slug",
    "write_batch_pdfs", "write_folder_index",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'cxroi.batch' has no attribute '{name}'")
    value = getattr(importlib.import_module(f"cxroi.batch.{module}"), name)
    globals()[name] = value  # next time without this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


if TYPE_CHECKING:
    from cxroi.batch.pdf import PdfOutcome, write_batch_pdfs
    from cxroi.batch.planning import OverrideError, apply_overrides, plan
    from cxroi.batch.results import (
        TABLE_QUANTILES,
        BatchResult,
        PlannedRun,
        RunResult,
        code_fingerprint,
        slug,
    )
    from cxroi.batch.run import run_batch
    from cxroi.batch.spec import SPEC_KEYS, BatchSpec, load_spec
    from cxroi.batch.store import BATCH_SUFFIXES, folder_rows, write_folder_index
    from cxroi.batch.worker import execute_task

"""What the batch's worker processes import, imported once for all of them.

The batch's :class:`cxroi.nbrun.WorkerPool` starts its workers from a fork server that
imports this module first (``multiprocessing``'s ``forkserver``): Python, the scenario
model, pandas, scipy, IPython and the report's modules are loaded once per batch (about
1 CPU s) instead of once in every worker. Each worker still starts its own chart engine
(vl-convert's JavaScript runtime cannot be shared across a fork: it is first started in
the worker's warm-up, :func:`cxroi.batch.worker.warm_up`).
"""

from __future__ import annotations

import gc

from cxroi.nbrun.kernel import skip_slow_optional_imports

skip_slow_optional_imports()

import IPython.core.interactiveshell  # noqa: E402, F401
import nbformat  # noqa: E402, F401
import papermill.parameterize  # noqa: E402, F401
import threadpoolctl  # noqa: E402, F401

import cxroi.batch.worker  # noqa: E402, F401
import cxroi.charts.specs  # noqa: E402, F401
import cxroi.report.case  # noqa: E402, F401
import cxroi.report.render  # noqa: E402, F401
import cxroi.voi  # noqa: E402, F401

gc.collect()
gc.freeze()  # what is loaded now stays: the forked workers' collections skip it

"""Execute parameterized notebooks on a long-lived kernel.

Starting a Jupyter kernel and importing the scientific stack (pandas, altair, vl-convert)
costs seconds; running the business-case notebook itself costs well under one. A
:class:`KernelRunner` pays the start-up once and then executes notebook after notebook on
the same kernel, resetting the user namespace (``%reset -f``) and the working directory
before each run, so every run sees a clean namespace while imported modules stay warm.

The runner owns a private event-loop thread, so it works the same from a script, a
process-pool worker, a Dask worker thread or a running Jupyter/Voila kernel (which already
has a loop). Parameters are injected the papermill way (a cell tagged
``injected-parameters`` after the one tagged ``parameters``).

Three parts: :mod:`cxroi.nbrun.kernel` (:class:`KernelRunner`, :func:`shared_runner`,
:func:`parameterize`), :mod:`cxroi.nbrun.inprocess` (:class:`InProcessRunner`: the same
execution in the process's own IPython shell, what the batch's worker processes use) and
:mod:`cxroi.nbrun.pool` (:class:`WorkerPool`, the batch's worker processes).
"""

from cxroi.nbrun.inprocess import InProcessRunner, in_process_runner
from cxroi.nbrun.kernel import (
    SKIPPED_OPTIONAL_MODULES,
    WARMUP,
    Execution,
    KernelRunner,
    close_all,
    parameterize,
    read_notebook,
    shared_runner,
    skip_slow_optional_imports,
    strip_ansi,
)
from cxroi.nbrun.pool import WORKER_DIED, WorkerPool, set_parent_death_signal

__all__ = [
    "SKIPPED_OPTIONAL_MODULES", "WARMUP", "WORKER_DIED", "Execution", "InProcessRunner",
    "KernelRunner", "WorkerPool", "close_all", "in_process_runner", "parameterize", "read_notebook", "set_parent_death_signal",
    "shared_runner", "skip_slow_optional_imports", "strip_ansi",
]

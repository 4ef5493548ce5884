"""Executing one run, in a worker process or on a Dask worker.

Light on purpose: importing this module loads no pandas, altair or nbconvert (a worker
process starts by importing it), only the kernel runner and the report's exporter.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cxroi.report.common import remember_scenario_yaml
from cxroi.report.render import execute_report

if TYPE_CHECKING:
    from nbformat import NotebookNode


def warm_up() -> None:
    """Start this worker process's in-process runner now (the report's imports, the
    chart engine, :data:`cxroi.nbrun.WARMUP`): a worker started before the batch is
    planned is then ready for its first run.

    The batch runs one worker per core, so each worker's BLAS (numpy's and scipy's
    OpenBLAS) gets one thread: with one per core each, their threads only waited for each
    other's cores (18 % of a report's CPU time, measured; the reports are the same bytes).
    """
    from threadpoolctl import threadpool_limits

    from cxroi.nbrun.inprocess import in_process_runner

    in_process_runner().start()
    threadpool_limits(1)  # after the start-up: every BLAS the report loads is loaded


@lru_cache(maxsize=2)
def _notebook(text: str) -> NotebookNode:
    """The batch's notebook, read (and validated) once per worker: every task carries the
    same text, and :func:`cxroi.nbrun.parameterize` runs each on a copy."""
    import nbformat

    return nbformat.reads(text, as_version=4)


def _notebook_text(nb: NotebookNode) -> str:
    """An executed notebook as ``nbformat.writes`` writes it, without its schema
    validation (which only logs; 3 ms a report): the same text."""
    from nbformat.v4 import writes_json

    return writes_json(nb)


def execute_task(task: dict[str, Any]) -> dict[str, Any]:
    """Execute one run; return its outputs.

    Runs in a pool worker process (``task["in_process"]``: the notebook runs in this
    process's own IPython shell, :class:`cxroi.nbrun.InProcessRunner`) or on a Dask worker
    (on the worker thread's long-lived kernel). It never raises for a failing notebook;
    the files are written by the caller (so a remote worker needs no shared folder).
    """
    runner = None
    if task.get("in_process"):
        from cxroi.nbrun.inprocess import in_process_runner

        runner = in_process_runner()

    t0 = time.perf_counter()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    if task.get("scenario_key") and task.get("scenario_yaml"):
        # the batch wrote this text from the scenario with this key: the report's
        # fingerprint hashes it instead of writing the YAML again (3-7 ms)
        remember_scenario_yaml(task["scenario_key"], task["scenario_yaml"])
    with tempfile.TemporaryDirectory(prefix="cxroi-run-") as tmp:
        path = Path(task["scenario_path"])
        if not path.is_file():  # a remote worker without the batch's folder
            path = Path(tmp) / "scenario.yaml"
            path.write_text(task["scenario_yaml"], encoding="utf-8")
        cwd = task.get("cwd")
        if not cwd or not Path(cwd).is_dir():
            cwd = tmp
        try:
            nb = _notebook(task["notebook"])
            run = execute_report(path, task.get("draws"), task.get("seed"),
                                 task.get("data_fingerprint"), notebook=nb, cwd=cwd,
                                 runner=runner, timeout=task.get("timeout"))
        except Exception as exc:  # noqa: BLE001 - reported as the run's error
            return {"status": "failed", "error": f"{type(exc).__name__}: {exc}",
                    "html": None, "notebook": None, "results": None,
                    "log": f"worker {worker}: {type(exc).__name__}: {exc}\n",
                    "seconds": time.perf_counter() - t0, "worker": worker}
    # plain JSON types: the results' nested mappings are nbformat nodes, and unpickling
    # one in the batch's process would import nbformat and jsonschema there (seconds)
    results = json.loads(json.dumps(run.results)) if run.results is not None else None
    return {"status": "failed" if run.error else "ok", "error": run.error, "html": run.html,
            "notebook": _notebook_text(run.nb), "results": results,
            "log": f"worker {worker}\n{run.log}", "seconds": time.perf_counter() - t0,
            "worker": worker}



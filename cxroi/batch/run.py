"""Running a batch: :func:`run_batch` plans, skips what is unchanged, sends the rest to
local worker processes (:class:`cxroi.nbrun.WorkerPool`) or a Dask cluster, and
rewrites the indexes and results tables as runs finish.
"""

from __future__ import annotations

import fnmatch
import json
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cxroi.batch.planning import plan
from cxroi.batch.results import BatchResult, PlannedRun, RunResult
from cxroi.batch.spec import BatchSpec, load_spec
from cxroi.batch.store import (
    _cached,
    _clean_stale_temps,
    _locked,
    _paths,
    _store,
    _write_folder_index,
    parquet_bytes,
)
from cxroi.batch.worker import execute_task, warm_up
from cxroi.errors import BatchError
from cxroi.files import write_atomic
from cxroi.nbrun import WorkerPool
from cxroi.report.common import business_case_notebook, notebooks_dir
from cxroi.report.index import render_index

# --------------------------------------------------------------------------------------
# Executors
# --------------------------------------------------------------------------------------


def _local_pool(workers: int) -> WorkerPool:
    """The batch's local worker processes, each warming up (imports, chart engine) as
    soon as it starts: :func:`run_batch` starts them before planning the batch."""
    return WorkerPool(execute_task, workers, retries=1, warm_up=warm_up)


def _run_local(tasks: list[dict[str, Any]], workers: int,
               on_done: Callable[[int, dict[str, Any]], None],
               pool: WorkerPool | None = None) -> None:
    """Run on local worker processes, each executing the notebooks in its own IPython
    shell (no kernel beside it); a dead worker costs one retry of its own run.

    ``pool``: workers already started (:meth:`WorkerPool.start`, sized by the caller when it
    started them); without it, a pool of ``workers`` processes is started here.
    """
    tasks = [dict(t, in_process=True) for t in tasks]
    (pool or _local_pool(workers)).run(tasks, on_done)


def _run_dask(tasks: list[dict[str, Any]], scheduler: str,
              on_done: Callable[[int, dict[str, Any]], None]) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError:  # pragma: no cover - dask[distributed] is a dependency
        raise BatchError("--scheduler needs dask[distributed]. Fix: pip install "
                         "'dask[distributed]'") from None
    try:
        client = Client(scheduler, timeout="10s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise BatchError(f"cannot reach the Dask scheduler at {scheduler} ({exc}). Fix: start "
                         "one (`dask scheduler` and `dask worker <address>`) or drop "
                         "--scheduler to run on this machine") from None
    try:
        # retries=1: a worker lost mid-run costs one retry of that run, as locally
        futures = {client.submit(execute_task, t, key=f"cxroi-{t['run_id']}-{t['key'][:10]}",
                                 pure=False, retries=1): i for i, t in enumerate(tasks)}
        for fut in as_completed(list(futures), loop=client.loop):
            i = futures[fut]
            try:
                out = fut.result()
            except Exception as exc:  # noqa: BLE001 - a worker crash is the run's error
                out = {"status": "failed", "error": f"{type(exc).__name__}: {exc}",
                       "log": f"dask: {exc}\n"}
            on_done(i, out)
    finally:
        client.close()


def _reused(out: dict[str, Any], source: PlannedRun, run: PlannedRun,
            out_dir: Path) -> dict[str, Any]:
    """The outputs of ``source``'s execution for ``run``, which has the same content key
    (so the same report): its own scenario path in the notebook and log, and a log line
    saying whose execution it is."""
    src = str(_paths(out_dir, source.run_id)["scenario"].resolve())
    dst = str(_paths(out_dir, run.run_id)["scenario"].resolve())

    def own(text: str | None) -> str | None:
        if not text:
            return text
        for a, b in ((src, dst), (json.dumps(src)[1:-1], json.dumps(dst)[1:-1])):
            text = text.replace(a, b)
        return text

    got = dict(out)
    got["notebook"] = own(out.get("notebook"))
    got["log"] = (f"same inputs as run {source.run_id} (content key {run.key[:16]}): its "
                  f"execution is reused, not repeated\n{own(out.get('log')) or ''}")
    got["seconds"] = 0.0
    return got


@contextmanager
def _signals_interrupt() -> Iterator[None]:
    """In the main thread, SIGTERM and SIGHUP stop the batch like Ctrl-C (a
    :class:`KeyboardInterrupt`), so the workers and their kernels are stopped."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"stopped by signal {signal.Signals(signum).name}")

    previous = {}
    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            previous[sig] = signal.signal(sig, interrupt)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class IndexPace:
    """When a finished run rewrites the indexes and tables.

    A rewrite is due when the last one is older than four times its own cost (and at
    least ``interval`` seconds old): after every run while rewrites are cheap (about 20 ms
    of CPU for a 50-run folder: the indexes agree with the reports on disk while the batch
    runs, and after it is killed), and on a very large folder, where a rewrite costs more
    than runs take to finish, at most a fifth of the time. A skipped rewrite leaves the
    indexes :attr:`stale`; the next finishing run, or the end of the batch, rewrites them.

    Parameters
    ----------
    interval : float
        The shortest time between two rewrites, in seconds (default none). One second
        would save the batch's process about 0.2 CPU s on 50 runs (measured), at the cost
        of indexes up to a second behind the reports after a ``kill -9``: not taken.
    clock : callable
        Seconds, monotonic (``time.monotonic``; a test passes its own).
    """

    def __init__(self, interval: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self.last = -math.inf
        self.cost = 0.0
        self.stale = False

    def due(self) -> bool:
        """Is a rewrite due now? If not, the indexes are marked :attr:`stale`."""
        if self.clock() - self.last < max(self.interval, 4 * self.cost):
            self.stale = True
            return False
        return True

    def wrote(self, started: float) -> None:
        """A rewrite begun at ``started`` (by :attr:`clock`) has just finished."""
        self.last = self.clock()
        self.cost = self.last - started
        self.stale = False


# --------------------------------------------------------------------------------------
# The batch
# --------------------------------------------------------------------------------------


def run_batch(spec: Path, out_dir: Path = Path("reports"), workers: int | None = None,
              scheduler: str | None = None, force: bool = False,
              progress: bool = True, only: Sequence[str] | None = None) -> BatchResult:
    """Run a batch of business cases and write their reports, indexes and results tables.

    Parameters
    ----------
    spec : Path
        A batch YAML file, a folder of scenario files or one scenario file.
    out_dir : Path
        Where reports go: ``<run>.html``, ``runs/<run>/`` (executed notebook, log,
        resolved scenario, manifest); this batch's ``<batch>.index.html``,
        ``<batch>.results.parquet`` and ``<batch>.batch.json``; the folder's
        ``index.html`` and ``results.parquet`` (every run and report in the folder).
        All of them are rewritten (atomically) as each run finishes.
    workers : int, optional
        Parallel worker processes, each with its own long-lived kernel (default: one per
        core, at most one per run to do). A worker that dies (``kill -9``, out of memory)
        fails only its own run, which is retried once on a fresh worker.
    scheduler : str, optional
        ``tcp://host:port`` of an existing Dask distributed scheduler; runs go to its
        workers (which need cxroi installed; files are written here).
    force : bool
        Redo every run even when its inputs are unchanged.
    progress : bool
        Show a progress bar (done / failed / left, elapsed, ETA) on stderr.
    only : list of str, optional
        Run only the runs whose id matches one of these shell patterns
        (``complaints-*``, ``*__smb__*``); the batch's index then lists just those.

    Returns
    -------
    BatchResult
        ``.ok`` is False when any run failed; ``.failed`` lists them with their errors.

    Raises
    ------
    BatchError
        The batch file itself cannot be used (unreadable, unknown keys, no initiatives),
        or ``only`` matches no run.
    KeyboardInterrupt
        Ctrl-C, SIGTERM or SIGHUP: workers and kernels are stopped, finished runs are kept
        and listed; the next batch redoes the rest.
    """
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    bspec = load_spec(Path(spec))
    nb_path = bspec.notebook or business_case_notebook()
    try:
        notebook_text = nb_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BatchError(f"{nb_path}: cannot read the notebook ({exc}). Fix: check the "
                         "`notebook` key of the batch file") from None
    # a batch new to this folder (or forced): the workers start now and warm up (imports,
    # chart engine: about 1.5 CPU s each) while this process plans the batch (about 1 s
    # for 50 runs, the scenario YAML dumps); a re-run, which may find nothing to do,
    # starts them after planning, only if there is work
    pool = None if scheduler else _local_pool(workers or os.cpu_count() or 1)
    try:
        if pool is not None and (force or not (out_dir / f"{bspec.batch_id}.batch.json")
                                 .is_file()):
            pool.start()
        return _plan_and_run(spec, bspec, nb_path, notebook_text, out_dir, workers,
                             scheduler, force, progress, only, t0, pool)
    finally:
        if pool is not None:
            pool.close()


def _plan_and_run(spec: Path, bspec: BatchSpec, nb_path: Path, notebook_text: str,
                  out_dir: Path, workers: int | None, scheduler: str | None, force: bool,
                  progress: bool, only: Sequence[str] | None, t0: float,
                  pool: WorkerPool | None) -> BatchResult:
    runs = plan(bspec, notebook_text)
    if only:
        patterns = [str(p) for p in only]
        picked = [r for r in runs if any(fnmatch.fnmatchcase(r.run_id, p) for p in patterns)]
        if not picked:
            raise BatchError(f"{spec}: --only {' '.join(patterns)} matches none of the "
                             f"{len(runs)} runs (e.g. {', '.join(r.run_id for r in runs[:3])})."
                             " Fix: use run ids or shell patterns such as 'complaints-*'")
        runs = picked
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BatchError(f"{out_dir}: cannot create the reports folder ({exc}). Fix: choose "
                         "a folder you can write to") from None
    with _locked(out_dir / ".batches.lock", wait=False) as alone:
        if alone:  # no other batch is writing here: its temporary files are leftovers
            _clean_stale_temps(out_dir)
    with _locked(out_dir / ".batches.lock", shared=True), _signals_interrupt():
        return _run(bspec, runs, notebook_text, nb_path, out_dir, workers, scheduler, force,
                    progress, t0, pool)


def _run(bspec: BatchSpec, runs: list[PlannedRun], notebook_text: str, nb_path: Path,
         out_dir: Path, workers: int | None, scheduler: str | None, force: bool,
         progress: bool, t0: float, pool: WorkerPool | None = None) -> BatchResult:
    bid, bname = bspec.batch_id, bspec.name
    batch_index = out_dir / f"{bid}.index.html"
    batch_table = out_dir / f"{bid}.results.parquet"
    results: list[RunResult | None] = [None] * len(runs)

    def rows(pending: str) -> list[dict[str, Any]]:
        out = []
        for i, r in enumerate(results):
            if r is not None:
                out.append(r.row(out_dir))
            else:  # not finished: no report of this run is vouched for yet
                out.append(RunResult(runs[i], pending, batch=bid).row(out_dir))
        return out

    pace = IndexPace()

    def write_indexes(pending: str = "pending", now: bool = True) -> None:
        """This batch's index and table, then the folder's, under the folder's lock.

        With ``now=False`` (after a run finishes) the rewrite waits for
        :class:`IndexPace`: the skipped update is made by the next finishing run, or
        at the end of the batch. Only these rewrites set the pace: the first finished run
        is always listed at once (the rewrite before the first run, which loads the
        table writer and finds the folder cold, said nothing about the next ones and
        used to hold back the first few runs' rewrites).
        """
        if now:
            _write_indexes(pending)
            return
        if not pace.due():
            return
        t = pace.clock()
        _write_indexes(pending)
        pace.wrote(t)

    def _write_indexes(pending: str) -> None:
        records = rows(pending)
        with _locked(out_dir / ".index.lock"):
            write_atomic(out_dir / f"{bid}.batch.json", json.dumps(
                {"batch": bid, "name": bname, "runs": [r.run_id for r in runs],
                 "updated": time.strftime("%Y-%m-%dT%H:%M:%S")}, indent=1))
            write_atomic(batch_table, parquet_bytes(records))
            render_index([{k: v for k, v in r.items() if k != "batch"} for r in records],
                         out_dir, title=bname,
                         filename=batch_index.name,
                         batches=[{"id": "index", "name": "every report in this folder",
                                   "href": "index.html"}])
            _write_folder_index(out_dir)

    todo: list[int] = []
    for i, r in enumerate(runs):
        cached = None if force or r.error else _cached(out_dir, r, bid)
        if cached is not None:
            results[i] = cached
        elif r.error:
            results[i] = _store(out_dir, r, {"status": "failed", "error": r.error,
                                             "log": f"not run: the scenario could not be "
                                                    f"built\n{r.error}\n"}, (bid, bname))
        else:
            todo.append(i)
    write_indexes()

    cwd = str(nb_path.parent.resolve()) if nb_path.parent.is_dir() else str(notebooks_dir())
    tasks = []
    # runs with the same content key (same resolved scenario, notebook, code and
    # parameters) have the same report: each key is executed once, for all of its runs
    stands_for: list[list[int]] = []
    task_of_key: dict[str, int] = {}
    for i in todo:
        r = runs[i]
        p = _paths(out_dir, r.run_id)
        write_atomic(p["scenario"], r.scenario_yaml or "")
        if r.key in task_of_key:
            stands_for[task_of_key[r.key]].append(i)
            continue
        task_of_key[r.key] = len(tasks)
        stands_for.append([i])
        tasks.append({"run_id": r.run_id, "key": r.key, "scenario_path": str(p["scenario"].resolve()),
                      "scenario_yaml": r.scenario_yaml, "scenario_key": r.scenario_key,
                      "notebook": notebook_text, "cwd": cwd,
                      "draws": bspec.draws, "seed": bspec.seed,
                      "data_fingerprint": bspec.data_fingerprint, "timeout": bspec.timeout})

    n_skipped = sum(1 for r in results if r is not None and r.status == "skipped")
    n_failed = sum(1 for r in results if r is not None and r.status == "failed")
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), unit="run", desc=f"cxroi batch ({n_skipped} unchanged)",
                   dynamic_ncols=True)
    counts = {"done": 0, "failed": n_failed}

    def on_done(k: int, out: dict[str, Any]) -> None:
        first = stands_for[k][0]
        for i in stands_for[k]:
            got = out if i == first else _reused(out, runs[first], runs[i], out_dir)
            res = _store(out_dir, runs[i], got, (bid, bname))
            results[i] = res
            counts["done"] += 1
            if res.status == "failed":
                counts["failed"] += 1
        write_indexes(now=False)
        if bar is not None:
            bar.set_postfix_str(f"done {counts['done']}, failed {counts['failed']}, "
                                f"left {len(todo) - counts['done']}", refresh=False)
            bar.update(len(stands_for[k]))

    finished = False
    try:
        if tasks:
            if scheduler:
                _run_dask(tasks, scheduler, on_done)
            else:
                n = workers or os.cpu_count() or 1
                _run_local(tasks, max(1, min(n, len(tasks))), on_done, pool)
        finished = True
    finally:
        if bar is not None:
            bar.close()
        if not finished and any(r is None for r in results):
            write_indexes("interrupted")
        elif pace.stale:
            write_indexes()

    final = [r if r is not None else RunResult(runs[i], "failed", "not run (interrupted)",
                                               batch=bid)
             for i, r in enumerate(results)]
    return BatchResult(final, out_dir, out_dir / "index.html", batch_table,
                       time.perf_counter() - t0, batch_index, out_dir / "results.parquet")

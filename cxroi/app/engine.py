"""Computing what the app shows: the report's simulation, in a pool of warm worker processes,
with a cache of results keyed by the scenario's hash.

The server (:mod:`cxroi.app.server`) never computes: it hands each request to one of a
few worker processes (:class:`Engine`, a :class:`~concurrent.futures.ProcessPoolExecutor`
whose workers import numpy, pandas and the model once, when they start) and keeps the
answers, as JSON bytes, in a :class:`ResultCache` (memory, and a folder on disk so a
restarted server shows the first page at once).

A result is what :func:`cxroi.uncertainty.simulate` gives with the scenario's own draws
and seed (``simulation.draws``, ``simulation.seed``): the numbers ``cxroi run`` prints and
the report shows, to the last digit.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import signal
import sys
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from cxroi.files import code_fingerprint

#: Thread-count variables of the BLAS libraries numpy may use; the workers run with 1:
#: the arrays are small, and extra BLAS threads only spin-wait on a shared machine.
BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
#: Most draws a request may ask for (a scenario file may say more; then it is refused).
MAX_DRAWS = 100_000
#: How much lower the background worker's CPU priority is than the interactive workers'
#: (``nice``): the value of information it computes yields the cores to slider updates
#: (and, on a machine shared with browsers, to the pages) whenever they want them.
BACKGROUND_NICE = 10
#: Longest wait, in seconds, for the first view's one-off process on a first start
#: (:meth:`Engine.run_alone`; 1.4-2 s here, 8 s under heavy load) before the workers are
#: asked instead.
ALONE_TIMEOUT = 60.0


def scenario_key(kind: str, payload: Any, fingerprint: str) -> str:
    """The cache key of a request: sha256 of its kind, its inputs (canonical JSON) and the
    code fingerprint."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{kind}|{fingerprint}|{text}".encode()).hexdigest()[:40]


def _finite(x: Any) -> Any:
    """``x`` with NaN and infinities as None (JSON has no NaN)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    return x


def to_json(obj: Any) -> bytes:
    """Compact JSON bytes (NaN and infinities written as null)."""
    try:
        return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()
    except ValueError:
        return json.dumps(_finite(obj), separators=(",", ":")).encode()


class ResultCache:
    """Least-recently-used cache of JSON answers, in memory and (optionally) on disk.

    Parameters
    ----------
    size : int
        Answers kept in memory (each a few tens of kB).
    folder : Path, optional
        Where answers are also written (``<key>.json``), read back after a restart; the
        oldest files beyond ``disk_size`` are removed when the cache starts.
    disk_size : int
        Files kept on disk.
    """

    def __init__(self, size: int = 512, folder: Path | None = None, disk_size: int = 2000):
        self.size = size
        self.folder = folder
        self._mem: OrderedDict[str, bytes] = OrderedDict()
        self.hits = self.misses = 0
        if folder is not None:
            try:
                folder.mkdir(parents=True, exist_ok=True)
                files = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime)
                for p in files[:max(0, len(files) - disk_size)]:
                    p.unlink(missing_ok=True)
            except OSError:
                self.folder = None  # a read-only home: memory only

    def get(self, key: str) -> bytes | None:
        """The answer stored under ``key``, or None."""
        if key in self._mem:
            self._mem.move_to_end(key)
            self.hits += 1
            return self._mem[key]
        if self.folder is not None:
            p = self.folder / f"{key}.json"
            try:
                data = p.read_bytes()
            except OSError:
                data = None
            if data:
                self._remember(key, data)
                self.hits += 1
                return data
        self.misses += 1
        return None

    def put(self, key: str, data: bytes, disk: bool = True) -> None:
        """Store an answer (on disk too when ``disk`` and the cache has a folder)."""
        self._remember(key, data)
        if disk and self.folder is not None:
            tmp = self.folder / f".{key}.{os.getpid()}.tmp"
            try:
                tmp.write_bytes(data)
                tmp.replace(self.folder / f"{key}.json")
            except OSError:
                tmp.unlink(missing_ok=True)

    def _remember(self, key: str, data: bytes) -> None:
        self._mem[key] = data
        self._mem.move_to_end(key)
        while len(self._mem) > self.size:
            self._mem.popitem(last=False)

    def __len__(self) -> int:
        return len(self._mem)


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/cxroi/app`` (``~/.cache/cxroi/app``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cxroi" / "app"


# --------------------------------------------------------------------------------------
# The worker side
# --------------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """Ask Linux to end this worker when the server process dies (even by SIGKILL).

    A worker forked from the server's running event loop inherits the loop's SIGTERM
    handler and its signal wake-up socket: a SIGTERM to the worker would then reach the
    *server's* loop (and stop the server), and the worker itself would ignore it, the
    parent-death signal included. Both are reset to the defaults first.
    """
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    except ValueError:  # pragma: no cover - not the main thread (never for a worker)
        pass
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - not glibc
            pass


def warm_worker(background: bool = False) -> None:
    """Worker initialiser: ignore Ctrl+C (the server stops the workers), die with the
    server, import the model's modules and run one small simulation, so the first real
    request finds everything loaded (:func:`cxroi.app.tasks.warm`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    from cxroi.app import tasks

    tasks.warm(background)


def warm_first_view() -> None:
    """Initialiser of the one-off process that computes the first view on a first start
    (:meth:`Engine.run_alone`): ignore Ctrl+C, die with the server, and only what that
    view needs (:func:`cxroi.app.tasks.warm_first_view`: no compiled kernel)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    from cxroi.app import tasks

    tasks.warm_first_view()


def warm_background() -> None:
    """Initialiser of the background worker: a lower CPU priority
    (:data:`BACKGROUND_NICE`), then :func:`warm_worker` for the value of information."""
    os.nice(BACKGROUND_NICE)
    warm_worker(background=True)


def worker_pid() -> int:
    """The worker's process id (used to start every worker at once)."""
    time.sleep(0.05)
    return os.getpid()


class Engine:
    """A pool of warm worker processes and the result cache.

    Parameters
    ----------
    workers : int
        Worker processes (default: the number of CPUs, at most 4).
    cache : ResultCache, optional
        Where answers are kept (default: memory only).
    background : int
        Background worker processes (default 1; 0: none), for work nobody is waiting for
        right now (the value of information): they run at a lower CPU priority
        (:data:`BACKGROUND_NICE`) and never hold up an interactive worker.
    """

    def __init__(self, workers: int | None = None, cache: ResultCache | None = None,
                 background: int = 1):
        self.workers = max(1, workers or min(os.cpu_count() or 1, 4))
        self.background = max(0, background)
        self.cache = cache if cache is not None else ResultCache()
        self.fingerprint = code_fingerprint()
        for var in BLAS_THREAD_VARS:
            os.environ.setdefault(var, "1")
        self._pool: ProcessPoolExecutor | None = None
        self._bg: ProcessPoolExecutor | None = None
        self._alone: ProcessPoolExecutor | None = None
        self.computed = 0
        #: computations under way (submitted, not answered), interactive and background
        self.busy = 0
        self.bg_busy = 0
        #: called each time a worker for interactive work comes free (the server starts
        #: waiting background work then)
        self.on_free: Callable[[], None] | None = None
        #: answers being computed, by cache key: a second request for the same inputs
        #: (twenty people opening the same scenario) waits for the first one's answer
        self._running: dict[str, asyncio.Future[bytes]] = {}

    @property
    def idle(self) -> bool:
        """Whether a worker is free right now."""
        return self.busy < self.workers

    @property
    def started(self) -> bool:
        """Whether the workers have been started."""
        return self._pool is not None

    def start(self) -> None:
        """Start every worker now (they import and warm up in the background)."""
        if self._pool is not None:
            return
        self._pool = self._start_pool(self.workers, warm_worker)
        if self.background:
            self._bg = self._start_pool(self.background, warm_background)

    async def run_alone(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` in a process of its own, started for it and ended after
        (initialiser :func:`warm_first_view`): the first view of a first start, computed
        while nothing else competes for the cores (the workers are started after it)."""
        import multiprocessing as mp

        ctx = mp.get_context("fork") if sys.platform.startswith("linux") else None
        self._alone = ProcessPoolExecutor(1, mp_context=ctx, initializer=warm_first_view)
        pool = self._alone
        try:
            out = await asyncio.wait_for(asyncio.wrap_future(pool.submit(fn, *args)),
                                         ALONE_TIMEOUT)
            self.computed += 1
            return out
        except (TimeoutError, BrokenProcessPool) as exc:
            # the one-off process died or hangs: end it, and the workers answer instead
            what = "died" if isinstance(exc, BrokenProcessPool) else \
                f"took more than {ALONE_TIMEOUT:g} s"
            print(f"cxroi app: the first view's process {what}; the workers compute it",
                  file=sys.stderr, flush=True)
            self._end([pool])
            return await self.run(fn, *args)
        finally:
            if self._alone is pool:
                self._alone = None
            pool.shutdown(wait=False)

    @staticmethod
    def _start_pool(n: int, initializer: Callable[[], None]) -> ProcessPoolExecutor:
        import multiprocessing as mp

        # fork: the workers inherit what the server imported (pydantic, the scenario
        # model) instead of importing it again
        ctx = mp.get_context("fork") if sys.platform.startswith("linux") else None
        pool = ProcessPoolExecutor(n, mp_context=ctx, initializer=initializer)
        for _ in range(n):
            pool.submit(worker_pid)
        return pool

    @staticmethod
    def _pids(pool: ProcessPoolExecutor | None) -> list[int]:
        procs = getattr(pool, "_processes", None) or {}
        return [p.pid for p in list(procs.values()) if p.is_alive()]

    def pids(self) -> list[int]:
        """Process ids of the interactive workers alive."""
        return self._pids(self._pool)

    def background_pids(self) -> list[int]:
        """Process ids of the background workers alive."""
        return self._pids(self._bg)

    async def run(self, fn: Callable[..., Any], *args: Any, background: bool = False) -> Any:
        """Run ``fn(*args)`` in a worker (a background one when ``background`` and the
        engine has them); restart the workers once if one died."""
        if self._pool is None:
            self.start()
        background = background and self.background > 0
        for attempt in (0, 1):
            if background:
                self.bg_busy += 1
            else:
                self.busy += 1
            try:
                pool = self._bg if background else self._pool
                assert pool is not None
                out = await asyncio.wrap_future(pool.submit(fn, *args))
                self.computed += 1
                return out
            except BrokenProcessPool:
                if attempt:
                    raise
                print("cxroi app: a worker died; starting its pool again",
                      file=sys.stderr, flush=True)
                self._restart(pool, background)
            finally:
                if background:
                    self.bg_busy -= 1
                else:
                    self.busy -= 1
                    if self.on_free is not None:
                        self.on_free()
        raise AssertionError("unreachable")  # pragma: no cover

    async def cached(self, kind: str, inputs: Any, fn: Callable[..., Any], *args: Any,
                     disk: bool = False, background: bool = False, alone: bool = False
                     ) -> bytes:
        """The JSON answer of ``fn(*args)`` for ``inputs``, from the cache or a worker (a
        background one when ``background``; a process of its own when ``alone``,
        :meth:`run_alone`).

        Answers that report a problem with the inputs are kept in memory only (the same
        inputs give the same problem). An answer that says something went wrong
        unexpectedly (``"failure": True``, :func:`cxroi.app.tasks.failure`: a bug or the machine, not the
        inputs) is not kept at all: the next request for the same inputs computes it
        again, rather than showing that failure until the server restarts.
        """
        key = scenario_key(kind, inputs, self.fingerprint)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        running = self._running.get(key)
        if running is not None:  # the same inputs are being computed: share the answer
            return await asyncio.shield(running)
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())  # never unretrieved
        self._running[key] = fut
        try:
            out = await (self.run_alone(fn, *args) if alone
                         else self.run(fn, *args, background=background))
            out["key"] = key
            self._keep_specs(out)
            data = to_json(out)
            if not out.get("failure"):
                self.cache.put(key, data, disk=disk and bool(out.get("ok")))
            fut.set_result(data)
            return data
        except BaseException as exc:
            fut.set_exception(exc)
            raise
        finally:
            self._running.pop(key, None)

    def _keep_specs(self, out: dict[str, Any]) -> None:
        """Move each chart's Vega spec out of an answer into the cache (``spec-<shape>``):
        the page fetches a spec once per shape (``GET /api/spec/<shape>``), so answers
        carry only the charts' data."""
        charts = (out.get("result") or out).get("charts") or {}
        for part in charts.values():
            spec = part.pop("vega", None)
            if spec is not None and self.cache.get("spec-" + part["shape"]) is None:
                self.cache.put("spec-" + part["shape"], to_json(spec))

    def spec(self, shape: str) -> bytes | None:
        """The Vega spec of a chart shape, when an answer carried it."""
        return self.cache.get("spec-" + shape)

    def _restart(self, broken: ProcessPoolExecutor, background: bool) -> None:
        """Replace the pool that broke (only it: the other pool's work goes on), unless a
        concurrent request has already replaced it."""
        if background and self._bg is broken:
            self._bg = self._start_pool(self.background, warm_background)
        elif not background and self._pool is broken:
            self._pool = self._start_pool(self.workers, warm_worker)
        else:
            return
        self._end([broken])

    def stop(self) -> None:
        """End every worker now (pending work is dropped)."""
        pools = [p for p in (self._pool, self._bg, self._alone) if p is not None]
        self._pool = self._bg = self._alone = None
        self._end(pools)

    @staticmethod
    def _end(pools: list[ProcessPoolExecutor]) -> None:
        """Shut ``pools`` down and end their processes (terminate, then kill)."""
        procs = [p for pool in pools for p in (getattr(pool, "_processes", None) or {}).values()]
        for pool in pools:
            pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=3)
            if p.is_alive():  # pragma: no cover - a worker stuck in C code
                p.kill()


def log_failure(what: str) -> str:
    """Write the current traceback to the server log; return a sentence for the page."""
    exc = sys.exc_info()[1]
    print(f"cxroi app: {what} failed\n{traceback.format_exc()}", file=sys.stderr, flush=True)
    return (f"Something went wrong {what} ({type(exc).__name__}: {exc}). The numbers shown "
            "are from the last valid inputs.")

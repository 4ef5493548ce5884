"""A pool of worker processes that survives the death of one worker
(:class:`WorkerPool`); see :mod:`cxroi.nbrun`."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cxroi.nbrun.kernel import _all, _all_lock, close_all, skip_slow_optional_imports


def set_parent_death_signal(sig: int = signal.SIGTERM) -> bool:
    """Ask Linux to send ``sig`` to this process when its parent dies
    (``prctl(PR_SET_PDEATHSIG)``); returns False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(1, int(sig), 0, 0, 0) == 0  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return False



# --------------------------------------------------------------------------------------
# A pool of worker processes that survives the death of one worker
# --------------------------------------------------------------------------------------

#: What a worker process that died mid-run reports for it.
WORKER_DIED = ("the worker process died while running this (killed, or out of memory)")


def _worker_terminate(signum: int, frame: Any) -> None:
    """SIGTERM in a worker (its parent died or stopped the batch): kill the kernels at
    once, then unwind (temporary folders are removed); hard exit if that hangs."""
    with _all_lock:
        runners = list(_all)
    for r in runners:
        r.kill()
    timer = threading.Timer(5.0, os._exit, args=(128 + signum,))
    timer.daemon = True
    timer.start()
    raise SystemExit(128 + signum)


def _function_name(fn: Callable[[Any], Any]) -> str:
    """``module:qualname`` of a module-level function (what a worker imports)."""
    return f"{fn.__module__}:{fn.__qualname__}"


def _import_function(name: str) -> Callable[[Any], Any]:
    import importlib

    module, _, qualname = name.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _worker_main(conn: Any, parent_pid: int, fn: Callable[[Any], Any] | str,
                 warm_up: str | None = None) -> None:
    """Body of a worker process: ``(i, task)`` in, ``(i, fn(task))`` out, until ``None``.

    ``fn`` may be given as ``module:qualname``: it is then imported here, after
    :func:`skip_slow_optional_imports`, so the worker's start-up skips them too.
    ``warm_up`` (``module:qualname`` of a function of no arguments) runs before the first
    task is read, so a worker started early is ready when its first task comes; if it
    fails, the first task meets the same problem and reports it.
    """
    set_parent_death_signal(signal.SIGTERM)
    if os.getppid() != parent_pid:  # the parent died before the line above
        os._exit(1)
    skip_slow_optional_imports()
    if isinstance(fn, str):
        fn = _import_function(fn)
    signal.signal(signal.SIGTERM, _worker_terminate)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    if warm_up:
        try:
            _import_function(warm_up)()  # type: ignore[call-arg]
        except Exception:  # noqa: BLE001, S110 - the first task reports the problem
            pass
    try:
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                break
            if msg is None:
                break
            i, task = msg
            try:
                out = fn(task)
            except Exception as exc:  # noqa: BLE001 - reported as the task's outcome
                out = {"status": "failed", "error": f"{type(exc).__name__}: {exc}",
                       "log": f"{type(exc).__name__}: {exc}\n"}
            conn.send((i, out))
    finally:
        close_all()


@dataclass
class _Worker:
    proc: Any
    conn: Any
    task: int | None = None
    used: bool = False  # was it ever handed a task?


class WorkerPool:
    """Worker processes (spawned), each running ``fn`` on one task at a time.

    Unlike :class:`concurrent.futures.ProcessPoolExecutor`, the death of one worker
    (``kill -9``, out of memory) costs only the task it was running: that task is retried
    ``retries`` times on a fresh worker, and every other task, queued ones included, still
    runs. Workers die with the pool's process: on Linux each asks for SIGTERM when its
    parent dies (``PR_SET_PDEATHSIG``), kills its kernels and exits; the kernels also get
    SIGKILL when their worker dies. Leaving :meth:`run` in any way (an exception, Ctrl-C,
    SIGTERM turned into :class:`KeyboardInterrupt`) stops every worker.

    Parameters
    ----------
    fn : callable
        A module-level function (it is pickled by reference) of one task, returning a
        picklable result. Exceptions become ``{"status": "failed", "error": ...}``.
    workers : int
        Worker processes.
    retries : int
        How many times a task whose worker died is tried again.
    warm_up : callable, optional
        A module-level function of no arguments each worker runs when it starts, before
        its first task (imports, caches): with :meth:`start` before the tasks are known,
        the workers get ready while the caller prepares them.
    """

    def __init__(self, fn: Callable[[Any], Any], workers: int, retries: int = 1,
                 warm_up: Callable[[], Any] | None = None) -> None:
        import multiprocessing as mp

        self.fn = fn
        self.warm_up = warm_up
        self.workers = max(1, int(workers))
        self.retries = max(0, int(retries))
        self._ctx = mp.get_context("spawn")  # no fork of a process holding threads
        self._pool: list[_Worker] = []
        self.started = 0

    def _start(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        warm = _function_name(self.warm_up) if self.warm_up is not None else None
        proc = self._ctx.Process(target=_worker_main,
                                 args=(child, os.getpid(), _function_name(self.fn), warm),
                                 daemon=True, name=f"cxroi-worker-{self.started + 1}")
        proc.start()
        child.close()
        self.started += 1
        w = _Worker(proc, parent)
        self._pool.append(w)
        return w

    def start(self, n: int | None = None) -> None:
        """Start up to ``n`` workers now (default: :attr:`workers`), before :meth:`run`:
        they import and warm up while the caller prepares the tasks. Workers that get no
        task are stopped at once by :meth:`close` (or :meth:`run`'s end)."""
        for _ in range(min(self.workers, self.workers if n is None else n) - len(self._pool)):
            self._start()

    def pids(self) -> list[int]:
        """Process ids of the live workers."""
        return [w.proc.pid for w in self._pool if w.proc.is_alive()]

    def run(self, tasks: list[Any],
            on_done: Callable[[int, dict[str, Any]], None]) -> None:
        """Run every task; call ``on_done(i, result)`` in this thread as each finishes.

        A task whose worker died gets ``result["attempts"]`` and a note in
        ``result["log"]``; after ``retries`` retries it is reported with
        :data:`WORKER_DIED` as its error.
        """
        from multiprocessing.connection import wait

        queue = deque(range(len(tasks)))
        attempts = [0] * len(tasks)
        deaths: dict[int, int] = {}
        max_starts = self.workers + 2 * len(tasks) + 2
        try:
            for _ in range(min(self.workers, len(tasks)) - len(self._pool)):
                self._start()
            def hand_out(w: _Worker) -> None:
                if w.task is None and queue:
                    i = queue.popleft()
                    attempts[i] += 1
                    try:
                        w.conn.send((i, tasks[i]))
                    except (BrokenPipeError, OSError):
                        pass  # the worker is dead: its sentinel says so below
                    w.task = i
                    w.used = True

            while queue or any(w.task is not None for w in self._pool):
                for w in self._pool:  # hand out work
                    hand_out(w)
                busy = [w for w in self._pool if w.task is not None]
                ready = set(wait([w.conn for w in busy] + [w.proc.sentinel for w in self._pool]))
                for w in list(self._pool):
                    dead = w.proc.sentinel in ready
                    if w.conn in ready:
                        try:
                            i, out = w.conn.recv()
                        except (EOFError, OSError):
                            dead = True  # died mid-run
                        else:
                            w.task = None
                            # its next task first: the worker computes while on_done
                            # writes this one's files (it waited for them before); not
                            # to a worker that has died since (its task would be charged
                            # an attempt it never ran)
                            if not dead:
                                hand_out(w)
                            if attempts[i] > 1:
                                out = dict(out, attempts=attempts[i],
                                           log=f"attempt {attempts[i]}: the worker process "
                                               f"of an earlier attempt died; retried\n"
                                               + (out.get("log") or ""))
                            on_done(i, out)
                    if dead or not w.proc.is_alive():
                        w.proc.join(timeout=5)
                        if w.proc.is_alive():  # its pipe broke but it lingers
                            w.proc.kill()
                            w.proc.join(timeout=5)
                        w.conn.close()
                        self._pool.remove(w)
                        if w.task is not None:
                            i = w.task
                            deaths[i] = deaths.get(i, 0) + 1
                            if deaths[i] <= self.retries:
                                queue.appendleft(i)
                            else:
                                on_done(i, {"status": "failed", "attempts": attempts[i],
                                            "error": f"{WORKER_DIED}, {attempts[i]} times",
                                            "log": f"{WORKER_DIED} (exit code "
                                                   f"{w.proc.exitcode}), {attempts[i]} "
                                                   "times\n"})
                        busy_or_queued = len(queue) + sum(x.task is not None
                                                          for x in self._pool)
                        if len(self._pool) < min(self.workers, busy_or_queued) and \
                                self.started < max_starts:
                            self._start()
                if queue and not self._pool:  # workers die on start: give up
                    while queue:
                        i = queue.popleft()
                        on_done(i, {"status": "failed", "attempts": attempts[i],
                                    "error": "worker processes keep dying on start",
                                    "log": "worker processes keep dying on start\n"})
        finally:
            self.close()

    def close(self, timeout: float = 10.0) -> None:
        """Stop every worker: ask politely, then SIGTERM (they kill their kernels), then
        SIGKILL whatever is left."""
        pool, self._pool = self._pool, []
        for w in pool:
            try:
                if not w.used:  # started early, never given a task: nothing to tidy up
                    w.proc.kill()
                elif w.task is None:
                    w.conn.send(None)
                else:
                    w.proc.terminate()
            except (BrokenPipeError, OSError):
                pass
        deadline = time.monotonic() + timeout
        for w in pool:
            w.proc.join(timeout=max(0.0, deadline - time.monotonic()))
            if w.proc.is_alive():
                w.proc.terminate()
                w.proc.join(timeout=3)
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join(timeout=3)
            w.conn.close()


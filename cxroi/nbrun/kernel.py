"""A Jupyter kernel kept alive, executing parameterized notebooks one after another
(:class:`KernelRunner`); see :mod:`cxroi.nbrun`."""

from __future__ import annotations

import asyncio
import atexit
import copy
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from nbformat import NotebookNode


T = TypeVar("T")

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

#: Code run (silently) before every notebook: a clean namespace, a known directory.
_RESET = (
    "get_ipython().run_line_magic('reset', '-f')\n"
    "import os as _cx_os\n"
    "_cx_os.chdir({cwd!r})\n"
    "del _cx_os\n"
)


#: Run once in every kernel: ask Linux to SIGKILL the kernel when the process that
#: started it dies, and exit at once if that already happened.
_KERNEL_GUARD = (
    "import ctypes as _cx_c, os as _cx_o, signal as _cx_s, sys as _cx_y\n"
    "if _cx_y.platform.startswith('linux'):\n"
    "    try:\n"
    "        _cx_c.CDLL(None).prctl(1, int(_cx_s.SIGKILL), 0, 0, 0)\n"
    "    except (OSError, AttributeError):\n"
    "        pass\n"
    "if _cx_o.getppid() != {ppid}:\n"
    "    _cx_o._exit(1)\n"
    "del _cx_c, _cx_o, _cx_s, _cx_y\n"
)


def strip_ansi(text: str) -> str:
    """Remove terminal colour codes (kernel tracebacks carry them)."""
    return _ANSI.sub("", text)


@dataclass
class Execution:
    """The outcome of executing one notebook.

    Attributes
    ----------
    nb : NotebookNode
        The executed notebook (partially executed when ``error`` is set).
    error : str or None
        ``None`` on success, else a one-paragraph message (the exception and its text).
    traceback : str
        The full traceback of a failure, without colour codes ('' on success).
    seconds : float
        Wall time of the execution.
    """

    nb: NotebookNode
    error: str | None
    traceback: str
    seconds: float


def read_notebook(path: str | Path) -> NotebookNode:
    """Read a notebook file (nbformat 4)."""
    import nbformat

    return nbformat.read(str(path), as_version=4)


def parameterize(nb: NotebookNode, parameters: dict[str, Any]) -> NotebookNode:
    """A copy of ``nb`` with ``parameters`` injected after its ``parameters`` cell, the
    papermill way (``injected-parameters`` cell, ``metadata.papermill.parameters``)."""
    from papermill.parameterize import parameterize_notebook

    nb = copy.deepcopy(nb)
    for cell in nb.cells:  # papermill expects every cell to carry a tags list
        cell.metadata.setdefault("tags", [])
    nb.metadata.setdefault("papermill", {})
    return parameterize_notebook(nb, dict(parameters))


def _error_message(nb: NotebookNode) -> tuple[str, str]:
    """(message, traceback) of the first error output in an executed notebook."""
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                ename, evalue = out.get("ename", "Error"), out.get("evalue", "")
                tb = strip_ansi("\n".join(out.get("traceback", [])))
                where = f"cell {i}"
                return f"{ename} in {where}: {strip_ansi(evalue)}", tb
    return "the notebook failed without an error output", ""


#: Run once in every kernel of a :class:`KernelRunner` (its default ``warmup``): import
#: what the business-case notebook uses, render one tiny chart (vl-convert starts its
#: engine on the first call), then move everything allocated so far out of the garbage
#: collector's sight (``gc.freeze``: the modules stay, so collections get cheaper).
#: The compiled flywheel (:func:`cxroi.model.use_kernel`) is not loaded: it equals numpy
#: to 1e-12, not bit for bit, and the report's figures are ``cxroi run``'s exactly.
WARMUP = (
    "import gc as _cx_gc\n"
    "import cxroi.charts.specs, cxroi.report.case, cxroi.report.render, cxroi.voi\n"
    "import vl_convert as _cx_vlc\n"
    "_cx_vlc.vegalite_to_svg({'mark': 'point', 'data': {'values': [{'x': 1}]},\n"
    "                         'encoding': {'x': {'field': 'x', 'type': 'quantitative'}}})\n"
    "_cx_gc.collect()\n"
    "_cx_gc.freeze()\n"
    "del _cx_gc, _cx_vlc\n"
)

#: Optional modules a library imports that batch processes do not need, skipped there.
#: ``jsonschema`` (imported by ``nbformat``) loads ``rfc3987_syntax`` when present, only to
#: check the ``iri`` string formats, and that module compiles a grammar at import: about
#: 2 s of every process start, measured. Neither the notebook schema nor anything a
#: batch validates uses those formats.
SKIPPED_OPTIONAL_MODULES = ("rfc3987_syntax",)


def skip_slow_optional_imports() -> None:
    """In this process, make the imports of :data:`SKIPPED_OPTIONAL_MODULES` fail (so the
    libraries that try them go without), unless they are loaded already. Called by the
    batch's worker processes before they import anything else."""
    for name in SKIPPED_OPTIONAL_MODULES:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


class KernelRunner:
    """One kernel, kept alive, executing notebooks one after another.

    Parameters
    ----------
    kernel_name : str
        Jupyter kernel spec; ``python3`` is the interpreter running this code.
    timeout : int
        Seconds any one cell may run before the run fails (and the kernel is restarted).
    startup_timeout : int
        Seconds to wait for the kernel to come up.
    warmup : str
        Code executed once after start-up (imports paid once); default :data:`WARMUP`.
    """

    def __init__(self, kernel_name: str = "python3", timeout: int = 600,
                 startup_timeout: int = 120, warmup: str = WARMUP) -> None:
        self.kernel_name = kernel_name
        self.timeout = timeout
        self.startup_timeout = startup_timeout
        self.warmup = warmup
        self.runs = 0
        self._km: Any = None
        self._ipc_dir = ""
        self._kc: Any = None
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="cxroi-kernel-runner")
        self._thread.start()

    # -- plumbing ----------------------------------------------------------------------
    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    async def _start(self) -> None:
        from jupyter_client.manager import AsyncKernelManager

        # IPC transport (unix sockets in a private folder): no TCP ports to race for, and
        # nothing readable by other users of the machine
        self._ipc_dir = tempfile.mkdtemp(prefix="cxroi-kernel-")
        self._km = AsyncKernelManager(kernel_name=self.kernel_name, transport="ipc",
                                      ip=os.path.join(self._ipc_dir, "kernel"))
        await self._km.start_kernel()
        self._kc = self._km.client()
        self._kc.start_channels()
        await self._kc.wait_for_ready(timeout=self.startup_timeout)
        self._kc.allow_stdin = False
        # the kernel dies with this process (Linux: SIGKILL on parent death; ipykernel's
        # own parent poller is the fallback elsewhere)
        await self._silent(_KERNEL_GUARD.format(ppid=os.getpid()))
        if self.warmup:
            await self._silent(self.warmup)

    async def _silent(self, code: str) -> None:
        reply = await self._kc.execute_interactive(code, silent=True, store_history=False,
                                                   timeout=self.timeout,
                                                   output_hook=lambda msg: None)
        if reply["content"].get("status") != "ok":
            c = reply["content"]
            raise RuntimeError(f"kernel set-up failed: {c.get('ename')}: {c.get('evalue')}")

    async def _stop(self) -> None:
        if self._kc is not None:
            self._kc.stop_channels()
            self._kc = None
        if self._km is not None:
            try:
                if await self._km.is_alive():
                    await self._km.shutdown_kernel(now=True)
            finally:
                self._km = None
                shutil.rmtree(self._ipc_dir, ignore_errors=True)

    async def _execute(self, nb: NotebookNode, cwd: str, timeout: int) -> Execution:
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError, DeadKernelError

        if self._km is None or not await self._km.is_alive():
            await self._stop()
            await self._start()
        t0 = time.perf_counter()
        await self._silent(_RESET.format(cwd=cwd))
        client = NotebookClient(nb, km=self._km, timeout=timeout,
                                kernel_name=self.kernel_name, allow_errors=False,
                                record_timing=False, resources={"metadata": {"path": cwd}})
        client.kc = self._kc
        try:
            await client.async_execute()
        except CellExecutionError:
            msg, tb = _error_message(nb)
            return Execution(nb, msg, tb, time.perf_counter() - t0)
        except (DeadKernelError, TimeoutError, RuntimeError) as exc:
            # the kernel died or hung: start a fresh one for the next run
            await self._stop()
            kind = "timed out" if isinstance(exc, TimeoutError) else "kernel failed"
            return Execution(nb, f"{kind}: {strip_ansi(str(exc)).strip()}", "",
                             time.perf_counter() - t0)
        finally:
            self.runs += 1
        return Execution(nb, None, "", time.perf_counter() - t0)

    # -- public ------------------------------------------------------------------------
    def execute(self, nb: NotebookNode, cwd: str | Path = ".",
                timeout: int | None = None) -> Execution:
        """Execute every cell of ``nb`` (in place) in ``cwd``; never raises for a failing
        cell (see :attr:`Execution.error`)."""
        with self._lock:
            return self._call(self._execute(nb, str(Path(cwd).resolve()),
                                            timeout or self.timeout))

    def close(self) -> None:
        """Shut the kernel down and stop the loop thread."""
        if not self._thread.is_alive():
            return
        with self._lock:
            try:
                self._call(self._stop())
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(timeout=10)

    def kill(self) -> None:
        """Kill the kernel process (and its process group) at once, without the event
        loop: for a signal handler or a dying process. Removes the kernel's socket folder."""
        km = self._km
        proc = getattr(getattr(km, "provisioner", None), "process", None)
        pid = getattr(proc, "pid", None)
        if pid:
            try:
                os.killpg(pid, signal.SIGKILL)  # the kernel leads its own session
            except (OSError, AttributeError):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        if self._ipc_dir:
            shutil.rmtree(self._ipc_dir, ignore_errors=True)

    def __enter__(self) -> KernelRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_local = threading.local()
_all: list[KernelRunner] = []
_all_lock = threading.Lock()


def shared_runner() -> KernelRunner:
    """The runner of this process and thread, started on first use and closed at exit.

    Process-pool workers and Dask worker threads each get their own kernel, reused for
    every run they execute.
    """
    runner = getattr(_local, "runner", None)
    if runner is None or not runner._thread.is_alive():
        runner = KernelRunner()
        _local.runner = runner
        with _all_lock:
            _all.append(runner)
    return runner


@atexit.register
def close_all() -> None:
    """Shut down every runner this process started."""
    with _all_lock:
        runners, _all[:] = list(_all), []
    for r in runners:
        try:
            r.close()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass



"""Executing notebooks in this process's own IPython shell (:class:`InProcessRunner`), for
the batch's worker processes; see :mod:`cxroi.nbrun`.

A batch worker is a process of its own already, started for the batch and stopped with it:
a Jupyter kernel beside it would be a second Python process doing the work while the
worker waits. The kernel costs its start-up (a Python, ipykernel and ZeroMQ on top of the
report's imports: about 1-2 CPU s per worker, measured) and a round trip of every cell
and output through ZeroMQ and JSON. :class:`InProcessRunner` executes the cells with
IPython in the worker itself and records what a kernel would have sent: streams, display
data, execute results and errors, as nbformat outputs (their data passed through JSON as
the kernel protocol does), so the executed notebook and the report are the same (the batch
tests compare the report byte for byte with one executed on a kernel).

What a kernel gives that this does not: isolation from a cell that crashes the
interpreter (in a batch the worker dies instead, and its run is retried once on a fresh
worker, as for a dead kernel) and the interruption of a cell stuck in C code (the cell
timeout is a ``SIGALRM`` in the main thread; a stuck C call is interrupted when it
returns to Python). Processes that are not batch workers (``cxroi report``, the app, Dask
workers) keep :class:`~cxroi.nbrun.KernelRunner`.
"""

from __future__ import annotations

import builtins
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cxroi.nbrun.kernel import WARMUP, Execution, strip_ansi

if TYPE_CHECKING:
    from nbformat import NotebookNode


class _Sink:
    """The outputs of the cell being executed, in the order they were produced."""

    def __init__(self) -> None:
        self.outputs: list[dict[str, Any]] = []
        self.count: int | None = None

    def stream(self, name: str, text: str) -> None:
        if not text:
            return
        last = self.outputs[-1] if self.outputs else None
        if last is not None and last["output_type"] == "stream" and last["name"] == name:
            last["text"] += text
        else:
            self.outputs.append({"output_type": "stream", "name": name, "text": text})

    def display(self, kind: str, data: dict[str, Any], metadata: dict[str, Any]) -> None:
        # through JSON, as a kernel's message would be (tuples become lists, and so on)
        data, metadata = json.loads(json.dumps({"d": data, "m": metadata or {}},
                                               default=str)).values()
        out = {"output_type": kind, "data": data, "metadata": metadata}
        if kind == "execute_result":
            out["execution_count"] = self.count
        self.outputs.append(out)

    def error(self, ename: str, evalue: str, traceback: list[str]) -> None:
        self.outputs.append({"output_type": "error", "ename": ename, "evalue": evalue,
                             "traceback": list(traceback)})


class _Stream:
    """``sys.stdout`` / ``sys.stderr`` while a cell runs: text goes to the cell's outputs."""

    def __init__(self, sink: _Sink, name: str) -> None:
        self.sink, self.name = sink, name
        self.encoding = "utf-8"

    def write(self, text: str) -> int:
        self.sink.stream(self.name, str(text))
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def _shell(sink: _Sink) -> Any:
    """This process's IPython shell, with its display machinery writing into ``sink``."""
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    class Publisher(DisplayPublisher):
        def publish(self, data: dict[str, Any], metadata: dict[str, Any] | None = None,
                    source: Any = None, *, transient: Any = None, update: bool = False,
                    **kwargs: Any) -> None:
            sink.display("display_data", data, metadata or {})

        def clear_output(self, wait: bool = False) -> None:
            sink.outputs.clear()

    class Hook(DisplayHook):
        """The value of a cell's last expression as an ``execute_result`` (objects that
        display themselves, like the report's sections, publish display data instead)."""

        def write_output_prompt(self) -> None:
            pass

        def write_format_data(self, format_dict: dict[str, Any],
                              md_dict: dict[str, Any] | None = None) -> None:
            sink.display("execute_result", format_dict, md_dict or {})

        def finish_displayhook(self) -> None:
            pass

        def flush(self) -> None:
            """Forget the cached outputs (``Out``, ``_``, ``_1``...) as IPython does,
            without its ``gc.collect()``: see :meth:`InProcessRunner.execute`."""
            for n in range(1, self.prompt_count + 1):
                self.shell.user_ns_hidden.pop(f"_{n}", None)
                self.shell.user_ns.pop(f"_{n}", None)
            oh = self.shell.user_ns.get("_oh", None)
            if oh is not None:
                oh.clear()
            self._, self.__, self.___ = "", "", ""
            if "_" not in builtins.__dict__:
                self.shell.user_ns.update({"_": self._, "__": self.__, "___": self.___})

    class Shell(InteractiveShell):
        displayhook_class = Hook
        display_pub_class = Publisher

        def _showtraceback(self, etype: Any, evalue: Any, stb: list[str]) -> None:
            sink.error(getattr(etype, "__name__", str(etype)), str(evalue), stb)

    config = Config()
    config.HistoryManager.enabled = False  # no sqlite history shared by the workers
    return Shell.instance(config=config, colors="NoColor")


class InProcessRunner:
    """Executes notebooks one after another in this process's IPython shell.

    The same interface as :class:`~cxroi.nbrun.KernelRunner` (:meth:`execute`,
    :attr:`runs`, :meth:`close`, :meth:`kill`): the warm-up code runs once, the user
    namespace is reset (as ``%reset -f``, without its full garbage collections) and
    the working directory set before every notebook, and a failing cell stops the notebook and is reported in
    :attr:`Execution.error` (``<exception> in cell <i>: <message>``).

    Parameters
    ----------
    timeout : int
        Seconds any one cell may run (a ``SIGALRM``; only in the main thread).
    warmup : str
        Code executed once before the first notebook; default :data:`WARMUP`.
    """

    #: What the run's log calls it.
    kind = "in-process"

    def __init__(self, timeout: int = 600, warmup: str = WARMUP) -> None:
        self.timeout = timeout
        self.warmup = warmup
        self.runs = 0
        self._sink = _Sink()
        self._shell: Any = None
        self._lock = threading.Lock()

    def _run_cell(self, source: str, timeout: int | None) -> None:
        """Execute one cell; its outputs go to the sink."""
        out, err = sys.stdout, sys.stderr
        alarm = timeout and threading.current_thread() is threading.main_thread()
        previous = None
        if alarm:
            def expire(signum: int, frame: Any) -> None:
                raise TimeoutError(f"the cell ran longer than {timeout} s")

            previous = signal.signal(signal.SIGALRM, expire)
            signal.setitimer(signal.ITIMER_REAL, float(timeout))
        sys.stdout, sys.stderr = _Stream(self._sink, "stdout"), _Stream(self._sink, "stderr")
        try:
            # store_history: the display hook reads the input back to honour a closing ";"
            self._shell.run_cell(source, store_history=True, silent=False)
        finally:
            sys.stdout, sys.stderr = out, err
            if alarm:
                signal.setitimer(signal.ITIMER_REAL, 0.0)
                signal.signal(signal.SIGALRM, previous)

    def start(self) -> None:
        """Create the shell and run the warm-up now, if not done yet (else on the first
        :meth:`execute`)."""
        with self._lock:
            if self._shell is None:
                try:
                    self._start()
                except BaseException:
                    self._shell = None  # the first execute tries again and reports it
                    raise

    def _start(self) -> None:
        # as ipykernel does: a notebook's matplotlib figures are shown inline (as display
        # data) when it plots
        if not os.environ.get("MPLBACKEND") and _has("matplotlib_inline"):
            os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
        self._shell = _shell(self._sink)
        if self.warmup:
            self._sink.outputs = []
            self._run_cell(self.warmup, self.timeout)
            errors = [o for o in self._sink.outputs if o["output_type"] == "error"]
            if errors:
                raise RuntimeError(f"set-up failed: {errors[0]['ename']}: "
                                   f"{errors[0]['evalue']}")

    def execute(self, nb: NotebookNode, cwd: str | Path = ".",
                timeout: int | None = None) -> Execution:
        """Execute every code cell of ``nb`` (in place) in ``cwd``; never raises for a
        failing cell (see :attr:`Execution.error`)."""
        from nbformat import from_dict

        with self._lock:
            if self._shell is None:
                self._start()
            t0 = time.perf_counter()
            here = os.getcwd()
            timeout = timeout or self.timeout
            error: tuple[str, str] | None = None
            try:
                # ``%reset -f`` without its two full garbage collections (one in the
                # output cache's flush): they cost 14-16 ms a report and free nothing
                # the collector's own generations would not (the namespace's objects go
                # when their references do; cycles at the next automatic collection)
                self._shell.reset(new_session=False)
                os.chdir(str(Path(cwd).resolve()))
                count = 0
                for i, cell in enumerate(nb.cells):
                    if cell.get("cell_type") != "code":
                        continue
                    cell.outputs = []
                    if "skip-execution" in cell.get("metadata", {}).get("tags", []):
                        continue
                    count += 1
                    cell.execution_count = self._sink.count = count
                    self._sink.outputs = []
                    self._run_cell(cell.source, timeout)
                    cell.outputs = [from_dict(o) for o in self._sink.outputs]
                    failed = [o for o in self._sink.outputs if o["output_type"] == "error"]
                    if failed:
                        o = failed[0]
                        if o["ename"] == "SystemExit":  # the worker is being stopped
                            raise SystemExit(o["evalue"])
                        error = (f"{o['ename']} in cell {i}: {strip_ansi(o['evalue'])}",
                                 strip_ansi("\n".join(o["traceback"])))
                        break
            finally:
                os.chdir(here)
                self.runs += 1
            nb.metadata["language_info"] = _language_info()
            return Execution(nb, error[0] if error else None, error[1] if error else "",
                             time.perf_counter() - t0)

    def close(self) -> None:
        """Nothing to shut down (no kernel); kept for :class:`KernelRunner`'s interface."""

    def kill(self) -> None:
        """Nothing to kill (no kernel); kept for :class:`KernelRunner`'s interface."""


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _language_info() -> dict[str, Any]:
    """The notebook's ``language_info``, as the Python kernel reports it."""
    import platform

    return {"codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
            "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python",
            "pygments_lexer": "ipython3", "version": platform.python_version()}


_runner: InProcessRunner | None = None


def in_process_runner() -> InProcessRunner:
    """This process's :class:`InProcessRunner`, created on first use."""
    global _runner
    if _runner is None:
        _runner = InProcessRunner()
    return _runner

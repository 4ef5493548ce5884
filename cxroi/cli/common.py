"""The ``cxroi`` command line's common part: the typer app, its error handling and the
result payload the commands print.

Every user error (a :class:`~cxroi.errors.CxroiError`, a bad option value, a full disk) is
printed as a plain message and exits with code 2; no traceback reaches the terminal. An
unexpected error (a bug) prints one line saying so and where its full traceback was written,
and exits 1; ``--debug`` shows the traceback instead. ``-v`` / ``-q`` set how much the
package's :mod:`logging` says on stderr.
"""

from __future__ import annotations

import datetime as _dt
import errno
import functools
import logging
import math
import os
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cxroi import __version__
from cxroi.errors import CxroiError, Problem, ScenarioError

log = logging.getLogger(__name__)

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Turn a customer-experience improvement into the money a CFO understands.",
)
# Rich markup is on for styled words; text from users (file, scenario, segment names,
# messages) goes through rich.markup.escape, so "[red]x.yaml" stays "[red]x.yaml".
console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

#: Highest --draws accepted (as scenario files' simulation.draws).
MAX_DRAWS = 200_000
#: Set by --debug: show the traceback of an unexpected error instead of the one-line note.
_DEBUG = {"on": False}

#: Errors of the operating system that are the user's to fix, not bugs.
_USER_OS_ERRORS = {
    errno.ENOSPC: "free some disk space, or write to another folder",
    getattr(errno, "EDQUOT", -1): "free some space in your quota, or write to another folder",
    errno.EROFS: "write to a folder that is not read-only",
    errno.EACCES: "write to a folder you may write to, or check the file's permissions",
    errno.EPERM: "write to a folder you may write to, or check the file's permissions",
    errno.ENAMETOOLONG: "use a shorter file name",
    errno.EISDIR: "give a file name, not a folder",
    errno.ENOTDIR: "check the path: part of it is a file, not a folder",
}


def _error(text: str) -> None:
    err_console.print("[bold red]error:[/] " + escape(text), highlight=False, markup=True,
                      soft_wrap=True)


def crash_log_dir() -> Path:
    """Where tracebacks of unexpected errors go: ``$CXROI_LOG_DIR``, else
    ``~/.cache/cxroi/logs``, else the temporary folder."""
    for d in (os.environ.get("CXROI_LOG_DIR"), Path.home() / ".cache" / "cxroi" / "logs",
              Path(tempfile.gettempdir()) / "cxroi-logs"):
        if not d:
            continue
        try:
            Path(d).mkdir(parents=True, exist_ok=True)
            if os.access(d, os.W_OK):
                return Path(d)
        except OSError:
            continue
    return Path(tempfile.gettempdir())


def _write_crash_log(exc: BaseException) -> Path | None:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = crash_log_dir() / f"cxroi-crash-{stamp}-{os.getpid()}.log"
    text = (f"cxroi {__version__}, Python {sys.version.split()[0]}, {sys.platform}\n"
            f"command: {' '.join(sys.argv)}\n\n"
            + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    try:
        path.write_text(text, encoding="utf-8")
    except OSError:
        return None
    return path


def _friendly(fn: F) -> F:
    """Print CxroiError messages plainly and exit 2 instead of showing a traceback; an
    unexpected error is reported as a bug in one line (exit 1) with its traceback saved."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CxroiError as exc:
            _error(str(exc))
            raise typer.Exit(2) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except OSError as exc:
            if exc.errno not in _USER_OS_ERRORS:
                _internal(exc)
            where = exc.filename or "a file"
            _error(f"cannot write or read {where}: {exc.strerror or exc}. Nothing was left "
                   f"half-written. Fix: {_USER_OS_ERRORS[exc.errno]}")
            raise typer.Exit(2) from None
        except Exception as exc:  # noqa: BLE001 - the last line of defence
            _internal(exc)

    return wrapper  # type: ignore[return-value]


def _internal(exc: Exception) -> None:
    if _DEBUG["on"]:
        raise exc
    path = _write_crash_log(exc)
    where = f"the full traceback is in {path}" if path else "the traceback could not be saved"
    first = (str(exc).splitlines() or [""])[0][:200]
    _error(f"internal error in cxroi {__version__} (a bug, not your input): "
           f"{type(exc).__name__}: {first}. {where}; please report it with that file, "
           "or rerun with --debug to see it here.")
    raise typer.Exit(1) from None


def _version(value: bool) -> None:
    if value:
        console.print(f"cxroi {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit")] = False,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True,
                                         help="Say more (-v: progress, -vv: debugging)")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors")] = False,
    debug: Annotated[bool, typer.Option(help="Show the full traceback of an unexpected "
                                             "error (a bug)")] = False,
) -> None:
    """Turn a customer-experience improvement into the money a CFO understands."""
    _DEBUG["on"] = debug
    level = (logging.ERROR if quiet else logging.WARNING if verbose == 0
             else logging.INFO if verbose == 1 else logging.DEBUG)
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    pkg = logging.getLogger("cxroi")
    for h in list(pkg.handlers):
        if getattr(h, "_cxroi_cli", False):
            pkg.removeHandler(h)
    handler._cxroi_cli = True  # type: ignore[attr-defined]
    pkg.addHandler(handler)
    pkg.setLevel(level)
    pkg.propagate = False


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Logs to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _scenario_arg(path: Path | None) -> Path:
    """A scenario argument that is a folder is a named error, not 'file not found'."""
    if path is None:  # older typer versions let a missing argument through
        raise ScenarioError("(command line)", [Problem(
            "SCENARIO", "no scenario file given", "name one, e.g. cxroi run "
            "data/scenarios/complaints-30-to-1.yaml")])
    if path.is_dir():
        raise ScenarioError(str(path), [Problem(
            "(file)", "is a folder, not a scenario file",
            f"give one scenario file, e.g. {path / 'name.yaml'}, or run `cxroi batch {path}` "
            "for every scenario in the folder")])
    return path


def _clean(x: Any) -> Any:
    """JSON-safe: NaN/inf -> null, numpy scalars -> float."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if hasattr(x, "item"):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def result_payload(path: str, draws: int | None = None, seed: int | None = None,
                   breakeven_for: str | None = None, voi: bool = False) -> dict[str, Any]:
    """Everything ``cxroi run --json`` prints for one scenario file (with ``voi``: the value
    of information, key ``voi``)."""
    from cxroi.pitch import pitch
    from cxroi.scenario import load_scenario
    from cxroi.uncertainty import breakeven, simulate, tornado

    sc = load_scenario(path)
    res = simulate(sc, draws=draws, seed=seed)
    summ = res.summary
    metrics = {
        name: {c: row[c] for c in ("label", "unit", "p10", "p50", "p90", "mean", "likely",
                                   "share_defined")}
        for name, row in summ.iterrows()
    }
    tor = tornado(sc, inputs=res.inputs)
    moved = [k for k, tp in sc.touchpoints.items() if tp.lever.target != tp.lever.today]
    be = [breakeven(sc, k) for k in ([breakeven_for] if breakeven_for else moved)]
    extra: dict[str, Any] = {}
    if voi:
        from cxroi.voi import value_of_information

        v = value_of_information(res)
        extra["voi"] = {"metric": v.metric, "evpi": v.evpi, "expected_npv": v.expected_npv,
                        "decision": v.decision, "sentence": v.sentence,
                        "table": v.table[["link", "label", "evppi", "share_of_evpi"]]
                        .to_dict(orient="records"),
                        "groups": v.groups.to_dict(orient="records")}
    return _clean({
        "scenario": sc.name,
        "file": str(path),
        "currency": sc.currency,
        "draws": res.n_draws,
        "seed": res.seed,
        "horizon_months": sc.finance.horizon_months,
        "pitch": pitch(res),
        "prob_npv_negative": res.prob_loss,
        "share_draws_churn_floored": res.churn_floor_share,
        "metrics": metrics,
        "tornado": tor[["link", "provenance", "low", "likely", "high", "npv_at_low",
                        "npv_at_high", "swing"]].head(10).to_dict(orient="records"),
        "breakeven": [b.__dict__ for b in be],
        **extra,
    })


def _print_result(payload: dict[str, Any]) -> None:
    from cxroi.pitch import chance, fmt, lever_value
    from cxroi.scenario import load_scenario

    cur = payload["currency"]
    table = Table(title=f"{escape(payload['scenario'])}  ({payload['draws']:,} draws, seed "
                        f"{payload['seed']})", title_justify="left")
    table.add_column("Metric")
    for c in ("P10", "P50", "P90", "Likely"):
        table.add_column(c, justify="right")
    for m in payload["metrics"].values():
        vals = [m[k] if m[k] is not None else float("nan")
                for k in ("p10", "p50", "p90", "likely")]
        table.add_row(escape(m["label"]), *(escape(fmt(v, m["unit"], cur)) for v in vals))
    console.print(table)
    # worded as the report and the pitch word it (under 1% / 12% / over 99%)
    console.print(f"Chance of losing money (NPV < 0): {chance(payload['prob_npv_negative'])}")
    floored = payload["share_draws_churn_floored"]
    if floored:
        console.print(f"[yellow]warning:[/] in {floored:.0%} of draws the links claim more churn "
                      "reduction than a segment has churn (churn floored at 0); check churn_gap "
                      "and events_per_year.", highlight=False, markup=True)
    sc = load_scenario(payload["file"])
    for b in payload["breakeven"]:
        tp = sc.touchpoints[b["touchpoint"]]
        if b["reason"]:
            console.print(escape(f"Breakeven, {tp.label}: {b['reason']}."), highlight=False)
        else:
            console.print(escape(f"Breakeven, {tp.label}: the programme pays back within "
                      f"{payload['horizon_months']} months (NPV ≥ 0) once it reaches "
                      f"{lever_value(tp, round(b['target'], 2))} "
                      f"(planned {lever_value(tp, b['planned_target'])})."), highlight=False)
    console.print()
    console.print("[bold]" + escape(payload["pitch"]) + "[/]", highlight=False, markup=True)

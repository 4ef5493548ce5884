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

Speed: a kernel start and the imports of pandas / altair / vl-convert cost seconds, the
notebook itself under one. Every worker process keeps **one long-lived kernel**
(:class:`cxroi.nbrun.KernelRunner`) and executes run after run on it (the namespace is
reset in between), so the start-up is paid once per worker, not once per run.

Safety: every file is written to a temporary file and renamed; the run's manifest is
written last, so a run killed midway has no manifest and is redone next time. A run is
skipped when its content hash (resolved scenario, notebook, cxroi version and code,
parameters) matches its manifest and its report exists.
"""

from __future__ import annotations

import copy
import difflib
import fnmatch
import hashlib
import html
import json
import math
import os
import re
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

import cxroi
from cxroi.errors import BatchError, CxroiError
from cxroi.files import write_atomic
from cxroi.nbrun import WorkerPool
from cxroi.report import (
    business_case_notebook,
    execute_report,
    notebooks_dir,
    render_index,
)
from cxroi.scenario import scenario_files, scenario_from_dict, scenario_to_yaml

SPEC_KEYS = {"name", "initiatives", "segments", "segment_costs", "variants", "draws", "seed",
             "data_fingerprint", "timeout", "notebook"}
#: Summary columns taken from each run's metrics into the results table.
TABLE_QUANTILES = ("p10", "p50", "p90", "mean")


# --------------------------------------------------------------------------------------
# The plan
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedRun:
    """One run of a batch, resolved and hashed before anything executes.

    ``scenario_yaml`` is ``None`` and ``error`` says why when the run cannot be built
    (a broken scenario file, an override that does not apply).
    """

    run_id: str
    initiative: str
    segment: str
    variant: str
    source: str
    scenario_yaml: str | None
    scenario_name: str
    currency: str
    key: str
    error: str | None = None


@dataclass
class RunResult:
    """What happened to one run.

    Attributes
    ----------
    status : {"ok", "skipped", "failed"}
        ``skipped``: inputs unchanged since a successful run, report kept.
    error : str or None
        The message of a failed run.
    report, notebook, log : Path or None
        The run's files (report only when it succeeded).
    results : dict
        Headline numbers (``cxroi run --json`` shape) of a successful run.
    """

    run: PlannedRun
    status: str
    error: str | None = None
    report: Path | None = None
    notebook: Path | None = None
    log: Path | None = None
    seconds: float = 0.0
    worker: str = ""
    results: dict[str, Any] = field(default_factory=dict)
    attempts: int = 1
    batch: str = ""

    @property
    def run_id(self) -> str:
        return self.run.run_id

    def row(self, out_dir: Path) -> dict[str, Any]:
        """A flat row for the index and the results table."""
        r = self.run
        row: dict[str, Any] = {
            "batch": self.batch,
            "run_id": r.run_id, "scenario": r.scenario_name, "initiative": r.initiative,
            "segment": r.segment, "variant": r.variant, "source": r.source,
            "status": self.status, "error": self.error, "currency": r.currency,
            "report": self.report.relative_to(out_dir).as_posix() if self.report else None,
            "notebook": self.notebook.relative_to(out_dir).as_posix() if self.notebook
            else None,
            "log": self.log.relative_to(out_dir).as_posix() if self.log else None,
            "seconds": self.seconds, "worker": self.worker, "attempts": self.attempts,
            "key": r.key,
            "prob_npv_negative": self.results.get("prob_npv_negative"),
        }
        for metric, vals in self.results.get("metrics", {}).items():
            for q in TABLE_QUANTILES:
                row[f"{metric}_{q}"] = vals.get(q)
        return row


@dataclass
class BatchResult:
    """The outcome of :func:`run_batch`.

    Attributes
    ----------
    runs : list of RunResult
        In plan order.
    out_dir : Path
    index : Path
        ``out_dir/index.html``: every report in the folder (this batch's, other
        batches', the demo's).
    table : Path
        ``out_dir/<batch>.results.parquet``: one row per run of this batch.
    seconds : float
        Wall time of the whole batch.
    batch_index : Path
        ``out_dir/<batch>.index.html``: this batch's runs only.
    folder_table : Path
        ``out_dir/results.parquet``: one row per run in the folder.
    """

    runs: list[RunResult]
    out_dir: Path
    index: Path
    table: Path
    seconds: float
    batch_index: Path | None = None
    folder_table: Path | None = None

    @property
    def failed(self) -> list[RunResult]:
        return [r for r in self.runs if r.status == "failed"]

    @property
    def skipped(self) -> list[RunResult]:
        return [r for r in self.runs if r.status == "skipped"]

    @property
    def rendered(self) -> list[RunResult]:
        return [r for r in self.runs if r.status == "ok"]

    @property
    def n_failed(self) -> int:
        return len(self.failed)

    @property
    def ok(self) -> bool:
        """True when no run failed (the CLI exits non-zero otherwise)."""
        return not self.failed

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    @property
    def frame(self) -> pd.DataFrame:
        """One row per run (the same table as ``results.parquet``)."""
        return pd.DataFrame([r.row(self.out_dir) for r in self.runs])

    def summary(self) -> str:
        """``12 runs: 9 rendered, 2 unchanged, 1 failed in 14.2 s; index: ...``."""
        text = (f"{len(self.runs)} runs: {len(self.rendered)} rendered, "
                f"{len(self.skipped)} unchanged (skipped), {self.n_failed} failed "
                f"in {self.seconds:.1f} s. Index: {self.batch_index or self.index}")
        if self.batch_index:
            text += f" (every report in the folder: {self.index})"
        retried = [r for r in self.runs if r.attempts > 1 and r.status != "failed"]
        if retried:
            text += (f"\n  {len(retried)} run(s) succeeded on a retry after their worker "
                     f"process died: {', '.join(r.run_id for r in retried)}")
        for r in self.failed:
            text += f"\n  FAILED {r.run_id}: {r.error}"
        return text


def slug(text: str) -> str:
    """File-name-safe id: lower case, ``a-z0-9`` and dashes."""
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s[:80] or "run"


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """sha256 over cxroi's own source and resources: a code change redoes every run."""
    h = hashlib.sha256(cxroi.__version__.encode())
    root = resources.files("cxroi")
    for p in sorted(Path(str(root)).rglob("*")):
        if p.is_file() and p.suffix in {".py", ".yaml", ".j2", ".css"} and \
                "__pycache__" not in p.parts:
            h.update(p.relative_to(Path(str(root))).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def _content_key(scenario_yaml: str, notebook_text: str, params: dict[str, Any]) -> str:
    h = hashlib.sha256()
    for part in (scenario_yaml, notebook_text, cxroi.__version__, code_fingerprint(),
                 json.dumps(params, sort_keys=True)):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise BatchError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)}). "
                         "Fix: check indentation and colons") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchError(f"{path}: cannot read the file ({exc}). Fix: check the path") from None


def _is_scenario(data: Any) -> bool:
    return isinstance(data, dict) and "touchpoints" in data and "segments" in data


@dataclass(frozen=True)
class BatchSpec:
    """A parsed batch file: what to run and with which settings."""

    name: str
    initiatives: list[tuple[str, Path]]
    segments: list[str]
    variants: dict[str, dict[str, Any]]
    segment_costs: str = "allocate"
    draws: int | None = None
    seed: int | None = None
    data_fingerprint: str | None = None
    timeout: int = 600
    notebook: Path | None = None
    #: File-name id of the batch (the spec file's or folder's name): its index is
    #: ``<batch_id>.index.html``.
    batch_id: str = "batch"


def load_spec(spec: Path) -> BatchSpec:
    """Read a batch file, a folder of scenario files or one scenario file.

    Raises
    ------
    BatchError
        Naming the file, the key and the fix.
    """
    spec = Path(spec)
    if spec.is_dir():
        files = scenario_files(spec)
        if not files:
            raise BatchError(f"{spec}: no scenario files (*.yaml) in this folder. Fix: point "
                             "at a folder of scenarios, e.g. data/scenarios, or a batch file")
        return BatchSpec(name=f"cxroi batch: {spec.name}",
                         initiatives=[(f.stem, f) for f in files], segments=["all"],
                         variants={"base": {}}, batch_id=slug(spec.resolve().name))
    if not spec.is_file():
        raise BatchError(f"{spec}: no such batch file or folder. Fix: give a batch YAML, a "
                         "folder of scenario files or a scenario file")
    data = _read_yaml(spec)
    if _is_scenario(data):
        return BatchSpec(name=f"cxroi batch: {spec.stem}", initiatives=[(spec.stem, spec)],
                         segments=["all"], variants={"base": {}}, batch_id=slug(spec.stem))
    if not isinstance(data, dict):
        raise BatchError(f"{spec}: a batch file is a mapping with an `initiatives` list. "
                         "Fix: see docs/batch.md")
    unknown = set(data) - SPEC_KEYS
    for k in sorted(unknown):
        close = difflib.get_close_matches(k, sorted(SPEC_KEYS), n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(sorted(SPEC_KEYS))}"
        raise BatchError(f"{spec}: unknown key '{k}'. Fix: {hint}")
    inits = data.get("initiatives")
    if not isinstance(inits, list) or not inits:
        raise BatchError(f"{spec}: `initiatives` must be a non-empty list of scenario files. "
                         "Fix: add `initiatives: [data/scenarios/complaints-30-to-1.yaml]`")
    base = spec.parent
    initiatives: list[tuple[str, Path]] = []
    for i, item in enumerate(inits):
        if isinstance(item, str):
            path, name = item, None
        elif isinstance(item, dict) and isinstance(item.get("path"), str):
            path, name = item["path"], item.get("name")
        else:
            raise BatchError(f"{spec}: initiatives[{i}] must be a file path or "
                             "{path: ..., name: ...}. Fix: write the scenario file's path")
        p = Path(path)
        p = p if p.is_absolute() else base / p
        if p.is_dir():
            initiatives += [(f.stem, f) for f in scenario_files(p)]
        else:
            initiatives.append((str(name) if name else p.stem, p))
    segments = data.get("segments") or ["all"]
    if not isinstance(segments, list) or not all(isinstance(s, str) for s in segments):
        raise BatchError(f"{spec}: `segments` must be a list of segment names (or `all`). "
                         "Fix: e.g. `segments: [all, Enterprise]`")
    variants = data.get("variants") or {"base": {}}
    if isinstance(variants, list):  # list of names -> no overrides
        variants = {str(v): {} for v in variants}
    if not isinstance(variants, dict) or not all(isinstance(v, dict | type(None))
                                                 for v in variants.values()):
        raise BatchError(f"{spec}: `variants` must map a variant name to overrides "
                         "(`key.path: value`). Fix: e.g. `variants: {base: {}, dear: "
                         "{costs.one_off: 500000}}`")
    seg_costs = data.get("segment_costs", "allocate")
    if seg_costs not in {"allocate", "full"}:
        raise BatchError(f"{spec}: segment_costs must be 'allocate' or 'full' "
                         f"(got {seg_costs!r}). Fix: use allocate to share costs by revenue")
    for key in ("draws", "seed", "timeout"):
        v = data.get(key)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1
                              and key != "seed"):
            raise BatchError(f"{spec}: `{key}` must be a whole number (got {v!r}). "
                             "Fix: e.g. `draws: 2000`")
    nb = data.get("notebook")
    return BatchSpec(
        name=str(data.get("name") or f"cxroi batch: {spec.stem}"), initiatives=initiatives,
        segments=[str(s) for s in segments],
        variants={str(k): dict(v or {}) for k, v in variants.items()}, segment_costs=seg_costs,
        draws=data.get("draws"), seed=data.get("seed"),
        data_fingerprint=data.get("data_fingerprint"), timeout=int(data.get("timeout") or 600),
        notebook=(base / nb) if isinstance(nb, str) else None, batch_id=slug(spec.stem))


class OverrideError(BatchError, KeyError):
    """A variant override that does not apply: a path that is not in the scenario, a value
    that is not a number to scale, or a whole-number field made fractional."""

    def __str__(self) -> str:  # not KeyError's quoted repr
        return str(self.args[0]) if self.args else ""


def _walk(node: Any, parts: list[str], where: str,
          trail: tuple[str | int, ...] = ()) -> Iterator[tuple[Any, Any, tuple[str | int, ...]]]:
    """(container, key, concrete path) triples addressed by a dotted path; ``*`` matches
    every key; list items can be addressed by index or by their ``name``."""
    head, rest = parts[0], parts[1:]
    if isinstance(node, dict):
        keys = list(node) if head == "*" else [head]
        for k in keys:
            if k not in node:
                close = difflib.get_close_matches(k, [str(x) for x in node], n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise OverrideError(f"'{where}': no key '{k}'{hint}")
            if rest:
                yield from _walk(node[k], rest, where, (*trail, k))
            else:
                yield node, k, (*trail, k)
    elif isinstance(node, list):
        if head == "*":
            idx = list(range(len(node)))
        elif head.isdigit() and int(head) < len(node):
            idx = [int(head)]
        else:
            idx = [i for i, item in enumerate(node)
                   if isinstance(item, dict) and item.get("name") == head]
            if not idx:
                raise OverrideError(f"'{where}': no item named '{head}'")
        for i in idx:
            if rest:
                yield from _walk(node[i], rest, where, (*trail, i))
            else:
                yield node, i, (*trail, i)
    else:
        raise OverrideError(f"'{where}': cannot go into a {type(node).__name__} at '{head}'")


@lru_cache(maxsize=1)
def _scenario_schema() -> dict[str, Any]:
    from cxroi.scenario import Scenario

    return Scenario.model_json_schema()


def _is_integer_field(path: tuple[str | int, ...]) -> bool:
    """True when the scenario model types the field at ``path`` as a whole number
    (``ramp_months``, ``start_month``, ``accounts``, ``horizon_months``, ``draws``,
    ``seed``), read from the model's JSON schema."""
    root = _scenario_schema()
    defs = root.get("$defs", {})

    def deref(s: Any) -> dict[str, Any]:
        while isinstance(s, dict) and "$ref" in s:
            s = defs.get(s["$ref"].rsplit("/", 1)[-1], {})
        if isinstance(s, dict) and "anyOf" in s:  # Optional[...]: the non-null branch
            branches = [deref(b) for b in s["anyOf"] if b.get("type") != "null"]
            s = branches[0] if len(branches) == 1 else {}
        return s if isinstance(s, dict) else {}

    node = deref(root)
    for part in path:
        if isinstance(part, int):
            node = deref(node.get("items"))
        elif part in node.get("properties", {}):
            node = deref(node["properties"][part])
        elif isinstance(node.get("additionalProperties"), dict):
            node = deref(node["additionalProperties"])
        else:
            return False
    return node.get("type") == "integer"


_SCALE_KEYS = {"times", "plus", "round"}
_ROUNDING = {"nearest": lambda x: math.floor(x + 0.5), "up": math.ceil, "down": math.floor}


def _scaled(cur: Any, value: dict[str, Any], where: str, integer: bool) -> int | float:
    """``cur × times + plus``; a whole number again for a whole-number field."""
    if isinstance(cur, bool) or not isinstance(cur, int | float):
        raise OverrideError(f"'{where}': {cur!r} is not a number to scale")
    nums = []
    for k, default in (("times", 1.0), ("plus", 0.0)):
        v = value.get(k, default)
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise OverrideError(f"'{where}': `{k}` must be a number (got {v!r})")
        nums.append(float(v))
    rounding = value.get("round")
    if rounding is not None and rounding not in _ROUNDING:
        raise OverrideError(f"'{where}': `round` must be one of {', '.join(_ROUNDING)} "
                            f"(got {rounding!r})")
    new = cur * nums[0] + nums[1]
    if not math.isfinite(new):
        raise OverrideError(f"'{where}': {cur!r} × {nums[0]:g} + {nums[1]:g} is not a "
                            "finite number")
    if not integer:
        return new
    if rounding is not None:
        return int(_ROUNDING[rounding](new))
    if abs(new - round(new)) <= 1e-9 * max(1.0, abs(new)):
        return int(round(new))
    change = (f"× {nums[0]:g}" if "times" in value else "") + \
        (f" + {nums[1]:g}" if "plus" in value else "")
    raise OverrideError(
        f"'{where}': a whole-number field; {cur!r} {change.strip()} = {new:g} is not whole. "
        "Fix: say how to round, e.g. `{times: %g, round: nearest}` (or up / down), or give "
        "the value itself" % nums[0])


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A copy of a scenario mapping with ``key.path: value`` overrides applied.

    A value may be a number or text (replaces), ``{times: k}`` (multiplies) or
    ``{plus: k}`` (adds), i.e. ``new = old × times + plus``. ``*`` in a path matches every
    key or list item; segments can be named (``segments.Enterprise.churn``).

    A whole-number field of the scenario (``ramp_months``, ``start_month``, ``accounts``,
    ``horizon_months``, ``draws``, ``seed``) stays a whole number: ``ramp_months: 6`` with
    ``{times: 2}`` is ``12``. When the result is fractional (``5 × 1.5 = 7.5``) the variant
    must say how to round (``{times: 1.5, round: nearest | up | down}``); otherwise it is an
    :class:`OverrideError`.

    Raises
    ------
    OverrideError
        (a ``KeyError`` and a ``BatchError``) naming the path that does not apply and why.
    """
    out = copy.deepcopy(data)
    for path, value in overrides.items():
        where = str(path)
        is_scale = isinstance(value, dict) and value and set(value) <= _SCALE_KEYS and \
            bool(set(value) & {"times", "plus"})
        for container, key, trail in _walk(out, where.split("."), where):
            if is_scale:
                at = ".".join(str(p) for p in trail)
                container[key] = _scaled(container[key], value,
                                         at if at == where else f"{at}' (from '{where}",
                                         _is_integer_field(trail))
            else:
                container[key] = copy.deepcopy(value)
    return out


def _select_segment(data: dict[str, Any], segment: str, costs: str) -> dict[str, Any]:
    segs = data.get("segments") or []
    names = [s.get("name") for s in segs if isinstance(s, dict)]
    if segment not in names:
        close = difflib.get_close_matches(segment, [str(n) for n in names], n=1)
        raise KeyError(f"segment '{segment}' is not in the scenario (segments: "
                       f"{', '.join(map(str, names))})"
                       + (f"; did you mean '{close[0]}'?" if close else ""))
    out = copy.deepcopy(data)
    keep = [s for s in out["segments"] if s.get("name") == segment]
    if costs == "allocate":
        def revenue(s: dict[str, Any]) -> float:
            return float(s.get("accounts", 0)) * float(s.get("arpa", 0))

        total = sum(revenue(s) for s in segs) or 1.0
        share = revenue(keep[0]) / total
        c = dict(out.get("costs") or {})
        for k in ("one_off", "running_per_year"):
            if k in c and isinstance(c[k], int | float):
                c[k] = c[k] * share
        out["costs"] = c
    out["segments"] = keep
    out["name"] = f"{out.get('name', 'scenario')} — {segment}"
    return out


def plan(spec: BatchSpec, notebook_text: str) -> list[PlannedRun]:
    """Resolve every initiative × segment × variant to a scenario and a content hash.

    A run whose scenario cannot be built is planned with its ``error`` (it will be
    reported as failed; the others still run).
    """
    params = {"draws": spec.draws, "seed": spec.seed, "data_fingerprint": spec.data_fingerprint}
    runs: list[PlannedRun] = []
    used: set[str] = set()
    for init_name, path in spec.initiatives:
        raw: Any = None
        load_error = None
        try:
            raw = _read_yaml(path) if path.is_file() else None
            if raw is None:
                load_error = f"{path}: scenario file not found or empty. Fix: check the path"
        except BatchError as exc:
            load_error = str(exc)
        for segment in spec.segments:
            for variant, overrides in spec.variants.items():
                parts = [init_name]
                if segment != "all":
                    parts.append(segment)
                if len(spec.variants) > 1 or variant != "base":
                    parts.append(variant)
                run_id = "__".join(slug(p) for p in parts)
                n = 2
                while run_id in used:
                    run_id = f"{'__'.join(slug(p) for p in parts)}-{n}"
                    n += 1
                used.add(run_id)
                error, text, name, cur = load_error, None, init_name, "USD"
                if error is None:
                    try:
                        data = raw
                        if segment != "all":
                            data = _select_segment(data, segment, spec.segment_costs)
                        data = apply_overrides(data, overrides)
                        sc = scenario_from_dict(data, str(path))
                        text, name, cur = scenario_to_yaml(sc), sc.name, sc.currency
                    except KeyError as exc:
                        error = (f"{path}: variant '{variant}', segment '{segment}': "
                                 f"{exc.args[0]}. Fix: correct the batch file's overrides or "
                                 f"segments")
                    except CxroiError as exc:
                        error = str(exc)
                        if variant != "base" or segment != "all":
                            error += f"\n  (variant '{variant}', segment '{segment}')"
                    except (TypeError, AttributeError) as exc:
                        error = (f"{path}: the scenario is not a mapping of keys ({exc}). Fix: "
                                 "start from one of data/scenarios/*.yaml")
                key = _content_key(text or f"ERROR {error}", notebook_text, params)
                runs.append(PlannedRun(run_id, init_name, segment, variant, str(path), text,
                                       name, cur, key, error))
    return runs


# --------------------------------------------------------------------------------------
# Executing one run (in a worker process or a Dask worker)
# --------------------------------------------------------------------------------------


def execute_task(task: dict[str, Any]) -> dict[str, Any]:
    """Execute one run on this worker's long-lived kernel; return its outputs.

    Runs in a pool worker process or on a Dask worker. It never raises for a failing
    notebook; the files are written by the caller (so a remote worker needs no shared
    folder).
    """
    import nbformat

    t0 = time.perf_counter()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="cxroi-run-") as tmp:
        path = Path(task["scenario_path"])
        if not path.is_file():  # a remote worker without the batch's folder
            path = Path(tmp) / "scenario.yaml"
            path.write_text(task["scenario_yaml"], encoding="utf-8")
        cwd = task.get("cwd")
        if not cwd or not Path(cwd).is_dir():
            cwd = tmp
        try:
            nb = nbformat.reads(task["notebook"], as_version=4)
            run = execute_report(path, task.get("draws"), task.get("seed"),
                                 task.get("data_fingerprint"), notebook=nb, cwd=cwd,
                                 timeout=task.get("timeout"))
        except Exception as exc:  # noqa: BLE001 - reported as the run's error
            return {"status": "failed", "error": f"{type(exc).__name__}: {exc}",
                    "html": None, "notebook": None, "results": None,
                    "log": f"worker {worker}: {type(exc).__name__}: {exc}\n",
                    "seconds": time.perf_counter() - t0, "worker": worker}
    return {"status": "failed" if run.error else "ok", "error": run.error, "html": run.html,
            "notebook": nbformat.writes(run.nb), "results": run.results,
            "log": f"worker {worker}\n{run.log}", "seconds": time.perf_counter() - t0,
            "worker": worker}


# --------------------------------------------------------------------------------------
# Files of a run
# --------------------------------------------------------------------------------------


def _paths(out_dir: Path, run_id: str) -> dict[str, Path]:
    d = out_dir / "runs" / run_id
    return {"dir": d, "report": out_dir / f"{run_id}.html", "notebook": d / "business-case.ipynb",
            "log": d / "run.log", "scenario": d / "scenario.yaml", "manifest": d / "manifest.json"}


def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _cached(out_dir: Path, run: PlannedRun, batch: str = "") -> RunResult | None:
    """The previous successful result of ``run`` when its inputs are unchanged."""
    p = _paths(out_dir, run.run_id)
    m = _read_manifest(p["manifest"])
    if not m or m.get("key") != run.key or m.get("status") != "ok" or \
            not p["report"].is_file():
        return None
    digest = hashlib.sha256(p["report"].read_bytes()).hexdigest()
    if digest != m.get("report_sha256"):
        return None  # the report was changed or is not the one this manifest vouches for
    return RunResult(run, "skipped", report=p["report"], notebook=p["notebook"], log=p["log"],
                     seconds=0.0, worker=m.get("worker", ""), results=m.get("results") or {},
                     attempts=int(m.get("attempts") or 1), batch=m.get("batch") or batch)


def _store(out_dir: Path, run: PlannedRun, out: dict[str, Any],
           batch: tuple[str, str] = ("", "")) -> RunResult:
    """Write a finished run's files (each atomically; the manifest last).

    The manifest carries the run's index row, so the folder's index can be rebuilt from
    what is on disk (:func:`write_folder_index`).
    """
    p = _paths(out_dir, run.run_id)
    if out.get("notebook"):
        write_atomic(p["notebook"], out["notebook"])
    write_atomic(p["log"], out.get("log") or "")
    status = out["status"]
    report = None
    if status == "ok" and out.get("html"):
        write_atomic(p["report"], out["html"])
        report = p["report"]
    else:
        status = "failed"
        p["report"].unlink(missing_ok=True)  # never leave a stale report for changed inputs
    res = RunResult(run, status, out.get("error"), report,
                    p["notebook"] if out.get("notebook") else None, p["log"],
                    float(out.get("seconds") or 0.0), out.get("worker", ""),
                    out.get("results") or {}, int(out.get("attempts") or 1), batch[0])
    html_bytes = out["html"].encode("utf-8") if report else b""
    manifest = {
        "run_id": run.run_id, "key": run.key, "status": status, "error": out.get("error"),
        "batch": batch[0], "batch_name": batch[1],
        "report": p["report"].name if report else None,
        "report_sha256": hashlib.sha256(html_bytes).hexdigest() if report else None,
        "report_bytes": len(html_bytes) if report else None,
        "seconds": out.get("seconds"), "worker": out.get("worker"),
        "attempts": res.attempts,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"), "cxroi_version": cxroi.__version__,
        "results": out.get("results"),
        "row": res.row(out_dir),
    }
    write_atomic(p["manifest"], json.dumps(manifest, indent=1, allow_nan=False, default=str))
    return res


# --------------------------------------------------------------------------------------
# Indexes: this batch's and the folder's, always rebuilt from what is on disk
# --------------------------------------------------------------------------------------

#: A batch's own files next to its reports: ``<id>.index.html``, ``<id>.results.parquet``
#: and ``<id>.batch.json`` (its name and its runs, in plan order).
BATCH_SUFFIXES = (".index.html", ".results.parquet", ".batch.json")


@contextmanager
def _locked(path: Path, shared: bool = False, wait: bool = True) -> Iterator[bool]:
    """``fcntl.flock`` on ``path`` (created if missing); yields False when ``wait`` is
    False and somebody else holds it. Without ``fcntl`` (Windows) it does not lock."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on Linux/macOS
        yield True
        return
    fh = open(path, "a+b")  # noqa: SIM115 - held for the block
    try:
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        try:
            fcntl.flock(fh.fileno(), mode | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    finally:
        fh.close()


def _html_title(path: Path) -> str:
    """The ``<title>`` of an HTML file, the first heading of a Markdown one (else its
    name)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = fh.read(8192)
    except OSError:
        return path.stem
    if path.suffix == ".md":
        m = re.search(r"^#\s+(.+)$", head, re.M)
        return m.group(1).strip() if m else path.stem
    m = re.search(r"<title>(.*?)</title>", head, re.S | re.I)
    return html.unescape(m.group(1).strip()) if m and m.group(1).strip() else path.stem


def _manifest_row(m: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    """The index row of a run from its manifest (older manifests: the essentials)."""
    row = dict(m.get("row") or {})
    if not row:
        row = {"run_id": m.get("run_id"), "scenario": m.get("run_id"), "status": m.get("status"),
               "error": m.get("error"), "key": m.get("key"),
               "prob_npv_negative": (m.get("results") or {}).get("prob_npv_negative")}
        for metric, vals in ((m.get("results") or {}).get("metrics") or {}).items():
            for q in TABLE_QUANTILES:
                row[f"{metric}_{q}"] = (vals or {}).get(q)
    row["status"] = m.get("status")
    row["batch"] = m.get("batch") or row.get("batch") or ""
    report = out_dir / f"{m.get('run_id')}.html"
    size = m.get("report_bytes")
    on_disk = report.is_file() and (size is None or report.stat().st_size == size)
    row["report"] = report.name if m.get("status") == "ok" and on_disk else None
    return row


def folder_rows(out_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every report and run in ``out_dir``, from the files on disk.

    Returns
    -------
    rows : list of dict
        One per run with a manifest (``runs/<run>/manifest.json``: its numbers, status
        and, when its report is on disk, the link), then one per other ``*.html`` or
        ``*.md`` report in the folder or one folder down, ``runs/`` excepted (rendered by
        the app, the calibration report of ``cxroi demo``, ``cxroi measure``'s
        ``measure/measurement.html``, or by hand: title and link only). Runs of a
        batch come in its plan order (``<batch>.batch.json``).
    batches : list of dict
        ``{"id", "name", "href", "runs"}`` per batch written to this folder.
    """
    out_dir = Path(out_dir)
    manifests = {}
    for mp in sorted(out_dir.glob("runs/*/manifest.json")):
        m = _read_manifest(mp)
        if isinstance(m, dict) and m.get("run_id") == mp.parent.name:
            manifests[mp.parent.name] = m
    batches, order = [], []
    for side in sorted(out_dir.glob("*.batch.json")):
        b = _read_manifest(side)
        if not isinstance(b, dict):
            continue
        bid = side.name[: -len(".batch.json")]
        runs = [r for r in b.get("runs") or [] if isinstance(r, str)]
        batches.append({"id": bid, "name": str(b.get("name") or bid),
                        "href": f"{bid}.index.html", "runs": len(runs),
                        "updated": b.get("updated")})
        order += [r for r in runs if r in manifests and r not in order]
    order += [r for r in manifests if r not in order]
    rows = [_manifest_row(manifests[r], out_dir) for r in order]
    covered = {f"{r}.html" for r in manifests}
    others = [p for pattern in ("*.html", "*.md", "*/*.html", "*/*.md")
              for p in sorted(out_dir.glob(pattern))]
    for h in others:
        rel = h.relative_to(out_dir).as_posix()
        if rel == "index.html" or h.name.endswith(".index.html") or rel in covered or \
                any(part.startswith(".") for part in h.relative_to(out_dir).parts) or \
                rel.startswith("runs/"):
            continue
        rows.append({"run_id": rel.rsplit(".", 1)[0], "scenario": _html_title(h),
                     "status": "ok", "report": rel, "batch": ""})
    return rows, batches


def write_folder_index(out_dir: Path, title: str | None = None) -> Path:
    """Rebuild ``out_dir/index.html`` and ``out_dir/results.parquet`` from the folder.

    The top-level index lists every report in the folder (every batch's, the demo's, the
    app's) with links to each batch's own index; it is a function of the files on disk,
    written under a file lock, so two batches writing to one folder never drop each
    other's entries.
    """
    out_dir = Path(out_dir)
    with _locked(out_dir / ".index.lock"):
        return _write_folder_index(out_dir, title)


def _write_folder_index(out_dir: Path, title: str | None = None) -> Path:
    rows, batches = folder_rows(out_dir)
    write_atomic(out_dir / "results.parquet", pd.DataFrame(rows).to_parquet(index=False))
    return render_index(rows, out_dir, title=title or f"CX business cases in {out_dir.name}",
                        batches=batches)


def _clean_stale_temps(out_dir: Path) -> int:
    """Remove temporary files left by a killed batch (never complete files).

    Called only when no other batch is running on the folder (see :func:`run_batch`),
    so a temporary file being written right now is never removed.
    """
    n = 0
    for pattern in (".*.tmp", "runs/*/.*.tmp"):
        for f in out_dir.glob(pattern):
            f.unlink(missing_ok=True)
            n += 1
    return n


# --------------------------------------------------------------------------------------
# Executors
# --------------------------------------------------------------------------------------


def _run_local(tasks: list[dict[str, Any]], workers: int,
               on_done: Callable[[int, dict[str, Any]], None]) -> None:
    """Run on local worker processes; a dead worker costs one retry of its own run."""
    WorkerPool(execute_task, workers, retries=1).run(tasks, on_done)


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
                    progress, t0)


def _run(bspec: BatchSpec, runs: list[PlannedRun], notebook_text: str, nb_path: Path,
         out_dir: Path, workers: int | None, scheduler: str | None, force: bool,
         progress: bool, t0: float) -> BatchResult:
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

    pace = {"last": -math.inf, "cost": 0.0, "stale": False}

    def write_indexes(pending: str = "pending", now: bool = True) -> None:
        """This batch's index and table, then the folder's, under the folder's lock.

        With ``now=False`` (after a run finishes) the rewrite is skipped while the last
        one is more recent than four times its own cost, so index upkeep takes at most
        about a fifth of this process's time on a large folder; the skipped update is
        made by the next one (every small batch rewrites after every run).
        """
        t = time.monotonic()
        if not now and t - pace["last"] < 4 * pace["cost"]:
            pace["stale"] = True
            return
        _write_indexes(pending)
        pace.update(last=time.monotonic(), cost=time.monotonic() - t, stale=False)

    def _write_indexes(pending: str) -> None:
        records = rows(pending)
        frame = pd.DataFrame(records)
        with _locked(out_dir / ".index.lock"):
            write_atomic(out_dir / f"{bid}.batch.json", json.dumps(
                {"batch": bid, "name": bname, "runs": [r.run_id for r in runs],
                 "updated": time.strftime("%Y-%m-%dT%H:%M:%S")}, indent=1))
            write_atomic(batch_table, frame.to_parquet(index=False))
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
    for i in todo:
        r = runs[i]
        p = _paths(out_dir, r.run_id)
        write_atomic(p["scenario"], r.scenario_yaml or "")
        tasks.append({"run_id": r.run_id, "key": r.key, "scenario_path": str(p["scenario"].resolve()),
                      "scenario_yaml": r.scenario_yaml, "notebook": notebook_text, "cwd": cwd,
                      "draws": bspec.draws, "seed": bspec.seed,
                      "data_fingerprint": bspec.data_fingerprint, "timeout": bspec.timeout})

    n_skipped = sum(1 for r in results if r is not None and r.status == "skipped")
    n_failed = sum(1 for r in results if r is not None and r.status == "failed")
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(tasks), unit="run", desc=f"cxroi batch ({n_skipped} unchanged)",
                   dynamic_ncols=True)
    counts = {"done": 0, "failed": n_failed}

    def on_done(k: int, out: dict[str, Any]) -> None:
        i = todo[k]
        res = _store(out_dir, runs[i], out, (bid, bname))
        results[i] = res
        write_indexes(now=False)
        counts["done"] += 1
        if res.status == "failed":
            counts["failed"] += 1
        if bar is not None:
            bar.set_postfix_str(f"done {counts['done']}, failed {counts['failed']}, "
                                f"left {len(tasks) - counts['done']}", refresh=False)
            bar.update(1)

    finished = False
    try:
        if tasks:
            if scheduler:
                _run_dask(tasks, scheduler, on_done)
            else:
                n = workers or os.cpu_count() or 1
                _run_local(tasks, max(1, min(n, len(tasks))), on_done)
        finished = True
    finally:
        if bar is not None:
            bar.close()
        if not finished and any(r is None for r in results):
            write_indexes("interrupted")
        elif pace["stale"]:
            write_indexes()

    final = [r if r is not None else RunResult(runs[i], "failed", "not run (interrupted)",
                                               batch=bid)
             for i, r in enumerate(results)]
    return BatchResult(final, out_dir, out_dir / "index.html", batch_table,
                       time.perf_counter() - t0, batch_index, out_dir / "results.parquet")

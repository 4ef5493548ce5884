"""The files of a batch: each run's report, notebook, log and manifest (written
atomically, the manifest last), the cache check, and the folder's index rebuilt from
what is on disk under a file lock.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import sys
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import cxroi
from cxroi.batch.results import TABLE_QUANTILES, PlannedRun, RunResult
from cxroi.batch.table import parquet_bytes
from cxroi.files import locked, write_atomic
from cxroi.report.index import render_index


def _paths(out_dir: Path, run_id: str) -> dict[str, Path]:
    d = out_dir / "runs" / run_id
    return {"dir": d, "report": out_dir / f"{run_id}.html", "notebook": d / "business-case.ipynb",
            "log": d / "run.log", "scenario": d / "scenario.yaml", "manifest": d / "manifest.json"}


def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


#: Run manifests read by this process, per ``runs/`` folder: {runs dir: {manifest path:
#: ((mtime_ns, size, inode), manifest)}}, the folder scanned last at the end. A manifest is
#: only ever replaced whole (renamed over), so an unchanged stat is an unchanged file; the
#: folder's index, rebuilt as runs finish, then reads only new ones. Each scan keeps only
#: the manifests it saw (a deleted run is forgotten), and folders scanned longest ago are
#: dropped once the cache holds more than :data:`MANIFEST_CACHE_SIZE` manifests, so a
#: long-lived process (the app, Jupyter) holds at most that many.
_MANIFESTS: OrderedDict[Path, dict[Path, tuple[tuple[int, int, int], Any]]] = OrderedDict()
_MANIFESTS_LOCK = threading.Lock()

#: The most run manifests :func:`folder_rows` keeps parsed between scans (all folders;
#: ≈ 8 KiB each, so ≈ 32 MB at most).
MANIFEST_CACHE_SIZE = 4096


#: What the folder's index reads of a run's manifest (:func:`_manifest_row`).
_INDEX_KEYS = ("run_id", "status", "batch", "error", "key", "report_bytes", "row")


def _index_part(m: Any) -> Any:
    """The part of a parsed manifest that the folder's index reads (its row, not its full
    results; the row's column names interned), or ``m`` itself when it is not a
    manifest: ≈ 8 KiB in memory instead of ≈ 38 KiB (a 32-run batch's manifest)."""
    if not isinstance(m, dict):
        return m
    part = {k: m[k] for k in _INDEX_KEYS if k in m}
    if isinstance(part.get("row"), dict):  # its column names shared by every manifest
        part["row"] = {sys.intern(k): v for k, v in part["row"].items()}
    if not m.get("row"):  # an older manifest: its row is made from its results
        part["results"] = m.get("results")
    return part


def _read_manifests_cached(out_dir: Path) -> dict[str, dict[str, Any]]:
    """Every valid run manifest of ``out_dir`` (``runs/<run>/manifest.json`` whose
    ``run_id`` is its folder's name), by run, in folder-name order.

    Only the part the index reads is returned and kept (:func:`_index_part`); a manifest
    is parsed again only when its file changed (modification time, size or inode); the
    caller must not modify the manifests it gets.
    """
    runs_dir = out_dir / "runs"
    with _MANIFESTS_LOCK:
        old = _MANIFESTS.pop(runs_dir, {})
    seen: dict[Path, tuple[tuple[int, int, int], Any]] = {}
    out: dict[str, dict[str, Any]] = {}
    for mp in sorted(runs_dir.glob("*/manifest.json")):
        try:
            st = mp.stat()
        except OSError:
            continue
        sig = (st.st_mtime_ns, st.st_size, st.st_ino)
        got = old.get(mp)
        m = got[1] if got is not None and got[0] == sig else _index_part(_read_manifest(mp))
        if len(seen) < MANIFEST_CACHE_SIZE:
            seen[mp] = (sig, m)
        if isinstance(m, dict) and m.get("run_id") == mp.parent.name:
            out[mp.parent.name] = m
    with _MANIFESTS_LOCK:
        _MANIFESTS.pop(runs_dir, None)  # a scan of the same folder in another thread
        _MANIFESTS[runs_dir] = seen
        total = sum(len(v) for v in _MANIFESTS.values())
        while total > MANIFEST_CACHE_SIZE and len(_MANIFESTS) > 1:
            total -= len(_MANIFESTS.popitem(last=False)[1])
    return out


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


#: The lock of the batch folder (:func:`cxroi.files.locked`).
_locked = locked


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
    manifests = _read_manifests_cached(out_dir)
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
    write_atomic(out_dir / "results.parquet", parquet_bytes(rows))
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



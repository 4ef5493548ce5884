"""What a batch plans and what happens to each run: :class:`PlannedRun`,
:class:`RunResult`, :class:`BatchResult`, and the content hash that decides whether a
run is redone.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cxroi
from cxroi.files import code_fingerprint

if TYPE_CHECKING:
    import pandas as pd

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
    #: :func:`cxroi.report.common.scenario_data_key` of the scenario ``scenario_yaml``
    #: was written from (the worker then hashes that text for the report's fingerprint).
    scenario_key: str | None = None


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
        import pandas as pd

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


def _content_key(scenario_yaml: str, notebook_text: str, params: dict[str, Any]) -> str:
    h = hashlib.sha256()
    for part in (scenario_yaml, notebook_text, cxroi.__version__, code_fingerprint(),
                 json.dumps(params, sort_keys=True)):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


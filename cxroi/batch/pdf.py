"""PDFs of a batch's reports (``cxroi batch --pdf``): each report printed with headless
Chromium through :func:`cxroi.report.write_pdf`, next to its HTML."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cxroi.batch.results import BatchResult
from cxroi.errors import CxroiError


@dataclass(frozen=True)
class PdfOutcome:
    """One report's PDF: ``pdf`` when it was written (or already up to date), else
    ``error``."""

    run_id: str
    pdf: Path | None
    error: str | None = None


def write_batch_pdfs(result: BatchResult, paper: str = "A4",
                     force: bool = False) -> list[PdfOutcome]:
    """Print every report of a batch to ``<run>.pdf`` beside ``<run>.html``.

    A report of a run skipped as unchanged keeps its PDF when that PDF is newer than the
    report (``force`` prints it again). A PDF that fails is reported for its run (the
    :class:`cxroi.errors.ReportError` message) and the others are still printed.

    Parameters
    ----------
    result : BatchResult
        From :func:`cxroi.batch.run_batch`.
    paper : {"A4", "letter"}
        Paper size.
    force : bool
        Print reports whose PDF is up to date too.

    Returns
    -------
    list of PdfOutcome
        One per run with a report, in plan order.
    """
    from cxroi.report import write_pdf

    out = []
    for run in result.runs:
        if run.report is None or run.status not in {"ok", "skipped"}:
            continue
        pdf = run.report.with_suffix(".pdf")
        if not force and run.status == "skipped" and pdf.is_file() and \
                pdf.stat().st_mtime >= run.report.stat().st_mtime:
            out.append(PdfOutcome(run.run_id, pdf))
            continue
        try:
            out.append(PdfOutcome(run.run_id, write_pdf(run.report, pdf, paper=paper)))
        except CxroiError as exc:
            out.append(PdfOutcome(run.run_id, None, str(exc)))
    return out

"""The report as PDF: headless Chromium prints it (no other PDF engine).

Page 1 of a report is its one-page summary on A4 and on US Letter.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from cxroi.errors import ReportError

PAPERS: dict[str, str] = {"a4": "A4", "letter": "letter"}


def chromium_path() -> Path | None:
    """The Chromium (or Chrome) executable: ``CXROI_CHROMIUM``, then ``chromium``,
    ``chromium-browser``, ``google-chrome`` on the PATH, then ``/usr/bin/chromium``."""
    import shutil

    env = os.environ.get("CXROI_CHROMIUM")
    if env:
        return Path(env) if Path(env).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return Path(found)
    p = Path("/usr/bin/chromium")
    return p if p.is_file() else None


def require_chromium() -> Path:
    """:func:`chromium_path`, or a :class:`ReportError` saying how to get one."""
    exe = chromium_path()
    if exe is None:
        where = os.environ.get("CXROI_CHROMIUM")
        found = f"CXROI_CHROMIUM={where} is not a file" if where else "no Chromium found"
        raise ReportError(f"cannot write a PDF: {found}. Fix: install Chromium "
                          "(`apt-get install chromium`) or set CXROI_CHROMIUM to a Chromium "
                          "or Chrome executable; the HTML report prints to PDF from any "
                          "browser too")
    return exe


def write_pdf(html_path: str | os.PathLike[str], pdf_path: str | os.PathLike[str] | None = None,
              paper: str = "A4", timeout: float = 180.0) -> Path:
    """Print a report (or any self-contained HTML file) to PDF with headless Chromium.

    Page 1 of a report is its one-page summary on A4 and on US Letter.

    Parameters
    ----------
    html_path : path
        The HTML file (e.g. from :func:`render_report`).
    pdf_path : path, optional
        Where to write the PDF; default: ``html_path`` with ``.pdf``.
    paper : {"A4", "letter"}
        Paper size.
    timeout : float
        Seconds Chromium may take.

    Returns
    -------
    Path
        The PDF, written atomically.

    Raises
    ------
    ReportError
        No Chromium (the message says how to install or point to one), an unknown paper
        size, a missing HTML file, or Chromium failing.
    """
    import shutil
    import subprocess

    html_path = Path(html_path)
    pdf = Path(pdf_path) if pdf_path else html_path.with_suffix(".pdf")
    size = PAPERS.get(paper.lower())
    if size is None:
        raise ReportError(f"paper '{paper}' is not known. Fix: use one of A4, letter")
    if not html_path.is_file():
        raise ReportError(f"{html_path}: no such HTML file to print. Fix: render the report "
                          "first (`cxroi report SCENARIO`)")
    exe = require_chromium()
    page_rule = "<style>@page { size: " + size + "; }</style>"
    with tempfile.TemporaryDirectory(prefix="cxroi-pdf-") as tmp:
        src = Path(tmp) / "report.html"
        text = html_path.read_text("utf-8")
        src.write_text(text.replace("</head>", page_rule + "</head>", 1), "utf-8")
        out = Path(tmp) / "report.pdf"
        cmd = [str(exe), "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--no-pdf-header-footer",
               "--print-to-pdf-no-header", f"--user-data-dir={Path(tmp) / 'profile'}",
               f"--print-to-pdf={out}", src.as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise ReportError(f"{html_path}: Chromium took more than {timeout:.0f} s to print "
                              "the PDF. Fix: try again on a less busy machine") from None
        if not out.is_file() or not out.read_bytes()[:5] == b"%PDF-":
            tail = (proc.stderr or "").strip().splitlines()[-3:]
            raise ReportError(f"{html_path}: Chromium ({exe}) did not write a PDF (exit "
                              f"{proc.returncode}: {' / '.join(tail)}). Fix: check that "
                              "Chromium starts headless on this machine")
        pdf.parent.mkdir(parents=True, exist_ok=True)
        part = pdf.with_name(f".{pdf.name}.part")
        shutil.copyfile(out, part)
        os.replace(part, pdf)
    return pdf

"""The index of a batch (and of a reports folder): one sortable row per run, with a
link to its report, written as one self-contained HTML page."""

from __future__ import annotations

import datetime as _dt
import html
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cxroi.files import write_atomic
from cxroi.pitch import chance, fmt
from cxroi.report.common import report_css

if TYPE_CHECKING:
    import pandas as pd

_e = html.escape

_INDEX_COLUMNS: list[tuple[str, str, str]] = [
    # (column, heading, unit)
    ("scenario", "Scenario", "text"),
    ("initiative", "Initiative", "text"),
    ("segment", "Segment", "text"),
    ("variant", "Variant", "text"),
    ("npv_p50", "NPV P50", "money"),
    ("npv_p10", "NPV P10", "money"),
    ("npv_p90", "NPV P90", "money"),
    ("npv_risk_adjusted_p50", "Risk-adj. NPV", "money"),
    ("roi_p50", "ROI", "share"),
    ("payback_month_p50", "Payback month", "month"),
    ("prob_npv_negative", "Chance of losing money", "chance"),
    ("status", "Status", "text"),
]

_SORT_JS = """
document.querySelectorAll('th[data-col]').forEach(function (th) {
  th.addEventListener('click', function () {
    var table = th.closest('table'), body = table.tBodies[0], col = th.cellIndex;
    var asc = th.getAttribute('aria-sort') !== 'ascending';
    table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col].getAttribute('data-sort'), y = b.cells[col].getAttribute('data-sort');
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
      return asc ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"""


#: Where a run that never pays back sorts in the payback column: after every month.
_NEVER = 1e9


def _ran(rec: Mapping[str, Any]) -> bool:
    """Did the run give its figures (its NPV is a number)? Then a missing payback month
    means the median simulation does not pay back within the horizon, not missing data."""
    npv = rec.get("npv_p50")
    return (rec.get("status") in {"ok", "skipped"} and isinstance(npv, int | float)
            and not isinstance(npv, bool) and math.isfinite(npv))


def render_index(results: Iterable[Mapping[str, Any]] | pd.DataFrame, out_dir: Path,
                 title: str = "cxroi batch", filename: str = "index.html",
                 batches: Iterable[Mapping[str, Any]] | None = None) -> Path:
    """Write ``out_dir/<filename>``: one sortable row per run with a link to its report.

    A batch writes two (see ``docs/batch.md``): its own ``<batch>.index.html`` and the
    folder's ``index.html``, which :func:`cxroi.batch.write_folder_index` rebuilds from
    every report and run manifest on disk.

    Parameters
    ----------
    results : DataFrame or iterable of mappings
        One row per run with at least ``run_id`` and ``status``; the columns of
        :data:`_INDEX_COLUMNS` where known, ``report`` (path relative to ``out_dir``),
        ``error``, ``currency`` and ``batch`` (shown as a column when any row has one).
    out_dir : Path
        The reports folder.
    title : str
        Page heading.
    filename : str
        The index's file name in ``out_dir``.
    batches : iterable of mappings, optional
        Links shown above the table: ``{"name", "href"}`` and optionally ``"runs"``.

    Returns
    -------
    Path
        The index file (written atomically).
    """
    records = results.to_dict("records") if hasattr(results, "to_dict") and \
        hasattr(results, "columns") else [dict(r) for r in results]
    out_dir = Path(out_dir)
    n = len(records)
    counts: dict[str, int] = {}
    for rec in records:
        s = rec.get("status")
        counts[str(s)] = counts.get(str(s), 0) + 1
    columns = list(_INDEX_COLUMNS)
    if any(isinstance(rec.get("batch"), str) and rec["batch"] for rec in records):
        columns.insert(0, ("batch", "Batch", "text"))
    head = "".join(f'<th data-col="{c}" scope="col">{_e(h)}</th>'
                   for c, h, _ in columns) + "<th>Report</th>"
    rows = []
    for rec in records:
        cur = rec.get("currency")
        cur = cur if isinstance(cur, str) and cur else "USD"
        cells = []
        for col, _, unit in columns:
            v = rec.get(col)
            if unit == "text":
                text = "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
                cls = f" class='status {_e(text)}'" if col == "status" else ""
                cells.append(f"<td data-sort='{_e(text)}'{cls}>{_e(text)}</td>")
            else:
                ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                never = not ok and unit == "month" and _ran(rec)
                if never:  # the median simulation does not pay back within the horizon
                    shown, v, ok = fmt(math.inf, unit, cur), _NEVER, True
                elif not ok:
                    shown = "–"
                elif unit == "chance":  # the report's wording: under 1%, 12%, over 99%
                    shown = chance(float(v))
                else:
                    shown = fmt(float(v), unit, cur)
                sort = repr(float(v)) if ok else ""
                cells.append(f"<td class='num' data-sort='{sort}'>{_e(shown)}</td>")
        link = rec.get("report")
        if isinstance(link, str) and link and rec.get("status") in {"ok", "skipped"}:
            cells.append(f"<td><a href='{_e(link)}'>report</a></td>")
        else:
            err = rec.get("error")
            err = err if isinstance(err, str) else ""
            cells.append(f"<td class='error'>{_e(err[:400])}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    links = ""
    for b in batches or []:
        runs = f" ({b['runs']} runs)" if b.get("runs") is not None else ""
        links += f"<li><a href='{_e(str(b['href']))}'>{_e(str(b['name']))}</a>{_e(runs)}</li>"
    links = f"<nav><ul class='batches'>{links}</ul></nav>" if links else ""
    said = {"ok": "rendered", "skipped": "unchanged (skipped)", "failed": "failed"}
    parts = [f"{counts.get(k, 0)} {v}" for k, v in said.items()]
    parts += [f"{c} {_e(str(k))}" for k, c in counts.items() if k not in said]
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
<style>{report_css()}
td.status.pending, td.status.interrupted {{ color: #6b6b6b; font-style: italic; }}
ul.batches {{ padding-left: 1.2em; }}</style></head>
<body class="cx-index"><main>
<h1>{_e(title)}</h1>
{links}
<p>{n} runs: {', '.join(parts)}. Click a heading to sort. NPV figures are P50 with the P10
and P90 of the simulations. Written {stamp}.</p>
<table class="index"><thead><tr>{head}</tr></thead><tbody>
{''.join(rows)}
</tbody></table>
<p class="note">Results table for analysis: results.parquet (every run in this folder) and
&lt;batch&gt;.results.parquet (one batch). Executed notebooks and logs: runs/&lt;run&gt;/.</p>
</main><script>{_SORT_JS}</script></body></html>
"""
    return write_atomic(out_dir / filename, page)

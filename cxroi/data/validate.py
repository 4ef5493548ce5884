"""Validation at the door: type every column, check values, keys and dates, and report
every problem at once with table, rows, column and fix.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from cxroi.data.columns import (
    _DECIMAL_COMMA,
    _apply_codes,
    _as_id,
    _blank,
    _code_key,
    _header_hint,
    _parse_dates,
    _rows_text,
    _stripped,
    _to_number,
)
from cxroi.data.company import CompanyData
from cxroi.data.contract import (
    _FLAG_WORDS,
    CONTRACT,
    CUSTOMERS_SHAPE,
    EMOTIONS,
    FOREIGN_KEYS,
    TABLES_SHAPE,
    UNIQUE,
)
from cxroi.data.keys import duplicated, positions
from cxroi.data.mapping import Mapping, Options, TableMapping, load_mapping
from cxroi.data.readers import _Raw, _wanted, read_raw
from cxroi.errors import DataError, Problem

log = logging.getLogger(__name__)

def _prepare_table(table: str, raw: _Raw, tm: TableMapping, probs: list[Problem],
                   opts: Options, mapping_source: str = "the mapping") -> pd.DataFrame:
    """Rename, decode and type one table; append problems instead of raising."""
    df = raw.frame.copy(deep=False)
    df.columns = [str(c).strip() for c in df.columns]
    contract = CONTRACT[table]
    word = raw.row_word
    present = list(df.columns)
    lower: dict[str, str] = {}
    for c in present:
        lower.setdefault(c.casefold(), c)
    rename: dict[str, str] = {}
    mapped_missing: dict[str, Problem] = {}
    for col, yours in tm.columns.items():
        name = str(yours).strip()
        if name not in present and name.casefold() in lower:
            name = lower[name.casefold()]  # 'customerid' for 'CustomerID'
        if name not in present:
            close = difflib.get_close_matches(name, present, n=1)
            if not close:
                close = difflib.get_close_matches(name.casefold(), list(lower), n=1)
                close = [lower[close[0]]] if close else []
            mapped_missing[col] = Problem(
                f"{table} ({raw.origin})",
                f"{mapping_source} maps {col} to column '{yours}', which the {table} data "
                "do not have",
                (f"did you mean '{close[0]}'? Set tables.{table}.columns.{col}: '{close[0]}' in "
                 f"{mapping_source}") if close else
                f"correct tables.{table}.columns.{col} in {mapping_source} to one of the file's "
                "columns, or remove it")
            continue
        rename[name] = col
    # the file's own column with a contract name that the mapping takes from elsewhere
    for c in present:
        if c in contract and c not in rename and c in tm.columns:
            rename[c] = f"{c} (not used: mapped from another column)"
    # a contract name may also be matched case-insensitively
    for col in contract:
        if col not in tm.columns and col not in present and col.casefold() in lower:
            rename[lower[col.casefold()]] = col
    df.columns = [rename.get(c, c) for c in df.columns]  # (rename() would copy every column)
    required = [c for c, spec in contract.items() if spec.required]
    if required and not any(c in df.columns for c in contract):
        wanted = _wanted(table, tm)
        probs.append(Problem(f"{table} ({raw.origin})",
                             f"no column of the {table} contract was found (missing: "
                             f"{', '.join(required)})", _header_hint(table, raw, tm, wanted)))
        return pd.DataFrame({"_row": np.arange(len(df), dtype=np.int64) + raw.row_base})
    rows = raw.rows if raw.rows is not None else np.arange(len(df), dtype=np.int64) + raw.row_base
    out: dict[str, Any] = {"_row": rows}  # typed columns, framed once at the end (no copies)
    probs.extend(mapped_missing.values())
    for col, spec in contract.items():
        if col not in df.columns:
            if spec.required and col not in mapped_missing:
                yours = tm.columns.get(col)
                close = difflib.get_close_matches(yours or col, list(df.columns), n=1)
                hint = (f"map it in the mapping file: tables.{table}.columns.{col}: "
                        f"'{close[0]}'?" if close else
                        f"add a '{col}' column ({spec.describe}) or map yours under "
                        f"tables.{table}.columns")
                msg = (f"missing column '{col}'" + (f" (mapped to '{yours}')" if yours else ""))
                probs.append(Problem(f"{table} ({raw.origin})", msg, hint))
            continue
        s = df[col]
        if col in tm.codes:
            s = _apply_codes(s, tm.codes[col])
        txt = _stripped(s)
        empty = _blank(s, txt)
        if spec.kind in {"id", "text"}:
            val = _as_id(s, txt) if spec.kind == "id" else (
                txt.mask(pd.Series(empty, index=s.index), pd.NA) if empty.any() else txt)
        elif spec.kind == "number":
            val = _to_number(s, tm, txt)
            bad = val.isna().to_numpy() & ~empty
            if bad.any():
                ex = s[bad].astype(str).head(3).tolist()
                comma = tm.decimal == "." and all(_DECIMAL_COMMA.match(x) for x in ex)
                fix = (f"these look like decimal commas: set tables.{table}.decimal: ',' (and "
                       f"tables.{table}.thousands: '.' if 1.234,56 is written) in the mapping"
                       if comma else
                       "write plain numbers (no units, %, or thousands separators; set "
                       f"tables.{table}.decimal / thousands for 1.234,56), or map codes under "
                       f"tables.{table}.codes.{col}")
                probs.append(Problem(f"{table} {_rows_text(rows[bad], word)}, column {col}",
                                     f"wrong type: expected a number, got {ex}", fix))
        elif spec.kind == "flag":
            val = s.map(lambda v: _FLAG_WORDS.get(_code_key(v)), na_action="ignore").astype(float)
            bad = val.isna().to_numpy() & ~empty
            if bad.any():
                ex = s[bad].astype(str).head(3).tolist()
                probs.append(Problem(f"{table} {_rows_text(rows[bad], word)}, column {col}",
                                     f"wrong type: expected a 0/1 flag, got {ex}",
                                     f"use 1/0 (or yes/no), or map them under tables.{table}.codes.{col}"))
        else:  # date
            val, conflict = _parse_dates(s, tm.dates.get(col), tm.dayfirst, txt)
            if conflict is not None:
                d_rows, m_rows = rows[conflict[0]], rows[conflict[1]]
                probs.append(Problem(
                    f"{table} column {col}",
                    f"dates in two orders: day first in {_rows_text(d_rows, word, 3)} "
                    f"(e.g. {s[conflict[0]].astype(str).iloc[0]!r}), month first in "
                    f"{_rows_text(m_rows, word, 3)} (e.g. {s[conflict[1]].astype(str).iloc[0]!r})",
                    f"export the column in one date format, or give it under "
                    f"tables.{table}.dates.{col} (e.g. '%d/%m/%Y')"))
            bad = val.isna().to_numpy() & ~empty
            if bad.any():
                ex = s[bad].astype(str).head(3).tolist()
                probs.append(Problem(f"{table} {_rows_text(rows[bad], word)}, column {col}",
                                     f"unparseable date {ex}", _date_fix(ex, table, col)))
        if not spec.nullable:
            miss = empty
            if miss.any():
                what = "empty segment" if col == "segment" else f"missing value in '{col}'"
                fix = ("give every account a segment (e.g. Enterprise / Mid-market / SMB), or "
                       f"map blank codes under tables.{table}.codes.segment"
                       if col == "segment" else f"fill in {col} ({spec.describe})")
                probs.append(Problem(f"{table} {_rows_text(rows[miss], word)}, column {col}",
                                     what, fix))
        if spec.kind in {"number"} and (spec.low is not None or spec.high is not None):
            lo = opts.emotion_scale[0] if col in EMOTIONS else spec.low
            hi = opts.emotion_scale[1] if col in EMOTIONS else spec.high
            v = val.to_numpy(dtype=float)
            with np.errstate(invalid="ignore"):
                out_of = ((v < lo) if lo is not None else False) | ((v > hi) if hi is not None else False)
            out_of = np.asarray(out_of, dtype=bool) & ~np.isnan(v)
            if out_of.any():
                rng_txt = (f"{lo:g}-{hi:g}" if hi is not None and lo is not None
                           else f">= {lo:g}" if lo is not None else f"<= {hi:g}")
                label = "NPS" if col == "nps" else col
                probs.append(Problem(f"{table} {_rows_text(rows[out_of], word)}, column {col}",
                                     f"{label} outside {rng_txt} (got {v[out_of][:3].tolist()})",
                                     f"{col} must be on the {rng_txt} scale; rescale or fix the rows"
                                     + (" (set options.emotion_scale for another scale)"
                                        if col in EMOTIONS else "")))
        out[col] = val
        if col not in tm.keep:
            del df[col]  # typed: this table's raw column is no longer needed
    for extra in tm.keep:
        if extra not in df.columns:
            close = difflib.get_close_matches(extra, list(df.columns), n=1)
            probs.append(Problem(f"{table} ({raw.origin})", f"missing column '{extra}' (listed under keep)",
                                 f"did you mean '{close[0]}'?" if close else "remove it from keep"))
            continue
        s = df[extra]
        if extra in tm.codes:
            s = _apply_codes(s, tm.codes[extra])
        out[extra] = s
    return pd.DataFrame({k: v.array if isinstance(v, pd.Series) else v for k, v in out.items()}, copy=False)


_SERIAL = re.compile(r"\d{5}(\.0+)?")  # Excel's day numbers: 1927-2173
_UNIX = re.compile(r"\d{9,10}(\.0+)?")  # seconds since 1970: 1973-2286


def _date_fix(examples: list[str], table: str, col: str) -> str:
    """The fix of unparseable dates; numbers get the fix no date format can give."""
    where = f"tables.{table}.dates.{col}"
    if all(_SERIAL.fullmatch(x) for x in examples):
        first = int(float(examples[0]))
        day = (pd.Timestamp("1899-12-30") + pd.Timedelta(days=first)).date()
        return (f"these look like Excel serial day numbers ({first} is {day}): format the "
                "column as dates in Excel (Format Cells > Date) before saving, or convert "
                "them (date = 1899-12-30 + the number of days)")
    if all(_UNIX.fullmatch(x) for x in examples):
        first = int(float(examples[0]))
        day = pd.Timestamp(first, unit="s").date()
        return (f"these look like Unix time in seconds ({first} is {day}): export the "
                "column as dates (YYYY-MM-DD), or convert it before loading")
    return f"use YYYY-MM-DD, or give the format under {where} (e.g. '%d/%m/%Y')"


def _cross_checks(t: dict[str, pd.DataFrame], words: dict[str, str], probs: list[Problem]
                  ) -> dict[tuple[str, str], tuple[np.ndarray, Any, Any]]:
    """Unique ids, known foreign keys and date order; returns the foreign keys' rows
    (:attr:`CompanyData.key_rows`)."""
    key_rows: dict[tuple[str, str], tuple[np.ndarray, Any, Any]] = {}
    for table, col in UNIQUE.items():
        if table in t and col in t[table]:
            dup = duplicated(t[table][col])
            if dup.any():
                ids = t[table][col][dup].drop_duplicates().head(3).tolist()
                probs.append(Problem(f"{table} {_rows_text(t[table]['_row'].to_numpy()[dup], words[table])}, column {col}",
                                     f"duplicate id {ids}",
                                     f"each {col} must appear once; remove repeated rows or give them new ids"))
    for (table, col), (other, ocol) in FOREIGN_KEYS.items():
        if table in t and other in t and col in t[table] and ocol in t[other]:
            s = t[table][col]
            pos = positions(s, t[other][ocol])
            key_rows[(table, col)] = (pos, s.array, t[other][ocol].array)
            unknown = (pos < 0) & s.notna().to_numpy()
            if unknown.any():
                ids = s[unknown].drop_duplicates().head(3).tolist()
                noun = "account" if ocol == "account_id" else "ticket"
                probs.append(Problem(f"{table} {_rows_text(t[table]['_row'].to_numpy()[unknown], words[table])}, column {col}",
                                     f"unknown {noun} {ids} ({table} of {noun}s not in the {other} table)",
                                     f"add the {noun}s to {other}, or remove these rows"))
    if all(k in key_rows for k in (("surveys", "ticket_id"), ("surveys", "account_id"),
                                   ("tickets", "account_id"))):
        # a survey after a complaint belongs to the complaint's account: compared as the
        # account rows both ids were matched to above (ids are unique; an unknown id is
        # reported above, not again here)
        pos = key_rows[("surveys", "ticket_id")][0]
        known = np.flatnonzero(pos >= 0)
        theirs = key_rows[("tickets", "account_id")][0][pos[known]]
        mine = key_rows[("surveys", "account_id")][0][known]
        other = (theirs != mine) & (theirs >= 0) & (mine >= 0)
        if other.any():
            rows = known[other]
            first = int(rows[0])
            tid = t["surveys"]["ticket_id"].iloc[first]
            owner = t["tickets"]["account_id"].iloc[int(pos[first])]
            trow = int(t["tickets"]["_row"].iloc[int(pos[first])])
            probs.append(Problem(
                f"surveys {_rows_text(t['surveys']['_row'].to_numpy()[rows], words['surveys'])}, column account_id",
                f"the survey's ticket ['{tid}'] is another account's (tickets {words['tickets']} {trow}: "
                f"'{owner}')",
                "a survey after a complaint belongs to the complaint's account: check how the export "
                "joined surveys to tickets (or leave ticket_id empty for a relationship survey)"))
    pairs = [("tickets", "opened_at", "resolved_at", "resolved before opened",
              "check the two dates (swapped? day and month mixed up? set tables.tickets.dates)"),
             ("accounts", "start_date", "end_date", "ended before it started",
              "check the two dates; end_date is empty while the account is active"),
             ("surveys", "sent_at", "responded_at", "answered before it was sent",
              "check the two dates")]
    for table, a, b, msg, fix in pairs:
        if table in t and a in t[table] and b in t[table]:
            bad = (t[table][b] < t[table][a]).to_numpy(dtype=bool)
            if bad.any():
                probs.append(Problem(f"{table} {_rows_text(t[table]['_row'].to_numpy()[bad], words[table])}, column {b}",
                                     msg, fix))
    return key_rows


#: Dates of events (the data window is their span); accounts' start dates may lie long before.
_EVENT_DATES = (("tickets", "opened_at"), ("tickets", "resolved_at"), ("surveys", "sent_at"),
                ("surveys", "responded_at"), ("orders", "date"), ("accounts", "end_date"))
#: A stretch of this many months without any event date, with at most ``STRAY_SHARE`` of the
#: dates on its far side, marks those dates as strays (a typo in the year, a placeholder).
STRAY_GAP_MONTHS = 12
STRAY_SHARE = 0.01


def _stray_dates(t: dict[str, pd.DataFrame], words: dict[str, str], opts: Options,
                 probs: list[Problem]) -> None:
    """Event dates far from all the others: one of them would set the data window (the
    first and last event dates) and with it every rate and link (an order typed in 2099
    made the window 900 months long; a ticket typed in 2000 moved its start 23 years).

    The event dates are counted by day (``np.bincount``: linear in rows), the days by month;
    the months split into runs wherever at least ``STRAY_GAP_MONTHS`` months hold no date;
    a run other than the largest that holds at most ``STRAY_SHARE`` of the dates is a
    problem naming its rows (ten million tickets: about 0.6 s).
    Dates outside ``options.window_start`` / ``window_end`` are left out of the fits anyway
    and are not looked at, nor are end dates before the first event (such accounts are
    left out as "ended before the data window").
    """
    day_ns, nat = 86_400_000_000_000, np.iinfo(np.int64).min
    lo = pd.Timestamp(opts.window_start).value if opts.window_start else None
    hi = pd.Timestamp(opts.window_end).value if opts.window_end else None
    cols: list[tuple[str, str, np.ndarray, np.ndarray]] = []  # table, column, ok, day
    for table, col in _EVENT_DATES:
        if table in t and col in t[table] and pd.api.types.is_datetime64_any_dtype(t[table][col]):
            ns = t[table][col].to_numpy(dtype="datetime64[ns]").view(np.int64)
            ok = ns != nat
            if col == "end_date" and cols:  # accounts that left before the first event: left out
                ok &= ns >= min((int(day[k].min()) for _, _, k, day in cols if k.any()),
                                default=nat // day_ns) * day_ns
            if lo is not None:
                ok &= ns >= lo
            if hi is not None:
                ok &= ns <= hi
            cols.append((table, col, ok, np.floor_divide(ns, day_ns)))
    if sum(int(ok.sum()) for _, _, ok, _ in cols) < 2:
        return
    d0 = min(int(day[ok].min()) for _, _, ok, day in cols if ok.any())
    span = max(int(day[ok].max()) for _, _, ok, day in cols if ok.any()) - d0 + 1
    per_day = np.zeros(span, dtype=np.int64)
    for _, _, ok, day in cols:
        per_day += np.bincount(day[ok] - d0, minlength=span)
    days = np.flatnonzero(per_day)
    month_of_day = (days + d0).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    months, at = np.unique(month_of_day, return_inverse=True)
    counts = np.bincount(at, weights=per_day[days])
    run = np.concatenate([[0], np.cumsum(np.diff(months) > STRAY_GAP_MONTHS)])
    if run[-1] == 0:
        return
    per_run = np.bincount(run, weights=counts)
    main = int(np.argmax(per_run))
    stray_run = (per_run <= STRAY_SHARE * per_run.sum()) & (np.arange(len(per_run)) != main)
    if not stray_run.any():
        return
    stray_day = np.zeros(span, dtype=bool)
    stray_day[days] = stray_run[run[at]]
    body = months[run == main]

    def month_text(m: int) -> str:
        return pd.Timestamp(np.datetime64(int(m), "M")).strftime("%b %Y")

    for table, col, ok, day in cols:
        bad = np.zeros(len(ok), dtype=bool)
        bad[ok] = stray_day[day[ok] - d0]
        if not bad.any():
            continue
        d = t[table][col][bad]
        ex = d.dt.strftime("%Y-%m-%d").drop_duplicates().head(3).tolist()
        m = int(np.datetime64(d.iloc[0], "M").astype(np.int64))
        gap = int(body[0] - m - 1) if m < body[0] else int(m - body[-1] - 1)
        fix = ("end_date is empty while the account is active (a placeholder such as 2099-12-31 "
               "is not a leaving date); correct it or leave it empty"
               if col == "end_date" else
               "correct the date (a typo in the year?) or remove the row; to study only part of "
               "the data, set options.window_start / window_end in the mapping")
        probs.append(Problem(
            f"{table} {_rows_text(t[table]['_row'].to_numpy()[bad], words[table])}, column {col}",
            f"date far from the rest of the data {ex} (the other dates run from "
            f"{month_text(body[0])} to {month_text(body[-1])}; no date in the {gap} months "
            "between)", fix))


def _churn_checks(t: dict[str, pd.DataFrame], probs: list[Problem]) -> list[Problem]:
    """All accounts left, or none did: churn cannot be measured (an error for the whole
    data, a caveat for one segment). Returns the caveats."""
    if "accounts" in t and {"end_date", "segment"} <= set(t["accounts"].columns):
        table, left = "accounts", t["accounts"]["end_date"].notna()
        seg = t["accounts"]["segment"]
        how = ("every account has an end_date", "no account has an end_date")
        fix_all = ("export the active accounts too (their end_date is empty); a churn rate "
                   "needs accounts that stayed")
        fix_none = ("export the accounts that left too, with their end_date (widen the export's "
                    "date range); a churn rate needs accounts that left")
    elif "customers" in t and "churn" in t["customers"].columns:
        table, left = "customers", t["customers"]["churn"] == 1
        seg = t["customers"]["segment"] if "segment" in t["customers"].columns else None
        how = ("every customer has churn = 1", "no customer has churn = 1")
        fix_all = "export the customers who stayed too (churn = 0)"
        fix_none = ("export the customers who left too (churn = 1); check that the churn column "
                    "is mapped to the right column and its codes to 1/0")
    else:
        return []
    n = len(left)
    if n == 0 or probs:  # other problems first: the flags may be wrong for a reason shown
        return []
    k = int(left.sum())
    if k == n:
        probs.append(Problem(f"{table}, all {n} rows", f"{how[0]}: everyone left, so there is "
                             "nobody left to keep and no churn rate can be measured", fix_all))
        return []
    if k == 0:
        probs.append(Problem(f"{table}, all {n} rows", f"{how[1]}: nobody left, so churn and "
                             "its links to the experience cannot be measured", fix_none))
        return []
    caveats: list[Problem] = []
    if seg is None:
        return caveats
    by = pd.DataFrame({"seg": seg.to_numpy(dtype=object), "left": left.to_numpy(dtype=bool)})
    for name, g in by.groupby("seg", sort=True, dropna=True):
        m, j = len(g), int(g["left"].sum())
        if j == m:
            caveats.append(Problem(f"{table}, segment '{name}'", f"all {m} accounts left: the "
                                   "segment has no active accounts to keep", fix_all))
        elif j == 0:
            caveats.append(Problem(f"{table}, segment '{name}'", f"none of its {m} accounts "
                                   "left: its churn cannot be measured (0 is not an estimate)",
                                   fix_none))
    return caveats


def validate(raw: dict[str, _Raw], mapping: Mapping, source: str) -> CompanyData:
    """Type and check raw tables against the contract; raise one DataError with everything.

    Returns
    -------
    CompanyData
        With every table typed and a ``_row`` column of the analyst's row numbers.
    """
    probs: list[Problem] = []
    tables: dict[str, pd.DataFrame] = {}
    words: dict[str, str] = {}
    for tname, r in raw.items():
        tables[tname] = _prepare_table(tname, r, mapping.tables.get(tname, TableMapping()),
                                       probs, mapping.options, mapping.source)
        words[tname] = r.row_word
        r.frame = r.frame.iloc[:0]  # typed now: let the file's columns go (memory at scale)
        pa.default_memory_pool().release_unused()
    key_rows = _cross_checks(tables, words, probs)
    if mapping.shape == "tables":
        _stray_dates(tables, words, mapping.options, probs)
    caveats = _churn_checks(tables, probs)
    if mapping.shape == "customers" and "customers" in tables and len(tables["customers"]) == 0:
        probs.append(Problem("customers", "the table has no rows", "export the data rows too"))
    for tname in tables:
        if len(tables[tname]) == 0 and tname in {"accounts", "tickets"}:
            probs.append(Problem(tname, "the table has no rows", f"export the {tname} rows"))
    if probs:
        raise DataError(source, probs)
    name = mapping.name or Path(source).stem or source
    data = CompanyData(mapping.shape, tables, source, name, mapping.options, [], words,
                       caveats, key_rows)
    for c in caveats:
        log.warning("%s: %s", source, c)
    pa.default_memory_pool().release_unused()  # Arrow's freed buffers back to the system
    if mapping.shape == "customers" and "segment" not in tables["customers"]:
        tables["customers"]["segment"] = "All customers"
    return data


def load(data: str | os.PathLike[str], mapping: str | os.PathLike[str] | Mapping | None = None
         ) -> CompanyData:
    """Read, map and validate a company's data in one call.

    Parameters
    ----------
    data : path
        A folder of the four tables (CSV / Parquet / Excel), one .xlsx workbook, one file of
        the customers shape, or a .duckdb database.
    mapping : path or Mapping, optional
        The mapping file; without it the files must use the contract's names.

    Raises
    ------
    DataError
        Every contract violation at once, with table, column, rows and fix.
    """
    m = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
    raw = read_raw(data, m)
    return validate(raw, m, str(data))


def from_frames(frames: dict[str, pd.DataFrame], mapping: Mapping | None = None,
                source: str = "<frames>") -> CompanyData:
    """Validate in-memory DataFrames (e.g. from :func:`cxroi.demo.generate_demo`).

    Row numbers in messages are 1-based positions (``record``).
    """
    m = mapping or Mapping(shape="customers" if "customers" in frames else "tables")
    shape_tables = TABLES_SHAPE if m.shape == "tables" else CUSTOMERS_SHAPE
    missing = [t for t in shape_tables if t not in frames]
    if missing:
        raise DataError(source, [Problem(f"{t} table", f"no {t} table given",
                                         f"pass a DataFrame under the key '{t}'") for t in missing])
    raw = {t: _Raw(frames[t].reset_index(drop=True).copy(), 1, "record", f"{source}[{t}]")
           for t in shape_tables}
    return validate(raw, m, source)

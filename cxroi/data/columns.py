"""Reading one column: blanks, numbers, ids, codes and dates from numbers or text, as a
company's export writes them (the parsing half of :mod:`cxroi.data.validate`).
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import pandas as pd

from cxroi.data.keys import as_arrow_text, is_text
from cxroi.data.mapping import TableMapping
from cxroi.data.readers import _SEP_NAMES, _SEPARATORS, _find_header_row, _Raw


def _rows_text(rows: np.ndarray, word: str, limit: int = 8) -> str:
    shown = ", ".join(str(int(r)) for r in rows[:limit])
    more = f" (+{len(rows) - limit} more)" if len(rows) > limit else ""
    return f"{word}{'s' if len(rows) > 1 else ''} {shown}{more}"


def _stripped(s: pd.Series) -> pd.Series | None:
    """Text columns as Arrow strings without surrounding spaces (``None`` for other kinds);
    the column itself when no value has any (no second copy of ten million ids)."""
    if not is_text(s):
        return None
    txt = as_arrow_text(s)
    out = txt.str.strip()
    same = (out == txt).to_numpy(dtype=bool, na_value=True).all()
    return txt if same else out


def _blank(s: pd.Series, txt: pd.Series | None = None) -> np.ndarray:
    """Empty cells: NaN/None/NaT or whitespace-only text (``txt``: the stripped text when
    already computed).

    Returns a new writable array (pandas 3's copy-on-write hands out read-only views).
    """
    out = np.array(s.isna().to_numpy(dtype=bool), dtype=bool, copy=True)
    if txt is None and is_text(s):
        txt = _stripped(s)
    if txt is not None:
        out |= (txt == "").to_numpy(dtype=bool, na_value=True)
    return out


_DECIMAL_COMMA = re.compile(r"^\s*-?\d{1,3}(?:[.\s']\d{3})*,\d+\s*$|^\s*-?\d+,\d+\s*$")


def _to_number(s: pd.Series, tm: TableMapping, txt: pd.Series | None = None) -> pd.Series:
    """Numbers from numbers or text, honouring the mapping's decimal mark and thousands."""
    if not is_text(s):
        if pd.api.types.is_float_dtype(s.dtype) and not isinstance(s.dtype, pd.api.extensions.ExtensionDtype):
            return s.astype(float, copy=False)
        return pd.to_numeric(s, errors="coerce").astype(float)
    txt = _stripped(s) if txt is None else txt
    if tm.thousands:
        txt = txt.str.replace(tm.thousands, "", regex=False)
    if tm.decimal != ".":
        txt = txt.str.replace(tm.decimal, ".", regex=False)
    return pd.to_numeric(txt, errors="coerce").astype(float)


def _header_hint(table: str, raw: _Raw, tm: TableMapping, wanted: list[str]) -> str:
    """Why no expected column was found: a header on another row, or another separator."""
    best_row = _find_header_row(raw.peek() if raw.peek else [], wanted)
    if best_row is not None and best_row != tm.header_row:
        return (f"the column names look like they are on row {best_row}, not row "
                f"{tm.header_row}: set tables.{table}.header_row: {best_row} in the mapping")
    cols = [str(c) for c in raw.frame.columns]
    if len(cols) == 1:
        for sep in _SEPARATORS:
            if sep in cols[0]:
                return (f"the header is one column holding {_SEP_NAMES[sep]} characters: set "
                        f"tables.{table}.sep: '{sep if sep != chr(9) else chr(92) + 't'}' in "
                        "the mapping")
    fmt = f" ({raw.text_format})" if raw.text_format else ""
    return (f"none of the {table} contract's columns are among the file's {len(cols)} "
            f"columns{fmt}: check the separator (tables.{table}.sep), the header row "
            f"(tables.{table}.header_row, now {tm.header_row}) and map your column names under "
            f"tables.{table}.columns (see docs/calibration.md)")


def _as_id(s: pd.Series, txt: pd.Series | None = None) -> pd.Series:
    """Ids as (Arrow) text; whole floats (Excel 50001.0) lose their '.0'."""
    if pd.api.types.is_float_dtype(s.dtype):
        whole = s.dropna()
        if (whole == np.floor(whole)).all():
            s = s.astype("Int64")
        txt = None
    out = txt if txt is not None else as_arrow_text(s).str.strip()
    empty = (out == "").to_numpy(dtype=bool, na_value=False)
    return out.mask(empty, pd.NA) if empty.any() else out


def _apply_codes(s: pd.Series, codes: dict[Any, Any]) -> pd.Series:
    """Replace coded values; keys match as text, ignoring case and surrounding spaces."""
    lut = {_code_key(k): v for k, v in codes.items()}
    keys = s.map(_code_key, na_action="ignore")
    mapped = keys.map(lut)
    return mapped.where(mapped.notna(), s)


def _code_key(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip().casefold()


_DMY = r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})\b"


def _to_datetime(txt: pd.Series, **kw: Any) -> pd.Series:
    """pd.to_datetime that reads mixed UTC offsets as UTC (naive) instead of failing."""
    try:
        out = pd.to_datetime(txt, errors="coerce", **kw)
    except (ValueError, TypeError):
        out = pd.to_datetime(txt, errors="coerce", utc=True, **kw)
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_convert("UTC").dt.tz_localize(None)
    return out.astype("datetime64[ns]")


def _parse_dates(s: pd.Series, fmt: str | None, dayfirst: bool, txt: pd.Series | None = None
                 ) -> tuple[pd.Series, tuple[np.ndarray, np.ndarray] | None]:
    """Dates from dates or text, and -- for day/month/year text without a format -- the
    rows that can only be day-first and those that can only be month-first when both
    occur (one column in two orders: any choice would silently misread some rows).

    Without a format, ISO dates are read as such; the rest with ``dayfirst`` from the
    mapping, or day-first when some value can only be day-first (25/12/2024).
    """
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        out = s.dt.tz_localize(None) if getattr(s.dt, "tz", None) is not None else s
        return out, None
    if not is_text(s):
        s, txt = s.astype(object), None  # numbers (Excel serials, years) are not dates: say so
    txt = as_arrow_text(s).str.strip() if txt is None else txt
    if fmt:
        return _to_datetime(txt, format=fmt), None
    out = _to_datetime(txt, format="ISO8601")
    bad = (out.isna() & txt.notna() & (txt != "")).fillna(False).to_numpy(dtype=bool)
    conflict = None
    if bad.any():  # fall back for the rest only (slow path)
        rest = txt[bad]
        parts = rest.str.extract(_DMY)
        first = pd.to_numeric(parts[0].astype(object), errors="coerce").to_numpy(
            dtype=float, na_value=np.nan)
        second = pd.to_numeric(parts[1].astype(object), errors="coerce").to_numpy(
            dtype=float, na_value=np.nan)
        day_first = np.zeros(len(s), bool)
        month_first = np.zeros(len(s), bool)
        first, second = np.nan_to_num(first), np.nan_to_num(second)
        # a value impossible both ways (13/31/2020) is no evidence of an order: unparseable
        day_first[np.flatnonzero(bad)] = (first > 12) & (second <= 12)
        month_first[np.flatnonzero(bad)] = (second > 12) & (first <= 12)
        if day_first.any() and month_first.any():
            conflict = (day_first, month_first)
        use_dayfirst = dayfirst or bool(day_first.any())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            parsed = _to_datetime(rest, format="mixed", dayfirst=use_dayfirst)
        out = out.copy()
        out[bad] = parsed.to_numpy()
    return out, conflict

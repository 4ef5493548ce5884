"""Company data: the data contract, mapping files, loaders and validation at the door.

cxroi calibrates the flywheel from one of two shapes of data.

``tables`` (the full contract, MODEL.md section 5): four long tables

* ``accounts``: account_id, segment, start_date, end_date (empty while active), revenue
  (annual contract value at signing or at the start of the data, the account's *size*);
* ``tickets`` (complaints): ticket_id, account_id, opened_at, resolved_at (empty while
  open), contacts, channel, category;
* ``surveys``: account_id, ticket_id (empty for relationship surveys), sent_at,
  responded_at (empty = no answer), nps (0-10), csat (1-5) and emotion ratings
  (confident, trusting, valued, delighted, frustrated, exhausted, angry, indifferent; 1-5);
* ``orders``: order_id, account_id, date, product, amount.

``customers`` (one row per customer, what many companies have): customer_id, churn flag,
tenure, complaint flag or count, satisfaction score, orders, spend, segment.

A *mapping file* (YAML, see ``docs/calibration.md`` and ``data/mappings/``) adapts a
company's own files: which file/sheet/table, the header row, column renames, date formats
and code maps (e.g. ``CC`` -> ``Credit Card``).

Validation checks everything at once, vectorised, and raises one
:class:`cxroi.errors.DataError` listing each problem with table, column, the analyst's row
numbers and the fix. Row numbers follow the file as the analyst sees it: for CSV and Excel,
spreadsheet rows (the header is row ``header_row``, 1 by default, so the first data row is
row 2); for Parquet and DuckDB, 1-based record numbers in table order.

Nothing is silently dropped: rows a rule excludes from a fit (open tickets, unanswered
surveys, accounts that ended before the data window, gaps) are counted as
:class:`Exclusion` s and shown in the calibration report.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cxroi.errors import DataError, Problem

EMOTIONS: tuple[str, ...] = (
    "confident", "trusting", "valued", "delighted",
    "frustrated", "exhausted", "angry", "indifferent",
)
POSITIVE_EMOTIONS: tuple[str, ...] = EMOTIONS[:4]
NEGATIVE_EMOTIONS: tuple[str, ...] = EMOTIONS[4:]

_STR = "string[pyarrow]"  # vectorised string ops (pyarrow is a dependency)

Kind = Literal["id", "text", "date", "number", "flag"]


@dataclass(frozen=True)
class Column:
    """One column of the data contract.

    Parameters
    ----------
    kind : {"id", "text", "date", "number", "flag"}
        ``id`` and ``text`` are read as text; ``number`` must parse as a number; ``date``
        as a date; ``flag`` as 0/1 (also yes/no, true/false).
    required : bool
        The column must be present.
    nullable : bool
        Empty cells are allowed (they mean "not yet", "no answer" or a gap).
    low, high : float, optional
        Inclusive bounds for numbers.
    """

    kind: Kind
    required: bool = True
    nullable: bool = False
    low: float | None = None
    high: float | None = None
    describe: str = ""


_EMOTION_COLUMNS = {
    e: Column("number", required=False, nullable=True, low=1, high=5,
              describe=f"how {e} the customer felt, 1-5") for e in EMOTIONS
}

#: The data contract: table -> column -> :class:`Column`.
CONTRACT: dict[str, dict[str, Column]] = {
    "accounts": {
        "account_id": Column("id", describe="unique account id"),
        "segment": Column("text", describe="segment name, e.g. Enterprise / Mid-market / SMB"),
        "start_date": Column("date", describe="date the account became a customer"),
        "end_date": Column("date", required=False, nullable=True,
                           describe="date the account left; empty while active"),
        "revenue": Column("number", low=0, describe="annual revenue (contract value) at start"),
    },
    "tickets": {
        "ticket_id": Column("id", describe="unique complaint / ticket id"),
        "account_id": Column("id", describe="the account that complained"),
        "opened_at": Column("date", describe="when the complaint was opened"),
        "resolved_at": Column("date", nullable=True, describe="when it was resolved; empty if open"),
        "contacts": Column("number", required=False, low=0,
                           describe="contacts (calls, e-mails, chats) the complaint took"),
        "channel": Column("text", required=False, nullable=True),
        "category": Column("text", required=False, nullable=True),
    },
    "surveys": {
        "account_id": Column("id", describe="the account that was surveyed"),
        "ticket_id": Column("id", required=False, nullable=True,
                            describe="the complaint the survey followed; empty for relationship surveys"),
        "sent_at": Column("date", describe="when the survey was sent"),
        "responded_at": Column("date", nullable=True, describe="when answered; empty = no answer"),
        "nps": Column("number", required=False, nullable=True, low=0, high=10,
                      describe="likelihood to recommend, 0-10"),
        "csat": Column("number", required=False, nullable=True, low=1, high=5,
                       describe="satisfaction, 1-5"),
        **_EMOTION_COLUMNS,
    },
    "orders": {
        "order_id": Column("id", describe="unique order id"),
        "account_id": Column("id", describe="the account that ordered"),
        "date": Column("date", describe="order date"),
        "product": Column("text", required=False, nullable=True,
                          describe="product; expansion products are listed in the mapping"),
        "amount": Column("number", describe="order value"),
    },
    "customers": {
        "customer_id": Column("id", describe="unique customer id"),
        "churn": Column("flag", describe="1 if the customer has left"),
        "tenure_months": Column("number", required=False, nullable=True, low=0,
                                describe="time as a customer"),
        "segment": Column("text", required=False, describe="segment name"),
        "complaint": Column("number", required=False, nullable=True, low=0,
                            describe="complaint flag (0/1) or count in the complaint window"),
        "satisfaction": Column("number", required=False, nullable=True,
                               describe="a satisfaction score (any scale)"),
        "orders": Column("number", required=False, nullable=True, low=0),
        "spend": Column("number", required=False, nullable=True, low=0),
    },
}

TABLES_SHAPE: tuple[str, ...] = ("accounts", "tickets", "surveys", "orders")
CUSTOMERS_SHAPE: tuple[str, ...] = ("customers",)

#: (table, column) -> (other table, column) that must contain the value.
FOREIGN_KEYS: dict[tuple[str, str], tuple[str, str]] = {
    ("tickets", "account_id"): ("accounts", "account_id"),
    ("surveys", "account_id"): ("accounts", "account_id"),
    ("surveys", "ticket_id"): ("tickets", "ticket_id"),
    ("orders", "account_id"): ("accounts", "account_id"),
}

#: Columns whose values must be unique.
UNIQUE: dict[str, str] = {
    "accounts": "account_id", "tickets": "ticket_id", "orders": "order_id",
    "customers": "customer_id",
}

_FLAG_WORDS = {"1": 1, "0": 0, "yes": 1, "no": 0, "y": 1, "n": 0, "true": 1, "false": 0,
               "1.0": 1, "0.0": 0}


# --------------------------------------------------------------------------------------
# Mapping files
# --------------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TableMapping(_Strict):
    """How one of the company's files maps onto a contract table."""

    file: str | None = Field(None, description="file inside the data folder, or DuckDB table name")
    sheet: str | int | None = Field(None, description="Excel sheet name (or 0-based index)")
    header_row: int = Field(1, ge=1, description="row holding the column names (1-based)")
    columns: dict[str, str] = Field(default_factory=dict,
                                    description="contract column: your column name")
    dates: dict[str, str] = Field(default_factory=dict,
                                  description="contract column: strftime format, e.g. %d/%m/%Y")
    dayfirst: bool = False
    codes: dict[str, dict[Any, Any]] = Field(
        default_factory=dict, description="column: {your value: contract value}")
    keep: list[str] = Field(default_factory=list,
                            description="extra columns to keep as features")
    na_values: list[str] = Field(default_factory=list, description="extra spellings of 'empty'")


class Options(_Strict):
    """Calibration options that depend on the company's data."""

    touchpoint: str = Field("complaints", description="scenario touchpoint the tickets feed")
    expansion_products: list[str] = Field(
        default_factory=lambda: ["expansion"],
        description="order products that are expansions (buying more)")
    positive_emotions: list[str] = Field(default_factory=lambda: ["confident"])
    negative_emotions: list[str] = Field(default_factory=lambda: ["frustrated"])
    emotion_scale: tuple[float, float] = (1.0, 5.0)
    complaint_window_months: float = Field(
        1.0, gt=0, description="customers shape: months the complaint flag/count covers")
    tenure_unit: Literal["months", "days", "years"] = "months"
    window_start: str | None = None
    window_end: str | None = None


class Mapping(_Strict):
    """A mapping file: which shape, which files, renames, dates, codes and options."""

    name: str | None = Field(None, description="the data's name in reports and sources")
    shape: Literal["tables", "customers"] = "tables"
    tables: dict[str, TableMapping] = Field(default_factory=dict)
    options: Options = Options()


def load_mapping(path: str | os.PathLike[str] | None) -> Mapping:
    """Read and validate a mapping YAML file (``None`` gives the default mapping).

    Raises
    ------
    DataError
        Naming the mapping file, the key and the fix.
    """
    if path is None:
        return Mapping()
    p = Path(path)
    if not p.is_file():
        raise DataError(str(p), [Problem("(file)", "mapping file not found",
                                         "check the path; examples are in data/mappings/")])
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        raise DataError(str(p), [Problem(where, "not valid YAML",
                                         "check indentation and colons")]) from None
    return mapping_from_dict(raw, str(p))


def mapping_from_dict(raw: Any, source: str = "<mapping>") -> Mapping:
    """Validate a parsed mapping; every problem is reported at once."""
    if not isinstance(raw, dict):
        raise DataError(source, [Problem("(top level)", "the mapping is not a set of keys",
                                         "start from data/mappings/ecommerce_churn.yaml")])
    probs: list[Problem] = []
    m: Mapping | None = None
    try:
        m = Mapping.model_validate(raw)
    except ValidationError as exc:
        for e in exc.errors():
            loc = e["loc"]
            where = ".".join(str(x) for x in loc) or "(top level)"
            fix = "check the spelling against docs/calibration.md"
            if e["type"] == "extra_forbidden":
                allowed = list(Mapping.model_fields) + list(TableMapping.model_fields) + list(
                    Options.model_fields)
                close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
                fix = f"did you mean '{close[0]}'?" if close else "remove this key"
            probs.append(Problem(where, e["msg"].rstrip(".").lower(), fix))
    shape = raw.get("shape", "tables")
    shape_tables = CUSTOMERS_SHAPE if shape == "customers" else TABLES_SHAPE
    tables = raw.get("tables") if isinstance(raw.get("tables"), dict) else {}
    for tname, tm in tables.items():
        if tname not in shape_tables:
            close = difflib.get_close_matches(str(tname), shape_tables, n=1)
            probs.append(Problem(f"tables.{tname}", f"not a table of the '{shape}' shape",
                                 f"did you mean '{close[0]}'?" if close
                                 else f"use one of {', '.join(shape_tables)}"))
            continue
        cols = tm.get("columns") if isinstance(tm, dict) else None
        for col in (cols or {}) if isinstance(cols, dict) else {}:
            if col not in CONTRACT[tname]:
                close = difflib.get_close_matches(str(col), list(CONTRACT[tname]), n=1)
                probs.append(Problem(f"tables.{tname}.columns.{col}",
                                     f"'{col}' is not a column of the {tname} contract",
                                     f"did you mean '{close[0]}'?" if close else
                                     f"use one of {', '.join(CONTRACT[tname])}, or list it under keep"))
    if probs or m is None:
        raise DataError(source, probs)
    return m


# --------------------------------------------------------------------------------------
# Results of loading
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exclusion:
    """Rows a rule leaves out of a fit: counted, never silently dropped."""

    table: str
    rule: str
    rows: int
    of: int
    first_rows: tuple[int, ...] = ()

    @property
    def share(self) -> float:
        return self.rows / self.of if self.of else 0.0


@dataclass
class CompanyData:
    """Validated, typed company data ready for calibration.

    Attributes
    ----------
    shape : {"tables", "customers"}
    tables : dict of DataFrame
        Contract columns (typed) plus ``_row``: the analyst's row number of each row.
    source : str
        Where the data came from (for the scenario's provenance).
    name : str
        The data's short name.
    exclusions : list of Exclusion
    options : Options
    """

    shape: Literal["tables", "customers"]
    tables: dict[str, pd.DataFrame]
    source: str
    name: str
    options: Options = field(default_factory=Options)
    exclusions: list[Exclusion] = field(default_factory=list)
    row_words: dict[str, str] = field(default_factory=dict)

    def n_rows(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.tables.items()}

    def exclusions_frame(self) -> pd.DataFrame:
        """The exclusions as a table (table, rule, rows, of, share, first_rows)."""
        rows = [
            {"table": e.table, "rule": e.rule, "rows": e.rows, "of": e.of,
             "share": round(e.share, 4), "first_rows": ", ".join(map(str, e.first_rows))}
            for e in self.exclusions
        ]
        return pd.DataFrame(rows, columns=["table", "rule", "rows", "of", "share", "first_rows"])

    def exclude(self, table: str, rule: str, mask: np.ndarray | pd.Series) -> None:
        """Record that ``mask`` rows of ``table`` are left out by ``rule`` (if any)."""
        m = np.asarray(mask, dtype=bool)
        n = int(m.sum())
        if n:
            rows = self.tables[table]["_row"].to_numpy()[m][:5]
            self.exclusions.append(Exclusion(table, rule, n, len(m), tuple(int(r) for r in rows)))


# --------------------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------------------


@dataclass
class _Raw:
    frame: pd.DataFrame
    row_base: int  # the analyst's number of the first data row
    row_word: str  # "row" (spreadsheet) or "record"
    origin: str
    rows: np.ndarray | None = None  # the analyst's row numbers when not consecutive


def _drop_blank_rows(raw: _Raw) -> _Raw:
    """Remove wholly empty lines (not data) while keeping every other row's file number."""
    df = raw.frame
    rows = np.arange(len(df), dtype=np.int64) + raw.row_base
    empty = df.isna().all(axis=1).to_numpy() if len(df.columns) else np.zeros(len(df), bool)
    if empty.any():
        return _Raw(df.loc[~empty].reset_index(drop=True), raw.row_base, raw.row_word, raw.origin,
                    rows[~empty])
    return raw


def _read_excel(path: Path, sheet: str | int | None, header_row: int, na: list[str]) -> pd.DataFrame:
    try:
        return pd.read_excel(path, sheet_name=0 if sheet is None else sheet,
                             header=header_row - 1, na_values=na or None)
    except ValueError as exc:
        xl = pd.ExcelFile(path)
        close = difflib.get_close_matches(str(sheet), xl.sheet_names, n=1)
        raise DataError(str(path), [Problem(
            f"sheet '{sheet}'", f"cannot be read ({exc})",
            f"did you mean '{close[0]}'?" if close else
            f"set `sheet:` in the mapping to one of {', '.join(xl.sheet_names)}")]) from None


def _read_one(path: Path, tm: TableMapping) -> _Raw:
    na = list(tm.na_values)
    suffix = path.suffix.lower()
    if suffix in {".csv", ".txt", ".tsv"}:
        sep = "\t" if suffix == ".tsv" else ","
        try:
            df = pd.read_csv(path, sep=sep, header=tm.header_row - 1, dtype=str,
                             keep_default_na=True, na_values=na or None, engine="c",
                             skip_blank_lines=False)
        except pd.errors.EmptyDataError:
            raise DataError(str(path), [Problem("(file)", "the file is empty",
                                                "export the table with its header row")]) from None
        return _drop_blank_rows(_Raw(df, tm.header_row + 1, "row", str(path)))
    if suffix in {".parquet", ".pq"}:
        return _Raw(pd.read_parquet(path), 1, "record", str(path))
    if suffix in {".xlsx", ".xlsm", ".xls"}:
        return _drop_blank_rows(_Raw(_read_excel(path, tm.sheet, tm.header_row, na), tm.header_row + 1,
                                     "row", f"{path} [{tm.sheet if tm.sheet is not None else 'first sheet'}]"))
    raise DataError(str(path), [Problem("(file)", f"unsupported file type '{suffix}'",
                                        "use CSV, Parquet, Excel (.xlsx) or DuckDB (.duckdb)")])


def _read_duckdb(path: Path, tables: Iterable[str], mapping: Mapping) -> dict[str, _Raw]:
    try:
        import duckdb  # optional dependency
    except ImportError:  # pragma: no cover - depends on the environment
        raise DataError(str(path), [Problem("(file)", "reading DuckDB files needs the duckdb package",
                                            "pip install duckdb, or export the tables to Parquet")]) from None
    out: dict[str, _Raw] = {}
    probs: list[Problem] = []
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
        for t in tables:
            tm = mapping.tables.get(t, TableMapping())
            name = tm.file or t
            if name not in names:
                close = difflib.get_close_matches(name, sorted(names), n=1)
                probs.append(Problem(f"table '{name}'", f"the {t} table is not in the database",
                                     f"did you mean '{close[0]}'? Set tables.{t}.file in the mapping"
                                     if close else f"set tables.{t}.file to one of {sorted(names)}"))
                continue
            quoted = '"' + name.replace('"', '""') + '"'
            out[t] = _Raw(con.execute(f"select * from {quoted}").df(), 1, "record",
                          f"{path} [{name}]")
    finally:
        con.close()
    if probs:
        raise DataError(str(path), probs)
    return out


def read_raw(data: str | os.PathLike[str], mapping: Mapping) -> dict[str, _Raw]:
    """Read the company's files as they are (no checks yet).

    ``data`` is a folder of CSV / Parquet / Excel files (one per table, named after the
    table unless the mapping says ``file:``), one Excel workbook (a sheet per table, or the
    one sheet of the customers shape), one CSV / Parquet file (customers shape), or a
    DuckDB database file (a table per contract table).
    """
    p = Path(data)
    shape_tables = TABLES_SHAPE if mapping.shape == "tables" else CUSTOMERS_SHAPE
    if not p.exists():
        raise DataError(str(p), [Problem("(path)", "no such file or folder",
                                         "give a folder of tables, an .xlsx or a .duckdb file")])
    if p.is_file() and p.suffix.lower() in {".duckdb", ".db", ".ddb"}:
        return _read_duckdb(p, shape_tables, mapping)
    out: dict[str, _Raw] = {}
    probs: list[Problem] = []
    if p.is_file() and p.suffix.lower() in {".xlsx", ".xlsm", ".xls"}:
        sheets = pd.ExcelFile(p).sheet_names
        for t in shape_tables:
            tm = mapping.tables.get(t, TableMapping())
            sheet = tm.sheet if tm.sheet is not None else (
                t if t in sheets else (sheets[0] if len(shape_tables) == 1 else None))
            if sheet is None:
                probs.append(Problem(f"sheet for {t}", f"no sheet named '{t}'",
                                     f"name the sheet '{t}' or set tables.{t}.sheet in the mapping "
                                     f"(sheets: {', '.join(sheets)})"))
                continue
            out[t] = _read_one(p, tm.model_copy(update={"sheet": sheet}))
    elif p.is_file():
        if len(shape_tables) != 1:
            raise DataError(str(p), [Problem("(path)", "one file cannot hold the four tables",
                                             "give a folder with accounts, tickets, surveys and "
                                             "orders files, an .xlsx with a sheet each, or a .duckdb")])
        out[shape_tables[0]] = _read_one(p, mapping.tables.get(shape_tables[0], TableMapping()))
    else:
        for t in shape_tables:
            tm = mapping.tables.get(t, TableMapping())
            if tm.file:
                cands = [p / tm.file]
            else:
                cands = [p / f"{t}{ext}" for ext in (".parquet", ".csv", ".xlsx", ".tsv")]
            hit = next((c for c in cands if c.is_file()), None)
            if hit is None:
                probs.append(Problem(f"{t} table", f"no file for the {t} table in {p}",
                                     f"add {t}.csv or {t}.parquet, or set tables.{t}.file in the mapping"))
                continue
            out[t] = _read_one(hit, tm)
    if probs:
        raise DataError(str(p), probs)
    return out


# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------


def _rows_text(rows: np.ndarray, word: str, limit: int = 8) -> str:
    shown = ", ".join(str(int(r)) for r in rows[:limit])
    more = f" (+{len(rows) - limit} more)" if len(rows) > limit else ""
    return f"{word}{'s' if len(rows) > 1 else ''} {shown}{more}"


def _blank(s: pd.Series) -> np.ndarray:
    """Empty cells: NaN/None/NaT or whitespace-only text."""
    out = s.isna().to_numpy()
    if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
        txt = s.astype(_STR).str.strip()
        out |= (txt == "").fillna(True).to_numpy(dtype=bool)
    return out


def _as_id(s: pd.Series) -> pd.Series:
    """Ids as text; whole floats (Excel 50001.0) lose their '.0'."""
    if pd.api.types.is_float_dtype(s.dtype):
        whole = s.dropna()
        if (whole == np.floor(whole)).all():
            s = s.astype("Int64")
    out = s.astype(_STR).str.strip()
    return out.mask(out == "", pd.NA)


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


def _parse_dates(s: pd.Series, fmt: str | None, dayfirst: bool) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return s.dt.tz_localize(None) if getattr(s.dt, "tz", None) is not None else s
    txt = s.astype(_STR).str.strip()
    if fmt:
        return pd.to_datetime(txt, format=fmt, errors="coerce")
    out = pd.to_datetime(txt, format="ISO8601", errors="coerce")
    bad = out.isna() & txt.notna() & (txt != "")
    if bad.any():  # fall back for the rest only (slow path)
        out[bad] = pd.to_datetime(txt[bad], format="mixed", dayfirst=dayfirst, errors="coerce")
    return out


def _prepare_table(table: str, raw: _Raw, tm: TableMapping, probs: list[Problem],
                   opts: Options) -> pd.DataFrame:
    """Rename, decode and type one table; append problems instead of raising."""
    df = raw.frame
    df.columns = [str(c).strip() for c in df.columns]
    contract = CONTRACT[table]
    word = raw.row_word
    rename = {v: k for k, v in tm.columns.items()}
    # a contract name may also be matched case-insensitively
    lower = {c.casefold(): c for c in df.columns}
    for col in contract:
        if col not in tm.columns and col not in df.columns and col.casefold() in lower:
            rename[lower[col.casefold()]] = col
    df = df.rename(columns=rename)
    out = pd.DataFrame(index=df.index)
    out["_row"] = raw.rows if raw.rows is not None else np.arange(len(df), dtype=np.int64) + raw.row_base
    rows = out["_row"].to_numpy()
    for col, spec in contract.items():
        if col not in df.columns:
            if spec.required:
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
        empty = _blank(s)
        if spec.kind in {"id", "text"}:
            val = _as_id(s) if spec.kind == "id" else s.astype(_STR).str.strip().mask(
                pd.Series(empty, index=s.index), pd.NA)
        elif spec.kind == "number":
            val = pd.to_numeric(s, errors="coerce") if s.dtype == object or \
                pd.api.types.is_string_dtype(s.dtype) else s.astype(float)
            val = val.astype(float)
            bad = val.isna().to_numpy() & ~empty
            if bad.any():
                ex = s[bad].astype(str).head(3).tolist()
                probs.append(Problem(f"{table} {_rows_text(rows[bad], word)}, column {col}",
                                     f"wrong type: expected a number, got {ex}",
                                     "write plain numbers (no units, %, or thousands separators), "
                                     "or map codes under tables." + f"{table}.codes.{col}"))
        elif spec.kind == "flag":
            val = s.map(lambda v: _FLAG_WORDS.get(_code_key(v)), na_action="ignore").astype(float)
            bad = val.isna().to_numpy() & ~empty
            if bad.any():
                ex = s[bad].astype(str).head(3).tolist()
                probs.append(Problem(f"{table} {_rows_text(rows[bad], word)}, column {col}",
                                     f"wrong type: expected a 0/1 flag, got {ex}",
                                     f"use 1/0 (or yes/no), or map them under tables.{table}.codes.{col}"))
        else:  # date
            val = _parse_dates(s, tm.dates.get(col), tm.dayfirst)
            bad = val.isna().to_numpy() & ~empty
            if bad.any():
                ex = s[bad].astype(str).head(3).tolist()
                probs.append(Problem(f"{table} {_rows_text(rows[bad], word)}, column {col}",
                                     f"unparseable date {ex}",
                                     f"use YYYY-MM-DD, or give the format under "
                                     f"tables.{table}.dates.{col} (e.g. '%d/%m/%Y')"))
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
                rng_txt = (f"{lo:g}-{hi:g}" if hi is not None else f">= {lo:g}")
                label = "NPS" if col == "nps" else col
                probs.append(Problem(f"{table} {_rows_text(rows[out_of], word)}, column {col}",
                                     f"{label} outside {rng_txt} (got {v[out_of][:3].tolist()})",
                                     f"{col} must be on the {rng_txt} scale; rescale or fix the rows"
                                     + (" (set options.emotion_scale for another scale)"
                                        if col in EMOTIONS else "")))
        out[col] = val
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
    return out


def _cross_checks(t: dict[str, pd.DataFrame], words: dict[str, str], probs: list[Problem]) -> None:
    for table, col in UNIQUE.items():
        if table in t and col in t[table]:
            dup = t[table][col].duplicated(keep=False).to_numpy() & t[table][col].notna().to_numpy()
            if dup.any():
                ids = t[table][col][dup].drop_duplicates().head(3).tolist()
                probs.append(Problem(f"{table} {_rows_text(t[table]['_row'].to_numpy()[dup], words[table])}, column {col}",
                                     f"duplicate id {ids}",
                                     f"each {col} must appear once; remove repeated rows or give them new ids"))
    for (table, col), (other, ocol) in FOREIGN_KEYS.items():
        if table in t and other in t and col in t[table] and ocol in t[other]:
            s = t[table][col]
            known = pd.Index(t[other][ocol].dropna().to_numpy(dtype=object)).unique()
            unknown = (known.get_indexer(s.to_numpy(dtype=object, na_value=None)) < 0) & s.notna().to_numpy()
            if unknown.any():
                ids = s[unknown].drop_duplicates().head(3).tolist()
                noun = "account" if ocol == "account_id" else "ticket"
                probs.append(Problem(f"{table} {_rows_text(t[table]['_row'].to_numpy()[unknown], words[table])}, column {col}",
                                     f"unknown {noun} {ids} ({table} of {noun}s not in the {other} table)",
                                     f"add the {noun}s to {other}, or remove these rows"))
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
                                       probs, mapping.options)
        words[tname] = r.row_word
    _cross_checks(tables, words, probs)
    if mapping.shape == "customers" and "customers" in tables and len(tables["customers"]) == 0:
        probs.append(Problem("customers", "the table has no rows", "export the data rows too"))
    for tname in tables:
        if len(tables[tname]) == 0 and tname in {"accounts", "tickets"}:
            probs.append(Problem(tname, "the table has no rows", f"export the {tname} rows"))
    if probs:
        raise DataError(source, probs)
    name = mapping.name or Path(source).stem or source
    data = CompanyData(mapping.shape, tables, source, name, mapping.options, [], words)
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

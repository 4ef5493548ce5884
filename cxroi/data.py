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

import codecs
import csv
import difflib
import io
import logging
import os
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from cxroi.errors import DataError, Problem

log = logging.getLogger(__name__)

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
        "revenue": Column("number", low=0, high=1e12,
                          describe="annual revenue (contract value) at start"),
    },
    "tickets": {
        "ticket_id": Column("id", describe="unique complaint / ticket id"),
        "account_id": Column("id", describe="the account that complained"),
        "opened_at": Column("date", describe="when the complaint was opened"),
        "resolved_at": Column("date", nullable=True, describe="when it was resolved; empty if open"),
        "contacts": Column("number", required=False, low=0, high=10_000,
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
        "amount": Column("number", low=-1e12, high=1e12, describe="order value"),
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
        "orders": Column("number", required=False, nullable=True, low=0, high=1e9),
        "spend": Column("number", required=False, nullable=True, low=0, high=1e12),
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
    encoding: str | None = Field(None, description="CSV text encoding, e.g. utf-8, cp1252, "
                                 "latin-1 (default: detected)")
    sep: str | None = Field(None, description="CSV separator: ',', ';', '\\t' or '|' "
                            "(default: detected)")
    decimal: Literal[".", ","] = Field(".", description="decimal mark of numbers in text files")
    thousands: Literal[",", ".", " ", "'"] | None = Field(
        None, description="thousands separator to ignore in numbers, e.g. '.' in 1.234,56")

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                codecs.lookup(v)
            except LookupError:
                raise ValueError(f"unknown encoding '{v}' (use e.g. utf-8, cp1252 or "
                                 "latin-1)") from None
        return v

    @field_validator("sep")
    @classmethod
    def _one_char_sep(cls, v: str | None) -> str | None:
        if v is not None:
            v = {"\\t": "\t", "tab": "\t"}.get(v, v)
            if len(v) != 1 or v in {'"', "\n", "\r"}:
                raise ValueError(f"the separator must be one character such as ',', ';', "
                                 f"'\\t' or '|' (got {v!r})")
        return v


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
    _source: str | None = PrivateAttr(None)

    @property
    def source(self) -> str:
        """The mapping file this came from (for messages), or a description."""
        return self._source or "the mapping"


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
    if p.is_dir():
        raise DataError(str(p), [Problem("(file)", "is a folder, not a mapping file",
                                         "give the mapping's .yaml file, e.g. "
                                         "data/mappings/ecommerce_churn.yaml")])
    if not p.is_file():
        raise DataError(str(p), [Problem("(file)", "mapping file not found",
                                         "check the path; examples are in data/mappings/")])
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except (UnicodeDecodeError, ValueError):
        raise DataError(str(p), [Problem("(file)", "not a UTF-8 text file",
                                         "save the mapping as UTF-8 YAML")]) from None
    except OSError as exc:
        raise DataError(str(p), [Problem("(file)", f"cannot be read ({exc.strerror})",
                                         "check the file's permissions")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        raise DataError(str(p), [Problem(where, "not valid YAML",
                                         "check indentation and colons")]) from None
    m = mapping_from_dict(raw, str(p))
    m._source = str(p)
    return m


def mapping_from_dict(raw: Any, source: str = "<mapping>") -> Mapping:
    """Validate a parsed mapping; every problem is reported at once."""
    if not isinstance(raw, dict):
        raise DataError(source, [Problem("(top level)", "the mapping is not a set of keys",
                                         "start from data/mappings/ecommerce_churn.yaml")])
    if raw and not any(difflib.get_close_matches(str(k), list(Mapping.model_fields), n=1)
                       for k in raw):
        # e.g. a credentials file: say what it is not, without echoing its keys
        raise DataError(source, [Problem("(top level)", "not a cxroi mapping file (none of its "
                                         "keys is a mapping key)",
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
        keep = tm.get("keep") if isinstance(tm, dict) and isinstance(tm.get("keep"), list) else []
        dates = tm.get("dates") if isinstance(tm, dict) else None
        for col in (dates or {}) if isinstance(dates, dict) else {}:
            date_cols = [c for c, spec in CONTRACT[tname].items() if spec.kind == "date"]
            if col not in date_cols:
                close = difflib.get_close_matches(str(col), date_cols, n=1)
                probs.append(Problem(f"tables.{tname}.dates.{col}",
                                     f"'{col}' is not a date column of the {tname} contract",
                                     f"did you mean '{close[0]}'?" if close else
                                     f"date formats apply to {', '.join(date_cols)}"))
        codes = tm.get("codes") if isinstance(tm, dict) else None
        for col in (codes or {}) if isinstance(codes, dict) else {}:
            if col not in CONTRACT[tname] and col not in keep:
                known = [*CONTRACT[tname], *map(str, keep)]
                close = difflib.get_close_matches(str(col), known, n=1)
                probs.append(Problem(f"tables.{tname}.codes.{col}",
                                     f"'{col}' is neither a column of the {tname} contract nor "
                                     "listed under keep",
                                     f"did you mean '{close[0]}'?" if close else
                                     "code maps apply to contract columns and keep columns"))
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
    #: data facts that do not stop calibration but limit it (a segment where every account
    #: left, or none did); the calibration report lists them
    caveats: list[Problem] = field(default_factory=list)

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
    #: the first rows of the file as cells, header or not (to diagnose a wrong header row)
    peek: Callable[[], list[list[str]]] | None = None
    #: how a text file was read (encoding, separator) for messages
    text_format: str = ""


def _drop_blank_rows(raw: _Raw) -> _Raw:
    """Remove wholly empty lines (not data) while keeping every other row's file number."""
    df = raw.frame
    rows = np.arange(len(df), dtype=np.int64) + raw.row_base
    empty = df.isna().all(axis=1).to_numpy() if len(df.columns) else np.zeros(len(df), bool)
    if empty.any():
        return _Raw(df.loc[~empty].reset_index(drop=True), raw.row_base, raw.row_word, raw.origin,
                    rows[~empty], raw.peek, raw.text_format)
    return raw


#: What a file's first bytes say it is.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "xlsx"), (b"\xd0\xcf\x11\xe0", "xls"), (b"PAR1", "parquet"),
    (b"SQLite format 3\x00", "sqlite"), (b"%PDF", "pdf"), (b"\x1f\x8b", "gzip"),
)
_KIND_WORDS = {"xlsx": "an Excel workbook (or another zip archive)", "xls": "an old Excel (.xls) workbook",
               "parquet": "a Parquet file", "sqlite": "a SQLite database", "pdf": "a PDF document",
               "gzip": "a gzip archive", "duckdb": "a DuckDB database", "binary": "binary data",
               "text": "a text (CSV) file", "empty": "empty (0 bytes)"}
_TEXT_SUFFIXES = {".csv", ".txt", ".tsv", ".tab"}
_EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}
_DUCKDB_SUFFIXES = {".duckdb", ".db", ".ddb"}
_SEPARATORS = (",", ";", "\t", "|")
_SEP_NAMES = {",": "','", ";": "';'", "\t": "'\\t' (tab)", "|": "'|'"}


def _file_problem(path: Path, message: str, fix: str) -> DataError:
    return DataError(str(path), [Problem("(file)", message, fix)])


def _head(path: Path, n: int = 8192) -> bytes:
    """The first bytes of a file; folders and unreadable files are named errors."""
    if path.is_dir():
        raise _file_problem(path, "is a folder, not a file",
                            "give the table's file (CSV, Parquet or Excel), or the folder itself "
                            "as the data argument")
    try:
        with path.open("rb") as fh:
            return fh.read(n)
    except OSError as exc:
        raise _file_problem(path, f"cannot be read ({exc.strerror or exc})",
                            "check that the file exists and that you may read it") from None


def _sniff_kind(head: bytes) -> str:
    """'text', 'empty', 'binary' or a format from the magic bytes."""
    if not head:
        return "empty"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head[8:12] == b"DUCK":
        return "duckdb"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "text"
    if b"\x00" in head:
        return "binary"
    return "text"


def _wrong_kind(path: Path, kind: str, expected: str) -> DataError:
    rename = {"xlsx": ".xlsx", "parquet": ".parquet", "text": ".csv", "duckdb": ".duckdb"}.get(kind)
    fix = (f"rename it to {path.stem}{rename} (its real type), or export the table again as "
           f"{expected}" if rename else f"export the table again as {expected}")
    return _file_problem(path, f"the file name says {expected} but the content is "
                               f"{_KIND_WORDS.get(kind, kind)}", fix)


def _decode(data: bytes, path: Path, table: str, encoding: str | None) -> tuple[str, str]:
    """Text and the encoding used: the mapping's, else UTF-8 (with or without BOM), UTF-16
    with BOM, Windows-1252, Latin-1 (which always decodes)."""
    if encoding:
        enc = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
        try:
            return data.decode(enc), encoding
        except UnicodeDecodeError as exc:
            line = data[:exc.start].count(b"\n") + 1
            raise DataError(str(path), [Problem(
                f"line {line}", f"not valid {encoding} text (byte {data[exc.start]:#04x})",
                f"set tables.{table}.encoding to the file's real encoding (often cp1252 or "
                "latin-1 for Excel exports), or save the file as UTF-8")]) from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            raise _file_problem(path, "damaged UTF-16 text",
                                "save the table again as CSV (UTF-8)") from None
    for enc in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(enc), ("utf-8" if enc == "utf-8-sig" else enc)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"


def _split(line: str, sep: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=sep), [])
    except csv.Error:
        return line.split(sep)


def _guess_sep(lines: list[str]) -> str:
    """The separator that splits most of the first lines into the same number (> 1) of
    fields (a title line above the header does not count)."""
    lines = [ln for ln in lines if ln.strip()][:20]
    best, best_score = ",", (0, 1)
    for sep in _SEPARATORS:
        counts = [len(_split(ln, sep)) for ln in lines]
        many = [c for c in counts if c > 1]
        if not many:
            continue
        mode = max(set(many), key=many.count)
        score = (many.count(mode), mode)
        if score > best_score:
            best, best_score = sep, score
    return best


def _first_ragged_line(text: str, sep: str, start: int) -> tuple[int, int, int] | None:
    """(line number, fields, header fields) of the first row whose field count differs
    from the header's, counting as the csv module does (quotes respected)."""
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    want = None
    for i, row in enumerate(reader):
        if i < start or not row:
            continue
        if want is None:
            want = len(row)
        elif len(row) != want:
            return reader.line_num, len(row), want
    return None


def _read_text(path: Path, tm: TableMapping, table: str) -> _Raw:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _file_problem(path, f"cannot be read ({exc.strerror or exc})",
                            "check the file's permissions") from None
    text, enc = _decode(data, path, table, tm.encoding)
    if not text.strip():
        raise _file_problem(path, "the file is empty", "export the table with its header row")
    lines = text.splitlines()
    start = tm.header_row - 1
    if start >= len(lines):
        raise DataError(str(path), [Problem(
            f"tables.{table}.header_row", f"is {tm.header_row} but the file has only "
            f"{len(lines)} lines", "give the row that holds the column names (1 = first line)")])
    sep = tm.sep or ("\t" if path.suffix.lower() in {".tsv", ".tab"} else _guess_sep(lines[start:]))
    sep_name = _SEP_NAMES.get(sep, repr(sep))
    header = [h.strip() for h in _split(lines[start], sep)]
    dup = sorted({h for h in header if h and header.count(h) > 1})
    if dup:
        raise DataError(str(path), [Problem(f"row {tm.header_row}", f"column names used twice: {dup}",
                                            "give every column its own name")])
    na = list(tm.na_values)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            df = pd.read_csv(io.StringIO(text), sep=sep, header=start, dtype=str,
                             keep_default_na=True, na_values=na or None, engine="c",
                             skip_blank_lines=False, index_col=False)
        if any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
            ragged = _first_ragged_line(text, sep, start)
            if ragged:  # pandas would silently drop the extra cells
                raise pd.errors.ParserError(f"Expected {ragged[2]} fields in line {ragged[0]}, "
                                            f"saw {ragged[1]}")
    except pd.errors.EmptyDataError:
        raise _file_problem(path, "the file is empty",
                            "export the table with its header row") from None
    except pd.errors.ParserError as exc:
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        where, msg = ("(file)", "cannot be split into columns")
        if m:
            where = f"line {int(m.group(2))}"
            msg = f"has {m.group(3)} fields where the header has {m.group(1)}"
        fix = (f"put quotes around values that contain the separator {sep_name}, or set "
               f"tables.{table}.sep in the mapping")
        guess = _find_header_row([_split(ln, sep) for ln in lines[:20]], _wanted(table, tm))
        if guess and guess != tm.header_row:  # the 'header' is a title line
            fix = (f"the column names look like they are on row {guess}: set "
                   f"tables.{table}.header_row: {guess} in the mapping")
        raise DataError(str(path), [Problem(where, msg, fix)]) from None
    log.info("read %s as %s text separated by %r", path, enc, sep)

    def peek() -> list[list[str]]:
        return [_split(ln, sep) for ln in lines[:20]]

    return _drop_blank_rows(_Raw(df, tm.header_row + 1, "row", str(path), peek=peek,
                                 text_format=f"read as {enc} separated by {_SEP_NAMES.get(sep, repr(sep))}"))


def _sheet_names(path: Path) -> list[str]:
    kind = _sniff_kind(_head(path))
    if kind == "xls":
        raise _file_problem(path, "an old-format Excel (.xls) workbook",
                            "save it as .xlsx (Excel: File > Save As > Excel Workbook) or CSV")
    if kind != "xlsx":
        raise _wrong_kind(path, kind, "an Excel workbook (.xlsx)")
    try:
        return list(pd.ExcelFile(path, engine="openpyxl").sheet_names)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a damaged workbook
        raise _file_problem(path, f"not a readable Excel workbook ({type(exc).__name__})",
                            "open it in Excel and save it again as .xlsx, or export CSV") from None


def _read_excel(path: Path, sheet: str | int | None, header_row: int, na: list[str],
                table: str) -> pd.DataFrame:
    names = _sheet_names(path)
    if isinstance(sheet, int) and not 0 <= sheet < len(names) or (
            isinstance(sheet, str) and sheet not in names):
        close = difflib.get_close_matches(str(sheet), names, n=1)
        raise DataError(str(path), [Problem(
            f"sheet '{sheet}'", "no such sheet in the workbook",
            f"did you mean '{close[0]}'? Set tables.{table}.sheet in the mapping" if close else
            f"set tables.{table}.sheet in the mapping to one of {', '.join(names)}")])
    try:
        return pd.read_excel(path, sheet_name=0 if sheet is None else sheet,
                             header=header_row - 1, na_values=na or None, engine="openpyxl")
    except ValueError as exc:
        if "row" in str(exc).lower() or "header" in str(exc).lower() or "no columns" in str(exc).lower():
            raise DataError(str(path), [Problem(
                f"tables.{table}.header_row", f"row {header_row} of sheet '{sheet}' cannot be the "
                "header (the sheet is shorter or empty)",
                "give the row that holds the column names (1 = first row)")]) from None
        raise _file_problem(path, f"sheet '{sheet}' cannot be read ({type(exc).__name__})",
                            "open it in Excel and save it again, or export CSV") from None
    except Exception as exc:  # noqa: BLE001
        raise _file_problem(path, f"sheet '{sheet}' cannot be read ({type(exc).__name__})",
                            "open it in Excel and save it again, or export CSV") from None


def _read_parquet(path: Path) -> pd.DataFrame:
    kind = _sniff_kind(_head(path))
    if kind != "parquet":
        raise _wrong_kind(path, kind, "Parquet")
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for damaged files
        raise _file_problem(path, f"not a readable Parquet file ({type(exc).__name__}: damaged "
                                  "or cut short)", "write the table again") from None


def _read_one(path: Path, tm: TableMapping, table: str = "table") -> _Raw:
    na = list(tm.na_values)
    suffix = path.suffix.lower()
    head = _head(path)
    kind = _sniff_kind(head)
    if suffix in _TEXT_SUFFIXES:
        if kind not in {"text"}:
            if kind == "empty":
                raise _file_problem(path, "the file is empty (0 bytes)",
                                    "export the table with its header row")
            raise _wrong_kind(path, kind, "a CSV text file")
        return _read_text(path, tm, table)
    if suffix in _PARQUET_SUFFIXES:
        if kind == "empty":
            raise _file_problem(path, "the file is empty (0 bytes)",
                                "write the table again (the export did not finish)")
        return _Raw(_read_parquet(path), 1, "record", str(path))
    if suffix in _EXCEL_SUFFIXES:
        if kind == "empty":
            raise _file_problem(path, "the file is empty (0 bytes)", "save the workbook again")
        label = tm.sheet if tm.sheet is not None else "first sheet"

        def peek() -> list[list[str]]:
            try:
                top = pd.read_excel(path, sheet_name=0 if tm.sheet is None else tm.sheet,
                                    header=None, nrows=20, engine="openpyxl")
            except Exception:  # noqa: BLE001 - only a diagnosis
                return []
            return [["" if pd.isna(v) else str(v) for v in r] for r in top.itertuples(index=False)]

        frame = _read_excel(path, tm.sheet, tm.header_row, na, table)
        frame = frame.loc[:, [not str(c).startswith("Unnamed: ") or frame[c].notna().any()
                              for c in frame.columns]]
        return _drop_blank_rows(_Raw(frame, tm.header_row + 1, "row", f"{path} [{label}]",
                                     peek=peek))
    raise _file_problem(path, f"unsupported file type '{suffix or '(none)'}'",
                        "use CSV, Parquet, Excel (.xlsx) or DuckDB (.duckdb)")


def _read_duckdb(path: Path, tables: Iterable[str], mapping: Mapping) -> dict[str, _Raw]:
    try:
        import duckdb  # optional dependency
    except ImportError:  # pragma: no cover - depends on the environment
        raise DataError(str(path), [Problem("(file)", "reading DuckDB files needs the duckdb package",
                                            "pip install duckdb, or export the tables to Parquet")]) from None
    out: dict[str, _Raw] = {}
    probs: list[Problem] = []
    kind = _sniff_kind(_head(path))
    if kind != "duckdb":
        raise _wrong_kind(path, kind, "a DuckDB database")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except Exception as exc:  # noqa: BLE001 - duckdb raises its own types
        raise _file_problem(path, f"not a readable DuckDB database ({type(exc).__name__})",
                            "check the file, or export the tables to Parquet") from None
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
    if p.is_file() and p.suffix.lower() in _DUCKDB_SUFFIXES:
        return _read_duckdb(p, shape_tables, mapping)
    out: dict[str, _Raw] = {}
    probs: list[Problem] = []
    if p.is_file() and p.suffix.lower() in _EXCEL_SUFFIXES:
        sheets = _sheet_names(p)
        for t in shape_tables:
            tm = mapping.tables.get(t, TableMapping())
            sheet = tm.sheet if tm.sheet is not None else (
                t if t in sheets else (sheets[0] if len(shape_tables) == 1 else None))
            if sheet is None:
                probs.append(Problem(f"sheet for {t}", f"no sheet named '{t}'",
                                     f"name the sheet '{t}' or set tables.{t}.sheet in the mapping "
                                     f"(sheets: {', '.join(sheets)})"))
                continue
            out[t] = _read_one(p, tm.model_copy(update={"sheet": sheet}), t)
    elif p.is_file():
        if len(shape_tables) != 1:
            raise DataError(str(p), [Problem("(path)", "one file cannot hold the four tables",
                                             "give a folder with accounts, tickets, surveys and "
                                             "orders files, an .xlsx with a sheet each, or a .duckdb")])
        t = shape_tables[0]
        out[t] = _read_one(p, mapping.tables.get(t, TableMapping()), t)
    else:
        for t in shape_tables:
            tm = mapping.tables.get(t, TableMapping())
            if tm.file:
                cands = [p / tm.file]
            else:
                names = [f"{t}{ext}" for ext in (".parquet", ".csv", ".xlsx", ".tsv", ".txt")]
                by_name = {c.name.casefold(): c for c in sorted(p.iterdir())}
                cands = [by_name[n] for n in names if n in by_name]  # Accounts.CSV too
            hit = next(iter(cands), None)
            if hit is None or not hit.exists():
                probs.append(Problem(f"{t} table", f"no file for the {t} table in {p}"
                                     + (f" ({tm.file} does not exist)" if tm.file else ""),
                                     f"add {t}.csv or {t}.parquet, or set tables.{t}.file in the mapping"))
                continue
            out[t] = _read_one(hit, tm, t)
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
    """Empty cells: NaN/None/NaT or whitespace-only text.

    Returns a new writable array (pandas 3's copy-on-write hands out read-only views).
    """
    out = np.array(s.isna().to_numpy(dtype=bool), dtype=bool, copy=True)
    if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
        txt = s.astype(_STR).str.strip()
        out |= (txt == "").fillna(True).to_numpy(dtype=bool)
    return out


_DECIMAL_COMMA = re.compile(r"^\s*-?\d{1,3}(?:[.\s']\d{3})*,\d+\s*$|^\s*-?\d+,\d+\s*$")


def _to_number(s: pd.Series, tm: TableMapping) -> pd.Series:
    """Numbers from numbers or text, honouring the mapping's decimal mark and thousands."""
    if not (s.dtype == object or pd.api.types.is_string_dtype(s.dtype)):
        return pd.to_numeric(s, errors="coerce").astype(float)
    txt = s.astype(_STR).str.strip()
    if tm.thousands:
        txt = txt.str.replace(tm.thousands, "", regex=False)
    if tm.decimal != ".":
        txt = txt.str.replace(tm.decimal, ".", regex=False)
    return pd.to_numeric(txt, errors="coerce").astype(float)


def _wanted(table: str, tm: TableMapping) -> list[str]:
    """The column names a table's header should hold (the mapping's, else the contract's)."""
    return [str(tm.columns.get(c, c)) for c, spec in CONTRACT[table].items() if spec.required]


def _find_header_row(rows: list[list[str]], wanted: list[str]) -> int | None:
    """The 1-based row among ``rows`` holding most of the ``wanted`` names, if any."""
    want = {w.strip().casefold() for w in wanted}
    best_row, best_hits = None, 0
    for i, cells in enumerate(rows, start=1):
        hits = len(want & {str(c).strip().casefold() for c in cells})
        if hits > best_hits:
            best_row, best_hits = i, hits
    return best_row


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


def _parse_dates(s: pd.Series, fmt: str | None, dayfirst: bool
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
    if not (s.dtype == object or pd.api.types.is_string_dtype(s.dtype)):
        s = s.astype(object)  # numbers (Excel serials, years) are not dates: say so
    txt = s.astype(_STR).str.strip()
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
        day_first[np.flatnonzero(bad)] = np.nan_to_num(first) > 12
        month_first[np.flatnonzero(bad)] = np.nan_to_num(second) > 12
        if day_first.any() and month_first.any():
            conflict = (day_first, month_first)
        use_dayfirst = dayfirst or bool(day_first.any())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            parsed = _to_datetime(rest, format="mixed", dayfirst=use_dayfirst)
        out = out.copy()
        out[bad] = parsed.to_numpy()
    return out, conflict


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
    df = df.rename(columns=rename)
    required = [c for c, spec in contract.items() if spec.required]
    if required and not any(c in df.columns for c in contract):
        wanted = _wanted(table, tm)
        probs.append(Problem(f"{table} ({raw.origin})",
                             f"no column of the {table} contract was found (missing: "
                             f"{', '.join(required)})", _header_hint(table, raw, tm, wanted)))
        return pd.DataFrame({"_row": np.arange(len(df), dtype=np.int64) + raw.row_base})
    out = pd.DataFrame(index=df.index)
    out["_row"] = raw.rows if raw.rows is not None else np.arange(len(df), dtype=np.int64) + raw.row_base
    rows = out["_row"].to_numpy()
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
        empty = _blank(s)
        if spec.kind in {"id", "text"}:
            val = _as_id(s) if spec.kind == "id" else s.astype(_STR).str.strip().mask(
                pd.Series(empty, index=s.index), pd.NA)
        elif spec.kind == "number":
            val = _to_number(s, tm)
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
            val, conflict = _parse_dates(s, tm.dates.get(col), tm.dayfirst)
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
                rng_txt = (f"{lo:g}-{hi:g}" if hi is not None and lo is not None
                           else f">= {lo:g}" if lo is not None else f"<= {hi:g}")
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
    _cross_checks(tables, words, probs)
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
                       caveats)
    for c in caveats:
        log.warning("%s: %s", source, c)
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

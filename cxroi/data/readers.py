"""Reading a company's files as they are: folders, CSV (any encoding and separator),
Excel, Parquet and DuckDB; a file whose content is not its name is a named error.
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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cxroi.data.contract import CONTRACT, CUSTOMERS_SHAPE, TABLES_SHAPE
from cxroi.data.keys import ARROW_STR
from cxroi.data.mapping import Mapping, TableMapping
from cxroi.errors import DataError, Problem

log = logging.getLogger(__name__)

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
        # one thread: on a shared 2-core machine Arrow's decoding threads cost ~1.6x the CPU
        return arrow_to_pandas(pq.read_table(path, use_threads=False))
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for damaged files
        raise _file_problem(path, f"not a readable Parquet file ({type(exc).__name__}: damaged "
                                  "or cut short)", "write the table again") from None


def _arrow_type(t: pa.DataType) -> pd.api.extensions.ExtensionDtype | None:
    """Text columns become Arrow-backed pandas strings (no Python objects); others as usual."""
    return ARROW_STR if pa.types.is_string(t) or pa.types.is_large_string(t) else None


def arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    """A DataFrame from an Arrow table, text kept in Arrow (``string[pyarrow]``): at ten
    million rows an id column costs about 20 bytes a row instead of about 60 as Python
    strings, and lookups and duplicates are hashed in C++ (:mod:`cxroi.data.keys`).
    Dictionary-encoded text (categories) is decoded to the same strings."""
    cols = {}
    for name, col in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_dictionary(col.type) and pa.types.is_string(col.type.value_type):
            cols[name] = col.cast(pa.string())
        else:
            cols[name] = col
    return pa.table(cols).to_pandas(types_mapper=_arrow_type, self_destruct=True, split_blocks=True)


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
            rel = con.sql(f"select * from {quoted}")
            fetch = getattr(rel, "to_arrow_table", None) or rel.arrow  # duckdb 2 / duckdb 1
            out[t] = _Raw(arrow_to_pandas(fetch()), 1, "record", f"{path} [{name}]")
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



"""Mapping files: which file, sheet, header row, encoding and separator, column renames,
date formats and codes adapt a company's own files to the contract.
"""

from __future__ import annotations

import codecs
import datetime as _dt
import difflib
import logging
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from cxroi.data.contract import CONTRACT, CUSTOMERS_SHAPE, TABLES_SHAPE
from cxroi.errors import DataError, Problem
from cxroi.scenario.loading import load_yaml, yaml_fix

log = logging.getLogger(__name__)

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

    @field_validator("window_start", "window_end", mode="before")
    @classmethod
    def _date_as_text(cls, v: Any) -> Any:
        """``window_start: 2023-01-01`` unquoted (as docs/calibration.md writes it) is a
        YAML date: kept as its ISO text (checked as a date by :func:`mapping_from_dict`)."""
        return v.isoformat() if isinstance(v, _dt.date) else v


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
        raw = load_yaml(p.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError:
        raise DataError(str(p), [Problem("(file)", "not a UTF-8 text file",
                                         "save the mapping as UTF-8 YAML")]) from None
    except OSError as exc:
        raise DataError(str(p), [Problem("(file)", f"cannot be read ({exc.strerror})",
                                         "check the file's permissions")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        problem = getattr(exc, "problem", None)
        raise DataError(str(p), [Problem(where, "not valid YAML" + (f": {problem}" if problem else ""),
                                         yaml_fix(exc))]) from None
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
    if m is not None:
        probs.extend(_window_problems(m.options))
    if probs or m is None:
        raise DataError(source, probs)
    return m


def _window_problems(opts: Options) -> list[Problem]:
    """``options.window_start`` / ``window_end``: dates, the start before the end."""
    import pandas as pd

    probs: list[Problem] = []
    when: dict[str, pd.Timestamp] = {}
    for key in ("window_start", "window_end"):
        text = getattr(opts, key)
        if text is None:
            continue
        try:
            when[key] = pd.Timestamp(text)
        except (ValueError, TypeError, OverflowError):
            probs.append(Problem(f"options.{key}", f"not a date ({text!r})",
                                 "write it as YYYY-MM-DD, e.g. 2023-01-01, or leave it out "
                                 "(default: the data's first and last dates)"))
    if len(when) == 2 and when["window_end"] < when["window_start"]:
        probs.append(Problem("options.window_end",
                             f"{opts.window_end} is before options.window_start "
                             f"{opts.window_start}",
                             "swap the two dates, or leave one out"))
    return probs



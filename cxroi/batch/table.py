"""The batch's results tables as Parquet bytes (pandas' ``to_parquet``, through pyarrow).

A table is the rows of a batch's runs (or of a folder's reports): one dict per run, keys
in order of first appearance. pandas infers each column's type from its values (integers
with gaps become float64, NaN is stored as null) and writes its ``pandas`` schema
metadata, so duckdb, polars and pyarrow readers see a column's type from the kind of its
values. A column that mixes text and numbers cannot be one Parquet column: it is refused
with the column's name, before anything is written.
"""

from __future__ import annotations

import numbers
from typing import Any


def _mixed_columns(rows: list[dict[str, Any]]) -> list[str]:
    """Columns holding both text and numbers (pandas would fail on them mid-write)."""
    text: set[str] = set()
    number: set[str] = set()
    for row in rows:
        for k, v in row.items():
            if isinstance(v, str):
                text.add(k)
            elif isinstance(v, numbers.Number) and not isinstance(v, bool):
                number.add(k)
    return sorted(text & number)


def parquet_bytes(rows: list[dict[str, Any]]) -> bytes:
    """Parquet bytes of ``rows``: ``pandas.DataFrame(rows).to_parquet(index=False)``.

    Raises
    ------
    ValueError
        When a column mixes text and numbers, naming it.
    """
    mixed = _mixed_columns(rows)
    if mixed:
        raise ValueError(f"results table: column {mixed[0]!r} mixes text and numbers; "
                         "a Parquet column holds one kind. Fix: write one kind of value in "
                         "it (e.g. the number as text)")
    import pandas as pd

    return pd.DataFrame(rows).to_parquet(index=False)

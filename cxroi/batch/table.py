"""The batch's results tables as Parquet, written with pyarrow alone.

``pandas.DataFrame(rows).to_parquet(index=False)`` wrote them until pandas was taken out of
the batch's process (its import cost ≈ 0.16 CPU s a batch, the write ≈ 6 ms a table).
:func:`parquet_bytes` writes the same Arrow schema that pandas wrote, column by column:
the same types and nullability, NaN stored as null, and the same ``pandas`` schema
metadata, so duckdb, polars and pyarrow readers see what they saw before, and a column's
type depends on the kind of its values, never on which rows happen to be missing.
"""

from __future__ import annotations

import functools
import json
import numbers
from typing import Any

#: What a column's values are, as pandas infers a column's dtype from them.
_NONE, _NAN, _BOOL, _INT, _FLOAT, _OTHER = range(6)


def _kind(v: Any) -> int:
    """The kind of one value: None, NaN, bool, integer, other real number, or other."""
    t = type(v)
    if v is None:
        return _NONE
    if t is bool:
        return _BOOL
    if t is int:
        return _INT
    if t is float:
        return _NAN if v != v else _FLOAT
    if t is str:
        return _OTHER
    if t.__module__ == "numpy" and t.__name__ in ("bool", "bool_"):
        return _BOOL
    if isinstance(v, numbers.Integral):
        return _INT
    if isinstance(v, numbers.Real):
        return _NAN if v != v else _FLOAT
    return _OTHER


@functools.cache
def _pandas_version() -> str:
    """The installed pandas' version, read from its distribution's metadata (pandas is
    not imported)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pandas")
    except PackageNotFoundError:
        return ""


def _pandas_type(arrow_type: Any) -> str:
    """The ``pandas_type`` that pyarrow writes in the pandas metadata for a column of
    ``arrow_type`` built from a Python-object column."""
    import pyarrow as pa

    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "unicode"
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
        return "bytes"
    if pa.types.is_null(arrow_type):
        return "empty"
    if pa.types.is_list(arrow_type):
        return f"list[{_pandas_type(arrow_type.value_type)}]"
    if pa.types.is_decimal(arrow_type):
        return "decimal"
    if pa.types.is_timestamp(arrow_type):
        return "datetimetz" if arrow_type.tz else "datetime"
    if pa.types.is_date(arrow_type):
        return "date"
    if pa.types.is_time(arrow_type):
        return "time"
    if pa.types.is_struct(arrow_type):
        return "object"
    return {"halffloat": "float16", "float": "float32", "double": "float64"}.get(
        str(arrow_type), str(arrow_type))


def _column(name: str, values: list[Any], absent: bool) -> tuple[Any, str, str]:
    """One column as pandas makes it from ``pandas.DataFrame(rows)`` and pyarrow then
    converts it (``from_pandas=True``: NaN is null).

    Parameters
    ----------
    name : str
        The column's name (for the error message).
    values : list
        Its value in every row, None where a row lacks the key.
    absent : bool
        Whether some row lacks the key (pandas puts NaN there, not None).

    Returns
    -------
    array : pyarrow.Array
    pandas_type, numpy_type : str
        What the pandas metadata says of the column.

    Notes
    -----
    pandas' inference on a column of Python objects, as it applies to these rows: only
    integers -> int64 (uint64 beyond int64); integers and nulls, or any real numbers ->
    float64, nulls and NaN stored as null; only booleans -> bool (an object column, still
    bool in Arrow, when there are nulls); only nulls -> float64 if one is NaN or missing,
    else Arrow's null type; anything else (strings) -> an object column that pyarrow
    converts by inference.
    """
    import pyarrow as pa

    kinds = {_kind(v) for v in values}
    nulls = absent or bool(kinds & {_NONE, _NAN})
    real = kinds - {_NONE, _NAN}
    if not real:
        if absent or _NAN in kinds:
            return pa.nulls(len(values), pa.float64()), "float64", "float64"
        return pa.nulls(len(values)), "empty", "object"
    if real == {_BOOL}:
        arr = pa.array([None if v is None or v != v else bool(v) for v in values], pa.bool_())
        return arr, "bool", "object" if nulls else "bool"
    if real == {_INT} and not nulls:
        try:
            return pa.array([int(v) for v in values], pa.int64()), "int64", "int64"
        except OverflowError:
            if min(int(v) for v in values) >= 0:
                return pa.array([int(v) for v in values], pa.uint64()), "uint64", "uint64"
            raise ValueError(f"results table: column {name!r} has integers beyond 64 bits; "
                             "store such a value as text") from None
    if real <= {_INT, _FLOAT}:
        return pa.array([None if v is None or v != v else float(v) for v in values],
                        pa.float64()), "float64", "float64"
    try:
        arr = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ValueError(f"results table: column {name!r} mixes values of different kinds "
                         f"({exc}); give every row the same kind of value (text, number or "
                         "true/false) or None") from None
    return arr, _pandas_type(arr.type), "object"


def parquet_bytes(rows: list[dict[str, Any]]) -> bytes:
    """A Parquet table of ``rows``: what ``pandas.DataFrame(rows).to_parquet(index=False)``
    writes, without importing pandas.

    One column per key, in order of first appearance (a row without the key is null
    there); each column's Arrow type, nullability and the ``pandas`` schema metadata are
    those pandas writes (tested against pandas with ``pyarrow.parquet.read_schema`` on
    integers, integers with missing values, floats with NaN and inf, text with None,
    booleans, columns with no value at all, and an empty table), so every Parquet reader
    sees the same table as before, and ``pandas.read_parquet`` gives the same frame.

    Parameters
    ----------
    rows : list of dict
        Values None, bool, int, float (NaN is stored as null) or str.

    Returns
    -------
    bytes
        The Parquet file.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    arrays, meta = [], []
    for k in columns:
        if not isinstance(k, str):
            raise ValueError(f"results table: column name {k!r} is not text")
        arr, pandas_type, numpy_type = _column(
            k, [row.get(k) for row in rows], any(k not in row for row in rows))
        arrays.append(arr)
        meta.append({"name": k, "field_name": k, "pandas_type": pandas_type,
                     "numpy_type": numpy_type, "metadata": None})
    pandas_meta: dict[str, Any] = {"index_columns": [], "column_indexes": [], "columns": meta}
    if int(pa.__version__.split(".")[0]) >= 22:  # pyarrow 22 writes DataFrame.attrs
        pandas_meta["attributes"] = {}
    pandas_meta["creator"] = {"library": "pyarrow", "version": pa.__version__}
    pandas_meta["pandas_version"] = _pandas_version()
    table = pa.Table.from_arrays(arrays, names=list(columns)) if arrays else pa.table({})
    table = table.replace_schema_metadata({"pandas": json.dumps(pandas_meta)})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()

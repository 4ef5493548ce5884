"""Ids as Arrow strings: stripping, duplicates and lookups without Python string objects.

At millions of rows a column of Python ``str`` objects costs about 60 bytes a cell and a
hash lookup per cell in the interpreter; Arrow keeps the text in one buffer and hashes it
in C++ (``pyarrow.compute``). Every helper takes and returns pandas objects, so the rest
of the package reads ordinary Series and numpy arrays.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: pandas' Arrow-backed string dtype (vectorised string methods, no Python objects).
ARROW_STR = pd.StringDtype("pyarrow")


def is_text(s: pd.Series) -> bool:
    """True for object and string columns (text to be stripped and checked)."""
    return s.dtype == object or pd.api.types.is_string_dtype(s.dtype)


def as_arrow_text(s: pd.Series) -> pd.Series:
    """``s`` as an Arrow-backed string Series (numbers are cast by Arrow, not Python)."""
    if s.dtype == ARROW_STR:
        return s
    if pd.api.types.is_integer_dtype(s.dtype) and not isinstance(s.dtype, pd.api.extensions.ExtensionDtype):
        arr = pc.cast(pa.array(s.to_numpy()), pa.string())  # pandas 2.1 takes string only
        return pd.Series(pd.arrays.ArrowStringArray(arr), index=s.index, name=s.name)
    return s.astype(ARROW_STR)


def arrow_array(s: pd.Series) -> pa.Array:
    """The Arrow array of a text Series (one chunk; zero-copy for single-chunk Arrow strings)."""
    arr = pa.array(as_arrow_text(s))
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def positions(values: pd.Series, keys: pd.Series) -> np.ndarray:
    """Position of each of ``values`` in ``keys`` (the first, if repeated); -1 where the
    value is missing or not among the keys.

    .. math:: \\text{pos}_r = \\min\\{j : \\text{keys}_j = \\text{values}_r\\}

    A hash lookup in Arrow: the equivalent of ``pd.Index(keys).get_indexer(values)``
    without turning either column into Python strings.
    """
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    idx = pc.index_in(arrow_array(values), value_set=arrow_array(keys).cast(pa.large_string()))
    return np.asarray(pc.fill_null(idx, -1), dtype=np.int64)


def duplicated(s: pd.Series) -> np.ndarray:
    """Rows whose (non-missing) value occurs more than once (``keep=False``)."""
    if len(s) == 0:
        return np.zeros(0, dtype=bool)
    enc = pc.dictionary_encode(arrow_array(s))
    if len(enc.dictionary) == len(s) - enc.null_count:
        return np.zeros(len(s), dtype=bool)
    idx = np.asarray(pc.fill_null(enc.indices, -1), dtype=np.int64)
    counts = np.bincount(idx[idx >= 0], minlength=len(enc.dictionary))
    return (idx >= 0) & (counts[np.maximum(idx, 0)] > 1)

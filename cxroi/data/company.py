"""Validated company data and the rows a rule leaves out of a fit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from cxroi.data.contract import FOREIGN_KEYS
from cxroi.data.mapping import Options
from cxroi.errors import Problem

log = logging.getLogger(__name__)

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
    #: (table, column) -> (row in the referenced table of each row's key, -1 when missing,
    #: and the two id arrays it was computed from): found once by the foreign-key check and
    #: reused by calibration, so ten million ids are hashed once
    key_rows: dict[tuple[str, str], tuple[np.ndarray, Any, Any]] = field(default_factory=dict, repr=False)

    def foreign_rows(self, table: str, col: str) -> np.ndarray | None:
        """Row of the referenced table (``cxroi.data.FOREIGN_KEYS``) that each row of
        ``table.col`` names, -1 where empty; ``None`` when not recorded or when either id
        column was replaced since validation."""
        hit = self.key_rows.get((table, col))
        if hit is None:
            return None
        rows, values, keys = hit
        other, ocol = FOREIGN_KEYS[(table, col)]
        t, o = self.tables.get(table), self.tables.get(other)
        if t is None or o is None or col not in t or ocol not in o:
            return None
        if t[col].array is not values or o[ocol].array is not keys or len(rows) != len(t):
            return None
        return rows

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



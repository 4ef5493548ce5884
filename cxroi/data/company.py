"""Validated company data and the rows a rule leaves out of a fit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

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



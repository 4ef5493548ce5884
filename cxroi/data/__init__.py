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

from cxroi.data.company import CompanyData, Exclusion
from cxroi.data.contract import (
    CONTRACT,
    CUSTOMERS_SHAPE,
    EMOTIONS,
    FOREIGN_KEYS,
    NEGATIVE_EMOTIONS,
    POSITIVE_EMOTIONS,
    TABLES_SHAPE,
    UNIQUE,
    Column,
)
from cxroi.data.mapping import Mapping, Options, TableMapping, load_mapping, mapping_from_dict
from cxroi.data.readers import read_raw
from cxroi.data.validate import from_frames, load, validate

__all__ = [
    "CONTRACT",
    "CUSTOMERS_SHAPE",
    "EMOTIONS",
    "FOREIGN_KEYS",
    "NEGATIVE_EMOTIONS",
    "POSITIVE_EMOTIONS",
    "TABLES_SHAPE",
    "UNIQUE",
    "Column",
    "CompanyData",
    "Exclusion",
    "Mapping",
    "Options",
    "TableMapping",
    "from_frames",
    "load",
    "load_mapping",
    "mapping_from_dict",
    "read_raw",
    "validate",
]

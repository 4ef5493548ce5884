"""The data contract: the tables, their columns, kinds, bounds and keys.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

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



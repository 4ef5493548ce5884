"""Account-month and group-month panels from the four tables, and the rollout's timing.

:func:`build_panel` turns validated company data (:func:`cxroi.data.load`) and an
:class:`~cxroi.measure.initiative.Initiative` into a :class:`Panel`:

* the data window: calendar months from the first to the last month with tickets or
  orders;
* per account and month (an ``(accounts, months)`` array each): *at risk* (a customer at
  some point of the month), *left* (``end_date`` in the month), *bought more* (an order of an
  expansion product, ``options.expansion_products`` of the mapping), *contacts* (contacts of
  the complaints opened in the month);
* per group and month (the *cells* the estimators use): sums and weights of every outcome,
  the lever (mean :math:`\\log_2` resolution days of the complaints opened in the month,
  resolved ones, same-day tickets floored at 0.01 days) and the survey answers (NPS as
  +100 / 0 / -100 per answer, so a cell mean is an NPS; CSAT 1-5) by month answered;
* each group's go-live month (a date inside a month counts from that month).

The checks that need data are made here and raise named errors with the fix:
:class:`~cxroi.errors.GoLiveOutsideDataError`, :class:`~cxroi.errors.NoPrePeriodError`,
:class:`~cxroi.errors.InitiativeError` (a group the data do not have).
"""

from __future__ import annotations

import datetime as _dt
import difflib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cxroi.data import CompanyData
from cxroi.errors import (
    GoLiveOutsideDataError,
    InitiativeError,
    MeasurementError,
    NoPrePeriodError,
    Problem,
)
from cxroi.measure.initiative import Initiative

#: Outcome -> (sum column, weight column) of :attr:`Panel.cells`.
CELL_OUTCOMES: dict[str, tuple[str, str]] = {
    "leaving": ("left", "at_risk"),
    "buying_more": ("bought_more", "at_risk"),
    "contacts": ("contacts", "at_risk"),
    "nps": ("nps_sum", "nps_n"),
    "csat": ("csat_sum", "csat_n"),
    "lever": ("log2_days_sum", "tickets"),
}
ALL_GROUPS = "All accounts"


@dataclass
class Panel:
    """The data of one rollout, by account-month and group-month.

    Attributes
    ----------
    months : DatetimeIndex
        First day of each month of the data window.
    accounts : DataFrame
        ``account_id``, ``group``, ``segment``, ``revenue`` (one row per account).
    at_risk, left, bought_more, contacts : ndarray
        ``(accounts, months)`` arrays.
    cells : DataFrame
        One row per group and month: ``group``, ``month`` (Timestamp), ``t`` (month
        index) and the sums and weights of :data:`CELL_OUTCOMES`.
    go_live : dict of str to int
        Reached group -> month index of its go-live.
    notes : list of str
        What the data could not give (e.g. no contacts column).
    """

    months: pd.DatetimeIndex
    accounts: pd.DataFrame
    at_risk: np.ndarray
    left: np.ndarray
    bought_more: np.ndarray
    contacts: np.ndarray
    cells: pd.DataFrame
    go_live: dict[str, int]
    group_by: str
    expansion_amount: float
    notes: list[str] = field(default_factory=list)

    @property
    def groups(self) -> list[str]:
        return sorted(self.cells["group"].unique())

    def month_label(self, t: int) -> str:
        return self.months[t].strftime("%b %Y")

    def outcome(self, name: str) -> pd.DataFrame:
        """Cells of one outcome: ``group``, ``month``, ``t``, ``y`` (cell mean), ``weight``."""
        s, w = CELL_OUTCOMES[name]
        c = self.cells[self.cells[w] > 0]
        return pd.DataFrame({"group": c["group"].to_numpy(), "month": c["month"].to_numpy(),
                             "t": c["t"].to_numpy(), "y": (c[s] / c[w]).to_numpy(),
                             "weight": c[w].to_numpy(float)})

    def available(self, name: str) -> bool:
        s, w = CELL_OUTCOMES[name]
        return bool(self.cells[w].sum() > 0) and bool(np.isfinite(self.cells[s]).all())

    def account_months(self) -> pd.DataFrame:
        """The account-month panel as a long table (at-risk account-months only)."""
        a, t = np.nonzero(self.at_risk)
        return pd.DataFrame({"account_id": self.accounts["account_id"].to_numpy()[a],
                             "group": self.accounts["group"].to_numpy()[a],
                             "month": self.months[t], "left": self.left[a, t],
                             "bought_more": self.bought_more[a, t], "contacts": self.contacts[a, t]})


def _month_index(dates: pd.Series, start: pd.Timestamp, n_months: int) -> np.ndarray:
    """0-based month of each date from ``start`` (may be < 0 or >= n_months); -1e6 for NaT."""
    d = pd.to_datetime(dates)
    idx = (d.dt.year - start.year) * 12 + (d.dt.month - start.month)
    return idx.fillna(-1_000_000).to_numpy(int)


def _window(data: CompanyData) -> tuple[pd.Timestamp, int]:
    t = data.tables
    stamps = [t["tickets"]["opened_at"], t["orders"]["date"]]
    lo = min(s.min() for s in stamps if s.notna().any())
    hi = max(s.max() for s in stamps if s.notna().any())
    if pd.isna(lo):
        raise MeasurementError("the data hold no dated tickets or orders. Fix: check the "
                               "tickets and orders tables")
    start = pd.Timestamp(lo).to_period("M").to_timestamp()
    n = (hi.year - start.year) * 12 + hi.month - start.month + 1
    return start, int(n)


def _known_groups(names: list[str], groups: list[str], where: str, column: str | None,
                  source: str) -> None:
    """Every name is a group of the accounts' ``column``; else an :class:`InitiativeError`
    with a problem per unknown name at ``where`` (``{g}`` is the name) and a did-you-mean."""
    known = set(groups)
    probs = [Problem(where.format(g=g), f"no accounts in group '{g}'",
                     f"did you mean '{close[0]}'?" if (close := difflib.get_close_matches(
                         g, groups, n=1)) else
                     f"use a value of the accounts column '{column}' (e.g. "
                     f"{', '.join(groups[:4])})") for g in names if g not in known]
    if probs:
        raise InitiativeError(source, probs)


def _resolve_go_live(ini: Initiative, groups: list[str], months: pd.DatetimeIndex,
                     source: str) -> dict[str, int]:
    first, last = months[0].date(), (months[-1] + pd.offsets.MonthEnd(0)).date()
    span = f"{months[0]:%d %b %Y} to {last:%d %b %Y}"
    dates: dict[str, _dt.date]
    if isinstance(ini.go_live, dict):
        _known_groups(list(ini.go_live), groups, "go_live.{g}", ini.group_by, source)
        dates = dict(ini.go_live)
    else:
        dates = {g: ini.go_live for g in groups}
    out: dict[str, int] = {}
    for g, d in sorted(dates.items()):
        key = f"go_live.{g}" if ini.staggered else "go_live"
        if d < first or d > last:
            raise GoLiveOutsideDataError(
                f"{source}: {key} = {d.isoformat()} lies outside the data, which run from "
                f"{span}. Fix: correct the date, or give data that cover the months before and "
                "after the go-live")
        t = (d.year - first.year) * 12 + d.month - first.month
        if t < ini.min_pre_months:
            have = "no month" if t == 0 else f"only {t} month{'s' if t != 1 else ''}"
            who = f"group '{g}'" if ini.staggered else "the rollout"
            raise NoPrePeriodError(
                f"{source}: {key} = {d.isoformat()}: the data show {have} of {who} before it "
                f"went live (the data start {months[0]:%b %Y}; at least {ini.min_pre_months} "
                f"needed to compare before with after). Fix: add data from before the go-live, "
                f"list the group under `exclude:`, or lower `min_pre_months`")
        out[g] = t
    return out


def build_panel(data: CompanyData, ini: Initiative, source: str = "<initiative>") -> Panel:
    """Account-month and group-month panels of ``data`` for initiative ``ini``.

    Raises
    ------
    GoLiveOutsideDataError, NoPrePeriodError, InitiativeError
        With the group, the dates and the fix.
    """
    if data.shape != "tables":
        raise MeasurementError(f"{data.source}: measuring a rollout needs the four tables "
                               "(accounts, tickets, surveys, orders), not the one-row-per-"
                               "customer shape. Fix: export the tables (docs/calibration.md)")
    tb = data.tables
    start, M = _window(data)
    months = pd.date_range(start, periods=M, freq="MS")
    acc = tb["accounts"]
    group_col = ini.group_by or "segment"
    if group_col not in acc.columns:
        close = difflib.get_close_matches(group_col, [c for c in acc.columns if c != "_row"], n=1)
        raise InitiativeError(source, [Problem(
            "group_by", f"the accounts table has no column '{group_col}'",
            f"did you mean '{close[0]}'?" if close else
            "name an accounts column, and list it under tables.accounts.keep in the mapping")])
    present = sorted(acc[group_col].dropna().astype(str).unique().tolist())
    # a typo would leave the group in, as a control
    _known_groups(list(ini.exclude), present, "exclude", group_col, source)
    excluded = acc[group_col].astype(str).isin(ini.exclude).to_numpy()
    acc = acc[~excluded].reset_index(drop=True)
    group = acc[group_col].astype(str).fillna("(none)").to_numpy()
    n = len(acc)
    first_m = _month_index(acc["start_date"], start, M)
    end_m = _month_index(acc["end_date"], start, M)
    end_m = np.where(acc["end_date"].isna().to_numpy(), 10**6, end_m)
    tt = np.arange(M)[None, :]
    at_risk = (first_m[:, None] <= tt) & (end_m[:, None] >= tt)
    left = at_risk & (end_m[:, None] == tt)
    pos = pd.Series(np.arange(n), index=acc["account_id"].to_numpy())

    def cells_of(ids: pd.Series, when: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a = pos.reindex(ids.to_numpy()).to_numpy()
        m = _month_index(when, start, M)
        ok = ~np.isnan(a) & (m >= 0) & (m < M)
        return a[ok].astype(int), m[ok], ok

    notes: list[str] = []
    od = tb["orders"]
    products = set(data.options.expansion_products)
    is_exp = od["product"].isin(products).to_numpy() if "product" in od else np.zeros(len(od), bool)
    if not is_exp.any():
        notes.append(f"no orders of an expansion product ({', '.join(sorted(products))}); buying "
                     "more cannot be measured (set options.expansion_products in the mapping)")
    a, m, ok = cells_of(od["account_id"][is_exp], od["date"][is_exp])
    bought = np.zeros((n, M), bool)
    bought[a, m] = True
    bought &= at_risk
    exp_amount = float(od["amount"][is_exp].to_numpy()[ok].mean()) if ok.any() else float("nan")

    tk = tb["tickets"]
    a, m, ok = cells_of(tk["account_id"], tk["opened_at"])
    contacts = np.zeros((n, M))
    if "contacts" in tk:
        np.add.at(contacts, (a, m), tk["contacts"].to_numpy(float)[ok])
    else:
        notes.append("the tickets table has no contacts column; contacts per account cannot be "
                     "measured")
    days = ((tk["resolved_at"] - tk["opened_at"]) / pd.Timedelta(days=1)).to_numpy(float)[ok]
    resolved = np.isfinite(days)
    n_floor = int((days[resolved] < 0.01).sum())
    if n_floor:
        notes.append(f"{n_floor} tickets resolved the same moment they were opened (or before) "
                     "counted as 0.01 days")
    log2d = np.log2(np.maximum(days[resolved], 0.01))
    g_t, m_t = group[a[resolved]], m[resolved]

    sv = tb["surveys"]
    answered = sv["responded_at"].notna()
    frames = []
    for col, score in (("nps", lambda x: 100.0 * ((x >= 9).astype(float) - (x <= 6))),
                       ("csat", lambda x: x)):
        if col not in sv:
            notes.append(f"the surveys table has no {col} column; {col.upper()} cannot be measured")
            continue
        mask = answered & sv[col].notna()
        a, m, ok = cells_of(sv["account_id"][mask], sv["responded_at"][mask])
        v = score(sv[col][mask].to_numpy(float))[ok]
        frames.append(pd.DataFrame({"group": group[a], "t": m, f"{col}_sum": v, f"{col}_n": 1.0}))

    groups_all = np.unique(group)
    gi = {g: i for i, g in enumerate(groups_all)}
    G = len(groups_all)
    gidx = np.array([gi[g] for g in group])

    def by_cell(values: np.ndarray) -> np.ndarray:
        out = np.zeros((G, M))
        np.add.at(out, gidx, values)
        return out.ravel()

    cells = pd.DataFrame({"group": np.repeat(groups_all, M), "t": np.tile(np.arange(M), G)})
    cells["month"] = months[cells["t"].to_numpy()]
    cells["at_risk"] = by_cell(at_risk.astype(float))
    cells["left"] = by_cell(left.astype(float))
    cells["bought_more"] = by_cell(bought.astype(float))
    cells["contacts"] = by_cell(contacts * at_risk)
    lev = pd.DataFrame({"group": g_t, "t": m_t, "log2_days_sum": log2d, "tickets": 1.0})
    for extra in [lev, *frames]:
        agg = extra.groupby(["group", "t"], as_index=False).sum()
        cells = cells.merge(agg, on=["group", "t"], how="left")
    for c in ("log2_days_sum", "tickets", "nps_sum", "nps_n", "csat_sum", "csat_n"):
        if c not in cells:
            cells[c] = 0.0
        cells[c] = cells[c].fillna(0.0)
    if not is_exp.any():
        cells["bought_more"] = np.nan
    if "contacts" not in tk:
        cells["contacts"] = np.nan

    go_live = _resolve_go_live(ini, list(groups_all), months, source)
    dates = ini.go_live if isinstance(ini.go_live, dict) else {"everyone": ini.go_live}
    mid = {g: d for g, d in dates.items() if d.day != 1}
    if mid:  # the panel is monthly: say which month counts as the first one after
        notes.append("; ".join(f"{g} went live mid-month ({d.isoformat()}): {d:%b %Y} counts as "
                               "the first month after" for g, d in sorted(mid.items()))
                     + " (the data are counted by calendar month)")
    accounts = pd.DataFrame({"account_id": acc["account_id"].to_numpy(), "group": group,
                             "segment": acc["segment"].astype(str).to_numpy(),
                             "revenue": acc["revenue"].to_numpy(float)})
    return Panel(months, accounts, at_risk, left, bought, contacts * at_risk, cells, go_live,
                 group_col, exp_amount, notes)

"""From the data contract's tables to the analysis frames every fitter reads."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from cxroi.data import EMOTIONS, CompanyData
from cxroi.data.keys import as_arrow_text, positions
from cxroi.errors import CalibrationError

#: Shortest resolution time used on the log2 scale (a complaint resolved in the minute it
#: was opened would be log2(0) = minus infinity). With date-only timestamps a same-day
#: ticket is floored at half a day instead (:data:`FLOOR_DAYS_DATE_ONLY`).
FLOOR_DAYS = 1.0 / 24.0
FLOOR_DAYS_DATE_ONLY = 0.5
#: A ticket counts towards an account's typical resolution time when it was opened at least
#: this quantile of all resolution times before the data's end (see :func:`prepare`).
SETTLED_QUANTILE = 0.99


@dataclass
class Prepared:
    """Analysis frames built from validated :class:`CompanyData` (tables shape).

    Attributes
    ----------
    accounts : DataFrame
        One row per account in the window: ``account_id, segment, seg (code), revenue,
        log_rev (centred), entry, exit (month indices), months, churned, complaints_opened``
        (complaints opened while a customer in the window, resolved or still open).
    complaints : DataFrame
        One row per resolved complaint of an account in the window: ``acc`` (row of
        ``accounts``), ``days``, ``z = log2(days / today)``, ``open_m``, ``res_m``,
        ``at_risk`` (resolved while the account was a customer), ``contacts``,
        after-complaint survey answers (``responded``, ``positive``, ``nps``, ``csat``).
    responses : DataFrame
        Every answered survey: ``acc``, ``day`` (days since window start), ``post`` (after a
        complaint), ``nps``, ``csat``, emotions.
    surveys_sent : DataFrame
        Every survey sent (answered or not): ``acc``, ``post``, ``responded``.
    expansions : DataFrame
        Expansion orders: ``acc``, ``m``, ``day``, ``amount``.
    orders : DataFrame
        Every order of an account in the window: ``acc``, ``amount``, ``expansion``.
    """

    accounts: pd.DataFrame
    complaints: pd.DataFrame
    responses: pd.DataFrame
    surveys_sent: pd.DataFrame
    expansions: pd.DataFrame
    orders: pd.DataFrame
    window_start: pd.Timestamp
    window_end: pd.Timestamp
    M: int
    today: float
    segments: list[str]
    has_emotions: list[str]
    floored: int = 0
    floor_days: float = FLOOR_DAYS
    expansion_products: tuple[str, ...] = ()
    products_seen: tuple[str, ...] = ()

    @property
    def has_expansion_products(self) -> bool:
        """True when any configured expansion product appears in the orders."""
        return len(self.expansions) > 0

    def subset(self, rows: np.ndarray) -> Prepared:
        """The same frames restricted to the accounts at positions ``rows`` (sorted), with
        every ``acc`` renumbered; the window, ``today`` and the segments are kept, so a fit
        on the subset is a fit on a sample of this company's accounts."""
        rows = np.sort(np.asarray(rows, dtype=np.int64))
        new = np.full(len(self.accounts), -1, dtype=np.int64)
        new[rows] = np.arange(len(rows))

        def pick(df: pd.DataFrame) -> pd.DataFrame:
            pos = new[df["acc"].to_numpy()]
            out = df.loc[pos >= 0].reset_index(drop=True)
            out["acc"] = pos[pos >= 0]
            out.attrs = dict(df.attrs)
            return out

        return dataclasses.replace(
            self, accounts=self.accounts.iloc[rows].reset_index(drop=True), complaints=pick(self.complaints),
            responses=pick(self.responses), surveys_sent=pick(self.surveys_sent),
            expansions=pick(self.expansions), orders=pick(self.orders))


def _dt64(x: pd.Series | np.ndarray) -> np.ndarray:
    return np.asarray(x.to_numpy() if isinstance(x, pd.Series) else x).astype("datetime64[ns]")


def _month_index(ts: pd.Series | np.ndarray, start: pd.Timestamp) -> np.ndarray:
    """Calendar months from ``start``'s month (0 = that month); dates must not be missing."""
    m = _dt64(ts).astype("datetime64[M]").astype(np.int64)
    return m - np.datetime64(start.to_period("M").to_timestamp(), "M").astype(np.int64)


def _days(later: np.ndarray, earlier: np.ndarray | pd.Timestamp) -> np.ndarray:
    """``later - earlier`` in days (float; NaN where a date is missing)."""
    e = np.datetime64(earlier, "ns") if isinstance(earlier, pd.Timestamp) else _dt64(earlier)
    return (_dt64(later) - e) / np.timedelta64(1, "D")


_DAY_NS = 86_400_000_000_000


def _keep_row_numbers(data: CompanyData, name: str) -> None:
    """Replace a validated table by its row numbers (its length and ``_row`` stay, for
    ``n_rows`` and exclusions): the analysis frames hold all that calibration needs."""
    data.tables[name] = data.tables[name][["_row"]]


def prepare(data: CompanyData, release_tables: bool = False) -> Prepared:
    """Build the analysis frames and record exclusions on ``data``.

    Ids are matched by Arrow hashing (:func:`cxroi.data.keys.positions`) and dates by numpy
    arithmetic, so ten million tickets cost seconds, not minutes. With ``release_tables``
    each validated table is replaced by its row numbers as soon as its frames are built
    (``cxroi calibrate`` does this: at ten million tickets the tables are about 3 GB).
    """
    if data.shape != "tables":
        raise CalibrationError("prepare() needs the tables shape (accounts, tickets, surveys, orders)")
    t = data.tables
    opts = data.options
    acc, tic, sur, ords = t["accounts"], t["tickets"], t["surveys"], t["orders"]
    event_dates = [tic["opened_at"], sur["sent_at"], ords["date"]]
    starts = [d.min() for d in event_dates if d.notna().any()]
    ends = [d.max() for d in [*event_dates, tic["resolved_at"], sur["responded_at"], acc["end_date"]]
            if d.notna().any()]
    del event_dates
    if not starts:
        raise CalibrationError("the tickets, surveys and orders tables hold no dates")
    w_start = pd.Timestamp(opts.window_start) if opts.window_start else min(starts)
    w_start = w_start.to_period("M").to_timestamp()
    w_end = pd.Timestamp(opts.window_end) if opts.window_end else max(ends)
    M = int((w_end.year - w_start.year) * 12 + w_end.month - w_start.month + 1)

    ended_before = (acc["end_date"] < w_start).to_numpy(dtype=bool)
    started_after = (acc["start_date"] > w_end).to_numpy(dtype=bool)
    data.exclude("accounts", "ended before the data window (no months at risk)", ended_before)
    data.exclude("accounts", "started after the data window", started_after)
    keep = ~(ended_before | started_after)
    a = acc.loc[keep].reset_index(drop=True)
    seg_txt = a["segment"].astype(str).to_numpy()
    segments = sorted(pd.unique(seg_txt).tolist())
    entry = np.maximum(_month_index(a["start_date"], w_start), 0)
    churned = (a["end_date"].notna() & (a["end_date"] <= w_end)).to_numpy()
    exit_m = np.where(churned, _month_index(a["end_date"].fillna(w_end), w_start), M - 1)
    exit_m = np.clip(exit_m, entry, M - 1)
    logr = np.log(np.maximum(a["revenue"].to_numpy(dtype=float), 1.0))
    accounts = pd.DataFrame({
        "account_id": a["account_id"].array, "segment": seg_txt,
        "revenue": a["revenue"].to_numpy(dtype=float), "log_rev": logr - logr.mean(),
        "entry": entry, "exit": exit_m, "months": exit_m - entry + 1, "churned": churned,
        "end_date": a["end_date"].to_numpy(),
    })
    accounts["seg"] = pd.Categorical(seg_txt, categories=segments).codes
    kept = np.full(len(acc) + 1, -1, dtype=np.int64)  # row of accounts -> row of `accounts`; -1 -> -1
    kept[np.flatnonzero(keep)] = np.arange(int(keep.sum()))

    def account_rows(table: str) -> np.ndarray:
        """Row of ``accounts`` of each row of ``table`` (-1: unknown or left out)."""
        found = data.foreign_rows(table, "account_id")  # hashed once, at validation
        if found is None:
            found = positions(t[table]["account_id"], acc["account_id"])
        return kept[found]

    # surveys first (the largest table: released before the tickets are worked on); their
    # exclusions are recorded after the tickets', in the report's order
    s_acc = account_rows("surveys")
    responded = sur["responded_at"].notna().to_numpy()
    post = sur["ticket_id"].notna().to_numpy() if "ticket_id" in sur else np.zeros(len(sur), bool)
    has_em = [e for e in EMOTIONS if e in sur.columns and sur[e].notna().any()]
    sent = pd.DataFrame({"acc": s_acc, "post": post, "responded": responded}).loc[s_acc >= 0]
    ridx = np.flatnonzero(responded & (s_acc >= 0))

    def answered(col: str) -> np.ndarray | float:  # column by column: no copy of the whole table
        return sur[col].to_numpy(dtype=float)[ridx] if col in sur else np.nan

    responses = pd.DataFrame({
        "acc": s_acc[ridx], "post": post[ridx],
        "ticket_id": sur["ticket_id"].array.take(ridx) if "ticket_id" in sur else None,
        "day": _days(_dt64(sur["responded_at"])[ridx], w_start),
        "nps": answered("nps"), "csat": answered("csat"), **{e: answered(e) for e in has_em},
    })
    pos_e = [e for e in opts.positive_emotions if e in has_em]
    neg_e = [e for e in opts.negative_emotions if e in has_em]
    pr = responses.loc[responses["post"]].drop_duplicates("ticket_id", keep="first")
    if pos_e and neg_e:
        good = pr[pos_e].mean(axis=1, skipna=False) > pr[neg_e].mean(axis=1, skipna=False)
        known_o = pr[pos_e + neg_e].notna().all(axis=1)
        rule = f"{' + '.join(pos_e)} rated above {' + '.join(neg_e)}"
    elif "csat" in pr:
        good, known_o, rule = pr["csat"] >= 4, pr["csat"].notna(), "CSAT 4 or 5"
    else:  # pragma: no cover - no answers at all
        good, known_o, rule = pd.Series(dtype=bool), pd.Series(dtype=bool), "none"
    known_o = known_o.to_numpy(dtype=bool)
    outcome = np.where(known_o, good.to_numpy(dtype=float), np.nan)
    unrated = np.zeros(len(sur), dtype=bool)  # survey rows of answers without the ratings
    unrated[ridx[pr.index.to_numpy()[~known_o]]] = True
    answer_ticket = np.zeros(0, dtype=np.int64)  # ticket row of each after-complaint answer
    if len(pr):
        tick = data.foreign_rows("surveys", "ticket_id")  # found at validation
        if tick is None:
            tick = positions(sur["ticket_id"], tic["ticket_id"])
        answer_ticket = tick[ridx[pr.index.to_numpy()]]
    if release_tables:
        del sur
        _keep_row_numbers(data, "surveys")

    # complaints
    t_acc = account_rows("tickets")
    data.exclude("tickets", "account left out (ended before or started after the window)", t_acc < 0)
    open_now = tic["resolved_at"].isna().to_numpy()
    data.exclude("tickets", "still open at the end of the data (no resolution time)",
                 open_now & (t_acc >= 0))
    ok = (t_acc >= 0) & ~open_now
    # complaints opened while a customer in the window, resolved or not: the rate of complaints
    # (counting only resolved ones would lose those opened in the last weeks, still open)
    open_all = _month_index(_dt64(tic["opened_at"]), w_start)
    opened_in = (t_acc >= 0) & (open_all >= 0) & (open_all < M)
    ai = t_acc[opened_in]  # and between the account's first and last month as a customer
    opened_in[opened_in] &= (open_all[opened_in] >= entry[ai]) & (open_all[opened_in] <= exit_m[ai])
    accounts["complaints_opened"] = np.bincount(t_acc[opened_in], minlength=len(accounts))
    del open_all, opened_in, ai
    if "contacts" in tic and tic["contacts"].notna().any():
        data.exclude("tickets", "no contacts count (left out of the contacts model)",
                     ok & tic["contacts"].isna().to_numpy())
    rows = np.flatnonzero(ok)
    opened, resolved = _dt64(tic["opened_at"])[rows], _dt64(tic["resolved_at"])[rows]
    days = _days(resolved, opened)
    date_only = bool(len(rows)) and all((x.view(np.int64) % _DAY_NS == 0).all() for x in (opened, resolved))
    floor = FLOOR_DAYS_DATE_ONLY if date_only else FLOOR_DAYS
    floored = int((days < floor).sum())
    days = np.maximum(days, floor)
    res_m = _month_index(resolved, w_start)
    open_m = _month_index(opened, w_start)
    ca = t_acc[rows]
    last12 = res_m >= M - 12
    today = float(np.median(days[last12] if last12.sum() >= 20 else days)) if len(days) else float("nan")
    contacts = tic["contacts"].to_numpy(dtype=float)[rows] if "contacts" in tic else np.full(len(rows), np.nan)
    complaints = pd.DataFrame({
        "ticket_id": tic["ticket_id"].array.take(rows), "acc": ca, "days": days,
        "z": np.log2(days / today) if len(days) else days, "open_m": open_m, "res_m": res_m,
        "at_risk": (res_m >= accounts["entry"].to_numpy()[ca]) & (res_m <= accounts["exit"].to_numpy()[ca]),
        "contacts": contacts,
    })
    del days, res_m, open_m, contacts, last12
    # tickets opened early enough that almost all of them (SETTLED_QUANTILE) are resolved by
    # the data's end, whatever became of the account: an account's typical resolution time is
    # then not shortened by the long tickets still open at the end (which only accounts still
    # active at the end have, so it would make leavers look slower)
    to_end = _days(np.full(len(rows), np.datetime64(w_end, "ns")), opened)
    del opened, resolved
    known = t_acc >= 0
    res_all = _dt64(tic["resolved_at"])[known]
    res_all[np.isnat(res_all)] = np.datetime64(w_end, "ns")
    dur_all = _days(res_all, _dt64(tic["opened_at"])[known])
    del res_all
    settle_days = float(np.quantile(dur_all, SETTLED_QUANTILE)) if len(dur_all) else 0.0
    settle_days = min(settle_days, (w_end - w_start).total_seconds() / 86400.0 / 3)  # keep 2/3 of the window
    complaints["settled"] = to_end >= settle_days
    del to_end, dur_all
    n_tic = len(tic)
    if release_tables:
        del tic
        _keep_row_numbers(data, "tickets")

    # after-complaint answers onto complaints: answer -> ticket row -> complaint
    to_complaint = np.full(n_tic + 1, -1, dtype=np.int64)
    to_complaint[rows] = np.arange(len(rows))
    at = to_complaint[answer_ticket]
    hit = at >= 0

    def onto(values: np.ndarray) -> np.ndarray:
        out = np.full(len(rows), np.nan)
        out[at[hit]] = values[hit]
        return out

    complaints["responded"] = onto(np.ones(len(at))) == 1
    complaints["positive"] = onto(outcome)
    for col in ("nps", "csat"):
        complaints[col] = onto(pr[col].to_numpy(dtype=float))
    complaints.attrs["outcome_rule"] = rule
    data.exclude("surveys", "account left out (ended before or started after the window)", s_acc < 0)
    data.exclude("surveys", "not answered (kept for the response-bias check)", ~responded & (s_acc >= 0))
    data.exclude("surveys", f"after-complaint answer without the ratings for the outcome rule ({rule})", unrated)

    # expansions
    exp_products = {p.casefold() for p in opts.expansion_products}
    prod = as_arrow_text(ords["product"]).str.lower() if "product" in ords else pd.Series("", index=ords.index)
    is_exp = prod.isin(exp_products).to_numpy(dtype=bool, na_value=False)
    o_acc = account_rows("orders")
    eidx = np.flatnonzero(is_exp & (o_acc >= 0))
    edate = _dt64(ords["date"])[eidx]
    expansions = pd.DataFrame({
        "acc": o_acc[eidx], "m": _month_index(edate, w_start), "day": _days(edate, w_start),
        "amount": ords["amount"].to_numpy(dtype=float)[eidx],
    })
    expansions = expansions.loc[(expansions["m"] >= 0) & (expansions["m"] < M)].reset_index(drop=True)
    data.exclude("orders", "account left out (ended before or started after the window)", o_acc < 0)
    oidx = np.flatnonzero(o_acc >= 0)
    orders = pd.DataFrame({"acc": o_acc[oidx], "amount": ords["amount"].to_numpy(dtype=float)[oidx],
                           "expansion": is_exp[oidx]})
    seen = tuple(sorted(str(p) for p in prod.dropna().unique()))[:50] if len(ords) else ()
    if release_tables:
        del ords, acc, t
        for name in ("orders", "accounts"):
            _keep_row_numbers(data, name)
        pa.default_memory_pool().release_unused()
    return Prepared(accounts, complaints, responses, sent, expansions, orders, w_start, w_end, M, today,
                    segments, has_em, floored=floored, floor_days=floor,
                    expansion_products=tuple(opts.expansion_products), products_seen=seen)

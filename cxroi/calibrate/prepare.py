"""From the data contract's tables to the analysis frames every fitter reads."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cxroi.data import EMOTIONS, CompanyData
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
        log_rev (centred), entry, exit (month indices), months, churned``.
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


def _month_index(ts: pd.Series, start: pd.Timestamp) -> np.ndarray:
    t = pd.DatetimeIndex(ts)
    return ((t.year - start.year) * 12 + (t.month - start.month)).to_numpy()


def prepare(data: CompanyData) -> Prepared:
    """Build the analysis frames and record exclusions on ``data``."""
    if data.shape != "tables":
        raise CalibrationError("prepare() needs the tables shape (accounts, tickets, surveys, orders)")
    t = data.tables
    opts = data.options
    acc, tic, sur, ords = t["accounts"], t["tickets"], t["surveys"], t["orders"]
    event_dates = [tic["opened_at"], sur["sent_at"], ords["date"]]
    starts = [d.min() for d in event_dates if d.notna().any()]
    ends = [d.max() for d in [*event_dates, tic["resolved_at"], sur["responded_at"], acc["end_date"]]
            if d.notna().any()]
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
    segments = sorted(a["segment"].astype(str).unique().tolist())
    entry = np.maximum(_month_index(a["start_date"], w_start), 0)
    churned = (a["end_date"].notna() & (a["end_date"] <= w_end)).to_numpy()
    exit_m = np.where(churned, _month_index(a["end_date"].fillna(w_end), w_start), M - 1)
    exit_m = np.clip(exit_m, entry, M - 1)
    logr = np.log(np.maximum(a["revenue"].to_numpy(dtype=float), 1.0))
    accounts = pd.DataFrame({
        "account_id": a["account_id"].to_numpy(), "segment": a["segment"].astype(str).to_numpy(),
        "revenue": a["revenue"].to_numpy(dtype=float), "log_rev": logr - logr.mean(),
        "entry": entry, "exit": exit_m, "months": exit_m - entry + 1, "churned": churned,
        "end_date": a["end_date"].to_numpy(),
    })
    accounts["seg"] = pd.Categorical(accounts["segment"], categories=segments).codes
    idx = pd.Index(accounts["account_id"])

    # complaints
    t_acc = idx.get_indexer(tic["account_id"])
    data.exclude("tickets", "account left out (ended before or started after the window)", t_acc < 0)
    open_now = tic["resolved_at"].isna().to_numpy()
    data.exclude("tickets", "still open at the end of the data (no resolution time)",
                 open_now & (t_acc >= 0))
    ok = (t_acc >= 0) & ~open_now
    if "contacts" in tic and tic["contacts"].notna().any():
        data.exclude("tickets", "no contacts count (left out of the contacts model)",
                     ok & tic["contacts"].isna().to_numpy())
    tk = tic.loc[ok]
    days = ((tk["resolved_at"] - tk["opened_at"]).dt.total_seconds() / 86400.0).to_numpy()
    date_only = bool(len(tk)) and all(
        ((col.dt.hour == 0) & (col.dt.minute == 0) & (col.dt.second == 0)).all()
        for col in (tk["opened_at"], tk["resolved_at"]))
    floor = FLOOR_DAYS_DATE_ONLY if date_only else FLOOR_DAYS
    floored = int((days < floor).sum())
    days = np.maximum(days, floor)
    res_m = _month_index(tk["resolved_at"], w_start)
    open_m = _month_index(tk["opened_at"], w_start)
    ca = t_acc[ok]
    last12 = res_m >= M - 12
    today = float(np.median(days[last12] if last12.sum() >= 20 else days)) if len(days) else float("nan")
    contacts = tk["contacts"].to_numpy(dtype=float) if "contacts" in tk else np.full(len(tk), np.nan)
    complaints = pd.DataFrame({
        "ticket_id": tk["ticket_id"].to_numpy(), "acc": ca, "days": days,
        "z": np.log2(days / today) if len(days) else days, "open_m": open_m, "res_m": res_m,
        "at_risk": (res_m >= accounts["entry"].to_numpy()[ca]) & (res_m <= accounts["exit"].to_numpy()[ca]),
        "contacts": contacts,
    })
    # tickets opened early enough that almost all of them (SETTLED_QUANTILE) are resolved by
    # the data's end, whatever became of the account: an account's typical resolution time is
    # then not shortened by the long tickets still open at the end (which only accounts still
    # active at the end have, so it would make leavers look slower)
    to_end = ((w_end - tk["opened_at"]).dt.total_seconds() / 86400.0).to_numpy()
    all_open = tic.loc[(t_acc >= 0)]
    dur_all = ((all_open["resolved_at"].fillna(w_end) - all_open["opened_at"]).dt.total_seconds() / 86400.0).to_numpy()
    settle_days = float(np.quantile(dur_all, SETTLED_QUANTILE)) if len(dur_all) else 0.0
    settle_days = min(settle_days, (w_end - w_start).total_seconds() / 86400.0 / 3)  # keep 2/3 of the window
    complaints["settled"] = to_end >= settle_days

    # surveys
    s_acc = idx.get_indexer(sur["account_id"])
    data.exclude("surveys", "account left out (ended before or started after the window)", s_acc < 0)
    responded = sur["responded_at"].notna().to_numpy()
    data.exclude("surveys", "not answered (kept for the response-bias check)", ~responded & (s_acc >= 0))
    post = sur["ticket_id"].notna().to_numpy() if "ticket_id" in sur else np.zeros(len(sur), bool)
    has_em = [e for e in EMOTIONS if e in sur.columns and sur[e].notna().any()]
    sent = pd.DataFrame({"acc": s_acc, "post": post, "responded": responded}).loc[s_acc >= 0]
    r = sur.loc[responded & (s_acc >= 0)]
    responses = pd.DataFrame({
        "acc": s_acc[responded & (s_acc >= 0)], "post": post[responded & (s_acc >= 0)],
        "ticket_id": r["ticket_id"].to_numpy() if "ticket_id" in r else None,
        "day": ((r["responded_at"] - w_start).dt.total_seconds() / 86400.0).to_numpy(),
        "nps": r["nps"].to_numpy(dtype=float) if "nps" in r else np.nan,
        "csat": r["csat"].to_numpy(dtype=float) if "csat" in r else np.nan,
        **{e: r[e].to_numpy(dtype=float) for e in has_em},
    })
    # after-complaint answers onto complaints
    pos_e = [e for e in opts.positive_emotions if e in has_em]
    neg_e = [e for e in opts.negative_emotions if e in has_em]
    pr = responses.loc[responses["post"]].drop_duplicates("ticket_id", keep="first")
    if pos_e and neg_e:
        good = pr[pos_e].mean(axis=1, skipna=False) > pr[neg_e].mean(axis=1, skipna=False)
        known = pr[pos_e + neg_e].notna().all(axis=1)
        rule = f"{' + '.join(pos_e)} rated above {' + '.join(neg_e)}"
    elif "csat" in pr:
        good, known, rule = pr["csat"] >= 4, pr["csat"].notna(), "CSAT 4 or 5"
    else:  # pragma: no cover - no answers at all
        good, known, rule = pd.Series(dtype=bool), pd.Series(dtype=bool), "none"
    outcome = pd.Series(np.where(known, good.astype(float), np.nan), index=pr["ticket_id"].to_numpy())
    complaints["responded"] = complaints["ticket_id"].isin(pr["ticket_id"])
    complaints["positive"] = complaints["ticket_id"].map(outcome).to_numpy(dtype=float)
    for col in ("nps", "csat"):
        complaints[col] = complaints["ticket_id"].map(
            pd.Series(pr[col].to_numpy(dtype=float), index=pr["ticket_id"].to_numpy())).to_numpy(dtype=float)
    data.exclude("surveys", f"after-complaint answer without the ratings for the outcome rule ({rule})",
                 _mask_from(sur, responded & (s_acc >= 0) & post, pr.index, ~known.to_numpy()))
    complaints.attrs["outcome_rule"] = rule

    # expansions
    exp_products = {p.casefold() for p in opts.expansion_products}
    prod = ords["product"].astype("string[pyarrow]").str.lower() if "product" in ords else pd.Series("", index=ords.index)
    is_exp = prod.isin(exp_products).fillna(False).to_numpy(dtype=bool)
    o_acc = idx.get_indexer(ords["account_id"])
    eo = ords.loc[is_exp & (o_acc >= 0)]
    expansions = pd.DataFrame({
        "acc": o_acc[is_exp & (o_acc >= 0)], "m": _month_index(eo["date"], w_start),
        "day": ((eo["date"] - w_start).dt.total_seconds() / 86400.0).to_numpy(),
        "amount": eo["amount"].to_numpy(dtype=float),
    })
    expansions = expansions.loc[(expansions["m"] >= 0) & (expansions["m"] < M)]
    data.exclude("orders", "account left out (ended before or started after the window)", o_acc < 0)
    orders = pd.DataFrame({"acc": o_acc[o_acc >= 0], "amount": ords["amount"].to_numpy(dtype=float)[o_acc >= 0],
                           "expansion": is_exp[o_acc >= 0]})
    seen = tuple(sorted(prod.dropna().astype(str).unique().tolist()))[:50] if len(ords) else ()
    return Prepared(accounts, complaints, responses, sent, expansions, orders, w_start, w_end, M, today,
                    segments, has_em, floored=floored, floor_days=floor,
                    expansion_products=tuple(opts.expansion_products), products_seen=seen)


def _mask_from(frame: pd.DataFrame, base: np.ndarray, sub_index: pd.Index, sub_mask: np.ndarray) -> np.ndarray:
    out = np.zeros(len(frame), dtype=bool)
    pos = frame.index.get_indexer(sub_index[sub_mask])
    out[pos[pos >= 0]] = True
    return out & base


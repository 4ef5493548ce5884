"""The one-sentence business case, and the number formats a CFO reads.

The sentence leads with the survey view ("NPS +9 points") and then, more importantly, the
money: retention savings and cross-sell over the horizon, the cost, NPV with its P10-P90
range and the chance of losing money, and the payback month. Every figure is the P50 of
the Monte Carlo (the range is P10-P90). It ends with what the money rests on
(:mod:`cxroi.evidence`): "measured in your data (n=...)", or published benchmarks or
assumptions, in which case the chance of loss is stated as conditional on those ranges; a
target outside the range seen in the data is named.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cxroi.scenario import Scenario, Touchpoint
    from cxroi.uncertainty import SimulationResult

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "KRW": "₩", "JPY": "¥"}


def money(x: float, currency: str = "USD") -> str:
    """``$1.2M``, ``$350k``, ``-$40k``, ``$900``."""
    if x is None or not math.isfinite(x):
        return "n/a"
    sym = _SYMBOLS.get(currency, currency + " ")
    sign = "-" if x < 0 else ""
    a = abs(x)
    if a >= 1e9:
        body = f"{a / 1e9:.1f}B"
    elif a >= 1e6:
        body = f"{a / 1e6:.1f}M"
    elif a >= 1e3:
        body = f"{a / 1e3:.0f}k"
    else:
        body = f"{a:.0f}"
    return f"{sign}{sym}{body}"


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%" if math.isfinite(x) else "n/a"


def _signed_points(x: float) -> str:
    return f"{x:+.0f} points" if math.isfinite(x) else "n/a"


#: How to show a value of each unit (registry shared by tables, charts and reports).
FORMATS: dict[str, Callable[[float, str], str]] = {
    "money": lambda x, cur: money(x, cur),
    "share": lambda x, cur: _pct(x),
    "points": lambda x, cur: f"{x:+.1f}" if math.isfinite(x) else "n/a",
    "csat": lambda x, cur: f"{x:.2f}" if math.isfinite(x) else "n/a",
    "month": lambda x, cur: f"{x:.0f}" if math.isfinite(x) else "not within horizon",
    "accounts": lambda x, cur: f"{x:,.0f}" if math.isfinite(x) else "n/a",
}


def fmt(value: float, unit: str, currency: str = "USD") -> str:
    """Format ``value`` for its ``unit`` (see :data:`FORMATS`)."""
    return FORMATS[unit](value, currency)


def lever_value(tp: Touchpoint, x: float) -> str:
    """``30 days``, ``80%``, ``5 steps``."""
    if tp.unit in {"share", "%"}:
        return f"{x * 100:.0f}%"
    num = f"{x:g}"
    unit = tp.unit
    if unit.endswith("s") and x == 1:
        unit = unit[:-1]
    return f"{num} {unit}".strip()


def change_phrase(sc: Scenario) -> str:
    """``Cutting complaint resolution time from 30 days to 1 day`` (levers that move)."""
    parts = []
    for tp in sc.touchpoints.values():
        lv = tp.lever
        if lv.target == lv.today:
            continue
        verb = "cutting" if tp.better == "lower" else "raising"
        parts.append(f"{verb} {tp.label} from {lever_value(tp, lv.today)} "
                     f"to {lever_value(tp, lv.target)}")
    if not parts:
        return "Leaving every lever where it is"
    text = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return text[0].upper() + text[1:]


def headline(res: SimulationResult) -> dict[str, Any]:
    """The numbers the sentence quotes (P50 unless named), for reports and tests."""
    q = res.quantile
    return {
        "nps_change": q("nps_change", 0.5),
        "retention_savings": q("retention_savings", 0.5),
        "cross_sell": q("cross_sell", 0.5),
        "cost_to_serve_savings": q("cost_to_serve_savings", 0.5),
        "total_costs": float(res.likely["total_costs"]),
        "npv": q("npv", 0.5),
        "npv_p10": q("npv", 0.1),
        "npv_p90": q("npv", 0.9),
        "prob_loss": res.prob_loss,
        "payback_month": q("payback_month", 0.5),
        "share_paying_back": float(res.summary.loc["payback_month", "share_defined"]),
        "horizon_months": res.scenario.finance.horizon_months,
    }


def pitch(res: SimulationResult) -> str:
    """The one sentence to paste into a deck."""
    sc = res.scenario
    cur = sc.currency
    h = headline(res)
    nps = h["nps_change"]
    survey = (f"lifts NPS by {_signed_points(nps)}" if round(nps) != 0
              else "barely moves NPS")
    from cxroi.evidence import evidence_of

    ev = evidence_of(sc, likely=res.likely)
    chance = h["prob_loss"]
    risk = ("under 1% chance it loses money" if chance < 0.01
            else f"{chance * 100:.0f}% chance it loses money")
    if not ev.measured:
        risk += " if those ranges hold"
    extra = " The target lies outside the range seen in your data (extrapolated)." \
        if any("the target" in e for e in ev.extrapolation) else ""
    if h["share_paying_back"] >= 0.5 and math.isfinite(h["payback_month"]):
        payback = f"payback month {h['payback_month']:.0f}"
    else:
        payback = f"no payback within {h['horizon_months']} months in most draws"
    return (
        f"{change_phrase(sc)} {survey} and, more importantly, is worth "
        f"{money(h['retention_savings'], cur)} of retention savings and "
        f"{money(h['cross_sell'], cur)} of cross-sell margin over {h['horizon_months']} months, "
        f"for {money(h['total_costs'], cur)}: NPV {money(h['npv'], cur)} "
        f"(P10–P90 {money(h['npv_p10'], cur)} to {money(h['npv_p90'], cur)}, {risk}), "
        f"{payback} — {ev.phrase}.{extra}"
    )

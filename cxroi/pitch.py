"""The one-sentence business case, and the number formats a CFO reads.

The sentence leads with the survey view ("NPS +8.2 points") and then, more importantly, the
money: retention savings and cross-sell over the horizon, the cost, NPV with its P10-P90
range and the chance of losing money, and the payback month. Every figure is the P50 of
the Monte Carlo (the range is P10-P90); a probability is always worded by :func:`chance`
("under 1%", "12%", "over 99%"), the same in the report's cards and charts. It ends with
what the money rests on (:mod:`cxroi.evidence`): "measured in your data (n=...)", or
published benchmarks or assumptions, in which case the chance of loss is stated as
conditional on those ranges; a target outside the range seen in the data is named.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cxroi.scenario import Scenario, Touchpoint
    from cxroi.uncertainty import SimulationResult

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "KRW": "₩", "JPY": "¥"}


#: Money units, smallest first: (size, suffix, decimals shown).
_MONEY_UNITS: tuple[tuple[float, str, int], ...] = (
    (1.0, "", 0), (1e3, "k", 0), (1e6, "M", 1), (1e9, "B", 1), (1e12, "T", 1))


def money(x: float, currency: str = "USD") -> str:
    """``$1.2M``, ``$350k``, ``-$40k``, ``$900``, ``₩2.5T``.

    The unit is the largest whose size the amount reaches, moved up one when rounding
    would show 1,000 of it (``$999.6k`` is ``$1.0M``, never ``$1000k``); an amount that
    rounds to zero has no minus sign.
    """
    if x is None or not math.isfinite(x):
        return "n/a"
    sym = _SYMBOLS.get(currency, currency + " ")
    a = abs(x)
    i = max((k for k, (size, _, _) in enumerate(_MONEY_UNITS) if a >= size), default=0)
    while True:
        size, suffix, digits = _MONEY_UNITS[i]
        shown = round(a / size, digits)
        if shown < 1000 or i == len(_MONEY_UNITS) - 1:
            break
        i += 1
    body = f"{a / size:,.{digits}f}{suffix}"
    sign = "-" if x < 0 and shown > 0 else ""
    return f"{sign}{sym}{body}"


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%" if math.isfinite(x) else "n/a"


def chance(p: float) -> str:
    """A probability as the one wording every output uses: ``under 1%``, ``12%``,
    ``over 99%`` (never ``0%`` or ``100%`` for something that is merely rare or likely);
    exactly 0 or 1 over the draws are still ``under 1%`` / ``over 99%``: a simulation
    cannot prove impossibility."""
    if p is None or not math.isfinite(p):
        return "n/a"
    if p < 0.01:
        return "under 1%"
    if p > 0.99:
        return "over 99%"
    return f"{p * 100:.0f}%"


def markdown_safe(text: str) -> str:
    """Text for Markdown: every ``$`` escaped with a backslash so JupyterLab's maths
    renderer does not read money as formula delimiters."""
    return text.replace("$", r"\$")


def _nps_phrase(x: float) -> str:
    """``lifts NPS by +8.2 points``, ``lowers NPS by 5.1 points``, ``barely moves NPS``:
    to a tenth of a point, as the NPS card, the before/after table and ``cxroi run``."""
    if not math.isfinite(x):  # not known, which is not "barely moves"
        return "leaves NPS unknown"
    shown = FORMATS["points"](x, "")
    if float(shown) == 0:
        return "barely moves NPS"
    return f"lifts NPS by {shown} points" if x > 0 else f"lowers NPS by {shown[1:]} points"


#: How to show a value of each unit (registry shared by tables, charts and reports).
FORMATS: dict[str, Callable[[float, str], str]] = {
    "money": lambda x, cur: money(x, cur),
    "share": lambda x, cur: _pct(x),
    "chance": lambda x, cur: chance(x),
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
    return quantity(x, tp.unit)


def quantity(x: float, unit: str) -> str:
    """``1 day``, ``2 days``, ``1.5 days``, ``0.8 steps``: a number with its unit in the
    right number (singular only for exactly 1)."""
    num = f"{x:.3g}" if abs(x) < 1000 else f"{x:,.0f}"
    unit = unit.strip()
    if not unit:
        return num
    if float(num.replace(",", "")) == 1 and unit.endswith("s") and not unit.endswith("ss"):
        unit = unit[:-1]
    elif float(num.replace(",", "")) != 1 and not unit.endswith("s") and unit.isalpha():
        unit = unit + "s"
    return f"{num} {unit}"


def change_phrase(sc: Scenario) -> str:
    """``Cutting complaint resolution time from 30 days to 1 day`` (levers that move; the
    verb is the way the lever moves, whether or not that is the better way)."""
    parts = []
    for tp in sc.touchpoints.values():
        lv = tp.lever
        if lv.target == lv.today:
            continue
        verb = "cutting" if lv.target < lv.today else "raising"  # the way it moves
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
        "other_benefits": q("other_benefits", 0.5) if "other_benefits" in res.draws else 0.0,
        "total_costs": float(res.likely["total_costs"]),
        "npv": q("npv", 0.5),
        "npv_p10": q("npv", 0.1),
        "npv_p90": q("npv", 0.9),
        "prob_loss": res.prob_loss,
        "payback_month": q("payback_month", 0.5),
        "share_paying_back": res.share_defined("payback_month"),
        "horizon_months": res.scenario.finance.horizon_months,
    }


def pitch(res: SimulationResult) -> str:
    """The one sentence to paste into a deck."""
    sc = res.scenario
    cur = sc.currency
    h = headline(res)
    survey = _nps_phrase(h["nps_change"])
    from cxroi.evidence import evidence_of

    ev = evidence_of(sc, likely=res.likely)
    risk = f"{chance(h['prob_loss'])} chance it loses money"
    if not ev.measured:
        risk += " if those ranges hold"
    extra = " The target lies outside the range seen in your data (extrapolated)." \
        if any("the target" in e for e in ev.extrapolation) else ""
    if h["share_paying_back"] >= 0.5 and math.isfinite(h["payback_month"]):
        payback = f"payback month {h['payback_month']:.0f}"
        if h["npv"] < 0:  # pays back on cash, yet loses money once discounted: say why
            payback += " on undiscounted cash"
    else:
        payback = (f"no payback within {h['horizon_months']} months "
                   f"({chance(h['share_paying_back'])} of simulations pay back)")
    moving = any(tp.lever.target != tp.lever.today for tp in sc.touchpoints.values())
    if moving:
        ret, xs = money(h["retention_savings"], cur), money(h["cross_sell"], cur)
        if ret.startswith("-") or xs.startswith("-"):  # a line that loses money
            worth = (f"{change_phrase(sc)} {survey} and, more importantly, changes retention "
                     f"savings by {ret} and cross-sell margin by {xs}")
        else:
            worth = (f"{change_phrase(sc)} {survey} and, more importantly, is worth {ret} of "
                     f"retention savings and {xs} of cross-sell margin")
        if abs(h["other_benefits"]) >= 0.5:
            worth += f" (and {money(h['other_benefits'], cur)} of other benefits)"
    elif abs(h["other_benefits"]) >= 0.5:  # its own cash-flow lines (TEI style), no lever
        worth = f"{sc.name} is worth {money(h['other_benefits'], cur)} of benefits"
    else:  # nothing moves: the scenario's name would claim a change that is not made
        where = ", ".join(f"{tp.label} at {lever_value(tp, tp.lever.today)}"
                          for tp in sc.touchpoints.values())
        worth = f"{change_phrase(sc)} ({where}) brings no benefits"
    return (
        f"{worth} over {h['horizon_months']} months, "
        f"for {money(h['total_costs'], cur)}: NPV {money(h['npv'], cur)} "
        f"(P10–P90 {money(h['npv_p10'], cur)} to {money(h['npv_p90'], cur)}, {risk}), "
        f"{payback} — {ev.phrase}.{extra}"
    )

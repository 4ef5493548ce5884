"""Where every number comes from, in words an executive reads.

Each link of the flywheel becomes a sentence in its own units -- "30% of complaints end
with a satisfied customer today", "each doubling of complaint resolution time cuts the odds
of a satisfied customer by 28%" -- with its range in the same units, what kind of number it
is (measured here, a published benchmark, an assumption), and its source with year and
caveat (``cxroi/resources/benchmarks.yaml``). The report's sources table
(:meth:`cxroi.report.BusinessCase.sources`) is made of :class:`LinkRow` objects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cxroi.pitch import lever_value, quantity

if TYPE_CHECKING:
    from cxroi.scenario import Link, Scenario, Touchpoint

#: Short names of the links (headings, tornado rows).
LINK_NAMES: dict[str, str] = {
    "positive_share_today": "Satisfied customers today",
    "odds_ratio": "Effect of the lever on satisfaction",
    "churn_gap": "Leaving after a bad outcome",
    "expansion_gap": "Buying more after a good outcome",
    "repeat_contacts": "Repeat contacts after a bad outcome",
    "nps_gap": "NPS after a good vs a bad outcome",
    "csat_gap": "CSAT after a good vs a bad outcome",
    "referrals_per_promoter": "Referrals per extra promoter",
    "churn_hazard_ratio": "Effect of the lever on leaving",
    "expansion_rate_ratio": "Effect of the lever on buying more",
    "contacts_ratio": "Effect of the lever on contacts",
}

KIND_LABELS = {"measured": "Measured here", "benchmark": "Published benchmark",
               "assumption": "Assumption"}
TRANSFER_WORDS = {"near": "a nearby context", "far": "a distant context (consumer, decades "
                  "old or stated intent)"}


def num(x: float) -> str:
    """``2.5``, ``1``, ``0.02``, ``60``, ``1,250``: few significant digits, no trailing zeros."""
    a = abs(x)
    if a < 1e-9:
        return "0"
    if a >= 10:
        return f"{x:,.0f}"
    return f"{x:.2g}"


def pct(x: float) -> str:
    """A share as a percentage: ``30%``, ``2.5%``."""
    return f"{num(x * 100)}%"


def points(x: float, what: str = "points") -> str:
    """``1 point``, ``2.5 points``; ``what='percentage points'`` for shares."""
    v = num(x)
    return f"{v} {what[:-1] if v == '1' else what}"


#: What customers go through at a touchpoint, by touchpoint key (the plural noun).
EVENT_NOUNS: dict[str, str] = {
    "complaints": "complaints",
    "first_contact_resolution": "support contacts",
    "fcr": "support contacts",
    "ordering": "orders",
    "onboarding": "onboardings",
}


def events(name: str, tp: Touchpoint) -> str:
    """The touchpoint's events in the plural: ``complaints``, ``orders``; else the key if it
    is a plural, else ``<label> events``."""
    if name in EVENT_NOUNS:
        return EVENT_NOUNS[name]
    words = name.replace("_", " ")
    return words if words.endswith("s") else f"{tp.label} events"


def _a(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def lever_step(tp: Touchpoint) -> str:
    """One unit of the lever's scale: ``each doubling of complaint resolution time``,
    ``each 10 percentage points more first contact resolution``."""
    if tp.scale == "log2":
        return f"each doubling of {tp.label}"
    if tp.unit in {"share", "%"}:
        return f"each {points(tp.step * 100, 'percentage points')} more {tp.label}"
    return f"each {quantity(tp.step, tp.unit)} more {tp.label}".replace("  ", " ")


def ratio_change(r: float) -> str:
    """``cuts ... by 28%`` / ``raises ... by 40%`` / ``leaves ... unchanged`` for a ratio."""
    if abs(r - 1) < 0.005:
        return "leaves {what} unchanged"
    return f"cuts {{what}} by {pct(1 - r)}" if r < 1 else f"raises {{what}} by {pct(r - 1)}"


def ratio_range(lo: float, hi: float, what: str) -> str:
    """A ratio range in words: ``cuts them by 15% to 40%``, ``from a 10% cut to a 60% rise``."""
    if hi <= 1:
        return f"cuts {what} by {pct(1 - hi)} to {pct(1 - lo)}"
    if lo >= 1:
        return f"raises {what} by {pct(lo - 1)} to {pct(hi - 1)}"
    return f"from a {pct(1 - lo)} cut to a {pct(hi - 1)} rise in {what}"


_RATIOS = {  # (what the ratio multiplies, short form for the range)
    "odds_ratio": ("the odds of a satisfied customer", "the odds"),
    "churn_hazard_ratio": ("the hazard of leaving", "the hazard"),
    "expansion_rate_ratio": ("the monthly chance of buying more", "that chance"),
    "contacts_ratio": ("contacts per {event}", "contacts"),
}


def _singular(words: str) -> str:
    return words[:-1] if words.endswith("s") else words


def describe(name: str, link: Link, tp_name: str | None = None,
             tp: Touchpoint | None = None, low: float | None = None,
             high: float | None = None) -> tuple[str, str]:
    """(sentence for the likely value, range in the same units) of one link.

    ``low`` / ``high`` override the link's own range (e.g. the range widened for transfer).
    """
    lo = link.low if low is None else low
    hi = link.high if high is None else high
    v = link.value
    ev = events(tp_name, tp) if tp is not None and tp_name else "events"
    if name in _RATIOS:
        what, short = _RATIOS[name]
        step = lever_step(tp) if tp is not None else "each unit of the lever"
        sentence = (f"{step[0].upper() + step[1:]} "
                    f"{ratio_change(v).format(what=what.format(event=_singular(ev)))}")
        return sentence, ratio_range(lo, hi, short)
    if name == "positive_share_today":
        today = f" (at {lever_value(tp, tp.lever.today)})" if tp is not None else ""
        return (f"{pct(v)} of {ev} end with a satisfied customer today{today}",
                f"{pct(lo)} to {pct(hi)}")
    if name == "churn_gap":
        return (f"An account whose {_singular(ev)} ends badly is "
                f"{points(v * 100, 'percentage points')} more likely to leave",
                f"{num(lo * 100)} to {points(hi * 100, 'percentage points')}")
    if name == "expansion_gap":
        return (f"An account whose {_singular(ev)} ends well is "
                f"{points(v * 100, 'percentage points')} more likely to buy more",
                f"{num(lo * 100)} to {points(hi * 100, 'percentage points')}")
    if name == "repeat_contacts":
        return (f"{_a(_singular(ev)).capitalize()} that ends badly brings "
                f"{quantity(v, 'extra contacts')}",
                f"{num(lo)} to {quantity(hi, 'contacts')}")
    if name == "nps_gap":
        return (f"Customers whose {_singular(ev)} ends well give an NPS {points(v)} higher",
                f"{num(lo)} to {points(hi)}")
    if name == "csat_gap":
        return (f"Customers whose {_singular(ev)} ends well rate CSAT {points(v)} higher "
                "(1–5 scale)", f"{num(lo)} to {points(hi)}")
    if name == "referrals_per_promoter":
        per = f" (1 for every {num(1 / v)} promoters)" if 0 < v < 1 else ""
        return (f"Each extra promoter brings {quantity(v, 'new accounts')} a year{per}",
                f"{num(lo)} to {quantity(hi, 'new accounts')} a year")
    return f"{LINK_NAMES.get(name, name)}: {num(v)}", f"{num(lo)} to {num(hi)}"


def year_of(*texts: str) -> str | None:
    """The year of a citation: the last four-digit year (or decade, ``1980s``) in the
    first text that has one, e.g. ``2014`` in "Knox & van Oest (2014)"."""
    for text in texts:
        years = re.findall(r"\b((?:1[89]|20)\d\ds?)\b", text or "")
        if years:
            return years[-1]
    return None


@dataclass(frozen=True)
class LinkRow:
    """One line of the sources table, every field plain text."""

    path: str
    name: str
    touchpoint: str
    label: str
    sentence: str
    range: str
    kind: str  # measured | benchmark | assumption (evidence kind)
    kind_label: str
    kind_detail: str
    source: str
    year: str
    caveat: str
    note: str
    widened: str
    caveats: tuple[str, ...]
    raw: str


def link_rows(sc: Scenario, caveats: dict[str, tuple[str, ...]] | None = None
              ) -> list[LinkRow]:
    """Every link of a scenario as a :class:`LinkRow` (touchpoint links first)."""
    from cxroi.evidence import link_kind, n_unit
    from cxroi.scenario import load_benchmarks
    from cxroi.uncertainty import TRANSFER, sampling_range

    bench = load_benchmarks()
    caveats = caveats or {}
    rows = []
    for path, link in sc.link_paths().items():
        parts = path.split(".")
        name = parts[-1]
        tp_name = parts[1] if parts[0] == "touchpoints" else None
        tp = sc.touchpoints[tp_name] if tp_name else None
        sentence, rng = describe(name, link, tp_name, tp)
        kind = link_kind(link)
        detail, widened, caveat, year = "", "", "", ""
        source = link.source
        if link.provenance == "calibrated":
            n = f"{link.n:,} {n_unit(link)}" if link.n else None
            if link.prior_weight is not None and link.prior_source:
                prior = bench.get(link.prior_source, {}).get("source", link.prior_source)
                detail = (f"calibrated: {n or 'company data'} + benchmark prior ({prior}, "
                          f"{link.prior_weight:.0%} of the precision)")
            else:
                detail = f"calibrated: {n}" if n else "calibrated on the company's data"
        elif link.provenance == "benchmark":
            b = bench.get(link.source, {})
            source = b.get("source", link.source)
            caveat = b.get("caveat", "")
            year = year_of(source, b.get("figure", ""), caveat) or "year not stated"
            transfer = str(b.get("transfer", "same"))
            if TRANSFER.get(transfer, 1.0) > 1.0:
                lo, _, hi = sampling_range(name, link)
                _, wide = describe(name, link, tp_name, tp, lo, hi)
                widened = (f"widened ×{TRANSFER[transfer]:g} for transfer from "
                           f"{TRANSFER_WORDS.get(transfer, transfer)}: {wide}")
                detail = f"published benchmark, widened for context ({transfer})"
            else:
                detail = "published benchmark, same context"
        else:
            detail = "stated assumption (a judgement range)"
        rows.append(LinkRow(
            path=path, name=name, touchpoint=tp.label if tp else "all touchpoints",
            label=LINK_NAMES.get(name, name), sentence=sentence, range=rng, kind=kind,
            kind_label=KIND_LABELS[kind] if not (link.provenance == "calibrated"
                                                 and kind == "benchmark")
            else "Mostly a benchmark prior",
            kind_detail=detail, source=source, year=year, caveat=caveat, note=link.note,
            widened=widened, caveats=tuple(caveats.get(name, ())),
            raw=f"{num(link.value)} ({num(link.low)} to {num(link.high)})"))
    return rows


__all__ = ["LINK_NAMES", "LinkRow", "describe", "lever_step", "link_rows", "num", "pct",
           "points", "year_of"]

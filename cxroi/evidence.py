"""What the money rests on: the evidence level of every money line and of the headline.

A figure measured in the company's data, a published benchmark and an assumption must never
read alike. :func:`evidence_of` looks at the links behind each money line (the direct link
where a touchpoint has one, else the emotion chain and the gap) and grades the line:

============  ==========================================================================
level         meaning
============  ==========================================================================
measured      every link behind it was calibrated on the company's data (a calibrated
              link whose precision came mostly, ``prior_weight >= 0.5``, from a benchmark
              prior counts as a benchmark)
mixed         some links measured here, some published benchmarks or assumptions
benchmark     published benchmarks (and possibly assumptions, then named: ``assumed``),
              not yet measured here
assumption    judgement only
============  ==========================================================================

A scenario with benefit cash-flow lines (TEI style, ``cash_flows``) has one more money line,
``other_benefits``, graded by those lines' own provenance.

The headline level is that of the money lines that carry at least
:data:`MATERIAL_SHARE` of the likely benefits. ``docs/model.md`` ("Evidence") describes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cxroi.scenario import DIRECT_LINKS

if TYPE_CHECKING:
    from cxroi.scenario import Link, Scenario

LEVELS: tuple[str, ...] = ("measured", "mixed", "benchmark", "assumption")
MONEY_LINES: tuple[str, ...] = ("retention_savings", "cross_sell", "cost_to_serve_savings",
                                "advocacy")
#: A money line counts towards the headline level when it carries this share of benefits.
MATERIAL_SHARE = 0.10

_CHAIN = ("positive_share_today", "odds_ratio")
#: Links behind each line: (direct link or None, the emotion-chain links used without it).
LINES: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "retention_savings": ("churn_hazard_ratio", (*_CHAIN, "churn_gap")),
    "cross_sell": ("expansion_rate_ratio", (*_CHAIN, "expansion_gap")),
    "cost_to_serve_savings": ("contacts_ratio", (*_CHAIN, "repeat_contacts")),
    "advocacy": (None, (*_CHAIN, "nps_gap")),
    "nps": (None, (*_CHAIN, "nps_gap")),
    "csat": (None, (*_CHAIN, "csat_gap")),
}
_GLOBAL = {"advocacy": ("referrals_per_promoter",)}

PHRASES: dict[str, str] = {
    "measured": "measured in your data{n}",
    "mixed": "partly measured in your data{n}, partly resting on published benchmarks and "
             "assumptions",
    "benchmark": "resting on published benchmarks, not yet measured in your data",
    "assumption": "resting on stated assumptions, not yet measured in your data",
}
SHORT: dict[str, str] = {
    "measured": "measured here", "mixed": "partly measured",
    "benchmark": "benchmarks", "assumption": "assumptions",
}
#: The ``benchmark`` level's phrase and badge when a stated assumption is among the links
#: behind it: an assumption never reads as a published benchmark.
ASSUMED_PHRASE = ("resting on published benchmarks and stated assumptions, not yet measured "
                  "in your data")
ASSUMED_SHORT = "benchmarks + assumptions"


def link_kind(link: Link) -> str:
    """``measured``, ``benchmark`` or ``assumption`` for one link."""
    if link.provenance == "calibrated":
        return "benchmark" if (link.prior_weight or 0.0) >= 0.5 else "measured"
    return link.provenance


def _combine(kinds: list[str]) -> str:
    if not kinds:
        return "assumption"
    if all(k == "measured" for k in kinds):
        return "measured"
    if any(k == "measured" for k in kinds):
        return "mixed"
    return "benchmark" if "benchmark" in kinds else "assumption"


def _n_text(n: int | None, unit: str = "accounts") -> str:
    return f" (n={n:,} {unit})" if n else ""


#: ``calibrated: 5,232 complaints, ...``: the count and what it counts, as calibration
#: writes a link's source (:meth:`cxroi.calibrate.Calibration.source_text`).
_COUNTED = re.compile(r"calibrated:\s*([\d,]+)\s+([A-Za-z][\w -]*?)\s*(?:\+|,|\(|$)")


def n_unit(link: Link) -> str:
    """What a calibrated link's ``n`` counts (``accounts``, ``complaints``, ``complaint
    survey answers``, ``account-months``), read from its source text; ``accounts`` when
    the source does not say (or gives another number)."""
    m = _COUNTED.match(link.source or "")
    if m and link.n is not None and int(m.group(1).replace(",", "")) == link.n:
        return m.group(2).strip()
    return "accounts"


def _largest(counts: list[tuple[int, str]]) -> tuple[int | None, str]:
    """The largest sample behind a line (or the headline) and what it counts."""
    return max(counts, key=lambda c: c[0]) if counts else (None, "accounts")


class _Worded:
    """The words of an evidence level, shared by a line and the headline: a ``benchmark``
    level with a stated assumption among its links names the assumptions
    (:data:`ASSUMED_PHRASE`, :data:`ASSUMED_SHORT`), so an assumption never reads as a
    published benchmark."""

    level: str
    n: int | None
    assumed: bool
    n_unit: str

    @property
    def names_assumptions(self) -> bool:
        return self.level == "benchmark" and self.assumed

    @property
    def phrase(self) -> str:
        """``measured in your data (n=4,812 accounts)`` and the like."""
        if self.names_assumptions:
            return ASSUMED_PHRASE
        return PHRASES[self.level].format(n=_n_text(self.n, self.n_unit))

    @property
    def short(self) -> str:
        return ASSUMED_SHORT if self.names_assumptions else SHORT[self.level]


@dataclass(frozen=True)
class LineEvidence(_Worded):
    """Evidence behind one money line (or ``nps`` / ``csat``)."""

    line: str
    level: str
    links: tuple[str, ...]  # key paths, e.g. touchpoints.complaints.links.churn_hazard_ratio
    n: int | None
    assumed: bool = False  # a stated assumption is among the links
    n_unit: str = "accounts"  # what n counts


@dataclass(frozen=True)
class Evidence(_Worded):
    """Evidence levels of a scenario's money lines and headline, with extrapolation flags
    and the scenario's caveats grouped by what they are about."""

    lines: dict[str, LineEvidence]
    level: str
    n: int | None
    material: tuple[str, ...]
    extrapolation: tuple[str, ...] = ()
    caveats: dict[str, tuple[str, ...]] = field(default_factory=dict)
    assumed: bool = False  # benchmark level, and an assumption carries part of the value
    n_unit: str = "accounts"  # what n counts

    @property
    def measured(self) -> bool:
        return self.level == "measured"

    def caveats_for(self, about: str) -> tuple[str, ...]:
        return self.caveats.get(about, ())


def _moving(sc: Scenario) -> list[str]:
    return [k for k, tp in sc.touchpoints.items() if tp.lever.target != tp.lever.today]


def extrapolation(sc: Scenario) -> tuple[str, ...]:
    """One sentence per lever whose today or target lies outside the range seen in the data."""
    from cxroi.pitch import lever_value

    out = []
    for tp in sc.touchpoints.values():
        ob = tp.observed
        if ob is None:
            continue
        outside = [(w, v) for w, v in (("today's value", tp.lever.today),
                                        ("the target", tp.lever.target))
                   if not ob.low <= v <= ob.high]
        for what, v in outside:
            out.append(f"{tp.label[0].upper() + tp.label[1:]}: {what} of {lever_value(tp, v)} "
                       f"lies outside the {lever_value(tp, ob.low)}–{lever_value(tp, ob.high)} "
                       "seen in your data, so the effect there is extrapolated")
    return tuple(out)


def evidence_of(sc: Scenario, likely: dict[str, float] | None = None) -> Evidence:
    """Grade every money line and the headline of a scenario.

    Parameters
    ----------
    sc : Scenario
    likely : dict, optional
        Likely (deterministic) values of the money lines, to find which lines are material;
        computed with :func:`cxroi.model.evaluate` when not given.
    """
    tps = _moving(sc) or list(sc.touchpoints)
    lines: dict[str, LineEvidence] = {}
    for line, (direct, chain) in LINES.items():
        paths: list[str] = []
        links: list[Link] = []
        for name in tps:
            tl = sc.touchpoints[name].links
            names = (direct,) if direct and getattr(tl, direct) is not None else chain
            for ln in names:
                paths.append(f"touchpoints.{name}.links.{ln}")
                links.append(getattr(tl, ln))
        for g in _GLOBAL.get(line, ()):
            paths.append(f"links.{g}")
            links.append(getattr(sc.links, g))
        kinds = [link_kind(ln) for ln in links]
        n, unit = _largest([(ln.n, n_unit(ln)) for ln in links
                            if ln.n and link_kind(ln) == "measured"])
        lines[line] = LineEvidence(line, _combine(kinds), tuple(paths), n,
                                   "assumption" in kinds, unit)
    money_lines = MONEY_LINES
    flows = sc.benefit_flows()
    if flows:  # the scenario's own benefit lines, graded by their own provenance
        kinds = ["measured" if cf.provenance == "calibrated" else cf.provenance
                 for cf in flows.values()]
        lines["other_benefits"] = LineEvidence(
            "other_benefits", _combine(kinds), tuple(f"cash_flows.{k}" for k in flows), None,
            "assumption" in kinds)
        money_lines = (*MONEY_LINES, "other_benefits")
    if likely is None:
        from cxroi.model import evaluate

        likely = {k: float(v) for k, v in evaluate(sc).items() if k in money_lines}
    total = sum(abs(likely.get(k, 0.0)) for k in money_lines)
    material = tuple(k for k in money_lines
                     if total > 0 and abs(likely.get(k, 0.0)) >= MATERIAL_SHARE * total)
    if not material:  # no benefit at all: grade on what would carry it
        material = ("retention_savings", "cross_sell")
    level = _combine([k for m in material for k in _expand(lines[m].level)])
    n, unit = _largest([(lines[m].n, lines[m].n_unit) for m in material if lines[m].n])
    caveats: dict[str, list[str]] = {}
    for c in sc.caveats:
        caveats.setdefault(c.about, []).append(c.text)
    return Evidence(lines=lines, level=level, n=n, material=material,
                    extrapolation=extrapolation(sc),
                    caveats={k: tuple(v) for k, v in caveats.items()},
                    assumed=level == "benchmark" and any(lines[m].assumed for m in material),
                    n_unit=unit)


def _expand(level: str) -> list[str]:
    """A line's level as link kinds for combining lines into the headline."""
    return ["measured", "benchmark"] if level == "mixed" else [level]


__all__ = ["ASSUMED_PHRASE", "ASSUMED_SHORT", "DIRECT_LINKS", "Evidence", "LEVELS",
           "LineEvidence", "evidence_of", "extrapolation", "link_kind", "n_unit"]

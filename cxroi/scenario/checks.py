r"""Cross-field checks of a scenario: link domains and fixes (registries, not if-chains), the
rules a schema alone cannot express, and pydantic's errors turned into :class:`~cxroi.errors.Problem`\ s
that name the key path and the fix."""

from __future__ import annotations

import difflib
import itertools
import math
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import yaml

from cxroi.errors import Problem
from cxroi.scenario.schema import (
    GlobalLinks,
    Link,
    Retention,
    Scenario,
    TouchpointLinks,
)

# --------------------------------------------------------------------------------------
# Domains and fixes: registries, not if-chains.
# --------------------------------------------------------------------------------------

#: (lowest, highest, plain name, fix hint) for every link; bounds are inclusive.
LINK_DOMAINS: dict[str, tuple[float, float, str]] = {
    "positive_share_today": (0.0, 1.0, "a share between 0 and 1, e.g. 0.35"),
    "odds_ratio": (1e-6, 1e6, "a positive odds ratio, e.g. 0.75 per doubling"),
    "churn_gap": (0.0, 1.0, "an extra probability of leaving between 0 and 1, e.g. 0.04"),
    "expansion_gap": (0.0, 1.0, "an extra probability of buying more between 0 and 1"),
    "repeat_contacts": (0.0, 50.0, "extra contacts per negative event, e.g. 0.8"),
    "nps_gap": (0.0, 200.0, "NPS points between 0 and 200, e.g. 40"),
    "csat_gap": (0.0, 4.0, "CSAT points on the 1-5 scale, between 0 and 4"),
    "referrals_per_promoter": (0.0, 5.0, "new accounts per extra promoter per year, e.g. 0.03"),
    "churn_hazard_ratio": (1e-3, 50.0, "a positive hazard ratio per lever unit, e.g. 1.25 per doubling"),
    "expansion_rate_ratio": (1e-3, 50.0, "a positive rate ratio per lever unit, e.g. 0.9 per doubling"),
    "contacts_ratio": (1e-3, 50.0, "a positive ratio of contacts per lever unit, e.g. 1.1 per doubling"),
}

#: The optional direct (total-effect) links and the emotion-chain gap each one replaces.
DIRECT_LINKS: dict[str, str] = {
    "churn_hazard_ratio": "churn_gap",
    "expansion_rate_ratio": "expansion_gap",
    "contacts_ratio": "repeat_contacts",
}

#: Where a caveat can point, besides a link name.
CAVEAT_TOPICS = ("retention_savings", "cross_sell", "cost_to_serve_savings", "advocacy",
                 "nps", "csat", "general")

_PYDANTIC_FIXES: dict[str, str] = {
    "missing": "add this key",
    "float_parsing": "write a plain number such as 0.12 (no % sign, no thousands separators)",
    "float_type": "write a plain number such as 0.12",
    "int_parsing": "write a whole number such as 36",
    "int_type": "write a whole number such as 36",
    "int_from_float": "write a whole number such as 36",
    "greater_than": "use a larger value",
    "greater_than_equal": "use a value at least this large",
    "less_than": "use a smaller value",
    "less_than_equal": "use a value at most this large",
    "literal_error": "use one of the allowed words",
    "string_too_short": "write something here",
    "too_short": "give at least one entry",
    "string_type": "write text here",
    "dict_type": "write a mapping of `key: value` lines here",
    "list_type": "write a list (`- ...` lines) here",
    "model_type": "write a mapping of `key: value` lines here",
    "bool_parsing": "write true or false",
}

_FIELD_HINTS: dict[str, str] = {
    "churn": "give annual churn as a share, e.g. 0.12 for 12%",
    "gross_margin": "give gross margin as a share, e.g. 0.65 for 65%",
    "provenance": "say where the number comes from: calibrated, benchmark or assumption",
    "source": "cite the benchmark id, the data and fit, or the rationale",
    "one_off": "costs are positive amounts; a saving belongs in a benefit link, not a cost",
    "running_per_year": "costs are positive amounts; a saving belongs in a benefit link",
    "discount_rate": "give the annual discount rate as a share, e.g. 0.10 for 10%",
    **{f"churn_{end}": "give the ends of the 95% interval of annual churn as shares below 1, "
       "e.g. churn_low: 0.10, churn_high: 0.14" for end in ("low", "high")},
    **{f"expansion_rate_{end}": "give the ends of the 95% interval of the annual expansion rate "
       "as shares, e.g. expansion_rate_low: 0.05, expansion_rate_high: 0.09"
       for end in ("low", "high")},
    **{f"contacts_per_event_{end}": "give the ends of the 95% interval of contacts per event "
       "(0 to 1000), e.g. contacts_per_event_low: 1.8, contacts_per_event_high: 2.4"
       for end in ("low", "high")},
    **{f"events_per_year_{end}": "give the ends of the 95% interval of events per account-year "
       "(0 to 10000), e.g. events_per_year_low: 0.9, events_per_year_high: 1.2"
       for end in ("low", "high")},
    "window_months": "give the exposure window in whole months from 1 to 36, e.g. window_months: 12",
    "exposed_share": "give per segment the share (0 to 1) of its leaving or buying more that happens "
                     "in exposed months, e.g. exposed_share: {SMB: 0.35}",
}


def _key_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """Field names allowed at the parent of ``loc`` (for 'did you mean')."""
    model: Any = Scenario
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        if field is None:
            # a dict key (touchpoint, volume or cash-flow line name): the model is already the
            # dict's value type; otherwise step into it
            if not hasattr(model, "model_fields"):
                ann = getattr(model, "__args__", None)
                model = ann[-1] if ann else None
            continue
        ann = field.annotation
        # `X | None` (optional sections such as retention): the model is X
        args = [a for a in getattr(ann, "__args__", ()) if a is not type(None)]
        model = args[-1] if args and not hasattr(ann, "model_fields") else ann
    return list(getattr(model, "model_fields", {}) or [])


def _problem_from_pydantic(err: dict[str, Any]) -> Problem:
    loc = tuple(err["loc"])
    where = _key_path(loc)
    etype = err["type"]
    if etype == "extra_forbidden":
        key = str(loc[-1])
        close = difflib.get_close_matches(key, _allowed_keys(loc), n=1)
        fix = f"did you mean '{close[0]}'?" if close else "remove it or check its spelling"
        return Problem(where, f"unknown key '{key}'", fix)
    field = str(loc[-1]) if loc else ""
    if len(loc) >= 2 and loc[-2] == "exposed_share":  # a segment's share: the mapping's hint
        field = "exposed_share"
    got = err.get("input")
    got_text = "" if etype == "missing" or isinstance(got, dict | list) else f" (got {got!r})"
    fix = _FIELD_HINTS.get(field) or _PYDANTIC_FIXES.get(etype, "correct this value")
    if etype == "missing" and field in {"provenance", "source"}:
        fix = _FIELD_HINTS[field]
    return Problem(where, f"{err['msg'].rstrip('.').lower()}{got_text}", fix)


def _range_fix(lo: float | None, hi: float | None, scale: str) -> str:
    pos = " (a log2 scale needs a positive value)" if scale == "log2" else ""
    if lo is not None and hi is not None:
        return f"use a value between {lo} and {hi}{pos}"
    if lo is not None:
        return f"use a value of at least {lo}{pos}"
    if hi is not None:
        return f"use a value of at most {hi}{pos}"
    return "use a positive value" if scale == "log2" else "use a finite value"


#: Direct links that act through an exposure window: they may carry ``window_months`` and
#: ``exposed_share`` (contacts act per event and have no window).
WINDOW_LINKS: tuple[str, ...] = ("churn_hazard_ratio", "expansion_rate_ratio")


def _check_window(where: str, name: str, link: Link, segments: list[str]) -> list[Problem]:
    """``window_months`` / ``exposed_share`` only on the windowed direct links, and the
    shares named after the scenario's segments."""
    probs = []
    for attr in ("window_months", "exposed_share"):
        if getattr(link, attr) is not None and name not in WINDOW_LINKS:
            probs.append(Problem(f"{where}.{attr}", f"{attr} applies only to the direct links of leaving and "
                                 f"buying more ({', '.join(WINDOW_LINKS)}), not to {name}", "remove it"))
    for seg in (link.exposed_share or {}) if name in WINDOW_LINKS else ():
        if seg not in segments:
            close = difflib.get_close_matches(seg, segments, n=1)
            probs.append(Problem(f"{where}.exposed_share.{seg}", f"unknown segment '{seg}'",
                                 f"did you mean '{close[0]}'?" if close
                                 else f"use one of the segments: {', '.join(segments)}"))
    return probs


def _check_link(where: str, name: str, link: Link, known_benchmarks: set[str],
                segments: list[str] | None = None) -> list[Problem]:
    lo_d, hi_d, hint = (*LINK_DOMAINS[name][:2], LINK_DOMAINS[name][2])
    probs = _check_window(where, name, link, segments or [])
    for attr in ("value", "low", "high"):
        v = getattr(link, attr)
        if not (math.isfinite(v) and lo_d <= v <= hi_d):
            probs.append(Problem(f"{where}.{attr}", f"{v} is outside the allowed range", hint))
    if not link.low <= link.value <= link.high:
        probs.append(
            Problem(where, f"needs low <= value <= high (got {link.low}, {link.value}, {link.high})",
                    "order the range so that low is the smallest and high the largest")
        )
    if link.provenance == "benchmark" and link.source not in known_benchmarks:
        close = difflib.get_close_matches(link.source, sorted(known_benchmarks), n=1)
        probs.append(
            Problem(f"{where}.source", f"'{link.source}' is not a known benchmark id",
                    f"did you mean '{close[0]}'?" if close
                    else "use an id from cxroi/resources/benchmarks.yaml or change provenance")
        )
    return probs


def check_scenario(sc: Scenario) -> list[Problem]:
    """Cross-field checks that a schema alone cannot express.

    Returns
    -------
    list of Problem
        Empty when the scenario is usable.
    """
    probs: list[Problem] = []
    known = set(load_benchmarks())
    horizon = sc.finance.horizon_months
    for name, tp in sc.touchpoints.items():
        base = f"touchpoints.{name}"
        lv = tp.lever
        worse = lv.target > lv.today if tp.better == "lower" else lv.target < lv.today
        if worse:
            probs.append(
                Problem(f"{base}.lever.target",
                        f"target {lv.target} is worse than today ({lv.today}); "
                        f"{tp.metric} is better when {tp.better}",
                        f"set a target {'below' if tp.better == 'lower' else 'above'} "
                        f"or equal to {lv.today}")
            )
        if lv.start_month >= horizon or lv.start_month + lv.ramp_months > horizon:
            probs.append(
                Problem(f"{base}.lever.ramp_months",
                        f"start month {lv.start_month} + ramp {lv.ramp_months} months is longer "
                        f"than the horizon of {horizon} months allows (no month would be at the "
                        "target)",
                        "shorten the ramp or lengthen finance.horizon_months")
            )
        lo_m = tp.minimum if tp.minimum is not None else (0.0 if tp.scale == "log2" else -math.inf)
        hi_m = tp.maximum if tp.maximum is not None else math.inf
        if lo_m >= hi_m:
            probs.append(Problem(f"{base}.minimum", f"minimum {tp.minimum} is not below maximum "
                                 f"{tp.maximum}", "swap them or correct one"))
        else:
            for attr in ("today", "target"):
                v = getattr(lv, attr)
                bad = v <= 0 if tp.scale == "log2" else False
                if bad or not (lo_m <= v <= hi_m):
                    probs.append(Problem(f"{base}.lever.{attr}",
                                         f"{v} is outside the metric's range",
                                         _range_fix(tp.minimum, tp.maximum, tp.scale)))
        for lname in TouchpointLinks.model_fields:
            link = getattr(tp.links, lname)
            if link is not None:
                probs += _check_link(f"{base}.links.{lname}", lname, link, known,
                                     [s.name for s in sc.segments])
        if tp.observed is not None and tp.observed.low > tp.observed.high:
            probs.append(Problem(f"{base}.observed", f"low {tp.observed.low} is above high "
                                 f"{tp.observed.high}", "swap them"))
        orat = tp.links.odds_ratio.value
        if (tp.better == "lower" and orat > 1) or (tp.better == "higher" and orat < 1):
            direction = "lower" if tp.better == "lower" else "higher"
            probs.append(
                Problem(f"{base}.links.odds_ratio.value",
                        f"{orat} says a worse {tp.metric} makes a positive outcome more likely, "
                        f"but the touchpoint says {direction} is better",
                        f"use a value {'<=' if direction == 'lower' else '>='} 1 or flip `better`")
            )
    for lname in GlobalLinks.model_fields:
        probs += _check_link(f"links.{lname}", lname, getattr(sc.links, lname), known)
    topics = [*CAVEAT_TOPICS, *TouchpointLinks.model_fields, *GlobalLinks.model_fields]
    for i, cav in enumerate(sc.caveats):
        if cav.about not in topics:
            close = difflib.get_close_matches(cav.about, topics, n=1)
            probs.append(Problem(f"caveats[{i}].about", f"'{cav.about}' is not a money line or link",
                                 f"did you mean '{close[0]}'?" if close
                                 else f"use one of {', '.join(CAVEAT_TOPICS)} or a link name"))
    names = [s.name for s in sc.segments]
    for i, seg in enumerate(sc.segments):
        where = f"segments[{i}]"
        if names.count(seg.name) > 1:
            probs.append(Problem(f"{where}.name", f"segment name '{seg.name}' is used twice",
                                 "give every segment its own name"))
        if seg.promoters + seg.detractors > 1 + 1e-9:
            probs.append(
                Problem(f"{where}.promoters",
                        f"promoters {seg.promoters} + detractors {seg.detractors} exceed 1",
                        "give both as shares of respondents; passives are the rest")
            )
        for tp_name in sc.touchpoints:
            if tp_name not in seg.volumes:
                probs.append(Problem(f"{where}.volumes", f"no volume for touchpoint '{tp_name}'",
                                     f"add `{tp_name}: {{events_per_year: ...}}` under volumes"))
        for vname in seg.volumes:
            if vname not in sc.touchpoints:
                close = difflib.get_close_matches(vname, list(sc.touchpoints), n=1)
                probs.append(Problem(f"{where}.volumes.{vname}", f"unknown touchpoint '{vname}'",
                                     f"did you mean '{close[0]}'?" if close
                                     else "define it under touchpoints or remove it"))
    probs += _check_retention(sc)
    probs += _check_rate_intervals(sc)
    probs += _check_cash_flows(sc)
    probs += _check_correlations(sc)
    return probs


def sbg_churn_next_year(ret: Retention) -> float:
    r"""Churn over the next 12 months of a segment on a shifted-beta-geometric curve:
    :math:`1 - B(\alpha, \beta + n_0 + 12/P) / B(\alpha, \beta + n_0)`, ``n_0`` the tenure
    in periods."""
    from scipy.special import betaln

    n0 = ret.tenure_months / ret.period_months
    return float(1.0 - math.exp(betaln(ret.alpha, ret.beta + n0 + 12.0 / ret.period_months)
                                - betaln(ret.alpha, ret.beta + n0)))


def _check_retention(sc: Scenario) -> list[Problem]:
    """A segment on a tenure curve still states `churn` (reports show it); both must agree."""
    probs = []
    for i, seg in enumerate(sc.segments):
        if seg.retention is None:
            continue
        implied = sbg_churn_next_year(seg.retention)
        if abs(implied - seg.churn) > 0.005:
            probs.append(Problem(
                f"segments[{i}].churn",
                f"{seg.churn} does not match the tenure curve's churn over the next 12 months "
                f"({implied:.4f} from alpha {seg.retention.alpha}, beta {seg.retention.beta} at "
                f"{seg.retention.tenure_months:g} months of tenure)",
                f"set churn: {implied:.4f}, or change retention.alpha/beta/tenure_months"))
    return probs


#: Baseline rates that may carry a 95% sampling interval ``<rate>_low`` / ``<rate>_high``.
RATE_INTERVALS: tuple[str, ...] = ("churn", "expansion_rate", "contacts_per_event", "events_per_year")


def _check_interval(where: str, rate: str, holder: Any) -> list[Problem]:
    """``<rate>_low <= <rate> <= <rate>_high``, both bounds given or neither."""
    low, high = getattr(holder, f"{rate}_low"), getattr(holder, f"{rate}_high")
    value = getattr(holder, rate)
    if low is None and high is None:
        return []
    if low is None or high is None:
        given, missing = (f"{rate}_low", f"{rate}_high") if high is None else (
            f"{rate}_high", f"{rate}_low")
        return [Problem(f"{where}.{missing}", f"{given} is given without {missing}",
                        f"give both ends of the 95% interval of {rate}, or neither")]
    if not low <= value <= high:
        return [Problem(f"{where}.{rate}_low",
                        f"needs {rate}_low <= {rate} <= {rate}_high (got {low}, {value}, {high})",
                        f"give the 95% interval around {rate}: {rate}_low at most {value} and "
                        f"{rate}_high at least {value}")]
    return []


def _check_rate_intervals(sc: Scenario) -> list[Problem]:
    """The sampling intervals of measured baseline rates hold the rate they surround."""
    probs = []
    for i, seg in enumerate(sc.segments):
        for rate in RATE_INTERVALS[:2]:
            probs += _check_interval(f"segments[{i}]", rate, seg)
        for name, vol in seg.volumes.items():
            for rate in RATE_INTERVALS[2:]:
                probs += _check_interval(f"segments[{i}].volumes.{name}", rate, vol)
    return probs


def _check_cash_flows(sc: Scenario) -> list[Problem]:
    probs = []
    h = sc.finance.horizon_months
    for name, cf in sc.cash_flows.items():
        where = f"cash_flows.{name}"
        n = len(cf.likely)
        last = (n - 1) * (12 if cf.by == "year" else 1)
        if last > h:
            probs.append(Problem(
                f"{where}.likely", f"{n} {cf.by}ly amounts reach month {last}, beyond the "
                f"horizon of {h} months", f"give at most {h // (12 if cf.by == 'year' else 1) + 1}"
                f" amounts (the first is up front) or lengthen finance.horizon_months"))
        for attr in ("low", "high"):
            vals = getattr(cf, attr)
            if vals is not None and len(vals) != n:
                probs.append(Problem(f"{where}.{attr}", f"{len(vals)} amounts for {n} periods",
                                     f"give one {attr} amount per likely amount"))
        for attr in ("likely", "low", "high"):
            for j, v in enumerate(getattr(cf, attr) or []):
                if not (math.isfinite(v) and v >= 0):
                    probs.append(Problem(f"{where}.{attr}[{j}]", f"{v} is not a positive amount",
                                         "amounts are positive; `kind` says benefit or cost"))
        lo, hi = cf.low or cf.likely, cf.high or cf.likely
        if len(lo) == n == len(hi):
            for j in range(n):
                if not lo[j] <= cf.likely[j] <= hi[j]:
                    probs.append(Problem(f"{where}", f"period {j} needs low <= likely <= high "
                                         f"(got {lo[j]}, {cf.likely[j]}, {hi[j]})",
                                         "order the range so that low is the smallest"))
    return probs


def rank_to_normal(rho: Any) -> Any:
    r"""Pearson correlation of normal scores with Spearman rank correlation :math:`\rho_s`:
    :math:`r = 2 \sin(\pi \rho_s / 6)` (exact for a Gaussian copula)."""
    return 2.0 * np.sin(np.pi * np.asarray(rho, float) / 6.0)


def correlation_matrix(sc: Scenario) -> tuple[list[str], Any]:
    """The key paths named in ``correlations`` and their rank-correlation matrix (1 on the
    diagonal, 0 for pairs not stated)."""
    import numpy as np

    paths: list[str] = []
    for c in sc.correlations:
        for p in c.links:
            if p not in paths:
                paths.append(p)
    m = np.eye(len(paths))
    for c in sc.correlations:
        i, j = paths.index(c.links[0]), paths.index(c.links[1])
        if i != j:
            m[i, j] = m[j, i] = c.rho
    return paths, m


def _check_correlations(sc: Scenario) -> list[Problem]:
    """Known, distinct paths; each pair once; a positive semi-definite matrix."""
    probs = []
    known = sc.uncertain_paths()
    seen: dict[frozenset[str], int] = {}
    for i, c in enumerate(sc.correlations):
        where = f"correlations[{i}]"
        for j, p in enumerate(c.links):
            if p not in known:
                close = difflib.get_close_matches(p, known, n=1, cutoff=0.5)
                probs.append(Problem(f"{where}.links[{j}]", f"'{p}' is not a link of this scenario",
                                     f"did you mean '{close[0]}'?" if close else
                                     "use a key path such as touchpoints.<name>.links.churn_gap"))
        if c.links[0] == c.links[1]:
            probs.append(Problem(f"{where}.links", "a link cannot be correlated with itself",
                                 "name two different links"))
        key = frozenset(c.links)
        if key in seen:
            probs.append(Problem(f"{where}", f"the pair is already given in correlations[{seen[key]}]",
                                 "state each pair once"))
        seen.setdefault(key, i)
    if probs or not sc.correlations:
        return probs
    paths, m = correlation_matrix(sc)
    if np.linalg.eigvalsh(m)[0] >= -1e-10:
        return probs
    # name the smallest set of statements that cannot hold together
    where_of = {frozenset(c.links): i for i, c in enumerate(sc.correlations)}
    for size in range(3, len(paths) + 1):
        for sub in itertools.combinations(range(len(paths)), size):
            if np.linalg.eigvalsh(m[np.ix_(sub, sub)])[0] < -1e-10:
                pairs = [(a, b) for a, b in itertools.combinations(sub, 2) if m[a, b] != 0]
                text = "; ".join(f"correlations[{where_of[frozenset((paths[a], paths[b]))]}] "
                                 f"{paths[a]} ~ {paths[b]} rho {m[a, b]:g}" for a, b in pairs)
                probs.append(Problem(
                    "correlations", f"these correlations cannot hold together (the matrix is not "
                    f"positive semi-definite): {text}",
                    "weaken one of them: e.g. if A and B both move closely with C, A and B "
                    "must move together too"))
                return probs
    return probs



@lru_cache(maxsize=1)
def load_benchmarks() -> dict[str, dict[str, str]]:
    """The published benchmarks cxroi cites, by id (``cxroi/resources/benchmarks.yaml``)."""
    text = resources.files("cxroi").joinpath("resources/benchmarks.yaml").read_text("utf-8")
    return yaml.safe_load(text)

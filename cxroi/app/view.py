"""What the app shows, as HTML fragments and JSON: cards, pitch, evidence, charts, value of
information and plain messages.

Both faces of the app use these functions: the served page (:mod:`cxroi.app.server`, which
sends them as JSON to ``static/app.js``) and the notebook widget
(:mod:`cxroi.app.widgets`), so the two show the same words and numbers.

Every card carries the evidence level of its number (:func:`cxroi.evidence.evidence_of`):
*measured here*, *partly measured*, *published benchmarks* or *rests on assumptions*; the
NPV card says the chance the case loses money in the wording of :func:`cxroi.pitch.chance`.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cxroi.errors import Problem
    from cxroi.evidence import Evidence
    from cxroi.scenario import Scenario
    from cxroi.uncertainty import SimulationResult
    from cxroi.voi import VOI

#: The headline cards, in order: metric of :data:`cxroi.model.OUTPUTS` and a short note.
CARDS: tuple[tuple[str, str], ...] = (
    ("npv", "discounted, over the horizon"),
    ("npv_risk_adjusted", "after the risk haircuts"),
    ("roi", "(PV of benefits − PV of costs) / PV of costs"),
    ("payback_month", "when cumulative cash turns positive"),
    ("retention_savings", "margin kept from customers who stay"),
    ("cross_sell", "margin from customers buying more"),
    ("cost_to_serve_savings", "fewer repeat contacts"),
    ("nps_change", "at target, accounts-weighted"),
    ("csat_change", "at target, 1-5 scale"),
)

#: Cards of benefit lines: undiscounted totals over the horizon (as in the pitch), which
#: their notes say (the waterfall shows the same lines' present values).
BENEFIT_LINES: tuple[str, ...] = ("retention_savings", "cross_sell", "cost_to_serve_savings")

#: Which links each card rests on (the others rest on all of them).
CARD_LINKS: dict[str, tuple[str, ...]] = {
    "retention_savings": ("positive_share_today", "odds_ratio", "churn_gap"),
    "cross_sell": ("positive_share_today", "odds_ratio", "expansion_gap"),
    "cost_to_serve_savings": ("positive_share_today", "odds_ratio", "repeat_contacts"),
    "nps_change": ("positive_share_today", "odds_ratio", "nps_gap"),
    "csat_change": ("positive_share_today", "odds_ratio", "csat_gap"),
}

#: How each provenance is shown: (badge text, longer explanation). Weakest first.
PROVENANCE: dict[str, tuple[str, str]] = {
    "assumption": ("rests on assumptions", "a judgement with a range, not measured"),
    "benchmark": ("published benchmark", "a published study, not measured at this company"),
    "calibrated": ("measured", "fitted from this company's own data"),
}
#: How each evidence level of :mod:`cxroi.evidence` is shown on a card: (badge, meaning).
EVIDENCE: dict[str, tuple[str, str]] = {
    "measured": ("measured here", "every link behind it was fitted from this company's data"),
    "mixed": ("partly measured", "some links measured here, others published benchmarks or "
              "assumptions"),
    "benchmark": ("published benchmarks", "published studies, not yet measured here"),
    "assumption": ("rests on assumptions", "judgement with a range, not measured"),
}

#: The evidence line of :func:`cxroi.evidence.evidence_of` behind each card (None: the
#: headline level, from the money lines that carry the case).
CARD_EVIDENCE: dict[str, str | None] = {
    "npv": None, "npv_risk_adjusted": None, "roi": None, "payback_month": None,
    "retention_savings": "retention_savings", "cross_sell": "cross_sell",
    "cost_to_serve_savings": "cost_to_serve_savings", "nps_change": "nps",
    "csat_change": "csat",
}



# --------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _fmt(value: float, unit: str, currency: str) -> str:
    from cxroi.pitch import fmt

    if unit == "points":
        return f"{value:+.1f} pts" if math.isfinite(value) else "n/a"
    if unit == "csat":
        return f"{value:+.2f}" if math.isfinite(value) else "n/a"
    if unit == "month":
        return f"month {value:.0f}" if math.isfinite(value) else "not within horizon"
    return fmt(value, unit, currency)


def headline_values(res: SimulationResult) -> dict[str, dict[str, float]]:
    """P10 / P50 / P90 (and the share of draws where it is defined) of every card metric.

    The same numbers ``cxroi run --json`` prints under ``metrics`` (``res.summary`` takes
    them from the same :meth:`~cxroi.uncertainty.SimulationResult.quantiles` and
    :meth:`~cxroi.uncertainty.SimulationResult.share_defined`), computed for the nine
    cards only: the summary of all 29 outputs took 10-12 ms of a worker's 55 ms per
    slider update, and nothing else the page shows needs it.
    """
    from cxroi.uncertainty import QUANTILES

    out = {}
    for m, _ in CARDS:
        p10, p50, p90 = res.quantiles(m, QUANTILES)
        out[m] = {"p10": p10, "p50": p50, "p90": p90, "share_defined": res.share_defined(m)}
    return out


def card_provenance(sc: Scenario, metric: str) -> tuple[str, list[str]]:
    """The weakest provenance among the links ``metric`` rests on, and those links.

    Only touchpoints whose lever moves count (a lever that stays put contributes nothing);
    a card resting on any assumption says so.
    """
    from cxroi.charts import LINK_LABELS

    names = CARD_LINKS.get(metric)
    moving = [k for k, tp in sc.touchpoints.items() if tp.lever.target != tp.lever.today]
    moving = moving or list(sc.touchpoints)
    found: list[tuple[str, str]] = []
    for path, link in sc.link_paths().items():
        parts = path.split(".")
        lname = parts[-1]
        if parts[0] == "touchpoints":
            if parts[1] not in moving or (names is not None and lname not in names):
                continue
            where = sc.touchpoints[parts[1]].label
        elif names is not None:
            continue
        else:
            where = "all touchpoints"
        found.append((link.provenance, f"{LINK_LABELS.get(lname, lname)} ({where})"))
    order = list(PROVENANCE)
    worst = min((p for p, _ in found), key=order.index, default="calibrated")
    return worst, [f"{PROVENANCE[p][0]}: {text}" for p, text in found]


def card_evidence(ev: Evidence, metric: str) -> tuple[str, list[str]]:
    """The evidence level of a card's number and what it rests on (for the badge's hover).

    Parameters
    ----------
    ev : Evidence
        :func:`cxroi.evidence.evidence_of` of the scenario shown.
    metric : str
        A card of :data:`CARDS`.

    Returns
    -------
    level : str
        One of :data:`cxroi.evidence.LEVELS`.
    basis : list of str
        One line per link (or money line, for headline cards) with its own level.
    """
    from cxroi.charts import LINK_LABELS

    line = CARD_EVIDENCE.get(metric)
    if line is None:
        return ev.level, [f"{EVIDENCE[ev.lines[m].level][0]}: {m.replace('_', ' ')}"
                          for m in ev.material]
    le = ev.lines[line]
    basis = []
    for path in le.links:
        parts = path.split(".")
        where = parts[1].replace("_", " ") if parts[0] == "touchpoints" else "all touchpoints"
        basis.append(f"{LINK_LABELS.get(parts[-1], parts[-1])} ({where})")
    return le.level, basis


def badge_text(ev: Evidence, metric: str) -> str:
    """The words of a card's evidence badge: :data:`EVIDENCE`'s, except that a number
    resting on published benchmarks and a stated assumption says both
    (:data:`cxroi.evidence.ASSUMED_SHORT`, as the report's badge), so an assumption never
    reads as a published benchmark."""
    line = CARD_EVIDENCE.get(metric)
    le = ev.lines[line] if line is not None else ev
    return le.short if le.names_assumptions else EVIDENCE[le.level][0]


def cards_html(sc: Scenario, res: SimulationResult, update: int,
               ev: Evidence | None = None) -> str:
    """The result cards: P50, P10-P90 range, a note and the evidence badge of each number.

    ``data-update`` on the grid counts updates (the browser tests wait on it);
    ``data-p50`` on each card is the exact P50 (``repr``), ``data-evidence`` its level.
    """
    from cxroi.evidence import evidence_of
    from cxroi.model import OUTPUTS
    from cxroi.pitch import chance

    ev = ev if ev is not None else evidence_of(sc, likely=res.likely)
    cur = sc.currency
    vals = headline_values(res)
    h = sc.finance.horizon_months
    parts = [f"<div class='cx-grid' data-update='{update}'>"]
    for metric, note in CARDS:
        label, unit = OUTPUTS[metric]
        v = vals[metric]
        share = v["share_defined"]
        if metric == "payback_month" and share < 0.5:
            value = f"not within {h} months"
            rng = f"pays back in {share * 100:.0f}% of simulations"
        elif metric == "roi" and share == 0:  # (PV b - PV c) / PV c with PV c = 0
            value, rng = "n/a", "no programme cost: ROI is not defined"
        else:
            value = _fmt(v["p50"], unit, cur)
            rng = (f"P10–P90: {_fmt(v['p10'], unit, cur)} to "
                   f"{_fmt(v['p90'], unit, cur)}")
            if metric == "payback_month" and share < 0.995:
                rng += f" (pays back in {share * 100:.0f}% of simulations)"
        if metric == "npv":
            note = f"{note}; {chance(res.prob_loss)} chance it loses money"
        elif metric in BENEFIT_LINES:  # the waterfall beside them shows present values
            note = f"{note}; total over {h} months, not discounted"
        level, basis = card_evidence(ev, metric)
        badge = (f"<a class='cx-prov cx-ev-{level}' href='#cx-provenance' "
                 f"title='{_e(chr(10).join(basis))}'>{_e(badge_text(ev, metric))}</a>")
        neg = " cx-neg" if unit == "money" and v["p50"] < 0 else ""
        parts.append(
            f"<div class='cx-card' data-metric='{metric}' data-p50='{v['p50']!r}' "
            f"data-evidence='{level}'>"
            f"<div class='cx-card-label'><span>{_e(label)}</span>{badge}</div>"
            f"<div class='cx-card-value{neg}'>{_e(value)}</div>"
            f"<div class='cx-card-range'>{_e(rng)}</div>"
            f"<div class='cx-card-note'>{_e(note)}</div></div>")
    parts.append("</div>")
    return "".join(parts)


def provenance_html(sc: Scenario) -> str:
    """The table "What is measured and what is assumed": every link, its value and range,
    its basis and source (the cards' badges link here)."""
    from cxroi.charts import LINK_LABELS
    from cxroi.scenario import load_benchmarks

    bench = load_benchmarks()
    rows = []
    for path, link in sc.link_paths().items():
        parts = path.split(".")
        tp = sc.touchpoints[parts[1]].label if parts[0] == "touchpoints" else "all touchpoints"
        src = link.source
        if link.provenance == "benchmark" and src in bench:
            src = f"{src}: {bench[src].get('source', '')}"
        if link.note:
            src = f"{src} — {link.note}"
        rows.append(
            f"<tr><td>{_e(LINK_LABELS.get(parts[-1], parts[-1]))}</td><td>{_e(tp)}</td>"
            f"<td>{link.value:g} ({link.low:g} to {link.high:g})</td>"
            f"<td><span class='cx-prov cx-prov-{link.provenance}'>"
            f"{_e(PROVENANCE[link.provenance][0])}</span></td><td>{_e(src)}</td></tr>")
    legend = " · ".join(f"<span class='cx-prov cx-ev-{k}'>{_e(v[0])}</span> {_e(v[1])}"
                        for k, v in EVIDENCE.items())
    return (
        "<details id='cx-provenance' open><summary class='cx-chart-title'>"
        "What is measured and what is assumed</summary>"
        f"<p class='cx-note'>{legend}. Segment economics (accounts, revenue, margin, "
        "churn) come from the books; costs, horizon and discount rate are your inputs."
        "</p><table class='cx-prov-table'><tr><th>Link of the flywheel</th>"
        "<th>Touchpoint</th><th>Value (range)</th><th>Basis</th><th>Source</th></tr>"
        + "".join(rows) + "</table></details>")


def control_for(specs: Iterable[Any], where: str) -> Any:
    """The control (:class:`~cxroi.app.controls.ControlSpec`) a problem at ``where`` is
    about, e.g. ``touchpoints.complaints.lever.target``; None when no control matches."""
    best = None
    for s in specs:
        if where == s.path or where.startswith(s.path + "."):
            best = s
    return best


def control_label(specs: Iterable[Any], where: str) -> str:
    """``Complaint resolution time · Target`` for a problem at
    ``touchpoints.complaints.lever.target``: the control a person sees (``where`` itself
    when no control matches)."""
    best = control_for(specs, where)
    return where if best is None else f"{best.group} · {best.label}"


#: A number written in a problem's text (not part of a word, a key path or a percentage).
_NUMBER = re.compile(r"(?<![\w.%])-?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?![\w%]|\.\w)")
#: Fixes written for a scenario file that do not fit the app's boxes, which take a
#: percentage where the file takes a share (:func:`_control_fix` replaces them).
_FILE_ONLY_FIX = re.compile(r"as a share|plain number such as 0\.")


def in_control_words(text: str, specs: Iterable[Any], spec: Any = None) -> str:
    r"""``text`` (a problem's message or fix) in the words and units of the app's controls.

    Key paths of controls (``finance.horizon_months``) become the names a person sees
    (``Finance · Horizon``); when the problem is about a control shown in other units than
    the scenario file's (``spec.scale`` :math:`\ne 1`, shares shown as percentages), every
    number becomes the number in the box, :math:`x_\text{shown} = x \cdot \text{scale}`
    (``target 0.8 is worse than today (1.0)`` -> ``target 80% is worse than today
    (100%)``), so that the fix can be typed as it reads.
    """
    specs = list(specs)
    for s in sorted(specs, key=lambda s: -len(s.path)):
        text = re.sub(rf"(?<![\w.]){re.escape(s.path)}(?![\w])", f"{s.group} · {s.label}",
                      text)
    text = text.replace("(a log2 scale needs a positive value)", "(above zero)")
    if spec is not None and spec.scale != 1 and spec.kind != "int":
        unit = "%" if spec.unit.startswith("%") else f" {spec.unit}"

        def shown(m: re.Match[str]) -> str:
            return f"{round(float(m.group(0)) * spec.scale, 9):g}{unit}"

        text = _NUMBER.sub(shown, text)
    return text


def _control_fix(fix: str, specs: list[Any], spec: Any) -> str:
    """The fix of a problem about ``spec`` as the app's box takes it: a fix written for the
    scenario file's shares ("give ... as a share, e.g. 0.10 for 10%") becomes one for
    the percentage the box takes; any other in the control's words
    (:func:`in_control_words`)."""
    if spec is not None and spec.scale != 1 and _FILE_ONLY_FIX.search(fix):
        return (f"type a percentage, e.g. 10 for 10% (the slider runs from "
                f"{round(spec.lo, 9):g} to {round(spec.hi, 9):g}{spec.unit})")
    return in_control_words(fix, specs, spec)


def problems_html(problems: Iterable[Problem], label_for: Callable[[str], str],
                  sc: Scenario | None = None, title: str | None = None,
                  kept: bool = True, specs: Iterable[Any] = ()) -> str:
    """A plain message listing what is wrong, each naming the control and the fix.

    Parameters
    ----------
    problems : iterable of Problem
        From :class:`cxroi.errors.ScenarioError` ``.problems``.
    label_for : callable
        Key path -> the control's name (:func:`control_label`).
    sc : Scenario, optional
        The scenario loaded: metric names in messages become the touchpoints' labels.
    title : str, optional
        The heading (default "These inputs cannot be used yet").
    kept : bool
        Whether a last good result stays on screen (then the message says so).
    specs : iterable of ControlSpec
        The controls on screen: key paths in the text become their names, and the
        numbers of a problem about a control shown as a percentage are written as
        percentages (:func:`in_control_words`).
    """
    specs = list(specs)
    names = {tp.metric: tp.label for tp in sc.touchpoints.values()} if sc is not None else {}
    items = []
    for p in problems:
        msg = p.message
        for metric, label in names.items():
            msg = msg.replace(metric, label)
        spec = control_for(specs, p.where)
        msg = in_control_words(msg, specs, spec)
        fix_text = _control_fix(p.fix, specs, spec) if p.fix else ""
        fix = f" <i>Fix:</i> {_e(fix_text[:1].upper() + fix_text[1:])}." if fix_text else ""
        items.append(f"<li><b>{_e(label_for(p.where))}</b>: {_e(msg)}.{fix}</li>")
    head = title or "These inputs cannot be used yet"
    note = " The numbers below are from the last valid inputs." if kept else ""
    return (f"<div class='cx-message'><b>{_e(head)}.</b>{note}"
            f"<ul>{''.join(items)}</ul></div>")


def text_html(text: str) -> str:
    """A plain message of one sentence."""
    return f"<div class='cx-message'>{_e(text)}</div>"


def voi_html(v: VOI, top: int = 6) -> str:
    """Which link is worth measuring first: the sentence of :mod:`cxroi.voi` and its
    ranking (EVPPI, money, and its share of the EVPI as a bar)."""
    from cxroi.pitch import money

    rows = []
    for i, r in enumerate(v.table.head(top).itertuples()):
        share = float(r.share_of_evpi) if math.isfinite(float(r.share_of_evpi)) else 0.0
        first = " cx-voi-first" if i == 0 and r.evppi > 0 else ""
        rows.append(
            f"<tr class='cx-voi-row{first}' data-link='{_e(r.link)}'><td>{_e(r.label)}</td>"
            f"<td class='cx-num'>{_e(money(r.evppi, v.currency))}</td>"
            f"<td><span class='cx-bar' style='width:{share * 100:.0f}%'></span></td></tr>")
    return (f"<p class='cx-voi-sentence'>{_e(v.sentence)}.</p>"
            f"<p class='cx-note'>Perfect information on every link would be worth "
            f"{_e(money(v.evpi, v.currency))} (EVPI) on a {_e(v.decision)} decision.</p>"
            "<table class='cx-prov-table cx-voi-table'><tr><th>Link</th>"
            "<th>Worth measuring (EVPPI)</th><th>Share of EVPI</th></tr>"
            + "".join(rows) + "</table>")


# --------------------------------------------------------------------------------------
# Charts as the served page draws them
# --------------------------------------------------------------------------------------


def split_chart(spec: dict[str, Any]) -> dict[str, Any]:
    """A Vega-Lite spec of :mod:`cxroi.charts` as the page updates it in place.

    The datasets get stable names (``d0``, ``d1``, ... in order) instead of names hashed
    from their rows, the title moves out of the spec (the page writes it above the
    chart), and an explicit order of categories (the tornado's inputs, largest swing
    first: ``"sort": [label, ...]``) moves into the rows (:func:`_order_in_data`), so
    that two updates of the same chart differ in their data only: the page then swaps
    the data of the view it has (``view.data``) instead of compiling and drawing a new
    one. The chart drawn is the same (``tests/test_app_server.py`` compares the SVG).

    Returns
    -------
    dict
        ``title`` (str), ``spec`` (Vega-Lite without title and data rows, datasets
        empty), ``data`` (name -> rows) and ``shape`` (a short hash of ``spec``: equal
        shapes can share a view).
    """
    import hashlib
    import json

    spec = _order_in_data(spec)
    title = spec.pop("title", "")
    names = {old: f"d{i}" for i, old in enumerate(spec.get("datasets", {}))}
    data = {names[k]: rows for k, rows in spec.pop("datasets", {}).items()}
    text = json.dumps(spec, sort_keys=True, default=str)
    for old, new in names.items():
        text = text.replace(f'"{old}"', f'"{new}"')
    out = json.loads(text)
    out["datasets"] = {k: [] for k in data}
    out["$schema"] = "https://vega.github.io/schema/vega-lite/v5.json"
    shape = hashlib.sha256(json.dumps(out, sort_keys=True).encode()).hexdigest()[:16]
    return {"title": title if isinstance(title, str) else str(title), "spec": out,
            "data": data, "shape": shape}


#: Prefix of the columns :func:`_order_in_data` adds (a category's place in the order).
ORDER_FIELD = "cx_order_"


def _order_in_data(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` (a copy) with each explicit category order of a layer's position
    encoding (``"sort": [value, ...]``) replaced by a column of that layer's rows giving
    each value's place (``cx_order_<field>``) and ``"sort": {"field": ..., "op": "min"}``:
    the same order, now carried by the data. A layer whose rows hold a value the list
    does not name is left as it is."""
    import copy

    # a copy of everything but the rows (about 1,000 small dicts a chart, never changed
    # here: a layer's rows are replaced, not edited), which a deep copy took 4 ms to copy
    rows_of = spec.get("datasets")
    spec = copy.deepcopy({k: v for k, v in spec.items() if k != "datasets"})
    if rows_of is not None:
        spec["datasets"] = dict(rows_of)
    datasets = spec.get("datasets", {})
    for layer in spec.get("layer", [spec]):
        name = (layer.get("data") or {}).get("name")
        rows = datasets.get(name)
        for channel in ("x", "y"):
            enc = (layer.get("encoding") or {}).get(channel) or {}
            order, field = enc.get("sort"), enc.get("field")
            if not (isinstance(order, list) and isinstance(field, str) and rows):
                continue
            place = {v: i for i, v in enumerate(order)}
            if any(r.get(field) not in place for r in rows):
                continue
            col = ORDER_FIELD + field
            datasets[name] = rows = [{**r, col: place[r[field]]} for r in rows]
            enc["sort"] = {"field": col, "op": "min", "order": "ascending"}
    return spec


def join_chart(part: dict[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`split_chart` (for tests): the spec with its rows and title."""
    spec = dict(part["spec"])
    spec["datasets"] = dict(part["data"])
    spec["title"] = part["title"]
    spec.pop("$schema", None)
    return spec


def strip_tags(text: str) -> str:
    """Plain text of a small HTML fragment (for logs and tests)."""
    return html.unescape(re.sub(r"<[^>]+>", "", text))

"""The measurement report: its data, its charts and the executive HTML page.

:func:`report_data` gathers every number and sentence of a :class:`Measurement` (plain,
JSON-safe; the CLI writes it as ``measurement.json``). :func:`event_study_chart` and
:func:`money_chart` build altair charts; :func:`render_html` renders the page through the
Jinja2 template ``cxroi/resources/measure.html.j2`` with the business-case report's
stylesheet (``report.css``) inlined and the charts as inline SVG: no code, no scripts,
nothing from the network, so it opens offline and prints on A4. :func:`write_outputs` writes
the report, the updated scenario and the JSON into one folder, atomically.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

import cxroi
from cxroi.errors import ReportError
from cxroi.files import write_atomic
from cxroi.measure.measurement import DID_DESIGN, DISPLAY, Measurement
from cxroi.pitch import money, pitch
from cxroi.scenario import save_scenario
from cxroi.uncertainty import simulate

if TYPE_CHECKING:
    import altair as alt

OUTCOME_ORDER = ("leaving", "buying_more", "contacts", "nps", "csat", "lever")


def _safe(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _safe(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_safe(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, pd.Timestamp | _dt.date):
        return x.isoformat()[:10]
    return x


def _num(x: float, d: int) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:+.{d}f}"


def _days(x: float) -> str:
    return f"{x:.1f}" if x < 10 else f"{x:.0f}"


def report_data(m: Measurement) -> dict[str, Any]:
    """Every number and sentence of the measurement report (JSON-safe)."""
    cur = m.money.currency
    outcomes = []
    for name in OUTCOME_ORDER:
        r = m.outcomes.get(name)
        if r is None:
            continue
        label, unit, k, d = DISPLAY[name]
        pl = r.placebo
        outcomes.append({
            "outcome": name, "label": label, "unit": unit,
            "estimate": r.effect.estimate * k, "low": r.effect.low * k, "high": r.effect.high * k,
            "p": r.effect.p, "text": f"{_num(r.effect.estimate * k, d)}",
            "interval": f"{_num(r.effect.low * k, d)} to {_num(r.effect.high * k, d)}",
            "before": r.pre_mean * k, "after": r.post_mean * k,
            "verdict": r.verdict(), "separable": r.separable,
            "pretrend_p": r.pretrend_p,
            "placebo": None if pl is None else {
                "estimate": pl.estimate * k, "low": pl.low * k, "high": pl.high * k, "p": pl.p,
                "text": f"{_num(pl.estimate * k, d)} ({_num(pl.low * k, d)} to {_num(pl.high * k, d)})",
                "passed": pl.p >= 0.025},
            "naive": r.naive.estimate * k, "naive_text": _num(r.naive.estimate * k, d),
            "phrase": r.phrase()})
    lev = m.lever
    lever = None
    if lev is not None:
        before = 2 ** lev.pre_mean
        after = 2 ** (lev.pre_mean + lev.effect.estimate)
        lever = {"before_days": before, "after_days": after,
                 "factor": 2 ** lev.effect.estimate, "factor_low": 2 ** lev.effect.low,
                 "factor_high": 2 ** lev.effect.high,
                 "sentence": (f"Resolution time went from {_days(before)} to {_days(after)} days "
                              f"for the accounts reached (×{2 ** lev.effect.estimate:.2f}, 95% CI "
                              f"×{2 ** lev.effect.low:.2f}–×{2 ** lev.effect.high:.2f}, "
                              "relative to what it would have been)")}
    lines = []
    for key, row in m.money.lines.iterrows():
        lines.append({"line": key, "label": row["label"],
                      **{c: float(row[c]) for c in row.index if c != "label"},
                      "promised": f"{money(row['promised_p50'], cur)} ({money(row['promised_p10'], cur)}"
                                  f"–{money(row['promised_p90'], cur)})",
                      "measured": f"{money(row['measured_p50'], cur)} ({money(row['measured_p10'], cur)}"
                                  f"–{money(row['measured_p90'], cur)})"})
    links = [{"link": u.link, "before": u.previous, "value": u.value, "low": u.low, "high": u.high,
              "source": u.source, "note": u.note} for u in m.link_updates]
    groups = m.lever_by_group.to_dict(orient="records")
    ini = m.initiative
    next_pitch = pitch(simulate(m.updated, draws=ini.draws, seed=ini.seed))
    return _safe({
        "title": ini.name, "description": ini.description,
        "headline": m.headline,
        "headline_note": (f"Retention savings, cross-sell and cost-to-serve savings of the "
                          f"{m.money.reached_accounts:,} accounts reached, over the "
                          f"{m.money.months} months since the first go-live, against the same "
                          "lines of the business case; advocacy (referrals) is not measured."),
        "design": m.design, "design_reason": m.design_reason,
        "is_did": m.design == DID_DESIGN,
        "lever": lever, "outcomes": outcomes, "money_lines": lines,
        "costs": m.money.costs, "costs_text": money(m.money.costs, cur),
        "costs_source": m.money.costs_source, "months": m.money.months,
        "money_inputs": m.money.inputs,
        "links": links, "groups": groups, "notes": m.notes, "next_pitch": next_pitch,
        "scenario": m.scenario.name, "scenario_file": str(ini.scenario_path()),
        "data": m.data_source, "currency": cur, "draws": ini.draws, "seed": ini.seed,
        "window": {"before": ini.window.before, "after": ini.window.after},
        "placebo_shift": ini.placebo_shift,
        "version": cxroi.__version__ if hasattr(cxroi, "__version__") else "",
        "date": _dt.date.today().isoformat(),
    })


def _event_rows(m: Measurement) -> pd.DataFrame:
    frames = []
    for name in OUTCOME_ORDER:
        r = m.outcomes.get(name)
        if r is None:
            continue
        label, unit, k, _ = DISPLAY[name]
        es = r.event_study
        if m.design == DID_DESIGN:
            df = pd.DataFrame({"event_time": es["event_time"], "estimate": es["estimate"] * k,
                               "low": es["low"] * k, "high": es["high"] * k})
        else:
            df = pd.DataFrame({"event_time": es["event_time"], "estimate": es["gap"] * k,
                               "low": es["gap"] * k, "high": es["gap"] * k})
        df["outcome"] = f"{label} ({unit})"
        df["period"] = np.where(df["event_time"] < 0, "before go-live", "after go-live")
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def event_study_chart(m: Measurement, width: int = 250, height: int = 150) -> alt.FacetChart:
    """Effect by month relative to go-live, one panel per outcome: the months before show
    the pre-trends (should sit on 0), the months after the effect (95% intervals)."""
    import altair as alt

    from cxroi.charts import GAIN, MUTED, TOTAL

    df = _event_rows(m)
    x = alt.X("event_time:Q", title="months since go-live")
    color = alt.Color("period:N", scale=alt.Scale(domain=["before go-live", "after go-live"],
                                                  range=[MUTED, TOTAL]), legend=None)
    base = alt.Chart().encode(x=x)
    bars = base.mark_rule(strokeWidth=1.5).encode(y=alt.Y("low:Q", title=None), y2="high:Q",
                                                 color=color)
    pts = base.mark_circle(size=36, opacity=1).encode(y="estimate:Q", color=color)
    zero = alt.Chart().mark_rule(color=GAIN, strokeDash=[4, 3]).encode(y=alt.datum(0))
    golive = alt.Chart().mark_rule(color="#999").encode(x=alt.datum(-0.5))
    order = list(dict.fromkeys(df["outcome"]))
    chart = (alt.layer(zero, golive, bars, pts, data=df)
             .properties(width=width, height=height)
             .facet(facet=alt.Facet("outcome:N", title=None, sort=order), columns=3)
             .resolve_scale(y="independent"))
    return chart.configure_view(stroke=None).configure_axis(labelFontSize=10, titleFontSize=11,
                                                            grid=False)


def money_chart(m: Measurement, width: int = 560, height: int = 220) -> alt.LayerChart:
    """Cumulative money by month since the first go-live: promised (business case) and
    measured, each as a P10–P90 band with the P50 line."""
    import altair as alt

    from cxroi.charts import BAND, GAIN, TOTAL, money_axis

    mon = m.money.monthly
    rows = []
    for who, col in (("promised (business case)", "promised"), ("measured", "measured")):
        rows.append(pd.DataFrame({"month": mon["month"], "who": who, "p10": mon[f"{col}_p10"],
                                  "p50": mon[f"{col}_p50"], "p90": mon[f"{col}_p90"]}))
    df = pd.concat(rows, ignore_index=True)
    color = alt.Color("who:N", scale=alt.Scale(domain=["promised (business case)", "measured"],
                                               range=[BAND, GAIN]), title=None,
                      legend=alt.Legend(orient="top"))
    base = alt.Chart(df).encode(x=alt.X("month:Q", title="months since the first go-live"))
    band = base.mark_area(opacity=0.25).encode(
        y=alt.Y("p10:Q", axis=money_axis(m.money.currency, "cumulative benefits")), y2="p90:Q",
        color=color)
    line = base.mark_line(strokeWidth=2).encode(y="p50:Q", color=color)
    zero = alt.Chart(df).mark_rule(color=TOTAL, opacity=0.4).encode(y=alt.datum(0))
    return (alt.layer(band, zero, line).properties(width=width, height=height)
            .configure_view(stroke=None).configure_axis(grid=False))


def _template() -> Any:
    import jinja2

    text = resources.files("cxroi").joinpath("resources/measure.html.j2").read_text("utf-8")
    env = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["money"] = lambda x, cur="USD": money(x, cur)
    env.filters["p"] = lambda x: "n/a" if x is None else ("< 0.001" if x < 0.001 else f"{x:.3f}")
    env.filters["g4"] = lambda x: "n/a" if x is None else f"{x:.4g}"
    env.filters["days"] = lambda x: "n/a" if x is None else _days(x)
    return env.from_string(text)


def render_html(m: Measurement) -> str:
    """The executive measurement report as one self-contained HTML page."""
    from markupsafe import Markup

    from cxroi.report import report_css, to_svg

    try:
        charts = {"event_study": Markup(to_svg(event_study_chart(m))),
                  "money": Markup(to_svg(money_chart(m)))}
    except Exception as exc:  # vl-convert failures are a report problem, not a traceback
        raise ReportError(f"the measurement charts could not be drawn ({exc}). Fix: check that "
                          "vl-convert-python is installed") from None
    return _template().render(d=report_data(m), charts=charts, css=Markup(report_css()))


def write_outputs(m: Measurement, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write ``measurement.html``, ``measurement.json`` and ``updated-scenario.yaml`` into
    ``out_dir`` (each atomically); return their paths."""
    out = Path(out_dir)
    html = render_html(m)
    paths = {
        "report": write_atomic(out / "measurement.html", html),
        "json": write_atomic(out / "measurement.json",
                             json.dumps(report_data(m), indent=2, ensure_ascii=False) + "\n"),
        "scenario": save_scenario(m.updated, out / "updated-scenario.yaml"),
    }
    return paths

"""The calibration report (Markdown): verdicts, links written with their priors, caveats,
the lever range the data cover, and every rule that left rows out."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from cxroi.calibrate.calibration import Calibration


def extrapolation(cal: Calibration, scenario: Any) -> list[str]:
    """Sentences naming today's value or the target when they lie outside the observed range."""
    if not cal.observed or scenario is None:
        return []
    tp = scenario.touchpoints.get(cal.data.options.touchpoint)
    if tp is None:
        return []
    lo, hi, n = cal.observed["low"], cal.observed["high"], cal.observed["n"]
    unit = f" {tp.unit}" if tp.unit else ""
    out = []
    for what, v in (("today's value", tp.lever.today), ("the target", tp.lever.target)):
        if not lo <= v <= hi:
            out.append(f"{what.capitalize()} ({v:g}{unit}) lies outside the range of {tp.label} seen in the data "
                       f"({lo:.3g}-{hi:.3g}{unit}, 5th-95th percentile of {n:,} accounts' typical value): the "
                       "effect there is an extrapolation of the fitted curve.")
    return out


def calibration_markdown(cal: Calibration, scenario_path: Path | None = None, scenario: Any = None) -> str:
    """A short Markdown report: verdicts, direct effects, links written, caveats, exclusions."""
    lines = [f"# Calibration from {cal.data.name}", "",
             f"Data: `{cal.data.source}` ({cal.data.shape} shape; "
             + ", ".join(f"{k} {v:,} rows" for k, v in cal.data.n_rows().items()) + f"). Run on {cal.date}.", ""]
    if scenario_path:
        lines += [f"Calibrated scenario: `{scenario_path}`.", ""]
    lines += ["## Verdicts", ""] + [f"- {v}" for v in cal.sentences()] + [""]
    if cal.observed:
        o = cal.observed
        lines += ["## The range the data cover", "",
                  f"Accounts' typical resolution time runs from {o['low']:.3g} to {o['high']:.3g} days "
                  f"(5th-95th percentile, {o['n']:,} accounts with complaints)."]
        lines += [f"- **Extrapolation:** {s}" for s in extrapolation(cal, scenario)] + [""]
    if cal.written:
        lines += ["## Links written to the scenario", "",
                  "| link | written (95% interval) | your data alone | n | benchmark prior | prior weight | method |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for k, w in cal.written.items():
            e = w.data
            prior = w.prior.text if w.prior else "none (data alone)"
            pw = f"{w.prior_weight:.0%}" if w.prior_weight is not None else "-"
            lines.append(f"| {k} | {w.value:.4g} ({w.low:.4g} to {w.high:.4g}) | {e.value:.4g} ({e.low:.4g} to "
                         f"{e.high:.4g}) | {e.n:,} {e.unit} | {prior} | {pw} | {e.method} |")
        lines.append("")
    elif cal.links:
        lines += ["## Links estimated", "", "| link | value | 95% interval | n | method |", "| --- | --- | --- | --- | --- |"]
        for k, e in cal.links.items():
            lines.append(f"| {k} | {e.value:.4g} | {e.low:.4g} to {e.high:.4g} | {e.n:,} {e.unit} | {e.method} |")
        lines.append("")
    lines += exposure_windows(cal)
    if "baselines" in cal.fitters and "promoters_raw" in cal.baselines:
        b = cal.baselines
        raw = 100 * (b["promoters_raw"] - b["detractors_raw"])
        cor = 100 * (b["promoters"] - b["detractors"])
        lines += ["## Baseline NPS", "", "| segment | survey NPS (respondents) | NPS written (all active accounts) |",
                  "| --- | --- | --- |"]
        lines += [f"| {s} | {_n(r)} | {_n(c)} |" for s, r, c in zip(b["segment"], raw, cor, strict=True)]
        lines.append("")
    if scenario is not None:
        ev = evidence_table(scenario)
        lines += ["## What the business case rests on", "", "| money line | evidence | links behind it |",
                  "| --- | --- | --- |"]
        lines += [f"| {r.line.replace('_', ' ')} | {r.evidence} | {r.links} |" for r in ev.itertuples()]
        lines.append("")
    lines += ["## Caveats (written to the scenario)", ""]
    lines += [f"- **{c['about']}**: {c['text']}" for c in cal.caveats] or ["None."]
    lines.append("")
    ex = cal.exclusions
    lines += ["## Rows left out of fits (nothing is dropped silently)", ""]
    if ex.empty:
        lines.append("None.")
    else:
        lines += ["| table | rule | rows | of | first rows |", "| --- | --- | --- | --- | --- |"]
        lines += [f"| {r.table} | {r.rule} | {r.rows:,} | {r.of:,} | {r.first_rows} |" for r in ex.itertuples()]
    return "\n".join(lines) + "\n"


def exposure_windows(cal: Calibration) -> list[str]:
    """The report's section on the direct effects' exposure windows: which window the data
    chose, by how many log-likelihood points, and the share of the behaviour in exposed months."""
    rows = [(k, e.window) for k, e in cal.links.items() if getattr(e, "window", None) is not None]
    if not rows:
        return []
    from cxroi.calibrate.panel import EXPOSURE_MONTHS, WINDOW_MARGIN

    out = ["## Exposure windows of the direct effects", "",
           "How long after a complaint is resolved does resolution time move leaving and buying more? Each "
           "window is fitted on the same account-months; the 12-month window is kept unless a shorter one fits "
           f"better by more than {WINDOW_MARGIN:g} log-likelihood points.", "",
           "| link | window chosen | log-likelihood vs 12 months (1 / 3 / 6 months) | share in exposed months | why |",
           "| --- | --- | --- | --- | --- |"]
    for k, ch in rows:
        ll = " / ".join(f"{ch.loglik[w] - ch.loglik[EXPOSURE_MONTHS]:+.1f}" for w in sorted(ch.loglik)
                        if w != EXPOSURE_MONTHS) if EXPOSURE_MONTHS in ch.loglik else "not compared"
        share = ", ".join(f"{s} {v:.0%}" for s, v in ch.exposed_share.items()) or "-"
        used = "" if ch.window < EXPOSURE_MONTHS else " (not used: the model's share of accounts exposed)"
        out.append(f"| {k} | {ch.window} month{'s' if ch.window != 1 else ''} | {ll} | {share}{used} | {ch.reason} |")
    return [*out, ""]


def _n(x: float) -> str:
    return f"{x:.0f}" if np.isfinite(x) else "n/a"


def evidence_table(scenario: Any) -> pd.DataFrame:
    """What each money line (and NPS, CSAT) of a scenario rests on, with its caveats.

    One row per line of :func:`cxroi.evidence.evidence_of`: ``line``, ``level``
    (measured / mixed / benchmark / assumption), ``evidence`` (the phrase the pitch uses),
    ``links`` (the links behind it, with their provenance), ``n`` and ``caveats``.
    """
    from cxroi.evidence import evidence_of

    ev = evidence_of(scenario)
    links = scenario.link_paths()
    rows = []
    for line, le in ev.lines.items():
        behind = ", ".join(f"{p.rsplit('.', 1)[-1]} ({links[p].provenance})" for p in le.links if p in links)
        rows.append({"line": line, "level": le.level, "evidence": le.phrase, "links": behind, "n": le.n,
                     "caveats": " ".join(ev.caveats_for(line)
                                         + tuple(t for p in le.links for t in ev.caveats_for(p.rsplit('.', 1)[-1])))})
    rows.append({"line": "headline", "level": ev.level, "evidence": ev.phrase, "links": ", ".join(ev.material),
                 "n": ev.n, "caveats": " ".join(ev.caveats_for("general") + ev.extrapolation)})
    return pd.DataFrame(rows, columns=["line", "level", "evidence", "links", "n", "caveats"])


def links_table(cal: Calibration) -> pd.DataFrame:
    """The links :meth:`Calibration.to_scenario` wrote: value and interval written, the data's
    own estimate, its n, the benchmark prior and the weight the prior got."""
    rows = [{"link": k, "written": w.value, "low": w.low, "high": w.high, "data alone": w.data.value,
             "data low": w.data.low, "data high": w.data.high, "n": w.data.n, "unit": w.data.unit,
             "prior": w.prior.text if w.prior else "none (data alone)", "prior weight": w.prior_weight}
            for k, w in cal.written.items()]
    return pd.DataFrame(rows, columns=["link", "written", "low", "high", "data alone", "data low", "data high", "n",
                                       "unit", "prior", "prior weight"])


def caveats_table(cal: Calibration) -> pd.DataFrame:
    """Every caveat (data problems, links not estimated), by what it is about."""
    return pd.DataFrame(cal.caveats, columns=["about", "text"])

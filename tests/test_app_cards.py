"""What the app's cards say a number is must be what the model computes.

The ROI card's note read "PV of benefits over PV of costs" (the benefit-cost ratio, 517 %
for the lead demo) beside the model's ROI, net benefit over cost (Forrester's ROI, 417 %):
a CFO who checks the card against its note finds them a whole 100 points apart.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np
import pytest

from cxroi.app.view import cards_html
from cxroi.scenario import load_scenario
from cxroi.uncertainty import simulate

ROOT = Path(__file__).resolve().parents[1]
LEAD = ROOT / "data" / "scenarios" / "complaints-30-to-1.yaml"


def card_note(cards: str, metric: str) -> str:
    m = re.search(rf"data-metric='{metric}'.*?<div class='cx-card-note'>([^<]*)</div>", cards,
                  re.S)
    assert m, metric
    return html.unescape(m.group(1))


def test_the_roi_card_says_how_its_roi_is_computed() -> None:
    sc = load_scenario(LEAD)
    res = simulate(sc, draws=400)
    # the model's ROI, on every draw: (PV benefits - PV costs) / PV costs
    d = res.draws
    ok = d["pv_costs"] > 0
    assert np.allclose(d["roi"][ok], (d["pv_benefits"][ok] - d["pv_costs"][ok])
                       / d["pv_costs"][ok], rtol=1e-12)
    note = card_note(cards_html(sc, res, 0), "roi")
    assert note == "(PV of benefits − PV of costs) / PV of costs"
    # and not the benefit-cost ratio, which is one (100 points) more
    lk = res.likely
    assert lk["pv_benefits"] / lk["pv_costs"] == pytest.approx(lk["roi"] + 1)


@pytest.mark.parametrize("line", ["retention_savings", "cross_sell", "cost_to_serve_savings"])
def test_a_benefit_card_says_it_is_an_undiscounted_total(line: str) -> None:
    """The benefit cards show each line's total over the horizon, not discounted (as the
    pitch does); the waterfall beside them shows present values ($903k of retention
    savings on the card, $798k in the waterfall for the lead demo). The card says which."""
    sc = load_scenario(LEAD)
    res = simulate(sc, draws=400)
    total = res.draws[f"{line}_monthly"].sum(axis=-1)
    assert np.allclose(res.draws[line], total, rtol=1e-12)  # what the card's P50 is of
    note = card_note(cards_html(sc, res, 0), line)
    assert note.endswith(f"total over {sc.finance.horizon_months} months, not discounted"), note


def test_roi_without_a_programme_cost_says_why_it_has_no_value() -> None:
    """With no cost (one-off and running both 0) ROI is not defined (a division by a
    present value of 0, NaN in every draw): the card said "n/a" and "P10–P90: n/a to
    n/a"; it says why."""
    from cxroi.app import tasks

    data = load_scenario(LEAD).model_dump(mode="json")
    data["costs"].update(one_off=0, running_per_year=0)
    out = tasks.compute(data, LEAD.name, str(LEAD.parent))
    assert out["ok"]
    m = re.search(r"data-metric='roi'.*?<div class='cx-card-value'>([^<]*)</div>"
                  r"<div class='cx-card-range'>([^<]*)</div>", out["cards"], re.S)
    assert m
    value, rng = html.unescape(m.group(1)), html.unescape(m.group(2))
    assert value == "n/a"
    assert "n/a to n/a" not in rng and "no programme cost" in rng, rng


def test_a_card_resting_on_benchmarks_and_assumptions_says_both() -> None:
    """The report's badge says "benchmarks + assumptions" where a stated assumption is
    among a number's links; the app's card badge says the same, never "published
    benchmarks" alone for such a number, and keeps it for a number on benchmarks only."""
    from cxroi.evidence import ASSUMED_SHORT, evidence_of

    sc = load_scenario(LEAD)
    res = simulate(sc, draws=300)
    ev = evidence_of(sc, likely=res.likely)
    cards = cards_html(sc, res, 0, ev)
    badges = dict(re.findall(r"data-metric='(\w+)'.*?class='cx-prov[^>]*>([^<]*)</a>", cards,
                             re.S))
    from cxroi.app.view import CARD_EVIDENCE

    seen = set()
    for metric, line in CARD_EVIDENCE.items():
        le = ev.lines[line] if line else ev
        if le.level != "benchmark":
            continue
        want = ASSUMED_SHORT if le.assumed else "published benchmarks"
        assert html.unescape(badges[metric]) == want, metric
        seen.add(le.assumed)
    assert True in seen  # the lead demo has such a number

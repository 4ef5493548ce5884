"""Shared fixtures: the example scenarios and a tiny hand-checkable one."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "data" / "scenarios"
LEAD = SCENARIOS / "complaints-30-to-1.yaml"


def _link(value: float, low: float | None = None, high: float | None = None) -> dict:
    return {"value": value, "low": value if low is None else low,
            "high": value if high is None else high, "provenance": "assumption",
            "source": "test value"}


def tiny_dict() -> dict:
    """One segment, one touchpoint, 12 months: numbers chosen to be checkable by hand.

    Monthly baseline hazard 0.02, monthly expansion probability 0.01; the lever halves
    resolution time at once (ramp 0), so p goes from 1/2 to 2/3 (odds ratio 0.5 per
    doubling) and the 12 events a year (1 a month) shift churn by -0.06/6 = -0.01 and
    expansion by +0.01 a month.
    """
    return {
        "name": "tiny",
        "segments": [{
            "name": "All", "accounts": 1000, "arpa": 12000, "gross_margin": 0.5,
            "churn": 1 - 0.98 ** 12, "expansion_rate": 0.12, "expansion_value": 0.5,
            "promoters": 0.3, "detractors": 0.3, "csat": 3.5,
            "volumes": {"complaints": {"events_per_year": 12, "contacts_per_event": 2,
                                       "cost_per_contact": 10}},
        }],
        "touchpoints": {"complaints": {
            "label": "complaint resolution time", "metric": "resolution_days",
            "unit": "days", "better": "lower", "scale": "log2", "minimum": 0.1,
            "lever": {"today": 4, "target": 2, "ramp_months": 0, "start_month": 0},
            "links": {
                "positive_share_today": _link(0.5, 0.4, 0.6),
                "odds_ratio": _link(0.5, 0.4, 0.7),
                "churn_gap": _link(0.06, 0.03, 0.09),
                "expansion_gap": _link(0.06, 0.03, 0.09),
                "repeat_contacts": _link(2.0, 1.0, 3.0),
                "nps_gap": _link(60.0, 40.0, 80.0),
                "csat_gap": _link(1.2, 1.0, 1.5),
            },
        }},
        "links": {"referrals_per_promoter": _link(0.12, 0.0, 0.2)},
        "costs": {"one_off": 100000, "running_per_year": 24000},
        "finance": {"horizon_months": 12, "discount_rate": 0.0},
        "simulation": {"draws": 500, "seed": 1},
    }


@pytest.fixture
def tiny() -> dict:
    return copy.deepcopy(tiny_dict())


@pytest.fixture
def lead_dict() -> dict:
    return yaml.safe_load(LEAD.read_text())

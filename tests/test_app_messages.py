"""The app's messages about impossible input speak the controls' words and units.

A CX leader types into a box that shows first contact resolution, the discount rate and
the risk haircuts as percentages; the scenario file (and the validator's wording) holds
them as shares. A message reading "use a value between 0.0 and 1.0" next to a box that
shows 60 invites typing 1 (which is 1 %), and a fix naming ``finance.horizon_months``
names nothing on the page. These tests compute through the worker's own entry point
(:func:`cxroi.app.tasks.compute`), as the served page does.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from cxroi.app import tasks
from cxroi.app.view import strip_tags
from cxroi.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCEN = ROOT / "data" / "scenarios"


def message(file: str, **changes: Any) -> str:
    """The page's message (plain text) for the scenario ``file`` with ``changes``
    (dotted key path -> value, in the scenario file's units) applied."""
    data = copy.deepcopy(load_scenario(SCEN / file).model_dump(mode="json"))
    for path, value in changes.items():
        node = data
        keys = path.split(".")
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    out = tasks.compute(data, file, str(SCEN))
    assert out["ok"] is False, "these inputs should be refused"
    text = strip_tags(out["message"])
    assert "Traceback" not in text
    return text


def test_a_share_shown_as_a_percentage_is_explained_in_percent() -> None:
    # the box shows 60 % today; a target of 120 % is outside the range 0-100 %
    text = message("fcr-60-to-80.yaml",
                   **{"touchpoints.first_contact_resolution.lever.target": 1.2})
    assert "First contact resolution · Target" in text
    assert "120%" in text and "0% and 100%" in text, text
    assert "1.2" not in text and "1.0" not in text, text
    # a target worse than today: "above or equal to 60%", not "0.6"
    text = message("fcr-60-to-80.yaml",
                   **{"touchpoints.first_contact_resolution.lever.target": 0.5})
    assert "target 50% is worse than today (60%)" in text, text
    assert "above or equal to 60%" in text, text


@pytest.mark.parametrize(("path", "value", "shown"), [
    ("finance.discount_rate", 1.5, "150%"),
    ("finance.risk.retention_savings", 1.5, "150%"),
])
def test_percent_controls_say_what_to_type(path: str, value: float, shown: str) -> None:
    text = message("complaints-30-to-1.yaml", **{path: value})
    assert f"(got {shown})" in text and "100%" in text, text
    assert "0.10 for 10%" not in text and "as a share" not in text, text  # the file's words


def test_the_fix_names_the_control_not_the_key_path() -> None:
    text = message("complaints-30-to-1.yaml",
                   **{"touchpoints.complaints.lever.ramp_months": 120})
    assert "Complaint resolution time · Ramp" in text
    assert "finance.horizon_months" not in text and "Finance · Horizon" in text, text


def test_a_control_in_its_own_units_keeps_its_numbers() -> None:
    # days are days: nothing is rescaled, and the log scale is not named
    text = message("complaints-30-to-1.yaml", **{"touchpoints.complaints.lever.target": 0})
    assert "between 0.1 and 365" in text and "log2" not in text, text

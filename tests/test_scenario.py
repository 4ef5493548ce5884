"""Scenario files: examples load, round-trip exactly, and every bad input names its fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cxroi.errors import ScenarioError
from cxroi.scenario import (
    load_benchmarks,
    load_scenario,
    save_scenario,
    scenario_from_dict,
    scenario_to_yaml,
)

SCENARIOS = Path(__file__).resolve().parents[1] / "data" / "scenarios"
EXAMPLES = sorted(SCENARIOS.glob("*.yaml"))


def test_at_least_three_examples() -> None:
    names = {p.stem for p in EXAMPLES}
    assert {"complaints-30-to-1", "fcr-60-to-80", "order-simplification"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_load_and_round_trip(path: Path, tmp_path: Path) -> None:
    sc = load_scenario(path)
    out = save_scenario(sc, tmp_path / "copy.yaml")
    assert load_scenario(out) == sc
    assert scenario_to_yaml(load_scenario(out)) == scenario_to_yaml(sc)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_cite_known_benchmarks(path: Path) -> None:
    known = load_benchmarks()
    sc = load_scenario(path)
    cited = [ln.source for ln in sc.link_paths().values() if ln.provenance == "benchmark"]
    assert cited and all(c in known for c in cited)


def _error(d: dict) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(d, "bad.yaml")
    return info.value


def test_unknown_key_suggests_spelling(lead_dict: dict) -> None:
    lead_dict["segments"][0]["acounts"] = lead_dict["segments"][0].pop("accounts")
    with pytest.raises(ScenarioError, match=r"bad\.yaml"):
        scenario_from_dict(lead_dict, "bad.yaml")
    e = _error(lead_dict)
    texts = [str(p) for p in e.problems]
    assert any("segments[0].acounts: unknown key 'acounts'" in t and "did you mean 'accounts'"
               in t for t in texts)


def test_wrong_type(lead_dict: dict) -> None:
    lead_dict["segments"][1]["arpa"] = "18k"
    with pytest.raises(ScenarioError, match=r"segments\[1\]\.arpa: .*number.*Fix: write a plain"):
        scenario_from_dict(lead_dict, "bad.yaml")


@pytest.mark.parametrize("churn", [1.2, -0.1])
def test_churn_outside_0_1(lead_dict: dict, churn: float) -> None:
    lead_dict["segments"][0]["churn"] = churn
    with pytest.raises(ScenarioError, match=r"segments\[0\]\.churn: .*Fix: give annual churn as a share"):
        scenario_from_dict(lead_dict, "bad.yaml")


def test_target_worse_than_today(lead_dict: dict) -> None:
    lead_dict["touchpoints"]["complaints"]["lever"]["target"] = 45
    with pytest.raises(ScenarioError,
                       match=r"touchpoints\.complaints\.lever\.target: target 45.* worse than today"
                             r".*Fix: set a target below"):
        scenario_from_dict(lead_dict, "bad.yaml")


def test_ramp_longer_than_horizon(lead_dict: dict) -> None:
    lead_dict["touchpoints"]["complaints"]["lever"]["ramp_months"] = 48
    with pytest.raises(ScenarioError, match=r"lever\.ramp_months: .*longer than the horizon of 36 months allows"
                                            r".*Fix: shorten the ramp"):
        scenario_from_dict(lead_dict, "bad.yaml")


def test_negative_cost(lead_dict: dict) -> None:
    lead_dict["costs"]["running_per_year"] = -1000
    with pytest.raises(ScenarioError, match=r"costs\.running_per_year: .*greater than or equal to 0"
                                            r".*Fix: costs are positive"):
        scenario_from_dict(lead_dict, "bad.yaml")


def test_missing_provenance(lead_dict: dict) -> None:
    del lead_dict["touchpoints"]["complaints"]["links"]["churn_gap"]["provenance"]
    with pytest.raises(ScenarioError, match=r"links\.churn_gap\.provenance: field required.*"
                                            r"Fix: say where the number comes from"):
        scenario_from_dict(lead_dict, "bad.yaml")


def test_unknown_benchmark_id(lead_dict: dict) -> None:
    lead_dict["touchpoints"]["complaints"]["links"]["odds_ratio"]["source"] = "tarp-complaint"
    with pytest.raises(ScenarioError, match=r"odds_ratio\.source: 'tarp-complaint' is not a known"
                                            r".*did you mean 'tarp-complaint-loyalty'"):
        scenario_from_dict(lead_dict, "bad.yaml")


def test_range_order_and_direction(lead_dict: dict) -> None:
    link = lead_dict["touchpoints"]["complaints"]["links"]["odds_ratio"]
    link.update(value=1.3, low=1.1, high=1.0)
    e = _error(lead_dict)
    text = str(e)
    assert "low <= value <= high" in text
    assert "worse resolution_days makes a positive outcome more likely" in text


def test_missing_volume_for_touchpoint(lead_dict: dict) -> None:
    del lead_dict["segments"][2]["volumes"]["complaints"]
    with pytest.raises(ScenarioError, match=r"segments\[2\]\.volumes: no volume for touchpoint"):
        scenario_from_dict(lead_dict, "bad.yaml")


def test_all_problems_reported_at_once(lead_dict: dict) -> None:
    lead_dict["segments"][0]["churn"] = 2
    lead_dict["costs"]["one_off"] = -1
    lead_dict["nonsense"] = True
    assert len(_error(lead_dict).problems) == 3


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n  segments: [\n")
    with pytest.raises(ScenarioError, match=r"(?s)bad\.yaml: .*line 2, column 11: YAML syntax"):
        load_scenario(bad)
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ScenarioError, match="not a mapping"):
        load_scenario(bad)


def test_adding_a_touchpoint_is_config_only(lead_dict: dict) -> None:
    """A brand-new touchpoint (onboarding effort) needs only YAML."""
    tp = yaml.safe_load(yaml.safe_dump(lead_dict["touchpoints"]["complaints"]))
    tp.update(label="onboarding time", metric="onboarding_weeks", unit="weeks",
              lever={"today": 8, "target": 4, "ramp_months": 3})
    lead_dict["touchpoints"]["onboarding"] = tp
    for seg in lead_dict["segments"]:
        seg["volumes"]["onboarding"] = {"events_per_year": 0.3}
    sc = scenario_from_dict(lead_dict)
    assert list(sc.touchpoints) == ["complaints", "onboarding"]


def test_start_at_horizon_end_is_refused(lead_dict: dict) -> None:
    lead_dict["touchpoints"]["complaints"]["lever"].update(start_month=36, ramp_months=0)
    with pytest.raises(ScenarioError, match=r"lever\.ramp_months: start month 36"):
        scenario_from_dict(lead_dict, "bad.yaml")


@pytest.mark.parametrize(("path", "value", "pattern"), [
    (("costs", "one_off"), float("inf"), r"costs\.one_off: .*finite"),
    (("segments", 0, "accounts"), True, r"segments\[0\]\.accounts: .*valid integer"),
    (("segments", 0, "gross_margin"), "0.7", r"segments\[0\]\.gross_margin: .*valid number"),
])
def test_no_silent_conversions(lead_dict: dict, path: tuple, value: object, pattern: str) -> None:
    node = lead_dict
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ScenarioError, match=pattern):
        scenario_from_dict(lead_dict, "bad.yaml")


def test_duplicate_yaml_key_is_refused(tmp_path: Path) -> None:
    text = SCENARIOS.joinpath("complaints-30-to-1.yaml").read_text()
    bad = tmp_path / "dup.yaml"
    bad.write_text(text.replace("currency: USD", "currency: USD\ncurrency: EUR"))
    with pytest.raises(ScenarioError, match=r"(?s)line \d+.*duplicate key 'currency'"):
        load_scenario(bad)


def test_metric_bounds_must_be_ordered(lead_dict: dict) -> None:
    lead_dict["touchpoints"]["complaints"].update(minimum=400, maximum=1)
    with pytest.raises(ScenarioError, match=r"complaints\.minimum: minimum 400.* not below maximum"):
        scenario_from_dict(lead_dict, "bad.yaml")


def test_a_secrets_file_is_named_not_a_scenario_and_its_keys_are_not_echoed(tmp_path):
    """A credentials file passed (or symlinked) as a scenario, through the library path the
    app and the batch use: the error says what it is not and never repeats its keys."""
    secret = tmp_path / "credentials.yaml"
    secret.write_text("db_password: hunter2\naws_secret_access_key: AKIAXXXX\n")
    plan = tmp_path / "plan.yaml"
    plan.symlink_to(secret)
    with pytest.raises(ScenarioError, match=r"(?s)plan\.yaml: .*not a scenario file") as info:
        load_scenario(plan)
    text = str(info.value)
    assert "password" not in text and "hunter2" not in text and "aws" not in text
    # one misspelt key among real ones is still a scenario with a typo, not a secrets file
    with pytest.raises(ScenarioError, match="unknown key 'nmae'"):
        scenario_from_dict({"nmae": "x", "touchpoints": []})


def _with_intervals(d: dict) -> dict:
    seg = d["segments"][0]
    seg["churn_low"], seg["churn_high"] = seg["churn"] * 0.8, seg["churn"] * 1.25
    seg["expansion_rate_low"] = seg["expansion_rate"] * 0.7
    seg["expansion_rate_high"] = seg["expansion_rate"] * 1.4
    vol = seg["volumes"]["complaints"]
    vol["contacts_per_event_low"] = vol["contacts_per_event"] * 0.9
    vol["contacts_per_event_high"] = vol["contacts_per_event"] * 1.1
    return d


def test_baseline_rate_intervals_load_and_round_trip(lead_dict: dict) -> None:
    sc = scenario_from_dict(_with_intervals(lead_dict))
    seg = sc.segments[0]
    assert seg.churn_low < seg.churn < seg.churn_high
    assert seg.volumes["complaints"].contacts_per_event_high > seg.volumes["complaints"].contacts_per_event
    again = scenario_from_dict(yaml.safe_load(scenario_to_yaml(sc)))
    assert again == sc
    assert sc.segments[1].churn_low is None  # optional: a segment without them is as before


@pytest.mark.parametrize("where, key, value, pattern", [
    ("segment", "churn_low", 0.5,
     r"segments\[0\]\.churn_low: needs churn_low <= churn <= churn_high .*Fix: give the 95% "
     r"interval around churn: churn_low at most 0\.08"),
    ("segment", "expansion_rate_high", 0.01,
     r"segments\[0\]\.expansion_rate_low: needs expansion_rate_low <= expansion_rate <= "
     r"expansion_rate_high"),
    ("volume", "contacts_per_event_low", 3.5,
     r"segments\[0\]\.volumes\.complaints\.contacts_per_event_low: needs contacts_per_event_low"
     r" <= contacts_per_event <= contacts_per_event_high"),
    ("segment", "churn_high", 1.0,
     r"segments\[0\]\.churn_high: input should be less than 1.*Fix: give the ends of the 95% "
     r"interval of annual churn"),
    ("volume", "contacts_per_event_high", -1.0,
     r"contacts_per_event_high: .*greater than or equal to 0.*Fix: give the ends of the 95% "
     r"interval of contacts per event"),
])
def test_baseline_rate_interval_must_hold_the_rate(lead_dict: dict, where: str, key: str,
                                                   value: float, pattern: str) -> None:
    d = _with_intervals(lead_dict)
    holder = d["segments"][0] if where == "segment" else d["segments"][0]["volumes"]["complaints"]
    holder[key] = value
    with pytest.raises(ScenarioError, match=pattern):
        scenario_from_dict(d, "bad.yaml")


def test_baseline_rate_interval_needs_both_ends(lead_dict: dict) -> None:
    lead_dict["segments"][2]["churn_high"] = 0.2
    with pytest.raises(ScenarioError, match=r"segments\[2\]\.churn_low: churn_high is given "
                       r"without churn_low\. Fix: give both ends"):
        scenario_from_dict(lead_dict, "bad.yaml")

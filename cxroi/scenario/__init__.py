"""Scenario files: the one format the model, calibration, batch, reports and app share.

A scenario is a YAML file describing a company's segments, the touchpoints an initiative
changes (each with a lever: today's value, the target and a ramp), the *links* of the
flywheel (each a value with a low-high range and its provenance: calibrated, benchmark or
assumption), the programme's costs and the finance settings. See ``docs/scenario.md``.

Loading validates everything at the door and reports every problem at once with the file,
the key path and the fix (:class:`cxroi.errors.ScenarioError`).

One module per part: :mod:`~cxroi.scenario.schema` (the models),
:mod:`~cxroi.scenario.checks` (cross-field checks, domains and fixes),
:mod:`~cxroi.scenario.loading` (YAML in and out).
"""

from cxroi.errors import ScenarioError
from cxroi.scenario.checks import (
    CAVEAT_TOPICS,
    DIRECT_LINKS,
    LINK_DOMAINS,
    RATE_INTERVALS,
    WINDOW_LINKS,
    check_scenario,
    correlation_matrix,
    load_benchmarks,
    rank_to_normal,
    sbg_churn_next_year,
)
from cxroi.scenario.loading import (
    StrictYamlLoader,
    load_scenario,
    load_yaml,
    save_scenario,
    scenario_files,
    scenario_from_dict,
    scenario_to_yaml,
    yaml_fix,
)
from cxroi.scenario.schema import (
    CashFlow,
    Caveat,
    Correlation,
    Costs,
    Finance,
    GlobalLinks,
    Lever,
    Link,
    Observed,
    Provenance,
    Retention,
    Risk,
    Scenario,
    Segment,
    Simulation,
    Touchpoint,
    TouchpointLinks,
    Volume,
)

__all__ = [
    "CAVEAT_TOPICS", "DIRECT_LINKS", "LINK_DOMAINS", "RATE_INTERVALS", "WINDOW_LINKS",
    "CashFlow", "Caveat", "Correlation", "Costs", "Finance", "GlobalLinks", "Lever", "Link",
    "Observed", "Provenance", "Retention", "Risk", "Scenario", "ScenarioError", "Segment",
    "Simulation", "StrictYamlLoader", "Touchpoint", "TouchpointLinks", "Volume", "check_scenario",
    "correlation_matrix", "load_benchmarks", "load_scenario", "load_yaml", "rank_to_normal",
    "save_scenario", "sbg_churn_next_year", "scenario_files", "scenario_from_dict",
    "scenario_to_yaml", "yaml_fix",
]

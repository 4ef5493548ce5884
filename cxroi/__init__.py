"""cxroi: turn a customer-experience improvement into the money a CFO understands."""

from cxroi.errors import CxroiError, DataError, Problem, ScenarioError
from cxroi.scenario import Scenario, load_scenario, save_scenario, scenario_from_dict

__version__ = "0.1.0"

__all__ = [
    "CxroiError",
    "DataError",
    "Problem",
    "Scenario",
    "ScenarioError",
    "__version__",
    "load_scenario",
    "save_scenario",
    "scenario_from_dict",
]

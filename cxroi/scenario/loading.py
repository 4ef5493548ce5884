"""Reading and writing scenario files: YAML in (duplicate keys refused), validated at the door,
YAML out atomically."""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from cxroi.errors import Problem, ScenarioError
from cxroi.files import write_atomic
from cxroi.scenario.checks import _problem_from_pydantic, check_scenario
from cxroi.scenario.schema import Scenario


class StrictYamlLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's safe loader when available (about 8x faster), strict where YAML is lenient.

    It refuses a key given twice in one mapping (YAML would resolve it silently to the last
    value) and turns a date-looking value that is no date (``2024-13-01``) into a YAML
    error at its line, where PyYAML raises a bare ``ValueError``. Every cxroi input file
    (scenarios, batch files, mappings, initiative files) is read with it: :func:`load_yaml`.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}' (only one value can count)",
                    key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"'{node.value}' is not a valid date ({exc}); write it as "
                "YYYY-MM-DD", node.start_mark) from None


StrictYamlLoader.add_constructor("tag:yaml.org,2002:timestamp",
                                 StrictYamlLoader.construct_yaml_timestamp)


def yaml_fix(exc: yaml.YAMLError) -> str:
    """The fix of a YAML error: a key given twice and an impossible date have their own."""
    problem = str(getattr(exc, "problem", "") or "")
    if problem.startswith("duplicate key"):
        return "keep one of the two (YAML would silently use the last)"
    if "is not a valid date" in problem:
        return "correct the date (YYYY-MM-DD), or quote it to keep it as text"
    return "check indentation and colons"


def load_yaml(text: str) -> Any:
    """Parse YAML text with :class:`StrictYamlLoader` (duplicate keys and impossible dates
    are ``yaml.YAMLError`` s with a line, like any syntax error)."""
    return yaml.load(text, Loader=StrictYamlLoader)  # noqa: S506 (a safe loader)


def scenario_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The scenario files (``*.yaml``, ``*.yml``) in a folder, sorted by name."""
    p = Path(folder)
    return sorted([*p.glob("*.yaml"), *p.glob("*.yml")])


def scenario_from_dict(data: Any, source: str = "<scenario>") -> Scenario:
    """Validate a parsed scenario mapping; raise :class:`ScenarioError` listing every problem."""
    if not isinstance(data, dict):
        raise ScenarioError(source, [Problem("(top level)", "the file is not a mapping of keys",
                                             "start from one of data/scenarios/*.yaml")])
    keys = list(Scenario.model_fields)
    if data and not any(difflib.get_close_matches(str(k), keys, n=1) for k in data):
        # A credentials file or a mapping given by mistake: say what it is not, and never
        # echo its keys back ("unknown key 'password'"), they may be secrets.
        raise ScenarioError(source, [Problem(
            "(top level)", "not a scenario file (none of its keys is a scenario key)",
            "give a scenario YAML file; examples are in data/scenarios/")])
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(source, [_problem_from_pydantic(e) for e in exc.errors()]) from None
    probs = check_scenario(sc)
    if probs:
        raise ScenarioError(source, probs)
    return sc


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read and validate a scenario YAML file.

    Raises
    ------
    ScenarioError
        Naming the file, each key path and its fix; never a bare traceback.
    """
    p = Path(path)
    if not p.is_file():
        raise ScenarioError(str(p), [Problem("(file)", "file not found",
                                             "check the path; examples are in data/scenarios/")])
    try:
        data = load_yaml(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        msg = getattr(exc, "problem", None) or "not valid YAML"
        raise ScenarioError(str(p), [Problem(where, f"YAML syntax: {msg}",
                                             yaml_fix(exc))]) from None
    except UnicodeDecodeError:
        raise ScenarioError(str(p), [Problem("(file)", "not a UTF-8 text file",
                                             "save the scenario as UTF-8 YAML")]) from None
    return scenario_from_dict(data, str(p))


def scenario_to_yaml(sc: Scenario) -> str:
    """YAML text that :func:`load_scenario` reads back to an equal scenario."""
    return yaml.safe_dump(_drop_none(sc.model_dump(mode="json")), sort_keys=False,
                          allow_unicode=True, width=100)


def _drop_none(x: Any) -> Any:
    """Leave optional keys that are not set out of the YAML (``observed: null`` is noise)."""
    if isinstance(x, dict):
        return {k: _drop_none(v) for k, v in x.items() if v is not None}
    if isinstance(x, list):
        return [_drop_none(v) for v in x]
    return x


def save_scenario(sc: Scenario, path: str | os.PathLike[str]) -> Path:
    """Write a scenario atomically (temporary file, then rename); return the path."""
    return write_atomic(path, scenario_to_yaml(sc))

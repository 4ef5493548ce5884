"""The initiative file (``I.yaml``): what went live, when, for whom, and what it was sold as.

``cxroi measure DATA --mapping M.yaml --initiative I.yaml`` reads it. Example
(``data/initiatives/demo-rollout.yaml``)::

    name: Complaint desk rollout by team
    scenario: ../scenarios/complaints-30-to-1.yaml   # the business case it was sold with
    touchpoint: complaints                            # the scenario touchpoint it changed
    lever: resolution_days                            # measured from the tickets table
    group_by: team                                    # accounts column: segment or a kept column
    go_live:                                          # group: first day of the change
      T01: 2024-01-01
      T02: 2024-05-01
    window: {before: 6, after: 6}                     # event-study months either side

``go_live`` is either a mapping group → date (a rollout by group; groups of the data not
listed are *not reached* and serve as controls) or a single date (everyone at once: an
interrupted time series). Validation happens at the door: every problem is listed at once
with its key and fix (:class:`cxroi.errors.InitiativeError`). Checks that need the data
(go-live inside the data, a pre-period for each group, a control group) are made by
:func:`cxroi.measure.panel.build_panel` and the estimators.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cxroi.errors import InitiativeError, Problem
from cxroi.scenario.loading import load_yaml, yaml_fix

#: Outcomes cxroi can measure, with the words a CX leader uses.
OUTCOMES: dict[str, str] = {
    "leaving": "accounts leaving (share per month)",
    "buying_more": "accounts buying more (share per month)",
    "contacts": "contacts per account per month",
    "nps": "NPS (points)",
    "csat": "CSAT (1-5)",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Strict):
    """Months of the event study either side of each go-live."""

    before: Annotated[int, Field(ge=2, le=36)] = 6
    after: Annotated[int, Field(ge=1, le=36)] = 6


class ActualCosts(_Strict):
    """What the initiative actually cost (default: the business case's costs)."""

    one_off: Annotated[float, Field(ge=0)] = 0.0
    running_per_year: Annotated[float, Field(ge=0)] = 0.0


class Initiative(_Strict):
    """An initiative that went live, as ``cxroi measure`` reads it from ``I.yaml``.

    Attributes
    ----------
    go_live : date or dict of str to date
        One date for everyone, or the date each group went live.
    group_by : str, optional
        Accounts column naming the groups (``segment`` or a column kept by the mapping);
        required with per-group dates.
    min_pre_months : int
        Months of data each reached group needs before its go-live (default 3).
    design : {"auto", "did", "its"}
        ``auto``: difference-in-differences when some groups were not yet (or never)
        reached, interrupted time series when everyone went live on one date.
    """

    name: str = Field(min_length=1)
    description: str = ""
    scenario: str = Field(min_length=1, description="business-case scenario file it was sold with")
    touchpoint: str = "complaints"
    lever: Literal["resolution_days"] = "resolution_days"
    group_by: str | None = None
    go_live: _dt.date | dict[str, _dt.date]
    exclude: list[str] = Field(default_factory=list, description="groups left out entirely")
    window: Window = Window()
    min_pre_months: Annotated[int, Field(ge=1, le=36)] = 3
    design: Literal["auto", "did", "its"] = "auto"
    outcomes: list[Literal["leaving", "buying_more", "contacts", "nps", "csat"]] = Field(
        default_factory=lambda: list(OUTCOMES))
    costs: ActualCosts | None = None
    placebo_shift: Annotated[int, Field(ge=2, le=24)] = 6
    seed: int = 20261202
    draws: Annotated[int, Field(ge=200, le=100_000)] = 4000
    source_dir: str = Field("", exclude=True, description="folder of the I.yaml (set on load)")

    @field_validator("go_live")
    @classmethod
    def _some_dates(cls, v: Any) -> Any:
        if isinstance(v, dict) and not v:
            raise ValueError("no group listed; give `group: date` lines or one date")
        return v

    @property
    def staggered(self) -> bool:
        """True when go-live dates are given per group."""
        return isinstance(self.go_live, dict)

    def scenario_path(self) -> Path:
        """The business-case scenario, relative to the initiative file's folder."""
        p = Path(self.scenario)
        return p if p.is_absolute() or not self.source_dir else Path(self.source_dir) / p


_FIXES = {
    "missing": "add this key",
    "date_from_datetime_parsing": "write a date as YYYY-MM-DD, e.g. 2024-03-01",
    "date_parsing": "write a date as YYYY-MM-DD, e.g. 2024-03-01",
    "date_type": "write a date as YYYY-MM-DD, e.g. 2024-03-01",
    "literal_error": "use one of the allowed words",
    "greater_than_equal": "use a value at least this large",
    "less_than_equal": "use a value at most this large",
    "string_too_short": "write something here",
}


def _problem(err: dict[str, Any]) -> Problem:
    loc = tuple(str(x) for x in err["loc"] if x not in ("date", "dict[str,date]"))
    where = ".".join(loc) or "(top level)"
    fix = _FIXES.get(err["type"], "see docs/measure.md")
    if err["type"] == "extra_forbidden":
        close = difflib.get_close_matches(loc[-1], list(Initiative.model_fields), n=1)
        fix = f"did you mean '{close[0]}'?" if close else "remove this key"
    if err["type"] == "literal_error":
        fix = f"use one of: {err.get('ctx', {}).get('expected', '')}"
    got = err.get("input")
    msg = err["msg"].rstrip(".").lower()
    if got is not None and not isinstance(got, dict | list):
        msg += f" (got {got!r})"
    return Problem(where, msg, fix)


def initiative_from_dict(raw: Any, source: str = "<initiative>", source_dir: str = "") -> Initiative:
    """Validate a parsed initiative mapping; raise :class:`InitiativeError` listing every problem."""
    if not isinstance(raw, dict):
        raise InitiativeError(source, [Problem("(top level)", "the file is not a mapping of keys",
                                               "start from data/initiatives/demo-rollout.yaml")])
    try:
        ini = Initiative.model_validate({**raw, "source_dir": source_dir})
    except ValidationError as exc:
        # a date mapping that failed is tried as a single date too: report the mapping's errors
        errs = [e for e in exc.errors()
                if not (e["loc"][:1] == ("go_live",) and len(e["loc"]) == 2
                        and isinstance(raw.get("go_live"), dict))]
        raise InitiativeError(source, [_problem(e) for e in errs]) from None
    probs: list[Problem] = []
    if ini.staggered and not ini.group_by:
        probs.append(Problem("group_by", "go-live dates are given per group but no group column",
                             "name the accounts column that holds the groups, e.g. `group_by: "
                             "team` (keep it in the mapping) or `group_by: segment`"))
    if isinstance(ini.go_live, dict):
        both = sorted(set(ini.go_live) & set(ini.exclude))
        if both:
            probs.append(Problem("exclude", f"{', '.join(both)} both excluded and given a go-live date",
                                 "remove them from one of the two lists"))
    if probs:
        raise InitiativeError(source, probs)
    return ini


def load_initiative(path: str | os.PathLike[str]) -> Initiative:
    """Read and validate an ``I.yaml`` file.

    Raises
    ------
    InitiativeError
        Naming the file, each key and its fix.
    """
    p = Path(path)
    if not p.is_file():
        raise InitiativeError(str(p), [Problem("(file)", "file not found",
                                               "check the path; an example is "
                                               "data/initiatives/demo-rollout.yaml")])
    try:
        raw = load_yaml(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        problem = getattr(exc, "problem", None)
        raise InitiativeError(str(p), [Problem(where, "not valid YAML" + (f": {problem}" if problem else ""),
                                               yaml_fix(exc))]) from None
    except UnicodeDecodeError:
        raise InitiativeError(str(p), [Problem("(file)", "not a UTF-8 text file",
                                               "save the initiative file as UTF-8 YAML")]) from None
    if isinstance(raw, dict) and isinstance(raw.get("go_live"), dict):
        raw = {**raw, "go_live": {str(k): v for k, v in raw["go_live"].items()}}
    if isinstance(raw, dict) and isinstance(raw.get("exclude"), list):
        raw = {**raw, "exclude": [str(x) for x in raw["exclude"]]}
    return initiative_from_dict(raw, str(p), str(p.parent))

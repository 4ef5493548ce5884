"""One exception tree for everything cxroi reports to a person.

Every error a CX leader or analyst can cause (a bad scenario file, a bad data table, a
failing batch run) is a :class:`CxroiError`. Its message names *where* (file, key path or
table/column/row), *what* is wrong and *how to fix it*. The CLI, the notebooks and the app
print these messages and never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input.

    Parameters
    ----------
    where : str
        Key path (``segments[0].churn``) or table location (``tickets row 12, resolved_at``).
    message : str
        What is wrong, in plain words.
    fix : str
        What to do about it.
    """

    where: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}"
        return f"{text}. Fix: {self.fix}" if self.fix else text


class CxroiError(Exception):
    """Base class of every error cxroi shows to a user."""


class ProblemsError(CxroiError):
    """An input with one or more :class:`Problem` s, all reported at once."""

    kind = "input"

    def __init__(self, source: str, problems: list[Problem]):
        self.source = str(source)
        self.problems = list(problems)
        n = len(self.problems)
        lines = [f"{self.source}: {n} problem{'s' if n != 1 else ''} in the {self.kind}"]
        lines += [f"  - {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class ScenarioError(ProblemsError):
    """A scenario file that cannot be used as it is."""

    kind = "scenario"


class DataError(ProblemsError):
    """Company data that breaks the data contract."""

    kind = "data"


class CalibrationError(CxroiError):
    """A fit that cannot be made from the data given (too few events, no variation, ...)."""


class BatchError(CxroiError):
    """A batch specification that cannot be run."""


class ReportError(CxroiError):
    """A report that cannot be rendered."""


class InitiativeError(ProblemsError):
    """An initiative file (``I.yaml`` for ``cxroi measure``) that cannot be used as it is."""

    kind = "initiative"


class MeasurementError(CxroiError):
    """A rollout that cannot be measured from the data given (see :mod:`cxroi.measure`)."""


class GoLiveOutsideDataError(MeasurementError):
    """A go-live date before the data start or after the data end."""


class NoPrePeriodError(MeasurementError):
    """A group that went live before the data show enough months of it without the change."""


class NoControlGroupError(MeasurementError):
    """A rollout with no group left unchanged to compare with (and no single date for an ITS)."""

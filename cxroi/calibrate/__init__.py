"""Calibration: fit the flywheel's links and baselines from a company's own data.

Lifelines-style fitters, one module each: ``fit(...)`` returns the fitter, fitted values end
in ``_``, ``summary`` is a DataFrame (name, estimate, low, high, n, verdict) and ``verdict``
a plain-language sentence. :func:`calibrate` (``run.py``) runs them all and returns a
:class:`Calibration` (``calibration.py``), whose :meth:`Calibration.to_scenario` writes the
fitted values, combined with benchmark priors by precision (``priors.py``), into a scenario.

Direct (total) effects of the lever, which drive the money where measured:

* :class:`ResolutionChurnFitter` (``churn.py``) - Cox hazard ratio of leaving per doubling
  (``churn_hazard_ratio``);
* :class:`ExpansionRateFitter` (``expansion.py``) - Poisson rate ratio of buying more
  (``expansion_rate_ratio``);
* :class:`ContactsFitter` (``contacts.py``) - Poisson ratio of contacts per complaint
  (``contacts_ratio``).

The emotion chain (it carries NPS and CSAT): :class:`ExperienceEmotionFitter`
(``emotion.py``), :class:`BehaviourGapFitter` (``gaps.py``), :class:`OutcomeGapFitter`
(``outcomes.py``). Checks: :class:`MetricValidityFitter`, :class:`EmotionDriverFitter`
(``validity.py``), :class:`SurveyGapFitter` (``survey_gap.py``). Baselines:
:class:`BaselineFitter` (``baselines.py``). One row per customer: ``customers.py``.
``docs/calibration.md`` explains each estimate.
"""

from cxroi.calibrate.baselines import BaselineFitter
from cxroi.calibrate.calibration import DIRECT_LINKS, Calibration, LinkEstimate, Written
from cxroi.calibrate.churn import ResolutionChurnFitter
from cxroi.calibrate.contacts import ContactsFitter
from cxroi.calibrate.customers import ComplaintChurnFitter, CustomerBaselineFitter
from cxroi.calibrate.emotion import ExperienceEmotionFitter
from cxroi.calibrate.expansion import ExpansionRateFitter
from cxroi.calibrate.gaps import GAP_WINDOW_MONTHS, BehaviourGapFitter
from cxroi.calibrate.outcomes import OutcomeGapFitter
from cxroi.calibrate.prepare import Prepared, prepare
from cxroi.calibrate.priors import chain_implied
from cxroi.calibrate.report import calibration_markdown, caveats_table, evidence_table, links_table
from cxroi.calibrate.run import DEFAULT_BASE, calibrate, observed_range, run_calibration
from cxroi.calibrate.stats import (
    DOES_NOT,
    NOT_SHOWN,
    PREDICTS,
    SUMMARY_COLUMNS,
    combine_precision,
    concordance_ci,
    concordance_table,
    logistic_fit,
    three_way,
)
from cxroi.calibrate.survey_gap import SurveyGapFitter, account_features
from cxroi.calibrate.validity import EmotionDriverFitter, MetricValidityFitter
from cxroi.errors import CalibrationError, DataError, Problem

__all__ = [
    "DEFAULT_BASE", "DIRECT_LINKS", "DOES_NOT", "GAP_WINDOW_MONTHS", "NOT_SHOWN", "PREDICTS", "SUMMARY_COLUMNS",
    "BaselineFitter", "BehaviourGapFitter", "Calibration", "CalibrationError", "ComplaintChurnFitter",
    "ContactsFitter", "CustomerBaselineFitter", "DataError", "EmotionDriverFitter", "ExpansionRateFitter",
    "ExperienceEmotionFitter", "LinkEstimate", "MetricValidityFitter", "OutcomeGapFitter", "Prepared", "Problem",
    "ResolutionChurnFitter", "SurveyGapFitter", "Written", "account_features", "calibrate", "calibration_markdown",
    "caveats_table", "chain_implied", "combine_precision", "evidence_table", "links_table", "concordance_ci", "concordance_table", "logistic_fit", "observed_range",
    "prepare", "run_calibration", "three_way",
]

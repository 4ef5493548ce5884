"""The parameters a demo company is generated from: segments, links, shapes of the export."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special


@dataclass(frozen=True)
class SegmentTruth:
    """One segment's true economics and complaint volume."""

    name: str
    share: float
    arpa: float
    churn: float
    expansion_rate: float
    expansion_value: float
    complaints_per_year: float
    contacts_per_event: float
    nps_mean: float


DEFAULT_SEGMENTS: tuple[SegmentTruth, ...] = (
    SegmentTruth("Enterprise", 0.05, 90_000, 0.08, 0.25, 0.20, 1.2, 3.0, 7.8),
    SegmentTruth("Mid-market", 0.20, 18_000, 0.12, 0.20, 0.15, 0.8, 2.5, 7.5),
    SegmentTruth("SMB", 0.75, 3_000, 0.20, 0.12, 0.10, 0.4, 2.0, 7.3),
)


#: How surveys reach the export: ``tied`` (after-complaint surveys carry the ticket id),
#: ``untied`` (sent after complaints but exported without the ticket id, as many survey tools
#: do) or ``none`` (no survey program: the surveys table is empty).
SURVEY_SHAPES: tuple[str, ...] = ("tied", "untied", "none")

#: Options written to ``truth.yaml`` only when they differ from the default.
OFF_BY_DEFAULT: tuple[str, ...] = (
    "churn_lag", "churn_positive", "expansion_negative", "tier_sigma", "churn_hazard_ratio",
    "expansion_rate_ratio", "contacts_ratio", "direct_window", "surveys", "emotions")


@dataclass(frozen=True)
class DemoTruth:
    """The known parameters the demo company is generated from.

    Link parameters carry the names of the scenario's links (``cxroi.scenario``) so that
    calibration can be checked against them one to one.
    """

    segments: tuple[SegmentTruth, ...] = DEFAULT_SEGMENTS
    start: str = "2023-01-01"
    years: int = 3
    active_at_start: float = 0.8
    size_sigma: float = 0.6
    complaint_size_elasticity: float = 0.3
    today_days: float = 30.0
    resolution_sigma: float = 1.0
    positive_share_today: float = 0.30
    odds_ratio: float = 0.72
    churn_gap: float = 0.05
    expansion_gap: float = 0.10
    repeat_contacts: float = 1.0
    nps_gap: float = 40.0
    csat_gap: float = 1.5
    health_churn: float = 0.9
    health_expansion: float = 0.6
    health_nps: float = 2.0
    health_emotion: float = 1.0
    service_orders_per_month: float = 0.2
    health_orders: float = 0.6
    response_rate: float = 0.07
    response_extreme: float = 0.6
    response_skew: float = 0.4
    nps_informative: bool = True
    expansion_product: str = "expansion"
    churn_lag: tuple[float, ...] = (1.0,)
    churn_positive: float = 0.0
    expansion_negative: float = 0.0
    tier_sigma: float = 0.0
    churn_hazard_ratio: float = 1.0
    expansion_rate_ratio: float = 1.0
    contacts_ratio: float = 1.0
    direct_window: int = 12
    surveys: str = "tied"
    emotions: bool = True

    def __post_init__(self) -> None:
        lag = tuple(float(w) for w in self.churn_lag)
        if not lag or min(lag) < 0 or abs(sum(lag) - 1.0) > 1e-9:
            raise ValueError(f"churn_lag must be non-negative weights summing to 1, got {self.churn_lag}")
        object.__setattr__(self, "churn_lag", lag)
        if not 0.0 <= self.tier_sigma <= self.resolution_sigma:
            raise ValueError(f"tier_sigma must lie in [0, resolution_sigma={self.resolution_sigma}] (the share of "
                             f"the resolution-time spread that is between accounts), got {self.tier_sigma}")
        for f in ("churn_hazard_ratio", "expansion_rate_ratio", "contacts_ratio"):
            if not getattr(self, f) > 0:
                raise ValueError(f"{f} must be > 0 (1 = no direct effect), got {getattr(self, f)}")
        if int(self.direct_window) < 1:
            raise ValueError(f"direct_window must be at least 1 month, got {self.direct_window}")
        if self.surveys not in SURVEY_SHAPES:
            raise ValueError(f"surveys must be one of {', '.join(SURVEY_SHAPES)}, got {self.surveys!r}")

    @property
    def within_sigma(self) -> float:
        """Spread (sd of ln days) of a complaint's resolution time around its account's typical time."""
        return math.sqrt(max(self.resolution_sigma**2 - self.tier_sigma**2, 0.0))

    @property
    def has_direct_effects(self) -> bool:
        """True when resolution time moves leaving or buying more directly (not via the outcome)."""
        return self.churn_hazard_ratio != 1.0 or self.expansion_rate_ratio != 1.0

    def positive_share(self, days: float | np.ndarray) -> np.ndarray:
        """True :math:`p(T)` at resolution time(s) ``days``."""
        z = np.log2(np.asarray(days, dtype=float) / self.today_days)
        return _sigmoid(_logit(self.positive_share_today) + math.log(self.odds_ratio) * z)

    @property
    def true_nps_gap(self) -> float:
        """The NPS gap the generator realises (0 when NPS is made uninformative)."""
        return self.nps_gap if self.nps_informative else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for ``truth.yaml``; the off-by-default options are written only when set,
        so the default demo's ``truth.yaml`` is unchanged."""
        d = dataclasses.asdict(self)
        d["segments"] = [dataclasses.asdict(s) for s in self.segments]
        d["churn_lag"] = list(self.churn_lag)
        for f in OFF_BY_DEFAULT:
            if getattr(self, f) == getattr(DemoTruth, f):
                del d[f]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DemoTruth:
        d = dict(d)
        d["segments"] = tuple(SegmentTruth(**s) for s in d.get("segments", []))
        if "churn_lag" in d:
            d["churn_lag"] = tuple(d["churn_lag"])
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def with_complaints(self, factor: float) -> DemoTruth:
        """A copy with every segment's complaint rate multiplied by ``factor``."""
        segs = tuple(dataclasses.replace(s, complaints_per_year=s.complaints_per_year * factor)
                     for s in self.segments)
        return dataclasses.replace(self, segments=segs)


def _sigmoid(x: np.ndarray | float) -> np.ndarray:
    return special.expit(np.asarray(x, dtype=float))


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


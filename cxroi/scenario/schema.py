"""The scenario's schema: frozen pydantic models of segments, touchpoints, links, costs
and finance (strict types; the checks no schema can express are in :mod:`cxroi.scenario.checks`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Provenance = Literal["calibrated", "benchmark", "assumption"]


class _Frozen(BaseModel):
    # strict: `accounts: true` or `arpa: "18k"` are errors, not silent conversions;
    # no inf/nan: `.inf` is not a cost.
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


class Link(_Frozen):
    """One arrow of the flywheel: a value, its plausible range and where it came from.

    ``provenance`` is ``calibrated`` (``low``/``high`` are the fit's 95% interval and
    ``source`` says which data and fit), ``benchmark`` (``source`` is an id from
    ``cxroi/resources/benchmarks.yaml``) or ``assumption`` (``source`` is the rationale and
    ``low``/``high`` a judgement range).
    """

    value: float = Field(description="the most likely value")
    low: float = Field(description="low end of the range (P5-ish, or the 95% interval's low end)")
    high: float = Field(description="high end of the range")
    provenance: Provenance = Field(description="calibrated | benchmark | assumption")
    source: str = Field(min_length=1, description="benchmark id, data and fit, or rationale")
    note: str = ""
    n: Annotated[int, Field(ge=0)] | None = Field(
        default=None, description="accounts (or answers) behind a calibrated value")
    prior_weight: Annotated[float, Field(ge=0, le=1)] | None = Field(
        default=None, description="share of the estimate's precision that came from a benchmark prior")
    prior_source: str | None = Field(default=None, description="benchmark id of that prior")
    #: Direct links of leaving and buying more only (``churn_hazard_ratio``,
    #: ``expansion_rate_ratio``): the months over which the link was measured -- an account is
    #: exposed in a month when it had an event in the ``window_months`` up to it, and the ratio
    #: is per unit of the mean lever value of those events. The model applies the ratio to the
    #: trailing ``window_months`` mean of the lever's shift (default 12).
    window_months: Annotated[int, Field(ge=1, le=36)] | None = Field(
        default=None, description="months of the exposure window the direct link was measured on (default 12)")
    #: Direct links of leaving and buying more only: per segment, the share of the segment's
    #: leaving (buying more) that happens in exposed months, as measured; the ratio applies to
    #: it. A segment not listed: the share of accounts with an event in the window,
    #: ``1 - exp(-events_per_year * window_months / 12)``.
    exposed_share: dict[str, Annotated[float, Field(ge=0, le=1)]] | None = Field(
        default=None, description="per segment: share of leaving (buying more) in exposed months")


class Lever(_Frozen):
    """The experience metric an initiative moves: today's value to the target over a ramp."""

    today: Annotated[float, Field(ge=-1e9, le=1e9)]
    target: Annotated[float, Field(ge=-1e9, le=1e9)]
    ramp_months: Annotated[int, Field(ge=0)] = 6
    start_month: Annotated[int, Field(ge=0)] = 0


class TouchpointLinks(_Frozen):
    """Links of one touchpoint: experience -> emotion, then emotion -> behaviour.

    The emotion-chain behaviour effects are *gaps*: the difference between an event that
    ends with a positive emotional outcome and one that ends with a negative one.

    The optional *direct* links are total effects of the lever on a behaviour, measured in a
    company's data (per lever unit on the touchpoint's scale: per doubling for ``log2``).
    Where one is given it drives that money line instead of the matching gap, which it
    already contains (nothing is counted twice); NPS, CSAT and advocacy always come from the
    emotion chain.
    """

    positive_share_today: Link
    odds_ratio: Link
    churn_gap: Link
    expansion_gap: Link
    repeat_contacts: Link
    nps_gap: Link
    csat_gap: Link
    churn_hazard_ratio: Link | None = None
    expansion_rate_ratio: Link | None = None
    contacts_ratio: Link | None = None


class Observed(_Frozen):
    """The range of a lever seen in a company's data (calibration writes the 5th-95th
    percentile of accounts' typical values): outside it, the business case extrapolates."""

    low: float
    high: float
    n: Annotated[int, Field(ge=0)] = 0
    #: Standard deviation of the lever over single events around their typical value, on the
    #: touchpoint's scale (log2 units for ``scale: log2``, ``step`` units for linear). With a
    #: measured contacts ratio it places the one-contact floor (docs/model.md section 6).
    spread: Annotated[float, Field(ge=0, le=100)] | None = None


class Caveat(_Frozen):
    """Something a reader must know about a number: a data problem, a link that could not be
    estimated, a disagreement between two estimates. ``about`` names a money line, ``nps``,
    ``csat``, ``general`` or a link name; reports show it next to that number."""

    about: str = Field(min_length=1)
    text: str = Field(min_length=1)


class Touchpoint(_Frozen):
    """Something customers go through, whose quality an initiative changes."""

    label: str = Field(min_length=1)
    metric: str = Field(min_length=1, description="e.g. resolution_days")
    unit: str = ""
    better: Literal["lower", "higher"]
    scale: Literal["log2", "linear"] = Field(
        description="log2: odds ratio per doubling of the metric; linear: per `step` units"
    )
    step: Annotated[float, Field(gt=0, le=1e9)] = 1.0
    minimum: float | None = None
    maximum: float | None = None
    lever: Lever
    links: TouchpointLinks
    observed: Observed | None = None


class Volume(_Frozen):
    """How often a segment's accounts go through a touchpoint, and what it costs to serve."""

    # upper bounds refuse absurd values (a typo, a total for a per-account figure) before
    # they overflow into "NPV n/a"; see docs/scenario.md
    events_per_year: Annotated[float, Field(ge=0, le=10_000)]
    contacts_per_event: Annotated[float, Field(ge=0, le=1_000)] = 1.0
    cost_per_contact: Annotated[float, Field(ge=0, le=1e6)] = 0.0
    #: 95% sampling interval of a measured contacts_per_event (calibration writes it): the
    #: business case's draws then carry its sampling error (cxroi.uncertainty.sample_rates)
    contacts_per_event_low: Annotated[float, Field(ge=0, le=1_000)] | None = None
    contacts_per_event_high: Annotated[float, Field(ge=0, le=1_000)] | None = None
    #: 95% sampling interval of a measured events_per_year (calibration writes it): it moves
    #: the measured cost-to-serve saving with the rest of the draws
    events_per_year_low: Annotated[float, Field(ge=0, le=10_000)] | None = None
    events_per_year_high: Annotated[float, Field(ge=0, le=10_000)] | None = None


class Retention(_Frozen):
    """Baseline churn that falls with tenure: a shifted-beta-geometric cohort (Fader & Hardie
    2007) instead of a constant rate.

    Each account leaves at the end of a period (``period_months``: 12 for annual renewals)
    with its own probability, spread Beta(``alpha``, ``beta``) across accounts; the risky
    leave first, so the segment's churn falls as it ages. ``tenure_months`` is how long the
    segment's accounts have been customers today (0: a new cohort).
    """

    model: Literal["sbg"] = Field(description="sbg: shifted-beta-geometric (churn falls with tenure)")
    alpha: Annotated[float, Field(gt=0)]
    beta: Annotated[float, Field(gt=0)]
    period_months: Annotated[int, Field(ge=1, le=60)] = 12
    tenure_months: Annotated[float, Field(ge=0)] = 0.0
    source: str = ""


class Segment(_Frozen):
    """A group of accounts with its own economics (measured from the books, not uncertain)."""

    name: str = Field(min_length=1)
    accounts: Annotated[int, Field(gt=0, le=1_000_000_000)]
    arpa: Annotated[float, Field(gt=0, le=1e9, description="annual revenue per account")]
    gross_margin: Annotated[float, Field(gt=0, le=1)]
    churn: Annotated[float, Field(ge=0, lt=1, description="annual churn rate, a share")]
    expansion_rate: Annotated[float, Field(ge=0, le=1)] = 0.0
    expansion_value: Annotated[float, Field(ge=0, le=10)] = 0.0
    promoters: Annotated[float, Field(ge=0, le=1)] = 0.3
    detractors: Annotated[float, Field(ge=0, le=1)] = 0.3
    csat: Annotated[float, Field(ge=1, le=5)] = 3.8
    volumes: dict[str, Volume]
    retention: Retention | None = Field(
        default=None, description="tenure curve of baseline churn (default: constant `churn`)")
    # 95% sampling intervals of rates measured from a company's data (calibration writes
    # them): the business case's draws carry that sampling error (cxroi.uncertainty.sample_rates)
    churn_low: Annotated[float, Field(ge=0, lt=1)] | None = None
    churn_high: Annotated[float, Field(ge=0, lt=1)] | None = None
    expansion_rate_low: Annotated[float, Field(ge=0, le=1)] | None = None
    expansion_rate_high: Annotated[float, Field(ge=0, le=1)] | None = None


class GlobalLinks(_Frozen):
    """Links that do not belong to one touchpoint."""

    referrals_per_promoter: Link


class Costs(_Frozen):
    """What the initiative costs: once at the start, and every year it runs."""

    one_off: Annotated[float, Field(ge=0, le=1e12)] = 0.0
    running_per_year: Annotated[float, Field(ge=0, le=1e12)] = 0.0


class CashFlow(_Frozen):
    """A benefit or cost line given outright, TEI style (licence savings, staff time, an
    implementation paid by year), beside the model's own lines.

    ``likely`` (and optionally ``low`` / ``high``) hold one amount per period: index 0 is up
    front (year 0 or month 0, not discounted), index ``y`` of a yearly line falls at the end of
    year ``y`` (month ``12 y``). Amounts are positive; ``kind`` says which side they are on.
    ``risk`` is the TEI risk adjustment: a haircut on a benefit, an uplift on a cost.
    """

    label: str = Field(min_length=1)
    kind: Literal["benefit", "cost"]
    by: Literal["year", "month"] = "year"
    likely: list[float] = Field(min_length=1)
    low: list[float] | None = None
    high: list[float] | None = None
    risk: Annotated[float, Field(ge=0, le=1)]
    provenance: Provenance = "assumption"
    source: str = Field(min_length=1, description="where the amounts come from")


class Correlation(_Frozen):
    """Two links that move together (e.g. taken from the same study): a rank correlation."""

    links: Annotated[list[str], Field(min_length=2, max_length=2)]
    rho: Annotated[float, Field(ge=-1, le=1)]
    source: str = ""


class Risk(_Frozen):
    """Forrester-TEI style risk adjustment: a haircut per benefit line, an uplift on costs."""

    retention_savings: Annotated[float, Field(ge=0, le=1)] = 0.10
    cross_sell: Annotated[float, Field(ge=0, le=1)] = 0.15
    cost_to_serve_savings: Annotated[float, Field(ge=0, le=1)] = 0.05
    advocacy: Annotated[float, Field(ge=0, le=1)] = 0.25
    cost_uplift: Annotated[float, Field(ge=0, le=1)] = 0.10


class Finance(_Frozen):
    horizon_months: Annotated[int, Field(ge=1, le=120)] = 36
    discount_rate: Annotated[float, Field(ge=0, lt=1)] = 0.10
    risk: Risk = Risk()


class Simulation(_Frozen):
    draws: Annotated[int, Field(ge=1, le=200_000)] = 4000
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 20261123


class Scenario(_Frozen):
    """A whole business case: who the customers are, what changes, what it costs."""

    name: str = Field(min_length=1)
    description: str = ""
    currency: str = "USD"
    segments: list[Segment] = Field(min_length=1)
    touchpoints: dict[str, Touchpoint] = Field(min_length=1)
    links: GlobalLinks
    costs: Costs = Costs()
    finance: Finance = Finance()
    simulation: Simulation = Simulation()
    caveats: list[Caveat] = Field(default_factory=list)
    cash_flows: dict[str, CashFlow] = Field(default_factory=dict)
    correlations: list[Correlation] = Field(default_factory=list)

    def with_lever(self, touchpoint: str, **changes: float) -> Scenario:
        """A copy with one touchpoint's lever changed (``today``, ``target``, ...)."""
        tp = self.touchpoints[touchpoint]
        new_tp = tp.model_copy(update={"lever": tp.lever.model_copy(update=changes)})
        return self.model_copy(update={"touchpoints": {**self.touchpoints, touchpoint: new_tp}})

    def with_link(self, path: str, **changes: Any) -> Scenario:
        """A copy with one link changed; ``path`` as in :func:`link_paths`."""
        parts = path.split(".")
        if parts[0] == "links":
            gl = self.links
            new = getattr(gl, parts[1]).model_copy(update=changes)
            return self.model_copy(update={"links": gl.model_copy(update={parts[1]: new})})
        _, name, _, link = parts
        tp = self.touchpoints[name]
        old = getattr(tp.links, link)
        new_link = Link(**changes) if old is None else old.model_copy(update=changes)
        new_tp = tp.model_copy(update={"links": tp.links.model_copy(update={link: new_link})})
        return self.model_copy(update={"touchpoints": {**self.touchpoints, name: new_tp}})

    def benefit_flows(self) -> dict[str, CashFlow]:
        """The scenario's own benefit cash-flow lines (TEI style), by name: the waterfall's
        "other benefits" bar and the evidence of that line rest on them."""
        return {k: cf for k, cf in self.cash_flows.items() if cf.kind == "benefit"}

    def link_paths(self) -> dict[str, Link]:
        """Every link of the scenario by key path, e.g. ``touchpoints.complaints.links.churn_gap``."""
        out = {
            f"touchpoints.{name}.links.{k}": getattr(tp.links, k)
            for name, tp in self.touchpoints.items()
            for k in TouchpointLinks.model_fields
            if getattr(tp.links, k) is not None
        }
        out.update({f"links.{k}": getattr(self.links, k) for k in GlobalLinks.model_fields})
        return out

    def uncertain_paths(self) -> list[str]:
        """Key paths that can carry a correlation: every link, and every cash-flow line
        (``cash_flows.<name>``)."""
        return [*self.link_paths(), *(f"cash_flows.{k}" for k in self.cash_flows)]


"""Named company shapes: the data and effect shapes real companies have.

Each shape is a :class:`~cxroi.demo.generator.DemoTruth` (a frozen dataclass of the
generator's parameters). All but ``chain`` share the same mechanism: accounts differ in their
typical resolution time (support tier, ``tier_sigma``), and resolution time moves leaving,
buying more and contacts *directly*,

.. math:: P(\\text{leave in } t) = h_s\\,\\phi_i\\,\\mathrm{HR}^{\\bar z_{it}},\\qquad
          P(\\text{expand in } t) = e_s\\,\\psi_i\\,\\mathrm{RR}^{\\bar z_{it}},\\qquad
          E[\\text{contacts}_j] = \\max(c_s\\,\\mathrm{CR}^{z_j}, 1)

with :math:`z_j = \\log_2(T_j / T_0)` and :math:`\\bar z_{it}` the mean :math:`z` of the
complaints account *i* had resolved in the 12 months up to month *t* (an account with none
is not exposed: multiplier 1). The complaint outcome (positive or negative emotion) still
follows resolution time and moves NPS and CSAT, but carries no extra behaviour
(``churn_gap = expansion_gap = repeat_contacts = 0``), so the whole behavioural effect is the
hazard, rate and contacts ratios per doubling.

=================  ======================================================================
shape              what it is
=================  ======================================================================
strong             HR 1.40, RR 0.80, CR 1.25 per doubling of resolution time
weak               HR 1.10, RR 0.95, CR 1.06 per doubling
null               no effect of resolution time on leaving, buying more or contacts
no-surveys         strong, and no survey program (empty surveys table)
untied-surveys     strong, surveys exported without the ticket they followed, no emotions
chain              the default demo company: the effect runs through the complaint's
                   emotional outcome (``churn_gap``, ``expansion_gap``, ``repeat_contacts``),
                   no support tiers
=================  ======================================================================
"""

from __future__ import annotations

import dataclasses

from cxroi.demo.parameters import DemoTruth

_DIRECT = dataclasses.replace(
    DemoTruth(), tier_sigma=0.7, churn_gap=0.0, expansion_gap=0.0, repeat_contacts=0.0)

#: The named shapes, each the generator's full parameter set.
SHAPES: dict[str, DemoTruth] = {
    "strong": dataclasses.replace(_DIRECT, churn_hazard_ratio=1.40, expansion_rate_ratio=0.80, contacts_ratio=1.25),
    "weak": dataclasses.replace(_DIRECT, churn_hazard_ratio=1.10, expansion_rate_ratio=0.95, contacts_ratio=1.06),
    "null": _DIRECT,
    "no-surveys": dataclasses.replace(_DIRECT, churn_hazard_ratio=1.40, expansion_rate_ratio=0.80,
                                      contacts_ratio=1.25, surveys="none"),
    "untied-surveys": dataclasses.replace(_DIRECT, churn_hazard_ratio=1.40, expansion_rate_ratio=0.80,
                                          contacts_ratio=1.25, surveys="untied", emotions=False),
    "chain": DemoTruth(),
}


def shape(name: str) -> DemoTruth:
    """The named shape's parameters; a clear error listing the names otherwise."""
    try:
        return SHAPES[name]
    except KeyError:
        raise ValueError(f"unknown company shape {name!r}: use one of {', '.join(SHAPES)}") from None

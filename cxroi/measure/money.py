r"""Realised money over the months observed, beside what the business case promised.

*Promised*: :func:`cxroi.uncertainty.simulate` on the business-case scenario; the monthly
draws of retention savings, cross-sell and cost-to-serve savings summed and accumulated
from month 1 (the first go-live month) to month :math:`m` (the months observed since),
P10 / P50 / P90 over draws.

*Measured*: the measured effects applied to the accounts the change actually reached, month
by month. With :math:`n_u` the reached accounts at risk in month :math:`u` (their group
live), :math:`\Delta h, \Delta e, \Delta c` the measured changes in the monthly share leaving,
the monthly share buying more and contacts per account-month,

.. math::

    \text{retention}(m) &= \sum_{t \le m} \Big(\sum_{u \le t} -n_u \Delta h\Big)\,
        \mu\,\overline{\mathrm{ARPA}} / 12 \\
    \text{cross-sell}(m) &= \sum_{t \le m} \Big(\sum_{u \le t} n_u \Delta e\Big)\,
        \mu\,\bar a / 12 \\
    \text{cost to serve}(m) &= \sum_{t \le m} -n_t\, \Delta c\; \bar\kappa

(accounts kept keep paying :math:`\overline{\mathrm{ARPA}}/12` a month at margin
:math:`\mu`; an expansion order adds its amount :math:`\bar a` to yearly revenue, the data
contract's orders holding contract values; a contact avoided saves the cost per contact
:math:`\bar\kappa`). :math:`\overline{\mathrm{ARPA}}` and :math:`\bar a` are the reached
accounts' mean revenue and the mean expansion order from the data; :math:`\mu` and
:math:`\bar\kappa` are the scenario's, weighted by the reached accounts' segments. The
interval draws each effect from its sampling distribution (normal with the estimate's
standard error, outcomes independent) and reports P10 / P50 / P90, the band the business
case uses. Advocacy (referrals) is not measured and left out of both sides.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cxroi.measure.did import Estimate
from cxroi.measure.panel import Panel
from cxroi.pitch import money
from cxroi.scenario import Scenario
from cxroi.uncertainty import simulate

LINES: dict[str, str] = {
    "retention_savings": "Retention savings",
    "cross_sell": "Cross-sell",
    "cost_to_serve_savings": "Cost to serve",
}
QUANTILES = (0.10, 0.50, 0.90)


@dataclass(frozen=True)
class MoneyComparison:
    """Promised vs measured money for the months observed.

    Attributes
    ----------
    months : int
        Months observed since the first go-live (capped at the scenario's horizon).
    lines : DataFrame
        Per benefit line and ``total``: ``promised_p10/p50/p90``, ``measured_p10/p50/p90``.
    monthly : DataFrame
        Per month 1..m: cumulative ``promised_p10/p50/p90`` and ``measured_p10/p50/p90`` of
        the total.
    costs : float
        Costs to date (actual, from the initiative file, or the business case's).
    sentence : str
        "The programme promised $410k by month 12 (P10–P90 $250k–$600k); measured: ..."
    """

    months: int
    lines: pd.DataFrame
    monthly: pd.DataFrame
    costs: float
    costs_source: str
    currency: str
    reached_accounts: int
    inputs: dict[str, float]
    sentence: str


def _segment_weighted(sc: Scenario, segments: pd.Series, attr: str, touchpoint: str | None = None
                      ) -> float:
    vals = {}
    for s in sc.segments:
        vol = s.volumes.get(touchpoint) if touchpoint else None
        vals[s.name] = (getattr(s, attr) if not touchpoint else
                        getattr(vol, attr) if vol is not None else 0.0)
    default = float(np.average(list(vals.values()), weights=[s.accounts for s in sc.segments]))
    return float(segments.map(vals).fillna(default).mean()) if len(segments) else default


def compare_money(panel: Panel, effects: dict[str, Estimate], sc: Scenario, touchpoint: str,
                  costs: tuple[float, float] | None = None, draws: int = 4000,
                  seed: int = 20261202) -> MoneyComparison:
    """Promised (business case) vs measured (realised) money over the months observed.

    Parameters
    ----------
    effects : dict
        ``leaving``, ``buying_more``, ``contacts`` -> :class:`Estimate` (missing = 0, no
        interval: that line is not measured).
    costs : (one_off, running_per_year), optional
        What the initiative actually cost; default the scenario's.
    """
    first = min(panel.go_live.values())
    M = len(panel.months)
    m = int(min(M - first, sc.finance.horizon_months))
    t_idx = np.arange(first, first + m)
    g_live = panel.accounts["group"].map(panel.go_live).to_numpy(float)
    reached = ~np.isnan(g_live)
    live = panel.at_risk[:, t_idx] & (t_idx[None, :] >= np.nan_to_num(g_live, nan=1e9)[:, None])
    n_live = live.sum(axis=0).astype(float)  # (m,)
    acc = panel.accounts[reached]
    arpa = float(acc["revenue"].mean()) if len(acc) else 0.0
    margin = _segment_weighted(sc, acc["segment"], "gross_margin")
    cpc = _segment_weighted(sc, acc["segment"], "cost_per_contact", touchpoint)
    amount = panel.expansion_amount if np.isfinite(panel.expansion_amount) else 0.0

    rng = np.random.default_rng(seed)

    def draw(name: str, sign: float) -> np.ndarray:
        e = effects.get(name)
        if e is None or not np.isfinite(e.estimate):
            return np.zeros(draws)
        return sign * (e.estimate + e.se * rng.standard_normal(draws))

    kept = np.cumsum(n_live)[None, :] * draw("leaving", -1.0)[:, None]  # accounts kept by month
    extra = np.cumsum(n_live)[None, :] * draw("buying_more", 1.0)[:, None]
    monthly = {
        "retention_savings": kept * margin * arpa / 12.0,
        "cross_sell": extra * margin * amount / 12.0,
        "cost_to_serve_savings": n_live[None, :] * draw("contacts", -1.0)[:, None] * cpc,
    }
    res = simulate(sc, draws=draws, seed=seed)
    promised = {k: res.draws[f"{k}_monthly"][:, :m] for k in LINES}
    rows = []
    for key, label in [*LINES.items(), ("total", "Total (these three lines)")]:
        mea = (sum(monthly.values()) if key == "total" else monthly[key]).sum(axis=1)
        pro = (sum(promised.values()) if key == "total" else promised[key]).sum(axis=1)
        qm, qp = np.quantile(mea, QUANTILES), np.quantile(pro, QUANTILES)
        rows.append({"line": key, "label": label,
                     **{f"promised_p{int(q * 100)}": v for q, v in zip(QUANTILES, qp, strict=True)},
                     **{f"measured_p{int(q * 100)}": v for q, v in zip(QUANTILES, qm, strict=True)}})
    lines = pd.DataFrame(rows).set_index("line")
    cm = np.cumsum(sum(monthly.values()), axis=1)
    cp = np.cumsum(sum(promised.values()), axis=1)
    qcm, qcp = np.quantile(cm, QUANTILES, axis=0), np.quantile(cp, QUANTILES, axis=0)
    mon = pd.DataFrame({"month": np.arange(1, m + 1),
                        **{f"promised_p{int(q * 100)}": qcp[i] for i, q in enumerate(QUANTILES)},
                        **{f"measured_p{int(q * 100)}": qcm[i] for i, q in enumerate(QUANTILES)}})
    if costs is None:
        one_off, running, src = sc.costs.one_off, sc.costs.running_per_year, "the business case's costs"
    else:
        (one_off, running), src = costs, "actual costs, from the initiative file"
    spent = one_off + running * m / 12.0
    tot = lines.loc["total"]
    cur = sc.currency
    sentence = (f"The programme promised {money(tot['promised_p50'], cur)} by month {m} "
                f"(P10–P90 {money(tot['promised_p10'], cur)}–{money(tot['promised_p90'], cur)}); "
                f"measured: {money(tot['measured_p50'], cur)} "
                f"(P10–P90 {money(tot['measured_p10'], cur)}–{money(tot['measured_p90'], cur)}).")
    return MoneyComparison(m, lines, mon, float(spent), src, cur, int(reached.sum()),
                           {"arpa": arpa, "gross_margin": margin, "cost_per_contact": cpc,
                            "expansion_amount": amount,
                            "reached_account_months": float(n_live.sum())}, sentence)

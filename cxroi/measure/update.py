r"""The updated scenario: the business case's links replaced by what the rollout measured.

Each measured effect is converted to the scenario's link so that the flywheel model,
run on the updated scenario, reproduces the measured change for the reached accounts.
With :math:`\Delta g` the measured change in the lever (doublings of resolution time for a
``log2`` touchpoint, steps for ``linear``), :math:`\bar\lambda` the events per account-year of
the scenario (weighted by the reached accounts' segments), :math:`\bar\pi` the exposure: the
mean over the reached accounts of the share of their segment's behaviour the link acts on in
the model -- the link's measured ``exposed_share`` where it has one, else
:math:`1 - e^{-\lambda W/12}` with :math:`W` the link's ``window_months`` (12 when it states
none; for NPS, 12), :math:`R = \bar y_1 / (\bar y_1 - \Delta)` the measured
ratio of the reached accounts' outcome to its counterfactual:

* direct links, when the scenario format has them (``docs/model.md``):
  :math:`\mathrm{HR} = (1 + (R_h - 1)/\bar\pi)^{1/\Delta g}` (``churn_hazard_ratio``, with
  :math:`\bar\pi` of that link's window), likewise ``expansion_rate_ratio`` from buying more,
  and
  :math:`\mathrm{CR} = R_c^{1/\Delta g}` (``contacts_ratio``);
* otherwise the emotion-chain gaps, with :math:`\Delta p` the change in the share of
  positive outcomes the scenario's ``positive_share_today`` and ``odds_ratio`` give at the
  measured :math:`\Delta g`: ``churn_gap`` :math:`= -\Delta h / (\bar\lambda/12\,\Delta p)`,
  ``expansion_gap`` :math:`= \Delta e / (\bar\lambda/12\,\Delta p)`, ``repeat_contacts``
  :math:`= -\Delta c / (\bar\lambda/12\,\Delta p)`;
* always (NPS and CSAT come from the chain): ``nps_gap`` :math:`= \Delta\mathrm{NPS} /
  (\bar\pi\,\Delta p)`, ``csat_gap`` :math:`= \Delta\mathrm{CSAT} / \Delta p`.

Value, low and high come from draws of the effects and of :math:`\Delta g` (normal with
their standard errors): the value at the point estimates, low/high the 2.5th and 97.5th
percentiles (the calibrated links' 95% convention), clipped to the link's domain. Each
link is ``provenance: calibrated`` with ``source`` "measured after rollout: ..." naming the
initiative, the design, the data and the interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from cxroi.inputs import compile_inputs, window_share
from cxroi.measure.did import Estimate
from cxroi.scenario import LINK_DOMAINS, Scenario, TouchpointLinks

DIRECT = ("churn_hazard_ratio", "expansion_rate_ratio", "contacts_ratio")


@dataclass(frozen=True)
class LinkUpdate:
    """One link written from a measurement."""

    link: str
    value: float
    low: float
    high: float
    source: str
    previous: float
    note: str = ""


def _pos_share_change(sc: Scenario, touchpoint: str, dg: np.ndarray) -> np.ndarray:
    links = sc.touchpoints[touchpoint].links
    p0 = links.positive_share_today.value
    lo = math.log(p0 / (1 - p0)) + math.log(links.odds_ratio.value) * dg
    return 1.0 / (1.0 + np.exp(-lo)) - p0


def _exposure(sc: Scenario, touchpoint: str, link: str | None, segments: list[str]) -> float:
    r"""Mean share of the reached accounts' behaviour that ``link`` acts on in the model.

    .. math:: \bar\pi = \frac{1}{n} \sum_i q_{s(i)}

    with :math:`q_s` the share the model itself applies (:meth:`cxroi.inputs.Inputs.share`:
    the link's measured ``exposed_share``, else :math:`1 - e^{-\lambda_s W / 12}` with
    :math:`W` its ``window_months``), so the model run on the updated scenario gives back the
    measured change; ``link`` None: the 12-month exposure :math:`1 - e^{-\lambda_s}` (NPS,
    and the links without a window). An account of a segment the scenario does not have
    counts with the scenario's account-weighted share.
    """
    inp = compile_inputs(sc)
    k = list(sc.touchpoints).index(touchpoint)
    q = (window_share(inp.events) if link is None else inp.share(link))[:, k]
    by_segment = {s.name: float(v) for s, v in zip(sc.segments, q, strict=True)}
    other = float(np.average(q, weights=[s.accounts for s in sc.segments]))
    return float(np.mean([by_segment.get(n, other) for n in (segments or [""])]))


def measured_links(sc: Scenario, touchpoint: str, effects: dict[str, Estimate],
                   post_means: dict[str, float], segments: list[str], design: str,
                   what: str, draws: int = 4000, seed: int = 20261202) -> list[LinkUpdate]:
    """Convert measured effects to link values (see the module docstring).

    Parameters
    ----------
    effects : dict
        Outcome (``leaving``, ``buying_more``, ``contacts``, ``nps``, ``csat``, ``lever``) ->
        :class:`Estimate`; ``lever`` is required (without a measured lever change nothing
        can be expressed per unit of the lever).
    post_means : dict
        Outcome -> the reached accounts' mean after go-live (for the ratios).
    segments : list of str
        Segment of each reached account (weights for events per year).
    what : str
        Initiative name and data, for the source text.
    """
    lev = effects.get("lever")
    if lev is None or not np.isfinite(lev.estimate) or abs(lev.estimate) < 1e-6:
        return []
    rng = np.random.default_rng(seed)
    tp = sc.touchpoints[touchpoint]
    ev = {s.name: (s.volumes[touchpoint].events_per_year if touchpoint in s.volumes else 0.0)
          for s in sc.segments}
    default = float(np.average(list(ev.values()), weights=[s.accounts for s in sc.segments]))
    lam_bar = float(np.mean([ev.get(s, default) for s in (segments or [""])]))
    pi_bar = _exposure(sc, touchpoint, None, segments)  # 12 months: NPS

    def both(e: Estimate) -> np.ndarray:  # point estimate first, then draws
        return np.concatenate([[e.estimate], e.estimate + e.se * rng.standard_normal(draws)])

    dg = both(lev)
    dg[1:] = np.where(np.sign(dg[1:]) == np.sign(dg[0]), dg[1:], np.sign(dg[0]) * 1e-6)
    dp = _pos_share_change(sc, touchpoint, dg)
    direct = all(k in TouchpointLinks.model_fields for k in DIRECT)
    per = "per doubling" if tp.scale == "log2" else f"per {tp.step:g} {tp.unit}".strip()
    out: list[LinkUpdate] = []

    def add(link: str, x: np.ndarray, fit: str) -> None:
        lo_d, hi_d, _ = LINK_DOMAINS.get(link, (1e-6, 50.0, ""))
        x = np.clip(np.nan_to_num(x, nan=lo_d, posinf=hi_d, neginf=lo_d), lo_d, hi_d)
        val, lo, hi = float(x[0]), float(np.quantile(x[1:], 0.025)), float(np.quantile(x[1:], 0.975))
        lo, hi = min(lo, val), max(hi, val)
        prev = getattr(tp.links, link, None)
        note = ("interval clipped to the link's range" if lo <= lo_d or hi >= hi_d else "")
        out.append(LinkUpdate(link, val, lo, hi,
                              f"measured after rollout: {what}; {design}; {fit}, 95% interval "
                              f"{lo:.4g}-{hi:.4g}",
                              float(prev.value) if prev is not None else float("nan"), note))

    def ratio(name: str) -> np.ndarray | None:
        e = effects.get(name)
        if e is None or not np.isfinite(e.estimate) or name not in post_means:
            return None
        d = both(e)
        y1 = post_means[name]
        return y1 / np.maximum(y1 - d, 1e-12)

    lever_txt = f"lever change {lev.estimate:+.2f} {'doublings' if tp.scale == 'log2' else 'steps'}"
    if direct:
        for name, link in (("leaving", "churn_hazard_ratio"), ("buying_more", "expansion_rate_ratio")):
            r = ratio(name)
            if r is not None:
                pi_link = _exposure(sc, touchpoint, link, segments)
                base = np.maximum(1.0 + (r - 1.0) / pi_link, 1e-9)
                add(link, base ** (1.0 / dg), f"ratio {per} from the measured change in the "
                                              f"monthly share {name.replace('_', ' ')} ({lever_txt})")
        r = ratio("contacts")
        if r is not None:
            add("contacts_ratio", r ** (1.0 / dg), f"contacts ratio {per} ({lever_txt})")
    else:
        for name, link, sign in (("leaving", "churn_gap", -1.0), ("buying_more", "expansion_gap", 1.0),
                                 ("contacts", "repeat_contacts", -1.0)):
            e = effects.get(name)
            if e is not None and np.isfinite(e.estimate):
                add(link, sign * both(e) / (lam_bar / 12.0 * dp),
                    f"measured change in {name.replace('_', ' ')} per account-month over the "
                    f"scenario's change in positive outcomes ({lever_txt})")
    for name, link, scale in (("nps", "nps_gap", pi_bar), ("csat", "csat_gap", 1.0)):
        e = effects.get(name)
        if e is not None and np.isfinite(e.estimate):
            add(link, both(e) / (scale * dp), f"measured {name.upper()} change over the "
                                              f"scenario's change in positive outcomes ({lever_txt})")
    return out


def updated_scenario(sc: Scenario, touchpoint: str, updates: list[LinkUpdate],
                     name: str | None = None, n: int | None = None,
                     caveats: list[tuple[str, str]] = (),
                     observed: tuple[float, float, int] | None = None) -> Scenario:
    """A copy of ``sc`` whose links carry the measured values, ``provenance: calibrated``,
    ``n`` the accounts reached, the measurement's caveats (``about``, ``text``) added and,
    when given, the lever range ``observed`` in the data (low, high, accounts), so that a
    next pitch beyond it is flagged as extrapolation."""
    from cxroi.scenario import Caveat, Observed

    new = sc
    for u in updates:
        note = (f"Before the rollout: {u.previous:.4g}." if math.isfinite(u.previous) else
                "Not in the business case before the rollout.")
        if u.note:
            note = f"{note} {u.note[0].upper()}{u.note[1:]}."
        new = new.with_link(f"touchpoints.{touchpoint}.links.{u.link}", value=u.value, low=u.low,
                            high=u.high, provenance="calibrated", source=u.source, note=note,
                            n=n, prior_weight=None, prior_source=None)
    extra = [Caveat(about=a, text=t) for a, t in caveats]
    if observed is not None:
        tp = new.touchpoints[touchpoint]
        obs = Observed(low=float(observed[0]), high=float(observed[1]), n=int(observed[2]))
        new = new.model_copy(update={"touchpoints": {
            **new.touchpoints, touchpoint: tp.model_copy(update={"observed": obs})}})
    return new.model_copy(update={"name": name or f"{sc.name} (measured after rollout)",
                                  "caveats": [*sc.caveats, *extra]})

"""The baseline rates the money rests on: measured as they are now, with their sampling
error carried into the draws, and the one-contact floor placed by the measured spread.

Known truths: a generated company's next-year churn of the accounts still there (the
ground truth's baseline arm), a complaint rate that counts complaints still open, the
expectation of a floored log-normal by Monte Carlo.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from cxroi.calibrate import calibrate
from cxroi.calibrate.baselines import BaselineFitter
from cxroi.calibrate.prepare import prepare
from cxroi.data import from_frames
from cxroi.demo import SHAPES, generate_company, true_value
from cxroi.inputs import compile_inputs
from cxroi.model import contacts_saved, floored_contacts
from cxroi.scenario import ScenarioError, scenario_from_dict
from cxroi.uncertainty import sample_rates, simulate


@pytest.fixture(scope="module")
def strong_company():
    co = generate_company(seed=11, n_accounts=3000, truth=SHAPES["strong"])
    return co, prepare(from_frames(co.tables, None, source="strong-11"))


# ----------------------------------------------------------------------------------------
# churn and buying more: the last 12 months
# ----------------------------------------------------------------------------------------


def test_recent_churn_is_the_churn_of_the_accounts_still_there(strong_company):
    """Accounts differ in health and the least healthy leave first, so the window's average
    churn overstates next year's churn of the accounts still there (the truth's baseline arm);
    the last 12 months' does not."""
    co, prep = strong_company
    cal = calibrate(co.tables, n_boot=5, seed=11, name="strong-11")
    truth = true_value(co, cal.to_scenario(), n_futures=20, seed=11)["baseline_leavers_12m"]

    def weighted(fit: BaselineFitter) -> float:
        t = fit.table_
        return float(np.average(t["churn"], weights=t["accounts"]))

    recent = weighted(BaselineFitter().fit(prep))
    window = weighted(BaselineFitter(recent_months=prep.M).fit(prep))  # no months before: the window's
    assert abs(recent / truth - 1) < 0.12, (recent, truth)
    assert abs(recent / truth - 1) < abs(window / truth - 1), (recent, window, truth)
    assert window > truth  # the survivor effect


def test_each_segment_takes_its_last_12_months(strong_company):
    _, prep = strong_company
    fit = BaselineFitter(recent_months=12).fit(prep)
    a, M = prep.accounts, prep.M
    first = M - 12
    months = (np.minimum(a["exit"], M - 1) - np.maximum(a["entry"], first) + 1).clip(lower=0)
    left = a["churned"] & (a["exit"] >= first)
    for r in fit.table_.itertuples():
        m = (a["segment"] == r.segment).to_numpy()
        assert left[m].sum() >= BaselineFitter.MIN_SEGMENT_EVENTS
        assert 1 - (1 - r.churn) ** (1 / 12) == pytest.approx(left[m].sum() / months[m].sum())
        assert r.churn_low < r.churn < r.churn_high
        assert fit.rate_basis_[r.segment]["churn"].startswith("last 12 months")
        assert r.leavers == int(a["churned"][m].sum())  # the window's leavers, for the caveats


def test_a_quiet_segment_takes_the_window_times_the_company_drift(strong_company):
    _, prep = strong_company
    own = BaselineFitter(recent_months=12).fit(prep)
    quiet = BaselineFitter(recent_months=12)
    quiet.MIN_SEGMENT_EVENTS = 10**9  # as if every segment had too few recent leavers
    quiet.fit(prep)
    a, M = prep.accounts, prep.M
    first = M - 12
    rate = a.groupby("seg")["churned"].sum() / a.groupby("seg")["months"].sum()
    recent = (np.minimum(a["exit"], M - 1) - np.maximum(a["entry"], first) + 1).clip(lower=0)
    expected = (rate.reindex(a["seg"]).to_numpy() * recent.to_numpy()).sum()
    observed = (a["churned"] & (a["exit"] >= first)).sum()
    d, lo, hi, n = quiet.churn_drift_
    assert d == pytest.approx(observed / expected) and lo < d < hi and n == observed
    assert d < 1  # the accounts still there leave less than the window's average
    assert quiet.expansion_drift_[0] > 1  # ... and buy more
    monthly = 1 - (1 - quiet.table_["churn"]) ** (1 / 12)
    np.testing.assert_allclose(monthly, rate.to_numpy() * d, rtol=1e-12)
    assert all("company-wide drift" in b["churn"] for b in quiet.rate_basis_.values())
    # never 0% from a quiet year, and the interval carries the drift's error too
    assert (quiet.table_["churn"] > 0).all()
    w = BaselineFitter(recent_months=M).fit(prep).table_  # the window's own interval
    assert ((quiet.table_["churn_high"] / quiet.table_["churn"]) > (w["churn_high"] / w["churn"])).all()
    assert not own.table_["churn"].equals(quiet.table_["churn"])


def test_data_too_short_for_a_recent_year_say_so_once_without_caveats(strong_company):
    """With no year of data before the trailing months, every segment takes the whole
    window: one note for the data, not a 'too few events' caveat per segment."""
    from cxroi.calibrate.calibration import Calibration
    from cxroi.calibrate.run import _rate_basis_notes

    _, prep = strong_company
    short = BaselineFitter(recent_months=prep.M - 6).fit(prep)
    assert not short.has_recent_
    cal = Calibration(data=None)  # type: ignore[arg-type]
    _rate_basis_notes(cal, short)
    assert len(cal.notes) == 1 and "whole window" in cal.notes[0] and not cal.caveats
    cal = Calibration(data=None)  # type: ignore[arg-type]
    _rate_basis_notes(cal, BaselineFitter().fit(prep))  # 12 of many months: segments' own
    assert cal.notes[0].startswith("Churn and the rate of buying more are each segment's last 12")


def test_recent_months_must_be_positive():
    with pytest.raises(ValueError, match="recent_months must be at least 1"):
        BaselineFitter(recent_months=0)


# ----------------------------------------------------------------------------------------
# complaints per account-year: complaints still open count
# ----------------------------------------------------------------------------------------


def test_complaint_rate_counts_complaints_still_open(strong_company):
    co, prep = strong_company
    tickets = co.tables["tickets"]
    open_now = int(tickets["resolved_at"].isna().sum())
    assert open_now > 0  # the generated export has complaints open at its end
    assert int(prep.accounts["complaints_opened"].sum()) >= len(prep.complaints) + open_now - 5
    t = BaselineFitter().fit(prep).table_
    years = prep.accounts.groupby("segment")["months"].sum() / 12
    opened = prep.accounts.groupby("segment")["complaints_opened"].sum()
    for r in t.itertuples():
        assert r.complaints_per_year == pytest.approx(opened[r.segment] / years[r.segment])
    # against the generator's own rates of the accounts (their mean, weighted by time at risk)
    gen = co.accounts.assign(segment=[co.truth.segments[s].name for s in co.accounts["seg"]])
    for r in t.itertuples():
        own = gen.loc[gen["segment"] == r.segment, "complaints_per_year"].mean()
        assert r.complaints_per_year_low < own * 1.05 and own * 0.95 < r.complaints_per_year_high


def test_complaints_opened_after_an_account_left_do_not_count(strong_company):
    """A ticket opened months after the account left (common in real exports) is not a
    complaint of a customer: the rate divides by months as a customer only."""
    co, prep = strong_company
    tables = {k: v.copy() for k, v in co.tables.items()}
    acc = tables["accounts"]
    gone = acc.loc[acc["end_date"].notna() & (acc["end_date"] < acc["end_date"].max()
                                                - pd.Timedelta(days=200))].iloc[0]
    late = gone["end_date"] + pd.Timedelta(days=95)
    extra = pd.DataFrame([{"ticket_id": f"LATE{i}", "account_id": gone["account_id"],
                           "opened_at": late, "resolved_at": late + pd.Timedelta(days=2),
                           "contacts": 1, "channel": "email", "category": "billing"}
                          for i in range(3)])
    tables["tickets"] = pd.concat([tables["tickets"], extra], ignore_index=True)
    again = prepare(from_frames(tables, None, source="strong-11 + late tickets"))
    before = prep.accounts.set_index("account_id")["complaints_opened"]
    after = again.accounts.set_index("account_id")["complaints_opened"]
    assert after[gone["account_id"]] == before[gone["account_id"]]
    assert after.sum() == before.sum()


# ----------------------------------------------------------------------------------------
# the one-contact floor with a measured spread
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("median,sigma", [(0.5, 0.8), (1.0, 0.3), (2.5, 1.2), (3.0, 0.0), (0.2, 2.0)])
def test_floored_mean_matches_monte_carlo(median, sigma):
    rng = np.random.default_rng(3)
    y = median * np.exp(sigma * rng.standard_normal(2_000_000))
    mc = np.maximum(y, 1.0).mean()
    assert float(floored_contacts(np.array(median), np.array(sigma))) == pytest.approx(mc, rel=3e-3)


def _scenario(tiny: dict, spread: float | None, target: float = 1.0, events_interval: bool = False) -> dict:
    """The hand-checkable one-segment case with a measured contacts ratio 1.25 (1.2-1.3) and
    2.4 contacts per complaint, 2 complaints a year, resolution 30 days today."""
    d = copy.deepcopy(tiny)
    d["finance"]["horizon_months"] = 24
    vol = d["segments"][0]["volumes"]["complaints"]
    vol.update(events_per_year=2.0, contacts_per_event=2.4, cost_per_contact=10.0)
    tp = d["touchpoints"]["complaints"]
    tp["lever"].update(today=30.0, target=target)
    tp["links"]["repeat_contacts"] = {**tp["links"]["repeat_contacts"], "value": 0.0, "low": 0.0, "high": 0.0}
    tp["links"]["contacts_ratio"] = {"value": 1.25, "low": 1.2, "high": 1.3, "provenance": "assumption",
                                     "source": "test value"}
    if spread is not None:
        tp["observed"] = {"low": 5.0, "high": 90.0, "n": 500, "spread": spread}
    if events_interval:
        vol.update(events_per_year_low=1.6, events_per_year_high=2.5)
    return d


def _saving(tiny: dict, spread: float | None, target: float) -> float:
    sc = scenario_from_dict(_scenario(tiny, spread, target), "test")
    inp = compile_inputs(sc)
    log_c = np.log(np.full((1, 1), 1.25))
    kappa = inp.contacts[:, :, None] * np.ones((1, 1, 1))
    save = contacts_saved(inp, log_c, kappa, np.full(1, 0.5))
    return float(save[0, inp.month_index[-1], 0])


def test_floor_with_spread_is_below_both_bounds_and_zero_without_change(tiny):
    assert _saving(tiny, 1.44, 30.0) == 0.0
    lam_cost = 2.0 / 12 * 10.0
    r = 1.25 ** np.log2(1.0 / 30.0)
    unfloored = lam_cost * 2.4 * (1 - r)
    floored = lam_cost * (2.4 - max(2.4 * r, 1.0))
    s = _saving(tiny, 1.44, 1.0)
    # the floor binds for the fast events first: below the segment-mean floor (Jensen:
    # E[max(Y, 1)] >= max(E[Y], 1)), which is below the unfloored saving
    assert 0 < s < floored < unfloored
    assert _saving(tiny, 0.0, 1.0) == pytest.approx(floored)  # no spread: every event at the mean
    assert _saving(tiny, 1e-9, 4.0) == pytest.approx(lam_cost * 2.4 * (1 - 1.25 ** np.log2(4 / 30)))  # floor never binds
    # a faster resolution never saves less
    savings = [_saving(tiny, 1.44, t) for t in (30, 20, 10, 5, 2, 1, 0.5)]
    assert all(b >= a for a, b in zip(savings, savings[1:], strict=False)), savings


def test_floor_with_spread_matches_a_monte_carlo_of_single_complaints(tiny):
    """The saving equals simulating each complaint as max(c0 * CR^z, 1), z ~ N(shift, sigma^2)."""
    sigma, cr, kappa = 1.44, 1.25, 2.4
    shift = np.log2(1.0 / 30.0)
    c0 = kappa * np.exp(-0.5 * (sigma * np.log(cr)) ** 2)
    z = sigma * np.random.default_rng(5).standard_normal(2_000_000)
    mc = np.maximum(c0 * cr**z, 1).mean() - np.maximum(c0 * cr ** (z + shift), 1).mean()
    assert _saving(tiny, sigma, 1.0) == pytest.approx(2.0 / 12 * 10.0 * mc, rel=5e-3)


def test_spread_is_validated_at_the_door(tiny):
    d = _scenario(tiny, -1.0)
    with pytest.raises(ScenarioError, match=r"observed\.spread"):
        scenario_from_dict(d, "test")


# ----------------------------------------------------------------------------------------
# events per year: its sampling interval reaches the draws
# ----------------------------------------------------------------------------------------


def test_events_interval_is_checked(tiny):
    d = _scenario(tiny, 1.0, events_interval=True)
    d["segments"][0]["volumes"]["complaints"]["events_per_year_low"] = 2.2
    with pytest.raises(ScenarioError, match="events_per_year_low <= events_per_year"):
        scenario_from_dict(d, "test")
    d = _scenario(tiny, 1.0, events_interval=True)
    del d["segments"][0]["volumes"]["complaints"]["events_per_year_high"]
    with pytest.raises(ScenarioError, match="events_per_year_low is given without events_per_year_high"):
        scenario_from_dict(d, "test")


def test_events_interval_widens_the_cost_to_serve_interval_only(tiny):
    plain = scenario_from_dict(_scenario(tiny, 1.44), "test")
    wide = scenario_from_dict(_scenario(tiny, 1.44, events_interval=True), "test")
    assert "events_scale" not in sample_rates(plain, 10, np.random.default_rng(0))
    f = sample_rates(wide, 20_000, np.random.default_rng(0))["events_scale"]
    sd = (np.log(2.5) - np.log(1.6)) / (2 * 1.959964)
    assert f.shape == (20_000, 1, 1) and np.log(f).std() == pytest.approx(sd, rel=0.03)
    a, b = simulate(plain, draws=4000, seed=1), simulate(wide, draws=4000, seed=1)

    def width(res, line):
        return res.quantile(line, 0.9) - res.quantile(line, 0.1)
    assert width(b, "cost_to_serve_savings") > 1.5 * width(a, "cost_to_serve_savings")
    # the draws before it are the same: the other lines do not move
    for line in ("retention_savings", "cross_sell"):
        assert b.quantile(line, 0.5) == pytest.approx(a.quantile(line, 0.5), rel=1e-12)


def test_calibration_writes_the_spread_and_the_events_interval(strong_company):
    co, _ = strong_company
    sc = calibrate(co.tables, n_boot=5, seed=11, name="strong-11").to_scenario()
    tp = sc.touchpoints["complaints"] if "complaints" in sc.touchpoints else next(iter(sc.touchpoints.values()))
    # the generator: log resolution time with sd 1.0 (natural log) = 1.44 in log2 units
    assert tp.observed is not None and tp.observed.spread == pytest.approx(1.0 / np.log(2), rel=0.08)
    vols = [v for s in sc.segments for v in s.volumes.values() if v.events_per_year_low is not None]
    assert vols and all(v.events_per_year_low < v.events_per_year < v.events_per_year_high for v in vols)
    pd.testing.assert_index_equal(pd.Index([s.name for s in sc.segments]),
                                  pd.Index(sorted(s.name for s in co.truth.segments)))

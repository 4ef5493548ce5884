"""The demo company generator (cxroi.demo): known truth, seeded, realistic shape."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from cxroi.data import EMOTIONS, from_frames
from cxroi.demo import DemoTruth, generate_demo, load_truth, write_demo


@pytest.fixture(scope="module")
def demo() -> dict[str, pd.DataFrame]:
    return generate_demo(seed=5, n_accounts=5000)


def test_same_seed_same_company_other_seed_other_company():
    a = generate_demo(seed=1, n_accounts=300)
    b = generate_demo(seed=1, n_accounts=300)
    c = generate_demo(seed=2, n_accounts=300)
    for k in a:
        pd.testing.assert_frame_equal(a[k], b[k])
    assert not a["tickets"]["opened_at"].equals(c["tickets"]["opened_at"])


def test_demo_satisfies_the_data_contract(demo):
    data = from_frames(demo)
    assert data.n_rows()["accounts"] == 5000


def test_segments_and_economics_match_the_lead_scenario(demo):
    acc = demo["accounts"]
    assert acc["segment"].value_counts().to_dict() == {"SMB": 3750, "Mid-market": 1000, "Enterprise": 250}
    arpa = acc.groupby("segment")["revenue"].mean()
    assert arpa["Enterprise"] == pytest.approx(90_000, rel=0.15)
    assert arpa["SMB"] == pytest.approx(3_000, rel=0.1)
    span = demo["tickets"]["opened_at"].max() - demo["tickets"]["opened_at"].min()
    assert span.days > 3 * 365 - 30


def test_surveys_answer_rate_scales_and_extremes(demo):
    s = demo["surveys"]
    rate = s["responded_at"].notna().mean()
    assert 0.055 < rate < 0.085
    ans = s.loc[s["responded_at"].notna()]
    assert ans["nps"].between(0, 10).all() and ans["csat"].between(1, 5).all()
    for e in EMOTIONS:
        assert ans[e].between(1, 5).all()
    # respondents skew to extreme experiences: answered complaints are further from the median time
    t = demo["tickets"].set_index("ticket_id")
    days = (t["resolved_at"] - t["opened_at"]).dt.total_seconds() / 86400
    post = s.loc[s["ticket_id"].notna()]
    z = np.abs(np.log2(days.reindex(post["ticket_id"]).to_numpy() / 30))
    answered = post["responded_at"].notna().to_numpy()
    assert z[answered].mean() > z[~answered].mean() + 0.2


def test_outcome_follows_the_true_curve(demo):
    truth = DemoTruth()
    s = demo["surveys"]
    post = s.loc[s["ticket_id"].notna() & s["responded_at"].notna()]
    t = demo["tickets"].set_index("ticket_id").loc[post["ticket_id"]]
    days = ((t["resolved_at"] - t["opened_at"]).dt.total_seconds() / 86400).to_numpy()
    positive = (post["confident"] > post["frustrated"]).to_numpy()
    expected = truth.positive_share(days).mean()
    se = np.sqrt(expected * (1 - expected) / len(days))
    assert abs(positive.mean() - expected) < 4 * se
    fast, slow = days < 10, days > 60
    assert positive[fast].mean() > positive[slow].mean()


def test_uninformative_nps_switch(demo):
    tr = dataclasses.replace(DemoTruth(), nps_informative=False)
    d = generate_demo(seed=5, n_accounts=5000, truth=tr)
    assert tr.true_nps_gap == 0.0
    s = d["surveys"]
    post = s.loc[s["ticket_id"].notna() & s["responded_at"].notna()]
    pos = post["confident"] > post["frustrated"]
    gap = post.loc[pos, "nps"].mean() - post.loc[~pos, "nps"].mean()
    assert abs(gap) < 0.6  # the informative demo: about 1.2 points on the 0-10 scale
    s0 = demo["surveys"]
    p0 = s0.loc[s0["ticket_id"].notna() & s0["responded_at"].notna()]
    pos0 = p0["confident"] > p0["frustrated"]
    assert p0.loc[pos0, "nps"].mean() - p0.loc[~pos0, "nps"].mean() > 0.6


def test_write_demo_writes_tables_and_truth(tmp_path):
    tr = dataclasses.replace(DemoTruth(), churn_gap=0.07)
    files = write_demo(tmp_path, seed=3, n_accounts=200, truth=tr)
    assert set(files.tables) == {"accounts", "tickets", "surveys", "orders"}
    assert load_truth(files.truth) == tr
    back = pd.read_csv(files.tables["accounts"])
    assert len(back) == 200


def test_committed_demo_matches_its_truth_file():
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "data" / "demo"
    if not (folder / "truth.yaml").is_file():
        pytest.skip("data/demo not generated")
    import yaml

    meta = yaml.safe_load((folder / "truth.yaml").read_text())
    regenerated = generate_demo(seed=meta["seed"], n_accounts=meta["n_accounts"], truth=load_truth(folder / "truth.yaml"))
    assert {k: len(v) for k, v in regenerated.items()} == meta["rows"]
    acc = pd.read_csv(folder / "accounts.csv")
    assert acc["account_id"].tolist() == regenerated["accounts"]["account_id"].tolist()
    assert np.allclose(acc["revenue"], regenerated["accounts"]["revenue"])


def test_off_by_default_options_leave_the_default_company_unchanged():
    a = generate_demo(seed=7, n_accounts=400)
    b = generate_demo(seed=7, n_accounts=400, truth=dataclasses.replace(
        DemoTruth(), churn_lag=(1.0,), churn_positive=0.0, expansion_negative=0.0))
    for k in a:
        pd.testing.assert_frame_equal(a[k], b[k])
    assert "churn_lag" not in DemoTruth().to_dict()  # the committed truth.yaml keeps its keys


def test_lag_and_both_outcome_options_change_the_company_and_round_trip(tmp_path):
    tr = dataclasses.replace(DemoTruth(), churn_lag=(0.5, 0.3, 0.2), churn_positive=0.01,
                             expansion_negative=-0.003)
    d0 = generate_demo(seed=7, n_accounts=2000)
    d1 = generate_demo(seed=7, n_accounts=2000, truth=tr)
    assert not d0["accounts"]["end_date"].equals(d1["accounts"]["end_date"])
    files = write_demo(tmp_path, seed=3, n_accounts=100, truth=tr)
    assert load_truth(files.truth) == tr
    with pytest.raises(ValueError, match="churn_lag"):
        DemoTruth(churn_lag=(0.5, 0.4))


def test_lagged_churn_effect_arrives_after_the_resolution_month():
    # the whole effect one month after resolution: leavers follow complaints with a one-month delay
    tr = dataclasses.replace(DemoTruth(), churn_lag=(0.0, 1.0), churn_gap=0.3).with_complaints(3)
    d = generate_demo(seed=11, n_accounts=3000, truth=tr)
    acc = d["accounts"].set_index("account_id")
    t = d["tickets"].dropna(subset=["resolved_at"])
    end = acc["end_date"].reindex(t["account_id"]).to_numpy()
    res = t["resolved_at"].dt.to_period("M").to_numpy()
    left = pd.notna(end)
    gap = np.array([(pd.Period(e, "M") - r).n if ok else -99 for e, r, ok in zip(end, res, left, strict=True)])
    assert (gap == 1).sum() > 2 * (gap == 0).sum()


# ----------------------------------------------------------------------------------------
# Company shapes: support tiers, direct effects, survey and emotion shapes
# ----------------------------------------------------------------------------------------


def test_new_options_at_their_defaults_leave_the_default_company_unchanged():
    a = generate_demo(seed=7, n_accounts=400)
    b = generate_demo(seed=7, n_accounts=400, truth=dataclasses.replace(
        DemoTruth(), tier_sigma=0.0, churn_hazard_ratio=1.0, expansion_rate_ratio=1.0, contacts_ratio=1.0,
        direct_window=12, surveys="tied", emotions=True))
    for k in a:
        pd.testing.assert_frame_equal(a[k], b[k])
    assert not {"tier_sigma", "churn_hazard_ratio", "surveys", "emotions"} & set(DemoTruth().to_dict())


def test_shapes_are_generator_parameters_that_round_trip(tmp_path):
    from cxroi.demo import SHAPES, shape

    assert {"strong", "weak", "null", "no-surveys", "untied-surveys"} <= set(SHAPES)
    for name, tr in SHAPES.items():
        assert isinstance(tr, DemoTruth)
        with pytest.raises(dataclasses.FrozenInstanceError):
            tr.churn_gap = 0.1  # type: ignore[misc]
        assert DemoTruth.from_dict(tr.to_dict()) == tr, name
    assert SHAPES["strong"].churn_hazard_ratio > SHAPES["weak"].churn_hazard_ratio > SHAPES["null"].churn_hazard_ratio == 1
    files = write_demo(tmp_path, seed=3, n_accounts=150, truth=SHAPES["untied-surveys"])
    assert load_truth(files.truth) == SHAPES["untied-surveys"]
    with pytest.raises(ValueError, match="strong"):
        shape("medium")
    with pytest.raises(ValueError, match="tier_sigma"):
        DemoTruth(tier_sigma=2.0)
    with pytest.raises(ValueError, match="surveys"):
        DemoTruth(surveys="sometimes")


def _account_log_days(d: dict[str, pd.DataFrame]) -> pd.DataFrame:
    t = d["tickets"].dropna(subset=["resolved_at"])
    ln = np.log((t["resolved_at"] - t["opened_at"]).dt.total_seconds() / 86400)
    return pd.DataFrame({"account_id": t["account_id"], "ln": ln})


def test_support_tier_makes_accounts_differ_in_typical_resolution_time():
    def between_share(tr: DemoTruth) -> float:  # share of ln-days variance between accounts (ANOVA)
        x = _account_log_days(generate_demo(seed=4, n_accounts=3000, truth=tr.with_complaints(4)))
        x = x.loc[x.groupby("account_id")["ln"].transform("size") >= 2]
        g = x.groupby("account_id")["ln"]
        within = (g.var(ddof=1) * (g.count() - 1)).sum() / (g.count() - 1).sum()
        between = g.mean().var(ddof=1) - within * (1 / g.count()).mean()
        return between / (between + within)

    flat = between_share(DemoTruth())
    tiered = between_share(dataclasses.replace(DemoTruth(), tier_sigma=0.7))
    assert abs(flat) < 0.05
    assert tiered == pytest.approx(0.49, abs=0.08)  # 0.7^2 of 1.0^2


def test_direct_effect_slow_resolution_accounts_leave_more_buy_less_and_call_more():
    from cxroi.demo import SHAPES

    def contrast(name: str) -> tuple[float, float, float]:
        d = generate_demo(seed=8, n_accounts=6000, truth=SHAPES[name])
        x = _account_log_days(d).groupby("account_id")["ln"].mean()
        acc = d["accounts"].set_index("account_id").loc[x.index]
        slow, fast = x > x.quantile(0.75), x < x.quantile(0.25)
        left = acc["end_date"].notna()
        exp = d["orders"].loc[d["orders"]["product"] == "expansion"].groupby("account_id").size()
        exp = exp.reindex(x.index, fill_value=0)
        t = d["tickets"].dropna(subset=["resolved_at"])
        z = np.log2((t["resolved_at"] - t["opened_at"]).dt.total_seconds() / 86400 / 30)
        calls = t["contacts"].groupby(np.sign(z.round())).mean()
        return left[slow].mean() / left[fast].mean(), exp[slow].mean() / exp[fast].mean(), calls[1] / calls[-1]

    leave, buy, call = contrast("strong")
    assert leave > 1.2 and buy < 0.9 and call > 1.3
    leave0, buy0, call0 = contrast("null")
    assert 0.85 < leave0 < 1.15 and 0.85 < buy0 < 1.15 and 0.9 < call0 < 1.1


def test_survey_and_emotion_shapes_stay_in_the_data_contract():
    base = dataclasses.replace(DemoTruth(), tier_sigma=0.5)
    untied = generate_demo(seed=2, n_accounts=500, truth=dataclasses.replace(base, surveys="untied", emotions=False))
    assert untied["surveys"]["ticket_id"].isna().all() and len(untied["surveys"]) > 0
    assert not set(EMOTIONS) & set(untied["surveys"].columns)
    none = generate_demo(seed=2, n_accounts=500, truth=dataclasses.replace(base, surveys="none"))
    assert len(none["surveys"]) == 0
    tied = generate_demo(seed=2, n_accounts=500, truth=base)
    pd.testing.assert_frame_equal(untied["tickets"], tied["tickets"])  # only the export differs
    for d in (untied, none):
        assert from_frames(d).n_rows()["accounts"] == 500


# ----------------------------------------------------------------------------------------
# The true value of an initiative (cxroi.demo.true_value)
# ----------------------------------------------------------------------------------------


def _scenario_for(company, target: float | None = None, today: float | None = None):
    from cxroi.calibrate import DEFAULT_BASE
    from cxroi.scenario import load_scenario, scenario_from_dict

    d = load_scenario(DEFAULT_BASE).model_dump(mode="json")
    lv = d["touchpoints"]["complaints"]["lever"]
    lv["today"] = today if today is not None else company.truth.today_days
    if target is not None:
        lv["target"] = target
    return scenario_from_dict(d)


@pytest.fixture(scope="module")
def strong_company():
    from cxroi.demo import SHAPES, generate_company

    return generate_company(seed=21, n_accounts=2000, truth=SHAPES["strong"])


def test_true_value_is_zero_when_nothing_changes(strong_company):
    from cxroi.demo import MONEY_LINES, SHAPES, generate_company, true_value

    same = true_value(strong_company, _scenario_for(strong_company, target=30.0), n_futures=5)
    assert all(same[k] == 0.0 for k in MONEY_LINES) and same["accounts_kept"] == 0.0
    null = generate_company(seed=21, n_accounts=2000, truth=SHAPES["null"])
    tv = true_value(null, _scenario_for(null), n_futures=5)
    assert all(tv[k] == 0.0 for k in MONEY_LINES)  # the lever moves emotions, not money
    assert tv["positive_share_change"] > 0.2
    sc = _scenario_for(null)
    assert tv["npv"] < 0 and tv["npv"] == pytest.approx(-(sc.costs.one_off + sum(
        sc.costs.running_per_year / 12 * 1.1 ** (-t / 12) for t in range(1, 37))))


def test_true_value_grows_with_the_cut_and_is_not_noisy(strong_company):
    from cxroi.demo import MONEY_LINES, true_value

    deep = true_value(strong_company, _scenario_for(strong_company, target=1.0), n_futures=60)
    shallow = true_value(strong_company, _scenario_for(strong_company, target=10.0), n_futures=60)
    for k in MONEY_LINES:
        assert deep[k] > shallow[k] > 0, k
        assert deep["se"][k] < 0.02 * deep[k], k
    # same random numbers: the baseline arm is the same future in both runs
    assert deep["baseline_leavers_12m"] == shallow["baseline_leavers_12m"]


def test_true_value_baseline_continues_the_generated_company(strong_company):
    from cxroi.demo import true_value

    tv = true_value(strong_company, _scenario_for(strong_company), n_futures=20)
    acc = strong_company.tables["accounts"]
    end = pd.Timestamp(strong_company.truth.start) + pd.DateOffset(years=strong_company.truth.years)
    year_ago = end - pd.DateOffset(years=1)
    there = (acc["start_date"] < year_ago) & (acc["end_date"].isna() | (acc["end_date"] >= year_ago))
    left = there & acc["end_date"].notna()
    observed = left.sum() / there.sum()
    assert tv["baseline_leavers_12m"] == pytest.approx(observed, rel=0.2)


def test_with_the_true_links_the_model_lands_on_the_truth():
    """Where the model's assumptions hold (no health spread, effect in the resolution month),
    the model run with the generator's own links gives the true money (within 25%)."""
    from cxroi.calibrate import calibrate
    from cxroi.demo import generate_company, true_value
    from cxroi.model import evaluate
    from cxroi.scenario import scenario_from_dict

    tr = dataclasses.replace(DemoTruth(), health_churn=0.0, health_expansion=0.0)
    co = generate_company(seed=31, n_accounts=4000, truth=tr)
    sc = calibrate(co.tables, n_boot=20).to_scenario()
    d = sc.model_dump(mode="json")
    tp = d["touchpoints"]["complaints"]
    today = tp["lever"]["today"]
    true_links = {"positive_share_today": float(tr.positive_share(today)), "odds_ratio": tr.odds_ratio,
                  "churn_gap": tr.churn_gap, "expansion_gap": tr.expansion_gap,
                  "repeat_contacts": tr.repeat_contacts}
    for k, v in true_links.items():
        tp["links"][k] = {"value": v, "low": v * 0.999, "high": v * 1.001, "provenance": "assumption", "source": "truth"}
    for k in ("churn_hazard_ratio", "expansion_rate_ratio", "contacts_ratio"):  # the chain carries the money
        tp["links"].pop(k, None)
    for seg in d["segments"]:  # the generator's complaint volumes and contacts, not the sample's
        st = next(s for s in tr.segments if s.name == seg["name"])
        seg["volumes"]["complaints"]["events_per_year"] = st.complaints_per_year
    sc_true = scenario_from_dict(d)
    model = evaluate(sc_true)
    tv = true_value(co, sc_true, n_futures=60)
    # measured: the model gives 1.20x, 1.16x and 1.04x the truth (it takes the change in the
    # positive share at the median resolution time; the truth averages it over the spread)
    for line in ("retention_savings", "cross_sell", "cost_to_serve_savings"):
        assert model[line] == pytest.approx(tv[line], rel=0.25), line

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

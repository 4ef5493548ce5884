"""Calibration (cxroi.calibrate): recovery of known truth, verdicts, scenario output, real data."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from cxroi.calibrate import (
    SUMMARY_COLUMNS,
    Calibration,
    calibrate,
    concordance_table,
    run_calibration,
)
from cxroi.data import from_frames, load
from cxroi.demo import DemoTruth, generate_demo
from cxroi.errors import CalibrationError
from cxroi.scenario import load_scenario

REPO = Path(__file__).resolve().parents[1]
ECOMMERCE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ecommerce_churn.xlsx"
LINKS = ["positive_share_today", "odds_ratio", "churn_gap", "expansion_gap", "repeat_contacts",
         "nps_gap", "csat_gap"]


def true_links(truth: DemoTruth, today: float) -> dict[str, float]:
    return {"positive_share_today": float(truth.positive_share(today)), "odds_ratio": truth.odds_ratio,
            "churn_gap": truth.churn_gap, "expansion_gap": truth.expansion_gap,
            "repeat_contacts": truth.repeat_contacts, "nps_gap": truth.true_nps_gap,
            "csat_gap": truth.csat_gap}


@pytest.fixture(scope="module")
def cal() -> Calibration:
    return calibrate(generate_demo(seed=22, n_accounts=5000), n_boot=150, seed=22, name="demo seed 22")


@pytest.fixture(scope="module")
def cal_no_nps() -> Calibration:
    tr = dataclasses.replace(DemoTruth(), nps_informative=False)
    return calibrate(generate_demo(seed=9, n_accounts=5000, truth=tr), n_boot=50, seed=9)


def test_recovery_intervals_contain_the_true_links(cal):
    truth = true_links(DemoTruth(), cal.today)
    for name in LINKS:
        est = cal.links[name]
        assert est.low < est.value < est.high, name
        assert est.low <= truth[name] <= est.high, f"{name}: {truth[name]} not in [{est.low}, {est.high}]"


def test_intervals_are_informative_not_just_wide(cal):
    # an interval that always covers is useless: the gaps must exclude zero and be tight
    assert cal.links["churn_gap"].low > 0.02 and cal.links["churn_gap"].high < 0.09
    assert cal.links["odds_ratio"].high < 1
    assert cal.links["expansion_gap"].low > 0.03


def test_today_is_the_current_median_resolution_time(cal):
    assert 25 < cal.today < 35  # the generator's median is 30 days


def test_nps_verdict_is_yes_when_nps_carries_information(cal):
    assert cal.fitters["validity"].predicts("nps", "retention") is True
    assert any(v.startswith("NPS") and "predicts retention" in v for v in cal.verdicts)


def test_nps_verdict_is_no_when_nps_is_noise(cal_no_nps):
    v = cal_no_nps.fitters["validity"]
    assert v.predicts("nps", "retention") is False
    row = v.results_.query("metric == 'nps' and target == 'retention'").iloc[0]
    assert row["low"] <= 0.5 <= row["high"]
    assert "NPS does not predict retention" in " ".join(cal_no_nps.verdicts)
    # confidence still predicts: the verdict is about NPS, not a broken pipeline
    assert v.predicts("confident", "retention") is True
    # and the after-complaint NPS gap is nowhere near the informative world's 40 points
    gap = cal_no_nps.links["nps_gap"]
    assert gap.high < DemoTruth().nps_gap / 2


def test_emotion_drivers_find_confidence_or_frustration(cal):
    drivers = cal.fitters["drivers"].drivers("leaving")
    assert {"confident", "frustrated"} & set(drivers)
    assert "Confident" in cal.fitters["drivers"].verdict or "Frustrated" in cal.fitters["drivers"].verdict


def test_survey_gap_detects_upward_response_bias(cal):
    sg = cal.fitters["survey_gap"]
    assert sg.bias_ratio_ci_[0] > 1  # the demo's happy customers answer more
    assert sg.cv_mae_ < sg.baseline_mae_  # behaviour predicts NPS better than the average does
    assert sg.predictions_["responded"].sum() == sg.n_respondents_
    assert "biased upward" in sg.verdict


def test_cox_verdict_reads_like_the_issue(cal):
    rc = cal.fitters["resolution_churn"]
    assert rc.low_ < rc.hazard_ratio_ < rc.high_
    assert "doubling of complaint resolution time" in rc.verdict
    assert "adjusted for segment and size" in rc.verdict


def test_baselines_are_close_to_the_generated_company(cal):
    b = cal.baselines.set_index("segment")
    assert list(b.index) == ["Enterprise", "Mid-market", "SMB"]
    assert b.loc["SMB", "churn"] == pytest.approx(0.2, abs=0.04)
    assert b.loc["Enterprise", "complaints_per_year"] == pytest.approx(1.2, rel=0.15)
    assert (b["nrr"] > 0.6).all() and (b["nrr"] < 1.2).all()
    assert (b["clv"] > 0).all()


def test_summary_and_verdicts_shape(cal):
    s = cal.summary
    assert list(s.columns) == SUMMARY_COLUMNS
    assert {"churn_gap", "odds_ratio (positive outcome, per doubling)"} <= set(s["name"])
    assert s["verdict"].str.len().gt(10).all()
    assert all(isinstance(v, str) for v in cal.verdicts)


def test_to_scenario_writes_calibrated_links_and_today(cal, tmp_path):
    sc = cal.to_scenario()
    tp = sc.touchpoints["complaints"]
    assert tp.lever.today == pytest.approx(round(cal.today, 1))
    for name in LINKS:
        link = getattr(tp.links, name)
        assert link.provenance == "calibrated"
        assert link.source.startswith("calibrated from demo seed 22, n=")
        assert link.low <= link.value <= link.high
    assert sc.links.referrals_per_promoter.provenance == "benchmark"  # kept from the base
    assert [s.name for s in sc.segments] == ["Enterprise", "Mid-market", "SMB"]
    assert sc.segments[0].gross_margin == 0.70  # margins come from the base scenario
    from cxroi.scenario import save_scenario

    back = load_scenario(save_scenario(sc, tmp_path / "s.yaml"))
    assert back == sc


def test_concordance_table_equals_auc():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 11, 500).astype(float)
    y = (rng.random(500) < 0.2 + 0.05 * x).astype(int)
    g = x.astype(int)
    tab = np.zeros((11, 2))
    np.add.at(tab, (g, y), 1)
    assert concordance_table(tab) == pytest.approx(roc_auc_score(y, x))


def test_missing_answers_keep_base_links_and_say_so():
    f = generate_demo(seed=9, n_accounts=600)
    f["surveys"] = f["surveys"].assign(responded_at=pd.NaT, nps=np.nan, csat=np.nan,
                                       **{e: np.nan for e in ["confident", "frustrated"]})
    c = calibrate(f, n_boot=20)
    assert "odds_ratio" not in c.links
    assert any("kept from the base scenario" in n for n in c.notes)
    sc = c.to_scenario()
    assert sc.touchpoints["complaints"].links.odds_ratio.provenance == "benchmark"
    with pytest.raises(CalibrationError, match="base scenario"):
        Calibration(data=from_frames(generate_demo(seed=9, n_accounts=100))).to_scenario()


def test_run_calibration_writes_scenario_and_reports(tmp_path):
    folder = tmp_path / "acme"
    folder.mkdir()
    for name, df in generate_demo(seed=4, n_accounts=1500).items():
        df.to_parquet(folder / f"{name}.parquet")
    out = tmp_path / "out" / "acme-calibrated.yaml"
    cal = run_calibration(folder, None, out, base=REPO / "data" / "scenarios" / "complaints-30-to-1.yaml",
                          n_boot=30)
    sc = load_scenario(out)
    assert sc.touchpoints["complaints"].links.churn_gap.provenance == "calibrated"
    table = pd.read_csv(out.parent / "acme-calibrated.calibration.csv")
    assert len(table) == len(cal.summary)
    md = (out.parent / "acme-calibrated.calibration.md").read_text()
    assert "## Verdicts" in md and "still open" in md


@pytest.mark.skipif(not ECOMMERCE.is_file(), reason=f"real data not found at {ECOMMERCE} (shared/ absent)")
def test_customers_shape_answers_what_it_can_and_says_what_it_cannot(tmp_path):
    mapping = REPO / "data" / "mappings" / "ecommerce_churn.yaml"
    c = calibrate(load(ECOMMERCE, mapping))
    cc = c.fitters["complaint_churn"]
    assert cc.risk_ratio_ci_[0] > 1  # complainers churn more in this data
    assert c.fitters["validity"].results_["metric"].tolist() == ["satisfaction"]
    assert any("cannot estimate the resolution time" in n for n in c.notes)
    ex = c.exclusions
    assert int(ex.loc[ex["rule"].str.contains("no tenure"), "rows"].iloc[0]) == 264
    sc = c.to_scenario()
    links = sc.touchpoints["complaints"].links
    assert all(getattr(links, k).provenance != "calibrated" for k in LINKS)
    assert "kept from the base scenario" in links.churn_gap.note
    assert [s.name for s in sc.segments] == ["City tier 1", "City tier 2", "City tier 3"]
    out = tmp_path / "ecommerce.yaml"
    run_calibration(ECOMMERCE, mapping, out)
    assert "cannot estimate" in (tmp_path / "ecommerce.calibration.md").read_text()


@pytest.mark.slow
def test_coverage_over_50_seeds():
    """Each link's 95% interval covers the truth in about 95% of 50 generated companies."""
    truth = DemoTruth()
    hits = {k: 0 for k in LINKS}
    seeds = range(1000, 1050)
    for s in seeds:
        c = calibrate(generate_demo(seed=s, n_accounts=3000), n_boot=100, seed=s)
        t = true_links(truth, c.today)
        for k in LINKS:
            hits[k] += c.links[k].low <= t[k] <= c.links[k].high
    coverage = {k: v / len(seeds) for k, v in hits.items()}
    print("coverage over 50 seeds:", coverage)
    # 50 draws of a 95% interval: below 0.84 would happen by chance < 1% of the time
    assert all(v >= 0.84 for v in coverage.values()), coverage


@pytest.mark.slow
def test_nps_verdict_false_alarm_rate_when_nps_is_noise():
    """With NPS made noise, 'NPS predicts retention' must be rare (nominally 2.5%)."""
    tr = dataclasses.replace(DemoTruth(), nps_informative=False)
    alarms = sum(
        bool(calibrate(generate_demo(seed=s, n_accounts=3000, truth=tr), n_boot=10, seed=s)
             .fitters["validity"].predicts("nps", "retention"))
        for s in range(2000, 2030)
    )
    print("false alarms over 30 seeds:", alarms)
    assert alarms <= 4

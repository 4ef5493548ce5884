"""The direct effects' exposure window is chosen by the data (``cxroi.calibrate.panel``).

Known truths: the ``chain`` demo company moves leaving in the month a complaint is resolved
(the data must choose a 1-month window), the ``strong`` one over the 12 months after it (the
12-month window must be kept)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxroi.calibrate import calibrate
from cxroi.calibrate.glm import poisson_loglik
from cxroi.calibrate.panel import (
    EXPOSURE_MONTHS,
    WINDOW_MARGIN,
    choose_window,
    exposed_share,
    window_design,
    window_panel,
)
from cxroi.calibrate.prepare import prepare
from cxroi.calibrate.report import calibration_markdown
from cxroi.data import from_frames
from cxroi.demo import SHAPES, generate_company

N_ACCOUNTS = 2000


@pytest.fixture(scope="module")
def chain():  # noqa: ANN201
    return generate_company(seed=7, n_accounts=N_ACCOUNTS, truth=SHAPES["chain"])


@pytest.fixture(scope="module")
def strong():  # noqa: ANN201
    return generate_company(seed=7, n_accounts=N_ACCOUNTS, truth=SHAPES["strong"])


def test_chain_company_gets_the_one_month_window(chain) -> None:
    ch = choose_window(prepare(from_frames(chain.tables)), "left")
    assert ch.window == 1
    assert ch.gain > WINDOW_MARGIN
    assert set(ch.loglik) == {1, 3, 6, 12}
    # the effect acts in the month of resolution: the shorter the window, the better it fits
    assert ch.loglik[1] > ch.loglik[3] > ch.loglik[12]
    assert "1-month window" in ch.reason


def test_strong_company_keeps_twelve_months(strong) -> None:
    prep = prepare(from_frames(strong.tables))
    for outcome in ("left", "expansions"):
        ch = choose_window(prep, outcome)
        assert ch.window == EXPOSURE_MONTHS, (outcome, ch.loglik)
        assert ch.gain == 0.0
        # the share of leaving in exposed months: about the share of accounts with a complaint
        assert all(0.15 < v < 0.95 for v in ch.exposed_share.values()), ch.exposed_share


def test_exposed_share_counts_events_after_the_first_window() -> None:
    """Month 0 is before the window is fully seen (left out); from month 1 on, 2 of the 3
    leavers of segment A left in a month with a complaint, 0 of 1 in segment B."""
    p = pd.DataFrame({"t": [0, 1, 2, 3, 1, 2], "segment": ["A", "A", "A", "A", "B", "B"],
                      "k1": [1, 1, 0, 2, 0, 1], "left": [1.0, 1, 1, 1, 1, 0]})
    share, overall = exposed_share(p, "left", 1)
    assert share == {"A": pytest.approx(2 / 3), "B": 0.0}
    assert overall == pytest.approx(2 / 4)


def test_window_loglik_is_statsmodels_llf(chain) -> None:
    """The comparison's log-likelihood is the Poisson GLM's (statsmodels), row for row."""
    import statsmodels.api as sm

    p = window_panel(prepare(from_frames(chain.tables)))
    q = p.loc[p["t"] >= 11]
    for w in (1, 12):
        X = window_design(q, w)
        ref = sm.GLM(q["left"].to_numpy(), X, family=sm.families.Poisson()).fit().llf
        assert poisson_loglik(q["left"].to_numpy(), X) == pytest.approx(ref, rel=1e-9)


@pytest.fixture(scope="module")
def calibrated_chain(chain):  # noqa: ANN201
    cal = calibrate(chain.tables, n_boot=10, seed=7, name="chain-7")
    return cal, cal.to_scenario()


def test_calibrated_scenario_carries_the_window_and_share(calibrated_chain) -> None:
    cal, sc = calibrated_chain
    hr = sc.touchpoints["complaints"].links.churn_hazard_ratio
    assert cal.fitters["resolution_churn"].window_months_ == 1
    assert hr.window_months == 1
    assert set(hr.exposed_share) == {s.name for s in sc.segments}
    assert hr.exposed_share == pytest.approx(cal.fitters["resolution_churn"].exposed_share_, abs=1e-4)
    assert "exposure window 1 month" in hr.note and "log-likelihood points" in hr.note
    assert "1 month exposure window" in hr.source
    # the share of leaving in exposed months is far above the share of account-months with a
    # complaint resolved in that month (1 - exp(-complaints per year / 12)): leaving follows them
    for seg in sc.segments:
        months_exposed = 1 - np.exp(-seg.volumes["complaints"].events_per_year / 12)
        assert hr.exposed_share[seg.name] > months_exposed
    assert any(n.startswith("Resolution time -> leaving: exposure window 1 month (the data prefer a 1-month "
                            "window by") for n in cal.notes)
    md = calibration_markdown(cal, None, sc)
    assert "## Exposure windows of the direct effects" in md
    assert "| churn_hazard_ratio | 1 month |" in md



def test_large_company_compares_windows_on_a_sample(chain, monkeypatch: pytest.MonkeyPatch) -> None:
    """Above WINDOW_SAMPLE_ACCOUNTS the comparison runs on a seeded sample of accounts, says so,
    and still finds the chain company's 1-month window."""
    import cxroi.calibrate.panel as panel

    monkeypatch.setattr(panel, "WINDOW_SAMPLE_ACCOUNTS", 1000)
    prep = prepare(from_frames(chain.tables))
    ch = panel.choose_window(prep, "left")
    assert ch.window == 1
    assert f"random sample of 1,000 of the {len(prep.accounts):,} accounts" in ch.reason
    assert panel.window_sample(prep) is panel.window_sample(prep)  # drawn once
    assert len(panel.window_sample(prep).accounts) == 1000

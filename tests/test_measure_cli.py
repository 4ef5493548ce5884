"""``cxroi measure`` end to end: the initiative file, bad input (named errors with the fix,
exit 2), the money comparison, the updated scenario and the executive HTML report."""

from __future__ import annotations

import datetime as _dt
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from cxroi.cli import app
from cxroi.errors import (
    CxroiError,
    DataError,
    GoLiveOutsideDataError,
    InitiativeError,
    NoControlGroupError,
    NoPrePeriodError,
)
from cxroi.evidence import evidence_of
from cxroi.measure import measure
from cxroi.measure.did import Estimate
from cxroi.measure.initiative import load_initiative
from cxroi.measure.money import compare_money
from cxroi.measure.report import render_html, write_outputs
from cxroi.rollout import write_demo_rollout
from cxroi.scenario import load_scenario
from cxroi.uncertainty import simulate

ROOT = Path(__file__).resolve().parents[1]
LEAD = ROOT / "data" / "scenarios" / "complaints-30-to-1.yaml"
runner = CliRunner()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A small demo rollout written to disk like the bundled one, measured once."""
    root = tmp_path_factory.mktemp("rollout")
    ro = write_demo_rollout(root / "data", root / "initiatives" / "demo.yaml", seed=7,
                            n_accounts=2500, base=LEAD)
    ini = root / "initiatives" / "demo.yaml"
    return {"root": root, "ro": ro, "data": root / "data", "ini": ini,
            "m": measure(root / "data", ini)}


def _write_ini(demo: dict, tmp_path: Path, **changes: object) -> Path:
    raw = yaml.safe_load(demo["ini"].read_text())
    raw["scenario"] = str(demo["ini"].parent / raw["scenario"])
    raw.update(changes)
    p = tmp_path / "I.yaml"
    p.write_text(yaml.safe_dump(raw, sort_keys=False))
    return p


# --------------------------------------------------------------------------------------
# Bad input: named errors with the fix, CLI exit 2 without a traceback
# --------------------------------------------------------------------------------------


def _cli_exit_2(demo: dict, ini: Path, *words: str) -> None:
    res = runner.invoke(app, ["measure", str(demo["data"]), "--initiative", str(ini),
                              "--out", str(ini.parent / "out")])
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and "Fix" in res.output
    for w in words:
        assert w in res.output, res.output
    assert not (ini.parent / "out").exists()  # nothing half-written


def test_go_live_outside_the_data(demo: dict, tmp_path: Path) -> None:
    go = dict(demo["ro"].go_live)
    first = sorted(go)[0]
    go[first] = "2031-03-01"
    ini = _write_ini(demo, tmp_path, go_live=go)
    with pytest.raises(GoLiveOutsideDataError, match=rf"go_live.{first} = 2031-03-01.*Fix:"):
        measure(demo["data"], ini)
    _cli_exit_2(demo, ini, "2031-03-01", "outside the data")


def test_group_with_no_pre_period(demo: dict, tmp_path: Path) -> None:
    go = dict(demo["ro"].go_live)
    first = sorted(go)[0]
    go[first] = "2023-01-15"  # the data start in January 2023
    ini = _write_ini(demo, tmp_path, go_live=go)
    with pytest.raises(NoPrePeriodError, match=rf"no month of group '{first}'.*Fix: add data"):
        measure(demo["data"], ini)
    _cli_exit_2(demo, ini, "before it", "exclude")


def test_no_control_group(demo: dict, tmp_path: Path) -> None:
    teams = sorted({f"T{j + 1:02d}" for j in range(demo["ro"].truth.teams)})
    # every team reached, one month apart: no group stays unchanged over any 6-month window
    go = {t: f"2024-{1 + i % 2:02d}-01" for i, t in enumerate(teams)}
    ini = _write_ini(demo, tmp_path, go_live=go)
    with pytest.raises(NoControlGroupError, match="Fix: include groups reached later or never"):
        measure(demo["data"], ini)
    _cli_exit_2(demo, ini, "no group stayed unchanged")
    # everyone on one date, a DiD asked for: no control group either, the fix names the ITS
    ini2 = _write_ini(demo, tmp_path, go_live="2024-06-01", design="did")
    with pytest.raises(NoControlGroupError, match="design: its"):
        measure(demo["data"], ini2)


def test_initiative_file_problems_all_at_once(demo: dict, tmp_path: Path) -> None:
    p = _write_ini(demo, tmp_path, go_live={"T01": "2024-13-01"}, windw={"before": 6},
                   design="magic")
    with pytest.raises(InitiativeError) as exc:
        load_initiative(p)
    text = str(exc.value)
    assert "go_live.T01" in text and "YYYY-MM-DD" in text
    assert "windw" in text and "did you mean 'window'" in text
    assert "design" in text and "'auto'" in text
    unknown = _write_ini(demo, tmp_path, go_live={"T99": "2024-05-01"})
    with pytest.raises(InitiativeError, match="no accounts in group 'T99'"):
        measure(demo["data"], unknown)
    res = runner.invoke(app, ["measure", str(demo["data"]), "--initiative", str(p)])
    assert res.exit_code == 2 and "Traceback" not in res.output


def test_initiative_yaml_is_read_strictly(demo: dict, tmp_path: Path) -> None:
    """A group given two go-live dates, or a date that is no date, written unquoted as an
    analyst types them: named errors at their line, not the last value silently kept or a
    crash (PyYAML's ValueError)."""
    good = _write_ini(demo, tmp_path).read_text()
    first = next(iter(yaml.safe_load(good)["go_live"]))
    twice = tmp_path / "twice.yaml"
    lines = good.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith(f"{first}:"))
    twice.write_text("\n".join([*lines[:at + 1], f"  {first}: 2024-09-01", *lines[at + 1:]]) + "\n")
    with pytest.raises(InitiativeError, match=rf"line {at + 2}, column 3: not valid YAML: "
                                              rf"duplicate key '{first}'.*Fix: keep one of the two"):
        load_initiative(twice)
    bad = tmp_path / "bad.yaml"
    bad.write_text("\n".join([*lines[:at], f"  {first}: 2024-13-01", *lines[at + 1:]]) + "\n")
    with pytest.raises(InitiativeError, match=r"not valid YAML: '2024-13-01' is not a valid date"):
        load_initiative(bad)
    _cli_exit_2(demo, bad, "2024-13-01", "YYYY-MM-DD")


def test_group_by_column_missing_from_the_data_points_at_the_initiative(demo: dict,
                                                                        tmp_path: Path) -> None:
    """Data without the initiative's group_by column (here: the calibration demo's tables,
    which have no account teams): the fix said "remove it from keep", a key the analyst
    never wrote (measure keeps the group_by column itself)."""
    p = _write_ini(demo, tmp_path)
    data = ROOT / "data" / "demo"
    with pytest.raises(DataError, match=r"group_by \(.*I\.yaml\): the accounts data have no column 'team'\. "
                                        r"Fix: set group_by in .*I\.yaml to one of the accounts' "
                                        r"columns \(e\.g\. `group_by: segment`\)") as exc:
        measure(data, p)
    assert "keep" not in str(exc.value)
    res = runner.invoke(app, ["measure", str(data), "--initiative", str(p),
                              "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and "group_by" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "out").exists()


def test_a_mid_month_go_live_says_which_month_counts_as_the_first_after(demo: dict,
                                                                        tmp_path: Path) -> None:
    """The panel is monthly: a go-live on the 20th makes its whole month the first month
    after. That was silent (the same numbers as the 1st, nothing said); it is a note now,
    and the numbers are those of the 1st of the month."""
    go = yaml.safe_load(demo["ini"].read_text())["go_live"]
    g, day = next(iter(go.items()))
    d = _dt.date.fromisoformat(str(day))
    mid = _write_ini(demo, tmp_path, go_live={**go, g: d.replace(day=20).isoformat()})
    m = measure(demo["data"], mid)
    said = [n for n in m.notes if "mid-month" in n]
    assert len(said) == 1 and f"{g}" in said[0] and f"{d:%b %Y} counts as the first month after" \
        in said[0], m.notes
    assert not [n for n in demo["m"].notes if "mid-month" in n]
    assert m.outcomes["leaving"].effect.estimate == demo["m"].outcomes["leaving"].effect.estimate


def test_touchpoint_must_measure_the_lever_the_data_give(demo: dict, tmp_path: Path) -> None:
    """The lever is measured from the tickets (resolution days); a business case whose
    touchpoint is first-contact resolution (a share) took the days' change as "-3.37 steps"
    of 0.1 share and wrote links from it. It is an InitiativeError naming the touchpoints
    that measure resolution days."""
    fcr = ROOT / "data" / "scenarios" / "fcr-60-to-80.yaml"
    p = _write_ini(demo, tmp_path, scenario=str(fcr), touchpoint="first_contact_resolution")
    with pytest.raises(InitiativeError, match=r"touchpoint: 'first_contact_resolution' measures "
                                              r"first_contact_resolution, not resolution_days.*"
                                              r"Fix: use a business case with a touchpoint of "
                                              r"metric resolution_days"):
        measure(demo["data"], p)
    programme = ROOT / "data" / "scenarios" / "cx-programme.yaml"
    q = _write_ini(demo, tmp_path, scenario=str(programme), touchpoint="first_contact_resolution")
    with pytest.raises(InitiativeError, match=r"Fix: did you mean 'complaints' \(metric resolution_days\)"):
        measure(demo["data"], q)
    _cli_exit_2(demo, p, "first_contact_resolution", "resolution_days")


def test_exclude_names_only_groups_the_data_have(demo: dict, tmp_path: Path) -> None:
    """A typo under exclude: (T04x for T04) left the group in, as a control, without a word;
    it is an InitiativeError with a did-you-mean, like a go_live group."""
    go = yaml.safe_load(demo["ini"].read_text())["go_live"]
    never = sorted(set(demo["m"].panel.accounts["group"]) - set(go))[0]  # a group not reached
    typo = never + "x"
    p = _write_ini(demo, tmp_path, exclude=[typo])
    with pytest.raises(InitiativeError, match=rf"exclude: no accounts in group '{typo}'.*"
                                              rf"Fix: did you mean '{never}'\?"):
        measure(demo["data"], p)
    _cli_exit_2(demo, p, f"'{typo}'")


def test_a_lever_that_cannot_be_measured_is_not_called_unchanged(demo: dict,
                                                                 tmp_path: Path) -> None:
    """No resolved ticket: the lever is not measured; the note said "the lever did not
    measurably change", which the data cannot tell."""
    import shutil

    data = tmp_path / "data"
    shutil.copytree(demo["data"], data)
    tk = pd.read_csv(data / "tickets.csv", dtype=str, keep_default_na=False)
    tk["resolved_at"] = ""
    tk.to_csv(data / "tickets.csv", index=False)
    m = measure(data, demo["ini"])
    text = " ".join(m.notes)
    assert "did not measurably change" not in text, text
    assert "could not be measured" in text and "no resolved tickets" in text, text


def test_every_measure_error_is_a_cxroi_error() -> None:
    for cls in (GoLiveOutsideDataError, NoPrePeriodError, NoControlGroupError, InitiativeError):
        assert issubclass(cls, CxroiError)


# --------------------------------------------------------------------------------------
# What a measurement holds
# --------------------------------------------------------------------------------------


def test_design_choice_and_lever_by_group(demo: dict) -> None:
    m = demo["m"]
    assert m.design == "staggered difference-in-differences"
    assert "not reached" in m.design_reason and "before/after" in m.design_reason
    lg = m.lever_by_group
    assert set(lg["group"]) == set(demo["ro"].go_live)
    # each team's complaints: ~30 days before, ~3 after (the generator's truth)
    assert (lg["days_before_low"] < 30).all() and (lg["days_before_high"] > 24).all()
    assert (lg["days_after_high"] < 4.5).all()


def test_money_promise_is_the_business_case_and_zero_effects_measure_zero(demo: dict) -> None:
    m = demo["m"]
    months = m.money.months
    assert months == len(m.panel.months) - min(m.panel.go_live.values())
    res = simulate(m.scenario, draws=m.initiative.draws, seed=m.initiative.seed)
    promised = sum(res.draws[f"{k}_monthly"][:, :months]
                   for k in ("retention_savings", "cross_sell", "cost_to_serve_savings")).sum(axis=1)
    assert m.money.lines.loc["total", "promised_p50"] == pytest.approx(np.quantile(promised, 0.5))
    zero = {k: Estimate(0.0, 0.0, 0.0, 0.0, 1.0) for k in ("leaving", "buying_more", "contacts")}
    z = compare_money(m.panel, zero, m.scenario, "complaints", draws=500)
    assert np.allclose(z.lines[["measured_p10", "measured_p50", "measured_p90"]].to_numpy(), 0.0)
    assert re.fullmatch(r"The programme promised \$[\d.]+[kM]? by month \d+ \(P10–P90 -?\$[\d.]+[kM]?–"
                        r"-?\$[\d.]+[kM]?\); measured: -?\$[\d.]+[kM]? \(P10–P90 -?\$[\d.]+[kM]?–"
                        r"-?\$[\d.]+[kM]?\)\.", m.headline), m.headline


def test_money_grows_with_the_measured_effect(demo: dict) -> None:
    m = demo["m"]
    small = {"leaving": Estimate(-0.001, 1e-9, 0, 0, 0)}
    big = {"leaving": Estimate(-0.002, 1e-9, 0, 0, 0)}
    a = compare_money(m.panel, small, m.scenario, "complaints", draws=300)
    b = compare_money(m.panel, big, m.scenario, "complaints", draws=300)
    assert b.lines.loc["retention_savings", "measured_p50"] == pytest.approx(
        2 * a.lines.loc["retention_savings", "measured_p50"], rel=1e-6)
    assert a.lines.loc["retention_savings", "measured_p50"] > 0


def test_updated_scenario_carries_measured_links(demo: dict, tmp_path: Path) -> None:
    m = demo["m"]
    tr = demo["ro"].truth
    links = m.updated.touchpoints["complaints"].links
    for name, truth in (("churn_hazard_ratio", tr.churn_hazard_ratio),
                        ("expansion_rate_ratio", tr.expansion_rate_ratio),
                        ("contacts_ratio", tr.contacts_ratio)):
        link = getattr(links, name)
        assert link.provenance == "calibrated"
        assert link.source.startswith("measured after rollout: ")
        assert link.low <= link.value <= link.high
        assert link.n == m.money.reached_accounts
        assert link.low <= truth <= link.high, (name, link)
    assert links.nps_gap.source.startswith("measured after rollout")
    ev = evidence_of(m.updated)  # the next pitch says what it rests on
    for line in ("retention_savings", "cross_sell", "cost_to_serve_savings"):
        assert ev.lines[line].level == "measured", (line, ev.lines[line])
    obs = m.updated.touchpoints["complaints"].observed
    assert obs is not None and obs.low < 3.5 and obs.high > 25  # both sides of the change seen
    paths = write_outputs(m, tmp_path / "out")
    again = load_scenario(paths["scenario"])  # valid, ready for `cxroi run`, the app, a batch
    assert again.touchpoints["complaints"].links.churn_hazard_ratio is not None
    assert "(measured after rollout)" in again.name


def test_report_is_code_free_offline_and_leads_with_the_answer(demo: dict) -> None:
    m = demo["m"]
    html = render_html(m)
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)=["']https?://""", html)
    assert "@import" not in html
    first = html.index('data-role="headline"')
    assert html.index(m.headline.split(";")[0].replace("–", "–")) > first
    assert first < html.index("cx-event-study") < html.index("cx-money")
    for words in ("Placebo test", "Design used, and why", "<svg", "months since go-live",
                  "Staggered difference-in-differences", "measured after rollout",
                  'data-role="next-pitch"', "measured in your data"):
        assert words in html, words


def test_cli_measure_writes_report_json_and_scenario(demo: dict, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = runner.invoke(app, ["measure", str(demo["data"]), "--initiative", str(demo["ini"]),
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "The programme promised" in res.output and "Design:" in res.output
    for f in ("measurement.html", "measurement.json", "updated-scenario.yaml"):
        assert (out / f).is_file()
    data = json.loads((out / "measurement.json").read_text())
    assert data["headline"] == demo["m"].headline
    assert {o["outcome"] for o in data["outcomes"]} >= {"leaving", "buying_more", "contacts",
                                                         "nps", "csat", "lever"}
    assert all(o["placebo"] is not None for o in data["outcomes"])
    run = runner.invoke(app, ["run", str(out / "updated-scenario.yaml"), "--draws", "300"])
    assert run.exit_code == 0, run.output


def test_single_date_for_everyone_uses_the_interrupted_time_series(demo: dict, tmp_path: Path) -> None:
    ini = _write_ini(demo, tmp_path, go_live="2024-06-01")
    ini_raw = yaml.safe_load(ini.read_text())
    ini_raw.pop("group_by")
    ini.write_text(yaml.safe_dump(ini_raw))
    m = measure(demo["data"], ini)
    assert m.design == "interrupted time series"
    assert "cannot separate the initiative from anything else" in m.design_reason
    assert "Interrupted time series" in render_html(m)


def test_bundled_demo_rollout_is_the_generators_and_ready_to_measure() -> None:
    """data/demo-rollout and data/initiatives/demo-rollout.yaml come from
    cxroi.rollout.write_demo_rollout (same seed, same go-live dates, same rows) and load."""
    from cxroi.data import load
    from cxroi.measure.measurement import _mapping_with_group
    from cxroi.measure.panel import build_panel
    from cxroi.rollout import generate_rollout, rollout_truth

    meta = yaml.safe_load((ROOT / "data" / "demo-rollout" / "truth.yaml").read_text())
    ro = generate_rollout(meta["seed"], meta["n_accounts"], rollout_truth("effect"))
    assert ro.go_live == meta["go_live"]
    assert {k: len(v) for k, v in ro.tables.items()} == meta["rows"]
    ini = load_initiative(ROOT / "data" / "initiatives" / "demo-rollout.yaml")
    assert {g: d.isoformat() for g, d in ini.go_live.items()} == ro.go_live
    assert load_scenario(ini.scenario_path()).touchpoints["complaints"].lever.target == 3
    data = load(ROOT / "data" / "demo-rollout", _mapping_with_group(None, ini.group_by))
    panel = build_panel(data, ini)
    assert len(panel.months) == 36 and len(panel.groups) == 20

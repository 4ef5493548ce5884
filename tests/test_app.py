"""The app's logic without a browser: widgets driven from Python.

Every scenario and report goes to a temporary folder; ``data/scenarios`` is only read.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from cxroi.app import CxApp, build_app, control_specs, scenario_files, slugify
from cxroi.app import controls as cxcontrols
from cxroi.app import view as cxview
from cxroi.app import widgets as cxapp
from cxroi.app.sliders import NumberControl
from cxroi.scenario import load_scenario, save_scenario
from cxroi.uncertainty import simulate

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "data" / "scenarios"
TARGET = "touchpoints.complaints.lever.target"
TODAY = "touchpoints.complaints.lever.today"


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    scen = tmp_path / "scenarios"
    scen.mkdir()
    for f in SCENARIOS.glob("*.yaml"):
        shutil.copy(f, scen / f.name)
    return scen, tmp_path / "reports"


@pytest.fixture
def app(dirs: tuple[Path, Path]) -> CxApp:
    return CxApp(*dirs, initial=dirs[0] / "complaints-30-to-1.yaml")


def control(app: CxApp, path: str) -> NumberControl:
    return next(c for c in app.controls if c.spec.path == path)


def shown(app: CxApp) -> dict[str, float]:
    """Metric -> P50 exactly as the cards carry it (``data-p50``)."""
    return {m: float(v) for m, v in
            re.findall(r"data-metric='(\w+)' data-p50='([^']+)'", app.cards.value)}


def shown_text(app: CxApp, metric: str) -> str:
    m = re.search(rf"data-metric='{metric}'.*?cx-card-value[^>]*>([^<]+)<", app.cards.value,
                  re.S)
    assert m, app.cards.value
    return m.group(1)


def test_controls_cover_every_lever_cost_and_finance_setting(app: CxApp) -> None:
    paths = {c.spec.path for c in app.controls}
    assert {TODAY, TARGET, "touchpoints.complaints.lever.ramp_months", "costs.one_off",
            "costs.running_per_year", "finance.horizon_months", "finance.discount_rate",
            "finance.risk.retention_savings", "finance.risk.cost_uplift"} <= paths
    multi = control_specs(load_scenario(SCENARIOS / "cx-programme.yaml"))
    assert sum(s.key[-1] == "target" for s in multi) == 3
    fcr = next(s for s in multi if s.key[1] == "first_contact_resolution" and s.key[-1] == "today")
    assert (fcr.scale, fcr.unit, fcr.value) == (100.0, "%", 0.6)


@pytest.mark.parametrize("name", ["complaints-30-to-1.yaml", "cx-programme.yaml"])
def test_cards_show_the_summary_of_cxroi_run(name: str) -> None:
    """The cards' P10 / P50 / P90 and share defined, computed for the nine card metrics
    only, are the very numbers of the whole summary (``cxroi run --json``'s metrics)."""
    sc = load_scenario(SCENARIOS / name)
    if "complaints" in sc.touchpoints:  # and a lever moved from the file's value
        sc = sc.with_lever("complaints", target=3.0)
    res = simulate(sc)
    got = cxview.headline_values(res)
    assert list(got) == [m for m, _ in cxview.CARDS]
    for metric, values in got.items():
        for col, v in values.items():
            want = float(res.summary.loc[metric, col])
            assert v == want or (v != v and want != want), (metric, col, v, want)


def test_first_view_matches_simulate(app: CxApp) -> None:
    sc = load_scenario(SCENARIOS / "complaints-30-to-1.yaml")
    res = simulate(sc)  # the scenario's own draws and seed, as `cxroi run` and the report
    assert shown(app)["npv"] == res.summary.loc["npv", "p50"]
    assert app.problems == []
    assert "Cutting complaint resolution time from 30 days to 1 day" in app.pitch_html.value
    assert "cx-copy" in app.pitch_html.value
    for out in app.charts.values():
        (item,) = out.outputs
        assert cxapp.VL_MIME in item["data"]


def test_moving_a_slider_updates_npv_to_what_simulate_gives(app: CxApp) -> None:
    before = shown(app)["npv"]
    ctl = control(app, TARGET)
    ctl.slider.value = 4.2  # as on slider release (continuous_update=False)
    assert ctl.box.value == 4.2
    expected = simulate(app.base.with_lever("complaints", target=4.2))
    npv = expected.summary.loc["npv", "p50"]
    assert shown(app)["npv"] == npv != before
    assert shown_text(app, "npv") == cxview._fmt(npv, "money", "USD")
    assert app.scenario.touchpoints["complaints"].lever.target == 4.2


def test_log_slider_value_is_rounded_into_the_box(app: CxApp) -> None:
    ctl = control(app, TODAY)
    ctl.slider.value = 27.54321
    assert ctl.box.value == 27.5
    assert app.scenario.touchpoints["complaints"].lever.today == 27.5


def test_typed_box_moves_the_slider_and_grows_its_range(app: CxApp) -> None:
    one_off = control(app, "costs.one_off")
    one_off.box.value = 4_000_000
    assert one_off.slider.value == 4_000_000 and one_off.slider.max >= 4_000_000
    assert app.scenario.costs.one_off == 4_000_000
    rate = control(app, "finance.discount_rate")
    rate.box.value = 12.5
    assert app.scenario.finance.discount_rate == 0.125


@pytest.mark.parametrize(("path", "value", "words"), [
    (TARGET, 45, "worse than today"),
    ("costs.one_off", -5, "greater than or equal to 0"),
    ("costs.running_per_year", -1000, "greater than or equal to 0"),
    ("touchpoints.complaints.lever.ramp_months", 60, "longer than the horizon"),
])
def test_impossible_input_shows_a_plain_message_and_keeps_the_last_result(
        app: CxApp, path: str, value: float, words: str) -> None:
    cards, pitch, result = app.cards.value, app.pitch_html.value, app.result
    charts = {k: o.outputs for k, o in app.charts.items()}
    control(app, path).box.value = value
    assert app.problems and words in app.message.value
    assert app.message.layout.display != "none"
    assert "Traceback" not in app.message.value
    label = app._label_for(path)
    assert label in app.message.value  # names the control, not only the key path
    assert (app.cards.value, app.pitch_html.value, app.result) == (cards, pitch, result)
    assert {k: o.outputs for k, o in app.charts.items()} == charts
    assert app.save("not saved") is None and "Fix the inputs first" in app.save_status.value


def test_fixing_the_input_clears_the_message(app: CxApp) -> None:
    ctl = control(app, TARGET)
    ctl.box.value = 45
    assert app.problems
    ctl.box.value = 2
    assert not app.problems and app.message.layout.display == "none"
    assert app.scenario.touchpoints["complaints"].lever.target == 2


def test_shorter_horizon_than_ramp_is_reported(app: CxApp) -> None:
    control(app, "touchpoints.complaints.lever.ramp_months").box.value = 30
    assert not app.problems
    control(app, "finance.horizon_months").box.value = 24
    assert "longer than the horizon of 24 months" in app.message.value


def test_cards_say_what_rests_on_assumptions(app: CxApp) -> None:
    # the lead scenario rests on published benchmarks (and assumptions), measured nowhere:
    # every card says so, as cxroi.evidence grades it for the report and the pitch
    from cxroi.evidence import evidence_of

    ev = evidence_of(app.scenario, likely=app.result.likely)
    assert ev.level == "benchmark"
    assert app.cards.value.count("data-evidence='benchmark'") == len(cxview.CARDS)
    assert "published benchmarks" in app.cards.value
    assert "href='#cx-provenance'" in app.cards.value
    prov = app.provenance.value
    assert "id='cx-provenance'" in prov and "tarp-complaint-loyalty" in prov
    assert prov.count("<tr>") == 1 + 8  # header + 7 touchpoint links + referrals


def test_card_evidence_follows_the_links_behind_each_number() -> None:
    from cxroi.evidence import evidence_of

    sc = load_scenario(SCENARIOS / "complaints-30-to-1.yaml")
    for name in ("positive_share_today", "odds_ratio", "churn_gap"):
        sc = sc.with_link(f"touchpoints.complaints.links.{name}", provenance="calibrated",
                          source="demo fit")
    ev = evidence_of(sc)
    assert cxview.card_evidence(ev, "retention_savings")[0] == "measured"
    assert cxview.card_evidence(ev, "cross_sell")[0] == "mixed"
    level, basis = cxview.card_evidence(ev, "npv")
    assert level == ev.level and basis  # the headline: the money lines that carry the case
    res = simulate(sc, draws=500)
    html = cxview.cards_html(sc, res, 1, ev)
    assert "data-metric='retention_savings' data-p50=" in html
    assert re.search(r"data-metric='retention_savings'[^>]*data-evidence='measured'", html)
    assert "measured here" in html


def test_npv_card_gives_the_chance_of_losing_money_in_the_pitch_wording(app: CxApp) -> None:
    from cxroi.pitch import chance

    words = f"{chance(app.result.prob_loss)} chance it loses money"
    assert words in app.cards.value and words in app.pitch_html.value


def test_card_provenance_follows_the_links_behind_each_number() -> None:
    sc = load_scenario(SCENARIOS / "complaints-30-to-1.yaml")
    for name in ("positive_share_today", "odds_ratio", "churn_gap"):
        sc = sc.with_link(f"touchpoints.complaints.links.{name}", provenance="calibrated",
                          source="demo fit")
    assert cxview.card_provenance(sc, "retention_savings")[0] == "calibrated"
    assert cxview.card_provenance(sc, "cross_sell")[0] == "benchmark"
    assert cxview.card_provenance(sc, "npv")[0] == "assumption"


def test_save_round_trips_through_load_and_cxroi_run(app: CxApp, dirs: tuple[Path, Path]
                                                     ) -> None:
    from cxroi.cli import result_payload

    control(app, TARGET).box.value = 3
    control(app, "costs.one_off").box.value = 400_000
    path = app.save("My budget case: 30 → 3 days")
    assert path == dirs[0] / "my-budget-case-30-3-days.yaml"
    back = load_scenario(path)
    assert back == app.scenario and back.name == "My budget case: 30 → 3 days"
    assert back.touchpoints["complaints"].lever.target == 3
    assert "Saved to" in app.save_status.value
    assert app.picker.value == str(path)
    assert "Saved · My budget case: 30 → 3 days" in [o for o, _ in app.picker.options]
    payload = json.loads(json.dumps(result_payload(str(path))))
    assert payload["metrics"]["npv"]["p50"] == pytest.approx(shown(app)["npv"], rel=1e-12)
    # load it back into a fresh app: the same numbers
    again = CxApp(*dirs, initial=path)
    assert shown(again) == shown(app)
    assert control(again, TARGET).box.value == 3


def test_picking_another_scenario_rebuilds_the_controls(app: CxApp, dirs: tuple[Path, Path]
                                                        ) -> None:
    app.picker.value = str(dirs[0] / "cx-programme.yaml")
    assert app.base.name.startswith("Full CX programme")
    assert sum(c.spec.key[-1] == "target" for c in app.controls) == 3
    assert app.save_name.value == app.base.name


def test_save_never_overwrites_a_demo_scenario(app: CxApp, dirs: tuple[Path, Path]) -> None:
    demo = dirs[0] / "complaints-30-to-1.yaml"
    before = demo.read_text()
    assert app.save("complaints 30 to 1") is None
    assert "choose another name" in app.save_status.value
    assert demo.read_text() == before
    assert app.save("!!!") is None and "letters or digits" in app.save_status.value
    first = app.save("Mine")
    control(app, "costs.one_off").box.value = 300_000
    assert app.save("Mine") == first  # a saved scenario can be updated
    assert load_scenario(first).costs.one_off == 300_000


def test_scenario_files_lists_demo_calibrated_saved_and_broken(dirs: tuple[Path, Path]) -> None:
    scen = dirs[0]
    sc = load_scenario(scen / "complaints-30-to-1.yaml")
    save_scenario(sc.model_copy(update={"name": "A saved one"}), scen / "saved.yaml")
    cal = sc.with_link("touchpoints.complaints.links.churn_gap", provenance="calibrated",
                       source="demo fit")
    save_scenario(cal.model_copy(update={"name": "Calibrated here"}), scen / "calibrated.yaml")
    (scen / "broken.yaml").write_text("name: [unclosed\n")
    kinds = {f.path.name: (f.kind, f.title) for f in scenario_files(scen)}
    assert kinds["complaints-30-to-1.yaml"][0] == "Demo"
    assert kinds["saved.yaml"] == ("Saved", "A saved one")
    assert kinds["calibrated.yaml"] == ("Calibrated", "Calibrated here")
    assert kinds["broken.yaml"][0] == "Needs fixing"
    order = [f.kind for f in scenario_files(scen)]
    assert order == sorted(order, key=cxcontrols._KIND_ORDER.__getitem__)


def test_picking_a_broken_file_explains_it_and_keeps_the_result(app: CxApp,
                                                                dirs: tuple[Path, Path]) -> None:
    bad = yaml.safe_load((SCENARIOS / "complaints-30-to-1.yaml").read_text())
    bad["segments"][0]["churn"] = 12
    (dirs[0] / "zz-bad.yaml").write_text(yaml.safe_dump(bad))
    app.refresh_picker()
    cards = app.cards.value
    app.picker.value = str(dirs[0] / "zz-bad.yaml")
    assert "zz-bad.yaml cannot be used as it is" in app.message.value
    assert "annual churn as a share" in app.message.value
    assert app.cards.value == cards


def test_make_report_writes_the_file_and_links_it(app: CxApp, dirs: tuple[Path, Path]) -> None:
    app.files_root = dirs[1].parent.resolve()
    path = app.make_report()
    assert path is not None and path.is_file() and path.parent == dirs[1]
    assert path.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
    assert "voila/files/reports/complaints-resolved-in-1-day-instead-of-30.html" \
        in app.report_status.value
    assert "Report ready" in app.report_status.value


def test_report_href_outside_the_served_folder_is_a_file_uri(tmp_path: Path, app: CxApp
                                                             ) -> None:
    app.files_root = None
    assert app.report_href(tmp_path / "r.html").startswith("file://")


def test_charts_on_the_page_are_the_report_charts(app: CxApp) -> None:
    """The app sends Vega-Lite written by the ``*_spec`` functions: the very charts that
    ``cxroi.charts`` builds with altair for the report."""
    import base64

    from cxroi.charts import cash_flow_chart, tornado_chart, waterfall_chart

    res, tor = app.result, app.tornado_df
    want = {"cash_flow": cash_flow_chart(res), "waterfall": waterfall_chart(res),
            "tornado": tornado_chart(tor, app.scenario.currency)}
    for key, chart in want.items():
        (item,) = app.charts[key].outputs
        spec = dict(item["data"][cxapp.VL_MIME])
        assert spec.pop("$schema").endswith("/vega-lite/v5.json")  # Voila's Vega-Lite 5
        expected = chart.to_dict()
        expected.pop("$schema")
        assert spec == expected
        # the placeholder that spares the renderer a PNG copy and a second drawing
        assert base64.b64decode(item["data"]["image/png"]).startswith(b"\x89PNG\r\n\x1a\n")
        assert item["metadata"][cxapp.VL_MIME]["embed_options"]["renderer"] == "svg"


def test_a_failure_after_the_charts_were_sent_puts_them_back(
        app: CxApp, monkeypatch: pytest.MonkeyPatch) -> None:
    charts = {k: o.outputs for k, o in app.charts.items()}
    cards, result = app.cards.value, app.result

    def boom(*_a: object, **_k: object) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(cxapp, "cards_html", boom)
    control(app, TARGET).box.value = 3
    assert "Something went wrong" in app.message.value and "Traceback" not in app.message.value
    assert {k: o.outputs for k, o in app.charts.items()} == charts
    assert (app.cards.value, app.result) == (cards, result)


def test_controls_share_their_layout_and_style_models(app: CxApp) -> None:
    # one model each for all rows, not one per widget: a lighter page to open
    for attr in ("slider", "box"):
        assert len({id(getattr(c, attr).layout) for c in app.controls}) == 1
        assert len({id(getattr(c, attr).style) for c in app.controls}) == 1
    assert len({id(c.row.layout) for c in app.controls}) == 1


def test_the_app_kernel_never_imports_altair_or_jsonschema(dirs: tuple[Path, Path]) -> None:
    """What the app's kernel runs (build, one slider move) stays off the slow imports."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from cxroi.app import CxApp\n"
        f"app = CxApp(Path({str(dirs[0])!r}), Path({str(dirs[1])!r}))\n"
        "app.controls[1].box.value = 3\n"
        "assert not app.problems, app.problems\n"
        "heavy = [m for m in ('altair', 'jsonschema', 'vl_convert') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, cwd=ROOT)


def test_build_app_returns_the_widget_with_its_app(dirs: tuple[Path, Path]) -> None:
    widget = build_app(*dirs)
    assert widget.cx_app.scenario is not None
    assert "cx-app" in widget._dom_classes


def test_app_notebook_is_thin_and_has_no_outputs() -> None:
    nb = json.loads((ROOT / "notebooks" / "app.ipynb").read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert len(code) == 1 and code[0]["outputs"] == []
    assert "build_app()" in "".join(code[0]["source"])


def test_slugify() -> None:
    assert slugify("Complaints 30 → 2 days!") == "complaints-30-2-days"
    assert slugify("   ") == ""

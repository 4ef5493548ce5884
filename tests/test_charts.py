"""Charts: the right data in each chart, valid Vega-Lite, nothing heavy on import."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import altair as alt
import numpy as np
import pytest

from cxroi import charts
from cxroi.finance import discount_factors
from cxroi.scenario import load_scenario
from cxroi.uncertainty import simulate, tornado

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "data" / "scenarios"
LEAD = SCENARIOS / "complaints-30-to-1.yaml"


@pytest.fixture(scope="module")
def lead():
    sc = load_scenario(LEAD)
    return sc, simulate(sc, draws=600, seed=5)


def _data(chart: alt.TopLevelMixin) -> list[list[dict]]:
    spec = chart.to_dict()
    return list(spec.get("datasets", {}).values())


def test_every_chart_is_valid_vega_lite(lead):
    sc, res = lead
    built = [charts.npv_range_chart(res), charts.cash_flow_chart(res),
             charts.waterfall_chart(res), charts.tornado_chart(tornado(sc)),
             charts.flywheel_chart(sc), charts.flywheel_chart(sc, res)]
    for c in built:
        assert isinstance(c, alt.TopLevelMixin)
        spec = c.to_dict()  # validates against the Vega-Lite schema
        assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")


def test_npv_range_marks_quantiles_and_shares_sum_to_one(lead):
    _, res = lead
    sets = _data(charts.npv_range_chart(res, bins=30))
    hist = next(d for d in sets if d and "share" in d[0])
    assert len(hist) == 30
    assert sum(r["share"] for r in hist) == pytest.approx(1.0)
    marks = next(d for d in sets if d and "name" in d[0] and "value" in d[0])
    by_name = {m["name"]: m["value"] for m in marks}
    assert by_name["P50"] == pytest.approx(res.quantile("npv", 0.5))
    assert by_name["P10"] == pytest.approx(res.quantile("npv", 0.1))
    assert by_name["P90"] == pytest.approx(res.quantile("npv", 0.9))
    # bars left of zero are losses, right of zero gains
    for r in hist:
        assert r["side"] == ("gain" if (r["start"] + r["end"]) / 2 >= 0 else "loss")


def test_cash_flow_band_is_the_simulation_band(lead):
    _, res = lead
    sets = _data(charts.cash_flow_chart(res))
    band = next(d for d in sets if d and "p10" in d[0])
    want = res.band("net_cash")
    assert [r["month"] for r in band] == list(want["month"])
    np.testing.assert_allclose([r["p50"] for r in band], want["p50"])
    baseline = next(d for d in sets if d and d[0].get("arm") == "Baseline (no initiative)")
    assert all(r["value"] == 0 for r in baseline)


@pytest.mark.parametrize("basis", ["p50", "mean", "likely"])
def test_waterfall_adds_up_to_npv(lead, basis):
    _, res = lead
    w = charts.waterfall_data(res, basis)
    assert list(w["step"]) == ["Retention savings", "Cross-sell", "Cost to serve", "Advocacy",
                               "Costs", "NPV"]
    want = {"p50": res.quantile("npv", 0.5), "mean": float(np.mean(res.draws["npv"])),
            "likely": res.likely["npv"]}[basis]
    assert w["end"].iloc[-1] == pytest.approx(want, rel=1e-9)
    assert w["amount"].iloc[:-2].sum() - float(res.likely["pv_costs"]) == pytest.approx(
        want, rel=1e-9)
    assert w.loc[w["step"] == "Costs", "amount"].iloc[0] < 0


def test_waterfall_default_is_the_p50_the_cards_show(lead):
    """Every headline figure is the P50; the default waterfall ends exactly there, its
    title names the statistic, and each bar is close to the median outcome's own make-up."""
    _, res = lead
    w = charts.waterfall_data(res)
    assert w["end"].iloc[-1] == res.quantile("npv", 0.5)
    assert "median (P50)" in charts.waterfall_chart(res).to_dict()["title"]
    assert "median (P50)" in charts.waterfall_spec(res)["title"]
    pv = charts.line_present_values(res)
    assert list(w["amount"].iloc[:4]) == [pv[k] for k in charts.LINE_LABELS]
    # the bars are the make-up of the simulations around the median, adjusted a little
    df = discount_factors(res.inputs.horizon, res.inputs.discount_rate)[1:]
    npv = res.draws["npv"]
    near = np.abs(npv - np.median(npv)) <= np.quantile(np.abs(npv - np.median(npv)), 0.2)
    for line in charts.LINE_LABELS:
        own = float(np.mean((res.draws[f"{line}_monthly"] @ df)[near]))
        assert pv[line] == pytest.approx(own, rel=0.15, abs=0.02 * abs(w["end"].iloc[-1]))
    # and each line lies inside the range of its own present value over the draws
    for line in charts.LINE_LABELS:
        x = res.draws[f"{line}_monthly"] @ df
        assert np.quantile(x, 0.05) <= pv[line] <= np.quantile(x, 0.95)


def test_waterfall_p50_survives_a_zero_benefit_case(lead):
    sc, _ = lead
    still = sc.with_lever("complaints", target=sc.touchpoints["complaints"].lever.today)
    res = simulate(still, draws=200, seed=3)
    w = charts.waterfall_data(res)
    assert w["end"].iloc[-1] == pytest.approx(res.quantile("npv", 0.5))
    assert np.isfinite(w["amount"]).all()


def test_probabilities_and_bases_are_labelled_in_chart_titles(lead):
    sc, res = lead
    title = charts.npv_range_chart(res).to_dict()["title"]
    from cxroi.pitch import chance

    assert title.endswith(f"{chance(res.prob_loss)} chance NPV < 0")
    assert " 0% chance" not in title
    tor = tornado(sc, inputs=res.inputs)
    spec = charts.tornado_spec(tor, sc.currency)
    assert "likely case" in spec["title"]
    assert spec["title"] == charts.tornado_chart(tor, sc.currency).to_dict()["title"]
    # plain words for the links, no jargon
    assert "odds ratio" not in str(spec).lower()


def test_waterfall_rejects_unknown_basis(lead):
    with pytest.raises(ValueError, match="basis"):
        charts.waterfall_data(lead[1], "median")


def test_tornado_has_two_bars_per_input_largest_swing_first(lead):
    sc, _ = lead
    t = tornado(sc)
    rows, metric = charts.tornado_rows(t, top=4)
    assert metric == "npv"
    assert len(rows) == 8
    swings = list(dict.fromkeys(rows["swing"]))
    assert swings == sorted(swings, reverse=True)
    assert swings[0] == pytest.approx(t["swing"].max())
    with pytest.raises(ValueError, match="_at_low"):
        charts.tornado_rows(t.drop(columns=["npv_at_low"]))


def test_money_axis_uses_the_scenario_currency():
    sc = load_scenario(SCENARIOS / "fcr-60-to-80.yaml").model_copy(update={"currency": "EUR"})
    res = simulate(sc, draws=200, seed=1)
    spec = charts.waterfall_chart(res).to_dict()
    assert "€" in str(spec)


def test_flywheel_shows_the_scenario(lead):
    sc, res = lead
    labels = charts.flywheel_labels(sc, res)
    assert len(labels) == 5
    assert "30 days → 1 day" in labels[1]
    assert "NPV" in labels[4]
    text = str(charts.flywheel_chart(sc, res).to_dict())
    for stage in ("Investment", "Experience", "Emotion", "Behaviour", "Money"):
        assert stage in text


def test_building_charts_does_not_load_vl_convert_and_cxroi_import_stays_light():
    code = (
        "import sys\n"
        "import cxroi\n"
        "heavy = [m for m in ('altair', 'nbconvert', 'papermill', 'vl_convert') "
        "if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "from cxroi import charts\n"
        "from cxroi.scenario import load_scenario\n"
        "from cxroi.uncertainty import simulate, tornado\n"
        f"sc = load_scenario({str(LEAD)!r}); res = simulate(sc, draws=100)\n"
        "[c.to_dict() for c in (charts.npv_range_chart(res), charts.cash_flow_chart(res),"
        " charts.waterfall_chart(res), charts.tornado_chart(tornado(sc)),"
        " charts.flywheel_chart(sc, res))]\n"
        "assert 'vl_convert' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def _altair_spec(chart: alt.TopLevelMixin) -> dict:
    spec = chart.to_dict()  # validated against the Vega-Lite schema
    spec.pop("$schema")
    return spec


def _spec_cases() -> list:
    lead = load_scenario(LEAD)
    costly = lead.model_copy(update={"costs": lead.costs.model_copy(
        update={"one_off": 5e7})})  # never pays back: no payback marks
    euro = load_scenario(SCENARIOS / "fcr-60-to-80.yaml").model_copy(update={"currency": "EUR"})
    return [pytest.param(lead, True, id="lead"), pytest.param(costly, False, id="no-payback"),
            pytest.param(euro, True, id="eur"),
            pytest.param(load_scenario(SCENARIOS / "cx-programme.yaml"), True, id="programme")]


@pytest.mark.parametrize(("sc", "pays_back"), _spec_cases())
def test_spec_functions_write_exactly_the_altair_charts(sc, pays_back):
    """The app draws the ``*_spec`` mappings; they must be the report's charts, to the
    last key and dataset name (only ``$schema`` is left to the caller)."""
    res = simulate(sc, draws=500, seed=11)
    tor = tornado(sc)
    pairs = [
        (charts.cash_flow_spec(res), charts.cash_flow_chart(res)),
        (charts.cash_flow_spec(res, "net_cash_risk_adjusted", width=400, height=150),
         charts.cash_flow_chart(res, "net_cash_risk_adjusted", width=400, height=150)),
        (charts.waterfall_spec(res), charts.waterfall_chart(res)),
        (charts.waterfall_spec(res, "likely"), charts.waterfall_chart(res, "likely")),
        (charts.tornado_spec(tor, sc.currency), charts.tornado_chart(tor, sc.currency)),
        (charts.tornado_spec(tor, sc.currency, top=3, width=300),
         charts.tornado_chart(tor, sc.currency, top=3, width=300)),
        (charts.npv_range_spec(res), charts.npv_range_chart(res)),
        (charts.npv_range_spec(res, "npv_risk_adjusted", bins=12, width=300, height=120),
         charts.npv_range_chart(res, "npv_risk_adjusted", bins=12, width=300, height=120)),
        (charts.flywheel_spec(sc, res), charts.flywheel_chart(sc, res)),
        (charts.flywheel_spec(sc, None, size=300), charts.flywheel_chart(sc, None, size=300)),
    ]
    for spec, chart in pairs:
        assert "$schema" not in spec
        assert spec == _altair_spec(chart)
    marks = [layer["mark"]["type"] for layer in pairs[0][0]["layer"]]
    assert ("rule" in marks) == pays_back == np.isfinite(res.quantile("payback_month", 0.5))


def test_spec_functions_do_not_import_altair():
    code = (
        "import sys\n"
        "from cxroi import charts\n"
        "from cxroi.scenario import load_scenario\n"
        "from cxroi.uncertainty import simulate, tornado\n"
        f"sc = load_scenario({str(LEAD)!r}); res = simulate(sc, draws=100)\n"
        "charts.cash_flow_spec(res); charts.waterfall_spec(res)\n"
        "charts.tornado_spec(tornado(sc), sc.currency)\n"
        "charts.npv_range_spec(res); charts.flywheel_spec(sc, res)\n"
        "assert 'altair' not in sys.modules, 'altair imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_report_pictures_from_specs_are_the_altair_charts_pictures(lead):
    """The report renders the ``*_spec`` mappings: their SVG is byte for byte the SVG of
    the altair charts it drew before (the ``$schema`` key changes nothing)."""
    import vl_convert as vlc

    sc, res = lead
    tor = tornado(sc, inputs=res.inputs)
    pairs = [(charts.waterfall_spec(res, "p50", width=520, height=190),
              charts.waterfall_chart(res, "p50", width=520, height=190)),
             (charts.npv_range_spec(res), charts.npv_range_chart(res)),
             (charts.cash_flow_spec(res), charts.cash_flow_chart(res)),
             (charts.tornado_spec(tor, sc.currency), charts.tornado_chart(tor, sc.currency)),
             (charts.flywheel_spec(sc, res), charts.flywheel_chart(sc, res))]
    for spec, chart in pairs:
        svg = vlc.vegalite_to_svg(spec)
        assert svg.startswith("<svg") and "<text" in svg
        assert svg == vlc.vegalite_to_svg(chart.to_dict())


def _report_specs(sc, res) -> dict[str, dict]:
    tor = tornado(sc, inputs=res.inputs)
    return {"waterfall": charts.waterfall_spec(res, "p50", width=520, height=190),
            "npv": charts.npv_range_spec(res), "cash": charts.cash_flow_spec(res),
            "tornado": charts.tornado_spec(tor, sc.currency),
            "flywheel": charts.flywheel_spec(sc, res)}


@pytest.mark.parametrize("name", ["complaints-30-to-1", "cx-programme", "tei-salesloft"])
def test_lifting_label_limits_changes_no_picture(name):
    """The report drops the label limits no label reaches (each label is then measured
    once, not twice): every chart's SVG stays byte for byte what Vega draws with them."""
    import vl_convert as vlc

    from cxroi.report.label_limits import lift_label_limits

    sc = load_scenario(SCENARIOS / f"{name}.yaml")
    res = simulate(sc, draws=600, seed=5)
    for key, spec in _report_specs(sc, res).items():
        lifted = lift_label_limits(spec)
        assert lifted is not spec, key  # recognised and lifted
        assert lifted["config"]["axis"]["labelLimit"] == 0
        assert "labelLimit" not in spec["config"]["axis"]  # the original is untouched
        assert vlc.vegalite_to_svg(lifted) == vlc.vegalite_to_svg(spec), key


def test_a_label_beyond_its_limit_keeps_the_limit(lead):
    """When a label would be truncated, the spec is left as it is (and Vega truncates)."""
    import vl_convert as vlc

    from cxroi.report.label_limits import lift_label_limits, text_width

    sc, res = lead
    spec = charts.waterfall_spec(res, "p50", width=520, height=190)
    labels = spec["layer"][0]["encoding"]["x"]["sort"]
    widest = max(labels, key=lambda t: text_width(t, spec["config"]["axis"]["labelFont"], 10))
    w = text_width(widest, spec["config"]["axis"]["labelFont"], 10)
    assert 20 < w < 180

    def limit(px: float) -> None:  # the step axis's limit (both layers draw it)
        for layer in spec["layer"]:
            layer["encoding"]["x"]["axis"]["labelLimit"] = px

    limit(w - 5)  # the widest label no longer fits
    assert lift_label_limits(spec) is spec
    assert "…" in vlc.vegalite_to_svg(spec)
    limit(w + 3)  # it fits: lifted, and no truncation
    lifted = lift_label_limits(spec)
    assert lifted is not spec and lifted["layer"][0]["encoding"]["x"]["axis"]["labelLimit"] == 0
    assert "…" not in vlc.vegalite_to_svg(spec)
    assert vlc.vegalite_to_svg(lifted) == vlc.vegalite_to_svg(spec)  # the same picture


def _long_label_spec(**x: object) -> dict:
    """A bar chart whose nominal axis has one value far beyond its 40 px label limit."""
    rows = [{"step": "short", "v": 1.0}, {"step": "a very long label " * 4, "v": 2.0}]
    return {"datasets": {"d": rows}, "data": {"name": "d"}, "mark": "bar",
            "encoding": {"x": {"field": "step", "type": "nominal", "axis": {"labelLimit": 40},
                               **x},
                         "y": {"field": "v", "type": "quantitative"}}}


def test_labels_drawn_but_not_in_the_sort_list_or_rows_keep_the_limit():
    """A value drawn though not in the sort list, a field computed in Vega (not in the
    rows) and a label made by an expression are not what the rows say: the limit stays."""
    import vl_convert as vlc

    from cxroi.report.label_limits import lift_label_limits

    sorted_short = _long_label_spec(sort=["short"])
    assert lift_label_limits(sorted_short) is sorted_short
    assert "…" in vlc.vegalite_to_svg(sorted_short)  # Vega does truncate it
    computed = _long_label_spec()
    computed["transform"] = [{"calculate": "datum.step + '!'", "as": "shown"}]
    computed["encoding"]["x"]["field"] = "shown"
    assert lift_label_limits(computed) is computed
    expr = _long_label_spec()
    expr["datasets"]["d"] = [{"step": "a", "v": 1.0}]
    expr["encoding"]["x"]["axis"]["labelExpr"] = "'a very long label ' + datum.label"
    assert lift_label_limits(expr) is expr


def test_money_axis_with_a_long_currency_code_keeps_its_limit(lead):
    from cxroi.report.label_limits import lift_label_limits

    sc, res = lead
    spec = charts.cash_flow_spec(res)
    assert lift_label_limits(spec) is not spec
    axis = spec["layer"][0]["encoding"]["y"]["axis"]
    axis["labelExpr"] = axis["labelExpr"].replace("'$'", "'" + "X" * 8 + " '")
    assert lift_label_limits(spec) is spec  # 9 + 9 characters could reach 180 px


def test_number_labels_are_within_the_assumed_width_per_character():
    """Money and number axes are lifted without measuring their labels, on a bound of
    MAX_EM_PER_CHAR font sizes per character: check it on vl-convert's measure of every
    character such a label is written with (currency codes included)."""
    import string

    from cxroi.charts.data import _FONT
    from cxroi.pitch import _SYMBOLS
    from cxroi.report.label_limits import MAX_EM_PER_CHAR, MONEY_CHARS, text_width

    chars = set(string.digits + string.ascii_uppercase + ".,-−+%kMGTPBmµnpfazy ")
    chars |= set("".join(_SYMBOLS.values()))
    for c in sorted(chars):
        assert text_width(c * 10, _FONT, 10) <= 10 * 10 * MAX_EM_PER_CHAR, c
    assert MONEY_CHARS >= len("-123.457M")


def test_compiled_chart_shapes_are_reused_with_this_charts_rows(lead):
    """The report compiles a chart shape to Vega once and puts each chart's rows back in:
    a second scenario result of the same shape hits the cache and still draws its own
    numbers, byte for byte what vl-convert draws from the spec."""
    import vl_convert as vlc

    from cxroi.report import svg as report_svg

    sc, res = lead
    other = simulate(sc, draws=600, seed=6)
    for make in (charts.cash_flow_spec, charts.npv_range_spec,
                 lambda r: charts.waterfall_spec(r, "p50", width=520, height=190)):
        first, second = make(res), make(other)
        assert first["datasets"] != second["datasets"]
        assert report_svg.to_vega(first) is not None
        n = len(report_svg._vega_cache)
        vega = report_svg.to_vega(second)
        assert len(report_svg._vega_cache) == n  # a hit
        assert vlc.vega_to_svg(vega) == vlc.vegalite_to_svg(second)
        assert vlc.vega_to_svg(vega) != vlc.vegalite_to_svg(first)


def test_waterfall_shows_cash_flow_benefits_as_their_own_bar():
    """A TEI-style case (no lever moves, the study's benefits are cash-flow lines) must not
    pin its benefits on "Retention savings": they get their own bar, worth exactly the
    study's PV of benefits, $7,168,371; the model's own lines stay at zero."""
    sc = load_scenario(SCENARIOS / "tei-salesloft.yaml")
    res = simulate(sc, draws=200, seed=5)
    for basis in ("p50", "mean", "likely"):
        w = charts.waterfall_data(res, basis).set_index("step")["amount"]
        assert w["Other benefits"] == pytest.approx(7_168_371, abs=1.0), basis
        for step in ("Retention savings", "Cross-sell", "Cost to serve", "Advocacy"):
            assert w[step] == pytest.approx(0.0, abs=1e-6), (basis, step)
        assert w["Costs"] == pytest.approx(-1_672_201, abs=1.0)
        assert w["NPV"] == pytest.approx(5_496_170, abs=1.0)
    labels = [r["step"] for r in charts.waterfall_spec(res)["datasets"][
        charts.waterfall_spec(res)["data"]["name"]]]
    assert labels.index("Other benefits") == labels.index("Costs") - 1
    # a case without cash-flow lines keeps its four bars (its chart is unchanged)
    lead_res = simulate(load_scenario(LEAD), draws=200, seed=5)
    assert "Other benefits" not in set(charts.waterfall_data(lead_res)["step"])


def test_npv_range_of_a_case_without_spread_reads_cleanly():
    """Forrester's study has no ranges: every simulation gives the same NPV. The marks
    must not print "P10", "P50" and "P90" on top of one another, nor the share axis run
    past 100%."""
    sc = load_scenario(SCENARIOS / "tei-salesloft.yaml")
    res = simulate(sc, draws=200, seed=5)
    spec = charts.npv_range_spec(res)
    texts = spec["datasets"][spec["layer"][2]["data"]["name"]]
    assert [t["label"] for t in texts] == ["P10 = P50 = P90 $5.5M"]
    y_axis = spec["layer"][0]["encoding"]["y"]["axis"]
    assert max(y_axis["values"]) == 1.0
    import vl_convert as vlc

    svg = vlc.vegalite_to_svg(spec)  # every tick drawn, none beyond 100%
    assert re.findall(r'opacity="1">(\d+%)</text>', svg) == ["0%", "20%", "40%", "60%",
                                                              "80%", "100%"]
    assert texts[0]["y"] > 1.0  # the label sits above the bar, in room the scale keeps
    assert spec["layer"][0]["encoding"]["y"]["scale"]["domain"][1] > texts[0]["y"]
    # a case with a spread keeps its three marks and Vega's own axis
    lead_spec = charts.npv_range_spec(simulate(load_scenario(LEAD), draws=300, seed=5))
    texts = lead_spec["datasets"][lead_spec["layer"][2]["data"]["name"]]
    assert [t["name"] for t in texts] == ["P10", "P50", "P90"]
    assert "values" not in lead_spec["layer"][0]["encoding"]["y"]["axis"]


def test_flywheel_investment_counts_cost_lines():
    """The flywheel's "Investment" is what the cost card says: with the study's cost lines,
    $2.0M over 36 months (it read "$0 over 36 months")."""
    sc = load_scenario(SCENARIOS / "tei-salesloft.yaml")
    res = simulate(sc, draws=100, seed=5)
    assert charts.flywheel_labels(sc, res)[0] == "$2.0M over 36 months"
    assert charts.flywheel_labels(sc)[0] == "$2.0M over 36 months"
    lead = load_scenario(LEAD)
    assert charts.flywheel_labels(lead, simulate(lead, draws=100, seed=5))[0] == \
        "$400k over 36 months"

"""The report's charts: compiled once per shape, titles and rows put back, the same Vega
and SVG as compiling each chart on its own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ["complaints-30-to-1", "fcr-60-to-80", "order-simplification", "cx-programme"]


def _report_specs(monkeypatch, scenario, draws=300, seed=3):
    """Every Vega-Lite mapping a business case's sections render."""
    from cxroi.report import business_case
    from cxroi.report import svg as report_svg

    specs = []
    real = report_svg.render_svg

    def spy(spec):
        specs.append(spec)
        return real(spec)

    monkeypatch.setattr(report_svg, "render_svg", spy)
    case = business_case(scenario, draws=draws, seed=seed)
    for name in ("summary_section", "range_section", "drivers_section", "flywheel_section"):
        getattr(case, name)()
    monkeypatch.setattr(report_svg, "render_svg", real)
    return specs


def _own_compile(spec):
    """What vl-convert compiles the chart to on its own, datasets named as ``to_vega``
    names them."""
    import vl_convert as vlc

    from cxroi.report.svg import _rename_data

    datasets = spec.get("datasets") or {}
    canon = {name: f"cxroi_{i}" for i, name in enumerate(datasets)}
    vega = vlc.vegalite_to_vega(_rename_data(spec, canon) | {
        "datasets": {canon[n]: rows for n, rows in datasets.items()}})
    return json.loads(json.dumps(vega))


@pytest.fixture(scope="module")
def report_specs():
    mp = pytest.MonkeyPatch()
    from cxroi.scenario import load_scenario

    out = []
    try:
        for i, name in enumerate(SCENARIOS):
            sc = load_scenario(ROOT / "data" / "scenarios" / f"{name}.yaml")
            for k, scale in enumerate((1.0, 1.7)):
                sc2 = sc.model_copy(update={"costs": sc.costs.model_copy(
                    update={"one_off": sc.costs.one_off * scale})})
                out += _report_specs(mp, sc2, seed=3 + i + k)
    finally:
        mp.undo()
    return out


def test_titles_with_figures_share_one_compiled_shape(report_specs):
    """The titles carry the scenario's figures; the compiled shapes do not depend on them."""
    from cxroi.report import svg as report_svg

    titles = {s["title"] for s in report_specs if isinstance(s.get("title"), str)}
    assert any("likely case" in t for t in titles) and len(titles) > 10
    report_svg._vega_cache.clear()
    for spec in report_specs:
        report_svg.to_vega(spec)
    # the shapes as keyed before (datasets' rows left out, titles kept)
    with_titles = {json.dumps({k: v for k, v in s.items() if k != "datasets"}, sort_keys=True)
                   for s in report_specs}
    assert 0 < len(report_svg._vega_cache) <= len(with_titles) - len(titles) / 2
    assert all(titled for _, _, titled in report_svg._vega_cache.values())


def test_the_vega_is_each_charts_own_compile(report_specs):
    """Whole compiled Vega, title and rows put back, equals each chart's own compile (so
    the SVG is the same byte for byte); and the SVG checked on a few."""
    import vl_convert as vlc

    from cxroi.report import svg as report_svg

    report_svg._vega_cache.clear()
    for spec in report_specs:
        assert report_svg.to_vega(spec) == _own_compile(spec), spec.get("title")
    for spec in report_specs[::7]:
        assert vlc.vega_to_svg(report_svg.to_vega(spec)) == vlc.vegalite_to_svg(spec)


def test_a_title_that_is_not_plain_text_stays_in_the_key(report_specs):
    """Empty, multi-line, non-text titles and one holding the placeholder are compiled
    with their own text, and still give each chart's own Vega."""
    from cxroi.report import svg as report_svg

    base = next(s for s in report_specs if "likely case" in str(s.get("title")))
    for title in ("", "two\nlines", ["a list", "of lines"], {"text": "a dict title"},
                  {"text": ""}, f"holds {report_svg._TITLE} inside", None):
        spec = dict(base, title=title) if title is not None else {
            k: v for k, v in base.items() if k != "title"}
        assert report_svg.to_vega(spec) == _own_compile(spec), title


def test_a_placeholder_found_inside_another_string_is_not_used(monkeypatch, report_specs):
    """If the compiled Vega holds the placeholder inside a longer string (a compiler that
    derived text from the title), the title goes into the key instead."""
    import vl_convert as vlc

    from cxroi.report import svg as report_svg

    real = vlc.vegalite_to_vega

    def deriving(spec, *a, **k):
        vega = real(spec, *a, **k)
        t = spec.get("title")
        vega["description"] = "Chart: " + (t if isinstance(t, str) else json.dumps(t))
        return vega

    monkeypatch.setattr(vlc, "vegalite_to_vega", deriving)
    report_svg._vega_cache.clear()
    spec = next(s for s in report_specs if "likely case" in str(s.get("title")))
    vega = report_svg.to_vega(spec)
    assert vega["description"] == "Chart: " + spec["title"]
    assert report_svg._TITLE not in json.dumps(vega)
    report_svg._vega_cache.clear()

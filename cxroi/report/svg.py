"""Charts as inline SVG, offline: Vega-Lite rendered by vl-convert (no browser, no
network, no Vega scripts in the page).

The report draws its charts from the plain Vega-Lite mappings of :mod:`cxroi.charts.specs`
(no altair object on the hot path); altair charts are accepted too (serialised with
``to_dict``). Identical charts are rendered once per process (:func:`render_svg` keeps
the last :data:`SVG_CACHE_SIZE` results, keyed by the spec's canonical JSON).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import altair as alt


#: How many rendered charts a process keeps (a re-render of the same spec is free).
SVG_CACHE_SIZE = 64
_cache: OrderedDict[str, str] = OrderedDict()
_cache_lock = Lock()


def chart_spec(chart: dict[str, Any] | alt.TopLevelMixin) -> dict[str, Any]:
    """The Vega-Lite mapping of a chart (a mapping as it is; an altair chart's
    ``to_dict()``)."""
    return chart if isinstance(chart, dict) else chart.to_dict()


def render_svg(spec: dict[str, Any]) -> str:
    """Standalone SVG of a Vega-Lite mapping (vl-convert), cached per process.

    The ``$schema`` key may be left out (vl-convert's Vega-Lite version is used; the
    picture is the same). Label-length limits that no label reaches are dropped first
    (:func:`cxroi.report.label_limits.lift_label_limits`: the same picture, each label
    measured once instead of twice).
    """
    key = hashlib.sha256(json.dumps(spec, sort_keys=True, default=str,
                                    allow_nan=True).encode()).hexdigest()
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    import vl_convert as vlc

    from cxroi.report.label_limits import lift_label_limits

    svg = vlc.vega_to_svg(to_vega(lift_label_limits(spec)))
    with _cache_lock:
        _cache[key] = svg
        while len(_cache) > SVG_CACHE_SIZE:
            _cache.popitem(last=False)
    return svg


#: Compiled Vega of the last chart shapes (Vega-Lite spec without its datasets' rows).
VEGA_CACHE_SIZE = 32
_vega_cache: OrderedDict[str, tuple[str, set[str], bool]] = OrderedDict()


def _rename_data(node: Any, names: dict[str, str]) -> Any:
    """``node`` with every ``{"data": {"name": old}}`` reference renamed by ``names``."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "data" and isinstance(v, dict) and v.get("name") in names:
                out[k] = dict(v, name=names[v["name"]])
            else:
                out[k] = _rename_data(v, names)
        return out
    if isinstance(node, list):
        return [_rename_data(v, names) for v in node]
    return node


#: What a chart's title is compiled as, put back in the compiled Vega (a JSON string token).
_TITLE = "cxroi-chart-title-e3b0c442"


def _template_title(spec: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """``spec`` with its top-level title text replaced by :data:`_TITLE`, and the text;
    ``(spec, None)`` when the title is not a plain one-line text (left in the shape).

    The report's titles carry the scenario's figures ("likely case $1.7M", "2% chance NPV
    < 0"), so without this nearly every report had a chart shape of its own to compile.
    """
    title = spec.get("title")
    if isinstance(title, dict):
        text = title.get("text")
        if _plain(text):
            return spec | {"title": title | {"text": _TITLE}}, text
        return spec, None
    if _plain(title):
        return spec | {"title": _TITLE}, title
    return spec, None


def _plain(text: Any) -> bool:
    return isinstance(text, str) and text != "" and text.isprintable() and _TITLE not in text


def to_vega(spec: dict[str, Any]) -> dict[str, Any]:
    """The Vega mapping vl-convert compiles a Vega-Lite mapping to, compiled once per
    chart *shape* in a process: the spec with its datasets renamed in order
    (``cxroi_0``, ``cxroi_1``, ...), their rows left out and its title text replaced by
    a placeholder is the key; a hit gets this spec's rows and title put back. Vega-Lite's
    compiler does not read the rows of inline datasets, and it copies a title's text
    into the Vega as it is (a shape whose compiled Vega holds the placeholder anywhere
    but as a whole JSON string keeps its own title in the key): the Vega is the same as
    the spec's own compile, compared whole in ``tests/test_report_svg.py``, and the SVG
    the same byte for byte. Compiling costs 4-5 ms a chart of its 20-60.
    """
    import vl_convert as vlc

    datasets = spec.get("datasets") or {}
    canon = {name: f"cxroi_{i}" for i, name in enumerate(datasets)}
    templated, title = _template_title(spec)
    hit = None
    for body, text in ((templated, title), (spec, None)) if title is not None else \
            ((spec, None),):
        shape = _rename_data({k: v for k, v in body.items() if k != "datasets"}, canon)
        shape["datasets"] = {canon[n]: len(rows) for n, rows in datasets.items()}
        key = json.dumps(shape, sort_keys=True, default=str, allow_nan=True)
        with _cache_lock:
            hit = _vega_cache.get(key)
            if hit is not None:
                _vega_cache.move_to_end(key)
        if hit is None:
            hit = _compile(vlc, body, datasets, canon, text is not None)
            with _cache_lock:
                _vega_cache[key] = hit
                while len(_vega_cache) > VEGA_CACHE_SIZE:
                    _vega_cache.popitem(last=False)
        if hit[2] or text is None:  # usable: the title goes back in, or it is in the key
            break
    vega_text, rows_at, titled = hit
    if titled:
        vega_text = vega_text.replace(json.dumps(_TITLE), json.dumps(title))
    vega = json.loads(vega_text)
    rows = {canon[n]: r for n, r in datasets.items()}
    for d in vega.get("data", []):
        if d["name"] in rows_at:
            d["values"] = rows[d["name"]]
    return vega


def _compile(vlc: Any, spec: dict[str, Any], datasets: dict[str, Any],
             canon: dict[str, str], templated: bool) -> tuple[str, set[str], bool]:
    """(compiled Vega as JSON text with the rows left out, the names of the datasets whose
    rows go back in, whether the placeholder title goes back in)."""
    vega = vlc.vegalite_to_vega(_rename_data(spec, canon) | {
        "datasets": {canon[n]: rows for n, rows in datasets.items()}})
    rows_at = {d["name"] for d in vega.get("data", [])
               if "values" in d and d["name"] in canon.values()}
    for d in vega.get("data", []):
        if d["name"] in rows_at:
            d["values"] = []
    text = json.dumps(vega)
    # the placeholder only as whole JSON strings (the title's text), never inside another
    titled = templated and text.count(_TITLE) == text.count(json.dumps(_TITLE)) > 0
    return text, rows_at, titled


def _svg_pair(chart: dict[str, Any] | alt.TopLevelMixin) -> tuple[str, str]:
    """(inline SVG for HTML, standalone SVG file text) of a chart."""
    svg = render_svg(chart_spec(chart))
    inline = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg, count=2)
    inline = inline.replace("<svg ", '<svg role="img" style="max-width:100%;height:auto" ', 1)
    return inline, svg


def to_svg(chart: dict[str, Any] | alt.TopLevelMixin) -> str:
    """Inline SVG of a chart (a Vega-Lite mapping or an altair chart).

    The ``xmlns`` attributes are dropped (inline SVG in HTML does not need them) and the
    picture scales down to the page width.
    """
    return _svg_pair(chart)[0]


@dataclass(frozen=True)
class Picture:
    """A chart as SVG, offline (no Vega scripts from a CDN).

    In a trusted notebook JupyterLab shows the SVG; in an untrusted one (SVG is not a
    "safe" output there) it falls back to ``text``, a plain-text table of the chart's
    numbers, instead of garbled markup.
    """

    svg: str
    text: str = "(chart)"
    svg_file: str = ""

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        return {"image/svg+xml": self.svg_file or self.svg, "text/plain": self.text}


def picture(chart: dict[str, Any] | alt.TopLevelMixin, text: str | None = None) -> Picture:
    """Wrap a chart (altair or a Vega-Lite mapping) for display in a notebook; ``text`` is
    the fallback for an untrusted notebook (default: the chart's data as a text table)."""
    spec = chart_spec(chart)
    inline, standalone = _svg_pair(spec)
    if text is None:
        text = _chart_text(spec)
    return Picture(inline, text, standalone)


def _chart_text(chart: dict[str, Any] | alt.TopLevelMixin) -> str:
    """The chart's title and its first dataset as a plain-text table."""
    import pandas as pd

    spec = chart_spec(chart)
    title = spec.get("title") or ""
    title = title if isinstance(title, str) else str(title.get("text", ""))
    sets = list(spec.get("datasets", {}).values())
    table = pd.DataFrame(sets[0]).to_string(index=False, max_rows=30) if sets and sets[0] else ""
    return "\n".join(x for x in (title, table) if x) or "(chart)"


@dataclass(frozen=True)
class Chart:
    """One chart of a section: inline SVG for the report and the notebook's trusted view,
    and a plain-text table for an untrusted notebook."""

    key: str
    title: str
    svg: str
    svg_file: str
    text: str
    caption: str = ""


def make_chart(key: str, title: str, chart: dict[str, Any] | alt.TopLevelMixin, text: str,
               caption: str = "") -> Chart:
    """Render a chart (a :mod:`cxroi.charts.specs` mapping or an altair chart) for a
    section: ``key`` names it in the section's template, ``text`` is its untrusted-notebook
    fallback and ``caption`` the sentence under it."""
    inline, standalone = _svg_pair(chart)
    return Chart(key, title, inline, standalone, text, caption)

"""The page's chart library, vendored: Vega, Vega-Lite 5 and Vega-Embed in one script.

The charts are written in Vega-Lite (:mod:`cxroi.charts`) and compiled to Vega by the
workers (:func:`vega_spec`, vl-convert, once per chart *shape*: later updates of the same
chart only send new data), so the page compiles nothing: Vega-Embed draws the Vega spec
(``mode: "vega"``). (vl-convert cannot bundle the Vega runtime alone: its bundler
imports Vega's default export, which Vega does not have.)

``static/vega-bundle.js`` is committed with the package (so ``cxroi app`` needs no network, no
Node and no bundling at start: making the bundle takes about 3 s, more than the app's
whole cold-start budget). It was written by :func:`write_bundle` with vl-convert's
:func:`vl_convert.javascript_bundle`; run ``python -m cxroi.app.bundle`` to write it
again after upgrading vl-convert-python.
"""

from __future__ import annotations

from pathlib import Path

BUNDLE = Path(__file__).resolve().parent / "static" / "vega-bundle.js"
#: Vega-Lite major.minor the charts of :mod:`cxroi.charts` are written for.
VEGA_LITE = "5.21"


def write_bundle(path: Path = BUNDLE, vl_version: str = VEGA_LITE) -> Path:
    """Write the bundle (``window.vegaEmbed``) with a first line naming the versions
    inside."""
    import vl_convert as vlc

    js = vlc.javascript_bundle(vl_version=vl_version)
    head = (f"/* cxroi app: Vega {vlc.get_vega_version()}, Vega-Lite {vl_version}, "
            f"Vega-Embed {vlc.get_vega_embed_version()}; written by vl-convert "
            f"{vlc.__version__} (python -m cxroi.app.bundle). */\n")
    path.write_text(head + js, encoding="utf-8")
    return path


def vega_spec(vega_lite: dict) -> dict:
    """A Vega-Lite spec compiled to Vega with the Vega-Lite version of :data:`VEGA_LITE`.

    The ``$schema`` (Vega 5) is dropped: the bundle's Vega 6 runtime draws these specs
    as they are, and would otherwise warn about the version in the browser's console.
    """
    import vl_convert as vlc

    spec = vlc.vegalite_to_vega(vega_lite, vl_version=VEGA_LITE)
    spec.pop("$schema", None)
    return spec


def svg(vega: dict, data: dict[str, list]) -> str:
    """A compiled chart drawn to SVG on the server (vl-convert), its datasets filled with
    ``data``: the first view of a page shows these while its browser reads the bundle."""
    import json

    import vl_convert as vlc

    spec = json.loads(json.dumps(vega))
    for d in spec.get("data", []):
        if d.get("name") in data:
            d["values"] = data[d["name"]]
    return vlc.vega_to_svg(spec)


if __name__ == "__main__":  # pragma: no cover
    print(write_bundle())

"""What every part of the report shares: mime types, where the notebook lives,
fingerprints, JSON for a page, the Jinja2 templates and the stylesheets.

Light on purpose (no pandas or altair at import; numpy comes with ``import cxroi``
anyway): the batch's worker processes import it to export a notebook.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections import OrderedDict
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from threading import Lock
from typing import TYPE_CHECKING, Any

import numpy as np
from markupsafe import Markup

import cxroi
from cxroi.errors import ReportError

if TYPE_CHECKING:
    from cxroi.scenario import Scenario

RESULTS_MIME = "application/vnd.cxroi.results+json"
#: Mime type of a section's report markup (what the report's template renders).
SECTION_MIME = "application/vnd.cxroi.section+html"
#: The notebook every report is rendered from.
NOTEBOOK_NAME = "02-business-case.ipynb"


def notebooks_dir() -> Path:
    """``notebooks/`` of the cxroi checkout (override with ``CXROI_NOTEBOOKS``)."""
    env = os.environ.get("CXROI_NOTEBOOKS")
    return Path(env) if env else Path(cxroi.__file__).resolve().parents[1] / "notebooks"


def business_case_notebook() -> Path:
    """Path of the business-case notebook; :class:`ReportError` when it is missing."""
    p = notebooks_dir() / NOTEBOOK_NAME
    if not p.is_file():
        raise ReportError(f"{p}: business-case notebook not found. Fix: run from a cxroi "
                          f"checkout or set CXROI_NOTEBOOKS to the folder holding "
                          f"{NOTEBOOK_NAME}")
    return p


#: Scenario fingerprints known in this process, by :func:`scenario_data_key`; at most
#: :data:`FINGERPRINT_MEMO_SIZE`, the oldest dropped first.
FINGERPRINT_MEMO_SIZE = 256
_fingerprints: OrderedDict[str, str] = OrderedDict()
_fingerprints_lock = Lock()


def scenario_data_key(sc: Scenario) -> str:
    """The scenario's data, written so that two scenarios with the same key have the same
    canonical YAML: the ``repr`` of ``sc.model_dump(mode="json")``, which is all
    :func:`cxroi.scenario.scenario_to_yaml` writes from. ``repr`` tells apart every
    value of that dump (``1``, ``1.0`` and ``True``; every float, by its shortest
    round-trip digits; key order), and costs 0.05-0.1 ms where the YAML costs 3-7 ms."""
    return repr(sc.model_dump(mode="json"))


def remember_scenario_yaml(key: str, text: str) -> str:
    """Remember that the scenario with :func:`scenario_data_key` ``key`` has the canonical
    YAML ``text`` (the batch planned it, and passes both to the worker that runs it):
    :func:`scenario_fingerprint` then hashes ``text`` instead of writing the YAML again.
    The caller guarantees ``text == scenario_to_yaml(sc)`` for the scenario ``key``
    came from. Returns the fingerprint (sha256 of ``text``)."""
    fp = hashlib.sha256(text.encode("utf-8")).hexdigest()
    with _fingerprints_lock:
        _fingerprints[key] = fp
        _fingerprints.move_to_end(key)
        while len(_fingerprints) > FINGERPRINT_MEMO_SIZE:
            _fingerprints.popitem(last=False)
    return fp


def scenario_fingerprint(sc: Scenario) -> str:
    """sha256 of the scenario's canonical YAML (what the report was computed from).

    Kept per process by :func:`scenario_data_key` (a scenario with the same data has the
    same YAML): a batch worker gets the YAML its batch planned
    (:func:`remember_scenario_yaml`) and does not write it again.
    """
    from cxroi.scenario import scenario_to_yaml

    key = scenario_data_key(sc)
    with _fingerprints_lock:
        fp = _fingerprints.get(key)
    return fp if fp is not None else remember_scenario_yaml(key, scenario_to_yaml(sc))


def fingerprint_data(path: str | os.PathLike[str], length: int = 16) -> str:
    """Fingerprint of company data: sha256 over a file's bytes, or over every file of a
    folder (relative names and bytes, in name order). Shown in report footers so a
    reader can tell which data a calibrated scenario came from.

    Raises
    ------
    ReportError
        When the path does not exist.
    """
    p = Path(path)
    if not p.exists():
        raise ReportError(f"{p}: no such data file or folder to fingerprint. Fix: give the "
                          "data path used for calibration")
    h = hashlib.sha256()
    files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.is_file())
    for f in files:
        h.update(f.relative_to(p if p.is_dir() else p.parent).as_posix().encode())
        h.update(b"\0")
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:length]

def _json_safe(x: Any) -> Any:
    """Plain JSON values: numpy scalars as Python numbers, NaN and infinities as null."""
    if isinstance(x, Mapping):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_json_safe(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def script_json(data: Any) -> str:
    """JSON that is safe inside an HTML ``<script type="application/json">`` element (and
    from maths renderers: ``$`` is written ``\\u0024``)."""
    text = json.dumps(_json_safe(data), ensure_ascii=False, sort_keys=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("$", "\\u0024"))


def _mathjax_safe(value: Any) -> Markup:
    """Jinja ``finalize``: escape the value (unless it is already markup) and write every
    ``$`` as ``&#36;``, so no maths renderer reads money as formula delimiters."""
    from markupsafe import Markup, escape

    m = value if isinstance(value, Markup) else escape("" if value is None else value)
    return Markup(str(m).replace("$", "&#36;"))


@lru_cache(maxsize=1)
def templates() -> Any:
    """The Jinja2 environment of the report's sections (autoescaped, money made safe from
    MathJax, undefined names are errors)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("cxroi", "resources/report"),
                             autoescape=True, finalize=_mathjax_safe,
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=False)
    from cxroi.pitch import money

    env.filters["money"] = money
    return env


def render_template(template: str, /, **context: Any) -> str:
    """Render ``cxroi/resources/report/<template>`` with ``context``."""
    return templates().get_template(template).render(**context)


@lru_cache(maxsize=1)
def section_css() -> str:
    """The sections' stylesheet, every rule scoped under ``.cx-report`` (safe to inline in
    a JupyterLab output without restyling JupyterLab)."""
    return resources.files("cxroi").joinpath("resources/sections.css").read_text("utf-8")


@lru_cache(maxsize=1)
def report_css() -> str:
    """The report's stylesheet (the page, screen and print, then the sections' scoped
    rules), inlined into every report and into the batch index."""
    page = resources.files("cxroi").joinpath("resources/report.css").read_text("utf-8")
    return page + "\n" + section_css()

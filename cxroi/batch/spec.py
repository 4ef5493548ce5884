"""The batch file: :func:`load_spec` reads a batch YAML, a folder of scenario files or
one scenario file into a :class:`BatchSpec`, naming the file, the key and the fix on
bad input.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cxroi.batch.results import slug
from cxroi.errors import BatchError
from cxroi.scenario import load_yaml, scenario_files, yaml_fix

SPEC_KEYS = {"name", "initiatives", "segments", "segment_costs", "variants", "draws", "seed",
             "data_fingerprint", "timeout", "notebook"}
#: Summary columns taken from each run's metrics into the results table.

def _read_yaml(path: Path) -> Any:
    try:
        return load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise BatchError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)}). "
                         f"Fix: {yaml_fix(exc)}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchError(f"{path}: cannot read the file ({exc}). Fix: check the path") from None


def _is_scenario(data: Any) -> bool:
    return isinstance(data, dict) and "touchpoints" in data and "segments" in data


@dataclass(frozen=True)
class BatchSpec:
    """A parsed batch file: what to run and with which settings."""

    name: str
    initiatives: list[tuple[str, Path]]
    segments: list[str]
    variants: dict[str, dict[str, Any]]
    segment_costs: str = "allocate"
    draws: int | None = None
    seed: int | None = None
    data_fingerprint: str | None = None
    timeout: int = 600
    notebook: Path | None = None
    #: File-name id of the batch (the spec file's or folder's name): its index is
    #: ``<batch_id>.index.html``.
    batch_id: str = "batch"


def load_spec(spec: Path) -> BatchSpec:
    """Read a batch file, a folder of scenario files or one scenario file.

    Raises
    ------
    BatchError
        Naming the file, the key and the fix.
    """
    spec = Path(spec)
    if spec.is_dir():
        files = scenario_files(spec)
        if not files:
            raise BatchError(f"{spec}: no scenario files (*.yaml) in this folder. Fix: point "
                             "at a folder of scenarios, e.g. data/scenarios, or a batch file")
        return BatchSpec(name=f"cxroi batch: {spec.name}",
                         initiatives=[(f.stem, f) for f in files], segments=["all"],
                         variants={"base": {}}, batch_id=slug(spec.resolve().name))
    if not spec.is_file():
        raise BatchError(f"{spec}: no such batch file or folder. Fix: give a batch YAML, a "
                         "folder of scenario files or a scenario file")
    data = _read_yaml(spec)
    if _is_scenario(data):
        return BatchSpec(name=f"cxroi batch: {spec.stem}", initiatives=[(spec.stem, spec)],
                         segments=["all"], variants={"base": {}}, batch_id=slug(spec.stem))
    if not isinstance(data, dict):
        raise BatchError(f"{spec}: a batch file is a mapping with an `initiatives` list. "
                         "Fix: see docs/batch.md")
    unknown = set(data) - SPEC_KEYS
    for k in sorted(unknown):
        close = difflib.get_close_matches(k, sorted(SPEC_KEYS), n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(sorted(SPEC_KEYS))}"
        raise BatchError(f"{spec}: unknown key '{k}'. Fix: {hint}")
    inits = data.get("initiatives")
    if not isinstance(inits, list) or not inits:
        raise BatchError(f"{spec}: `initiatives` must be a non-empty list of scenario files. "
                         "Fix: add `initiatives: [data/scenarios/complaints-30-to-1.yaml]`")
    base = spec.parent
    initiatives: list[tuple[str, Path]] = []
    for i, item in enumerate(inits):
        if isinstance(item, str):
            path, name = item, None
        elif isinstance(item, dict) and isinstance(item.get("path"), str):
            path, name = item["path"], item.get("name")
        else:
            raise BatchError(f"{spec}: initiatives[{i}] must be a file path or "
                             "{path: ..., name: ...}. Fix: write the scenario file's path")
        p = Path(path)
        p = p if p.is_absolute() else base / p
        if p.is_dir():
            initiatives += [(f.stem, f) for f in scenario_files(p)]
        else:
            initiatives.append((str(name) if name else p.stem, p))
    segments = data.get("segments") or ["all"]
    if segments == "all":  # as the message below allows
        segments = ["all"]
    if not isinstance(segments, list) or not all(isinstance(s, str) for s in segments):
        raise BatchError(f"{spec}: `segments` must be a list of segment names (or `all`). "
                         "Fix: e.g. `segments: [all, Enterprise]`")
    variants = data.get("variants") or {"base": {}}
    if isinstance(variants, list):  # list of names -> no overrides
        variants = {str(v): {} for v in variants}
    if not isinstance(variants, dict) or not all(isinstance(v, dict | type(None))
                                                 for v in variants.values()):
        raise BatchError(f"{spec}: `variants` must map a variant name to overrides "
                         "(`key.path: value`). Fix: e.g. `variants: {base: {}, dear: "
                         "{costs.one_off: 500000}}`")
    seg_costs = data.get("segment_costs", "allocate")
    if seg_costs not in {"allocate", "full"}:
        raise BatchError(f"{spec}: segment_costs must be 'allocate' or 'full' "
                         f"(got {seg_costs!r}). Fix: use allocate to share costs by revenue")
    for key in ("draws", "seed", "timeout"):
        v = data.get(key)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1
                              and key != "seed"):
            example = {"draws": "`draws: 2000`", "seed": "`seed: 7` (0 or more)",
                       "timeout": "`timeout: 600` (seconds a notebook cell may take)"}[key]
            raise BatchError(f"{spec}: `{key}` must be a whole number (got {v!r}). "
                             f"Fix: e.g. {example}")
    nb = data.get("notebook")
    return BatchSpec(
        name=str(data.get("name") or f"cxroi batch: {spec.stem}"), initiatives=initiatives,
        segments=[str(s) for s in segments],
        variants={str(k): dict(v or {}) for k, v in variants.items()}, segment_costs=seg_costs,
        draws=data.get("draws"), seed=data.get("seed"),
        data_fingerprint=data.get("data_fingerprint"), timeout=int(data.get("timeout") or 600),
        notebook=(base / nb) if isinstance(nb, str) else None, batch_id=slug(spec.stem))



"""Variants and the plan: :func:`apply_overrides` (``key.path: value``, ``{times}``,
``{plus}``, whole-number fields kept whole) and :func:`plan`, which resolves every
initiative × segment × variant to a validated scenario and a content hash before
anything runs.
"""

from __future__ import annotations

import copy
import difflib
import math
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from cxroi.batch.results import PlannedRun, _content_key, slug
from cxroi.batch.spec import BatchSpec, _read_yaml
from cxroi.errors import BatchError, CxroiError
from cxroi.report.common import scenario_data_key
from cxroi.scenario import scenario_from_dict, scenario_to_yaml


class OverrideError(BatchError, KeyError):
    """A variant override that does not apply: a path that is not in the scenario, a value
    that is not a number to scale, or a whole-number field made fractional."""

    def __str__(self) -> str:  # not KeyError's quoted repr
        return str(self.args[0]) if self.args else ""


def _walk(node: Any, parts: list[str], where: str,
          trail: tuple[str | int, ...] = ()) -> Iterator[tuple[Any, Any, tuple[str | int, ...]]]:
    """(container, key, concrete path) triples addressed by a dotted path; ``*`` matches
    every key; list items can be addressed by index or by their ``name``."""
    head, rest = parts[0], parts[1:]
    if isinstance(node, dict):
        keys = list(node) if head == "*" else [head]
        for k in keys:
            if k not in node:
                close = difflib.get_close_matches(k, [str(x) for x in node], n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise OverrideError(f"'{where}': no key '{k}'{hint}")
            if rest:
                yield from _walk(node[k], rest, where, (*trail, k))
            else:
                yield node, k, (*trail, k)
    elif isinstance(node, list):
        if head == "*":
            idx = list(range(len(node)))
        elif head.isdigit() and int(head) < len(node):
            idx = [int(head)]
        else:
            idx = [i for i, item in enumerate(node)
                   if isinstance(item, dict) and item.get("name") == head]
            if not idx:
                raise OverrideError(f"'{where}': no item named '{head}'")
        for i in idx:
            if rest:
                yield from _walk(node[i], rest, where, (*trail, i))
            else:
                yield node, i, (*trail, i)
    else:
        raise OverrideError(f"'{where}': cannot go into a {type(node).__name__} at '{head}'")


@lru_cache(maxsize=1)
def _scenario_schema() -> dict[str, Any]:
    from cxroi.scenario import Scenario

    return Scenario.model_json_schema()


def _is_integer_field(path: tuple[str | int, ...]) -> bool:
    """True when the scenario model types the field at ``path`` as a whole number
    (``ramp_months``, ``start_month``, ``accounts``, ``horizon_months``, ``draws``,
    ``seed``), read from the model's JSON schema."""
    root = _scenario_schema()
    defs = root.get("$defs", {})

    def deref(s: Any) -> dict[str, Any]:
        while isinstance(s, dict) and "$ref" in s:
            s = defs.get(s["$ref"].rsplit("/", 1)[-1], {})
        if isinstance(s, dict) and "anyOf" in s:  # Optional[...]: the non-null branch
            branches = [deref(b) for b in s["anyOf"] if b.get("type") != "null"]
            s = branches[0] if len(branches) == 1 else {}
        return s if isinstance(s, dict) else {}

    node = deref(root)
    for part in path:
        if isinstance(part, int):
            node = deref(node.get("items"))
        elif part in node.get("properties", {}):
            node = deref(node["properties"][part])
        elif isinstance(node.get("additionalProperties"), dict):
            node = deref(node["additionalProperties"])
        else:
            return False
    return node.get("type") == "integer"


_SCALE_KEYS = {"times", "plus", "round"}
_ROUNDING = {"nearest": lambda x: math.floor(x + 0.5), "up": math.ceil, "down": math.floor}


def _scaled(cur: Any, value: dict[str, Any], where: str, integer: bool) -> int | float:
    """``cur × times + plus``; a whole number again for a whole-number field."""
    if isinstance(cur, bool) or not isinstance(cur, int | float):
        raise OverrideError(f"'{where}': {cur!r} is not a number to scale")
    nums = []
    for k, default in (("times", 1.0), ("plus", 0.0)):
        v = value.get(k, default)
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise OverrideError(f"'{where}': `{k}` must be a number (got {v!r})")
        nums.append(float(v))
    rounding = value.get("round")
    if rounding is not None and rounding not in _ROUNDING:
        raise OverrideError(f"'{where}': `round` must be one of {', '.join(_ROUNDING)} "
                            f"(got {rounding!r})")
    new = cur * nums[0] + nums[1]
    if not math.isfinite(new):
        raise OverrideError(f"'{where}': {cur!r} × {nums[0]:g} + {nums[1]:g} is not a "
                            "finite number")
    if not integer:
        return new
    if rounding is not None:
        return int(_ROUNDING[rounding](new))
    if abs(new - round(new)) <= 1e-9 * max(1.0, abs(new)):
        return int(round(new))
    change = (f"× {nums[0]:g}" if "times" in value else "") + \
        (f" + {nums[1]:g}" if "plus" in value else "")
    raise OverrideError(
        f"'{where}': a whole-number field; {cur!r} {change.strip()} = {new:g} is not whole. "
        "Fix: say how to round, e.g. `{times: %g, round: nearest}` (or up / down), or give "
        "the value itself" % nums[0])


def _not_a_misspelt_scale(cur: Any, value: Any, where: str) -> None:
    """A mapping given for a number (``{time: 2}``, ``{times: 2, rounding: up}``) is a scale
    with a misspelt key: it would replace the number and fail later, the typo unnamed."""
    if not isinstance(value, dict) or isinstance(cur, bool) or not isinstance(cur, int | float):
        return
    unknown = [str(k) for k in value if k not in _SCALE_KEYS]
    what = "; ".join(
        f"unknown key '{k}'" + (f" (did you mean '{c[0]}'?)"
                                if (c := difflib.get_close_matches(k, sorted(_SCALE_KEYS), n=1))
                                else "") for k in unknown) or "no `times` or `plus`"
    raise OverrideError(f"'{where}': {value!r} is not a number: {what}. Fix: give the value "
                        "itself, or scale it with {times: k}, {plus: k} (and round: nearest, "
                        "up or down for a whole-number field)")


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """A copy of a scenario mapping with ``key.path: value`` overrides applied.

    A value may be a number or text (replaces), ``{times: k}`` (multiplies) or
    ``{plus: k}`` (adds), i.e. ``new = old × times + plus``. ``*`` in a path matches every
    key or list item; segments can be named (``segments.Enterprise.churn``).

    A whole-number field of the scenario (``ramp_months``, ``start_month``, ``accounts``,
    ``horizon_months``, ``draws``, ``seed``) stays a whole number: ``ramp_months: 6`` with
    ``{times: 2}`` is ``12``. When the result is fractional (``5 × 1.5 = 7.5``) the variant
    must say how to round (``{times: 1.5, round: nearest | up | down}``); otherwise it is an
    :class:`OverrideError`.

    Raises
    ------
    OverrideError
        (a ``KeyError`` and a ``BatchError``) naming the path that does not apply and why.
    """
    out = copy.deepcopy(data)
    for path, value in overrides.items():
        where = str(path)
        is_scale = isinstance(value, dict) and value and set(value) <= _SCALE_KEYS and \
            bool(set(value) & {"times", "plus"})
        for container, key, trail in _walk(out, where.split("."), where):
            if is_scale:
                at = ".".join(str(p) for p in trail)
                container[key] = _scaled(container[key], value,
                                         at if at == where else f"{at}' (from '{where}",
                                         _is_integer_field(trail))
            else:
                _not_a_misspelt_scale(container[key], value, where)
                container[key] = copy.deepcopy(value)
            _follow_interval(container, key, value if is_scale else None, overrides)
    return out


def _follow_interval(container: Any, key: Any, scale: dict[str, Any] | None,
                     overrides: dict[str, Any]) -> None:
    """A measured rate's sampling interval (``churn_low``/``churn_high`` beside ``churn``)
    follows an override of the rate: scaled the same way (``{times, plus}``), or dropped when
    the rate is replaced (the new value was not measured, its interval does not apply). An
    interval the variant sets itself is left as the variant says."""
    if not isinstance(container, dict) or not isinstance(key, str):
        return
    bounds = [f"{key}_low", f"{key}_high"]
    if not all(b in container for b in bounds) or \
            any(str(p).rsplit(".", 1)[-1] in bounds for p in overrides):
        return
    for b in bounds:
        if scale is None or not isinstance(container[b], int | float):
            container.pop(b)
        else:
            container[b] = container[b] * float(scale.get("times", 1.0)) + \
                float(scale.get("plus", 0.0))


def _select_segment(data: dict[str, Any], segment: str, costs: str) -> dict[str, Any]:
    segs = data.get("segments") or []
    names = [s.get("name") for s in segs if isinstance(s, dict)]
    if segment not in names:
        close = difflib.get_close_matches(segment, [str(n) for n in names], n=1)
        raise KeyError(f"segment '{segment}' is not in the scenario (segments: "
                       f"{', '.join(map(str, names))})"
                       + (f"; did you mean '{close[0]}'?" if close else ""))
    out = copy.deepcopy(data)
    keep = [s for s in out["segments"] if s.get("name") == segment]
    if costs == "allocate":
        def revenue(s: dict[str, Any]) -> float:
            return float(s.get("accounts", 0)) * float(s.get("arpa", 0))

        total = sum(revenue(s) for s in segs) or 1.0
        share = revenue(keep[0]) / total
        c = dict(out.get("costs") or {})
        for k in ("one_off", "running_per_year"):
            if k in c and isinstance(c[k], int | float):
                c[k] = c[k] * share
        out["costs"] = c
    out["segments"] = keep
    out["name"] = f"{out.get('name', 'scenario')} — {segment}"
    return out


def plan(spec: BatchSpec, notebook_text: str) -> list[PlannedRun]:
    """Resolve every initiative × segment × variant to a scenario and a content hash.

    A run whose scenario cannot be built is planned with its ``error`` (it will be
    reported as failed; the others still run).
    """
    params = {"draws": spec.draws, "seed": spec.seed, "data_fingerprint": spec.data_fingerprint}
    # the YAML of every distinct scenario, written once (runs with the same data, e.g. an
    # initiative listed twice, have the same text): 3-7 ms each
    texts: dict[str, str] = {}
    runs: list[PlannedRun] = []
    used: set[str] = set()
    for init_name, path in spec.initiatives:
        raw: Any = None
        load_error = None
        try:
            raw = _read_yaml(path) if path.is_file() else None
            if raw is None:
                load_error = f"{path}: scenario file not found or empty. Fix: check the path"
        except BatchError as exc:
            load_error = str(exc)
        for segment in spec.segments:
            for variant, overrides in spec.variants.items():
                parts = [init_name]
                if segment != "all":
                    parts.append(segment)
                if len(spec.variants) > 1 or variant != "base":
                    parts.append(variant)
                run_id = "__".join(slug(p) for p in parts)
                n = 2
                while run_id in used:
                    run_id = f"{'__'.join(slug(p) for p in parts)}-{n}"
                    n += 1
                used.add(run_id)
                error, text, name, cur, data_key = load_error, None, init_name, "USD", None
                if error is None:
                    try:
                        data = raw
                        if segment != "all":
                            data = _select_segment(data, segment, spec.segment_costs)
                        data = apply_overrides(data, overrides)
                        sc = scenario_from_dict(data, str(path))
                        data_key = scenario_data_key(sc)
                        text = texts.get(data_key)
                        if text is None:
                            text = texts[data_key] = scenario_to_yaml(sc)
                        name, cur = sc.name, sc.currency
                    except KeyError as exc:
                        said = str(exc.args[0])
                        error = (f"{path}: variant '{variant}', segment '{segment}': {said}"
                                 + ("" if "Fix:" in said else  # its own fix, not two
                                    ". Fix: correct the batch file's overrides or segments"))
                    except CxroiError as exc:
                        error = str(exc)
                        if variant != "base" or segment != "all":
                            error += f"\n  (variant '{variant}', segment '{segment}')"
                    except (TypeError, AttributeError) as exc:
                        error = (f"{path}: the scenario is not a mapping of keys ({exc}). Fix: "
                                 "start from one of data/scenarios/*.yaml")
                key = _content_key(text or f"ERROR {error}", notebook_text, params)
                runs.append(PlannedRun(run_id, init_name, segment, variant, str(path), text,
                                       name, cur, key, error,
                                       data_key if text is not None else None))
    return runs



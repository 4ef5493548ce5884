"""The report's scenario fingerprint: kept per process by the scenario's data, and taken
from the batch's planned YAML in a worker; always the sha256 of the canonical YAML."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cxroi.report import common
from cxroi.scenario import load_scenario, scenario_to_yaml

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((ROOT / "data" / "scenarios").glob("*.yaml"))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.fixture(autouse=True)
def _fresh_memo():
    common._fingerprints.clear()
    yield
    common._fingerprints.clear()


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_fingerprint_is_the_sha256_of_the_canonical_yaml(path):
    sc = load_scenario(path)
    want = _sha(scenario_to_yaml(sc))
    assert common.scenario_fingerprint(sc) == want  # written
    assert common.scenario_fingerprint(load_scenario(path)) == want  # remembered


def test_the_key_tells_apart_what_the_yaml_tells_apart():
    """Scenarios differing by one cost unit, or by a float's last digit, have other keys
    and other fingerprints; the key reads the types (1, 1.0, True) and the order."""
    sc = load_scenario(SCENARIOS[0])
    other = sc.model_copy(update={"costs": sc.costs.model_copy(
        update={"one_off": sc.costs.one_off + 1})})
    tiny = sc.model_copy(update={"costs": sc.costs.model_copy(
        update={"one_off": sc.costs.one_off * (1 + 2**-52)})})
    keys = {common.scenario_data_key(s) for s in (sc, other, tiny)}
    assert len(keys) == 3
    fps = {common.scenario_fingerprint(s) for s in (sc, other, tiny)}
    assert fps == {_sha(scenario_to_yaml(s)) for s in (sc, other, tiny)} and len(fps) == 3


def test_a_batch_workers_fingerprint_is_the_planned_texts(tmp_path):
    """Every planned run's key and text, remembered as a worker does, give the fingerprint
    of the scenario loaded back from that text: the sha256 of its own canonical YAML."""
    from cxroi.batch.planning import plan
    from cxroi.batch.spec import load_spec

    spec = tmp_path / "b.yaml"
    spec.write_text(
        "initiatives:\n" + "".join(f"  - {p}\n" for p in SCENARIOS[:3]) +
        "segments: [all, Enterprise]\n"
        "variants: {base: {}, dear: {costs.one_off: {times: 1.37}}}\n", encoding="utf-8")
    runs = [r for r in plan(load_spec(spec), "{}") if r.error is None]
    assert len(runs) >= 6
    for r in runs:
        common._fingerprints.clear()
        common.remember_scenario_yaml(r.scenario_key, r.scenario_yaml)
        f = tmp_path / f"{r.run_id}.yaml"
        f.write_text(r.scenario_yaml, encoding="utf-8")
        sc = load_scenario(f)
        assert common.scenario_data_key(sc) == r.scenario_key  # the memo is used...
        fp = common.scenario_fingerprint(sc)
        assert fp == _sha(scenario_to_yaml(sc)) == _sha(r.scenario_yaml)  # ...and right


def test_the_memo_stays_bounded():
    for i in range(common.FINGERPRINT_MEMO_SIZE + 5):
        common.remember_scenario_yaml(f"k{i}", f"text {i}")
    assert len(common._fingerprints) == common.FINGERPRINT_MEMO_SIZE
    assert "k0" not in common._fingerprints and f"k{i}" in common._fingerprints

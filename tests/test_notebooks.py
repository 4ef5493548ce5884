"""Every notebook runs top to bottom on the demo data with small settings, is committed
without outputs, and gives the same outputs for the same seed -- on a fresh kernel
(papermill) and on the batch's reused kernel alike."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from cxroi.nbrun import KernelRunner, parameterize

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"

#: Small, seeded parameters per notebook (every notebook must be listed here).
PARAMS: dict[str, dict] = {
    "01-calibrate.ipynb": {"n_boot": 20, "seed": 7},
    "02-business-case.ipynb": {"draws": 300, "seed": 7},
    "03-metric-check.ipynb": {"n_boot": 20, "seed": 7},
    "04-portfolio.ipynb": {"draws": 300, "seed": 7},
    "05-did-it-work.ipynb": {"draws": 300, "seed": 7},
}
#: Notebooks whose run takes long (calibration): run once by default, twice with -m slow.
HEAVY = {"01-calibrate.ipynb", "03-metric-check.ipynb", "05-did-it-work.ipynb"}
#: The numbered notebooks (the Voila app, notebooks/app.ipynb, has its own browser tests).
ALL = sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))


def _params(name: str, tmp_path: Path) -> dict:
    p = dict(PARAMS[name])
    if name == "01-calibrate.ipynb":
        p["out"] = str(tmp_path / "calibrated.yaml")
    return p


def _outputs(nb) -> list[tuple]:
    """What a reader sees, cell by cell (execution counts and metadata left out)."""
    seen = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                seen.append(("stream", out.name, out.text))
            elif out.output_type in {"execute_result", "display_data"}:
                data = out.get("data", {})
                key = next((k for k in ("text/html", "image/svg+xml", "text/markdown",
                                        "text/plain") if k in data), None)
                seen.append((out.output_type, key, data.get(key)))
            else:
                seen.append((out.output_type, out.get("ename"), out.get("evalue")))
    return seen


@pytest.fixture(scope="module")
def runner():
    with KernelRunner() as r:
        yield r


def test_every_notebook_has_test_parameters():
    assert ALL, "notebooks/ holds the numbered notebooks"
    assert set(ALL) == set(PARAMS)
    assert all(re.match(r"\d\d-[a-z-]+\.ipynb$", n) for n in ALL)


@pytest.mark.parametrize("name", ALL)
def test_committed_without_outputs_and_parameterized(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "one cell tagged `parameters`"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    # the test parameters exist in the notebook's parameters cell
    for key in PARAMS[name]:
        assert re.search(rf"^{key}\s*=", tagged[0].source, re.M), key
    # thin: no function or class definitions, no loops
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not re.search(r"^\s*(def|class|for|while)\b", cell.source, re.M)


@pytest.mark.parametrize("name", ALL)
def test_notebook_runs_on_the_reused_kernel(name, runner, tmp_path):
    nb = parameterize(nbformat.read(NOTEBOOKS / name, as_version=4), _params(name, tmp_path))
    ex = runner.execute(nb, cwd=NOTEBOOKS)
    assert ex.error is None, ex.error + "\n" + ex.traceback
    outs = _outputs(ex.nb)
    assert outs and not [o for o in outs if o[0] == "error"]
    if name == "01-calibrate.ipynb":
        assert (tmp_path / "calibrated.yaml").is_file()
        assert "provenance: calibrated" in (tmp_path / "calibrated.yaml").read_text()


def _fresh_vs_reused(name: str, runner: KernelRunner, tmp_path: Path) -> None:
    params = _params(name, tmp_path)
    fresh = pm.execute_notebook(str(NOTEBOOKS / name), str(tmp_path / f"fresh-{name}"),
                                parameters=params, cwd=str(NOTEBOOKS), progress_bar=False,
                                kernel_name="python3")
    nb = parameterize(nbformat.read(NOTEBOOKS / name, as_version=4), params)
    reused = runner.execute(nb, cwd=NOTEBOOKS)
    assert reused.error is None
    assert _outputs(fresh) == _outputs(reused.nb)


@pytest.mark.parametrize("name", [n for n in ALL if n not in HEAVY])
def test_outputs_deterministic_by_seed_fresh_kernel_and_reused(name, runner, tmp_path):
    _fresh_vs_reused(name, runner, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(HEAVY))
def test_heavy_notebooks_deterministic_by_seed(name, runner, tmp_path):
    _fresh_vs_reused(name, runner, tmp_path)


# --------------------------------------------------------------------------------------
# As users call them: from the repository root, and the committed cells under nbval
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_notebook_runs_from_the_repository_root(name, tmp_path):
    """`papermill notebooks/NAME out.ipynb` from the repository root: the default paths
    (data/demo, data/scenarios/...) resolve; only the sizes are the small test ones."""
    params = {k: v for k, v in _params(name, tmp_path).items() if k != "out"}
    if name == "01-calibrate.ipynb":  # the one default that writes: keep the repo clean
        params["out"] = str(tmp_path / "calibrated.yaml")
    nb = pm.execute_notebook(str(NOTEBOOKS / name), str(tmp_path / name), parameters=params,
                             cwd=str(ROOT), progress_bar=False, kernel_name="python3")
    assert not [o for o in _outputs(nb) if o[0] == "error"]


def _mirror(tmp_path: Path) -> Path:
    """A checkout-shaped folder (code and data linked) whose reports/ is a temp folder, so
    notebooks run with their *default* parameters write nothing into the repository."""
    root = tmp_path / "repo"
    (root / "notebooks").mkdir(parents=True)
    (root / "reports").mkdir()
    for name in ("pyproject.toml",):
        (root / name).write_text((ROOT / name).read_text())
    for name in ("cxroi", "data"):
        (root / name).symlink_to(ROOT / name)
    for nb in ALL:
        (root / "notebooks" / nb).write_text((NOTEBOOKS / nb).read_text())
    (root / "pytest.ini").write_text("[pytest]\n")
    return root


def _nbval(names: list[str], tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    root = _mirror(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-q",
         "-p", "no:cacheprovider", "-c", str(root / "pytest.ini"), "--rootdir", str(root),
         *[str(root / "notebooks" / n) for n in names]],
        capture_output=True, text=True, cwd=root, env=env, timeout=1800)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert re.search(r"\d+ passed", res.stdout)
    assert not any((root / "notebooks").glob("*.yaml"))  # nothing written beside them


def test_committed_notebooks_pass_nbval_with_their_defaults(tmp_path):
    """The committed cells, default parameters, run by nbval (`pytest --nbval-lax`) from
    the notebooks' folder as nbval does."""
    _nbval([n for n in ALL if n not in HEAVY], tmp_path)


@pytest.mark.slow
def test_heavy_notebooks_pass_nbval_with_their_defaults(tmp_path):
    """The calibration notebooks with their default 200 bootstrap replicates."""
    _nbval(sorted(HEAVY), tmp_path)
    assert (tmp_path / "repo" / "reports" / "calibration" / "demo-calibrated.yaml").is_file()

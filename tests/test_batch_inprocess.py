"""The batch workers' in-process notebook execution (:class:`cxroi.nbrun.InProcessRunner`)
against a kernel's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_in_process_runner_records_what_a_kernel_would(tmp_path):
    """The batch workers' :class:`cxroi.nbrun.InProcessRunner` gives a notebook the
    outputs a kernel gives it (streams, display data, results, the error that stops it,
    in order), starts every notebook from an empty namespace and reports the failing
    cell like :class:`cxroi.nbrun.KernelRunner`. Run in a child process (it installs
    this process's IPython shell)."""
    code = r'''
import json, sys
import nbformat
from nbformat.v4 import new_code_cell, new_notebook
from cxroi.nbrun import InProcessRunner, KernelRunner

def book():
    return new_notebook(cells=[
        new_code_cell("import sys\nx = 41\nprint('one')\nprint('err', file=sys.stderr)\n"
                      "x + 1"),
        new_code_cell("from IPython.display import display, HTML\n"
                      "display(HTML('<b>bold</b>'))\nprint('after')\n{'k': (1, 2)}"),
        new_code_cell("'y' in dir()"),
        new_code_cell("y = 1\n1 / 0"),
        new_code_cell("print('never')"),
    ])

def plot():
    return new_notebook(cells=[new_code_cell(
        "import matplotlib.pyplot as plt\nplt.plot([1, 2], [3, 4])\nplt.title('t');")])

def outputs(nb):
    return [[{k: v for k, v in o.items() if k != "traceback"} for o in c.outputs]
            for c in nb.cells]

ip = InProcessRunner(warmup="")
first, again = ip.execute(book()), book()
second = ip.execute(again)
figure = ip.execute(plot()).nb
with KernelRunner(warmup="") as kr:
    ref = kr.execute(book())
    ref_figure = kr.execute(plot()).nb
kinds = [[sorted(o.get("data", {})) for o in c.outputs] for c in (figure.cells[0],
                                                               ref_figure.cells[0])]
print(json.dumps({"ip": outputs(first.nb), "again": outputs(again), "ref": outputs(ref.nb),
                  "errors": [first.error, second.error, ref.error],
                  "tb": "ZeroDivisionError" in first.traceback, "runs": ip.runs,
                  "figure": kinds}))
'''
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    for o in (o for cell in got["ref"] for o in cell if "execution_count" in o):
        o.pop("execution_count")  # a kernel counts every execution since it started
    for o in (o for cell in got["ip"] for o in cell if "execution_count" in o):
        o.pop("execution_count")
    assert got["ip"] == got["ref"]
    assert got["ip"][0][:2] == [{"output_type": "stream", "name": "stdout", "text": "one\n"},
                                {"output_type": "stream", "name": "stderr", "text": "err\n"}]
    assert got["ip"][0][-1]["data"] == {"text/plain": "42"}
    assert got["ip"][1][0]["data"]["text/html"] == "<b>bold</b>"
    assert got["again"][2][0]["data"] == {"text/plain": "False"}  # the first run's y: gone
    assert got["ip"][4] == []  # not run after the error
    assert got["errors"][0] == got["errors"][1] == got["errors"][2] == \
        "ZeroDivisionError in cell 3: division by zero"
    assert got["tb"] and got["runs"] == 3
    # a matplotlib figure is shown inline, as on a kernel
    assert got["figure"][0] == got["figure"][1] and ["image/png", "text/plain"] in \
        got["figure"][0]


def test_a_worker_returns_plain_values_the_batch_can_read_without_nbformat(tmp_path):
    """What a batch worker sends back unpickles without importing nbformat (whose
    jsonschema costs the batch's process seconds): the results are plain dicts."""
    code = r'''
import pickle, sys
from cxroi.batch.worker import execute_task
from cxroi.report.common import business_case_notebook
nb = business_case_notebook()
out = execute_task({"scenario_path": sys.argv[1], "scenario_yaml": "", "in_process": True,
                    "notebook": nb.read_text(), "cwd": str(nb.parent), "draws": 200})
assert out["status"] == "ok", out["error"]
import nbformat  # the executed notebook is written as nbformat writes it
assert out["notebook"] == nbformat.writes(nbformat.reads(out["notebook"], as_version=4))
sys.stdout.buffer.write(pickle.dumps(out))
'''
    scenario = ROOT / "data" / "scenarios" / "complaints-30-to-1.yaml"
    done = subprocess.run([sys.executable, "-c", code, str(scenario)], capture_output=True,
                          cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 0, done.stderr.decode()
    check = ("import pickle, sys; out = pickle.loads(sys.stdin.buffer.read()); "
             "assert 'nbformat' not in sys.modules; "
             "assert out['results']['metrics']['npv']['p50'] == out['results']['metrics']"
             "['npv']['p50'] and type(out['results']['metrics']) is dict")
    subprocess.run([sys.executable, "-c", check], input=done.stdout, check=True,
                   env=dict(os.environ, PYTHONPATH=str(ROOT)))


def test_each_notebook_starts_from_a_clean_namespace_without_a_full_collection(tmp_path):
    """Between notebooks the runner forgets the user's names and the output cache
    (``_1``, ``Out``) as ``%reset -f`` does, without its full garbage collections (they
    cost 14-16 ms a report); cyclic garbage is still collected by the collector's own
    generations, so a worker's memory stays flat."""
    code = r'''
import gc, json
from nbformat.v4 import new_code_cell, new_notebook
from cxroi.nbrun import InProcessRunner

def book():
    return new_notebook(cells=[
        new_code_cell("seen = sorted(k for k in ('y', '_1', '_2') if k in dir())\n"
                      "(seen, sorted(Out))"),
        new_code_cell("y = [1]\ny.append(y)\n7"),
    ])

ip = InProcessRunner(warmup="")
first = ip.execute(book()).nb
calls = []
real = gc.collect
gc.collect = lambda *a: calls.append(a) or real(*a)
second = ip.execute(book()).nb
gc.collect = real
print(json.dumps({"first": first.cells[0].outputs[0]["data"]["text/plain"],
                  "second": second.cells[0].outputs[0]["data"]["text/plain"],
                  "seven": second.cells[1].outputs[0]["data"]["text/plain"],
                  "full_collections": len(calls)}))
'''
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["first"] == "([], [])"
    assert got["second"] == "([], [])"  # no y, no _1/_2 and an empty Out from the first
    assert got["seven"] == "7"
    assert got["full_collections"] == 0

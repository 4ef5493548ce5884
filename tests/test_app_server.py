"""The app server without a browser: its guards, its lifetime and its answers.

Each test starts ``python -m cxroi.app`` on a free loopback port with temporary folders
(``tests/browser/appserver.py``) and talks to it over HTTP.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "browser"))
from appserver import Server, alive, free_port, start_server, stop  # noqa: E402

from cxroi.app.engine import ResultCache, scenario_key  # noqa: E402
from cxroi.app.security import allowed_hosts, is_loopback  # noqa: E402
from cxroi.app.view import join_chart, split_chart  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LEAD = "complaints-30-to-1.yaml"


def request(srv: Server | int, method: str, path: str, body: Any = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    port = srv if isinstance(srv, int) else srv.port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    data = None if body is None else json.dumps(body).encode()
    hdrs = {"Host": f"127.0.0.1:{port}", **({"Content-Type": "application/json"}
                                            if data else {}), **(headers or {})}
    conn.request(method, path, body=data, headers=hdrs)
    r = conn.getresponse()
    out = r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    conn.close()
    return out


def api(srv: Server, action: str, body: dict[str, Any]) -> dict[str, Any]:
    status, _, data = request(srv, "POST", f"/api/{action}", body)
    out = json.loads(data)
    out["_status"] = status
    return out


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    srv = start_server(tmp_path_factory.mktemp("app-server"),
                       args=["--workers", "1", "--idle-seconds", "3", "--max-sessions", "3"])
    try:
        yield srv
    finally:
        stop(srv.process)


def test_requests_for_another_host_or_from_another_site_are_refused(server: Server) -> None:
    assert request(server, "GET", "/")[0] == 200
    assert request(server, "GET", "/", headers={"Host": f"localhost:{server.port}"})[0] == 200
    # DNS rebinding: a name that resolves here but is not the configured address
    status, _, body = request(server, "GET", "/", headers={"Host": f"evil.example:{server.port}"})
    assert status == 403 and b"not the one the app was started on" in body
    status, _, _ = request(server, "POST", "/api/load", {"session": "s1", "file": LEAD},
                           headers={"Origin": "http://evil.example"})
    assert status == 403
    status, headers, _ = request(server, "GET", "/")
    assert "default-src 'none'" in headers["content-security-policy"]
    assert "connect-src 'self'" in headers["content-security-policy"]


def test_load_and_compute_give_the_report_numbers(server: Server) -> None:
    from cxroi.scenario import load_scenario
    from cxroi.uncertainty import simulate

    out = api(server, "load", {"session": "s-load", "file": LEAD})
    assert out["ok"] and out["file"] == LEAD
    sc = load_scenario(server.scenario_dir / LEAD)
    res = simulate(sc)  # the scenario's own draws and seed, as cxroi run and the report
    assert out["result"]["draws"] == sc.simulation.draws
    # the workers run the compiled kernel: the same numbers to 1e-13 (docs/model.md §10)
    assert _npv_card(out["result"]["cards"]) == pytest.approx(
        float(res.summary.loc["npv", "p50"]), rel=1e-9)
    data = json.loads(json.dumps(out["data"]))
    data["touchpoints"]["complaints"]["lever"]["target"] = 4.0
    got = api(server, "compute", {"session": "s-load", "seq": 1, "file": LEAD, "data": data})
    res4 = simulate(sc.with_lever("complaints", target=4.0))
    assert _npv_card(got["cards"]) == pytest.approx(float(res4.summary.loc["npv", "p50"]),
                                                     rel=1e-9)
    # the charts travel as their data (the report chart's rows) and a shape whose Vega
    # spec, compiled from the report chart's Vega-Lite, is fetched once
    from cxroi.app.bundle import vega_spec
    from cxroi.charts import cash_flow_spec

    part = got["charts"]["cash_flow"]
    report_chart = split_chart(cash_flow_spec(res4))
    assert part["data"] == report_chart["data"] and part["title"] == report_chart["title"]
    status, headers, body = request(server, "GET", f"/api/spec/{part['shape']}")
    assert status == 200 and "immutable" in headers["cache-control"]
    assert json.loads(body) == vega_spec(report_chart["spec"])
    assert {d["name"] for d in json.loads(body)["data"]} >= set(part["data"])
    again = api(server, "compute", {"session": "s-load", "seq": 2, "file": LEAD, "data": data})
    assert again["key"] == got["key"] and again["cards"] == got["cards"]
    assert server.status()["cache"]["hits"] >= 1
    data["touchpoints"]["complaints"]["lever"]["target"] = 45
    bad = api(server, "compute", {"session": "s-load", "seq": 3, "file": LEAD, "data": data})
    assert not bad["ok"] and "Complaint resolution time · Target" in bad["message"]
    voi = api(server, "voi", {"session": "s-load", "data": out["data"], "key": out["key"]})
    assert voi["ok"] and "cx-voi-table" in voi["html"]


def test_a_file_that_does_not_validate_says_why(server: Server) -> None:
    import yaml

    bad = yaml.safe_load((server.scenario_dir / LEAD).read_text())
    bad["segments"][0]["churn"] = 12
    (server.scenario_dir / "zz-bad.yaml").write_text(yaml.safe_dump(bad))
    out = api(server, "load", {"session": "s-bad", "file": "zz-bad.yaml"})
    assert not out["ok"] and "zz-bad.yaml cannot be used as it is" in out["message"]
    assert "annual churn as a share" in out["message"]
    out = api(server, "load", {"session": "s-bad", "file": "../../etc/passwd"})
    assert not out["ok"]  # only files of the scenario folder
    api(server, "bye", {"session": "s-bad"})


def test_a_plain_get_opens_no_session_and_idle_sessions_are_forgotten(server: Server) -> None:
    time.sleep(3.5)
    base = server.status()["sessions"]
    for _ in range(10):
        assert request(server, "GET", "/")[0] == 200
    assert server.status()["sessions"] == base
    api(server, "ping", {"session": "idle-one"})
    assert server.status()["sessions"] == base + 1
    api(server, "bye", {"session": "idle-one"})  # a page closed: freed at once
    assert server.status()["sessions"] == base
    api(server, "ping", {"session": "idle-two"})
    time.sleep(4.5)  # --idle-seconds 3: a page that went quiet is forgotten
    assert server.status()["sessions"] == 0


def test_above_the_cap_a_friendly_busy_page(server: Server) -> None:
    for i in range(3):
        assert api(server, "ping", {"session": f"cap-{i}"})["ok"]
    status, headers, body = request(server, "GET", "/")
    assert status == 503 and headers["retry-after"] == "60"
    assert b"The app is busy" in body and b"Try again in a minute" in body
    out = api(server, "ping", {"session": "cap-new"})
    assert out["_status"] == 503 and out["busy"]
    for i in range(3):
        api(server, "bye", {"session": f"cap-{i}"})
    assert request(server, "GET", "/")[0] == 200


def test_a_first_start_computes_the_first_view_alone_then_starts_the_workers(
        tmp_path: Path) -> None:
    """With nothing cached the lead scenario's first view is computed first, in a process
    of its own, and the workers start only once it is in the cache (they would take the
    cores it needs); it is the report's simulation. A restart finds it cached and starts
    the workers at once."""
    from cxroi.scenario import load_scenario
    from cxroi.uncertainty import simulate

    cache = tmp_path / "cache"
    seen: list[tuple[int, int]] = []  # (workers, cache entries) as the server said
    srv = start_server(tmp_path / "first", args=["--cache-dir", str(cache)])
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            st = srv.status()
            seen.append((len(st["workers"]), st["cache"]["entries"]))
            if st["workers"]:
                break
            time.sleep(0.05)
        assert seen[-1][0] > 0 and seen[-1][1] >= 1  # started, with the first view cached
        assert all(entries == 0 for workers, entries in seen if not workers)
        out = api(srv, "load", {"session": "s-first", "file": LEAD})
        assert srv.status()["computed"] == 1  # the one computation: from the cache since
        sc = load_scenario(srv.scenario_dir / LEAD)
        assert _npv_card(out["result"]["cards"]) == pytest.approx(
            float(simulate(sc).summary.loc["npv", "p50"]), rel=1e-9)
        # what a worker shows for the same inputs (a warm worker: numpy or the compiled
        # kernel, whichever it has loaded by now)
        got = api(srv, "compute", {"session": "s-first", "seq": 1, "file": LEAD,
                                   "data": out["data"]})
        # (the cards' data-p* attributes carry the full floats: equal within 1e-13)
        shown = [re.sub(r" data-p\d+='[^']*'", "", c) for c in (got["cards"],
                                                                 out["result"]["cards"])]
        assert shown[0] == shown[1] and got["pitch"] == out["result"]["pitch"]
        assert _npv_card(got["cards"]) == pytest.approx(_npv_card(out["result"]["cards"]),
                                                        rel=1e-9)
        assert got["loss"] == out["result"]["loss"]
        for name, part in got["charts"].items():
            assert part["shape"] == out["result"]["charts"][name]["shape"], name
    finally:
        stop(srv.process)
    assert "first view computed in" in srv.log.read_text()
    again = start_server(tmp_path / "again", args=["--cache-dir", str(cache)])
    try:
        assert again.status()["workers"]  # at once: the first view is on disk
        assert api(again, "load", {"session": "s-again", "file": LEAD})["key"] == out["key"]
        assert again.status()["computed"] == 0
    finally:
        stop(again.process)
    assert "first view computed" not in again.log.read_text()


def _wait_for_workers(srv: Server, n: int, timeout: float = 60) -> None:
    """Until the server reports ``n`` slider workers and a background worker (or
    ``timeout`` seconds: the test's own assertions then say what is missing)."""
    deadline = time.monotonic() + timeout
    while (len(srv.status()["workers"]) < n or not srv.status()["background_workers"]
           ) and time.monotonic() < deadline:
        time.sleep(0.2)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_stop_the_server_and_its_workers(tmp_path: Path, sig: int) -> None:
    srv = start_server(tmp_path, args=["--workers", "2"])
    try:
        _wait_for_workers(srv, 2)
        workers = srv.status()["workers"]
        assert len(workers) == 2
        background = srv.status()["background_workers"]
        assert len(background) == 1 and not set(background) & set(workers)
        # the background worker (value of information) yields the CPU to the others (or, when
        # the tests themselves run at the lowest priority, e.g. under `nice -n 19`, stays there)
        bg, fg = (os.getpriority(os.PRIO_PROCESS, p) for p in (background[0], workers[0]))
        assert bg > fg or bg == fg == 19
        workers = [*workers, *background]
    finally:
        took = stop(srv.process, sig)
    assert srv.process.returncode is not None and took < 15
    time.sleep(0.5)
    assert not [p for p in workers if alive(p)]
    assert "stopped" in srv.log.read_text()


def test_a_worker_sigterm_ends_the_worker_only_and_a_killed_server_takes_its_workers(
        tmp_path: Path) -> None:
    """The workers start from the server's running event loop (after a first start's first
    view): they must not keep its SIGTERM handler and wake-up socket. A SIGTERM to a worker
    ends that worker, not the server; a server killed outright (SIGKILL, no clean-up) takes
    every worker with it (their parent-death signal is a SIGTERM)."""
    srv = start_server(tmp_path, args=["--workers", "2"])
    try:
        _wait_for_workers(srv, 2)
        victim = srv.status()["workers"][0]
        os.kill(victim, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while alive(victim) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(victim)
        time.sleep(0.5)
        assert srv.process.poll() is None  # the server goes on
        assert "stopped" not in srv.log.read_text()
        out = api(srv, "load", {"session": "s-term", "file": LEAD})  # and still answers
        assert out["ok"]
        workers = [*srv.status()["workers"], *srv.status()["background_workers"]]
        assert workers and victim not in workers
        srv.process.kill()
        srv.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while [p for p in workers if alive(p)] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [p for p in workers if alive(p)]
    finally:
        if srv.process.poll() is None:
            stop(srv.process)


def test_beyond_loopback_a_token_is_required_and_printed(tmp_path: Path) -> None:
    import subprocess

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cxroi.app", "--host", "0.0.0.0", "--port", str(port),
         "--workers", "1", "--scenario-dir", str(ROOT / "data" / "scenarios"),
         "--reports-dir", str(tmp_path / "r"), "--cache-dir", str(tmp_path / "c")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    try:
        first = proc.stdout.readline() + proc.stdout.readline()
        assert "?token=" in first and "token" in first.splitlines()[1]
        token = first.split("?token=")[1].split()[0]
        hdr = {"Host": f"localhost:{port}"}
        assert request(port, "GET", "/", headers=hdr)[0] == 403
        assert request(port, "GET", "/?token=wrong", headers=hdr)[0] == 403
        status, headers, _ = request(port, "GET", f"/?token={token}", headers=hdr)
        assert status == 200 and "cxroi_token=" in headers["set-cookie"]
        cookie = headers["set-cookie"].split(";")[0]
        assert request(port, "GET", "/", headers={**hdr, "Cookie": cookie})[0] == 200
    finally:
        stop(proc)


def test_allowed_hosts_and_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and not is_loopback("10.0.0.5")
    hosts = allowed_hosts("127.0.0.1", 8866)
    assert {"127.0.0.1:8866", "localhost:8866"} <= hosts
    assert "evil.example:8866" not in hosts and "127.0.0.1:8867" not in hosts
    assert allowed_hosts("10.0.0.5", 80) == {"10.0.0.5:80", "10.0.0.5"}


def test_result_cache_keeps_the_newest_and_reads_back_from_disk(tmp_path: Path) -> None:
    c = ResultCache(size=2, folder=tmp_path)
    for k in "abc":
        c.put(k, k.encode())
    assert len(c) == 2 and c.get("b") == b"b"
    again = ResultCache(size=2, folder=tmp_path)  # a restarted server
    assert again.get("a") == b"a"
    k1 = scenario_key("compute", {"data": {"x": 1}, "corr": True}, "f")
    assert k1 == scenario_key("compute", {"corr": True, "data": {"x": 1}}, "f")
    assert k1 != scenario_key("compute", {"data": {"x": 1}, "corr": False}, "f")
    assert k1 != scenario_key("compute", {"data": {"x": 1}, "corr": True}, "other code")


def test_split_chart_keeps_everything_but_names_and_title() -> None:
    from cxroi.charts import waterfall_spec
    from cxroi.scenario import load_scenario
    from cxroi.uncertainty import simulate

    res = simulate(load_scenario(ROOT / "data" / "scenarios" / LEAD), draws=300)
    spec = waterfall_spec(res)
    part = split_chart(spec)
    assert part["title"] == spec["title"] and list(part["data"]) == ["d0"]
    assert part["spec"]["datasets"] == {"d0": []}
    joined = join_chart(part)
    assert joined["datasets"]["d0"] == next(iter(spec["datasets"].values()))
    # a different outcome of the same chart has the same shape: the page only swaps data
    other = split_chart(waterfall_spec(simulate(res.scenario, draws=300, seed=1)))
    assert other["shape"] == part["shape"] and other["data"] != part["data"]


def test_the_tornado_keeps_its_shape_when_its_order_changes_and_draws_the_same() -> None:
    """The tornado's order of inputs (largest swing first) travels in its rows, not in its
    spec: a new order is a data swap for the page, and the chart drawn from the split
    spec is the very SVG of the report's chart."""
    import vl_convert as vlc

    from cxroi.app.bundle import VEGA_LITE
    from cxroi.app.view import ORDER_FIELD
    from cxroi.charts import tornado_spec
    from cxroi.scenario import load_scenario
    from cxroi.uncertainty import tornado

    sc = load_scenario(ROOT / "data" / "scenarios" / LEAD)
    specs = [tornado_spec(tornado(s), s.currency)
             for s in (sc.with_lever("complaints", target=t) for t in (1.0, 3.0))]
    orders = [next(L for L in s["layer"] if "y" in L["encoding"])["encoding"]["y"]["sort"]
              for s in specs]
    assert orders[0] != orders[1] and sorted(orders[0]) == sorted(orders[1])  # reordered
    parts = [split_chart(s) for s in specs]
    assert parts[0]["shape"] == parts[1]["shape"] and parts[0]["data"] != parts[1]["data"]
    for spec, part, order in zip(specs, parts, orders, strict=True):
        rows = next(r for r in part["data"].values() if r and "input" in r[0])
        assert all(order[r[ORDER_FIELD + "input"]] == r["input"] for r in rows)
        joined = join_chart(part)
        assert vlc.vegalite_to_svg(joined, vl_version=VEGA_LITE) == \
            vlc.vegalite_to_svg(spec, vl_version=VEGA_LITE)


def test_skipping_the_irr_changes_nothing_the_page_shows(monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    """The workers skip the IRR (not shown anywhere in the app, ``tasks.IRR``): cards,
    pitch, evidence and charts are exactly those of the full simulation."""
    from cxroi.app import tasks
    from cxroi.scenario import load_scenario

    sc = load_scenario(ROOT / "data" / "scenarios" / "cx-programme.yaml")
    fast = tasks.result(sc)
    assert not tasks.IRR
    monkeypatch.setattr(tasks, "IRR", True)
    full = tasks.result(sc)
    for key in ("cards", "pitch", "loss", "evidence", "draws", "seed"):
        assert fast[key] == full[key], key
    for name, part in full["charts"].items():
        assert fast["charts"][name]["data"] == part["data"], name


def test_the_vendored_vega_is_the_stated_file_of_the_version_the_compiler_targets() -> None:
    """``static/vega.min.js`` is npm's ``vega@VEGA`` ``build/vega.min.js`` to the byte (its
    sha256 as stated in its header and in ``bundle.VEGA_SHA256``), the version vl-convert's
    compiler writes Vega for, with its licence beside it, shipped as package data."""
    import hashlib

    import vl_convert as vlc

    from cxroi.app import bundle

    head, version, body = bundle.vendored_vega()
    assert version == bundle.VEGA == vlc.get_vega_version()
    assert head == bundle.vega_header(version, hashlib.sha256(body).hexdigest())
    assert hashlib.sha256(body).hexdigest() == bundle.VEGA_SHA256
    assert f't.version="{version}"' in body[-300:].decode()  # what the script says it is
    assert b"vegaEmbed" not in body and b"vegaLite" not in body  # Vega alone
    licence = bundle.VEGA_LICENSE.read_text(encoding="utf-8")
    assert "University of Washington Interactive Data Lab" in licence
    assert "Redistribution and use in source and binary forms" in licence
    assert not (bundle.STATIC / "vega-bundle.js").exists()  # the old bundle is gone
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"app/static/*"' in pyproject and '"app/templates/*"' in pyproject


def _npm_tarball(path: Path, js: bytes, licence: bytes) -> Path:
    """A tarball laid out as npm's (``package/build/vega.min.js``, ``package/LICENSE``)."""
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as tar:
        for name, data in (("package/build/vega.min.js", js), ("package/LICENSE", licence)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_vendoring_vega_again_writes_the_committed_files_and_refuses_another_file(
        tmp_path: Path) -> None:
    """``python -m cxroi.app.bundle`` (:func:`vendor_vega`) from a tarball holding the
    published file writes the committed script and licence byte for byte; a tarball
    whose file differs (another version, a tampered copy) is refused, nothing written.
    (No network: the tarball is made here from the committed file.)"""
    from cxroi.app import bundle

    _, _, body = bundle.vendored_vega()
    licence = bundle.VEGA_LICENSE.read_bytes()
    good = _npm_tarball(tmp_path / "vega.tgz", body, licence)
    out, lic = tmp_path / "vega.min.js", tmp_path / "LICENSE.txt"
    bundle.vendor_vega(good, out, lic, integrity=None)
    assert out.read_bytes() == bundle.VEGA_JS.read_bytes()
    assert lic.read_bytes() == licence
    bad = _npm_tarball(tmp_path / "bad.tgz", body.replace(b'"6.2.0"', b'"6.2.1"'), licence)
    out2 = tmp_path / "other.min.js"
    with pytest.raises(ValueError, match="sha256"):
        bundle.vendor_vega(bad, out2, tmp_path / "L2", integrity=None)
    assert not out2.exists()
    with pytest.raises(ValueError, match="integrity"):  # npm's published sha512 checked
        bundle.vendor_vega(good, out2, tmp_path / "L2")
    assert not out2.exists()


def test_cxroi_app_takes_the_documented_options() -> None:
    import subprocess

    out = subprocess.run([sys.executable, "-m", "cxroi.app", "--help"], capture_output=True,
                         text=True, check=True, cwd=ROOT).stdout
    for opt in ("--host", "--port", "--workers", "--token", "--scenario-dir", "--reports-dir",
                "--open", "--max-sessions"):
        assert opt in out


def _npv_card(cards: str) -> float:
    """The NPV card's P50 as the page carries it (``data-p50``)."""
    import re

    m = re.search(r"data-metric='npv'[^>]*data-p50='([^']+)'|data-p50='([^']+)'[^>]*data-metric='npv'", cards)
    assert m, "no NPV card"
    return float(m.group(1) or m.group(2))


def test_the_code_fingerprint_covers_every_module_behind_the_numbers(tmp_path: Path) -> None:
    """The app's disk cache (and the batch's) is keyed by the code: a change to a chart or
    the kernel (packages now), or a module added anywhere, must change the key -- the
    whole package counts, so no hand-kept list can go stale."""
    import shutil

    import cxroi
    from cxroi.app.engine import Engine
    from cxroi.files import code_fingerprint

    src = Path(cxroi.__file__).resolve().parent
    fake = tmp_path / "cxroi"
    shutil.copytree(src, fake, ignore=shutil.ignore_patterns("__pycache__", "static"))
    before = code_fingerprint(fake)
    specs = next((fake / "charts").glob("*.py"))
    specs.write_text(specs.read_text() + "\n# changed\n")
    after_chart = code_fingerprint(fake)
    assert after_chart != before
    (fake / "kernel" / "extra.py").write_text("X = 1\n")
    assert code_fingerprint(fake) != after_chart
    assert Engine.__init__.__globals__["code_fingerprint"] is code_fingerprint  # one key


def test_value_of_information_requests_queue_one_per_page_oldest_first(tmp_path: Path
                                                                       ) -> None:
    """Pages do not poll for the value of information: requests wait in a queue for the
    background worker, oldest page first, a page's newer request replacing its older
    one (answered "superseded"), a page that said goodbye leaves the queue, and none
    starts while every worker for slider updates is busy."""
    import asyncio

    from cxroi.app import server as srv

    class Engine:  # one background worker that finishes what it is given on demand
        background, fingerprint, idle = 1, "test", True

        def __init__(self) -> None:
            self.cache: dict[str, bytes] = {}
            self.started: list[Any] = []
            self.release: asyncio.Queue[None] = asyncio.Queue()

        async def cached(self, kind: str, inputs: Any, fn: Any, data: Any, *args: Any,
                         **kw: Any) -> dict[str, Any]:
            self.started.append(data)
            await self.release.get()
            return {"ok": True, "data": data}

    async def scenario() -> None:
        eng = Engine()
        cfg = srv.Config("127.0.0.1", 1, tmp_path, tmp_path, None, 5, frozenset(), eng)  # type: ignore[arg-type]
        a, b, c = (cfg.session(x, create=True) for x in "abc")

        async def ask(s: Any, data: str) -> Any:
            handler = srv.ApiHandler.__new__(srv.ApiHandler)
            handler.application = type("App", (), {"settings": {"cx": cfg}})()  # type: ignore[assignment]
            return await handler.do_voi(s, {"data": data})

        ra = asyncio.ensure_future(ask(a, "a1"))
        await asyncio.sleep(0)
        rb1 = asyncio.ensure_future(ask(b, "b1"))
        rc = asyncio.ensure_future(ask(c, "c1"))
        await asyncio.sleep(0)
        assert eng.started == ["a1"] and list(cfg.voi_waiting) == ["b", "c"]
        rb2 = asyncio.ensure_future(ask(b, "b2"))  # b moved on: b1 is not worth it now
        await asyncio.sleep(0)
        assert (await rb1)["superseded"] and list(cfg.voi_waiting) == ["c", "b"]
        cfg.close("c")  # c's page closed: its request leaves the queue
        assert (await rc)["superseded"] and list(cfg.voi_waiting) == ["b"]
        assert cfg.session("c", create=True) is None  # a late request does not reopen it
        eng.idle = False  # colleagues' slider updates keep every worker busy: b2 waits
        eng.release.put_nowait(None)
        assert (await ra)["data"] == "a1"
        await asyncio.sleep(0)
        assert eng.started == ["a1"] and list(cfg.voi_waiting) == ["b"]
        eng.idle = True
        srv._pump_voi(cfg)  # as when an update is answered
        await asyncio.sleep(0)
        assert eng.started == ["a1", "b2"]
        eng.release.put_nowait(None)
        assert (await rb2)["data"] == "b2" and not cfg.voi_waiting and cfg.voi_running == 0

    # in a thread of its own: a browser test's Playwright may still hold this thread's loop
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, scenario()).result()


_DYING_BACKGROUND_WORKER = """
import asyncio, os
from concurrent.futures.process import BrokenProcessPool
from cxroi.app.engine import Engine

eng = Engine(workers=1, background=1)
eng.start()

async def scenario():
    assert await eng.run(os.getpid) in eng.pids()  # warm and answering
    sliders, bg = eng.pids(), eng.background_pids()
    try:  # dies twice: tried again once, then said
        await eng.run(os._exit, 3, background=True)
    except BrokenProcessPool:
        pass
    else:
        raise AssertionError("a dead worker went unnoticed")
    assert eng.pids() == sliders, "the slider worker was restarted"
    assert await eng.run(os.getpid, background=True) not in bg  # a new one answers
    assert await eng.run(os.getpid) == sliders[0]

try:
    asyncio.run(scenario())
finally:
    eng.stop()
print("ok")
"""


_FIRST_VIEW_PROCESS_FAILING = """
import asyncio, os, sys, time
from cxroi.app import engine
from cxroi.app.engine import Engine

engine.ALONE_TIMEOUT = 5.0


def first_time_only(marker, how):
    # the first process to run this dies (or hangs); any later one answers
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return os.getpid()
    os.close(fd)
    if how == "dies":
        os._exit(3)
    time.sleep(600)


async def scenario(tmp):
    for how in ("dies", "hangs"):
        eng = Engine(workers=1, background=0)
        try:
            t0 = time.monotonic()
            pid = await eng.run_alone(first_time_only, os.path.join(tmp, how), how)
            assert eng.started and pid in eng.pids(), (how, pid, eng.pids())
            assert time.monotonic() - t0 < 60, how
        finally:
            eng.stop()


asyncio.run(scenario(sys.argv[1]))
print("ok")
"""


def test_a_first_view_process_that_dies_or_hangs_hands_the_view_to_the_workers(
        tmp_path: Path) -> None:
    """A first start computes the first view in a one-off process; if that process dies
    or does not answer within ``ALONE_TIMEOUT``, the workers are started and compute it
    (the page gets its view, not a 500 or an endless wait). In a process of its own, as
    the server runs the engine."""
    import subprocess

    proc = subprocess.run([sys.executable, "-c", _FIRST_VIEW_PROCESS_FAILING, str(tmp_path)],
                          capture_output=True, text=True, timeout=240,
                          cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-2000:]
    assert "the first view's process died" in proc.stderr
    assert "the first view's process took more than 5 s" in proc.stderr


def test_a_background_worker_dying_restarts_only_the_background_pool() -> None:
    """The value of information's worker crashing must not end the slider workers (and
    their work in flight): only the pool that broke is started again. (In a process of its
    own, as the server runs the engine: forking workers from the test process, which other
    tests left with threads, is not what the server does.)"""
    import subprocess

    proc = subprocess.run([sys.executable, "-c", _DYING_BACKGROUND_WORKER], capture_output=True,
                          text=True, timeout=180, cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-2000:]


_FAILED_ANSWERS = """
import asyncio, json, os, sys
from cxroi.app.engine import Engine
from cxroi.app.tasks import failure


def answer(marker, kind):
    # the first call fails (unexpectedly, or with a problem of the inputs); later ones answer
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return {"ok": True, "calls": 2}
    os.close(fd)
    if kind == "problem":
        return {"ok": False, "message": "the inputs have a problem"}
    try:
        raise MemoryError("the machine, this once")
    except MemoryError:
        return failure("computing this case")


async def scenario(tmp):
    eng = Engine(workers=1, background=0)
    eng.start()
    try:
        for kind in ("failure", "problem"):
            marker = os.path.join(tmp, kind)
            first = json.loads(await eng.cached("compute", kind, answer, marker, kind))
            again = json.loads(await eng.cached("compute", kind, answer, marker, kind))
            print(kind, first.get("ok"), first.get("failure", False), again.get("ok"))
    finally:
        eng.stop()


asyncio.run(scenario(sys.argv[1]))
"""


def test_an_unexpected_failure_is_computed_again_and_a_problem_is_kept(tmp_path: Path
                                                                        ) -> None:
    """An answer that says something went wrong unexpectedly (a bug or the machine:
    ``failure``) is not kept by the result cache, so the same inputs are computed again
    on the next request instead of showing that failure until a restart; an answer that
    says the inputs have a problem is kept (the same inputs give the same problem). In a
    process of its own, as the server runs the engine."""
    import subprocess

    proc = subprocess.run([sys.executable, "-c", _FAILED_ANSWERS, str(tmp_path)],
                          capture_output=True, text=True, timeout=180,
                          cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.split("\n")
    assert "failure False True True" in lines, proc.stdout  # computed again: answered
    assert "problem False False False" in lines, proc.stdout  # kept: the same answer
    assert "computing this case failed" in proc.stderr and "MemoryError" in proc.stderr

"""Benchmark of the app for one person, in a real browser (Debian's Chromium, headless).

1. Slider release -> updated numbers *and* charts in the page, over 50 moves of the
   resolution-time slider, each to a value not shown before (no cache hit): from the
   slider's ``change`` event (mouse-up) to the frame after the charts in sight were
   redrawn, as the page stamps it (``window.cxStats``; in the 1440 x 1000 window the
   tornado is below the fold: the page draws it when it is scrolled to, and
   ``out_of_sight`` counts it). The time is split into the answer (request,
   server, JSON), the cards and the charts; the server's own compute time is reported
   too. Target p95 <= 100 ms.
2. Cold start: from launching ``python -m cxroi.app`` (what ``cxroi app`` runs) to an
   interactive page (numbers and the three charts shown, as the page stamps it; the
   moment the benchmark saw it is reported too), with the browser already open:
   first start with an empty result cache, and a restart (the disk cache holds the first
   view). Target <= 2 s.

Run ``.venv/bin/python benchmarks/bench_app.py [--moves 50] [--cold 3]``. Prints a summary
and writes ``test-artifacts/bench_app.json`` and a screenshot. Timings on a shared 2-core
machine vary with its load; the load average is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The app-server helpers are shared with the browser tests: tests/browser/appserver.py.
sys.path.insert(0, str(ROOT / "tests" / "browser"))
from appserver import drag_slider, free_port, start_server, stop  # noqa: E402

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
TARGET_ROW = ".cx-ctl-touchpoints-complaints-lever-target"
CHARTS = ("cash_flow", "waterfall", "tornado")
PORT_POLL = {"connect_timeout": 0.1, "poll": 0.02}
#: How the benchmark waits for a page's update: one call, answered by the page itself
#: when its update count passes ``n`` (it looks every 25 ms, in the page; false after
#: ``ms``). Not Playwright's ``wait_for_function``, which by default asks on every
#: animation frame (the page then draws 60 frames a second while it waits) and otherwise
#: sends one request through the browser per poll: CPU that a person looking at the page
#: does not cost (with twenty pages on two cores it was a good part of the load). The
#: update's time is stamped by the page, so how the benchmark waits does not enter it.
WAIT_UPDATE = """([n, ms]) => new Promise((done) => {
  const end = performance.now() + ms;
  const look = () => window.cxStats.updates.length > n ? done(true)
    : performance.now() > end ? done(false) : setTimeout(look, 25);
  look();
})"""


def cumprod_reference(repeat: int = 15) -> float:
    """Median ms of one ``np.cumprod`` over a (3, 36, 10,000) array (issue 13's yardstick:
    4.8 ms at load 2), measured in this run to put the timings in proportion."""
    import numpy as np

    x = 1.0 + np.random.default_rng(0).random((3, 36, 10_000)) * 1e-3
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        np.cumprod(x, axis=1)
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def machine_cpu_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all cores, from /proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")  # minus idle and iowait


def descendant_processes(exclude: set[int]) -> dict[int, tuple[float, str, list[bytes]]]:
    """This benchmark's child processes and theirs (the Playwright driver and the browser
    with its pages), leaving out ``exclude`` (the app server and its workers) and their
    children, from /proc: pid -> (CPU seconds used so far, name, command line; Chromium
    rewrites its command line into one string, so its words are split at spaces too)."""
    parent, info = {}, {}
    tick = os.sysconf("SC_CLK_TCK")
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                head, tail = f.read().rsplit(")", 1)
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        fields = tail.split()
        parent[int(d)] = int(fields[1])
        info[int(d)] = ((int(fields[11]) + int(fields[12])) / tick, head.split("(", 1)[-1],
                        cmd)
    mine, todo = set(), [os.getpid()]
    while todo:
        pid = todo.pop()
        for child, ppid in parent.items():
            if ppid == pid and child not in exclude and child not in mine:
                mine.add(child)
                todo.append(child)
    return {p: info[p] for p in mine}


def descendants_cpu_seconds(exclude: set[int], driver_only: bool = False) -> float:
    """CPU seconds used so far by this benchmark's child processes and theirs
    (:func:`descendant_processes`); with ``driver_only``, only the processes that are not
    Chromium's (the Playwright driver: the benchmark's own cost of driving the pages,
    which people at their browsers do not have)."""
    procs = descendant_processes(exclude).values()
    return sum(cpu for cpu, name, _ in procs if not (driver_only and name.startswith("chrom")))


#: Until the page shows its first view (the numbers and the three charts), asked in the
#: page every 25 ms: Playwright's ``wait_for_selector`` polls at up to 500 ms intervals
#: when the element is not there at once, which added up to half a second to a cold start
#: (measured: the page done at 1.79-1.90 s, the waits returning at 2.16-2.26 s).
def wait_until(ready: str) -> str:
    """A page function ``(ms) => Promise<bool>`` that looks every 25 ms whether the
    JavaScript expression ``ready`` holds, for at most ``ms`` milliseconds."""
    return f"""(ms) => new Promise((done) => {{
  const end = performance.now() + ms;
  const ready = () => {ready};
  const look = () => ready() ? done(true)
    : performance.now() > end ? done(false) : setTimeout(look, 25);
  look();
}})"""


#: The page shows its first view: the NPV card and the three charts drawn.
PAGE_SHOWN = """document.querySelector('.cx-card[data-metric=npv]') &&
    ['cash_flow', 'waterfall', 'tornado'].every(
      (c) => document.querySelector('.cx-chart-' + c + ' svg'))"""
WAIT_SHOWN = wait_until("window.cxStats && window.cxStats.updates.length > 0 &&\n    "
                        + PAGE_SHOWN)


def wait_app(page: Any, url: str) -> float:
    """Open the app and wait until it shows its first view; return when the page says it
    drew it (``cxStats.updates[0].done``, as seconds since the epoch)."""
    page.goto(url, timeout=120_000)
    if not page.evaluate(WAIT_SHOWN, 120_000):
        raise TimeoutError("the page did not show its first view within 120 s")
    return page.evaluate("(performance.timeOrigin + window.cxStats.updates[0].done) / 1e3")


def wait_warm(server: Any, least: float = 1.5, most: float = 60.0) -> None:
    """Until the app's workers have warmed up: at least ``least`` seconds, then until the
    memory of the server and its workers stops growing (two readings 0.5 s apart within
    2 MB), at most ``most`` seconds."""
    time.sleep(least)
    end, before = time.monotonic() + most, server.rss_mb()
    while time.monotonic() < end:
        time.sleep(0.5)
        now = server.rss_mb()
        if abs(now - before) < 2 and server.status()["workers"]:
            return
        before = now


def cold_start(browser: Any, runs: int, shared_cache: Path | None, first: list[float]
               ) -> tuple[list[float], list[float]]:
    """``runs`` starts of the app, each timed from launching the server to the page having
    drawn its first view (the page's own stamp) and, second list, to the benchmark seeing
    it (the page's stamp plus the polling and a round trip through the driver). Then a
    value is typed at once (the target 5, 5.5, 6... days) and the update's time (release -> page) is
    appended to ``first``: on a first start the workers are still warming up then."""
    shown, seen = [], []
    for i in range(runs):
        with tempfile.TemporaryDirectory(prefix="cxroi-bench-") as tmp:
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            args = ["--cache-dir", str(shared_cache)] if shared_cache else []
            t0, w0 = time.perf_counter(), time.time()
            server = None
            try:
                server = start_server(Path(tmp), port=free_port(), args=args, **PORT_POLL)
                drawn = wait_app(page, server.url)
                seen.append(time.perf_counter() - t0)
                shown.append(drawn - w0)
                box = page.locator(f"{TARGET_ROW} .cx-box")
                box.fill(str(5 + i / 2))  # each run its own value: computed, not cached
                box.press("Enter")
                if page.evaluate(WAIT_UPDATE, [1, 60_000]):
                    first.append(page.evaluate(
                        "(u => u.done - u.release)(window.cxStats.updates[1])"))
            finally:
                page.close()
                if server is not None:
                    stop(server.process)
        time.sleep(1.0)
    return shown, seen


def slider_moves(browser: Any, moves: int, workers: int | None
                 ) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """The updates of ``moves`` slider moves, as the page stamped them, and the CPU
    seconds used while they were made: by the app (server and workers), by the browser
    (all its processes, and the Playwright driver) and by the whole machine."""
    with tempfile.TemporaryDirectory(prefix="cxroi-bench-") as tmp:
        args = ["--workers", str(workers)] if workers else []
        server = start_server(Path(tmp), args=args, **PORT_POLL)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        try:
            wait_app(page, server.url)
            # the workers finish warming up (on a first start they start after the first
            # view: "first update" in the cold starts measures a move made at once)
            wait_warm(server)
            seen: set[str] = set()
            box = page.locator(f"{TARGET_ROW} .cx-box")
            seen.add(box.input_value())
            app_pids = set(server.pids())
            cpu0 = (server.cpu_seconds(), descendants_cpu_seconds(app_pids),
                    machine_cpu_seconds(), time.perf_counter())
            i = 0
            while len(page.evaluate("window.cxStats.updates")) < moves + 1 and i < 4 * moves:
                i += 1
                frac = 0.12 + 0.5 * ((37 * i) % 101) / 100  # spread over the track
                n = len(page.evaluate("window.cxStats.updates"))
                drag_slider(page, TARGET_ROW, frac, steps=4)
                if box.input_value() in seen:
                    page.wait_for_timeout(300)  # a value shown before: skip it
                    continue
                seen.add(box.input_value())
                if not page.evaluate(WAIT_UPDATE, [n, 30_000]):
                    raise TimeoutError("no update within 30 s")
                page.wait_for_timeout(250)  # the value-of-information panel follows
            ups = page.evaluate("window.cxStats.updates")[1:]  # [0] is the first view
            cpu1 = (server.cpu_seconds(), descendants_cpu_seconds(app_pids),
                    machine_cpu_seconds(), time.perf_counter())
            cpu = {k: cpu1[i] - cpu0[i] for i, k in enumerate(("app", "browser", "machine",
                                                                "wall"))}
            ARTIFACTS.mkdir(exist_ok=True)
            page.set_viewport_size({"width": 1440, "height": 2300})
            page.wait_for_timeout(500)
            page.screenshot(path=str(ARTIFACTS / "bench_app.png"))
            return ups, cpu
        finally:
            page.close()
            stop(server.process)


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def summary(xs: list[float]) -> dict[str, float]:
    return {"p50": statistics.median(xs), "p95": pct(xs, 0.95), "max": max(xs)}


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--moves", type=int, default=50)
    ap.add_argument("--cold", type=int, default=3, help="cold starts of each kind (0: none)")
    ap.add_argument("--workers", type=int, default=None)
    a = ap.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"skipped: {CHROMIUM} not found (apt-get install -y chromium)")
        return
    from playwright.sync_api import sync_playwright

    load_before, ref_before = os.getloadavg(), cumprod_reference()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=CHROMIUM_ARGS)
        try:
            ups, cpu = slider_moves(browser, a.moves, a.workers)
            first_empty: list[float] = []
            first_cached: list[float] = []
            cold_empty, seen_empty = cold_start(browser, a.cold, None, first_empty)
            with tempfile.TemporaryDirectory(prefix="cxroi-cache-") as cache:
                cold_cached, seen_cached = cold_start(browser, a.cold + 1, Path(cache),
                                                      first_cached) if a.cold else ([], [])
                cold_cached, seen_cached = cold_cached[1:], seen_cached[1:]
                first_cached = first_cached[1:]
        finally:
            browser.close()
    total = [u["done"] - u["release"] for u in ups]
    answer = [u["answer"] - u["release"] for u in ups]
    charts = [u["done"] - u["cards"] for u in ups]
    server = [u["server_ms"] for u in ups if u["server_ms"] is not None]
    out_of_sight = statistics.median([u.get("out_of_sight", 0) for u in ups])
    result = {
        "moves": len(ups),
        "slider_to_page_ms": {**summary(total), "target_p95": 100},
        "answer_ms": summary(answer), "charts_ms": summary(charts),
        "server_compute_ms": summary(server) if server else None,
        "answer_bytes": statistics.median([u["bytes"] for u in ups]),
        "charts_out_of_sight": out_of_sight,
        # CPU seconds while the moves were made (their pauses included): the app (server,
        # workers, background worker), the browser (its processes and the Playwright
        # driver), the whole machine (those and other people's work); per update in ms
        "cpu_s": cpu, "app_cpu_ms_per_update": cpu["app"] * 1e3 / max(1, len(ups)),
        "browser_cpu_ms_per_update": cpu["browser"] * 1e3 / max(1, len(ups)),
        # command -> the page drew its first view (its own stamp); "seen_*": when the
        # benchmark saw it (polling every 25 ms and a round trip through the driver)
        "cold_start_s": {"empty_cache": cold_empty, "restart": cold_cached,
                         "median_empty": _median(cold_empty),
                         "median_restart": _median(cold_cached), "target": 2,
                         "seen_empty": seen_empty, "seen_restart": seen_cached,
                         # a value typed as soon as the first view shows: its update, ms
                         "first_update_ms_empty": first_empty,
                         "first_update_ms_restart": first_cached},
        "load_average_before": load_before, "load_average_after": os.getloadavg(),
        "cumprod_ms_before": ref_before, "cumprod_ms_after": cumprod_reference(),
        "cpus": os.cpu_count(),
    }
    ref = (ref_before + result["cumprod_ms_after"]) / 2
    result["slider_p95_in_cumprod_passes"] = result["slider_to_page_ms"]["p95"] / ref
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "bench_app.json").write_text(json.dumps(result, indent=2))
    s, c = result["slider_to_page_ms"], result["cold_start_s"]
    print(f"slider release -> numbers + charts in the page, {len(ups)} moves: "
          f"p50 {s['p50']:.0f} ms, p95 {s['p95']:.0f} ms (target p95 <= 100 ms)")
    print(f"  of which answer (request + server + JSON) p50 {result['answer_ms']['p50']:.0f} ms"
          f" p95 {result['answer_ms']['p95']:.0f}; charts p50 {result['charts_ms']['p50']:.0f}"
          f" ms p95 {result['charts_ms']['p95']:.0f}; server compute p50 "
          f"{result['server_compute_ms']['p50']:.0f} ms p95 "
          f"{result['server_compute_ms']['p95']:.0f}; answer {result['answer_bytes']:.0f} B; "
          f"charts out of sight (drawn when scrolled to) {out_of_sight:.0f}")
    print(f"  CPU per update: app {result['app_cpu_ms_per_update']:.0f} ms, browser "
          f"{result['browser_cpu_ms_per_update']:.0f} ms (the machine: {cpu['machine']:.1f} s "
          f"busy in {cpu['wall']:.1f} s on {os.cpu_count()} CPUs)")
    print(f"cold start (command -> interactive page): empty cache median "
          f"{c['median_empty']:.2f} s {[round(x, 2) for x in cold_empty]}; restart "
          f"median {c['median_restart']:.2f} s {[round(x, 2) for x in cold_cached]} "
          f"(target <= 2 s; as the benchmark saw them: {[round(x, 2) for x in seen_empty]}, "
          f"{[round(x, 2) for x in seen_cached]})")
    print(f"  a value typed as soon as the first view shows: update in "
          f"{[round(x) for x in first_empty]} ms after a first start, "
          f"{[round(x) for x in first_cached]} ms after a restart")
    print(f"load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f} on "
          f"{os.cpu_count()} CPUs; np.cumprod (3, 36, 10,000) {ref_before:.1f} -> "
          f"{result['cumprod_ms_after']:.1f} ms: slider p95 = "
          f"{result['slider_p95_in_cumprod_passes']:.0f} such passes (100 ms at the "
          f"issue's 4.8 ms = 21); details in {ARTIFACTS / 'bench_app.json'}")


if __name__ == "__main__":
    main()

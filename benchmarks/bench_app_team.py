"""Benchmark of the app for a team: twenty people at once, in real browsers.

One app server (``python -m cxroi.app``, default workers) and one headless Chromium with
twenty browser contexts (twenty separate sessions: own cookies, own page):

1. All twenty open the page at the same moment: the time until each page is interactive
   (numbers and the three charts drawn). Target: every page within 10 s.
2. Then each person moves the resolution-time slider ``--moves`` times, with a pause of
   ``--pause`` seconds between moves (default 0.3-1.5 s: a brisk pace; people reading
   nine cards and three charts take longer), all at once: release -> numbers and charts
   drawn, as each page stamps it (``window.cxStats``). Target p95 <= 500 ms.
3. Memory: resident memory of the server and its workers (from /proc) once warm, with one
   page open and with twenty; per session beyond the first = (twenty - one) / 19.
   Target <= 80 MB.
4. A twenty-first visitor above ``--max-sessions 20`` gets the "busy" page (503), and
   after the pages close every session is freed within a minute.

Run ``.venv/bin/python benchmarks/bench_app_team.py [--sessions 20] [--moves 10]``. Writes
``test-artifacts/bench_app_team.json``. The load average is reported (a shared 2-core
machine), with the time of one ``np.cumprod`` pass over a (3, 36, 10,000) array measured
in the same run as a reference.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
from appserver import start_server, stop  # noqa: E402

# The yardstick and the browser settings are bench_app's (one person), extended here.
from bench_app import (  # noqa: E402
    ARTIFACTS,
    CHROMIUM,
    PAGE_SHOWN,
    TARGET_ROW,
    WAIT_UPDATE,
    cumprod_reference,
    descendant_processes,
    machine_cpu_seconds,
    wait_until,
)
from bench_app import CHROMIUM_ARGS as _ONE_PERSON_ARGS  # noqa: E402

#: How the benchmark waits for a page to be interactive: as bench_app.WAIT_UPDATE, one
#: call the page answers itself (opening: +- 25 ms)
WAIT_OPEN = wait_until(PAGE_SHOWN)
# twenty pages in one browser: background pages must not be throttled
CHROMIUM_ARGS = [*_ONE_PERSON_ARGS, "--disable-renderer-backgrounding",
                 "--disable-background-timer-throttling"]


def browser_cpu(exclude: set[int]) -> tuple[float, float, dict[str, float]]:
    """CPU seconds used so far by this benchmark's child processes, from one walk of /proc
    (:func:`bench_app.descendant_processes`; ``exclude``: the app server and its workers):
    all of them, the Playwright driver's alone (the processes that are not Chromium's), and
    Chromium's by kind: the pages' ``renderer`` processes, the ``gpu-process`` (the display
    compositor: with ``--disable-gpu`` it draws every frame in software), the ``browser``
    process (input events, the DevTools protocol Playwright speaks, network) and ``other``
    (utility processes: the network service, storage)."""
    kinds = dict.fromkeys(("renderer", "gpu-process", "browser", "other"), 0.0)
    total = driver = 0.0
    for cpu, name, cmd in descendant_processes(exclude).values():
        total += cpu
        if name.startswith("chrom"):
            typ = next((a[7:].decode() for a in cmd if a.startswith(b"--type=")), "browser")
            kinds[typ if typ in ("renderer", "gpu-process", "browser") else "other"] += cpu
        else:
            driver += cpu
    return total, driver, kinds


async def wait_warm(server: Any, most: float = 60.0) -> None:
    """Until every worker has warmed up: at least 3 s, then until the memory of the server
    and its workers stops growing (two readings 1 s apart within 2 MB), at most ``most``
    seconds. (The background worker warms up at a low CPU priority: on a busy machine it
    may take a while, and its growth is not the pages'.)"""
    await asyncio.sleep(3)
    end, before = time.monotonic() + most, server.rss_mb()
    while time.monotonic() < end:
        await asyncio.sleep(1)
        now = server.rss_mb()
        if abs(now - before) < 2:
            return
        before = now


async def open_page(browser: Any, url: str, t0: float) -> tuple[Any, Any, float]:
    ctx = await browser.new_context(viewport={"width": 1300, "height": 900})
    page = await ctx.new_page()
    await page.goto(url, timeout=120_000)
    if not await page.evaluate(WAIT_OPEN, 120_000):
        raise TimeoutError("the page was not interactive within 120 s")
    return ctx, page, time.perf_counter() - t0


#: One call per move before the drag: the page's update count and where the slider's
#: thumb is (a fraction of its track)
BEFORE_MOVE = """(sel) => { const e = document.querySelector(sel);
  return [window.cxStats.updates.length, (e.value - e.min) / (e.max - e.min)]; }"""


async def drag(page: Any, fraction: float, box: dict[str, float] | None = None,
               now: float | None = None) -> None:
    """Press the slider's thumb (at ``now``, a fraction of its track), drag it to
    ``fraction`` in four mouse moves and release. ``box`` is the slider's bounding box
    (asked for when not given; the controls do not move, so a person's loop asks once)."""
    rng = page.locator(f"{TARGET_ROW} input[type=range]")
    box = box or await rng.bounding_box()
    if now is None:
        now = await rng.evaluate("e => (e.value - e.min) / (e.max - e.min)")
    y = box["y"] + box["height"] / 2

    def x(f: float) -> float:
        return box["x"] + 8 + f * (box["width"] - 16)

    await page.mouse.move(x(now), y)
    await page.mouse.down()
    await page.mouse.move(x(fraction), y, steps=4)
    await page.mouse.up()


async def person(page: Any, moves: int, seed: int, pause: tuple[float, float]) -> None:
    """One person: ``moves`` drags of the resolution-time slider, each after a pause drawn
    from ``pause``, waiting for the page to show each update. The benchmark's own calls
    into the page are kept few (one before and one after each drag, the slider's box asked
    once): every call costs the browser and the Playwright driver CPU on the machine the
    twenty pages share, which people at their own computers do not cost."""
    rnd = random.Random(seed)
    box = await page.locator(f"{TARGET_ROW} input[type=range]").bounding_box()
    for _ in range(moves):
        await asyncio.sleep(rnd.uniform(*pause))
        n, now = await page.evaluate(BEFORE_MOVE, f"{TARGET_ROW} input[type=range]")
        await drag(page, rnd.uniform(0.1, 0.7), box, now)
        # False after 5 s when the drag landed on the value shown: nothing to update
        await page.evaluate(WAIT_UPDATE, [n, 5_000])


async def run(sessions: int, moves: int, workers: int | None, pause: tuple[float, float]
              ) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    with tempfile.TemporaryDirectory(prefix="cxroi-team-") as tmp:
        args = ["--max-sessions", str(sessions), "--idle-seconds", "45"]
        if workers:
            args += ["--workers", str(workers)]
        server = start_server(Path(tmp), args=args)
        try:
            await wait_warm(server)
            rss_idle = server.rss_mb()
            async with async_playwright() as p:
                browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                  args=CHROMIUM_ARGS)
                app_pids = set(server.pids())
                cpu0, machine0 = server.cpu_seconds(), machine_cpu_seconds()
                browser0, driver0, _ = browser_cpu(app_pids)
                t0 = time.perf_counter()
                first = await open_page(browser, server.url, t0)
                rss_one = server.rss_mb()
                t0 = time.perf_counter()
                rest = await asyncio.gather(*[open_page(browser, server.url, t0)
                                              for _ in range(sessions - 1)])
                opened = [first, *rest]
                interactive = [r[2] for r in rest]
                open_wall = time.perf_counter() - t0
                cpu1, machine1 = server.cpu_seconds(), machine_cpu_seconds()
                browser1, driver1, kinds1 = browser_cpu(app_pids)
                rss_all = server.rss_mb()
                status = server.status()
                try:  # one more visitor than the cap
                    urllib.request.urlopen(server.url, timeout=30)
                    busy = None
                except urllib.error.HTTPError as exc:
                    busy = {"status": exc.code, "busy_page": b"busy" in exc.read()}
                t_moves = time.perf_counter()
                await asyncio.gather(*[person(pg, moves, i, pause) for i, (_, pg, _) in
                                       enumerate(opened)])
                moves_s = time.perf_counter() - t_moves
                cpu2, machine2 = server.cpu_seconds(), machine_cpu_seconds()
                browser2, driver2, kinds2 = browser_cpu(app_pids)
                ups = []
                for _, pg, _ in opened:
                    ups += (await pg.evaluate(  # `at`: the release, ms since the epoch
                        "window.cxStats.updates.map((u) => "
                        "Object.assign({at: performance.timeOrigin + u.release}, u))"))[1:]
                rss_after = server.rss_mb()
                for ctx, _, _ in opened:
                    await ctx.close()
                t_close = time.perf_counter()
                while server.status()["sessions"] and time.perf_counter() - t_close < 90:
                    await asyncio.sleep(0.5)
                freed_s = time.perf_counter() - t_close
                left = server.status()["sessions"]
                await browser.close()
        finally:
            stop(server.process)
    upd = [u["done"] - u["release"] for u in ups]
    first_release = min(u["at"] for u in ups)

    def p50_p95(xs: list[float]) -> dict[str, float]:
        xs = sorted(xs) or [float("nan")]
        return {"p50": statistics.median(xs), "p95": xs[round(0.95 * (len(xs) - 1))]}

    # where an update's time goes: the page waiting for the answer beyond the worker's
    # computation (request, queue for a worker, hand-over, JSON), the computation, and the
    # page drawing the numbers and charts once the answer is in
    # (where the page reports how long the server held the request: the server's wait
    # for a worker and hand-over, and the browser's and network's part of the rest)
    timed = [u for u in ups if u["server_ms"]]
    held = [u for u in timed if u.get("held_ms") is not None]
    parts = {"compute_ms": p50_p95([u["server_ms"] for u in timed]),
             "request_and_queue_ms": p50_p95([u["answer"] - u["release"] - u["server_ms"]
                                              for u in timed]),
             "server_wait_ms": p50_p95([u["held_ms"] - u["server_ms"] for u in held]),
             "browser_and_network_ms": p50_p95([u["answer"] - u["release"] - u["held_ms"]
                                                for u in held]),
             "page_ms": p50_p95([u["done"] - u["answer"] for u in ups])}
    return {
        "sessions": sessions, "workers": len(status["workers"]), "pause_s": list(pause),
        "interactive_s": {"max": max(interactive), "p50": statistics.median(interactive),
                          "all": [round(x, 2) for x in interactive], "target_max": 10},
        "update_ms": {"n": len(upd), "p50": statistics.median(upd),
                      "p95": sorted(upd)[round(0.95 * (len(upd) - 1))], "max": max(upd),
                      "target_p95": 500},
        "server_ms_p50": statistics.median([u["server_ms"] for u in ups if u["server_ms"]]
                                           or [0]),
        "update_parts": parts,
        # the slowest tenth, in the order of their releases (s after the first release)
        "slowest": [{"at_s": round((u["at"] - first_release) / 1e3, 2),
                     "total_ms": round(u["done"] - u["release"]),
                     "compute_ms": u["server_ms"], "held_ms": u.get("held_ms")}
                    for u in sorted(sorted(ups, key=lambda u: u["release"] - u["done"])
                                    [:max(1, len(ups) // 10)], key=lambda u: u["at"])],
        "cached_share": sum(1 for u in ups if u["server_ms"] is None) / max(1, len(ups)),
        "moves_wall_s": moves_s,
        # CPU seconds used while the pages opened / while people moved sliders: by the app
        # (server + workers), by the browser (its twenty pages and the Playwright driver)
        # and by the whole machine (every process: those and the other work on it); the
        # machine has os.cpu_count() cores
        "cpu_s": {"open_app": cpu1 - cpu0, "open_browser": browser1 - browser0,
                  "open_machine": machine1 - machine0,
                  "open_wall": open_wall, "moves_app": cpu2 - cpu1,
                  "moves_browser": browser2 - browser1,
                  "open_driver": driver1 - driver0, "moves_driver": driver2 - driver1,
                  "moves_machine": machine2 - machine1, "moves_wall": moves_s,
                  "moves_browser_ms_per_update": (browser2 - browser1) * 1e3 / max(1, len(ups)),
                  "moves_app_ms_per_update": (cpu2 - cpu1) * 1e3 / max(1, len(ups)),
                  "moves_driver_ms_per_update": (driver2 - driver1) * 1e3 / max(1, len(ups)),
                  # the browser's part by kind of Chromium process (the pages' renderers,
                  # the display compositor, the browser process)
                  "moves_chromium_ms_per_update": {
                      k: (kinds2[k] - kinds1[k]) * 1e3 / max(1, len(ups)) for k in kinds2}},
        "rss_mb": {"warm_no_page": rss_idle, "one_page": rss_one, "all_pages": rss_all,
                   "after_moves": rss_after,
                   "per_extra_session": (rss_all - rss_one) / max(1, sessions - 1),
                   "per_extra_session_after_moves": (rss_after - rss_one) / max(1, sessions - 1),
                   "target_per_extra": 80},
        "busy_above_cap": busy, "sessions_left_after_close": left, "freed_within_s": freed_s,
    }


async def run_http(sessions: int, moves: int, workers: int | None,
                   pause: tuple[float, float]) -> dict[str, Any]:
    """The server alone: ``sessions`` clients speaking its JSON API (no browsers on the
    machine), each loading the lead scenario and moving the resolution-time target
    ``moves`` times with ``pause`` seconds between moves; latency = request -> answer."""
    from tornado.httpclient import AsyncHTTPClient

    with tempfile.TemporaryDirectory(prefix="cxroi-team-http-") as tmp:
        args = ["--max-sessions", str(sessions)] + (["--workers", str(workers)] if workers
                                                    else [])
        server = start_server(Path(tmp), args=args)
        try:
            await wait_warm(server)
            http = AsyncHTTPClient(max_clients=sessions * 2)
            hdr = {"Content-Type": "application/json", "Host": f"127.0.0.1:{server.port}"}

            async def call(action: str, body: dict[str, Any]) -> tuple[float, dict[str, Any]]:
                t = time.perf_counter()
                r = await http.fetch(server.url + "api/" + action, method="POST",
                                     body=json.dumps(body), headers=hdr, request_timeout=120)
                return (time.perf_counter() - t) * 1e3, json.loads(r.body)

            async def client(i: int) -> tuple[float, list[float]]:
                rnd = random.Random(i)
                sid = f"http-{i}"
                t_open, out = await call("load", {"session": sid, "file": "complaints-30-to-1.yaml"})
                data, lat = out["data"], []
                for seq in range(1, moves + 1):
                    await asyncio.sleep(rnd.uniform(*pause))
                    data["touchpoints"]["complaints"]["lever"]["target"] = \
                        round(10 ** rnd.uniform(-0.5, 1.3), 2)
                    ms, _ = await call("compute", {"session": sid, "seq": seq, "data": data,
                                                   "file": "complaints-30-to-1.yaml"})
                    lat.append(ms)
                return t_open, lat

            cpu0 = server.cpu_seconds()
            t0 = time.perf_counter()
            res = await asyncio.gather(*[client(i) for i in range(sessions)])
            wall = time.perf_counter() - t0
            cpu = server.cpu_seconds() - cpu0
        finally:
            stop(server.process)
    lat = sorted(x for _, ls in res for x in ls)
    return {"sessions": sessions, "pause_s": list(pause), "updates": len(lat),
            "first_view_ms_max": max(t for t, _ in res),
            "update_ms": {"p50": statistics.median(lat), "p95": lat[round(0.95 * (len(lat) - 1))],
                          "max": lat[-1]},
            "app_cpu_s": cpu, "wall_s": wall, "app_cpu_ms_per_update": cpu * 1e3 / len(lat)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--moves", type=int, default=10)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--pause", type=float, nargs=2, default=(0.3, 1.5),
                    help="seconds between one person's moves (uniform, low high)")
    ap.add_argument("--http-only", action="store_true",
                    help="the server alone: clients speak its JSON API, no browsers")
    a = ap.parse_args()
    if a.http_only:
        load_before, ref = os.getloadavg(), cumprod_reference()
        out = asyncio.run(run_http(a.sessions, a.moves, a.workers, tuple(a.pause)))
        out.update(load_average_before=load_before, load_average_after=os.getloadavg(),
                   cumprod_ms=ref)
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "bench_app_team_http.json").write_text(json.dumps(out, indent=2))
        u = out["update_ms"]
        print(f"server alone, {a.sessions} clients x {a.moves} moves (pauses {a.pause[0]}-"
              f"{a.pause[1]} s): first view within {out['first_view_ms_max']:.0f} ms; update "
              f"p50 {u['p50']:.0f} ms, p95 {u['p95']:.0f} ms; app CPU "
              f"{out['app_cpu_ms_per_update']:.0f} ms per update; load {load_before[0]:.2f} "
              f"-> {os.getloadavg()[0]:.2f}, np.cumprod {ref:.1f} ms")
        return
    if not Path(CHROMIUM).exists():
        print(f"skipped: {CHROMIUM} not found (apt-get install -y chromium)")
        return
    load_before, ref_before = os.getloadavg(), cumprod_reference()
    out = asyncio.run(run(a.sessions, a.moves, a.workers, tuple(a.pause)))
    out.update(load_average_before=load_before, load_average_after=os.getloadavg(),
               cumprod_ms_before=ref_before, cumprod_ms_after=cumprod_reference(),
               cpus=os.cpu_count())
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "bench_app_team.json").write_text(json.dumps(out, indent=2))
    i, u, m = out["interactive_s"], out["update_ms"], out["rss_mb"]
    print(f"{a.sessions} sessions, {out['workers']} workers: every page interactive within "
          f"{i['max']:.1f} s (p50 {i['p50']:.1f} s; target 10 s)")
    print(f"slider release -> numbers + charts, {u['n']} updates under load: p50 "
          f"{u['p50']:.0f} ms, p95 {u['p95']:.0f} ms (target 500 ms; pauses "
          f"{a.pause[0]}-{a.pause[1]} s); server p50 "
          f"{out['server_ms_p50']:.0f} ms; {out['cached_share']:.0%} from the cache")
    print(f"memory (server + workers): warm {m['warm_no_page']:.0f} MB, one page "
          f"{m['one_page']:.0f} MB, {a.sessions} pages {m['all_pages']:.0f} MB -> "
          f"{m['per_extra_session']:.2f} MB per extra session (after the moves "
          f"{m['per_extra_session_after_moves']:.2f}; target 80)")
    c = out["cpu_s"]
    print(f"CPU while opening: app {c['open_app']:.1f} s, browser {c['open_browser']:.1f} s "
          f"of the machine's {c['open_machine']:.1f} s busy in {c['open_wall']:.1f} s; while "
          f"moving: app {c['moves_app']:.1f} s, browser {c['moves_browser']:.1f} s of "
          f"{c['moves_machine']:.1f} s in {c['moves_wall']:.1f} s (per update: app "
          f"{c['moves_app_ms_per_update']:.0f} ms, browser "
          f"{c['moves_browser_ms_per_update']:.0f} ms, of which the Playwright driver "
          f"{c['moves_driver_ms_per_update']:.0f} ms)")
    k = c["moves_chromium_ms_per_update"]
    print(f"  Chromium per update by process: renderers {k['renderer']:.0f} ms, display "
          f"compositor (gpu-process) {k['gpu-process']:.0f} ms, browser process "
          f"{k['browser']:.0f} ms, others {k['other']:.0f} ms")
    pp = out["update_parts"]
    print("  where an update's time goes (p50 / p95): request and queue "
          f"{pp['request_and_queue_ms']['p50']:.0f} / {pp['request_and_queue_ms']['p95']:.0f}"
          f" ms, worker's computation {pp['compute_ms']['p50']:.0f} / "
          f"{pp['compute_ms']['p95']:.0f} ms, page drawing {pp['page_ms']['p50']:.0f} / "
          f"{pp['page_ms']['p95']:.0f} ms; of request and queue: the server waiting for a "
          f"worker {pp['server_wait_ms']['p50']:.0f} / {pp['server_wait_ms']['p95']:.0f} ms,"
          f" the browser and network {pp['browser_and_network_ms']['p50']:.0f} / "
          f"{pp['browser_and_network_ms']['p95']:.0f} ms")
    print(f"above the cap: {out['busy_above_cap']}; sessions left "
          f"{out['sessions_left_after_close']} {out['freed_within_s']:.1f} s after closing")
    print(f"load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}; "
          f"np.cumprod (3, 36, 10,000) {ref_before:.1f} -> {out['cumprod_ms_after']:.1f} ms")


if __name__ == "__main__":
    main()

"""Helpers shared by the app's tests and benchmarks: start and stop the app server
(``python -m cxroi.app``) on a free loopback port, ask it how it is, drag a slider.

Plain functions, no pytest fixtures, so the benchmarks can import this module too (they
put ``tests/browser`` on ``sys.path``; under pytest that folder is on it already, since it
has no ``__init__.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[Any], timeout: float = 60.0, *,
                  connect_timeout: float = 0.2, poll: float = 0.05) -> None:
    """Return once something listens on ``127.0.0.1:port``; raise ``RuntimeError`` if
    ``proc`` exits first or nothing listens within ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"the app server exited with code {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=connect_timeout).close()
            return
        except OSError:
            time.sleep(poll)
    raise RuntimeError(f"the app server did not listen on 127.0.0.1:{port} in {timeout} s")


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists (and is not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def stop(proc: subprocess.Popen[Any], sig: int = signal.SIGINT, timeout: float = 15) -> float:
    """Stop the server we started with ``sig`` (Ctrl+C by default) and return how long it
    took to exit; then make sure nothing of its own process group is left."""
    t0 = time.monotonic()
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    took = time.monotonic() - t0
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the group we created with start_new_session
    except (ProcessLookupError, PermissionError):
        pass
    return took


@dataclass
class Server:
    """A running app server and the folders it was given."""

    url: str
    port: int
    scenario_dir: Path
    reports_dir: Path
    log: Path
    process: subprocess.Popen[Any]

    def status(self) -> dict[str, Any]:
        """``GET /api/status``: open pages, worker pids, cache."""
        with urllib.request.urlopen(self.url + "api/status", timeout=30) as r:
            return json.loads(r.read())

    def pids(self) -> list[int]:
        """The server's process id and its live workers' (interactive and background)."""
        st = self.status()
        return [self.process.pid, *st["workers"], *st.get("background_workers", [])]

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the server and its live workers
        (interactive and background)."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick
            except (FileNotFoundError, IndexError):
                pass
        return total

    def rss_mb(self) -> float:
        """Resident memory of the server and its workers together, MB (from /proc)."""
        pids = self.pids()
        total = 0
        for pid in pids:
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
            except FileNotFoundError:
                pass
        return total / 1024


def start_server(base: Path, scenario_files: list[Path] | None = None, *,
                 port: int | None = None, args: list[str] | None = None,
                 connect_timeout: float = 0.2, poll: float = 0.05) -> Server:
    """``python -m cxroi.app`` on a loopback port (``port``, or a free one) with its own
    scenario, report and cache folders under ``base`` (the demo scenarios copied in,
    unless ``scenario_files`` are given) and extra ``args``; returns once the port listens.
    The server runs in its own session; end it with :func:`stop`.
    """
    scen, reports, cache = base / "scenarios", base / "reports", base / "cache"
    scen.mkdir(parents=True, exist_ok=True)
    for f in scenario_files or sorted((ROOT / "data" / "scenarios").glob("*.yaml")):
        shutil.copy(f, scen / f.name)
    port = free_port() if port is None else port
    log = base / "app.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cxroi.app", "--port", str(port), "--host", "127.0.0.1",
         "--scenario-dir", str(scen), "--reports-dir", str(reports), "--cache-dir",
         str(cache), *(args or [])],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        wait_for_port(port, proc, connect_timeout=connect_timeout, poll=poll)
    except Exception:
        stop(proc)
        raise
    return Server(f"http://127.0.0.1:{port}/", port, scen, reports, log, proc)


def drag_slider(page: Any, row: str, fraction: float, steps: int = 8) -> None:
    """Press the thumb of the slider in ``row`` (a CSS selector), drag it to ``fraction``
    of its track in ``steps`` mouse moves and release (Playwright ``page``)."""
    rng = page.locator(f"{row} input[type=range]")
    box = rng.bounding_box()
    now = rng.evaluate("e => (e.value - e.min) / (e.max - e.min)")
    thumb = 16  # Chromium's default range thumb
    y = box["y"] + box["height"] / 2

    def x(f: float) -> float:
        return box["x"] + thumb / 2 + f * (box["width"] - thumb)

    page.mouse.move(x(now), y)
    page.mouse.down()
    page.mouse.move(x(fraction), y, steps=steps)
    page.mouse.up()

"""Helpers shared by the browser tests and ``benchmarks/bench_app.py``: start and stop the
Voila app server (``python -m cxroi.app``) on a free loopback port, and drag a slider.

Plain functions, no pytest fixtures, so the benchmark can import this module too (it puts
``tests/browser`` on ``sys.path``; under pytest that folder is on it already, since it has
no ``__init__.py``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
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
    ``proc`` exits first or nothing listens within ``timeout`` seconds.

    Each try connects with ``connect_timeout`` seconds and sleeps ``poll`` seconds after a
    refusal.
    """
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


def stop(proc: subprocess.Popen[Any]) -> None:
    """Stop the server we started (SIGINT lets Voila shut its kernels down), then make
    sure nothing of its own process group is left."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the group we created with start_new_session
    except (ProcessLookupError, PermissionError):
        pass


@dataclass
class Server:
    """A running app server and the folders it was given."""

    url: str
    port: int
    scenario_dir: Path
    reports_dir: Path
    log: Path
    process: subprocess.Popen[Any]


def start_server(base: Path, scenario_files: list[Path] | None = None, *,
                 port: int | None = None, connect_timeout: float = 0.2,
                 poll: float = 0.05) -> Server:
    """``python -m cxroi.app`` on a loopback port (``port``, or a free one) with its own
    scenario and report folders under ``base`` (the demo scenarios copied in, unless
    ``scenario_files`` are given); returns once the port listens (see
    :func:`wait_for_port` for ``connect_timeout`` and ``poll``). The server runs in its
    own session; end it with :func:`stop`.
    """
    scen, reports = base / "scenarios", base / "reports"
    scen.mkdir(parents=True, exist_ok=True)
    for f in scenario_files or sorted((ROOT / "data" / "scenarios").glob("*.yaml")):
        shutil.copy(f, scen / f.name)
    port = free_port() if port is None else port
    log = base / "voila.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cxroi.app", "--port", str(port), "--host", "127.0.0.1",
         "--scenario-dir", str(scen), "--reports-dir", str(reports)],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        wait_for_port(port, proc, connect_timeout=connect_timeout, poll=poll)
    except Exception:
        stop(proc)
        raise
    return Server(f"http://127.0.0.1:{port}/", port, scen, reports, log, proc)


def drag_slider(page: Any, row: str, fraction: float, steps: int = 8) -> None:
    """Press the handle of the slider in ``row`` (a CSS selector), drag it to
    ``fraction`` of its track in ``steps`` mouse moves and release (Playwright ``page``)."""
    track = page.locator(f"{row} .noUi-target").bounding_box()
    handle = page.locator(f"{row} .noUi-handle").bounding_box()
    y = handle["y"] + handle["height"] / 2
    page.mouse.move(handle["x"] + handle["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(track["x"] + track["width"] * fraction, y, steps=steps)
    page.mouse.up()

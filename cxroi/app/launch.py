"""Starting and stopping ``cxroi app``: bind, start the workers, serve, stop on Ctrl+C.

:func:`serve` is what ``cxroi app`` and ``python -m cxroi.app`` (:func:`main`) run; the
handlers are in :mod:`cxroi.app.server`, the guards in :mod:`cxroi.app.security`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import socket
import sys
import webbrowser
from pathlib import Path

from cxroi.app.engine import Engine, ResultCache, default_cache_dir
from cxroi.app.security import allowed_hosts, is_loopback
from cxroi.app.server import IDLE_SECONDS, MAX_BODY, Config, first_view, make_app
from cxroi.errors import CxroiError


def free_port(preferred: int = 8866, host: str = "127.0.0.1") -> int:
    """``preferred`` when it is free on ``host``, else any free port there."""
    for port in (preferred, 0):
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                           socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise CxroiError(f"no free port on {host}")  # pragma: no cover


def serve(port: int | None = None, host: str = "127.0.0.1", open_browser: bool = False,
          scenario_dir: Path = Path("data/scenarios"), reports_dir: Path = Path("reports"),
          workers: int | None = None, token: str | None = None, max_sessions: int = 40,
          cache_dir: Path | None = None, idle_seconds: float = IDLE_SECONDS) -> None:
    """Serve the app and print its address; blocks until Ctrl+C or SIGTERM.

    Parameters
    ----------
    port : int, optional
        Default 8866 when free, else any free port.
    host : str
        Address to listen on. Loopback (the default ``127.0.0.1``) needs no token; any
        other address requires one.
    open_browser : bool
        Open the page in the default browser.
    scenario_dir, reports_dir : Path
        Scenario folder (picker and "Save") and report folder.
    workers : int, optional
        Worker processes computing results (default: CPUs, at most 4).
    token : str, optional
        The token a browser must present (in the address once, then a cookie); generated
        when the host is not loopback and none is given.
    max_sessions : int
        Open pages served at once; the next visitor is asked to come back in a minute.
    cache_dir : Path, optional
        Where results are cached on disk (default ``~/.cache/cxroi/app``).
    idle_seconds : float
        A page not heard from for this long (closed, or its computer asleep) is forgotten;
        it is welcome back on its next request while there is room.
    """
    scen = Path(scenario_dir).resolve()
    reps = Path(reports_dir).resolve()
    if not scen.is_dir():
        raise CxroiError(f"scenario folder {scen} not found. Fix: pass --scenario-dir "
                         "with the folder of your scenario YAML files")
    reps.mkdir(parents=True, exist_ok=True)
    if not is_loopback(host) and not token:
        token = secrets.token_urlsafe(18)
    port = port or free_port(8866, host)
    from tornado.netutil import bind_sockets

    try:  # bind first: a busy port is said before anything starts
        sockets = bind_sockets(port, address=host)
    except OSError as exc:
        raise CxroiError(f"cannot listen on {host}:{port} ({exc.strerror}). Fix: choose "
                         "another --port, or stop the app already running there") from None
    # the workers are started by first_view (at once, or after a first start's first view)
    engine = Engine(workers, ResultCache(folder=cache_dir or default_cache_dir()))
    cfg = Config(host=host, port=port, scenario_dir=scen, reports_dir=reps, token=token,
                 max_sessions=max_sessions, allowed_hosts=allowed_hosts(host, port),
                 engine=engine, idle_seconds=idle_seconds)
    show = host
    if host in {"0.0.0.0", "::"}:  # every interface: print the one colleagues can reach
        from cxroi.app.security import _outbound_addresses

        show = sorted(_outbound_addresses() or {"localhost"})[0]
    url = f"http://{show if ':' not in show else f'[{show}]'}:{port}/"
    full = url + (f"?token={token}" if token else "")
    print(f"cxroi app: {full}  (scenarios in {scen}, reports in {reps}; "
          f"{engine.workers} workers; Ctrl+C stops it)", flush=True)
    if token:
        print(f"cxroi app: listening on {host}, beyond this machine: every browser needs "
              "the token in that address (once; then a cookie keeps it)", flush=True)
    if open_browser:
        webbrowser.open(full)
    sys.stdout.flush()
    try:
        asyncio.run(_run(cfg, sockets))
    finally:
        engine.stop()


async def _run(cfg: Config, sockets: list[socket.socket]) -> None:
    """Serve until SIGINT / SIGTERM; then stop listening, end the reports being made and
    every worker."""
    from tornado.httpserver import HTTPServer

    server = HTTPServer(make_app(cfg), max_body_size=MAX_BODY)
    server.add_sockets(sockets)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    from tornado.ioloop import PeriodicCallback

    culler = PeriodicCallback(cfg.cull, min(5_000, cfg.idle_seconds * 250))
    culler.start()
    # the lead scenario's first view, then the workers
    ahead = asyncio.ensure_future(first_view(cfg))
    try:
        await stop.wait()
    finally:
        ahead.cancel()
        culler.stop()
        server.stop()
        for proc in list(cfg.reports):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        cfg.engine.stop()
        print("cxroi app: stopped", flush=True)


def main(argv: list[str] | None = None) -> None:
    """``python -m cxroi.app [--host H] [--port N] [--workers N] [--token T]
    [--scenario-dir D] [--reports-dir D] [--open]``."""
    ap = argparse.ArgumentParser(prog="python -m cxroi.app",
                                 description="Serve the cxroi app for CX leaders.")
    ap.add_argument("--host", default="127.0.0.1",
                    help="address to listen on (beyond loopback a token is required)")
    ap.add_argument("--port", type=int, default=None, help="default 8866 or a free one")
    ap.add_argument("--workers", type=int, default=None,
                    help="worker processes computing results (default: CPUs, at most 4)")
    ap.add_argument("--token", default=None,
                    help="token browsers must present (generated beyond loopback)")
    ap.add_argument("--max-sessions", type=int, default=40,
                    help="open pages served at once (then: 'busy, try again in a minute')")
    ap.add_argument("--scenario-dir", type=Path, default=Path("data/scenarios"))
    ap.add_argument("--reports-dir", type=Path, default=Path("reports"))
    ap.add_argument("--cache-dir", type=Path, default=None,
                    help="results cached on disk (default ~/.cache/cxroi/app)")
    ap.add_argument("--idle-seconds", type=float, default=IDLE_SECONDS,
                    help="forget a page not heard from for this long")
    ap.add_argument("--open", action="store_true", help="open the default browser")
    a = ap.parse_args(argv)
    try:
        serve(a.port, a.host, a.open, a.scenario_dir, a.reports_dir, a.workers, a.token,
              a.max_sessions, a.cache_dir, a.idle_seconds)
    except CxroiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None

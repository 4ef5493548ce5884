"""``cxroi app``: one tornado server for the whole team, a small pool of workers computing.

Why this design: a Voila kernel per page cost about 157 MB and tens of seconds to start
for each person, and kernels of closed pages were never freed. Here a page costs the
server a few hundred bytes (a session record: who is waiting for what); the model runs
in a fixed pool of warm worker processes (:class:`cxroi.app.engine.Engine`) shared by
everyone, and answers are cached by the scenario's hash. The page is our own HTML and
script (``templates/``, ``static/``, with Vega-Embed vendored), so it loads nothing from
the network.

Guards: requests whose ``Host`` (or ``Origin``) is not the address the server was started
on are refused with 403 (DNS rebinding); beyond loopback a token is required (``--token``,
or one is generated and printed); above ``--max-sessions`` open pages a new visitor gets
a friendly "busy, try again in a minute" page; idle and closed pages are forgotten within
a minute; Ctrl+C and SIGTERM stop the server and its workers.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import secrets
import signal
import socket
import sys
import tempfile
import time
import webbrowser
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tornado.web

from cxroi.app import tasks
from cxroi.app.controls import scenario_files
from cxroi.app.engine import Engine, ResultCache, default_cache_dir, to_json
from cxroi.errors import CxroiError

_HERE = Path(__file__).resolve().parent
STATIC = _HERE / "static"
TEMPLATES = _HERE / "templates"
#: A page that sent nothing (no request, no heartbeat) for this long is forgotten.
IDLE_SECONDS = 45.0
#: The page's heartbeat interval (well under :data:`IDLE_SECONDS`).
HEARTBEAT_SECONDS = 15.0
#: Largest request body accepted (a scenario is a few kB).
MAX_BODY = 1_000_000
LEAD = "complaints-30-to-1.yaml"
_CSP = ("default-src 'none'; script-src 'self' 'unsafe-eval'; style-src 'self' "
        "'unsafe-inline'; img-src 'self' data:; connect-src 'self'; font-src 'self'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@dataclass
class Session:
    """One open page: when it was last heard from and what it waits for."""

    id: str
    seen: float = field(default_factory=time.monotonic)
    busy: bool = False
    #: the newest request waiting behind the one being computed: (seq, future, job)
    waiting: tuple[int, asyncio.Future[Any], Any] | None = None


@dataclass
class Config:
    """How the server was started (the handlers read it)."""

    host: str
    port: int
    scenario_dir: Path
    reports_dir: Path
    token: str | None
    max_sessions: int
    allowed_hosts: frozenset[str]
    engine: Engine
    idle_seconds: float = IDLE_SECONDS
    sessions: dict[str, Session] = field(default_factory=dict)
    reports: set[Any] = field(default_factory=set)

    def session(self, sid: str | None, create: bool = False) -> Session | None:
        """The session ``sid``, touched; a new one (when ``create`` and under the cap)."""
        now = time.monotonic()
        s = self.sessions.get(sid or "")
        if s is None and create and self.open_sessions() < self.max_sessions:
            s = Session(sid if sid and len(sid) <= 64 else secrets.token_urlsafe(12))
            self.sessions[s.id] = s
        if s is not None:
            s.seen = now
        return s

    def open_sessions(self) -> int:
        return len(self.sessions)

    def cull(self) -> int:
        """Forget pages not heard from for :data:`IDLE_SECONDS`; how many were forgotten."""
        limit = time.monotonic() - self.idle_seconds
        gone = [k for k, s in self.sessions.items() if s.seen < limit and not s.busy]
        for k in gone:
            self.sessions.pop(k, None)
        return len(gone)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def allowed_hosts(host: str, port: int) -> frozenset[str]:
    """The ``Host`` headers the server answers: its own address (and ``localhost`` /
    ``127.0.0.1`` for loopback). A wildcard address (``0.0.0.0``) adds this machine's
    name and addresses."""
    names = {host}
    if is_loopback(host):
        names |= {"localhost", "127.0.0.1", "[::1]"}
    if host in {"0.0.0.0", "::", ""}:
        names = {"localhost", "127.0.0.1", socket.gethostname(), socket.getfqdn()}
        try:
            names |= {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None)}
        except OSError:
            pass
    out = set()
    for n in names:
        n = f"[{n}]" if ":" in n and not n.startswith("[") else n
        out |= {f"{n}:{port}".lower()} | ({n.lower()} if port == 80 else set())
    return frozenset(out)


class Base(tornado.web.RequestHandler):
    """Every handler: the Host / Origin guard, the token, security headers."""

    @property
    def cfg(self) -> Config:
        return self.application.settings["cx"]

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", _CSP)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("X-Frame-Options", "DENY")

    def prepare(self) -> None:
        host = (self.request.headers.get("Host") or "").lower()
        if host not in self.cfg.allowed_hosts:
            self._refuse(403, "This address is not the one the app was started on.")
            return
        origin = self.request.headers.get("Origin")
        if origin is not None and origin.lower() not in {f"http://{h}" for h in
                                                         self.cfg.allowed_hosts}:
            self._refuse(403, "Requests from other sites are refused.")
            return
        token = self.cfg.token
        if token is None:
            return
        given = (self.get_query_argument("token", None) or self.get_cookie("cxroi_token")
                 or self.request.headers.get("Authorization", "").removeprefix("token "))
        if not given or not secrets.compare_digest(given, token):
            self._refuse(403, "This app needs its token: open the address `cxroi app` "
                              "printed (it ends in ?token=...).")
            return
        if self.get_query_argument("token", None):
            self.set_cookie("cxroi_token", token, httponly=True, samesite="Strict")

    def _refuse(self, code: int, text: str) -> None:
        self.set_status(code)
        if self.request.path.startswith("/api/"):
            self.finish({"ok": False, "message": text})
        else:
            self.finish(self.render_string("message.html", title="Not available",
                                           text=text))

    def get_template_path(self) -> str:
        return str(TEMPLATES)

    def json_body(self) -> dict[str, Any]:
        if len(self.request.body) > MAX_BODY:
            raise tornado.web.HTTPError(413)
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
            raise tornado.web.HTTPError(400, "not JSON") from None
        if not isinstance(body, dict):
            raise tornado.web.HTTPError(400, "not a JSON object")
        return body

    def send_json(self, data: bytes | dict[str, Any]) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(data if isinstance(data, bytes) else to_json(data))


class PageHandler(Base):
    """``GET /``: the app, or the "busy" page above the cap of open pages."""

    def get(self) -> None:
        cfg = self.cfg
        cfg.cull()
        self.set_header("Cache-Control", "no-store")
        # A plain GET registers nothing: the page's first request opens its session.
        if cfg.open_sessions() >= cfg.max_sessions:
            self.set_status(503)
            self.set_header("Retry-After", "60")
            self.finish(self.render_string(
                "message.html", title="The app is busy",
                text=f"The app is busy: {cfg.max_sessions} colleagues have it open. "
                     "Try again in a minute."))
            return
        boot = {"session": secrets.token_urlsafe(12),
                "heartbeat": min(HEARTBEAT_SECONDS, cfg.idle_seconds / 3), "lead": LEAD,
                "files": _files(cfg)}
        self.render("index.html", boot=json.dumps(boot).replace("</", "<\\/"))


class StatusHandler(Base):
    """``GET /api/status``: open pages, workers, cache (for benchmarks and tests)."""

    def get(self) -> None:
        cfg = self.cfg
        cfg.cull()
        eng = cfg.engine
        self.send_json({"ok": True, "sessions": cfg.open_sessions(),
                        "max_sessions": cfg.max_sessions, "workers": eng.pids(),
                        "server_pid": os.getpid(), "computed": eng.computed,
                        "cache": {"entries": len(eng.cache), "hits": eng.cache.hits,
                                  "misses": eng.cache.misses}})


class SpecHandler(Base):
    """``GET /api/spec/<shape>``: a chart's Vega spec (never changes: cached by browsers)."""

    def get(self, shape: str) -> None:
        spec = self.cfg.engine.spec(shape)
        if spec is None:
            raise tornado.web.HTTPError(404)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "private, max-age=31536000, immutable")
        self.finish(spec)


def _files(cfg: Config) -> list[dict[str, str]]:
    return [{"file": f.path.name, "kind": f.kind, "title": f.title, "option": f.option}
            for f in scenario_files(cfg.scenario_dir)]


class ApiHandler(Base):
    """``POST /api/<action>``: load, compute, voi, save, report, files, ping, bye."""

    async def post(self, action: str) -> None:
        body = self.json_body()
        cfg = self.cfg
        sid = str(body.get("session") or "")
        if action == "bye":
            cfg.sessions.pop(sid, None)
            self.send_json({"ok": True})
            return
        s = cfg.session(sid, create=True)
        if s is None:
            self.set_status(503)
            self.set_header("Retry-After", "60")
            self.send_json({"ok": False, "busy": True,
                            "message": "The app is busy. Try again in a minute."})
            return
        handler = getattr(self, f"do_{action}", None)
        if handler is None:
            raise tornado.web.HTTPError(404)
        self.send_json(await handler(s, body))

    async def do_ping(self, s: Session, body: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    async def do_files(self, s: Session, body: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "files": _files(self.cfg)}

    async def do_load(self, s: Session, body: dict[str, Any]) -> bytes | dict[str, Any]:
        cfg, eng = self.cfg, self.cfg.engine
        name = Path(str(body.get("file") or LEAD)).name
        path = cfg.scenario_dir / name
        corr = bool(body.get("correlated", True))
        try:
            content = path.read_bytes()
        except OSError:
            return {"ok": False, "message": f"<div class='cx-message'>{name} is not in the "
                                            "scenario folder any more: pick another.</div>"}
        inputs = {"file": name, "bytes": content.decode("utf-8", "replace"), "corr": corr}
        key = _key("load", inputs, cfg)
        return await eng.cached("load", inputs, tasks.load, name, str(cfg.scenario_dir),
                                corr, key, disk=True)

    async def do_compute(self, s: Session, body: dict[str, Any]) -> bytes | dict[str, Any]:
        seq = int(body.get("seq") or 0)
        job = (body.get("data"), body.get("file"), bool(body.get("correlated", True)))
        return await self._latest(s, seq, job)

    async def _latest(self, s: Session, seq: int, job: Any) -> bytes | dict[str, Any]:
        """Compute ``job`` for this page unless a newer request of the same page
        supersedes it while it waits: one computation per page at a time, and only the
        newest waiting one runs next (a moving slider never queues stale work)."""
        cfg = self.cfg
        if s.busy:
            if s.waiting is not None:
                s.waiting[1].set_result({"ok": False, "superseded": True, "seq": s.waiting[0]})
            fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            s.waiting = (seq, fut, job)
            out = await fut
            if out is not None:
                return out  # superseded while waiting
        s.busy = True
        try:
            data, file, corr = job
            inputs = {"data": data, "corr": corr}
            key = _key("compute", inputs, cfg)
            return await cfg.engine.cached("compute", inputs, tasks.compute, data, file,
                                           str(cfg.scenario_dir), corr, key)
        finally:
            s.busy = False
            if s.waiting is not None:
                nxt, s.waiting = s.waiting, None
                nxt[1].set_result(None)  # its turn

    async def do_voi(self, s: Session, body: dict[str, Any]) -> bytes | dict[str, Any]:
        cfg = self.cfg
        data, corr = body.get("data"), bool(body.get("correlated", True))
        if s.waiting is not None:  # a newer slider position is queued: not worth it now
            return {"ok": False, "superseded": True}
        # Which link to measure first is worth a moment, not a colleague's slider update:
        # it runs only when a worker is free (or is already known); else "later".
        key = _key("voi", {"data": data, "corr": corr}, cfg)
        if not cfg.engine.idle and cfg.engine.cache.get(key) is None:
            return {"ok": False, "later": True}
        rkey = str(body.get("key") or "")  # the result the page shows (its draws)
        return await cfg.engine.cached("voi", {"data": data, "corr": corr}, tasks.voi, data,
                                       corr, rkey)

    async def do_save(self, s: Session, body: dict[str, Any]) -> dict[str, Any]:
        out = await self.cfg.engine.run(tasks.save, body.get("data"),
                                        str(body.get("name") or ""),
                                        str(self.cfg.scenario_dir))
        if out.get("ok"):
            out["files"] = _files(self.cfg)
        return out

    async def do_report(self, s: Session, body: dict[str, Any]) -> dict[str, Any]:
        cfg = self.cfg
        cfg.reports_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="cxroi-app-") as tmp:
            prep = await cfg.engine.run(tasks.report_input, body.get("data"), tmp)
            if not prep.get("ok"):
                return prep
            out = cfg.reports_dir / prep["html"]
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "cxroi.cli", "report", prep["yaml"], "--out", str(out),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                start_new_session=True)
            cfg.reports.add(proc)
            try:
                log, _ = await proc.communicate()
            finally:
                cfg.reports.discard(proc)
        if proc.returncode != 0 or not out.is_file():
            tail = log.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
            return {"ok": False, "message": f"The report could not be made ({tail[0]})."}
        return {"ok": True, "name": out.name, "href": f"reports/{out.name}",
                "path": str(out.resolve())}


def _key(kind: str, inputs: Any, cfg: Config) -> str:
    from cxroi.app.engine import scenario_key

    return scenario_key(kind, inputs, cfg.engine.fingerprint)


class ReportFileHandler(Base):
    """``GET /reports/<name>.html``: a report of the reports folder, and nothing else."""

    def get(self, name: str) -> None:
        p = (self.cfg.reports_dir / name).resolve()
        if p.parent != self.cfg.reports_dir.resolve() or not p.is_file():
            raise tornado.web.HTTPError(404)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        # the report is self-contained HTML with its own inline scripts and styles
        self.set_header("Content-Security-Policy", "default-src 'none'; img-src data: 'self'; "
                        "style-src 'unsafe-inline'; script-src 'unsafe-inline' 'unsafe-eval'; "
                        "font-src data:")
        self.finish(p.read_bytes())


class StaticHandler(Base, tornado.web.StaticFileHandler):
    """The page's own script, style and the vendored Vega bundle (their addresses carry a
    hash of the content, so browsers keep them until they change).

    Compressed once, kept in memory, and sent compressed to every browser that accepts
    it: compressing the 0.9 MB bundle for each page would cost the server's one thread
    about 40 ms per visitor.
    """

    _gz: dict[str, bytes] = {}

    async def get(self, path: str, include_body: bool = True) -> None:
        own = {p.name for p in STATIC.glob("*.js")} | {p.name for p in STATIC.glob("*.css")}
        if "gzip" not in self.request.headers.get("Accept-Encoding", "") or path not in own:
            await super().get(path, include_body)
            return
        full = str(STATIC / path)
        self.path, self.absolute_path = path, full  # what the etag is computed from
        if full not in self._gz:
            import gzip

            self._gz[full] = gzip.compress(Path(full).read_bytes(), 6, mtime=0)
        self._transforms = []  # already compressed
        kind = "text/javascript" if path.endswith(".js") else "text/css"
        self.set_header("Content-Type", f"{kind}; charset=utf-8")
        self.set_header("Content-Encoding", "gzip")
        self.set_header("Vary", "Accept-Encoding")
        if self.get_query_argument("v", None):
            self.set_header("Cache-Control", "public, max-age=31536000, immutable")
        self.finish(self._gz[full] if include_body else b"")


def make_app(cfg: Config) -> tornado.web.Application:
    """The tornado application: page, API, reports and static files."""
    return tornado.web.Application(
        [(r"/", PageHandler),
         (r"/api/status", StatusHandler),
         (r"/api/spec/([0-9a-f]{16})", SpecHandler),
         (r"/api/(\w+)", ApiHandler),
         (r"/reports/([^/]+\.html)", ReportFileHandler)],
        cx=cfg, template_path=str(TEMPLATES), compress_response=True,
        static_path=str(STATIC), static_handler_class=StaticHandler,
        xheaders=False, websocket_ping_interval=None)


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
    engine = Engine(workers, ResultCache(folder=cache_dir or default_cache_dir()))
    engine.start()  # the workers warm up while the server starts listening
    cfg = Config(host=host, port=port, scenario_dir=scen, reports_dir=reps, token=token,
                 max_sessions=max_sessions, allowed_hosts=allowed_hosts(host, port),
                 engine=engine, idle_seconds=idle_seconds)
    show = "localhost" if host in {"0.0.0.0", "::"} else host
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
    try:
        await stop.wait()
    finally:
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

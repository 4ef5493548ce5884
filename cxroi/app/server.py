"""``cxroi app``: one tornado server for the whole team, a small pool of workers computing.

Why this design: a Voila kernel per page cost about 157 MB and tens of seconds to start
for each person, and kernels of closed pages were never freed. Here a page costs the
server a few hundred bytes (a session record: who is waiting for what); the model runs
in a fixed pool of warm worker processes (:class:`cxroi.app.engine.Engine`) shared by
everyone, and answers are cached by the scenario's hash. The page is our own HTML and
script (``templates/``, ``static/``, with the Vega runtime vendored), so it loads nothing from
the network.

Guards: requests whose ``Host`` (or ``Origin``) is not the address the server was started
on are refused with 403 (DNS rebinding); beyond loopback a token is required (``--token``,
or one is generated and printed); above ``--max-sessions`` open pages a new visitor gets
a friendly "busy, try again in a minute" page; idle and closed pages are forgotten within
a minute; Ctrl+C and SIGTERM stop the server and its workers.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import tempfile
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tornado.web

from cxroi.app import tasks
from cxroi.app.controls import scenario_files
from cxroi.app.engine import Engine, to_json
from cxroi.app.security import CSP, refusal

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
    #: value-of-information requests waiting for the background worker, oldest first:
    #: session id -> (future, job); a page's newer request replaces its older one
    voi_waiting: OrderedDict[str, tuple[asyncio.Future[Any], tuple[Any, ...]]] = field(
        default_factory=OrderedDict)
    voi_running: int = 0
    voi_tasks: set[asyncio.Task[None]] = field(default_factory=set)
    #: pages that said goodbye (id -> when): a request of theirs still on its way does
    #: not open them again
    closed: dict[str, float] = field(default_factory=dict)
    #: reports made at once (each runs a notebook kernel for some seconds)
    report_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))

    def session(self, sid: str | None, create: bool = False) -> Session | None:
        """The session ``sid``, touched; a new one (when ``create`` and under the cap)."""
        now = time.monotonic()
        sid = (sid or "anonymous")[:64]  # a request without one shares a single record
        s = self.sessions.get(sid)
        if s is None and create and sid not in self.closed and \
                self.open_sessions() < self.max_sessions:
            s = Session(sid)
            self.sessions[sid] = s
        if s is not None:
            s.seen = now
        return s

    def open_sessions(self) -> int:
        return len(self.sessions)

    def cull(self) -> int:
        """Forget pages not heard from for ``idle_seconds``; how many were forgotten."""
        limit = time.monotonic() - self.idle_seconds
        gone = [k for k, s in self.sessions.items() if s.seen < limit and not s.busy]
        for k in gone:
            self.sessions.pop(k, None)
        for k in [k for k, t in self.closed.items() if t < limit - self.idle_seconds]:
            del self.closed[k]
        return len(gone)

    def close(self, sid: str) -> None:
        """The page ``sid`` said goodbye: forget it and what it waits for."""
        sid = (sid or "anonymous")[:64]  # as session() names it
        self.sessions.pop(sid, None)
        self.closed[sid] = time.monotonic()
        waiting = self.voi_waiting.pop(sid, None)
        if waiting is not None and not waiting[0].done():
            waiting[0].set_result({"ok": False, "superseded": True})


class Base(tornado.web.RequestHandler):
    """Every handler: the Host / Origin guard, the token, security headers."""

    @property
    def cfg(self) -> Config:
        return self.application.settings["cx"]

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", CSP)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("X-Frame-Options", "DENY")

    def prepare(self) -> None:
        why = refusal(self.request.headers, self.cfg.allowed_hosts, self.cfg.token,
                      self.get_query_argument("token", None), self.get_cookie("cxroi_token"))
        if why is not None:
            self._refuse(403, why)
            return
        if self.cfg.token and self.get_query_argument("token", None):
            self.set_cookie("cxroi_token", self.cfg.token, httponly=True, samesite="Strict")

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
        boot = {"session": secrets.token_urlsafe(12), "vega": self.static_url("vega.min.js"),
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
                        "background_workers": eng.background_pids(),
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


async def load_answer(cfg: Config, file: str, corr: bool = True, alone: bool = False
                      ) -> bytes | dict[str, Any]:
    """The answer to ``/api/load`` of ``file`` (a scenario of the scenario folder): its
    controls and first view, from the cache (keyed by the file's content) or a worker (a
    process of its own when ``alone``: :meth:`Engine.run_alone`)."""
    name = Path(file).name
    inputs = _load_inputs(cfg, name, corr)
    if inputs is None:
        return {"ok": False, "message": f"<div class='cx-message'>{name} is not in the "
                                        "scenario folder any more: pick another.</div>"}
    key = _key("load", inputs, cfg)
    return await cfg.engine.cached("load", inputs, tasks.load, name, str(cfg.scenario_dir),
                                   corr, key, disk=True, alone=alone)


def _load_inputs(cfg: Config, name: str, corr: bool = True) -> dict[str, Any] | None:
    """What a ``load`` answer is keyed by: the file's name and content and the correlation
    switch (``None`` when the file cannot be read)."""
    try:
        content = (cfg.scenario_dir / name).read_bytes()
    except OSError:
        return None
    return {"file": name, "bytes": content.decode("utf-8", "replace"), "corr": corr}


def lead_cached(cfg: Config) -> bool:
    """Whether the result cache (memory or disk) holds the lead scenario's first view."""
    inputs = _load_inputs(cfg, LEAD)
    return inputs is not None and cfg.engine.cache.get(_key("load", inputs, cfg)) is not None


async def first_view(cfg: Config) -> None:
    """Have the lead scenario's first view ready for the first pages, then start the
    workers: at once when the cache holds it (a restart); otherwise (a first start) after
    computing it in a process of its own (:meth:`Engine.run_alone`), as three workers
    warming up on two cores took the CPU it waited for (2.5-8 s, docs/app.md)."""
    try:
        if (cfg.scenario_dir / LEAD).is_file() and not cfg.engine.started and \
                not lead_cached(cfg):
            t0 = time.perf_counter()
            answer = await load_answer(cfg, LEAD, alone=True)
            ok = isinstance(answer, bytes) and json.loads(answer).get("ok")
            print(f"cxroi app: first view {'computed' if ok else 'answered with a problem'}"
                  f" in {time.perf_counter() - t0:.2f} s (nothing cached yet); starting the "
                  "workers", flush=True)
    except Exception as exc:  # a page asking will get the error itself
        print(f"cxroi app: the first view was not computed ahead ({exc})", flush=True)
    cfg.engine.start()  # (not when cancelled: the server is stopping)


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
            cfg.close(sid)
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
        t0 = time.perf_counter()
        out = await handler(s, body)
        # how long the server held the request (waiting for a worker included): a page
        # can tell the server's part of an update from the browser's and the network's
        self.set_header("Server-Timing", f"app;dur={(time.perf_counter() - t0) * 1e3:.1f}")
        self.send_json(out)

    async def do_ping(self, s: Session, body: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True}

    async def do_files(self, s: Session, body: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "files": _files(self.cfg)}

    async def do_load(self, s: Session, body: dict[str, Any]) -> bytes | dict[str, Any]:
        return await load_answer(self.cfg, str(body.get("file") or LEAD),
                                 bool(body.get("correlated", True)))

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
            # else: handed over by the request before (the session stays busy)
        s.busy = True
        try:
            data, file, corr = job
            inputs = {"data": data, "corr": corr}
            key = _key("compute", inputs, cfg)
            return await cfg.engine.cached("compute", inputs, tasks.compute, data, file,
                                           str(cfg.scenario_dir), corr, key)
        finally:
            if s.waiting is not None:
                nxt, s.waiting = s.waiting, None
                nxt[1].set_result(None)  # its turn: the session stays busy
            else:
                s.busy = False

    async def do_voi(self, s: Session, body: dict[str, Any]) -> bytes | dict[str, Any]:
        cfg = self.cfg
        data, corr = body.get("data"), bool(body.get("correlated", True))
        if s.waiting is not None:  # a newer slider position is queued: not worth it now
            return {"ok": False, "superseded": True}
        # Which link to measure first is worth a moment, not a colleague's slider update:
        # it runs in the background worker, at a lower CPU priority; requests wait their
        # turn in a queue (oldest first, one place per page: a newer request of the same
        # page replaces its older one), answered when done, so pages do not poll.
        rkey = str(body.get("key") or "")  # the result the page shows (its draws)
        job = (data, corr, rkey)
        hit = cfg.engine.cache.get(_key("voi", {"data": data, "corr": corr}, cfg))
        if hit is not None:  # ranked before: no queue, no second look-up
            return hit
        old = cfg.voi_waiting.pop(s.id, None)
        if old is not None and not old[0].done():
            old[0].set_result({"ok": False, "superseded": True})
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        cfg.voi_waiting[s.id] = (fut, job)
        _pump_voi(cfg)
        return await fut

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
        async with cfg.report_slots:
            return await self._report(body)

    async def _report(self, body: dict[str, Any]) -> dict[str, Any]:
        cfg = self.cfg
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


async def _voi(cfg: Config, job: tuple[Any, ...]) -> bytes:
    data, corr, rkey = job
    return await cfg.engine.cached("voi", {"data": data, "corr": corr}, tasks.voi, data,
                                   corr, rkey, background=True)


def _pump_voi(cfg: Config) -> None:
    """Start the oldest waiting value-of-information requests while the background
    workers have room (one each) and a worker for slider updates is free (while every one
    of them is busy, colleagues are moving sliders: the ranking waits for the next free
    moment: ``Engine.on_free`` calls this again when a worker comes free)."""
    while cfg.voi_waiting and cfg.voi_running < max(1, cfg.engine.background) and \
            cfg.engine.idle:
        _, (fut, job) = cfg.voi_waiting.popitem(last=False)
        if fut.done():
            continue
        cfg.voi_running += 1
        task = asyncio.ensure_future(_run_voi(cfg, fut, job))
        cfg.voi_tasks.add(task)  # kept until done (the loop holds tasks weakly)
        task.add_done_callback(cfg.voi_tasks.discard)


async def _run_voi(cfg: Config, fut: asyncio.Future[Any], job: tuple[Any, ...]) -> None:
    try:
        out = await _voi(cfg, job)
        if not fut.done():
            fut.set_result(out)
    except Exception as exc:  # handed to the request waiting for it
        if not fut.done():
            fut.set_exception(exc)
    finally:
        cfg.voi_running -= 1
        _pump_voi(cfg)


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
    """The page's own script, style and the vendored Vega runtime (their addresses carry a
    hash of the content, so browsers keep them until they change).

    Compressed once, kept in memory, and sent compressed to every browser that accepts
    it: compressing Vega's 0.5 MB for each page would cost the server's one thread
    about 25 ms per visitor.
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
    # a worker for slider updates came free: a waiting value of information may start
    cfg.engine.on_free = lambda: _pump_voi(cfg)
    return tornado.web.Application(
        [(r"/", PageHandler),
         (r"/api/status", StatusHandler),
         (r"/api/spec/([0-9a-f]{16})", SpecHandler),
         (r"/api/(\w+)", ApiHandler),
         (r"/reports/([^/]+\.html)", ReportFileHandler)],
        cx=cfg, template_path=str(TEMPLATES), compress_response=True,
        static_path=str(STATIC), static_handler_class=StaticHandler,
        xheaders=False, websocket_ping_interval=None)

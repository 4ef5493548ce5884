/* The cxroi app page: controls in, numbers and charts out (served by cxroi.app.server).
 *
 * The first view comes with its charts drawn on the server (SVG), so a page shows its
 * numbers and charts without running Vega; Vega (the runtime alone: the server sends
 * compiled Vega, so neither Vega-Lite nor Vega-Embed is needed) is read after that, and
 * the charts in sight then become live views (updated in place on every later answer); a
 * chart out of sight keeps the server's drawing until it is scrolled to, and becomes a
 * live view then, with the newest numbers (twenty pages opening at once on two cores
 * spend their CPU on what people see first).
 *
 * One request per slider release (never while dragging: a drag only updates the box); at
 * most one request of this page in flight, and only the newest inputs are sent after it
 * (the server also drops superseded work). Charts are Vega views made once and then
 * updated in place with new data (view.data + runAsync) when only their data changed; a
 * chart scrolled out of sight is made, or brought up to date, when it comes into view (an
 * IntersectionObserver), not on every update. Work the browser does per update is kept
 * small on purpose: with twenty colleagues on one machine (or a slow laptop), the page's
 * own CPU time is most of an update's time.
 * window.cxStats keeps the timing of every update (release -> numbers and charts drawn).
 *
 * What a person sees is always what the boxes hold, or says it is not: an answer for a
 * scenario no longer picked is dropped; the old scenario's numbers are greyed while a new
 * one loads, and the last valid numbers while the inputs are refused or a box holds text
 * that is not a number (flagged until fixed); a reload of the tab puts back the scenario
 * and the values on screen (docs/app.md, "What is on the page").
 */
(function () {
  "use strict";
  const boot = JSON.parse(document.getElementById("cx-boot").textContent);
  const $ = (id) => document.getElementById(id);
  const CHARTS = ["cash_flow", "waterfall", "tornado"];
  const st = {
    session: boot.session, file: null, base: null, controls: [], corr: true, ncorr: 0,
    seq: 0, inflight: false, pending: null, key: null, updates: 0, views: {}, specs: {},
    refused: null,  // the server's message refusing the last inputs sent
    loads: 0, loadTimer: null,  // scenarios picked (the newest is shown), greying timer
    voiTimer: null, voiSeq: 0, voiLate: null, lastOk: false, busyTimer: null,
    late: {},  // chart name -> the newest data of a chart out of sight, drawn when seen
  };
  const stats = (window.cxStats = { updates: [], errors: 0, start: performance.now() });

  // ------------------------------------------------------------------ requests --
  async function api(action, body) {
    const resp = await fetch("api/" + action, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(Object.assign({ session: st.session }, body)),
      credentials: "same-origin",
    });
    let out;
    try { out = await resp.json(); } catch (e) { out = { ok: false }; }
    if (!resp.ok && !out.message) out.message = "The server answered " + resp.status + ".";
    out.bytes = Number(resp.headers.get("Content-Length") || 0);
    const held = /app;dur=([0-9.]+)/.exec(resp.headers.get("Server-Timing") || "");
    out.held_ms = held ? Number(held[1]) : null;  // the server's part, waiting included
    return out;
  }

  function showMessage(html) {
    const m = $("cx-message");
    if (html) { m.innerHTML = html; m.hidden = false; } else if (!m.hidden || m.firstChild) {
      m.innerHTML = ""; m.hidden = true;
    }
  }

  // ------------------------------------------------------- writes to the page --
  // Every update writes the same places: a write that changes nothing is skipped, and the
  // cards (the server's HTML, the same elements every time with new numbers) are patched
  // in place rather than rebuilt, so the browser restyles, lays out and repaints only the
  // text that changed (the DOM ends as innerHTML would leave it, but for the grid's
  // data-update stamp, which apply() sets right after).
  function setText(e, text) {
    if (e.textContent !== text) e.textContent = text;
  }
  function patchHTML(box, html) {
    const t = document.createElement("template");
    t.innerHTML = html;
    patchChildren(box, t.content);
  }
  function sameShape(a, b) {
    return a.nodeType === b.nodeType && a.nodeName === b.nodeName;
  }
  function patchChildren(into, from) {
    const old = into.childNodes, now = from.childNodes;
    let same = old.length === now.length;
    for (let i = 0; same && i < old.length; i++) same = sameShape(old[i], now[i]);
    if (!same) { into.replaceChildren(...Array.from(now)); return; }
    for (let i = 0; i < old.length; i++) {
      const a = old[i], b = now[i];
      if (a.nodeType === Node.ELEMENT_NODE) {
        for (const at of Array.from(a.attributes)) {
          if (!b.hasAttribute(at.name) && at.name !== "data-update") a.removeAttribute(at.name);
        }
        for (const at of Array.from(b.attributes)) {
          if (a.getAttribute(at.name) !== at.value) a.setAttribute(at.name, at.value);
        }
        patchChildren(a, b);
      } else if (a.nodeValue !== b.nodeValue) {
        a.nodeValue = b.nodeValue;
      }
    }
  }
  function textHTML(text) {
    const d = document.createElement("div");
    d.className = "cx-message";
    d.textContent = text;
    return d.outerHTML;
  }
  function showText(text) { showMessage(textHTML(text)); }

  // ------------------------------------------------------------------ controls --
  function roundDisplay(x, kind) {
    if (kind === "int") return Math.round(x);
    if (kind === "log" && x > 0) {
      const digits = 2 - Math.floor(Math.log10(Math.abs(x)));
      if (digits >= 0) return Number(x.toFixed(digits));
      const f = Math.pow(10, -digits);
      return Math.round(x / f) * f;
    }
    return Number(x.toFixed(9));
  }
  function niceCeiling(x) {
    if (x <= 0) return 1;
    const mag = Math.pow(10, Math.floor(Math.log10(x)));
    for (const m of [1, 2, 5, 10]) if (m * mag >= x - 1e-12 * mag) return m * mag;
    return 10 * mag;
  }
  function modelValue(c) {
    const d = c.display;
    return c.spec.kind === "int" ? Math.round(d) : Number((d / c.spec.scale).toFixed(12));
  }
  function placeSlider(c, x) {
    const r = c.range;
    if (!isFinite(x)) return;
    if (c.spec.kind === "log") {
      if (x <= 0) return;
      const e = Math.log10(x);
      if (e > Number(r.max)) r.max = String(Math.ceil(e * 10) / 10);
      if (e < Number(r.min)) r.min = String(Math.floor(e * 10) / 10);
      r.value = String(e);
      return;
    }
    if (x > Number(r.max)) r.max = String(niceCeiling(x));
    r.value = String(Math.max(x, Number(r.min)));
  }
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function buildControls(specs) {
    const box = $("cx-controls");
    box.textContent = "";
    st.controls = [];
    let group = null;
    for (const spec of specs) {
      if (spec.group !== group) { group = spec.group; box.appendChild(el("div", "cx-group", group)); }
      const row = el("div", "cx-ctl " + spec.css);
      const range = el("input", "cx-slider");
      range.type = "range";
      if (spec.kind === "log") {
        range.min = String(Math.log10(spec.lo)); range.max = String(Math.log10(spec.hi));
      } else { range.min = String(spec.lo); range.max = String(spec.hi); }
      range.step = String(spec.step);
      const input = el("input", "cx-box");
      input.type = "text"; input.inputMode = "decimal"; input.value = String(spec.display);
      input.setAttribute("aria-label", spec.group + " " + spec.label);
      // the slider's name and its value in words (a log slider's position is an exponent)
      range.setAttribute("aria-label", spec.group + " " + spec.label);
      const words = () => range.setAttribute("aria-valuetext", input.value + " " + spec.unit);
      const c = { spec, range, box: input, display: spec.display, sent: spec.display, words };
      placeSlider(c, spec.display);
      words();
      row.append(el("span", "cx-ctl-label", spec.label), range, input, el("span", "cx-ctl-unit", spec.unit));
      range.addEventListener("input", () => {   // dragging: the box follows, nothing is sent
        // the last position reaches the slider's end (its steps, counted from the start,
        // need not land on it: a log slider to 365 days stopped at 363)
        const at = Number(range.value) + Number(range.step) > Number(range.max)
          ? Number(range.max) : Number(range.value);
        const v = spec.kind === "log" ? Math.pow(10, at) : at;
        c.display = roundDisplay(v, spec.kind);
        input.value = String(c.display);
        clearBad(c);  // the box holds a number again
        words();
      });
      range.addEventListener("change", (ev) => commit(c, ev.timeStamp));
      const typed = (ev) => {
        const got = parseTyped(input.value, spec);
        if (got.error) {  // flagged until it is fixed: the numbers keep its last number
          c.bad = got.error;
          input.setAttribute("aria-invalid", "true");
          showBad();
          return;
        }
        clearBad(c);
        c.display = spec.kind === "int" ? Math.round(got.value) : got.value;
        const shown = String(c.display);  // the box shows the number computed (30.4 -> 30)
        if (input.value !== shown) input.value = shown;
        words();
        placeSlider(c, c.display);
        commit(c, ev.timeStamp);
      };
      input.addEventListener("change", typed);
      input.addEventListener("keydown", (ev) => { if (ev.key === "Enter") typed(ev); });
      box.appendChild(row);
      st.controls.push(c);
    }
  }
  // A number as people type it: "1,500" or "$450k" for money, "20%" in a box in %.
  // A comma that is not a thousands separator ("1,5") is not guessed at: it is 1.5 in
  // much of Europe and a typo for 15 or 1,500 elsewhere.
  function parseTyped(text, spec) {
    let t = String(text).trim().replace(/\s+/g, "");
    const hint = spec.key[0] === "costs" ? ", e.g. 400000 or 400k" : "";
    if (spec.unit.charAt(0) === "%") t = t.replace(/%$/, "");
    let times = 1;
    if (spec.key[0] === "costs") {
      t = t.replace(/^([-+]?)[$€£¥]/, "$1");
      const m = /^(.*\d)([kKmM])$/.exec(t);
      if (m) { t = m[1]; times = m[2].toLowerCase() === "k" ? 1e3 : 1e6; }
    }
    if (t.includes(",")) {
      if (!/^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$/.test(t)) {
        return { error: "write decimals with a point, e.g. 1.5 (a comma only separates " +
                        "thousands, as in 1,500)." };
      }
      t = t.replace(/,/g, "");
    }
    const x = Number(t);
    if (t === "" || !/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(t) || !isFinite(x)) {
      return { error: "type a number (" + spec.unit + ")" + hint + "." };
    }
    return { value: Number((x * times).toPrecision(15)) };
  }
  // While inputs are refused (or a box holds text that is not a number) the numbers on
  // the page are the last valid inputs': greyed, so they are not read, or their pitch
  // copied, as the answer to what the boxes hold.
  function greyed(on) {
    if (document.body.classList.contains("cx-invalid") !== on) {
      document.body.classList.toggle("cx-invalid", on);
    }
  }
  // Boxes holding text that is not a number: said on the page (with the number the
  // results use instead) until each is fixed, whatever else is computed meanwhile, after
  // the server's refusal of the inputs when the last answer was one (st.refused).
  function showBad() {
    const bad = st.controls.filter((c) => c.bad);
    greyed(bad.length > 0 || !st.lastOk);
    let html = st.lastOk ? "" : st.refused || "";
    if (bad.length) {
      html += textHTML(bad.map((c) => c.spec.group + " · " + c.spec.label + ": " + c.bad +
                               " The numbers use " + c.display + " " + c.spec.unit + ".")
        .join(" "));
    }
    showMessage(html || null);
  }
  function clearBad(c) {
    if (c.bad) { delete c.bad; c.box.removeAttribute("aria-invalid"); }
  }
  function anyBad(id) {
    if (!st.controls.some((c) => c.bad)) return false;
    status(id, "cx-bad", "Fix the inputs first: a box holds text that is not a number.");
    return true;
  }
  function commit(c, t0) {
    if (c.display === c.sent && st.lastOk) {  // Enter then blur: one update
      if (!st.inflight) showBad();
      return;
    }
    c.sent = c.display;
    compute(t0);
  }
  function currentData() {
    const data = JSON.parse(JSON.stringify(st.base));
    for (const c of st.controls) {
      let node = data;
      const key = c.spec.key;
      for (let i = 0; i < key.length - 1; i++) node = node[key[i]];
      node[key[key.length - 1]] = modelValue(c);
    }
    return data;
  }

  // ------------------------------------------------------------------- updates --
  function compute(t0) {
    st.seq += 1;
    const job = { seq: st.seq, t0: t0 === undefined ? performance.now() : t0 };
    if (st.inflight) { st.pending = job; return; }  // only the newest goes next
    send(job);
  }
  async function send(job) {
    st.inflight = true;
    // dim the cards only when an answer is slow (a restyle and repaint of the whole
    // results column twice per update is not worth it for a quick one)
    if (!st.busyTimer) st.busyTimer = setTimeout(() => document.body.classList.add("cx-updating"), 250);
    const data = currentData(), base = st.base;
    let out;
    try {
      out = await api("compute", { seq: job.seq, file: st.file, data, correlated: st.corr });
    } catch (e) {
      out = { ok: false, message: null };
      stats.errors += 1;
      showText("The app server cannot be reached. Is `cxroi app` still running?");
    }
    const t1 = performance.now();
    st.inflight = false;
    if (st.pending) {  // newer inputs arrived meanwhile: this answer is already stale
      const next = st.pending;
      st.pending = null;
      send(next);
      return;
    }
    clearTimeout(st.busyTimer); st.busyTimer = null;
    document.body.classList.remove("cx-updating");
    if (out.superseded) return;
    // another scenario was picked while this was computed: its numbers are not the ones
    // the page now shows the controls of
    if (base !== st.base) return;
    if (out.message !== null) await apply(out, data, job, t1);
  }
  async function apply(out, data, job, t1) {
    if (!out.ok) {
      st.lastOk = false;
      st.refused = out.busy ? textHTML(out.message) : out.message;
      showBad();  // the refusal, and any box that holds text that is not a number
      return;
    }
    st.lastOk = true;
    showBad();  // clears the message, unless a box still holds text that is not a number
    st.key = out.key;
    remember();
    st.updates += 1;
    if (out.cards !== st.cards) { patchHTML($("cx-cards"), out.cards); st.cards = out.cards; }
    const grid = $("cx-cards").firstElementChild;
    if (grid) grid.dataset.update = String(st.updates);
    setText($("cx-pitch-text"), out.pitch);
    if ($("cx-pitch").hidden) $("cx-pitch").hidden = false;
    setText($("cx-draws"), out.draws.toLocaleString("en-US") + " draws, seed " + out.seed);
    const t2 = performance.now();
    st.drawn = out.charts;
    await draw(out.charts);
    await new Promise((r) => requestAnimationFrame(() => r()));
    const t3 = performance.now();
    const ms = out.compute_ms ? out.compute_ms.total : null;
    setText($("cx-status"), out.draws.toLocaleString("en-US") + " simulations, seed " +
      out.seed + (ms !== null ? " · computed in " + Math.round(ms) + " ms" : " · from the cache") +
      " · the same as cxroi run <file> on the saved scenario");
    if (job) {
      stats.updates.push({ seq: job.seq, release: job.t0, answer: t1, cards: t2, done: t3,
                           server_ms: ms, held_ms: out.held_ms, bytes: out.bytes,
                           cached: ms === null || out.cached,
                           out_of_sight: Object.keys(st.late).length });
    }
    scheduleVoi(data);
  }

  function vegaSpec(shape) {  // fetched once per chart shape (the browser keeps it)
    if (!st.specs[shape]) {
      st.specs[shape] = fetch("api/spec/" + shape, { credentials: "same-origin" })
        .then((r) => { if (!r.ok) throw new Error("chart " + r.status); return r.json(); });
      st.specs[shape].catch(() => { delete st.specs[shape]; });
    }
    return st.specs[shape];
  }
  let vegaReady = null;
  function loadVega() {  // Vega, read once the first view is on screen
    if (!vegaReady) {
      vegaReady = new Promise((resolve, reject) => {
        const s = document.createElement("script");
        s.src = boot.vega; s.async = true;
        s.onload = () => resolve(); s.onerror = () => reject(new Error("vega"));
        document.head.appendChild(s);
      });
    }
    return vegaReady;
  }
  let chain = Promise.resolve();
  function draw(charts) {  // one drawing at a time; a drawing overtaken by newer numbers is skipped
    const p = chain.then(() => (charts === st.drawn ? drawCharts(charts) : null));
    chain = p.catch(() => {});
    return p;
  }
  async function drawCharts(charts) {
    if (!window.vega && CHARTS.every((n) => charts[n].svg)) {
      for (const name of CHARTS) {  // the server's drawing, until Vega is in
        const box = document.querySelector(".cx-chart-" + name);
        box.querySelector(".cx-chart-title").textContent = charts[name].title;
        box.querySelector(".cx-view").innerHTML = charts[name].svg;
        if (st.views[name]) st.views[name].view.finalize();
        delete st.views[name];
      }
      loadVega().then(() => {  // then make those in sight live, unless newer numbers came
        if (st.drawn === charts) return draw(charts);
      }).catch(() => showText("The charts' script could not be read: reload the page."));
      return;
    }
    if (!window.vega) await loadVega();
    await Promise.all(CHARTS.map(async (name) => {
      const part = charts[name];
      const old = st.views[name];
      // out of sight: drawn (made a live view, when it is still the server's drawing)
      // when it comes into view, with the newest numbers
      const drawn = old ? old.shape === part.shape
        : !!document.querySelector(".cx-chart-" + name + " .cx-view svg");
      if (seen[name] === false && drawn) {
        st.late[name] = part;
        return;
      }
      delete st.late[name];
      await drawChart(name, part);
    }));
  }
  // Charts out of sight (with a margin, so a chart is ready before it shows) are not
  // redrawn on every update, nor made live views while they show the server's first
  // drawing: the newest data waits in st.late until the chart is seen.
  const seen = {};
  const watcher = "IntersectionObserver" in window ? new IntersectionObserver((entries) => {
    for (const e of entries) {
      const name = e.target.dataset.chart;
      seen[name] = e.isIntersecting;
      if (e.isIntersecting && st.late[name]) {
        const p = chain.then(() => {
          const part = st.late[name];
          delete st.late[name];
          return part ? drawChart(name, part) : null;
        });
        chain = p.catch(() => {});
      }
    }
  }, { rootMargin: "100px 0px" }) : null;
  for (const name of CHARTS) {
    const box = document.querySelector(".cx-chart-" + name);
    box.dataset.chart = name;
    if (watcher) watcher.observe(box);
  }
  async function drawChart(name, part) {
    const box = document.querySelector(".cx-chart-" + name);
    setText(box.querySelector(".cx-chart-title"), part.title);
    const old = st.views[name];
    const json = {};
    for (const d in part.data) json[d] = JSON.stringify(part.data[d]);
    if (old && old.shape === part.shape) {  // same chart, new numbers: swap the data
      let changed = false;
      for (const d in part.data) {
        if (json[d] !== old.json[d]) { old.view.data(d, part.data[d]); changed = true; }
      }
      old.json = json;
      if (changed) await old.view.runAsync();
      return;
    }
    const spec = JSON.parse(JSON.stringify(await vegaSpec(part.shape)));
    for (const d of spec.data || []) if (d.name in part.data) d.values = part.data[d.name];
    const holder = box.querySelector(".cx-view");
    const div = document.createElement("div");
    holder.appendChild(div);
    div.className = "cx-live";
    let view = null;
    try {
      // Vega's own tooltip handler: the browser's tooltip (the container's title)
      view = new window.vega.View(window.vega.parse(spec),
                                  { renderer: "svg", container: div, hover: true });
      await view.runAsync();
    } catch (err) {  // the chart keeps its last drawing; the newest numbers wait to be seen
      if (view) view.finalize();
      div.remove();
      if (!st.late[name]) st.late[name] = part;
      throw err;
    }
    while (holder.firstChild !== div) holder.removeChild(holder.firstChild);
    if (old) old.view.finalize();
    st.views[name] = { shape: part.shape, view, json };
  }

  // ------------------------------------------------------- value of information --
  // Asked for once the numbers have been on screen a moment (a slider moved again
  // meanwhile cancels it: 900 ms, so a person still moving the slider does not make the
  // server rank a position already left behind), and only while the panel is open and in
  // sight (within 100 px of the window): a ranking nobody can see costs the server a
  // background computation of 100-300 ms of CPU, several times the update itself, and the
  // page a request and a redraw. The inputs wait in st.voiLate until the panel comes into
  // view. The server computes it in its background worker, after colleagues' slider
  // updates, and answers when it is done; until then the last ranking stays, greyed.
  let voiSeen = !("IntersectionObserver" in window);
  function scheduleVoi(data) {
    clearTimeout(st.voiTimer);
    const mine = ++st.voiSeq;
    const body = $("cx-voi-body");
    if (!body.classList.contains("cx-stale")) body.classList.add("cx-stale");
    if (!$("cx-voi").open || !voiSeen) { st.voiLate = data; return; }
    st.voiLate = null;
    const key = st.key;
    st.voiTimer = setTimeout(async () => {
      if (st.inflight || st.pending || mine !== st.voiSeq) return;
      if (!voiSeen) { st.voiLate = data; return; }  // scrolled away (or the first view's
      // layout pushed it down) meanwhile: asked for when it comes into view
      let out;
      try { out = await api("voi", { data, correlated: st.corr, key }); } catch (e) { return; }
      if (mine !== st.voiSeq || out.superseded) return;
      if (out.ok) patchHTML(body, out.html); else if (out.message) patchHTML(body, out.message);
      body.classList.remove("cx-stale");
    }, 900);
  }
  function voiWanted() {  // the panel was opened or came into view: rank what is shown
    if (st.base && $("cx-voi").open && voiSeen && st.voiLate) scheduleVoi(st.voiLate);
  }
  $("cx-voi").addEventListener("toggle", voiWanted);
  if (!voiSeen) {
    new IntersectionObserver((entries) => {
      voiSeen = entries[entries.length - 1].isIntersecting;
      voiWanted();
    }, { rootMargin: "100px 0px" }).observe($("cx-voi"));
  }

  // --------------------------------------------------------- scenario and files --
  function fillPicker(files, current) {
    const p = $("cx-picker");
    p.textContent = "";
    for (const f of files) {
      const o = el("option", null, f.option);
      o.value = f.file;
      p.appendChild(o);
    }
    if (current) p.value = current;
  }
  async function load(file, t0) {
    const tAsk = performance.now(), mine = ++st.loads;
    // until the picked scenario is in, the numbers on the page are the old scenario's:
    // greyed (after 250 ms, so a quick answer does not flash) and marked busy
    const results = document.querySelector(".cx-results");
    results.setAttribute("aria-busy", "true");
    clearTimeout(st.loadTimer);
    st.loadTimer = setTimeout(() => document.body.classList.add("cx-loading"), 250);
    let out;
    try {
      out = await api("load", { file, correlated: st.corr });
    } catch (e) {
      out = { ok: false, message: null };
      showText("The app server cannot be reached. Is `cxroi app` still running?");
    } finally {
      if (mine === st.loads) {
        clearTimeout(st.loadTimer);
        document.body.classList.remove("cx-loading");
        results.removeAttribute("aria-busy");
      }
    }
    if (!stats.firstLoad) stats.firstLoad = { asked: tAsk, answered: performance.now() };
    if (mine !== st.loads) return;  // another scenario was picked meanwhile
    if (!out.ok) {
      if (out.message !== null) showMessage(out.message);
      if (st.file) $("cx-picker").value = st.file;
      return;
    }
    st.file = out.file; st.base = out.data; st.ncorr = out.correlations;
    buildControls(out.controls);
    buildOptions();
    $("cx-save-name").value = out.name;
    $("cx-save-status").textContent = ""; $("cx-report-status").textContent = "";
    $("cx-provenance-box").innerHTML = out.provenance;
    $("cx-picker").value = out.file;
    st.seq += 1;
    await apply(out.result, st.base, { seq: st.seq, t0: t0 === undefined ? performance.now() : t0 }, performance.now());
  }
  function buildOptions() {
    const box = $("cx-options");
    box.textContent = "";
    if (!st.ncorr) return;
    const label = el("label", "cx-toggle");
    const cb = el("input", "cx-correlated");
    cb.type = "checkbox"; cb.checked = st.corr;
    label.append(cb, " Links move together as the scenario states (" + st.ncorr +
                 " correlation" + (st.ncorr > 1 ? "s" : "") + ")");
    cb.addEventListener("change", (ev) => { st.corr = cb.checked; compute(ev.timeStamp); });
    box.appendChild(label);
  }
  $("cx-picker").addEventListener("change", (ev) => load($("cx-picker").value, ev.timeStamp));

  function status(id, cls, text, extra) {
    const box = $(id);
    box.textContent = "";
    box.appendChild(el("span", cls, text));
    if (extra) box.appendChild(extra);
  }
  $("cx-save").addEventListener("click", async () => {
    if (anyBad("cx-save-status")) return;
    if (!st.lastOk) { status("cx-save-status", "cx-bad", "Fix the inputs first: only a valid scenario can be saved."); return; }
    const out = await api("save", { data: currentData(), name: $("cx-save-name").value });
    if (!out.ok) { status("cx-save-status", "cx-bad", out.message); return; }
    fillPicker(out.files, out.file);
    st.file = out.file;
    const more = el("span");
    more.append(el("br"), el("span", "cx-note", "Run it with "), el("code", null, "cxroi run " + out.path));
    status("cx-save-status", "cx-ok", "Saved to " + out.path, more);
  });
  $("cx-report").addEventListener("click", async () => {
    if (anyBad("cx-report-status")) return;
    if (!st.lastOk) { status("cx-report-status", "cx-bad", "Fix the inputs first: the report is made from a valid scenario."); return; }
    const btn = $("cx-report");
    btn.disabled = true;
    status("cx-report-status", "cx-note", "Making the report… (about ten seconds)");
    try {
      const out = await api("report", { data: currentData() });
      if (!out.ok) { status("cx-report-status", "cx-bad", out.message); return; }
      const a = el("a", "cx-report-link", out.name);
      a.href = out.href; a.target = "_blank"; a.rel = "noopener";
      const more = el("span");
      more.append(" ", a, el("br"), el("span", "cx-note", out.path));
      status("cx-report-status", "cx-ok", "Report ready:", more);
    } finally { btn.disabled = false; }
  });
  $("cx-copy").addEventListener("click", () => {
    const b = $("cx-copy"), t = $("cx-pitch-text").innerText;
    const ok = () => { b.textContent = "Copied"; setTimeout(() => { b.textContent = "Copy"; }, 1500); };
    const old = () => {
      const a = document.createElement("textarea");
      a.value = t; document.body.appendChild(a); a.select(); document.execCommand("copy");
      document.body.removeChild(a); ok();
    };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(t).then(ok, old); else old();
  });

  // ------------------------------------------------------------------ lifetime --
  setInterval(() => { if (document.visibilityState === "visible") api("ping", {}).catch(() => {}); },
              boot.heartbeat * 1000);
  window.addEventListener("pagehide", () => {
    navigator.sendBeacon("api/bye", JSON.stringify({ session: st.session }));
  });
  // a page brought back from the browser's back-forward cache said goodbye when it was
  // left (its session is closed on the server): it starts again as a new page
  window.addEventListener("pageshow", (ev) => { if (ev.persisted) location.reload(); });

  // ------------------------------------------------------------------- reload --
  // What is on screen survives a reload of this tab (sessionStorage: this tab's, gone
  // with it): the scenario picked and each control's value, put back once the scenario
  // has loaded. A new tab starts from the lead scenario.
  const KEEP = "cx-app-state";
  function remember() {
    try {
      const values = {};
      for (const c of st.controls) values[c.spec.path] = c.display;
      sessionStorage.setItem(KEEP, JSON.stringify({ file: st.file, corr: st.corr, values }));
    } catch (e) { /* storage switched off: nothing is kept */ }
  }
  function recalled() {
    try { return JSON.parse(sessionStorage.getItem(KEEP) || "null"); } catch (e) { return null; }
  }
  function restore(kept) {
    if (!kept || st.file !== kept.file || !kept.values) return;  // another pick meanwhile
    let changed = false;
    for (const c of st.controls) {
      const v = kept.values[c.spec.path];
      if (typeof v !== "number" || !isFinite(v) || v === c.display) continue;
      c.display = v; c.sent = v; c.box.value = String(v);
      placeSlider(c, v); c.words();
      changed = true;
    }
    if (changed) compute();
  }

  const kept = recalled();
  const again = kept && boot.files.find((f) => f.file === kept.file && f.kind !== "Needs fixing");
  fillPicker(boot.files, again ? again.file : boot.lead);
  const first = again || boot.files.find((f) => f.file === boot.lead) ||
    boot.files.find((f) => f.kind !== "Needs fixing") || boot.files[0];
  if (again && typeof kept.corr === "boolean") st.corr = kept.corr;
  if (first) load(first.file).then(() => { if (again) restore(kept); });
  else showText("No scenario files in the scenario folder.");
})();

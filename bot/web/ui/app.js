// flash-green control panel. Talks to the API with the key kept in sessionStorage only (never
// localStorage, never a URL), refreshes on a timer, and says plainly what went wrong.
"use strict";

(() => {
  const STORE_BASE = "flash-green.base";
  const STORE_KEY = "flash-green.key";
  const REFRESH_MS = 2000;
  const $ = (id) => document.getElementById(id);

  // Samples the page takes on each refresh (the API answers only "now" for these): last spread,
  // today's blocked cycles by reason, each venue's last latency.
  const MAX_SAMPLES = 600;
  const state = {
    canControl: false, connected: false, timer: null, busy: false,
    spreadSamples: [], blockedSamples: [], latencySamples: [],
  };
  function keepSample(samples, sample) {
    samples.push(sample);
    if (samples.length > MAX_SAMPLES) samples.shift();
  }
  // [{ t, values: { name: number } }] -> one chart series per name seen; `missing` stands in for a
  // name a sample lacks (undefined: no point there)
  function seriesByName(samples, colors, { missing, ...extra } = {}) {
    const names = [...new Set(samples.flatMap((s) => Object.keys(s.values)))].sort();
    return names.map((name, i) => ({
      label: name, color: colors[i % colors.length], ...extra,
      points: samples.map((s) => ({ t: s.t, v: s.values[name] ?? missing })).filter((p) => p.v !== undefined),
    }));
  }
  const PALETTE = ["#1f5fa8", "#b3261e", "#1f8a4c", "#a86500", "#6b3fa0", "#0f7c86", "#69736f"];

  // -- connection -----------------------------------------------------------------------------
  function baseUrl() {
    const value = (sessionStorage.getItem(STORE_BASE) || "").trim().replace(/\/+$/, "");
    return value || window.location.origin;
  }
  function apiKey() { return sessionStorage.getItem(STORE_KEY) || ""; }

  function authHeaders() {
    const key = apiKey();
    if (!key) return {};
    // An OIDC token (three dot-separated parts) goes as a bearer token; an API key as X-API-Key.
    return key.split(".").length === 3 ? { Authorization: `Bearer ${key}` } : { "X-API-Key": key };
  }

  class ApiFailure extends Error {
    constructor(kind, message, status) { super(message); this.kind = kind; this.status = status; }
  }

  async function call(path, { method = "GET", body, text = false } = {}) {
    const headers = { ...authHeaders() };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(baseUrl() + path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer",
      });
    } catch (err) {
      throw new ApiFailure("down", `Server unreachable at ${baseUrl()}: is the API running? (${err.message})`, 0);
    }
    if (response.ok || (path.startsWith("/readyz") && response.status === 503)) {
      return text ? response.text() : response.json();
    }
    let detail = "";
    let problems = [];
    try {
      const payload = await response.json();
      detail = payload.detail || "";
      problems = payload.problems || [];
    } catch (_) { /* not JSON */ }
    throw failureFor(response, detail, problems);
  }

  function failureFor(response, detail, problems) {
    const status = response.status;
    const extra = problems.length ? `\n• ${problems.join("\n• ")}` : "";
    if (status === 401) return new ApiFailure("auth", `Wrong or missing key: the server refused the credentials (401). ${detail}`, status);
    if (status === 403) return new ApiFailure("forbidden", `Forbidden (403): ${detail || "your role does not allow this"}`, status);
    if (status === 429) {
      const wait = response.headers.get("Retry-After") || "?";
      return new ApiFailure("limited", `Rate limited (429): retry in ${wait} s. ${detail}`, status);
    }
    if (status === 422) return new ApiFailure("invalid", `Invalid request (422): ${detail}${extra}`, status);
    if (status === 409) return new ApiFailure("conflict", `Conflict (409): ${detail}${extra}`, status);
    if (status >= 500) return new ApiFailure("server", `Server error (${status}): ${detail || response.statusText}`, status);
    return new ApiFailure("other", `Request failed (${status}): ${detail}${extra}`, status);
  }

  // `source` is "refresh" for the timer's errors: a later good refresh clears only those, never
  // the answer to something the user just did.
  function showError(err, source = "action") {
    const banner = $("error");
    banner.textContent = err.message;
    banner.dataset.kind = err.kind || "other";
    banner.dataset.source = source;
    banner.classList.remove("hidden");
    banner.classList.toggle("warn", err.kind === "limited" || err.kind === "conflict");
  }
  function clearError(source) {
    const banner = $("error");
    if (source && banner.dataset.source && banner.dataset.source !== source) return;
    banner.textContent = "";
    banner.dataset.kind = "";
    banner.dataset.source = "";
    banner.classList.add("hidden");
  }

  // -- formatting -----------------------------------------------------------------------------
  function utc(iso) {
    if (!iso) return "–";
    const d = new Date(iso);
    return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  }
  function money(value, places = 2) {
    if (value === null || value === undefined) return "–";
    return Number(value).toFixed(places);
  }
  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    return td;
  }
  function fillTable(tableId, rows, emptyText, columns) {
    const body = $(tableId).querySelector("tbody");
    body.replaceChildren();
    if (rows.length === 0) {
      const tr = document.createElement("tr");
      tr.className = "empty";
      const td = cell(emptyText);
      td.colSpan = columns;
      tr.appendChild(td);
      body.appendChild(tr);
      return;
    }
    for (const cells of rows) {
      const tr = document.createElement("tr");
      cells.forEach((c) => tr.appendChild(c));
      body.appendChild(tr);
    }
  }
  function setStatus(el, text, cls) {
    el.textContent = text;
    el.classList.remove("ok", "bad", "warn-text");
    if (cls) el.classList.add(cls);
  }

  // -- views ----------------------------------------------------------------------------------
  async function refreshHealth() {
    try {
      await call("/healthz");
      setStatus($("health"), "up", "ok");
      const ready = await call("/readyz");
      const failing = ready.checks.filter((c) => c.status === "fail").map((c) => `${c.name}: ${c.detail || "fail"}`);
      $("readiness").textContent = ready.ready ? "ready" : `not ready\n${failing.join("\n")}`;
      renderVenues(ready.venues || []);
      drawLatency(ready.venues || []);
    } catch (err) {
      setStatus($("health"), "down", "bad");
      $("readiness").textContent = "";
      throw err;
    }
  }

  // each venue: up/down, last latency, circuit breaker (names and figures only)
  function renderVenues(venues) {
    const list = $("venues");
    list.replaceChildren();
    for (const v of venues) {
      const li = document.createElement("li");
      li.dataset.venue = v.venue;
      const state = v.up === null ? "not called yet" : v.up ? "up" : "down";
      const latency = v.last_latency_ms === null ? "" : ` · ${v.last_latency_ms.toFixed(1)} ms`;
      const breaker = v.breaker === "none" ? "no breaker" : `breaker ${v.breaker.replace("_", "-")}`;
      li.textContent = `${v.leg} ${v.venue}: ${state}${latency} · ${breaker}`;
      li.className = v.up === false || v.breaker === "open" ? "bad" : v.up ? "ok" : "muted";
      list.appendChild(li);
    }
  }

  function drawLatency(venues) {
    const values = {};
    for (const v of venues) if (v.last_latency_ms !== null) values[`${v.leg} ${v.venue}`] = v.last_latency_ms;
    if (state.connected && Object.keys(values).length) keepSample(state.latencySamples, { t: Date.now(), values });
    FlashCharts.draw($("latency-chart"), seriesByName(state.latencySamples, PALETTE),
      { places: 2, empty: "no venue called yet" });
  }

  function drawBlocked(blocked) {
    const values = {};
    // a reason not listed was not blocked today (yet): its count is 0
    for (const b of blocked) values[`${b.reason} (${b.outcome})`] = b.count;
    keepSample(state.blockedSamples, { t: Date.now(), values });
    FlashCharts.draw($("blocked-chart"), seriesByName(state.blockedSamples, PALETTE, { stepped: true, missing: 0 }),
      { places: 0, includeZero: true, empty: "nothing blocked today" });
  }

  function renderOrchestrator(orch) {
    const cls = orch.state === "running" ? "ok" : orch.state === "exited" && orch.exit_code ? "bad" : "warn-text";
    setStatus($("orch-state"), orch.state, cls);
    const parts = [];
    if (orch.pid) parts.push(`pid ${orch.pid}`);
    if (orch.exit_code !== null && orch.exit_code !== undefined) parts.push(`exit code ${orch.exit_code}`);
    if (orch.started_at) parts.push(`since ${utc(orch.started_at)}`);
    if (orch.state === "external") parts.push("started elsewhere");
    $("orch-detail").textContent = parts.join(" · ");
  }

  const MODES = {
    live: "LIVE: orders go to the venues",
    paper: "PAPER: live books, fills simulated, nothing sent",
    simulated: "simulated markets",
  };

  async function refreshState() {
    const st = await call("/state");
    renderOrchestrator(st.orchestrator);
    setStatus($("window"), st.trading_window_open ? "open" : "closed", st.trading_window_open ? "ok" : "warn-text");
    $("mode").textContent = `${MODES[st.mode] || st.mode} · window ${st.settings.TRADING_WINDOW_UTC} UTC`
      + (st.settings.TRADING_ENABLED ? "" : " · trading disabled");
    setStatus($("trading-mode"), st.mode.toUpperCase(), st.mode === "live" ? "bad" : st.mode === "paper" ? "warn-text" : "ok");
    // SIM_PROFILE=demo: say on every view that these trades come from a market tuned to trade often
    $("demo-banner").classList.toggle("hidden", !(st.market_profile === "demo" && st.mode !== "live"));
    const list = $("blocked");
    list.replaceChildren();
    if (st.blocked_today.length === 0) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = "none";
      list.appendChild(li);
    }
    for (const b of st.blocked_today) {
      const li = document.createElement("li");
      li.textContent = `${b.reason} (${b.outcome}): ${b.count}`;
      list.appendChild(li);
    }
    drawBlocked(st.blocked_today);
    const rows = Object.entries(st.settings).map(([k, v]) => [cell(k), cell(v === null ? "" : Array.isArray(v) ? v.join(",") : String(v))]);
    fillTable("config", rows, "no settings", 2);
  }

  async function refreshPnl() {
    const pnl = await call("/pnl?days=7");
    const today = pnl.today;
    setStatus($("pnl-today"), money(today.realised_gbp), Number(today.realised_gbp) < 0 ? "bad" : "ok");
    $("pnl-detail").textContent = `${today.trades} trades · ${today.unwound} unwound · losses ${money(today.loss_gbp)} of ${money(pnl.daily_loss_limit_gbp)} limit`;
    const rows = [...pnl.history].reverse().map((d) => [
      cell(d.day), cell(money(d.realised_gbp), "num"), cell(money(d.loss_gbp), "num"), cell(String(d.trades), "num"), cell(String(d.unwound), "num"),
    ]);
    fillTable("daily", rows, "no days", 5);
  }

  async function refreshTrades() {
    const page = await call("/trades?limit=200");
    $("trades-total").textContent = `(${page.total} in total, newest first)`;
    const rows = page.items.map((t) => [
      cell(utc(t.executed_at)), cell(t.cycle_id), cell(money(t.quantity_mwh, 3), "num"), cell(money(t.power_price_gbp), "num"),
      cell(money(t.futures_price_gbp), "num"), cell(money(t.spread_gbp), "num"), cell(money(t.net_gbp), "num"),
    ]);
    fillTable("trades", rows, "no trades yet", 7);
    renderLastTrade(page.items[0]);
    // PnL over time: cumulative net of the trades shown, oldest first.
    let total = 0;
    const points = [...page.items].reverse().map((t) => {
      total += Number(t.net_gbp);
      return { t: Date.parse(t.executed_at), v: total };
    });
    FlashCharts.draw($("pnl-chart"), [{ label: "cumulative net GBP", color: "#1f8a4c", points, markers: points.length < 40 }],
      { includeZero: true, empty: "no trades yet" });
  }

  // the newest trade where the panel opens: a first trade is seen without scrolling to the table
  function renderLastTrade(t) {
    if (!t) {
      setStatus($("last-trade"), "–");
      $("last-trade-detail").textContent = "none yet";
      return;
    }
    setStatus($("last-trade"), money(t.net_gbp), Number(t.net_gbp) < 0 ? "bad" : "ok");
    $("last-trade-detail").textContent = `${utc(t.executed_at)}\n${money(t.quantity_mwh, 1)} MWh · spread ${money(t.spread_gbp)} GBP/MWh\n${t.cycle_id}`;
  }

  async function refreshOrders() {
    const orders = await call("/orders/open");
    const rows = orders.items.map((o) => [
      cell(o.client_order_id), cell(o.leg), cell(o.side), cell(money(o.quantity_mwh, 3), "num"), cell(money(o.limit_price_gbp), "num"),
      cell(o.status), cell(utc(o.updated_at)),
    ]);
    fillTable("orders", rows, "none", 7);
  }

  async function refreshSpreads() {
    const [spreads, metrics] = await Promise.all([call("/spreads?limit=300"), call("/metrics", { text: true }).catch(() => "")]);
    const match = /^last_spread\s+(-?[\d.eE+-]+)\s*$/m.exec(metrics);
    if (match && state.connected) keepSample(state.spreadSamples, { t: Date.now(), v: Number(match[1]) });
    const trades = spreads.items.filter((p) => p.traded).map((p) => ({ t: Date.parse(p.at), v: Number(p.spread_gbp) }));
    const series = [];
    if (state.spreadSamples.length > 1) series.push({ label: "last spread (sampled)", color: "#1f5fa8", points: state.spreadSamples });
    else series.push({ label: "spread at trades", color: "#1f5fa8", points: trades });
    series.push({ label: "trades", color: "#b3261e", points: trades, line: false, markers: true });
    FlashCharts.draw($("spread-chart"), series, { empty: "no spread data yet" });
  }

  async function refreshAll() {
    if (state.busy) return;
    state.busy = true;
    try {
      await refreshHealth();
      if (!state.connected) return;
      await Promise.all([refreshState(), refreshPnl(), refreshTrades(), refreshOrders(), refreshSpreads()]);
      clearError("refresh");
    } catch (err) {
      showError(err, "refresh");
      if (err.kind === "auth") disconnect(false);
    } finally {
      state.busy = false;
    }
  }

  // -- identity -------------------------------------------------------------------------------
  async function connect() {
    clearError();
    try {
      const me = await call("/whoami");
      state.connected = me.can_read;
      state.canControl = me.can_control;
      $("identity").textContent = `${me.principal} · roles: ${me.roles.join(", ") || "none"}`
        + (me.can_control ? " · control plane allowed" : " · read only");
      if (!me.can_read) showError(new ApiFailure("forbidden", "Forbidden: this identity has no reader role.", 403));
      setControls();
      await refreshAll();
    } catch (err) {
      disconnect(false);
      showError(err);
    }
  }

  function disconnect(clearKey) {
    state.connected = false;
    state.canControl = false;
    state.spreadSamples = [];
    state.blockedSamples = [];
    state.latencySamples = [];
    $("demo-banner").classList.add("hidden"); // said again by the next server that answers
    if (clearKey) sessionStorage.removeItem(STORE_KEY);
    $("identity").textContent = "not connected";
    setControls();
  }

  function setControls() {
    for (const id of ["start-btn", "stop-btn", "status-btn", "tests-btn"]) $(id).disabled = !state.canControl;
  }

  // -- control plane --------------------------------------------------------------------------
  function parseOverrides(text) {
    const overrides = {};
    const bad = [];
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim();
      if (!line || line.startsWith("#")) return;
      const eq = line.indexOf("=");
      if (eq <= 0) { bad.push(`line ${i + 1}: expected KEY=VALUE`); return; }
      overrides[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
    });
    return { overrides, bad };
  }

  function renderControl(status, verb) {
    renderOrchestrator(status);
    $("control-result").textContent = `${verb}: ${status.state}` + (status.pid ? ` (pid ${status.pid})` : "")
      + (status.exit_code !== null && status.exit_code !== undefined ? `, exit code ${status.exit_code}` : "");
    $("log-tail").textContent = (status.log_tail || []).join("\n");
  }

  async function control(path, body, verb) {
    clearError();
    try {
      const status = await call(path, { method: body === undefined ? "GET" : "POST", body });
      renderControl(status, verb);
      await refreshAll();
    } catch (err) {
      $("control-result").textContent = `${verb}: refused`;
      showError(err);
    }
  }

  async function startLoop() {
    const { overrides, bad } = parseOverrides($("overrides").value);
    if (bad.length) { showError(new ApiFailure("invalid", `Overrides: ${bad.join("; ")}`, 0)); return; }
    await control("/control/orchestrator/start", { overrides }, "start");
  }

  async function runTests() {
    clearError();
    const k = $("tests-k").value.trim();
    const flags = $("tests-flags").value.trim().split(/\s+/).filter(Boolean);
    $("tests-btn").disabled = true;
    $("tests-result").textContent = "running…";
    $("tests-output").textContent = "";
    try {
      const run = await call("/control/tests", { method: "POST", body: { k: k || null, flags } });
      $("tests-result").textContent = `${run.state} · exit code ${run.exit_code} · ${run.duration_s} s · pytest ${run.args.join(" ")}`
        + (run.cut_bytes ? ` · ${run.cut_bytes} bytes of output cut` : "");
      $("tests-output").textContent = run.output;
    } catch (err) {
      $("tests-result").textContent = "refused";
      showError(err);
    } finally {
      $("tests-btn").disabled = !state.canControl;
    }
  }

  async function raw(path) {
    try {
      const isText = path === "/metrics";
      const body = await call(path, { text: isText });
      $("raw").textContent = isText ? body : JSON.stringify(body, null, 2);
      clearError();
    } catch (err) {
      $("raw").textContent = "";
      showError(err);
    }
  }

  // -- wiring ---------------------------------------------------------------------------------
  function schedule() {
    clearInterval(state.timer);
    if ($("auto-refresh").checked) state.timer = setInterval(refreshAll, REFRESH_MS);
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("base-url").value = sessionStorage.getItem(STORE_BASE) || "";
    $("api-key").value = apiKey();
    $("connect").addEventListener("submit", (ev) => {
      ev.preventDefault();
      sessionStorage.setItem(STORE_BASE, $("base-url").value.trim());
      sessionStorage.setItem(STORE_KEY, $("api-key").value.trim());
      connect();
    });
    $("forget-btn").addEventListener("click", () => { $("api-key").value = ""; disconnect(true); clearError(); });
    $("auto-refresh").addEventListener("change", schedule);
    $("start-btn").addEventListener("click", startLoop);
    $("stop-btn").addEventListener("click", () => control("/control/orchestrator/stop", {}, "stop"));
    $("status-btn").addEventListener("click", () => control("/control/orchestrator", undefined, "status"));
    $("tests-btn").addEventListener("click", runTests);
    document.querySelectorAll("button.raw").forEach((b) => b.addEventListener("click", () => raw(b.dataset.path)));
    setControls();
    schedule();
    if (apiKey()) connect(); else refreshAll();
  });
})();

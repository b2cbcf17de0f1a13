// flash-green control panel: the Replay section. Starts a replay of a file in the bot's data
// directory, follows it, cancels it, shows its summary and offers its HTML report as a download
// (the report runs its own inline scripts, which the panel's content security policy forbids
// inside the panel itself). Reads the key and API base the panel keeps in sessionStorage.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const base = () => (sessionStorage.getItem("flash-green.base") || "").trim().replace(/\/+$/, "") || window.location.origin;
  function headers(json) {
    const key = sessionStorage.getItem("flash-green.key") || "";
    const out = json ? { "Content-Type": "application/json" } : {};
    if (key) Object.assign(out, key.split(".").length === 3 ? { Authorization: `Bearer ${key}` } : { "X-API-Key": key });
    return out;
  }
  async function call(path, method = "GET", body) {
    const response = await fetch(base() + path, {
      method, headers: headers(body !== undefined), body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer",
    });
    const text = await response.text();
    let data = null;
    try { data = JSON.parse(text); } catch (_) { data = text; }
    if (!response.ok) throw new Error((data && data.detail) || `${response.status} ${response.statusText}`);
    return data;
  }
  const words = (id) => $(id).value.split(/\s+/).filter(Boolean);
  let timer = null;

  function say(text, bad) {
    const el = $("replay-status");
    el.textContent = text;
    el.classList.toggle("error", !!bad);
  }
  function showSummary(report) {
    const body = $("replay-summary").querySelector("tbody");
    body.replaceChildren();
    const rows = report.sweep
      ? report.sweep.map((run) => [run.label, run.report.summary])
      : [["this replay", report.summary]];
    for (const [label, s] of rows) {
      const tr = document.createElement("tr");
      for (const value of [label, s.trades, s.pnl_gbp, s.hit_rate ?? "-", s.largest_loss_gbp, s.max_drawdown_gbp, s.fees.total_gbp]) {
        const td = document.createElement("td");
        td.textContent = String(value);
        tr.appendChild(td);
      }
      body.appendChild(tr);
    }
  }
  async function offerHtml() {
    const response = await fetch(base() + "/control/replay/report.html", { headers: headers(false), cache: "no-store", credentials: "omit" });
    if (!response.ok) return;
    const link = $("replay-html");
    if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(await response.blob());
    link.hidden = false;
  }
  async function refresh() {
    try {
      const status = await call("/control/replay");
      const rows = status.rows_read ? `, ${status.rows_read} rows read` : "";
      say(`${status.state}${status.file ? ` (${status.file})` : ""}${rows}${status.error ? `: ${status.error}` : ""}`, status.state === "failed");
      if (status.state === "running") {
        timer = timer || setInterval(refresh, 1000);
        return;
      }
      clearInterval(timer);
      timer = null;
      if (status.state === "done") {
        showSummary(await call("/control/replay/report"));
        await offerHtml();
      }
    } catch (err) { say(err.message, true); }
  }
  async function start() {
    const body = { file: $("replay-file").value.trim(), set: words("replay-set"), sweep: words("replay-sweep") };
    try {
      await call("/control/replay", "POST", body);
      $("replay-html").hidden = true;
      await refresh();
    } catch (err) { say(err.message, true); }
  }
  async function cancel() {
    try { await call("/control/replay/cancel", "POST"); await refresh(); } catch (err) { say(err.message, true); }
  }
  document.addEventListener("DOMContentLoaded", () => {
    if (!$("replay-start")) return;
    $("replay-start").addEventListener("click", start);
    $("replay-cancel").addEventListener("click", cancel);
    $("replay-refresh").addEventListener("click", refresh);
  });
})();

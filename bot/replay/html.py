"""The report as one self-contained HTML page: the vendored uPlot inlined, the data inlined, no network.

Two charts (cumulative PnL; the spread with a point at each trade), the summary, the blocked
cycles by reason, PnL per day, the trades, and, after a sweep, one row per combination side by
side with every combination's cumulative PnL on one chart.
"""

from __future__ import annotations

import html
import json
from importlib import resources
from typing import Any


def _vendored(name: str) -> str:
    """A file of the uPlot copy the control panel serves (bot/web/ui/vendor/uplot, MIT licence)."""
    return resources.files("bot.web").joinpath("ui", "vendor", "uplot", name).read_text(encoding="utf-8")


def _script_safe(data: Any) -> str:
    """JSON that cannot close the <script> element it sits in."""
    return json.dumps(data, separators=(",", ":")).replace("<", "\\u003c").replace(">", "\\u003e")


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(row.get(c, '')))}</td>" for c in columns) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _pairs(title: str, counts: dict[str, Any]) -> str:
    rows = [{"what": k, "value": v} for k, v in counts.items()] or [{"what": "none", "value": 0}]
    return f"<h2>{html.escape(title)}</h2>" + _table(rows, ["what", "value"])


_SCRIPT = """
const R = JSON.parse(document.getElementById('report-data').textContent);
function width(id) { return Math.max(320, document.getElementById(id).clientWidth || 800); }
function draw(id, data, series, extra) {
  const opts = Object.assign({width: width(id), height: 260, series: [{}].concat(series),
    scales: {x: {time: true}}, axes: [{}, {}],
    tzDate: ts => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC')}, extra || {});  // times in UTC
  return new uPlot(opts, data, document.getElementById(id));
}
const colours = ['#2a7', '#36c', '#c63', '#a3c', '#c33', '#3aa', '#aa3', '#666'];
if (R.sweep) {
  const xs = Array.from(new Set(R.sweep.flatMap(r => r.series.pnl[0]))).sort((a, b) => a - b);
  const cols = R.sweep.map(r => { const m = new Map(); let last = 0, j = 0;
    const t = r.series.pnl[0], v = r.series.pnl[1];
    return xs.map(x => { while (j < t.length && t[j] <= x) { last = v[j]; j++; } return last; }); });
  draw('pnl-chart', [xs].concat(cols), R.sweep.map((r, i) => ({label: r.label, stroke: colours[i % 8]})));
} else {
  draw('pnl-chart', R.series.pnl, [{label: 'cumulative PnL (GBP)', stroke: '#2a7', width: 2}]);
}
const S = R.sweep ? R.sweep[0].series : R.series;
const tx = S.spread[0].concat(S.trades[0]).sort((a, b) => a - b);
const sp = new Map(S.spread[0].map((t, i) => [t, S.spread[1][i]]));
const tr = new Map(S.trades[0].map((t, i) => [t, S.trades[1][i]]));
const at = (m) => tx.map(t => m.has(t) ? m.get(t) : null);
draw('spread-chart', [tx, at(sp), at(tr)], [
  {label: 'spread (GBP/MWh)', stroke: '#36c', spanGaps: true},
  {label: 'trade', stroke: '#c33', width: 0, points: {show: true, size: 7, fill: '#c33'}},
]);
document.body.dataset.drawn = 'yes';
"""


def render_html(report: dict[str, Any]) -> str:
    """The page for one run's report, or for a sweep (`report["sweep"]`: one entry per combination)."""
    sweep = report.get("sweep")
    head = report if not sweep else sweep[0]["report"]
    parts = [f"<h1>flash-green replay</h1><p>{html.escape(', '.join(report.get('inputs', [])))}</p>"]
    if sweep:
        rows = [{"combination": s["label"], **s["report"]["summary"]} for s in sweep]
        flat = [{k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in row.items()} for row in rows]
        cols = [
            "combination",
            "trades",
            "pnl_gbp",
            "hit_rate",
            "largest_loss_gbp",
            "max_drawdown_gbp",
            "loan",
            "fees",
        ]
        parts.append("<h2>Sweep</h2>" + _table(flat, cols))
    parts.append('<h2>Cumulative PnL</h2><div id="pnl-chart" class="chart"></div>')
    parts.append('<h2>Spread, with trades</h2><div id="spread-chart" class="chart"></div>')
    if not sweep:
        flat_summary = {k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in head["summary"].items()}
        parts.append(_pairs("Summary", flat_summary))
        parts.append(_pairs("Cycles", head["cycles"]))
        parts.append(_pairs("Blocked cycles by reason", head["blocked_by_reason"]))
        parts.append(_pairs("No trade, by reason", head["no_trade_by_reason"]))
        parts.append(_pairs("Unwound or failed, by reason", head["unwound_by_reason"]))
        parts.append("<h2>PnL per day</h2>" + _table(head["pnl_by_day"], ["day", "pnl_gbp", "trades"]))
        cols = [
            "cycle_id",
            "at",
            "quantity_mwh",
            "power_price_gbp",
            "futures_price_gbp",
            "spread_gbp",
            "net_gbp",
        ]
        parts.append(f"<h2>Trades (first {head['trades_listed']})</h2>" + _table(head["trades"], cols))
    data = {"series": head["series"]}
    if sweep:
        data["sweep"] = [{"label": s["label"], "series": s["report"]["series"]} for s in sweep]
    style = (
        "body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0}"
        "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
        "th{background:#f3f3f3}.chart{width:100%}"
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>flash-green replay</title>'
        f"<style>{_vendored('uPlot.min.css')}</style><style>{style}</style></head><body>"
        + "".join(parts)
        + f'<script id="report-data" type="application/json">{_script_safe(data)}</script>'
        + f"<!-- uPlot 1.6.32, inlined below: {html.escape(_vendored('LICENSE'))} -->"
        + f"<script>{_vendored('uPlot.iife.min.js')}</script><script>{_SCRIPT}</script></body></html>"
    )

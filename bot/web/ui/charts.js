// Small canvas charts for the control panel: time on x, one or more series on y, optional markers.
// No library, no network: everything the panel draws is here.
"use strict";

const FlashCharts = (() => {
  const PAD = { left: 56, right: 12, top: 12, bottom: 28 };

  function niceStep(range, targetTicks) {
    const raw = range / Math.max(1, targetTicks);
    const mag = Math.pow(10, Math.floor(Math.log10(raw || 1)));
    const norm = raw / mag;
    const step = norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10;
    return step * mag;
  }

  function timeLabel(ms, spanMs) {
    const d = new Date(ms);
    const hh = String(d.getUTCHours()).padStart(2, "0");
    const mm = String(d.getUTCMinutes()).padStart(2, "0");
    const ss = String(d.getUTCSeconds()).padStart(2, "0");
    if (spanMs > 2 * 86400e3) return `${d.getUTCMonth() + 1}/${d.getUTCDate()}`;
    if (spanMs > 3600e3) return `${hh}:${mm}`;
    return `${hh}:${mm}:${ss}`;
  }

  function prepare(canvas) {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || canvas.width;
    const height = canvas.clientHeight || canvas.height;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    return { ctx, width, height };
  }

  // series: [{ label, color, points: [{ t: ms, v: number }], line: bool, markers: bool }]
  function draw(canvas, series, options = {}) {
    const { ctx, width, height } = prepare(canvas);
    const all = series.flatMap((s) => s.points);
    canvas.dataset.points = String(all.length);
    canvas.dataset.markers = String(series.filter((s) => s.markers).reduce((n, s) => n + s.points.length, 0));
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = "#69736f";
    if (all.length === 0) {
      ctx.fillText(options.empty || "no data yet", PAD.left, height / 2);
      return;
    }
    let tMin = Math.min(...all.map((p) => p.t));
    let tMax = Math.max(...all.map((p) => p.t));
    let vMin = Math.min(...all.map((p) => p.v));
    let vMax = Math.max(...all.map((p) => p.v));
    if (options.includeZero) { vMin = Math.min(vMin, 0); vMax = Math.max(vMax, 0); }
    if (tMax === tMin) { tMin -= 30e3; tMax += 30e3; }
    if (vMax === vMin) { vMin -= 1; vMax += 1; }
    const vPad = (vMax - vMin) * 0.08;
    vMin -= vPad; vMax += vPad;
    const plotW = width - PAD.left - PAD.right;
    const plotH = height - PAD.top - PAD.bottom;
    const x = (t) => PAD.left + ((t - tMin) / (tMax - tMin)) * plotW;
    const y = (v) => PAD.top + (1 - (v - vMin) / (vMax - vMin)) * plotH;

    // grid and y labels
    ctx.strokeStyle = "#e6eae8";
    ctx.lineWidth = 1;
    const step = niceStep(vMax - vMin, 5);
    for (let v = Math.ceil(vMin / step) * step; v <= vMax; v += step) {
      ctx.beginPath(); ctx.moveTo(PAD.left, y(v)); ctx.lineTo(width - PAD.right, y(v)); ctx.stroke();
      ctx.fillText(Math.abs(step) < 1 ? v.toFixed(2) : v.toFixed(0), 4, y(v) + 4);
    }
    if (vMin < 0 && vMax > 0) {
      ctx.strokeStyle = "#9aa5a0";
      ctx.beginPath(); ctx.moveTo(PAD.left, y(0)); ctx.lineTo(width - PAD.right, y(0)); ctx.stroke();
    }
    // x labels
    const span = tMax - tMin;
    for (let i = 0; i <= 4; i++) {
      const t = tMin + (span * i) / 4;
      const label = timeLabel(t, span);
      const w = ctx.measureText(label).width;
      ctx.fillText(label, Math.min(Math.max(x(t) - w / 2, PAD.left), width - PAD.right - w), height - 8);
    }
    // series
    for (const s of series) {
      const pts = [...s.points].sort((a, b) => a.t - b.t);
      if (s.line !== false && pts.length > 1) {
        ctx.strokeStyle = s.color;
        ctx.lineWidth = 1.8;
        ctx.beginPath();
        pts.forEach((p, i) => (i === 0 ? ctx.moveTo(x(p.t), y(p.v)) : ctx.lineTo(x(p.t), y(p.v))));
        ctx.stroke();
      }
      if (s.markers || pts.length === 1) {
        ctx.fillStyle = s.color;
        for (const p of pts) {
          ctx.beginPath(); ctx.arc(x(p.t), y(p.v), 3.5, 0, Math.PI * 2); ctx.fill();
        }
      }
    }
    // legend
    let lx = PAD.left + 4;
    for (const s of series) {
      if (!s.label) continue;
      ctx.fillStyle = s.color;
      ctx.fillRect(lx, PAD.top, 10, 3);
      ctx.fillStyle = "#1d2321";
      ctx.fillText(s.label, lx + 14, PAD.top + 5);
      lx += ctx.measureText(s.label).width + 30;
    }
  }

  return { draw };
})();

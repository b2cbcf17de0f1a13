// The control panel's time charts, drawn by the vendored uPlot (vendor/uplot/, see its README):
// a legend that shows the hovered values, drag to zoom, double-click to reset. Times are UTC.
"use strict";

const FlashCharts = (() => {
  const HEIGHT = 240;
  const charts = new Map(); // element id -> { plot, labels }
  const utcDate = (seconds) => uPlot.tzDate(new Date(seconds * 1e3), "Etc/UTC");
  const utcLabel = uPlot.fmtDate("{YYYY}-{MM}-{DD} {HH}:{mm}:{ss} UTC");
  const clock = uPlot.fmtDate("{HH}:{mm}:{ss}");
  const dayClock = uPlot.fmtDate("{MM}-{DD} {HH}:{mm}");
  // A lone sample gets a minute of axis around it (uPlot would give it a whole day).
  const timeRange = (u, min, max) => (u.data[0].length === 1 ? [u.data[0][0] - 30, u.data[0][0] + 30] : [min, max]);
  // y tick labels are as wide as they need to be (~7 px a character at 11 px)
  const labelWidth = (u, values) => 18 + 7 * Math.max(4, ...(values || []).map((v) => String(v).length));

  // Colours come from the page's stylesheet, so the charts follow the panel's theme.
  function themed(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  // series [{ points: [{ t: ms, v }] }] -> uPlot's aligned columns [seconds, values...] (null = no point)
  function aligned(series) {
    const times = [...new Set(series.flatMap((s) => s.points.map((p) => p.t)))].sort((a, b) => a - b);
    const index = new Map(times.map((t, i) => [t, i]));
    const columns = series.map((s) => {
      const values = new Array(times.length).fill(null);
      for (const p of s.points) values[index.get(p.t)] = p.v;
      return values;
    });
    return [times.map((t) => t / 1e3), ...columns];
  }

  function seriesOptions(s, places) {
    const options = {
      label: s.label,
      stroke: s.color,
      width: 1.8,
      spanGaps: true,
      value: (u, v) => (v === null || v === undefined ? "–" : v.toFixed(places)),
      points: { show: s.markers === true || s.points.length === 1, size: 7, fill: s.color },
    };
    if (s.line === false) options.paths = () => null;
    if (s.stepped) options.paths = uPlot.paths.stepped({ align: 1 });
    return options;
  }

  // Off the chart the legend shows each series' newest value (uPlot would show dashes), so the
  // latest figures read at a glance; over the chart it shows the values under the cursor.
  function showLatest(u) {
    if (u.cursor.left >= 0) return; // the mouse is over the plot
    const xs = u.data[0];
    if (!xs.length) return;
    const idxs = u.data.map((values, i) => {
      let at = values.length - 1;
      if (i > 0) while (at > 0 && (values[at] === null || values[at] === undefined)) at--;
      return at;
    });
    u.setLegend({ idxs }, false);
  }

  function create(el, series, options) {
    const muted = themed("--muted");
    const axis = { stroke: muted, grid: { stroke: themed("--line"), width: 1 }, ticks: { stroke: themed("--line") } };
    const places = options.places ?? 2;
    const opts = {
      width: Math.max(el.clientWidth, 200),
      height: HEIGHT,
      tzDate: utcDate,
      cursor: {
        drag: { x: true, y: false }, // drag selects a time range and zooms; double-click resets
        // series sampled at other times (trade markers, venues) show their nearest value, not a dash
        hover: { skip: [null] },
      },
      legend: { live: true },
      hooks: { ready: [showLatest], setData: [showLatest], setCursor: [showLatest] },
      scales: {
        x: { time: true, range: timeRange },
        y: options.includeZero ? { range: (u, min, max) => uPlot.rangeNum(Math.min(min, 0), Math.max(max, 0), 0.1, true) } : {},
      },
      axes: [
        { ...axis, space: 80, values: (u, ticks) => ticks.map((t) => (u.scales.x.max - u.scales.x.min > 86400 ? dayClock : clock)(utcDate(t))) },
        { ...axis, size: labelWidth },
      ],
      series: [
        { label: "time (UTC)", value: (u, v) => (v === null || v === undefined ? "–" : utcLabel(utcDate(v))) },
        ...series.map((s) => seriesOptions(s, places)),
      ],
    };
    return new uPlot(opts, aligned(series), el);
  }

  function zoomed(plot) {
    const xs = plot.data[0];
    if (xs.length < 2) return false;
    return plot.scales.x.min > xs[0] || plot.scales.x.max < xs[xs.length - 1];
  }

  // series: [{ label, color, points: [{ t: ms, v: number }], line: bool, markers: bool, stepped: bool }]
  // options: { includeZero, places, empty: text shown while there is nothing to draw }
  function draw(el, series, options = {}) {
    el.dataset.points = String(series.reduce((n, s) => n + s.points.length, 0));
    el.dataset.markers = String(series.filter((s) => s.markers).reduce((n, s) => n + s.points.length, 0));
    el.dataset.empty = options.empty || "no data yet";
    const labels = series.map((s) => s.label).join("\n");
    const known = charts.get(el.id);
    if (known && known.labels === labels) {
      // keep a zoom the user chose while new points arrive; otherwise follow the data
      known.plot.setData(aligned(series), !zoomed(known.plot));
      return;
    }
    if (known) known.plot.destroy(); // the set of series changed (a new reason or venue)
    charts.set(el.id, { plot: create(el, series, options), labels });
  }

  function resize() {
    for (const [id, { plot }] of charts) {
      const width = Math.max(document.getElementById(id).clientWidth, 200);
      if (width !== plot.width) plot.setSize({ width, height: HEIGHT });
    }
  }
  window.addEventListener("resize", resize);

  // The uPlot instance drawn in an element (the browser tests read its scales and data).
  const plotOf = (id) => (charts.has(id) ? charts.get(id).plot : null);

  return { draw, plotOf };
})();

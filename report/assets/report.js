// sls-load HTML report: draws the charts from the embedded summary JSON with the
// embedded uPlot. Owns the charts only (the tables are static markup written by
// orchestrator/src/export/html). After drawing it records what it drew, for tests:
// document.body.dataset.charts = {chartId: {seriesLabel: pointCount}} and
// document.body.dataset.markers = {chartId: markersDrawn}.
(function () {
  "use strict";
  var summary = JSON.parse(document.getElementById("data").textContent);
  var series = summary.series || {};
  var markers = summary.markers || [];
  var drawn = {};
  var markersDrawn = {};
  var charts = [];
  var COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  var MARKER_COLORS = { slice: "#888", abort: "#d62728", stop: "#ff7f0e", event: "#9467bd" };

  function color(i) { return COLORS[i % COLORS.length]; }

  function fixed(v, places) {
    return v == null ? "–" : Number(v).toFixed(places);
  }

  function msLabel(v) {
    if (v == null) return "–";
    return v >= 1000 ? (v / 1000).toFixed(2) + "s" : fixed(v, v < 10 ? 2 : 1) + "ms";
  }

  // The time axis' x values: the union of every line's seconds, sorted; each line
  // gets its value at each (null where it has no point).
  function align(lines) {
    var seen = {};
    lines.forEach(function (l) { l.points.forEach(function (p) { seen[p.x] = true; }); });
    var xs = Object.keys(seen).map(Number).sort(function (a, b) { return a - b; });
    var data = [xs];
    lines.forEach(function (l) {
      var at = {};
      l.points.forEach(function (p) { at[p.x] = p.y; });
      data.push(xs.map(function (x) { return x in at ? at[x] : null; }));
    });
    return data;
  }

  // Vertical dashed line and label for every marker inside the plot area.
  function markerHook(id) {
    return function (u) {
      var ctx = u.ctx, dpr = window.devicePixelRatio || 1, n = 0;
      ctx.save();
      ctx.font = (11 * dpr) + "px sans-serif";
      ctx.setLineDash([5 * dpr, 4 * dpr]);
      ctx.lineWidth = dpr;
      markers.forEach(function (m, i) {
        var x = Math.round(u.valToPos(m.t, "x", true));
        if (!isFinite(x) || x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
        var c = MARKER_COLORS[m.kind] || MARKER_COLORS.event;
        ctx.strokeStyle = c;
        ctx.fillStyle = c;
        ctx.beginPath();
        ctx.moveTo(x, u.bbox.top);
        ctx.lineTo(x, u.bbox.top + u.bbox.height);
        ctx.stroke();
        ctx.fillText(m.label, x + 3 * dpr, u.bbox.top + (12 + 12 * (i % 3)) * dpr);
        n += 1;
      });
      ctx.restore();
      markersDrawn[id] = n;
      document.body.dataset.markers = JSON.stringify(markersDrawn);
    };
  }

  // The time axis spans the data and every marker, so an event after the last
  // point (an abort at the end) is still drawn.
  function timeRange(u, min, max) {
    markers.forEach(function (m) {
      min = Math.min(min, m.t);
      max = Math.max(max, m.t);
    });
    return [min, max];
  }

  function chartBox(container, id) {
    var box = document.createElement("div");
    box.className = "chart";
    box.id = id;
    container.appendChild(box);
    return box;
  }

  function width(box) { return Math.max(300, box.clientWidth || 600); }

  // One chart; `lines` are {label, points: [{x, y}]}. Records the points drawn.
  function plot(container, id, title, lines, yLabel, yFormat, extra) {
    var box = chartBox(container, id);
    var data = align(lines);
    var opts = {
      title: title,
      width: width(box),
      height: 230,
      scales: { x: { time: false } },
      series: [{ label: extra && extra.xLabel || "second", value: extra && extra.xLegend }].concat(lines.map(function (l, i) {
        return { label: l.label, stroke: color(i), width: 1.5, spanGaps: !!(extra && extra.spanGaps),
          value: function (u, v) { return yFormat(v); } };
      })),
      axes: [
        { label: extra && extra.xTitle || "seconds since the start", values: extra && extra.xValues },
        { label: yLabel, size: 60, values: function (u, vals) { return vals.map(yFormat); } }
      ],
      hooks: extra && extra.noMarkers ? {} : { draw: [markerHook(id)] }
    };
    if (extra && extra.x) opts.scales.x = extra.x;
    else opts.scales.x.range = timeRange;
    var chart = new uPlot(opts, data, box);
    charts.push({ chart: chart, box: box });
    drawn[id] = {};
    lines.forEach(function (l, i) {
      drawn[id][l.label] = data[i + 1].filter(function (v) { return v != null; }).length;
    });
  }

  // A second without a response has no latency: a gap, not a 0 ms point.
  function latency(key) {
    return function (p) { return p.max_ms > 0 ? p[key] : null; };
  }

  var FIGURES = [
    { key: "rps", title: "requests per second", unit: "req/s", y: function (p) { return p.requests; },
      format: function (v) { return fixed(v, 0); } },
    { key: "errors", title: "error rate", unit: "%",
      y: function (p) { return p.requests > 0 ? 100 * p.errors / p.requests : 0; },
      format: function (v) { return v == null ? "–" : fixed(v, 2) + "%"; } },
    { key: "p50", title: "p50 latency", unit: "ms", y: latency("p50_ms"), format: msLabel },
    { key: "p95", title: "p95 latency", unit: "ms", y: latency("p95_ms"), format: msLabel },
    { key: "p99", title: "p99 latency", unit: "ms", y: latency("p99_ms"), format: msLabel }
  ];

  // rps, error rate and p50/p95/p99 over time, one line per key of `byName`.
  function timeCharts(containerId, prefix, byName, what) {
    var container = document.getElementById(containerId);
    var names = Object.keys(byName || {});
    if (names.length === 0) {
      container.innerHTML = "<p class=\"note\">This summary has no per-second series per " + what + ".</p>";
      return;
    }
    FIGURES.forEach(function (f) {
      var lines = names.map(function (name) {
        return { label: name, points: byName[name].map(function (p) { return { x: p.t, y: f.y(p) }; }) };
      });
      plot(container, prefix + "-" + f.key, f.title + " per " + what, lines, f.unit, f.format);
    });
  }

  // 1/(1-p) for a percentile p in 0–100, as HdrHistogram's plotter places it.
  function spectrumX(percentile) { return 1 / (1 - percentile / 100); }

  // Labels only the decades: 0%, 90%, 99%, 99.9%… (uPlot passes null for the
  // log axis' unlabelled splits).
  function percentileLabel(x) {
    if (x == null) return "";
    if (x <= 1) return "0%";
    var decade = Math.log10(x);
    if (Math.abs(decade - Math.round(decade)) > 1e-6) return "";
    var p = 100 * (1 - 1 / x);
    return p.toFixed(Math.max(0, Math.round(decade) - 2)) + "%";
  }

  function spectrumChart() {
    var container = document.getElementById("charts-spectrum");
    var spectrum = summary.spectrum || {};
    var names = Object.keys(spectrum);
    if (names.length === 0) {
      container.innerHTML = "<p class=\"note\">This summary has no latency spectrum.</p>";
      return;
    }
    var lines = names.map(function (name) {
      return { label: name, points: spectrum[name].filter(function (p) { return p.percentile < 100; })
        .map(function (p) { return { x: spectrumX(p.percentile), y: p.ms }; }) };
    });
    plot(container, "spectrum", "latency by percentile per region", lines, "ms", msLabel, {
      x: { time: false, distr: 3, log: 10 },
      xLabel: "percentile",
      xTitle: "percentile (log scale of 1/(1-p))",
      xValues: function (u, vals) { return vals.map(percentileLabel); },
      xLegend: function (u, x) { return x == null ? "–" : fixed(100 * (1 - 1 / x), 4) + "%"; },
      spanGaps: true,
      noMarkers: true
    });
  }

  timeCharts("charts-regions", "regions", series.regions, "region");
  timeCharts("charts-requests", "requests", series.requests, "request");
  spectrumChart();

  window.addEventListener("resize", function () {
    charts.forEach(function (c) { c.chart.setSize({ width: width(c.box), height: 230 }); });
  });
  document.body.dataset.charts = JSON.stringify(drawn);
  document.body.dataset.markers = JSON.stringify(markersDrawn);
})();

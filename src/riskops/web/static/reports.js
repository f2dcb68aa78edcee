// Draws each chart of /reports with uPlot from the JSON the page puts on it (its
// data-series attribute: no inline script under the CSP); the table under each chart
// holds the same numbers.
(function () {
  "use strict";
  var COLOURS = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563", "#65a30d"];

  function days(labels) {
    return labels.map(function (d) { return Date.parse(d + "T00:00:00Z") / 1000; });
  }

  function format(unit) {
    return function (u, v) {
      if (v == null) return "—";
      if (unit === "usd") return v.toLocaleString(undefined, { maximumFractionDigits: 2 }) + " USD";
      if (unit === "percent") return v.toFixed(1) + "%";
      return v.toLocaleString(undefined, { maximumFractionDigits: 2 });
    };
  }

  function options(chart, width) {
    var byDay = chart.x === "day";
    var bars = chart.kind === "bars" || chart.kind === "stacked";
    var opts = {
      width: width,
      height: 260,
      scales: { x: { time: byDay } },
      legend: { live: true },
      series: [{ label: chart.x, value: byDay ? "{YYYY}-{MM}-{DD}" : function (u, i) { return i == null ? "" : chart.labels[i]; } }],
      axes: [
        byDay ? {} : { values: function (u, splits) { return splits.map(function (i) { return chart.labels[i] || ""; }); }, space: 40 },
        { values: function (u, splits) { var f = format(chart.unit); return splits.map(function (v) { return f(u, v); }); }, size: 80 }
      ]
    };
    if (!byDay) {
      opts.scales.x = { time: false, range: function () { return [-0.5, chart.labels.length - 0.5]; } };
      opts.axes[0].splits = function () { return chart.labels.map(function (_, i) { return i; }); };
    }
    var count = chart.series.length;
    chart.series.forEach(function (s, i) {
      var colour = COLOURS[i % COLOURS.length];
      var one = { label: s.name, stroke: colour, width: 2, value: format(chart.unit) };
      if (bars && uPlot.paths && uPlot.paths.bars) {
        var size = chart.kind === "stacked" ? 0.7 : 0.8 / count;
        var align = chart.kind === "stacked" ? 0 : 1;
        one.paths = uPlot.paths.bars({ size: [size, 60], align: align, gap: 1 });
        one.fill = colour + "cc";
        one.width = 1;
        one.points = { show: false };
        if (chart.kind !== "stacked" && count > 1) {
          // side by side: shift each series' bars by its share of the slot
          var shift = (i - (count - 1) / 2) * (0.8 / count);
          one.paths = barsShifted(shift, size);
        }
      }
      opts.series.push(one);
    });
    return opts;
  }

  function barsShifted(shift, size) {
    return function (u, seriesIdx, idx0, idx1) {
      var xs = u.data[0], ys = u.data[seriesIdx];
      var path = new Path2D();
      var width = Math.abs(u.valToPos(1, "x", true) - u.valToPos(0, "x", true)) * size;
      if (!isFinite(width) || width <= 0) width = 10;
      var zero = u.valToPos(0, "y", true);
      for (var i = idx0; i <= idx1; i++) {
        if (ys[i] == null) continue;
        var cx = u.valToPos(xs[i] + shift, "x", true);
        var top = u.valToPos(ys[i], "y", true);
        path.rect(cx - width / 2, Math.min(top, zero), width, Math.abs(zero - top));
      }
      return { stroke: path, fill: path };
    };
  }

  function data(chart) {
    var xs = chart.x === "day" ? days(chart.labels) : chart.labels.map(function (_, i) { return i; });
    var rows = chart.series.map(function (s) { return s.values.slice(); });
    if (chart.kind === "stacked") {
      // every series but the last ("past SLA", drawn as bars from zero) stacks on the ones before
      var stacked = rows.length > 1 ? rows.length - 1 : rows.length;
      for (var k = 1; k < stacked; k++) {
        for (var j = 0; j < rows[k].length; j++) rows[k][j] = (rows[k][j] || 0) + (rows[k - 1][j] || 0);
      }
      // drawn last-first so the tallest (the total) is behind
    }
    return [xs].concat(rows);
  }

  function draw(el) {
    if (!el.dataset.series || typeof uPlot === "undefined") return;
    var chart = JSON.parse(el.dataset.series);
    var width = Math.max(320, Math.min(980, el.clientWidth || 900));
    var opts = options(chart, width);
    var rows = data(chart);
    if (chart.kind === "stacked" && rows.length > 2) {
      // draw the cumulative series largest first, so each smaller one shows in front
      var n = chart.series.length - 1;
      var order = [];
      for (var i = n; i >= 1; i--) order.push(i);
      order.push(n + 1);
      opts.series = [opts.series[0]].concat(order.map(function (i) { return opts.series[i]; }));
      rows = [rows[0]].concat(order.map(function (i) { return rows[i]; }));
    }
    el.textContent = "";
    var plot = new uPlot(opts, rows, el);
    el.dataset.drawn = "true";
    el.uplot = plot;
  }

  function start() {
    document.querySelectorAll("[data-chart]").forEach(draw);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

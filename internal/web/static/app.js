// shp web UI: draws the charts of a page with uPlot from their data-spec
// (JSON the server wrote), again after htmx swaps content in. No inline
// script: the Content-Security-Policy allows only this file and the
// vendored libraries.
(function () {
  "use strict";

  // Colours for the series, and dashes so that colour is not the only
  // way to tell them apart.
  var palette = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#0a7c86", "#bf3989", "#57606a",
    "#fb8500", "#2da44e", "#6639ba", "#0969da"];
  var dashes = [[], [6, 3], [2, 3], [8, 3, 2, 3]];

  function unitFormat(unit) {
    return function (u, splits) {
      return splits.map(function (v) {
        if (v == null) { return ""; }
        var s = Math.abs(v) >= 1000 ? v.toLocaleString() : String(+v.toPrecision(4));
        return unit === "s" ? s + " s" : s;
      });
    };
  }

  function draw(el) {
    var spec;
    try {
      spec = JSON.parse(el.getAttribute("data-spec"));
    } catch (e) {
      el.textContent = "This chart's data cannot be read.";
      return;
    }
    var data = [spec.x];
    var series = [{}];
    spec.series.forEach(function (s, i) {
      data.push(s.values);
      var colour = palette[i % palette.length];
      var line = {
        label: s.label,
        stroke: colour,
        width: 2,
        dash: dashes[Math.floor(i / 3) % dashes.length],
        spanGaps: true,
        points: { show: true, size: 6, fill: colour }
      };
      if (spec.kind === "bars") {
        line.paths = uPlot.paths.stepped({ align: 1 });
        line.fill = colour + "22";
      }
      series.push(line);
    });
    var width = Math.max(el.clientWidth || 0, 320);
    var opts = {
      width: width,
      height: 240,
      series: series,
      // One point in time (or points within a minute): 12 hours either
      // side of it. uPlot pads a lone x to [x, x + 86400 / ms] before it
      // calls range (with ms 1e-3, about 2.7 years), so the span it passes
      // says nothing: the spec's own times do.
      scales: {
        x: {
          time: true,
          range: function (u, min, max) {
            var xs = spec.x;
            if (xs.length > 0 && xs[xs.length - 1] - xs[0] < 60) {
              var mid = (xs[0] + xs[xs.length - 1]) / 2;
              return [mid - 43200, mid + 43200];
            }
            return [min, max];
          }
        },
        y: spec.unit === "score" ? { range: [0, 100] } : {}
      },
      axes: [{}, { label: spec.unit, values: unitFormat(spec.unit), size: 70 }],
      legend: { show: true, live: true },
      cursor: { focus: { prox: 16 } }
    };
    el.textContent = "";
    var plot = new uPlot(opts, data, el);
    el.setAttribute("data-drawn", "true");
    plots.push({ el: el, plot: plot });
  }

  var plots = [];

  function drawAll(root) {
    if (typeof uPlot === "undefined") {
      return;
    }
    root.querySelectorAll(".plot[data-spec]").forEach(function (el) {
      if (el.getAttribute("data-drawn") !== "true") {
        draw(el);
      }
    });
  }

  var resizing = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () {
      plots.forEach(function (p) {
        if (document.body.contains(p.el)) {
          p.plot.setSize({ width: Math.max(p.el.clientWidth, 320), height: 240 });
        }
      });
    }, 150);
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  } else {
    drawAll(document);
  }
  document.addEventListener("htmx:afterSettle", function (e) { drawAll(e.target); });
})();

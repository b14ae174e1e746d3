// A tiny SVG line chart (no library): series of [value|null, ts] points as /render returns them.
(function () {
  "use strict";
  const K = globalThis.K = globalThis.K || {};

  const PALETTE = ["#2457c5", "#c26a00", "#1e8a3c", "#c8202f", "#7a3fb0", "#0f8a8a"];

  /** Scales [min,max] into [0,len] (top-down when `flip`). Pure, for the chart and its labels. */
  K.scale = function (min, max, len, flip) {
    const span = max - min || 1;
    return function (v) {
      const x = (v - min) / span * len;
      return flip ? len - x : x;
    };
  };

  /** Renders series [{target, datapoints}] into an <svg> element. */
  K.chart = function (series, opts) {
    const W = 800, H = 300, L = 60, B = 24, T = 10, R = 10;
    const ns = "http://www.w3.org/2000/svg";
    function s(tag, attrs, text) {
      const el = document.createElementNS(ns, tag);
      Object.keys(attrs || {}).forEach(function (k) {
        el.setAttribute(k, attrs[k]);
      });
      if (text !== undefined) el.textContent = text;
      return el;
    }
    const svg = s("svg", {
      viewBox: "0 0 " + W + " " + H,
      role: "img",
      "aria-label": (opts && opts.label) || "chart",
    });
    const pts = [];
    series.forEach(function (se) {
      se.datapoints.forEach(function (p) {
        if (p[0] !== null) pts.push(p);
      });
    });
    if (!pts.length) {
      svg.appendChild(s("text", { x: W / 2 - 60, y: H / 2 }, "no data in this range"));
      return svg;
    }
    let vmin = Math.min.apply(
      null,
      pts.map(function (p) {
        return p[0];
      }),
    );
    let vmax = Math.max.apply(
      null,
      pts.map(function (p) {
        return p[0];
      }),
    );
    const tmin = Math.min.apply(
      null,
      pts.map(function (p) {
        return p[1];
      }),
    );
    const tmax = Math.max.apply(
      null,
      pts.map(function (p) {
        return p[1];
      }),
    );
    if (vmin === vmax) {
      vmin -= 1;
      vmax += 1;
    }
    const x = K.scale(tmin, tmax, W - L - R, false), y = K.scale(vmin, vmax, H - T - B, true);
    svg.appendChild(s("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }));
    svg.appendChild(s("line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }));
    svg.appendChild(s("text", { x: 4, y: T + 10 }, String(+vmax.toPrecision(4))));
    svg.appendChild(s("text", { x: 4, y: H - B }, String(+vmin.toPrecision(4))));
    svg.appendChild(s("text", { x: L, y: H - 6 }, new Date(tmin * 1000).toLocaleTimeString()));
    svg.appendChild(s("text", { x: W - R - 70, y: H - 6 }, new Date(tmax * 1000).toLocaleTimeString()));
    series.forEach(function (se, i) {
      const colour = PALETTE[i % PALETTE.length];
      const pts = se.datapoints;
      let d = "", pen = false;
      pts.forEach(function (p, j) {
        if (p[0] === null) {
          pen = false;
          return;
        }
        const px = (L + x(p[1])).toFixed(1), py = (T + y(p[0])).toFixed(1);
        d += (pen ? "L" : "M") + px + "," + py;
        pen = true;
        // a point with no neighbour draws no line: show it as a dot
        const next = pts[j + 1];
        const prev = pts[j - 1];
        if ((!prev || prev[0] === null) && (!next || next[0] === null)) {
          svg.appendChild(s("circle", { cx: px, cy: py, r: 3, fill: colour }, ""));
        }
      });
      const path = s("path", { d: d, fill: "none", stroke: colour, "stroke-width": 2 });
      path.appendChild(s("title", {}, se.target));
      svg.appendChild(path);
    });
    return svg;
  };
})();

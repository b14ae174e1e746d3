// DOM helpers shared by the pages (classic script: the UI also runs from file:// where ES modules
// are refused). Everything goes through h(), which sets text, never HTML: agent data cannot inject markup.
(function () {
  "use strict";
  const K = globalThis.K = globalThis.K || {};

  /** h("a", {href: "#/x", class: "y", onclick: fn}, "text", child...) */
  K.h = function (tag, attrs) {
    const el = document.createElement(tag);
    const a = attrs || {};
    Object.keys(a).forEach(function (k) {
      const v = a[k];
      if (v === undefined || v === null || v === false) return;
      if (k.slice(0, 2) === "on" && typeof v === "function") el.addEventListener(k.slice(2), v);
      else if (k === "class") el.className = v;
      else if (k === "value") el.value = v;
      else if (v === true) el.setAttribute(k, "");
      else el.setAttribute(k, String(v));
    });
    for (let i = 2; i < arguments.length; i++) K.append(el, arguments[i]);
    return el;
  };

  K.append = function (el, c) {
    if (c === undefined || c === null || c === false) return;
    if (Array.isArray(c)) {
      c.forEach(function (x) {
        K.append(el, x);
      });
    } else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  };

  /** Replaces the children of `el`. */
  K.fill = function (el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    for (let i = 1; i < arguments.length; i++) K.append(el, arguments[i]);
    return el;
  };

  K.STATES = ["ok", "warning", "critical", "unknown"];

  /** Lower-case state name of a check/service object (the agent sends lower case; old data upper). */
  K.stateName = function (o) {
    if (!o) return "unknown";
    if (typeof o.state === "string") return o.state.toLowerCase();
    return K.STATES[o.state_id] || "unknown";
  };

  /** Worst state id of a node's services (0 ok .. 3 unknown; unknown ranks between ok and warning). */
  K.worstService = function (node) {
    const rank = { ok: 0, pending: 1, unknown: 2, warning: 3, critical: 4 };
    let worst = "ok";
    Object.keys(node.services || {}).forEach(function (n) {
      const s = K.stateName(node.services[n]);
      if ((rank[s] || 0) > (rank[worst] || 0)) worst = s;
    });
    return worst;
  };

  /** Colour class of a node (§11): dead red, suspect orange, leave grey, alive = worst service state. */
  K.nodeClass = function (node) {
    if (node.state === "dead" || node.state === "suspect" || node.state === "leave") return node.state;
    return K.worstService(node);
  };

  K.fmtTime = function (epoch) {
    if (!epoch) return "";
    return new Date(epoch * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
  };

  /** A node's `addr:port`, an IPv6 address in brackets (`[fd00::5]:6768`: `fd00::5:6768` is an address). */
  K.hostPort = function (addr, port) {
    const a = String(addr);
    return (a.includes(":") && a[0] !== "[" ? "[" + a + "]" : a) + ":" + port;
  };

  /** A two-column table of the scalar fields of `obj` (objects as JSON). */
  /** A table's head row: `K.thead(["state", "node"])`. */
  K.thead = function (cols) {
    return K.h(
      "thead",
      null,
      K.h(
        "tr",
        null,
        cols.map(function (c) {
          return K.h("th", null, c);
        }),
      ),
    );
  };

  K.kvTable = function (obj, caption) {
    const rows = Object.keys(obj || {}).map(function (k) {
      const v = obj[k];
      const shown = v !== null && typeof v === "object" ? JSON.stringify(v) : String(v);
      return K.h("tr", null, K.h("td", { class: "k" }, k), K.h("td", null, shown));
    });
    return K.h(
      "table",
      null,
      caption ? K.h("caption", { class: "muted" }, caption) : null,
      K.h("tbody", null, rows),
    );
  };
})();

// The API page (/ui/api): every route of the agent from /api/openapi.json, with a filter.
// A file of its own, not an inline script: the UI's Content-Security-Policy runs only scripts from /ui/.
"use strict";
const h = K.h;
let doc = null;
function draw() {
  const f = document.getElementById("filter").value.toLowerCase();
  const rows = [];
  Object.keys(doc.paths).sort().forEach(function (p) {
    Object.keys(doc.paths[p]).forEach(function (m) {
      const op = doc.paths[p][m];
      const line = [m, p, op["x-kunai-access"], op.tags[0], op.summary].join(" ").toLowerCase();
      if (line.indexOf(f) < 0) return;
      rows.push(
        h(
          "tr",
          null,
          h("td", { class: "k" }, m.toUpperCase()),
          h("td", { class: "k" }, p),
          h("td", { class: op["x-kunai-access"] === "read" ? "t-ok" : "t-warning" }, op["x-kunai-access"]),
          h("td", null, op.tags[0]),
          h("td", null, op.summary),
        ),
      );
    });
  });
  K.fill(
    document.getElementById("routes"),
    h(
      "table",
      null,
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          ["method", "path", "access", "owner", "summary"].map(function (c) {
            return h("th", null, c);
          }),
        ),
      ),
      h("tbody", null, rows),
    ),
  );
}
K.api.elect().then(function (base) {
  document.getElementById("raw").href = base + "/api/openapi.json";
  return K.api.json("/api/openapi.json");
}).then(function (d) {
  doc = d;
  draw();
})
  .catch(function (e) {
    K.fill(document.getElementById("routes"), h("p", { class: "error" }, e.message));
  });
document.getElementById("filter").addEventListener("input", function () {
  if (doc) draw();
});

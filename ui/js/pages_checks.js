// The Checks page: every live node's checks (as each node answers them; one that does not: its
// services' checks from gossip), problems first, with the recorded transitions of our checks. {mount(root), update()} like the other pages.
// deno-lint-ignore-file no-this-alias
(function () {
  "use strict";
  const K = globalThis.K = globalThis.K || {};
  K.pages = K.pages || {};
  const h = K.h;

  /** A button that shows the recorded transitions of one of this agent's checks below itself. */
  function historyButton(id) {
    const box = h("div", { class: "history" });
    const btn = h("button", {
      type: "button",
      class: "history-btn",
      "aria-expanded": "false",
      onclick: function () {
        if (btn.getAttribute("aria-expanded") === "true") {
          btn.setAttribute("aria-expanded", "false");
          K.fill(box);
          return;
        }
        btn.setAttribute("aria-expanded", "true");
        K.api.json("/agent/checks-history/" + encodeURIComponent(id)).then(function (list) {
          K.fill(
            box,
            list.length
              ? h(
                "ul",
                null,
                list.map(function (t) {
                  return h(
                    "li",
                    null,
                    K.fmtTime(t.ts),
                    " ",
                    h("span", { class: "t-" + t.state }, t.state),
                    " ",
                    t.output,
                  );
                }),
              )
              : h("p", { class: "muted" }, "No transitions recorded."),
          );
        }).catch(function (e) {
          K.fill(box, h("p", { class: "error" }, e.message));
        });
      },
    }, "history");
    return [btn, box];
  }

  K.pages.checks = {
    mount: function (root) {
      this.list = h("div", { "aria-live": "polite" });
      K.fill(
        root,
        h("h2", null, "Checks"),
        h(
          "p",
          { class: "muted" },
          "Problems first; the checks of every live node (of one that does not answer, its services' checks).",
        ),
        this.list,
      );
      this.update();
    },
    update: function () {
      const self = this;
      K.store.loadChecks().then(function (rows) {
        const rank = { critical: 0, warning: 1, unknown: 2, pending: 3, ok: 4 };
        rows.sort(function (a, b) {
          return (rank[a.state] - rank[b.state]) || a.node.localeCompare(b.node) ||
            a.name.localeCompare(b.name);
        });
        K.fill(
          self.list,
          rows.length
            ? h(
              "table",
              null,
              K.thead(["state", "node", "check", "output"]),
              h(
                "tbody",
                null,
                rows.map(function (r) {
                  return h(
                    "tr",
                    { class: "check-row", "data-state": r.state },
                    h(
                      "td",
                      { class: "t-" + r.state },
                      r.state,
                      r.silenced
                        ? [
                          " ",
                          h(
                            "span",
                            {
                              class: "tag silenced",
                              title: "notifications silenced " +
                                (typeof r.silenced.until === "number" && Math.abs(r.silenced.until) <= 8.64e15
                                  ? "until " + new Date(r.silenced.until).toISOString()
                                  : "until it is OK again") +
                                (r.silenced.reason ? ": " + r.silenced.reason : ""),
                            },
                            "silenced",
                          ),
                        ]
                        : null,
                    ),
                    h("td", null, h("a", { href: "#/node/" + encodeURIComponent(r.node) }, r.node)),
                    h(
                      "td",
                      { class: "k" },
                      r.name,
                      r.node === K.store.selfName ? [" ", historyButton(r.id)] : null,
                    ),
                    h("td", null, r.output ? h("pre", null, r.output) : ""),
                  );
                }),
              ),
            )
            : h("p", { class: "muted" }, "No checks."),
        );
      }).catch(function (e) {
        K.fill(self.list, h("p", { class: "error" }, "cannot load checks: " + e.message));
      });
    },
  };
})();

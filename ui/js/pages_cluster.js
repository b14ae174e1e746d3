// Cluster pages: Nodes, node detail, Services (Checks: pages_checks.js; maintenance controls: maintenance.js).
// Each page is {mount(root, arg), update()}: mount builds the controls once, update redraws the data part (so
// typing in a filter keeps focus).
// deno-lint-ignore-file no-this-alias
(function () {
  "use strict";
  const K = globalThis.K = globalThis.K || {};
  K.pages = K.pages || {};
  const h = K.h;

  /** Does `node` pass the filter text (`t:tag`, `s:service`, else a name substring) and state? */
  K.nodeMatches = function (node, text, state) {
    const words = (text || "").trim().split(/\s+/).filter(Boolean);
    const ok = words.every(function (w) {
      if (w.indexOf("t:") === 0) return (node.tags || []).indexOf(w.slice(2)) >= 0;
      if (w.indexOf("s:") === 0) return Object.prototype.hasOwnProperty.call(node.services || {}, w.slice(2));
      return node.name.toLowerCase().indexOf(w.toLowerCase()) >= 0;
    });
    if (!ok) return false;
    if (!state || state === "any") return true;
    if (state === "passing") return node.state === "alive" && K.worstService(node) === "ok";
    if (state === "failing") return node.state !== "alive" || K.worstService(node) !== "ok";
    return node.state === state;
  };

  function serviceChips(node) {
    return Object.keys(node.services || {}).sort().map(function (n) {
      return h("span", {
        class: "tag svc t-" + K.stateName(node.services[n]),
        title: "service " + n + ": " + K.stateName(node.services[n]),
      }, n);
    });
  }

  K.pages.nodes = {
    view: { text: "", state: "any", expanded: sessionStorage.getItem("kunai-expanded") === "1" },
    mount: function (root) {
      const v = this.view, self = this;
      this.list = h("div", { class: "list", id: "node-list", "aria-live": "polite" });
      const filter = h("input", {
        type: "search",
        id: "node-filter",
        value: v.text,
        placeholder: "name, t:tag or s:service",
        oninput: function (e) {
          v.text = e.target.value;
          self.update();
        },
      });
      const state = h(
        "select",
        {
          id: "node-state",
          onchange: function (e) {
            v.state = e.target.value;
            self.update();
          },
        },
        ["any", "alive", "suspect", "dead", "leave", "passing", "failing"].map(function (s) {
          return h("option", { value: s, selected: v.state === s }, s);
        }),
      );
      const expand = h("input", {
        type: "checkbox",
        id: "node-expand",
        checked: v.expanded,
        onchange: function (e) {
          v.expanded = e.target.checked;
          sessionStorage.setItem("kunai-expanded", v.expanded ? "1" : "0");
          self.update();
        },
      });
      K.fill(
        root,
        h("h2", null, "Nodes"),
        h(
          "div",
          { class: "toolbar" },
          h("label", { for: "node-filter" }, "Filter"),
          filter,
          h("label", { for: "node-state" }, "State"),
          state,
          h("label", null, expand, "Expanded"),
        ),
        this.list,
      );
      this.update();
    },
    update: function () {
      const v = this.view;
      const nodes = K.store.nodeList().filter(function (n) {
        return K.nodeMatches(n, v.text, v.state);
      });
      this.list.className = "list" + (v.expanded ? "" : " compact");
      K.fill(
        this.list,
        nodes.length
          ? nodes.map(function (n) {
            const cls = K.nodeClass(n);
            return h(
              "div",
              { class: "card node s-" + cls, "data-name": n.name, "data-state": n.state },
              h("a", { class: "title", href: "#/node/" + encodeURIComponent(n.name) }, n.name),
              " ",
              h("span", { class: "meta" }, K.hostPort(n.addr, n.port)),
              K.maintenanceBadge(n),
              v.expanded
                ? h(
                  "div",
                  null,
                  h("span", { class: "t-" + n.state }, n.state),
                  " ",
                  (n.tags || []).map(function (t) {
                    return h("span", { class: "tag" }, t);
                  }),
                  " ",
                  serviceChips(n),
                )
                : null,
            );
          })
          : h("p", { class: "muted" }, "No node matches."),
      );
    },
  };

  K.pages.node = {
    mount: function (root, name) {
      this.root = root;
      this.name = decodeURIComponent(name || "");
      this.update();
    },
    update: function () {
      const self = this, name = this.name;
      // not while the maintenance form is being filled in: a redraw would take the focus away
      const focus = document.activeElement;
      if (focus && focus.closest && focus.closest("#maint-controls") && focus.tagName !== "BUTTON") return;
      const n = K.store.nodeList().filter(function (x) {
        return x.name === name;
      })[0];
      // a node gone (reaped) still has its history
      const links = h(
        "p",
        null,
        h("a", { href: "#/nodes" }, "← Nodes"),
        " · ",
        h(
          "a",
          { href: "#/history/" + encodeURIComponent(name), class: "node-history" },
          "membership history",
        ),
      );
      if (!n) {
        K.fill(
          this.root,
          links,
          h("h2", null, name),
          h("p", { class: "error" }, "This node is not known to the agent."),
        );
        return;
      }
      const head = [
        links,
        h("h2", null, n.name, " ", h("span", { class: "t-" + n.state }, n.state), K.maintenanceBadge(n)),
        K.kvTable({
          uuid: n.uuid,
          address: K.hostPort(n.addr, n.port),
          zone: n.zone || "(no zone)",
          incarnation: n.incarnation,
          tags: (n.tags || []).join(", "),
        }),
        name === K.store.selfName ? K.maintenanceControls(n) : null,
      ];
      // what arrives later fills `body` only: refilling the root would take the form out of the page and
      // back, and with it the focus of someone typing in it
      const body = h("div", { class: "node-body" }, h("p", { class: "muted" }, "loading checks…"));
      K.fill(this.root, head, body);
      Promise.all([
        K.api.json("/agent/state/" + encodeURIComponent(name)),
        name === K.store.selfName
          ? K.api.json("/collectors").catch(function () {
            return null;
          })
          : null,
      ]).then(function (r) {
        if (self.name !== name) return;
        const st = r[0], cols = r[1];
        const svc = Object.keys(st.services || {}).sort().map(function (s) {
          const o = st.services[s];
          return h(
            "tr",
            null,
            h("td", { class: "k" }, s),
            h("td", { class: "t-" + K.stateName(o) }, K.stateName(o)),
            h("td", null, o.port === null || o.port === undefined ? "" : String(o.port)),
          );
        });
        const chk = Object.keys(st.checks || {}).sort().map(function (id) {
          const c = st.checks[id];
          return h(
            "div",
            { class: "card s-" + K.stateName(c) },
            h("strong", null, c.name || id),
            " ",
            h("span", { class: "t-" + K.stateName(c) }, K.stateName(c)),
            c.notes ? h("div", { class: "muted" }, c.notes) : null,
            c.output ? h("pre", null, c.output) : null,
          );
        });
        K.fill(
          body,
          h("h3", null, "Services"),
          svc.length
            ? h(
              "table",
              null,
              K.thead(["service", "state", "port"]),
              h("tbody", null, svc),
            )
            : h("p", { class: "muted" }, "No services."),
          h("h3", null, "Checks"),
          chk.length ? h("div", { class: "list" }, chk) : h("p", { class: "muted" }, "No checks."),
          cols
            ? [
              h("h3", null, "Collectors"),
              h(
                "table",
                null,
                h(
                  "tbody",
                  null,
                  Object.keys(cols).sort().map(function (c) {
                    return h(
                      "tr",
                      null,
                      h("td", { class: "k" }, c),
                      h(
                        "td",
                        { class: cols[c].active ? "t-ok" : "muted" },
                        cols[c].active ? "active" : "inactive",
                      ),
                      h("td", null, K.fmtTime(cols[c].last_check)),
                    );
                  }),
                ),
              ),
            ]
            : h("p", { class: "muted" }, "Collectors are shown for the agent this UI is connected to."),
        );
      }).catch(function (e) {
        K.fill(body, h("p", { class: "error" }, "cannot load the state: " + e.message));
      });
    },
  };

  K.pages.services = {
    mount: function (root) {
      const self = this;
      this.list = h("div", { class: "list", "aria-live": "polite" });
      this.text = "";
      K.fill(
        root,
        h("h2", null, "Services"),
        h(
          "div",
          { class: "toolbar" },
          h("label", { for: "svc-filter" }, "Filter"),
          h("input", {
            type: "search",
            id: "svc-filter",
            oninput: function (e) {
              self.text = e.target.value;
              self.draw();
            },
          }),
          h("button", {
            type: "button",
            onclick: function () {
              self.update();
            },
          }, "Refresh"),
        ),
        this.list,
      );
      this.update();
    },
    update: function () {
      const self = this;
      K.store.loadServices().then(function () {
        self.draw();
      }).catch(function (e) {
        K.fill(self.list, h("p", { class: "error" }, "cannot load services: " + e.message));
      });
    },
    draw: function () {
      const all = K.store.services, text = this.text.toLowerCase();
      const names = Object.keys(all).sort().filter(function (n) {
        return n.toLowerCase().indexOf(text) >= 0;
      });
      K.fill(
        this.list,
        names.length
          ? names.map(function (n) {
            const s = all[n], failing = s["failing-members"] || [], members = s.members || [];
            const cls = !members.length ? "unknown" : failing.length ? "critical" : "ok";
            return h(
              "div",
              { class: "card s-" + cls },
              h("strong", null, n),
              " ",
              members.length
                ? [
                  h("span", { class: "t-ok" }, (s.passing || 0) + " passing"),
                  " ",
                  failing.length ? h("span", { class: "t-critical" }, failing.length + " failing") : null,
                ]
                : h("span", { class: "t-nonodes" }, "no nodes"),
              h(
                "div",
                null,
                members.map(function (m) {
                  return h("a", {
                    class: "tag " + (failing.indexOf(m) >= 0 ? "t-critical" : "t-ok"),
                    href: "#/node/" + encodeURIComponent(m),
                  }, m);
                }),
              ),
            );
          })
          : h("p", { class: "muted" }, "No services."),
      );
    },
  };
})();

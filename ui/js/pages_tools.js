// Tool pages: KV browser, Metrics (only when the agent answers /metrics/find), Agent, Links.
// deno-lint-ignore-file no-this-alias
(function () {
  "use strict";
  const K = globalThis.K = globalThis.K || {};
  K.pages = K.pages || {};
  const h = K.h;

  function b64decode(s) {
    const bin = atob(s), bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new TextDecoder().decode(bytes);
  }
  function kvPath(key) {
    return "/kv/" + encodeURIComponent(key);
  }

  /**
   * What the KV page says when the agent keeps its keys to itself (no member of its cluster is
   * tagged kv, others are alive: `kv.isolated_from` of /agent/info), or when the store is
   * unavailable (every node tagged kv is down: `kv.unavailable`), or null.
   */
  K.kvScopeNotice = function (info) {
    const down = info && info.kv && info.kv.unavailable;
    if (typeof down === "string" && down) return down.charAt(0).toUpperCase() + down.slice(1) + ".";
    const n = info && info.kv && info.kv.isolated_from;
    if (!(typeof n === "number" && n > 0)) return null;
    return "No live member of the cluster is tagged kv: the keys here are this agent's own, and the " + n +
      " other member(s) keep theirs. Tag at least 3 nodes kv to replicate the store.";
  };

  K.pages.kv = {
    prefix: "",
    mount: function (root) {
      const self = this;
      this.keys = h("ul", { id: "kv-keys", "aria-label": "keys" });
      this.detail = h("div", { id: "kv-detail" });
      this.msg = h("p", { id: "kv-msg", role: "status", "aria-live": "polite" });
      this.token = h("input", {
        type: "password",
        id: "kv-token",
        value: K.api.token,
        autocomplete: "off",
        onchange: function (e) {
          K.api.setToken(e.target.value.trim());
        },
      });
      K.fill(
        root,
        h("h2", null, "Key/value store"),
        h(
          "div",
          { class: "toolbar" },
          h("label", { for: "kv-prefix" }, "Prefix"),
          h("input", {
            type: "search",
            id: "kv-prefix",
            value: this.prefix,
            oninput: function (e) {
              self.prefix = e.target.value;
              self.update();
            },
          }),
          h("button", {
            type: "button",
            id: "kv-new",
            onclick: function () {
              self.edit(null);
            },
          }, "New key"),
          h("label", { for: "kv-token" }, "API token (for writes)"),
          this.token,
        ),
        this.msg,
        h("div", { class: "kv" }, this.keys, this.detail),
      );
      K.api.json("/agent/info").then(function (info) {
        const notice = K.kvScopeNotice(info);
        if (notice) root.insertBefore(h("p", { id: "kv-scope", class: "t-warning" }, notice), self.msg);
      }).catch(function () {/* an older agent, or none: the page works without the notice */});
      this.update();
    },
    say: function (text, isError) {
      this.msg.className = isError ? "error" : "muted";
      K.fill(this.msg, text);
    },
    update: function () {
      const self = this;
      K.api.json("/kv/?prefix=" + encodeURIComponent(this.prefix)).then(function (keys) {
        K.fill(
          self.keys,
          keys.length
            ? keys.map(function (k) {
              return h(
                "li",
                null,
                h("button", {
                  type: "button",
                  "data-key": k,
                  onclick: function () {
                    self.show(k);
                  },
                }, k),
              );
            })
            : h("li", { class: "muted" }, "No keys under this prefix."),
        );
      }).catch(function (e) {
        self.say("cannot list keys: " + e.message, true);
      });
      if (this.current) this.show(this.current, true);
    },
    show: function (key, quiet) {
      const self = this;
      this.current = key;
      K.api.json(kvPath(key) + "?meta").then(function (m) {
        self.edit(m);
      }).catch(function (e) {
        if (e.status === 404) {
          self.current = null;
          K.fill(self.detail, h("p", { class: "muted" }, key + " was deleted."));
        } else if (!quiet) self.say("cannot read " + key + ": " + e.message, true);
      });
    },
    /** Editor for an entry (null: a new key). */
    edit: function (m) {
      const self = this;
      const keyIn = h("input", { id: "kv-key", value: m ? m.key : "", readonly: !!m, required: true });
      const val = h("textarea", { id: "kv-value" }, m && m.value !== null ? b64decode(m.value) : "");
      const confirmBox = h("span");
      function fail(e) {
        if (e.status === 401 || e.status === 403) {
          self.say("This write needs the agent's API token (http.token): " + e.message, true);
          self.token.focus();
        } else self.say(e.message, true);
      }
      const del = m
        ? h("button", {
          type: "button",
          id: "kv-delete",
          onclick: function () {
            K.fill(
              confirmBox,
              " Delete " + m.key + "? ",
              h("button", {
                type: "button",
                id: "kv-delete-yes",
                onclick: function () {
                  K.api.request("DELETE", kvPath(m.key)).then(function () {
                    self.say("deleted " + m.key);
                    self.current = null;
                    K.fill(self.detail);
                    self.update();
                  }).catch(fail);
                },
              }, "Yes, delete"),
            );
          },
        }, "Delete")
        : null;
      K.fill(
        this.detail,
        h(
          "form",
          {
            onsubmit: function (e) {
              e.preventDefault();
              const key = keyIn.value.trim();
              if (!key) {
                self.say("a key is needed", true);
                return;
              }
              K.api.request("PUT", kvPath(key), val.value).then(function () {
                self.say("saved " + key);
                self.current = key;
                self.update();
              }).catch(fail);
            },
          },
          h("p", null, h("label", { for: "kv-key" }, "Key "), keyIn),
          m
            ? h(
              "p",
              { class: "muted" },
              "index " + m.modify_index + ", modified " + K.fmtTime(m.modify_time) +
                (m.flags ? ", flags " + m.flags : ""),
            )
            : null,
          h("label", { for: "kv-value" }, "Value"),
          val,
          h("p", null, h("button", { type: "submit", id: "kv-save" }, "Save"), " ", del, confirmBox),
        ),
      );
    },
  };

  K.pages.metrics = {
    targets: [],
    range: "-1h",
    mount: function (root) {
      const self = this;
      this.tree = h("div", { class: "tree", id: "metric-tree" });
      this.chartBox = h("div", { class: "chart", id: "metric-chart" });
      K.fill(
        root,
        h("h2", null, "Metrics"),
        h(
          "div",
          { class: "toolbar" },
          h("label", { for: "metric-range" }, "Range"),
          h(
            "select",
            {
              id: "metric-range",
              onchange: function (e) {
                self.range = e.target.value;
                self.draw();
              },
            },
            [["-1h", "last hour"], ["-6h", "6 hours"], ["-24h", "24 hours"], ["-168h", "7 days"]].map(
              function (r) {
                return h("option", { value: r[0], selected: self.range === r[0] }, r[1]);
              },
            ),
          ),
        ),
        h("div", { class: "metrics" }, this.tree, this.chartBox),
      );
      this.branch("*", this.tree);
      this.draw();
    },
    update: function () {/* metrics are not on the feed; the range picker redraws */},
    branch: function (query, into) {
      const self = this;
      K.api.json("/metrics/find?query=" + encodeURIComponent(query)).then(function (items) {
        K.fill(
          into,
          h(
            "ul",
            null,
            items.map(function (it) {
              const sub = h("div");
              return h(
                "li",
                null,
                h("button", {
                  type: "button",
                  "data-id": it.id,
                  "aria-expanded": it.leaf ? null : "false",
                  "aria-pressed": it.leaf ? String(self.targets.indexOf(it.id) >= 0) : null,
                  onclick: function (e) {
                    if (it.leaf) {
                      self.toggle(it.id);
                      e.target.setAttribute("aria-pressed", String(self.targets.indexOf(it.id) >= 0));
                      return;
                    }
                    const open = e.target.getAttribute("aria-expanded") === "true";
                    e.target.setAttribute("aria-expanded", open ? "false" : "true");
                    if (open) K.fill(sub);
                    else self.branch(it.id + ".*", sub);
                  },
                }, (it.leaf ? "• " : "▸ ") + it.text),
                sub,
              );
            }),
          ),
        );
      }).catch(function (e) {
        K.fill(into, h("p", { class: "error" }, e.message));
      });
    },
    toggle: function (id) {
      const i = this.targets.indexOf(id);
      if (i >= 0) this.targets.splice(i, 1);
      else this.targets.push(id);
      this.draw();
    },
    draw: function () {
      const self = this;
      if (!this.targets.length) {
        K.fill(this.chartBox, h("p", { class: "muted" }, "Pick a metric in the tree."));
        return;
      }
      const q = this.targets.map(function (t) {
        return "target=" + encodeURIComponent(t);
      }).join("&");
      K.api.json("/render?" + q + "&from=" + encodeURIComponent(this.range)).then(function (series) {
        K.fill(
          self.chartBox,
          K.chart(series, { label: self.targets.join(", ") }),
          h("p", { class: "muted" }, self.targets.join(", ")),
        );
      }).catch(function (e) {
        K.fill(self.chartBox, h("p", { class: "error" }, e.message));
      });
    },
  };

  K.pages.agent = {
    mount: function (root) {
      this.root = root;
      this.update();
    },
    update: function () {
      const self = this;
      K.api.json("/agent/info").then(function (info) {
        const general = {}, sections = [];
        Object.keys(info).forEach(function (k) {
          const v = info[k];
          if (k === "logs") return;
          if (v !== null && typeof v === "object" && !Array.isArray(v)) sections.push(k);
          else general[k] = Array.isArray(v) ? v.join(", ") : v;
        });
        const logs = info.logs || {};
        K.fill(
          self.root,
          h("h2", null, "Agent " + info.name),
          K.kvTable(general),
          sections.sort().map(function (k) {
            return [h("h3", null, k), K.kvTable(info[k])];
          }),
          h("h3", null, "Logs"),
          ["ERROR", "WARNING"].map(function (lvl) {
            const lines = logs[lvl] || [];
            return [
              h(
                "h4",
                { class: lvl === "ERROR" ? "t-critical" : "t-warning" },
                lvl + " (" + lines.length + ")",
              ),
              lines.length ? h("pre", null, lines.join("\n")) : h("p", { class: "muted" }, "none"),
            ];
          }),
        );
      }).catch(function (e) {
        K.fill(self.root, h("p", { class: "error" }, "cannot load /agent/info: " + e.message));
      });
    },
  };

  K.pages.links = {
    mount: function (root) {
      this.root = root;
      this.update();
    },
    update: function () {
      K.fill(
        this.root,
        h("h2", null, "Links"),
        h("p", { class: "muted" }, "Agents listed in config.js; the first that answers is used."),
        h(
          "ul",
          null,
          K.api.servers.map(function (s) {
            return h(
              "li",
              null,
              h("span", { class: "k" }, s.base || location.origin),
              " ",
              h(
                "span",
                { class: s.state === "ok" ? "t-ok" : s.state === "error" ? "t-critical" : "muted" },
                s.state,
              ),
              s.base === K.api.base ? " (elected)" : "",
            );
          }),
        ),
        h("button", {
          type: "button",
          onclick: function () {
            K.app.boot();
          },
        }, "Recheck and re-elect servers"),
      );
    },
  };
})();

// The app: data store fed by the API and the websocket, hash router, boot.
(function () {
  "use strict";
  const K = globalThis.K = globalThis.K || {};

  K.store = {
    members: {},
    services: {},
    /** Cluster events, oldest first: the agent's log merged with what the feed brought since. */
    events: [],
    selfName: "",
    nodeList: function () {
      const m = K.store.members;
      return Object.keys(m).map(function (k) {
        return m[k];
      }).sort(function (a, b) {
        return a.name.localeCompare(b.name);
      });
    },
    loadMembers: function () {
      return K.api.json("/agent/members").then(function (m) {
        K.store.members = m;
        K.app.badges();
      });
    },
    loadServices: function () {
      return K.api.json("/state/services").then(function (s) {
        K.store.services = s;
        K.app.badges();
      });
    },
    loadEvents: function () {
      return K.api.json("/agent/events").then(function (list) {
        if (!Array.isArray(list)) throw new Error("the agent answered something other than a list");
        K.store.events = K.mergeEvents(list, K.store.events);
      });
    },
    /**
     * Rows {node, name, state, output, silenced}: every live node's checks as /agent/state/<node> gives
     * them (the node's own answer, else its services' checks from gossip; silenced: `kunai checks
     * silence` on that node, or null).
     */
    loadChecks: function () {
      const nodes = K.store.nodeList().filter(function (n) {
        return n.state === "alive";
      });
      return Promise.all(nodes.map(function (n) {
        return K.api.json("/agent/state/" + encodeURIComponent(n.name)).then(function (st) {
          return Object.keys(st.checks || {}).map(function (id) {
            const c = st.checks[id];
            return {
              node: n.name,
              id: id,
              name: c.name || id,
              state: K.stateName(c),
              output: c.output || "",
              silenced: c.silenced && typeof c.silenced === "object" ? c.silenced : null,
            };
          });
        }).catch(function () {
          return [];
        });
      })).then(function (lists) {
        const rows = [].concat.apply([], lists);
        const bad = rows.filter(function (r) {
          return r.state !== "ok";
        }).length;
        K.fill(document.getElementById("badge-checks"), bad ? String(bad) : "");
        return rows;
      });
    },
  };

  K.app = {
    page: null,
    pageName: "",
    badges: function () {
      K.fill(document.getElementById("badge-nodes"), String(Object.keys(K.store.members).length));
      K.fill(document.getElementById("badge-services"), String(Object.keys(K.store.services).length));
    },
    route: function () {
      if (K.app.pending) clearTimeout(K.app.pending);
      K.app.pending = 0;
      const parts = (location.hash || "#/nodes").slice(2).split("/");
      let name = parts[0] || "nodes";
      const arg = parts.slice(1).join("/");
      if (!K.pages[name]) name = "nodes";
      const navName = name === "node" ? "nodes" : name;
      document.querySelectorAll(".side a[data-page]").forEach(function (a) {
        if (a.getAttribute("data-page") === navName) a.setAttribute("aria-current", "page");
        else a.removeAttribute("aria-current");
      });
      K.app.pageName = name;
      K.app.page = K.pages[name];
      const main = document.getElementById("main");
      K.app.page.mount(main, arg);
    },
    /** Redraws the current page when the feed says its data changed (coalesced per animation frame). */
    refresh: function (what) {
      const p = K.app.pageName;
      const wants = {
        gossip: ["nodes", "node", "services", "checks", "history"],
        check: ["node", "checks", "services"],
        kv: ["kv"],
      };
      if ((wants[what] || []).indexOf(p) < 0) return;
      if (K.app.pending) return;
      // pages that fetch per node (checks, services, node) redraw at most every 2 s; the node list at once
      const gap = p === "nodes" ? 0 : 2000;
      const wait = Math.max(0, K.app.lastUpdate + gap - Date.now());
      K.app.pending = setTimeout(function () {
        requestAnimationFrame(function () {
          K.app.pending = 0;
          K.app.lastUpdate = Date.now();
          if (K.app.pageName === p) K.app.page.update();
        });
      }, wait);
    },
    lastUpdate: 0,
    boot: function () {
      K.feed.setState("connecting");
      K.api.elect().then(function (base) {
        K.fill(document.getElementById("server"), base || location.host);
        document.getElementById("api-link").href = base ? base + "/ui/api" : "api.html";
        return Promise.all([
          K.api.request("GET", "/agent/name").then(function (r) {
            return r.text();
          }).then(function (n) {
            K.store.selfName = n.trim();
          }),
          K.store.loadMembers(),
          K.store.loadServices().catch(function () {/* shown on the Services page */}),
          K.api.request("GET", "/metrics/find?query=*").then(function () {
            document.getElementById("nav-metrics").hidden = false;
          }).catch(function () {
            document.getElementById("nav-metrics").hidden = true;
          }),
        ]);
      }).then(function () {
        K.app.route();
        if (!K.feed.socket) K.feed.connect();
      }).catch(function (e) {
        K.feed.setState("offline");
        K.fill(
          document.getElementById("main"),
          K.h("p", { class: "error" }, "No agent answered: " + e.message),
          K.h("p", null, "Edit config.js to list your agents (host:port), then reload."),
        );
        K.app.route = function () {};
      });
    },
  };

  K.feed.on(function (channel, payload) {
    if (channel === "open") {
      // events may have been missed while disconnected: reload the table once
      K.store.loadMembers().then(function () {
        K.app.refresh("gossip");
      });
      if (K.app.pageName === "events") K.app.page.update();
    } else if (channel === "gossip" && payload && payload.uuid) {
      K.store.members[payload.uuid] = payload;
      K.app.badges();
      K.app.refresh("gossip");
    } else if (channel === "check") {
      K.app.refresh("check");
    } else if (channel === "kv") {
      K.app.refresh("kv");
    } else if (channel === "event" && payload && typeof payload.id === "string") {
      K.store.events = K.mergeEvents(K.store.events, [payload]);
      if (K.app.pageName === "events") K.app.page.live();
    }
  });

  (function theme() {
    const saved = localStorage.getItem("kunai-theme");
    if (saved) document.documentElement.setAttribute("data-theme", saved);
    document.getElementById("theme").addEventListener("click", function () {
      const cur = document.documentElement.getAttribute("data-theme") ||
        (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
      const next = cur === "dark" ? "light" : "dark";
      document.documentElement.setAttribute("data-theme", next);
      localStorage.setItem("kunai-theme", next);
    });
  })();

  globalThis.addEventListener("hashchange", function () {
    K.app.route();
    document.getElementById("main").focus();
  });
  K.app.boot();
})();

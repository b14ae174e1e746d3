// Cluster pages over time: Events (the agent's log of cluster events, newest first, live from the feed's
// `event` channel) and History (membership changes kept in gossip.db, all nodes or one node's).
// {mount(root, arg), update()} like the other pages. Payloads and names come from the network: they are
// inserted as text by K.h, never as HTML.
// deno-lint-ignore-file no-this-alias
(function () {
  "use strict";
  const K = globalThis.K = globalThis.K || {};
  K.pages = K.pages || {};
  const h = K.h;

  /** Events the agent keeps (lib/gossip/events.ts LOG_SIZE): the page keeps no more. */
  K.EVENTS_KEPT = 512;

  /** Does event `e` pass the name filter (case-insensitive substring; empty: every event)? */
  K.eventMatches = function (e, text) {
    const t = (text || "").trim().toLowerCase();
    return !t || String(e.name).toLowerCase().indexOf(t) >= 0;
  };

  /**
   * `known` and `more` merged by id (an event fetched and also received live is kept once), oldest first
   * by arrival at the agent, the newest `K.EVENTS_KEPT` only.
   */
  K.mergeEvents = function (known, more) {
    const seen = {};
    const all = [];
    known.concat(more).forEach(function (e) {
      if (!e || typeof e.id !== "string" || seen[e.id]) return;
      seen[e.id] = true;
      all.push(e);
    });
    // a stable sort: events received in the same millisecond keep the agent's order
    all.sort(function (a, b) {
      return (a.received || 0) - (b.received || 0);
    });
    return all.slice(-K.EVENTS_KEPT);
  };

  /** Does history row `r` pass the node filter (substring of its name or uuid) and the change? */
  K.historyMatches = function (r, text, change) {
    const t = (text || "").trim().toLowerCase();
    if (t && String(r.name).toLowerCase().indexOf(t) < 0 && String(r.uuid).toLowerCase().indexOf(t) < 0) {
      return false;
    }
    return !change || change === "any" || r.change === change;
  };

  /** "cannot load X: why", and what a 404 most likely means. */
  function loadError(what, route, e) {
    return h(
      "p",
      { class: "error", role: "alert" },
      "cannot load " + what + ": " + e.message,
      e.status === 404 || e.status === 405
        ? " (this agent does not serve " + route + ": it is older than this page)"
        : null,
    );
  }

  /** Epoch ms as "YYYY-MM-DD HH:MM:SS.mmmZ" (events come in bursts: the seconds alone do not order them). */
  function fmtMs(ms) {
    // a time from another agent may be any finite number: toISOString() throws outside ±8.64e15 ms
    if (typeof ms !== "number" || !(Math.abs(ms) <= 8.64e15)) return "";
    return new Date(ms).toISOString().replace("T", " ");
  }

  K.pages.events = {
    text: "",
    pending: 0,
    mount: function (root) {
      const self = this;
      this.msg = h("div", { id: "events-msg", role: "status", "aria-live": "polite" });
      this.list = h("div", { id: "event-list" });
      K.fill(
        root,
        h("h2", null, "Events"),
        h(
          "p",
          { class: "muted" },
          "Cluster events (kunai event send NAME PAYLOAD), newest first: the last " + K.EVENTS_KEPT +
            " this agent logged, and new ones as they arrive.",
        ),
        h(
          "div",
          { class: "toolbar" },
          h("label", { for: "event-filter" }, "Name"),
          h("input", {
            type: "search",
            id: "event-filter",
            value: this.text,
            placeholder: "event name",
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
        this.msg,
        this.list,
      );
      this.draw();
      this.update();
    },
    /** Fetches the agent's log and merges it with what the feed brought. */
    update: function () {
      const self = this;
      K.store.loadEvents().then(function () {
        K.fill(self.msg);
        self.draw();
      }).catch(function (e) {
        K.fill(self.msg, loadError("cluster events", "GET /agent/events", e));
        self.draw();
      });
    },
    /** Redraws once per animation frame however many events arrive. */
    live: function () {
      const self = this;
      if (this.pending) return;
      this.pending = requestAnimationFrame(function () {
        self.pending = 0;
        if (K.app.page === self) self.draw();
      });
    },
    draw: function () {
      const text = this.text;
      const all = K.store.events;
      const rows = all.filter(function (e) {
        return K.eventMatches(e, text);
      }).reverse();
      K.fill(
        this.list,
        h(
          "p",
          { class: "muted", id: "event-count" },
          rows.length === all.length
            ? all.length + " event" + (all.length === 1 ? "" : "s")
            : rows.length + " of " + all.length + " events",
        ),
        rows.length
          ? h(
            "table",
            { id: "events" },
            K.thead(["sent", "name", "from", "payload"]),
            h(
              "tbody",
              null,
              rows.map(function (e) {
                return h(
                  "tr",
                  { class: "event-row", "data-id": e.id, "data-name": e.name },
                  h(
                    "td",
                    { class: "k", title: "received here " + fmtMs(e.received) },
                    fmtMs(e.at),
                  ),
                  h("td", { class: "k event-name" }, e.name),
                  h(
                    "td",
                    { class: "event-from" },
                    h("a", { href: "#/node/" + encodeURIComponent(e.from), title: e.from_uuid }, e.from),
                    // received from the network without a cluster key: anyone could have sent it
                    e.authenticated === false
                      ? h(
                        "span",
                        {
                          class: "muted event-unauth",
                          title: "no encryption_key: not authenticated, event handlers did not run for it",
                        },
                        " (unauthenticated)",
                      )
                      : null,
                  ),
                  h(
                    "td",
                    { class: "event-payload" + (e.payload ? "" : " muted") },
                    e.payload ? e.payload : "(empty)",
                  ),
                );
              }),
            ),
          )
          : h("p", { class: "muted" }, all.length ? "No event matches." : "No events."),
      );
    },
  };

  const CHANGES = ["any", "joined", "suspect", "dead", "left", "reaped"];
  const CHANGE_CLASS = { joined: "t-alive", suspect: "t-suspect", dead: "t-dead", left: "t-leave" };

  K.pages.history = {
    view: { text: "", change: "any", limit: "1000" },
    rows: [],
    /** `arg`: a node's name (its history only, asked of the agent by name), or "" for every node. */
    mount: function (root, arg) {
      const v = this.view, self = this;
      this.node = decodeURIComponent(arg || "");
      this.rows = [];
      this.msg = h("div", { id: "history-msg", role: "status", "aria-live": "polite" });
      this.list = h("div", { id: "history-list" });
      const change = h(
        "select",
        {
          id: "history-change",
          onchange: function (e) {
            v.change = e.target.value;
            self.draw();
          },
        },
        CHANGES.map(function (c) {
          return h("option", { value: c, selected: v.change === c }, c);
        }),
      );
      const limit = h(
        "select",
        {
          id: "history-limit",
          onchange: function (e) {
            v.limit = e.target.value;
            self.update();
          },
        },
        ["100", "1000", "10000"].map(function (n) {
          return h("option", { value: n, selected: v.limit === n }, n);
        }),
      );
      K.fill(
        root,
        this.node
          ? h("p", null, h("a", { href: "#/node/" + encodeURIComponent(this.node) }, "← " + this.node))
          : null,
        h("h2", null, this.node ? "Membership history of " + this.node : "Membership history"),
        h(
          "p",
          { class: "muted" },
          "Joins, suspicions, deaths, leaves and reaps this agent saw, newest first.",
          this.node ? [" ", h("a", { href: "#/history", id: "history-all" }, "Every node")] : null,
        ),
        h(
          "div",
          { class: "toolbar" },
          this.node ? null : [
            h("label", { for: "history-filter" }, "Node"),
            h("input", {
              type: "search",
              id: "history-filter",
              value: v.text,
              placeholder: "name or uuid",
              oninput: function (e) {
                v.text = e.target.value;
                self.draw();
              },
            }),
          ],
          h("label", { for: "history-change" }, "Change"),
          change,
          h("label", { for: "history-limit" }, "Last"),
          limit,
        ),
        this.msg,
        this.list,
      );
      this.update();
    },
    update: function () {
      const self = this, node = this.node;
      let q = "?limit=" + encodeURIComponent(this.view.limit);
      if (node) q += "&node=" + encodeURIComponent(node);
      K.api.json("/agent/members/history" + q).then(function (rows) {
        if (K.app.page !== self || self.node !== node) return;
        if (!Array.isArray(rows)) throw new Error("the agent answered something other than a list");
        self.rows = rows;
        K.fill(self.msg);
        self.draw();
      }).catch(function (e) {
        if (K.app.page !== self || self.node !== node) return;
        K.fill(self.msg, loadError("the membership history", "GET /agent/members/history", e));
        K.fill(self.list);
      });
    },
    draw: function () {
      const v = this.view, node = this.node;
      const rows = this.rows.filter(function (r) {
        return K.historyMatches(r, node ? "" : v.text, v.change);
      });
      K.fill(
        this.list,
        rows.length
          ? h(
            "table",
            { id: "member-history" },
            K.thead(["time", "node", "change", "incarnation", "address"]),
            h(
              "tbody",
              null,
              rows.map(function (r) {
                return h(
                  "tr",
                  { class: "member-change", "data-node": r.name, "data-change": r.change },
                  h("td", { class: "k" }, fmtMs(r.ts)),
                  h(
                    "td",
                    null,
                    h("a", { href: "#/node/" + encodeURIComponent(r.name), title: r.uuid }, r.name),
                  ),
                  h("td", { class: CHANGE_CLASS[r.change] || "muted" }, r.change),
                  h("td", null, String(r.incarnation)),
                  h("td", { class: "k" }, r.addr),
                );
              }),
            ),
          )
          : h(
            "p",
            { class: "muted" },
            this.rows.length ? "No change matches." : "No membership change recorded.",
          ),
      );
    },
  };
})();

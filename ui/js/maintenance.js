// The node page's maintenance controls and the "maintenance" badge of the node lists (pages_cluster.js).
(function () {
  "use strict";
  const K = globalThis.K = globalThis.K || {};
  const h = K.h;

  /**
   * Start or end the connected agent's maintenance (`PUT`/`DELETE /agent/maintenance`, write routes:
   * the API token typed on the KV page); the page redraws when gossip brings the new record.
   */
  // what is typed and said survives the page's redraws (every gossip change redraws it)
  const maintDraft = { reason: "", for: "", msg: "", error: false };
  // the form itself, kept while the node's maintenance stays on (or off): a redraw puts the same element
  // back, so nothing typed into it can be lost to a redraw between a keystroke and its input event
  let maintForm = null;

  function maintenanceControls(n) {
    const mode = n.maintenance ? "on" : "off";
    if (maintForm && maintForm.mode === mode) return maintForm.el;
    const el = buildMaintenanceControls(n);
    maintForm = { mode: mode, el: el };
    return el;
  }

  function buildMaintenanceControls(n) {
    let reason = null, dur = null; // the form's fields, when it starts a maintenance
    const msg = h(
      "span",
      { id: "maint-msg", role: "status", "aria-live": "polite", class: maintDraft.error ? "error" : "muted" },
      maintDraft.msg,
    );
    function say(text, error) {
      maintDraft.msg = text;
      maintDraft.error = error;
      // a gossip redraw between the click and the answer replaced this element: say it in the one shown
      const shown = document.getElementById("maint-msg") || msg;
      shown.className = error ? "error" : "muted";
      K.fill(shown, text);
    }
    function fail(e) {
      say(
        e.status === 401 || e.status === 403
          ? "This write needs the agent's API token (http.token; type it on the KV page): " + e.message
          : e.message,
        true,
      );
    }
    function sent() {
      maintDraft.reason = "";
      maintDraft.for = "";
      if (reason) reason.value = "";
      if (dur) dur.value = "";
      say("sent; the page follows once gossip has it", false);
    }
    if (n.maintenance) {
      return h(
        "p",
        { id: "maint-controls" },
        h("button", {
          type: "button",
          id: "maint-end",
          onclick: function () {
            K.api.request("DELETE", "/agent/maintenance").then(sent, fail);
          },
        }, "End maintenance"),
        " ",
        msg,
      );
    }
    reason = h("input", {
      id: "maint-reason",
      maxlength: "256",
      placeholder: "why (optional)",
      value: maintDraft.reason,
      oninput: function (e) {
        maintDraft.reason = e.target.value;
      },
    });
    dur = h(
      "select",
      {
        id: "maint-for",
        onchange: function (e) {
          maintDraft.for = e.target.value;
        },
      },
      [["", "until ended"], ["30m", "30 minutes"], ["2h", "2 hours"], ["1d", "1 day"]].map(function (o) {
        return h("option", { value: o[0], selected: maintDraft.for === o[0] }, o[1]);
      }),
    );
    return h(
      "p",
      { id: "maint-controls", class: "toolbar" },
      h("label", { for: "maint-reason" }, "Maintenance"),
      reason,
      h("label", { for: "maint-for" }, "for"),
      dur,
      h("button", {
        type: "button",
        id: "maint-start",
        onclick: function () {
          const body = { reason: reason.value.trim() };
          if (dur.value) body.for = dur.value;
          K.api.request("PUT", "/agent/maintenance", JSON.stringify(body)).then(sent, fail);
        },
      }, "Start maintenance"),
      " ",
      msg,
    );
  }

  /** " maintenance" with its reason and end as a tooltip, for a node in maintenance; else null. */
  K.maintenanceBadge = function (n) {
    const m = n && n.maintenance;
    if (!m || typeof m !== "object") return null;
    const end = typeof m.until === "number" && Math.abs(m.until) <= 8.64e15
      ? ", until " + new Date(m.until).toISOString()
      : "";
    return h(
      "span",
      { class: "tag maint t-suspect", title: "in maintenance" + end + (m.reason ? ": " + m.reason : "") },
      "maintenance",
    );
  };

  K.maintenanceControls = maintenanceControls;
})();

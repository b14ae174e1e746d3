// Talking to the agents: election of a server from config.js, JSON requests with the API token,
// and the websocket feed with reconnection and a visible connection state.
(function () {
  "use strict";
  const K = globalThis.K = globalThis.K || {};

  K.api = {
    /** "" = same origin (page served by the agent), else "http://host:port". */
    base: null,
    servers: [],
    token: sessionStorage.getItem("kunai-token") || "",
  };

  /** The configured servers (config.js `servers`), shuffled; default: the page's own agent. */
  K.api.candidates = function () {
    let list = Array.isArray(globalThis.servers) ? globalThis.servers.slice() : [];
    for (let i = list.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      const t = list[i];
      list[i] = list[j];
      list[j] = t;
    }
    if (!list.length) list = [location.protocol.indexOf("http") === 0 ? "" : "127.0.0.1:6768"];
    return list.map(function (s) {
      return s === "" ? "" : (s.indexOf("://") > 0 ? s : "http://" + s);
    });
  };

  /** Tries each candidate (GET / answers OK); the first that answers is used. */
  K.api.elect = function () {
    const cands = K.api.candidates();
    K.api.servers = cands.map(function (b) {
      return { base: b, state: "pending" };
    });
    let i = 0;
    function next() {
      if (i >= K.api.servers.length) return Promise.reject(new Error("no agent answered"));
      const s = K.api.servers[i++];
      return fetch(s.base + "/", { signal: AbortSignal.timeout(3000) }).then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        s.state = "ok";
        K.api.base = s.base;
        return s.base;
      }).catch(function () {
        s.state = "error";
        return next();
      });
    }
    return next();
  };

  K.api.setToken = function (t) {
    K.api.token = t;
    if (t) sessionStorage.setItem("kunai-token", t);
    else sessionStorage.removeItem("kunai-token");
  };

  /** fetch() against the elected agent; rejects with the agent's error text on a 4xx/5xx. */
  K.api.request = function (method, path, body) {
    const headers = {};
    if (K.api.token && method !== "GET") headers.authorization = "Bearer " + K.api.token;
    return fetch((K.api.base || "") + path, {
      method: method,
      headers: headers,
      body: body,
      cache: "no-store",
    })
      .then(function (r) {
        if (r.ok) return r;
        return r.text().then(function (t) {
          let msg = t;
          try {
            msg = JSON.parse(t).error || t;
          } catch (_e) { /* plain text */ }
          const e = new Error(msg || "HTTP " + r.status);
          e.status = r.status;
          throw e;
        });
      });
  };

  K.api.json = function (path) {
    return K.api.request("GET", path).then(function (r) {
      return r.json();
    });
  };

  /** The live feed: calls onMessage(channel, payload); reconnects by itself; shows its state. */
  K.feed = {
    socket: null,
    state: "connecting",
    listeners: [],
    retryMs: 1000,
    lastMessage: 0,
  };

  K.feed.setState = function (st) {
    K.feed.state = st;
    const el = document.getElementById("conn");
    if (!el) return;
    el.className = "conn conn-" + st;
    K.fill(
      document.getElementById("conn-text"),
      st === "live" ? "live" : st === "offline" ? "offline, retrying" : "connecting",
    );
    el.title = st === "live" ? "live feed connected ✔" : "live feed not connected ✘";
  };

  K.feed.url = function () {
    const base = K.api.base || location.origin;
    return base.replace(/^http/, "ws") + "/ws";
  };

  K.feed.connect = function () {
    K.feed.setState("connecting");
    let ws;
    try {
      ws = new WebSocket(K.feed.url());
    } catch (_e) {
      K.feed.retry();
      return;
    }
    K.feed.socket = ws;
    ws.onopen = function () {
      K.feed.retryMs = 1000;
      K.feed.lastMessage = Date.now();
      K.feed.setState("live");
      K.feed.emit("open", null);
    };
    ws.onmessage = function (e) {
      K.feed.lastMessage = Date.now();
      let m;
      try {
        m = JSON.parse(e.data);
      } catch (_e) {
        return;
      }
      K.feed.emit(m.channel, m.payload);
    };
    ws.onclose = function () {
      if (K.feed.socket !== ws) return;
      K.feed.socket = null;
      K.feed.retry();
    };
  };

  K.feed.retry = function () {
    K.feed.setState("offline");
    setTimeout(K.feed.connect, K.feed.retryMs);
    K.feed.retryMs = Math.min(K.feed.retryMs * 2, 8000);
  };

  K.feed.on = function (fn) {
    K.feed.listeners.push(fn);
  };
  K.feed.emit = function (channel, payload) {
    K.feed.listeners.forEach(function (fn) {
      try {
        fn(channel, payload);
      } catch (e) {
        console.error("feed listener failed", e);
      }
    });
  };

  // keepalive: browsers cannot send protocol pings, so the agent answers "ping" with a pong message;
  // a socket silent for 40 s is considered dead and replaced
  setInterval(function () {
    const ws = K.feed.socket;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    if (Date.now() - K.feed.lastMessage > 40000) {
      ws.close();
      return;
    }
    ws.send("ping");
  }, 15000);
})();

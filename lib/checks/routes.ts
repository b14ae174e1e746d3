/**
 * HTTP routes of checks, services and state views (reference §5). Thin: parse, call the ChecksApi,
 * shape. Every change (PUT/DELETE) is a write route.
 */
import {
  type ApiContext,
  HttpError,
  peerResponse,
  readJson,
  readPeerBody,
  readText,
  RouteTable,
} from "../routing/mod.ts";
import { type ChecksApi, ChecksRequestError } from "./api.ts";

const STATUS = { invalid: 400, not_found: 404, conflict: 409 } as const;

/** Runs `fn`, turning a refused change into its HTTP status. */
function call<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ChecksRequestError) throw new HttpError(STATUS[err.kind], err.message, err.detail);
    throw err;
  }
}

const name = (c: ApiContext) => c.req.param("name") as string;

/** The peer route another agent asks for this node's state (`/agent/state/<this node>` there). */
export const STATE_PEER_PATH = "/checks-internal/state";

/** `/agent/checks*`, `/agent/services*`, `/agent/state*`, `/state/services*`. */
export function checksRoutes(api: ChecksApi): RouteTable {
  const r = new RouteTable("checks");
  for (const path of ["/agent/checks", "/agent/checks/"]) {
    r.read("GET", path, "every check loaded on this node", (c) => c.json(api.allViews()));
  }
  r.read("GET", "/agent/checks/:name{.+}", "one check with its state", (c) => {
    const v = api.view(name(c));
    if (!v) throw new HttpError(404, "check not found");
    return c.json(v);
  });
  // a silence has its own path (like the history): under /agent/checks/ it would shadow check names
  r.write(
    "PUT",
    "/agent/checks-silence/:name{.+}",
    'silence a check\'s notifications (body {"reason", "for"}; no "for": until it is OK again)',
    async (c) => {
      const body = await readText(c);
      let parsed: unknown = {};
      if (body.trim()) {
        try {
          parsed = JSON.parse(body);
        } catch {
          throw new HttpError(400, 'expected a JSON object such as {"reason": "disk ordered", "for": "1d"}');
        }
      }
      return c.json(call(() => api.silence(name(c), parsed)));
    },
  );
  r.write(
    "DELETE",
    "/agent/checks-silence/:name{.+}",
    "end a check's silence",
    (c) => c.json(call(() => api.unsilence(name(c)))),
  );
  // transitions of one of our checks, newest first (the UI's Checks page)
  r.read("GET", "/agent/checks-history/:name{.+}", "state transitions of one check, newest first", (c) => {
    if (!api.view(name(c))) throw new HttpError(404, "check not found");
    return c.json(api.history(name(c)));
  });
  // write: it runs a plugin (or an expression) now
  r.write(
    "POST",
    "/agent/checks/:name{.+}/run",
    "run an active check now and answer its new state",
    async (c) => {
      try {
        return c.json(await api.runNow(name(c)));
      } catch (err) {
        if (err instanceof ChecksRequestError) throw new HttpError(STATUS[err.kind], err.message, err.detail);
        throw err;
      }
    },
  );
  r.write("PUT", "/agent/checks/:name{.+}", "create or replace a check (written in cfg_dir)", async (c) => {
    const body = await readJson(c);
    return c.json(call(() => api.putCheck(name(c), body)));
  });
  r.write("DELETE", "/agent/checks/:name{.+}", "delete a check defined in cfg_dir", (c) => {
    call(() => api.deleteCheck(name(c)));
    return c.json({ deleted: name(c) });
  });

  for (const path of ["/agent/services", "/agent/services/"]) {
    r.read("GET", path, "every service of this node", (c) => c.json(api.serviceViews()));
  }
  r.read("GET", "/agent/services/:name{.+}", "one service with its state", (c) => {
    // own keys only: `__proto__`, `constructor` are names a plain object answers for
    const all = api.serviceViews(), n = name(c);
    const v = Object.hasOwn(all, n) ? all[n] : undefined;
    if (!v) throw new HttpError(404, "service not found");
    return c.json(v);
  });
  r.write(
    "PUT",
    "/agent/services/:name{.+}",
    "create or replace a service (written in cfg_dir)",
    async (c) => {
      const body = await readJson(c);
      return c.json(call(() => api.putService(name(c), body)));
    },
  );
  r.write("DELETE", "/agent/services/:name{.+}", "delete a service defined in cfg_dir", (c) => {
    call(() => api.deleteService(name(c)));
    return c.json({ deleted: name(c) });
  });

  for (const path of ["/agent/state", "/agent/state/"]) {
    r.read(
      "GET",
      path,
      "active checks and services of this node",
      async (c) => c.json(await api.nodeState()),
    );
  }
  r.read(
    "GET",
    "/agent/state/:name{.+}",
    "checks and services of a node (another one's asked to it, else from its gossip record)",
    async (c) => {
      const st = await api.nodeState(name(c));
      if (!st) throw new HttpError(404, `node ${name(c)} is not known`);
      return c.json(st);
    },
  );
  // what another agent's /agent/state/<this node> shows: sealed, so a forged answer is not taken
  r.peer("POST", STATE_PEER_PATH, "this node's active checks and services, for another agent", async (c) => {
    // the question carries nothing, but is a JSON object like every peer message: anything else is refused
    const plain = await readPeerBody(c); // what the keyring did not seal is refused here (401)
    let q: unknown;
    try {
      q = JSON.parse(new TextDecoder().decode(plain));
    } catch {
      q = null;
    }
    if (q === null || typeof q !== "object" || Array.isArray(q)) {
      throw new HttpError(400, "expected a JSON object");
    }
    return peerResponse(c, new TextEncoder().encode(JSON.stringify(await api.nodeState())));
  });
  for (const path of ["/state/services", "/state/services/"]) {
    r.read("GET", path, "services of the cluster with their members", (c) => c.json(api.servicesState()));
  }
  r.read("GET", "/state/services/:name{.+}", "one service of the cluster", (c) => {
    const all = api.servicesState(), n = name(c);
    const s = Object.hasOwn(all, n) ? all[n] : undefined;
    if (!s) throw new HttpError(404, "service not found", { name: n });
    return c.json(s);
  });
  return r;
}

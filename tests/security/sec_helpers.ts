/**
 * The full agent (every subsystem, as lib/agent.ts composes them) in this process on a temp dir,
 * with its real TCP and unix-socket listeners, plus helpers to walk its route tables.
 */
import { join } from "node:path";
import { Agent } from "../../lib/agent.ts";
import { resolveConfig } from "../../lib/config/mod.ts";
import { routeDocs } from "../../lib/http/mod.ts";
import type { RouteDoc } from "../../lib/routing/mod.ts";
import { freePort, tempDir, withTestDetect } from "../helpers.ts";

/** Loopback addresses of this folder's tests (other helpers use other 127.0.0.x). */
export const SEC_ADDR = "127.0.0.41";

export interface LiveAgent {
  agent: Agent;
  name: string;
  port: number;
  /** `http://addr:port` */
  url: string;
  socket: string;
  /** fetch over TCP. */
  tcp(path: string, init?: RequestInit): Promise<Response>;
  /** fetch over the unix socket. */
  unix(path: string, init?: RequestInit): Promise<Response>;
  docs(): RouteDoc[];
  undeclared(): Array<{ method: string; path: string }>;
  close(): Promise<void>;
}

/** Starts an Agent with every subsystem; `params` go into local.json. */
export async function startLiveAgent(name: string, params: Record<string, unknown> = {}): Promise<LiveAgent> {
  const { dir, cleanup } = tempDir("kunai-sec-");
  const cfgDir = join(dir, "etc");
  Deno.mkdirSync(cfgDir, { recursive: true });
  const port = freePort(SEC_ADDR);
  const socket = join(dir, "kunai.sock");
  Deno.writeTextFileSync(
    join(cfgDir, "local.json"),
    JSON.stringify({
      name,
      port,
      bind: SEC_ADDR,
      addr: SEC_ADDR,
      data: join(dir, "data"),
      log: join(dir, "log"),
      lock: join(dir, "kunai.pid"),
      socket,
      bootstrap: true,
      ...withTestDetect(params),
    }),
  );
  const config = resolveConfig({ cfgDir, env: { HOME: dir } });
  const agent = new Agent({
    config,
    stderrLogs: false,
    reloadConfig: (texts) => resolveConfig({ cfgDir, env: { HOME: dir }, texts }),
  });
  await agent.start();
  const client = Deno.createHttpClient({ proxy: { transport: "unix", path: socket } });
  const url = `http://${SEC_ADDR}:${port}`;
  return {
    agent,
    name,
    port,
    url,
    socket,
    tcp: (path, init = {}) => fetch(url + path, { signal: AbortSignal.timeout(15_000), ...init }),
    unix: (path, init = {}) =>
      fetch("http://kunai" + path, { client, signal: AbortSignal.timeout(15_000), ...init }),
    docs: () => routeDocs(agent.routers),
    // what the served app answers that no route table declares (middleware rows are method ALL)
    undeclared: () => {
      const declared = new Set(routeDocs(agent.routers).map((d) => `${d.method} ${d.path}`));
      const out = new Map<string, { method: string; path: string }>();
      for (const r of agent.http?.app?.routes ?? []) {
        const k = `${r.method} ${r.path}`;
        if (r.method !== "ALL" && !declared.has(k)) out.set(k, { method: r.method, path: r.path });
      }
      return [...out.values()];
    },
    async close() {
      await agent.stop("test over");
      client.close();
      cleanup();
    },
  };
}

/**
 * A concrete path for a route pattern: every `:param` becomes `value` (or, for a param
 * restricted by a regex like `{install|use|remove}`, the first alternative that matches).
 */
export function concretePath(pattern: string, value = "x"): string {
  return pattern.replace(/:(\w+)(\{([^}]*)\})?/g, (_m, _name, _b, re?: string) => {
    if (!re) return value;
    const full = new RegExp(`^(?:${re})$`);
    if (full.test(value)) return value;
    const alt = re.split("|").find((a) => full.test(a));
    return alt ?? value;
  });
}

/** True when the answer came from the app's not-found handler (the route was not reached). */
export async function notRouted(res: Response): Promise<boolean> {
  if (res.status !== 404) {
    await res.body?.cancel();
    return false;
  }
  const text = await res.text();
  try {
    return JSON.parse(text).error === "not found";
  } catch {
    return false;
  }
}

/** A valid base64 AES-256 key. */
export function newKey(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
}

/**
 * The contract between lib/agent.ts and every subsystem.
 *
 * ```ts
 * // lib/<name>/mod.ts
 * export function createThing(ctx: Ctx): Subsystem & ThingApi { ... }
 * ```
 */
import type { AgentConfig } from "./config/mod.ts";
import type { Store } from "./store/mod.ts";
import type { EventBus } from "./bus.ts";
import type { Clock } from "./clock/mod.ts";
import type { Logger } from "./log/mod.ts";
import type { Sandbox } from "./sandbox/mod.ts";
import type { Counters } from "./counters.ts";
import type { LocalNode } from "./identity/mod.ts";
import type { RouteTable } from "./routing/mod.ts";

/** What every subsystem receives. */
export interface Ctx {
  config: AgentConfig;
  /** This node: uuid, name, addr, port, tags, services, incarnation. */
  node: LocalNode;
  store: Store;
  bus: EventBus;
  clock: Clock;
  /** Logger for this subsystem's part. */
  log: Logger;
  sandbox: Sandbox;
  counters: Counters;
  /** Ask the agent to stop (e.g. after our own leave). */
  requestStop(reason: string): void;
}

export interface Subsystem {
  /** Part name in logs and the `/agent/info` section key. */
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Its section of `/agent/info`. */
  info(): Record<string, unknown>;
  /** Its HTTP routes (mounted on TCP and the unix socket), each declared read, write or peer. */
  routes?(): RouteTable;
}

/**
 * A subsystem whose module is imported only when it starts (the wiring adds it only when it is
 * configured, so a default agent never loads its code): `idle.info` is its /agent/info section until
 * then; with `idle.routes` its routes come from the real one (lib/agent.ts asks for routes after
 * every subsystem started).
 *
 * ```ts
 * lazySubsystem("dns", async () => (await import("./mod.ts")).createDns(ctx, deps), { info: { enabled: false } });
 * ```
 */
export function lazySubsystem(
  name: string,
  load: () => Promise<Subsystem>,
  idle: { info: Record<string, unknown>; routes?: boolean },
): Subsystem {
  let real: Subsystem | null = null;
  const sub: Subsystem = {
    name,
    async start() {
      const s = await load();
      await s.start();
      real = s;
    },
    async stop() {
      await real?.stop();
      real = null;
    },
    info: () => real ? real.info() : idle.info,
  };
  if (idle.routes) {
    sub.routes = () => {
      if (!real?.routes) throw new Error(`${name}: routes asked for before the subsystem started`);
      return real.routes();
    };
  }
  return sub;
}

/**
 * Checks and services (reference §6, §2.2 `service`): evaluated checks over collector results and
 * Nagios plugins run from a sandboxed Worker, flap protection, persisted state, `check.changed`
 * events, our services published for gossip, and the `/agent/checks`, `/agent/services`,
 * `/agent/state`, `/state/services` routes.
 *
 * ```ts
 * const checks = createChecks(ctx);
 * await checks.start();
 * checks.activeViews(); // {"linux/cpu": {state: "ok", ...}}
 * ```
 */
import type { Hono } from "hono";
import type { ApiEnv } from "../routing/mod.ts";
import type { Ctx, Subsystem } from "../subsystem.ts";
import type { MemberRecord, MembershipView } from "../types.ts";
import { Checks } from "./checks.ts";
import { checksRoutes } from "./routes.ts";

export { installDefaultPack } from "./pack.ts";
export { appliesTo, type CheckDef, shortObjectId } from "./check_def.ts";
export { splitArgv } from "./argv.ts";
export { expandMacros, lookupPath } from "./macros.ts";
export { parsePerfdata, parsePluginOutput, perfMetricName, stateOfExitCode } from "./perfdata.ts";
export { applyResult } from "./flap.ts";
export { jitteredInterval, percentile } from "./jitter.ts";
export { resolveCommand } from "./nagios_runner.ts";

/** What other parts (and tests) may ask of the checks subsystem. */
export interface ChecksApi {
  /** Runs one check now (awaits its result). */
  runCheck(id: string): Promise<void>;
  /** Recomputes the active set from our tags. */
  relink(): void;
  /** Re-reads checks and services from the configuration. */
  loadFromConfig(): void;
  view(id: string): Record<string, unknown> | undefined;
  allViews(): Record<string, Record<string, unknown>>;
  activeViews(): Record<string, Record<string, unknown>>;
  serviceViews(): Record<string, Record<string, unknown>>;
  isActive(id: string): boolean;
  history(id: string): Array<{ ts: number; state: string; state_id: number; output: string }>;
}

/** Our own node record when no membership view is wired. */
function selfRecord(ctx: Ctx): MemberRecord {
  const n = ctx.node;
  return {
    uuid: n.uuid,
    name: n.name,
    addr: n.addr,
    port: n.port,
    incarnation: n.incarnation,
    state: "alive",
    tags: n.tags(),
    services: n.services(),
    zone: n.zone,
  };
}

/** Builds the checks subsystem; `deps.membership` (from gossip, via lib/agent.ts) feeds /state/services. */
export function createChecks(ctx: Ctx, deps: { membership?: MembershipView } = {}): Subsystem & ChecksApi {
  const c = new Checks(ctx);
  return {
    name: c.name,
    start: () => c.start(),
    stop: () => c.stop(),
    info: () => c.info(),
    runCheck: async (id) => {
      await c.runCheck(id);
    },
    relink: () => c.relink(),
    loadFromConfig: () => c.loadFromConfig(),
    view: (id) => c.view(id),
    allViews: () => c.allViews(),
    activeViews: () => c.activeViews(),
    serviceViews: () => c.serviceViews(),
    isActive: (id) => c.isActive(id),
    history: (id) => c.history(id),
    routes: (): Hono<ApiEnv> =>
      checksRoutes({
        checks: c,
        cfgDir: () => ctx.config.cfgDir,
        membership: () => deps.membership,
        selfRecord: () => deps.membership?.self() ?? selfRecord(ctx),
        localServices: () => ctx.node.services(),
      }),
  };
}

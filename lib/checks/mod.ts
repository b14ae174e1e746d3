/**
 * Checks and services (reference §6, §2.2 `service`): evaluated checks over collector results and
 * Nagios plugins run from a sandboxed Worker, flap protection, persisted state, `check.changed`
 * events, our services published for gossip, and the `/agent/checks`, `/agent/services`,
 * `/agent/state`, `/state/services` routes.
 *
 * ```ts
 * const checks = createChecks(ctx, { collectors, membership });
 * await checks.start();
 * checks.activeViews(); // {"linux/cpu": {state: "ok", ...}}
 * ```
 */
import type { Ctx, Subsystem } from "../subsystem.ts";
import type { CollectorResultsView, MemberRecord, MembershipView } from "../types.ts";
import type { RouteTable } from "../routing/mod.ts";
import { Checks } from "./checks.ts";
import { type ChecksApi, makeChecksApi } from "./api.ts";
import { checksRoutes, STATE_PEER_PATH } from "./routes.ts";
import type { PeerEnvelope } from "../transport/mod.ts";
import { peerCall } from "../peer_call.ts";

export { installDefaultPack } from "./pack.ts";
export { appliesTo, type CheckDef, shortObjectId } from "./check_def.ts";
export { splitArgv } from "./argv.ts";
export { expandMacros, lookupPath } from "./macros.ts";
export { parsePerfdata, parsePluginOutput, perfMetricName, stateOfExitCode } from "./perfdata.ts";
export { applyResult } from "./flap.ts";
export { jitteredInterval, percentile } from "./jitter.ts";
export { lookupUser, pluginIdentity, resolveCommand } from "./nagios_runner.ts";
export { type ChecksApi, ChecksRequestError, type NodeState } from "./api.ts";

/** What checks read from the other subsystems (wired by lib/agent.ts). */
export interface ChecksDeps {
  /** Latest collector results for evaluated checks; absent when collectors do not run. */
  collectors?: CollectorResultsView;
  /** The cluster's members for `/agent/state/<node>` and `/state/services`; absent: only us. */
  membership?: Pick<MembershipView, "self" | "members">;
  /** Seals the question to another node for its state; absent: other nodes from gossip only. */
  envelope?: PeerEnvelope;
}

/** How long `/agent/state/<node>` waits for that node before answering from its gossip record. */
const ASK_NODE_TIMEOUT_MS = 2000;
/** The largest state answer taken from another node. */
const ASK_NODE_MAX_BYTES = 8 * 1024 * 1024;

/** Our own record when no membership view is wired. */
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

/** Builds the checks subsystem. */
export function createChecks(ctx: Ctx, deps: ChecksDeps = {}): Subsystem & ChecksApi {
  const core = new Checks(ctx, deps.collectors);
  const api = makeChecksApi(core, {
    cfgDir: () => ctx.config.cfgDir,
    members: () => deps.membership?.members() ?? [selfRecord(ctx)],
    self: () => deps.membership?.self() ?? selfRecord(ctx),
    localServices: () => ctx.node.services(),
    now: () => ctx.clock.now(),
    askNode: deps.envelope
      ? (m) => peerCall(deps.envelope, m, STATE_PEER_PATH, {}, ASK_NODE_TIMEOUT_MS, ASK_NODE_MAX_BYTES)
      : undefined,
  });
  return {
    ...api,
    name: core.name,
    start: () => core.start(),
    stop: () => core.stop(),
    info: () => core.info(),
    routes: (): RouteTable => checksRoutes(api),
  };
}

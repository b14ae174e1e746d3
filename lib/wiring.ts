/**
 * The wiring of the composition root: builds every subsystem in start order and hands each, as
 * arguments, exactly what it needs from the ones built before it (membership from gossip, results
 * from collectors, the KV store, the peer envelope). Changes then travel on the bus only. This is
 * the one place that knows every subsystem; `lib/agent.ts` owns their life cycle.
 *
 * Start order: cluster (gossip, kv) → host (collectors, evaluator, docker, detectors, checks,
 * metrics, snapshot) → outputs (handlers, shinken, generators, raft, exec, propagation, dns,
 * websocket, process metrics). Stop order is the reverse.
 */
import type { AgentConfig } from "./config/mod.ts";
import type { Ctx, Subsystem } from "./subsystem.ts";
import type { PeerEnvelope } from "./transport/mod.ts";
import { createGossip } from "./gossip/mod.ts";
import { createKv, type KvApi } from "./kv/mod.ts";
import { createCollectors } from "./collectors/mod.ts";
import { createEvaluator } from "./evaluator/mod.ts";
import { createDocker } from "./docker/mod.ts";
import { createDetectors } from "./detectors/mod.ts";
import { type ChecksApi, createChecks } from "./checks/mod.ts";
import { createMetrics } from "./metrics/mod.ts";
import { createSnapshot } from "./snapshot/mod.ts";
import { createHandlers } from "./handlers/mod.ts";
import { checkBriefs, createLazyShinken } from "./shinken/lazy.ts";
import { createGenerators, type KvGet } from "./generators/mod.ts";
import { createLazyRaft } from "./raft/lazy.ts";
import { createExec } from "./exec/mod.ts";
import { createPropagation } from "./propagate/mod.ts";
import { createLazyDns } from "./dns/lazy.ts";
import { createWebsocket } from "./websocket/mod.ts";
import { createProcessMetrics } from "./process_metrics/mod.ts";

/** What the wiring needs from the agent. */
export interface WiringInputs {
  config: AgentConfig;
  /** The context of one subsystem (its logger is named after it). */
  ctx(part: string): Ctx;
  /** Seals/opens every agent-to-agent message (keyring + replay window). */
  envelope: PeerEnvelope;
  /** Re-reads the configuration in place (what SIGHUP does). */
  reload(): unknown;
}

/** Builds the subsystems of a full agent, in start order. */
export function buildSubsystems(w: WiringInputs): Subsystem[] {
  const { config, envelope, ctx } = w;
  const out: Subsystem[] = [];
  const add = <T extends Omit<Subsystem, "routes"> & Partial<Pick<Subsystem, "routes">>>(s: T): T => {
    out.push(s as Subsystem);
    return s;
  };

  // cluster: gossip hands out the membership view; its changes arrive as member.* bus events
  const gossip = add(createGossip(ctx("gossip"), { envelope }));
  const membership = gossip.membership;
  const kv = add(createKv(ctx("kv"), { membership, envelope }));

  // host: collectors first (evaluator, detectors and checks read their results); detectors before
  // checks, so tags found at start re-link checks through tags.changed
  const collectors = add(createCollectors(ctx("collectors")));
  add(createEvaluator(ctx("evaluator"), { collectors }));
  add(createDocker(ctx("docker")));
  add(createDetectors(ctx("detectors"), { collectors }));
  const checks = add(createChecks(ctx("checks"), { collectors, membership, envelope }));
  // the time-series store always runs (collector values, perfdata); statsd/graphite when enabled
  // graphite-web's /events/ routes read gossip's cluster events and membership history
  const events = {
    events: () => gossip.events(),
    memberChanges: gossip.historyBetween,
    send: gossip.sendEvent,
  };
  add(createMetrics(ctx("metrics"), { membership, envelope, events }));
  add(createSnapshot(ctx("snapshot")));

  // outputs: consume check.changed / member.* / kv.changed on the bus
  add(createHandlers(ctx("handlers"), {
    membership,
    keyed: () => envelope.enabled,
    envelope,
    checkDefinition: (id) => checks.definition(id),
  }));
  add(createLazyShinken(ctx("shinken"), {
    membership,
    localChecks: () => localChecks(checks),
    // another node's own checks, as `kunai state NODE` asks them (null: it did not answer itself)
    remoteChecks: async (m) => {
      const st = await checks.nodeState(m.uuid);
      return st?.source === "node" ? checkBriefs(st.checks) : null;
    },
  }));
  add(createGenerators(ctx("generators"), { membership, kvGet: kvText(kv) }));
  if (config.params.raft.groups.length > 0) add(createLazyRaft(ctx("raft"), { membership, envelope }));
  add(createExec(ctx("exec"), { membership, envelope, kv }));
  add(createPropagation(ctx("propagate"), { kv, broadcast: gossip, reload: w.reload, membership }));
  if (config.listeners.dns?.enabled === true) add(createLazyDns(ctx("dns"), { membership }));
  add(createWebsocket(ctx("ws")));
  add(createProcessMetrics(ctx("process")));
  return out;
}

/** KV reads as UTF-8 text (generator templates). */
function kvText(kv: Pick<KvApi, "get">): KvGet {
  return async (key) => {
    const { entry } = await kv.get(key);
    return entry ? new TextDecoder().decode(entry.value) : null;
  };
}

/** Our own checks (id, state, output, silence) for the Shinken export. */
function localChecks(checks: Pick<ChecksApi, "activeViews">) {
  return Object.entries(checks.activeViews()).map(([id, v]) => ({
    id,
    state_id: Number(v.state_id ?? 3),
    output: String(v.output ?? ""),
    silenced: (v.silenced as { reason: string; until: number | null } | undefined) ?? null,
  }));
}

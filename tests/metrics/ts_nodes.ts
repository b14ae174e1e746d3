/**
 * Metrics subsystems of `ts` nodes in one process, each behind its own HTTP server on `host` and
 * sealed with one cluster key, as the cluster tests need them: point i's membership sees all of them.
 */
import { freePort, makeTestCtx, type TestCtx } from "../helpers.ts";
import { createMetrics } from "../../lib/metrics/mod.ts";
import type { MemberRecord, MembershipView } from "../../lib/types.ts";
import { generateKey, Keyring, PeerEnvelope } from "../../lib/transport/mod.ts";
import { buildApp } from "../../lib/http/mod.ts";
import { Counters } from "../../lib/counters.ts";
import { RealClock } from "../../lib/clock/mod.ts";

export interface TsNode {
  ctx: TestCtx;
  m: ReturnType<typeof createMetrics>;
  srv: Deno.HttpServer;
  /** Seals what this node sends to the others (the cluster key). */
  envelope: PeerEnvelope;
}

/** A `ts` member record named `n<i+1>` with the uuid `<i+1>` × 40. */
export function tsMember(host: string, i: number, port: number, tags = ["ts"]): MemberRecord {
  const uuid = String(i + 1).repeat(40);
  return {
    uuid,
    name: `n${i + 1}`,
    addr: host,
    port,
    incarnation: 0,
    state: "alive",
    tags,
    services: {},
    zone: "",
  };
}

/**
 * One node per entry of `files` (its configuration files), started, with `metrics` added to their
 * `metrics` parameter; `stop()` stops them all.
 */
export async function startTsNodes(
  host: string,
  files: Array<Record<string, unknown>> = [{}, {}],
  metrics: Record<string, unknown> = {},
): Promise<
  {
    members: MemberRecord[];
    nodes: TsNode[];
    stop: () => Promise<void>;
    restart: (i: number, membership?: MembershipView) => Promise<void>;
  }
> {
  const key = generateKey();
  const members = files.map((_, i) => tsMember(host, i, freePort(host)));
  const nodes: TsNode[] = [];
  const stop = async () => {
    for (const n of nodes) {
      await n.m.stop();
      await n.srv.shutdown();
      n.ctx.cleanup();
    }
  };
  // node i's metrics and HTTP server on its ctx (a restart keeps the ctx: same data directory)
  const serve = async (
    i: number,
    ctx: TestCtx,
    envelope: PeerEnvelope,
    membership: MembershipView = { self: () => members[i], members: () => members },
  ): Promise<TsNode> => {
    const m = createMetrics(ctx, { membership, envelope });
    await m.start();
    const app = buildApp([m.routes()], {
      token: "",
      maxBody: 1 << 24,
      log: ctx.sink.logger("http"),
      counters: new Counters(),
      peerEnvelope: envelope,
    });
    const srv = Deno.serve(
      { hostname: host, port: members[i].port, onListen: () => {} },
      (req) => app.fetch(req, { transport: "tcp" }),
    );
    return { ctx, m, srv, envelope };
  };
  try {
    for (let i = 0; i < files.length; i++) {
      const ctx = makeTestCtx({
        clock: new RealClock(),
        name: members[i].name,
        params: { metrics: { flush_interval: "50ms", ...metrics } },
        files: files[i],
      });
      const envelope = new PeerEnvelope(await Keyring.create([key]), { now: () => Date.now() });
      nodes.push(await serve(i, ctx, envelope));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  /**
   * Stops node i as an agent stops (HTTP first, then its metrics) and starts it again on its files
   * (with `membership`: what its gossip shows it then; default: every node).
   */
  const restart = async (i: number, membership?: MembershipView) => {
    const n = nodes[i];
    await n.srv.shutdown();
    await n.m.stop();
    nodes[i] = await serve(i, n.ctx, n.envelope, membership);
  };
  return { members, nodes, stop, restart };
}

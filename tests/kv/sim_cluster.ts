/**
 * A KV cluster on the simulated network and the virtual clock (lib/kv/sim_transport.ts), shared by
 * sim_test.ts and sim_fuzz_test.ts: the same scenario replays identically, partitions and kills
 * happen at exact virtual times, and no real socket or timer is involved.
 */
import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { createKv, type KvSubsystem, PeerUnreachable, SimKvNetwork } from "../../lib/kv/mod.ts";
import type { KvServe } from "../../lib/kv/transport.ts";
import { seededRandom } from "../../lib/transport/mod.ts";
import type { TestCtx } from "../helpers.ts";
import { FakeCluster, testEnvelope } from "./kv_helpers.ts";

export interface SimNode {
  name: string;
  uuid: string;
  ctx: TestCtx;
  kv: KvSubsystem;
  up: boolean;
}

export interface SimClusterOptions {
  /** Peer servers that ignore `lean` in forwarded writes, as agents before it did. */
  oldServers?: boolean;
  /** kv.anti_entropy_interval (default 500ms: repair within a few virtual seconds). */
  antiEntropy?: string;
}

/** A peer server that ignores `lean` in forwarded writes, as agents before it did. */
function withoutLean(serve: KvServe): KvServe {
  return (kind, body, signal) => {
    const b = body as { writes?: Array<Record<string, unknown>> };
    if (kind !== "writes" || !Array.isArray(b?.writes)) return serve(kind, body, signal);
    return serve(kind, { ...b, writes: b.writes.map(({ lean: _, ...w }) => w) }, signal);
  };
}

/** Picks messages to lose: sender and receiver uuids, the message kind and body. */
export type DropIf = (from: string, to: string, kind: string, body: unknown) => boolean;

export type SimCluster = Awaited<ReturnType<typeof simCluster>>;

/** Nodes `names` (all alive on one fake membership, rings refreshed) and the means to run them. */
export async function simCluster(names: string[], seed: number, opts: SimClusterOptions = {}) {
  const clock = new VirtualClock(1_800_000_000_000);
  const net = new SimKvNetwork({ clock, delayMs: 2 });
  const members = new FakeCluster();
  const nodes: SimNode[] = [];
  /** What each node's gossip believes dead (uuid -> uuids): its own view of the kv ring. */
  const deadTo = new Map<string, Set<string>>();
  const viewOf = (uuid: string) => ({
    self: () => members.records.get(uuid)!,
    members: () => {
      const dead = deadTo.get(uuid);
      const all = [...members.records.values()];
      return dead?.size ? all.map((r) => dead.has(r.uuid) ? { ...r, state: "dead" as const } : r) : all;
    },
  });
  /** A test's message filter: true loses the message (its sender hears nothing until its deadline). */
  let dropIf: DropIf | null = null;
  const boot = async (n: SimNode) => {
    n.kv = createKv(n.ctx, {
      membership: viewOf(n.uuid),
      envelope: await testEnvelope(n.ctx),
      transport: (serve) => {
        const t = net.attach(n.uuid, opts.oldServers ? withoutLean(serve) : serve);
        return {
          call: (peer, kind, body, deadline, signal) =>
            dropIf?.(n.uuid, peer.uuid, kind, body)
              ? new Promise((_, reject) =>
                clock.setTimeout(
                  () => reject(new PeerUnreachable(peer, "message lost")),
                  Math.max(1, deadline - clock.now()),
                )
              )
              : t.call(peer, kind, body, deadline, signal),
        };
      },
    });
    await n.kv.start();
    n.up = true;
  };
  names.forEach((name, i) => {
    const { uuid, ctx } = members.simMember(clock, name, i, {
      idPrefix: "sim",
      net: "10.0.0",
      portBase: 7000,
      antiEntropy: opts.antiEntropy ?? "500ms",
    });
    nodes.push({ name, uuid, ctx, kv: null as unknown as KvSubsystem, up: false });
  });
  for (const n of nodes) await boot(n);
  for (const n of nodes) n.kv.refreshRing();
  const rng = seededRandom(seed);
  /** Runs virtual time (and the setImmediate deferrals of group commit and batching) until `p` settles. */
  const drive = async <T>(p: Promise<T>, maxMs = 120_000): Promise<T> => {
    let done = false;
    p.then(() => done = true, () => done = true);
    for (let t = 0; !done && t < maxMs; t += 5) {
      await clock.advance(5);
      await new Promise((r) => setImmediate(r));
    }
    assert.ok(done, "the scenario finished within its virtual time");
    return await p;
  };
  const pass = async (ms: number) => {
    for (let t = 0; t < ms; t += 5) {
      await clock.advance(5);
      await new Promise((r) => setImmediate(r));
    }
  };
  /** The nodes holding `key`'s copies, owner first. */
  const owners = (key: string): SimNode[] =>
    nodes[0].kv.placement.owners(key).map((o) => nodes.find((n) => n.uuid === o.uuid)!);
  return {
    clock,
    net,
    nodes,
    rng,
    drive,
    pass,
    owners,
    /** Loses the messages `fn` picks from now on (null: none). */
    dropIf(fn: DropIf | null) {
      dropIf = fn;
    },
    /** `n`'s gossip now believes `dead` dead and every other node alive (its ring follows). */
    believe(n: SimNode, dead: SimNode[]) {
      deadTo.set(n.uuid, new Set(dead.map((d) => d.uuid)));
      n.ctx.bus.emit("member.updated", members.records.get(n.uuid)!);
    },
    async kill(n: SimNode) {
      net.kill(n.uuid);
      n.up = false;
      await n.kv.stop();
      n.ctx.store.closeAll();
    },
    async restart(n: SimNode) {
      await boot(n);
      n.kv.refreshRing();
    },
    async close() {
      for (const n of nodes) {
        if (n.up) await n.kv.stop();
        n.ctx.cleanup();
      }
    },
  };
}

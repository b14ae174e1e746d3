/**
 * KV test fixtures: a fake membership shared by in-process nodes, and KV nodes served over real
 * HTTP on 127.0.0.1 ephemeral ports (each with its own store).
 */
import { RealClock } from "../../lib/clock/mod.ts";
import type { EventBus } from "../../lib/bus.ts";
import { buildApp } from "../../lib/http/mod.ts";
import { createKv, type KvSubsystem } from "../../lib/kv/mod.ts";
import { sha1Hex } from "../../lib/kv/sha1.ts";
import type { MemberRecord, MembershipView, MemberState } from "../../lib/types.ts";
import { freePort, makeTestCtx, type TestCtx } from "../helpers.ts";

/** A membership table several in-process nodes share; a change is a `member.updated` on every attached bus. */
export class FakeCluster {
  records = new Map<string, MemberRecord>();
  #buses = new Set<EventBus>();

  /** Delivers this table's changes to a node's bus (as gossip does). */
  attach(bus: EventBus): void {
    this.#buses.add(bus);
  }

  add(rec: MemberRecord): void {
    this.records.set(rec.uuid, rec);
    this.#fire(rec);
  }

  setState(uuid: string, state: MemberState): void {
    const r = this.records.get(uuid)!;
    const next = { ...r, state, incarnation: r.incarnation + 1 };
    this.records.set(uuid, next);
    this.#fire(next);
  }

  #fire(rec: MemberRecord): void {
    for (const bus of [...this.#buses]) bus.emit("member.updated", rec);
  }

  view(uuid: string): MembershipView {
    return {
      self: () => this.records.get(uuid)!,
      members: () => [...this.records.values()],
    };
  }
}

export interface KvTestNode {
  name: string;
  uuid: string;
  port: number;
  ctx: TestCtx;
  kv: KvSubsystem;
  url: string;
  /** Stops HTTP and the subsystem (the data stays). */
  stop(): Promise<void>;
  /** Starts again on the same port and data. */
  restart(): Promise<void>;
  running: boolean;
}

export interface NodeOptions {
  name: string;
  cluster?: FakeCluster;
  kv?: Record<string, unknown>;
  tags?: string[];
  params?: Record<string, unknown>;
}

/** A KV node served on a real HTTP server; registered in `cluster` (tagged kv by default). */
export async function startKvNode(opts: NodeOptions): Promise<KvTestNode> {
  const uuid = sha1Hex(`uuid-${opts.name}`);
  const port = freePort();
  const tags = opts.tags ?? ["kv"];
  const ctx = makeTestCtx({
    name: opts.name,
    uuid,
    tags,
    clock: new RealClock(),
    params: {
      port,
      kv: { anti_entropy_interval: "500ms", request_timeout: "2s", ...opts.kv },
      ...opts.params,
    },
  });
  ctx.sink.level = "WARNING";
  if (opts.cluster) {
    opts.cluster.add({
      uuid,
      name: opts.name,
      addr: "127.0.0.1",
      port,
      incarnation: 0,
      state: "alive",
      tags,
      services: {},
      zone: "",
    });
    opts.cluster.attach(ctx.bus);
  }
  const membership = opts.cluster?.view(uuid);
  let server: Deno.HttpServer | null = null;
  const node: KvTestNode = {
    name: opts.name,
    uuid,
    port,
    ctx,
    kv: null as unknown as KvSubsystem,
    url: `http://127.0.0.1:${port}`,
    running: false,
    async stop() {
      if (!node.running) return;
      node.running = false;
      await node.kv.stop();
      const s = server!;
      server = null;
      await s.shutdown();
      ctx.store.closeAll();
    },
    async restart() {
      node.kv = createKv(ctx, { membership });
      await node.kv.start();
      const app = buildApp([node.kv.routes()], {
        token: "",
        maxBody: ctx.config.params.http.max_body,
        log: ctx.log,
        counters: ctx.counters,
      });
      server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, app.fetch);
      node.running = true;
    },
  };
  await node.restart();
  return node;
}

/** Stops every node and removes their dirs. */
export async function stopAll(nodes: KvTestNode[]): Promise<void> {
  for (const n of nodes) await n.stop();
  for (const n of nodes) n.ctx.cleanup();
}

/** Polls `fn` until it returns true (or throws after `ms`). */
export async function eventually(
  what: string,
  fn: () => boolean | Promise<boolean>,
  ms = 5000,
): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out after ${ms} ms waiting for: ${what}`);
}

export const enc = (s: string) => new TextEncoder().encode(s);
export const dec = (b: Uint8Array) => new TextDecoder().decode(b);

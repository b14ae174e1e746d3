/**
 * KV test fixtures: a fake membership shared by in-process nodes, and KV nodes served over real
 * HTTP on 127.0.0.1 ephemeral ports (each with its own store).
 */
import assert from "node:assert/strict";
import { RealClock } from "../../lib/clock/mod.ts";
import type { EventBus } from "../../lib/bus.ts";
import type { Clock } from "../../lib/clock/mod.ts";
import { buildApp, fastDispatcher, HttpServer, isUpgrade } from "../../lib/http/mod.ts";
import {
  createKv,
  type KvDeps,
  type KvMembership,
  type KvSubsystem,
  type KvTransport,
  PeerUnreachable,
  type RingNode,
} from "../../lib/kv/mod.ts";
import { HttpKvTransport } from "../../lib/kv/http_transport.ts";
import { StreamKvTransport } from "../../lib/kv/stream.ts";
import { WsClient } from "../../lib/kv/ws_client.ts";
import { sha1Hex } from "../../lib/kv/sha1.ts";
import type { KvRecord } from "../../lib/kv/record.ts";
import type { Ctx } from "../../lib/subsystem.ts";
import { Keyring, PeerEnvelope } from "../../lib/transport/mod.ts";
import type { MemberRecord, MemberState } from "../../lib/types.ts";
import { freePort, makeTestCtx, type TestCtx, until } from "../helpers.ts";

/** An envelope for tests: sealed with `key` (base64), plain without. */
export async function testEnvelope(ctx: Ctx, key?: string): Promise<PeerEnvelope> {
  return new PeerEnvelope(await Keyring.create(key ? [key] : []), { now: () => ctx.clock.now() });
}

/** Dependencies of a lone node: membership of itself only, plain peer traffic. */
export async function loneDeps(ctx: Ctx, key?: string): Promise<KvDeps> {
  const self: MemberRecord = {
    uuid: ctx.node.uuid,
    name: ctx.node.name,
    addr: ctx.node.addr,
    port: ctx.node.port,
    incarnation: 0,
    state: "alive",
    tags: [],
    services: {},
    zone: "",
  };
  return { membership: { self: () => self, members: () => [self] }, envelope: await testEnvelope(ctx, key) };
}

export const ANSWER_LOST = "answer lost";

/**
 * Wraps a transport with a test fault: a reason makes the peer unreachable (nothing sent); a reason
 * starting with ANSWER_LOST delivers the message, then fails as a lost answer would.
 */
export function faulty(t: KvTransport, fault: (peer: RingNode) => string | null): KvTransport {
  return {
    call(peer, kind, body, deadline, signal) {
      const cut = fault(peer);
      if (cut?.startsWith(ANSWER_LOST)) {
        return t.call(peer, kind, body, deadline, signal).then(() => {
          throw new PeerUnreachable(peer, cut);
        });
      }
      if (cut) return Promise.reject(new PeerUnreachable(peer, cut, true));
      return t.call(peer, kind, body, deadline, signal);
    },
  };
}

/** A membership table several in-process nodes share; changes are told on every attached bus. */
export class FakeCluster {
  records = new Map<string, MemberRecord>();
  #buses = new Set<EventBus>();

  /** Tells `bus` (a node's) about every later change. */
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
    for (const bus of this.#buses) bus.emit("member.updated", rec);
  }

  /**
   * A KV node's context on a virtual clock, known to the cluster as alive (tag kv) at
   * `<net>.<i+1>:<portBase+i>`; its uuid is the SHA-1 of `<idPrefix>-<name>`.
   */
  simMember(
    clock: Clock,
    name: string,
    i: number,
    o: { idPrefix: string; net: string; portBase: number; antiEntropy: string },
  ): { uuid: string; ctx: TestCtx } {
    const uuid = sha1Hex(`${o.idPrefix}-${name}`);
    const port = o.portBase + i;
    const ctx = makeTestCtx({
      name,
      uuid,
      tags: ["kv"],
      clock,
      params: { port, kv: { anti_entropy_interval: o.antiEntropy, request_timeout: "1s" } },
    });
    ctx.sink.level = "ERROR";
    this.attach(ctx.bus);
    this.add({
      uuid,
      name,
      addr: `${o.net}.${i + 1}`,
      port,
      incarnation: 0,
      state: "alive",
      tags: ["kv"],
      services: {},
      zone: "",
    });
    return { uuid, ctx };
  }

  view(uuid: string): KvMembership {
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
  /** Test fault on this node's outgoing peer messages (a reason: unreachable). */
  fault: ((peer: RingNode) => string | null) | null;
  /** Seals this node's peer traffic. */
  envelope: PeerEnvelope;
  /** Its peer sockets (null with `stream: false`). */
  stream(): StreamKvTransport | null;
  /** With `front`: the peer-socket upgrades its TCP front accepted itself. */
  upgrades: number;
}

export interface NodeOptions {
  name: string;
  cluster?: FakeCluster;
  kv?: Record<string, unknown>;
  tags?: string[];
  params?: Record<string, unknown>;
  /** Cluster key (base64): peer traffic sealed. */
  key?: string;
  /** false: every peer message over HTTP (default: the agent's transport, sockets for the hot kinds). */
  stream?: boolean;
  /**
   * Served as the agent serves TCP: the TCP front with its fast path (peer sockets spoken by the
   * front), no token. Default: Deno.serve, every request trusted like the unix socket.
   */
  front?: boolean;
  /** With `front`: its header deadline (default the agent's, 10 s). */
  headerTimeoutMs?: number;
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
  const membership = opts.cluster?.view(uuid) ?? (await loneDeps(ctx)).membership;
  const envelope = await testEnvelope(ctx, opts.key);
  let server: { shutdown(): Promise<void> } | null = null;
  let stream: StreamKvTransport | null = null;
  const node: KvTestNode = {
    name: opts.name,
    uuid,
    port,
    ctx,
    kv: null as unknown as KvSubsystem,
    url: `http://127.0.0.1:${port}`,
    running: false,
    fault: null,
    envelope,
    stream: () => stream,
    upgrades: 0,
    async stop() {
      if (!node.running) return;
      node.running = false;
      await node.kv.stop();
      stream?.close();
      const s = server!;
      server = null;
      await s.shutdown();
      ctx.store.closeAll();
    },
    async restart() {
      node.kv = createKv(ctx, {
        membership,
        envelope,
        transport: () =>
          faulty(
            opts.stream !== false
              ? (stream = new StreamKvTransport(envelope, ctx.clock))
              : new HttpKvTransport(envelope, ctx.clock),
            (p) => node.fault?.(p) ?? null,
          ),
      });
      await node.kv.start();
      const policy = {
        token: "",
        maxBody: ctx.config.params.http.max_body,
        log: ctx.log,
        counters: ctx.counters,
        peerEnvelope: envelope,
      };
      const routers = [node.kv.routes()];
      const app = buildApp(routers, policy);
      if (opts.front) {
        const dispatch = fastDispatcher(routers, policy)!;
        const http = await HttpServer.start(app, {
          ...policy,
          bind: "127.0.0.1",
          port,
          socket: "",
          tcp: true,
          headerTimeoutMs: opts.headerTimeoutMs,
          fast: (b) => {
            const r = dispatch(b);
            if (r && isUpgrade(r)) node.upgrades++;
            return r;
          },
        });
        server = { shutdown: () => http.close() };
        node.running = true;
        return;
      }
      // served as trusted (like the unix socket): these tests are about the cluster, not the route policy
      server = Deno.serve(
        { hostname: "127.0.0.1", port, onListen: () => {} },
        (req) => app.fetch(req, { transport: "unix" }),
      );
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
export function eventually(what: string, fn: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  return until(what, fn, ms, 25).then(() => {});
}

export const enc = (s: string) => new TextEncoder().encode(s);
export const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** A stored record of `key` as node-a wrote it at `modify_index` (a tombstone with `deleted`). */
export function kvRecord(key: string, value: string, modify_index: number, deleted = false): KvRecord {
  return {
    key,
    value: enc(value),
    flags: 0,
    modify_index,
    origin: "node-a",
    modify_time: 1000,
    expires: 0,
    deleted,
  };
}

/** Three KV nodes of one fake cluster, their rings refreshed (`front`: served by the TCP front). */
export async function threeKvNodes(
  opts: { key?: string; front?: boolean; headerTimeoutMs?: number; kv?: Record<string, unknown> } = {},
): Promise<KvTestNode[]> {
  const c = new FakeCluster();
  const nodes: KvTestNode[] = [];
  for (const name of ["a", "b", "c"]) nodes.push(await startKvNode({ name, cluster: c, ...opts }));
  for (const n of nodes) n.kv.refreshRing();
  return nodes;
}

/** Opens a raw socket to `n`'s stream route, sends `frames`; resolves the close reason and code. */
export function rawStreamSocket(
  n: KvTestNode,
  frames: Uint8Array[],
): Promise<{ reason: string; code?: number; got: number }> {
  return new Promise((resolve) => {
    let got = 0;
    const ws = new WsClient("127.0.0.1", n.port, "/kv-internal/stream", {
      open: () => frames.forEach((f) => ws.send(f)),
      message: () => {
        got++;
        if (got === frames.length) ws.close("done");
      },
      close: (reason, code) => resolve({ reason, code, got }),
    });
  });
}

/**
 * Writes a key on each of 3 nodes, reads every key from every node, waits for 3 copies, then a CAS
 * that wins and a stale one that loses; returns the messages the nodes answered on their sockets.
 */
export async function assertWritesCasReads(nodes: KvTestNode[], prefix: string): Promise<number> {
  for (const [i, n] of nodes.entries()) {
    assert.equal((await n.kv.put(`${prefix}/${i}`, enc(`v${i}`))).ok, true);
  }
  for (const n of nodes) {
    for (let i = 0; i < 3; i++) assert.equal(dec((await n.kv.get(`${prefix}/${i}`)).entry!.value), `v${i}`);
  }
  await eventually(
    "3 copies of each key",
    () => nodes.every((n) => [0, 1, 2].every((i) => n.kv.local.storage.getRecord(`${prefix}/${i}`) !== null)),
  );
  const idx = (await nodes[1].kv.get(`${prefix}/0`)).entry!.modify_index;
  assert.equal((await nodes[2].kv.put(`${prefix}/0`, enc("cas"), { cas: idx })).ok, true);
  assert.equal((await nodes[0].kv.put(`${prefix}/0`, enc("stale"), { cas: idx })).ok, false);
  assert.equal(dec((await nodes[1].kv.get(`${prefix}/0`)).entry!.value), "cas");
  const frames = nodes.reduce((s, n) => s + n.stream()!.frames, 0);
  assert.ok(frames >= 6, `${frames} messages answered on sockets`);
  return frames;
}

/**
 * On `a`'s stream socket: an unsealed frame is refused (1008, counted, nothing answered); a frame
 * sealed by member `b` is answered, and the same frame again on a new socket is a replay.
 */
export async function assertUnsealedAndReplayRefused(a: KvTestNode, b: KvTestNode): Promise<void> {
  const body = enc(JSON.stringify({ i: 1, k: "reads", b: { keys: ["x"] } }));
  const plain = await rawStreamSocket(a, [body]);
  assert.equal(plain.code, 1008);
  assert.match(plain.reason, /peer message refused: auth/);
  assert.equal(plain.got, 0);
  assert.equal(a.envelope.dropped.auth, 1);
  const sealed = await b.envelope.seal(body);
  const first = await rawStreamSocket(a, [sealed]);
  assert.equal(first.got, 1, first.reason);
  const again = await rawStreamSocket(a, [sealed]);
  assert.equal(again.code, 1008);
  assert.match(again.reason, /replay/);
  assert.equal(a.envelope.dropped.replay, 1);
}

/**
 * A lone KV node behind the real HTTP app (route policy, peer envelope), for the security tests.
 */
import { VirtualClock } from "../../lib/clock/mod.ts";
import { buildApp } from "../../lib/http/mod.ts";
import { createKv, type KvSubsystem } from "../../lib/kv/mod.ts";
import { makeTestCtx, type TestCtx } from "../helpers.ts";
import { loneDeps } from "../kv/kv_helpers.ts";
import type { PeerEnvelope } from "../../lib/transport/mod.ts";

export interface KvApp {
  ctx: TestCtx;
  clock: VirtualClock;
  kv: KvSubsystem;
  envelope: PeerEnvelope;
  /** A request over the unix socket (trusted: writes allowed). */
  req(path: string, init?: RequestInit): Promise<Response>;
  /** A request over TCP without a token. */
  tcp(path: string, init?: RequestInit): Promise<Response>;
  /** A KV peer message (sealed when the node has a key); answers status and opened JSON. */
  peer(kind: string, body: unknown): Promise<{ status: number; json: unknown }>;
  /** Stops the subsystem and builds it again on the same data (a restart). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function kvApp(opts: { key?: string; ctx?: TestCtx } = {}): Promise<KvApp> {
  const clock = new VirtualClock(Date.now());
  const ctx = opts.ctx ?? makeTestCtx({ clock });
  const deps = await loneDeps(ctx, opts.key);
  let kv: KvSubsystem;
  let app: ReturnType<typeof buildApp>;
  const build = async () => {
    kv = createKv(ctx, deps);
    await kv.start();
    app = buildApp([kv.routes()], {
      token: "",
      maxBody: 1 << 20,
      log: ctx.log,
      counters: ctx.counters,
      peerEnvelope: deps.envelope,
    });
  };
  await build();
  const t: KvApp = {
    ctx,
    clock: ctx.clock as VirtualClock,
    get kv() {
      return kv;
    },
    envelope: deps.envelope,
    req: (path, init) => Promise.resolve(app.request(path, init, { transport: "unix" })),
    tcp: (path, init) => Promise.resolve(app.request(path, init, { transport: "tcp" })),
    async peer(kind, body) {
      const bytes = typeof body === "string"
        ? new TextEncoder().encode(body)
        : new TextEncoder().encode(JSON.stringify(body));
      const sealed = await deps.envelope.seal(bytes);
      const r = await app.request(`/kv-internal/${kind}`, {
        method: "POST",
        body: sealed as Uint8Array<ArrayBuffer>,
      }, {
        transport: "tcp",
      });
      const raw = new Uint8Array(await r.arrayBuffer());
      if (r.status !== 200) return { status: r.status, json: JSON.parse(new TextDecoder().decode(raw)) };
      const opened = await deps.envelope.open(raw);
      if (!opened.ok) throw new Error(`answer not sealed: ${opened.reason}`);
      return { status: 200, json: JSON.parse(new TextDecoder().decode(opened.plain)) };
    },
    async restart() {
      await kv.stop();
      ctx.store.closeAll();
      await build();
    },
    async close() {
      await kv.stop();
      if (!opts.ctx) ctx.cleanup();
    },
  };
  return t;
}

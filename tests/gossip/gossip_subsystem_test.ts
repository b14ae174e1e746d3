/**
 * The gossip subsystem in-process on real UDP + HTTP (loopback): join, events, views, routes,
 * protection, encryption with a wrong key, tag changes.
 */
import assert from "node:assert/strict";
import { RealClock, VirtualClock } from "../../lib/clock/mod.ts";
import { buildApp } from "../../lib/http/mod.ts";
import { createGossip, generateKey } from "../../lib/gossip/mod.ts";
import { loadKeyring, PeerEnvelope } from "../../lib/transport/mod.ts";
import { loadPeers, savePeers } from "../../lib/gossip/peers_file.ts";
import { join } from "node:path";
import { JOIN_ERROR_HEADER, type MemberRecord } from "../../lib/types.ts";
import { freePort, makeTestCtx, tempDir, type TestCtx, until } from "../helpers.ts";

const FAST = {
  probe_interval: "200ms",
  probe_timeout: "100ms",
  gossip_interval: "50ms",
  push_pull_interval: "2s",
  leave_propagate_wait: "200ms",
};

interface Node {
  ctx: TestCtx;
  gossip: Awaited<ReturnType<typeof createGossip>>;
  server: Deno.HttpServer;
  port: number;
  url: string;
}

async function node(
  name: string,
  key: string,
  extra: Record<string, unknown> = {},
  prepare?: (ctx: TestCtx) => void,
): Promise<Node> {
  const port = (extra.port as number | undefined) ?? freePort();
  const ctx = makeTestCtx({
    name,
    clock: new RealClock(),
    params: {
      port,
      bind: "127.0.0.1",
      addr: "127.0.0.1",
      encryption_key: key,
      gossip: FAST,
      http: { token: "s3cret" },
      ...extra,
    },
  });
  (ctx.node as { port: number }).port = port;
  (ctx.node as { uuid: string }).uuid = crypto.randomUUID().replaceAll("-", "").padEnd(40, "0");
  prepare?.(ctx);
  const p = ctx.config.params;
  const keyring = await loadKeyring({
    file: `${p.data}/keyring.json`,
    configured: [p.encryption_key, ...p.encryption_keys],
    label: p.gossip.label,
  });
  const envelope = new PeerEnvelope(keyring, { now: () => Date.now() });
  const gossip = createGossip(ctx, { envelope });
  const app = buildApp([gossip.routes()], {
    token: "s3cret",
    maxBody: 1 << 20,
    log: ctx.log,
    counters: ctx.counters,
    peerEnvelope: envelope,
  });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port, onListen() {} },
    (req) => app.fetch(req, { transport: "tcp" }),
  );
  await gossip.start();
  return { ctx, gossip, server, port, url: `http://127.0.0.1:${port}` };
}

async function close(...nodes: Node[]) {
  for (const n of nodes) {
    await n.gossip.stop();
    await n.server.shutdown();
    n.ctx.cleanup();
  }
}

Deno.test({
  name: "gossip subsystem: join over real UDP + HTTP, events, view, routes and protection",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const key = generateKey();
    const a = await node("alpha", key);
    const b = await node("beta", key);
    try {
      const joined: MemberRecord[] = [];
      a.ctx.bus.on("member.joined", (m) => joined.push(m));
      const auth = { authorization: "Bearer s3cret" };
      // join is a write route: refused without the token
      const open = await fetch(`${b.url}/agent/join/127.0.0.1:${a.port}`, { method: "POST" });
      assert.equal(open.status, 401);
      await open.body?.cancel();
      // joining oneself is refused (it used to answer true and do nothing)
      for (const self of [`127.0.0.1:${b.port}`, `localhost:${b.port}`]) {
        const me = await fetch(`${b.url}/agent/join/${self}`, { method: "POST", headers: auth });
        assert.equal(me.status, 400, self);
        assert.match((await me.json()).error, /this agent itself/);
      }
      // a join that fails answers the reference's bare false, with the reason in a header
      const nobody = freePort("127.0.0.1");
      const fail = await fetch(`${b.url}/agent/join/127.0.0.1:${nobody}`, { method: "POST", headers: auth });
      assert.equal(fail.status, 200);
      assert.equal(await fail.json(), false);
      assert.match(
        fail.headers.get(JOIN_ERROR_HEADER) ?? "",
        /^request to 127\.0\.0\.1:\d+ failed: .*refused/i,
      );
      // join through the route, as `kunai join` does
      const r = await fetch(`${b.url}/agent/join/127.0.0.1:${a.port}`, { method: "POST", headers: auth });
      assert.equal(await r.json(), true);
      await until(
        "alpha sees beta join",
        () => a.gossip.membership.members().length === 2 && joined.length === 1,
        5000,
      );
      assert.equal(joined[0].name, "beta");

      const members = await (await fetch(`${a.url}/agent/members`)).json() as Record<string, MemberRecord>;
      assert.deepEqual(Object.values(members).map((m) => `${m.name}:${m.state}`).sort(), [
        "alpha:alive",
        "beta:alive",
      ]);
      assert.equal(members[b.ctx.node.uuid].port, b.port);
      // event-loop slip is reported: probe rounds ran, each measured against its schedule
      await until("a packet received", () => a.gossip.engine.traffic.packetsReceived >= 1, 5000);
      // the traffic counts are in /metrics as soon as it is read (no info() call, no 10 s reap round yet)
      const scraped = a.ctx.counters.render();
      assert.match(scraped, /^kunai_gossip_packets_received_total [1-9]/m);
      // and so is the member that just joined (the gauge was set only at the reap round: 1 alive)
      assert.match(scraped, /^kunai_gossip_members\{state="alive"\} 2$/m);
      await until("a probe round", () => a.gossip.engine.prober.lag.count >= 1, 5000);
      const timing = a.gossip.info().timing as { probe_lag: { count: number; max_ms: number } };
      assert.ok(timing.probe_lag.count >= 1 && timing.probe_lag.max_ms >= 0);

      // bad input → 400 with a clear message
      const bad = await fetch(`${a.url}/agent/join/${encodeURIComponent("1.2.3.4:notaport")}`, {
        method: "POST",
        headers: auth,
      });
      assert.equal(bad.status, 400);
      assert.match((await bad.json()).error, /expected addr\[:port\]/);
      // two colons and letters that are not hex: not an IPv6 address (was tried as one, answered 200 false)
      const notV6 = await fetch(`${a.url}/agent/join/${encodeURIComponent("bad:port:x")}`, {
        method: "POST",
        headers: auth,
      });
      assert.equal(notV6.status, 400);
      assert.match((await notV6.json()).error, /invalid join target "bad:port:x"/);
      const pp = await fetch(`${a.url}/gossip/push-pull`, { method: "POST", body: "garbage" });
      assert.equal(pp.status, 401, "a push-pull body not sealed with the key is refused");
      await pp.body?.cancel();

      // protected routes: leave of another node, keys
      for (const target of ["beta", "alpha"]) {
        for (const method of ["GET", "POST"]) {
          const lv = await fetch(`${a.url}/agent/leave/${target}`, { method });
          assert.equal(lv.status, 401, `${method} leave of ${target} without the token`);
          await lv.body?.cancel();
        }
      }
      assert.equal(a.gossip.engine.leaving, false);
      const keys = await fetch(`${a.url}/agent/keys`);
      assert.equal(keys.status, 401);
      await keys.body?.cancel();
      const k = await (await fetch(`${a.url}/agent/keys`, { headers: auth })).json();
      assert.deepEqual(k, { enabled: true, primary: key, keys: [key] });
      const missing = await fetch(`${a.url}/agent/leave/nobody`, { headers: auth });
      assert.equal(missing.status, 404);
      await missing.body?.cancel();

      // a tag change bumps the incarnation and reaches the peer
      const inc = a.ctx.node.incarnation;
      a.ctx.node.setSourceTags("detector:test", ["web"]);
      assert.equal(a.ctx.node.incarnation, inc + 1);
      await until(
        "beta sees alpha's new tag",
        () => b.gossip.members().find((m) => m.name === "alpha")?.tags.includes("web") === true,
        5000,
      );

      // forced leave of another node (with the token) spreads, and that node stops itself
      const left: string[] = [];
      a.ctx.bus.on("member.left", (m) => left.push(m.name));
      const ok = await fetch(`${a.url}/agent/leave/beta`, { method: "POST", headers: auth });
      assert.equal(ok.status, 200);
      await ok.body?.cancel();
      assert.deepEqual(left, ["beta"]);
      // ...which beta refutes: no gossip message makes an agent leave
      await until("beta refutes the claim", () => b.ctx.counters.get("gossip_refutations_total") >= 1, 5000);
      assert.equal(b.gossip.engine.leaving, false);
      await until(
        "beta alive again at alpha",
        () => a.gossip.members().find((m) => m.name === "beta")?.state === "alive",
        5000,
      );
    } finally {
      await close(a, b);
    }
  },
});

Deno.test({
  name: "gossip subsystem: a node with another key cannot join and its packets are dropped and counted",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const a = await node("alpha", generateKey());
    const c = await node("intruder", generateKey());
    try {
      const refused = await c.gossip.join(`127.0.0.1:${a.port}`);
      assert.equal(refused.joined, false);
      // the reason names the cause an operator can fix, not a bare "HTTP 401"
      assert.match(refused.reason ?? "", /HTTP 401: the peer refused our message: not sealed with a key/);
      // raw UDP junk and packets sealed with the wrong key are dropped, never parsed
      const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
      for (let i = 0; i < 20; i++) {
        await sock.send(crypto.getRandomValues(new Uint8Array(64)), {
          transport: "udp",
          hostname: "127.0.0.1",
          port: a.port,
        });
      }
      sock.close();
      await until("20 auth drops", () => a.gossip.engine.traffic.dropped.auth >= 20, 5000);
      assert.equal(a.gossip.members().length, 1);
      a.gossip.info();
      assert.ok(a.ctx.counters.get("gossip_packets_dropped_total", { reason: "auth" }) >= 20);
    } finally {
      await close(a, c);
    }
  },
});

Deno.test({
  name: "gossip subsystem: key operations are refused when encryption is off",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const a = await node("plain", "");
    try {
      const r = await fetch(`${a.url}/agent/keys/install`, {
        method: "POST",
        headers: { authorization: "Bearer s3cret" },
        body: JSON.stringify({ key: generateKey() }),
      });
      assert.equal(r.status, 400);
      assert.match((await r.json()).error, /encryption is off/);
    } finally {
      await close(a);
    }
  },
});

Deno.test({
  name: "gossip subsystem: seeds are retried with backoff until one answers, without blocking start",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const key = generateKey();
    const seedPort = freePort();
    const t0 = Date.now();
    // (a malformed seed is a configuration error since 2026-12-04: tests/config/config_test.ts)
    const b = await node("late-joiner", key, { seeds: [`127.0.0.1:${seedPort}`] });
    assert.ok(Date.now() - t0 < 1000, "start does not wait for the seeds");
    assert.equal(b.gossip.members().length, 1);
    await new Promise((r) => setTimeout(r, 300));
    // the seed comes up later on the configured port
    const a = await node("seed", key, { port: seedPort });
    try {
      await until(
        "both nodes know each other",
        () => b.gossip.members().length === 2 && a.gossip.members().length === 2,
        8000,
      );
    } finally {
      await close(a, b);
    }
  },
});

Deno.test({
  name: "gossip subsystem: a restarted agent rejoins through the peers it saved, without seeds",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const key = generateKey();
    const a = await node("alpha", key);
    const b = await node("beta", key, {}, (ctx) => {
      // what a previous run of beta left behind (plus junk that must be ignored)
      Deno.writeTextFileSync(
        join(ctx.config.params.data, "gossip-peers.json"),
        JSON.stringify({ peers: [`127.0.0.1:${a.port}`, "not a peer", 42] }),
      );
    });
    try {
      await until(
        "both nodes know each other again",
        () => a.gossip.members().length === 2 && b.gossip.members().length === 2,
        8000,
      );
      // stopping saves the peers it knew (no 60 s timer has fired yet): beta's file now holds only alpha
      const file = join(a.ctx.config.params.data, "gossip-peers.json");
      assert.deepEqual(loadPeers(file, 6768), [], "nothing saved before stop");
      await a.gossip.stop();
      assert.deepEqual(loadPeers(file, 6768), [{ addr: "127.0.0.1", port: b.port }]);
    } finally {
      await close(b);
      await close(a);
    }
  },
});

Deno.test("saved peers: round trip, at most 32, alive ones only, never ourselves", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = join(dir, "p.json");
    const recs = Array.from({ length: 40 }, (_, i) => ({
      uuid: `u${i}`,
      name: `n${i}`,
      addr: `10.0.0.${i}`,
      port: 7000 + i,
      incarnation: 0,
      state: (i % 10 === 9 ? "dead" : "alive") as MemberRecord["state"],
      tags: [],
      services: {},
      zone: "",
    }));
    assert.ok(savePeers(path, recs, "u0", Math.random).ok);
    const peers = loadPeers(path, 6768);
    assert.equal(peers.length, 32);
    assert.ok(peers.every((p) => p.addr !== "10.0.0.0" && !p.addr.endsWith(".9") && !p.addr.endsWith(".19")));
    assert.deepEqual(loadPeers(join(dir, "missing.json"), 6768), []);
    Deno.writeTextFileSync(path, "{broken");
    assert.deepEqual(loadPeers(path, 6768), []);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("saved peers: the file is rewritten only when the alive set changes (or the file is gone)", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = join(dir, "p.json");
    const rec = (i: number, state: MemberRecord["state"] = "alive", addr = `10.0.0.${i}`): MemberRecord => ({
      uuid: `u${i}`,
      name: `n${i}`,
      addr,
      port: 7000,
      incarnation: 0,
      state,
      tags: [],
      services: {},
      zone: "",
    });
    const ino = () => Deno.statSync(path).ino; // writeAtomic renames a new file over the old one
    assert.ok(savePeers(path, [rec(0), rec(1), rec(2)], "u0", Math.random).ok);
    const first = ino();
    assert.ok(savePeers(path, [rec(2), rec(1), rec(0), rec(3, "dead")], "u0", Math.random).ok);
    assert.equal(ino(), first, "same alive peers (another order, a dead one more): left as it is");
    assert.ok(savePeers(path, [rec(0), rec(1), rec(2, "alive", "10.0.0.99")], "u0", Math.random).ok);
    assert.notEqual(ino(), first, "a peer's new address is written");
    assert.deepEqual(loadPeers(path, 6768).map((p) => p.addr).sort(), ["10.0.0.1", "10.0.0.99"]);
    const second = ino();
    assert.ok(savePeers(path, [rec(0), rec(1)], "u0", Math.random).ok);
    assert.notEqual(ino(), second, "a peer gone is written");
    assert.deepEqual(loadPeers(path, 6768).map((p) => p.addr), ["10.0.0.1"]);
    Deno.removeSync(path);
    assert.ok(savePeers(path, [rec(0), rec(1)], "u0", Math.random).ok);
    assert.deepEqual(
      loadPeers(path, 6768).map((p) => p.addr),
      ["10.0.0.1"],
      "a removed file is written again",
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

for (const via of ["datagrams", "exchange"] as const) {
  Deno.test({
    name:
      `gossip subsystem: agents joining one seed at once get the seed's catch-up over real sockets (${via})`,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn() {
      const key = generateKey();
      // no periodic push-pull in this test: the seed's only outgoing exchanges are catch-ups; a seed
      // that sends plain packets catches up by exchange (HTTP), else with `push` datagrams
      const slow = { gossip: { ...FAST, push_pull_interval: "60s" } };
      const seedCfg = via === "exchange" ? { gossip: { ...slow.gossip, compress: false } } : slow;
      const seed = await node("seed", key, seedCfg);
      const joiners = [await node("j1", key, slow), await node("j2", key, slow), await node("j3", key, slow)];
      try {
        const ok = await Promise.all(joiners.map((j) => j.gossip.join(`127.0.0.1:${seed.port}`)));
        assert.deepEqual(ok.map((r) => r.joined), [true, true, true]);
        // the first ones answered did not know the later ones: the seed pushed its table to them, at
        // the address their own record names (the HTTP route does not see the socket's peer)
        await until(
          "the seed's catch-up",
          () => seed.ctx.counters.get("gossip_join_catch_ups_total") >= 1,
          5000,
        );
        await until(
          "every agent sees the 4 members alive",
          () =>
            [seed, ...joiners].every((n) =>
              n.gossip.membership.members().filter((m) => m.state === "alive").length === 4
            ),
          5000,
        );
        const exchanges = () => seed.ctx.counters.get("gossip_push_pull_total", { role: "client" });
        const datagrams = () => seed.ctx.counters.get("gossip_join_catch_up_datagrams_total");
        if (via === "exchange") {
          await until("a catch-up exchange completed", () => exchanges() >= 1, 5000);
          assert.equal(datagrams(), 0);
        } else {
          assert.ok(datagrams() >= 1, "no catch-up sent as datagrams");
          assert.equal(exchanges(), 0, "the seed opened an exchange");
        }
      } finally {
        await close(...joiners, seed);
      }
    },
  });
}

Deno.test({
  name:
    "gossip subsystem: known peers are saved every minute, on the epoch minute grid, the first 30-90 s after start",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const start = 1_800_000_050_000; // 50 s into a minute: the first save at the minute after next
    const clock = new VirtualClock(start);
    const port = freePort();
    const ctx = makeTestCtx({
      name: "solo",
      clock,
      params: { port, bind: "127.0.0.1", addr: "127.0.0.1", gossip: FAST },
    });
    (ctx.node as { port: number }).port = port;
    const p = ctx.config.params;
    const keyring = await loadKeyring({
      file: `${p.data}/keyring.json`,
      configured: [],
      label: p.gossip.label,
    });
    const gossip = createGossip(ctx, { envelope: new PeerEnvelope(keyring, { now: () => clock.now() }) });
    const file = join(p.data, "gossip-peers.json");
    const saved = () => {
      try {
        return Deno.statSync(file).mtime?.getTime() ?? 0;
      } catch {
        return null;
      }
    };
    try {
      await gossip.start();
      await clock.advance(69_000); // t = start + 69 s: 1 s before the minute after next
      assert.equal(saved(), null, "not saved within 30 s of the start nor off the minute grid");
      await clock.advance(1_000);
      assert.notEqual(saved(), null, "saved at the minute");
      Deno.removeSync(file);
      await clock.advance(59_000);
      assert.equal(saved(), null);
      await clock.advance(1_000);
      assert.notEqual(saved(), null, "and again a minute later");
    } finally {
      await gossip.stop();
      ctx.cleanup();
    }
  },
});

Deno.test("a damaged known-peers file is said and kept aside, not silently replaced by the next save", () => {
  const { dir, cleanup } = tempDir();
  try {
    const file = join(dir, "gossip-peers.json");
    Deno.writeTextFileSync(file, '{"peers": ["10.0.0.1:6768", ');
    const said: string[] = [];
    assert.deepEqual(loadPeers(file, 6768, (m) => said.push(m)), []);
    assert.match(said.join("\n"), /gossip-peers\.json are damaged .*kept as .*gossip-peers\.json\.damaged/);
    assert.equal(Deno.readTextFileSync(`${file}.damaged`), '{"peers": ["10.0.0.1:6768", ');
    // missing: none, and nothing said
    said.length = 0;
    assert.deepEqual(loadPeers(file, 6768, (m) => said.push(m)), []);
    assert.equal(said.length, 0, said.join("\n"));
    // unreadable (a directory stands for any read error): said
    Deno.mkdirSync(file);
    assert.deepEqual(loadPeers(file, 6768, (m) => said.push(m)), []);
    assert.match(said.join("\n"), /cannot read the known peers in .*rejoining from seeds only/);
    // and a save that fails says why
    const saved = savePeers(file, [], "u0", Math.random);
    assert.equal(saved.ok, false);
    assert.ok(!saved.ok && saved.why.length > 0);
  } finally {
    cleanup();
  }
});

Deno.test({
  name:
    "gossip subsystem: membership.joining() holds while the start's join reaches nobody, not without seeds",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const key = generateKey();
    const alone = await node("alone", key);
    // a seed that answers later: its port is kept free until then
    const seedPort = freePort();
    const b = await node("late", key, { seeds: [`127.0.0.1:${seedPort}`], join_retry_max: "1s" });
    let seed: Node | null = null;
    try {
      await until("no seeds: not joining", () => alone.gossip.membership.joining?.() === false);
      assert.equal(b.gossip.membership.joining?.(), true);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(b.gossip.membership.joining?.(), true, "still joining while the seed is down");
      seed = await node("seed", key, { port: seedPort });
      await until("joined the seed", () => b.gossip.membership.joining?.() === false, 5000);
      assert.equal(b.gossip.members().length, 2);
    } finally {
      await close(alone, b, ...(seed ? [seed] : []));
    }
  },
});

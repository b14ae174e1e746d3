import assert from "node:assert/strict";
import { startTsNodes, type TsNode } from "./ts_nodes.ts";
import { freePort, makeTestCtx } from "../helpers.ts";
import { createMetrics } from "../../lib/metrics/mod.ts";
import { FIRST_FLUSH_SKIP_MS } from "../../lib/metrics/service.ts";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { TsRing } from "../../lib/metrics/mod.ts";
import { mergeCopies, MetricsCluster, NAMES_TTL_MS } from "../../lib/metrics/cluster.ts";
import type { MetricsService } from "../../lib/metrics/service.ts";
import { silentLogger } from "../../lib/log/mod.ts";
import {
  Forwarder,
  IngestedBatches,
  peerCall,
  saveIngested,
  takeIngested,
} from "../../lib/metrics/peer_client.ts";
import { openDatabase } from "../../lib/store/mod.ts";
import { METRICS_MIGRATIONS } from "../../lib/metrics/ts_schema.ts";
import type { MemberRecord } from "../../lib/types.ts";
import { buildApp } from "../../lib/http/mod.ts";
import { StatsdAggregator } from "../../lib/metrics/statsd_aggregator.ts";

const HOST = "127.0.0.16";

function member(uuid: string, name: string, port: number, tags: string[]): MemberRecord {
  return { uuid, name, addr: HOST, port, incarnation: 0, state: "alive", tags, services: {}, zone: "" };
}

Deno.test("ts ring: no ts member means local; owners spread and are stable", () => {
  const a = member("a".repeat(40), "a", 1, ["ts"]), b = member("b".repeat(40), "b", 2, ["ts"]);
  assert.equal(TsRing.of([member("c".repeat(40), "c", 3, [])]).owner("x"), null);
  const ring = TsRing.of([a, b, { ...member("d".repeat(40), "d", 4, ["ts"]), state: "dead" }]);
  assert.equal(ring.nodes.length, 2);
  const counts = new Map<string, number>();
  const reversed = TsRing.of([b, a]);
  for (let i = 0; i < 2000; i++) {
    const o = ring.owner(`m.${i}`)!.name;
    counts.set(o, (counts.get(o) ?? 0) + 1);
    assert.equal(reversed.owner(`m.${i}`)!.name, o, "placement does not depend on order");
  }
  assert.ok(counts.get("a")! > 600 && counts.get("b")! > 600, JSON.stringify([...counts]));
});

Deno.test("two ts nodes: points and statsd lines go to their owner (sealed, batched); render and find merge both", async () => {
  const { members, nodes, stop } = await startTsNodes(HOST);
  const ports = members.map((m) => m.port);
  try {
    const now = Math.floor(Date.now() / 1000);
    // everything arrives at n1; about half belongs to n2
    for (let i = 0; i < 200; i++) nodes[0].m.ingest(`c.s${i}`, i, now);
    const ring = TsRing.of(members);
    const onN2 = Array.from({ length: 200 }, (_, i) => `c.s${i}`).filter((n) => ring.owner(n)!.name === "n2");
    assert.ok(onN2.length > 50 && onN2.length < 150);
    const store2 = nodes[1].m.service.store;
    for (let i = 0; i < 100 && onN2.some((n) => !store2.has(n)); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(
      onN2.every((n) => store2.has(n)),
      `every n2-owned series reached n2 ${JSON.stringify(nodes[0].m.info().cluster)} ${
        JSON.stringify(nodes[0].ctx.sink.recent)
      }`,
    );
    assert.ok(!onN2.some((n) => nodes[0].m.service.store.has(n)), "none of them stored on n1");
    // statsd lines for a key owned by n2 are aggregated there
    const key2 = Array.from({ length: 100 }, (_, i) => `k${i}`).find((k) => ring.owner(k)!.name === "n2")!;
    nodes[0].m.service.statsdPacket(new TextEncoder().encode(`${key2}:2|c\n${key2}:3|c`));
    for (let i = 0; i < 100 && nodes[1].m.service.statsd.stats.metrics < 2; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(nodes[1].m.service.statsd.stats.metrics, 2);
    // render through n1 sees every series, wherever it lives
    const app = nodes[0].m.routes();
    const res = await fetch(`http://${HOST}:${ports[0]}/render?target=sumSeries(c.*)&from=-5min`);
    assert.equal(res.status, 200);
    const [sum] = await res.json() as Array<{ datapoints: Array<[number | null, number]> }>;
    assert.equal(sum.datapoints.filter(([v]) => v !== null).at(-1)![0], (199 * 200) / 2);
    const idx = await (await fetch(`http://${HOST}:${ports[1]}/metrics/index.json`)).json() as string[];
    assert.equal(idx.filter((n) => n.startsWith("c.")).length, 200);
    // tagged series live on their owners too: seriesByTag and the tag API see both nodes
    const tagged = Array.from(
      { length: 40 },
      (_, i) => `t.cpu;dc=d${i % 2};host=h${String(i).padStart(2, "0")}`,
    );
    for (const [i, n] of tagged.entries()) nodes[0].m.ingest(n, i, now);
    assert.ok(
      tagged.some((n) => ring.owner(n)!.name === "n2") && tagged.some((n) => ring.owner(n)!.name === "n1"),
    );
    const byTag = `http://${HOST}:${ports[0]}/render?${new URLSearchParams({
      target: "groupByTags(seriesByTag('name=t.cpu'), 'sum', 'dc')",
      from: "-5min",
    })}`;
    let groups: Array<{ target: string; datapoints: Array<[number | null, number]> }> = [];
    for (let i = 0; i < 100; i++) {
      groups = await (await fetch(byTag)).json();
      const last = groups.map((g) => g.datapoints.filter(([v]) => v !== null).at(-1)?.[0]);
      if (last[0] === 380 && last[1] === 400) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(
      groups.map((g) => [g.target, g.datapoints.filter(([v]) => v !== null).at(-1)?.[0]]),
      [["t.cpu;dc=d0", 380], ["t.cpu;dc=d1", 400]],
    );
    await new Promise((r) => setTimeout(r, NAMES_TTL_MS)); // n2's copy of n1's names is that old at most
    const hosts =
      await (await fetch(`http://${HOST}:${ports[1]}/tags/autoComplete/values?tag=host&expr=dc%3Dd1`))
        .json();
    assert.deepEqual(hosts, tagged.filter((_, i) => i % 2 === 1).map((n) => n.split("host=")[1]));
    // a tagged statsd key is owned by its canonical form, whatever the order of its tags
    // (one whose other order, taken as it is, would belong to n1)
    const q = Array.from({ length: 200 }, (_, i) => `q${i}`).find((k) =>
      ring.owner(`${k};a=1;b=2`)!.name === "n2" && ring.owner(`${k};b=2;a=1`)!.name === "n1"
    )!;
    nodes[0].m.service.statsdPacket(new TextEncoder().encode(`${q};b=2;a=1:4|c\n${q};a=1;b=2:1|c`));
    for (let i = 0; i < 100 && nodes[1].m.service.statsd.stats.metrics < 4; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(nodes[1].m.service.statsd.stats.metrics, 4);
    assert.ok(app.routes.some((r) => r.path === "/metrics-internal/ingest" && r.access === "peer"));
    // a forged (unsealed) ingest is refused
    const forged = await fetch(`http://${HOST}:${ports[1]}/metrics-internal/ingest`, {
      method: "POST",
      body: JSON.stringify({ points: [["evil", 1, now]], statsd: [] }),
    });
    assert.equal(forged.status, 401);
    await forged.body?.cancel();
    assert.ok(!store2.has("evil"));
  } finally {
    await stop();
  }
});

Deno.test("a forwarded batch whose answer was lost goes again as it was, with its id; newer items follow it", async () => {
  const bodies: Array<{ id: string; points: unknown[]; statsd: string[] }> = [];
  let late = true;
  const srv = Deno.serve({ hostname: HOST, port: 0, onListen() {} }, async (req) => {
    bodies.push(await req.json());
    if (late) {
      late = false; // taken, but answered after the sender gave up
      await new Promise((r) => setTimeout(r, 400));
    }
    return Response.json({ stored: 0, lines: 0 });
  });
  const errors: string[] = [];
  const f = new Forwarder(undefined, 1000, 4, (m) => errors.push(m), 100);
  const owner = member("2".repeat(40), "n2", srv.addr.port, ["ts"]);
  try {
    f.point(owner, "p", 1, 100);
    f.statsdLine(owner, "k:1|c");
    await f.flush();
    assert.equal(errors.length, 1, "the answer did not come in time");
    assert.equal(f.waiting, 2);
    // newer items wait behind it; past the bound the oldest (its point) goes, the rest keeps its id
    for (const l of ["a:1|c", "b:1|c", "c:1|c"]) f.statsdLine(owner, l);
    assert.equal(f.stats.forward_dropped, 1);
    await f.flush();
    assert.equal(bodies.length, 3, JSON.stringify(bodies));
    assert.equal(bodies[1].id, bodies[0].id, "the same batch again");
    assert.deepEqual([bodies[1].points, bodies[1].statsd], [[], ["k:1|c"]]);
    assert.notEqual(bodies[2].id, bodies[0].id);
    assert.deepEqual(bodies[2].statsd, ["a:1|c", "b:1|c", "c:1|c"]);
    assert.equal(f.waiting, 0);
    await f.flush();
    assert.equal(bodies.length, 3, "nothing left to send");
  } finally {
    await srv.shutdown();
  }
});

Deno.test("a ts node answers a batch it took already without taking it again", async () => {
  const { members, nodes, stop } = await startTsNodes(HOST);
  try {
    const statsd = nodes[1].m.service.statsd.stats;
    const batch = { id: crypto.randomUUID(), points: [], statsd: ["dup.count:5|c"] };
    const send = () => peerCall(nodes[0].envelope, members[1], "/metrics-internal/ingest", batch);
    assert.deepEqual(await send(), { stored: 0, lines: 1 });
    // sealed again (a new nonce: the envelope's replay check does not see it), the same id
    assert.deepEqual(await send(), { stored: 0, lines: 0, duplicate: true });
    assert.equal(statsd.metrics, 1, "counted once");
    const other = { ...batch, id: crypto.randomUUID() };
    assert.deepEqual(await peerCall(nodes[0].envelope, members[1], "/metrics-internal/ingest", other), {
      stored: 0,
      lines: 1,
    });
    assert.equal(statsd.metrics, 2);
  } finally {
    await stop();
  }
});

Deno.test("a batch sent again across the owner's restart is not taken twice: the stop hands its ids to the start", async () => {
  const { members, nodes, stop, restart } = await startTsNodes(HOST);
  try {
    const said: string[] = [];
    nodes[1].ctx.sink.tap("INFO", (l) => said.push(l));
    const batch = { id: crypto.randomUUID(), points: [], statsd: ["dup.count:5|c"] };
    const send = () => peerCall(nodes[0].envelope, members[1], "/metrics-internal/ingest", batch);
    assert.deepEqual(await send(), { stored: 0, lines: 1 });
    await restart(1); // the answer was cut by the restart: the sender sends the batch again
    assert.deepEqual(await send(), { stored: 0, lines: 0, duplicate: true });
    assert.equal(nodes[1].m.service.statsd.stats.metrics, 0, "not counted again by the new process");
    const other = { ...batch, id: crypto.randomUUID() };
    assert.deepEqual(
      await peerCall(nodes[0].envelope, members[1], "/metrics-internal/ingest", other),
      { stored: 0, lines: 1 },
    );
    // handed over once: a second restart hands over what the second process took, the first id included
    await restart(1);
    assert.deepEqual(await send(), { stored: 0, lines: 0, duplicate: true });
    assert.equal(
      said.filter((l) => /forwarded batches: 1 id\(s\) taken before the restart/.test(l)).length,
      1,
    );
    assert.equal(
      said.filter((l) => /forwarded batches: 2 id\(s\) taken before the restart/.test(l)).length,
      1,
    );
  } finally {
    await stop();
  }
});

/** Every stored point of `name` on these nodes' own stores, as [node, ts, value], by time. */
function storedEverywhere(nodes: TsNode[], name: string): Array<[string, number, number]> {
  const now = Math.floor(Date.now() / 1000);
  const out: Array<[string, number, number]> = [];
  for (const n of nodes) {
    for (const s of n.m.service.fetchLocal(name, now - 900, now + 900)) {
      s.values.forEach((v, i) => v !== null && out.push([n.ctx.config.params.name, s.start + i * s.step, v]));
    }
  }
  return out.sort((a, b) => a[1] - b[1]);
}

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(ok(), what);
}

/** Two `ts` nodes, n2 with a statsd Worker on a free port (`interval` in seconds), and a socket to send from. */
async function tsNodesWithStatsd(interval: number) {
  const port = freePort(HOST);
  const statsd = { "l.json": { statsd: { enabled: true, port, bind: HOST, interval } } };
  const cluster = await startTsNodes(HOST, [{}, statsd]);
  return { ...cluster, port, udp: Deno.listenDatagram({ hostname: HOST, port: 0, transport: "udp" }) };
}

Deno.test("a ts node that stops hands its statsd interval to the owners without it: one point per bucket, none lost", async () => {
  const { members, nodes, stop, restart } = await startTsNodes(HOST, [{}, {}, {}]);
  try {
    const ring = TsRing.of(members);
    const without = TsRing.of([members[0], members[2]]);
    const k = Array.from({ length: 200 }, (_, i) => `hand.k${i}`).find((k) => ring.owner(k)!.name === "n2")!;
    const taker = nodes[members.indexOf(without.owner(k)!)];
    nodes[1].m.service.statsdPacket(new TextEncoder().encode(`${k}:5|c`));
    await until("n2 aggregates its key", () => nodes[1].m.service.statsd.exportState().counters.length === 1);
    const counts = `stats.gauges.${k}.count`;
    // its stop wrote no point of the interval (the taker flushes it) and handed it over
    await restart(1);
    await until("handed over", () => taker.m.service.statsd.exportState().counters.some(([n]) => n === k));
    assert.deepEqual(storedEverywhere(nodes, counts), [], "no point of the stop's own");
    assert.ok(nodes[1].ctx.sink.recent.WARNING.length === 0, JSON.stringify(nodes[1].ctx.sink.recent));
    // the restarted node is back in the ring before the taker's flush: the count goes back to it
    const t1 = Math.floor(Date.now() / 1000 / 60) * 60 - 120;
    await taker.m.service.flushStatsd(t1);
    await until(
      "back at the owner",
      () => nodes[1].m.service.statsd.exportState().counters.some(([n]) => n === k),
    );
    assert.equal(taker.m.service.statsd.exportState().counters.length, 0);
    await nodes[1].m.service.flushStatsd(t1 + 60);
    await until("stored", () => storedEverywhere(nodes, counts).length > 0);
    await new Promise((r) => setTimeout(r, 200)); // a second point, if any, has come too
    assert.deepEqual(storedEverywhere(nodes, counts).map(([, t, v]) => [t, v]), [[t1 + 60, 5]]);
    assert.ok(
      taker.m.info().cluster && (taker.m.info().cluster as { statsd_strays: number }).statsd_strays >= 1,
    );
  } finally {
    await stop();
  }
});

Deno.test("statsd lines that reach a node which does not own their name are sent on before its flush", async () => {
  const { members, nodes, stop } = await startTsNodes(HOST, [{}, {}]);
  try {
    const ring = TsRing.of(members);
    const k = Array.from({ length: 200 }, (_, i) => `stray.k${i}`).find((k) => ring.owner(k)!.name === "n2")!;
    // another node's forwarder held them for n1, the owner before a ring change
    const batch = { id: crypto.randomUUID(), points: [], statsd: [`${k}:3|c`, `${k}:4|c`, `${k}:7|g`] };
    assert.deepEqual(await peerCall(nodes[1].envelope, members[0], "/metrics-internal/ingest", batch), {
      stored: 0,
      lines: 3,
    });
    const t = Math.floor(Date.now() / 1000 / 60) * 60 - 120;
    await nodes[0].m.service.flushStatsd(t);
    await until(
      "at the owner",
      () => nodes[1].m.service.statsd.exportState().counters.some(([n]) => n === k),
    );
    assert.deepEqual(nodes[1].m.service.statsd.exportState().gauges, [[k, 7]], "gauges go too");
    assert.deepEqual(nodes[0].m.service.statsd.exportState(), {
      counters: [],
      timers: [],
      gauges: [],
      sets: [],
    });
    await nodes[1].m.service.flushStatsd(t);
    await until("stored", () => storedEverywhere(nodes, `stats.gauges.${k}.count`).length > 0);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(storedEverywhere(nodes, `stats.gauges.${k}.count`).map(([, t, v]) => [t, v]), [[t, 7]]);
    // a name this node owns stays for its own flush
    const mine = Array.from({ length: 200 }, (_, i) => `stray.m${i}`).find((k) =>
      ring.owner(k)!.name === "n1"
    )!;
    nodes[0].m.service.statsdPacket(new TextEncoder().encode(`${mine}:1|c`));
    await nodes[0].m.service.flushStatsd(t + 10);
    await until("stored here", () => storedEverywhere(nodes, `stats.gauges.${mine}.count`).length > 0);
    assert.equal(
      (nodes[0].m.info().cluster as { statsd_strays: number }).statsd_strays,
      2,
      "the stray name's lines only (its count and its gauge)",
    );
  } finally {
    await stop();
  }
});

Deno.test("a render merges the copies of a series on several ts nodes bucket by bucket", () => {
  const s = (values: Array<number | null>, start = 100, step = 10) => ({
    name: "a.b",
    start,
    end: start + values.length * step,
    step,
    values,
  });
  // the owner's copy has most buckets; the node that held the name while the owner restarted, one
  assert.deepEqual(mergeCopies([s([1, 2, null, 4]), s([null, null, 3, null])]), [s([1, 2, 3, 4])]);
  // both have a value: the fuller copy's
  assert.deepEqual(mergeCopies([s([null, 9, null, null]), s([1, 2, null, 4])]), [s([1, 2, null, 4])]);
  // another grid: the fuller copy alone
  assert.deepEqual(mergeCopies([s([1, null]), s([null, 5, 6], 100, 60)]), [s([null, 5, 6], 100, 60)]);
  assert.deepEqual(
    mergeCopies([s([1]), { ...s([2]), name: "c" }]).map((x) => [x.name, x.values]),
    [["a.b", [1]], ["c", [2]]],
  );
});

Deno.test("batch ids handed over: old, malformed and unreadable ones are dropped, never thrown at the start", () => {
  const db = openDatabase(":memory:", METRICS_MIGRATIONS);
  const now = 1_000_000_000;
  const a = new IngestedBatches();
  a.seen("old", now - IngestedBatches.TTL_MS - 1);
  a.seen("young", now - 1000);
  assert.equal(saveIngested(db, a, now), 1);
  const b = new IngestedBatches();
  assert.equal(takeIngested(db, b, now), 1);
  assert.equal(b.seen("young", now), true);
  assert.equal(b.seen("old", now), false);
  assert.equal(takeIngested(db, new IngestedBatches(), now), 0, "taken once");
  const c = new IngestedBatches();
  assert.equal(
    // a stop more than TTL_MS before this start: its ids are of no use
    c.restore([
      ["x".repeat(65), now],
      ["ok", now],
      [1, now],
      ["nan", "now"],
      "z",
      ["stale", now - IngestedBatches.TTL_MS],
      ["ok2", now + 5000],
    ], now),
    2,
  );
  assert.deepEqual(c.live(now).map(([id]) => id), ["ok", "ok2"]);
  // a time ahead of this start (its clock stepped back) counts as now: kept TTL_MS from here, no longer
  assert.deepEqual(c.live(now + IngestedBatches.TTL_MS - 1).map(([id]) => id), ["ok", "ok2"]);
  assert.deepEqual(c.live(now + IngestedBatches.TTL_MS), []);
  assert.equal(c.seen("ok2", now), true);
  db.run("INSERT INTO meta (key, value) VALUES ('ingested_batches', '{\"no\": 1}')");
  assert.throws(() => takeIngested(db, new IngestedBatches(), now), /not a list/);
  assert.equal(
    db.get("SELECT value FROM meta WHERE key = 'ingested_batches'"),
    undefined,
    "dropped, not read again",
  );
  db.close();
});

Deno.test("a flush while a batch is on its way waits for it and for what queued meanwhile (stop loses nothing)", async () => {
  const bodies: Array<{ statsd: string[] }> = [];
  const gate = Promise.withResolvers<void>();
  const srv = Deno.serve({ hostname: HOST, port: 0, onListen() {} }, async (req) => {
    bodies.push(await req.json());
    if (bodies.length === 1) await gate.promise; // the owner is slow to answer the first batch
    return Response.json({ stored: 0, lines: 0 });
  });
  const f = new Forwarder(undefined, 1000, 100, () => {}, 5000);
  const owner = member("3".repeat(40), "n3", srv.addr.port, ["ts"]);
  try {
    f.statsdLine(owner, "a:1|c");
    const periodic = f.flush(); // the flush timer's
    while (bodies.length === 0) await new Promise((r) => setTimeout(r, 5));
    f.statsdLine(owner, "b:1|c"); // arrives during the send
    let stopped = false;
    const stopping = f.flush().then(() => stopped = true); // what cluster.stop() does
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(stopped, false, "the stop's flush waits for the batch in flight");
    gate.resolve();
    await stopping;
    await periodic;
    assert.deepEqual(bodies.map((b) => b.statsd), [["a:1|c"], ["b:1|c"]]);
    assert.equal(f.waiting, 0);
  } finally {
    gate.resolve();
    await srv.shutdown();
  }
});

Deno.test("the cluster's metric names: other nodes' lists are reused for a few seconds, ours are always fresh", async () => {
  const { nodes, stop } = await startTsNodes(HOST);
  try {
    const [a, b] = nodes;
    const now = Math.floor(Date.now() / 1000);
    const add = (n: typeof a, name: string) => {
      n.m.service.store.add(name, 1, now);
      n.m.service.store.flush();
    };
    const app = buildApp([a.m.routes()], {
      token: "",
      maxBody: 1 << 20,
      log: a.ctx.log,
      counters: a.ctx.counters,
    });
    const index = async () => await (await app.request("/metrics/index.json")).json() as string[];
    add(b, "remote.first");
    assert.deepEqual(await index(), ["remote.first"]);
    add(b, "remote.second"); // asked again only after NAMES_TTL_MS
    add(a, "local.one"); // ours: at once
    assert.deepEqual(await index(), ["local.one", "remote.first"]);
    const [x, y] = await Promise.all([index(), index()]);
    assert.deepEqual(x, y);
  } finally {
    await stop();
  }
});

Deno.test("a burst of member events rebuilds the ts ring once, only when its ts nodes changed; its log line stays short", async () => {
  const members: MemberRecord[] = [member("0".repeat(40), "self", 1, [])];
  const listeners: Array<() => void> = [];
  const infos: string[] = [];
  const statsd = new StatsdAggregator({ intervalSeconds: 10, percentiles: [90], maxTimerValues: 100 });
  const cluster = new MetricsCluster(
    { setStatsdLocal() {}, statsdBackToLocal() {}, statsd } as unknown as MetricsService,
    {
      membership: { self: () => members[0], members: () => [...members] },
      onMemberChange: (fn) => {
        listeners.push(fn);
        return () => listeners.splice(listeners.indexOf(fn), 1);
      },
      batchSize: 100,
      log: { ...silentLogger, info: (l: string) => void infos.push(l) },
    },
  );
  let builds = 0;
  const of = TsRing.of;
  TsRing.of = (...args: Parameters<typeof TsRing.of>) => {
    builds++;
    return of.apply(TsRing, args);
  };
  try {
    cluster.start();
    assert.equal(builds, 1);
    // one datagram of 256 made-up `ts` members: 256 member.joined events in one go
    for (let i = 0; i < 256; i++) {
      members.push(member((i + 1).toString(16).padStart(40, "f"), `fake-${i}-${"x".repeat(200)}`, 2, ["ts"]));
      for (const fn of listeners) fn();
    }
    await Promise.resolve();
    assert.equal(builds, 2, "one rebuild for the burst");
    assert.equal(cluster.ring.nodes.length, 256);
    // changes that leave the ts nodes as they were (new incarnations, another non-ts node) build nothing
    for (let i = 1; i < members.length; i++) {
      members[i] = { ...members[i], incarnation: 5 };
      for (const fn of listeners) fn();
    }
    members.push(member("e".repeat(40), "plain", 3, []));
    for (const fn of listeners) fn();
    await Promise.resolve();
    assert.equal(builds, 2);
    assert.equal(infos.length, 2);
    assert.match(infos[1], /^ts ring: 256 nodes: (fake-\d+-x+, ){8}\.\.\.$/);
    assert.ok(infos[1].length < 1000, `${infos[1].length} chars`);
  } finally {
    TsRing.of = of;
    await cluster.stop();
  }
});

Deno.test("ts ring: built from the previous ring it places every name as a fresh build does", () => {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const pool = Array.from(
    { length: 60 },
    (_, i) => member((i * 2654435761 % 2 ** 32).toString(16).padStart(40, "0"), `n${i}`, i, ["ts"]),
  );
  let ring = TsRing.of([], 16);
  let current: MemberRecord[] = [];
  for (let step = 0; step < 40; step++) {
    // some leave, some join, one moves to another port (same uuid, new record)
    current = current.filter(() => rnd() > 0.3);
    for (const m of pool) if (rnd() < 0.15 && !current.some((c) => c.uuid === m.uuid)) current.push(m);
    if (current.length) current[0] = { ...current[0], port: current[0].port + 1000 };
    const fresh = TsRing.of(current, 16);
    const before = new Set(ring.nodes.map((n) => n.uuid));
    ring = TsRing.of(current, 16, ring);
    assert.equal(ring.hashed, current.filter((n) => !before.has(n.uuid)).length, "only the new nodes hashed");
    assert.deepEqual(ring.nodes, fresh.nodes);
    for (let i = 0; i < 300; i++) assert.equal(ring.owner(`m.${step}.${i}`), fresh.owner(`m.${step}.${i}`));
  }
  // a previous ring of another vnode count is not reused
  assert.equal(TsRing.of(current, 8, ring).owner("x"), TsRing.of(current, 8).owner("x"));
});

Deno.test("a new ts ring sends the statsd names this node no longer owns to their owners, gauges included", async () => {
  const self = member("1".repeat(40), "self", 1, ["ts"]);
  const members: MemberRecord[] = [self, member("2".repeat(40), "b", 2, ["ts"])];
  const listeners: Array<() => void> = [];
  const statsd = new StatsdAggregator({ intervalSeconds: 10, percentiles: [90], maxTimerValues: 100 });
  let local: boolean | null = null;
  const svc = {
    statsd,
    setStatsdLocal: (l: boolean) => void (local = l),
    localStatsdLine: (l: string) => statsd.ingestLine(l),
    wake() {},
  } as unknown as MetricsService;
  const cluster = new MetricsCluster(svc, {
    membership: { self: () => self, members: () => [...members] },
    onMemberChange: (fn) => {
      listeners.push(fn);
      return () => listeners.splice(listeners.indexOf(fn), 1);
    },
    batchSize: 100_000, // nothing leaves: what is forwarded stays counted in `waiting`
    log: silentLogger,
  });
  try {
    cluster.start();
    assert.equal(local, false, "two ts nodes: routing");
    const names = Array.from({ length: 60 }, (_, i) => `g${i}`);
    const mine = (n: string) => cluster.ring.owner(n)!.uuid === self.uuid;
    // what this node aggregated as its own under the ring of two
    for (const n of names.filter(mine)) {
      statsd.ingestLine(`${n}:7|g`);
      statsd.ingestLine(`${n}:2|c`);
    }
    const held = names.filter(mine);
    assert.ok(held.length > 10);
    // a third ts node: some of those names move to it
    const counted = statsd.stats.metrics;
    members.push(member("3".repeat(40), "c", 3, ["ts"]));
    for (const fn of listeners) fn();
    await Promise.resolve();
    assert.equal(statsd.stats.metrics, counted, "the names that stay are not taken (and counted) again");
    const stay = held.filter(mine), moved = held.filter((n) => !mine(n));
    assert.ok(moved.length > 0 && stay.length > 0, `${moved.length} moved, ${stay.length} stay`);
    const T = 1_700_000_010;
    const written = new Map(statsd.flush(T).map(([n, v]) => [n, v]));
    for (const n of stay) {
      assert.equal(written.get(`stats.gauges.${n}`), 7, `${n} is still ours`);
      assert.equal(written.get(`stats.gauges.${n}.count`), 2);
    }
    for (const n of moved) assert.equal(written.has(`stats.gauges.${n}`), false, `${n} went to its owner`);
    assert.equal(cluster.forwarder.waiting, moved.length * 2, "each moved name's gauge and count, forwarded");
    assert.deepEqual(
      statsd.flush(T + 10).map(([n]) => n).sort(),
      stay.map((n) => `stats.gauges.${n}`).sort(),
      "only our gauges are written again",
    );
  } finally {
    await cluster.stop().catch(() => {});
  }
});

Deno.test("a restarted ts node skips its first statsd tick: no second point of that bucket, a name owned elsewhere goes to its owner", async () => {
  const { members, nodes, stop, restart, port, udp } = await tsNodesWithStatsd(1);
  try {
    const ring = TsRing.of(members);
    const k = Array.from({ length: 200 }, (_, i) => `join.k${i}`).find((k) => ring.owner(k)!.name === "n1")!;
    const mine = Array.from({ length: 200 }, (_, i) => `join.m${i}`).find((k) =>
      ring.owner(k)!.name === "n2"
    )!;
    // n2 starts again knowing only itself: its join is on its way
    let joining = true;
    await restart(1, {
      self: () => members[1],
      members: () => joining ? [members[1]] : members,
      joining: () => joining,
    });
    await udp.send(new TextEncoder().encode(`${k}:5|c\n${mine}:2|c`), {
      transport: "udp",
      hostname: HOST,
      port,
    });
    const info = () => nodes[1].m.info().cluster as { statsd_flushes_skipped: number };
    await until("the first tick skipped", () => info().statsd_flushes_skipped === 1);
    assert.deepEqual(storedEverywhere(nodes, `stats.gauges.${k}.count`), [], "nothing flushed at that tick");
    assert.deepEqual(storedEverywhere(nodes, `stats.gauges.${mine}.count`), []);
    // the join brings the other node: the next tick sends the line of n1's name to n1, flushes its own
    joining = false;
    nodes[1].ctx.bus.emit("member.joined", members[0]);
    await until(
      "at the owner",
      () => nodes[0].m.service.statsd.exportState().counters.some(([n]) => n === k),
    );
    await until(
      "its own name flushed",
      () => storedEverywhere(nodes, `stats.gauges.${mine}.count`).length > 0,
    );
    await new Promise((r) => setTimeout(r, 300)); // a point of n2's for n1's name, if any, is stored by now
    assert.deepEqual(
      storedEverywhere(nodes, `stats.gauges.${k}.count`),
      [],
      "n2 wrote no point of n1's name",
    );
    assert.deepEqual(nodes[0].m.service.statsd.exportState().counters, [[k, 5]]);
    assert.deepEqual(storedEverywhere(nodes, `stats.gauges.${mine}.count`).map(([n, , v]) => [n, v]), [[
      "n2",
      2,
    ]]);
    assert.equal(info().statsd_flushes_skipped, 1, "only the first tick");
  } finally {
    udp.close();
    await stop();
  }
});

Deno.test("the first statsd tick is skipped only within FIRST_FLUSH_SKIP_MS of the start and where other ts nodes may be", async () => {
  const self = member("1".repeat(40), "n1", 1, ["ts"]);
  const other = member("2".repeat(40), "n2", 2, ["ts"]);
  const TICK = 1_700_000_000_000;
  const run = async (startMs: number, view: { members: MemberRecord[]; joining: boolean }) => {
    const clock = new VirtualClock(startMs);
    const ctx = makeTestCtx({ clock });
    const m = createMetrics(ctx, {
      membership: { self: () => self, members: () => view.members, joining: () => view.joining },
    });
    try {
      await m.start();
      // a name n1 owns in both rings
      const name = Array.from({ length: 200 }, (_, i) => `skip.k${i}`).find((k) =>
        TsRing.of(view.members.length ? view.members : [self]).owner(k)!.uuid === self.uuid
      )!;
      m.service.statsdLine(`${name}:2|c`);
      await clock.advance(TICK + 10_000 + 500 - startMs); // the ticks at TICK and TICK + 10 s
      return {
        skipped: m.service.flushesSkipped,
        points: m.service.fetchLocal(`stats.gauges.${name}.count`, TICK / 1000 - 60, TICK / 1000 + 60)
          .flatMap((s) => s.values.flatMap((v, i) => v === null ? [] : [[s.start + i * s.step, v]])),
      };
    } finally {
      await m.stop();
      ctx.cleanup();
    }
  };
  const t = TICK / 1000;
  // joining, 1 s before a tick: skipped, the line flushed at the next one
  assert.deepEqual(await run(TICK - 1000, { members: [self], joining: true }), {
    skipped: 1,
    points: [[t + 10, 2]],
  });
  // joined, another ts node: skipped too
  assert.deepEqual(await run(TICK - 1000, { members: [self, other], joining: false }), {
    skipped: 1,
    points: [[t + 10, 2]],
  });
  // alone (no seeds, no other ts node): flushed at its tick
  assert.deepEqual(await run(TICK - 1000, { members: [self], joining: false }), {
    skipped: 0,
    points: [[t, 2]],
  });
  // started FIRST_FLUSH_SKIP_MS or more before the tick: flushed at it
  assert.deepEqual(await run(TICK - FIRST_FLUSH_SKIP_MS, { members: [self, other], joining: true }), {
    skipped: 0,
    points: [[t, 2]],
  });
});

Deno.test("a skipped first tick drops the carry-over dated at it without a warning: the stop's points stand", async () => {
  const TICK = 1_700_000_000_000;
  const clock = new VirtualClock(TICK - 5000);
  const ctx = makeTestCtx({ clock });
  const self = member("1".repeat(40), "n1", 1, ["ts"]);
  let joining = false;
  const metrics = () =>
    createMetrics(ctx, { membership: { self: () => self, members: () => [self], joining: () => joining } });
  const points = (m: ReturnType<typeof metrics>) =>
    m.service.fetchLocal("stats.gauges.carry.k.count", TICK / 1000 - 60, TICK / 1000 + 60)
      .flatMap((s) => s.values.flatMap((v, i) => v === null ? [] : [[s.start + i * s.step, v]]));
  try {
    // alone, stopped 4 s before the tick: its points are dated at the tick, the state carried to it
    const a = metrics();
    await a.start();
    a.service.statsdLine("carry.k:2|c");
    await clock.advance(1000);
    await a.stop();
    // started again 1 s before the tick, joining a cluster: the tick is skipped
    await clock.advance(3000);
    joining = true;
    const b = metrics();
    await b.start();
    b.service.statsdLine("carry.k:3|c");
    try {
      await clock.advance(11_500); // the ticks at TICK and TICK + 10 s
      assert.equal(b.service.flushesSkipped, 1);
      assert.deepEqual(points(b), [[TICK / 1000, 2], [TICK / 1000 + 10, 3]]);
      assert.deepEqual(ctx.sink.recent.WARNING, []);
    } finally {
      await b.stop();
    }
  } finally {
    ctx.cleanup();
  }
});

Deno.test("a forwarded batch whose points or statsd is not a list is refused with 400 naming the field", async () => {
  const { members, nodes, stop } = await startTsNodes(HOST, [{}, {}]);
  try {
    await assert.rejects(
      peerCall(nodes[1].envelope, members[0], "/metrics-internal/ingest", { points: 5 }),
      /answered 400 .*points: expected a list, got number/,
    );
    await assert.rejects(
      peerCall(nodes[1].envelope, members[0], "/metrics-internal/ingest", { statsd: "a:1|c" }),
      /answered 400 .*statsd: expected a list, got string/,
    );
    // absent fields are empty lists
    assert.deepEqual(await peerCall(nodes[1].envelope, members[0], "/metrics-internal/ingest", {}), {
      stored: 0,
      lines: 0,
    });
  } finally {
    await stop();
  }
});

Deno.test("a render answers without a ts node that does not answer, leaves it out for metrics.read_retry, then reads it again", async () => {
  const { members, nodes, stop, restart } = await startTsNodes(HOST, [{}, {}, {}], { read_retry: "600ms" });
  try {
    const now = Math.floor(Date.now() / 1000);
    const names = Array.from({ length: 100 }, (_, i) => `c.s${i}`);
    names.forEach((n, i) => nodes[0].m.ingest(n, i, now));
    const ring = TsRing.of(members);
    const at = (n: string) => members.findIndex((m) => m.uuid === ring.owner(n)!.uuid);
    // what n1 and n3 store: the render's answer while n2 is down
    const kept = names.filter((n) => at(n) !== 1);
    const sumKept = kept.reduce((a, n) => a + Number(n.slice(3)), 0);
    assert.ok(kept.length > 40 && kept.length < 90 && kept.some((n) => at(n) === 2));
    for (let i = 0; i < 100 && names.some((n) => !nodes[at(n)].m.service.store.has(n)); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const url = `http://${HOST}:${members[0].port}`;
    const lastSum = async () => {
      const res = await fetch(`${url}/render?target=sumSeries(c.*)&from=-5min`);
      const body = await res.text();
      assert.equal(res.status, 200, body);
      const [sum] = JSON.parse(body) as Array<{ datapoints: Array<[number | null, number]> }>;
      return sum.datapoints.filter(([v]) => v !== null).at(-1)![0];
    };
    const cluster = () => nodes[0].m.info().cluster as { read_failures: number; reads_leave_out: string[] };
    assert.equal(await lastSum(), 4950);
    assert.equal(cluster().read_failures, 0);

    await nodes[1].srv.shutdown(); // n2's port refuses: gossip has not found it dead yet
    assert.equal(await lastSum(), sumKept, "the render answers with n1's and n3's series");
    assert.equal(cluster().read_failures, 1);
    assert.deepEqual(cluster().reads_leave_out, ["n2"]);
    const warned = nodes[0].ctx.sink.recent.WARNING.filter((l) =>
      /ts node n2 .*did not answer \/metrics-internal\/fetch: connection refused;/.test(l)
    );
    assert.equal(warned.length, 1, JSON.stringify(nodes[0].ctx.sink.recent));
    // left out: not asked again (no second failure, no second warning), finds and lists too
    assert.equal(await lastSum(), sumKept);
    const index = await (await fetch(`${url}/metrics/index.json`)).json() as string[];
    assert.deepEqual(index, [...kept].sort());
    assert.equal(cluster().read_failures, 1);

    await restart(1); // back on its port before read_retry is over: still left out until then
    assert.equal(await lastSum(), sumKept);
    await new Promise((r) => setTimeout(r, 650));
    assert.equal(await lastSum(), 4950, "asked again after read_retry");
    assert.deepEqual(cluster().reads_leave_out, []);
    assert.equal(cluster().read_failures, 1);
    assert.equal(nodes[0].ctx.sink.recent.WARNING.filter((l) => /did not answer/.test(l)).length, 1);
    // a second outage is said again
    await nodes[1].srv.shutdown();
    assert.equal(await lastSum(), sumKept);
    assert.equal(nodes[0].ctx.sink.recent.WARNING.filter((l) => /did not answer/.test(l)).length, 2);
  } finally {
    await stop();
  }
});

Deno.test("a ts node that answers a read with a 400 fails the render with it; one that answers no series list is left out", async () => {
  const { members, nodes, stop } = await startTsNodes(HOST, [{}, {}], { read_retry: "0s" });
  let fake: Deno.HttpServer | null = null;
  try {
    const now = Math.floor(Date.now() / 1000);
    const onN1 = Array.from({ length: 50 }, (_, i) => `d.s${i}`).filter((n) =>
      TsRing.of(members).owner(n)!.name === "n1"
    );
    for (const n of onN1) nodes[0].m.ingest(n, 1, now);
    await nodes[1].srv.shutdown();
    // in n2's place, something that answers what the test says
    let answer = () => new Response("render too large here", { status: 400 });
    fake = Deno.serve({ hostname: HOST, port: members[1].port, onListen: () => {} }, () => answer());
    const render = () => fetch(`http://${HOST}:${members[0].port}/render?target=sumSeries(d.*)&from=-5min`);
    const refused = await render();
    assert.equal(refused.status, 400);
    assert.match(
      await refused.text(),
      /ts node n2: n2 answered 400 on \/metrics-internal\/fetch: render too large here/,
    );
    assert.equal((nodes[0].m.info().cluster as { read_failures: number }).read_failures, 0);
    // sealed with the cluster key but without a series list; an error; an answer not sealed
    const sealed = await nodes[1].envelope.seal(new TextEncoder().encode(JSON.stringify({ series: 5 })));
    for (
      const bad of [
        () => new Response(sealed as Uint8Array<ArrayBuffer>),
        () => new Response("oops", { status: 500 }),
        () => new Response("{}"),
      ]
    ) {
      answer = bad;
      const res = await render();
      const body = await res.text();
      assert.equal(res.status, 200, body);
      const [sum] = JSON.parse(body) as Array<{ datapoints: Array<[number | null, number]> }>;
      assert.equal(sum.datapoints.filter(([v]) => v !== null).at(-1)![0], onN1.length);
    }
    // read_retry 0: asked each time, said once
    assert.equal((nodes[0].m.info().cluster as { read_failures: number }).read_failures, 3);
    assert.equal(
      nodes[0].ctx.sink.recent.WARNING.filter((l) => /ts node n2 .*did not answer/.test(l)).length,
      1,
    );
  } finally {
    await fake?.shutdown();
    await stop();
  }
});

Deno.test("a ts node left out of reads is read again as soon as the ring drops it and takes it back", async () => {
  const { members, nodes, stop, restart } = await startTsNodes(HOST, [{}, {}], { read_retry: "1h" });
  try {
    const now = Math.floor(Date.now() / 1000);
    const onN2 = Array.from({ length: 50 }, (_, i) => `e.s${i}`).filter((n) =>
      TsRing.of(members).owner(n)!.name === "n2"
    );
    for (const n of onN2) nodes[1].m.ingest(n, 1, now);
    nodes[1].m.service.store.flush();
    const index = async () =>
      await (await fetch(`http://${HOST}:${members[0].port}/metrics/index.json`)).json() as string[];
    await nodes[1].srv.shutdown();
    assert.deepEqual(await index(), []);
    await restart(1);
    await new Promise((r) => setTimeout(r, NAMES_TTL_MS)); // the names asked are reused that long
    assert.deepEqual(await index(), [], "left out for read_retry (an hour)");
    // gossip finds n2 dead, then it comes back: each a ring change
    const n2 = members.splice(1, 1)[0];
    nodes[0].ctx.bus.emit("member.dead", { ...n2, state: "dead" });
    await new Promise((r) => setTimeout(r, 10));
    members.push(n2);
    nodes[0].ctx.bus.emit("member.joined", n2);
    await new Promise((r) => setTimeout(r, NAMES_TTL_MS));
    assert.deepEqual(await index(), [...onN2].sort());
  } finally {
    await stop();
  }
});

Deno.test("ts routing ends: what the main thread aggregated goes to the statsd Worker, counted once", async () => {
  const { members, nodes, stop, port, udp } = await tsNodesWithStatsd(3600);
  try {
    const ring = TsRing.of(members);
    const k = Array.from({ length: 200 }, (_, i) => `back.k${i}`).find((k) => ring.owner(k)!.name === "n2")!;
    const svc = nodes[1].m.service;
    const send = (text: string) =>
      udp.send(new TextEncoder().encode(text), { transport: "udp", hostname: HOST, port });
    // two ts nodes: the Worker hands the datagrams over, the main thread aggregates (and counts) n2's
    await send(`${k}:1|c\n${k}:2|c\n${k}:3|c`);
    await until("counted by the main thread", () => svc.statsd.stats.metrics === 3);
    // n1 is gone: n2 alone, the Worker aggregates again, with what the main thread held
    members[0] = { ...members[0], state: "dead" };
    nodes[1].ctx.bus.emit("member.dead", members[0]);
    await until("handed to the Worker", () => svc.statsd.exportState().counters.length === 0);
    await send(`${k}:4|c`);
    await until("the next datagram counted", () => svc.statsdStats().metrics >= 4);
    await new Promise((r) => setTimeout(r, 600)); // the Worker's counts reach the main thread every 250 ms
    assert.equal(svc.statsdStats().metrics, 4, "each metric counted once");
    await svc.flushStatsd(Math.floor(Date.now() / 1000));
    assert.deepEqual(storedEverywhere(nodes, `stats.gauges.${k}.count`).map(([n, , v]) => [n, v]), [[
      "n2",
      10,
    ]]);
  } finally {
    udp.close();
    await stop();
  }
});

Deno.test("lines forwarded to a ts node whose statsd Worker aggregates join the Worker's aggregate: one point per bucket", async () => {
  const { members, nodes, stop, restart, port, udp } = await tsNodesWithStatsd(3600);
  try {
    // n2 sees itself alone (the Worker aggregates); n1 still has both: it forwards n2's names there
    await restart(1, { self: () => members[1], members: () => [members[1]] });
    const ring = TsRing.of(members);
    const k = Array.from({ length: 200 }, (_, i) => `two.k${i}`).find((k) => ring.owner(k)!.name === "n2")!;
    const svc = nodes[1].m.service;
    await udp.send(new TextEncoder().encode(`${k}:3|c\n${k}.g:7|g`), {
      transport: "udp",
      hostname: HOST,
      port,
    });
    await until("the Worker took the datagram", () => svc.statsdStats().metrics >= 2);
    nodes[0].m.service.statsdLine(`${k}:2|c`);
    await until(
      "forwarded to n2's main thread",
      () => svc.statsd.exportState().counters.some(([n]) => n === k),
    );
    await svc.flushStatsd(Math.floor(Date.now() / 1000));
    assert.deepEqual(storedEverywhere(nodes, `stats.gauges.${k}.count`).map(([n, , v]) => [n, v]), [[
      "n2",
      5,
    ]]);
    assert.deepEqual(storedEverywhere(nodes, `stats.gauges.${k}.g`).map(([n, , v]) => [n, v]), [["n2", 7]]);
  } finally {
    udp.close();
    await stop();
  }
});

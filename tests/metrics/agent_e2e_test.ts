import assert from "node:assert/strict";
import { join } from "node:path";
import { freePort, startAgent } from "../helpers.ts";
import { openDatabase } from "../../lib/store/mod.ts";
import { METRICS_MIGRATIONS } from "../../lib/metrics/mod.ts";

const HOST = "127.0.0.14";
const enc = new TextEncoder();

async function until(cond: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting for ${what}`);
}

function listeners(statsd: number, graphite: number) {
  return {
    statsd: { enabled: true, port: statsd, bind: HOST, interval: 1 },
    graphite: { enabled: true, port: graphite, bind: HOST, rcvbuf: 1 << 20 },
    metrics: { flush_interval: "200ms" },
  };
}

Deno.test("agent: Graphite and statsd land, /render answers Graphite JSON, the CLI lists and reads, info is honest", async () => {
  const [sp, gp] = [freePort(HOST), freePort(HOST)];
  const a = await startAgent({ name: "m1", addr: HOST, params: listeners(sp, gp) });
  try {
    const now = Math.floor(Date.now() / 1000);
    const conn = await Deno.connect({ hostname: HOST, port: gp });
    await conn.write(enc.encode(`e2e.a 1 ${now - 30}\ne2e.a 2 ${now - 20}\ne2e.b 7 ${now - 20}\nbad line\n`));
    conn.close();
    const udp = Deno.listenDatagram({ hostname: HOST, port: 0, transport: "udp" });
    await udp.send(enc.encode("e2e.hits:3|c\ne2e.hits:2|c"), { hostname: HOST, port: sp, transport: "udp" });
    udp.close();
    const base = `http://${HOST}:${a.port}`;
    await until(async () => {
      const r = await fetch(`${base}/metrics/index.json`);
      const names = await r.json() as string[];
      return names.includes("e2e.b") && names.includes("stats.gauges.e2e.hits.count");
    }, "the series");
    const res = await fetch(`${base}/render?target=e2e.a&from=-2min`);
    assert.equal(res.status, 200);
    const [s] = await res.json() as Array<{ target: string; datapoints: Array<[number | null, number]> }>;
    assert.equal(s.target, "e2e.a");
    const pts = s.datapoints.filter(([v]) => v !== null);
    assert.deepEqual(pts, [[1, now - 30 - ((now - 30) % 10)], [2, now - 20 - ((now - 20) % 10)]]);
    assert.ok(s.datapoints.every(([, ts], i) => i === 0 || ts - s.datapoints[i - 1][1] === 10));
    // a longer range is served from the 1 min level (rolled up on the fly) in the same shape
    const week = await (await fetch(`${base}/render?target=sumSeries(e2e.{a,b})&from=-7d`)).json() as Array<
      { datapoints: Array<[number | null, number]> }
    >;
    const wk = week[0].datapoints;
    assert.equal(wk[1][1] - wk[0][1], 60);
    assert.ok(wk.some(([v]) => v !== null), "rolled-up range has the data");
    const bad = await fetch(`${base}/render?target=sumSeries(e2e.a`);
    assert.equal(bad.status, 400);
    const err = (await bad.json() as { error: string }).error;
    assert.match(err, /sumSeries\( is not closed at position 15/, err);
    const hits = await (await fetch(`${base}/render?target=stats.gauges.e2e.hits.count&from=-1min`))
      .json() as Array<
        { datapoints: Array<[number | null, number]> }
      >;
    assert.equal(
      hits[0].datapoints.filter(([v]) => v !== null).map(([v]) => v).reduce((x, y) => x! + y!, 0),
      5,
    );
    const info = await (await fetch(`${base}/agent/info`)).json() as Record<string, Record<string, unknown>>;
    assert.equal(info.statsd.enabled, true);
    assert.equal(info.graphite.enabled, true);
    assert.equal(info.graphite.bad_lines, 1);
    // the UDP sockets' kernel receive buffers: statsd's default 4 MiB, graphite's configured 1 MiB,
    // each within net.core.rmem_max; the kernel reports twice what it grants
    const rmemMax = Number(Deno.readTextFileSync("/proc/sys/net/core/rmem_max").trim());
    assert.equal(info.statsd.rcvbuf, 4 << 20);
    assert.equal(info.statsd.rcvbuf_effective, 2 * Math.min(4 << 20, rmemMax));
    assert.equal(info.graphite.rcvbuf, 1 << 20);
    assert.equal(info.graphite.rcvbuf_effective, 2 * Math.min(1 << 20, rmemMax));
    const list = await a.cli(["metrics", "list", "e2e.", "--json"]);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(JSON.parse(list.stdout), ["e2e.a", "e2e.b"]);
    const get = await a.cli(["metrics", "get", "e2e.a", "--from", "-5min"]);
    assert.equal(get.code, 0, get.stderr);
    assert.match(get.stdout, /# e2e\.a {2}last 2/);
    const bad2 = await a.cli(["metrics", "get", "nosuch(x)"]);
    assert.notEqual(bad2.code, 0);
    assert.match(bad2.stderr, /nosuch/);
  } finally {
    await a.stop();
    Deno.removeSync(a.dir, { recursive: true });
  }
});

Deno.test("agent: kill -9 during ingest; the database opens and every point a flush acknowledged is there", async () => {
  const [sp, gp] = [freePort(HOST), freePort(HOST)];
  const a = await startAgent({ name: "m2", addr: HOST, params: listeners(sp, gp) });
  const base = `http://${HOST}:${a.port}`;
  let acked = 0;
  try {
    const conn = await Deno.connect({ hostname: HOST, port: gp });
    const now = Math.floor(Date.now() / 1000);
    let i = 0;
    // distinct series, so every point is its own row
    for (let round = 0; round < 40; round++) {
      let batch = "";
      for (let k = 0; k < 250; k++, i++) batch += `crash.s${i} ${i} ${now}\n`;
      await conn.write(enc.encode(batch));
      if (round === 20) {
        await until(async () => {
          const info = await (await fetch(`${base}/agent/info`)).json() as {
            metrics: { store: { points_written: number } };
          };
          acked = info.metrics.store.points_written;
          return acked >= 2000;
        }, "a flush");
      }
    }
    await a.kill9();
    conn.close();
  } catch (err) {
    await a.kill9();
    throw err;
  }
  try {
    assert.ok(acked >= 2000);
    const db = openDatabase(join(a.dir, "data", "metrics.db"), METRICS_MIGRATIONS);
    // settled or still fresh (each point is its own series: no bucket written twice)
    const rows = db.get<{ n: number }>(
      "SELECT (SELECT COUNT(*) FROM points) + (SELECT COUNT(*) FROM fresh) AS n",
    )!.n;
    const check = db.get<{ ok: string }>("PRAGMA integrity_check")!.ok ?? "";
    db.close();
    assert.ok(rows >= acked, `${rows} rows < ${acked} acknowledged`);
    assert.ok(check === "" || check === "ok");
  } finally {
    Deno.removeSync(a.dir, { recursive: true });
  }
});

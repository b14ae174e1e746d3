/**
 * A backfill into a real agent: points sent over Graphite's plaintext protocol for spans its
 * background pass had already compacted (the pass at start) are compacted by a later pass into
 * packed blobs (read from its metrics.db while it runs), and `/render` gives back every value
 * exactly as sent: integers, two-decimal figures and arbitrary doubles (the latter kept raw).
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { freePort, startAgent, until } from "../helpers.ts";
import { PACKED_MAGIC, RAW_BYTES } from "../../lib/metrics/chunks.ts";

const HOST = "127.0.0.17";
type Render = Array<{ target: string; datapoints: Array<[number | null, number]> }>;

const KINDS: Record<string, (i: number) => number> = {
  "ch.e2e.count": (i) => (i * 37) % 500,
  "ch.e2e.cpu": (i) => Math.round((50 + 40 * Math.sin(i / 30)) * 100) / 100,
  "ch.e2e.noise": (i) => Math.sin(i) * 1e3 + i / 7,
};

Deno.test("agent: a backfill over Graphite plaintext is compacted into packed chunks and renders back exactly", async () => {
  const gp = freePort(HOST);
  const a = await startAgent({
    name: "ch1",
    addr: HOST,
    params: {
      graphite: { enabled: true, port: gp, bind: HOST, udp: false },
      // 1 s points kept 40 min: spans of 360 s, compacted once complete
      metrics: { retentions: "1s:40m,10s:1d", rollup_interval: "300ms", flush_interval: "200ms" },
    },
  });
  try {
    const base = `http://${HOST}:${a.port}`;
    const info = async () =>
      (await (await fetch(`${base}/agent/info`)).json() as { metrics: { store: Record<string, number> } })
        .metrics.store;
    // the spans below are compacted (empty) by the passes before the points come
    await until("two background passes", async () => (await info()).rollups >= 2, 10_000, 100);
    const now = Math.floor(Date.now() / 1000);
    // two whole spans 23-29 min back, inside the 40 minutes and long compacted (starting up to 31 min
    // back within 30, the first points of some runs were older than the level and went to the next one)
    const from = now - 1400 - ((now - 1400) % 360);
    const until_ = from + 720;
    const lines: string[] = [];
    for (let ts = from; ts < until_; ts++) {
      for (const [name, f] of Object.entries(KINDS)) lines.push(`${name} ${f(ts - from)} ${ts}`);
    }
    const conn = await Deno.connect({ hostname: HOST, port: gp });
    await conn.write(new TextEncoder().encode(lines.join("\n") + "\n"));
    conn.close();
    await until(
      "the two spans of three series compacted",
      async () => (await info()).points_compacted >= 3 * 720,
      30_000,
      200,
    );
    const db = new DatabaseSync(join(a.dir, "data", "metrics.db"), { readOnly: true });
    try {
      const rows = db.prepare(
        "SELECT s.name AS name, length(c.data) AS n, c.data AS data FROM chunks c JOIN series s ON s.id = c.series WHERE c.level = 0",
      ).all() as Array<{ name: string; n: number; data: Uint8Array }>;
      const by = (name: string) => rows.filter((r) => r.name === name);
      assert.equal(rows.length, 6, JSON.stringify(rows.map((r) => [r.name, r.n])));
      for (const r of [...by("ch.e2e.count"), ...by("ch.e2e.cpu")]) {
        assert.equal(r.data[0], PACKED_MAGIC, r.name);
        assert.ok(r.n < 800, `${r.name}: ${r.n} bytes`);
      }
      for (const r of by("ch.e2e.noise")) assert.equal(r.n, RAW_BYTES);
    } finally {
      db.close();
    }
    for (const [name, f] of Object.entries(KINDS)) {
      const res = await fetch(
        `${base}/render?target=${name}&from=${from - 1}&until=${until_ - 1}&format=json`,
      );
      assert.equal(res.status, 200);
      const [s] = await res.json() as Render;
      const got = s.datapoints.filter(([v]) => v !== null);
      assert.equal(got.length, 720, name);
      for (const [v, ts] of got) assert.equal(v, f(ts - from), `${name} at ${ts}`);
    }
  } finally {
    await a.stop();
  }
});

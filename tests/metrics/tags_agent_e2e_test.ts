/**
 * A real agent with graphite 1.1 tags end to end: tagged plaintext points (any tag order) and a
 * tagged statsd counter in, `/render?target=seriesByTag(...)` (also under aliasByTags and
 * groupByTags), `/tags/autoComplete/values` and `/tags/findSeries` out; a bad tag is a bad line,
 * a bad expression a 400 naming it.
 */
import assert from "node:assert/strict";
import { freePort, startAgent, until } from "../helpers.ts";

const HOST = "127.0.0.63";
const enc = new TextEncoder();

type Rendered = Array<{ target: string; datapoints: Array<[number | null, number]> }>;

Deno.test("agent: tagged points in, seriesByTag, aliasByTags, groupByTags and /tags out", async () => {
  const [sp, gp] = [freePort(HOST), freePort(HOST)];
  const a = await startAgent({
    name: "tags1",
    addr: HOST,
    params: {
      statsd: { enabled: true, port: sp, bind: HOST, interval: 1 },
      graphite: { enabled: true, port: gp, bind: HOST },
      metrics: { flush_interval: "200ms" },
    },
  });
  try {
    const now = Math.floor(Date.now() / 1000);
    const t = now - 20;
    const conn = await Deno.connect({ hostname: HOST, port: gp });
    await conn.write(enc.encode(
      [
        `cpu;host=web1;dc=dc1 1 ${t}`,
        `cpu;dc=dc1;host=web2 2 ${t}`,
        `cpu;host=db1;dc=dc2 4 ${t}`,
        `mem;dc=dc1;host=web1 100 ${t}`,
        `cpu;host=~bad 9 ${t}`,
        `plain.name 5 ${t}`,
      ].join("\n") + "\n",
    ));
    conn.close();
    const udp = Deno.listenDatagram({ hostname: HOST, port: 0, transport: "udp" });
    await udp.send(enc.encode("api.hits;env=prod;dc=dc1:3|c\napi.hits;dc=dc1;env=prod:2|c"), {
      hostname: HOST,
      port: sp,
      transport: "udp",
    });
    udp.close();
    const base = `http://${HOST}:${a.port}`;
    await until(
      "the tagged series",
      async () => {
        const names = await (await fetch(`${base}/metrics/index.json`)).json() as string[];
        return names.includes("mem;dc=dc1;host=web1") &&
          names.includes("stats.gauges.api.hits.count;dc=dc1;env=prod");
      },
      10_000,
      100,
    );
    const render = async (target: string) => {
      const res = await fetch(`${base}/render?${new URLSearchParams({ target, from: "-2min" })}`);
      assert.equal(res.status, 200, `${target}: ${await res.clone().text()}`);
      return (await res.json() as Rendered).map((
        s,
      ) => [s.target, s.datapoints.find(([v]) => v !== null)?.[0]]);
    };
    assert.deepEqual(await render("seriesByTag('name=cpu', 'dc=dc1')"), [
      ["cpu;dc=dc1;host=web1", 1],
      ["cpu;dc=dc1;host=web2", 2],
    ]);
    assert.deepEqual(await render("aliasByTags(seriesByTag('host=~web'), 'name', 'host')"), [
      ["cpu.web1", 1],
      ["cpu.web2", 2],
      ["mem.web1", 100],
    ]);
    assert.deepEqual(await render("groupByTags(seriesByTag('name=cpu'), 'sum', 'dc')"), [
      ["cpu;dc=dc1", 3],
      ["cpu;dc=dc2", 4],
    ]);
    assert.deepEqual(await render("sumSeries(seriesByTag('name=stats.gauges.api.hits.count'))"), [
      ["sumSeries(seriesByTag('name=stats.gauges.api.hits.count'))", 5],
    ]);
    // a glob does not reach tagged series; the finder tree does not show them
    assert.deepEqual(await render("*.*"), [["plain.name", 5]]);
    const values = await (await fetch(`${base}/tags/autoComplete/values?tag=host&expr=name%3Dcpu`)).json();
    assert.deepEqual(values, ["db1", "web1", "web2"]);
    const found = await (await fetch(`${base}/tags/findSeries?expr=env%3Dprod`)).json();
    assert.deepEqual(found, [
      "stats.gauges.api.hits.count;dc=dc1;env=prod",
      "stats.gauges.api.hits.rate;dc=dc1;env=prod",
    ]);
    const bad = await fetch(`${base}/render?target=${encodeURIComponent("seriesByTag('dc!=dc1')")}`);
    assert.equal(bad.status, 400);
    assert.match(
      (await bad.json()).error,
      /seriesByTag: At least one tagspec must not match the empty string/,
    );
    const info = await (await fetch(`${base}/agent/info`)).json() as Record<string, Record<string, unknown>>;
    assert.equal(info.graphite.bad_lines, 1);
    assert.match(
      String(info.graphite.last_bad),
      /invalid tags: Tag values are not allowed to start with "~"/,
    );
  } finally {
    await a.stop();
    Deno.removeSync(a.dir, { recursive: true });
  }
});

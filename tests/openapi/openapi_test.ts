/**
 * The API describes itself: every route the running agent answers is in /api/openapi.json and
 * every documented operation is one it answers; wrong methods get 405, missing objects JSON 404,
 * and /metrics has HELP/TYPE on every family, process metrics and per-route histograms.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Agent } from "../../lib/agent.ts";
import { resolveConfig } from "../../lib/config/mod.ts";
import { openApiPath } from "../../lib/openapi/mod.ts";
import { Counters } from "../../lib/counters.ts";
import { freePort, tempDir } from "../helpers.ts";

const HOST = "127.0.0.64";

Deno.test("Hono path patterns become OpenAPI path templates", () => {
  assert.deepEqual(openApiPath("/kv/:key{.+}"), { path: "/kv/{key}", params: ["key"] });
  assert.deepEqual(openApiPath("/agent/keys/:op{install|use|remove}"), {
    path: "/agent/keys/{op}",
    params: ["op"],
  });
  assert.deepEqual(openApiPath("/agent/info"), { path: "/agent/info", params: [] });
});

Deno.test("counters render HELP and TYPE for every family and histograms with cumulative buckets", () => {
  const c = new Counters();
  c.inc("things_total");
  c.set("level", 3);
  c.observe("lat_seconds", 0.003, { route: "/x" });
  c.observe("lat_seconds", 20, { route: "/x" });
  const text = c.render();
  for (const fam of ["things_total", "level", "lat_seconds"]) {
    assert.match(text, new RegExp(`^# HELP kunai_${fam} `, "m"));
    assert.match(text, new RegExp(`^# TYPE kunai_${fam} `, "m"));
  }
  assert.match(text, /^# TYPE kunai_things_total counter$/m);
  assert.match(text, /^# TYPE kunai_level gauge$/m);
  assert.match(text, /^kunai_lat_seconds_bucket\{route="\/x",le="0.001"\} 0$/m);
  assert.match(text, /^kunai_lat_seconds_bucket\{route="\/x",le="0.005"\} 1$/m);
  assert.match(text, /^kunai_lat_seconds_bucket\{route="\/x",le="10"\} 1$/m);
  assert.match(text, /^kunai_lat_seconds_bucket\{route="\/x",le="\+Inf"\} 2$/m);
  assert.match(text, /^kunai_lat_seconds_count\{route="\/x"\} 2$/m);
});

Deno.test({
  name:
    "a running agent documents exactly the routes it serves, answers 405 and JSON 404s, and has full /metrics",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const t = tempDir("kunai-openapi-");
    const cfgDir = join(t.dir, "etc");
    Deno.mkdirSync(cfgDir);
    const port = freePort(HOST);
    Deno.writeTextFileSync(
      join(cfgDir, "local.json"),
      JSON.stringify({
        name: "oa",
        bind: HOST,
        addr: HOST,
        port,
        data: join(t.dir, "data"),
        log: join(t.dir, "log"),
        lock: join(t.dir, "kunai.pid"),
        socket: join(t.dir, "kunai.sock"),
        bootstrap: true,
      }),
    );
    const config = resolveConfig({ cfgDir, env: { HOME: t.dir } });
    const agent = new Agent({ config, stderrLogs: false });
    await agent.start();
    const base = `http://${HOST}:${port}`;
    try {
      const doc = await (await fetch(`${base}/api/openapi.json`)).json();
      assert.equal(doc.openapi, "3.1.0");
      const documented = new Set<string>();
      for (
        const [, ops] of Object.entries(doc.paths as Record<string, Record<string, { [k: string]: unknown }>>)
      ) {
        for (const [m, op] of Object.entries(ops)) {
          documented.add(`${m.toUpperCase()} ${op["x-kunai-route"]}`);
        }
      }
      const served = new Set(
        agent.http!.app!.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path}`),
      );
      const undocumented = [...served].filter((k) => !documented.has(k));
      const phantom = [...documented].filter((k) => !served.has(k));
      assert.deepEqual(undocumented, [], "served but not documented");
      assert.deepEqual(phantom, [], "documented but not served");
      assert.ok(documented.has("GET /ws"));
      assert.ok(documented.has("GET /api/openapi.json"));
      assert.equal(doc.paths["/api/openapi.json"].get["x-kunai-access"], "read");
      // graphite-web's events API (Grafana annotations): the read and the write side
      assert.equal(doc.paths["/events/get_data"].get["x-kunai-access"], "read");
      assert.equal(doc.paths["/events/"].get["x-kunai-access"], "read");
      assert.equal(doc.paths["/events/"].post["x-kunai-access"], "write");

      const routes = await (await fetch(`${base}/api/routes`)).json();
      assert.equal(routes.length, documented.size);

      // wrong method: 405 with Allow, not 404
      const r405 = await fetch(`${base}/agent/info`, { method: "DELETE" });
      assert.equal(r405.status, 405);
      assert.match(r405.headers.get("allow") ?? "", /GET/);
      assert.equal((await r405.json()).error, "method not allowed");
      const r404 = await fetch(`${base}/no/such/route`);
      assert.equal(r404.status, 404);
      assert.equal((await r404.json()).error, "not found");
      // missing objects: JSON 404
      for (const p of ["/collectors/nope", "/state/services/nope"]) {
        const r = await fetch(base + p);
        assert.equal(r.status, 404, p);
        assert.match((await r.json()).error, /not found/, p);
      }

      // methods a client invents are counted as `other`, not one series each
      for (const m of ["FOO1", "FOO2"]) {
        await (await fetch(`${base}/no/such/route`, { method: m })).body?.cancel();
      }
      const metrics = await (await fetch(`${base}/metrics`)).text();
      assert.doesNotMatch(metrics, /method="FOO/);
      assert.match(
        metrics,
        /^kunai_http_route_requests_total\{method="other",route="\(unmatched\)",code="\d+"\} 2$/m,
      );
      const families = new Set(
        metrics.split("\n").filter((l) => l && !l.startsWith("#")).map((l) =>
          l.replace(/[{ ].*$/, "").replace(/_(bucket|sum|count)$/, "")
        ),
      );
      for (const f of families) {
        assert.match(metrics, new RegExp(`^# HELP ${f} `, "m"), `HELP for ${f}`);
        assert.match(metrics, new RegExp(`^# TYPE ${f} `, "m"), `TYPE for ${f}`);
      }
      assert.match(metrics, /^kunai_process_resident_memory_bytes \d+/m);
      assert.match(metrics, /^kunai_process_cpu_seconds_total [\d.]+/m);
      assert.match(metrics, /^kunai_process_open_fds \d+/m);
      assert.match(metrics, /^kunai_event_loop_lag_seconds [\d.e-]+/m);
      assert.match(
        metrics,
        /^kunai_http_route_requests_total\{method="GET",route="\/api\/openapi.json",code="200"\} 1$/m,
      );
      assert.match(metrics, /^kunai_http_request_duration_seconds_count\{route="\/api\/openapi.json"\} 1$/m);
      assert.match(
        metrics,
        /^kunai_http_route_requests_total\{method="DELETE",route="\(unmatched\)",code="405"\} 1$/m,
      );
    } finally {
      await agent.stop("test");
      t.cleanup();
    }
  },
});

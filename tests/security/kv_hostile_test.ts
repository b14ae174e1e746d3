/**
 * A hostile-input pass over the KV routes and the KV peer decoders: malformed, oversized,
 * negative, non-integer and out-of-range values in every field of every message and query
 * parameter get a 4xx (never a 500 or a hang), and the node keeps working afterwards.
 */
import assert from "node:assert/strict";
import { seededRandom } from "../../lib/transport/mod.ts";
import { KV_MESSAGES } from "../../lib/kv/mod.ts";
import { kvApp } from "./kv_helpers.ts";

const NASTY: unknown[] = [
  null,
  true,
  -1,
  1.5,
  2 ** 53,
  2 ** 53 - 2,
  1e308,
  "",
  "x".repeat(5000),
  "../..",
  "a\u0000b",
  [],
  [1, 2],
  {},
  { modify_index: -1, origin: 3 },
  Array(1100).fill("k"),
];

const FIELDS = [
  "writes",
  "items",
  "keys",
  "key",
  "prefix",
  "index",
  "wait_ms",
  "values",
  "since",
  "epoch",
  "for",
  "limit",
  "record",
  "op",
  "value",
  "ttl_ms",
  "flags",
  "cas",
  "deadline",
  "prev",
  "replace_if",
];

Deno.test("garbage in every KV peer message field gets a 4xx, never a 500", async () => {
  const t = await kvApp();
  const rng = seededRandom(7);
  const pick = <T>(a: T[]) => a[Math.floor(rng() * a.length)];
  try {
    const bodies: unknown[] = ["not json", "[]", "null", "42", '"s"', "{"];
    for (let i = 0; i < 300; i++) {
      const b: Record<string, unknown> = {};
      for (let j = 0; j < 1 + Math.floor(rng() * 3); j++) b[pick(FIELDS)] = pick(NASTY);
      // nested: one item of a batch with nasty fields
      if (rng() < 0.5) {
        const item: Record<string, unknown> = { op: "put", key: "k", record: {} };
        item[pick(FIELDS)] = pick(NASTY);
        b[pick(["writes", "items"])] = [item];
      }
      bodies.push(b);
    }
    let n = 0;
    for (const body of bodies) {
      for (const kind of KV_MESSAGES) {
        const r = await t.peer(kind, typeof body === "string" ? body : body);
        // 503 is the one legitimate refusal: an asker that is not on our ring yet
        const fine = r.status < 500 || (kind === "changed" && r.status === 503);
        assert.ok(
          fine,
          `${kind} ${JSON.stringify(body).slice(0, 200)} -> ${r.status} ${JSON.stringify(r.json)}`,
        );
        n++;
      }
    }
    assert.ok(n > 1500);
    const w = await t.req("/kv/still/works", { method: "PUT", body: "yes" });
    assert.equal(w.status, 200);
    assert.ok(Number(w.headers.get("x-kunai-index")) < 2 ** 52);
  } finally {
    await t.close();
  }
});

Deno.test("out-of-range query parameters on the KV routes get a 400", async () => {
  const t = await kvApp();
  try {
    await t.req("/kv/k", { method: "PUT", body: "v" });
    const bad: Array<[string, RequestInit?]> = [
      ["/kv/k?index=99999999999999999"],
      ["/kv/k?index=-1"],
      ["/kv/k?index=1e5"],
      ["/kv/k?index=1&wait=forever"],
      ["/kv/?prefix=a/../b"],
      ["/kv/k?ttl=2600000000h", { method: "PUT", body: "v" }],
      ["/kv/k?ttl=-5s", { method: "PUT", body: "v" }],
      ["/kv/k?flags=4294967296", { method: "PUT", body: "v" }],
      ["/kv/k?flags=-1", { method: "PUT", body: "v" }],
      ["/kv/k?cas=9007199254740993", { method: "PUT", body: "v" }],
      ["/kv/k?cas=x", { method: "DELETE" }],
      ["/kv/%ZZ", { method: "PUT", body: "v" }],
      ["/kv/a%00b", { method: "PUT", body: "v" }],
    ];
    for (const [path, init] of bad) {
      const r = await t.req(path, init);
      assert.equal(r.status, 400, `${init?.method ?? "GET"} ${path}: ${await r.text()}`);
    }
    // a huge wait is bounded (answered at 10 min, not never): the blocking read resolves on time
    const blocked = t.req("/kv/k?index=99999999999&wait=99999999h");
    await t.clock.advance(10 * 60_000 + 1);
    assert.equal((await blocked).status, 200);
  } finally {
    await t.close();
  }
});

Deno.test("KV writes over TCP without the token are refused; reads stay open", async () => {
  const t = await kvApp();
  try {
    for (const [method, path] of [["PUT", "/kv/k"], ["DELETE", "/kv/k"], ["PUT", "/kv/"]]) {
      const r = await t.tcp(path, { method, body: method === "PUT" ? "v" : undefined });
      // no http.token set: writes over TCP are closed (403 naming http.token)
      assert.equal(r.status, 403, `${method} ${path}`);
      assert.match((await r.json()).error, /http\.token/);
    }
    assert.equal((await t.tcp("/kv/")).status, 200);
    assert.equal((await t.tcp("/kv/k")).status, 404);
    const routes = t.kv.routes().routes;
    for (const r of routes) {
      const want = r.path.startsWith("/kv-internal/") ? "peer" : r.method === "GET" ? "read" : "write";
      assert.equal(r.access, want, `${r.method} ${r.path}`);
    }
  } finally {
    await t.close();
  }
});

/**
 * Issue 10, hole 6 and KV peer traffic: `/kv-internal/apply` accepted a record with an invalid key
 * and `modify_index` 2^53−2, after which every write of that node got the same index. Replicated
 * and forwarded writes are now checked like client writes (key, size, TTL, no index from the
 * future), and with a key every KV peer message is sealed: an unsealed or replayed one gets 401.
 */
import assert from "node:assert/strict";
import { Keyring, PeerEnvelope } from "../../lib/transport/mod.ts";
import { kvApp } from "./kv_helpers.ts";
import { MAX_TTL_MS } from "../../lib/kv/mod.ts";

const KEY = btoa("0123456789abcdef0123456789abcdef");

function record(key: string, modify_index: number, extra: Record<string, unknown> = {}) {
  return {
    key,
    value: btoa("evil"),
    flags: 0,
    modify_index,
    origin: "f".repeat(40),
    modify_time: Date.now(),
    expires: 0,
    deleted: false,
    ...extra,
  };
}

Deno.test("replicated records with a bad key or an index near 2^53 or from the future are refused", async () => {
  const t = await kvApp();
  try {
    const now = t.clock.now();
    const bad = [
      record("a/../b", now * 1000),
      record("ctl\u0001", now * 1000),
      record("", now * 1000),
      record("big", 2 ** 53 - 2),
      record("future", (now + 3_600_000) * 1000),
      record("neg", -5),
      record("frac", 1.5),
      record("ttl", now * 1000, { expires: 9_360_000_000_000_000 }),
      // within the bounds of any stored row, but further ahead than the longest ttl allows
      record("ttl2", now * 1000, { expires: now + 60_000 + MAX_TTL_MS + 1 }),
      record("time", now * 1000, { modify_time: now + 3_600_000 }),
      record("flags", now * 1000, { flags: 2 ** 40 }),
      record("origin", now * 1000, { origin: "x".repeat(500) }),
    ];
    for (const rec of bad) {
      const r = await t.peer("apply", { items: [{ record: rec }] });
      assert.equal(r.status, 400, `${rec.key}: ${JSON.stringify(r.json)}`);
    }
    assert.deepEqual(await (await t.req("/kv/")).json(), [], "nothing was stored");
    const w = await t.req("/kv/x", { method: "PUT", body: "1" });
    const idx = Number(w.headers.get("x-kunai-index"));
    assert.ok(idx < (now + 60_000) * 1000, `index ${idx} stays on our clock`);
    const w2 = await t.req("/kv/y", { method: "PUT", body: "1" });
    assert.notEqual(Number(w2.headers.get("x-kunai-index")), idx, "writes get distinct indexes");
    // a first anti-entropy pull (no mark yet: empty epoch) is a sound message
    const pull = await t.peer("changed", { since: 0, epoch: "", for: t.ctx.node.uuid, limit: 10 });
    assert.equal(pull.status, 200, JSON.stringify(pull.json));
    // one not on our ring would get nothing yet move its mark past our records: refused
    const stranger = await t.peer("changed", { since: 0, epoch: "", for: "e".repeat(40), limit: 10 });
    assert.equal(stranger.status, 503, JSON.stringify(stranger.json));
    assert.match((stranger.json as { error: string }).error, /not on this node's kv ring/);
    // a sound record replicates
    const ok = await t.peer("apply", { items: [{ record: record("good", now * 1000) }] });
    assert.equal(ok.status, 200);
    assert.equal(await (await t.req("/kv/good?raw")).text(), "evil");
  } finally {
    await t.close();
  }
});

Deno.test("forwarded writes are checked like client writes", async () => {
  const t = await kvApp();
  try {
    const r = await t.peer("writes", {
      writes: [
        { op: "put", key: "a/../b", value: btoa("x"), deadline: t.clock.now() + 1000 },
        { op: "put", key: "ttl", value: btoa("x"), ttl_ms: 9.36e15 },
        { op: "put", key: "flags", value: btoa("x"), flags: -1 },
        { op: "put", key: "cas", value: btoa("x"), cas: 2 ** 60 },
        { op: "delete", key: "" },
        { op: "drop", key: "x" },
        { op: "put", key: "ok", value: btoa("fine"), ttl_ms: 60_000 },
      ],
    });
    assert.equal(r.status, 200);
    const results = (r.json as { results: Array<{ status?: number; ok?: boolean }> }).results;
    assert.deepEqual(results.slice(0, 6).map((x) => x.status), [400, 400, 400, 400, 400, 400]);
    assert.equal(results[6].ok, true);
    assert.deepEqual(await (await t.req("/kv/")).json(), ["ok"]);
  } finally {
    await t.close();
  }
});

Deno.test("with a key, KV peer messages must be sealed, fresh and never replayed", async () => {
  const t = await kvApp({ key: KEY });
  try {
    const plain = await t.tcp("/kv-internal/reads", {
      method: "POST",
      body: JSON.stringify({ keys: ["x"] }),
    });
    assert.equal(plain.status, 401, "an unsealed message is refused");
    const body = new TextEncoder().encode(
      JSON.stringify({ items: [{ record: record("r", t.clock.now() * 1000) }] }),
    );
    const sealed = (await t.envelope.seal(body)) as Uint8Array<ArrayBuffer>;
    const first = await t.tcp("/kv-internal/apply", { method: "POST", body: sealed });
    assert.equal(first.status, 200);
    await first.body?.cancel();
    await t.req("/kv/r", { method: "DELETE" });
    const replay = await t.tcp("/kv-internal/apply", { method: "POST", body: sealed });
    assert.equal(replay.status, 401, "a replayed message is refused");
    assert.match((await replay.json()).error, /replay/);
    assert.equal((await t.req("/kv/r")).status, 404, "the replay did not bring the value back");
    // a message sealed 31 s ago is stale
    const old = (await t.envelope.seal(body)) as Uint8Array<ArrayBuffer>;
    await t.clock.advance(31_000);
    const stale = await t.tcp("/kv-internal/apply", { method: "POST", body: old });
    assert.equal(stale.status, 401);
    assert.match((await stale.json()).error, /stale/);
    assert.equal(t.envelope.dropped.replay, 1);
  } finally {
    await t.close();
  }
});

Deno.test("rotating the keyring covers KV peer traffic: a sender left on a removed key is refused", async () => {
  const t = await kvApp({ key: KEY });
  try {
    const NEW = btoa("fedcba9876543210fedcba9876543210");
    const sender = new PeerEnvelope(await Keyring.create([KEY]), { now: () => t.clock.now() });
    const send = async (env: PeerEnvelope) => {
      const body = await env.seal(new TextEncoder().encode(JSON.stringify({ keys: ["x"] })));
      const r = await t.tcp("/kv-internal/reads", { method: "POST", body: body as Uint8Array<ArrayBuffer> });
      await r.body?.cancel();
      return r.status;
    };
    assert.equal(await send(sender), 200);
    await t.envelope.keyring.install(NEW);
    t.envelope.keyring.use(NEW);
    assert.equal(await send(sender), 200, "the old key still opens while installed");
    t.envelope.keyring.remove(KEY);
    assert.equal(await send(sender), 401, "refused once the old key is removed");
    const rotated = new PeerEnvelope(await Keyring.create([NEW]), { now: () => t.clock.now() });
    assert.equal(await send(rotated), 200);
  } finally {
    await t.close();
  }
});

/**
 * The `reads` peer message (lib/kv/peer_server.ts): a few bytes of keys must not name megabytes of
 * values. A key named many times is read once, the answer is bounded before any value is encoded,
 * and the first key is always served (a value over the bound is read one key a message).
 */
import assert from "node:assert/strict";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { KvError } from "../../lib/kv/keys.ts";
import { peerServer, type PeerServerDeps, READS_ANSWER_MAX } from "../../lib/kv/peer_server.ts";
import type { KvRecord } from "../../lib/kv/record.ts";
import { PeerClient } from "../../lib/kv/peers.ts";
import type { RingNode } from "../../lib/kv/ring.ts";
import { type KvMessage, PeerRefused } from "../../lib/kv/transport.ts";

function serverWith(values: Record<string, number>, extra: Partial<KvRecord> = {}) {
  const lookups: string[] = [];
  const local = {
    record(key: string): KvRecord | null {
      lookups.push(key);
      const n = values[key];
      if (n === undefined) return null;
      return {
        key,
        value: new Uint8Array(n).fill(97),
        flags: 0,
        modify_index: 5,
        origin: "o",
        modify_time: 1,
        expires: 0,
        deleted: false,
        ...extra,
      };
    },
    currentIndex: () => 9,
  };
  const serve = peerServer({
    local,
    clock: new VirtualClock(1_000),
    cfg: { max_key_bytes: 512, max_value_bytes: 64 << 20, request_timeout: 5_000 },
  } as unknown as PeerServerDeps);
  return { serve, lookups };
}

type Answer = { results: Array<{ record: { value: string } | null; index: number }> };

Deno.test("kv reads: 1 024 names of one 35 KB value are refused 413 after one lookup, not answered", async () => {
  const { serve, lookups } = serverWith({ a: 35_000 });
  // 4 KB of message, ~47 MB of answer before the bound
  await assert.rejects(
    Promise.resolve(serve("reads", { keys: Array(1024).fill("a") })),
    (err: Error) => err instanceof KvError && err.status === 413 && /ask for fewer/.test(err.message),
  );
  assert.deepEqual(lookups, ["a"], "a key named many times is looked up once");
});

Deno.test("kv reads: a key named twice is answered at both places; a batch under the bound is served", async () => {
  const n = Math.floor(READS_ANSWER_MAX / 50_000); // ~3.8 MB of answer
  const values: Record<string, number> = {};
  for (let i = 0; i < n; i++) values[`k${i}`] = 35_000;
  const { serve } = serverWith(values);
  const keys = ["k0", "missing", "k0", ...Object.keys(values).slice(1)];
  const ans = await serve("reads", { keys }) as Answer;
  assert.equal(ans.results.length, keys.length);
  assert.equal(ans.results[0].record?.value.length, 46_668);
  assert.deepEqual(ans.results[2], ans.results[0]);
  assert.deepEqual(ans.results[1], { record: null, index: 9 });
  assert.equal(ans.results.at(-1)?.record?.value.length, 46_668);
});

Deno.test("kv reads: one value over the bound is served alone, refused with another key", async () => {
  const { serve } = serverWith({ huge: READS_ANSWER_MAX + 1, small: 10 });
  const one = await serve("reads", { keys: ["huge"] }) as Answer;
  assert.equal(one.results[0].record?.value.length, Math.ceil((READS_ANSWER_MAX + 1) / 3) * 4);
  await assert.rejects(
    Promise.resolve(serve("reads", { keys: ["small", "huge"] })),
    (err: Error) => err instanceof KvError && err.status === 413,
  );
});

/**
 * A PeerClient reading from `values` through an in-process transport (JSON both ways, as on the
 * wire) that counts messages and 413s; `oldServer`: a peer that answers no partial `reads`.
 */
function clientOf(values: Record<string, number>, oldServer = false) {
  const { serve } = serverWith(values);
  const seen = { messages: 0, refused413: 0 };
  const transport = {
    async call(peer: RingNode, kind: KvMessage, body: unknown) {
      seen.messages++;
      const b = JSON.parse(JSON.stringify(body));
      if (oldServer) delete b.partial;
      try {
        return JSON.parse(JSON.stringify(await serve(kind, b)));
      } catch (err) {
        if (!(err instanceof KvError)) throw err;
        if (err.status === 413) seen.refused413++;
        throw new PeerRefused(peer, err.status, { error: err.message });
      }
    },
  };
  const clock = new VirtualClock(1_000);
  const client = new PeerClient(transport, clock, 60_000);
  const peer: RingNode = { uuid: "p", name: "p", addr: "127.0.0.1", port: 1 };
  const readAll = (keys: string[]) => Promise.all(keys.map((k) => client.read(peer, k)));
  return { seen, readAll };
}

// ~1.6 MB of answer each: two fit in a message, a third passes READS_ANSWER_MAX
const LARGE = 1_200_000;

Deno.test("kv reads: large values come in as many messages as their answers need, none refused", async () => {
  const values: Record<string, number> = {};
  for (let i = 0; i < 24; i++) values[`big/${i}`] = LARGE;
  const { seen, readAll } = clientOf(values);
  const got = await readAll(Object.keys(values));
  assert.ok(got.every((r) => r.record?.value.length === LARGE));
  assert.equal(seen.refused413, 0, "a 413 is a message whose reads were all wasted");
  assert.equal(seen.messages, 12);
  // three large values first, then small ones: the two that fit, then the third with every small one
  const mixed: Record<string, number> = { "big/a": LARGE, "big/b": LARGE, "big/c": LARGE };
  for (let i = 0; i < 200; i++) mixed[`small/${i}`] = 100;
  const m = clientOf(mixed);
  const got2 = await m.readAll(Object.keys(mixed));
  assert.equal(got2.at(-1)?.record?.value.length, 100);
  assert.deepEqual(m.seen, { messages: 2, refused413: 0 });
});

Deno.test("kv reads: a peer that answers no partial reads is still read, in halves", async () => {
  const values: Record<string, number> = {};
  for (let i = 0; i < 8; i++) values[`big/${i}`] = LARGE;
  const { seen, readAll } = clientOf(values, true);
  const got = await readAll(Object.keys(values));
  assert.ok(got.every((r) => r.record?.value.length === LARGE));
  assert.ok(seen.refused413 > 0);
});

Deno.test("kv reads: a record stored late on that copy answers the index it is seen at there", async () => {
  const { serve } = serverWith({ a: 3 }, { local_index: 12 });
  const ans = await serve("reads", { keys: ["a"] }) as {
    results: Array<{ record: Record<string, unknown>; index: number }>;
  };
  assert.equal(ans.results[0].index, 12, "the index a blocking get of that copy answers too");
  assert.equal(ans.results[0].record.modify_index, 5, "its version is unchanged");
  assert.equal("local_index" in ans.results[0].record, false, "never sent as part of the record");
});

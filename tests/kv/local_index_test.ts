/**
 * A record stored at or below an index this copy's readers may have been shown is seen at a fresh
 * local index (KvRecord.local_index), so blocking reads given that index see the change.
 */
import assert from "node:assert/strict";
import { LocalReplica } from "../../lib/kv/local.ts";
import { fromListWire, fromWire, toListWire, toWire } from "../../lib/kv/record.ts";
import { KV_MIGRATIONS, KvStorage } from "../../lib/kv/storage.ts";
import { VirtualClock } from "../../lib/clock/mod.ts";
import { openDatabase } from "../../lib/store/mod.ts";
import { tempDir } from "../helpers.ts";
import { kvRecord } from "./kv_helpers.ts";

const T = 1_800_000_000_000;

function open(path: string, clock: VirtualClock) {
  const db = openDatabase(path, KV_MIGRATIONS);
  const storage = new KvStorage(db);
  const local = new LocalReplica(storage, clock);
  return { db, storage, local };
}

const keys = (r: { key: string }[]) => r.map((x) => x.key);

Deno.test("records stored late are seen past the indexes readers were shown, after a restart too", async () => {
  using t = tempDir("kv-late-");
  const clock = new VirtualClock(T);
  const { db, storage, local } = open(`${t.dir}/kv.db`, clock);
  // in order: stored at its own index, nothing more in the row
  assert.equal(local.apply(kvRecord("a/new", "1", T * 1000)), true);
  assert.equal(storage.getRecord("a/new")!.local_index, undefined);
  assert.equal(db.get<{ n: number }>("SELECT COUNT(*) AS n FROM kv WHERE local_index IS NOT NULL")!.n, 0);
  const shown = await local.list("a/", undefined, 0);
  assert.equal(shown.index, T * 1000);
  // a replicated write overtaken by a later one
  await clock.advance(10);
  assert.equal(local.apply(kvRecord("a/old", "0", T * 1000 - 5)), true);
  const late = storage.getRecord("a/old")!;
  assert.equal(late.modify_index, T * 1000 - 5, "its version is kept");
  assert.ok(late.local_index! > shown.index);
  const since = await local.list("a/", shown.index, 0);
  assert.deepEqual(keys(since.records), ["a/old"]);
  assert.equal(since.index, late.local_index);
  assert.equal((await local.get("a/old", undefined, 0)).index, late.local_index);

  // an expiry swept after a later write was shown: a listing given that index still sees it
  const leased = local.nextIndex();
  assert.equal(local.apply({ ...kvRecord("a/lease", "x", leased), expires: T + 1_000 }), true);
  assert.equal(storage.getRecord("a/lease")!.local_index, undefined);
  await clock.advance(1_490);
  assert.equal(local.apply(kvRecord("a/later", "y", local.nextIndex())), true);
  const afterLater = await local.list("a/", leased, 0);
  assert.deepEqual(keys(afterLater.records), ["a/later"], "the lease is past its expiry, not swept yet");
  assert.ok(afterLater.index > (T + 1_000) * 1000);
  const [swept] = storage.expire(clock.now());
  assert.equal(swept.key, "a/lease");
  const expired = await local.list("a/", afterLater.index, 0);
  assert.deepEqual(expired.records.map((r) => [r.key, r.deleted]), [["a/lease", true]]);
  assert.ok(expired.index > afterLater.index);

  // a restarted copy starts from the highest index it showed, and lists what came late the same way
  db.close();
  const again = open(`${t.dir}/kv.db`, clock);
  assert.equal(again.storage.maxIndex, expired.index);
  assert.equal(again.storage.getRecord("a/old")!.local_index, late.local_index);
  assert.deepEqual(keys(again.storage.scanPrefix("a/", { sinceIndex: shown.index })), [
    "a/later",
    "a/lease",
    "a/old",
  ]);
  assert.deepEqual(keys(again.storage.scanPrefix("a/", { sinceIndex: afterLater.index })), ["a/lease"]);
  // stored again in order (a newer version): the row forgets its local index
  assert.equal(again.local.apply(kvRecord("a/old", "2", again.local.nextIndex())), true);
  assert.equal(again.storage.getRecord("a/old")!.local_index, undefined);
  assert.equal(
    again.db.get<{ n: number }>("SELECT local_index AS n FROM kv WHERE key = 'a/old'")!.n,
    null,
  );
  again.db.close();
});

Deno.test("a write handed its index before a reader was answered is seen past that answer", async () => {
  using t = tempDir("kv-late-");
  const clock = new VirtualClock(T);
  const { db, storage, local } = open(`${t.dir}/kv.db`, clock);
  // a coordinator stamps a write (a CAS waits a round trip before storing it)...
  const stamped = local.nextIndex();
  // ...and a listing meanwhile answers the index of that write
  const shown = await local.list("k", undefined, 0);
  assert.equal(shown.index, stamped);
  assert.equal(local.apply(kvRecord("k", "v", stamped)), true);
  const since = await local.list("k", shown.index, 0);
  assert.deepEqual(keys(since.records), ["k"], "the listing given that index sees the write");
  assert.ok(storage.getRecord("k")!.local_index! > stamped);
  db.close();
});

Deno.test("a record below the index a blocking read asked with (another node's) wakes it", async () => {
  using t = tempDir("kv-late-");
  const clock = new VirtualClock(T);
  const { db, local } = open(`${t.dir}/kv.db`, clock);
  local.apply(kvRecord("p/a", "1", (T - 60_000) * 1000));
  // a listing elsewhere answered an index past everything stored here
  const asked = (T - 1_000) * 1000;
  let woke: { records: { key: string }[]; index: number } | null = null;
  local.list("p/", asked, 60_000).then((r) => woke = r);
  await clock.advance(10);
  // a write from before that index reaches this copy only now
  assert.equal(local.apply(kvRecord("p/b", "2", (T - 2_000) * 1000)), true);
  await clock.advance(10);
  assert.ok(woke, "woken by the record, not at the wait");
  const w = woke as { records: { key: string }[]; index: number };
  assert.deepEqual(keys(w.records), ["p/b"]);
  assert.ok(w.index > asked);
  local.close();
  db.close();
});

Deno.test("an expiry a read notices after later writes were shown is answered past them", async () => {
  using t = tempDir("kv-late-");
  const clock = new VirtualClock(T);
  const { db, local } = open(`${t.dir}/kv.db`, clock);
  local.apply({ ...kvRecord("lease", "x", local.nextIndex()), expires: T + 1_000 });
  await clock.advance(1_490);
  local.apply(kvRecord("other", "y", local.nextIndex()));
  const shown = await local.list("", undefined, 0);
  assert.ok(shown.index > (T + 1_000) * 1000, "a write after the expiry time was shown");
  // no sweep yet: the read turns the lease into its tombstone
  const g = await local.get("lease", undefined, 0);
  assert.equal(g.record?.deleted, true);
  assert.ok(g.index > shown.index, `the key's index ${g.index} moved past ${shown.index}`);
  const onKey = await local.get("lease", shown.index, 0);
  assert.equal(onKey.index, g.index);
  db.close();
});

Deno.test("a listing's answer carries a record's local index; one out of bounds is left out", () => {
  const rec = { ...kvRecord("k", "v", 5), local_index: 9 };
  const wire = toListWire(rec);
  assert.equal(wire.local_index, 9);
  assert.equal("local_index" in toWire(rec), false, "replication never sends it");
  assert.equal(fromListWire(JSON.parse(JSON.stringify(wire))).local_index, 9);
  for (const bad of [2 ** 52 + 1, 2 ** 53, -1, 0, 1.5, "9", null]) {
    assert.equal(fromListWire({ ...wire, local_index: bad }).local_index, undefined, `${bad}`);
  }
  assert.equal(fromWire(wire).local_index, undefined, "an agent's own records parse without it");
});

/**
 * kv.db's checkpoints in a Worker (lib/kv/checkpointer.ts): the WAL is copied back off the agent's
 * thread and starts over under a steady stream of group commits, held commits land, the Worker
 * stops when idle and comes back, and the data survives.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { KV_CACHE_KIB, KV_PAGE_SIZE, openDatabase } from "../../lib/store/mod.ts";
import { KV_MIGRATIONS, KvStorage } from "../../lib/kv/storage.ts";
import { LocalReplica } from "../../lib/kv/local.ts";
import { Checkpointer, checkpointPermissions } from "../../lib/kv/checkpointer.ts";
import { SandboxWorker } from "../../lib/sandbox/mod.ts";
import { silentLogger } from "../../lib/log/mod.ts";
import type { KvRecord } from "../../lib/kv/record.ts";
import { RealClock } from "../../lib/clock/mod.ts";
import { tempDir } from "../helpers.ts";

const value = new TextEncoder().encode("v".repeat(900));
let index = 1;
const rec = (key: string): KvRecord => ({
  key,
  value,
  flags: 0,
  modify_index: index++,
  origin: "n",
  modify_time: Date.now(),
  expires: 0,
  deleted: false,
});

const walBytes = (path: string) => {
  try {
    return Deno.statSync(path + "-wal").size;
  } catch {
    return 0;
  }
};

Deno.test("kv checkpoints: a Worker copies the WAL back and lets it start over under steady group commits", async () => {
  const t = tempDir("kv-ckpt-");
  const path = `${t.dir}/kv.db`;
  const db = openDatabase(path, KV_MIGRATIONS, KV_CACHE_KIB, KV_PAGE_SIZE);
  const s = new KvStorage(db);
  const errors: string[] = [];
  // SQLite's own checkpoint out of the way (1 GiB): only the Worker can let the log start over
  const cp = s.checkpointInBackground((m) => errors.push(m), {
    startCommitsPerSecond: 1,
    intervalMs: 20,
    restartBytes: 256 * 1024,
    fallbackBytes: 1024 ** 3,
  });
  assert.ok(cp);
  const local = new LocalReplica(s, new RealClock());
  try {
    await local.applyGrouped(rec("first"));
    for (let i = 0; i < 1000 && cp.stats.checkpoints === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(cp.stats.running, true, "the first commit started the Worker");
    // ~6 000 writes of ~1 KB (6 MB of records, many more WAL frames), 20 per group commit, one group
    // after the other while the Worker checkpoints beside them
    let maxWal = 0;
    for (let b = 0; b < 300; b++) {
      const out = await Promise.all(
        Array.from({ length: 20 }, (_, i) => local.applyGrouped(rec(`k${b}-${i}`))),
      );
      assert.ok(out.every((x) => x === true), "every write stored");
      maxWal = Math.max(maxWal, walBytes(path));
      await new Promise((r) => setTimeout(r, 1)); // a steady stream, not one burst the Worker cannot see
      if (b % 20 === 19) {
        // and one the Worker keeps up with however loaded the box: a checkpoint every 400 writes
        const seen = cp.stats.checkpoints;
        for (let i = 0; i < 200 && cp.stats.checkpoints === seen; i++) {
          await new Promise((r) => setTimeout(r, 10));
        }
      }
    }
    const st = s.checkpointStats()!;
    assert.ok(st.checkpoints >= 3, `checkpoints in the Worker: ${JSON.stringify(st)}`);
    assert.ok(st.holds >= 1, `group commits were held to let the log start over: ${JSON.stringify(st)}`);
    assert.ok(st.restarts >= 1, `the Worker's own write started the log over: ${JSON.stringify(st)}`);
    // ~9 MB of log without a restart (measured); with them ~0.55 MB, a few times the restart size
    assert.ok(maxWal < 4 * 1024 * 1024, `WAL peaked at ${maxWal} bytes: ${JSON.stringify(st)}`);
    assert.deepEqual(errors, []);
  } finally {
    await s.stopCheckpoints();
    db.close();
  }
  // everything is there, in a sound file
  const check = new DatabaseSync(path);
  try {
    assert.equal(
      (check.prepare("PRAGMA integrity_check").get() as { integrity_check: string }).integrity_check,
      "ok",
    );
    assert.equal((check.prepare("SELECT COUNT(*) AS n FROM kv").get() as { n: number }).n, 6001);
  } finally {
    check.close();
    t.cleanup();
  }
});

Deno.test("kv checkpoints: the Worker starts with a busy second, stops when the store is idle, and comes back", async () => {
  const t = tempDir("kv-ckpt-idle-");
  const db = openDatabase(`${t.dir}/kv.db`, KV_MIGRATIONS, KV_CACHE_KIB, KV_PAGE_SIZE);
  const s = new KvStorage(db);
  const autockpt = () =>
    (db.get<{ wal_autocheckpoint: number }>("PRAGMA wal_autocheckpoint")!).wal_autocheckpoint;
  const own = autockpt();
  // SQLite's own checkpoint size each time the Worker starts (true) or stops (false)
  const seen: Array<[boolean, number]> = [];
  const cp = s.checkpointInBackground(() => {}, {
    intervalMs: 10,
    idleStopMs: 50,
    startCommitsPerSecond: 5,
    onWorker: (running) => seen.push([running, autockpt()]),
  })!;
  const local = new LocalReplica(s, new RealClock());
  const waitFor = async (what: string, ok: () => boolean) => {
    for (let i = 0; i < 1000 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(ok(), what);
  };
  try {
    for (let i = 0; i < 4; i++) await local.applyGrouped(rec(`a${i}`));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(cp.stats.starts, 0, "four commits in a second: no Worker, SQLite checkpoints as before");
    await local.applyGrouped(rec("a4"));
    await waitFor(
      "the fifth commit within a second starts the Worker and a checkpoint runs",
      () => cp.stats.checkpoints >= 1,
    );
    await waitFor("idle: the Worker stops", () => !cp.stats.running);
    for (let i = 0; i < 5; i++) await local.applyGrouped(rec(`b${i}`));
    await waitFor("a busy second brings it back", () => cp.stats.starts === 2 && cp.stats.checkpoints >= 2);
    await waitFor("and it stops again", () => !cp.stats.running);
    assert.deepEqual(
      seen,
      [[true, own * 4], [false, own], [true, own * 4], [false, own]],
      "SQLite's own checkpoint is only a net while the Worker runs",
    );
    assert.equal(s.getRecord("b4")?.key, "b4");
  } finally {
    await s.stopCheckpoints();
    assert.equal(cp.stats.running, false, "stopped with the store");
    db.close();
    t.cleanup();
  }
});

Deno.test("kv checkpoints: none for an in-memory store", () => {
  const mem = openDatabase(":memory:", KV_MIGRATIONS);
  assert.equal(new KvStorage(mem).checkpointInBackground(() => {}), null);
  mem.close();
});

Deno.test("kv checkpoints: a Worker that cannot open the database is told once and retried only after a pause", async () => {
  const errors: string[] = [];
  const cp = new Checkpointer("/nonexistent-kunai-dir/kv.db", 1024, (m) => errors.push(m), {
    startCommitsPerSecond: 1,
    intervalMs: 1,
  });
  try {
    cp.committed();
    for (let i = 0; i < 500 && cp.stats.failures === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(cp.stats.failures, 1);
    assert.equal(errors.length, 1);
    assert.match(errors[0], /^kv checkpoint: .*(unable to open|no such|not found|denied)/i);
    assert.equal(cp.stats.running, false, "the failed Worker is gone");
    for (let i = 0; i < 5; i++) {
      cp.committed();
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(cp.stats.starts, 1, "no new Worker within the pause");
  } finally {
    await cp.close();
  }
});

Deno.test("kv checkpoints: the Worker may touch kv.db and its -wal/-shm, not the rest of the data dir", async () => {
  using t = tempDir("kv-ckpt-");
  const path = `${t.dir}/kv.db`;
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL; CREATE TABLE t (v BLOB); INSERT INTO t VALUES (randomblob(10000))");
  Deno.writeTextFileSync(`${t.dir}/keyring.json`, '{"keys": ["secret"]}');
  Deno.writeTextFileSync(`${t.dir}/checks.db`, "x");
  const w = new SandboxWorker({
    name: "kv-checkpoint-probe",
    module: new URL("./probe_checkpoint_worker.ts", import.meta.url),
    permissions: checkpointPermissions(path),
  }, silentLogger);
  try {
    const got = await w.call<Record<string, string>>("probe", {
      paths: [`${t.dir}/keyring.json`, `${t.dir}/checks.db`, path],
    });
    assert.deepEqual(got, {
      [`${t.dir}/keyring.json`]: "NotCapable",
      [`${t.dir}/checks.db`]: "NotCapable",
      [path]: "allowed",
    });
    // with these permissions SQLite opens the database, its log and its shared memory, and checkpoints
    const row = await w.call<{ busy: number; log: number; checkpointed: number }>("checkpoint", { path });
    assert.equal(row.busy, 0, JSON.stringify(row));
    assert.ok(row.log > 0 && row.checkpointed === row.log, JSON.stringify(row));
  } finally {
    w.terminate();
    db.close();
  }
});

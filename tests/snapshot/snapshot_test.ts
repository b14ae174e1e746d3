import assert from "node:assert/strict";
import { join } from "node:path";
import { Store } from "../../lib/store/mod.ts";
import { readManifest, restoreSnapshot, saveSnapshot, SnapshotError } from "../../lib/snapshot/mod.ts";
import { freePort, runKunai, startAgent, tempDir, until } from "../helpers.ts";
import { lockHolder } from "../../lib/lockfile.ts";
import { isDirectory, pathExists } from "../../lib/fs/mod.ts";
import { METRICS_MIGRATIONS } from "../../lib/metrics/mod.ts";
import { openDatabase } from "../../lib/store/mod.ts";
import { DatabaseSync } from "node:sqlite";

const MIG = [{ version: 1, sql: "CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT)" }];

function seed(dir: string, rows: number): Store {
  const store = new Store(dir);
  for (const name of ["kv", "metrics", "checks"]) {
    const db = store.open(name, MIG);
    db.transaction(() => {
      for (let i = 0; i < rows; i++) db.run("INSERT INTO t VALUES (?, ?)", `${name}${i}`, "x".repeat(100));
    });
  }
  return store;
}

Deno.test("snapshot: save, then restore into a fresh data dir; every row is there", async () => {
  const src = tempDir(), dst = tempDir();
  try {
    const store = seed(src.dir, 500);
    const file = join(src.dir, "a.snap");
    const m = await saveSnapshot(store, file, { node: "n1", uuid: "u1" });
    assert.deepEqual(m.parts.map((p) => p.name), ["kv", "metrics", "checks"]);
    store.closeAll();
    const restored = await restoreSnapshot(file, {
      dataDir: join(dst.dir, "data"),
      lockFile: join(dst.dir, "kunai.pid"),
    });
    assert.equal(restored.node, "n1");
    assert.deepEqual(
      [...Deno.readDirSync(join(dst.dir, "data"))].map((e) => e.name).sort(),
      ["checks.db", "kv.db", "metrics.db"],
      "nothing left of the parts' checks (their -wal and -shm)",
    );
    for (const name of ["kv", "metrics", "checks"]) {
      const db = openDatabase(join(dst.dir, "data", `${name}.db`), MIG);
      assert.equal(db.get<{ n: number }>("SELECT COUNT(*) AS n FROM t")!.n, 500);
      db.close();
    }
    assert.throws(
      () => Deno.statSync(join(dst.dir, "kunai.pid")),
      Deno.errors.NotFound,
      "the lock is released",
    );
  } finally {
    src.cleanup();
    dst.cleanup();
  }
});

Deno.test("snapshot restore keeps the replaced database whole, its WAL included, and never overwrites an earlier copy", async () => {
  const src = tempDir(), dst = tempDir();
  try {
    const store = seed(src.dir, 50);
    const file = join(src.dir, "a.snap");
    await saveSnapshot(store, file, { node: "n1", uuid: "u1" });
    store.closeAll();
    // the live kv.db of an agent killed -9: its last commits are in the WAL only
    const data = join(dst.dir, "data");
    Deno.mkdirSync(data);
    const live = new DatabaseSync(join(data, "kv.db"));
    live.exec("PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE mine (n INTEGER)");
    for (let i = 0; i < 123; i++) live.exec(`INSERT INTO mine VALUES (${i})`);
    assert.ok(Deno.statSync(join(data, "kv.db-wal")).size > 0);
    const crashed = join(dst.dir, "crashed");
    Deno.mkdirSync(crashed);
    for (const f of ["kv.db", "kv.db-wal"]) Deno.copyFileSync(join(data, f), join(crashed, f));
    live.close(); // (checkpoints, removes its WAL): then the crashed files are put back in place
    for (const f of ["kv.db", "kv.db-wal"]) Deno.copyFileSync(join(crashed, f), join(data, f));
    const lockFile = join(dst.dir, "kunai.pid");
    await restoreSnapshot(file, { dataDir: data, lockFile });
    await restoreSnapshot(file, { dataDir: data, lockFile }); // again: the first copy stays
    const count = (path: string, sql: string) => {
      const db = new DatabaseSync(path);
      try {
        return (db.prepare(sql).get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    assert.equal(count(join(data, "kv.db.pre-restore"), "SELECT COUNT(*) AS n FROM mine"), 123);
    assert.equal(count(join(data, "kv.db.pre-restore-2"), "SELECT COUNT(*) AS n FROM t"), 50);
    assert.equal(count(join(data, "kv.db"), "SELECT COUNT(*) AS n FROM t"), 50);
  } finally {
    src.cleanup();
    dst.cleanup();
  }
});

Deno.test("snapshot restore gives each database the owner and mode of the one it replaces, else the data dir's owner and 0640", async () => {
  const src = tempDir(), dst = tempDir();
  try {
    const store = seed(src.dir, 10);
    const file = join(src.dir, "a.snap");
    await saveSnapshot(store, file, { node: "n1", uuid: "u1" });
    store.closeAll();
    const mode = (path: string) => Deno.statSync(path).mode! & 0o777;
    // a fresh data dir: made as the agent makes it, nothing readable by others
    const fresh = join(dst.dir, "fresh");
    await restoreSnapshot(file, { dataDir: fresh, lockFile: join(dst.dir, "fresh.pid") });
    assert.equal(mode(fresh), 0o750);
    for (const name of ["kv", "metrics", "checks"]) {
      assert.equal(mode(join(fresh, `${name}.db`)), 0o640, name);
    }
    // the data dir of an agent that runs as its own user (nobody here), restored by root: its files stay its own
    const data = join(dst.dir, "data");
    Deno.mkdirSync(data, { mode: 0o755 });
    const live = new DatabaseSync(join(data, "kv.db"));
    live.exec("CREATE TABLE mine (n INTEGER)");
    live.close();
    Deno.chmodSync(join(data, "kv.db"), 0o600);
    const root = Deno.uid() === 0;
    if (root) {
      Deno.chownSync(data, 65534, 65534);
      Deno.chownSync(join(data, "kv.db"), 65534, 65534);
    }
    await restoreSnapshot(file, { dataDir: data, lockFile: join(dst.dir, "kunai.pid") });
    assert.equal(mode(join(data, "kv.db")), 0o600, "the replaced database's mode");
    assert.equal(mode(join(data, "metrics.db")), 0o640, "a new one: the agent's mode");
    assert.equal(mode(join(data, "checks.db")), 0o640);
    const owner = root ? 65534 : Deno.uid();
    for (const name of ["kv", "metrics", "checks"]) {
      const st = Deno.statSync(join(data, `${name}.db`));
      assert.equal(st.uid, owner, `${name}.db belongs to the agent's user`);
      assert.equal(st.gid, root ? 65534 : Deno.gid(), name);
    }
  } finally {
    src.cleanup();
    dst.cleanup();
  }
});

Deno.test("snapshot: truncated, damaged, foreign-version files and a running agent are refused; nothing changes", async () => {
  const src = tempDir(), dst = tempDir();
  let sleeper: Deno.ChildProcess | null = null;
  try {
    const store = seed(src.dir, 200);
    const file = join(src.dir, "a.snap");
    await saveSnapshot(store, file, { node: "n1", uuid: "u1" });
    store.closeAll();
    const bytes = Deno.readFileSync(file);
    const data = join(dst.dir, "data");
    const lockFile = join(dst.dir, "kunai.pid");
    Deno.mkdirSync(data);
    Deno.writeTextFileSync(join(data, "kv.db"), "previous");
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ["truncated.snap", bytes.subarray(0, bytes.length - 1000), /truncated/],
      ["header.snap", bytes.subarray(0, 5), /not a kunai snapshot/],
      [
        "garbage.snap",
        new TextEncoder().encode("hello world, not a snapshot at all"),
        /not a kunai snapshot/,
      ],
    ];
    const flipped = new Uint8Array(bytes);
    flipped[flipped.length - 50] ^= 0xff;
    cases.push(["flipped.snap", flipped, /damaged \(sha256 mismatch\)/]);
    for (const [name, b, re] of cases) {
      const f = join(src.dir, name);
      Deno.writeFileSync(f, b);
      await assert.rejects(
        () => restoreSnapshot(f, { dataDir: data, lockFile }),
        (e: unknown) => e instanceof SnapshotError && re.test(e.message),
        name,
      );
    }
    await assert.rejects(
      () => restoreSnapshot(file, { dataDir: data, lockFile, version: "9.9.9" }),
      /written by kunai 0\.9\.0, this is 9\.9\.9/,
    );
    // a running agent holds an OS lock on its lock file: so does flock(1) here
    sleeper = new Deno.Command("flock", { args: [lockFile, "sleep", "30"] }).spawn();
    await until("the lock file to be held", () => lockHolder(lockFile) !== null);
    await assert.rejects(() => restoreSnapshot(file, { dataDir: data, lockFile }), /agent is running/);
    assert.equal(Deno.readTextFileSync(join(data, "kv.db")), "previous", "nothing changed");
    assert.deepEqual([...Deno.readDirSync(data)].map((e) => e.name), ["kv.db"]);
    assert.equal((await readManifest(file)).manifest.parts.length, 3);
  } finally {
    sleeper?.kill();
    await sleeper?.status;
    src.cleanup();
    dst.cleanup();
  }
});

Deno.test({
  name:
    "snapshot restore without a configuration to name the data dir is refused, not restored into the default",
  // the guard is about a missing default cfg dir: a box with /etc/kunai has a configuration to read
  ignore: isDirectory("/etc/kunai"),
  async fn() {
    const src = tempDir();
    try {
      const store = seed(src.dir, 10);
      const file = join(src.dir, "a.snap");
      await saveSnapshot(store, file, { node: "n1", uuid: "u1" });
      store.closeAll();
      const home = join(src.dir, "home"); // a non-root run's default data dir lives under $HOME
      const r = await runKunai(["snapshot", "restore", file], { HOME: home });
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(r.stderr, /\/etc\/kunai does not exist, .*give --cfg-dir and\/or --data-dir/);
      assert.equal(pathExists("/var/lib/kunai/kv.db") || pathExists(join(home, ".local")), false);
      // naming the data dir is enough
      const ok = await runKunai(["snapshot", "restore", file, "--data-dir", join(src.dir, "to")], {
        HOME: home,
      });
      assert.equal(ok.code, 0, ok.stderr);
      assert.ok(pathExists(join(src.dir, "to", "kv.db")));
    } finally {
      src.cleanup();
    }
  },
});

Deno.test("snapshot of a running agent under write load, restored on a fresh node: every KV key and flushed point", async () => {
  const HOST = "127.0.0.17";
  const gp = freePort(HOST);
  const params = {
    tags: ["kv"],
    graphite: { enabled: true, port: gp, bind: HOST, udp: false },
    metrics: { flush_interval: "100ms" },
    http: { token: "snap-token" },
  };
  const auth = { authorization: "Bearer snap-token" };
  const a = await startAgent({ name: "snap1", addr: HOST, params });
  const base = `http://${HOST}:${a.port}`;
  const now = Math.floor(Date.now() / 1000);
  const file = join(a.dir, "node.snap");
  let stop = false;
  const acked: string[] = [];
  let ackedBeforeSave = 0;
  try {
    for (let i = 0; i < 50; i++) {
      const r = await fetch(`${base}/kv/snap/k${i}`, { method: "PUT", body: `v${i}`, headers: auth });
      assert.equal(r.status, 200, await r.text());
    }
    const conn = await Deno.connect({ hostname: HOST, port: gp });
    const enc = new TextEncoder();
    await conn.write(enc.encode(Array.from({ length: 300 }, (_, i) => `snap.s${i} ${i} ${now}\n`).join("")));
    // wait until those points are flushed (acknowledged)
    for (let t = 0; t < 100; t++) {
      const info = await (await fetch(`${base}/agent/info`)).json() as {
        metrics: { store: { points_written: number } };
      };
      if (info.metrics.store.points_written >= 300) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // write load while the snapshot is taken
    const load = (async () => {
      let j = 0;
      while (!stop) {
        await conn.write(enc.encode(`load.x ${j++} ${now}\n`));
        const r = await fetch(`${base}/kv/load/k${j}`, { method: "PUT", body: "x", headers: auth });
        await r.body?.cancel();
        if (r.ok) acked.push(`load/k${j}`);
      }
    })();
    await new Promise((r) => setTimeout(r, 200));
    ackedBeforeSave = acked.length;
    // FILE is a link someone planted (to a file they would like overwritten): replaced, not followed
    const victim = join(a.dir, "victim");
    Deno.writeTextFileSync(victim, "untouched");
    Deno.symlinkSync(victim, file);
    const saved = await a.cli(["snapshot", "save", file]);
    stop = true;
    await load;
    conn.close();
    assert.equal(saved.code, 0, saved.stderr);
    assert.match(saved.stdout, /snapshot of snap1/);
    assert.equal(Deno.readTextFileSync(victim), "untouched");
    const st = Deno.lstatSync(file);
    assert.ok(st.isFile, "the link itself was replaced");
    assert.equal(st.mode! & 0o777, 0o600, "every KV value is in it: its owner's alone");
    assert.deepEqual(
      [...Deno.readDirSync(a.dir)].filter((e) => e.name.includes("node.snap")).map((e) => e.name),
      ["node.snap"],
      "no temporary file left beside it",
    );
  } finally {
    stop = true;
    await a.stop();
  }
  // a fresh node (its own config and data dir), not started: restore, then start it
  const fresh = tempDir();
  const etc = join(fresh.dir, "etc");
  Deno.mkdirSync(etc);
  const local = {
    name: "snap2",
    data: join(fresh.dir, "data"),
    lock: join(fresh.dir, "kunai.pid"),
    socket: join(fresh.dir, "kunai.sock"),
    log: join(fresh.dir, "log"),
  };
  Deno.writeTextFileSync(join(etc, "local.json"), JSON.stringify(local));
  try {
    const restored = await a.cli(["snapshot", "restore", file, "--cfg-dir", etc]);
    assert.equal(restored.code, 0, restored.stderr);
    const kv = new DatabaseSync(join(local.data, "kv.db"), { readOnly: true });
    const keys = new Set(
      (kv.prepare("SELECT key FROM kv").all() as Array<{ key: string }>).map((r) => r.key),
    );
    kv.close();
    for (let i = 0; i < 50; i++) assert.ok(keys.has(`snap/k${i}`), `snap/k${i}`);
    assert.ok(ackedBeforeSave > 0, "the load ran before the save");
    for (const k of acked.slice(0, ackedBeforeSave)) {
      assert.ok(keys.has(k), `${k} acknowledged before the save`);
    }
    const m = openDatabase(join(local.data, "metrics.db"), METRICS_MIGRATIONS);
    const names = new Set(m.all<{ name: string }>("SELECT name FROM series").map((r) => r.name));
    const pts = m.get<{ n: number }>(
      "SELECT COUNT(*) AS n FROM (SELECT series FROM points UNION ALL SELECT series FROM fresh) p JOIN series s ON s.id = p.series WHERE s.name LIKE 'snap.s%'",
    )!.n;
    m.close();
    assert.equal(pts, 300);
    assert.ok(names.has("snap.s299"));
    const truncated = join(fresh.dir, "t.snap");
    const b = Deno.readFileSync(file);
    Deno.writeFileSync(truncated, b.subarray(0, Math.floor(b.length / 2)));
    const refused = await a.cli(["snapshot", "restore", truncated, "--cfg-dir", etc]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /truncated/);
    // an agent started with --data-dir: restored where it was asked, not into the configuration's
    const other = join(fresh.dir, "other-data");
    const moved = await a.cli(["snapshot", "restore", file, "--cfg-dir", etc, "--data-dir", other]);
    assert.equal(moved.code, 0, moved.stderr);
    assert.match(moved.stdout, new RegExp(`restored into ${other}`));
    assert.ok(pathExists(join(other, "kv.db")));
    // -c alone names an agent to talk to, not where to restore: refused rather than a guess
    const guess = await a.cli(["snapshot", "restore", file]);
    assert.equal(guess.code, 2);
    assert.match(guess.stderr, /names the agent to talk to.*--data-dir/);
  } finally {
    fresh.cleanup();
    Deno.removeSync(a.dir, { recursive: true });
  }
});

Deno.test({
  name: "snapshot save to a full disk: a clean error naming the file, nothing left behind (root: a tmpfs)",
  ignore: Deno.uid() !== 0,
  async fn() {
    const a = await startAgent({ name: "snapfull", addr: "127.0.0.17" });
    const mnt = join(a.dir, "small");
    Deno.mkdirSync(mnt);
    const run = (...args: string[]) => new Deno.Command(args[0], { args: args.slice(1) }).outputSync();
    assert.ok(run("mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", mnt).success);
    try {
      const file = join(mnt, "node.snap");
      const saved = await a.cli(["snapshot", "save", file]);
      assert.equal(saved.code, 1);
      assert.match(
        saved.stderr,
        /cannot write .*small\/node\.snap: No space left on device.*; nothing was saved/,
      );
      assert.deepEqual([...Deno.readDirSync(mnt)], [], "no file, no partial one");
    } finally {
      run("umount", mnt);
      await a.stop();
    }
  },
});

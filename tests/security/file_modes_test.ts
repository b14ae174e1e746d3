/**
 * What the agent writes is not readable by every user, whatever the umask it was started with
 * (022 by default: `deno task start`, `agent start --daemon` outside systemd): the databases and their
 * WAL (KV values, exec results, check outputs), the log, the data and log directories it creates.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { openDatabase } from "../../lib/store/mod.ts";
import { LogSink } from "../../lib/log/mod.ts";
import { startAgent, tempDir } from "../helpers.ts";

const modeOf = (p: string) => (Deno.statSync(p).mode ?? 0) & 0o777;

Deno.test("an agent started under umask 022 leaves nothing readable by every user", async () => {
  const a = await startAgent({ name: "modes1", env: {} });
  try {
    await a.cli(["kv", "put", "k", "v"]);
    const data = join(a.dir, "data");
    const files = [...Deno.readDirSync(data)].filter((e) => /\.db(-wal|-shm)?$/.test(e.name));
    assert.ok(files.some((e) => e.name === "kv.db-wal"), files.map((e) => e.name).join());
    for (const e of files) {
      assert.equal(
        modeOf(join(data, e.name)) & 0o007,
        0,
        `${e.name}: 0${modeOf(join(data, e.name)).toString(8)}`,
      );
    }
    assert.equal(modeOf(join(a.dir, "log", "daemon.log")), 0o640);
    assert.equal(modeOf(data) & 0o007, 0, `the data dir: 0${modeOf(data).toString(8)}`);
    assert.equal(modeOf(join(a.dir, "log")) & 0o007, 0, "the log dir");
  } finally {
    await a.stop();
  }
});

Deno.test("a database or log an older agent left readable by every user loses the others' bits", () => {
  using t = tempDir();
  const db = join(t.dir, "x.db"), log = join(t.dir, "log", "daemon.log");
  openDatabase(db).close();
  Deno.chmodSync(db, 0o644);
  Deno.mkdirSync(join(t.dir, "log"));
  Deno.writeTextFileSync(log, "old\n", { mode: 0o644 });
  Deno.chmodSync(log, 0o644);
  openDatabase(db).close();
  assert.equal(modeOf(db), 0o640);
  const sink = new LogSink({ file: log });
  try {
    assert.equal(modeOf(log), 0o640);
  } finally {
    sink.close();
  }
});

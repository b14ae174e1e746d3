import assert from "node:assert/strict";
import { join } from "node:path";
import { createPropagation, targetPath, unsafePath } from "../../lib/propagate/mod.ts";
import { makeTestCtx } from "../helpers.ts";
import { VirtualClock } from "../../lib/clock/mod.ts";

Deno.test("paths that would escape the target directory are refused", () => {
  for (const bad of ["../x", "a/../../b", "/etc/passwd", "a//b", "./a", "a\\..\\b", "", "a/\u0000"]) {
    assert.notEqual(unsafePath(bad), null, bad);
    assert.throws(() => targetPath("/tmp/target", bad), /refused path/);
  }
  assert.equal(unsafePath("checks/web.json"), null);
  assert.equal(targetPath("/tmp/target", "checks/web.json"), "/tmp/target/checks/web.json");
});

/** A KV in a Map, a broadcaster that records, and a node whose cfg dir receives. */
function fakeCluster() {
  const store = new Map<string, Uint8Array>();
  const kv = {
    put: (k: string, v: Uint8Array) => {
      store.set(k, v);
      return Promise.resolve({ ok: true });
    },
    get: (k: string) => Promise.resolve({ entry: store.has(k) ? { value: store.get(k)! } : null }),
  };
  const sent: Array<{ kind: string; payload: unknown }> = [];
  const handlers = new Map<string, (p: unknown, id: string) => void>();
  const broadcast = {
    broadcastUser: (kind: string, payload: unknown) => {
      sent.push({ kind, payload });
      return "id";
    },
    onUser: (kind: string, fn: (p: unknown, id: string) => void) => {
      handlers.set(kind, fn);
      return () => handlers.delete(kind);
    },
  };
  return { store, kv, sent, handlers, broadcast };
}

Deno.test("configuration goes through KV: files written atomically on the receiver, hashes checked, reload once", async () => {
  const net = fakeCluster();
  const sender = makeTestCtx({
    files: { "checks/new.json": { check: { interval: "1s", ok_output: "'ok'" } } },
  });
  Deno.chmodSync(sender.dir, 0o755); // an open configuration directory (temp dirs are 0700)
  const receiver = makeTestCtx({ name: "rx" });
  let reloads = 0;
  const tx = createPropagation(sender, { kv: net.kv, broadcast: net.broadcast, reload: null });
  const rx = createPropagation(receiver, { kv: net.kv, broadcast: null, reload: () => reloads++ });
  try {
    const r = await tx.propagate("configuration");
    assert.equal(r.files, 1, "local.json is not propagated");
    assert.ok(net.store.has("__configuration/checks/new.json"));
    assert.deepEqual(net.sent, [{
      kind: "propagate",
      payload: { type: "configuration", hash: r.hash, from: sender.node.uuid },
    }]);
    const out = await rx.apply("configuration", r.hash);
    assert.deepEqual(out, { written: ["checks/new.json"], refused: [] });
    const got = JSON.parse(Deno.readTextFileSync(join(receiver.config.cfgDir, "checks/new.json")));
    assert.equal(got.check.interval, "1s");
    // the receiver keeps it from other users, whatever the sender's mode and the umask
    assert.equal(Deno.statSync(join(receiver.config.cfgDir, "checks/new.json")).mode! & 0o777, 0o640);
    assert.equal(reloads, 1);
    // same content again: nothing written, no reload
    assert.deepEqual(await rx.apply("configuration", r.hash), { written: [], refused: [] });
    assert.equal(reloads, 1);
    // no temp file left behind
    assert.deepEqual([...Deno.readDirSync(join(receiver.config.cfgDir, "checks"))].map((e) => e.name), [
      "new.json",
    ]);
  } finally {
    sender.cleanup();
    receiver.cleanup();
  }
});

Deno.test("a manifest with ../ paths or content not matching its hash writes nothing outside or wrong", async () => {
  const net = fakeCluster();
  const receiver = makeTestCtx({ name: "rx" });
  const rx = createPropagation(receiver, { kv: net.kv, broadcast: net.broadcast, reload: null });
  const enc = new TextEncoder();
  const sha = async (b: Uint8Array) =>
    [...new Uint8Array(await crypto.subtle.digest("SHA-256", b as Uint8Array<ArrayBuffer>))]
      .map((x) => x.toString(16).padStart(2, "0")).join("");
  try {
    const evil = enc.encode("pwned");
    net.store.set("__configuration/../evil.json", evil);
    net.store.set("__configuration/ok.json", enc.encode('{"a":1}'));
    const manifest = enc.encode(JSON.stringify({
      type: "configuration",
      from: "x",
      time: 0,
      files: [
        { path: "../evil.json", sha256: await sha(evil), size: 5, mode: 0o644 },
        { path: "ok.json", sha256: await sha(enc.encode("something else")), size: 14, mode: 0o644 },
      ],
    }));
    net.store.set("__propagate/configuration", manifest);
    await rx.start();
    const out = await rx.apply("configuration", await sha(manifest));
    assert.deepEqual(out, { written: [], refused: ["../evil.json", "ok.json"] });
    assert.throws(() => Deno.statSync(join(receiver.config.cfgDir, "..", "evil.json")), Deno.errors.NotFound);
    assert.throws(() => Deno.statSync(join(receiver.config.cfgDir, "ok.json")), Deno.errors.NotFound);
    assert.equal(receiver.counters.get("propagate_refused_total", { reason: "path" }), 1);
    assert.equal(receiver.counters.get("propagate_refused_total", { reason: "hash" }), 1);
    assert.match(receiver.sink.recent.WARNING.join("\n"), /refused path "\.\.\/evil\.json"/);
    await rx.stop();
  } finally {
    receiver.cleanup();
  }
});

Deno.test("private files stay on the sender: exec.key (0600) and anything others may not read never reach KV", async () => {
  const net = fakeCluster();
  const sender = makeTestCtx({ files: { "checks/open.json": { check: { interval: "1s" } } } });
  Deno.chmodSync(sender.dir, 0o755);
  const dir = sender.config.cfgDir;
  // as `kunai keygen --exec --dir <cfg-dir>` writes them
  Deno.writeTextFileSync(join(dir, "exec.key"), "-----BEGIN PRIVATE KEY-----\n", { mode: 0o600 });
  Deno.chmodSync(join(dir, "exec.key"), 0o600);
  Deno.writeTextFileSync(join(dir, "exec.pub"), "-----BEGIN PUBLIC KEY-----\n");
  Deno.chmodSync(join(dir, "exec.pub"), 0o644);
  Deno.writeTextFileSync(join(dir, "mail.json"), '{"handler": {"smtp_password": "s"}}');
  Deno.chmodSync(join(dir, "mail.json"), 0o640);
  // the configured private key is never sent, even when its mode says everyone may read it
  Deno.mkdirSync(join(dir, "keys"));
  Deno.writeTextFileSync(join(dir, "keys", "priv.pem"), "-----BEGIN PRIVATE KEY-----\n");
  Deno.chmodSync(join(dir, "keys", "priv.pem"), 0o644);
  sender.config.params.master_key_priv = "keys/priv.pem";
  // a 0644 file in a directory closed to others is private too
  Deno.mkdirSync(join(dir, "closed"));
  Deno.writeTextFileSync(join(dir, "closed", "db.json"), '{"mysql_password": "s"}');
  Deno.chmodSync(join(dir, "closed", "db.json"), 0o644);
  Deno.chmodSync(join(dir, "closed"), 0o750);
  const tx = createPropagation(sender, { kv: net.kv, broadcast: net.broadcast, reload: null });
  try {
    const r = await tx.propagate("configuration");
    assert.deepEqual([...net.store.keys()].filter((k) => k.startsWith("__configuration/")).sort(), [
      "__configuration/checks/open.json",
      "__configuration/exec.pub",
    ]);
    assert.equal(r.files, 2);
    assert.deepEqual(r.not_sent, [
      `closed/db.json (not readable by every user (${dir}/closed is closed))`,
      "exec.key (not readable by every user)",
      "keys/priv.pem (master_key_priv)",
      "mail.json (not readable by every user)",
    ]);
    assert.match(
      sender.sink.recent.WARNING.join("\n"),
      /propagate: not sent, private on this node: closed\/db\.json/,
    );

    // the whole configuration directory closed (/etc/kunai 0770 as install.sh makes it): nothing leaves
    Deno.chmodSync(dir, 0o770);
    net.store.clear();
    const none = await tx.propagate("configuration");
    assert.equal(none.files, 0);
    assert.ok(none.not_sent.includes(`checks/open.json (not readable by every user (${dir} is closed))`));
    assert.deepEqual([...net.store.keys()].filter((k) => k.startsWith("__configuration/")), []);
  } finally {
    sender.cleanup();
  }
});

Deno.test("a flood of announcements (made-up hashes) queues at most one propagation per type, the latest", async () => {
  const net = fakeCluster();
  let gets = 0;
  const kv = { ...net.kv, get: (k: string) => (gets++, net.kv.get(k)) };
  const clock = new VirtualClock();
  const receiver = makeTestCtx({ name: "rx", clock });
  const rx = createPropagation(receiver, { kv, broadcast: net.broadcast, reload: null });
  await rx.start();
  try {
    const on = net.handlers.get("propagate")!;
    for (let i = 0; i < 1000; i++) on({ type: "configuration", hash: `${i}`.padStart(64, "0") }, `e${i}`);
    for (let i = 0; i < 1000; i++) await clock.advance(100); // 100 s: a propagation gives up after ~5 s
    assert.ok(gets <= 2 * 10, `${gets} KV reads for 1 000 announcements`);
    assert.ok(receiver.counters.get("propagate_superseded_total", { type: "configuration" }) >= 998);
    const unavailable = receiver.counters.get("propagate_refused_total", { reason: "manifest-unavailable" });
    assert.ok(unavailable >= 1 && unavailable <= 2, `${unavailable} given up`);
  } finally {
    await rx.stop();
    receiver.cleanup();
  }
});

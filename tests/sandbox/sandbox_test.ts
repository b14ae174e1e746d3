import assert from "node:assert/strict";
import { brokerAllows, NO_PERMISSIONS, Sandbox, WorkerError, WorkerTimeout } from "../../lib/sandbox/mod.ts";
import { fileOp, inMemoryFs, refusal, syncFs } from "../../lib/sandbox/broker.ts";
import { silentLogger } from "../../lib/log/mod.ts";

const MODULE = new URL("../fixtures/sandbox_probe_worker.ts", import.meta.url);

function probe(sandbox: Sandbox, name = "probe") {
  return sandbox.spawn({
    name,
    module: MODULE,
    permissions: { ...NO_PERMISSIONS, import: true },
    brokerAllow: ["/proc/stat", "/proc/net/dev", "/sys/class/net/*"],
  });
}

Deno.test("a worker without run permission cannot start a process (Deno.Command)", async () => {
  const sb = new Sandbox();
  try {
    const r = await probe(sb).call<{ ok: boolean; error?: string }>("spawnDeno");
    assert.equal(r.ok, false);
    assert.equal(r.error, "NotCapable");
  } finally {
    sb.stopAll();
  }
});

Deno.test("a Worker whose first ready message is lost still starts: the sandbox asks again", async () => {
  const sb = new Sandbox();
  try {
    const w = sb.spawn({
      name: "silent",
      module: new URL("../fixtures/sandbox_silent_start_worker.ts", import.meta.url),
      permissions: NO_PERMISSIONS,
      startTimeoutMs: 5_000,
    });
    assert.equal(await w.call("anything"), "up");
    assert.equal(w.starts, 1);
  } finally {
    sb.stopAll();
  }
});

Deno.test("a Worker stopped while it starts fails its waiting calls at once; its start deadline is gone", async () => {
  const lines: string[] = [];
  const sb = new Sandbox({
    ...silentLogger,
    error: (m: string) => lines.push(m),
    warn: (m: string) => lines.push(m),
  });
  const w = sb.spawn({
    name: "mute",
    module: new URL("../fixtures/sandbox_mute_worker.ts", import.meta.url),
    permissions: NO_PERMISSIONS,
    startTimeoutMs: 800,
  });
  const call = w.call("anything");
  await new Promise((r) => setTimeout(r, 100));
  sb.stopAll();
  await assert.rejects(call, /mute: worker stopped while starting/);
  await new Promise((r) => setTimeout(r, 1200)); // past the start deadline
  assert.deepEqual(lines, [], "no start deadline fired");
});

Deno.test("a worker without run permission cannot start a process (node:child_process, fails silently)", async () => {
  const sb = new Sandbox();
  try {
    const r = await probe(sb).call<{ ok: boolean }>("spawnNode");
    assert.equal(r.ok, false, `spawnSync must not succeed: ${JSON.stringify(r)}`);
  } finally {
    sb.stopAll();
  }
});

Deno.test("a worker cannot read files directly", async () => {
  const sb = new Sandbox();
  try {
    const w = probe(sb);
    for (const path of ["/etc/hostname", "/proc/stat"]) {
      const r = await w.call<{ ok: boolean; error?: string }>("readDirect", { path });
      assert.equal(r.ok, false, path);
      assert.equal(r.error, "NotCapable", path);
    }
  } finally {
    sb.stopAll();
  }
});

Deno.test("the read broker serves /proc/stat but refuses /etc/shadow and path tricks", async () => {
  const sb = new Sandbox();
  try {
    const w = probe(sb);
    const ok = await w.call<{ ok: boolean; text?: string }>("readBroker", { path: "/proc/stat" });
    assert.equal(ok.ok, true);
    assert.match(ok.text!, /^cpu /);
    for (const path of ["/etc/shadow", "/proc/stat/../../etc/shadow", "/proc/self/environ", "relative"]) {
      const r = await w.call<{ ok: boolean; error?: string }>("readBroker", { path });
      assert.equal(r.ok, false, path);
      assert.equal(r.error, "BrokerDenied", path);
    }
    assert.equal(sb.workers()[0].deniedReads, 4);
  } finally {
    sb.stopAll();
  }
});

Deno.test("a call that exceeds its timeout rejects and the worker restarts", async () => {
  const sb = new Sandbox();
  try {
    const w = probe(sb);
    await assert.rejects(w.call("spin", { ms: 3000 }, 300), WorkerTimeout);
    assert.equal(await w.call("echo", "again", 5000), "again");
    assert.equal(w.starts, 2);
  } finally {
    sb.stopAll();
  }
});

Deno.test("an error thrown in the worker is re-thrown with its name", async () => {
  const sb = new Sandbox();
  try {
    await assert.rejects(
      probe(sb).call("fail"),
      (e: unknown) => e instanceof WorkerError && e.name === "TypeError" && e.message === "boom",
    );
    await assert.rejects(probe(sb, "p2").call("nope"), /unknown method nope/);
  } finally {
    sb.stopAll();
  }
});

Deno.test("broker allow-list matching: exact, dir/*, dir/**, segment globs", () => {
  const allow = ["/proc/stat", "/sys/block/*", "/sys/class/net/**", "/proc/*/stat"];
  assert.ok(brokerAllows(allow, "/proc/stat"));
  assert.ok(brokerAllows(allow, "/sys/block/sda"));
  assert.ok(!brokerAllows(allow, "/sys/block/sda/size"));
  assert.ok(brokerAllows(allow, "/sys/class/net/lo/address"));
  assert.ok(brokerAllows(allow, "/proc/1/stat"));
  assert.ok(!brokerAllows(allow, "/proc/1/2/stat"));
  assert.ok(!brokerAllows(allow, "/proc/stat2"));
  assert.ok(!brokerAllows(allow, "/sys/class/net/../../../etc/shadow"));
});

Deno.test("broker allow-lists are compiled once per list and again when the list is changed in place", () => {
  const allow = ["/etc/a", "/srv/**"];
  assert.ok(brokerAllows(allow, "/srv/x/y"));
  assert.ok(!brokerAllows(allow, "/opt/z"));
  allow.push("/opt/*");
  assert.ok(brokerAllows(allow, "/opt/z"), "an entry pushed after the first use counts");
  allow[1] = "/srv/*";
  assert.ok(!brokerAllows(allow, "/srv/x/y"), "an entry replaced in place counts");
  assert.ok(brokerAllows(allow, "/srv/x"));
  allow.length = 0;
  assert.ok(!brokerAllows(allow, "/etc/a"));
  // the root itself: "/**" is everything absolute, "/*" the top level only
  assert.ok(brokerAllows(["/**"], "/a/b/c") && brokerAllows(["/*"], "/a") && !brokerAllows(["/*"], "/a/b"));
  assert.ok(!brokerAllows(["/srv/**"], "/srvx") && !brokerAllows(["/srv/*"], "/srvx"));
});

Deno.test("an absent file answers NotFound naming the path and the call, for every file operation", async () => {
  const dir = Deno.makeTempDirSync({ dir: "/etc" }); // under /etc: the broker's synchronous paths
  try {
    Deno.writeTextFileSync(`${dir}/f`, "x");
    Deno.symlinkSync(`${dir}/gone`, `${dir}/dangling`);
    const cases: Array<[Parameters<typeof fileOp>[0], string]> = [
      [{ op: "read", path: `${dir}/missing` }, "open"],
      [{ op: "readChunk", path: `${dir}/missing`, offset: 0, max: 10 }, "open"],
      [{ op: "stat", path: `${dir}/dangling` }, "stat"],
      [{ op: "readDir", path: `${dir}/f/under-a-file` }, "readdir"],
      [{ op: "readLink", path: `${dir}/missing` }, "readlink"],
      [{ op: "stat", path: "/proc/no-such-entry" }, "stat"],
    ];
    for (const [msg, verb] of cases) {
      await assert.rejects(fileOp(msg), (e: unknown) => {
        assert.ok(e instanceof Deno.errors.NotFound, `${msg.op} ${msg.path}: ${e}`);
        assert.equal((e as Error).message, `No such file or directory (os error 2): ${verb} '${msg.path}'`);
        // answered before the operation, without capturing a stack (absent files are asked every round)
        assert.ok(!(e as Error).stack?.includes("\n    at "), String((e as Error).stack));
        return true;
      });
    }
    // what is there is still answered, and the in-memory file systems' other errors are unchanged
    assert.equal(((await fileOp({ op: "stat", path: `${dir}/f` })) as { size: number }).size, 1);
    assert.equal(await fileOp({ op: "read", path: `${dir}/f` }), "x");
    await assert.rejects(fileOp({ op: "readChunk", path: dir, offset: 0, max: 10 }), /not a file/);
    // the same answer as the operation gave before, for a path outside the synchronous ones
    await assert.rejects(fileOp({ op: "stat", path: "/no/such/dir/here" }), Deno.errors.NotFound);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("a file found once and then removed answers NotFound, and is found again once back", async () => {
  const dir = Deno.makeTempDirSync({ dir: "/etc" }); // under /etc: the broker's synchronous paths
  try {
    const f = `${dir}/f`;
    Deno.writeTextFileSync(f, "one");
    assert.equal(await fileOp({ op: "read", path: f }), "one");
    assert.equal(await fileOp({ op: "read", path: f }), "one"); // remembered as found: no probe
    Deno.removeSync(f);
    for (let i = 0; i < 2; i++) { // the operation's own error, then the probe's (no stack)
      await assert.rejects(fileOp({ op: "read", path: f }), (e: unknown) => {
        assert.ok(e instanceof Deno.errors.NotFound, String(e));
        assert.match((e as Error).message, new RegExp(`open '${f}'`));
        return true;
      });
    }
    const second = await fileOp({ op: "stat", path: f }).catch((e) => e);
    assert.ok(second instanceof Deno.errors.NotFound);
    assert.ok(!second.stack?.includes("\n    at "), "probed again after the failure: " + second.stack);
    Deno.writeTextFileSync(f, "two");
    assert.equal(await fileOp({ op: "read", path: f }), "two");
    assert.equal(((await fileOp({ op: "stat", path: f })) as { size: number }).size, 3);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("the broker reads /proc and /sys synchronously, other paths (and /proc links out) as before", async () => {
  assert.equal(inMemoryFs("/proc/stat"), true);
  assert.equal(inMemoryFs("/sys/class/net/lo/mtu"), true);
  for (
    const p of ["/etc/hostname", "/proc", "/procx/stat", "/proc/self/root/etc/hostname", "/proc/1/cwd/x"]
  ) {
    assert.equal(inMemoryFs(p), false, p);
  }
  assert.equal(inMemoryFs("/proc/self/task/1/fd/3"), false);
  // same answers either way; a file over one 64 KB chunk comes back whole
  const big = Deno.makeTempFileSync();
  try {
    const text = "x".repeat(200_000) + "end";
    Deno.writeTextFileSync(big, text);
    assert.equal(await fileOp({ op: "read", path: big }), text);
    const status = await fileOp({ op: "read", path: "/proc/self/status" }) as string;
    assert.match(status, new RegExp(`^Pid:\\s+${Deno.pid}$`, "m"));
    const nets = await fileOp({ op: "readDir", path: "/sys/class/net" }) as Array<
      { name: string }
    >;
    assert.ok(nets.some((e) => e.name === "lo"));
    // an in-memory file over one chunk (a Deno process's smaps is ~100 KB) comes back whole
    const smaps = await fileOp({ op: "read", path: "/proc/self/smaps" }) as string;
    assert.ok(smaps.length > 64 * 1024, String(smaps.length));
    assert.match(smaps, /^VmFlags:.*\n$/m);
    assert.ok(smaps.endsWith("\n"));
  } finally {
    Deno.removeSync(big);
  }
});

Deno.test("broker reads made in one Worker turn travel as one message; each is checked and answered alone", async () => {
  const sb = new Sandbox();
  try {
    const w = probe(sb);
    const r = await w.call<Array<{ ok: boolean; head?: string; error?: string }>>("readMany", {
      paths: ["/proc/stat", "/etc/shadow", "/proc/net/dev", "/proc/stat"],
    });
    assert.deepEqual(r.map((x) => x.ok), [true, false, true, true]);
    assert.equal(r[0].head, "cpu ");
    assert.equal(r[1].error, "BrokerDenied");
    assert.equal(r[3].head, "cpu ");
    assert.equal(w.brokerRequests, 4);
    assert.equal(w.brokerMessages, 1);
    assert.equal(w.deniedReads, 1);
    // a lone read is still a plain request
    await w.call("readBroker", { path: "/proc/stat" });
    assert.equal(w.brokerMessages, 2);
  } finally {
    sb.stopAll();
  }
});

Deno.test("the broker handles /etc and the dpkg database synchronously too, with the same answers", async () => {
  // /usr/lib: where /etc/os-release links to (the policy stats the real path and each directory above it)
  for (
    const p of [
      "/etc/os-release",
      "/etc/hostname",
      "/var/lib/dpkg/status",
      "/proc/stat",
      "/usr/lib/os-release",
    ]
  ) {
    assert.equal(syncFs(p), true, p);
  }
  for (
    const p of [
      "/etc/../home/x",
      "/etc/x/../../mnt/nfs",
      "/home/u/.ssh/id_rsa",
      "/mnt/nfs/etc/x",
      "/etcx/y",
      "/usr/lib/../../home/x",
      "/usr/local/x",
    ]
  ) {
    assert.equal(syncFs(p), false, p);
  }
  const path = "/etc/os-release";
  const whole = Deno.readFileSync(path);
  const first = await fileOp({ op: "readChunk", path, offset: 0, max: 16 }) as Uint8Array;
  assert.deepEqual(first, whole.slice(0, 16));
  const rest = await fileOp({ op: "readChunk", path, offset: 16, max: 1 << 20 }) as Uint8Array;
  assert.deepEqual(rest, whole.slice(16));
  const st = await fileOp({ op: "stat", path }) as { isFile: boolean; size: number };
  assert.equal(st.isFile, true);
  assert.equal(st.size, whole.length);
  await assert.rejects(fileOp({ op: "stat", path: "/etc/no-such-file-here" }), Deno.errors.NotFound);
  await assert.rejects(fileOp({ op: "readChunk", path: "/etc", offset: 0, max: 10 }), /not a file/);
});

Deno.test("broker policy: a missing path is left to the operation (not found); present and denied ones are checked", async () => {
  const policy = { allow: ["/**"], statfsAllow: [], deny: ["/etc/shadow"], worldReadable: true };
  assert.equal(await refusal(policy, "read", "/etc/no-such-file-here"), null);
  await assert.rejects(fileOp({ op: "read", path: "/etc/no-such-file-here" }), Deno.errors.NotFound);
  assert.match(await refusal(policy, "read", "/etc/shadow") ?? "", /deny-list/);
  assert.equal(await refusal(policy, "read", "/etc/os-release"), null);
  assert.equal(
    await refusal({ ...policy, allow: ["/proc/**"] }, "read", "/etc/no-such-file"),
    "not on its allow-list",
  );
});

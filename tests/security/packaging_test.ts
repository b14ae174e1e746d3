/**
 * Packaging: the systemd unit runs as `kunai` with hardening and parses; install.sh asks how the
 * node joins (`--seed` or `--bootstrap`) instead of making every host its own cluster.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { denoRun, REPO, tempDir } from "../helpers.ts";

const UNIT = join(REPO, "scripts", "kunai.service");
const INSTALL = join(REPO, "scripts", "install.sh");

function has(cmd: string): boolean {
  try {
    return new Deno.Command("sh", { args: ["-c", `command -v ${cmd}`], stdout: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

async function run(cmd: string, args: string[], cwd = REPO) {
  const r = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

Deno.test("the unit runs as kunai with the standard hardening and no W^X ban that would break V8", () => {
  const unit = Deno.readTextFileSync(UNIT);
  const lines = unit.split("\n").filter((l) => !l.startsWith("#"));
  const value = (k: string) => lines.filter((l) => l.startsWith(`${k}=`)).map((l) => l.slice(k.length + 1));
  assert.deepEqual(value("User"), ["kunai"]);
  for (
    const [k, v] of [
      ["NoNewPrivileges", "yes"],
      ["ProtectSystem", "strict"],
      ["ProtectHome", "read-only"],
      ["PrivateTmp", "yes"],
      ["PrivateDevices", "yes"],
      ["ProtectKernelTunables", "yes"],
      ["ProtectKernelModules", "yes"],
      ["ProtectControlGroups", "yes"],
      ["CapabilityBoundingSet", "CAP_NET_BIND_SERVICE"],
      ["AmbientCapabilities", "CAP_NET_BIND_SERVICE"],
      ["StateDirectory", "kunai"],
      ["LogsDirectory", "kunai"],
    ]
  ) assert.deepEqual(value(k), [v], k);
  assert.ok(value("SystemCallFilter").some((v) => v.split(" ").includes("@system-service")));
  assert.match(value("RestrictAddressFamilies")[0], /AF_INET6/);
  assert.deepEqual(value("MemoryDenyWriteExecute"), [], "V8's JIT needs W+X pages");
  assert.deepEqual(value("ProtectProc"), [], "process collectors and check_procs read every /proc/<pid>");
});

Deno.test({
  name: "systemd-analyze verifies the unit and rates its exposure at 5 or less",
  ignore: !has("systemd-analyze"),
  async fn() {
    const { dir, cleanup } = tempDir("kunai-sec-unit-");
    try {
      // verify wants the ExecStart binary to exist
      const unit = join(dir, "kunai.service");
      Deno.writeTextFileSync(
        unit,
        Deno.readTextFileSync(UNIT).replaceAll("/usr/local/bin/kunai", "/bin/true"),
      );
      const v = await run("systemd-analyze", ["verify", unit]);
      assert.equal(v.code, 0, v.err);
      assert.doesNotMatch(v.err, /kunai\.service:\d+:/, "no warning about a line of the unit");
      const s = await run("systemd-analyze", ["security", "--offline=true", unit]);
      const level = Number(/Overall exposure level for kunai\.service: ([\d.]+)/.exec(s.out + s.err)?.[1]);
      assert.ok(level <= 5, `exposure ${level}: ${s.out.slice(-300)}`);
    } finally {
      cleanup();
    }
  },
});

Deno.test("install.sh refuses to run without --seed or --bootstrap, and not with both", async () => {
  const none = await run("bash", [INSTALL, "--dry-run"]);
  assert.equal(none.code, 2);
  assert.match(none.err, /--seed ADDR\[:PORT\].*\n.*--bootstrap/);
  const both = await run("bash", [INSTALL, "--dry-run", "--bootstrap", "--seed", "10.0.0.5"]);
  assert.equal(both.code, 2);
  const bad = await run("bash", [INSTALL, "--dry-run", "--bootstrap", "--nope"]);
  assert.equal(bad.code, 2);
});

Deno.test("install.sh --dry-run creates the kunai user and a 0640 local.json with a token, changing nothing", async () => {
  const before = (p: string) => {
    try {
      return Deno.statSync(p).mtime?.getTime() ?? 0;
    } catch {
      return -1;
    }
  };
  const watched = [
    "/etc/systemd/system/kunai.service",
    "/etc/kunai/local.json",
    "/usr/local/bin/kunai",
    "/etc/sysctl.d/60-kunai.conf",
  ];
  const rmemMax = Number(Deno.readTextFileSync("/proc/sys/net/core/rmem_max").trim());
  const was = watched.map(before);
  const r = await run("bash", [
    INSTALL,
    "--dry-run",
    "--seed",
    "10.0.0.5",
    "--encryption-key",
    "k=",
    "--tags",
    "a,b",
  ]);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(watched.map(before), was, "a dry run writes nothing");
  if (!/keeping the existing/.test(r.err)) {
    assert.match(r.out, /"seeds": \["10\.0\.0\.5"\]/);
    assert.match(r.out, /"bootstrap": false/);
    assert.match(r.out, /"tags": \["a", "b"\]/);
    assert.match(r.out, /"encryption_key": "k="/);
    assert.match(r.out, /"token": "<random>"/);
    assert.match(r.out, /0640 root:kunai/);
  }
  assert.match(r.out, /\+ chmod 0640 \/etc\/kunai\/local\.json/);
  assert.match(r.out, /\+ install -d -o root -g kunai -m 0770 \/etc\/kunai/);
  // the UDP receive buffers' cap is raised to 4 MiB, never lowered
  if (rmemMax < 4194304) {
    assert.match(r.out, /\+ write \/etc\/sysctl\.d\/60-kunai\.conf: net\.core\.rmem_max = 4194304/);
    assert.match(r.out, /\+ sysctl -q -w net\.core\.rmem_max=4194304/);
  } else {
    assert.doesNotMatch(r.out, /sysctl/);
    assert.match(r.err, new RegExp(`net\\.core\\.rmem_max is ${rmemMax} already`));
  }
  const boot = await run("bash", [INSTALL, "--dry-run", "--bootstrap"]);
  assert.equal(boot.code, 0, boot.err);
  assert.match(boot.err, /generated the cluster's encryption key/);
});

Deno.test("install.sh --bootstrap writes the key kunai keygen made, and nothing else, into local.json", async () => {
  using t = tempDir();
  // the compiled binary cannot be built here: a wrapper runs the checkout's CLI the same way
  const bin = join(t.dir, "kunai");
  Deno.writeTextFileSync(
    bin,
    `#!/bin/sh\nexec ${[Deno.execPath(), ...denoRun("main.ts")].map((a) => `'${a}'`).join(" ")} "$@"\n`,
  );
  Deno.chmodSync(bin, 0o755);
  const r = await run("bash", [INSTALL, "--dry-run", "--bootstrap", "--binary", bin]);
  assert.equal(r.code, 0, r.err);
  const key = /give it to the other nodes: --encryption-key (\S+)$/m.exec(r.err)?.[1] ?? "";
  assert.match(key, /^[A-Za-z0-9+/]{43}=$/, r.err);
  if (!/keeping the existing/.test(r.err)) {
    assert.match(r.out, new RegExp(`"encryption_key": "${key.replace(/[+/]/g, "\\$&")}"`));
  }
});

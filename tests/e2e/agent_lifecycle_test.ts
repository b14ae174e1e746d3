import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { denoRun, freePort, runKunai, SHARED_DENO_DIR, startAgent, tempDir } from "../helpers.ts";
import { pathExists } from "../../lib/fs/mod.ts";

Deno.test("a real agent: info --json through the CLI, second agent refused, agent stop cleans up", async () => {
  const a = await startAgent({ name: "life1" });
  try {
    const info = await a.cli(["info", "--json"]);
    assert.equal(info.code, 0, info.stderr);
    const j = JSON.parse(info.stdout);
    assert.equal(j.name, "life1");
    assert.equal(j.port, a.port);
    assert.match(j.uuid, /^[0-9a-f]{40}$/);
    assert.equal(j.socket, a.socket);
    assert.equal(
      j.dumpable,
      false,
      "environ and memory are root's only: plugins of our user cannot read them",
    );

    const traced = await a.cli(["-v", "info", "--json"]);
    assert.match(traced.stderr, /^kunai: GET \/agent\/info -> 200 \(\d+ ms\)$/m);
    assert.equal(JSON.parse(traced.stdout).name, "life1", "stdout stays the command's");
    const human = await a.cli(["info"]);
    assert.match(human.stdout, /========== \[Kunai Daemon\]:\nName: +life1/);

    // TCP API answers the open routes, refuses /stop without a token (none is set: 403 naming it)
    const root = await fetch(`http://127.0.0.1:${a.port}/`);
    assert.equal(await root.text(), "OK");
    const stopTcp = await fetch(`http://127.0.0.1:${a.port}/stop`);
    assert.equal(stopTcp.status, 403);
    await stopTcp.body?.cancel();
    const metrics = await (await fetch(`http://127.0.0.1:${a.port}/metrics`)).text();
    assert.match(metrics, /kunai_uptime_seconds \d+/);

    // a second agent on the same data dir is refused with exit 2, the first keeps running
    const second = await runKunai(["agent", "start", "--cfg-dir", a.cfgDir], { HOME: a.dir });
    assert.equal(second.code, 2, second.stderr);
    assert.match(second.stderr, /Valid previous daemon exists/);
    assert.equal((await a.cli(["info", "--json"])).code, 0);

    const stop = await a.cli(["agent", "stop"]);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(stop.stdout.trim(), "OK");
    const st = await a.child.status;
    assert.equal(st.code, 0);
    assert.ok(!pathExists(join(a.dir, "kunai.pid")), "pid file removed");
    assert.ok(!pathExists(a.socket), "socket removed");
    const db = new DatabaseSync(join(a.dir, "data", "agent.db"));
    assert.equal(
      (db.prepare("PRAGMA integrity_check").get() as { integrity_check: string }).integrity_check,
      "ok",
    );
    assert.ok(
      !pathExists(join(a.dir, "data", "agent.db-wal")) ||
        Deno.statSync(join(a.dir, "data", "agent.db-wal")).size === 0,
    );
    db.close();
    assert.match(Deno.readTextFileSync(join(a.dir, "log", "daemon.log")), /\[agent\] INFO: stopped/);
  } finally {
    await a.stop(2000);
    Deno.removeSync(a.dir, { recursive: true });
  }
});

Deno.test("SIGTERM stops the agent cleanly within 5 s and the incarnation grows across restarts", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const a = await startAgent({ name: "life2", dir });
    const inc0 = JSON.parse((await a.cli(["info", "--json"])).stdout).incarnation;
    const t0 = Date.now();
    const st = await a.stop(5000);
    assert.ok(Date.now() - t0 < 5000, "stopped within 5 s");
    assert.equal(st.code, 0);
    assert.ok(!pathExists(a.socket) && !pathExists(join(dir, "kunai.pid")));
    const b = await startAgent({ name: "life2", dir, port: a.port });
    const info = JSON.parse((await b.cli(["info", "--json"])).stdout);
    // at least one more than the last incarnation the first run saved (detector tags bump it at runtime)
    assert.ok(info.incarnation > inc0, `incarnation ${info.incarnation} > ${inc0}`);
    await b.stop();
  } finally {
    cleanup();
  }
});

Deno.test("a broken configuration is refused with exit 2, the file and field named, nothing written", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const cfg = join(dir, "etc");
    Deno.mkdirSync(join(cfg, "handlers"), { recursive: true });
    Deno.writeTextFileSync(
      join(cfg, "local.json"),
      JSON.stringify({ data: join(dir, "data"), port: freePort() }),
    );
    Deno.writeTextFileSync(
      join(cfg, "handlers", "mail.json"),
      JSON.stringify({ handler: { type: "mail", smtp: "x" } }),
    );
    const r = await runKunai(["agent", "start", "--cfg-dir", cfg], { HOME: dir });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /handlers\/mail\.json: handler\.smtp: unknown field/);
    assert.ok(!pathExists(join(dir, "data")), "no data dir created");
    Deno.writeTextFileSync(join(cfg, "handlers", "mail.json"), '{"handler": {"type": "mail",}}');
    const r2 = await runKunai(["agent", "start", "--cfg-dir", cfg], { HOME: dir });
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /mail\.json:1:29: invalid JSON: unexpected "}"/);
  } finally {
    cleanup();
  }
});

Deno.test("with no configuration at all the agent starts on defaults and serves /agent/info", async () => {
  const { dir, cleanup } = tempDir();
  const port = freePort();
  const env = { HOME: dir, NO_COLOR: "1", ...SHARED_DENO_DIR };
  const child = new Deno.Command(Deno.execPath(), {
    args: denoRun(
      "main.ts",
      "agent",
      "start",
      "--data-dir",
      join(dir, "d"),
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
    ),
    env,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    let info: Record<string, unknown> | null = null;
    for (let i = 0; i < 100 && !info; i++) {
      await new Promise((r) => setTimeout(r, 150));
      try {
        const r = await fetch(`http://127.0.0.1:${port}/agent/info`);
        info = await r.json();
      } catch { /* not yet */ }
    }
    assert.ok(info, "agent answered");
    assert.equal(info!.port, port);
    assert.equal(info!.socket, join(dir, "d", "kunai.sock"));
  } finally {
    child.kill("SIGTERM");
    assert.equal((await child.status).code, 0);
    await child.stderr.cancel();
    cleanup();
  }
});

Deno.test("agent start --daemon returns 0 only once the API answers", async () => {
  const { dir, cleanup } = tempDir();
  try {
    const cfg = join(dir, "etc");
    Deno.mkdirSync(cfg);
    const port = freePort();
    Deno.writeTextFileSync(
      join(cfg, "local.json"),
      JSON.stringify({ data: join(dir, "data"), port, bind: "127.0.0.1", name: "daemon1" }),
    );
    const r = await runKunai(["agent", "start", "--daemon", "--cfg-dir", cfg], { HOME: dir });
    assert.equal(r.code, 0, r.stderr);
    const name = await (await fetch(`http://127.0.0.1:${port}/agent/name`)).text();
    assert.equal(name, "daemon1");
    const stop = await runKunai(["-c", join(cfg, "local.json"), "agent", "stop"], { HOME: dir });
    assert.equal(stop.code, 0, stop.stderr);
    assert.ok(!pathExists(join(dir, "data", "kunai.pid")));
  } finally {
    cleanup();
  }
});

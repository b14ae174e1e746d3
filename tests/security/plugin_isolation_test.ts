/**
 * Issue 10, hole 7: Nagios plugins inherited the agent's environment (KUNAI_ENCRYPTION_KEY,
 * KUNAI_HTTP_TOKEN), ran as root, and a plugin that `setsid`s a child leaked one process per run
 * (still there after the agent stopped). Now: a minimal environment, `nagios_user` when root, and
 * every process of a run is gone after the run, after its timeout and when the agent stops.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createChecks } from "../../lib/checks/mod.ts";
import { AgentClient } from "../../lib/client/mod.ts";
import { makeTestCtx, processesWith, startAgent, type TestCtx, until } from "../helpers.ts";

/** A test ctx with one plugin `check_<name>` (a sh script) in a dir nagios_user can reach. */
/**
 * Writes the plugin `check_<name>` (a sh script) into `<dir>/plugins`, where nagios_user can reach it
 * (`dir` and the plugins dir opened to everyone); returns the plugins dir and the script.
 */
function writePlugin(dir: string, name: string, body: string): { plugins: string; script: string } {
  Deno.chmodSync(dir, 0o755);
  const plugins = join(dir, "plugins");
  Deno.mkdirSync(plugins, { mode: 0o755 });
  const script = join(plugins, `check_${name}`);
  Deno.writeTextFileSync(script, `#!/bin/sh\n${body}\n`);
  Deno.chmodSync(script, 0o755);
  return { plugins, script };
}

function withPlugin(name: string, body: string, check: Record<string, unknown> = {}): TestCtx {
  const ctx = makeTestCtx();
  const { plugins, script } = writePlugin(ctx.dir, name, body);
  ctx.config.params.checks.plugin_dirs = [plugins];
  ctx.config.objects.check[name] = {
    id: name,
    file: join(ctx.dir, `etc/${name}.json`),
    root: join(ctx.dir, "etc"),
    value: { script, apply_on: "*", ...check },
  };
  return ctx;
}

Deno.test({
  name: "a plugin sees PATH, LANG and the Nagios macros, none of the agent's secrets, and not root",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // an agent started the way systemd would start it, with its secrets in its environment
    const dir = Deno.makeTempDirSync({ prefix: "kunai-plugin-env-" });
    const { plugins, script } = writePlugin(dir, "env", "env; echo uid=$(id -u)");
    const agent = await startAgent({
      name: "plugin-env",
      dir,
      params: { bootstrap: true, checks: { plugin_dirs: [plugins] } },
      files: { "env.json": { check: { script, apply_on: "*", interval: "1s" } } },
      env: { KUNAI_ENCRYPTION_KEY: "8xe6AVSd2Hcd0xOX9jRrYQ==", KUNAI_HTTP_TOKEN: "agent-token" },
    });
    try {
      // the agent did take them (the token guards its writes)
      const stop = await fetch(`http://127.0.0.1:${agent.port}/stop`, { method: "POST" });
      assert.equal(stop.status, 401);
      await stop.body?.cancel();
      const out = await until(
        "the env plugin's output",
        async () => {
          const client = new AgentClient({ socket: agent.socket, timeoutMs: 5000 });
          try {
            const checks = await client.json<Record<string, { output?: string }>>("GET", "/agent/checks");
            return checks["env"]?.output?.includes("uid=") ? checks["env"].output : null;
          } finally {
            client.close();
          }
        },
        20_000,
        200,
      );
      assert.doesNotMatch(out, /KUNAI_ENCRYPTION_KEY|KUNAI_HTTP_TOKEN|8xe6AVSd|agent-token/);
      assert.match(out, /PATH=\/usr\/local\/sbin:/);
      assert.match(out, /NAGIOS_HOSTNAME=plugin-env/);
      assert.match(out, /NAGIOS_SERVICEDESC=env/);
      const names = [...out.matchAll(/^([A-Z_][A-Z0-9_]*)=/gm)].map((m) => m[1]).filter((n) =>
        n !== "PWD" && n !== "SHLVL" && n !== "_"
      );
      for (const n of names) {
        assert.match(n, /^(PATH|LANG|NAGIOS_[A-Z_]+|KUNAI_RUN)$/, `unexpected variable ${n}`);
      }
      if (Deno.uid() === 0) assert.match(out, /uid=65534\b/, "runs as nobody when the agent is root");
    } finally {
      await agent.stop();
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test("a nagios_user that does not exist makes the check UNKNOWN instead of running as root", {
  ignore: Deno.uid() !== 0,
}, async () => {
  const ctx = withPlugin("who", "id -u");
  ctx.config.params.nagios_user = "no-such-user-kunai";
  const checks = createChecks(ctx);
  try {
    await checks.start();
    await checks.runCheck("who");
    const v = checks.view("who")!;
    assert.equal(v.state, "unknown");
    assert.match(String(v.output), /nagios_user no-such-user-kunai does not exist/);
  } finally {
    await checks.stop();
    ctx.cleanup();
  }
});

Deno.test("setsid children of a plugin are gone after the run and after its timeout", async () => {
  const done = `91.${Math.floor(Math.random() * 1e6)}`;
  const slow = `92.${Math.floor(Math.random() * 1e6)}`;
  const ctx = withPlugin("leak", `setsid sleep ${done} >/dev/null 2>&1 < /dev/null &\necho OK - leaked one`);
  const hang = join(ctx.dir, "plugins", "check_hang");
  Deno.writeTextFileSync(
    hang,
    `#!/bin/sh\nsetsid sleep ${slow} >/dev/null 2>&1 < /dev/null &\nsleep ${slow}\n`,
  );
  Deno.chmodSync(hang, 0o755);
  ctx.config.objects.check["hang"] = {
    ...ctx.config.objects.check["leak"],
    id: "hang",
    value: { script: hang, apply_on: "*", timeout: "1s" },
  };
  const checks = createChecks(ctx);
  try {
    await checks.start();
    for (let i = 0; i < 3; i++) await checks.runCheck("leak");
    assert.equal(checks.view("leak")!.state, "ok", String(checks.view("leak")!.output));
    await until(
      "the setsid children of finished runs to be gone",
      () => processesWith(`sleep ${done}`).length === 0,
    );
    await checks.runCheck("hang");
    assert.match(String(checks.view("hang")!.output), /timed out after 1s/);
    await until(
      "the setsid child of a timed-out run to be gone",
      () => processesWith(`sleep ${slow}`).length === 0,
    );
  } finally {
    await checks.stop();
    ctx.cleanup();
  }
});

Deno.test({
  name: "a plugin's setsid child still running is gone when the agent stops",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const marker = `93.${Math.floor(Math.random() * 1e6)}`;
    const dir = Deno.makeTempDirSync({ prefix: "kunai-plugin-stop-" });
    const { plugins, script } = writePlugin(
      dir,
      "linger",
      `setsid sleep ${marker} >/dev/null 2>&1 < /dev/null &\nsleep ${marker}`,
    );
    const agent = await startAgent({
      name: "plugin-stop",
      dir,
      params: { bootstrap: true, checks: { plugin_dirs: [plugins] } },
      files: { "linger.json": { check: { script, apply_on: "*", interval: "1s", timeout: "5m" } } },
    });
    try {
      await until(
        "the plugin and its setsid child",
        () => processesWith(`sleep ${marker}`).length >= 2,
        20_000,
      );
    } finally {
      const st = await agent.stop(8000);
      assert.equal(st.signal, null, "the agent stopped on SIGTERM");
    }
    await until(
      "every process of the plugin to be gone",
      () => processesWith(`sleep ${marker}`).length === 0,
    );
    Deno.removeSync(dir, { recursive: true });
  },
});

Deno.test("processes left by the plugins of an agent killed with -9 are killed when checks start", async () => {
  // a pid that existed and is gone: the "agent" that was killed
  const dead = new Deno.Command("/bin/true").spawn();
  const deadPid = dead.pid;
  await dead.status;
  const marker = `94.${Math.floor(Math.random() * 1e6)}`;
  const sleeper = (run: string) =>
    new Deno.Command("/usr/bin/sleep", {
      args: [marker],
      env: { KUNAI_RUN: run },
      stdout: "null",
      stderr: "null",
    })
      .spawn();
  // another agent's run (its agent, this test process, is alive) is left alone
  const other = sleeper(`${Deno.ppid}.1`);
  try {
    await until("the live agent's sleeper", () => processesWith(`sleep ${marker}`).includes(other.pid));
    // every start reaps every dead agent's runs, so an agent another test file starts meanwhile (the
    // suite runs in parallel) may take this orphan first: then the attempt is made again, bounded
    for (let attempt = 1;; attempt++) {
      const orphan = sleeper(`${deadPid}.7`);
      const ctx = makeTestCtx();
      const checks = createChecks(ctx);
      try {
        await until("the orphan", () => processesWith(`sleep ${marker}`).includes(orphan.pid), 2000).catch(
          () => {},
        );
        await checks.start();
        await until("the orphan's end", () => !processesWith(`sleep ${marker}`).includes(orphan.pid));
        const st = await orphan.status;
        assert.equal(st.signal, "SIGKILL", "the orphaned plugin process was killed");
        assert.deepEqual(processesWith(`sleep ${marker}`), [other.pid], "a live agent's run is untouched");
        const said = ctx.sink.recent.WARNING.some((l) => /killed 1 process\(es\) left by plugins/.test(l));
        if (said) break;
        assert.ok(attempt < 5, "in 5 attempts, another agent's start always reaped the orphan first");
      } finally {
        await checks.stop();
        ctx.cleanup();
      }
    }
  } finally {
    try {
      other.kill("SIGKILL");
    } catch { /* gone */ }
    await other.status;
  }
});

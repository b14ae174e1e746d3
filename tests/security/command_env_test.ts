/**
 * Commands the agent starts (generators' commands, shinken's reload, remote exec) see the locale,
 * HOME and PATH, never the agent's environment: it may hold the encryption key and the API token
 * (`KUNAI_ENCRYPTION_KEY`, `KUNAI_HTTP_TOKEN`), and a daemon a reload starts keeps its environment
 * for its whole life.
 */
import assert from "node:assert/strict";
import { commandEnv, runCommand, runShell } from "../../lib/process/mod.ts";
import { runCommand as runExec } from "../../lib/exec/runner.ts";

const SECRET = "KUNAI_TEST_SECRET_TOKEN";

Deno.test("runShell, generators' and exec's commands get a clean environment", async () => {
  Deno.env.set(SECRET, "s3cret-value");
  Deno.env.set("LC_TIME", "C.UTF-8");
  try {
    const shell = new TextDecoder().decode(
      (await runShell("env", { timeoutMs: 5000, maxOutput: 65536 })).stdout,
    );
    const merged = (await runCommand("env", 5000)).output;
    const exec = (await runExec("env", { timeoutMs: 5000, maxOutput: 65536 })).output;
    for (const [who, out] of [["runShell", shell], ["runCommand", merged], ["exec", exec]]) {
      assert.doesNotMatch(out, /s3cret-value/, `${who} saw the agent's secret`);
      assert.match(out, /^PATH=\//m, `${who}: PATH`);
      assert.match(out, /^LC_TIME=C\.UTF-8$/m, `${who}: the locale`);
    }
    const env = commandEnv({ EXTRA: "a\0b" });
    assert.equal(env[SECRET], undefined);
    assert.equal(env.EXTRA, "a b");
  } finally {
    Deno.env.delete(SECRET);
    Deno.env.delete("LC_TIME");
  }
});

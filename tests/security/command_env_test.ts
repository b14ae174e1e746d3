/**
 * Commands the agent starts (generators' commands, shinken's reload, remote exec) see the locale,
 * HOME and PATH, never the agent's environment: it may hold the encryption key and the API token
 * (`KUNAI_ENCRYPTION_KEY`, `KUNAI_HTTP_TOKEN`), and a daemon a reload starts keeps its environment
 * for its whole life. The runners run in a child process given the secret in its environment (test
 * files share this process's environment: none may change it).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO, tempDir } from "../helpers.ts";

const PROBE = `
import { commandEnv, runCommand, runShell } from "${join(REPO, "lib/process/mod.ts")}";
import { runCommand as runExec } from "${join(REPO, "lib/exec/runner.ts")}";
const shell = new TextDecoder().decode((await runShell("env", { timeoutMs: 5000, maxOutput: 65536 })).stdout);
const merged = (await runCommand("env", 5000)).output;
const exec = (await runExec("env", { timeoutMs: 5000, maxOutput: 65536 })).output;
console.log(JSON.stringify({ shell, merged, exec, extra: commandEnv({ EXTRA: "a\\0b" }) }));
`;

Deno.test("runShell, generators' and exec's commands get a clean environment", async () => {
  using t = tempDir();
  const probe = join(t.dir, "probe.ts");
  Deno.writeTextFileSync(probe, PROBE);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", "--config", join(REPO, "deno.json"), probe],
    env: { KUNAI_TEST_SECRET_TOKEN: "s3cret-value", LC_TIME: "C.UTF-8" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const r = JSON.parse(new TextDecoder().decode(out.stdout));
  for (const who of ["shell", "merged", "exec"]) {
    assert.doesNotMatch(r[who], /s3cret-value/, `${who} saw the agent's secret`);
    assert.match(r[who], /^PATH=\//m, `${who}: PATH`);
    assert.match(r[who], /^LC_TIME=C\.UTF-8$/m, `${who}: the locale`);
  }
  assert.equal(r.extra.KUNAI_TEST_SECRET_TOKEN, undefined);
  assert.equal(r.extra.EXTRA, "a b");
});

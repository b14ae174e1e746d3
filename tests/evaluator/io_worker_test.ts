/**
 * The machine functions as the agent runs them (sandboxedIo): same answers as in-process for
 * readable files, a refusal for private or denied ones, a deadline for slow ones; only a grep with
 * a user regexp starts the Worker.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { evaluate, sandboxedIo } from "../../lib/evaluator/mod.ts";
import { Sandbox } from "../../lib/sandbox/mod.ts";
import { tempDir } from "../helpers.ts";

Deno.test("grep, fileexists and has_package: private and denied files are refused, in the thread and the Worker", async () => {
  const { dir, cleanup } = tempDir();
  const sandbox = new Sandbox();
  try {
    Deno.chmodSync(dir, 0o755);
    const pub = join(dir, "public.txt"), priv = join(dir, "private.txt");
    const deniedDir = join(dir, "agent");
    Deno.mkdirSync(deniedDir, { mode: 0o755 });
    Deno.writeTextFileSync(pub, "CentOS Linux release 7.9\n");
    Deno.writeTextFileSync(priv, "root:secret\n");
    Deno.chmodSync(pub, 0o644);
    Deno.chmodSync(priv, 0o600);
    Deno.writeTextFileSync(join(deniedDir, "keyring.json"), "{}");
    Deno.chmodSync(join(deniedDir, "keyring.json"), 0o644);
    Deno.symlinkSync(join(deniedDir, "keyring.json"), join(dir, "link.json"));
    const closed = join(dir, "closed");
    Deno.mkdirSync(closed, { mode: 0o700 });
    Deno.writeTextFileSync(join(closed, "note.txt"), "private note\n");
    Deno.chmodSync(join(closed, "note.txt"), 0o644);
    const io = sandboxedIo(sandbox, { deny: [`${deniedDir}/**`], deadlineMs: 3000 });
    const env = { io };
    assert.equal(await evaluate(`grep('centos', '${pub}')`, env), true);
    assert.equal(await evaluate(`grep('^CentOS.*7\\.9', '${pub}', True)`, env), true);
    assert.equal(await evaluate(`grep('x', '${join(dir, "missing")}')`, env), false);
    assert.equal(await evaluate(`fileexists('${pub}')`, env), true);
    assert.equal(await evaluate(`fileexists('${join(dir, "missing")}')`, env), false);
    for (
      const p of [
        priv,
        join(deniedDir, "keyring.json"),
        join(dir, "link.json"),
        join(closed, "note.txt"),
        "/etc/shadow",
      ]
    ) {
      await assert.rejects(evaluate(`grep('e', '${p}')`, env), /may not be read by expressions/, p);
    }
    assert.equal(typeof await evaluate("has_package('no-such-package-kunai')", env), "boolean");
    assert.ok(io.deniedReads() >= 5);
    // a user regexp is read through the Worker's broker, under the same policy
    const before = io.deniedReads();
    for (const p of [priv, join(dir, "link.json"), "/etc/shadow"]) {
      await assert.rejects(evaluate(`grep('e', '${p}', True)`, env), /may not be read by expressions/, p);
    }
    assert.ok(io.worker()?.running, "a regexp grep ran in the Worker");
    assert.equal(io.worker()!.deniedReads, 3);
    assert.equal(io.deniedReads(), before + 3);
  } finally {
    sandbox.stopAll();
    cleanup();
  }
});

Deno.test("an io Worker unused for its idle time stops and starts again on the next call", async () => {
  const sandbox = new Sandbox();
  try {
    const io = sandboxedIo(sandbox, { deny: [], idleMs: 200 });
    assert.equal(await evaluate("grep('^root:', '/etc/passwd', True)", { io }), true);
    const first = io.worker()!;
    assert.ok(first.running);
    const end = Date.now() + 10_000;
    while (io.worker() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    assert.equal(io.worker(), null, "stopped when idle");
    assert.equal(first.running, false);
    assert.equal(await evaluate("grep('^root:', '/etc/passwd', True)", { io }), true);
    assert.ok(io.worker()?.running, "started again on demand");
  } finally {
    sandbox.stopAll();
  }
});

Deno.test("file checks, literal greps, packages and TCP probes never start the io Worker; a regexp grep does", async () => {
  const { dir, cleanup } = tempDir();
  const sandbox = new Sandbox();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    Deno.chmodSync(dir, 0o755);
    const pub = join(dir, "os-release");
    Deno.writeTextFileSync(pub, 'ID=debian\nPRETTY_NAME="Debian GNU/Linux"\n');
    Deno.chmodSync(pub, 0o644);
    const io = sandboxedIo(sandbox, { deny: [], deadlineMs: 3000 });
    const env = { io };
    assert.equal(await evaluate(`grep('DEBIAN', '${pub}')`, env), true);
    assert.equal(await evaluate(`grep('centos', '${pub}')`, env), false);
    assert.equal(await evaluate(`fileexists('${pub}')`, env), true);
    assert.equal(typeof await evaluate("has_package('no-such-package-kunai')", env), "boolean");
    const port = (listener.addr as Deno.NetAddr).port;
    assert.equal(await evaluate(`check_tcp('127.0.0.1', ${port}, 2)`, env), true);
    assert.equal(io.worker(), null, "no Worker for calls that only wait on I/O");
    assert.equal(sandbox.workers().length, 0);
    assert.equal(await evaluate(`grep('^id=deb', '${pub}', True)`, env), true);
    assert.ok(io.worker()?.running, "the regexp grep started the Worker");
    await assert.rejects(evaluate(`grep('(a+)+', '${pub}', True)`, env), /may not contain a quantifier/);
  } finally {
    listener.close();
    sandbox.stopAll();
    cleanup();
  }
});

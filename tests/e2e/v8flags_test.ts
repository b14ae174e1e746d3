/**
 * `deno run main.ts agent start` re-executes itself in place with the agent's V8 flags: same pid,
 * flags in the new image's environment, and the environment handed to its children is the one it
 * was started with.
 */
import assert from "node:assert/strict";
import { AGENT_V8_FLAGS, hasFlags, REEXEC_MARKER, wantedV8Flags } from "../../lib/v8flags.ts";
import { startAgent } from "../helpers.ts";

Deno.test("only `agent start` wants V8 flags; KUNAI_V8_FLAGS replaces them, empty disables", () => {
  const none = () => undefined;
  assert.equal(wantedV8Flags(["agent", "start", "--cfg-dir", "/x"], none), AGENT_V8_FLAGS);
  assert.equal(wantedV8Flags(["-c", "/x/local.json", "agent", "start"], none), AGENT_V8_FLAGS);
  assert.equal(wantedV8Flags(["agent", "stop"], none), "");
  assert.equal(wantedV8Flags(["kv", "get", "agent"], none), "");
  const env = (v: string) => (k: string) => k === "KUNAI_V8_FLAGS" ? v : undefined;
  assert.equal(wantedV8Flags(["agent", "start"], env("--lite-mode")), "--lite-mode");
  assert.equal(wantedV8Flags(["agent", "start"], env("")), "");
  assert.ok(hasFlags("--foo,--max-semi-space-size=1", "--max-semi-space-size=1"));
  assert.ok(!hasFlags("--max-semi-space-size=2", "--max-semi-space-size=1"));
  assert.ok(hasFlags("", ""));
});

Deno.test("a `deno run` agent runs under its V8 flags with the pid it was started with", async () => {
  const a = await startAgent({ name: "v8" });
  try {
    const client = Deno.createHttpClient({ proxy: { transport: "unix", path: a.socket } });
    const info = await (await fetch("http://kunai/agent/info", { client })).json();
    client.close();
    assert.equal(info.pid, a.child.pid, "re-executed in place, not in a child");
    const environ = Deno.readTextFileSync(`/proc/${a.child.pid}/environ`).split("\0");
    const flags = environ.find((e) => e.startsWith("DENO_V8_FLAGS="))?.slice("DENO_V8_FLAGS=".length) ?? "";
    assert.ok(hasFlags(flags, AGENT_V8_FLAGS), flags);
    assert.ok(environ.some((e) => e.startsWith(`${REEXEC_MARKER}=`)));
  } finally {
    await a.stop();
    Deno.removeSync(a.dir, { recursive: true });
  }
});

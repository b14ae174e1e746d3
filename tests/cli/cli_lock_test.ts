/**
 * `kunai lock` without an agent: a bad name, option or missing command is a usage error (exit 2) named
 * before any agent is asked; the holder a lock value names; `kunai --help` lists the command. The
 * behaviour against real agents is in tests/e2e/lock_agents_test.ts.
 */
import assert from "node:assert/strict";
import { commandList, runCli } from "../../cli/mod.ts";
import { Output } from "../../cli/output.ts";
import { describeHolder, holderOf, lockName, unsharedReason } from "../../cli/lock.ts";
import type { MemberRecord } from "../../lib/types.ts";
import { tempDir } from "../helpers.ts";

async function run(args: string[]) {
  const out = new Output({ capture: true, colour: false });
  const code = await runCli(args, out);
  return { code, out: out.captured.join("\n"), err: out.capturedErrors.join("\n") };
}

Deno.test("kunai lock: bad names, durations and a missing command exit 2 before the agent is asked", async () => {
  using t = tempDir();
  // no agent behind this configuration: a usage error must come first, an agent error would be exit 1
  Deno.writeTextFileSync(`${t.dir}/local.json`, JSON.stringify({ data: t.dir }));
  const c = ["-c", `${t.dir}/local.json`, "lock"];
  const cases: Array<[string[], RegExp]> = [
    [["a/b", "--", "true"], /invalid lock name "a\/b": 1-128 letters/],
    [["-x", "--", "true"], /Unknown option '-x'/],
    [["..", "--", "true"], /invalid lock name "\.\."/],
    [["x".repeat(129), "--", "true"], /invalid lock name/],
    [["job"], /missing argument <command>/],
    [["job", "--ttl", "1s", "--", "true"], /--ttl: expected a duration between 3s and 1d .*got 1s/],
    [["job", "--ttl", "soon", "--", "true"], /--ttl: expected a duration/],
    [["job", "--wait", "-1s", "--", "true"], /--wait/],
    [["job", "--wait", "400d", "--", "true"], /--wait: expected a duration between 0s and 365d/],
  ];
  for (const [args, re] of cases) {
    const r = await run([...c, ...args]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
    assert.match(r.err, re, args.join(" "));
    assert.match(r.err, /Usage: kunai lock/);
  }
  // a good line reaches the agent: here none, so exit 1 naming it
  const r = await run([...c, "job", "--", "true"]);
  assert.equal(r.code, 1);
  assert.match(r.err, /cannot reach the kunai agent/);
});

Deno.test("kunai lock: names, holders, help", async () => {
  assert.equal(lockName("nightly-backup.db:1_x"), "nightly-backup.db:1_x");
  assert.throws(() => lockName(""), /missing lock name/);
  assert.throws(() => lockName("-x"), /invalid lock name/);
  const h = { id: "u1", node: "web-1", host: "h1", pid: 42, since: "2026-01-01T00:00:00.000Z" };
  const value = btoa(JSON.stringify(h));
  assert.deepEqual(holderOf(value), h);
  assert.equal(
    describeHolder({ key: "__lock/x", value, modify_index: 7 }),
    "node web-1 (host h1, pid 42, since 2026-01-01T00:00:00.000Z)",
  );
  assert.equal(holderOf(btoa("busy")), null);
  assert.equal(holderOf(null), null);
  assert.equal(
    describeHolder({ key: "__lock/x", value: btoa("busy"), modify_index: 7 }),
    'a value that names no holder ("busy", index 7)',
  );
  // without a kv member every node keeps its own keys: the lock would not be shared
  const m = (name: string, state: string, tags: string[]) =>
    ({ name, state, tags }) as unknown as MemberRecord;
  assert.equal(unsharedReason([m("a", "alive", [])]), null);
  assert.equal(unsharedReason([m("a", "alive", []), m("b", "dead", [])]), null);
  assert.equal(unsharedReason([m("a", "alive", []), m("b", "suspect", ["kv"])]), null);
  assert.match(
    unsharedReason([m("a", "alive", ["web"]), m("b", "alive", []), m("c", "dead", ["kv"])]) ?? "",
    /^no member of the cluster is tagged kv: each of its 2 nodes keeps its own keys/,
  );
  assert.match(await commandList(), /^ {2}lock {2,}run COMMAND while holding the cluster-wide lock NAME/m);
  const help = await run(["lock", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.out, /--ttl VALUE/);
  assert.match(help.out, /kunai lock NAME \[options\] -- COMMAND \[ARGS\.\.\.\]/);
});

Deno.test("kunai lock --json: an agent out of reach still gives the one JSON object, acquired false", async () => {
  const r = await run(["lock", "job", "--json", "--http-addr", "unix:/nonexistent/kunai.sock", "--", "true"]);
  assert.equal(r.code, 1);
  const o = JSON.parse(r.out);
  assert.deepEqual([o.name, o.acquired, o.exit_code], ["job", false, null]);
  assert.match(o.error, /cannot reach the kunai agent/);
  assert.match(r.err, /cannot reach the kunai agent/);
});

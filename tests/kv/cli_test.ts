/** `kunai kv ...` against one real agent process (no other kv node: it owns every key). */
import assert from "node:assert/strict";
import { startAgent } from "../helpers.ts";

Deno.test({
  name: "kunai kv put/get/list/delete/watch against a real agent",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const a = await startAgent({ name: "kvcli", params: { tags: ["kv"] } });
    try {
      let r = await a.cli(["kv", "put", "app/greeting", "hello world"]);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /tagged kv/, "alone, an agent's keys are all there are");
      assert.match(r.stdout, /OK app\/greeting \(index \d+\)/);
      r = await a.cli(["kv", "get", "app/greeting"]);
      assert.equal(r.stdout.trim(), "hello world");
      r = await a.cli(["kv", "get", "app/greeting", "--json"]);
      const meta = JSON.parse(r.stdout);
      assert.equal(meta.key, "app/greeting");
      assert.equal(atob(meta.value), "hello world");
      // create-only on an existing key fails with exit 1
      r = await a.cli(["kv", "put", "app/greeting", "other", "--cas", "0"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /compare-and-set failed: app\/greeting exists \(modify_index \d+\)/);
      // a refused CAS says what the key is now (the answer's index is the store's for an absent key)
      r = await a.cli(["kv", "put", "app/none", "x", "--cas", "5"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /app\/none does not exist/);
      r = await a.cli(["kv", "put", "app/greeting", "x", "--cas", "5", "--json"]);
      assert.equal(r.code, 1);
      const refused = JSON.parse(r.stdout);
      assert.equal(refused.ok, false);
      assert.equal(refused.modify_index, meta.modify_index);
      r = await a.cli(["kv", "delete", "app/greeting", "--cas", "5"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`app/greeting is at modify_index ${meta.modify_index}, not 5`));
      const file = `${a.dir}/value.bin`;
      Deno.writeFileSync(file, new Uint8Array([0, 1, 2, 255]));
      r = await a.cli(["kv", "put", "app/bin", `@${file}`]);
      assert.equal(r.code, 0, r.stderr);
      r = await a.cli(["kv", "list", "app/"]);
      assert.deepEqual(r.stdout.trim().split("\n"), ["app/bin", "app/greeting"]);
      r = await a.cli(["kv", "list", "--json"]);
      assert.equal(JSON.parse(r.stdout).length, 2);
      // watch: one change then exit
      const watching = a.cli(["kv", "watch", "app/", "--count", "1"]);
      await new Promise((res) => setTimeout(res, 1500));
      r = await a.cli(["kv", "delete", "app/bin"]);
      assert.equal(r.code, 0, r.stderr);
      const w = await watching;
      assert.equal(w.code, 0, w.stderr);
      assert.match(w.stdout, /deleted app\/bin/);
      r = await a.cli(["kv", "get", "app/bin"]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /not found/);
      // what the agent refuses as malformed (400) is a usage error: exit 2, as the README promises
      r = await a.cli(["kv", "put", "bad/../key", "x"]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /segment/);
      r = await a.cli(["kv", "put", "app/t", "x", "--ttl", "99y"]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /ttl/);
      r = await a.cli(["join", `127.0.0.1:${a.port}`]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /this agent itself/);
    } finally {
      await a.stop();
      Deno.removeSync(a.dir, { recursive: true });
    }
  },
});

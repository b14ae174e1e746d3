import assert from "node:assert/strict";
import { KeyLocks } from "../../lib/kv/watch.ts";

const tick = () => new Promise((r) => setTimeout(r, 1));

Deno.test("KeyLocks: work on one key never interleaves, other keys run alongside; nothing stays held", async () => {
  const locks = new KeyLocks();
  const log: string[] = [];
  const job = (name: string, ms: number) => async () => {
    log.push(`${name}+`);
    await new Promise((r) => setTimeout(r, ms));
    log.push(`${name}-`);
    return name;
  };
  const results = await Promise.all([
    locks.run("k", job("a1", 5)),
    locks.run("k", job("a2", 1)),
    locks.run("other", job("b", 1)),
    locks.run("k", job("a3", 1)),
  ]);
  assert.deepEqual(results, ["a1", "a2", "b", "a3"]);
  const k = log.filter((e) => e.startsWith("a"));
  assert.deepEqual(k, ["a1+", "a1-", "a2+", "a2-", "a3+", "a3-"], "one key: one at a time, in order");
  assert.ok(log.indexOf("b+") < log.indexOf("a1-"), "another key did not wait");
  await tick();
  assert.equal(locks.busy, 0);
});

Deno.test("KeyLocks: a failed or throwing job releases the key and reaches its caller only", async () => {
  const locks = new KeyLocks();
  const failing = locks.run("k", () => Promise.reject(new Error("boom")));
  const throwing = locks.run("k", () => {
    throw new Error("sync boom");
  });
  const after = locks.run("k", () => Promise.resolve("fine"));
  await assert.rejects(failing, /boom/);
  await assert.rejects(throwing, /sync boom/);
  assert.equal(await after, "fine");
  assert.equal(
    await locks.run("fresh", () => {
      throw new Error("first job throws");
    }).catch((e: Error) => e.message),
    "first job throws",
  );
  await tick();
  assert.equal(locks.busy, 0);
});

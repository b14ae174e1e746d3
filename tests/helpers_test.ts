/**
 * The shared polling helper `until`: first truthy value, errors retried then reported, bounded.
 */
import assert from "node:assert/strict";
import { until } from "./helpers.ts";

Deno.test("until resolves with the probe's first truthy value", async () => {
  let n = 0;
  const v = await until("n to reach 3", () => ++n >= 3 ? { n } : null, 5000, 1);
  assert.deepEqual(v, { n: 3 });
  assert.equal(await until("an async value", () => Promise.resolve("x")), "x");
});

Deno.test("until retries a throwing probe and names what, the timeout and the last error when it gives up", async () => {
  let n = 0;
  assert.equal(
    await until("a flaky probe", () => (++n < 3 ? Promise.reject(new Error("not yet")) : n), 5000, 1),
    3,
  );
  await assert.rejects(
    until(
      "the impossible",
      () => {
        throw new Error("refused");
      },
      100,
      10,
    ),
    (e: Error) => {
      assert.match(e.message, /timed out after 100 ms waiting for the impossible; last error: refused/);
      assert.equal((e.cause as Error).message, "refused");
      return true;
    },
  );
  await assert.rejects(
    until("a falsy probe", () => 0, 50, 10),
    /timed out after 50 ms waiting for a falsy probe$/,
  );
});

Deno.test("until is bounded even when a probe never settles", async () => {
  let hung = 0;
  const never = () => {
    hung++;
    return new Promise<boolean>(() => {});
  };
  await assert.rejects(until("a hung probe", never, 100), /waiting for a hung probe/);
  assert.equal(hung, 1);
});

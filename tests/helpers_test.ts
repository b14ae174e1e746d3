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

Deno.test("no test file changes its process's environment (test files running in parallel share it)", () => {
  // KUNAI_HTTP_TOKEN set for a moment by one file was inherited by an agent another file started
  // meanwhile, which then refused that file's own token: pass variables to the child instead
  const offenders: string[] = [];
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(dir)) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) walk(path);
      else if (e.name.endsWith(".ts") && !path.endsWith("/helpers_test.ts")) {
        Deno.readTextFileSync(path).split("\n").forEach((line, i) => {
          // DENO_DIR is set to the value every file computes the same way: harmless
          if (/Deno\.env\.(set|delete)\(/.test(line) && !/Deno\.env\.set\("DENO_DIR"/.test(line)) {
            offenders.push(`${path}:${i + 1}: ${line.trim()}`);
          }
        });
      }
    }
  };
  walk(new URL(".", import.meta.url).pathname.replace(/\/$/, ""));
  assert.deepEqual(offenders, []);
});

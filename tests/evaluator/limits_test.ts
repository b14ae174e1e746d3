import assert from "node:assert/strict";
import { DEFAULT_LIMITS, EvalError, evaluate, parseExpression } from "../../lib/evaluator/mod.ts";
import { evaluateRaw, parseCached, PARSED_CACHE_SIZE } from "../../lib/evaluator/evaluate.ts";
import { resolveLimits } from "../../lib/evaluator/errors.ts";

async function limitError(expr: string, limits = {}): Promise<EvalError> {
  const t0 = performance.now();
  let caught: unknown;
  try {
    await evaluate(expr, { limits });
  } catch (err) {
    caught = err;
  }
  const ms = performance.now() - t0;
  assert.ok(caught instanceof EvalError, `${expr.slice(0, 40)}: expected EvalError, got ${caught}`);
  assert.equal(caught.kind, "limit", `${expr.slice(0, 40)}: ${caught.message}`);
  // generous (a busy box is slow): without the limits these take minutes or never end
  assert.ok(ms < 20_000, `${expr.slice(0, 40)} took ${ms} ms`);
  return caught;
}

Deno.test("huge powers, repeats and formats stop with a limit error instead of hanging", async () => {
  await limitError("9**9**9**9");
  await limitError("2**100000");
  await limitError("10**10**10");
  await limitError("(2**60000) * (2**60000)");
  await limitError("'a' * 10**9");
  await limitError("'ab' * 2**62");
  await limitError("(1, 2) * 10**6");
  await limitError("'%5000000s' % 'x'");
  await limitError("'%.5000f' % 1.5");
  await limitError("round(1.5, 10**20) + int('9' * 5000)");
  // each big operation is charged by size: a few megabyte strings exhaust the step budget
  await limitError("len(('x' * 1000000) + ('x' * 1000000) + ('x' * 1000000) + ('y' * 1000000))", {
    maxSteps: 10_000,
  });
  await limitError("len(('a' * 1000000,) * 65536)");
  assert.equal(await evaluate("len('a' * 1000000)"), 1_000_000);
  assert.equal(await evaluate("len(str(2**60000))"), 18062);
});

Deno.test("each size limit refuses its own operation, naming it", async () => {
  const cases: Array<[string, RegExp]> = [
    ["len('a' * 600000 + 'b' * 600000)", /^string result is longer than 1048576/],
    ["len((1,) * 40000 + (2,) * 40000)", /^tuple result is longer than 65536/],
    ["2**65535 + 2**65535", /^integer result is larger than 65536 bits/],
    // refused from the size of the result, before any of its 158 million bits is computed
    ["3**10**8", /^result of \*\* would have more than 65536 bits/],
  ];
  for (const [expr, message] of cases) assert.match((await limitError(expr)).message, message, expr);
  // just under each limit: computed
  assert.equal(await evaluate("len('a' * 524288 + 'b' * 524288)"), 1 << 20);
  assert.equal(await evaluate("len((1,) * 32768 + (2,) * 32768)"), 1 << 16);
});

Deno.test("expression length is limited before and after substitution", async () => {
  const long = "1+".repeat(DEFAULT_LIMITS.maxLength) + "1";
  const err = await limitError(long);
  assert.match(err.message, /characters long; the limit is 4096/);
  await limitError("1 + 1", { maxLength: 3 });
  const env = {
    collectors: { get: () => ({ big: "x".repeat(5000) }), names: () => ["c"] },
    limits: { maxLength: 4096 },
  };
  await assert.rejects(
    evaluate("'{collector.c.big}'", env),
    (e: unknown) => e instanceof EvalError && e.kind === "limit",
  );
});

Deno.test("nesting depth is limited in the parser", async () => {
  for (
    const deep of [
      "(".repeat(300) + "1" + ")".repeat(300),
      "-".repeat(300) + "1",
      "not ".repeat(300) + "1",
      "2**".repeat(300) + "2",
      "abs(".repeat(200) + "1" + ")".repeat(200),
    ]
  ) {
    assert.throws(() => parseExpression(deep), (e: unknown) => {
      assert.ok(e instanceof EvalError && e.kind === "limit", `${deep.slice(0, 10)}: ${e}`);
      assert.match(e.message, /nested deeper than 100 levels/);
      assert.ok(e.column !== undefined);
      return true;
    });
  }
  assert.equal(await evaluate("((((((((((1))))))))))"), 1);
  await limitError("((((1))))", { maxDepth: 4 });
});

Deno.test("long flat chains within the length limit evaluate without exhausting the stack", async () => {
  const chain = Array.from({ length: 2048 }, () => "1").join("+");
  assert.equal(await evaluate(chain), 2048);
  const cmp = Array.from({ length: 600 }, (_, i) => String(i)).join(" < ");
  assert.equal(await evaluate(cmp), true);
  const ors = Array.from({ length: 700 }, () => "0").join(" or ") + " or 7";
  assert.equal(await evaluate(ors), 7);
});

Deno.test("the step budget bounds the work of one evaluation", async () => {
  const chain = Array.from({ length: 500 }, () => "1").join("+");
  assert.equal(await evaluate(chain, { limits: { maxSteps: 2000 } }), 500);
  const err = await limitError(chain, { maxSteps: 100 });
  assert.match(err.message, /more than 100 steps/);
});

Deno.test("adversarial expressions within the limits finish quickly (the event loop is never held long)", async () => {
  const adversarial = [
    Array.from({ length: 20 }, () => "len(min('x'*1000000))").join(" + "),
    Array.from({ length: 30 }, () => "(('a'*1000000) in ('b'*1000000))").join(" or "),
    Array.from({ length: 60 }, () => "len('%s' % (('xy',)*60000,))").join(" + "),
    Array.from({ length: 60 }, () => "len(str(2**65535 // 3**41000))").join(" + "),
    Array.from({ length: 100 }, () => "len('%.1000f' % 1e-300)").join(" + "),
    Array.from({ length: 100 }, () => "('a'*1000000 < 'a'*1000000)").join(" or "),
  ];
  for (const expr of adversarial) {
    const t0 = performance.now();
    try {
      await evaluate(expr);
    } catch (err) {
      assert.ok(err instanceof EvalError && err.kind === "limit", String(err));
    }
    const ms = performance.now() - t0;
    assert.ok(ms < 20_000, `${expr.slice(0, 40)}… took ${ms.toFixed(0)} ms`);
  }
});

Deno.test("parse cache: a text parses once per limits; errors and tighter limits are not served from it", async () => {
  const limits = resolveLimits();
  const a = parseCached("1 + 2 * 3", limits);
  assert.equal(parseCached("1 + 2 * 3", limits), a, "the same Ast for the same text");
  assert.equal(await evaluateRaw("1 + 2 * 3"), 7n);
  assert.equal(await evaluateRaw("1 + 2 * 3"), 7n, "an Ast served twice evaluates the same");
  // a lower length limit is its own entry: the long text is refused, not served from the cache
  assert.throws(() => parseCached("1 + 2 * 3", resolveLimits({ maxLength: 4 })), /limit is 4/);
  // a syntax error is thrown again, never cached as a result
  for (let i = 0; i < 2; i++) assert.throws(() => parseCached("1 +", limits), EvalError);
  // bounded: the oldest texts leave first
  for (let i = 0; i < PARSED_CACHE_SIZE; i++) parseCached(`${i} + 0`, limits);
  assert.notEqual(parseCached("1 + 2 * 3", limits), a, "evicted, parsed again");
});

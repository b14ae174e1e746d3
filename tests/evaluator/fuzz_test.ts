import assert from "node:assert/strict";
import { type EvalEnv, EvalError, evaluate, parseExpression } from "../../lib/evaluator/mod.ts";
import { printAst, randomAst, randomText, rng, stripPositions } from "./fuzz_gen.ts";

const ENV: EvalEnv = {
  collectors: { get: (n) => (n === "c" ? { v: 3, "%idle": 97.5 } : undefined), names: () => ["c"] },
  lookup: (p) => (p === "a.b" ? 5 : undefined),
};

/** Evaluates and returns "ok" or the EvalError kind; anything else thrown fails the test. */
async function outcome(text: string, slowest: { ms: number; text: string }): Promise<string> {
  const t0 = performance.now();
  try {
    await evaluate(text, ENV);
    return "ok";
  } catch (err) {
    if (!(err instanceof EvalError)) throw new Error(`non-EvalError for ${JSON.stringify(text)}: ${err}`);
    assert.ok(err.message.length > 0);
    return err.kind;
  } finally {
    const ms = performance.now() - t0;
    if (ms > slowest.ms) Object.assign(slowest, { ms, text });
  }
}

Deno.test("random strings only ever raise EvalError and finish quickly", async () => {
  const r = rng(0x6b756e61);
  const kinds: Record<string, number> = {};
  const slowest = { ms: 0, text: "" };
  for (let i = 0; i < 20_000; i++) {
    const k = await outcome(randomText(r), slowest);
    kinds[k] = (kinds[k] ?? 0) + 1;
  }
  // a generous bound (a busy box is slow): an unbounded evaluation would take minutes
  assert.ok(slowest.ms < 10_000, `slowest ${slowest.ms} ms: ${slowest.text}`);
  // the soup reaches past the tokenizer: several outcome kinds occur
  for (const k of ["ok", "syntax", "name", "type"]) assert.ok((kinds[k] ?? 0) > 0, JSON.stringify(kinds));
});

Deno.test("random syntax trees print back to text that parses to the same tree", () => {
  const r = rng(42);
  for (let i = 0; i < 3_000; i++) {
    const ast = randomAst(r, 5);
    const text = printAst(ast);
    if (text.length > 4096) continue;
    let parsed;
    try {
      parsed = parseExpression(text);
    } catch (err) {
      assert.ok(err instanceof EvalError && err.kind === "limit", `${text}: ${err}`);
      continue;
    }
    assert.deepEqual(stripPositions(parsed), stripPositions(ast), text);
  }
});

Deno.test("random syntax trees only ever raise EvalError and stay under the step limit", async () => {
  const r = rng(7);
  const kinds: Record<string, number> = {};
  const slowest = { ms: 0, text: "" };
  for (let i = 0; i < 10_000; i++) {
    let text = printAst(randomAst(r, 6));
    // sometimes drop parentheses to exercise precedence on unusual shapes
    if (r() < 0.3) text = text.replace(/[()]/g, (p) => (r() < 0.3 ? "" : p));
    const k = await outcome(text, slowest);
    kinds[k] = (kinds[k] ?? 0) + 1;
  }
  // a generous bound (a busy box is slow): an unbounded evaluation would take minutes
  assert.ok(slowest.ms < 10_000, `slowest ${slowest.ms} ms: ${slowest.text}`);
  for (const k of ["ok", "type", "runtime"]) assert.ok((kinds[k] ?? 0) > 0, JSON.stringify(kinds));
});

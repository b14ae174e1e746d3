/**
 * Differential test against CPython (skipped when `python3` is not installed): random syntax trees
 * and random printf-style formats are evaluated by kunai and by CPython's eval(); the results
 * (repr or error kind) must agree. Expressions kunai stops on purpose (limit) and bare
 * function names (values in Python, errors here) are left out.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { EvalError, evaluateRaw } from "../../lib/evaluator/mod.ts";
import { pyRepr } from "../../lib/evaluator/pystr.ts";
import { printAst, randomAst, rng } from "./fuzz_gen.ts";
import { tempDir } from "../helpers.ts";

const hasPython = (() => {
  try {
    return new Deno.Command("python3", { args: ["-c", "import sys; sys.exit(sys.version_info < (3, 8))"] })
      .outputSync().success;
  } catch {
    return false;
  }
})();

async function ours(expr: string): Promise<string> {
  try {
    return "ok " + pyRepr(await evaluateRaw(expr));
  } catch (err) {
    if (!(err instanceof EvalError)) throw err;
    return "err " + err.kind;
  }
}

async function cpython(exprs: string[]): Promise<string[]> {
  const { dir, cleanup } = tempDir();
  try {
    const input = join(dir, "in.jsonl");
    Deno.writeTextFileSync(input, exprs.map((e) => JSON.stringify(e)).join("\n") + "\n");
    const script = new URL("./cpython_eval.py", import.meta.url).pathname;
    const res = await new Deno.Command("python3", { args: [script, input], stdout: "piped", stderr: "piped" })
      .output();
    assert.ok(res.success, new TextDecoder().decode(res.stderr));
    return new TextDecoder().decode(res.stdout).trim().split("\n").map((l) => JSON.parse(l));
  } finally {
    cleanup();
  }
}

async function compare(exprs: string[]): Promise<void> {
  const mine: string[] = [];
  const kept: string[] = [];
  for (const e of exprs) {
    const got = await ours(e);
    // limits are kunai's own; bare function names are values in Python, errors here
    if (got === "err limit" || got === "err name") continue;
    kept.push(e);
    mine.push(got);
  }
  const theirs = await cpython(kept);
  const diffs = kept.flatMap((
    e,
    i,
  ) => (theirs[i] === mine[i] ? [] : [`${e}\n  cpython: ${theirs[i]}\n  kunai:   ${mine[i]}`]));
  assert.deepEqual(diffs.slice(0, 10), []);
}

Deno.test({
  name: "random expressions evaluate exactly as in CPython",
  ignore: !hasPython,
  async fn() {
    const r = rng(2024);
    const exprs: string[] = [];
    for (let i = 0; i < 4000; i++) {
      let text = printAst(randomAst(r, 5));
      if (r() < 0.3) text = text.replace(/[()]/g, (p) => (r() < 0.3 ? "" : p));
      // star-unpacking is outside the language on purpose
      if (/\(\s*\*|,\s*\*/.test(text)) continue;
      exprs.push(text);
    }
    await compare(exprs);
  },
});

Deno.test({
  name: "printf-style formats, round() and str() agree with CPython digit for digit",
  ignore: !hasPython,
  async fn() {
    const r = rng(99);
    const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
    const values = [
      "0",
      "-0.0",
      "1",
      "-1",
      "7",
      "255",
      "-255",
      "2**70",
      "0.5",
      "1.5",
      "2.5",
      "-2.5",
      "2.675",
      "0.125",
      "1e-5",
      "123456.789",
      "1e16",
      "1e22",
      "-1e-300",
      "5e-324",
      "1.7976931348623157e308",
      "float('inf')",
      "float('-inf')",
      "float('nan')",
      "True",
      "'s'",
      "None",
      "0.1",
      "99.995",
      "9.5",
      "0.0001234",
      "123456789012345678",
    ];
    const exprs: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const flags = Array.from({ length: Math.floor(r() * 3) }, () => pick(["-", "+", " ", "0", "#"])).join(
        "",
      );
      const width = r() < 0.5 ? "" : String(Math.floor(r() * 15));
      const prec = r() < 0.5 ? "" : "." + String(Math.floor(r() * 20));
      const conv = pick(["d", "i", "f", "F", "e", "E", "g", "G", "x", "X", "o", "s", "r", "c"]);
      exprs.push(`'%${flags}${width}${prec}${conv}' % ${pick(values)}`);
    }
    for (
      const f of [
        "round(X)",
        "round(X, 1)",
        "round(X, 2)",
        "round(X, -1)",
        "str(X)",
        "float(str(X))",
        "int(X)",
      ]
    ) {
      for (const v of values) exprs.push(f.replace("X", v));
    }
    await compare(exprs);
  },
});

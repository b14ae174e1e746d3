import assert from "node:assert/strict";
import {
  EvalError,
  evaluate,
  evaluateRaw,
  evaluateToString,
  parseExpression,
  toPythonString,
} from "../../lib/evaluator/mod.ts";
import { pyRepr } from "../../lib/evaluator/pystr.ts";
import { TABLE } from "./expression_table.ts";

Deno.test("every expression of the table gives CPython's value or the matching error kind", async () => {
  assert.ok(TABLE.length >= 150, `table has ${TABLE.length} rows`);
  const failures: string[] = [];
  for (const [expr, want] of TABLE) {
    let got: string;
    try {
      got = pyRepr(await evaluateRaw(expr));
    } catch (err) {
      if (!(err instanceof EvalError)) {
        failures.push(`${expr}: threw a non-EvalError ${err}`);
        continue;
      }
      assert.ok(err.message.length > 0);
      got = `error:${err.kind}`;
    }
    const expected = typeof want === "string" ? want : `error:${want.error}`;
    if (got !== expected) failures.push(`${expr}: want ${expected}, got ${got}`);
  }
  assert.deepEqual(failures, []);
});

Deno.test("syntax errors carry the column of the offending token", () => {
  const cases: Array<[string, number]> = [
    ["1 +", 4],
    ["(1 + 2", 7],
    ["1 + 2)", 6],
    ["1 2", 3],
    ["'abc", 1],
    ["1 = 2", 3],
    ["abs(1)(2)", 7],
    ["a.b", 2],
    ["x[0]", 2],
    ["1 ? 2", 3],
    ["", 1],
    ["0777", 1],
    ["1 if 2 else 3", 3],
    ["1 is None", 3],
  ];
  for (const [text, column] of cases) {
    assert.throws(() => parseExpression(text), (err: unknown) => {
      assert.ok(err instanceof EvalError, `${text}: ${err}`);
      assert.equal(err.kind, "syntax", text);
      assert.equal(err.column, column, `${text}: ${err.message}`);
      assert.equal(err.position, column - 1);
      assert.match(err.message, new RegExp(`column ${column}`));
      return true;
    });
  }
});

Deno.test("runtime and type errors point at the operator or call that failed", async () => {
  const cases: Array<[string, string, number, RegExp]> = [
    ["1 + 1/0", "runtime", 6, /division by zero/],
    ["2 * (3 // 0)", "runtime", 8, /division by zero/],
    ["5 % 0", "runtime", 3, /division by zero/],
    ["1 + 'a'", "type", 3, /unsupported operand type\(s\) for \+: 'int' and 'str'/],
    ["'a' + 1", "type", 5, /can only concatenate str \(not "int"\) to str/],
    ["nope + 1", "name", 1, /name 'nope' is not defined/],
    ["1 + system('ls')", "name", 5, /function 'system' is not allowed/],
    ["'%d' % 'x'", "type", 6, /%d format: a real number is required, not str/],
    ["'%s %s' % 1", "type", 9, /not enough arguments for format string/],
    ["'%s' % (1, 2)", "type", 6, /not all arguments converted/],
    ["len(5)", "type", 1, /object of type 'int' has no len\(\)/],
    ["1 < 'a'", "type", 5, /'<' not supported between instances of 'int' and 'str'/],
  ];
  for (const [expr, kind, column, message] of cases) {
    await assert.rejects(evaluate(expr), (err: unknown) => {
      assert.ok(err instanceof EvalError, `${expr}: ${err}`);
      assert.equal(err.kind, kind, expr);
      assert.equal(err.column, column, `${expr}: ${err.message}`);
      assert.match(err.message, message);
      return true;
    });
  }
});

Deno.test("unary minus binds looser than ** and chained comparisons evaluate the middle once", async () => {
  assert.equal(await evaluate("-2**2"), -4);
  assert.equal(await evaluate("(-2)**2"), 4);
  assert.equal(await evaluate("2**-1"), 0.5);
  assert.equal(await evaluate("2**3**2"), 512);
  assert.equal(await evaluate("1 < 2 < 3"), true);
  assert.equal(await evaluate("3 > 2 < 1"), false);
  // short-circuit: the division never runs
  assert.equal(await evaluate("1 > 2 > 1/0"), false);
  assert.equal(await evaluate("0 and 1/0"), 0);
  assert.equal(await evaluate("'x' or 1/0"), "x");
});

Deno.test("evaluate answers plain JS values; evaluateToString keeps Python's int/float rendering", async () => {
  assert.equal(await evaluate("7 // 2"), 3);
  assert.equal(await evaluate("7 / 2"), 3.5);
  assert.deepEqual(await evaluate("(1, 'a', None, True)"), [1, "a", null, true]);
  assert.equal(await evaluateToString("1.0"), "1.0");
  assert.equal(await evaluateToString("2 * 1"), "2");
  assert.equal(await evaluateToString("100 - 97.5"), "2.5");
  assert.equal(await evaluateToString("1e20"), "1e+20");
  assert.equal(await evaluateToString("True"), "True");
  assert.equal(await evaluateToString("None"), "None");
  assert.equal(await evaluateToString("(1, 2.0)"), "(1, 2.0)");
  assert.equal(await evaluateToString("'a'"), "a");
});

Deno.test("toPythonString renders plain values like Python's str()", () => {
  assert.equal(toPythonString(true), "True");
  assert.equal(toPythonString(null), "None");
  assert.equal(toPythonString(3), "3");
  assert.equal(toPythonString(2.5), "2.5");
  assert.equal(toPythonString(1e20), "1e+20");
  assert.equal(toPythonString("x"), "x");
  assert.deepEqual(toPythonString([1, "a", [2.5, null], true]), "(1, 'a', (2.5, None), True)");
  assert.equal(toPythonString([7]), "(7,)");
});

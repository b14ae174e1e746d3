/**
 * The original ran on Python 2: `str(float)` — what `%s`, `str()` and `{collector.x}` print — keeps 12
 * significant digits there (`'%s' % (100 - 97.3)` is `2.7`), while `repr(float)`, used for the items of
 * a tuple or list, is the shortest round-trip text as in Python 3. Expected texts were printed by
 * CPython 2.7.18.
 */
import assert from "node:assert/strict";
import { type EvalEnv, evaluateToString, substitute } from "../../lib/evaluator/mod.ts";

/** [Python 2 repr (the literal), Python 2 str]. */
const PY2_STR: Array<[string, string]> = [
  ["0.30000000000000004", "0.3"],
  ["2.700000000000003", "2.7"],
  ["2.0", "2.0"],
  ["1e+16", "1e+16"],
  ["100000000000.0", "1e+11"],
  ["12345678901.0", "12345678901.0"],
  ["12345678901.5", "12345678901.5"],
  ["123456789012.5", "1.23456789012e+11"],
  ["1234567890125.0", "1.23456789012e+12"],
  ["1000000000005.0", "1.00000000000e+12"], // 2.7's dtoa keeps these zeros (a tie of an integral value)
  ["1000000000015.0", "1.00000000002e+12"],
  ["9382997071501.0", "9.3829970715e+12"],
  ["123456789010.5", "1.2345678901e+11"],
  ["999999999999.5", "1e+12"],
  ["99999999999.95", "99999999999.9"],
  ["0.000123456789012345", "0.000123456789012"],
  ["0.0001", "0.0001"],
  ["1e-05", "1e-05"],
  ["1.0000000000005", "1.0"],
  ["9.9999999999995", "10.0"],
  ["0.3333333333333333", "0.333333333333"],
  ["0.6666666666666666", "0.666666666667"],
  ["-1.5", "-1.5"],
  ["-0.0", "-0.0"],
  ["5e-324", "4.94065645841e-324"],
  ["1.7976931348623157e+308", "1.79769313486e+308"],
  ["1e+22", "1e+22"],
  ["2.675", "2.675"],
  ["1.5e-10", "1.5e-10"],
];

Deno.test("'%s' % x and str(x) print a float as Python 2's str: 12 significant digits, .0 kept", async () => {
  for (const [repr, str] of PY2_STR) {
    assert.equal(await evaluateToString(`'%s' % (${repr})`), str, `'%s' % ${repr}`);
    assert.equal(await evaluateToString(`str(${repr})`), str, `str(${repr})`);
    assert.equal(await evaluateToString(repr), str, `output ${repr}`);
    // a tuple shows its items with repr(), the shortest round-trip text, in Python 2 as in 3
    assert.equal(await evaluateToString(`'%s' % ((${repr}, 1),)`), `(${repr}, 1)`, `(${repr}, 1)`);
    assert.equal(await evaluateToString(`'%r' % (${repr})`), repr, `'%r' % ${repr}`);
  }
  assert.equal(await evaluateToString("'%s%%' % (100 - 97.3)"), "2.7%");
  assert.equal(await evaluateToString("'%s' % (0.1 + 0.2)"), "0.3");
});

Deno.test("{collector.x} inserts Python 2's str() of a float; items of a list keep repr()", () => {
  const env: EvalEnv = {
    collectors: {
      get: () => ({ idle: 97.30000000000001, third: 1 / 3, list: [0.1 + 0.2, 2], count: 4 }),
      names: () => ["cpu"],
    },
  };
  assert.equal(substitute("{collector.cpu.idle}", env), "97.3");
  assert.equal(substitute("{collector.cpu.third}", env), "0.333333333333");
  assert.equal(substitute("{collector.cpu.list}", env), "[0.30000000000000004, 2]");
  assert.equal(substitute("{collector.cpu.count}", env), "4");
});

/**
 * Jinja2's tests nunjucks lacks or has differently: the type tests (`integer`, `float`, `number`...),
 * `in`, `truthy`/`falsy` by Python's truthiness, `odd`/`even`/`divisibleby` of numbers only, the
 * comparison tests by their operator names too (`selectattr('port', '>=', 1024)`), and `filter`/`test`.
 */
import type nunjucks from "nunjucks";
import { isNumber, isPlain, pyEq, pyIn, pyTruthy, pyType } from "./jinja.ts";
import { isFloat, PyFloat } from "./pyfloat.ts";
import { compare, registryOf } from "./filters_common.ts";
import { pyStr } from "./pyrepr.ts";
import { stringMethod } from "./pystrmethods.ts";

/** Adds Jinja2's tests to a nunjucks environment. */
export function registerTests(env: nunjucks.Environment): void {
  env.addTest("none", (v: unknown) => v === null);
  // Jinja2's type tests (an integral float from the data reads as an integer: JSON cannot tell them
  // apart; one the template made, `4 / 2`, is a float)
  env.addTest("integer", (v: unknown) => typeof v === "number" && Number.isInteger(v));
  env.addTest("float", (v: unknown) => isFloat(v));
  // a bool is a number (Python's bool is an int; `is integer` alone leaves True and False out)
  env.addTest(
    "number",
    (v: unknown) => typeof v === "number" || typeof v === "boolean" || v instanceof PyFloat,
  );
  // a marked-safe string (`x|e`, `x|safe`, `x|tojson`: Jinja2's Markup) is a str too
  env.addTest("string", (v: unknown) => typeof v === "string" || v instanceof String);
  env.addTest("boolean", (v: unknown) => typeof v === "boolean");
  env.addTest("true", (v: unknown) => v === true);
  env.addTest("false", (v: unknown) => v === false);
  // `x is in seq`: Python's `in` (a substring, an item, a dict's key)
  env.addTest("in", (v: unknown, seq: unknown) => pyIn(v, seq));
  // Jinja2's `sequence`: anything with a length and items (a list, a string, a dict)
  env.addTest(
    "sequence",
    (v: unknown) =>
      // an undefined value too: Jinja2's Undefined has a length (0) and items (which fail)
      v === undefined || typeof v === "string" ||
      (v !== null && typeof v === "object" && !(v instanceof PyFloat)),
  );
  // `is iterable`: what Python's iter() takes, an undefined value too (it iterates as empty); nunjucks
  // read Symbol.iterator of undefined and None, a JavaScript TypeError
  env.addTest(
    "iterable",
    (v: unknown) =>
      v === undefined || typeof v === "string" || Array.isArray(v) ||
      (v !== null && typeof v === "object" && (v instanceof String || isPlain(v))),
  );
  env.addTest("truthy", (v: unknown) => pyTruthy(v));
  env.addTest("falsy", (v: unknown) => !pyTruthy(v));
  // `is upper`, `is lower`: str(value).isupper()/islower(), true only with a cased character ('1' is
  // neither; nunjucks compared the value with its upper/lower case, so '1' was both)
  for (const name of ["upper", "lower"]) {
    env.addTest(name, (v: unknown) => stringMethod(String(pyStr(v) ?? ""), `is${name}`)());
  }
  // odd, even, divisibleby: of numbers (nunjucks took '1' as odd)
  const intTest = (name: string, f: (n: number, d: number) => boolean) =>
    env.addTest(name, (v: unknown, d: unknown = 2) => {
      if (!isNumber(v) || !isNumber(d)) {
        throw new Error(
          `TypeError: ${name}: unsupported operand type(s) for %: '${pyType(v)}' and '${pyType(d)}'`,
        );
      }
      if (Number(d) === 0) throw new Error("ZeroDivisionError: integer division or modulo by zero");
      return f(Number(v), Number(d));
    });
  const mod = (n: number, d: number) => ((n % d) + d) % d;
  intTest("odd", (n) => mod(n, 2) === 1);
  intTest("even", (n) => mod(n, 2) === 0);
  intTest("divisibleby", (n, d) => mod(n, d) === 0);
  // Jinja2's comparison tests by their operator names too (`selectattr('port', '>=', 1024)`), with
  // Python's == (no coercion) and ordering (mixed types are a TypeError, as in Jinja2)
  const eq = (a: unknown, b: unknown) => pyEq(a, b);
  const ne = (a: unknown, b: unknown) => !pyEq(a, b);
  const lt = (a: unknown, b: unknown) => compare(a, b) < 0;
  const le = (a: unknown, b: unknown) => compare(a, b) <= 0;
  const gt = (a: unknown, b: unknown) => compare(a, b) > 0;
  const ge = (a: unknown, b: unknown) => compare(a, b) >= 0;
  for (
    const [names, test] of [
      [["==", "eq", "equalto"], eq],
      [["!=", "ne"], ne],
      [["<", "lt", "lessthan"], lt],
      [["<=", "le"], le],
      [[">", "gt", "greaterthan"], gt],
      [[">=", "ge"], ge],
    ] as const
  ) for (const name of names) env.addTest(name, test);
  // `'upper' is filter`, `'odd' is test`: whether the environment has one of that name
  env.addTest("filter", (v: unknown) => typeof v === "string" && Object.hasOwn(registryOf(env).filters, v));
  env.addTest("test", (v: unknown) => typeof v === "string" && Object.hasOwn(registryOf(env).tests, v));
}

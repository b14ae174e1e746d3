/**
 * Python's operators on template values (pure): `==` and ordering without JavaScript's coercion,
 * comparison chains, `in`, `+`, `-`, `/`, `//`, `**`, unary signs, `%` (string formatting or the
 * modulo) and `*` (repetition or the product), with Python's TypeErrors and ZeroDivisionErrors.
 */
import {
  EvalError,
  floatRepr,
  formatPercent as evalFormatPercent,
  pyStr as evalStr,
} from "../evaluator/mod.ts";
import { isFloat, PyFloat, toFloat } from "./pyfloat.ts";
import { toPy } from "./pyrepr.ts";
import { isNumber, isPlain, isTuple, jinjaDefined, pyType, tuple } from "./pytypes.ts";

/**
 * Python's `==`: no coercion (`'' == false`, `'80' == 80` are False; JavaScript's `==` said true),
 * lists and dicts equal by content, `True == 1`, None equal to None only (an undefined name is not).
 */
export function pyEq(a: unknown, b: unknown): boolean {
  if (a instanceof String) a = String(a);
  if (b instanceof String) b = String(b);
  if (isNumber(a) && isNumber(b)) return Number(a) === Number(b);
  if (a === null || a === undefined || b === null || b === undefined) return a === b;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b)) return false;
    // a tuple is never equal to a list (`(1,) == [1]` is False), nor a dict view to either
    const type = pyType(a);
    if (type !== pyType(b)) return false;
    if (type === "dict_values") return a === b;
    if (a.length !== b.length) return false;
    // keys and items compare as sets
    if (type === "dict_keys" || type === "dict_items") return a.every((x) => b.some((y) => pyEq(x, y)));
    return a.every((x, i) => pyEq(x, b[i]));
  }
  if (typeof a === "object" && typeof b === "object" && isPlain(a) && isPlain(b)) {
    const ka = Object.keys(a as object), kb = Object.keys(b as object);
    return ka.length === kb.length && ka.every((k) =>
      Object.hasOwn(b as object, k) &&
      pyEq((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
    );
  }
  return a === b;
}

/** Python's `<` between two strings: by code point (JavaScript compares UTF-16 code units). */
function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const x = [...a], y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i].codePointAt(0)! - y[i].codePointAt(0)!;
  }
  return x.length - y.length;
}

/** Python's ordering of two values: numbers, strings, or lists item by item; anything else is a TypeError. */
export function pyOrder(a: unknown, b: unknown, op = "<"): number {
  if (a instanceof String) a = String(a);
  if (b instanceof String) b = String(b);
  if (isNumber(a) && isNumber(b)) {
    const x = Number(a), y = Number(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (typeof a === "string" && typeof b === "string") return compareStrings(a, b);
  if (Array.isArray(a) && Array.isArray(b) && pyType(a) === pyType(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      if (!pyEq(a[i], b[i])) return pyOrder(a[i], b[i], op);
    }
    return a.length - b.length;
  }
  throw new Error(
    `TypeError: '${op}' not supported between instances of '${pyType(a)}' and '${pyType(b)}'`,
  );
}

/**
 * A comparison chain as Python reads it: `a < b < c` is `a < b and b < c`, each operand after the first
 * evaluated (by calling it) only when the links before it hold; ordering an undefined value raises.
 */
export function pyCompare(
  first: unknown,
  what: string,
  ...ops: Array<[string, () => unknown, string]>
): boolean {
  let left = first;
  let leftWhat = what;
  for (const [op, operand, rightWhat] of ops) {
    const right = operand();
    let ok: boolean;
    if (op === "==" || op === "===") ok = pyEq(left, right);
    else if (op === "!=" || op === "!==") ok = !pyEq(left, right);
    else if (op === "in") ok = pyIn(left, right);
    else if (op === "notin") ok = !pyIn(left, right);
    else {
      jinjaDefined(left, leftWhat);
      jinjaDefined(right, rightWhat);
      const c = pyOrder(left, right, op);
      ok = op === "<" ? c < 0 : op === ">" ? c > 0 : op === "<=" ? c <= 0 : c >= 0;
    }
    if (!ok) return false;
    left = right;
    leftWhat = rightWhat;
  }
  return true;
}

/**
 * Python's `x in seq`: a substring of a string (a str only), an item of a list (by ==), a key of a
 * dict; nothing is in an undefined value. nunjucks used indexOf (`2.0 in [2]` was false, `1 in 'a1'`
 * true) and JavaScript's `in`.
 */
export function pyIn(v: unknown, seq: unknown): boolean {
  if (seq === undefined) return false;
  if (typeof seq === "string" || seq instanceof String) {
    if (typeof v !== "string" && !(v instanceof String)) {
      throw new Error(`TypeError: 'in <string>' requires string as left operand, not ${pyType(v)}`);
    }
    return String(seq).includes(String(v));
  }
  if (Array.isArray(seq)) return seq.some((x) => pyEq(x, v));
  if (seq instanceof Map || seq instanceof Set) return seq.has(v);
  if (seq !== null && typeof seq === "object" && !(seq instanceof PyFloat)) {
    // a key is hashable: a list or a dict is not (`[1] in d` is a TypeError, not False)
    if ((Array.isArray(v) && !isTuple(v)) || (v !== null && typeof v === "object" && isPlain(v))) {
      throw new Error(`TypeError: unhashable type: '${pyType(v)}'`);
    }
    return (typeof v === "string" || v instanceof String) && Object.hasOwn(seq, String(v));
  }
  throw new Error(`TypeError: argument of type '${pyType(seq)}' is not iterable`);
}

/** Python's `-`, `/`, `//` and `**` on two numbers (a bool counts as one); anything else is a TypeError. */
export function pyArith(op: string, a: unknown, b: unknown): unknown {
  if (!isNumber(a) || !isNumber(b)) {
    throw new Error(`TypeError: unsupported operand type(s) for ${op}: '${pyType(a)}' and '${pyType(b)}'`);
  }
  const x = Number(a), y = Number(b);
  if (y === 0 && (op === "/" || op === "//")) {
    throw new Error(`ZeroDivisionError: ${op === "/" ? "division" : "integer division or modulo"} by zero`);
  }
  if (op === "**" && x === 0 && y < 0) {
    throw new Error("ZeroDivisionError: 0.0 cannot be raised to a negative power");
  }
  const r = op === "-" ? x - y : op === "/" ? x / y : op === "//" ? divmod(x, y)[0] : x ** y;
  // a float power out of range is an OverflowError in Python (JavaScript gave inf)
  if (
    op === "**" && (isFloat(a) || isFloat(b)) && !Number.isFinite(r) && Number.isFinite(x) &&
    Number.isFinite(y)
  ) {
    throw new Error("OverflowError: (34, 'Numerical result out of range')");
  }
  // `/` is always a float, so is anything with a float operand and an int to a negative power; an int
  // has no negative zero (`0 // -5` is 0)
  return op === "/" || isFloat(a) || isFloat(b) || (op === "**" && y < 0) ? toFloat(r) : r === 0 ? 0 : r;
}

/**
 * CPython's float_divmod: the floor of the quotient and the modulo with the divisor's sign, from the
 * exact remainder (`1e6 // 0.1` is 9999999.0, as in Python; Math.floor(1e6 / 0.1) gave 10000000), and a
 * zero one with the divisor's sign (`1 % -0.5` is -0.0).
 */
function divmod(x: number, y: number): [number, number] {
  let mod = x % y; // C's fmod
  let div = (x - mod) / y;
  if (mod !== 0) {
    if ((y < 0) !== (mod < 0)) {
      mod += y;
      div -= 1;
    }
  } else mod = y < 0 ? -0 : 0;
  if (div === 0) return [x / y < 0 || Object.is(x / y, -0) ? -0 : 0, mod];
  const floor = Math.floor(div);
  return [div - floor > 0.5 ? floor + 1 : floor, mod];
}

/** Python's unary `-` and `+`: a number only. */
export function pyUnary(op: string, a: unknown): unknown {
  if (!isNumber(a)) throw new Error(`TypeError: bad operand type for unary ${op}: '${pyType(a)}'`);
  const r = op === "-" ? -Number(a) : Number(a);
  // an int has no negative zero (`-false / 2.5` is 0.0)
  return isFloat(a) ? toFloat(r) : r === 0 ? 0 : r;
}

/** Python's `+`: lists concatenate, strings too; a string and a number do not mix (TypeError). */
export function pyAdd(a: unknown, b: unknown): unknown {
  if (Array.isArray(a) && Array.isArray(b)) {
    // a list to a list, a tuple to a tuple (`(1,) + (2,)` is `(1, 2)`); not a list to a tuple
    const [ta, tb] = [pyType(a), pyType(b)];
    if (ta === tb && ta === "tuple") return tuple([...a, ...b]);
    if (ta === tb && ta === "list") return [...a, ...b];
    if (ta === "list" || ta === "tuple") {
      throw new Error(`TypeError: can only concatenate ${ta} (not "${tb}") to ${ta}`);
    }
  }
  const str = (v: unknown) => typeof v === "string" || v instanceof String;
  if (str(a) && str(b)) return String(a) + String(b);
  if (!isNumber(a) || !isNumber(b)) {
    throw new Error(`TypeError: unsupported operand type(s) for +: '${pyType(a)}' and '${pyType(b)}'`);
  }
  const r = Number(a) + Number(b);
  return isFloat(a) || isFloat(b) ? toFloat(r) : r;
}

/** Python's `a % b`: string formatting for a string, else the modulo with the divisor's sign. */
export function pyMod(a: unknown, b: unknown): unknown {
  if (typeof a === "string" || a instanceof String) {
    const fmt = String(a);
    if (fmt.includes("%(") && b !== null && typeof b === "object" && !Array.isArray(b) && isPlain(b)) {
      return formatMapping(fmt, b as Record<string, unknown>);
    }
    const args = isTuple(b) ? toPy(b) : [toPy(b, true)];
    try {
      return formatPercent(fmt, args as never);
    } catch (err) {
      // a mapping (or a list: anything with items but a tuple) on the right needs no conversion at all
      // (`'x' % {'a': 1}` and `'x' % [1]` are 'x', as in Python)
      if (
        /not all arguments converted/.test((err as Error).message) &&
        (b === undefined ||
          (b !== null && typeof b === "object" && !isTuple(b) && (Array.isArray(b) || isPlain(b))))
      ) {
        return formatPercent(fmt, [] as never);
      }
      // an undefined value prints as "" with %s; anything else it is asked for raises, as Jinja2's Undefined
      const undef = b === undefined || (isTuple(b) && (b as unknown[]).includes(undefined));
      if (undef && /^TypeError: /.test((err as Error).message)) {
        throw new Error(`UndefinedError: a value formatted by '%' is undefined (${(err as Error).message})`);
      }
      throw err;
    }
  }
  if (!isNumber(a) || !isNumber(b)) {
    throw new Error(`TypeError: unsupported operand type(s) for %: '${pyType(a)}' and '${pyType(b)}'`);
  }
  const x = Number(a);
  const y = Number(b);
  if (y === 0) throw new Error("ZeroDivisionError: modulo by zero");
  const r = divmod(x, y)[1];
  return isFloat(a) || isFloat(b) ? toFloat(r) : r === 0 ? 0 : r;
}

/**
 * What `%s` prints of a value toPy() made: Python 3's str(), as Jinja2's (`'%s' % (1 / 3)` is
 * 0.3333333333333333; the evaluator's own `%s` is the original's Python 2 str(), 12 digits: 0.333333333333).
 */
export const percentStr = (v: unknown): string => typeof v === "number" ? floatRepr(v) : evalStr(v);

/**
 * The evaluator's printf-style formatting, its errors with Python's kinds (`'%d' % 'x'` is a TypeError,
 * `'%y' % 1` a ValueError), as a template's error names them.
 */
function formatPercent(fmt: string, args: never): string {
  try {
    return evalFormatPercent(fmt, args, percentStr);
  } catch (err) {
    if (!(err instanceof EvalError)) throw err;
    throw new Error(`${err.kind === "type" ? "TypeError" : "ValueError"}: ${err.reason}`);
  }
}

/** `'%(host)s:%(port)d' % d`: each named conversion takes its value from the mapping. */
function formatMapping(fmt: string, map: Record<string, unknown>): string {
  return fmt.replace(/%(?:\(([^)]*)\))?([-+ 0#]*\d*(?:\.\d*)?[a-zA-Z%])/g, (whole, name, spec) => {
    if (spec === "%") {
      return name === undefined ? "%" : formatPercent(whole.replace(`(${name})`, ""), [] as never);
    }
    if (name === undefined) throw new Error("TypeError: format requires a mapping");
    if (!Object.hasOwn(map, name)) throw new Error(`KeyError: '${name}'`);
    return formatPercent("%" + spec, [toPy(map[name], true)] as never);
  });
}

/** Longest string or list `*` may build (a template's `'-' * n`). */
const MAX_REPEAT = 1_000_000;

/** Python's `a * b`: a string or list repeated by an int, else the product. */
export function pyMul(a: unknown, b: unknown): unknown {
  if (a instanceof String) a = String(a);
  if (b instanceof String) b = String(b);
  const [seq, n] = isNumber(b) && (typeof a === "string" || Array.isArray(a))
    ? [a, b]
    : isNumber(a) && (typeof b === "string" || Array.isArray(b))
    ? [b, a]
    : [null, 0];
  if (seq === null) {
    if (!isNumber(a) || !isNumber(b)) {
      throw new Error(`TypeError: unsupported operand type(s) for *: '${pyType(a)}' and '${pyType(b)}'`);
    }
    const r = Number(a) * Number(b);
    return isFloat(a) || isFloat(b) ? toFloat(r) : r;
  }
  if (isFloat(n)) {
    throw new Error(`TypeError: can't multiply sequence by non-int of type '${pyType(n)}'`);
  }
  const times = Math.max(0, Number(n));
  if ((seq as string | unknown[]).length * times > MAX_REPEAT) {
    throw new Error(`a repetition over ${MAX_REPEAT} items`);
  }
  if (typeof seq === "string") return seq.repeat(times);
  const items = Array.from({ length: times }, () => seq as unknown[]).flat();
  return isTuple(seq) ? tuple(items) : items; // `2 * (1,)` is a tuple
}

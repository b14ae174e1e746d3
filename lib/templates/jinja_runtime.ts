/**
 * nunjucks' runtime patched with Jinja2's semantics (installed by installJinjaSemantics, before any
 * parser or compiler patch): the helpers the compiled templates call (`runtime.jinjaTruthy`,
 * `jinjaMod`, `jinjaCompare`...: Python's values and operators from pyvalues.ts), output as Python's
 * `str()`, attribute and item lookups (attributes.ts), and filters, tests and names that never reach
 * Object.prototype's.
 */
import type nunjucks from "nunjucks";
import { member } from "./attributes.ts";
import { sliceItems } from "./collections.ts";
import { PyFloat } from "./pyfloat.ts";
import {
  isPlain,
  isTuple,
  jinjaDefined,
  JinjaNamespace,
  pyAdd,
  pyArith,
  pyCompare,
  pyIn,
  pyMod,
  pyMul,
  pyStr,
  pyTruthy,
  pyType,
  pyUnary,
  tuple,
  unpack,
} from "./pyvalues.ts";

/** nunjucks' runtime frame, as an include hands it on. */
export interface IncludeFrame {
  push(isolate?: boolean): IncludeFrame;
  lookup(name: string): unknown;
}

/** nunjucks' runtime, with the helpers kunai's compiled templates call. */
export type Runtime = {
  handleError(e: unknown, lineno: number, colno: number): unknown;
  jinjaWhere?: (e: unknown, lineno: number, colno: number, path: string) => unknown;
  jinjaIncludeFrame?: (frame: IncludeFrame) => IncludeFrame;
  jinjaStarArgs?: (v: unknown) => unknown[];
  jinjaMergeKwargs?: (explicit: Record<string, unknown>, v: unknown) => Record<string, unknown>;
  suppressValue(val: unknown, autoescape: boolean): unknown;
  callWrap(obj: unknown, name: string, context: unknown, args: unknown[]): unknown;
  memberLookup(obj: unknown, val: unknown, ...rest: unknown[]): unknown;
  contextOrFrameLookup(
    context: { ctx: object; env: { globals: object } },
    frame: { lookup(name: string): unknown },
    name: string,
  ): unknown;
  SafeString: new (s: string) => unknown;
  jinjaTruthy?: (v: unknown) => boolean;
  jinjaConcat?: (a: unknown, b: unknown) => string;
  jinjaMod?: (a: unknown, b: unknown, rightText: string) => unknown;
  jinjaMul?: (a: unknown, b: unknown) => unknown;
  jinjaTuple?: (items: unknown[]) => unknown[];
  jinjaNsSet?: (obj: unknown, key: unknown, value: unknown) => void;
  jinjaCompare?: (first: unknown, what: string, ...ops: Array<[string, () => unknown, string]>) => boolean;
  jinjaAdd?: (a: unknown, b: unknown) => unknown;
  jinjaIn?: (a: unknown, b: unknown) => boolean;
  jinjaArith?: (op: string, a: unknown, b: unknown) => unknown;
  jinjaUnary?: (op: string, a: unknown) => unknown;
  jinjaFloat?: (n: number) => unknown;
  jinjaDefined?: (v: unknown, what: string) => unknown;
  jinjaUnpack?: (value: unknown, n: number) => unknown[];
  jinjaGetitem?: (obj: unknown, key: unknown, ...rest: unknown[]) => unknown;
};

/** Sets the runtime's Jinja2 helpers and patches its output, lookups, filters and tests. */
export function installRuntime(nj: typeof nunjucks): void {
  const runtime = (nj as unknown as { runtime: Runtime }).runtime;
  runtime.jinjaTruthy = pyTruthy;
  runtime.jinjaConcat = (a, b) => String(pyStr(a) ?? "") + String(pyStr(b) ?? "");
  runtime.jinjaMod = (a, b, rightText) =>
    pyMod(a, typeof a === "string" || a instanceof String ? b : jinjaDefined(b, rightText));
  runtime.jinjaMul = pyMul;
  runtime.jinjaTuple = tuple;
  runtime.jinjaNsSet = (obj, key, value) => {
    if (!(obj instanceof JinjaNamespace)) throw new Error("cannot assign attribute on non-namespace object");
    (obj as unknown as Record<string, unknown>)[String(key)] = value;
  };
  runtime.jinjaUnpack = unpack;
  runtime.jinjaCompare = pyCompare;
  runtime.jinjaAdd = pyAdd;
  runtime.jinjaIn = pyIn;
  runtime.jinjaArith = pyArith;
  runtime.jinjaUnary = pyUnary;
  runtime.jinjaDefined = jinjaDefined;
  runtime.jinjaFloat = (n) => new PyFloat(n);

  const suppress = runtime.suppressValue;
  runtime.suppressValue = (val, autoescape) => suppress(pyStr(val), autoescape);

  // `f(*args)`: the items as Python iterates them (an undefined value none, as Jinja2's Undefined)
  runtime.jinjaStarArgs = (v) => {
    if (v === undefined) return [];
    if (Array.isArray(v)) return [...v];
    if (typeof v === "string" || v instanceof String) return [...String(v)];
    if (v !== null && typeof v === "object" && isPlain(v)) return Object.keys(v);
    throw new Error(`TypeError: Value after * must be an iterable, not ${pyType(v)}`);
  };
  // `f(a=1, **kw)`: a mapping's items after the keywords written, none of them twice
  runtime.jinjaMergeKwargs = (explicit, v) => {
    if (v === undefined) throw new Error("UndefinedError: the value after ** is undefined");
    if (v === null || typeof v !== "object" || Array.isArray(v) || !isPlain(v)) {
      throw new Error(`TypeError: argument after ** must be a mapping, not ${pyType(v)}`);
    }
    const out: Record<string, unknown> = { ...explicit };
    for (const [k, x] of Object.entries(v)) {
      if (Object.hasOwn(out, k)) {
        throw new Error(`TypeError: got multiple values for keyword argument '${k}'`);
      }
      Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true });
    }
    return out;
  };
  // calling what is not a function: Jinja2's kinds of error (nunjucks: "undefined or falsey")
  const callWrap = runtime.callWrap;
  runtime.callWrap = (obj, name, context, args) => {
    if (obj === undefined) throw new Error(`UndefinedError: Unable to call \`${name}\`, which is undefined`);
    if (typeof obj !== "function") {
      throw new Error(`TypeError: Unable to call \`${name}\`: '${pyType(obj)}' object is not callable`);
    }
    return callWrap(obj, name, context, args);
  };

  runtime.memberLookup = function (this: unknown, obj: unknown, val: unknown, ...rest: unknown[]) {
    // a marked-safe string (`k|e`, Jinja2's Markup) is a str key like any other
    if (val instanceof String) val = String(val);
    // a float is no index (`l[4 / 2]`: Jinja2's getitem fails, an undefined value)
    if (val instanceof PyFloat && rest.length === 0) return undefined;
    if (rest.length >= 2) {
      // a slice, Python's: a string's is a string (jinja-compat's gave a list of characters), a tuple's a
      // tuple; a dict has none, and another value's is undefined (Jinja2's getitem finds nothing)
      const [stop, step] = rest;
      if (typeof obj === "string" || obj instanceof String) {
        return sliceItems([...String(obj)], val, stop, step).join("");
      }
      if (Array.isArray(obj)) {
        const part = sliceItems(obj, val, stop, step);
        return isTuple(obj) ? tuple(part) : part;
      }
      if (obj !== null && typeof obj === "object" && isPlain(obj)) {
        throw new Error("TypeError: unhashable type: 'slice'");
      }
      return undefined;
    }
    // Python's methods, then data only: never an inherited property (`constructor.constructor` was
    // JavaScript's Function), nor jinja-compat's list and dict methods (`append` gave the length)
    return member(obj, val);
  };
  runtime.jinjaGetitem = function (this: unknown, obj: unknown, key: unknown, ...rest: unknown[]) {
    if (key instanceof String) key = String(key);
    // a dict's own key before its method (`d['items']`); a list's or a string's index has no method
    const dict = obj !== null && typeof obj === "object" && !Array.isArray(obj) && isPlain(obj);
    if (dict && rest.length === 0 && typeof key === "string" && Object.hasOwn(obj, key)) {
      return (obj as Record<string, unknown>)[key];
    }
    return runtime.memberLookup.call(this, obj, key, ...rest);
  };
  // a filter or test is one registered (`x|constructor`, `map('__defineGetter__')`, `x is toString`
  // reached Object.prototype's)
  const env =
    (nj as unknown as { Environment: { prototype: Record<string, unknown> } }).Environment.prototype;
  for (const [getter, table, kind] of [["getFilter", "filters", "filter"], ["getTest", "tests", "test"]]) {
    env[getter] = function (this: Record<string, Record<string, unknown>>, name: string) {
      // (a name the template writes is checked when it is compiled: jinja_names.ts)
      if (!Object.hasOwn(this[table], name)) {
        throw new Error(`TemplateRuntimeError: no ${kind} named '${name}' found`);
      }
      return this[table][name];
    };
  }
  // a name is the template's, its context's or a global: `constructor`, `toString`... are not Object's
  const lookupName = runtime.contextOrFrameLookup;
  runtime.contextOrFrameLookup = function (this: unknown, context, frame, name) {
    const inherited = name in Object.prototype && frame.lookup(name) === undefined &&
      !Object.hasOwn(context.ctx, name) && !Object.hasOwn(context.env.globals, name);
    return inherited ? undefined : lookupName.call(this, context, frame, name);
  };
}

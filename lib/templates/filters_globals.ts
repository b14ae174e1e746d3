/**
 * Jinja2's global functions as Python has them: `range()` of ints (with a limit on its size),
 * `dict()`, `namespace()`, `cycler()` and `joiner()`.
 */
import type nunjucks from "nunjucks";
import { JinjaNamespace, pyStr, pyType, unpack } from "./jinja.ts";
import { PY_REPR, pyNamed } from "./pyvalues.ts";
import { named, splitKwargs } from "./filters_common.ts";

/** Most items `range()` makes (a template's loop over a range; Jinja2 itself has no limit). */
const MAX_RANGE = 1_000_000;

/** Adds Jinja2's global functions to a nunjucks environment. */
export function registerGlobals(env: nunjucks.Environment): void {
  // `namespace(found=false)` or `namespace(d)`: the object `{% set ns.found = true %}` may change
  env.addGlobal("namespace", (...args: unknown[]) => {
    const { pos, kw } = splitKwargs(args);
    const init: Record<string, unknown> = {};
    for (const p of pos) if (p !== null && typeof p === "object" && !Array.isArray(p)) Object.assign(init, p);
    return new JinjaNamespace({ ...init, ...named(kw) });
  });
  // Python's dict(): `dict(a=1)`, `dict(other, b=2)`, `dict([('a', 1)])` (a template's own mapping)
  env.addGlobal("dict", (...args: unknown[]) => {
    const { pos, kw } = splitKwargs(args);
    if (pos.length > 1) throw new Error(`TypeError: dict expected at most 1 argument, got ${pos.length}`);
    const out: Record<string, unknown> = {};
    const [src] = pos;
    if (Array.isArray(src)) {
      for (const pair of src) {
        const [k, v] = unpack(pair, 2);
        out[String(pyStr(k))] = v;
      }
    } else if (src !== null && typeof src === "object") Object.assign(out, src);
    else if (src !== undefined) throw new Error(`TypeError: '${pyType(src)}' object is not iterable`);
    return Object.assign(out, named(kw));
  });
  // Jinja2's cycler(*items) (`current` is the item next() returns next) and joiner(sep=", "): a
  // keyword for the separator (`joiner(sep='; ')` printed the keyword object), none for cycler
  env.addGlobal("cycler", (...args: unknown[]) => {
    const { pos, kw } = splitKwargs(args);
    noKeywords("cycler", kw, []);
    if (!pos.length) throw new Error("RuntimeError: cycler: at least one item has to be provided");
    return new Cycler(pos);
  });
  env.addGlobal("joiner", (...args: unknown[]) => {
    const { pos, kw } = splitKwargs(args);
    noKeywords("joiner", kw, ["sep"]);
    if (pos.length > 1) throw new Error(`TypeError: joiner() takes at most 1 argument, ${pos.length} given`);
    if (pos.length && "sep" in named(kw)) {
      throw new Error("TypeError: joiner() got multiple values for argument 'sep'");
    }
    const sep = pos.length ? pos[0] : kw.sep ?? ", ";
    let used = false;
    return pyNamed(() => {
      const out = used ? sep : "";
      used = true;
      return out;
    }, "<jinja2.utils.Joiner object>");
  });
  // Python's range() of ints (a float is a TypeError, as in Python; nunjucks counted with it), at
  // most MAX_RANGE items (nunjucks built any array asked for: range(10**9) ran the agent out of memory)
  env.addGlobal("range", (...args: unknown[]) => {
    const { pos, kw } = splitKwargs(args);
    noKeywords("range", kw, []);
    if (pos.length < 1 || pos.length > 3) {
      throw new Error(`TypeError: range expected 1 to 3 arguments, got ${pos.length}`);
    }
    const ints = pos.map((a) => {
      if (typeof a === "boolean") return Number(a);
      if (typeof a === "number" && Number.isInteger(a)) return a;
      throw new Error(`TypeError: '${pyType(a)}' object cannot be interpreted as an integer`);
    });
    const [start, stop, step] = ints.length === 1 ? [0, ints[0], 1] : [ints[0], ints[1], ints[2] ?? 1];
    if (step === 0) throw new Error("ValueError: range() arg 3 must not be zero");
    const n = Math.max(0, Math.ceil((stop - start) / step));
    if (n > MAX_RANGE) throw new Error(`range: ${n} items is over the limit of ${MAX_RANGE}`);
    return Array.from({ length: n }, (_, i) => start + i * step);
  });
  nameGlobals(env);
}

/** The globals printed as Python prints them (`{{ range }}` is `<class 'range'>`). */
const GLOBAL_REPRS: Record<string, string> = {
  range: "<class 'range'>",
  dict: "<class 'dict'>",
  namespace: "<class 'jinja2.utils.Namespace'>",
  cycler: "<class 'jinja2.utils.Cycler'>",
  joiner: "<class 'jinja2.utils.Joiner'>",
};

/** Names the globals registered so far by their Python text (GLOBAL_REPRS). */
function nameGlobals(env: nunjucks.Environment): void {
  for (const [name, repr] of Object.entries(GLOBAL_REPRS)) {
    const fn = env.getGlobal(name) as object | undefined;
    if (typeof fn === "function") pyNamed(fn, repr);
  }
}

/** A TypeError for a keyword argument of global `name` other than `allowed` (Python's for a builtin). */
function noKeywords(name: string, kw: Record<string, unknown>, allowed: string[]): void {
  const bad = Object.keys(named(kw)).find((k) => !allowed.includes(k));
  if (bad === undefined) return;
  throw new Error(
    allowed.length
      ? `TypeError: ${name}() got an unexpected keyword argument '${bad}' (it takes ${allowed.join(", ")})`
      : `TypeError: ${name}() takes no keyword arguments, got ${bad}=`,
  );
}

/** Jinja2's `cycler(*items)`: next() gives the items in turn; `current` is the one it gives next. */
class Cycler {
  #pos = 0;
  get [PY_REPR](): string {
    return "<jinja2.utils.Cycler object>";
  }
  constructor(readonly items: unknown[]) {}
  get current(): unknown {
    return this.items[this.#pos];
  }
  next(): unknown {
    const item = this.current;
    this.#pos = (this.#pos + 1) % this.items.length;
    return item;
  }
  /** Python's None, printed `None` as Jinja2's reset() result is. */
  reset(): null {
    this.#pos = 0;
    return null;
  }
}

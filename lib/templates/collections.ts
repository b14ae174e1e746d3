/**
 * Python 3's list and dict methods as templates call them (`l.append(x)`, `d.update(a=1)`), with
 * CPython's arguments (bind.ts), results and errors. nunjucks' jinja-compat had its own: `append`
 * returned the new length, `pop(0)` a list and `pop(-1)` a KeyError, `count`/`index`/`remove`
 * compared with `===` (`2.0` is not `2`), `index` ignored `start`, `popitem` took the first item,
 * `update(a=1)` copied its keyword marker into the dict and `update([('a', 1)])` set keys `'0'`,
 * and a `find` no list has. A tuple has `count` and `index` only. The original's templates ran on
 * Python 2, so a dict also has Python 2's `has_key`, `iteritems`, `iterkeys` and `itervalues`
 * (`{% for uuid, n in nodes.iteritems() %}`). A key is a string: kunai's dicts hold nothing else
 * (JSON's, and `{1: 'a'}` is refused), so another key is missing, and adding one is a TypeError
 * rather than a different key.
 */
import { bindArgs, type Params, parseSignature, type Signature } from "./bind.ts";
import { compare, items, splitKwargs } from "./filters_common.ts";
import { dictView, isPlain, isTuple, pyEq, pyNamed, pyRepr, pyType, tuple } from "./pyvalues.ts";

type Dict = Record<string, unknown>;

/** An int argument as CPython takes one (a bool is an int; a float or a string is a TypeError). */
function int(v: unknown): number {
  if (typeof v === "boolean") return Number(v);
  if (typeof v !== "number" || !Number.isInteger(v)) {
    throw new Error(`TypeError: '${pyType(v)}' object cannot be interpreted as an integer`);
  }
  return v;
}

/** A slice bound as CPython clamps one (`l.index(x, -2)`). */
function bound(v: unknown, n: number, dflt: number): number {
  if (v === undefined) return dflt;
  const i = int(v);
  return i < 0 ? Math.max(i + n, 0) : Math.min(i, n);
}

/** A slice bound or step: an int, a bool or None (null), as CPython takes one; a float is a TypeError. */
function sliceIndex(v: unknown): number | null {
  if (v === null) return null;
  if (typeof v === "boolean") return Number(v);
  if (typeof v === "number" && Number.isInteger(v)) return v;
  throw new Error("TypeError: slice indices must be integers or None or have an __index__ method");
}

/**
 * `seq[start:stop:step]` of a list's items, as CPython's PySlice_AdjustIndices clamps the bounds to the
 * list (jinja-compat's sliceLookup gave `l[:10]` of a 3-item list an undefined 4th item, `l[-10:]` and
 * `l[10::-1]` nothing, and looped forever on a step of 0 or a dict).
 */
export function sliceItems(
  items: readonly unknown[],
  start: unknown,
  stop: unknown,
  step: unknown,
): unknown[] {
  const by = sliceIndex(step) ?? 1;
  if (by === 0) throw new Error("ValueError: slice step cannot be zero");
  const n = items.length;
  const clamp = (v: unknown, dflt: number) => {
    const i = sliceIndex(v);
    if (i === null) return dflt;
    return i < 0 ? Math.max(i + n, by < 0 ? -1 : 0) : Math.min(i, by < 0 ? n - 1 : n);
  };
  const from = clamp(start, by < 0 ? n - 1 : 0);
  const to = clamp(stop, by < 0 ? -1 : n);
  const out: unknown[] = [];
  for (let i = from; by > 0 ? i < to : i > to; i += by) out.push(items[i]);
  return out;
}

/** A key for one of our dicts, which hold string keys only. */
function key(k: unknown): string {
  if (typeof k === "string" || k instanceof String) return String(k);
  throw new Error(`TypeError: kunai's dicts take string keys only, not ${pyType(k)} (${pyRepr(k)})`);
}

/** `dict.update()`'s argument: a dict's items, or an iterable of key/value pairs. */
function pairs(other: unknown): Array<[unknown, unknown]> {
  if (other !== null && typeof other === "object" && !Array.isArray(other) && isPlain(other)) {
    return Object.entries(other);
  }
  return items(other).map((pair, i) => {
    if (!Array.isArray(pair) && typeof pair !== "string") {
      throw new Error(`TypeError: cannot convert dictionary update sequence element #${i} to a sequence`);
    }
    const kv = [...pair];
    if (kv.length !== 2) {
      throw new Error(
        `ValueError: dictionary update sequence element #${i} has length ${kv.length}; 2 is required`,
      );
    }
    return [kv[0], kv[1]];
  });
}

/** Python's `list.sort(*, key=None, reverse=False)`: stable, by `<`, in place. */
function sortList(l: unknown[], args: unknown[]): null {
  const { pos, kw } = splitKwargs(args);
  if (pos.length) throw new Error("TypeError: sort() takes no positional arguments");
  const { __keywords: _marker, key: keyFn = null, reverse = false, ...other } = kw as Record<string, unknown>;
  for (const name of Object.keys(other)) {
    throw new Error(`TypeError: sort() got an unexpected keyword argument '${name}'`);
  }
  if (keyFn !== null && typeof keyFn !== "function") {
    throw new Error(`TypeError: '${pyType(keyFn)}' object is not callable`);
  }
  const keyed = l.map((x) => ({ x, k: keyFn ? (keyFn as (v: unknown) => unknown)(x) : x }));
  const sign = int(reverse) ? -1 : 1;
  keyed.sort((a, b) => sign * compare(a.k, b.k));
  keyed.forEach((e, i) => l[i] = e.x);
  return null;
}

/** An optional argument, None when not given (a given undefined value stays undefined, as Jinja2's). */
const or = (given: unknown[]) => given.length ? given[0] : null;

type Method<T> = [Signature, (self: T, ...args: unknown[]) => unknown];

/** A tuple's methods, a list's too. */
const SEQUENCE_METHODS: Record<string, Method<unknown[]>> = {
  count: ["value, /", (l, v) => l.filter((x) => pyEq(x, v)).length],
  index: ["value, start?, stop?, /", (l, v, start, stop) => {
    for (let i = bound(start, l.length, 0); i < bound(stop, l.length, l.length); i++) {
      if (pyEq(l[i], v)) return i;
    }
    throw new Error(`ValueError: ${pyRepr(v)} is not in list`);
  }],
};

const LIST_METHODS: Record<string, Method<unknown[]>> = {
  ...SEQUENCE_METHODS,
  append: ["object, /", (l, v) => (l.push(v), null)],
  extend: ["iterable, /", (l, v) => (l.push(...items(v)), null)],
  insert: ["index, object, /", (l, i, v) => (l.splice(bound(i, l.length, 0), 0, v), null)],
  remove: ["value, /", (l, v) => {
    const i = l.findIndex((x) => pyEq(x, v));
    if (i < 0) throw new Error("ValueError: list.remove(x): x not in list");
    l.splice(i, 1);
    return null;
  }],
  pop: ["index?, /", (l, i) => {
    if (!l.length) throw new Error("IndexError: pop from empty list");
    const at = i === undefined ? l.length - 1 : int(i) < 0 ? int(i) + l.length : int(i);
    if (at < 0 || at >= l.length) throw new Error("IndexError: pop index out of range");
    return l.splice(at, 1)[0];
  }],
  clear: ["/", (l) => (l.length = 0, null)],
  copy: ["/", (l) => [...l]],
  reverse: ["/", (l) => (l.reverse(), null)],
  sort: ["*", (l, ...args) => sortList(l, args)],
};

/** A key looked up (a list or a dict is unhashable: a TypeError, as in Python; another kind finds nothing). */
function hashable(k: unknown): unknown {
  if (k instanceof String) return String(k); // a marked-safe string (`k|e`) is a str
  if ((Array.isArray(k) && !isTuple(k)) || (k !== null && typeof k === "object" && isPlain(k))) {
    throw new Error(`TypeError: unhashable type: '${pyType(k)}'`);
  }
  return k;
}

const DICT_METHODS: Record<string, Method<Dict>> = {
  get: [
    "key, default?, /",
    (d, k, ...dflt) =>
      typeof hashable(k) === "string" && Object.hasOwn(d, k as string) ? d[k as string] : or(dflt),
  ],
  items: ["/", (d) => dictView("dict_items", Object.entries(d).map((e) => tuple(e)))],
  keys: ["/", (d) => dictView("dict_keys", Object.keys(d))],
  values: ["/", (d) => dictView("dict_values", Object.values(d))],
  pop: ["key, default?, /", (d, k, ...dflt) => {
    // CPython's pop of an empty dict gives the default without hashing the key
    if (dflt.length && !Object.keys(d).length) return dflt[0];
    if (typeof hashable(k) === "string" && Object.hasOwn(d, k as string)) {
      const v = d[k as string];
      delete d[k as string];
      return v;
    }
    if (dflt.length) return dflt[0];
    throw new Error(`KeyError: ${pyRepr(k)}`);
  }],
  popitem: ["/", (d) => {
    const keys = Object.keys(d);
    if (!keys.length) throw new Error("KeyError: 'popitem(): dictionary is empty'");
    const k = keys[keys.length - 1], v = d[k];
    delete d[k];
    return tuple([k, v]);
  }],
  setdefault: ["key, default?, /", (d, k, ...dflt) => {
    const name = key(k);
    if (!Object.hasOwn(d, name)) d[name] = or(dflt);
    return d[name];
  }],
  update: ["*", (d, ...args) => {
    const { pos, kw } = splitKwargs(args);
    if (pos.length > 1) throw new Error(`TypeError: update expected at most 1 argument, got ${pos.length}`);
    const { __keywords: _marker, ...named } = kw;
    for (const [k, v] of [...(pos.length ? pairs(pos[0]) : []), ...Object.entries(named)]) d[key(k)] = v;
    return null;
  }],
  clear: ["/", (d) => {
    for (const k of Object.keys(d)) delete d[k];
    return null;
  }],
  copy: ["/", (d) => ({ ...d })],
  fromkeys: ["iterable, value?, /", (_d, keys, ...v) => {
    const out: Dict = {};
    for (const k of items(keys)) out[key(k)] = or(v);
    return out;
  }],
  // Python 2's, which templates written for the original call; the iterators are lists here (a copy:
  // the loop may change the dict)
  has_key: ["key, /", (d, k) => typeof hashable(k) === "string" && Object.hasOwn(d, k as string)],
  iteritems: ["/", (d) => Object.entries(d).map((e) => tuple(e))],
  iterkeys: ["/", (d) => Object.keys(d)],
  itervalues: ["/", (d) => Object.values(d)],
};

/** Each table's signatures, parsed once (null: the method checks its arguments itself). */
function parsed<T>(table: Record<string, Method<T>>): Map<string, [Params | null, Method<T>[1]]> {
  return new Map(Object.entries(table).map(([name, [sig, fn]]) => [name, [parseSignature(sig), fn]]));
}
const TABLES = {
  tuple: parsed(SEQUENCE_METHODS),
  list: parsed(LIST_METHODS),
  dict: parsed(DICT_METHODS),
} as Record<string, Map<string, [Params | null, (self: never, ...args: unknown[]) => unknown]>>;

/**
 * The method `name` of a list, tuple or dict bound to it (`list.append`...), called with CPython's
 * argument binding; null when `obj` is none of them or has no such method.
 */
export function collectionMethod(obj: unknown, name: unknown): ((...args: unknown[]) => unknown) | null {
  if (obj === null || typeof obj !== "object" || typeof name !== "string") return null;
  const type = Array.isArray(obj) ? pyType(obj) : isPlain(obj) ? "dict" : "";
  const method = Object.hasOwn(TABLES, type) ? TABLES[type].get(name) : undefined;
  if (!method) return null;
  const [params, fn] = method;
  const self = obj as never;
  const bound = params
    ? (...args: unknown[]) => fn(self, ...bindArgs(`${type}.${name}`, params, args))
    : (...args: unknown[]) => fn(self, ...args);
  return pyNamed(bound, `<built-in method ${name} of ${type} object>`);
}

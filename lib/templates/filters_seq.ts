/**
 * Jinja2's sequence filters as Python iterates (a dict's keys, a string's characters): `groupby` (a
 * list of `(grouper, list)`), `selectattr`/`rejectattr` and `select`/`reject` with a test and Python's
 * truthiness, `map`, `join` and `sum` with `attribute=`, `length`, `list`, `first`, `last`, `reverse`,
 * `batch`, `slice`, and `unique`, `min`, `max`, `sort` with `case_sensitive` and `attribute`.
 */
import type nunjucks from "nunjucks";
import { pyAdd, pyEq, pyStr, pyTruthy, pyType } from "./jinja.ts";
import { PyFloat } from "./pyfloat.ts";
import { attr, compare, items, splitKwargs } from "./filters_common.ts";

/** Adds Jinja2's sequence filters to a nunjucks environment. */
export function registerSequenceFilters(env: nunjucks.Environment): void {
  registerFoldFilters(env);
  registerPartFilters(env);
  registerSelectFilters(env);
  registerOrderFilters(env);
}

/** The filters that give one value of a sequence: `length`/`count`, `join`, `sum`. */
function registerFoldFilters(env: nunjucks.Environment): void {
  const nunjucksLength = env.getFilter("length") as (v: unknown) => unknown;
  // a string's length in characters (code points), as Python counts them; `count` is its alias. None
  // and numbers have no length in Python (nunjucks gave 0 or nothing); an undefined value's is 0
  const length = (v: unknown) => {
    if (typeof v === "string") return [...v].length;
    if (v === null || typeof v === "number" || typeof v === "boolean" || v instanceof PyFloat) {
      throw new Error(`TypeError: object of type '${pyType(v)}' has no len()`);
    }
    return v === undefined ? 0 : nunjucksLength(v);
  };
  env.addFilter("length", length);
  env.addFilter("count", length);
  env.addFilter("join", (list: unknown, ...args: unknown[]) => {
    const { pos, kw } = splitKwargs(args);
    const d = String(kw.d ?? pos[0] ?? "");
    const attribute = kw.attribute ?? pos[1];
    return items(list).map((x) => {
      const v = attribute === undefined || attribute === null ? x : attr(x, String(attribute));
      return String(pyStr(v) ?? "");
    }).join(d);
  });
  env.addFilter("sum", (list: unknown, ...args: unknown[]) => {
    const { pos, kw } = splitKwargs(args);
    const attribute = kw.attribute ?? pos[0];
    // Python's `+` item by item: numbers add, lists concatenate (`sum(start=[])`), a string is refused
    let total: unknown = kw.start ?? pos[1] ?? 0;
    for (const x of items(list)) {
      total = pyAdd(total, attribute === undefined || attribute === null ? x : attr(x, String(attribute)));
    }
    return total;
  });
}

/** The filters that give part of a sequence or its items: `list`, `first`, `last`, `reverse`, `batch`, `slice`. */
function registerPartFilters(env: nunjucks.Environment): void {
  // list(d) is a dict's keys in Python (nunjucks gave {key, value} objects), a number is not iterable
  env.addFilter("list", (v: unknown) => [...items(v)]);
  // first/last of any sequence (a dict's keys, a string's characters); undefined when empty
  env.addFilter("first", (v: unknown) => items(v)[0]);
  env.addFilter("last", (v: unknown) => {
    const all = items(v);
    return all[all.length - 1];
  });
  // reverse: a string reversed, any other sequence as a list; none or a number is refused
  env.addFilter("reverse", (v: unknown) => {
    if (typeof v === "string" || v instanceof String) return [...String(v)].reverse().join("");
    return [...items(v)].reverse();
  });
  // batch(linecount, fill_with=None) and slice(slices, fill_with=None) as Jinja2 cuts them
  env.addFilter("batch", (v: unknown, ...args: unknown[]) => {
    const { pos, kw } = splitKwargs(args);
    const n = Number(kw.linecount ?? pos[0]);
    const fill = kw.fill_with ?? pos[1] ?? null;
    if (!Number.isInteger(n) || n < 1) throw new Error(`ValueError: batch: linecount must be a positive int`);
    const rows: unknown[][] = [];
    for (const x of items(v)) {
      if (!rows.length || rows[rows.length - 1].length === n) rows.push([]);
      rows[rows.length - 1].push(x);
    }
    const last = rows[rows.length - 1];
    if (last && fill !== null) { while (last.length < n) last.push(fill); }
    return rows;
  });
  env.addFilter("slice", (v: unknown, ...args: unknown[]) => {
    const { pos, kw } = splitKwargs(args);
    const n = Number(kw.slices ?? pos[0]);
    const fill = kw.fill_with ?? pos[1] ?? null;
    if (!Number.isInteger(n)) throw new Error(`TypeError: slice: slices must be an int`);
    if (n <= 0) throw new Error("ZeroDivisionError: slice: slices must be positive");
    const seq = items(v);
    const per = Math.floor(seq.length / n), extra = seq.length % n;
    const out: unknown[][] = [];
    let offset = 0;
    for (let i = 0; i < n; i++) {
      const start = offset + i * per;
      if (i < extra) offset++;
      const part = seq.slice(start, offset + (i + 1) * per);
      if (fill !== null && i >= extra) part.push(fill);
      out.push(part);
    }
    return out;
  });
}

/** The filters that keep the items a test passes (`select`, `selectattr`...) or change each (`map`). */
function registerSelectFilters(env: nunjucks.Environment): void {
  const attrFilter = (keep: boolean) =>
    function (this: unknown, list: unknown, ...args: unknown[]) {
      const { pos } = splitKwargs(args);
      const [name, testName, ...testArgs] = pos;
      const test = typeof testName === "string"
        ? env.getTest(testName) as (...a: unknown[]) => unknown
        : (v: unknown) => pyTruthy(v);
      // Jinja2's select_or_reject: a false value (none, []) gives nothing
      return (pyTruthy(list) ? items(list) : []).filter((x) =>
        Boolean(test.call(this, attr(x, String(name)), ...testArgs)) === keep
      );
    };
  env.addFilter("selectattr", attrFilter(true));
  env.addFilter("rejectattr", attrFilter(false));
  // select/reject(test, *args): Jinja2's select_or_reject (a false value gives nothing; no test: truthiness)
  const selectFilter = (keep: boolean) =>
    function (this: unknown, v: unknown, ...args: unknown[]) {
      const { pos } = splitKwargs(args);
      const [testName, ...testArgs] = pos;
      const test = typeof testName === "string"
        ? env.getTest(testName) as (...a: unknown[]) => unknown
        : (x: unknown) => pyTruthy(x);
      return (pyTruthy(v) ? items(v) : []).filter((x) => Boolean(test.call(this, x, ...testArgs)) === keep);
    };
  env.addFilter("select", selectFilter(true));
  env.addFilter("reject", selectFilter(false));
  env.addFilter("map", (list: unknown, ...args: unknown[]) => {
    const { pos, kw } = splitKwargs(args);
    const arr = pyTruthy(list) ? items(list) : [];
    if (typeof kw.attribute === "string") {
      const a = kw.attribute;
      return arr.map((x) => attr(x, a) ?? kw.default);
    }
    const name = pos[0];
    if (typeof name !== "string") throw new Error("map: expected a filter name or attribute=");
    const f = env.getFilter(name) as (...a: unknown[]) => unknown;
    return arr.map((x) => f(x, ...pos.slice(1)));
  });
}

/** The filters that order or group items by a key: `groupby`, `unique`, `min`, `max`, `sort`. */
function registerOrderFilters(env: nunjucks.Environment): void {
  env.addFilter("groupby", (list: unknown, ...args: unknown[]) => {
    const { pos, kw } = splitKwargs(args);
    const attribute = kw.attribute ?? pos[0];
    const dflt = kw.default ?? pos[1];
    const caseSensitive = (kw.case_sensitive ?? pos[2]) === true;
    const get = (x: unknown) => attr(x, String(attribute)) ?? dflt;
    const sortKey = (x: unknown) => {
      const k = get(x);
      return !caseSensitive && typeof k === "string" ? k.toLowerCase() : k;
    };
    const sorted = [...items(list)].sort((a, b) => compare(sortKey(a), sortKey(b)));
    const groups: unknown[] = [];
    let current: unknown[] | null = null;
    let currentKey: unknown = undefined;
    for (const x of sorted) {
      const k = sortKey(x);
      if (current === null || !pyEq(k, currentKey)) {
        current = [];
        currentKey = k;
        // a (grouper, list) pair that `for k, v in ...` unpacks, with Jinja2's .grouper and .list
        const g = Object.assign([get(x), current], { grouper: get(x), list: current });
        groups.push(g);
      }
      current.push(x);
    }
    return groups;
  });
  // unique(case_sensitive=False, attribute=None): 'A' and 'a' are one item unless case-sensitive
  env.addFilter("unique", (list: unknown, ...args: unknown[]) => {
    const { pos, kw } = splitKwargs(args);
    const key = keyOf(kw.attribute ?? pos[1], pyTruthy(kw.case_sensitive ?? pos[0] ?? false));
    const seen = new Set<string>();
    return items(list).filter((x) => {
      const k = hashKey(key(x));
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  });
  env.addFilter("min", (list: unknown, ...args: unknown[]) => pick(list, args, 1));
  env.addFilter("max", (list: unknown, ...args: unknown[]) => pick(list, args, -1));
  // sort(reverse=False, case_sensitive=False, attribute=None), `attribute` a comma-separated list
  // of keys (`sort(attribute='zone,name')`: nunjucks took it as one name and kept the order)
  env.addFilter("sort", (list: unknown, ...args: unknown[]) => {
    const { pos, kw } = splitKwargs(args);
    const reverse = pyTruthy(kw.reverse ?? pos[0] ?? false);
    const key = keyOf(kw.attribute ?? pos[2], pyTruthy(kw.case_sensitive ?? pos[1] ?? false));
    const keyed = items(list).map((x) => ({ x, k: key(x) }));
    // Python's sorted(reverse=True) keeps equal items in their order, as a stable sort by -compare does
    keyed.sort((a, b) => (reverse ? -1 : 1) * compare(a.k, b.k));
    return keyed.map((e) => e.x);
  });
}

/** Jinja2's `ignore_case`: a string key in lower case, any other as it is. */
const lower = (v: unknown) =>
  typeof v === "string" ? v.toLowerCase() : v instanceof String ? String(v).toLowerCase() : v;

/**
 * Jinja2's `make_multi_attrgetter`: the key of an item for `sort(attribute='port,name')`, each
 * comma-separated path looked up (`a.b.0`), strings in lower case unless case-sensitive.
 */
function keyOf(attribute: unknown, caseSensitive: boolean): (x: unknown) => unknown {
  const post = caseSensitive ? (v: unknown) => v : lower;
  if (attribute === undefined || attribute === null) return post;
  if (typeof attribute !== "string") return (x) => post(attr(x, String(attribute)));
  const paths = attribute.split(",");
  if (paths.length === 1) return (x) => post(attr(x, attribute));
  return (x) => paths.map((p) => post(attr(x, p)));
}

/** Jinja2's `min`/`max(case_sensitive=False, attribute=None)`: undefined for an empty sequence. */
function pick(list: unknown, args: unknown[], sign: 1 | -1): unknown {
  const { pos, kw } = splitKwargs(args);
  const key = keyOf(kw.attribute ?? pos[1], pyTruthy(kw.case_sensitive ?? pos[0] ?? false));
  let best: unknown = undefined;
  let bestKey: unknown = undefined;
  for (const x of items(list)) {
    const k = key(x);
    if (best === undefined || sign * compare(k, bestKey) < 0) [best, bestKey] = [x, k];
  }
  return best;
}

/** A key Python's set would treat as equal (`1 == 1.0 == True`); lists and dicts by their text. */
function hashKey(v: unknown): string {
  if (typeof v === "number" || typeof v === "boolean" || v instanceof PyFloat) return `n${Number(v)}`;
  if (typeof v === "string" || v instanceof String) return `s${v}`;
  if (v === null || v === undefined) return "None";
  return `o${JSON.stringify(v)}`;
}

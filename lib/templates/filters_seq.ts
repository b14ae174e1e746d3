/**
 * Jinja2's sequence filters as Python iterates (a dict's keys, a string's characters): `groupby` (a
 * list of `(grouper, list)`), `selectattr`/`rejectattr` and `select`/`reject` with a test and Python's
 * truthiness, `map`, `join` and `sum` with `attribute=`, `length`, `list`, `first`, `last`, `reverse`,
 * `batch`, `slice`, and `unique`, `min`, `max`, `sort` with `case_sensitive` and `attribute`.
 */
import type nunjucks from "nunjucks";
import { pyAdd, pyEq, pyStr, pyTruthy, pyType, tuple } from "./jinja.ts";
import { PyFloat } from "./pyfloat.ts";
import { attr, compare, items, named, splitKwargs } from "./filters_common.ts";

/**
 * Adds Jinja2's sequence filters to a nunjucks environment. Each is called with its arguments by
 * position (filters_args.ts binds Jinja2's keywords), but for `map`, `select`, `reject`, `selectattr`
 * and `rejectattr`, which take any and pass them on to a filter or test.
 */
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
  env.addFilter("join", (list: unknown, sep?: unknown, attribute?: unknown) => {
    const d = String(pyStr(sep ?? "") ?? ""); // str() of the separator: `join(true)` joins with 'True'
    return items(list).map((x) => {
      const v = attribute === undefined || attribute === null ? x : attr(x, String(attribute));
      return String(pyStr(v) ?? "");
    }).join(d);
  });
  env.addFilter("sum", (list: unknown, attribute?: unknown, start?: unknown) => {
    // Python's `+` item by item: numbers add, lists concatenate (`sum(start=[])`), a string is refused
    let total: unknown = start ?? 0;
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
  env.addFilter("batch", (v: unknown, linecount: unknown, fillWith?: unknown) => {
    const n = Number(linecount);
    const fill = fillWith ?? null;
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
  env.addFilter("slice", (v: unknown, slices: unknown, fillWith?: unknown) => {
    const n = Number(slices);
    const fill = fillWith ?? null;
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

/**
 * The filters that keep the items a test passes (`select`, `selectattr`...) or change each (`map`):
 * Jinja2's arguments after the filter's or test's name, keywords too, are that filter's or test's
 * (`map('round', precision=1)`, `select('divisibleby', num=3)`).
 */
function registerSelectFilters(env: nunjucks.Environment): void {
  // Jinja2's select_or_reject: a false value (none, []) gives nothing; without a test, truthiness
  // (and the keywords are not used, as in Jinja2)
  const selectOrReject = (filter: string, lookupAttr: boolean, keep: boolean) =>
    function (this: unknown, list: unknown, ...args: unknown[]) {
      const { pos, kw } = splitKwargs(args);
      if (lookupAttr && !pos.length) {
        throw new Error(`FilterArgumentError: ${filter}: missing parameter for attribute name`);
      }
      const name = lookupAttr ? String(pos[0]) : null;
      const off = lookupAttr ? 1 : 0;
      const value = (x: unknown) => name === null ? x : attr(x, name);
      const test = pos.length > off ? env.getTest(pos[off] as string) as (...a: unknown[]) => unknown : null;
      const testArgs = [...pos.slice(off + 1), ...(Object.keys(named(kw)).length ? [kw] : [])];
      return (pyTruthy(list) ? items(list) : []).filter((x) =>
        (test ? Boolean(test.call(this, value(x), ...testArgs)) : pyTruthy(value(x))) === keep
      );
    };
  env.addFilter("selectattr", selectOrReject("selectattr", true, true));
  env.addFilter("rejectattr", selectOrReject("rejectattr", true, false));
  env.addFilter("select", selectOrReject("select", false, true));
  env.addFilter("reject", selectOrReject("reject", false, false));
  // map(filter, *args, **kwargs), or map(attribute=, default=) with no other argument, as Jinja2's prepare_map
  env.addFilter("map", function (this: unknown, list: unknown, ...args: unknown[]) {
    const { pos, kw } = splitKwargs(args);
    const { attribute, default: dflt, ...others } = named(kw);
    const arr = pyTruthy(list) ? items(list) : [];
    if (!pos.length && attribute !== undefined) {
      const extra = Object.keys(others);
      if (extra.length) {
        throw new Error(`FilterArgumentError: map: unexpected keyword argument '${extra[0]}'`);
      }
      // the default stands for a missing attribute, not for one that is None
      return arr.map((x) => attr(x, String(attribute), dflt));
    }
    if (!pos.length) throw new Error("FilterArgumentError: map requires a filter name or attribute=");
    const f = env.getFilter(pos[0] as string) as (this: unknown, ...a: unknown[]) => unknown;
    const rest = [...pos.slice(1), ...(Object.keys(named(kw)).length ? [kw] : [])];
    return arr.map((x) => f.call(this, x, ...rest));
  });
}

/** The filters that order or group items by a key: `groupby`, `unique`, `min`, `max`, `sort`. */
function registerOrderFilters(env: nunjucks.Environment): void {
  env.addFilter("groupby", (list: unknown, attribute: unknown, dflt?: unknown, caseSens?: unknown) => {
    const caseSensitive = pyTruthy(caseSens ?? false);
    // the default stands for a missing attribute, not for one that is None
    const get = (x: unknown) => attr(x, String(attribute), dflt);
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
        // a (grouper, list) tuple that `for k, v in ...` unpacks, with Jinja2's .grouper and .list (it
        // printed as a list)
        const g = tuple(Object.assign([get(x), current], { grouper: get(x), list: current }));
        groups.push(g);
      }
      current.push(x);
    }
    return groups;
  });
  // unique(case_sensitive=False, attribute=None): 'A' and 'a' are one item unless case-sensitive
  env.addFilter("unique", (list: unknown, caseSensitive?: unknown, attribute?: unknown) => {
    const key = keyOf(attribute, pyTruthy(caseSensitive ?? false));
    const seen = new Set<string>();
    return items(list).filter((x) => {
      const kv = key(x);
      // Python's set: a list or a dict is no key
      if (
        (Array.isArray(kv) && pyType(kv) === "list") ||
        (kv !== null && typeof kv === "object" && !Array.isArray(kv) && !(kv instanceof PyFloat))
      ) {
        throw new Error(`TypeError: unhashable type: '${pyType(kv)}'`);
      }
      const k = hashKey(kv);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  });
  env.addFilter(
    "min",
    (list: unknown, caseSensitive?: unknown, attribute?: unknown) =>
      pick(list, keyOf(attribute, pyTruthy(caseSensitive ?? false)), 1),
  );
  env.addFilter(
    "max",
    (list: unknown, caseSensitive?: unknown, attribute?: unknown) =>
      pick(list, keyOf(attribute, pyTruthy(caseSensitive ?? false)), -1),
  );
  // sort(reverse=False, case_sensitive=False, attribute=None), `attribute` a comma-separated list
  // of keys (`sort(attribute='zone,name')`: nunjucks took it as one name and kept the order)
  env.addFilter("sort", (list: unknown, rev?: unknown, caseSensitive?: unknown, attribute?: unknown) => {
    if (
      rev !== undefined && typeof rev !== "boolean" && !(typeof rev === "number" && Number.isInteger(rev))
    ) {
      throw new Error(`TypeError: '${pyType(rev)}' object cannot be interpreted as an integer`);
    }
    const reverse = pyTruthy(rev ?? false);
    const key = keyOf(attribute, pyTruthy(caseSensitive ?? false));
    // each key a list, as make_multi_attrgetter gives it: lists compare item by item, equal ones first,
    // so items that all lack the attribute keep their order (two undefined keys are equal, not ordered)
    const keyed = items(list).map((x) => {
      const k = key(x);
      return { x, k: Array.isArray(k) && typeof attribute === "string" && attribute.includes(",") ? k : [k] };
    });
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

/** Jinja2's `min`/`max(case_sensitive=False, attribute=None)` by `key`: undefined for an empty sequence. */
function pick(list: unknown, key: (x: unknown) => unknown, sign: 1 | -1): unknown {
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

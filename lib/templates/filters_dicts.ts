/**
 * Jinja2's filters of mappings and of whole values: `dictsort` and `items` (a dict's `(key, value)`
 * pairs), `xmlattr` (a dict as `key="value"` attributes), `tojson` as Jinja2 prints it (sorted keys,
 * `", "`, HTML-safe), `pprint` (Python's pprint.pformat) and `default`/`d` with Python's truthiness
 * for `default(x, true)`.
 */
import type nunjucks from "nunjucks";
import { pyStr, pyTruthy, pyType } from "./jinja.ts";
import { PyFloat, reprFloat } from "./pyfloat.ts";
import { strRepr } from "../evaluator/mod.ts";
import { compare, entries, escapeHtml, mapping, splitKwargs } from "./filters_common.ts";
import { bindArgs, parseSignature } from "./bind.ts";
import { pformat } from "./pprint.ts";

/** Adds Jinja2's mapping and value filters to a nunjucks environment. */
export function registerDictFilters(env: nunjucks.Environment): void {
  // each filter is called with its arguments by position (filters_args.ts binds Jinja2's keywords)
  // json.dumps' indent: a number of spaces (none for 0 or less, but a line per item), or the string itself;
  // marked safe, as Jinja2's is Markup: `|e` after it leaves it as it is
  const safe = env.getFilter("safe") as (s: string) => unknown;
  env.addFilter("tojson", (v: unknown, indent?: unknown) => {
    let unit: string | null = null;
    if (typeof indent === "string" || indent instanceof String) unit = String(indent);
    else if (typeof indent === "boolean" || Number.isInteger(indent)) {
      unit = " ".repeat(Math.max(Number(indent), 0));
    } else if (indent !== undefined && indent !== null) {
      throw new Error(`TypeError: can't multiply sequence by non-int of type '${pyType(indent)}'`);
    }
    return safe(htmlSafe(pyJson(v, unit, 0)));
  });
  const nunjucksDefault = env.getFilter("default") as (v: unknown, d: unknown, b: unknown) => unknown;
  const defaultParams = parseSignature("default_value?, boolean?")!;
  env.addFilter("default", (v: unknown, ...args: unknown[]) => {
    const [defaultValue, boolean] = bindArgs("filter default", defaultParams, args, " after the value");
    // `default(none)` gives None, and a given undefined value stays undefined, so that a default after it
    // applies (`x|default(y)|default('z')` is 'z' when neither is defined); '' when none is given
    const { pos, kw } = splitKwargs(args);
    const dflt = pos.length || Object.hasOwn(kw, "default_value") ? defaultValue : "";
    if (boolean) return pyTruthy(v) ? v : dflt;
    return nunjucksDefault(v, dflt, false);
  });
  env.addFilter("dictsort", (v: unknown, caseSens?: unknown, byArg?: unknown, reverseArg?: unknown) => {
    const caseSensitive = pyTruthy(caseSens ?? false);
    const by = byArg ?? "key";
    const reverse = pyTruthy(reverseArg ?? false);
    mapping("dictsort", v, "AttributeError: '%s' object has no attribute 'items'");
    if (by !== "key" && by !== "value") {
      throw new Error("dictsort: you can only sort by either 'key' or 'value'");
    }
    const key = (e: [unknown, unknown]) => {
      const k = by === "key" ? e[0] : e[1];
      return !caseSensitive && typeof k === "string" ? k.toLowerCase() : k;
    };
    // Python's sorted(reverse=True) stays stable: equal items keep their order
    return entries(v).sort((a, b) => (reverse ? -1 : 1) * compare(key(a), key(b)));
  });
  env.addFilter(
    "items",
    (v: unknown) =>
      v === undefined
        ? []
        : entries(mapping("items", v, "TypeError: can only get item pairs from a mapping, not %s")),
  );
  env.addFilter("d", env.getFilter("default"));
  env.addFilter("pprint", (v: unknown) => pformat(v));
  // Jinja2 3.1's: values escaped, None and undefined ones left out, a leading space unless autospace
  // is false; a key holding a space, `/`, `>` or `=` (it would end the attribute) is a ValueError
  env.addFilter("xmlattr", (v: unknown, autospace?: unknown) => {
    const attrs: string[] = [];
    const d = mapping("xmlattr", v, "AttributeError: '%s' object has no attribute 'items'");
    for (const [k, x] of entries(d)) {
      if (x === null || x === undefined) continue;
      const name = String(pyStr(k));
      if (/[\s/>=]/u.test(name)) {
        throw new Error(`ValueError: Invalid character in attribute name: ${strRepr(name)}`);
      }
      attrs.push(`${escapeHtml(name)}="${escapeHtml(String(pyStr(x)))}"`);
    }
    const text = attrs.join(" ");
    return text && pyTruthy(autospace ?? true) ? " " + text : text;
  });
}

/** JSON as Python's `json.dumps(v, sort_keys=True, indent=indent)` writes it (ASCII only). */
function pyJson(v: unknown, indent: string | null, level: number): string {
  if (v === undefined) throw new Error("TypeError: Object of type Undefined is not JSON serializable");
  if (v === null) return "null";
  if (v === true) return "true";
  if (v === false) return "false";
  if (typeof v === "number") {
    return Number.isNaN(v) ? "NaN" : !Number.isFinite(v) ? (v > 0 ? "Infinity" : "-Infinity") : String(v);
  }
  if (typeof v === "bigint") return String(v);
  if (v instanceof PyFloat) return reprFloat(v.valueOf()); // json.dumps(2.0) is 2.0, as repr
  if (typeof v === "string" || v instanceof String) {
    return JSON.stringify(String(v)).replace(
      /[\u007f-\uffff]/g,
      (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"),
    );
  }
  const pad = (n: number) => indent === null ? "" : "\n" + indent.repeat(n);
  const itemSep = indent === null ? ", " : ",";
  if (Array.isArray(v)) {
    if (!v.length) return "[]";
    return "[" + v.map((x) => pad(level + 1) + pyJson(x, indent, level + 1)).join(itemSep) + pad(level) + "]";
  }
  if (typeof v === "object") {
    const keys = Object.keys(v).sort();
    if (!keys.length) return "{}";
    return "{" +
      keys.map((k) =>
        pad(level + 1) + pyJson(k, indent, level + 1) + ": " +
        pyJson((v as Record<string, unknown>)[k], indent, level + 1)
      ).join(itemSep) + pad(level) + "}";
  }
  throw new Error(`TypeError: Object of type ${pyType(v)} is not JSON serializable`);
}

/** Jinja2's `htmlsafe_json_dumps`: `<`, `>`, `&` and `'` as \u escapes, so the JSON can sit in HTML. */
function htmlSafe(json: string): string {
  return json.replace(/[<>&']/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}

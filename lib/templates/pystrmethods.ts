/**
 * Python's `str` methods templates may call (`s.startswith('x')`, `split()`, `replace()`, `format()`...),
 * with CPython's signatures and argument binding (bind.ts). Pure.
 */
import { pyFormat } from "./pyformat.ts";
import { bindArgs, type Params, parseSignature, type Signature } from "./bind.ts";
import { pyRepr, pyStr } from "./pyrepr.ts";
import { isPlain, isTuple, pyNamed, pyTruthy, pyType, tuple } from "./pytypes.ts";
import {
  affixed,
  cased,
  indexOf,
  pointLength,
  points,
  pyCapitalize,
  pySplit,
  pyTitle,
  span,
  splitArgs,
  stripChars,
} from "./pystrparts.ts";

/** The line breaks Python's `str.splitlines()` splits on. */
// deno-lint-ignore no-control-regex -- the separators Python's splitlines() splits on
const LINE_BREAK = /(\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029])/;

/** Python's string methods, bound to the string (only names JavaScript lacks or does differently). */
const STRING_MEMBERS: Record<string, (s: string, ...a: unknown[]) => unknown> = {
  upper: (s) => s.toUpperCase(),
  lower: (s) => s.toLowerCase(),
  strip: (s, c) => stripChars(s, c, true, true),
  lstrip: (s, c) => stripChars(s, c, true, false),
  rstrip: (s, c) => stripChars(s, c, false, true),
  startswith: (s, p, start, end) => affixed(s, p, start, end, false),
  endswith: (s, p, start, end) => affixed(s, p, start, end, true),
  split: (s, sep, max) => pySplit(s, sep, max),
  // every line break Python's splitlines() knows, kept at the end of its line with keepends=True
  splitlines: (s, keepends) => {
    const parts = s.split(LINE_BREAK);
    const out: string[] = [];
    for (let i = 0; i < parts.length; i += 2) {
      const brk = parts[i + 1];
      if (brk === undefined && parts[i] === "") break;
      out.push(parts[i] + (brk !== undefined && pyTruthy(keepends) ? brk : ""));
    }
    return out;
  },
  replace: (s, a, b, count) => {
    const from = String(a);
    const to = String(b);
    const n = count !== undefined && Number(count) >= 0 ? Number(count) : Infinity;
    // '' is between every code point (JavaScript's split('') cut an emoji in two)
    const parts = from === "" ? ["", ...s, ""] : s.split(from);
    if (n === Infinity) return parts.join(to);
    return parts.slice(0, n + 1).join(to) +
      (parts.length > n + 1 ? from + parts.slice(n + 1).join(from) : "");
  },
  // str.join takes strings only (`', '.join([1, 2])` is a TypeError), from any iterable ('-'.join('ab'))
  join: (s, list) => {
    const items = typeof list === "string" || list instanceof String
      ? [...String(list)]
      : Array.isArray(list)
      ? list
      : list !== null && typeof list === "object" && isPlain(list)
      ? Object.keys(list)
      : null;
    if (items === null) throw new Error("TypeError: can only join an iterable");
    return items.map((x, i) => {
      if (typeof x === "string" || x instanceof String) return String(x);
      throw new Error(`TypeError: sequence item ${i}: expected str instance, ${pyType(x)} found`);
    }).join(s);
  },
  find: (s, sub, start, end) => {
    const bounds = span(s, start, end);
    const i = bounds === null ? -1 : s.slice(...bounds).indexOf(String(sub));
    return i < 0 ? -1 : points(s, bounds![0] + i);
  },
  rfind: (s, sub, start, end) => {
    const bounds = span(s, start, end);
    const i = bounds === null ? -1 : s.slice(...bounds).lastIndexOf(String(sub));
    return i < 0 ? -1 : points(s, bounds![0] + i);
  },
  index: (s, sub, start, end) => indexOf(s, sub, start, end, false),
  rindex: (s, sub, start, end) => indexOf(s, sub, start, end, true),
  count: (s, sub, start, end) => {
    const bounds = span(s, start, end);
    if (bounds === null) return 0;
    const part = s.slice(...bounds);
    return String(sub) === "" ? pointLength(part) + 1 : part.split(String(sub)).length - 1;
  },
  title: (s) => pyTitle(s),
  capitalize: (s) => pyCapitalize(s),
  isdigit: (s) => /^\p{Nd}+$/u.test(s),
  isalpha: (s) => /^\p{L}+$/u.test(s),
  isalnum: (s) => /^[\p{L}\p{N}]+$/u.test(s),
  isspace: (s) => /^\s+$/.test(s),
  isupper: (s) => [...s].some(cased) && s === s.toUpperCase(),
  islower: (s) => [...s].some(cased) && s === s.toLowerCase(),
  zfill: (s, w) => {
    const width = Number(w) || 0;
    const sign = /^[+-]/.test(s) ? s[0] : "";
    const body = sign ? s.slice(1) : s;
    return sign + "0".repeat(Math.max(0, width - pointLength(s))) + body;
  },
  ljust: (s, w, f) => s + fillOf(f).repeat(Math.max(0, (Number(w) || 0) - pointLength(s))),
  rjust: (s, w, f) => fillOf(f).repeat(Math.max(0, (Number(w) || 0) - pointLength(s))) + s,
  center: (s, w, f) => {
    // CPython's str.center: the odd fill character goes left when the padding and the width are both odd
    const width = Number(w) || 0, fill = fillOf(f);
    const pad = width - pointLength(s);
    if (pad <= 0) return s;
    const left = Math.floor(pad / 2) + (pad & width & 1);
    return fill.repeat(left) + s + fill.repeat(pad - left);
  },
  swapcase: (s) => [...s].map((c) => c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()).join(""),
  rsplit: (s, sepArg, maxsplit) => {
    const { sep, max } = splitArgs(sepArg, maxsplit);
    if (sep === null) {
      // on runs of whitespace from the right, at most `max` times (the rest keeps its inner spaces)
      const out: string[] = [];
      let rest = s.replace(/\s+$/, "");
      while (rest.length) {
        if (out.length >= max) {
          out.unshift(rest);
          break;
        }
        const m = /\s+(?=\S*$)/.exec(rest);
        if (!m) {
          out.unshift(rest);
          break;
        }
        out.unshift(rest.slice(m.index + m[0].length));
        rest = rest.slice(0, m.index);
      }
      return out;
    }
    if (!sep) throw new Error("ValueError: empty separator");
    const parts = s.split(sep);
    if (parts.length <= max + 1) return parts;
    return [parts.slice(0, parts.length - max).join(sep), ...parts.slice(parts.length - max)];
  },
  // '{}:{}'.format(addr, port), '{name:>10}'.format(name=n) (pyformat.ts)
  format: (s, ...args) => {
    const last = args[args.length - 1] as { __keywords?: boolean } | undefined;
    const kw = last && typeof last === "object" && last.__keywords
      ? args.pop() as Record<string, unknown>
      : {};
    const { __keywords: _k, ...named } = kw as Record<string, unknown>;
    return pyFormat(s, args, named, { str: (v) => String(pyStr(v) ?? ""), repr: (v) => pyRepr(v) });
  },
  partition: (s, sep) => {
    if (sep === "") throw new Error("ValueError: empty separator");
    const i = s.indexOf(String(sep));
    return tuple(i < 0 ? [s, "", ""] : [s.slice(0, i), String(sep), s.slice(i + String(sep).length)]);
  },
  rpartition: (s, sep) => {
    if (sep === "") throw new Error("ValueError: empty separator");
    const i = s.lastIndexOf(String(sep));
    return tuple(i < 0 ? ["", "", s] : [s.slice(0, i), String(sep), s.slice(i + String(sep).length)]);
  },
  removeprefix: (s, p) => s.startsWith(String(p)) ? s.slice(String(p).length) : s,
  removesuffix: (s, p) => String(p) && s.endsWith(String(p)) ? s.slice(0, s.length - String(p).length) : s,
  expandtabs: (s, size) => {
    const n = size === undefined ? 8 : Math.trunc(Number(size));
    let col = 0;
    let out = "";
    for (const c of s) {
      if (c === "\t") {
        const pad = n > 0 ? n - (col % n) : 0;
        out += " ".repeat(pad);
        col += pad;
      } else {
        out += c;
        col = c === "\n" || c === "\r" ? 0 : col + 1;
      }
    }
    return out;
  },
  isascii: (s) => [...s].every((c) => c.charCodeAt(0) < 0x80),
  isdecimal: (s) => /^\p{Nd}+$/u.test(s),
  isnumeric: (s) => /^\p{N}+$/u.test(s),
  // CPython's: an upper or title case character only after an uncased one, a lower case one only after a
  // cased one, and at least one cased character
  istitle: (s) => {
    let cased = false, afterCased = false;
    for (const c of s) {
      if (/[\p{Uppercase}\p{Lt}]/u.test(c)) {
        if (afterCased) return false;
        afterCased = cased = true;
      } else if (/\p{Lowercase}/u.test(c)) {
        if (!afterCased) return false;
        afterCased = cased = true;
      } else afterCased = false;
    }
    return cased;
  },
  // each character folded alone ('ß' is 'ss'; a final sigma is σ, as Python folds it, not ς in context)
  casefold: (s) => [...s].map((c) => c.toUpperCase().toLowerCase()).join(""),
};

/**
 * What each str method's arguments must be, in order, as CPython checks them (kunai took `String()` of
 * anything: `'x'.strip(1)`, `'a'.find(1)` or `'x'.zfill('a')` gave a result where Python raises):
 * `str` a string, `str?` a string or None, `affix` a string or a tuple of them, `int` an int (a bool is
 * one), `index` an int or None.
 */
const ARG_KINDS: Record<string, Array<"str" | "str?" | "affix" | "int" | "index">> = {
  strip: ["str?"],
  lstrip: ["str?"],
  rstrip: ["str?"],
  startswith: ["affix", "index", "index"],
  endswith: ["affix", "index", "index"],
  replace: ["str", "str", "int"],
  find: ["str", "index", "index"],
  rfind: ["str", "index", "index"],
  index: ["str", "index", "index"],
  rindex: ["str", "index", "index"],
  count: ["str", "index", "index"],
  zfill: ["int"],
  ljust: ["int", "str"],
  rjust: ["int", "str"],
  center: ["int", "str"],
  partition: ["str"],
  rpartition: ["str"],
  removeprefix: ["str"],
  removesuffix: ["str"],
  expandtabs: ["int"],
  splitlines: ["int"],
};

function checkArg(method: string, kind: string, v: unknown, given: boolean): void {
  if (v === undefined && !given) return; // not given: the method's default
  const str = typeof v === "string" || v instanceof String;
  const int = typeof v === "boolean" || (typeof v === "number" && Number.isInteger(v));
  const ok = kind === "str"
    ? str
    : kind === "str?"
    ? str || v === null
    : kind === "affix"
    ? str || (isTuple(v) && (v as unknown[]).every((x) => typeof x === "string" || x instanceof String))
    : kind === "int"
    ? int
    : int || v === null;
  if (ok) return;
  const what = pyType(v);
  throw new Error(
    kind === "int"
      ? `TypeError: '${what}' object cannot be interpreted as an integer`
      : kind === "index"
      ? "TypeError: slice indices must be integers or None or have an __index__ method"
      : kind === "affix"
      ? `TypeError: ${method} first arg must be str or a tuple of str, not ${what}`
      : `TypeError: ${method}() argument must be str${kind === "str?" ? " or None" : ""}, not ${what}`,
  );
}

/** A padding's fill character: Python's takes exactly one. */
function fillOf(f: unknown): string {
  if (f === undefined) return " ";
  const fill = String(f);
  if (pointLength(fill) !== 1) {
    throw new Error("TypeError: The fill character must be exactly one character long");
  }
  return fill;
}

/**
 * The str methods' signatures in CPython 3 (positional-only, but for `split`, `rsplit`,
 * `splitlines`, whose keywords are Python's, and `format`): `'a-b'.split(sep='-')` splits on '-',
 * `'x'.center(5, fillchar='*')` is a TypeError (the keyword object was used as the fill before).
 */
const STRING_SIGNATURES: Record<string, Signature> = {
  upper: "/",
  lower: "/",
  strip: "chars?, /",
  lstrip: "chars?, /",
  rstrip: "chars?, /",
  startswith: "prefix, start?, end?, /",
  endswith: "suffix, start?, end?, /",
  split: "sep?, maxsplit?",
  splitlines: "keepends?",
  replace: "old, new, count?, /",
  join: "iterable, /",
  find: "sub, start?, end?, /",
  rfind: "sub, start?, end?, /",
  count: "sub, start?, end?, /",
  title: "/",
  capitalize: "/",
  isdigit: "/",
  isalpha: "/",
  isalnum: "/",
  isspace: "/",
  isupper: "/",
  islower: "/",
  zfill: "width, /",
  ljust: "width, fillchar?, /",
  rjust: "width, fillchar?, /",
  center: "width, fillchar?, /",
  swapcase: "/",
  rsplit: "sep?, maxsplit?",
  format: "*",
  partition: "sep, /",
  rpartition: "sep, /",
  index: "sub, start?, end?, /",
  rindex: "sub, start?, end?, /",
  removeprefix: "prefix, /",
  removesuffix: "suffix, /",
  expandtabs: "tabsize?",
  isascii: "/",
  isdecimal: "/",
  isnumeric: "/",
  istitle: "/",
  casefold: "/",
};
const STRING_PARAMS = new Map<string, Params | null>(
  Object.keys(STRING_MEMBERS).map((name) => {
    if (!Object.hasOwn(STRING_SIGNATURES, name)) throw new Error(`no signature for the str method ${name}`);
    return [name, parseSignature(STRING_SIGNATURES[name])];
  }),
);

/** Whether `name` is one of the str methods templates may call. */
export const isStringMethod = (name: unknown): name is string =>
  typeof name === "string" && STRING_PARAMS.has(name);

/** The str method `name` bound to `s`, called with Python's argument binding (bind.ts). */
export function stringMethod(s: string, name: string): (...args: unknown[]) => unknown {
  const fn = STRING_MEMBERS[name];
  const params = STRING_PARAMS.get(name);
  const kinds = ARG_KINDS[name] ?? [];
  const bound = params
    ? (...args: unknown[]) => {
      const bound = bindArgs(`str.${name}`, params, args);
      // an undefined value in a required argument, or in any of a positional-only method's (no keyword
      // leaves a hole before it), was given: Jinja2's Undefined, which no str method takes (`s.replace('l', u)`
      // wrote 'undefined' in the text)
      kinds.forEach((kind, i) =>
        checkArg(name, kind, bound[i], i < bound.length && (i < params.required || params.positionalOnly))
      );
      return fn(s, ...bound);
    }
    : (...args: unknown[]) => fn(s, ...args);
  return pyNamed(bound, `<built-in method ${name} of str object>`);
}

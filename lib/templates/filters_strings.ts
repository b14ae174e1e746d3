/**
 * Jinja2's string filters as Python computes them: `format` (`%`), `center`, `urlize`, `string`,
 * `truncate`, `title`, `urlencode`, `trim`, `wordcount`, `indent`, `wordwrap`, `attr` (a string's
 * methods), and nunjucks' own `upper`, `lower`, `replace`, `escape`... taking str() of any value.
 */
import type nunjucks from "nunjucks";
import { isPlain, pyMod, pyStr, pyTruthy, pyType, toPy, unpack } from "./jinja.ts";
import { dataMember, pyMethod } from "./attributes.ts";
import { wordwrap } from "./wordwrap.ts";
import { pyCapitalize } from "./pystrparts.ts";
import { stringMethod } from "./pystrmethods.ts";
import { urlize } from "./urlize.ts";
import { entries, escapeHtml, type Fmt, named, splitKwargs, text } from "./filters_common.ts";

/**
 * Adds Jinja2's string filters to a nunjucks environment; `formatPercent` is `format`'s `%`. Each is
 * called with its arguments by position (filters_args.ts binds Jinja2's keywords).
 */
export function registerStringFilters(env: nunjucks.Environment, formatPercent: Fmt): void {
  registerTextFilters(env, formatPercent);
  registerLineFilters(env);
  registerNunjucksStringFilters(env);
}

/**
 * The filters of a text: `format`, `center`, `urlize`, `string`, `title`, `urlencode`, `trim`,
 * `wordcount`, `attr`.
 */
function registerTextFilters(env: nunjucks.Environment, formatPercent: Fmt): void {
  // Jinja2: `value % args`, the positional arguments always a tuple, or `value % kwargs`, a mapping
  // (`'%(host)s'|format(host=h)`); not both
  env.addFilter("format", (fmt: unknown, ...args: unknown[]) => {
    const { pos, kw } = splitKwargs(args);
    const byName = named(kw);
    // str() of the value: `[1]|format` is "[1]", an undefined value "" (it printed `undefined`)
    const template = String(pyStr(fmt) ?? "");
    if (!Object.keys(byName).length) {
      return formatPercent(template, pos.map((x) => toPy(x, true)) as never);
    }
    if (pos.length) {
      throw new Error(
        "FilterArgumentError: format: can't handle positional and keyword arguments at the same time",
      );
    }
    return pyMod(template, byName);
  });
  env.addFilter("center", (v: unknown, w?: unknown) => {
    const text = String(pyStr(v) ?? "");
    const width = Number(intArg(w === undefined ? 80 : w));
    const marg = width - [...text].length; // code points, as Python counts
    if (!(marg > 0)) return text;
    // CPython's str.center: the odd space goes left when the width is odd
    const left = Math.floor(marg / 2) + (marg & width & 1);
    return " ".repeat(left) + text + " ".repeat(marg - left);
  });
  env.addFilter("urlize", urlize);
  env.addFilter("string", (v: unknown) => {
    const r = pyStr(v);
    return r === undefined ? "" : r;
  });
  // Jinja2's title: a capital after a space, '-', '(', '{', '[' or '<', the rest lower case
  env.addFilter(
    "title",
    (v: unknown) =>
      String(pyStr(v) ?? "").split(/([-\s({[<]+)/).filter((x) => x).map((x) =>
        x[0].toUpperCase() + x.slice(1).toLowerCase()
      )
        .join(""),
  );
  env.addFilter("urlencode", (v: unknown) => {
    if (typeof v === "string" || v instanceof String || v === null || typeof v !== "object") {
      return urlQuote(v, false);
    }
    // a list's items are (key, value) pairs, unpacked as Python does (`['a']|urlencode` is a ValueError)
    const items = Array.isArray(v) ? v.map((pair) => unpack(pair, 2)) : entries(v);
    return items.map(([k, x]) => `${urlQuote(k, true)}=${urlQuote(x, true)}`).join("&");
  });
  // trim(value, chars=None): whitespace, or the given characters, off both ends
  env.addFilter("trim", (v: unknown, chars?: unknown) => {
    const s = String(pyStr(v) ?? "");
    if (chars === undefined || chars === null) return s.trim();
    if (typeof chars !== "string" && !(chars instanceof String)) {
      throw new Error(`TypeError: strip arg must be None or str, not ${pyType(chars)}`);
    }
    const set = new Set([...String(chars)]);
    const a = [...s];
    let i = 0, j = a.length;
    while (i < j && set.has(a[i])) i++;
    while (j > i && set.has(a[j - 1])) j--;
    return a.slice(i, j).join("");
  });
  // wordcount: Python's \w+ runs (letters and digits of any script) in str() of the value
  env.addFilter("wordcount", (v: unknown) => {
    const s = v === undefined ? "" : typeof v === "string" ? v : String(pyStr(v));
    return s.match(/[\p{L}\p{N}_]+/gu)?.length ?? 0;
  });
  // Jinja2's `attr` is getattr(): a dict's keys and a list's items are not attributes (`d|attr('k')`
  // is undefined), their methods are (`x|attr('split')`, `l|attr('append')`); kunai's objects'
  // members are (`ns|attr('x')` on a namespace())
  env.addFilter("attr", (obj: unknown, name: unknown) => {
    if (typeof name !== "string" && !(name instanceof String)) {
      throw new Error(`TypeError: attribute name must be string, not '${pyType(name)}'`);
    }
    // getattr() of Jinja2's Undefined raises
    if (obj === undefined) {
      throw new Error(`UndefinedError: attr: the value is undefined (attribute '${name}')`);
    }
    const plain = typeof obj === "string" || obj instanceof String || Array.isArray(obj) ||
      (obj !== null && typeof obj === "object" && isPlain(obj));
    return pyMethod(obj, name) ?? (plain ? undefined : dataMember(obj, name));
  });
}

/** The filters that cut or lay out a text's lines: `truncate`, `indent`, `wordwrap`. */
function registerLineFilters(env: nunjucks.Environment): void {
  env.addFilter("truncate", (v: unknown, len?: unknown, kill?: unknown, endArg?: unknown, lee?: unknown) => {
    if (v === undefined) return undefined; // Jinja2 gives the Undefined back (printed "", refused by `+`)
    const length = intArg(len ?? 255);
    if (length < String(endArg ?? "...").length) {
      throw new Error(
        `AssertionError: truncate: expected length >= ${String(endArg ?? "...").length}, got ${length}`,
      );
    }
    if (Array.isArray(v) || (v !== null && typeof v === "object" && isPlain(v))) {
      // Jinja2 takes len() of any sized value: a short list or dict comes back as it is, a long one fails
      const n = Array.isArray(v) ? v.length : Object.keys(v).length;
      if (n <= length + Number(lee ?? 5)) return v;
      throw new Error(
        pyTruthy(kill ?? false)
          ? `TypeError: can only concatenate ${pyType(v)} (not "str") to ${pyType(v)}`
          : `AttributeError: '${pyType(v)}' object has no attribute 'rsplit'`,
      );
    }
    const s = [...text("truncate", v, "TypeError: object of type '%s' has no len()")];
    const killwords = pyTruthy(kill ?? false);
    const end = String(endArg ?? "...");
    const leeway = Number(lee ?? 5); // Jinja2's policy truncate.leeway
    if (length < end.length) throw new Error(`truncate: expected length >= ${end.length}, got ${length}`);
    if (s.length <= length + leeway) return s.join("");
    const head = s.slice(0, length - end.length).join("");
    if (killwords) return head + end;
    const cut = head.lastIndexOf(" ");
    return (cut >= 0 ? head.slice(0, cut) : head) + end;
  });
  // indent(width=4, first=False, blank=False); Jinja2 3 has no `indentfirst` (2.x's name of `first`)
  env.addFilter("indent", (v: unknown, width?: unknown, first?: unknown, blank?: unknown) => {
    return indent(
      text("indent", v, "TypeError: unsupported operand type(s) for +=: '%s' and 'str'"),
      width === undefined ? 4 : width,
      pyTruthy(first ?? false),
      pyTruthy(blank ?? false),
    );
  });
  env.addFilter(
    "wordwrap",
    (s: unknown, w?: unknown, breakLong?: unknown, wrapstring?: unknown, hyphens?: unknown) => {
      const width = Number(w ?? 79);
      if (!Number.isInteger(width)) {
        throw new Error(
          `wordwrap: width must be an integer, got ${pyStr(width)}`,
        );
      }
      breakLong ??= true;
      hyphens ??= true;
      return wordwrap(
        text("wordwrap", s, "AttributeError: '%s' object has no attribute 'splitlines'"),
        width,
        pyTruthy(breakLong),
        wrapstring === null || wrapstring === undefined ? null : String(wrapstring),
        pyTruthy(hyphens),
      );
    },
  );
}

/** nunjucks' own string filters (`upper`, `lower`...), `replace` and `escape` on str() of any value; `e` for escape. */
function registerNunjucksStringFilters(env: nunjucks.Environment): void {
  // Jinja2's string filters take str() of any value (`none|upper` is NONE, `true|lower` true); nunjucks
  // gave an empty string, or failed on a number
  for (
    const name of [
      "upper",
      "lower",
      "capitalize",
      "striptags",
    ]
  ) {
    const f = env.getFilter(name) as (this: unknown, ...a: unknown[]) => unknown;
    env.addFilter(name, function (this: unknown, v: unknown, ...args: unknown[]) {
      // an undefined value is "" (str() of Jinja2's Undefined): `u|replace('a', 'b') + 'x'` is "x"
      const text = v === undefined ? "" : typeof v === "string" || v instanceof String ? v : String(pyStr(v));
      return f.call(this, text, ...args);
    });
  }
  // replace: str.replace() of str() of the value, old and new (`replace('x', true)` writes 'True'), all
  // occurrences unless a count is given; nunjucks' put nothing before the first character and after the
  // last for an empty old ('ab'|replace('', '-') is '-a-b-') and ignored the count there
  const str = (v: unknown) => String(pyStr(v) ?? "");
  env.addFilter(
    "replace",
    (v: unknown, old: unknown, repl: unknown, count: unknown) =>
      stringMethod(str(v), "replace")(str(old), str(repl), count ?? -1),
  );
  // escape, forceescape: markupsafe's entities (`"` is &#34; and a backslash stays one: nunjucks wrote
  // &quot; and &#92;), marked safe; escape leaves a marked-safe value (`|safe`, a macro's output) as it is
  const safe = env.getFilter("safe") as (s: string) => unknown;
  const escaped = (v: unknown) => safe(escapeHtml(v === undefined ? "" : String(pyStr(v))));
  env.addFilter("escape", (v: unknown) => v instanceof String ? v : escaped(v));
  env.addFilter("forceescape", escaped);
  env.addFilter("e", env.getFilter("escape"));
  // str.capitalize(): the first character in title case ('ßx' is 'Ssx'; nunjucks upper-cased it: 'SSx')
  env.addFilter("capitalize", (v: unknown) => pyCapitalize(v === undefined ? "" : String(pyStr(v))));
}

/** An int argument as CPython takes one (a bool is one; a float or a string is a TypeError). */
function intArg(v: unknown): number {
  if (typeof v === "boolean" || (typeof v === "number" && Number.isInteger(v))) return Number(v);
  throw new Error(`TypeError: '${pyType(v)}' object cannot be interpreted as an integer`);
}

/** Jinja2's `indent(width=4, first=False, blank=False)`: blank lines and the first line left alone by default. */
function indent(s: string, width: unknown, first: boolean, blank: boolean): string {
  const pad = typeof width === "string" || width instanceof String
    ? String(width)
    : " ".repeat(Math.max(intArg(width), 0));
  // Python's splitlines() of `s + "\n"`: the last line break ends a line, it does not start one
  // deno-lint-ignore no-control-regex -- the separators Python's splitlines() splits on
  const lines = (s + "\n").split(/\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/);
  lines.pop();
  let out: string;
  if (blank) out = lines.join("\n" + pad);
  else {
    const [head, ...rest] = lines;
    out = head + (rest.length ? "\n" + rest.map((l) => l ? pad + l : l).join("\n") : "");
  }
  return first ? pad + out : out;
}

/** Python's `urllib.parse.quote` as Jinja2's url_quote calls it: `/` kept for a string, `+` for spaces in a query. */
function urlQuote(v: unknown, forQuery: boolean): string {
  const text = typeof v === "string" ? v : String(pyStr(v) ?? "");
  let out = "";
  for (const b of new TextEncoder().encode(text)) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9_.~-]/.test(c) || (!forQuery && c === "/")
      ? c
      : "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return forQuery ? out.replaceAll("%20", "+") : out;
}

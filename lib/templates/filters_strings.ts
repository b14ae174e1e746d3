/**
 * Jinja2's string filters as Python computes them: `format` (`%`), `center`, `string`, `truncate`,
 * `title`, `urlencode`, `trim`, `wordcount`, `indent`, `wordwrap`, `attr` (a string's methods), and
 * nunjucks' own `upper`, `lower`, `replace`, `escape`... taking str() of any value.
 */
import type nunjucks from "nunjucks";
import { pyStr, pyTruthy, STRING_MEMBERS, toPy } from "./jinja.ts";
import { wordwrap } from "./wordwrap.ts";
import { entries, type Fmt, keywordsByPosition, splitKwargs, text } from "./filters_common.ts";

/** Adds Jinja2's string filters to a nunjucks environment; `formatPercent` is `format`'s `%`. */
export function registerStringFilters(env: nunjucks.Environment, formatPercent: Fmt): void {
  registerTextFilters(env, formatPercent);
  registerLineFilters(env);
  registerNunjucksStringFilters(env);
}

/** The filters of a text: `format`, `center`, `string`, `title`, `urlencode`, `trim`, `wordcount`, `attr`. */
function registerTextFilters(env: nunjucks.Environment, formatPercent: Fmt): void {
  env.addFilter("format", (fmt: unknown, ...args: unknown[]) => {
    const { pos } = splitKwargs(args);
    // Jinja2: `value % args`, the positional arguments always a tuple
    return formatPercent(String(fmt), pos.map((x) => toPy(x, true)) as never);
  });
  env.addFilter("center", (v: unknown, ...args: unknown[]) => {
    const { pos, kw } = splitKwargs(args);
    const text = String(pyStr(v) ?? "");
    const width = Number(kw.width ?? pos[0] ?? 80);
    const marg = width - text.length;
    if (!(marg > 0)) return text;
    // CPython's str.center: the odd space goes left when the width is odd
    const left = Math.floor(marg / 2) + (marg & width & 1);
    return " ".repeat(left) + text + " ".repeat(marg - left);
  });
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
    const items = Array.isArray(v) ? v as Array<[unknown, unknown]> : entries(v);
    return items.map(([k, x]) => `${urlQuote(k, true)}=${urlQuote(x, true)}`).join("&");
  });
  // trim(value, chars=None): whitespace, or the given characters, off both ends
  env.addFilter("trim", (v: unknown, ...args: unknown[]) => {
    const { pos, kw } = splitKwargs(args);
    const chars = kw.chars ?? pos[0];
    const s = String(pyStr(v) ?? "");
    if (chars === undefined || chars === null) return s.trim();
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
  // Jinja2's `attr` is getattr(): a dict's keys are not attributes (`d|attr('k')` is undefined), a
  // string's methods are
  env.addFilter("attr", (obj: unknown, name: unknown) => {
    const s = typeof obj === "string" ? obj : obj instanceof String ? String(obj) : null;
    if (s !== null && typeof name === "string" && Object.hasOwn(STRING_MEMBERS, name)) {
      const fn = STRING_MEMBERS[name];
      return (...args: unknown[]) => fn(s, ...args);
    }
    return undefined;
  });
}

/** The filters that cut or lay out a text's lines: `truncate`, `indent`, `wordwrap`. */
function registerLineFilters(env: nunjucks.Environment): void {
  env.addFilter("truncate", (v: unknown, ...args: unknown[]) => {
    const { pos, kw } = splitKwargs(args);
    if (v === undefined) return "";
    const s = [...text("truncate", v, "TypeError: object of type '%s' has no len()")];
    const length = Number(kw.length ?? pos[0] ?? 255);
    const killwords = pyTruthy(kw.killwords ?? pos[1] ?? false);
    const end = String(kw.end ?? pos[2] ?? "...");
    const leeway = Number(kw.leeway ?? pos[3] ?? 5); // Jinja2's policy truncate.leeway
    if (length < end.length) throw new Error(`truncate: expected length >= ${end.length}, got ${length}`);
    if (s.length <= length + leeway) return s.join("");
    const head = s.slice(0, length - end.length).join("");
    if (killwords) return head + end;
    const cut = head.lastIndexOf(" ");
    return (cut >= 0 ? head.slice(0, cut) : head) + end;
  });
  // Jinja2's keyword names for truncate, which nunjucks takes positionally
  keywordsByPosition(env, "truncate", ["length", "killwords", "end"]);
  env.addFilter("indent", (v: unknown, ...args: unknown[]) => {
    const { pos, kw } = splitKwargs(args);
    const first = pyTruthy(kw.first ?? kw.indentfirst ?? pos[1] ?? false);
    return indent(
      text("indent", v, "TypeError: unsupported operand type(s) for +=: '%s' and 'str'"),
      kw.width ?? pos[0] ?? 4,
      first,
      pyTruthy(kw.blank ?? pos[2] ?? false),
    );
  });
  env.addFilter("wordwrap", (s: unknown, ...args: unknown[]) => {
    const { pos, kw } = splitKwargs(args);
    const width = Number(kw.width ?? pos[0] ?? 79);
    if (!Number.isInteger(width)) throw new Error(`wordwrap: width must be an integer, got ${pyStr(width)}`);
    const breakLong = kw.break_long_words ?? pos[1] ?? true;
    const wrapstring = kw.wrapstring ?? pos[2] ?? null;
    const hyphens = kw.break_on_hyphens ?? pos[3] ?? true;
    return wordwrap(
      text("wordwrap", s, "AttributeError: '%s' object has no attribute 'splitlines'"),
      width,
      pyTruthy(breakLong),
      wrapstring === null || wrapstring === undefined ? null : String(wrapstring),
      pyTruthy(hyphens),
    );
  });
}

/** nunjucks' own string filters (`upper`, `replace`, `escape`...) on str() of any value; `e` for escape. */
function registerNunjucksStringFilters(env: nunjucks.Environment): void {
  // Jinja2's string filters take str() of any value (`none|upper` is NONE, `true|lower` true); nunjucks
  // gave an empty string, or failed on a number
  for (
    const name of [
      "upper",
      "lower",
      "capitalize",
      "replace",
      "striptags",
      "escape",
      "forceescape",
    ]
  ) {
    const f = env.getFilter(name) as (this: unknown, ...a: unknown[]) => unknown;
    env.addFilter(name, function (this: unknown, v: unknown, ...args: unknown[]) {
      const text = v === undefined || typeof v === "string" || v instanceof String ? v : String(pyStr(v));
      return f.call(this, text, ...args);
    });
  }
  env.addFilter("e", env.getFilter("escape"));
  // Jinja2's keyword names for replace, which nunjucks takes positionally
  keywordsByPosition(env, "replace", ["old", "new", "count"]);
}

/** Jinja2's `indent(width=4, first=False, blank=False)`: blank lines and the first line left alone by default. */
function indent(s: string, width: unknown, first: boolean, blank: boolean): string {
  const pad = typeof width === "string" ? width : " ".repeat(Number(width));
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

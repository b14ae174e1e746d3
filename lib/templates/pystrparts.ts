/**
 * The pieces Python's `str` methods are made of (pystrmethods.ts): `split`'s rules, strip sets, title
 * casing, and `start`/`end` spans counted in code points as Python counts them. Pure.
 */
import { pyType } from "./pytypes.ts";

/** `split`'s and `rsplit`'s arguments as CPython takes them: a str or None, an int (a bool is one). */
export function splitArgs(sep: unknown, maxsplit: unknown): { sep: string | null; max: number } {
  if (sep !== undefined && sep !== null && typeof sep !== "string" && !(sep instanceof String)) {
    throw new Error(`TypeError: must be str or None, not ${pyType(sep)}`);
  }
  if (maxsplit !== undefined && typeof maxsplit !== "boolean" && !Number.isInteger(maxsplit)) {
    throw new Error(`TypeError: '${pyType(maxsplit)}' object cannot be interpreted as an integer`);
  }
  const n = maxsplit === undefined ? -1 : Number(maxsplit);
  return { sep: sep === undefined || sep === null ? null : String(sep), max: n < 0 ? Infinity : n };
}

/** Python `str.split(sep=None, maxsplit=-1)`. */
export function pySplit(s: string, sepArg?: unknown, maxsplit?: unknown): string[] {
  const { sep, max } = splitArgs(sepArg, maxsplit);
  if (sep === null) {
    const out: string[] = [];
    let rest = s.replace(/^\s+/, "");
    while (rest.length) {
      if (out.length >= max) {
        out.push(rest);
        break;
      }
      const m = /\s+/.exec(rest);
      if (!m) {
        out.push(rest);
        break;
      }
      out.push(rest.slice(0, m.index));
      rest = rest.slice(m.index + m[0].length);
    }
    return out;
  }
  const d = sep;
  if (!d) throw new Error("ValueError: empty separator");
  const parts = s.split(d);
  if (parts.length - 1 <= max) return parts;
  return [...parts.slice(0, max), parts.slice(max).join(d)];
}

export function stripChars(s: string, chars: unknown, left: boolean, right: boolean): string {
  if (chars === undefined || chars === null) {
    let out = s;
    if (left) out = out.replace(/^\s+/, "");
    if (right) out = out.replace(/\s+$/, "");
    return out;
  }
  const set = new Set(String(chars));
  let a = 0;
  let b = s.length;
  if (left) { while (a < b && set.has(s[a])) a++; }
  if (right) { while (b > a && set.has(s[b - 1])) b--; }
  return s.slice(a, b);
}

/** Whether a character has case (Python's "cased": a letter with an upper and a lower form). */
export const cased = (c: string) => c.toLowerCase() !== c.toUpperCase();

/** The Unicode digraphs whose title case is a character of its own (ǅ, not Ǆ). */
const TITLE_DIGRAPHS: Record<string, string> = {
  "Ǆ": "ǅ",
  "ǅ": "ǅ",
  "ǆ": "ǅ",
  "Ǉ": "ǈ",
  "ǈ": "ǈ",
  "ǉ": "ǈ",
  "Ǌ": "ǋ",
  "ǋ": "ǋ",
  "ǌ": "ǋ",
  "Ǳ": "ǲ",
  "ǲ": "ǲ",
  "ǳ": "ǲ",
};

/**
 * A character in title case, as Python's title() and capitalize() write it: upper case, but a character
 * whose upper case is several (ß is SS) keeps only the first in upper case (Ss); JavaScript has no title case.
 */
export function titleCase(c: string): string {
  if (Object.hasOwn(TITLE_DIGRAPHS, c)) return TITLE_DIGRAPHS[c];
  if (c === "ŉ") return "ʼN";
  const up = [...c.toUpperCase()];
  return up.length > 1 ? up[0] + up.slice(1).join("").toLowerCase() : up[0] ?? c;
}

/** Python's str.title(): a cased character after an uncased one in title case, the others lower (any script). */
export function pyTitle(s: string): string {
  let out = "";
  let inWord = false;
  for (const c of s) {
    out += cased(c) ? (inWord ? c.toLowerCase() : titleCase(c)) : c;
    inWord = cased(c);
  }
  return out;
}

/** Python's str.capitalize(): the first character in title case, the rest lower. */
export function pyCapitalize(s: string): string {
  const [first, ...rest] = [...s];
  return first === undefined ? "" : titleCase(first) + rest.join("").toLowerCase();
}

/**
 * `s[start:end]`'s bounds as Python's `find`, `count`, `startswith`... take them (None or not given:
 * the whole string, a negative index from the end); null where Python finds nothing at all (a start
 * past the end, an end before the start), even an empty string.
 */
export function span(s: string, start: unknown, end: unknown): [number, number] | null {
  // Python counts code points (an emoji is one), JavaScript's indexes UTF-16 units: the bounds are
  // taken in code points and given back in units (and a unit index back with points())
  const n = pointLength(s);
  const index = (v: unknown, dflt: number) => {
    if (v === undefined || v === null) return dflt;
    const i = Math.trunc(Number(v));
    return i < 0 ? Math.max(0, i + n) : i;
  };
  const a = index(start, 0), b = Math.min(index(end, n), n);
  return a > n || b < a ? null : [units(s, a), units(s, b)];
}

/** The number of code points in `s` (Python's len()). */
export function pointLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** The UTF-16 offset of the `i`-th code point of `s`. */
function units(s: string, i: number): number {
  let at = 0;
  for (const c of s) {
    if (i-- <= 0) break;
    at += c.length;
  }
  return at;
}

/** The code point index of the UTF-16 offset `u` of `s`. */
export function points(s: string, u: number): number {
  return pointLength(s.slice(0, u));
}

/** Python's `str.index`/`rindex`: find's position, or ValueError. */
export function indexOf(s: string, sub: unknown, start: unknown, end: unknown, last: boolean): number {
  const bounds = span(s, start, end);
  const part = bounds === null ? null : s.slice(...bounds);
  const i = part === null ? -1 : last ? part.lastIndexOf(String(sub)) : part.indexOf(String(sub));
  if (i < 0) throw new Error("ValueError: substring not found");
  return points(s, bounds![0] + i);
}

/** Whether `s[start:end]` starts (or ends) with `affix`, or one of a tuple of them. */
export function affixed(s: string, affix: unknown, start: unknown, end: unknown, atEnd: boolean): boolean {
  const bounds = span(s, start, end);
  if (bounds === null) return false;
  const part = s.slice(...bounds);
  const test = (x: unknown) => atEnd ? part.endsWith(String(x)) : part.startsWith(String(x));
  return Array.isArray(affix) ? affix.some(test) : test(affix);
}

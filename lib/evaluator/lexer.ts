/**
 * Tokenizer of the expression language (floor 0, pure): numbers (Python int/float literals), strings
 * (single/double quotes, triple quotes, escapes, `r` prefix), names/keywords and operators.
 */
import { EvalError } from "./errors.ts";

export type TokenType = "num" | "str" | "name" | "op" | "end";

export interface Token {
  type: TokenType;
  /** Operator or name text; the decoded value for strings. */
  text: string;
  /** Parsed value of a number token (int = bigint, float = number). */
  num?: bigint | number;
  /** 0-based offset in the source. */
  pos: number;
}

const OPERATORS = [
  "**",
  "//",
  "==",
  "!=",
  "<=",
  ">=",
  "<>",
  "+",
  "-",
  "*",
  "/",
  "%",
  "^",
  "<",
  ">",
  "(",
  ")",
  ",",
  "=",
];
const UNSUPPORTED: Record<string, string> = {
  ".": "attribute access is not supported",
  "[": "lists and subscripts are not supported",
  "]": "lists and subscripts are not supported",
  "{": "dicts are not supported (and {collector.…}/{configuration.…} are substituted before parsing)",
  "}": "dicts are not supported",
  ":": "':' is not supported (no lambdas, slices or dicts)",
  ";": "only one expression is allowed",
  "&": "'&' is not supported; use 'and'",
  "|": "'|' is not supported; use 'or'",
  "~": "'~' is not supported",
  "!": "'!' is not supported; use 'not' or '!='",
};
const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;

/** Splits `text` into tokens, ending with an `end` token; throws EvalError `syntax` with the column. */
export function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === " " || ch === "\t" || ch === "\n" || ch === "\r" || ch === "\f") {
      i++;
      continue;
    }
    if (isDigit(ch) || (ch === "." && isDigit(text[i + 1] ?? ""))) {
      const t = readNumber(text, i);
      out.push(t);
      i = t.end;
      continue;
    }
    if (NAME_START.test(ch)) {
      let j = i + 1;
      while (j < text.length && NAME_CHAR.test(text[j])) j++;
      const word = text.slice(i, j);
      if ((text[j] === "'" || text[j] === '"') && /^[rRuUbB]{1,2}$/.test(word)) {
        if (/[bB]/.test(word)) throw new EvalError("syntax", "bytes literals are not supported", i);
        const t = readString(text, j, /[rR]/.test(word));
        out.push({ type: "str", text: t.value, pos: i });
        i = t.end;
        continue;
      }
      out.push({ type: "name", text: word, pos: i });
      i = j;
      continue;
    }
    if (ch === "'" || ch === '"') {
      const t = readString(text, i, false);
      out.push({ type: "str", text: t.value, pos: i });
      i = t.end;
      continue;
    }
    const op = OPERATORS.find((o) => text.startsWith(o, i));
    if (op === "<>") throw new EvalError("syntax", "'<>' is not supported; use '!='", i);
    if (op) {
      out.push({ type: "op", text: op, pos: i });
      i += op.length;
      continue;
    }
    throw new EvalError("syntax", UNSUPPORTED[ch] ?? `unexpected character ${JSON.stringify(ch)}`, i);
  }
  out.push({ type: "end", text: "", pos: text.length });
  return out;
}

function isDigit(ch: string): boolean {
  return ch >= "0" && ch <= "9";
}

const INT_PREFIXED = /^0([xX][0-9a-fA-F_]+|[oO][0-7_]+|[bB][01_]+)/;
const DECIMAL = /^(\d[\d_]*)?(\.\d[\d_]*|\.)?([eE][+-]?\d[\d_]*)?/;

function readNumber(text: string, start: number): Token & { end: number } {
  const rest = text.slice(start, start + 512);
  const pref = INT_PREFIXED.exec(rest);
  let lit: string;
  let num: bigint | number;
  if (pref) {
    lit = pref[0];
    checkUnderscores(lit.slice(2), start);
    num = BigInt(lit.replace(/_/g, "").toLowerCase());
  } else {
    const m = DECIMAL.exec(rest)!;
    lit = m[0];
    if (lit === "" || lit === ".") throw new EvalError("syntax", "invalid number", start);
    checkUnderscores(lit, start);
    const clean = lit.replace(/_/g, "");
    if (m[2] === undefined && m[3] === undefined) {
      if (/^0\d/.test(clean) && /[1-9]/.test(clean)) {
        throw new EvalError("syntax", "leading zeros in decimal integer literals are not permitted", start);
      }
      num = BigInt(clean);
    } else {
      num = Number(clean);
    }
  }
  const end = start + lit.length;
  if (end < text.length && (NAME_CHAR.test(text[end]) || text[end] === ".")) {
    throw new EvalError(
      "syntax",
      `invalid number literal ${JSON.stringify(text.slice(start, end + 1))}`,
      start,
    );
  }
  return { type: "num", text: lit, num, pos: start, end };
}

function checkUnderscores(lit: string, pos: number): void {
  if (/__|_$|_[.eE]|[.eE+-]_/.test(lit)) {
    throw new EvalError("syntax", "invalid underscore in number literal", pos);
  }
}

const SIMPLE_ESCAPES: Record<string, string> = {
  "\\": "\\",
  "'": "'",
  '"': '"',
  n: "\n",
  t: "\t",
  r: "\r",
  a: "\x07",
  b: "\b",
  f: "\f",
  v: "\v",
  "\n": "",
};

function readString(text: string, start: number, raw: boolean): { value: string; end: number } {
  const q = text[start];
  const triple = text.startsWith(q.repeat(3), start);
  const closer = triple ? q.repeat(3) : q;
  let i = start + closer.length;
  let value = "";
  while (true) {
    if (i >= text.length) throw new EvalError("syntax", "unterminated string literal", start);
    if (text.startsWith(closer, i)) return { value, end: i + closer.length };
    const ch = text[i];
    if (ch === "\n" && !triple) throw new EvalError("syntax", "unterminated string literal", start);
    if (ch !== "\\") {
      value += ch;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === undefined) throw new EvalError("syntax", "unterminated string literal", start);
    if (raw) {
      value += ch + next;
      i += 2;
      continue;
    }
    if (next in SIMPLE_ESCAPES) {
      value += SIMPLE_ESCAPES[next];
      i += 2;
      continue;
    }
    const hexLen = next === "x" ? 2 : next === "u" ? 4 : next === "U" ? 8 : 0;
    if (hexLen) {
      const hex = text.slice(i + 2, i + 2 + hexLen);
      if (hex.length !== hexLen || !/^[0-9a-fA-F]+$/.test(hex)) {
        throw new EvalError("syntax", `truncated \\${next} escape`, i);
      }
      const cp = parseInt(hex, 16);
      if (cp > 0x10ffff) throw new EvalError("syntax", `illegal Unicode character \\${next}${hex}`, i);
      value += String.fromCodePoint(cp);
      i += 2 + hexLen;
      continue;
    }
    const oct = /^[0-7]{1,3}/.exec(text.slice(i + 1, i + 4));
    if (oct) {
      value += String.fromCodePoint(parseInt(oct[0], 8));
      i += 1 + oct[0].length;
      continue;
    }
    value += ch + next; // Python keeps unknown escapes as-is
    i += 2;
  }
}

/**
 * The `/render` target language (pure): a recursive-descent parser for Graphite expressions such
 * as `alias(sumSeries(web*.cpu.{user,system}), "cpu")` or `summarize(x, "1h", "max", alignToFrom=true)`.
 * Errors carry the position so `/render` answers 400 naming where the target went wrong.
 *
 * Grammar: expr := call | path | number | string | bool; call := NAME "(" [arg ("," arg)*] ")";
 * arg := [NAME "="] expr. A path may hold `{a,b}` (its commas belong to the path), `[..]`, `*`, `?`.
 */
import { excerpt } from "../excerpt.ts";

export type Expr =
  | { kind: "path"; path: string; pos: number }
  | { kind: "call"; name: string; args: Expr[]; kwargs: Record<string, Expr>; pos: number; source: string }
  | { kind: "number"; value: number; pos: number }
  | { kind: "string"; value: string; pos: number }
  | { kind: "bool"; value: boolean; pos: number };

export class TargetError extends Error {
  constructor(readonly target: string, readonly position: number, message: string) {
    // a long target is shown around the position (`…` at a cut end), not whole
    super(`${message} at position ${position} of '${excerpt(target, position).text}'`);
    this.name = "TargetError";
  }
}

const PATH_CHAR = /[A-Za-z0-9_.\-*?[\]{}:;=~%@+#^$!|<>]/;
const MAX_DEPTH = 64;

/** Parses one target; throws TargetError. */
export function parseTarget(target: string): Expr {
  const p = new Parser(target);
  p.skipSpace();
  const e = p.expr(0);
  p.skipSpace();
  if (p.pos < target.length) throw new TargetError(target, p.pos, `unexpected '${target[p.pos]}'`);
  return e;
}

class Parser {
  pos = 0;
  constructor(readonly text: string) {}

  fail(message: string, at = this.pos): never {
    throw new TargetError(this.text, at, message);
  }

  skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
  }

  expr(depth: number): Expr {
    if (depth > MAX_DEPTH) this.fail(`expression nested deeper than ${MAX_DEPTH}`);
    this.skipSpace();
    const start = this.pos;
    const ch = this.text[this.pos];
    if (ch === undefined) this.fail("expression expected, found the end");
    if (ch === '"' || ch === "'") return this.string();
    const word = this.pathToken();
    if (word === "") this.fail(`unexpected '${ch}'`);
    this.skipSpace();
    if (this.text[this.pos] === "(" && /^[A-Za-z_][A-Za-z0-9_]*$/.test(word)) {
      return this.call(word, start, depth);
    }
    // linear: `\d+\.?\d*` backtracked quadratically on a long run of digits ending badly
    if (/^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$/.test(word)) {
      return { kind: "number", value: Number(word), pos: start };
    }
    // graphite-web's grammar reads true and false in any case (CaselessKeyword): True, FALSE
    const lower = word.toLowerCase();
    if (lower === "true" || lower === "false") return { kind: "bool", value: lower === "true", pos: start };
    // and inf as float('inf') (CaselessKeyword): keepLastValue(x, inf), its documented default
    if (lower === "inf") return { kind: "number", value: Infinity, pos: start };
    return { kind: "path", path: word, pos: start };
  }

  /** A path (or function name/number): path characters, with commas allowed inside `{}`. */
  pathToken(): string {
    const start = this.pos;
    let braces = 0;
    while (this.pos < this.text.length) {
      const ch = this.text[this.pos];
      if (ch === "{") braces++;
      else if (ch === "}") {
        if (braces === 0) this.fail("'}' without '{'");
        braces--;
      } else if (ch === "," && braces > 0) { /* part of {a,b} */ }
      else if (!PATH_CHAR.test(ch)) break;
      // `name=` inside a call is a keyword argument: stop before '='
      if (
        ch === "=" && braces === 0 && this.pos > start &&
        /^[A-Za-z_]\w*$/.test(this.text.slice(start, this.pos))
      ) {
        break;
      }
      this.pos++;
    }
    if (braces > 0) this.fail("'{' is not closed", start);
    return this.text.slice(start, this.pos);
  }

  string(): Expr {
    const start = this.pos;
    const quote = this.text[this.pos++];
    let out = "";
    // as graphite-web's grammar: a backslash keeps the quote after it inside the string, and
    // stays in the value (aliasSub's `\1`, grep's `\.` reach the regular expression as written)
    while (this.pos < this.text.length && this.text[this.pos] !== quote) {
      if (this.text[this.pos] === "\\" && this.pos + 1 < this.text.length) out += this.text[this.pos++];
      out += this.text[this.pos++];
    }
    if (this.text[this.pos] !== quote) this.fail("string is not closed", start);
    this.pos++;
    return { kind: "string", value: out, pos: start };
  }

  call(name: string, start: number, depth: number): Expr {
    this.pos++; // (
    const args: Expr[] = [];
    const kwargs: Record<string, Expr> = {};
    const argsStart = this.pos;
    this.skipSpace();
    if (this.text[this.pos] === ")") {
      this.pos++;
      return { kind: "call", name, args, kwargs, pos: start, source: "" };
    }
    while (true) {
      this.skipSpace();
      const kw = /^([A-Za-z_]\w*)\s*=(?!=)/.exec(this.text.slice(this.pos));
      if (kw) {
        this.pos += kw[0].length;
        kwargs[kw[1]] = this.expr(depth + 1);
      } else {
        if (Object.keys(kwargs).length) this.fail(`positional argument after keyword arguments in ${name}()`);
        args.push(this.expr(depth + 1));
      }
      this.skipSpace();
      const ch = this.text[this.pos];
      if (ch === ",") {
        this.pos++;
        continue;
      }
      if (ch === ")") {
        const source = this.text.slice(argsStart, this.pos);
        this.pos++;
        return { kind: "call", name, args, kwargs, pos: start, source };
      }
      this.fail(
        ch === undefined ? `${name}( is not closed` : `expected ',' or ')' in ${name}(), found '${ch}'`,
      );
    }
  }
}

/** Every path expression in a target (for fetching and `aliasByNode`); a seriesByTag call is one. */
export function pathsOf(e: Expr): string[] {
  if (e.kind === "path") return [e.path];
  if (e.kind !== "call") return [];
  if (e.name === "seriesByTag") return [seriesByTagPath(e)];
  return [...e.args, ...Object.values(e.kwargs)].flatMap(pathsOf);
}

/** A seriesByTag call as graphite-web passes it to its store: the call's text as written. */
export function seriesByTagPath(e: Extract<Expr, { kind: "call" }>): string {
  return `seriesByTag(${e.source})`;
}

/**
 * The parser and compiler of lib/metrics/py_regex.ts: Python's `re` syntax (the subset a Pike VM can
 * run) read as Python reads it, and compiled to the VM's program (Thompson's construction). Pure.
 */
import { FunctionError } from "./render_core.ts";

/** Most VM instructions a pattern compiles to (counted repeats are expanded). */
const MAX_PROGRAM = 20_000;

export type Pred = (cp: number) => boolean;
export type Node =
  | { t: "char"; pred: Pred }
  | { t: "cat"; items: Node[] }
  | { t: "alt"; items: Node[] }
  | { t: "group"; index: number | null; body: Node }
  | { t: "repeat"; body: Node; min: number; max: number; lazy: boolean }
  | { t: "assert"; kind: AssertKind };
export type AssertKind = "bol" | "eol" | "start" | "end" | "word" | "notword";

export type Inst =
  | { op: "char"; pred: Pred }
  | { op: "split"; x: number; y: number }
  | { op: "jmp"; x: number }
  | { op: "save"; n: number }
  | { op: "assert"; kind: AssertKind }
  | { op: "match" };

export interface Flags {
  i: boolean;
  s: boolean;
  m: boolean;
}

const cpRe = (re: RegExp): Pred => (cp) => re.test(String.fromCodePoint(cp));
const isDigit = cpRe(/^\p{Nd}$/u);
// Python's \w: str.isalnum() or "_"
export const isWord = cpRe(/^[\p{L}\p{N}_]$/u);
// Python's str.isspace()
const SPACES = new Set([0x20, 0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000]);
const isSpace: Pred = (cp) =>
  (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x1f) || (cp >= 0x2000 && cp <= 0x200a) ||
  SPACES.has(cp);
const not = (p: Pred): Pred => (cp) => !p(cp);

export class Parser {
  pos = 0;
  groups = 0;
  names = new Map<string, number>();
  flags: Flags = { i: false, s: false, m: false };
  constructor(readonly fn: string, readonly src: string) {}

  fail(message: string, at = this.pos): never {
    throw new FunctionError(this.fn, `regular expression '${this.src}': ${message} at position ${at}`);
  }

  parse(): Node {
    this.leadingFlags();
    const n = this.alternation();
    if (this.pos < this.src.length) this.fail("unbalanced parenthesis");
    return n;
  }

  leadingFlags(): void {
    const m = /^\(\?([a-zA-Z]+)\)/.exec(this.src);
    if (!m) return;
    for (const f of m[1]) {
      if (f === "i" || f === "s" || f === "m") this.flags[f] = true;
      else if (f !== "u") this.fail(`the flag '${f}' is not supported (only i, s, m and u)`);
    }
    this.pos = m[0].length;
  }

  alternation(): Node {
    const items = [this.sequence()];
    while (this.src[this.pos] === "|") {
      this.pos++;
      items.push(this.sequence());
    }
    return items.length === 1 ? items[0] : { t: "alt", items };
  }

  sequence(): Node {
    const items: Node[] = [];
    while (this.pos < this.src.length && this.src[this.pos] !== "|" && this.src[this.pos] !== ")") {
      const start = this.pos;
      const atom = this.atom();
      items.push(this.quantified(atom, start));
    }
    return { t: "cat", items };
  }

  quantified(atom: Node, atomStart: number): Node {
    const q = this.quantifier();
    if (!q) return atom;
    if (atom.t === "assert") this.fail("nothing to repeat", atomStart);
    if (q.max > 1 && nullable(atom) && captures(atom)) {
      // Python keeps the empty last repeat in the group ("(a*)*" on "aa": group 1 is ""), a Pike VM
      // the last non-empty one: refused rather than answered differently
      this.fail("a repeated group that can match nothing is not supported", atomStart);
    }
    if (this.src[this.pos] === "+") this.fail("possessive repeats are not supported");
    if (this.quantifierAhead()) this.fail("multiple repeat");
    return { t: "repeat", body: atom, ...q };
  }

  quantifierAhead(): boolean {
    const save = this.pos;
    const q = this.quantifier();
    this.pos = save;
    return q !== null;
  }

  quantifier(): { min: number; max: number; lazy: boolean } | null {
    const c = this.src[this.pos];
    let min: number;
    let max: number;
    if (c === "*" || c === "+" || c === "?") {
      this.pos++;
      [min, max] = c === "*" ? [0, Infinity] : c === "+" ? [1, Infinity] : [0, 1];
    } else if (c === "{") {
      const m = /^\{(\d*)(,?)(\d*)\}/.exec(this.src.slice(this.pos));
      // Python reads a "{" that does not open {m}, {m,}, {,n} or {m,n} as a literal
      if (!m || (m[1] === "" && m[2] === "" && m[3] === "")) return null;
      if (m[2] === "" && m[3] !== "") return null;
      min = m[1] === "" ? 0 : Number(m[1]);
      max = m[2] === "" ? min : m[3] === "" ? Infinity : Number(m[3]);
      if (max < min) this.fail("min repeat greater than max repeat");
      if (min > 1000 || (max !== Infinity && max > 1000)) this.fail("a counted repeat of more than 1000");
      this.pos += m[0].length;
    } else return null;
    const lazy = this.src[this.pos] === "?";
    if (lazy) this.pos++;
    return { min, max, lazy };
  }

  atom(): Node {
    const c = this.src[this.pos];
    if (c === "(") return this.group();
    if (c === "[") return this.charClass();
    if (c === "*" || c === "+" || c === "?") this.fail("nothing to repeat");
    if (c === "{" && this.quantifierAhead()) this.fail("nothing to repeat");
    this.pos++;
    if (c === ".") return { t: "char", pred: this.flags.s ? () => true : (cp) => cp !== 10 };
    if (c === "^") return { t: "assert", kind: this.flags.m ? "bol" : "start" };
    if (c === "$") return { t: "assert", kind: "eol" };
    if (c === "\\") return this.escape();
    const cp = this.src.codePointAt(this.pos - 1)!;
    return this.literal(cp, String.fromCodePoint(cp).length);
  }

  literal(cp: number, len: number): Node {
    this.pos += len - 1;
    if (!this.flags.i) return { t: "char", pred: (x) => x === cp };
    const folds = caseFolds(cp);
    return { t: "char", pred: (x) => folds.has(x) };
  }

  group(): Node {
    const open = this.pos;
    this.pos++;
    let index: number | null = null;
    if (this.src[this.pos] === "?") {
      const rest = this.src.slice(this.pos);
      const named = /^\?P<([A-Za-z_]\w*)>/.exec(rest);
      if (rest.startsWith("?:")) this.pos += 2;
      else if (named) {
        if (this.names.has(named[1])) this.fail(`redefinition of group name '${named[1]}'`);
        index = ++this.groups;
        this.names.set(named[1], index);
        this.pos += named[0].length;
      } else if (rest.startsWith("?#")) {
        const close = this.src.indexOf(")", this.pos);
        if (close < 0) this.fail("missing ), unterminated comment", open);
        this.pos = close + 1;
        return { t: "cat", items: [] };
      } else if (/^\?(=|!|<=|<!)/.test(rest)) this.fail("lookahead and lookbehind are not supported", open);
      else if (rest.startsWith("?P=") || rest.startsWith("?(")) {
        this.fail("backreferences and conditionals are not supported", open);
      } else if (/^\?[a-zA-Z-]/.test(rest)) this.fail("flags are supported only at the start, as (?i)", open);
      else this.fail("unknown extension", open);
    } else index = ++this.groups;
    const body = this.alternation();
    if (this.src[this.pos] !== ")") this.fail("missing ), unterminated subpattern", open);
    this.pos++;
    return { t: "group", index, body };
  }

  /** An escape outside a class: a class shorthand, an assertion or one character. */
  escape(): Node {
    const c = this.src[this.pos];
    if (c === undefined) this.fail("bad escape (end of pattern)");
    const cls = this.classEscape(c);
    if (cls) {
      this.pos++;
      return { t: "char", pred: cls };
    }
    const kinds: Record<string, AssertKind> = { A: "start", Z: "end", b: "word", B: "notword" };
    if (kinds[c]) {
      this.pos++;
      return { t: "assert", kind: kinds[c] };
    }
    if (/[1-9]/.test(c) && !/^[0-7]{3}/.test(this.src.slice(this.pos))) {
      this.fail("backreferences are not supported");
    }
    const cp = this.charEscape(false);
    return this.literal(cp, 1);
  }

  classEscape(c: string): Pred | null {
    switch (c) {
      case "d":
        return isDigit;
      case "D":
        return not(isDigit);
      case "w":
        return isWord;
      case "W":
        return not(isWord);
      case "s":
        return isSpace;
      case "S":
        return not(isSpace);
    }
    return null;
  }

  /** One escaped character (after the backslash); leaves pos after it. */
  charEscape(inClass: boolean): number {
    const start = this.pos - 1;
    const c = this.src[this.pos++];
    const simple: Record<string, number> = { a: 7, f: 12, n: 10, r: 13, t: 9, v: 11, "\\": 92 };
    if (inClass && c === "b") return 8;
    if (Object.hasOwn(simple, c)) return simple[c];
    const hex = (n: number) => {
      const h = this.src.slice(this.pos, this.pos + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(h)) this.fail(`incomplete escape \\${c}${h}`, start);
      this.pos += n;
      const cp = parseInt(h, 16);
      if (cp > 0x10ffff) this.fail(`bad escape \\${c}${h}`, start);
      return cp;
    };
    if (c === "x") return hex(2);
    if (c === "u") return hex(4);
    if (c === "U") return hex(8);
    if (/[0-7]/.test(c)) {
      const oct = /^[0-7]{0,2}/.exec(this.src.slice(this.pos))![0];
      if (c !== "0" && oct.length < 2 && !inClass) this.fail("backreferences are not supported", start);
      this.pos += oct.length;
      const cp = parseInt(c + oct, 8);
      if (cp > 0o377) this.fail(`octal escape value \\${c}${oct} outside of range 0-0o377`, start);
      return cp;
    }
    if (/[0-9A-Za-z]/.test(c)) this.fail(`bad escape \\${c}`, start);
    const cp = this.src.codePointAt(this.pos - 1)!;
    this.pos += String.fromCodePoint(cp).length - 1;
    return cp;
  }

  charClass(): Node {
    const open = this.pos;
    this.pos++;
    const negate = this.src[this.pos] === "^";
    if (negate) this.pos++;
    const preds: Pred[] = [];
    let first = true;
    while (true) {
      if (this.pos >= this.src.length) this.fail("unterminated character set", open);
      const c = this.src[this.pos];
      if (c === "]" && !first) {
        this.pos++;
        break;
      }
      first = false;
      let lo: number;
      if (c === "\\") {
        this.pos++;
        const cls = this.classEscape(this.src[this.pos]);
        if (cls) {
          this.pos++;
          preds.push(cls);
          continue;
        }
        lo = this.charEscape(true);
      } else {
        lo = this.src.codePointAt(this.pos)!;
        this.pos += String.fromCodePoint(lo).length;
      }
      if (this.src[this.pos] === "-" && this.src[this.pos + 1] !== "]" && this.pos + 1 < this.src.length) {
        this.pos++;
        let hi: number;
        if (this.src[this.pos] === "\\") {
          this.pos++;
          if (this.classEscape(this.src[this.pos])) this.fail("bad character range");
          hi = this.charEscape(true);
        } else {
          hi = this.src.codePointAt(this.pos)!;
          this.pos += String.fromCodePoint(hi).length;
        }
        if (hi < lo) this.fail("bad character range");
        preds.push(this.flags.i ? foldRange(lo, hi) : (x) => x >= lo && x <= hi);
      } else {
        preds.push(this.flags.i ? foldRange(lo, lo) : (x) => x === lo);
      }
    }
    const any: Pred = (x) => preds.some((p) => p(x));
    return { t: "char", pred: negate ? not(any) : any };
  }
}

/** Whether a node can match the empty string. */
function nullable(n: Node): boolean {
  switch (n.t) {
    case "char":
      return false;
    case "assert":
      return true;
    case "cat":
      return n.items.every(nullable);
    case "alt":
      return n.items.some(nullable);
    case "group":
      return nullable(n.body);
    case "repeat":
      return n.min === 0 || nullable(n.body);
  }
}

/** Whether a node holds a capturing group. */
function captures(n: Node): boolean {
  switch (n.t) {
    case "group":
      return n.index !== null || captures(n.body);
    case "cat":
    case "alt":
      return n.items.some(captures);
    case "repeat":
      return captures(n.body);
    default:
      return false;
  }
}

/** A code point and its simple lower and upper case forms (Python's IGNORECASE, roughly). */
function caseFolds(cp: number): Set<number> {
  const s = String.fromCodePoint(cp);
  const out = new Set([cp]);
  for (const v of [s.toLowerCase(), s.toUpperCase()]) if ([...v].length === 1) out.add(v.codePointAt(0)!);
  return out;
}
function foldRange(lo: number, hi: number): Pred {
  return (x) => [...caseFolds(x)].some((y) => y >= lo && y <= hi);
}

export class Compiler {
  prog: Inst[] = [];
  constructor(readonly fn: string, readonly src: string) {}

  emit(i: Inst): number {
    if (this.prog.length >= MAX_PROGRAM) {
      throw new FunctionError(
        this.fn,
        `regular expression '${this.src}' is too large once its repeats are expanded`,
      );
    }
    this.prog.push(i);
    return this.prog.length - 1;
  }

  node(n: Node): void {
    switch (n.t) {
      case "char":
        this.emit({ op: "char", pred: n.pred });
        return;
      case "assert":
        this.emit({ op: "assert", kind: n.kind });
        return;
      case "cat":
        for (const i of n.items) this.node(i);
        return;
      case "group":
        if (n.index === null) return this.node(n.body);
        this.emit({ op: "save", n: 2 * n.index });
        this.node(n.body);
        this.emit({ op: "save", n: 2 * n.index + 1 });
        return;
      case "alt": {
        const jumps: number[] = [];
        n.items.forEach((item, k) => {
          if (k < n.items.length - 1) {
            const split = this.emit({ op: "split", x: 0, y: 0 });
            (this.prog[split] as { x: number }).x = this.prog.length;
            this.node(item);
            jumps.push(this.emit({ op: "jmp", x: 0 }));
            (this.prog[split] as { y: number }).y = this.prog.length;
          } else this.node(item);
        });
        for (const j of jumps) (this.prog[j] as { x: number }).x = this.prog.length;
        return;
      }
      case "repeat":
        return this.repeat(n);
    }
  }

  repeat(n: Extract<Node, { t: "repeat" }>): void {
    for (let k = 0; k < n.min; k++) this.node(n.body);
    if (n.max === Infinity) {
      // L: split body, out (lazy: out first); body; jmp L
      const split = this.emit({ op: "split", x: 0, y: 0 });
      const body = this.prog.length;
      this.node(n.body);
      this.emit({ op: "jmp", x: split });
      this.setSplit(split, body, this.prog.length, n.lazy);
      return;
    }
    const splits: number[] = [];
    for (let k = n.min; k < n.max; k++) {
      const split = this.emit({ op: "split", x: 0, y: 0 });
      splits.push(split);
      (this.prog[split] as { x: number }).x = this.prog.length;
      this.node(n.body);
    }
    for (const s of splits) this.setSplit(s, s + 1, this.prog.length, n.lazy);
  }

  setSplit(at: number, body: number, out: number, lazy: boolean): void {
    this.prog[at] = lazy ? { op: "split", x: out, y: body } : { op: "split", x: body, y: out };
  }
}

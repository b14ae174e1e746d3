/**
 * Python's `re` for graphite-web's grep, exclude and aliasSub (pure): the common syntax parsed
 * as Python reads it and run by a Pike VM (Thompson's construction with submatches), so a
 * pattern's work is linear in the name's length: no pattern can backtrack catastrophically.
 * Python's leftmost-first semantics (greedy and lazy repeats, the first alternative that
 * matches) and its `re.sub` rules for empty matches are kept. What a Pike VM cannot run
 * (backreferences, lookaround, conditionals, possessive repeats) is refused with a
 * FunctionError, never approximated.
 *
 * ```ts
 * const re = compilePyRegex("aliasSub", "^(\\w+)\\.cpu", { steps: 0 });
 * pySub("aliasSub", re, "\\1", "web1.cpu.user"); // "web1.user"
 * ```
 */
import { FunctionError } from "./render_core.ts";
import { type AssertKind, Compiler, type Flags, type Inst, isWord, Parser } from "./py_regex_parse.ts";

/** Longest pattern accepted, in characters. */
export const MAX_PATTERN = 1000;
/**
 * Most VM steps the patterns of one render request may take, over all the names they test: a step
 * is an instruction visited (the closure of the threads at each position included: a pattern of
 * 16 000 empty assertions visits them all at every character) or 16 instructions of a position's
 * bookkeeping. ~1 s of one core on a slow box.
 */
export const MAX_REGEX_STEPS = 100_000_000;

/** The work left to the regular expressions of one request (shared by its calls). */
export interface RegexBudget {
  steps: number;
}

/** A compiled pattern: its program, its groups, and the work it may still do. */
export interface PyRegex {
  readonly source: string;
  readonly groups: number;
  readonly names: Map<string, number>;
  /** The first match in `text` as code-point offsets ([start, end] per group, -1 unset), or null. */
  search(text: string): number[] | null;
  /** Python's `re.match`: a match that starts at the beginning of `text`, or null. */
  matchStart(text: string): number[] | null;
  /**
   * Internal: the search over code points from `from`, refusing an empty match at `noEmptyAt`;
   * `anchored`: only a match starting at `from`.
   */
  searchAt(cps: number[], from: number, noEmptyAt: number, anchored?: boolean): number[] | null;
}

/** Compiles a Python regular expression, or throws a FunctionError saying what cannot be run. */
export function compilePyRegex(fn: string, source: string, budget: RegexBudget): PyRegex {
  if (source.length > MAX_PATTERN) {
    throw new FunctionError(fn, `regular expression of ${source.length} characters (at most ${MAX_PATTERN})`);
  }
  const parser = new Parser(fn, source);
  const ast = parser.parse();
  const c = new Compiler(fn, source);
  c.emit({ op: "save", n: 0 });
  c.node(ast);
  c.emit({ op: "save", n: 1 });
  c.emit({ op: "match" });
  return new PikeVm(fn, source, c.prog, parser.groups, parser.names, parser.flags, budget);
}

interface Thread {
  pc: number;
  caps: number[];
}

class PikeVm implements PyRegex {
  constructor(
    readonly fn: string,
    readonly source: string,
    readonly prog: Inst[],
    readonly groups: number,
    readonly names: Map<string, number>,
    readonly flags: Flags,
    private readonly budget: RegexBudget,
  ) {}

  search(text: string): number[] | null {
    return this.searchAt([...text].map((ch) => ch.codePointAt(0)!), 0, -1);
  }

  matchStart(text: string): number[] | null {
    return this.searchAt([...text].map((ch) => ch.codePointAt(0)!), 0, -1, true);
  }

  searchAt(cps: number[], from: number, noEmptyAt: number, anchored = false): number[] | null {
    const n = cps.length;
    const slots = 2 * (this.groups + 1);
    let clist: Thread[] = [];
    let matched: number[] | null = null;
    for (let pos = from; pos <= n; pos++) {
      this.budget.steps += (this.prog.length >> 4) + 1; // `seen`, allocated and cleared at each position
      const seen = new Uint8Array(this.prog.length);
      // the threads carried from the last position come first: an earlier start wins
      const next: Thread[] = [];
      for (const t of clist) this.add(next, seen, t.pc, t.caps, cps, pos);
      if (matched === null && (!anchored || pos === from)) {
        this.add(next, seen, 0, new Array(slots).fill(-1), cps, pos);
      }
      clist = next;
      if (clist.length === 0) {
        if (matched !== null || anchored) break;
        continue; // nothing started here (a failed assertion): try the next position
      }
      this.budget.steps += clist.length;
      if (this.budget.steps > MAX_REGEX_STEPS) {
        throw new FunctionError(
          this.fn,
          `regular expression '${this.source}' takes too much work over these names`,
        );
      }
      const advanced: Thread[] = [];
      for (const t of clist) {
        const inst = this.prog[t.pc];
        if (inst.op === "match") {
          if (noEmptyAt === pos && t.caps[0] === pos) continue; // Python: no empty match right after one
          matched = t.caps;
          break; // the threads after this one have a lower priority
        }
        if (inst.op === "char" && pos < n && inst.pred(cps[pos])) {
          advanced.push({ pc: t.pc + 1, caps: t.caps });
        }
      }
      clist = advanced;
      if (clist.length === 0 && matched !== null) break;
    }
    return matched;
  }

  /** Adds a thread and everything it reaches without reading a character, in priority order. */
  private add(
    list: Thread[],
    seen: Uint8Array,
    pc: number,
    caps: number[],
    cps: number[],
    pos: number,
  ): void {
    const stack: Array<{ pc: number; caps: number[] }> = [{ pc, caps }];
    while (stack.length) {
      const t = stack.pop()!;
      if (seen[t.pc]) continue;
      seen[t.pc] = 1;
      this.budget.steps++; // every instruction visited is work, the ones that read no character too
      const inst = this.prog[t.pc];
      switch (inst.op) {
        case "jmp":
          stack.push({ pc: inst.x, caps: t.caps });
          break;
        case "split":
          stack.push({ pc: inst.y, caps: t.caps }, { pc: inst.x, caps: t.caps });
          break;
        case "save": {
          const caps2 = t.caps.slice();
          caps2[inst.n] = pos;
          stack.push({ pc: t.pc + 1, caps: caps2 });
          break;
        }
        case "assert":
          if (this.holds(inst.kind, cps, pos)) stack.push({ pc: t.pc + 1, caps: t.caps });
          break;
        default:
          list.push(t);
      }
    }
  }

  private holds(kind: AssertKind, cps: number[], pos: number): boolean {
    const n = cps.length;
    switch (kind) {
      case "start":
        return pos === 0;
      case "bol":
        return pos === 0 || cps[pos - 1] === 10;
      case "end":
        return pos === n;
      case "eol":
        // Python's $: the end, or before a newline that ends the text (any newline with (?m))
        return pos === n || (cps[pos] === 10 && (this.flags.m || pos === n - 1));
      case "word":
      case "notword": {
        const a = pos > 0 && isWord(cps[pos - 1]);
        const b = pos < n && isWord(cps[pos]);
        return (a !== b) === (kind === "word");
      }
    }
  }
}

type TemplatePart = string | number;

/** Python's re.sub template (sre_parse.parse_template): `\1`, `\g<1>`, `\g<name>`, `\n`-style escapes. */
function parseTemplate(fn: string, re: PyRegex, repl: string): TemplatePart[] {
  const fail = (message: string, at: number): never => {
    throw new FunctionError(fn, `replacement '${repl}': ${message} at position ${at}`);
  };
  const parts: TemplatePart[] = [];
  let lit = "";
  const group = (g: number, at: number) => {
    if (g > re.groups) fail(`invalid group reference ${g}`, at);
    if (lit) parts.push(lit);
    lit = "";
    parts.push(g);
  };
  const isOct = (ch: string | undefined) => ch !== undefined && ch >= "0" && ch <= "7";
  const isDig = (ch: string | undefined) => ch !== undefined && ch >= "0" && ch <= "9";
  let i = 0;
  while (i < repl.length) {
    const c = repl[i];
    if (c !== "\\") {
      lit += c;
      i++;
      continue;
    }
    const at = i;
    const d = repl[i + 1];
    if (d === undefined) fail("bad escape (end of pattern)", at);
    i += 2;
    if (d === "g") {
      const m = /^<([^>]*)>/.exec(repl.slice(i));
      if (!m) fail("missing group name or >", i);
      const name = m![1];
      let g: number | undefined;
      if (/^[A-Za-z_]\w*$/.test(name)) {
        g = re.names.get(name);
        if (g === undefined) fail(`unknown group name '${name}'`, i + 1);
      } else if (/^[0-9]+$/.test(name)) g = Number(name);
      else fail(`bad character in group name '${name}'`, i + 1);
      group(g!, i + 1);
      i += m![0].length;
    } else if (d === "0") {
      let digits = "0";
      while (digits.length < 3 && isOct(repl[i])) digits += repl[i++];
      lit += String.fromCharCode(parseInt(digits, 8) & 0xff);
    } else if (isDig(d)) {
      let digits = d;
      if (isDig(repl[i])) {
        digits += repl[i++];
        if (isOct(d) && isOct(digits[1]) && isOct(repl[i])) {
          digits += repl[i++];
          const v = parseInt(digits, 8);
          if (v > 0o377) fail(`octal escape value \\${digits} outside of range 0-0o377`, at);
          lit += String.fromCharCode(v);
          continue;
        }
      }
      group(Number(digits), at + 1);
    } else {
      const simple: Record<string, string> = {
        a: "\x07",
        b: "\b",
        f: "\f",
        n: "\n",
        r: "\r",
        t: "\t",
        v: "\v",
        "\\": "\\",
      };
      if (Object.hasOwn(simple, d)) lit += simple[d];
      else if (/[A-Za-z]/.test(d)) fail(`bad escape \\${d}`, at);
      else lit += "\\" + d;
    }
  }
  if (lit) parts.push(lit);
  return parts;
}

/** Python's `re.sub(pattern, repl, text)`: every non-overlapping match replaced. */
export function pySub(fn: string, re: PyRegex, repl: string, text: string): string {
  const template = parseTemplate(fn, re, repl);
  const cps: number[] = [];
  const offsets: number[] = []; // the UTF-16 offset of each code point, and of the end
  for (let i = 0; i < text.length;) {
    const cp = text.codePointAt(i)!;
    offsets.push(i);
    cps.push(cp);
    i += cp > 0xffff ? 2 : 1;
  }
  offsets.push(text.length);
  const slice = (a: number, b: number) => text.slice(offsets[a], offsets[b]);
  let out = "";
  let last = 0;
  let pos = 0;
  let noEmptyAt = -1;
  while (pos <= cps.length) {
    const m = re.searchAt(cps, pos, noEmptyAt);
    if (!m) break;
    out += slice(last, m[0]);
    for (const part of template) {
      if (typeof part === "string") out += part;
      else if (m[2 * part] >= 0) out += slice(m[2 * part], m[2 * part + 1]);
    }
    last = m[1];
    noEmptyAt = m[1] === m[0] ? m[1] : -1;
    pos = m[1];
  }
  return out + slice(last, cps.length);
}

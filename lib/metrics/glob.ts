/**
 * Graphite path patterns (pure): `*` and `?` within one node, `[a-z0-9]` character classes and
 * `{a,b}` alternatives (expanded first, so they may span dots), matched node by node against
 * dot-separated metric names; and the finder's one-level-below listing.
 *
 * ```ts
 * matchNames("web*.cpu.{user,system}", ["web1.cpu.user", "db1.cpu.user"]); // ["web1.cpu.user"]
 * ```
 */

/** Largest number of patterns one `{..}` expansion may produce (a guard against `{a,b}{c,d}...` bombs). */
export const MAX_EXPANSIONS = 1024;

export class PatternError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PatternError";
  }
}

/** Expands `{a,b}` alternatives (nested allowed) into plain patterns. */
export function expandBraces(pattern: string): string[] {
  const open = pattern.indexOf("{");
  if (open < 0) return [pattern];
  let depth = 0;
  let close = -1;
  const cuts: number[] = [];
  for (let i = open; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === "{") depth++;
    else if (ch === "}") {
      depth--;
      if (depth === 0) {
        close = i;
        break;
      }
    } else if (ch === "," && depth === 1) cuts.push(i);
  }
  if (close < 0) throw new PatternError(`unbalanced '{' at position ${open} of '${pattern}'`);
  const head = pattern.slice(0, open);
  const tail = pattern.slice(close + 1);
  const bounds = [open, ...cuts, close];
  const out: string[] = [];
  for (let i = 0; i < bounds.length - 1; i++) {
    const alt = pattern.slice(bounds[i] + 1, bounds[i + 1]);
    for (const e of expandBraces(head + alt + tail)) {
      out.push(e);
      if (out.length > MAX_EXPANSIONS) {
        throw new PatternError(`'${pattern}' expands to more than ${MAX_EXPANSIONS} patterns`);
      }
    }
  }
  return out;
}

type Token =
  | { kind: "char"; ch: string }
  | { kind: "any" }
  | { kind: "star" }
  | { kind: "class"; negate: boolean; ranges: Array<[string, string]> };

/**
 * One pattern node with wildcards, matched without a regular expression: a backtracking regex
 * took 8 s for `a*a*a*a*a*a*a*a*a*a*b` against 40 a's (hours for a few more stars), all on the
 * main thread, from a read route. This matcher backtracks to the last `*` only: at most
 * (pattern × name) steps.
 */
export class NodeGlob {
  readonly #tokens: Token[];

  constructor(node: string) {
    const tokens: Token[] = [];
    for (let i = 0; i < node.length; i++) {
      const ch = node[i];
      if (ch === "*") {
        if (tokens[tokens.length - 1]?.kind !== "star") tokens.push({ kind: "star" });
      } else if (ch === "?") tokens.push({ kind: "any" });
      else if (ch === "[") {
        const end = node.indexOf("]", i + 1);
        if (end < 0) throw new PatternError(`unbalanced '[' in '${node}'`);
        let body = node.slice(i + 1, end);
        const negate = body.startsWith("!");
        if (negate) body = body.slice(1);
        const ranges: Array<[string, string]> = [];
        for (let j = 0; j < body.length; j++) {
          if (j + 2 < body.length && body[j + 1] === "-") {
            ranges.push([body[j], body[j + 2]]);
            j += 2;
          } else ranges.push([body[j], body[j]]);
        }
        tokens.push({ kind: "class", negate, ranges });
        i = end;
      } else tokens.push({ kind: "char", ch });
    }
    this.#tokens = tokens;
  }

  /** Whether `s` matches; `meter.steps` counts the work (the caller's budget). */
  test(s: string, meter: { steps: number }): boolean {
    const t = this.#tokens;
    let ti = 0;
    let si = 0;
    let starTi = -1;
    let starSi = 0;
    while (si < s.length) {
      meter.steps++;
      const tok = t[ti];
      if (tok !== undefined && tok.kind !== "star" && one(tok, s[si])) {
        ti++;
        si++;
      } else if (tok !== undefined && tok.kind === "star") {
        starTi = ti++;
        starSi = si;
      } else if (starTi >= 0) {
        ti = starTi + 1;
        si = ++starSi;
      } else return false;
    }
    while (t[ti]?.kind === "star") ti++;
    return ti === t.length;
  }
}

function one(tok: Exclude<Token, { kind: "star" }>, c: string): boolean {
  switch (tok.kind) {
    case "char":
      return tok.ch === c;
    case "any":
      return true;
    case "class":
      return tok.ranges.some(([a, b]) => c >= a && c <= b) !== tok.negate;
  }
}

/** One pattern node as a matcher, or null when it is a plain string. */
function nodeMatcher(node: string): NodeGlob | null {
  return /[*?[]/.test(node) ? new NodeGlob(node) : null;
}

/** Longest path pattern accepted (Graphite paths are far shorter; every character costs matching work). */
export const MAX_PATTERN_LENGTH = 1000;
/** Most character comparisons one pattern may spend over a request's names (a few tens of ms of CPU). */
export const MAX_MATCH_STEPS = 10_000_000;

/** A compiled path pattern: one matcher per node. */
export class PathPattern {
  readonly alternatives: Array<Array<NodeGlob | string>>;
  /** Work spent matching so far (wildcard steps and compared nodes), against MAX_MATCH_STEPS. */
  readonly meter = { steps: 0 };

  constructor(readonly source: string) {
    if (source.length > MAX_PATTERN_LENGTH) {
      throw new PatternError(`a path pattern of ${source.length} characters (at most ${MAX_PATTERN_LENGTH})`);
    }
    this.alternatives = expandBraces(source).map((p) => p.split(".").map((n) => nodeMatcher(n) ?? n));
  }

  /** Whether `nodes` (a name split on dots) match, all of them (`prefix`: the first nodes only). */
  matchNodes(nodes: string[], prefix = false): boolean {
    return this.alternatives.some((alt) => {
      if (prefix ? nodes.length < alt.length : nodes.length !== alt.length) return false;
      return this.matchAlt(alt, nodes);
    });
  }

  /** The first `alt.length` nodes against one alternative, within the pattern's budget. */
  matchAlt(alt: Array<NodeGlob | string>, nodes: string[]): boolean {
    const meter = this.meter;
    meter.steps += alt.length;
    if (meter.steps > MAX_MATCH_STEPS) {
      throw new PatternError(`'${this.source.slice(0, 80)}' costs too much to match (narrow it)`);
    }
    for (let i = 0; i < alt.length; i++) {
      const m = alt[i];
      if (typeof m === "string" ? m !== nodes[i] : !m.test(nodes[i], meter)) return false;
    }
    return true;
  }

  /** The pattern has no wildcard at all (a plain name). */
  get literal(): boolean {
    return this.alternatives.length === 1 && this.alternatives[0].every((n) => typeof n === "string");
  }
}

/**
 * Names matching `pattern`, in the order given. As in graphite, a pattern with `;` names one
 * tagged series exactly, and other patterns never match a tagged one (`name;tag=value`).
 */
export function matchNames(pattern: string, names: Iterable<string>): string[] {
  const out: string[] = [];
  if (pattern.includes(";")) {
    for (const n of names) if (n === pattern) out.push(n);
    return out;
  }
  const p = new PathPattern(pattern);
  for (const n of names) if (!n.includes(";") && p.matchNodes(n.split("."))) out.push(n);
  return out;
}

/** A node one level below a query: its full path, and whether it is a metric and/or has children. */
export interface FoundNode {
  path: string;
  text: string;
  leaf: boolean;
  branch: boolean;
}

/** The nodes a Graphite finder query matches (`x.*`: children of `x`), sorted by path. */
export function findNodes(query: string, names: Iterable<string>): FoundNode[] {
  const p = new PathPattern(query);
  const found = new Map<string, FoundNode>();
  for (const n of names) {
    if (n.includes(";")) continue; // tagged series are not in the tree (seriesByTag finds them)
    const nodes = n.split(".");
    for (const alt of p.alternatives) {
      const k = alt.length;
      if (nodes.length < k) continue;
      const head = nodes.slice(0, k);
      if (!p.matchAlt(alt, head)) continue;
      const path = head.join(".");
      let f = found.get(path);
      if (!f) found.set(path, f = { path, text: nodes[k - 1], leaf: false, branch: false });
      if (nodes.length === k) f.leaf = true;
      else f.branch = true;
    }
  }
  return [...found.values()].sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
}

/**
 * Graphite 1.1 tag expressions (pure): those of `seriesByTag` and `/tags/*` (`tag=v`, `tag!=v`,
 * `tag=~re`, `tag!=~re`) matched over a set of names (parsed by tag_names.ts) with the semantics
 * of graphite-web 1.1.8's default (SQLite) tag database, and its autocompletion and listings.
 * Regular expressions are Python's, run by the linear-time engine of py_regex.ts within a budget.
 *
 * ```ts
 * const ix = new TagIndex(["cpu;dc=a;host=x", "mem;dc=a"]);
 * ix.findSeries(["dc=a", "name!=mem"], { steps: 0 }); // ["cpu;dc=a;host=x"]
 * ```
 */
import { FunctionError } from "./render_core.ts";
import { compilePyRegex, MAX_REGEX_STEPS, type PyRegex, type RegexBudget } from "./py_regex.ts";
import { parseTarget, TargetError } from "./target_parser.ts";
import { codePointCompare, parseTaggedName, TagError } from "./tag_names.ts";

export {
  canonicalName,
  codePointCompare,
  formatTags,
  parseTaggedName,
  seriesTags,
  TagError,
  type TaggedName,
} from "./tag_names.ts";

export type TagOperator = "=" | "!=" | "=~" | "!=~";

export interface TagSpec {
  tag: string;
  op: TagOperator;
  spec: string;
}

/** graphite's parse_tagspec: `tag`, an operator and a value with no `;`. */
export function parseTagSpec(expr: string): TagSpec {
  const m = /^([^;!=]+)(!?=~?)([^;]*)$/.exec(expr);
  if (!m) throw new TagError(`Invalid tagspec ${expr}`);
  return { tag: m[1], op: m[2] as TagOperator, spec: m[3] };
}

/** Most expressions one query may hold. */
export const MAX_TAG_EXPRS = 100;

interface Compiled extends TagSpec {
  /** The expression also matches series without the tag (an empty value). */
  matchesEmpty: boolean;
  test(value: string): boolean;
}

/** Python's `re.match` (anchored at the start) over a compiled pattern. */
function pyMatch(re: PyRegex, text: string): boolean {
  return re.matchStart(text) !== null;
}

function compileSpec(expr: string, budget: RegexBudget): Compiled {
  const s = parseTagSpec(expr);
  const regex = (): PyRegex => {
    // graphite anchors the expression at the start of the value
    const anchored = s.spec.startsWith("^") ? s.spec : `^(${s.spec})`;
    try {
      return compilePyRegex("seriesByTag", anchored, budget);
    } catch (err) {
      if (err instanceof FunctionError) throw new TagError(`tag expression '${expr}': ${err.message}`);
      throw err;
    }
  };
  switch (s.op) {
    case "=":
      return { ...s, matchesEmpty: s.spec === "", test: (v) => v === s.spec };
    case "!=":
      return { ...s, matchesEmpty: s.spec !== "", test: (v) => v !== s.spec };
    case "=~": {
      const re = regex();
      const matchesEmpty = pyMatch(re, "");
      // graphite's SQL (REGEXP: re.search) for the series it joins, re.match for the filters
      return {
        ...s,
        matchesEmpty,
        test: matchesEmpty ? (v) => pyMatch(re, v) : (v) => re.search(v) !== null,
      };
    }
    case "!=~": {
      const re = regex();
      const matchesEmpty = !pyMatch(re, "");
      return {
        ...s,
        matchesEmpty,
        test: matchesEmpty ? (v) => !pyMatch(re, v) : (v) => re.search(v) === null,
      };
    }
  }
}

/** A set of tag expressions compiled once, every value tested at most once per expression. */
export class TagQuery {
  readonly specs: Compiled[];
  readonly #memo: Array<Map<string, boolean>>;

  /** Throws TagError: a bad expression (naming it), none given, or none that requires a value. */
  constructor(readonly exprs: string[], budget: RegexBudget) {
    if (exprs.length > MAX_TAG_EXPRS) {
      throw new TagError(`${exprs.length} tag expressions (at most ${MAX_TAG_EXPRS})`);
    }
    this.specs = exprs.map((e) => compileSpec(e, budget));
    if (this.specs.every((s) => s.matchesEmpty)) {
      throw new TagError(
        `At least one tagspec must not match the empty string (${
          exprs.map((e) => `'${e}'`).join(", ") || "none given"
        })`,
      );
    }
    this.#memo = this.specs.map(() => new Map());
  }

  /** Whether a series of these tags matches every expression. */
  matches(tags: Record<string, string>): boolean {
    for (let i = 0; i < this.specs.length; i++) {
      const s = this.specs[i];
      const has = Object.hasOwn(tags, s.tag);
      // an expression that requires a value needs the tag (graphite's SQL joins it)
      if (!has && !s.matchesEmpty) return false;
      const v = has ? tags[s.tag] : "";
      const memo = this.#memo[i];
      let ok = memo.get(v);
      if (ok === undefined) memo.set(v, ok = s.test(v));
      if (!ok) return false;
    }
    return true;
  }
}

/**
 * Every name's tags, computed once for a list of names (the store's sorted list changes identity
 * when a name is added). Names that do not parse as graphite paths are left out.
 */
export class TagIndex {
  readonly entries: Array<{ path: string; tags: Record<string, string> }> = [];

  constructor(readonly names: readonly string[]) {
    for (const path of names) {
      try {
        this.entries.push({ path, tags: parseTaggedName(path).tags });
      } catch {
        // not a name graphite could parse (no tags for it)
      }
    }
    this.entries.sort((a, b) => codePointCompare(a.path, b.path));
  }

  /** graphite's find_series: the paths matching every expression, sorted. */
  findSeries(exprs: string[], budget: RegexBudget): string[] {
    const q = new TagQuery(exprs, budget);
    return this.entries.filter((e) => q.matches(e.tags)).map((e) => e.path);
  }

  /** graphite's list_tags: tag names (filter: a regular expression anchored at the start), sorted. */
  listTags(filter: string | null, limit: number | null, budget: RegexBudget): string[] {
    const re = filter ? anchoredFilter("filter", filter, budget) : null;
    const all = new Set<string>();
    for (const e of this.entries) for (const t of Object.keys(e.tags)) all.add(t);
    const out = [...all].filter((t) => !re || re.search(t) !== null).sort(codePointCompare);
    return limit ? out.slice(0, limit) : out;
  }

  /** graphite's list_values: a tag's values with how many series have each, sorted by value. */
  listValues(
    tag: string,
    filter: string | null,
    limit: number | null,
    budget: RegexBudget,
  ): Array<{ value: string; count: number }> {
    const re = filter ? anchoredFilter("filter", filter, budget) : null;
    const counts = new Map<string, number>();
    for (const e of this.entries) {
      if (!Object.hasOwn(e.tags, tag)) continue;
      const v = e.tags[tag];
      counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    const out = [...counts].filter(([v]) => !re || re.search(v) !== null)
      .sort((a, b) => codePointCompare(a[0], b[0]))
      .map(([value, count]) => ({ value, count }));
    return limit ? out.slice(0, limit) : out;
  }

  /** Whether any series has this tag. */
  hasTag(tag: string): boolean {
    return this.entries.some((e) => Object.hasOwn(e.tags, tag));
  }

  /** graphite's auto_complete_tags. */
  autoCompleteTags(exprs: string[], prefix: string | null, limit: number, budget: RegexBudget): string[] {
    if (exprs.length === 0) {
      return this.listTags(prefix ? `^(${pyEscape(prefix)})` : null, limit, budget).slice(0, limit);
    }
    const searched = new Set(exprs.map((e) => parseTagSpec(e).tag));
    const q = new TagQuery(exprs, budget);
    const found = new Set<string>();
    for (const e of this.entries) {
      if (!q.matches(e.tags)) continue;
      for (const t of Object.keys(e.tags)) {
        if (!searched.has(t) && (!prefix || t.startsWith(prefix))) found.add(t);
      }
    }
    return [...found].sort(codePointCompare).slice(0, limit);
  }

  /** graphite's auto_complete_values. */
  autoCompleteValues(
    exprs: string[],
    tag: string,
    prefix: string | null,
    limit: number,
    budget: RegexBudget,
  ): string[] {
    if (exprs.length === 0) {
      return this.listValues(tag, prefix ? `^(${pyEscape(prefix)})` : null, limit, budget).map((v) => v.value)
        .slice(0, limit);
    }
    const q = new TagQuery([...exprs, `${tag}!=`], budget);
    const found = new Set<string>();
    for (const e of this.entries) {
      if (!q.matches(e.tags) || !Object.hasOwn(e.tags, tag)) continue;
      const v = e.tags[tag];
      if (!prefix || v.startsWith(prefix)) found.add(v);
    }
    return [...found].sort(codePointCompare).slice(0, limit);
  }
}

/** A `filter` parameter: anchored at the start as graphite's tag database anchors it. */
function anchoredFilter(param: string, filter: string, budget: RegexBudget): PyRegex {
  const anchored = filter.startsWith("^") ? filter : `^(${filter})`;
  try {
    return compilePyRegex(param, anchored, budget);
  } catch (err) {
    if (err instanceof FunctionError) throw new TagError(err.message);
    throw err;
  }
}

/** Python 3.7+'s re.escape. */
export function pyEscape(s: string): string {
  return s.replace(/[()[\]{}?*+\-|^$\\.&~# \t\n\r\v\f]/g, "\\$&");
}

const INDEXES = new WeakMap<readonly string[], TagIndex>();

/** The tag index of a list of names, kept while the list is the same array (the store's sorted names). */
export function tagIndexFor(names: readonly string[]): TagIndex {
  let ix = INDEXES.get(names);
  if (!ix) INDEXES.set(names, ix = new TagIndex(names));
  return ix;
}

/** The expressions of a `seriesByTag(...)` path (what /render fetches), or null for any other path. */
export function seriesByTagExprs(pattern: string): string[] | null {
  if (!pattern.startsWith("seriesByTag(")) return null;
  let e;
  try {
    e = parseTarget(pattern);
  } catch (err) {
    if (err instanceof TargetError) throw new TagError(err.message);
    throw err;
  }
  if (e.kind !== "call" || e.name !== "seriesByTag") return null;
  return e.args.map((a, i) => {
    if (a.kind !== "string") {
      throw new TagError(`seriesByTag: argument ${i + 1} must be a quoted tag expression`);
    }
    return a.value;
  });
}

/**
 * The names a `seriesByTag(...)` path selects among `names`, sorted (its regular expressions
 * within one request's budget: MAX_REGEX_STEPS), or null when the path is not one.
 */
export function seriesByTagNames(pattern: string, names: readonly string[]): string[] | null {
  const exprs = seriesByTagExprs(pattern);
  if (exprs === null) return null;
  const budget = { steps: 0 };
  const out = tagIndexFor(names).findSeries(exprs, budget);
  if (budget.steps > MAX_REGEX_STEPS) {
    throw new TagError(`${pattern}: the regular expressions take too much work`);
  }
  return out;
}

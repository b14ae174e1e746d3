/**
 * Graphite 1.1 tagged series (pure), as graphite-web 1.1.8 and carbon parse and match them: a
 * tagged name `name;tag1=v1;tag2=v2` (or OpenMetrics' `name{tag1="v1"}`) validated and brought to
 * its canonical path (tags sorted, the `name` tag the metric), and the tag expressions of
 * `seriesByTag` and `/tags/*` (`tag=v`, `tag!=v`, `tag=~re`, `tag!=~re`) matched over a set of
 * names with the semantics of graphite-web's default (SQLite) tag database. Regular expressions
 * are Python's, run by the linear-time engine of py_regex.ts within the request's budget.
 *
 * ```ts
 * parseTaggedName("cpu;host=a;dc=x").path; // "cpu;dc=x;host=a"
 * ```
 */
import { FunctionError } from "./render_core.ts";
import { compilePyRegex, MAX_REGEX_STEPS, type PyRegex, type RegexBudget } from "./py_regex.ts";
import { parseTarget, TargetError } from "./target_parser.ts";

/** A tagged name that graphite refuses, or a tag expression it cannot run: a 400 or a bad line. */
export class TagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TagError";
  }
}

export interface TaggedName {
  /** The metric as given (before `~` is stripped from the `name` tag). */
  metric: string;
  /** Every tag, `name` included. */
  tags: Record<string, string>;
  /** The canonical path: graphite's `TaggedSeries.format(tags)`. */
  path: string;
}

const PROHIBITED_TAG_CHARS = ";!^=";

/** graphite's TaggedSeries.validateTagAndValue (the same messages). */
function validateTagAndValue(tag: string, value: string): void {
  if (tag.length === 0) throw new TagError("Tag may not be empty");
  if (value.length === 0) throw new TagError(`Value for tag "${tag}" may not be empty`);
  for (const ch of PROHIBITED_TAG_CHARS) {
    if (tag.includes(ch)) throw new TagError(`Character "${ch}" is not allowed in tag "${tag}"`);
  }
  if (value.includes(";")) {
    throw new TagError(`Character ";" is not allowed in value "${value}" of tag ${tag}`);
  }
  if (value[0] === "~") throw new TagError(`Tag values are not allowed to start with "~" in tag "${tag}"`);
}

function sanitizeNameAsTagValue(name: string): string {
  const s = name.replace(/^~+/, "");
  if (s.length === 0) {
    throw new TagError(`Cannot use metric name ${name} as tag value, results in emptry string`);
  }
  return s;
}

/** graphite's TaggedSeries.format: the name, then `;tag=value` for every other tag, sorted as strings. */
export function formatTags(tags: Record<string, string>): string {
  const rest: string[] = [];
  for (const [k, v] of Object.entries(tags)) if (k !== "name") rest.push(`;${k}=${v}`);
  return (tags.name ?? "") + rest.sort(codePointCompare).join("");
}

/** Python's str ordering (code points); JS's default sort compares UTF-16 units. */
export function codePointCompare(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!, y = b.codePointAt(i)!;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length < b.length ? -1 : 1;
}

function tagged(metric: string, tags: Record<string, string>): TaggedName {
  tags.name = sanitizeNameAsTagValue(metric);
  return { metric, tags, path: formatTags(tags) };
}

/** graphite's TaggedSeries.parse: OpenMetrics form when it ends in `"}`, else carbon's `;` form. Throws TagError. */
export function parseTaggedName(path: string): TaggedName {
  if (path.endsWith('"}') && path.includes("{")) return parseOpenMetrics(path);
  const segments = path.split(";");
  const metric = segments[0];
  if (!metric) throw new TagError(`Cannot parse path ${path}, no metric found`);
  const tags: Record<string, string> = Object.create(null);
  for (const segment of segments.slice(1)) {
    const eq = segment.indexOf("=");
    if (eq <= 0) throw new TagError(`Cannot parse path ${path}, invalid segment ${segment}`);
    const tag = segment.slice(0, eq), value = segment.slice(eq + 1);
    validateTagAndValue(tag, value);
    tags[tag] = value;
  }
  return tagged(metric, tags);
}

const OPENMETRICS_SEGMENT = /^([^=]+)="((?:\\["\\]|[^"\\])+)"(:?,|$)/;

function parseOpenMetrics(path: string): TaggedName {
  const parts = path.slice(0, -1).split("{");
  if (parts.length !== 2) throw new TagError(`Cannot parse path ${path}: more than one '{'`);
  const [metric] = parts;
  let raw = parts[1];
  if (!metric) throw new TagError(`Cannot parse path ${path}, no metric found`);
  const tags: Record<string, string> = Object.create(null);
  while (raw.length > 0) {
    const m = OPENMETRICS_SEGMENT.exec(raw);
    if (!m) throw new TagError(`Cannot parse path ${path}, invalid segment ${raw}`);
    const value = m[2].replaceAll('\\"', '"').replaceAll("\\\\", "\\");
    validateTagAndValue(m[1], value);
    tags[m[1]] = value;
    raw = raw.slice(m[0].length);
  }
  return tagged(metric, tags);
}

/** A name as received (plaintext, statsd): its canonical path when tagged, else as it is. */
export function canonicalName(name: string): { path: string } | { bad: string } {
  if (!name.includes(";") && !(name.endsWith('"}') && name.includes("{"))) return { path: name };
  try {
    return { path: parseTaggedName(name).path };
  } catch (err) {
    if (err instanceof TagError) return { bad: `invalid tags: ${err.message}` };
    throw err;
  }
}

/** Whether a stored name is a tagged series (glob patterns do not match those, as in graphite). */
export function isTagged(name: string): boolean {
  return name.includes(";");
}

/**
 * The tags of a series name as graphite-web's TimeSeries gives them: parsed when the name parses
 * and does not look like a function call, else `{name}`.
 */
export function seriesTags(name: string): Record<string, string> {
  if (/^[a-z]+[(].+[)]$/is.test(name)) return { name };
  try {
    return { ...parseTaggedName(name).tags };
  } catch {
    return { name };
  }
}

// ---- tag expressions ----

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

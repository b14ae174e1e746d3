/**
 * Graphite 1.1 tagged names (pure, no dependencies: the ingest paths and the statsd Worker use
 * it), as graphite-web 1.1.8 and carbon parse them: `name;tag1=v1;tag2=v2` (or OpenMetrics'
 * `name{tag1="v1"}`) validated and brought to its canonical path (tags sorted, the `name` tag
 * the metric). Matching tag expressions is tags.ts.
 *
 * ```ts
 * parseTaggedName("cpu;host=a;dc=x").path; // "cpu;dc=x;host=a"
 * canonicalName("cpu;host=~a"); // { bad: 'invalid tags: Tag values are not allowed to start with "~" ...' }
 * ```
 */

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

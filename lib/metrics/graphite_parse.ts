/**
 * Graphite plaintext protocol, one line at a time (pure; never throws): `name value timestamp`,
 * whitespace separated. The value must be a finite number, the timestamp a finite number of
 * seconds ≥ 0 (fractions are truncated); `-1` and `N` (a common "now" marker) take `now`. A
 * tagged name (`name;tag=value;...`, graphite 1.1) is validated and made canonical (tags.ts).
 *
 * ```ts
 * parseGraphiteLine("web1.cpu 0.5 1700000000", 0); // { name: "web1.cpu", value: 0.5, ts: 1700000000 }
 * ```
 */

import { canonicalName } from "./tag_names.ts";

export interface GraphitePoint {
  name: string;
  value: number;
  /** Unix seconds. */
  ts: number;
}

/** Characters allowed in a metric name (by char code, ASCII only). */
const NAME_CHAR = new Uint8Array(128);
// (`;` and `{` start graphite tags: parseGraphiteLine and graphiteName read them apart)
for (const ch of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-=:~%@+,#") {
  NAME_CHAR[ch.charCodeAt(0)] = 1;
}

/** Longest metric name accepted (carbon's whisper paths hit filesystem limits near this). */
export const MAX_NAME_LENGTH = 1024;

function isBlank(c: number): boolean {
  return c === 32 || c === 9;
}

/** Parses a line (without its newline). `nowSeconds` stands for `-1`/`N` timestamps. */
export function parseGraphiteLine(line: string, nowSeconds: number): GraphitePoint | { bad: string } {
  // one scan: three fields separated by spaces/tabs, the name checked on the way
  const len = line.length;
  let i = 0;
  while (i < len && isBlank(line.charCodeAt(i))) i++;
  const nameStart = i;
  let prevDot = true; // a name may not start with a dot or hold ".."
  let tagsAt = -1; // where graphite tags start (`;` or OpenMetrics' `{`): any printable ASCII after
  for (; i < len; i++) {
    const c = line.charCodeAt(i);
    if (c >= 128 || NAME_CHAR[c] === 0) {
      if (isBlank(c)) break;
      if (c !== 59 && c !== 123) return { bad: "invalid metric name" };
      if (prevDot) return { bad: "invalid metric name" };
      tagsAt = i;
      for (i++; i < len; i++) {
        const d = line.charCodeAt(i);
        if (isBlank(d)) break;
        if (d < 33 || d > 126) return { bad: "invalid character in tags" };
      }
      break;
    }
    const dot = c === 46;
    if (dot && prevDot) return { bad: "invalid metric name" };
    prevDot = dot;
  }
  const nameEnd = i;
  if (nameEnd === nameStart) return { bad: "expected 3 fields (name value timestamp), got 0" };
  if (prevDot && tagsAt < 0) return { bad: "invalid metric name" };
  if (nameEnd - nameStart > MAX_NAME_LENGTH) return { bad: `name longer than ${MAX_NAME_LENGTH} characters` };
  while (i < len && isBlank(line.charCodeAt(i))) i++;
  const valueStart = i;
  while (i < len && !isBlank(line.charCodeAt(i))) i++;
  const valueEnd = i;
  while (i < len && isBlank(line.charCodeAt(i))) i++;
  const tsStart = i;
  while (i < len && !isBlank(line.charCodeAt(i))) i++;
  const tsEnd = i;
  while (i < len && isBlank(line.charCodeAt(i))) i++;
  if (valueEnd === valueStart || tsEnd === tsStart || i < len) {
    const fields = line.trim().split(/[ \t]+/).length;
    return { bad: `expected 3 fields (name value timestamp), got ${fields}` };
  }
  const value = Number(line.slice(valueStart, valueEnd));
  if (!Number.isFinite(value)) return { bad: "value is not a finite number" };
  const rawTs = line.slice(tsStart, tsEnd);
  let ts: number;
  if (rawTs === "-1" || rawTs === "N") ts = nowSeconds;
  else {
    ts = Number(rawTs);
    if (!Number.isFinite(ts)) return { bad: "timestamp is not a finite number" };
    if (ts < 0) return { bad: "negative timestamp" };
    ts = Math.floor(ts);
  }
  const name = line.slice(nameStart, nameEnd);
  if (tagsAt < 0) return { name, value, ts };
  if (line.charCodeAt(tagsAt) === 123 && !name.endsWith('"}')) return { bad: "invalid metric name" };
  const c = canonicalName(name);
  return "bad" in c ? c : { name: c.path, value, ts };
}

/**
 * Splits a byte stream into lines across reads, with a cap on line length: a line longer than
 * `maxLine` is dropped whole (counted by the caller through `onOverlong`), the rest continue.
 */
export class LineSplitter {
  #partial = "";
  /** Discarding the rest of an overlong line until its newline. */
  #skipping = false;
  #decoder = new TextDecoder();

  constructor(
    readonly maxLine: number,
    readonly onLine: (line: string) => void,
    readonly onOverlong: () => void,
  ) {}

  push(bytes: Uint8Array): void {
    const text = this.#decoder.decode(bytes, { stream: true });
    let start = 0;
    while (start <= text.length) {
      const nl = text.indexOf("\n", start);
      if (nl < 0) {
        const rest = text.slice(start);
        if (this.#skipping) return;
        if (this.#partial.length + rest.length > this.maxLine) {
          this.#partial = "";
          this.#skipping = true;
          this.onOverlong();
        } else this.#partial += rest;
        return;
      }
      const piece = text.slice(start, nl);
      start = nl + 1;
      if (this.#skipping) {
        this.#skipping = false;
        continue;
      }
      let line = this.#partial ? this.#partial + piece : piece;
      this.#partial = "";
      if (line.endsWith("\r")) line = line.slice(0, -1);
      if (line.length > this.maxLine) this.onOverlong();
      else if (line.trim() !== "") this.onLine(line);
    }
  }

  /** The stream ended: a complete last line without newline still counts. */
  end(): void {
    const tail = this.#partial + this.#decoder.decode();
    this.#partial = "";
    if (!this.#skipping && tail.trim() !== "" && tail.length <= this.maxLine) {
      this.onLine(tail.replace(/\r$/, ""));
    }
    this.#skipping = false;
  }
}

/** Why a metric name is refused (the plaintext parser's rules), or null when it is accepted. */
export function badGraphiteName(name: string): string | null {
  if (name.length === 0) return "empty metric name";
  if (name.length > MAX_NAME_LENGTH) return `name longer than ${MAX_NAME_LENGTH} characters`;
  let prevDot = true;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 128 || NAME_CHAR[c] === 0) return "invalid metric name";
    const dot = c === 46;
    if (dot && prevDot) return "invalid metric name";
    prevDot = dot;
  }
  return prevDot ? "invalid metric name" : null;
}

/**
 * A point from another wire format (carbon's pickle) checked as a plaintext line is: the name's
 * rules, a finite value, a finite timestamp ≥ 0 in seconds (fractions truncated). A reason when not.
 */
export function checkGraphitePoint(name: string, value: number, ts: number): GraphitePoint | string {
  const n = graphiteName(name);
  if (typeof n !== "string") return n.bad;
  if (!Number.isFinite(value)) return "value is not a finite number";
  if (!Number.isFinite(ts)) return "timestamp is not a finite number";
  if (ts < 0) return "negative timestamp";
  return { name: n, value, ts: Math.floor(ts) };
}

/**
 * A name as parseGraphiteLine takes it: a plain name by badGraphiteName's rules, or a tagged one (the
 * name part by those rules, then printable ASCII) made canonical (tag_names.ts).
 */
export function graphiteName(name: string): string | { bad: string } {
  const tagsAt = name.search(/[;{]/);
  if (tagsAt < 0) {
    const bad = badGraphiteName(name);
    return bad ? { bad } : name;
  }
  if (name.length > MAX_NAME_LENGTH) return { bad: `name longer than ${MAX_NAME_LENGTH} characters` };
  if (badGraphiteName(name.slice(0, tagsAt))) return { bad: "invalid metric name" };
  for (let i = tagsAt + 1; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 33 || c > 126) return { bad: "invalid character in tags" };
  }
  if (name[tagsAt] === "{" && !name.endsWith('"}')) return { bad: "invalid metric name" };
  const c = canonicalName(name);
  return "bad" in c ? c : c.path;
}

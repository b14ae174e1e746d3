/**
 * Graphite plaintext protocol, one line at a time (pure; never throws): `name value timestamp`,
 * whitespace separated. The value must be a finite number, the timestamp a finite number of
 * seconds ≥ 0 (fractions are truncated); `-1` and `N` (a common "now" marker) take `now`.
 *
 * ```ts
 * parseGraphiteLine("web1.cpu 0.5 1700000000", 0); // { name: "web1.cpu", value: 0.5, ts: 1700000000 }
 * ```
 */

export interface GraphitePoint {
  name: string;
  value: number;
  /** Unix seconds. */
  ts: number;
}

const NAME = /^[A-Za-z0-9_.\-;=:~%@+,#]+$/;

/** Longest metric name accepted (carbon's whisper paths hit filesystem limits near this). */
export const MAX_NAME_LENGTH = 1024;

/** Parses a line (without its newline). `nowSeconds` stands for `-1`/`N` timestamps. */
export function parseGraphiteLine(line: string, nowSeconds: number): GraphitePoint | { bad: string } {
  const f = line.trim().split(/[ \t]+/);
  if (f.length !== 3) {
    return { bad: `expected 3 fields (name value timestamp), got ${f[0] === "" ? 0 : f.length}` };
  }
  const [name, rawValue, rawTs] = f;
  if (name.length > MAX_NAME_LENGTH) return { bad: `name longer than ${MAX_NAME_LENGTH} characters` };
  if (!NAME.test(name) || name.startsWith(".") || name.endsWith(".") || name.includes("..")) {
    return { bad: "invalid metric name" };
  }
  const value = Number(rawValue);
  if (rawValue === "" || !Number.isFinite(value)) return { bad: "value is not a finite number" };
  let ts: number;
  if (rawTs === "-1" || rawTs === "N") ts = nowSeconds;
  else {
    ts = Number(rawTs);
    if (!Number.isFinite(ts)) return { bad: "timestamp is not a finite number" };
    if (ts < 0) return { bad: "negative timestamp" };
    ts = Math.floor(ts);
  }
  return { name, value, ts };
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

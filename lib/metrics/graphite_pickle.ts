/**
 * carbon's pickle protocol (what carbon-relay and carbon-cache clients send to
 * PICKLE_RECEIVER_PORT, 2004): frames of a 4-byte big-endian length and a pickle of a list of
 * `(path, (timestamp, value))`. `PickleFrameReader` cuts a TCP stream into frames (across reads,
 * a frame over the limit refuses the connection, as Twisted's Int32StringReceiver does);
 * `pickledPoints` reads one frame's points with the restricted reader of lib/metrics/pickle.ts and
 * checks each point as a plaintext line is checked (lib/metrics/graphite_parse.ts).
 *
 * ```ts
 * pickledPoints(frame, now, (name, value, ts) => store(name, value, ts), (why) => bad++);
 * ```
 */
import { checkGraphitePoint } from "./graphite_parse.ts";
import { PickleError, PyTuple, type PyValue, typeName, unpickle } from "./pickle.ts";
import { decodeUtf8 } from "./pickle_text.ts";

/** carbon's PICKLE_RECEIVER_MAX_LENGTH (2**20). */
export const PICKLE_MAX_LENGTH = 1 << 20;

/** Bytes of unfinished frames one listener holds across its connections (1 024 of them × 1 MiB: 1 GiB). */
export const PICKLE_BUFFER_BUDGET = 64 << 20;
/**
 * Of that, what the connections of one client address may hold (8 unfinished frames of the largest
 * size): one client sending frames slowly on many connections cannot take the whole budget.
 */
export const PICKLE_CLIENT_SHARE = 8 << 20;

/** The bytes of unfinished frames held by the readers that share it (one per listener), and per client. */
export class FrameBudget {
  used = 0;
  #byClient = new Map<string, number>();
  constructor(readonly max: number, readonly perClient = max) {}

  /** Bytes `client`'s readers hold. */
  heldBy(client: string): number {
    return this.#byClient.get(client) ?? 0;
  }

  /** Takes `n` bytes for `client`; false (nothing taken) past the whole budget or the client's share. */
  take(client: string, n: number): boolean {
    const mine = this.heldBy(client);
    if (this.used + n > this.max || mine + n > this.perClient) return false;
    this.used += n;
    this.#byClient.set(client, mine + n);
    return true;
  }

  give(client: string, n: number): void {
    if (!n) return;
    this.used -= n;
    const left = this.heldBy(client) - n;
    if (left > 0) this.#byClient.set(client, left);
    else this.#byClient.delete(client);
  }
}

/**
 * Cuts frames out of a byte stream. `push` returns false once a frame header announced more than
 * `maxLength` bytes, or when keeping this frame's bytes would take the shared budget past its
 * maximum or its client's share: the caller closes the connection (nothing after it can be trusted to be a header). A
 * frame's bytes are kept as they arrive (no buffer of the announced size up front); a frame whole in
 * one read is handed on without a copy and holds nothing.
 */
export class PickleFrameReader {
  #head = new Uint8Array(4);
  #headLen = 0;
  /** Bytes of the current frame's body still expected (-1: reading a header). */
  #need = -1;
  #size = 0;
  #parts: Uint8Array[] = [];
  /** Bytes of `#parts`, counted in the budget. */
  #held = 0;

  constructor(
    readonly maxLength: number,
    /** A complete frame (a view: read it before returning). */
    readonly onFrame: (frame: Uint8Array) => void,
    /** A frame over the limit, or a connection closed inside a frame. */
    readonly onRefused: (why: string) => void,
    readonly budget: FrameBudget = new FrameBudget(Infinity),
    /** The client address whose share of the budget this reader's bytes count in. */
    readonly client = "",
  ) {}

  #release(): void {
    this.budget.give(this.client, this.#held);
    this.#held = 0;
    this.#parts = [];
  }

  push(bytes: Uint8Array): boolean {
    let i = 0;
    while (i < bytes.length || this.#need === 0) {
      if (this.#need < 0) {
        while (this.#headLen < 4 && i < bytes.length) this.#head[this.#headLen++] = bytes[i++];
        if (this.#headLen < 4) return true;
        this.#headLen = 0;
        const size = new DataView(this.#head.buffer).getUint32(0, false);
        if (size > this.maxLength) {
          this.onRefused(`a frame of ${size} bytes, over the limit of ${this.maxLength}: connection closed`);
          return false;
        }
        this.#size = this.#need = size;
        continue;
      }
      const take = Math.min(this.#need, bytes.length - i);
      if (take === this.#size) {
        this.#need = -1; // the whole frame in this read: no copy
        this.onFrame(bytes.subarray(i, i + take));
      } else {
        if (!this.budget.take(this.client, take)) {
          const whose = this.budget.used + take > this.budget.max
            ? `of all connections past ${this.budget.max} bytes`
            : `of ${this.client}'s connections past ${this.budget.perClient} bytes`;
          this.onRefused(
            `unfinished frames ${whose}: connection closed` +
              ` inside a frame (${this.#size - this.#need} of ${this.#size} bytes)`,
          );
          this.#release();
          this.#need = -1;
          return false;
        }
        this.#parts.push(bytes.slice(i, i + take));
        this.#held += take;
        this.#need -= take;
        if (this.#need === 0) {
          this.#need = -1;
          const frame = new Uint8Array(this.#size);
          let at = 0;
          for (const p of this.#parts) {
            frame.set(p, at);
            at += p.length;
          }
          this.#release();
          this.onFrame(frame);
        }
      }
      i += take;
    }
    return true;
  }

  /** The stream ended: a frame cut short is reported. */
  end(): void {
    if (this.#need > 0) {
      const got = this.#size - this.#need;
      this.onRefused(`connection closed inside a frame (${got} of ${this.#size} bytes)`);
    } else if (this.#headLen > 0) {
      this.onRefused(`connection closed inside a frame header (${this.#headLen} of 4 bytes)`);
    }
    this.#need = -1;
    this.#headLen = 0;
    this.#release();
  }
}

/** Longest str or bytes taken as a number (past it the text is refused, never cut). */
const MAX_NUMBER_TEXT = 400;

/** Digits with single `_` between them (PEP 515), as float() takes them. */
const DIGITS = "[0-9](?:_?[0-9])*";
const PY_FLOAT = new RegExp(
  `^([+-]?)(?:(inf|infinity)|(nan)|((?:${DIGITS})?(?:\\.(?:${DIGITS})?)?(?:[eE][+-]?${DIGITS})?))$`,
  "i",
);

/** Python's `float(x)` of a str or bytes (whitespace, `_` between digits, inf/nan), else null. */
function floatOfText(s: string): number | null {
  const t = trimPyWhitespace(s);
  const m = PY_FLOAT.exec(t);
  if (!m) return null;
  if (m[2]) return m[1] === "-" ? -Infinity : Infinity;
  if (m[3]) return NaN;
  const num = m[4];
  // at least one digit in the mantissa
  if (!/^[0-9]|^\.[0-9]/.test(num)) return null;
  return Number(m[1] + num.replaceAll("_", ""));
}

/**
 * `s` without Python's whitespace at either end, by a scan (the regex `[ws]+$` tries every start of a
 * run of spaces: quadratic in it, 100 µs for a 400-character "1   ...x").
 */
function trimPyWhitespace(s: string): string {
  const ws = (c: number) => c === 32 || (c >= 9 && c <= 13);
  let a = 0, b = s.length;
  while (a < b && ws(s.charCodeAt(a))) a++;
  while (b > a && ws(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** Most entries a frame may hold per byte of it: a real entry takes tens of bytes, a shared one (DUP) one. */
const MAX_ENTRIES_PER_BYTE = 1 / 8;

/** Python's `float(v)` as carbon applies it to a timestamp or value, else a reason. */
function pyFloat(v: PyValue): number | string {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v); // rounded to nearest, as float(int); too large: inf
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v === "string" || v instanceof Uint8Array) {
    const text = v.length > MAX_NUMBER_TEXT ? null : typeof v === "string" ? v : String.fromCharCode(...v);
    return (text !== null ? floatOfText(text) : null) ?? `could not convert ${typeName(v)} to float`;
  }
  return `a ${typeName(v)} is not a number`;
}

/** The two items of a tuple or list of two (what `(a, b) = x` unpacks), else null. */
function pair(v: PyValue): [PyValue, PyValue] | null {
  const items = v instanceof PyTuple ? v.items : Array.isArray(v) ? v : null;
  return items && items.length === 2 ? [items[0], items[1]] : null;
}

/**
 * Reads one frame: `onPoint` for each valid point, `onBadPoint` for each entry skipped (what is
 * wrong with it). Throws `PickleError` when the frame is refused whole (not a pickle this reader
 * takes, or not a list or tuple of entries). `nowSeconds` stands for timestamp -1 (carbon's "now").
 */
export function pickledPoints(
  frame: Uint8Array,
  nowSeconds: number,
  onPoint: (name: string, value: number, ts: number) => void,
  onBadPoint: (why: string) => void,
): void {
  const top = unpickle(frame);
  const entries = top instanceof PyTuple ? top.items : Array.isArray(top) ? top : null;
  if (!entries) throw new PickleError(`a ${typeName(top)}, not a list of (path, (timestamp, value))`);
  if (entries.length > Math.ceil(frame.length * MAX_ENTRIES_PER_BYTE)) {
    // references to one entry (DUP, memo gets) make a list far longer than the bytes that spell it
    throw new PickleError(
      `${entries.length} entries in ${frame.length} bytes: more than one per ${
        1 / MAX_ENTRIES_PER_BYTE
      } bytes (shared references)`,
    );
  }
  for (let i = 0; i < entries.length; i++) {
    const e = pair(entries[i]);
    const dp = e && pair(e[1]);
    if (!e || !dp) {
      onBadPoint(`entry ${i} is not (path, (timestamp, value))`);
      continue;
    }
    const rawName = e[0];
    const name = typeof rawName === "string"
      ? rawName
      : rawName instanceof Uint8Array
      ? decodeUtf8(rawName)
      : null;
    if (name === null) {
      onBadPoint(
        `entry ${i}: the path is a ${typeName(rawName)}${rawName instanceof Uint8Array ? " not UTF-8" : ""}`,
      );
      continue;
    }
    const ts = pyFloat(dp[0]), value = pyFloat(dp[1]);
    if (typeof ts === "string" || typeof value === "string") {
      onBadPoint(
        `entry ${i} (${name.slice(0, 80)}): ${
          typeof ts === "string" ? `timestamp: ${ts}` : `value: ${value}`
        }`,
      );
      continue;
    }
    // carbon: int(timestamp) == -1 means now
    const p = checkGraphitePoint(name, value, Math.trunc(ts) === -1 ? nowSeconds : ts);
    if (typeof p === "string") onBadPoint(`${p}: ${name.slice(0, 80)}`);
    else onPoint(p.name, p.value, p.ts);
  }
}

/**
 * A restricted reader of Python pickles (protocols 0 to 5), for carbon's pickle protocol: it reads
 * data, never code. What it builds: `None` → null, bool → boolean, int → bigint, float → number,
 * str → string, bytes/bytearray → Uint8Array, list → array, tuple → `PyTuple`. Every opcode that
 * names or calls Python code (GLOBAL, STACK_GLOBAL, REDUCE, BUILD, INST, OBJ, NEWOBJ(_EX), PERSID,
 * BINPERSID, EXT1/2/4, out-of-band buffers) is refused, and so are dicts and sets (no sender of
 * points uses them). A stack machine without recursion: nesting depth costs no native stack.
 * Semantics follow CPython's `_pickle` (marks, the fence a mark puts on the stack, the memo), as
 * `tests/metrics/pickle_test.ts` checks against CPython itself; numeric text arguments (protocol 0)
 * are read only in the canonical forms Python writes, anything else is refused rather than guessed.
 *
 * ```ts
 * unpickle(new Uint8Array([0x80, 2, 0x5d, 0x2e])); // []
 * ```
 */
import {
  decimalInt,
  decodeUtf8,
  escapeDecode,
  littleEndianInt,
  rawUnicodeEscape,
  reprFloat,
} from "./pickle_text.ts";

/** A Python tuple (arrays are lists: a list can still grow by APPEND while it is on the stack). */
export class PyTuple {
  constructor(readonly items: PyValue[]) {}
}

export type PyValue = null | boolean | bigint | number | string | Uint8Array | PyValue[] | PyTuple;

/** A pickle that is not read: the message names the opcode and its byte offset. */
export class PickleError extends Error {}

export interface UnpickleLimits {
  /** Most items on the stack at once. */
  maxStack: number;
  /** Most marks open at once. */
  maxMarks: number;
  /** Memo indexes must be below this. */
  maxMemo: number;
}

export const DEFAULT_UNPICKLE_LIMITS: UnpickleLimits = {
  maxStack: 1 << 20,
  maxMarks: 1 << 16,
  maxMemo: 1 << 20,
};

/** Opcodes that would build or call Python objects, with pickletools' names. */
const REFUSED: Record<number, string> = {
  0x63: "GLOBAL",
  0x93: "STACK_GLOBAL",
  0x52: "REDUCE",
  0x62: "BUILD",
  0x69: "INST",
  0x6f: "OBJ",
  0x81: "NEWOBJ",
  0x92: "NEWOBJ_EX",
  0x50: "PERSID",
  0x51: "BINPERSID",
  0x82: "EXT1",
  0x83: "EXT2",
  0x84: "EXT4",
  0x97: "NEXT_BUFFER",
  0x98: "READONLY_BUFFER",
};

/** Container opcodes a list of points never needs. */
const UNSUPPORTED: Record<number, string> = {
  0x7d: "EMPTY_DICT",
  0x64: "DICT",
  0x73: "SETITEM",
  0x75: "SETITEMS",
  0x8f: "EMPTY_SET",
  0x90: "ADDITEMS",
  0x91: "FROZENSET",
};

function hexByte(c: number): string {
  return "0x" + c.toString(16).padStart(2, "0");
}

const REFUSE = "the pickle receiver builds no Python objects";

/** The state of one read: the stack, its marks (each a fence below which ops may not pop), the memo. */
class Machine {
  readonly view: DataView;
  readonly stack: PyValue[] = [];
  readonly marks: number[] = [];
  readonly memo: PyValue[] = [];
  /** Entries set in the memo (MEMOIZE's next index, as CPython's memo_len). */
  memoCount = 0;
  fence = 0;
  pos = 0;
  /** The opcode being run and where (for messages). */
  op = 0;
  opAt = 0;

  constructor(readonly data: Uint8Array, readonly limits: UnpickleLimits) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  fail(msg: string): never {
    throw new PickleError(`${msg} (opcode ${hexByte(this.op)} at byte ${this.opAt})`);
  }

  /** The offset of the next `n` bytes (consumed). */
  need(n: number): number {
    if (n > this.data.length - this.pos) this.fail("pickle data was truncated");
    const at = this.pos;
    this.pos += n;
    return at;
  }

  byte(): number {
    return this.data[this.need(1)];
  }

  u32(): number {
    return this.view.getUint32(this.need(4), true);
  }

  i32(): number {
    return this.view.getInt32(this.need(4), true);
  }

  /** An 8-byte length, checked against what is left. */
  len8(): number {
    const at = this.need(8);
    const n = this.view.getUint32(at + 4, true) * 2 ** 32 + this.view.getUint32(at, true);
    if (n > this.data.length - this.pos) this.fail("pickle data was truncated");
    return n;
  }

  bytes(n: number): Uint8Array {
    const at = this.need(n);
    return this.data.subarray(at, at + n);
  }

  lineBytes(): Uint8Array {
    const nl = this.data.indexOf(0x0a, this.pos);
    if (nl < 0) this.fail("pickle data was truncated (no newline)");
    const b = this.data.subarray(this.pos, nl);
    this.pos = nl + 1;
    return b;
  }

  /** A text argument (numbers, memo indexes, names): past 4 400 bytes no longer a number we read. */
  line(): string {
    const b = this.lineBytes();
    return String.fromCharCode(...b.subarray(0, 4400)) + (b.length > 4400 ? "…" : "");
  }

  push(v: PyValue): void {
    if (this.stack.length >= this.limits.maxStack) {
      this.fail(`more than ${this.limits.maxStack} items on the stack`);
    }
    this.stack.push(v);
  }

  underflow(): never {
    return this.fail(this.marks.length > 0 ? "unexpected MARK found" : "unpickling stack underflow");
  }

  pop(): PyValue {
    if (this.stack.length <= this.fence) this.underflow();
    return this.stack.pop()!;
  }

  top(): PyValue {
    if (this.stack.length <= this.fence) this.underflow();
    return this.stack[this.stack.length - 1];
  }

  mark(): void {
    if (this.marks.length >= this.limits.maxMarks) this.fail(`more than ${this.limits.maxMarks} marks open`);
    this.marks.push(this.stack.length);
    this.fence = this.stack.length;
  }

  /** The items since the last mark (removed); the fence goes back to the mark before. */
  popMark(): PyValue[] {
    if (this.marks.length === 0) this.fail("could not find MARK");
    const at = this.marks.pop()!;
    this.fence = this.marks.length > 0 ? this.marks[this.marks.length - 1] : 0;
    return this.stack.splice(at);
  }

  /** Appends to the list below the items taken (APPEND, APPENDS). */
  append(items: PyValue[]): void {
    const at = this.stack.length - 1;
    if (at < this.fence || at < 0) this.underflow();
    const list = this.stack[at];
    if (items.length === 0) return; // CPython looks no further
    if (!Array.isArray(list)) this.fail(`APPEND(S) to a ${typeName(list)}, not a list`);
    for (const v of items) list.push(v);
  }

  memoPut(idx: number): void {
    if (idx >= this.limits.maxMemo) this.fail(`memo index ${idx} over the limit of ${this.limits.maxMemo}`);
    const v = this.top();
    if (!(idx in this.memo)) this.memoCount++;
    this.memo[idx] = v;
  }

  memoGet(idx: number): void {
    if (idx >= this.limits.maxMemo || !(idx in this.memo)) this.fail(`memo value not found at index ${idx}`);
    this.push(this.memo[idx]);
  }

  /** PUT's and GET's text index. */
  memoIndex(what: string): number {
    const t = this.line();
    const v = decimalInt(t.startsWith("-") ? "x" : t) ??
      this.fail(`${what} argument ${JSON.stringify(t.slice(0, 40))} is not a non-negative decimal integer`);
    return v > BigInt(this.limits.maxMemo) ? this.limits.maxMemo : Number(v);
  }

  /** str of the (BIN)UNICODE opcodes ('surrogatepass'). */
  str(b: Uint8Array): string {
    return decodeUtf8(b, true) ?? this.fail("'utf-8' codec can't decode the string");
  }

  /** Python 2 str (STRING, BINSTRING, SHORT_BINSTRING), decoded as carbon asks: UTF-8, strict. */
  str2(b: Uint8Array): string {
    return decodeUtf8(b) ?? this.fail("'utf-8' codec can't decode the Python 2 str");
  }

  /** A byte count that must not be negative (BINSTRING, LONG4). */
  count(what: string): number {
    const n = this.i32();
    return n < 0 ? this.fail(`${what} pickle has negative byte count`) : n;
  }
}

type Op = (m: Machine) => void;

const text = (m: Machine, what: string, read: (t: string) => PyValue | null): void => {
  const t = m.line();
  const v = read(t);
  m.push(
    v ??
      m.fail(
        `${what} argument ${JSON.stringify(t.slice(0, 40))} is not ${
          what === "FLOAT" ? "a float" : "a decimal integer"
        }`,
      ),
  );
};

/** Every opcode read (STOP aside), by byte. */
const OPS: Record<number, Op> = {
  0x80: (m) => { // PROTO
    const p = m.byte();
    if (p > 5) m.fail(`unsupported pickle protocol: ${p}`);
  },
  0x95: (m) => void m.len8(), // FRAME: a hint for buffered readers; the whole pickle is here
  0x28: (m) => m.mark(), // MARK
  0x30: (m) => { // POP (the mark itself when no item is above it)
    if (m.marks.length > 0 && m.marks[m.marks.length - 1] === m.stack.length) m.popMark();
    else m.pop();
  },
  0x31: (m) => void m.popMark(), // POP_MARK
  0x32: (m) => m.push(m.top()), // DUP
  0x4e: (m) => m.push(null), // NONE
  0x88: (m) => m.push(true), // NEWTRUE
  0x89: (m) => m.push(false), // NEWFALSE
  // INT: "00"/"01" are Python 2's False/True (so is "-0": two characters, as CPython counts)
  0x49: (m) =>
    text(m, "INT", (t) => t === "00" || t === "01" ? t === "01" : t === "-0" ? false : decimalInt(t)),
  0x4c: (m) => text(m, "LONG", (t) => decimalInt(t.endsWith("L") ? t.slice(0, -1) : t)), // LONG
  0x4a: (m) => m.push(BigInt(m.i32())), // BININT
  0x4b: (m) => m.push(BigInt(m.byte())), // BININT1
  0x4d: (m) => m.push(BigInt(m.view.getUint16(m.need(2), true))), // BININT2
  0x8a: (m) => m.push(littleEndianInt(m.bytes(m.byte()))), // LONG1
  0x8b: (m) => m.push(littleEndianInt(m.bytes(m.count("LONG")))), // LONG4
  0x46: (m) => text(m, "FLOAT", reprFloat), // FLOAT
  0x47: (m) => m.push(m.view.getFloat64(m.need(8), false)), // BINFLOAT
  0x53: (m) => { // STRING: a quoted Python 2 str repr
    const b = m.lineBytes(), q = b[0];
    if (b.length < 2 || (q !== 0x27 && q !== 0x22) || b[b.length - 1] !== q) {
      m.fail("the STRING opcode argument must be quoted");
    }
    m.push(m.str2(escapeDecode(b.subarray(1, b.length - 1)) ?? m.fail("invalid escape in STRING")));
  },
  0x54: (m) => m.push(m.str2(m.bytes(m.count("BINSTRING")))), // BINSTRING
  0x55: (m) => m.push(m.str2(m.bytes(m.byte()))), // SHORT_BINSTRING
  0x56: (m) => m.push(rawUnicodeEscape(m.lineBytes()) ?? m.fail("invalid \\u escape in UNICODE")), // UNICODE
  0x58: (m) => m.push(m.str(m.bytes(m.u32()))), // BINUNICODE
  0x8c: (m) => m.push(m.str(m.bytes(m.byte()))), // SHORT_BINUNICODE
  0x8d: (m) => m.push(m.str(m.bytes(m.len8()))), // BINUNICODE8
  0x42: (m) => m.push(m.bytes(m.u32()).slice()), // BINBYTES
  0x43: (m) => m.push(m.bytes(m.byte()).slice()), // SHORT_BINBYTES
  0x8e: (m) => m.push(m.bytes(m.len8()).slice()), // BINBYTES8
  0x96: (m) => m.push(m.bytes(m.len8()).slice()), // BYTEARRAY8 (bytes here)
  0x5d: (m) => m.push([]), // EMPTY_LIST
  0x6c: (m) => m.push(m.popMark()), // LIST
  0x61: (m) => m.append([m.pop()]), // APPEND
  0x65: (m) => m.append(m.popMark()), // APPENDS
  0x29: (m) => m.push(new PyTuple([])), // EMPTY_TUPLE
  0x74: (m) => m.push(new PyTuple(m.popMark())), // TUPLE
  0x85: (m) => m.push(new PyTuple([m.pop()])), // TUPLE1
  0x86: (m) => { // TUPLE2
    const b = m.pop(), a = m.pop();
    m.push(new PyTuple([a, b]));
  },
  0x87: (m) => { // TUPLE3
    const c = m.pop(), b = m.pop(), a = m.pop();
    m.push(new PyTuple([a, b, c]));
  },
  0x70: (m) => m.memoPut(m.memoIndex("PUT")), // PUT
  0x71: (m) => m.memoPut(m.byte()), // BINPUT
  0x72: (m) => m.memoPut(m.u32()), // LONG_BINPUT
  0x94: (m) => m.memoPut(m.memoCount), // MEMOIZE: the next index is the number of entries so far
  0x67: (m) => m.memoGet(m.memoIndex("GET")), // GET
  0x68: (m) => m.memoGet(m.byte()), // BINGET
  0x6a: (m) => m.memoGet(m.u32()), // LONG_BINGET
  0x63: (m) => { // GLOBAL: name the refused callable
    const mod = m.line(), name = m.pos < m.data.length ? m.line() : "";
    m.fail(`GLOBAL ${`${mod}.${name}`.slice(0, 200)} refused: ${REFUSE}`);
  },
  0x93: (m) => { // STACK_GLOBAL: named when the stack holds its two strings
    const [mod, name] = m.stack.slice(-2);
    const what = typeof mod === "string" && typeof name === "string" ? ` ${mod}.${name}`.slice(0, 200) : "";
    m.fail(`STACK_GLOBAL${what} refused: ${REFUSE}`);
  },
};

/** Reads one pickle (up to its STOP; bytes after it are ignored, as CPython does). */
export function unpickle(data: Uint8Array, limits: UnpickleLimits = DEFAULT_UNPICKLE_LIMITS): PyValue {
  const m = new Machine(data, limits);
  while (true) {
    m.opAt = m.pos;
    if (m.pos >= data.length) m.fail("pickle data was truncated (no STOP)");
    const op = m.op = data[m.pos++];
    if (op === 0x2e) return m.pop(); // STOP
    const run = OPS[op];
    if (run) run(m);
    else if (op in REFUSED) m.fail(`${REFUSED[op]} refused: ${REFUSE}`);
    else if (op in UNSUPPORTED) {
      m.fail(`${UNSUPPORTED[op]} not supported: only lists and tuples of str, bytes, numbers`);
    } else m.fail(`invalid load key ${hexByte(op)}`);
  }
}

/** A value's Python type name (for messages). */
export function typeName(v: PyValue): string {
  if (v === null) return "NoneType";
  if (typeof v === "boolean") return "bool";
  if (typeof v === "bigint") return "int";
  if (typeof v === "number") return "float";
  if (typeof v === "string") return "str";
  if (v instanceof Uint8Array) return "bytes";
  if (v instanceof PyTuple) return "tuple";
  return "list";
}

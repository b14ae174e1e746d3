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

/** CPython's limit on decimal digits of an int read from text (sys.int_info.default_max_str_digits). */
const MAX_INT_DIGITS = 4300;

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

// ignoreBOM: Python's utf-8 codec keeps a leading U+FEFF
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * UTF-8 as CPython's pickle decodes it: strict, or with 'surrogatepass' (the (BIN)UNICODE opcodes:
 * encoded lone surrogates are kept). Null when it is not UTF-8.
 */
export function decodeUtf8(b: Uint8Array, surrogatePass = false): string | null {
  let ascii = true;
  for (let i = 0; i < b.length; i++) {
    if (b[i] >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    if (b.length > 64) return utf8.decode(b);
    let s = ""; // metric names: a loop beats a spread call and the decoder's overhead
    for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
    return s;
  }
  try {
    return utf8.decode(b);
  } catch {
    return surrogatePass ? decodeSurrogatePass(b) : null;
  }
}

function decodeSurrogatePass(b: Uint8Array): string | null {
  let out = "";
  for (let i = 0; i < b.length;) {
    const c = b[i];
    let cp: number, n: number;
    if (c < 0x80) [cp, n] = [c, 0];
    else if (c >= 0xc2 && c < 0xe0) [cp, n] = [c & 0x1f, 1];
    else if (c >= 0xe0 && c < 0xf0) [cp, n] = [c & 0x0f, 2];
    else if (c >= 0xf0 && c < 0xf5) [cp, n] = [c & 0x07, 3];
    else return null;
    if (i + n >= b.length && n > 0) return null;
    for (let k = 1; k <= n; k++) {
      const d = b[i + k];
      if ((d & 0xc0) !== 0x80) return null;
      cp = (cp << 6) | (d & 0x3f);
    }
    // overlong forms and code points past U+10FFFF are errors even under surrogatepass
    if ((n === 2 && cp < 0x800) || (n === 3 && (cp < 0x10000 || cp > 0x10ffff))) return null;
    out += String.fromCodePoint(cp);
    i += n + 1;
  }
  return out;
}

/** Python's 'raw-unicode-escape' (protocol 0 str): only \uXXXX and \UXXXXXXXX are escapes. */
function rawUnicodeEscape(b: Uint8Array): string | null {
  let out = "";
  for (let i = 0; i < b.length;) {
    const c = b[i++];
    if (c !== 0x5c || i >= b.length) {
      out += String.fromCharCode(c);
      continue;
    }
    const e = b[i++];
    const count = e === 0x75 ? 4 : e === 0x55 ? 8 : 0;
    if (count === 0) {
      out += "\\" + String.fromCharCode(e);
      continue;
    }
    if (i + count > b.length) return null;
    const hex = String.fromCharCode(...b.subarray(i, i + count));
    if (!/^[0-9a-fA-F]+$/.test(hex)) return null;
    const cp = parseInt(hex, 16);
    if (cp > 0x10ffff) return null;
    out += String.fromCodePoint(cp);
    i += count;
  }
  return out;
}

/** Python's `codecs.escape_decode` (the STRING opcode's argument, a Python 2 str repr). */
function escapeDecode(b: Uint8Array): Uint8Array | null {
  const out: number[] = [];
  const simple: Record<number, number> = {
    0x0a: -1, // backslash-newline: nothing
    0x5c: 0x5c,
    0x27: 0x27,
    0x22: 0x22,
    0x62: 8,
    0x66: 12,
    0x74: 9,
    0x6e: 10,
    0x72: 13,
    0x76: 11,
    0x61: 7,
  };
  for (let i = 0; i < b.length;) {
    const c = b[i++];
    if (c !== 0x5c) {
      out.push(c);
      continue;
    }
    if (i >= b.length) return null; // a trailing backslash
    const e = b[i++];
    if (e in simple) {
      if (simple[e] >= 0) out.push(simple[e]);
    } else if (e >= 0x30 && e <= 0x37) {
      let v = e - 0x30;
      for (let k = 0; k < 2 && i < b.length && b[i] >= 0x30 && b[i] <= 0x37; k++) v = v * 8 + b[i++] - 0x30;
      out.push(v & 0xff);
    } else if (e === 0x78) {
      const hex = i + 2 <= b.length ? String.fromCharCode(b[i], b[i + 1]) : "";
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return null;
      out.push(parseInt(hex, 16));
      i += 2;
    } else out.push(0x5c, e); // unknown escapes stay as they are
  }
  return new Uint8Array(out);
}

/** A little-endian two's complement integer (LONG1/LONG4). */
function littleEndianInt(b: Uint8Array): bigint {
  if (b.length === 0) return 0n;
  let hex = "";
  for (let i = b.length - 1; i >= 0; i--) hex += b[i].toString(16).padStart(2, "0");
  let v = BigInt("0x" + hex);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return v;
}

/** A decimal int as Python writes it (INT, LONG, PUT, GET arguments), else null. */
function decimalInt(text: string): bigint | null {
  if (!/^-?(0|[1-9][0-9]*)$/.test(text)) return null;
  if (text.replace("-", "").length > MAX_INT_DIGITS) return null;
  return BigInt(text);
}

/** A float as Python's repr writes it (FLOAT argument), else null. */
function reprFloat(text: string): number | null {
  if (/^-?inf$/.test(text)) return text[0] === "-" ? -Infinity : Infinity;
  if (text === "nan") return NaN;
  if (!/^-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/.test(text)) return null;
  const v = Number(text);
  return Number.isFinite(v) ? v : null; // CPython: OverflowError
}

function hexByte(c: number): string {
  return "0x" + c.toString(16).padStart(2, "0");
}

/** Reads one pickle (up to its STOP; bytes after it are ignored, as CPython does). */
export function unpickle(data: Uint8Array, limits: UnpickleLimits = DEFAULT_UNPICKLE_LIMITS): PyValue {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const stack: PyValue[] = [];
  const marks: number[] = [];
  const memo: PyValue[] = [];
  let memoCount = 0;
  let fence = 0;
  let pos = 0;
  let opAt = 0;
  let op = 0;

  const fail: (msg: string) => never = (msg) => {
    throw new PickleError(`${msg} (opcode ${hexByte(op)} at byte ${opAt})`);
  };
  const need = (n: number): number => {
    if (n > data.length - pos) fail("pickle data was truncated");
    const at = pos;
    pos += n;
    return at;
  };
  const bytesOf = (n: number): Uint8Array => {
    const at = need(n);
    return data.subarray(at, at + n);
  };
  const lineBytes = (): Uint8Array => {
    const nl = data.indexOf(0x0a, pos);
    if (nl < 0) fail("pickle data was truncated (no newline)");
    const b = data.subarray(pos, nl);
    pos = nl + 1;
    return b;
  };
  /** A text argument (numbers, memo indexes, names): past 4 400 bytes no longer a number we read. */
  const line = (): string => {
    const b = lineBytes();
    return String.fromCharCode(...b.subarray(0, 4400)) + (b.length > 4400 ? "…" : "");
  };
  const push = (v: PyValue) => {
    if (stack.length >= limits.maxStack) fail(`more than ${limits.maxStack} items on the stack`);
    stack.push(v);
  };
  const underflow: () => never = () =>
    fail(marks.length > 0 ? "unexpected MARK found" : "unpickling stack underflow");
  const pop = (): PyValue => {
    if (stack.length <= fence) underflow();
    return stack.pop()!;
  };
  const top = (): PyValue => {
    if (stack.length <= fence) underflow();
    return stack[stack.length - 1];
  };
  /** The items since the last mark (removed), the fence back to the mark before. */
  const popMark = (): PyValue[] => {
    if (marks.length === 0) fail("could not find MARK");
    const at = marks.pop()!;
    fence = marks.length > 0 ? marks[marks.length - 1] : 0;
    return stack.splice(at);
  };
  const memoPut = (idx: number) => {
    if (idx >= limits.maxMemo) fail(`memo index ${idx} over the limit of ${limits.maxMemo}`);
    const v = top();
    if (!(idx in memo)) memoCount++;
    memo[idx] = v;
  };
  const memoGet = (idx: number) => {
    if (idx >= limits.maxMemo || !(idx in memo)) fail(`memo value not found at index ${idx}`);
    push(memo[idx]);
  };
  const u32 = (): number => view.getUint32(need(4), true);
  const len8 = (): number => {
    const at = need(8);
    const hi = view.getUint32(at + 4, true);
    const n = hi * 2 ** 32 + view.getUint32(at, true);
    if (n > data.length - pos) fail("pickle data was truncated");
    return n;
  };
  const str = (b: Uint8Array): string => decodeUtf8(b, true) ?? fail("'utf-8' codec can't decode the string");
  /** Python 2 str (STRING, BINSTRING, SHORT_BINSTRING), decoded as carbon asks: UTF-8, strict. */
  const str2 = (b: Uint8Array): string =>
    decodeUtf8(b) ?? fail("'utf-8' codec can't decode the Python 2 str");
  const appendTo = (at: number, items: PyValue[]) => {
    if (at < fence || at < 0) underflow();
    const list = stack[at];
    if (items.length === 0) return; // CPython looks no further
    if (!Array.isArray(list)) fail(`APPEND(S) to a ${typeName(list)}, not a list`);
    for (const v of items) list.push(v);
  };

  while (true) {
    opAt = pos;
    if (pos >= data.length) fail("pickle data was truncated (no STOP)");
    op = data[pos++];
    switch (op) {
      case 0x80: { // PROTO
        const p = data[need(1)];
        if (p > 5) fail(`unsupported pickle protocol: ${p}`);
        break;
      }
      case 0x95: // FRAME: a hint for buffered readers; the whole pickle is here
        len8();
        break;
      case 0x2e: // STOP
        return pop();
      case 0x28: // MARK
        if (marks.length >= limits.maxMarks) fail(`more than ${limits.maxMarks} marks open`);
        marks.push(stack.length);
        fence = stack.length;
        break;
      case 0x30: // POP (a mark when no item is above it)
        if (marks.length > 0 && marks[marks.length - 1] === stack.length) popMark();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        push(top());
        break;
      case 0x4e: // NONE
        push(null);
        break;
      case 0x88: // NEWTRUE
        push(true);
        break;
      case 0x89: // NEWFALSE
        push(false);
        break;
      case 0x49: { // INT: "01"/"00" are Python 2's True/False
        const t = line();
        if (t === "00" || t === "01") {
          push(t === "01");
          break;
        }
        const v = decimalInt(t) ??
          fail(`INT argument ${JSON.stringify(t.slice(0, 40))} is not a decimal integer`);
        push(t.length === 2 && (v === 0n || v === 1n) ? v === 1n : v);
        break;
      }
      case 0x4c: { // LONG
        let t = line();
        if (t.endsWith("L")) t = t.slice(0, -1);
        push(
          decimalInt(t) ?? fail(`LONG argument ${JSON.stringify(t.slice(0, 40))} is not a decimal integer`),
        );
        break;
      }
      case 0x4a: // BININT
        push(BigInt(view.getInt32(need(4), true)));
        break;
      case 0x4b: // BININT1
        push(BigInt(data[need(1)]));
        break;
      case 0x4d: // BININT2
        push(BigInt(view.getUint16(need(2), true)));
        break;
      case 0x8a: // LONG1
        push(littleEndianInt(bytesOf(data[need(1)])));
        break;
      case 0x8b: { // LONG4
        const n = view.getInt32(need(4), true);
        if (n < 0) fail("LONG pickle has negative byte count");
        push(littleEndianInt(bytesOf(n)));
        break;
      }
      case 0x46: { // FLOAT
        const t = line();
        push(reprFloat(t) ?? fail(`FLOAT argument ${JSON.stringify(t.slice(0, 40))} is not a float`));
        break;
      }
      case 0x47: // BINFLOAT
        push(view.getFloat64(need(8), false));
        break;
      case 0x53: { // STRING: a quoted Python 2 str repr
        const b = lineBytes();
        const q = b[0];
        if (b.length < 2 || (q !== 0x27 && q !== 0x22) || b[b.length - 1] !== q) {
          fail("the STRING opcode argument must be quoted");
        }
        push(str2(escapeDecode(b.subarray(1, b.length - 1)) ?? fail("invalid escape in STRING")));
        break;
      }
      case 0x54: { // BINSTRING
        const n = view.getInt32(need(4), true);
        if (n < 0) fail("BINSTRING pickle has negative byte count");
        push(str2(bytesOf(n)));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        push(str2(bytesOf(data[need(1)])));
        break;
      case 0x56: // UNICODE
        push(rawUnicodeEscape(lineBytes()) ?? fail("invalid \\u escape in UNICODE"));
        break;
      case 0x58: // BINUNICODE
        push(str(bytesOf(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        push(str(bytesOf(data[need(1)])));
        break;
      case 0x8d: // BINUNICODE8
        push(str(bytesOf(len8())));
        break;
      case 0x42: // BINBYTES
        push(bytesOf(u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        push(bytesOf(data[need(1)]).slice());
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        push(bytesOf(len8()).slice());
        break;
      case 0x5d: // EMPTY_LIST
        push([]);
        break;
      case 0x6c: // LIST
        push(popMark());
        break;
      case 0x61: { // APPEND
        const v = pop();
        appendTo(stack.length - 1, [v]);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        appendTo(stack.length - 1, items);
        break;
      }
      case 0x29: // EMPTY_TUPLE
        push(new PyTuple([]));
        break;
      case 0x74: // TUPLE
        push(new PyTuple(popMark()));
        break;
      case 0x85: // TUPLE1
        push(new PyTuple([pop()]));
        break;
      case 0x86: { // TUPLE2
        const b = pop(), a = pop();
        push(new PyTuple([a, b]));
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop(), b = pop(), a = pop();
        push(new PyTuple([a, b, c]));
        break;
      }
      case 0x70: { // PUT
        const t = line();
        const v = decimalInt(t.startsWith("-") ? "x" : t) ??
          fail(`PUT argument ${JSON.stringify(t.slice(0, 40))} is not a non-negative decimal integer`);
        memoPut(v > BigInt(limits.maxMemo) ? limits.maxMemo : Number(v));
        break;
      }
      case 0x71: // BINPUT
        memoPut(data[need(1)]);
        break;
      case 0x72: // LONG_BINPUT
        memoPut(u32());
        break;
      case 0x94: // MEMOIZE: the next index is the number of entries so far
        memoPut(memoCount);
        break;
      case 0x67: { // GET
        const t = line();
        const v = decimalInt(t.startsWith("-") ? "x" : t) ??
          fail(`GET argument ${JSON.stringify(t.slice(0, 40))} is not a non-negative decimal integer`);
        memoGet(v > BigInt(limits.maxMemo) ? limits.maxMemo : Number(v));
        break;
      }
      case 0x68: // BINGET
        memoGet(data[need(1)]);
        break;
      case 0x6a: // LONG_BINGET
        memoGet(u32());
        break;
      case 0x63: { // GLOBAL: name the refused callable in the error
        const mod = line(), name = pos < data.length ? line() : "";
        fail(
          `GLOBAL ${`${mod}.${name}`.slice(0, 200)} refused: the pickle receiver builds no Python objects`,
        );
        break;
      }
      case 0x93: { // STACK_GLOBAL: name it when the stack holds its two strings
        const [m, n] = stack.slice(-2);
        const what = typeof m === "string" && typeof n === "string" ? ` ${m}.${n}`.slice(0, 200) : "";
        fail(`STACK_GLOBAL${what} refused: the pickle receiver builds no Python objects`);
        break;
      }
      default:
        if (op in REFUSED) fail(`${REFUSED[op]} refused: the pickle receiver builds no Python objects`);
        if (op in UNSUPPORTED) {
          fail(`${UNSUPPORTED[op]} not supported: only lists and tuples of str, bytes, numbers`);
        }
        fail(`invalid load key ${hexByte(op)}`);
    }
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

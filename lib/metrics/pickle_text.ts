/**
 * The text and number forms inside a pickle, decoded as CPython decodes them: UTF-8 (strict, or
 * 'surrogatepass' for the (BIN)UNICODE opcodes), 'raw-unicode-escape' (protocol 0 str),
 * `codecs.escape_decode` (Python 2's quoted STRING), little-endian two's complement ints (LONG1/4),
 * and the decimal and float text of protocol 0, read only in the forms Python writes (null: refused).
 *
 * ```ts
 * decimalInt("-12"); // -12n
 * reprFloat("1e+300"); // 1e300
 * ```
 */

/** CPython's limit on decimal digits of an int read from text (sys.int_info.default_max_str_digits). */
const MAX_INT_DIGITS = 4300;

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
export function rawUnicodeEscape(b: Uint8Array): string | null {
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
export function escapeDecode(b: Uint8Array): Uint8Array | null {
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
export function littleEndianInt(b: Uint8Array): bigint {
  if (b.length === 0) return 0n;
  let hex = "";
  for (let i = b.length - 1; i >= 0; i--) hex += b[i].toString(16).padStart(2, "0");
  let v = BigInt("0x" + hex);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return v;
}

/** A decimal int as Python writes it (INT, LONG, PUT, GET arguments), else null. */
export function decimalInt(text: string): bigint | null {
  if (!/^-?(0|[1-9][0-9]*)$/.test(text)) return null;
  if (text.replace("-", "").length > MAX_INT_DIGITS) return null;
  return BigInt(text);
}

/** A float as Python's repr writes it (FLOAT argument), else null. */
export function reprFloat(text: string): number | null {
  if (/^-?inf$/.test(text)) return text[0] === "-" ? -Infinity : Infinity;
  if (text === "nan") return NaN;
  if (!/^-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/.test(text)) return null;
  const v = Number(text);
  return Number.isFinite(v) ? v : null; // CPython: OverflowError
}

/**
 * Python's `str.format()` for templates (`'{}:{}'.format(addr, port)`, `'{name:>10}'`, `'{:.2f}'`): fields
 * by position (automatic or numbered) or by name, `!s`/`!r` conversions, `.attr` and `[key]` lookups, and the
 * format-spec mini-language (fill, align, sign, `#`, `0`, width, `,`/`_` grouping, precision, and the types
 * s d n b o x X c e E f F g G %). What it cannot do raises an Error naming it, never other text.
 */
import { exponential, fixed, general, pyExp } from "../py_number.ts";

import { PyFloat } from "./pyfloat.ts";

/** `str()` and `repr()` of a value as the templates print them. */
export interface PyText {
  str(v: unknown): string;
  repr(v: unknown): string;
}

const SPEC = /^(?:(.)?([<>=^]))?([+\- ])?(#)?(0)?(\d+)?([,_])?(?:\.(\d+))?([bcdeEfFgGnosxX%])?$/su;

function group(int: string, sep: string, every: number): string {
  let out = "";
  for (let i = 0; i < int.length; i++) {
    if (i && (int.length - i) % every === 0) out += sep;
    out += int[i];
  }
  return out;
}

/** One value formatted by one spec (the part after `:`). */
export function formatSpec(v: unknown, spec: string, py: PyText): string {
  // format(True, '') is 'True'; with any spec a bool formats as the int it is
  if (typeof v === "boolean") {
    if (spec === "") return py.str(v);
    v = v ? 1 : 0;
  }
  // a float the template made integral (`4 / 2`) formats as the float it is (pyfloat.ts)
  const boxed = v instanceof PyFloat;
  if (boxed) v = (v as PyFloat).valueOf();
  const m = SPEC.exec(spec);
  if (!m) throw new Error(`ValueError: invalid format specifier ${JSON.stringify(spec)}`);
  const [, fillIn, alignIn, sign = "-", alt, zero, widthS, sep, precS, type] = m;
  const width = widthS ? Number(widthS) : 0;
  const prec = precS === undefined ? undefined : Number(precS);
  const isStr = !(typeof v === "number") || type === "s";
  // what CPython refuses, refused the same way (an error, never other text)
  if (
    isStr &&
    (alt || m[3] || sep || alignIn === "=")
  ) {
    throw new Error(`ValueError: format specifier ${JSON.stringify(spec)} not allowed for a string`);
  }
  const intType = type !== undefined && "dnboxXc".includes(type);
  if (
    typeof v === "number" && !boxed && Number.isInteger(v) && prec !== undefined &&
    (intType || type === undefined)
  ) {
    throw new Error("ValueError: Precision not allowed in integer format specifier");
  }
  if (sep === "," && type !== undefined && "boxXc".includes(type)) {
    throw new Error(`ValueError: Cannot specify ',' with '${type}'.`);
  }
  const isNum = typeof v === "number" || typeof v === "boolean";
  let body: string;
  let negative = false;
  if (type === undefined && !isNum || type === "s") {
    if (type === "s" && isNum) throw new Error(`ValueError: unknown format code 's' for a number`);
    body = py.str(v);
    if (prec !== undefined) body = [...body].slice(0, prec).join("");
  } else {
    if (!isNum) throw new Error(`ValueError: unknown format code '${type}' for ${py.repr(v)}`);
    const x = Number(v);
    negative = x < 0 || Object.is(x, -0);
    const a = Math.abs(x);
    switch (type) {
      case "d":
      case "n":
      case "b":
      case "o":
      case "x":
      case "X":
      case "c": {
        if (boxed || !Number.isInteger(x)) {
          throw new Error(`ValueError: unknown format code '${type}' for a float`);
        }
        if (type === "c") {
          body = String.fromCodePoint(x);
          negative = false;
          break;
        }
        const base = type === "b" ? 2 : type === "o" ? 8 : type === "x" || type === "X" ? 16 : 10;
        body = a.toString(base);
        if (type === "X") body = body.toUpperCase();
        if (sep) body = group(body, sep, base === 10 ? 3 : 4);
        if (alt && base !== 10) body = `0${type === "X" ? "X" : type}` + body;
        break;
      }
      case "e":
      case "E":
        body = pyExp(exponential(a, prec ?? 6));
        if (alt && prec === 0) body = body.replace("e", ".e");
        if (type === "E") body = body.toUpperCase();
        break;
      case "f":
      case "F":
      case "%": {
        const y = type === "%" ? a * 100 : a;
        body = fixed(y, prec ?? 6);
        if (alt && prec === 0) body += ".";
        if (sep) {
          const [i, f] = body.split(".");
          body = group(i, sep, 3) + (f !== undefined ? "." + f : "");
        }
        if (type === "%") body += "%";
        break;
      }
      case "g":
      case "G":
        body = general(a, prec === 0 ? 1 : prec ?? 6, !!alt);
        if (type === "G") body = body.toUpperCase();
        break;
      default: // no type: str() of the number, with precision as 'g'
        body = prec === undefined
          ? py.str(boxed ? new PyFloat(a) : a)
          : general(a, prec === 0 ? 1 : prec, !!alt, true);
        if (sep) {
          const [, i, rest] = /^(\d*)(.*)$/s.exec(body)!;
          body = group(i, sep, 3) + rest;
        }
    }
  }
  const signText = isNum && type !== "s"
    ? (negative ? "-" : sign === "+" ? "+" : sign === " " ? " " : "")
    : "";
  const fill = fillIn ?? (zero ? "0" : " ");
  const numeric = isNum && type !== "s";
  const align = alignIn ?? (numeric ? (zero ? "=" : ">") : "<");
  if (sep && fill === "0" && align === "=" && isNum && type !== "s") {
    // zero padding is grouped too: 7 as '0=010_' is 00_000_007
    const [int, ...rest] = body.split(/(?=[.e%])/);
    let digits = int.replaceAll(sep, "");
    const tail = rest.join("");
    const every = type && "boxX".includes(type) ? 4 : 3;
    while ([...signText + group(digits, sep, every) + tail].length < width) digits = "0" + digits;
    return signText + group(digits, sep, every) + tail;
  }
  const len = [...signText + body].length;
  const pad = Math.max(0, width - len);
  if (align === "=") return signText + fill.repeat(pad) + body;
  const text = signText + body;
  if (align === "<") return text + fill.repeat(pad);
  if (align === ">") return fill.repeat(pad) + text;
  return fill.repeat(Math.floor(pad / 2)) + text + fill.repeat(pad - Math.floor(pad / 2));
}

/** `fmt.format(*args, **kwargs)`. */
export function pyFormat(fmt: string, args: unknown[], kwargs: Record<string, unknown>, py: PyText): string {
  let out = "";
  let auto = 0;
  let numbered = false;
  for (let i = 0; i < fmt.length; i++) {
    const c = fmt[i];
    if (c === "}") {
      if (fmt[i + 1] !== "}") throw new Error("ValueError: Single '}' encountered in format string");
      out += "}";
      i++;
      continue;
    }
    if (c !== "{") {
      out += c;
      continue;
    }
    if (fmt[i + 1] === "{") {
      out += "{";
      i++;
      continue;
    }
    const end = fmt.indexOf("}", i);
    if (end < 0) throw new Error("ValueError: Single '{' encountered in format string");
    const field = fmt.slice(i + 1, end);
    i = end;
    const fm = /^([^!:.[]*)((?:\.[A-Za-z_]\w*|\[[^\]]*\])*)(?:!([rsa]))?(?::(.*))?$/s.exec(field);
    if (!fm) throw new Error(`ValueError: bad field ${JSON.stringify(field)} in format string`);
    const [, name, path, conv, spec = ""] = fm;
    let v: unknown;
    if (name === "") {
      if (numbered) throw new Error("ValueError: cannot switch from manual field numbering to automatic");
      if (auto >= args.length) throw new Error(`IndexError: replacement index ${auto} out of range`);
      v = args[auto++];
    } else if (/^\d+$/.test(name)) {
      numbered = true;
      if (auto) throw new Error("ValueError: cannot switch from automatic field numbering to manual");
      if (Number(name) >= args.length) throw new Error(`IndexError: replacement index ${name} out of range`);
      v = args[Number(name)];
    } else {
      if (!Object.hasOwn(kwargs, name)) throw new Error(`KeyError: '${name}'`);
      v = kwargs[name];
    }
    for (const step of path.match(/\.[A-Za-z_]\w*|\[[^\]]*\]/g) ?? []) {
      const key = step.startsWith(".") ? step.slice(1) : step.slice(1, -1);
      const idx = /^\d+$/.test(key) ? Number(key) : key;
      if (v === null || typeof v !== "object" || !Object.hasOwn(v as object, idx)) {
        throw new Error(`KeyError: ${JSON.stringify(key)} in format field ${JSON.stringify(field)}`);
      }
      v = (v as Record<string | number, unknown>)[idx];
    }
    if (conv === "r" || conv === "a") v = { __pyText: py.repr(v) };
    else if (conv === "s") v = { __pyText: py.str(v) };
    const text = v !== null && typeof v === "object" && "__pyText" in (v as object)
      ? (v as { __pyText: string }).__pyText
      : v;
    out += formatSpec(text, spec, py);
  }
  return out;
}

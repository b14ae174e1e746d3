/**
 * A tiny validator for configuration objects: each type parses a value, applies defaults and
 * reports issues with the field path (`check.interval`, `gossip.probe_timeout`).
 */
import { parseDuration } from "../clock/mod.ts";
import { isSecretName } from "../secrets.ts";

export interface Issue {
  path: string;
  message: string;
}

export interface Type<T> {
  /** Human name for error messages ("an integer", "a list of strings"). */
  readonly expected: string;
  parse(v: unknown, path: string, issues: Issue[]): T | undefined;
}

/**
 * Whether the field at `path` (`http.token`, `encryption_keys[0]`, `handler.headers.X`) holds a
 * secret whose value an error must not quote (errors go to the log and /agent/info): a secret name
 * (lib/secrets.ts) anywhere on the path, or a webhook's `url` or `headers`.
 */
export function isSecretPath(path: string): boolean {
  return path.split(/[.[\]]/).some((seg) => seg === "url" || seg === "headers" || isSecretName(seg));
}

/** How an error shows the value `v` of the field at `path`: a secret's type and length only. */
export function shown(v: unknown, path: string): string {
  if (!isSecretPath(path)) return JSON.stringify(v) ?? String(v);
  if (typeof v === "string") return `a string of ${v.length} characters`;
  return Array.isArray(v) ? `a list of ${v.length}` : v === null ? "null" : `a ${typeof v}`;
}

function typeName(v: unknown, path: string): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "an object";
  if (isSecretPath(path)) return shown(v, path);
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v)}`;
  return `${typeof v} ${String(v)}`;
}

function mismatch(issues: Issue[], path: string, expected: string, v: unknown): undefined {
  issues.push({ path, message: `expected ${expected}, got ${typeName(v, path)}` });
  return undefined;
}

export function str(opts: { nonEmpty?: boolean } = {}): Type<string> {
  return {
    expected: "a string",
    parse(v, path, issues) {
      if (typeof v !== "string") return mismatch(issues, path, "a string", v);
      if (opts.nonEmpty && v.trim() === "") {
        issues.push({ path, message: "must not be empty" });
        return undefined;
      }
      return v;
    },
  };
}

export function int(opts: { min?: number; max?: number } = {}): Type<number> {
  const expected = "an integer" +
    (opts.min !== undefined && opts.max !== undefined
      ? ` between ${opts.min} and ${opts.max}`
      : opts.min !== undefined
      ? ` of at least ${opts.min}`
      : opts.max !== undefined
      ? ` of at most ${opts.max}`
      : "");
  return {
    expected,
    parse(v, path, issues) {
      if (typeof v !== "number" || !Number.isInteger(v)) return mismatch(issues, path, expected, v);
      if ((opts.min !== undefined && v < opts.min) || (opts.max !== undefined && v > opts.max)) {
        issues.push({ path, message: `${v} is out of range: expected ${expected}` });
        return undefined;
      }
      return v;
    },
  };
}

export function num(opts: { min?: number; max?: number } = {}): Type<number> {
  return {
    expected: "a number",
    parse(v, path, issues) {
      if (typeof v !== "number" || !Number.isFinite(v)) return mismatch(issues, path, "a number", v);
      if ((opts.min !== undefined && v < opts.min) || (opts.max !== undefined && v > opts.max)) {
        issues.push({ path, message: `${v} is out of range [${opts.min ?? "-∞"}, ${opts.max ?? "∞"}]` });
        return undefined;
      }
      return v;
    },
  };
}

export function bool(): Type<boolean> {
  return {
    expected: "true or false",
    parse(v, path, issues) {
      if (typeof v !== "boolean") return mismatch(issues, path, "true or false", v);
      return v;
    },
  };
}

export function oneOf<T extends string>(
  values: readonly T[],
  opts: { caseInsensitive?: boolean } = {},
): Type<T> {
  const expected = `one of ${values.map((x) => JSON.stringify(x)).join(", ")}`;
  return {
    expected,
    parse(v, path, issues) {
      if (typeof v !== "string") return mismatch(issues, path, expected, v);
      const found = values.find((x) => opts.caseInsensitive ? x.toLowerCase() === v.toLowerCase() : x === v);
      if (found === undefined) {
        issues.push({ path, message: `${shown(v, path)} is not ${expected}` });
        return undefined;
      }
      return found;
    },
  };
}

/** A duration ("10s", "500ms", "2m", or a number of seconds), parsed to milliseconds. */
export function durationMs(opts: { min?: number } = {}): Type<number> {
  const expected = 'a duration like "10s", "500ms", "5m" or a number of seconds';
  return {
    expected,
    parse(v, path, issues) {
      const ms = parseDuration(v);
      if (ms === null) return mismatch(issues, path, expected, v);
      if (opts.min !== undefined && ms < opts.min) {
        issues.push({ path, message: `${shown(v, path)} is too short (minimum ${opts.min} ms)` });
        return undefined;
      }
      return ms;
    },
  };
}

/** A duration ("10s", "1500ms", or a number of seconds), parsed to seconds (statsd's `interval`). */
export function durationSec(opts: { min?: number } = {}): Type<number> {
  const ms = durationMs({ min: opts.min === undefined ? undefined : opts.min * 1000 });
  return {
    expected: ms.expected,
    parse(v, path, issues) {
      const n = ms.parse(v, path, issues);
      return n === undefined ? undefined : n / 1000;
    },
  };
}

/** A duration kept in its original text form (checks keep `interval: "10s"` as written). */
export function durationText(): Type<string> {
  const expected = 'a duration like "10s", "5m" or a number of seconds';
  return {
    expected,
    parse(v, path, issues) {
      if (parseDuration(v) === null) return mismatch(issues, path, expected, v);
      return typeof v === "number" ? `${v}s` : String(v);
    },
  };
}

/** A size ("1MB", "512KB", or a number of bytes), parsed to bytes; `min`/`max` bound it. */
export function bytes(opts: { min?: number; max?: number } = {}): Type<number> {
  const expected = 'a size like "1MB", "64KB" or a number of bytes';
  return {
    expected,
    parse(v, path, issues) {
      let n: number;
      if (typeof v === "number" && Number.isInteger(v) && v >= 0) n = v;
      else {
        const m = typeof v === "string" ? /^\s*(\d+)\s*(B|KB|MB|GB|KiB|MiB|GiB)?\s*$/i.exec(v) : null;
        if (!m) return mismatch(issues, path, expected, v);
        const unit = (m[2] ?? "B").toUpperCase().replace("IB", "B");
        n = Number(m[1]) * ({ B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 } as Record<string, number>)[unit];
      }
      if ((opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max)) {
        issues.push({
          path,
          message: `${shown(v, path)} is out of range: expected ${opts.min ?? 0} to ${opts.max ?? "∞"} bytes`,
        });
        return undefined;
      }
      return n;
    },
  };
}

export function list<T>(item: Type<T>): Type<T[]> {
  const expected = `a list of ${item.expected.replace(/^an? /, "")}s`;
  return {
    expected,
    parse(v, path, issues) {
      if (!Array.isArray(v)) return mismatch(issues, path, expected, v);
      const out: T[] = [];
      let ok = true;
      v.forEach((x, i) => {
        const r = item.parse(x, `${path}[${i}]`, issues);
        if (r === undefined) ok = false;
        else out.push(r);
      });
      return ok ? out : undefined;
    },
  };
}

/** An object with free keys, every value of one type. */
export function record<T>(value: Type<T>): Type<Record<string, T>> {
  return {
    expected: "an object",
    parse(v, path, issues) {
      if (!isPlainObject(v)) return mismatch(issues, path, "an object", v);
      const out: Record<string, T> = {};
      let ok = true;
      for (const [k, x] of Object.entries(v)) {
        const p = path ? `${path}.${k}` : k;
        // `out.__proto__ = r` would set the object's prototype, not a key: the entry would vanish
        if (k === "__proto__") {
          issues.push({ path: p, message: "__proto__ is reserved" });
          ok = false;
          continue;
        }
        const r = value.parse(x, p, issues);
        if (r === undefined) ok = false;
        else out[k] = r;
      }
      return ok ? out : undefined;
    },
  };
}

export function anyValue(): Type<unknown> {
  return { expected: "any value", parse: (v) => v };
}

export interface Field<T> {
  type: Type<T>;
  required?: boolean;
  default?: T | (() => T);
  /** One line for the configuration reference. */
  doc?: string;
}

export type Fields = Record<string, Field<unknown>>;

export function req<T>(type: Type<T>, doc?: string): Field<T> {
  return { type, required: true, doc };
}
export function opt<T>(type: Type<T>, def?: T | (() => T), doc?: string): Field<T> {
  return { type, default: def, doc };
}

/**
 * An object with known fields. `extra: "error"` rejects unknown keys (objects that take no
 * free-form data), `"keep"` passes them through (checks and services carry lookup data).
 */
export function object<T = Record<string, unknown>>(
  fields: Fields,
  opts: { extra: "error" | "keep" } = { extra: "error" },
): Type<T> & { fields: Fields } {
  return {
    fields,
    expected: "an object",
    parse(v, path, issues) {
      if (!isPlainObject(v)) return mismatch(issues, path, "an object", v);
      const out: Record<string, unknown> = {};
      let ok = true;
      for (const [k, f] of Object.entries(fields)) {
        const p = path ? `${path}.${k}` : k;
        if (!(k in v) || v[k] === undefined) {
          if (f.required) {
            issues.push({ path: p, message: "is required" });
            ok = false;
          } else if (f.default !== undefined) {
            const d = typeof f.default === "function"
              ? (f.default as () => unknown)()
              : structuredClone(f.default);
            // object defaults go through their type so nested defaults apply
            out[k] = isPlainObject(d) ? f.type.parse(d, p, issues) : d;
          }
          continue;
        }
        const r = f.type.parse(v[k], p, issues);
        if (r === undefined) ok = false;
        else out[k] = r;
      }
      for (const [k, x] of Object.entries(v)) {
        // own fields only: `constructor`, `toString`, `__proto__` are in every object, not fields
        if (Object.hasOwn(fields, k)) continue;
        // (kept, `out.__proto__ = x` would set the object's prototype instead of a key)
        if (opts.extra === "keep" && k !== "__proto__") out[k] = x;
        else {
          const known = Object.keys(fields).sort().join(", ");
          issues.push({
            path: path ? `${path}.${k}` : k,
            message: opts.extra === "keep"
              ? "__proto__ is reserved"
              : `unknown field (known fields: ${known})`,
          });
          ok = false;
        }
      }
      return ok ? out as T : undefined;
    },
  };
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

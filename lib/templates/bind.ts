/**
 * Python's binding of a call's arguments to a function's parameters, for Jinja2's filters and tests
 * (filters_args.ts) and Python's str methods (pystrmethods.ts) and list and dict methods
 * (collections.ts): nunjucks passes the positional arguments and then one object of the keyword
 * ones, which the function had to pick from itself, and an unknown keyword was silently ignored.
 * Here it is a TypeError, as in Python.
 */

/**
 * A filter's, test's or method's parameters after its value (or object), as Python's signature
 * writes them: `"old, new, count?"` (`?`: optional), `""` for none, a trailing `"/"` for Python's
 * positional-only parameters (`len(obj, /)`, `str.find(sub, start?, end?, /)` take no keyword at
 * all), `"*"` for one taking any arguments (`format`, `map`, `select`...), which checks them itself.
 */
export type Signature = string;

/** nunjucks' trailing keyword-argument object (`f(a, key=1)`) split from the positional arguments. */
function split(args: unknown[]): { pos: unknown[]; kw: Record<string, unknown> } {
  const last = args[args.length - 1] as { __keywords?: boolean } | undefined;
  if (last && typeof last === "object" && last.__keywords) {
    const { __keywords: _marker, ...kw } = last as Record<string, unknown>;
    return { pos: args.slice(0, -1), kw };
  }
  return { pos: args, kw: {} };
}

/** A parsed Signature: the names in order, how many of the first are required, no keyword at all. */
export interface Params {
  names: string[];
  required: number;
  positionalOnly: boolean;
}

/** A Signature parsed; null for `"*"`. */
export function parseSignature(sig: Signature): Params | null {
  if (sig === "*") return null;
  const parts = sig.split(",").map((p) => p.trim()).filter((p) => p);
  const positionalOnly = parts[parts.length - 1] === "/";
  if (positionalOnly) parts.pop();
  return {
    names: parts.map((p) => p.replace(/\?$/, "")),
    required: parts.filter((p) => !p.endsWith("?")).length,
    positionalOnly,
  };
}

/**
 * The arguments of a call to `label` (`filter truncate`, `str.find`) bound to its parameters as
 * Python binds them: one per parameter, by position, `undefined` where not given (so the default
 * applies). A TypeError names the call and the argument for an unexpected keyword, a keyword given a
 * value twice, too many arguments or a missing required one; `after` follows the count of arguments
 * (" after the value" for a filter or test, whose value Python counts too).
 */
export function bindArgs(label: string, params: Params, args: unknown[], after = ""): unknown[] {
  const { pos, kw } = split(args);
  const { names } = params;
  const takes = names.length ? `it takes ${names.join(", ")}` : "it takes no arguments";
  if (pos.length > names.length) {
    const most = names.length
      ? `at most ${names.length} argument${names.length === 1 ? "" : "s"}`
      : "no arguments";
    throw new Error(
      `TypeError: ${label}() takes ${most}${after}, ${pos.length} given${names.length ? ` (${takes})` : ""}`,
    );
  }
  const out = [...pos];
  for (const key of Object.keys(kw)) {
    if (params.positionalOnly) {
      throw new Error(`TypeError: ${label}() takes no keyword arguments, got ${key}=`);
    }
    const i = names.indexOf(key);
    if (i < 0) {
      throw new Error(`TypeError: ${label}() got an unexpected keyword argument '${key}' (${takes})`);
    }
    if (i < pos.length) throw new Error(`TypeError: ${label}() got multiple values for argument '${key}'`);
    out[i] = kw[key];
  }
  for (let i = 0; i < params.required; i++) {
    if (i >= out.length || !(i in out)) {
      throw new Error(`TypeError: ${label}() missing required argument '${names[i]}'`);
    }
  }
  // no holes (a parameter not given is undefined); the trailing ones not given are left out, as some
  // of nunjucks' own filters count their arguments
  return Array.from(out, (v) => v);
}

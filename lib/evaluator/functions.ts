/**
 * The whitelist of callable functions with their parameters (floor 0). Pure ones have `call`;
 * machine-facing ones (`io`) only `check` their arguments: the interpreter never runs them, it asks
 * its caller for their answers (see interpreter.ts). Arguments are bound like Python.
 */
import { EvalError } from "./errors.ts";
import { pyAbs, pyFloat, pyInt, pyLen, pyMinMax, pyRound, pyStrFn } from "./builtins.ts";
import { checkIoArgs } from "./machine.ts";
import { ipInRange } from "./ipaddr.ts";
import type { PyValue } from "./values.ts";

/** One whitelisted function. */
export interface FunctionDef {
  /** Parameter names in order (for keywords and messages). */
  params: string[];
  /** How many leading parameters are required. */
  required: number;
  /** Takes any number (>= required) of positional arguments (min/max). */
  variadic?: boolean;
  /** Parameters that may be given by keyword (Python's builtins are mostly positional-only). */
  keywords?: string[];
  /** Looks at the machine (file system, network, processes): counted against the I/O budget. */
  io?: boolean;
  /** One line for `evaluator list --json`. */
  doc: string;
  /** Pure functions: the answer. */
  call?(args: PyValue[]): PyValue;
  /** Machine-facing functions: checked, normalised arguments for the EvalIo call. */
  check?(args: PyValue[]): PyValue[];
}

export const FUNCTIONS: Record<string, FunctionDef> = {
  abs: { params: ["x"], required: 1, doc: "absolute value", call: ([x]) => pyAbs(x) },
  min: {
    params: ["args"],
    required: 1,
    variadic: true,
    doc: "smallest of the arguments (or of one tuple)",
    call: (a) => pyMinMax("min", a),
  },
  max: {
    params: ["args"],
    required: 1,
    variadic: true,
    doc: "largest of the arguments (or of one tuple)",
    call: (a) => pyMinMax("max", a),
  },
  round: {
    params: ["number", "ndigits"],
    required: 1,
    keywords: ["number", "ndigits"],
    doc: "round half to even, to ndigits decimals",
    call: ([x, n]) => pyRound(x, n ?? null),
  },
  int: {
    params: ["x", "base"],
    required: 0,
    keywords: ["base"],
    doc: "integer from a number or a text",
    call: (a) => a.length ? pyInt(a[0], a[1]) : 0n,
  },
  float: {
    params: ["x"],
    required: 0,
    doc: "float from a number or a text",
    call: (a) => a.length ? pyFloat(a[0]) : 0,
  },
  str: {
    params: ["object"],
    required: 0,
    doc: "text as Python's str()",
    call: (a) => a.length ? pyStrFn(a[0]) : "",
  },
  len: { params: ["obj"], required: 1, doc: "length of a string or tuple", call: ([x]) => pyLen(x) },
  fileexists: {
    params: ["path"],
    required: 1,
    io: true,
    keywords: ["path"],
    doc: "true if the path exists",
    check: (a) => checkIoArgs("fileexists", a),
  },
  grep: {
    params: ["text", "path", "regexp"],
    required: 2,
    io: true,
    keywords: ["text", "path", "regexp"],
    doc: "true if a line of the file contains text (case-insensitive; regexp=True for a regular expression)",
    check: (a) => checkIoArgs("grep", a),
  },
  ip_in_range: {
    params: ["ip", "cidr"],
    required: 2,
    keywords: ["ip", "cidr"],
    doc: "true if ip (v4 or v6) is inside the cidr",
    call: ([i, c]) => ipInRange(i, c),
  },
  has_package: {
    params: ["name"],
    required: 1,
    io: true,
    keywords: ["name"],
    doc: "true if the dpkg/rpm package is installed",
    check: (a) => checkIoArgs("has_package", a),
  },
  check_tcp: {
    params: ["host", "port", "timeout"],
    required: 2,
    io: true,
    keywords: ["host", "port", "timeout"],
    doc: "true if a TCP connection to host:port opens within timeout seconds (default 10)",
    check: (a) => checkIoArgs("check_tcp", a),
  },
};

/** Binds positional and keyword arguments to `def`'s parameters; throws EvalError `type` like Python. */
export function bindArguments(
  name: string,
  def: FunctionDef,
  args: PyValue[],
  kwargs: Map<string, PyValue>,
): PyValue[] {
  if (def.variadic) {
    if (kwargs.size) throw new EvalError("type", `${name}() takes no keyword arguments`);
    if (args.length < def.required) {
      throw new EvalError("type", `${name} expected at least ${def.required} argument, got ${args.length}`);
    }
    return args;
  }
  if (args.length > def.params.length) {
    const takes = def.required === def.params.length
      ? `${def.params.length}`
      : `from ${def.required} to ${def.params.length}`;
    throw new EvalError(
      "type",
      `${name}() takes ${takes} positional arguments but ${args.length} were given`,
    );
  }
  const bound: (PyValue | undefined)[] = [...args];
  for (const [k, v] of kwargs) {
    if (!def.keywords?.length) throw new EvalError("type", `${name}() takes no keyword arguments`);
    const idx = def.keywords.includes(k) ? def.params.indexOf(k) : -1;
    if (idx < 0) throw new EvalError("type", `${name}() got an unexpected keyword argument '${k}'`);
    if (idx < args.length) throw new EvalError("type", `${name}() got multiple values for argument '${k}'`);
    bound[idx] = v;
  }
  for (let i = 0; i < def.required; i++) {
    if (bound[i] === undefined) {
      throw new EvalError("type", `${name}() missing required argument '${def.params[i]}' (pos ${i + 1})`);
    }
  }
  while (bound.length && bound[bound.length - 1] === undefined) bound.pop();
  if (bound.includes(undefined)) {
    const missing = def.params[bound.indexOf(undefined)];
    throw new EvalError("type", `${name}() missing argument '${missing}'`);
  }
  return bound as PyValue[];
}

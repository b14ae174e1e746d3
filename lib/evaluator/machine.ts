/**
 * The machine-facing functions' pure half (floor 0): argument checks, the grep matcher and the
 * dpkg status parser. The calls themselves run through an `EvalIo` (io_worker.ts in a sandboxed
 * Worker for the agent, io.ts in-process for tests and one-shot tools), never in the interpreter.
 */
import { EvalError } from "./errors.ts";
import { pyRepr } from "./pystr.ts";
import { asInt, type PyValue, truthy, typeName } from "./values.ts";

/** Largest part of a file grep reads (bytes); the rest is ignored. */
export const GREP_MAX_BYTES = 4 * 1024 * 1024;
/** Longest regular expression grep accepts. */
export const GREP_MAX_PATTERN = 512;
/** Upper bound of check_tcp's timeout (seconds). */
export const CHECK_TCP_MAX_TIMEOUT = 30;

/** The machine-facing functions. */
export type IoFunction = "fileexists" | "grep" | "has_package" | "check_tcp";

/**
 * Runs machine-facing calls for the evaluator. `args` were checked by `checkIoArgs`; the answer is
 * a PyValue, a rejection with EvalError is the call's error (refused path, bad regexp, timeout).
 */
export interface EvalIo {
  call(name: IoFunction, args: PyValue[]): Promise<PyValue>;
}

function needStr(fn: string, arg: string, v: PyValue): string {
  if (typeof v !== "string") {
    throw new EvalError("type", `${fn}() argument '${arg}' must be str, not ${typeName(v)}`);
  }
  return v;
}

/** Checks and normalises the bound arguments of a machine-facing call (pure; throws EvalError). */
export function checkIoArgs(name: IoFunction, args: PyValue[]): PyValue[] {
  switch (name) {
    case "fileexists":
      return [needStr("fileexists", "path", args[0])];
    case "has_package":
      return [needStr("has_package", "name", args[0])];
    case "grep": {
      const text = needStr("grep", "text", args[0]);
      const path = needStr("grep", "path", args[1]);
      const regexp = truthy(args[2] ?? false);
      if (regexp) regexpMatcher(text); // a bad pattern is the caller's error, found before any I/O
      return [text, path, regexp];
    }
    case "check_tcp": {
      const host = needStr("check_tcp", "host", args[0]);
      const port = args[1];
      const p = asInt(port) ??
        (typeof port === "string" && /^\d{1,5}$/.test(port) ? BigInt(port) : undefined);
      if (p === undefined) throw new EvalError("type", `check_tcp() port must be int, not ${typeName(port)}`);
      if (p < 1n || p > 65535n) {
        throw new EvalError("runtime", `check_tcp() port ${p} is out of range 1-65535`);
      }
      const timeout = args[2] ?? 10n;
      const t = typeof timeout === "number" ? timeout : Number(asInt(timeout) ?? NaN);
      if (!Number.isFinite(t) || t <= 0) {
        throw new EvalError("runtime", "check_tcp() timeout must be a positive number");
      }
      return [host, Number(p), Math.min(t, CHECK_TCP_MAX_TIMEOUT)];
    }
  }
}

/** A line matcher for grep: case-insensitive substring, or a (guarded) regular expression. */
export function grepMatcher(text: string, regexp: boolean): (line: string) => boolean {
  if (regexp) return regexpMatcher(text);
  const lower = text.toLowerCase();
  return (line) => line.toLowerCase().includes(lower);
}

/**
 * A case-insensitive RegExp, refusing the shapes that backtrack exponentially: a quantified group
 * that itself holds a quantifier or an alternation (`(a+)+`, `(a|a)*`), and backreferences.
 * Polynomial shapes (`a*a*a*b`) remain possible: that is why grep runs under a deadline in a Worker.
 */
export function regexpMatcher(pattern: string): (line: string) => boolean {
  if (pattern.length > GREP_MAX_PATTERN) {
    throw new EvalError("limit", `grep regexp is longer than ${GREP_MAX_PATTERN} characters`);
  }
  if (/\\[1-9]|\\k</.test(pattern) || /\(\?P=/.test(pattern)) {
    throw new EvalError("runtime", "grep regexp: backreferences are not allowed");
  }
  if (hasNestedQuantifier(pattern)) {
    throw new EvalError("runtime", "grep regexp: a repeated group may not contain a quantifier or '|'");
  }
  let re: RegExp;
  try {
    // Python's named groups (?P<name>...) are (?<name>...) in JavaScript
    re = new RegExp(pattern.replace(/\(\?P</g, "(?<"), "i");
  } catch (err) {
    throw new EvalError("runtime", `grep regexp ${pyRepr(pattern)} is invalid: ${(err as Error).message}`);
  }
  return (line) => re.test(line);
}

function hasNestedQuantifier(pattern: string): boolean {
  const stack: boolean[] = []; // per open group: does it contain a quantifier/alternation?
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === "\\") {
      i++;
      continue;
    }
    if (ch === "[") {
      while (i < pattern.length && pattern[i] !== "]") i += pattern[i] === "\\" ? 2 : 1;
      continue;
    }
    if (ch === "(") stack.push(false);
    else if (ch === ")") {
      const risky = stack.pop() ?? false;
      const next = pattern[i + 1];
      const quantified = next === "*" || next === "+" || next === "?" || next === "{";
      if (risky && quantified && next !== "?") return true;
      if (stack.length && (risky || quantified)) stack[stack.length - 1] = true;
    } else if ((ch === "*" || ch === "+" || ch === "{" || ch === "|") && stack.length) {
      stack[stack.length - 1] = true;
    }
  }
  return false;
}

/** Package names has_package accepts (anything else is False without looking). */
export const PACKAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9.+_:-]{0,127}$/;

/** Names of the packages marked `install ok installed` in a dpkg status file. */
export function parseDpkgStatus(text: string): Set<string> {
  const installed = new Set<string>();
  for (const para of text.split(/\n\s*\n/)) {
    const name = /^Package:\s*(\S+)/m.exec(para)?.[1];
    const status = /^Status:\s*(.+)$/m.exec(para)?.[1];
    if (name && status && /\binstalled\s*$/.test(status) && !/\bnot-installed\b/.test(status)) {
      installed.add(name);
    }
  }
  return installed;
}

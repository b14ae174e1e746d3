/**
 * The whitelisted functions that look at the machine: fileexists, grep, ip_in_range, has_package,
 * check_tcp. They never throw for an unreadable file or an unreachable host: they answer False.
 */
import { EvalError } from "./errors.ts";
import { ipInNetwork, parseCidr, parseIp } from "./ipaddr.ts";
import { pyRepr } from "./pystr.ts";
import { asInt, type PyValue, truthy, typeName } from "./values.ts";

/** Largest file grep reads (bytes); the rest is ignored. */
export const GREP_MAX_BYTES = 8 * 1024 * 1024;
/** Longest regular expression grep accepts. */
export const GREP_MAX_PATTERN = 512;
/** Upper bound of check_tcp's timeout (seconds). */
export const CHECK_TCP_MAX_TIMEOUT = 30;

function needStr(fn: string, arg: string, v: PyValue): string {
  if (typeof v !== "string") {
    throw new EvalError("type", `${fn}() argument '${arg}' must be str, not ${typeName(v)}`);
  }
  return v;
}

/** `fileexists(path)`: true when the path exists (file, directory, anything). */
export async function fileExists(path: PyValue): Promise<boolean> {
  const p = needStr("fileexists", "path", path);
  if (p === "" || p.includes("\0")) return false;
  try {
    await Deno.stat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * `grep(text, path, regexp=False)`: true when a line of the file contains `text` (case-insensitive),
 * or matches it as a regular expression with `regexp=True`. False when the file cannot be read.
 */
export async function grep(text: PyValue, path: PyValue, regexp: PyValue = false): Promise<boolean> {
  const needle = needStr("grep", "text", text);
  const p = needStr("grep", "path", path);
  const matcher = truthy(regexp) ? regexpMatcher(needle) : substringMatcher(needle);
  const content = await readHead(p);
  if (content === null) return false;
  return content.split(/\r?\n/).some(matcher);
}

function substringMatcher(needle: string): (line: string) => boolean {
  const lower = needle.toLowerCase();
  return (line) => line.toLowerCase().includes(lower);
}

/**
 * A case-insensitive RegExp, refusing the shapes that backtrack exponentially: a quantified group
 * that itself holds a quantifier or an alternation (`(a+)+`, `(a|a)*`), and backreferences.
 */
export function regexpMatcher(pattern: string): (line: string) => boolean {
  if (pattern.length > GREP_MAX_PATTERN) {
    throw new EvalError("limit", `grep regexp is longer than ${GREP_MAX_PATTERN} characters`);
  }
  if (/\\[1-9]|\\k</.test(pattern)) {
    throw new EvalError("runtime", "grep regexp: backreferences are not allowed");
  }
  if (hasNestedQuantifier(pattern)) {
    throw new EvalError("runtime", "grep regexp: a repeated group may not contain a quantifier or '|'");
  }
  if (/\(\?P=/.test(pattern)) throw new EvalError("runtime", "grep regexp: backreferences are not allowed");
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

async function readHead(path: string): Promise<string | null> {
  if (path === "" || path.includes("\0")) return null;
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(path, { read: true });
    const info = await file.stat();
    if (!info.isFile) return null;
    const buf = new Uint8Array(Math.min(info.size || GREP_MAX_BYTES, GREP_MAX_BYTES));
    let off = 0;
    while (off < buf.length) {
      const n = await file.read(buf.subarray(off));
      if (n === null) break;
      off += n;
    }
    return new TextDecoder().decode(buf.subarray(0, off));
  } catch {
    return null;
  } finally {
    file?.close();
  }
}

/** `ip_in_range(ip, cidr)`: IPv4 and IPv6; False for an address of the other family. */
export function ipInRange(ip: PyValue, cidr: PyValue): boolean {
  const ipText = needStr("ip_in_range", "ip", ip);
  const cidrText = needStr("ip_in_range", "cidr", cidr);
  const a = parseIp(ipText);
  if (!a) throw new EvalError("runtime", `${pyRepr(ip)} does not appear to be an IPv4 or IPv6 address`);
  const net = parseCidr(cidrText);
  if (!net) throw new EvalError("runtime", `${pyRepr(cidr)} does not appear to be an IPv4 or IPv6 network`);
  return ipInNetwork(a, net);
}

/** Where has_package looks; tests point these elsewhere. */
export const packageSources = {
  dpkgStatus: "/var/lib/dpkg/status",
  rpm: ["/usr/bin/rpm", "/bin/rpm"],
};

const PACKAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9.+_:-]{0,127}$/;
let dpkgCache: { path: string; mtime: number; size: number; installed: Set<string> } | null = null;

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

/** `has_package(name)`: dpkg status file first, then `rpm -q NAME` (argv, no shell). */
export async function hasPackage(name: PyValue): Promise<boolean> {
  const n = needStr("has_package", "name", name);
  if (!PACKAGE_NAME.test(n)) return false;
  const path = packageSources.dpkgStatus;
  try {
    const info = await Deno.stat(path);
    const mtime = info.mtime?.getTime() ?? 0;
    if (!dpkgCache || dpkgCache.path !== path || dpkgCache.mtime !== mtime || dpkgCache.size !== info.size) {
      dpkgCache = { path, mtime, size: info.size, installed: parseDpkgStatus(await Deno.readTextFile(path)) };
    }
    if (dpkgCache.installed.has(n)) return true;
  } catch {
    // no dpkg here: try rpm
  }
  for (const rpm of packageSources.rpm) {
    try {
      const out = await new Deno.Command(rpm, {
        args: ["-q", "--quiet", "--", n],
        stdout: "null",
        stderr: "null",
        signal: AbortSignal.timeout(10_000),
      }).output();
      return out.success;
    } catch {
      // not there: next candidate
    }
  }
  return false;
}

/** `check_tcp(host, port, timeout=10)`: true when a TCP connection opens within the timeout (seconds). */
export async function checkTcp(host: PyValue, port: PyValue, timeout: PyValue = 10n): Promise<boolean> {
  const h = needStr("check_tcp", "host", host);
  const p = asInt(port) ?? (typeof port === "string" && /^\d{1,5}$/.test(port) ? BigInt(port) : undefined);
  if (p === undefined) throw new EvalError("type", `check_tcp() port must be int, not ${typeName(port)}`);
  if (p < 1n || p > 65535n) throw new EvalError("runtime", `check_tcp() port ${p} is out of range 1-65535`);
  const t = typeof timeout === "number" ? timeout : Number(asInt(timeout) ?? NaN);
  if (!Number.isFinite(t) || t <= 0) {
    throw new EvalError("runtime", "check_tcp() timeout must be a positive number");
  }
  const ms = Math.min(t, CHECK_TCP_MAX_TIMEOUT) * 1000;
  if (h === "" || h.length > 255) return false;
  const hostname = h.startsWith("[") && h.endsWith("]") ? h.slice(1, -1) : h;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const attempt = Deno.connect({ hostname, port: Number(p), transport: "tcp" });
  const expired = new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), ms));
  try {
    const conn = await Promise.race([attempt, expired]);
    if (conn === null) {
      attempt.then((c) => c.close(), () => {});
      return false;
    }
    conn.close();
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Main-thread side of Nagios plugin checks: turns a check's `script` into argv (macros expanded,
 * executable resolved inside the allowed directories) and runs it in the sandboxed runner Worker
 * whose `run` permission lists exactly the executables of the active checks.
 */
import { isAbsolute, join, normalize, resolve } from "node:path";
import { isDirectory } from "../fs/mod.ts";
import type { Sandbox, SandboxWorker } from "../sandbox/mod.ts";
import { NO_PERMISSIONS } from "../sandbox/mod.ts";
import { splitArgv } from "./argv.ts";
import { expandMacros, unknownMacros } from "./macros.ts";
import { closestName } from "../config/mod.ts";
import { failedRun, type PluginRun, type PluginRunParams } from "./nagios_protocol.ts";

/** A check's command line that cannot be run (bad quoting, plugin outside the allowed dirs...). */
export class PluginRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PluginRefused";
  }
}

/** Where plugins may live. */
export interface PluginDirs {
  /** Configured monitoring-plugins directories (first existing one is `$nagiosplugins$` when unset). */
  pluginDirs: string[];
  /** The agent's own plugin dir (`libexec`). */
  libexec: string;
}

/** A resolved command: argv[0] is an allowed executable. */
export interface ResolvedCommand {
  argv: string[];
  executable: string;
}

/** The `$nagiosplugins$` directory: first configured one that exists (else the first configured). */
export function nagiosPluginsDir(dirs: PluginDirs): string {
  return dirs.pluginDirs.find(isDirectory) ?? dirs.pluginDirs[0] ?? "/usr/lib/nagios/plugins";
}

/** Real paths of the existing allowed directories. */
export function allowedRoots(dirs: PluginDirs): string[] {
  const out: string[] = [];
  for (const d of [...dirs.pluginDirs, dirs.libexec]) {
    try {
      out.push(Deno.realPathSync(d));
    } catch { /* missing dir: nothing allowed there */ }
  }
  return [...new Set(out)];
}

function inside(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith("/") ? root : root + "/");
}

/** Checks that `path` is an executable file whose real path lies inside an allowed directory. */
export function checkExecutable(path: string, dirs: PluginDirs): string {
  const roots = allowedRoots(dirs);
  const where = [...dirs.pluginDirs, dirs.libexec].join(", ");
  const lexical = normalize(path);
  let real: string;
  try {
    real = Deno.realPathSync(lexical);
  } catch {
    throw new PluginRefused(`plugin ${path} does not exist`);
  }
  const lexicalRoots = [...dirs.pluginDirs, dirs.libexec].map((d) => normalize(d));
  const lexicalOk = [...roots, ...lexicalRoots].some((r) => inside(r, lexical));
  if (!lexicalOk || !roots.some((r) => inside(r, real))) {
    throw new PluginRefused(`plugin ${path} is outside the allowed plugin directories (${where})`);
  }
  const st = Deno.statSync(real);
  if (!st.isFile) throw new PluginRefused(`plugin ${path} is not a file`);
  if (st.mode !== null && (st.mode & 0o111) === 0) {
    throw new PluginRefused(`plugin ${path} is not executable`);
  }
  return lexical;
}

/**
 * Why a plugin path may be wrong: the `$macros$` of its first word that nothing set (each became
 * ""), with a "did you mean" when one is near `$nagiosplugins$` or `$libexec$`; "" when none.
 */
function macroHint(word: string, look: (path: string) => unknown): string {
  const unset = unknownMacros(word, look);
  if (!unset.length) return "";
  const meant = unset.map((m) =>
    closestName(m.slice(1, -1).split("|")[0].trim(), ["nagiosplugins", "libexec"])
  )
    .find((n) => n !== undefined);
  return ` (${unset.join(", ")} ${unset.length > 1 ? "are" : "is"} not set: empty${
    meant ? `; did you mean $${meant}$?` : ""
  })`;
}

/**
 * Expands macros and resolves the executable. The line is split into words first and each word
 * expanded, so a value with spaces stays one argument; `shell: true` runs `/bin/sh -c <text>`.
 */
export function resolveCommand(
  script: string,
  lookup: (path: string) => unknown,
  dirs: PluginDirs,
  shell = false,
): ResolvedCommand {
  // `$nagiosplugins$` is a lookup like any macro (check → service → configuration data), as in the
  // original; the first existing `checks.plugin_dirs` entry only when nobody set it
  const configured = lookup("nagiosplugins");
  const configuredDir = typeof configured === "string" && configured.trim() ? configured.trim() : null;
  // the directory the admin named holds plugins as plugin_dirs do: allowed, with the same rules
  // (real path inside it, no symlink out of it). Whoever writes a check can already run any command
  // with `shell: true`, so this widens nothing.
  if (configuredDir) dirs = { ...dirs, pluginDirs: [configuredDir, ...dirs.pluginDirs] };
  const plugins = configuredDir ?? nagiosPluginsDir(dirs);
  const look = (p: string) => p === "nagiosplugins" ? plugins : p === "libexec" ? dirs.libexec : lookup(p);
  if (shell) {
    const text = expandMacros(script, look);
    return { argv: ["/bin/sh", "-c", text], executable: "/bin/sh" };
  }
  let words: string[];
  try {
    words = splitArgv(script);
  } catch (err) {
    throw new PluginRefused(`script: ${(err as Error).message}`);
  }
  const argv = words.map((w) => expandMacros(w, look));
  // a macro nothing answers becomes "": say which, or "/check_load does not exist" reads as a mystery
  // (worked out only when a run is refused: resolution happens at every run)
  const hint = () => macroHint(words[0] ?? "", look);
  if (!argv.length || !argv[0]) throw new PluginRefused(`script is empty${hint()}`);
  let exe = argv[0];
  if (!exe.includes("/")) {
    const found = [plugins, ...dirs.pluginDirs, dirs.libexec].map((d) => join(d, exe)).find((p) => {
      try {
        return Deno.statSync(p).isFile;
      } catch {
        return false;
      }
    });
    if (!found) {
      throw new PluginRefused(
        `plugin ${exe} not found in ${[...dirs.pluginDirs, dirs.libexec].join(", ")}${hint()}`,
      );
    }
    exe = found;
  } else if (!isAbsolute(exe)) exe = resolve(dirs.libexec, exe);
  try {
    argv[0] = checkExecutable(exe, dirs);
  } catch (err) {
    const h = err instanceof PluginRefused ? hint() : "";
    if (h) throw new PluginRefused((err as Error).message + h);
    throw err;
  }
  return { argv, executable: argv[0] };
}

export type { PluginRun } from "./nagios_protocol.ts";

/** Who a plugin runs as and with what environment (see pluginIdentity). */
export interface PluginIdentity {
  env: Record<string, string>;
  uid?: number;
  gid?: number;
}

/** PATH of every plugin (the agent's own PATH is not inherited). */
export const PLUGIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** uid/gid of a user from /etc/passwd (a name or a number), or null when unknown. */
export function lookupUser(user: string, passwd = "/etc/passwd"): { uid: number; gid: number } | null {
  let text = "";
  try {
    text = Deno.readTextFileSync(passwd);
  } catch { /* no passwd file */ }
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length >= 4 && (f[0] === user || f[2] === user)) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  if (/^\d+$/.test(user)) return { uid: Number(user), gid: Number(user) };
  return null;
}

/**
 * The environment and user of a plugin run: PATH, LANG and the Nagios macros only; when the agent
 * runs as root, the `nagios_user` (throws when that user does not exist: never silently root).
 */
export function pluginIdentity(
  macros: Record<string, string>,
  nagiosUser: string,
  agentUid: number | null = Deno.uid(),
): PluginIdentity {
  const env: Record<string, string> = { PATH: PLUGIN_PATH, LANG: Deno.env.get("LANG") || "C", ...macros };
  if (agentUid !== 0) return { env };
  const u = lookupUser(nagiosUser);
  if (!u) throw new PluginRefused(`nagios_user ${nagiosUser} does not exist; plugins are not run as root`);
  return { env, uid: u.uid, gid: u.gid };
}

const WORKER_NAME = "nagios-runner";

/**
 * Owns the runner Worker. `allow()` sets the executables; the Worker is respawned with the new
 * `run` list when it changes (runs in flight then end with `superseded`).
 */
export class NagiosRunner {
  #sandbox: Sandbox;
  #worker: SandboxWorker | null = null;
  #allowed: string[] = [];
  /** Runs not yet answered; the Worker is stopped after `idleMs` without any. */
  #inFlight = 0;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #idleMs: number;
  /** Bumped at each respawn so callers can drop results of a superseded Worker. */
  generation = 0;
  /** Runs started (the run marker's sequence). */
  #runs = 0;
  /**
   * Tells this runner's markers from another runner's in the same process (a config reload's, or
   * the test runner's modules side by side), whose sequences also start at 1: the reaper kills
   * every process carrying a marker, so two runners must never hand out the same one.
   */
  readonly #id = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);

  /**
   * `idleMs`: the Worker (an isolate, ~10 MB) stops after this long without a run and starts again
   * on the next one (default 60 s: plugin checks often run every few minutes).
   */
  constructor(sandbox: Sandbox, opts: { idleMs?: number } = {}) {
    this.#sandbox = sandbox;
    this.#idleMs = opts.idleMs ?? 60_000;
  }

  /** True while the Worker is up (tests, info). */
  get running(): boolean {
    return this.#worker?.running ?? false;
  }

  #armIdle(): void {
    clearTimeout(this.#idleTimer);
    if (this.#inFlight > 0) return;
    const t = setTimeout(() => {
      if (this.#inFlight > 0) return;
      this.#worker?.terminate();
      this.#worker = null;
    }, this.#idleMs);
    Deno.unrefTimer(t);
    this.#idleTimer = t;
  }

  /** Sets the executables the Worker may run (sorted, deduplicated). */
  allow(executables: string[]): void {
    const next = [...new Set(executables)].sort();
    if (this.#worker && next.join("\n") === this.#allowed.join("\n")) return;
    this.#allowed = next;
    this.#worker?.terminate();
    this.#worker = null;
    this.generation++;
  }

  get allowed(): string[] {
    return [...this.#allowed];
  }

  #ensure(): SandboxWorker {
    if (this.#worker) return this.#worker;
    this.#worker = this.#sandbox.spawn({
      name: WORKER_NAME,
      module: new URL("./nagios_worker.ts", import.meta.url),
      permissions: { ...NO_PERMISSIONS, run: this.#allowed.length ? this.#allowed : false },
      processGroups: true,
    });
    return this.#worker;
  }

  /** Runs argv with a timeout; resolves even on failure (errors come back in `error`). */
  async run(
    argv: string[],
    timeoutMs: number,
    maxOutput: number,
    as: PluginIdentity = { env: { PATH: PLUGIN_PATH, LANG: "C" } },
  ): Promise<PluginRun & { generation: number }> {
    const generation = this.generation;
    const w = this.#ensure();
    this.#inFlight++;
    clearTimeout(this.#idleTimer);
    try {
      const marker = `${Deno.pid}.${this.#id}.${++this.#runs}`;
      const params: PluginRunParams = { argv, timeoutMs, maxOutput, marker, ...as };
      const r = await w.call<PluginRun>("run", params, timeoutMs + 5000);
      return { ...r, generation };
    } catch (err) {
      return { ...failedRun(`plugin runner failed: ${(err as Error).message}`), generation };
    } finally {
      this.#inFlight--;
      this.#armIdle();
    }
  }

  stop(): void {
    clearTimeout(this.#idleTimer);
    this.#worker?.terminate();
    this.#worker = null;
  }
}

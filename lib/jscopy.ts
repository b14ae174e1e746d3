/**
 * The agent's modules as plain JavaScript, for `agent start` under `deno run`.
 *
 * Deno's transpiler appends to every TypeScript module it runs an inline source map that carries
 * the whole TypeScript file, comments included, and V8 keeps that map twice (inside the script's
 * source and again as its `sourceMappingURL`): ~6 MB of a default agent's heap, ~4 MB of its RSS
 * (docs/benchmarks.md). Deno has no switch for it; the compiled binary (`deno task compile`)
 * embeds its modules without maps. So `agent start` from a checkout runs from a copy of `main.ts`,
 * `mod.ts`, `lib/` and `cli/` transpiled by `deno bundle --inline-imports=false` (one JavaScript
 * file per module, no map, no comments; relative `.ts` specifiers turned into `.js`), kept in
 * `.cache/js/<key>/` of the checkout, where `<key>` hashes every source file and Deno's version:
 * any edit makes a new copy at the next start (~0.6 s), never a stale one.
 *
 * Nothing here reaches the network: `deno bundle` runs esbuild from Deno's npm cache, and its
 * proxy is set to a closed loopback port so a missing esbuild fails at once instead of being
 * downloaded (`deno task js-copy` makes the copy, downloading esbuild, where the npm registry is
 * reachable). When the copy cannot be made (read-only checkout, no esbuild, a timeout) the agent
 * runs from its TypeScript as before, after one line on stderr. `KUNAI_JS_COPY=0` turns it off.
 *
 * ```ts
 * const r = await ensureJsCopy(root);   // { script: ".../.cache/js/<key>/main.js", built } or { reason }
 * ```
 */
import { createHash } from "node:crypto";
import { join, relative } from "node:path";
import { byCodeUnit } from "./order.ts";
import { projectRoot, runsFromCopy } from "./root.ts";

/** Where the copies live, under the checkout. */
export const COPY_DIR = ".cache/js";

/** Changes when the way copies are made changes (part of the key). */
const COPY_FORMAT = "1";

/** Longest wait for `deno bundle`. */
export const BUILD_TIMEOUT_MS = 60_000;

/** Copies not used for this long are removed (the newest three are always kept). */
export const PRUNE_AFTER_MS = 30 * 86_400_000;

/** The file that marks a finished copy (written last, before the copy is renamed into place). */
const DONE = ".complete";

/** Directories of the checkout whose modules the agent runs. */
const SOURCE_DIRS = ["lib", "cli"];
const SOURCE_FILES = ["main.ts", "mod.ts"];

/** The TypeScript modules of the checkout at `root` (absolute paths, code-unit order), tests left out. */
export function sourceFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(dir)) {
      const p = join(dir, e.name);
      if (e.isDirectory) walk(p);
      else if (e.isFile && e.name.endsWith(".ts") && !e.name.endsWith("_test.ts")) out.push(p);
    }
  };
  for (const d of SOURCE_DIRS) walk(join(root, d));
  for (const f of SOURCE_FILES) out.push(join(root, f));
  return out.sort(byCodeUnit);
}

/** The copy's key: every source file's path and bytes, Deno's version and the copy format. */
export function sourceKey(root: string, files: string[]): string {
  const h = createHash("sha256");
  h.update(`kunai-js-copy ${COPY_FORMAT} deno ${Deno.version.deno}\0`);
  for (const f of files) {
    h.update(relative(root, f) + "\0");
    h.update(Deno.readFileSync(f));
    h.update("\0");
  }
  return h.digest("hex").slice(0, 24);
}

/**
 * Relative module specifiers in string literals (`import`, `export ... from`, `import()`,
 * the Workers' module URLs) pointed at the `.js` files of the copy.
 */
export function rewriteSpecifiers(js: string): string {
  return js.replace(/(["'])(\.\.?\/[^"'\n]*?)\.ts\1/g, "$1$2.js$1");
}

/** What ensureJsCopy() found or made. */
export type CopyResult = { script: string; key: string; built: boolean; ms: number } | { reason: string };

/**
 * The JavaScript copy of the checkout at `root` (an absolute path), made when missing. Never
 * throws: a copy that cannot be made gives `{ reason }`.
 */
export async function ensureJsCopy(
  root: string,
  opts: { timeoutMs?: number; offline?: boolean } = {},
): Promise<CopyResult> {
  const t0 = performance.now();
  try {
    const files = sourceFiles(root);
    const key = sourceKey(root, files);
    const base = join(root, COPY_DIR);
    const dir = join(base, key);
    const done = () => ({ script: join(dir, "main.js"), key, ms: Math.round(performance.now() - t0) });
    if (isFile(join(dir, DONE))) {
      touch(join(dir, DONE));
      return { ...done(), built: false };
    }
    Deno.mkdirSync(base, { recursive: true });
    const tmp = Deno.makeTempDirSync({ dir: base, prefix: ".build-" });
    try {
      const why = await bundle(root, tmp, files, opts);
      if (why) return { reason: why };
      for (const f of files) {
        const js = join(tmp, relative(root, f)).replace(/\.ts$/, ".js");
        if (!isFile(js)) return { reason: `deno bundle wrote no ${relative(tmp, js)}` };
        Deno.writeTextFileSync(js, rewriteSpecifiers(Deno.readTextFileSync(js)));
      }
      // on disk before the marker says the copy is whole: after a power loss, a marker beside empty
      // modules would fail every start until the copy is deleted (~0.25 s for ~400 files, once a build)
      syncTree(tmp);
      Deno.writeTextFileSync(join(tmp, DONE), files.map((f) => relative(root, f)).join("\n") + "\n");
      syncPath(join(tmp, DONE));
      try {
        Deno.renameSync(tmp, dir);
        syncPath(base);
      } catch (err) {
        // another agent of this checkout made the same copy meanwhile: use theirs
        if (!isFile(join(dir, DONE))) throw err;
      }
    } finally {
      try {
        Deno.removeSync(tmp, { recursive: true });
      } catch { /* renamed into place */ }
    }
    try {
      prune(base, key);
    } catch { /* old copies stay: the new one is made */ }
    return { ...done(), built: true };
  } catch (err) {
    return { reason: (err as Error).message };
  }
}

/** Runs `deno bundle`; returns why it failed, or "" when it wrote the copy into `out`. */
async function bundle(
  root: string,
  out: string,
  files: string[],
  opts: { timeoutMs?: number; offline?: boolean },
): Promise<string> {
  const env: Record<string, string> = { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" };
  if (opts.offline !== false) {
    // esbuild comes from Deno's npm cache or not at all: no download at an agent's start
    for (const k of ["HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"]) env[k] = "http://127.0.0.1:9";
    env.NO_PROXY = env.no_proxy = "";
  }
  const cmd = new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--outdir",
      out,
      "--inline-imports=false",
      "--packages",
      "external",
      "--platform",
      "deno",
      ...files.map((f) => relative(root, f)),
    ],
    cwd: root,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    // its own process group: a timeout kills deno and the esbuild it started
    detached: true,
  });
  const child = cmd.spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch { /* gone */ }
  }, opts.timeoutMs ?? BUILD_TIMEOUT_MS);
  const r = await child.output();
  clearTimeout(timer);
  if (timedOut) return `deno bundle took over ${Math.round((opts.timeoutMs ?? BUILD_TIMEOUT_MS) / 1000)} s`;
  if (r.success) return "";
  const err = new TextDecoder().decode(r.stderr).split("\n").map((l) => l.trim()).filter(Boolean);
  const first = err.find((l) => /error/i.test(l)) ?? err[0] ?? `exit ${r.code}`;
  return `deno bundle failed: ${first.slice(0, 300)}`;
}

/** fsync of a file or a directory (this module imports nothing of the agent's: lib/fs stays out). */
function syncPath(p: string): void {
  using f = Deno.openSync(p, { read: true });
  f.syncSync();
}

/** fsync of every file under `dir`, and of the directories. */
function syncTree(dir: string): void {
  for (const e of Deno.readDirSync(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) syncTree(p);
    else if (e.isFile) syncPath(p);
  }
  syncPath(dir);
}

/**
 * Removes copies other than `keep` not used for PRUNE_AFTER_MS, the newest three kept whatever their
 * age, and builds left by a killed agent (`.build-*`) older than an hour (a build takes minutes at most).
 */
function prune(base: string, keep: string, now = Date.now()): void {
  const copies: Array<{ name: string; used: number }> = [];
  for (const e of Deno.readDirSync(base)) {
    if (e.isDirectory && e.name.startsWith(".build-")) {
      try {
        const age = now - (Deno.statSync(join(base, e.name)).mtime?.getTime() ?? now);
        if (age > 3_600_000) Deno.removeSync(join(base, e.name), { recursive: true });
      } catch { /* another agent's, just finished */ }
      continue;
    }
    if (!e.isDirectory || e.name === keep || e.name.startsWith(".")) continue;
    let used = 0;
    try {
      used = Deno.statSync(join(base, e.name, DONE)).mtime?.getTime() ?? 0;
    } catch {
      /* unfinished: its age is the directory's */
      used = Deno.statSync(join(base, e.name)).mtime?.getTime() ?? 0;
    }
    copies.push({ name: e.name, used });
  }
  copies.sort((a, b) => b.used - a.used);
  for (const c of copies.slice(2)) {
    if (now - c.used < PRUNE_AFTER_MS) continue;
    try {
      Deno.removeSync(join(base, c.name), { recursive: true });
    } catch { /* in use by another user, or gone */ }
  }
}

function isFile(p: string): boolean {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}

function touch(p: string): void {
  try {
    const now = new Date();
    Deno.utimeSync(p, now, now);
  } catch { /* read-only: the copy is still used */ }
}

/**
 * The script `agent start` should run instead of `main`, or null: only under `deno run` of the
 * checkout's main.ts (not a compiled binary, not already a copy), unless `KUNAI_JS_COPY=0`. A copy
 * that cannot be made is said on stderr once per start.
 */
export async function agentScript(
  main: string,
  env: (k: string) => string | undefined,
  warn: (msg: string) => void = (m) => console.error(m),
): Promise<string | null> {
  if (env("KUNAI_JS_COPY") === "0" || Deno.build.os === "windows") return null;
  if (!main.startsWith("file:") || !main.endsWith("/main.ts") || main.includes("/deno-compile-")) return null;
  if (runsFromCopy(main)) return null;
  const root = new URL(".", main).pathname;
  const r = await ensureJsCopy(root);
  if ("reason" in r) {
    warn(`kunai: running from the TypeScript sources (no JavaScript copy: ${r.reason}); see lib/jscopy.ts`);
    return null;
  }
  return r.script;
}

if (import.meta.main) {
  // `deno task js-copy`: make the copy now, downloading esbuild into Deno's cache if needed
  const root = projectRoot().pathname;
  const r = await ensureJsCopy(root, { offline: false });
  if ("reason" in r) {
    console.error(`kunai: no JavaScript copy: ${r.reason}`);
    Deno.exit(1);
  }
  console.log(`${r.built ? "made" : "up to date"}: ${relative(root, r.script)} (${r.ms} ms)`);
}

/**
 * The V8 flags of a running agent. V8 reads its heap flags once, when the process starts (Deno
 * ignores `node:v8`'s setFlagsFromString for them), and `kunai agent start` is often started as
 * `deno run -A main.ts agent start` without `--v8-flags`. So, before anything else is loaded,
 * main.ts re-executes the same command line in place (`execve`: same pid, same fds) with
 * `DENO_V8_FLAGS` set. The compiled binary gets the flags from `deno compile --v8-flags` and
 * `deno task start` from its own command line, so neither re-executes.
 *
 * `KUNAI_V8_FLAGS` replaces the default set (empty: no flags).
 *
 * The same re-exec sets `MALLOC_ARENA_MAX` (glibc reads it once, at start): see `AGENT_ARENA_MAX`;
 * `KUNAI_MALLOC_ARENA_MAX` replaces it (empty: glibc's default). Children get neither. And it adds
 * `--no-code-cache` to a `deno run` command line: see `NO_CODE_CACHE`; and, given `script` (the
 * JavaScript copy of the modules: lib/jscopy.ts), runs that instead of main.ts.
 *
 * ```ts
 * reexecWithV8Flags(Deno.args); // returns only when no re-exec is needed or possible
 * ```
 */

/**
 * Young generation of every isolate capped at 1 MB per semi-space (V8's default grows it to
 * 16 MB: ~30 MB more RSS per isolate under a KV write load), the old generation's limit grown by
 * 30 % after each mark-compact (`--heap-growing-percent`: V8's default grows it up to 4× under
 * load, 148-156 MB for a KV node after the load run), and `gc()` for the quiet-time collection of
 * lib/process_metrics/heap.ts. Semi-spaces of 2 MB (2026-12-01 to 12-03) cost a KV node ~4 % less
 * CPU per replicated write but each agent ~2 MB: on the third box the 20 agents of
 * kunai-cluster.sh read 58.4-61.1 MB each at convergence against the 60 MB target; with 1 MB, four
 * alternated pairs 57.5 against 59.9 MB (median), an idle agent 264/274 against 277/296 ms of CPU
 * over 180 s, a 3-node KV cluster 3 302 against 3 448 writes/s at 16 clients and 5 475 against
 * 5 531 at 64 (three pairs; etcd ~1 800 and ~2 900 on this box), its nodes 3-5 MB smaller after
 * the load (docs/benchmarks.md). `--optimize-for-size` (1 MB semi-spaces and V8's memory-saving
 * mark-compacts until 2026-12-01) kept the same RSS at idle but cost a KV node ~4 % more CPU per
 * replicated write. `--memory-pool-timeout=15`: V8 keeps the pages a collection frees
 * in a pool and gives them back to the kernel after 8 s by default, just before the next 10 s round
 * of collectors and checks allocates again and faults every page back in (~15 µs a fault on these
 * virtual machines): with 15 s an idle agent took half the page faults and ~8 % less CPU (three
 * pairs side by side, 264-268 against 242-245 ms over 180 s), same RSS.
 */
export const AGENT_V8_FLAGS =
  "--max-semi-space-size=1 --heap-growing-percent=30 --expose-gc --memory-pool-timeout=15";

/**
 * glibc malloc arenas: by default up to 8 per core, one taken by each thread that meets a locked
 * arena, each keeping its own free memory (an idle agent held 3 to 13 of them, 5-11 MB). Two: the
 * main arena and one shared by the other threads.
 */
export const AGENT_ARENA_MAX = "2";

/**
 * Deno's V8 code cache off for the agent (`deno run --no-code-cache`): with it, the cache database
 * stays open and mapped (~1.3 MB resident) and the main malloc arena holds ~1.5 MB more (an idle
 * agent at +25 s: 63.4-63.8 against 67.0-68.4 MB RSS). The cost is compiling the modules from their
 * source at each start (lazily, as V8 does anyway for functions not in the cache): ~50-100 ms more
 * CPU per start. `KUNAI_CODE_CACHE=1` keeps the cache.
 */
export const NO_CODE_CACHE = "--no-code-cache";

/**
 * The `deno run` command line of an agent with `--no-code-cache` added right after `run`, or null
 * when there is nothing to add (not `deno run`, already there, not `agent start`, or
 * `KUNAI_CODE_CACHE=1`).
 */
export function withoutCodeCache(
  argv: string[],
  args: string[],
  env: (k: string) => string | undefined,
): string[] | null {
  if (!wantsNoCodeCache(args, env) || argv[1] !== "run") return null;
  // argv: deno run [deno flags...] SCRIPT [args...]
  const denoFlags = argv.slice(2, Math.max(2, argv.length - args.length - 1));
  if (denoFlags.includes(NO_CODE_CACHE)) return null;
  return [argv[0], "run", NO_CODE_CACHE, ...argv.slice(2)];
}

/**
 * True when the command line is `agent start`: its first two words, global options (and the value
 * of `-c`, `--http-addr`, `--token`) before them aside. `kunai event send agent start` is not.
 */
export function isAgentStart(args: string[]): boolean {
  const words: string[] = [];
  for (let i = 0; i < args.length && words.length < 2; i++) {
    const a = args[i];
    if (a === "--") break;
    if (a === "-c" || a === "--config" || a === "--http-addr" || a === "--token") i++;
    else if (!a.startsWith("-")) words.push(a);
  }
  return words[0] === "agent" && words[1] === "start";
}

/** True for `agent start` unless `KUNAI_CODE_CACHE=1`. */
export function wantsNoCodeCache(args: string[], env: (k: string) => string | undefined): boolean {
  return isAgentStart(args) && env("KUNAI_CODE_CACHE") !== "1";
}

/**
 * The `deno run` command line with its script (the argument before `args`, main.ts) replaced by
 * `script` (the JavaScript copy of lib/jscopy.ts), or null when argv is not `deno run ... main.ts`.
 */
export function withScript(argv: string[], args: string[], script: string): string[] | null {
  const i = argv.length - args.length - 1;
  if (argv[1] !== "run" || i < 2 || !/(^|\/)main\.ts$/.test(argv[i])) return null;
  return [...argv.slice(0, i), script, ...argv.slice(i + 1)];
}

/** Set (to "1") in the re-executed process when MALLOC_ARENA_MAX was added by the re-exec. */
export const ARENA_MARKER = "KUNAI_ARENA_REEXEC";

/** The MALLOC_ARENA_MAX wanted for these arguments, or "" when none. */
export function wantedArenaMax(args: string[], env: (k: string) => string | undefined): string {
  if (!isAgentStart(args)) return "";
  return (env("KUNAI_MALLOC_ARENA_MAX") ?? AGENT_ARENA_MAX).trim();
}

/**
 * Set in the environment of the re-executed process so it never loops; holds the DENO_V8_FLAGS we
 * were started with, put back (and the marker removed) as soon as the new image starts.
 */
export const REEXEC_MARKER = "KUNAI_V8_REEXEC";

/** The flags wanted for these arguments, or "" when the process needs none. */
export function wantedV8Flags(args: string[], env: (k: string) => string | undefined): string {
  if (!isAgentStart(args)) return "";
  return (env("KUNAI_V8_FLAGS") ?? AGENT_V8_FLAGS).trim();
}

/** True when every flag of `wanted` is already in `have` (comma or space separated). */
export function hasFlags(have: string, wanted: string): boolean {
  const got = new Set(have.split(/[\s,]+/).filter(Boolean));
  return wanted.split(/[\s,]+/).filter(Boolean).every((f) => got.has(f));
}

/**
 * Replaces this process by the same command line with DENO_V8_FLAGS set, when the agent is
 * started by `deno run` without its flags. Returns when nothing is to be done or exec failed
 * (then the agent runs with V8's defaults: only memory differs).
 */
export function reexecWithV8Flags(args: string[], script: string | null = null): void {
  const env = (k: string) => Deno.env.get(k);
  const marker = env(REEXEC_MARKER);
  if (marker !== undefined) {
    // re-executed: children (check scripts, plugins) get the environment we were started with
    Deno.env.delete(REEXEC_MARKER);
    if (marker === "") Deno.env.delete("DENO_V8_FLAGS");
    else Deno.env.set("DENO_V8_FLAGS", marker);
    if (env(ARENA_MARKER) !== undefined) Deno.env.delete("MALLOC_ARENA_MAX");
    Deno.env.delete(ARENA_MARKER);
    return;
  }
  const wanted = wantedV8Flags(args, env);
  const arenas = env("MALLOC_ARENA_MAX") === undefined ? wantedArenaMax(args, env) : "";
  if ((!wanted && !arenas && !wantsNoCodeCache(args, env) && !script) || Deno.build.os !== "linux") return;
  // a compiled binary carries its flags (deno compile --v8-flags)
  if (Deno.mainModule.includes("/deno-compile-")) return;
  let argv: string[];
  try {
    argv = Deno.readTextFileSync("/proc/self/cmdline").split("\0").slice(0, -1);
  } catch {
    return;
  }
  // `deno run --v8-flags=...` (deno task start) or DENO_V8_FLAGS already carry them
  const given = argv.filter((a) => a.startsWith("--v8-flags=")).map((a) => a.slice(11));
  const flagsMissing = !hasFlags([env("DENO_V8_FLAGS") ?? "", ...given].join(","), wanted);
  let noCache = withoutCodeCache(argv, args, env);
  const swapped = script ? withScript(noCache ?? argv, args, script) : null;
  if (swapped) noCache = swapped;
  if (!flagsMissing && !arenas && !noCache) return;
  const vars = Deno.env.toObject();
  vars[REEXEC_MARKER] = vars.DENO_V8_FLAGS ?? "";
  if (flagsMissing) {
    vars.DENO_V8_FLAGS = [vars.DENO_V8_FLAGS, wanted.replaceAll(" ", ",")].filter(Boolean).join(",");
  }
  if (arenas) {
    vars.MALLOC_ARENA_MAX = arenas;
    vars[ARENA_MARKER] = "1";
  }
  execve(Deno.execPath(), noCache ?? argv, Object.entries(vars).map(([k, v]) => `${k}=${v}`));
}

/** execve(2) through libc; returns only when it failed (or libc cannot be opened). */
function execve(path: string, argv: string[], envp: string[]): void {
  let lib: Deno.DynamicLibrary<{ execve: { parameters: ["buffer", "buffer", "buffer"]; result: "i32" } }>;
  try {
    lib = Deno.dlopen("libc.so.6", { execve: { parameters: ["buffer", "buffer", "buffer"], result: "i32" } });
  } catch {
    return; // no glibc (or no FFI permission): keep V8's defaults
  }
  const enc = new TextEncoder();
  const cstr = (s: string) => enc.encode(s + "\0");
  const keep: Uint8Array[] = [];
  const table = (xs: string[]) => {
    const ptrs = new BigUint64Array(xs.length + 1);
    xs.forEach((x, i) => {
      const b = cstr(x);
      keep.push(b);
      ptrs[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b)));
    });
    return new Uint8Array(ptrs.buffer);
  };
  const file = cstr(path);
  lib.symbols.execve(file, table(argv), table(envp));
  lib.close(); // still here: exec failed
}

/**
 * Kernel process helpers: the one shell runner (`sh -c` in its own process group, timeout, capped
 * output) and the merged-output shape generators and shinken use.
 *
 * ```ts
 * const r = await runShell("make reload", { timeoutMs: 10_000, maxOutput: 64 * 1024 });
 * const m = await runCommand("systemctl reload haproxy", 30_000); // { code, signal, output, timedOut }
 * ```
 */
export { runShell, type ShellOptions, type ShellResult } from "./runner.ts";
export { type CommandResult, runCommand } from "./merged.ts";
export { commandEnv, DEFAULT_PATH } from "./env.ts";
export { isDumpable, makeNotDumpable } from "./dumpable.ts";

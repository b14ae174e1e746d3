#!/usr/bin/env -S deno run -A
/**
 * `kunai`: the command-line entry point (agent, cluster and inspection commands).
 * `agent start` first re-executes itself with the agent's V8 flags when they are missing
 * (lib/v8flags.ts), before the CLI's modules are loaded.
 */
import { reexecWithV8Flags } from "./lib/v8flags.ts";

if (import.meta.main) {
  reexecWithV8Flags(Deno.args);
  const { runCli } = await import("./cli/mod.ts");
  const code = await runCli(Deno.args);
  Deno.exit(code);
}

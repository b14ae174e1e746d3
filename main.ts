#!/usr/bin/env -S deno run -A
/**
 * `kunai`: the command-line entry point (agent, cluster and inspection commands).
 */
import { runCli } from "./cli/mod.ts";

if (import.meta.main) {
  const code = await runCli(Deno.args);
  Deno.exit(code);
}

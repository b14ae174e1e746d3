#!/usr/bin/env -S deno run -A --unstable-net --unstable-worker-options --unstable-no-legacy-abort
/**
 * `kunai`: the command-line entry point (agent, cluster and inspection commands).
 */
import { runCli } from "./cli/mod.ts";

if (import.meta.main) {
  const code = await runCli(Deno.args);
  Deno.exit(code);
}

#!/usr/bin/env -S deno run -A
/**
 * `kunai`: the command-line entry point (agent, cluster and inspection commands).
 * `agent start` first re-executes itself with the agent's V8 flags when they are missing
 * (lib/v8flags.ts), before the CLI's modules are loaded, from the JavaScript copy of its modules
 * when it can make one (lib/jscopy.ts).
 */
import { isAgentStart, REEXEC_MARKER, reexecWithV8Flags } from "./lib/v8flags.ts";

if (import.meta.main) {
  // `agent start` from a checkout runs from the JavaScript copy of its modules (lib/jscopy.ts)
  const script =
    isAgentStart(Deno.args) && Deno.env.get(REEXEC_MARKER) === undefined && Deno.build.os === "linux"
      ? await (await import("./lib/jscopy.ts")).agentScript(Deno.mainModule, (k) => Deno.env.get(k))
      : null;
  reexecWithV8Flags(Deno.args, script);
  const { runCli } = await import("./cli/mod.ts");
  const code = await runCli(Deno.args);
  Deno.exit(code);
}

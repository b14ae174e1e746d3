/**
 * `kunai checks list [--json]`: every loaded check with its state, activation and interval.
 */
import type { Output } from "./output.ts";
import { STATE_COLOURS } from "./output.ts";
import type { CommandGroup } from "./types.ts";
import { treeNames } from "./state.ts";

interface CheckView {
  state: string;
  output: string;
  active: boolean;
  interval?: string;
  kind?: string;
  apply_on?: string;
  problems?: string[];
}

/** Prints the checks table: name, state, active/inactive, interval, kind, first output line. */
export function printChecks(out: Output, checks: Record<string, CheckView>): void {
  out.title("Checks");
  const names = Object.keys(checks).sort();
  const shown = treeNames(names);
  const width = Math.max(20, ...names.map((n) => n.length));
  names.forEach((n, i) => {
    const c = checks[n];
    const st = out.paint(c.state.toUpperCase().padEnd(8), STATE_COLOURS[c.state]);
    const act = c.active ? out.paint("active  ", "green") : out.paint("inactive", "grey");
    const info = `${(c.interval ?? "").padEnd(5)} ${(c.kind ?? "").padEnd(9)} on ${c.apply_on ?? "*"}`;
    out.line(`\t${shown[i].padEnd(width)} ${st} ${act} ${info} - ${String(c.output ?? "").split("\n")[0]}`);
    for (const p of c.problems ?? []) out.line(`\t${" ".repeat(width)} ${out.paint(p, "red")}`);
  });
  if (!names.length) out.line(out.paint("No checks", "grey"));
}

export const checksCommands: CommandGroup = {
  group: "checks",
  description: "checks loaded by the agent",
  commands: [
    {
      name: "list",
      description: "list every loaded check (active or not) with its state",
      options: { json: { type: "boolean", description: "JSON output" } },
      async run({ client, out, options }) {
        const checks = await client().json<Record<string, CheckView>>("GET", "/agent/checks");
        if (options.json) out.json(checks);
        else printChecks(out, checks);
        return 0;
      },
    },
  ],
};

/**
 * `kunai checks list [--json]`: every loaded check with its state, activation and interval;
 * `kunai checks run NAME [--json]`: run an active check now (after fixing something) and show its state.
 */
import type { Output } from "./output.ts";
import { STATE_COLOURS } from "./output.ts";
import { type CommandGroup, refused, UsageError } from "./types.ts";
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
    {
      name: "run",
      description: "run an active check of this node now and show its new state (handlers fire on a change)",
      args: ["<name>"],
      options: { json: { type: "boolean", description: "JSON output: the check as GET /agent/checks/NAME" } },
      async run({ client, out, options, positionals }) {
        const name = positionals[0];
        if (!name) {
          throw new UsageError("missing check name, e.g. kunai checks run linux/cpu (kunai checks list)");
        }
        if (positionals.length > 1) {
          throw new UsageError(`one check name expected, got ${positionals.length}`);
        }
        let c: CheckView & { last_check?: number };
        try {
          c = JSON.parse(
            await client().text(
              "POST",
              `/agent/checks/${name.split("/").map(encodeURIComponent).join("/")}/run`,
            ),
          );
        } catch (err) {
          return refused(out, err, `check ${name} not run`);
        }
        if (options.json) out.json(c);
        else {
          out.line(
            `${name}: ${out.paint(c.state.toUpperCase(), STATE_COLOURS[c.state])} - ${
              String(c.output ?? "").split("\n")[0]
            }`,
          );
        }
        return 0;
      },
    },
  ],
};

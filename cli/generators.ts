/**
 * `kunai generators list [--json]` (reference §10.7).
 */
import type { CommandGroup } from "./types.ts";

interface GeneratorView {
  name: string;
  path: string;
  template: string;
  apply_on: string;
  applies: boolean;
  writes: number;
  command_runs: number;
  last_error: string;
  last_command: { code: number | null; timedOut: boolean } | null;
  waiting_for_join?: boolean;
}

export const generatorsCommands: CommandGroup = {
  group: "generators",
  description: "configuration files rendered from templates over the cluster state",
  commands: [
    {
      name: "list",
      description: "list the generators, whether they apply here and their last result",
      options: { json: { type: "boolean", description: "JSON output" } },
      async run({ client, out, options }) {
        const list = await client().json<GeneratorView[]>("GET", "/agent/generators");
        if (options.json) {
          out.json(list);
          return 0;
        }
        out.title("Generators");
        for (const g of list) {
          let state = g.applies
            ? `${g.writes} write(s), ${g.command_runs} command run(s)`
            : `not here (${g.apply_on})`;
          if (g.applies && g.waiting_for_join) {
            state += ", waiting for the join to the cluster (file left as it is)";
          }
          const cmd = g.last_command;
          if (cmd && (cmd.timedOut || cmd.code !== 0)) {
            state += `, last command ${cmd.timedOut ? "timed out" : `exited ${cmd.code}`}`;
          }
          out.twoCol(g.name, `${g.template} -> ${g.path}: ${state}`, {
            colour: g.last_error ? "red" : g.applies ? (g.waiting_for_join ? "yellow" : "green") : "grey",
            capitalise: false,
          });
          if (g.last_error) out.line(`\t${out.paint(g.last_error, "red")}`);
        }
        if (!list.length) out.line(out.paint("No generators", "grey"));
        return 0;
      },
    },
  ],
};

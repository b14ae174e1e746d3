/**
 * `kunai state [NAME] [--json]` (reference §1): services and checks of a node with their states (another
 * node's as it answers them, or, when it does not, its services' checks from its gossip record, said on stderr).
 */
import type { Output } from "./output.ts";
import { STATE_COLOURS } from "./output.ts";
import type { CommandGroup } from "./types.ts";

interface StateEntry {
  state?: string;
  output?: string;
  check?: { state?: string; output?: string };
}

/** Check names with the first path segment blanked when it repeats the previous row's (tree look). */
export function treeNames(names: string[]): string[] {
  let prev = "";
  return names.map((n) => {
    const i = n.indexOf("/");
    const head = i > 0 ? n.slice(0, i + 1) : "";
    const shown = head && head === prev ? " ".repeat(head.length) + n.slice(head.length) : n;
    prev = head;
    return shown;
  });
}

function row(out: Output, name: string, state: string, output: string): void {
  const st = state.toUpperCase().padEnd(8);
  const first = output.split("\n")[0];
  out.line(`\t${name.padEnd(20)} ${out.paint(st, STATE_COLOURS[state])} - ${first}`);
}

/** An object field as text (another node's services are free-form JSON from the network). */
function text(o: unknown, k: string): string | undefined {
  const v = o && typeof o === "object" ? (o as Record<string, unknown>)[k] : undefined;
  return typeof v === "string" ? v : undefined;
}

/** Prints the `Services:` and `Checks:` blocks. */
export function printState(
  out: Output,
  st: { checks: Record<string, StateEntry>; services: Record<string, StateEntry> },
): void {
  out.line("Services:");
  for (const name of Object.keys(st.services ?? {}).sort()) {
    const s = st.services[name];
    const check = s && typeof s === "object" ? s.check : undefined;
    row(
      out,
      name,
      text(s, "state") ?? text(check, "state") ?? "unknown",
      text(check, "output") ?? text(s, "output") ?? "",
    );
  }
  out.line("Checks:");
  const names = Object.keys(st.checks ?? {}).sort();
  const shown = treeNames(names);
  names.forEach((n, i) =>
    row(out, shown[i], text(st.checks[n], "state") ?? "pending", text(st.checks[n], "output") ?? "")
  );
}

export const stateCommands: CommandGroup = {
  group: "state",
  description: "services and checks of a node",
  commands: [
    {
      name: "",
      description: "show the services and checks of this node (or of node NAME)",
      args: ["[name]"],
      options: { json: { type: "boolean", description: "JSON output" } },
      async run({ client, out, options, positionals }) {
        const name = positionals[0];
        const path = name ? `/agent/state/${encodeURIComponent(name)}` : "/agent/state";
        const st = await client().json<
          {
            checks: Record<string, StateEntry>;
            services: Record<string, StateEntry>;
            source?: string;
            error?: string;
          }
        >("GET", path);
        if (options.json) out.json(st);
        else printState(out, st);
        // another node that was not heard: only what its gossip record carries (its services' checks)
        if (!options.json && st.source === "gossip") {
          const why = st.error ?? `${name} was not asked`;
          out.error(`kunai: ${why}; shown from its gossip record: its services' checks only`);
        }
        return 0;
      },
    },
  ],
};

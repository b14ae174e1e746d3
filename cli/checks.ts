/**
 * `kunai checks list [--json]`: every loaded check with its state, activation and interval;
 * `kunai checks run NAME [--json]`: run an active check now (after fixing something) and show its state;
 * NAME is a check id, its last path part or a service name (resolveCheckId).
 */
import type { AgentClient } from "../lib/client/mod.ts";
import type { Output } from "./output.ts";
import { STATE_COLOURS } from "./output.ts";
import { type CommandGroup, refused, UsageError } from "./types.ts";
import { treeNames } from "./state.ts";
import { checkMaintenanceFlags } from "./maintenance.ts";

interface CheckView {
  state: string;
  output: string;
  active: boolean;
  interval?: string;
  kind?: string;
  apply_on?: string;
  problems?: string[];
  silenced?: { reason: string; since: number; until: number | null };
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
    const quiet = c.silenced ? out.paint(" (silenced)", "yellow") : "";
    out.line(
      `\t${shown[i].padEnd(width)} ${st} ${act} ${info} - ${String(c.output ?? "").split("\n")[0]}${quiet}`,
    );
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
      name: "silence",
      description: "no notifications for check NAME until --for passes, or (no --for) until it is OK again",
      args: ["<name>"],
      options: {
        reason: { type: "string", description: "why (at most 256 characters)" },
        for: { type: "string", description: "how long (30m, 2h, 1d); default: until the check is OK again" },
        json: { type: "boolean", description: "JSON output: the check, with its silence" },
      },
      async run({ client, out, options, positionals }) {
        const asked = checkName(positionals);
        const body: Record<string, string> = {};
        if (typeof options.reason === "string") body.reason = options.reason;
        if (typeof options.for === "string") body.for = options.for;
        checkMaintenanceFlags(body); // bad flags are refused before the agent is asked anything
        const name = await checkId(client(), asked);
        let c: CheckView;
        try {
          c = JSON.parse(
            await client().text("PUT", `/agent/checks-silence/${pathOf(name)}`, JSON.stringify(body)),
          );
        } catch (err) {
          return refused(out, err, `check ${name} not silenced`);
        }
        if (options.json) out.json(c);
        else {
          const until = c.silenced?.until;
          out.line(
            `${name}: silenced ${until ? `until ${new Date(until).toISOString()}` : "until it is OK again"}`,
          );
        }
        return 0;
      },
    },
    {
      name: "unsilence",
      description: "end the silence of check NAME: its next change notifies again",
      args: ["<name>"],
      options: { json: { type: "boolean", description: "JSON output: {was_silenced}" } },
      async run({ client, out, options, positionals }) {
        const name = await checkId(client(), checkName(positionals));
        let was: boolean;
        try {
          was = JSON.parse(await client().text("DELETE", `/agent/checks-silence/${pathOf(name)}`));
        } catch (err) {
          return refused(out, err, `check ${name} not unsilenced`);
        }
        if (options.json) out.json({ was_silenced: was });
        else out.line(was ? `${name}: notifications back on` : `${name}: was not silenced`);
        return 0;
      },
    },
    {
      name: "run",
      description: "run an active check of this node now and show its new state (handlers fire on a change)",
      args: ["<name>"],
      options: { json: { type: "boolean", description: "JSON output: the check as GET /agent/checks/NAME" } },
      async run({ client, out, options, positionals }) {
        const name = await checkId(client(), checkName(positionals));
        let c: CheckView & { last_check?: number };
        try {
          c = JSON.parse(
            await client().text(
              "POST",
              `/agent/checks/${pathOf(name)}/run`,
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

/**
 * The check id `name` means among `ids`: the id itself, else the one whose last path part it is
 * (`cpu` for `linux/cpu`) or the check of the service of that name (`web` for `service:web`); null
 * when none is. Several candidates are refused with their ids (exit 2).
 */
export function resolveCheckId(ids: string[], name: string): string | null {
  if (ids.includes(name)) return name;
  const hits = ids.filter((i) => i.endsWith(`/${name}`) || i === `service:${name}`);
  if (hits.length > 1) throw new UsageError(`check ${name} is ambiguous: ${hits.sort().join(", ")}`);
  return hits[0] ?? null;
}

/** The id NAME stands for on the agent (see resolveCheckId); NAME itself when none matches. */
async function checkId(client: AgentClient, name: string): Promise<string> {
  const ids = Object.keys(await client.json<Record<string, unknown>>("GET", "/agent/checks"));
  return resolveCheckId(ids, name) ?? name; // the agent's answer names what it does not have
}

/** The one check name of a command line (`kunai checks list` shows them). */
function checkName(positionals: string[]): string {
  const name = positionals[0];
  if (!name) throw new UsageError("missing check name, e.g. linux/cpu (kunai checks list shows them)");
  if (positionals.length > 1) throw new UsageError(`one check name expected, got ${positionals.length}`);
  return name;
}

/** A check name in a URL path: each part encoded, the slashes kept. */
const pathOf = (name: string) => name.split("/").map(encodeURIComponent).join("/");

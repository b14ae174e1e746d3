/**
 * `kunai maintenance enable [--reason R] [--for D]`, `disable`, `status`: this node's maintenance
 * (Consul's `consul maint`): no notifications for it, out of DNS tag/service answers and of
 * generators' `ok_nodes`, kept across restarts, ended at `--for`.
 */
import { type CommandGroup, refused, UsageError } from "./types.ts";
import type { Maintenance } from "../lib/types.ts";
import { parseMaintenanceRequest } from "../lib/identity/maintenance.ts";

/** `--reason` and `--for` checked here as the agent checks them (a usage error, not an agent's 400). */
export function checkMaintenanceFlags(body: Record<string, string>): void {
  try {
    parseMaintenanceRequest(body, Date.now());
  } catch (err) {
    throw new UsageError(`--${(err as Error).message}`);
  }
}

const when = (ms: number) => new Date(ms).toISOString().replace("T", " ").slice(0, 19) + " UTC";

function describe(m: Maintenance | null): string {
  if (!m) return "Not in maintenance";
  return `In maintenance since ${when(m.since)}${m.until !== null ? `, until ${when(m.until)}` : ""}${
    m.reason ? `: ${m.reason}` : ""
  }`;
}

export const maintenanceCommands: CommandGroup = {
  group: "maintenance",
  description: "this node's maintenance: no notifications, out of DNS and ok_nodes (Consul's maint)",
  commands: [
    {
      name: "enable",
      description: "put this node in maintenance (again: change its reason or end); gossip tells every node",
      options: {
        reason: { type: "string", description: "why (shown to everyone; at most 256 characters)" },
        for: {
          type: "string",
          description: "end it by itself after this long (30m, 2h, 1d); default: never",
        },
        json: { type: "boolean", description: "JSON output: {reason, since, until}" },
      },
      async run({ client, out, options, positionals }) {
        if (positionals.length) {
          throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}; quote the --reason`);
        }
        const body: Record<string, string> = {};
        if (typeof options.reason === "string") body.reason = options.reason;
        if (typeof options.for === "string") body.for = options.for;
        checkMaintenanceFlags(body);
        let m: Maintenance;
        try {
          m = JSON.parse(await client().text("PUT", "/agent/maintenance", JSON.stringify(body)));
        } catch (err) {
          return refused(out, err, "maintenance not enabled");
        }
        if (options.json) out.json(m);
        else out.line(describe(m));
        return 0;
      },
    },
    {
      name: "disable",
      description: "end this node's maintenance",
      options: { json: { type: "boolean", description: "JSON output: {was_in_maintenance}" } },
      async run({ client, out, options }) {
        let was: boolean;
        try {
          was = JSON.parse(await client().text("DELETE", "/agent/maintenance"));
        } catch (err) {
          return refused(out, err, "maintenance not disabled");
        }
        if (options.json) out.json({ was_in_maintenance: was });
        else out.line(was ? "Maintenance ended" : "Not in maintenance (nothing to do)");
        return 0;
      },
    },
    {
      name: "status",
      description: "whether this node is in maintenance, since when, until when and why",
      options: { json: { type: "boolean", description: "JSON output: {reason, since, until} or null" } },
      async run({ client, out, options }) {
        const m = await client().json<Maintenance | null>("GET", "/agent/maintenance");
        if (options.json) out.json(m);
        else out.line(describe(m));
        return 0;
      },
    },
  ],
};

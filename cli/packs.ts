/**
 * `kunai packs list`: the packs of the configuration (`GET /packs`): name, version, level, description.
 */
import type { CommandGroup } from "./types.ts";
import { alignRows } from "./members.ts";

interface Pack {
  name: string;
  level: string;
  version?: unknown;
  description?: unknown;
  error?: string;
}

export const packsCommands: CommandGroup = {
  group: "packs",
  description: "configuration packs (checks, detectors, services shipped together)",
  commands: [{
    name: "list",
    description: "list the packs of every configuration directory, with version and level",
    options: { json: { type: "boolean", description: "JSON array of package.json objects (+ level)" } },
    async run({ client, out, options }) {
      const packs = await client().json<Pack[]>("GET", "/packs");
      if (options.json) {
        out.json(packs);
        return packs.some((p) => p.error) ? 1 : 0; // the same exit code as the table's
      }
      if (!packs.length) {
        out.line("No packs");
        return 0;
      }
      const text = (v: unknown) => typeof v === "string" && v ? v : "-";
      const rows = packs.map((p) => [
        p.name,
        text(p.version),
        p.level,
        p.error ? `error: ${p.error}` : text(p.description),
      ]);
      const lines = alignRows([["Pack", "Version", "Level", "Description"], ...rows], (ri, ci, cell) => {
        if (ri === 0) return out.paint(cell, "bold");
        return ci === 3 && packs[ri - 1].error ? out.paint(cell, "red") : cell;
      });
      for (const l of lines) out.line(l);
      return packs.some((p) => p.error) ? 1 : 0;
    },
  }],
};

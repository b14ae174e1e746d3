/**
 * `kunai api [--json]`: every route of the agent (method, path, access, owner, summary), read from
 * its generated route table (`GET /api/routes`, the source of `/api/openapi.json`).
 */
import type { CommandGroup } from "./types.ts";
import { alignRows } from "./members.ts";

interface ApiRoute {
  method: string;
  path: string;
  access: string;
  owner: string;
  summary: string;
}

export const apiCommands: CommandGroup = {
  group: "api",
  description: "list the agent's HTTP routes",
  commands: [{
    name: "",
    description: "list every HTTP route of the agent with who may call it (read, write, peer)",
    options: {
      json: { type: "boolean", description: "JSON array of {method, path, access, owner, summary}" },
    },
    async run({ client, out, options }) {
      const routes = await client().json<ApiRoute[]>("GET", "/api/routes");
      routes.sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
      if (options.json) {
        out.json(routes);
        return 0;
      }
      const rows = [["Method", "Path", "Access", "Owner", "Summary"]];
      for (const r of routes) rows.push([r.method, r.path, r.access, r.owner, r.summary]);
      const colours: Record<string, "green" | "yellow" | "magenta"> = {
        read: "green",
        write: "yellow",
        peer: "magenta",
      };
      for (
        const l of alignRows(
          rows,
          (ri, ci, cell) =>
            ri === 0 ? out.paint(cell, "bold") : ci === 2 ? out.paint(cell, colours[cell]) : cell,
        )
      ) out.line(l);
      return 0;
    },
  }],
};

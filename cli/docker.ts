/**
 * `kunai docker show [--json]` (reference §1): per-container and per-image stats from
 * `GET /docker/stats`.
 */
import type { CommandGroup } from "./types.ts";
import type { StatSet } from "../lib/docker/mod.ts";

interface DockerStats {
  containers: Record<string, StatSet>;
  images: Record<string, StatSet>;
}

export const dockerCommands: CommandGroup = {
  group: "docker",
  description: "Docker containers and images seen by the agent",
  commands: [
    {
      name: "show",
      description: "show container and image stats (memory, cpu) from cgroups",
      options: { json: { type: "boolean", description: "JSON output" } },
      async run({ client, out, options }) {
        const s = await client().json<DockerStats>("GET", "/docker/stats");
        if (options.json) {
          out.json(s);
          return 0;
        }
        out.title("Docker Stats");
        const cids = Object.keys(s.containers).sort();
        if (!cids.length) out.line(out.paint("No running containers", "grey"));
        const rows = (set: StatSet) => {
          for (const k of Object.keys(set).sort()) {
            out.twoCol(k, set[k].value === null ? "-" : String(set[k].value), {
              width: 30,
              capitalise: false,
            });
          }
        };
        for (const id of cids) {
          out.title(`Container:${id.slice(0, 12)}`);
          rows(s.containers[id]);
        }
        for (const img of Object.keys(s.images).sort()) {
          out.title(`Image:${img} (sum)`);
          rows(s.images[img]);
        }
        return 0;
      },
    },
  ],
};

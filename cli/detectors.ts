/**
 * `kunai detectors list|run [--json]` (reference §1).
 */
import type { CommandGroup } from "./types.ts";
import { alignRows } from "./members.ts";

interface DetectorView {
  /** What `kunai detectors run ID` accepts. */
  id?: string;
  name: string;
  tags: string[];
  matched?: boolean | null;
}
interface DetectorRun {
  matched: boolean;
  tags: string[];
  new_tags: string[];
  error?: string;
}

export const detectorsCommands: CommandGroup = {
  group: "detectors",
  description: "rules that add tags to this node",
  commands: [
    {
      name: "list",
      description: "list the detectors (ids that `detectors run` accepts) and the tags they add",
      options: { json: { type: "boolean", description: "JSON output" } },
      async run({ client, out, options }) {
        const list = await client().json<DetectorView[]>("GET", "/agent/detectors");
        if (options.json) {
          out.json(list);
          return 0;
        }
        if (!list.length) {
          out.line("No detectors");
          return 0;
        }
        out.title("Detectors");
        const rows = [["Id", "Matched", "Tags"]];
        for (const d of list) {
          rows.push([d.id ?? d.name, d.matched === null ? "-" : String(!!d.matched), d.tags.join(",")]);
        }
        const lines = alignRows(
          rows,
          (r, c, cell) =>
            r === 0 ? out.paint(cell, "bold") : c === 1 && cell === "true" ? out.paint(cell, "green") : cell,
        );
        for (const l of lines) out.line(l);
        return 0;
      },
    },
    {
      name: "run",
      description: "evaluate the detectors now (dry run: tags are not applied)",
      args: ["[name]"],
      options: { json: { type: "boolean", description: "JSON output" } },
      async run({ client, out, options, positionals }) {
        const name = positionals[0];
        const path = name
          ? `/agent/detectors/run/${name.split("/").map(encodeURIComponent).join("/")}`
          : "/agent/detectors/run";
        const res = await client().json<Record<string, DetectorRun>>("GET", path);
        if (options.json) {
          out.json(res);
          return 0;
        }
        const all = new Set<string>(), fresh = new Set<string>();
        for (const r of Object.values(res)) {
          if (!r.matched) continue;
          r.tags.forEach((t) => all.add(t));
          r.new_tags.forEach((t) => fresh.add(t));
        }
        out.title("Detectors results");
        out.twoCol("Tags", [...all].join(","));
        out.twoCol("New tags", [...fresh].join(","), { colour: "green" });
        for (const [n, r] of Object.entries(res)) if (r.error) out.error(`${n}: ${r.error}`);
        return 0;
      },
    },
  ],
};

/**
 * `kunai shinken export [--dir D] [--json]`: the Nagios/Shinken host files of every node, written
 * into D (created if needed) or printed (reference §10.1).
 */
import { join } from "node:path";
import type { CommandGroup } from "./types.ts";
import { writeAtomic } from "../lib/fs/mod.ts";

export const shinkenCommands: CommandGroup = {
  group: "shinken",
  description: "export the nodes as Nagios/Shinken hosts",
  commands: [
    {
      name: "export",
      description: "write one <uuid>.cfg per node into --dir (or print them)",
      options: {
        dir: { type: "string", description: "directory to write the files into" },
        json: { type: "boolean", description: "JSON output ({file: text})" },
      },
      async run({ client, out, options }) {
        const res = await client().json<{ enabled: boolean; files: Record<string, string> }>(
          "GET",
          "/agent/shinken/export",
        );
        const dir = typeof options.dir === "string" ? options.dir : undefined;
        if (dir) {
          Deno.mkdirSync(dir, { recursive: true });
          // each file whole (temp + rename): a Nagios reading the directory never sees half a host
          for (const [name, text] of Object.entries(res.files)) {
            writeAtomic(join(dir, name), text, { mode: 0o644 });
          }
        }
        if (options.json) out.json(res.files);
        else if (dir) out.line(`${Object.keys(res.files).length} host file(s) written to ${dir}`);
        else for (const text of Object.values(res.files)) out.line(text);
        return 0;
      },
    },
  ],
};

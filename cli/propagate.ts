/**
 * `kunai propagate libexec|configuration`: push this node's libexec dir or configuration (except
 * local.json) to every node through KV; receivers verify, write atomically and reload.
 */
import { type CommandGroup, UsageError } from "./types.ts";

export const propagateCommands: CommandGroup = {
  group: "propagate",
  description: "push libexec or configuration files to every node",
  commands: [{
    name: "",
    description: "push this node's libexec dir or cfg dir (except local.json) to every node",
    args: ["<libexec|configuration>"],
    options: { json: { type: "boolean", description: "JSON output" } },
    async run({ client, out, options, positionals }) {
      const type = positionals[0];
      if (type !== "libexec" && type !== "configuration") {
        throw new UsageError("expected libexec or configuration");
      }
      const r = await client().json<{ files: number; hash: string; not_sent?: string[] }>(
        "GET",
        `/agent/propagate/${type}`,
      );
      if (options.json) out.json(r);
      else {
        out.line(`${r.files} ${type} file(s) propagated (manifest ${r.hash.slice(0, 12)})`);
        for (const f of r.not_sent ?? []) out.line(`not sent, private on this node: ${f}`);
      }
      return 0;
    },
  }],
};

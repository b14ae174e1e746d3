/**
 * `kunai zone change NAME` (the reference's command): moves this node to another zone. The zone is
 * saved as `zone` in the configuration's local.json and applied at once; gossip spreads it.
 */
import { type CommandGroup, refused, UsageError } from "./types.ts";

export const zoneCommands: CommandGroup = {
  group: "zone",
  description: "the zone this node belongs to",
  commands: [{
    name: "change",
    description: "move this node to zone NAME (saved in local.json, applied at once, spread by gossip)",
    args: ["<name>"],
    options: { json: { type: "boolean", description: "JSON output" } },
    async run({ client, out, options, positionals }) {
      const zone = positionals[0];
      if (!zone) throw new UsageError("Missing zone name. For example: kunai zone change paris");
      if (positionals.length > 1) {
        throw new UsageError(`one zone name expected, got ${positionals.length} words`);
      }
      try {
        await client().text("PUT", "/agent/zone", zone);
      } catch (err) {
        return refused(out, err, `cannot switch to zone ${JSON.stringify(zone)}`);
      }
      if (options.json) out.json({ zone, changed: true });
      else out.line(`Switching to zone ${zone} : ${out.paint("OK", "green")}`);
      return 0;
    },
  }],
};

/**
 * `kunai handlers list [--json]` and `kunai handlers test NAME` (reference §9).
 */
import type { CommandGroup } from "./types.ts";
import { UsageError } from "./types.ts";

interface HandlerView {
  name: string;
  type: string;
  severities: string[];
  contacts: string[];
  smtp_server: string;
  smtp_port: number;
  on_node_change: boolean;
  queued: number;
  /** webhook: the URL's origin only (its path may be a secret), and json or slack */
  url: string;
  format: string;
}

export const handlersCommands: CommandGroup = {
  group: "handlers",
  description: "notification handlers (mail or webhook on check and node state changes)",
  commands: [
    {
      name: "list",
      description: "list the handlers, their recipients and queued notifications",
      options: { json: { type: "boolean", description: "JSON output" } },
      async run({ client, out, options }) {
        const list = await client().json<HandlerView[]>("GET", "/agent/handlers");
        if (options.json) {
          out.json(list);
          return 0;
        }
        out.title("Handlers");
        for (const h of list) {
          const more = (h.on_node_change ? ", node changes too" : "") +
            (h.queued ? `, ${h.queued} queued` : "");
          const what = h.type === "mail"
            ? `mail ${h.severities.join(",")} -> ${
              h.contacts.join(", ") || "(no contacts)"
            } via ${h.smtp_server}:${h.smtp_port}${more}`
            : h.type === "webhook"
            ? `webhook ${h.severities.join(",")} -> ${h.url} (${h.format})${more}`
            : "none";
          out.twoCol(h.name, what, { colour: h.queued ? "yellow" : undefined, capitalise: false });
        }
        if (!list.length) out.line(out.paint("No handlers", "grey"));
        return 0;
      },
    },
    {
      name: "test",
      description: "send a sample mail or webhook through a handler now",
      args: ["<name>"],
      async run({ client, out, positionals }) {
        const name = positionals[0];
        if (!name) throw new UsageError("which handler? (kunai handlers list)");
        const path = `/agent/handlers/${name.split("/").map(encodeURIComponent).join("/")}/test`;
        const res = await client().json<{ to: string[]; subject: string }>("POST", path);
        out.line(`sent "${res.subject}" to ${res.to.join(", ")}`);
        return 0;
      },
    },
  ],
};

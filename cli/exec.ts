/**
 * `kunai exec TAG [CMD]` (reference §1): asks the local agent to send CMD (default `uname -a`),
 * signed with `master_key_priv`, to every node carrying TAG (`*` = all), then prints each node's
 * return code, output and errors as they arrive in KV.
 */
import type { Output } from "./output.ts";
import { durationOpt } from "./lock_kv.ts";
import { type CommandGroup, UsageError } from "./types.ts";

interface NodeResult {
  node: string;
  state: "pending" | "done" | "error";
  rc?: number;
  output?: string;
  err?: string;
  truncated?: { output: number; err: number };
}
interface ExecGroup {
  cid: string;
  nodes: string[];
  res: Record<string, NodeResult>;
}

function show(out: Output, g: ExecGroup): void {
  for (const r of Object.values(g.res).sort((a, b) => a.node.localeCompare(b.node))) {
    const colour = r.state === "done" ? "green" : r.state === "pending" ? "yellow" : "red";
    out.line(out.paint(r.node, colour) + (r.state === "done" ? "" : ` (${r.state})`));
    if (r.rc !== undefined) {
      out.line(
        `Return code:${out.paint(String(r.rc), r.rc === 0 ? "green" : r.rc === 1 ? "yellow" : "red")}`,
      );
    }
    if (r.output !== undefined) out.line(`Output:${r.output.trimEnd()}`);
    if (r.truncated?.output) {
      out.line(out.paint(`(output truncated: ${r.truncated.output} more bytes)`, "yellow"));
    }
    if (r.err) out.line(out.paint(`Error:${r.err.trimEnd()}`, "red"));
    out.line();
  }
}

export const execCommands: CommandGroup = {
  group: "exec",
  description: "run a command on every node with a tag (signed with master_key_priv)",
  commands: [{
    name: "",
    description:
      "send CMD (default `uname -a`) to the nodes tagged TAG (`*` = all) and print their results; " +
      "its words quoted as one argument, or after `--` when one starts with `-`: kunai exec TAG -- ls -la",
    args: ["<tag>", "[cmd...]"],
    options: {
      json: { type: "boolean", description: "JSON output" },
      wait: { type: "string", description: "how long to wait for every node (default 10s; e.g. 30s, 2m)" },
    },
    async run({ client, out, options, positionals }) {
      const [tag, ...words] = positionals;
      if (!tag) throw new UsageError("missing tag (use '*' for every node)");
      const cmd = words.length ? words.join(" ") : "uname -a";
      const wait = durationOpt(options.wait, "wait", 10_000, 0, 86_400_000) / 1000;
      const cid = (await client().text(
        "GET",
        `/exec/${encodeURIComponent(tag)}?cmd=${encodeURIComponent(cmd)}`,
      )).trim();
      if (!options.json) out.line(`Command group launch as cid ${cid}`);
      const end = performance.now() + wait * 1000;
      let g: ExecGroup;
      while (true) {
        g = await client().json<ExecGroup>("GET", `/exec-get/${cid}`);
        const pending = Object.values(g.res).some((r) => r.state === "pending");
        if (!pending || performance.now() >= end) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      if (options.json) out.json(g);
      else if (!g.nodes.length) out.line(`no node has the tag ${tag}`);
      else show(out, g);
      return 0;
    },
  }],
};

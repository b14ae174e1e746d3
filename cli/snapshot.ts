/**
 * `kunai snapshot save FILE` (asks the running agent for a consistent copy of its KV, metrics and
 * check-history databases) and `kunai snapshot restore FILE` (on a stopped agent: checks every byte,
 * then puts them into its data dir). lib/snapshot is loaded only by these commands.
 */
import { resolveConfig } from "../lib/config/mod.ts";
import { AgentHttpError } from "../lib/client/mod.ts";
import { isDirectory, tempBeside } from "../lib/fs/mod.ts";
import type { CommandGroup } from "./types.ts";
import { UsageError } from "./types.ts";

interface Part {
  name: string;
  bytes: number;
  sha256: string;
}

function describe(m: { version: string; node: string; time: number; parts: Part[] }): string[] {
  return [
    `snapshot of ${m.node} (kunai ${m.version}) at ${new Date(m.time * 1000).toISOString()}`,
    ...m.parts.map((p) =>
      `  ${p.name.padEnd(8)} ${String(p.bytes).padStart(12)} bytes  sha256 ${p.sha256.slice(0, 16)}…`
    ),
  ];
}

export const snapshotCommands: CommandGroup = {
  group: "snapshot",
  description: "back up and restore this node's KV, metrics and check-history databases",
  commands: [
    {
      name: "save",
      description: "write a consistent snapshot of the running agent's databases to FILE",
      args: ["<FILE>"],
      async run({ client, out, positionals }) {
        const file = positionals[0];
        if (!file) throw new UsageError("missing FILE");
        const res = await client().request("POST", "/snapshot/save");
        if (!res.ok) {
          const text = await res.text();
          let msg = text;
          try {
            msg = JSON.parse(text).error ?? text;
          } catch { /* plain text */ }
          throw new AgentHttpError(res.status, msg);
        }
        // written under another name, checked, then renamed: FILE is whole or not there (a full disk, a
        // dropped connection leave nothing behind that looks like a snapshot). The name is new and
        // opened only if absent (a link planted in /tmp is not followed), and the file is the
        // caller's alone: it holds every KV value, as a `kv export` would
        const partial = tempBeside(file);
        let manifest;
        try {
          {
            using f = await Deno.open(partial, { write: true, createNew: true, mode: 0o600 });
            await res.body!.pipeTo(f.writable, { preventClose: true });
            await f.sync();
          }
          const { readManifest } = await import("../lib/snapshot/mod.ts");
          manifest = (await readManifest(partial)).manifest;
          await Deno.rename(partial, file);
        } catch (err) {
          await Deno.remove(partial).catch(() => {});
          await res.body?.cancel().catch(() => {});
          throw new Error(`cannot write ${file}: ${(err as Error).message}; nothing was saved`);
        }
        for (const l of describe(manifest)) out.line(l);
        out.line(`written to ${file}`);
        return 0;
      },
    },
    {
      name: "restore",
      description: "restore FILE into the data dir of a stopped agent (refuses damaged or foreign files)",
      args: ["<FILE>"],
      options: {
        "cfg-dir": { type: "string", description: "configuration directory of the agent to restore" },
        "data-dir": {
          type: "string",
          description:
            "its data directory, when the agent is started with --data-dir (default: the configuration's)",
        },
      },
      async run({ out, options, positionals, configFile }) {
        const file = positionals[0];
        if (!file) throw new UsageError("missing FILE");
        const cfgDir = options["cfg-dir"] === undefined ? undefined : String(options["cfg-dir"]);
        const dataDir = options["data-dir"] === undefined ? undefined : String(options["data-dir"]);
        if (configFile !== undefined && cfgDir === undefined && dataDir === undefined) {
          // -c names the agent to talk to: guessing its data dir from it restored into the default one
          throw new UsageError(
            `-c ${configFile} names the agent to talk to, not the one to restore: give --cfg-dir and/or --data-dir`,
          );
        }
        const cfg = resolveConfig({ ...(cfgDir ? { cfgDir } : {}), ...(dataDir ? { dataDir } : {}) });
        if (cfg.paramSource?.data === undefined && !isDirectory(cfg.cfgDir)) {
          // no configuration names the data dir: the built-in default is a guess, and a restore into
          // a directory no agent reads says "restored" while the agent's own data stays as it was
          throw new UsageError(
            `${cfg.cfgDir} does not exist, so no configuration names the data dir to restore into ` +
              `(the built-in default would be ${cfg.params.data}): give --cfg-dir and/or --data-dir`,
          );
        }
        const { restoreSnapshot, SnapshotError } = await import("../lib/snapshot/mod.ts");
        try {
          const m = await restoreSnapshot(file, { dataDir: cfg.params.data, lockFile: cfg.params.lock });
          for (const l of describe(m)) out.line(l);
          out.line(`restored into ${cfg.params.data} (replaced databases kept as *.db.pre-restore)`);
          return 0;
        } catch (err) {
          if (err instanceof SnapshotError) {
            out.error(`kunai: ${err.message}`);
            return 2;
          }
          throw err;
        }
      },
    },
  ],
};

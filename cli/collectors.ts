/**
 * `kunai collectors list|show|run` (reference §1): the agent's collector entries, and one collector
 * run once in this process through the same sandboxed runtime (no agent, no agent database).
 */
import { dirname } from "node:path";
import type { CollectorEntry } from "../lib/collectors/mod.ts";
import type { Output } from "./output.ts";
import { type CommandGroup, UsageError } from "./types.ts";
import { alignRows } from "./members.ts";

const DEFAULT_PARAMS = { interval: 10_000, timeout: 8_000, disabled: [] as string[], intervals: {} };

/** `{a: {b: 1, c: [2, 3]}}` → `[["a.b", "1"], ["a.c.0", "2"], ["a.c.1", "3"]]`, sorted by path. */
export function flatten(value: unknown, prefix = ""): Array<[string, string]> {
  if (value !== null && typeof value === "object") {
    const entries = Array.isArray(value)
      ? value.map((v, i) => [String(i), v] as const)
      : Object.entries(value);
    if (!entries.length) return prefix ? [[prefix, Array.isArray(value) ? "[]" : "{}"]] : [];
    return entries.flatMap(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k))
      .sort((a, b) => a[0].localeCompare(b[0], "en", { numeric: true }));
  }
  return [[prefix, value === null || value === undefined ? "null" : String(value)]];
}

/** One collector as an aligned `key value` table of its state and flattened results. */
function printCollector(out: Output, e: CollectorEntry): void {
  const rows: string[][] = [
    ["active", String(e.active)],
    ["last_check", e.last_check ? new Date(e.last_check * 1000).toISOString() : "never"],
    ...(e.log ? [["log", e.log]] : []),
    ...flatten(e.results ?? {}, "results"),
  ];
  for (const l of alignRows(rows, (_r, c, cell) => c === 0 ? out.paint(cell, "blue") : cell)) out.line(l);
}

/** Collector settings and configuration data from `--cfg-dir`, `-c FILE`'s directory, or defaults. */
async function localSettings(cfgDir: string | undefined, configFile: string | undefined) {
  const { resolveConfig } = await import("../lib/config/mod.ts");
  const dir = cfgDir ?? (configFile ? dirname(configFile) : undefined);
  try {
    const cfg = resolveConfig(dir ? { cfgDir: dir } : {});
    return { params: cfg.params.collectors, data: cfg.data };
  } catch (err) {
    if (dir) throw new UsageError(`cannot load configuration from ${dir}: ${(err as Error).message}`);
    return { params: DEFAULT_PARAMS, data: {} };
  }
}

export const collectorsCommands: CommandGroup = {
  group: "collectors",
  description: "host and service metrics collected by the agent",
  commands: [
    {
      name: "list",
      description:
        "list collectors: 'enabled' when their last run produced data, else 'disabled' (the original's words; `collectors show NAME` says why)",
      options: { json: { type: "boolean", description: "JSON output" } },
      async run({ client, out, options }) {
        const all = await client().json<Record<string, CollectorEntry>>("GET", "/collectors");
        const names = Object.keys(all).sort();
        if (options.json) {
          out.json(Object.fromEntries(names.map((n) => [n, { active: all[n].active, log: all[n].log }])));
          return 0;
        }
        for (const n of names) {
          out.line(
            `${n.padEnd(15)}:${
              all[n].active ? out.paint("enabled", "green") : out.paint("disabled", "grey")
            }`,
          );
        }
        return 0;
      },
    },
    {
      name: "show",
      description: "show the results of active collectors (or NAME, or all with --all)",
      args: ["[name]"],
      options: {
        all: { type: "boolean", description: "include inactive collectors" },
        json: { type: "boolean", description: "JSON output" },
      },
      async run({ client, out, options, positionals }) {
        const all = await client().json<Record<string, CollectorEntry>>("GET", "/collectors");
        const name = positionals[0];
        if (name && !all[name]) {
          out.error(`no collector named ${name} (known: ${Object.keys(all).sort().join(", ")})`);
          return 1;
        }
        const names = Object.keys(all).sort();
        const shown = name ? [name] : names.filter((n) => options.all || all[n].active);
        const disabled = names.filter((n) => !all[n].active);
        if (options.json) {
          out.json(Object.fromEntries(shown.map((n) => [n, all[n]])));
          return 0;
        }
        for (const n of shown) {
          out.title(`Collector ${n}`);
          printCollector(out, all[n]);
        }
        if (!name && disabled.length) {
          out.title("Disabled collectors");
          out.line(out.paint(disabled.join(", "), "grey"));
          for (const n of disabled) out.line(out.paint(`  ${n}: ${all[n].log}`, "grey"));
        }
        return 0;
      },
    },
    {
      name: "run",
      description:
        "run one collector once in this process (sandboxed like in the agent) and print its results",
      args: ["<name>"],
      options: {
        "cfg-dir": {
          type: "string",
          description: "configuration directory (collector settings, redis_port...)",
        },
        json: { type: "boolean", description: "JSON output (the whole entry)" },
      },
      async run({ out, options, positionals, configFile }) {
        const name = positionals[0];
        if (!name) throw new UsageError("missing collector name, e.g. kunai collectors run cpustats");
        const { params, data } = await localSettings(options["cfg-dir"] as string | undefined, configFile);
        // heavy modules (Workers, parsers) load only for this command, so `kunai members` stays fast
        const [{ CollectorRuntime }, { Sandbox }, { RealClock }, { silentLogger }] = await Promise.all([
          import("../lib/collectors/mod.ts"),
          import("../lib/sandbox/mod.ts"),
          import("../lib/clock/mod.ts"),
          import("../lib/log/mod.ts"),
        ]);
        const sandbox = new Sandbox(silentLogger);
        const rt = new CollectorRuntime({ sandbox, clock: new RealClock(), log: silentLogger, params, data });
        try {
          if (!rt.names().includes(name)) {
            throw new UsageError(`no collector named ${name} (known: ${rt.names().join(", ")})`);
          }
          const e = await rt.runOnce(name);
          if (options.json) out.json(e);
          else {
            out.title(`Collector ${name}`);
            printCollector(out, e);
            if (!e.active) out.error(`inactive: ${e.log}`);
          }
          return e.active ? 0 : 1;
        } finally {
          rt.stop();
          sandbox.stopAll();
        }
      },
    },
  ],
};

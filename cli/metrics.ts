/**
 * `kunai metrics list|get`: browse metric names and read series from the agent's time-series store
 * (through `/metrics/index.json` and `/render`).
 */
import type { CommandGroup } from "./types.ts";
import { UsageError } from "./types.ts";

interface RenderedSeries {
  target: string;
  datapoints: Array<[number | null, number]>;
}

const BARS = "▁▂▃▄▅▆▇█";

/** One character per point, scaled between the series' min and max (space for a gap). */
export function sparkline(values: Array<number | null>): string {
  const nums = values.filter((v): v is number => v !== null);
  if (nums.length === 0) return "";
  const lo = Math.min(...nums), hi = Math.max(...nums);
  return values.map((v) => {
    if (v === null) return " ";
    if (hi === lo) return BARS[3];
    return BARS[Math.min(BARS.length - 1, Math.floor(((v - lo) / (hi - lo)) * BARS.length))];
  }).join("");
}

function fmt(v: number | null): string {
  if (v === null) return "-";
  return Number.isInteger(v) ? String(v) : v.toPrecision(6).replace(/\.?0+$/, "");
}

export const metricsCommands: CommandGroup = {
  group: "metrics",
  description: "time series stored by this agent (statsd, Graphite, collectors, perfdata)",
  commands: [
    {
      name: "list",
      description: "list metric names, optionally those starting with PREFIX",
      args: ["[PREFIX]"],
      options: { json: { type: "boolean", description: "print a JSON array" } },
      async run({ client, out, options, positionals }) {
        const prefix = positionals[0] ?? "";
        const names = await client().json<string[]>("GET", "/metrics/index.json");
        const shown = names.filter((n) => n.startsWith(prefix));
        if (options.json) out.json(shown);
        else for (const n of shown) out.line(n);
        return 0;
      },
    },
    {
      name: "get",
      description: "read a target (a name, a wildcard path or a Graphite function expression)",
      args: ["<TARGET>"],
      options: {
        from: {
          type: "string",
          description: "start: -1h (default), -24h, -7d, epoch seconds, HH:MM_YYYYMMDD",
        },
        until: { type: "string", description: "end (default now)" },
        json: { type: "boolean", description: "print Graphite's JSON" },
      },
      async run({ client, out, options, positionals }) {
        const target = positionals[0];
        if (!target) throw new UsageError("missing TARGET");
        const q = new URLSearchParams({ target, from: String(options.from ?? "-1h"), format: "json" });
        if (options.until) q.set("until", String(options.until));
        const list = await client().json<RenderedSeries[]>("GET", `/render?${q}`);
        if (options.json) {
          out.json(list);
          return list.length ? 0 : 1; // no series: the same exit code as the text output's
        }
        if (list.length === 0) {
          out.error(`no series match ${target}`);
          return 1;
        }
        const tty = Deno.stdout.isTerminal();
        for (const s of list) {
          const values = s.datapoints.map(([v]) => v);
          const nums = values.filter((v): v is number => v !== null);
          const last = nums.at(-1) ?? null;
          const summary = nums.length
            ? `last ${fmt(last)}  min ${fmt(Math.min(...nums))}  max ${
              fmt(Math.max(...nums))
            }  points ${nums.length}/${values.length}`
            : "no data";
          if (tty) {
            const width = Math.max(10, (Deno.consoleSize?.().columns ?? 80) - 2);
            const step = Math.max(1, Math.ceil(values.length / width));
            const squeezed: Array<number | null> = [];
            for (let i = 0; i < values.length; i += step) {
              const chunk = values.slice(i, i + step).filter((v): v is number => v !== null);
              squeezed.push(chunk.length ? chunk.reduce((a, b) => a + b, 0) / chunk.length : null);
            }
            out.line(`${out.paint(s.target, "bold")}  ${summary}`);
            out.line(sparkline(squeezed));
          } else {
            out.line(`# ${s.target}  ${summary}`);
            for (const [v, ts] of s.datapoints) if (v !== null) out.line(`${ts} ${fmt(v)}`);
          }
        }
        return 0;
      },
    },
  ],
};
